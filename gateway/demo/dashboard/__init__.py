"""The demo's jobs dashboard: Durably's own React client, served behind the gateway (upstream
`dashboard`, routes in policies/dashboard.yaml).

The page is built from `src/` (React 19, `@coji/durably-react`) into `dist/` by `build.sh`
(esbuild, pinned in package-lock.json; `scripts/setup` runs it). This server only hands out
the shell page and the bundle; the page then talks to the gateway on its own origin, with the
person's session cookie: `GET /<tenant>/me` for the person's organizations, and Durably's
client on `/<tenant>/orgs/<org>/api/durably` (the gateway checks the membership, the role held
there, and keeps every call and stream to that organization).

    python -m gateway.demo.dashboard --port 3003

`/` is the shell, whether the gateway reached it as `/<tenant>/` or, without its
`/orgs/<org>` prefix, as `/<tenant>/orgs/<org>/`: the page reads the organization from its
own address. Its base path comes from `X-Tenant` (set by the gateway, never by the browser).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

HERE = Path(__file__).resolve().parent
DIST = HERE / "dist"
ASSETS = {"dashboard.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8"}
#: the page talks to its own origin only; no frame may embed it
CSP = "; ".join(("default-src 'self'", "img-src 'self' data:", "frame-ancestors 'none'", "base-uri 'none'"))
HEADERS = {"content-security-policy": CSP, "cache-control": "no-store", "x-content-type-options": "nosniff"}
TENANT = re.compile(r"[a-z][a-z0-9-]{0,62}")
SHELL = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Jobs</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{base}/assets/dashboard.css">
</head>
<body data-base="{base}">
<div id="root"><p class="loading">Loading…</p></div>
<script type="module" src="{base}/assets/dashboard.js"></script>
</body>
</html>
"""
MISSING = "the dashboard bundle is not built: run scripts/setup (gateway/demo/dashboard/build.sh)"


def shell(tenant: str | None) -> str:
    base = f"/{tenant}" if tenant and TENANT.fullmatch(tenant) else ""
    return SHELL.format(base=base)


async def page(request: Request) -> Response:
    if not (DIST / "dashboard.js").is_file():
        return JSONResponse({"error": "not_built", "error_description": MISSING}, status_code=503)
    return HTMLResponse(shell(request.headers.get("x-tenant")), headers=HEADERS)


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ASSETS or not (DIST / name).is_file():
        return JSONResponse({"error": "not_found"}, status_code=404)
    return FileResponse(DIST / name, media_type=ASSETS[name], headers={**HEADERS, "cache-control": "no-cache"})


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "built": (DIST / "dashboard.js").is_file()})


app = Starlette(routes=[Route("/", page), Route("/assets/{name}", asset), Route("/health", health)])


def main() -> None:
    parser = argparse.ArgumentParser(description="demo jobs dashboard (served behind the gateway)")
    parser.add_argument("--port", type=int, default=3003)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
