# syntax=docker/dockerfile:1.7
# The Durably sample job service (tests/durably/server.mjs). Build from the repository root:
#   docker build -f deploy/durably.Dockerfile -t durably-sample:0.15.0 .

FROM node:20-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY tests/durably/package.json tests/durably/package-lock.json ./
# install exactly the lockfile, then compile better-sqlite3's native binding against
# this image's Node headers (no prebuilt binary download)
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts \
 && npm_config_nodedir=/usr/local npm rebuild better-sqlite3 --build-from-source --foreground-scripts --ignore-scripts=false \
 && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY tests/durably/package.json tests/durably/server.mjs tests/durably/assertion.mjs ./
RUN mkdir -p /data && chown 1000:1000 /data
# the image's `node` user
USER 1000:1000
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:3000/__health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "server.mjs", "--port", "3000", "--host", "0.0.0.0", "--db", "/data/durably.db"]
