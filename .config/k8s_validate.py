#!/usr/bin/env python3
# Copied from the project brief's peers/k8s/validate.py (validates manifests against the
# official Kubernetes JSON schemas shipped by PyPI kubernetes-validate). One change: a kind the
# apiserver serves as core v1 but defines in meta/v1 (Status, the body of every error) is checked
# against its meta schema (status-meta-v1.json) instead of being skipped.
"""Validate k8s manifests / recorded API responses against the official
Kubernetes OpenAPI-derived JSON schemas bundled in PyPI `kubernetes-validate`.
Reports ALL errors (the stock CLI stops at the first) and handles *List kinds
(which have no metadata.name, which the stock CLI chokes on).
Usage: kvenv/bin/python k8s_validate_all.py [--strict] [-k 1.32.0] FILE...
Exit 0 if all valid, 1 otherwise."""
import argparse, json, re, sys
import jsonschema, yaml
from referencing import Registry, Resource
from kubernetes_validate.utils import schema_contents, all_versions, major_minor

ap = argparse.ArgumentParser()
ap.add_argument("--strict", action="store_true")
ap.add_argument("-k", default="1.32.0")
ap.add_argument("files", nargs="+")
a = ap.parse_args()
ver = [v for v in all_versions() if major_minor(v) <= major_minor(a.k)][-1]
sdir = f"v{ver}-local" + ("-strict" if a.strict else "")
defs = Resource.from_contents(schema_contents(f"kubernetes-json-schema/{sdir}/_definitions.json", ver))
bad = 0
for fn in a.files:
    with open(fn) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for d in docs:
        api = re.sub(r'^([^./]*)(?:\.[^/]*)?/', r'\1-', d["apiVersion"])
        schema = None
        for cand in (f"{d['kind'].lower()}-{api}", f"{d['kind'].lower()}-meta-{api}"):
            try:
                schema = schema_contents(f"kubernetes-json-schema/{sdir}/{cand}.json", ver); break
            except FileNotFoundError:
                pass
        if schema is None:
            print(f"WARN {fn}: no schema for {d['apiVersion']} {d['kind']} (k8s {ver})"); continue
        reg = defs @ (Resource.from_contents(schema) @ Registry())
        errs = sorted(jsonschema.Draft202012Validator(schema, registry=reg).iter_errors(d), key=lambda e: list(e.path))
        name = (d.get("metadata") or {}).get("name", "<list>")
        if errs:
            bad += 1
            print(f"FAIL {fn}: {d['kind']}/{name} ({len(errs)} errors, k8s {ver}{', strict' if a.strict else ''})")
            for e in errs:
                print("   -", ".".join(map(str, e.path)) or "<root>", ":", e.message[:160])
        else:
            print(f"OK   {fn}: {d['kind']}/{name} (k8s {ver}{', strict' if a.strict else ''})")
sys.exit(1 if bad else 0)
