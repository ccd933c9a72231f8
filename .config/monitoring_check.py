#!/usr/bin/env python3
"""Static checks of the monitoring files in k8s/monitoring/ (run by .config/monitoring-check.sh,
after `promtool check rules` and `promtool test rules`):

- every metric name in a PromQL expression of the Grafana dashboard (panel targets and template
  variable queries), the alert rules and the rules' unit tests is one the server exports: the
  names given to describe_counter!/describe_gauge!/describe_histogram! in
  server/src/http/metrics.rs (a histogram also gives its _bucket, _sum and _count series), plus
  Prometheus' own `up`;
- the dashboard: unique panel ids, gridPos inside the 24-column grid and no two panels
  overlapping, every panel but a row has targets, every target an expr, every $variable defined;
- the rules: unique alert names, a severity label (critical, warning or info), summary,
  description and runbook_url annotations, the runbook_url an anchor of a heading of
  docs/MONITORING.md;
- the unit tests: every alert has a case where it fires and one where it must not.

With --dashboard-rules FILE it also writes the dashboard's queries, Grafana's variables filled in,
as recording rules to FILE, so that `promtool check rules FILE` parses them as Prometheus would.

Usage: monitoring_check.py [--metrics-rs FILE] [--root DIR] [--dashboard-rules FILE]
Needs PyYAML (the project's venv, .config/py-venv.sh). Exit 0 when all is well, 1 otherwise.
"""
import argparse
import json
import re
import sys
from pathlib import Path

import yaml

PROMQL_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "inf", "nan", "atan2",
}
# Grafana's global variables that may appear in an expression.
GRAFANA_BUILTINS = {
    "__rate_interval", "__interval", "__interval_ms", "__range", "__range_s", "__range_ms",
    "__from", "__to", "__dashboard", "__name", "__org", "__user", "__timeFilter",
}
EXTRA_METRICS = {"up"}  # written by Prometheus for every scrape target
SEVERITIES = {"critical", "warning", "info"}


def exported_metrics(metrics_rs: Path) -> set[str]:
    """The metric names the server describes, read from the source (no build needed)."""
    text = metrics_rs.read_text()
    found = re.findall(r'describe_(counter|gauge|histogram)!\(\s*"([^"]+)"', text)
    if not found:
        sys.exit(f"{metrics_rs}: no describe_counter!/describe_gauge!/describe_histogram! call found")
    names = set(EXTRA_METRICS)
    for kind, name in found:
        names.add(name)
        if kind == "histogram":
            names.update(f"{name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
    return names


def grafana_variables(expr: str) -> set[str]:
    """The $var, ${var} and ${var:format} references of a Grafana expression (not label_replace's
    $1, which is no variable)."""
    found = {a or b for a, b in re.findall(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", expr)}
    return {v for v in found if not v.isdigit()}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (a lexical scan, enough for our queries:
    strings, label matchers, ranges, grouping label lists and function names are dropped)."""
    s = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', '""', expr)
    s = re.sub(r"#[^\n]*", "", s)
    s = re.sub(r"\$\{[^}]*\}|\$\w+|\[\[\w+\]\]", "0", s)
    s = re.sub(r"\{[^{}]*\}", "", s)
    s = re.sub(r"\[[^\]]*\]", "", s)
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = re.findall(r"(?<![\w.:])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()", s)
    return {n for n in names if n.lower() not in PROMQL_KEYWORDS}


def check_names(where: str, expr: str, known: set[str], metrics_rs: Path, errors: list[str]) -> None:
    for name in sorted(metric_names(expr)):
        if name not in known:
            errors.append(
                f"{where}: unknown metric `{name}`: {metrics_rs} does not describe it "
                f"(describe_counter!/describe_gauge!/describe_histogram!); expr: {' '.join(expr.split())}"
            )


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    h = heading.strip().lower()
    h = re.sub(r"[^\w\- ]", "", h)
    return h.replace(" ", "-")


def as_promql(expr: str) -> str:
    """A dashboard expression as Prometheus sees it once Grafana has filled in its variables."""
    expr = re.sub(r"\$\{?__(?:rate_interval|interval|range)\}?", "5m", expr)
    return re.sub(r"\$\{\w+(?::\w+)?\}|\$\w+", ".*", expr)


def check_dashboard(path: Path, known: set[str], metrics_rs: Path, errors: list[str],
                    exprs: list[tuple[str, str]]) -> int:
    try:
        dash = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        errors.append(f"{path}: not valid JSON: {e}")
        return 0
    for key in ("title", "uid", "schemaVersion", "panels", "templating"):
        if key not in dash:
            errors.append(f"{path}: no `{key}`")
    variables = {v.get("name") for v in dash.get("templating", {}).get("list", [])}
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", q, re.S)
        inner = m.group(1) if m else q
        check_names(f"{path}: variable ${v.get('name')}", inner, known, metrics_rs, errors)
        for var in grafana_variables(q) - variables - GRAFANA_BUILTINS:
            errors.append(f"{path}: variable ${v.get('name')} uses ${var}, which the dashboard does not define")

    panels = []
    for p in dash.get("panels", []):
        panels.append(p)
        panels.extend(p.get("panels", []))  # a collapsed row keeps its panels inside it
    ids: dict[int, str] = {}
    boxes = []
    for p in panels:
        name = f"panel {p.get('id')} ({p.get('title', '')!r})"
        pid = p.get("id")
        if not isinstance(pid, int):
            errors.append(f"{path}: {name}: no integer id")
        elif pid in ids:
            errors.append(f"{path}: {name}: id {pid} is also {ids[pid]}")
        else:
            ids[pid] = name
        g = p.get("gridPos") or {}
        if not all(isinstance(g.get(k), int) for k in ("x", "y", "w", "h")):
            errors.append(f"{path}: {name}: gridPos needs integer x, y, w and h")
            continue
        if g["w"] <= 0 or g["h"] <= 0 or g["x"] < 0 or g["y"] < 0 or g["x"] + g["w"] > 24:
            errors.append(f"{path}: {name}: gridPos {g} is outside the 24-column grid")
        boxes.append((name, g))
        if p.get("type") == "row":
            continue
        targets = p.get("targets") or []
        if not targets:
            errors.append(f"{path}: {name}: no targets")
        for t in targets:
            expr = t.get("expr")
            where = f"{path}: {name} target {t.get('refId', '?')}"
            if not isinstance(expr, str) or not expr.strip():
                errors.append(f"{where}: no expr")
                continue
            check_names(where, expr, known, metrics_rs, errors)
            exprs.append((f"dashboard:panel_{p.get('id')}_{t.get('refId', 'X')}", as_promql(expr)))
            for var in grafana_variables(expr) - variables - GRAFANA_BUILTINS:
                errors.append(f"{where}: uses ${var}, which the dashboard does not define")
    for i, (a, ga) in enumerate(boxes):
        for b, gb in boxes[i + 1:]:
            if (ga["x"] < gb["x"] + gb["w"] and gb["x"] < ga["x"] + ga["w"]
                    and ga["y"] < gb["y"] + gb["h"] and gb["y"] < ga["y"] + ga["h"]):
                errors.append(f"{path}: {a} {ga} overlaps {b} {gb}")
    return len(panels)


def check_rules(path: Path, monitoring_md: Path, known: set[str], metrics_rs: Path, errors: list[str]) -> list[str]:
    doc = yaml.safe_load(path.read_text())
    anchors = set()
    if monitoring_md.exists():
        for line in monitoring_md.read_text().splitlines():
            m = re.match(r"#{1,6}\s+(.*)", line)
            if m:
                anchors.add(slug(m.group(1)))
    else:
        errors.append(f"{monitoring_md}: missing (the rules' runbook links point into it)")
    alerts = []
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            where = f"{path}: {name}"
            check_names(where, str(rule.get("expr", "")), known, metrics_rs, errors)
            if "alert" not in rule:
                continue
            if name in alerts:
                errors.append(f"{where}: the alert name is used twice")
            alerts.append(name)
            severity = (rule.get("labels") or {}).get("severity")
            if severity not in SEVERITIES:
                errors.append(f"{where}: severity label {severity!r} is not one of {sorted(SEVERITIES)}")
            ann = rule.get("annotations") or {}
            for key in ("summary", "description", "runbook_url"):
                if not ann.get(key):
                    errors.append(f"{where}: no {key} annotation")
            url = ann.get("runbook_url", "")
            m = re.fullmatch(r"docs/MONITORING\.md#([\w-]+)", url)
            if not m:
                errors.append(f"{where}: runbook_url {url!r} is not docs/MONITORING.md#<anchor>")
            elif monitoring_md.exists() and m.group(1) not in anchors:
                errors.append(f"{where}: runbook_url {url!r}: docs/MONITORING.md has no heading with that anchor")
    return alerts


def check_rule_tests(path: Path, alerts: list[str], known: set[str], metrics_rs: Path, errors: list[str]) -> int:
    doc = yaml.safe_load(path.read_text())
    fires, quiet = set(), set()
    cases = 0
    for test in doc.get("tests", []):
        for s in test.get("input_series", []):
            series = s.get("series", "")
            where = f"{path}: test {test.get('name')!r}, series {series}"
            check_names(where, series.split("{")[0], known, metrics_rs, errors)
        for case in test.get("alert_rule_test", []):
            cases += 1
            (fires if case.get("exp_alerts") else quiet).add(case.get("alertname"))
    for name in alerts:
        if name not in fires:
            errors.append(f"{path}: no case where {name} fires")
        if name not in quiet:
            errors.append(f"{path}: no case where {name} must not fire")
    for name in (fires | quiet) - set(alerts):
        errors.append(f"{path}: tests alert {name}, which the rules do not define")
    return cases


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    root_default = Path(__file__).resolve().parent.parent
    ap.add_argument("--root", type=Path, default=root_default, help="the repository (default: this script's)")
    ap.add_argument("--metrics-rs", type=Path, help="where the describe_* calls are (default: server/src/http/metrics.rs)")
    ap.add_argument("--dashboard-rules", type=Path,
                    help="also write the dashboard's queries (variables filled in) to this file as recording rules, "
                         "for `promtool check rules` to parse")
    a = ap.parse_args()
    root = a.root
    metrics_rs = a.metrics_rs or root / "server/src/http/metrics.rs"
    mon = root / "k8s/monitoring"
    known = exported_metrics(metrics_rs)
    errors: list[str] = []
    exprs: list[tuple[str, str]] = []
    n_panels = check_dashboard(mon / "grafana-dashboard.json", known, metrics_rs, errors, exprs)
    if a.dashboard_rules:
        rules = [{"record": name, "expr": expr} for name, expr in exprs]
        a.dashboard_rules.write_text(yaml.safe_dump({"groups": [{"name": "grafana-dashboard", "rules": rules}]}))
    alerts = check_rules(mon / "alerts.rules.yaml", root / "docs/MONITORING.md", known, metrics_rs, errors)
    cases = check_rule_tests(mon / "alerts.rules.test.yaml", alerts, known, metrics_rs, errors)
    for e in errors:
        print(f"FAIL {e}", file=sys.stderr)
    if errors:
        print(f"monitoring check: {len(errors)} problem(s)", file=sys.stderr)
        return 1
    print(f"monitoring check: {n_panels} dashboard panels, {len(alerts)} alerts, {cases} test cases; "
          f"every metric is one of the {len(known)} names {metrics_rs.name} describes (or `up`)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
