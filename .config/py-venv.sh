#!/usr/bin/env bash
# Prints the path of the project's Python venv (target/py-venv), creating it and installing the
# validators from PyPI when missing: kubernetes-validate (official Kubernetes schemas),
# openapi-spec-validator (OpenAPI 3.1), schemathesis (schema fuzzing, pinned: its CLI and
# checks change between releases) and moto[server] (the AWS ECS emulator the ECS conformance suite
# and Playwright journey run against, pinned: its fidelity and gaps change between releases; see
# docs/ECS_EMULATOR.md), and standardwebhooks (the specification's own Python library: the
# webhook tests' receiver verifies Meeboter's signatures with it, not with our code).
set -euo pipefail
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
VENV="$ROOT/target/py-venv"
SCHEMATHESIS_VERSION=4.32.5
MOTO_VERSION=5.2.5
STANDARDWEBHOOKS_VERSION=1.0.1
if ! "$VENV/bin/python" -c 'import kubernetes_validate, jsonschema, yaml, openapi_spec_validator, flask, flask_cors, standardwebhooks' 2>/dev/null \
  || [ "$("$VENV/bin/st" --version 2>/dev/null || true)" != "st, version $SCHEMATHESIS_VERSION" ] \
  || [ "$("$VENV/bin/python" -c 'import moto; print(moto.__version__)' 2>/dev/null || true)" != "$MOTO_VERSION" ] \
  || [ ! -x "$VENV/bin/moto_server" ]; then
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q 'kubernetes-validate>=1.32' pyyaml jsonschema referencing openapi-spec-validator \
    "schemathesis==$SCHEMATHESIS_VERSION" "moto[server]==$MOTO_VERSION" "standardwebhooks==$STANDARDWEBHOOKS_VERSION" >&2
fi
echo "$VENV"
