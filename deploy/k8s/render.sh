#!/usr/bin/env bash
# Prepare deploy/k8s for `kubectl apply -k`:
#   1. copy the repository's policies/*.yaml into ./policies (the gateway-policies
#      ConfigMap is generated from them; kustomize cannot read outside this folder)
#      and list them in kustomization.yaml's configMapGenerator;
#   2. create ./keys/<tenant>.pem (ES256, P-256) for every tenant in GATEWAY_TENANTS
#      of configmap.yaml that has none yet. Existing keys are never replaced: every
#      replica, and every later rollout, must sign with the same per-tenant key.
#   3. with --build, print the rendered manifests (kubectl kustomize or kustomize build).
#
#   deploy/k8s/render.sh [--build]
# K8S_DIR=DIR renders into a copy of this folder instead (used by tests/deploy).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dir="${K8S_DIR:-$here}"

die() { echo "render.sh: $*" >&2; exit 1; }
command -v openssl >/dev/null || die "openssl not found (needed to create signing keys)"

# 1. policies
shopt -s nullglob
sources=("$root"/policies/*.yaml)
(( ${#sources[@]} )) || die "no policy files in $root/policies"
mkdir -p "$dir/policies"
rm -f "$dir"/policies/*.yaml
cp "${sources[@]}" "$dir/policies/"
listing=""
for f in "${sources[@]}"; do listing+="      - policies/$(basename "$f")"$'\n'; done
awk -v listing="$listing" '
  /^  - name: gateway-policies$/ { print; inpol = 1; next }
  inpol && /^    files:$/ { print; printf "%s", listing; skip = 1; next }
  skip && /^      - / { next }
  { skip = 0; if ($0 !~ /^ /) inpol = 0; print }
' "$dir/kustomization.yaml" > "$dir/kustomization.yaml.new"
mv "$dir/kustomization.yaml.new" "$dir/kustomization.yaml"

# 2. signing keys
tenants="$(sed -n 's/^  GATEWAY_TENANTS: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$dir/configmap.yaml")"
[ -n "$tenants" ] || die "GATEWAY_TENANTS not found in $dir/configmap.yaml"
mkdir -p "$dir/keys"
chmod 700 "$dir/keys"
for tenant in ${tenants//,/ }; do
  key="$dir/keys/$tenant.pem"
  [ -s "$key" ] && continue
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$key")
  echo "render.sh: created $key (keep it: store it in your secret manager)" >&2
  grep -q "^      - keys/$tenant.pem$" "$dir/kustomization.yaml" \
    || echo "render.sh: warning: keys/$tenant.pem is not listed in kustomization.yaml's secretGenerator" >&2
done

# 3. render
if [ "${1:-}" = "--build" ]; then
  if command -v kustomize >/dev/null; then kustomize build "$dir"
  elif command -v kubectl >/dev/null; then kubectl kustomize "$dir"
  else die "--build needs kustomize or kubectl"
  fi
fi
