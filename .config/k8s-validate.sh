#!/usr/bin/env bash
# Validates against the official Kubernetes schemas (strict: unknown fields are errors), using
# PyPI's kubernetes-validate, for the oldest and newest Kubernetes the driver supports:
# every manifest in k8s/ and k8s/server/ (Meeboter's own Deployment, Job, RBAC, ...), every API
# fixture of the driver's tests, and the Jobs and Secrets the builder generated
# (target/k8s-generated/, written by the app's tests, which must run first).
# k8s/server/kustomization.yaml is not a Kubernetes object (no schema, no metadata): it is left
# out of the schema validation, and only the files it lists are checked to exist.
# Only PodMetrics (metrics.k8s.io, served by metrics-server) has no schema; any other
# "no schema" fails too.
set -euo pipefail
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
VENV=$("$ROOT/.config/py-venv.sh")
shopt -s nullglob
manifests=("$ROOT"/k8s/*.yaml)
[ ${#manifests[@]} -gt 0 ] || { echo "no manifests in k8s/" >&2; exit 1; }
server=()
for f in "$ROOT"/k8s/server/*.yaml; do
  [ "$(basename "$f")" = kustomization.yaml ] || server+=("$f")
done
[ ${#server[@]} -gt 0 ] || { echo "no manifests in k8s/server/" >&2; exit 1; }
"$VENV/bin/python" - "$ROOT/k8s/server/kustomization.yaml" <<'PY' || exit 1
import os, sys, yaml
path = sys.argv[1]
k = yaml.safe_load(open(path))
missing = [r for r in k.get("resources", []) if not os.path.exists(os.path.join(os.path.dirname(path), r))]
if missing:
    sys.exit(f"{path}: lists resources that do not exist: {', '.join(missing)}")
PY
generated=("$ROOT"/target/k8s-generated/*.json)
[ ${#generated[@]} -gt 0 ] || { echo "no generated objects in target/k8s-generated/: run cargo test -p app --features ssr first" >&2; exit 1; }
files=("${manifests[@]}" "${server[@]}" "$ROOT"/app/src/backend/platforms/kubernetes/fixtures/*.json "$ROOT"/target/k8s-generated/*.json)
failed=0
for version in ${K8S_VERSIONS:-1.33.0 1.37.0}; do
  out=$("$VENV/bin/python" "$ROOT/.config/k8s_validate.py" --strict -k "$version" "${files[@]}") || failed=1
  grep -v '^OK' <<<"$out" || true
  unexpected=$(grep '^WARN' <<<"$out" | grep -v 'metrics.k8s.io/v1beta1 PodMetrics' || true)
  [ -z "$unexpected" ] || failed=1
  echo "k8s $version: $(grep -c '^OK' <<<"$out") valid, $(grep -c '^FAIL' <<<"$out") invalid, $(grep -c '^WARN' <<<"$out") without a schema"
done
[ "$failed" = 0 ] || { echo "k8s schema validation failed (see FAIL and unexpected WARN lines above)" >&2; exit 1; }
