#!/usr/bin/env bash
# Checks the monitoring that ships in k8s/monitoring/:
# - the Prometheus alert rules with promtool: `check rules`, then the unit tests of
#   alerts.rules.test.yaml (every alert fires, and stays quiet, where it should);
# - .config/monitoring_check.py: the Grafana dashboard's layout and targets, the rules' labels
#   and runbook links into docs/MONITORING.md, and every metric name in a query is one
#   server/src/http/metrics.rs describes;
# - the dashboard's queries parsed by promtool (written as recording rules, variables filled in).
# promtool comes from Debian's `prometheus` package (.config/setup.sh installs it); without it
# this fails rather than skip. Usage: .config/monitoring-check.sh [--metrics-rs FILE]
set -euo pipefail
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool not found: run .config/setup.sh (it installs Debian's prometheus package, which has /usr/bin/promtool)" >&2
  exit 1
fi
cd "$ROOT"
promtool check rules k8s/monitoring/alerts.rules.yaml
promtool test rules k8s/monitoring/alerts.rules.test.yaml
mkdir -p target
queries=target/grafana-dashboard.rules.yaml
"$(.config/py-venv.sh)/bin/python" .config/monitoring_check.py --dashboard-rules "$queries" "$@"
echo "the dashboard's queries, as promtool parses them:"
promtool check rules "$queries"
