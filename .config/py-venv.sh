#!/usr/bin/env bash
# Prints the path of the project's Python venv (target/py-venv), creating it and installing the
# validators from PyPI when missing: kubernetes-validate (official Kubernetes schemas) and
# openapi-spec-validator (OpenAPI 3.1).
set -euo pipefail
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
VENV="$ROOT/target/py-venv"
if ! "$VENV/bin/python" -c 'import kubernetes_validate, jsonschema, yaml, openapi_spec_validator' 2>/dev/null; then
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q 'kubernetes-validate>=1.32' pyyaml jsonschema referencing openapi-spec-validator >&2
fi
echo "$VENV"
