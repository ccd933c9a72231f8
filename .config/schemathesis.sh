#!/usr/bin/env bash
# Schema fuzzing: schemathesis (pinned in .config/py-venv.sh) over the whole served OpenAPI
# document of a running server, with an API key of a user it signs up for the run, every check
# on, one worker, a fixed seed and a bounded number of examples per operation, so that the run
# is reproducible and takes a few minutes on 2 cores. Fails on any finding (a server error, a
# response that breaks the document, an undocumented status code, a schema-valid request
# refused, ...). Usage: .config/schemathesis.sh http://127.0.0.1:PORT
# Tunables: ST_MAX_EXAMPLES (default 25), ST_SEED (default 20261130), ST_TIMEOUT (default 900 s).
set -euo pipefail
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
BASE=${1:?usage: $0 BASE_URL}
OUT="$ROOT/target/schemathesis"
mkdir -p "$OUT"
VENV=$("$ROOT/.config/py-venv.sh")

# A user of its own and an API key, through the same HTTP calls the web app makes (with the
# Origin a browser sends: signed-in state changes need it).
jar="$OUT/cookies"
rm -f "$jar"
email="fuzz-$(date +%s)-$$@example.com"
curl -fsS -o /dev/null -c "$jar" -H 'Accept: application/json' -H "Origin: $BASE" \
  --data-urlencode "name=Schema Fuzzer" --data-urlencode "email=$email" \
  --data-urlencode "password=fuzzing every operation" --data-urlencode "confirm_password=fuzzing every operation" \
  "$BASE/fn/sign_up"
key=$(curl -fsS -b "$jar" -H 'Content-Type: application/json' -H 'Accept: application/json' -H "Origin: $BASE" \
  -d '{"name":"schemathesis"}' "$BASE/fn/create_api_key" | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
rm -f "$jar"

status=0
# --max-time would make fuzzing repeat until the budget is spent: the bound is the number of
# examples, and `timeout` is the safety net.
# Run from target/schemathesis: schemathesis keeps a crash cache (.schemathesis/) where it runs;
# it is emptied first, so that every run starts from the seed alone.
rm -rf "$OUT/.schemathesis" "$OUT/.hypothesis"
(cd "$OUT" && timeout "${ST_TIMEOUT:-900}" "$VENV/bin/st" --config-file "$ROOT/.config/schemathesis.toml" run "$BASE/api/openapi.json" \
  --url "$BASE" \
  --workers 1 \
  --max-examples "${ST_MAX_EXAMPLES:-25}" \
  --seed "${ST_SEED:-20261130}" \
  --request-timeout 10 \
  --generation-database none \
  --no-shrink \
  --phases examples,coverage,fuzzing \
  --header "x-api-key: $key" \
  --report junit --report-dir "$OUT" \
  --no-color >"$OUT/run.log" 2>&1) || status=$?
# The summary: the end of schemathesis' own report (the full log is in target/schemathesis).
sed -n '/^=* *SUMMARY/,$p' "$OUT/run.log" | tail -40
if [ "$status" != 0 ]; then
  echo "[schemathesis] failed (exit $status); the findings are above and in $OUT/run.log" >&2
  grep -E '^(_+ |[0-9]+\. )' "$OUT/run.log" | head -80 >&2 || true
fi
exit "$status"
