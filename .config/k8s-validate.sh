#!/usr/bin/env bash
# Validates every manifest in k8s/ against the official Kubernetes schemas (strict: unknown
# fields are errors), using PyPI's kubernetes-validate.
set -euo pipefail
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
VENV=$("$ROOT/.config/py-venv.sh")
shopt -s nullglob
files=("$ROOT"/k8s/*.yaml)
[ ${#files[@]} -gt 0 ] || { echo "no manifests in k8s/" >&2; exit 1; }
"$VENV/bin/python" "$ROOT/.config/k8s_validate.py" --strict -k "${K8S_VERSION:-1.32.0}" "${files[@]}"
