#!/usr/bin/env bash
# Checks the Containerfile without building it (no container engine needed), against the
# repository and k8s/server/:
# - every COPY/ADD source from the build context exists and is not excluded by .containerignore
#   (and .dockerignore is that same file);
# - the builder runs `cargo leptos build --release --split`, then `meeboter precompress` (not
#   --fast) on the site;
# - the runtime stage copies the binary and hash.txt into one directory, the one ENTRYPOINT
#   runs from, and the site to LEPTOS_SITE_ROOT;
# - its USER is numeric, not root, and the same UID:GID as runAsUser/runAsGroup of the
#   Deployment and the migrate Job in k8s/server/;
# - the port it EXPOSEs is the one its CMD listens on, the Deployment's containerPort and args,
#   and the Service's targetPort;
# - with a read-only root filesystem, STORAGE_DIR (image or example ConfigMap) and /tmp are on
#   volumes the Deployment mounts.
# Exit 1 with one line per mismatch. Usage: .config/containerfile-check.sh
set -euo pipefail
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
# Any Python with PyYAML: Debian's when python3-yaml is installed, else the project's venv.
if python3 -c 'import yaml' 2>/dev/null; then PY=python3; else PY="$("$ROOT/.config/py-venv.sh")/bin/python"; fi
exec "$PY" - "$ROOT" <<'PY'
import glob, json, os, posixpath, re, shlex, sys
import yaml

root = sys.argv[1]
errors, passed = [], []


def check(ok, what, why):
    (passed if ok else errors).append(what if ok else f"{what}: {why}")


def read(rel):
    with open(os.path.join(root, rel)) as f:
        return f.read()


# ---------------------------------------------------------------- the Containerfile
def instructions(text):
    """(instruction, arguments) pairs: continuation lines joined, comments dropped."""
    out, buf = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not buf):
            continue
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        if buf.strip():
            word, _, rest = buf.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def words(args):
    """The arguments of COPY/CMD/ENTRYPOINT: JSON (exec) form or shell words."""
    if args.startswith("["):
        return json.loads(args)
    return shlex.split(args)


stages = []  # [{"name":..., "steps": [(ins, args)]}]
for ins, args in instructions(read("Containerfile")):
    if ins == "FROM":
        parts = args.split()
        name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
        stages.append({"name": name, "base": parts[0], "steps": []})
    elif stages:
        stages[-1]["steps"].append((ins, args))
if len(stages) < 2:
    sys.exit(f"containerfile-check: FAIL Containerfile is not multi-stage ({len(stages)} FROM)")
builder, final = stages[0], stages[-1]

# .containerignore, and .dockerignore as the same file.
ignore = [l.strip() for l in read(".containerignore").splitlines() if l.strip() and not l.strip().startswith("#")]
same = os.path.exists(os.path.join(root, ".dockerignore")) and read(".dockerignore") == read(".containerignore")
check(same, ".dockerignore is .containerignore", "missing or different (make it a link: ln -s .containerignore .dockerignore)")


def pattern(p):
    """A .containerignore pattern as a regex over slash-separated paths (`**` spans directories)."""
    out, i = "", 0
    while i < len(p):
        if p.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif p.startswith("**", i):
            out, i = out + ".*", i + 2
        elif p[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif p[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(p[i]), i + 1
    return re.compile(out)


def ignored(rel):
    """Whether .containerignore excludes rel or a directory above it (a `!` line re-includes)."""
    parts = rel.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for line in ignore:
        negate = line.startswith("!")
        rx = pattern(line.lstrip("!").strip("/"))
        if any(rx.fullmatch(x) for x in prefixes):
            verdict = not negate
    return verdict


def flags_and_paths(args):
    ws = words(args)
    flags = {w.split("=", 1)[0]: (w.split("=", 1) + [""])[1] for w in ws if w.startswith("--")}
    paths = [w for w in ws if not w.startswith("--")]
    return flags, paths[:-1], paths[-1] if paths else None


# Every COPY/ADD source from the build context exists and is sent.
for stage in stages:
    for ins, args in stage["steps"]:
        if ins not in ("COPY", "ADD"):
            continue
        flags, sources, _ = flags_and_paths(args)
        if "--from" in flags:
            continue
        for src in sources:
            rel = src.rstrip("/") or "."
            found = glob.glob(os.path.join(root, rel)) if rel != "." else [root]
            check(bool(found), f"{ins} {src} exists", "no such path in the repository")
            if rel != ".":
                check(not ignored(rel), f"{ins} {src} is in the build context", ".containerignore excludes it")

# The build: cargo leptos build --release --split, then precompress at full effort.
runs = [args for ins, args in builder["steps"] if ins == "RUN"]
script = " && ".join(runs)
build_at = script.find("cargo leptos build")
build_cmd = re.search(r"cargo leptos build[^&;|']*", script)
check(build_cmd is not None, "the builder runs cargo leptos build", "no `cargo leptos build` in a RUN of the first stage")
if build_cmd:
    check("--release" in build_cmd.group(0), "cargo leptos build --release", build_cmd.group(0))
    check("--split" in build_cmd.group(0), "cargo leptos build --split", f"`{build_cmd.group(0).strip()}` has no --split (the site is built split per page)")
pre = re.search(r"meeboter precompress[^&;|']*", script)
check(pre is not None and script.find("meeboter precompress") > build_at >= 0,
      "meeboter precompress runs after the build", "no `meeboter precompress` after `cargo leptos build` in the first stage")
if pre:
    check("--fast" not in pre.group(0), "precompress at full effort", "--fast is for debug bundles")

# The runtime stage.
env = {}
for ins, args in final["steps"]:
    if ins == "ENV":
        ws = shlex.split(args)
        if ws and "=" not in ws[0]:
            env[ws[0]] = " ".join(ws[1:])
        else:
            env.update(w.split("=", 1) for w in ws)
workdir, copies = "/", []  # copies: (sources, absolute destination) from the builder
for ins, args in final["steps"]:
    if ins == "WORKDIR":
        workdir = posixpath.join(workdir, args)
    elif ins == "COPY":
        flags, sources, dest = flags_and_paths(args)
        if flags.get("--from") == builder["name"]:
            copies.append((sources, posixpath.join(workdir, dest) + ("/" if dest.endswith("/") else "")))


def copy_of(suffix):
    """(number of sources, destination) of the COPY --from=builder whose source ends in suffix."""
    for sources, dest in copies:
        if any(src.rstrip("/").endswith(suffix) for src in sources):
            return len(sources), dest
    return None


def file_dir(suffix):
    """The directory a copied file lands in."""
    c = copy_of(suffix)
    if c is None:
        return None
    n, dest = c
    return dest.rstrip("/") if dest.endswith("/") or n > 1 else posixpath.dirname(dest)


entry = next((words(a) for i, a in final["steps"] if i == "ENTRYPOINT"), [])
cmd = next((words(a) for i, a in final["steps"] if i == "CMD"), [])
binary_dir = file_dir("target/release/meeboter")
hash_dir = file_dir("target/release/hash.txt")
check(binary_dir is not None, "the runtime stage copies target/release/meeboter", "no COPY --from=builder of it")
check(hash_dir is not None and hash_dir == binary_dir, "hash.txt is copied beside the binary",
      f"binary to {binary_dir}, hash.txt to {hash_dir} (the server reads hash.txt from its own directory)")
if entry and binary_dir:
    # An init (tini) may come first: `tini -- /app/meeboter`.
    program = entry[entry.index("--") + 1] if "--" in entry else entry[0]
    check(program == posixpath.join(binary_dir, "meeboter"), "ENTRYPOINT runs the copied binary",
          f"ENTRYPOINT runs {program}, binary copied to {binary_dir}")
site_copy = copy_of("target/site")
site_dest = site_copy[1] if site_copy else None
site_root = posixpath.join(workdir, env.get("LEPTOS_SITE_ROOT", "target/site"))
check(site_dest is not None and posixpath.normpath(site_dest) == posixpath.normpath(site_root),
      "the site is copied to LEPTOS_SITE_ROOT", f"copied to {site_dest}, LEPTOS_SITE_ROOT resolves to {site_root}")

users = [a for i, a in final["steps"] if i == "USER"]
user = users[-1] if users else ""
m = re.fullmatch(r"(\d+)(?::(\d+))?", user)
check(m is not None and m.group(1) != "0", "the runtime USER is a numeric non-root UID",
      f"USER {user!r} (runAsNonRoot needs a numeric UID other than 0)")
uid = int(m.group(1)) if m else None
gid = int(m.group(2)) if m and m.group(2) else None

exposed = [p for i, a in final["steps"] if i == "EXPOSE" for p in a.split()]
check(len(exposed) == 1, "the runtime stage EXPOSEs one port", f"EXPOSE {exposed}")
port = int(exposed[0].split("/")[0]) if exposed else None


def addr_port(argv):
    for i, a in enumerate(argv):
        if a == "--addr" and i + 1 < len(argv):
            return int(argv[i + 1].rsplit(":", 1)[1])
        if a.startswith("--addr="):
            return int(a.rsplit(":", 1)[1])
    return None


check(addr_port(cmd) == port, "CMD listens on the EXPOSEd port", f"CMD {cmd}, EXPOSE {port}")

# ---------------------------------------------------------------- k8s/server/
def objects(rel):
    with open(os.path.join(root, rel)) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def one(kind, name=None):
    for path in sorted(glob.glob(os.path.join(root, "k8s/server/*.yaml"))):
        for d in objects(os.path.relpath(path, root)):
            if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name):
                return d
    errors.append(f"k8s/server/ has no {kind}{' ' + name if name else ''}")
    return None


deployment = one("Deployment", "meeboter")
job = one("Job", "meeboter-migrate")
service = one("Service", "meeboter")
configmap = one("ConfigMap")

for obj in (deployment, job):
    if not obj:
        continue
    kind = obj["kind"]
    pod = obj["spec"]["template"]["spec"]
    for c in pod["containers"]:
        sc = {**pod.get("securityContext", {}), **c.get("securityContext", {})}
        check(sc.get("runAsUser") == uid, f"{kind} container {c['name']} runs as the image's UID",
              f"runAsUser {sc.get('runAsUser')}, Containerfile USER {user}")
        if gid is not None:
            check(sc.get("runAsGroup") == gid, f"{kind} container {c['name']} runs as the image's GID",
                  f"runAsGroup {sc.get('runAsGroup')}, Containerfile USER {user}")

if deployment:
    pod = deployment["spec"]["template"]["spec"]
    c = next((c for c in pod["containers"] if c["name"] == "meeboter"), pod["containers"][0])
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    check(list(ports.values()) == [port], "the Deployment's containerPort is the EXPOSEd port",
          f"containerPort {list(ports.values())}, EXPOSE {port}")
    argv = c.get("args") or cmd
    check(addr_port(argv) == port, "the Deployment's args listen on the EXPOSEd port", f"args {argv}, EXPOSE {port}")
    if service:
        for sp in service["spec"]["ports"]:
            target = sp.get("targetPort", sp["port"])
            resolved = ports.get(target) if isinstance(target, str) else target
            check(resolved == port, f"the Service's targetPort {target!r} is the EXPOSEd port",
                  f"resolves to {resolved}, EXPOSE {port}")
    if c.get("securityContext", {}).get("readOnlyRootFilesystem"):
        mounts = [m["mountPath"].rstrip("/") for m in c.get("volumeMounts", [])]

        def mounted(path):
            return any(path == m or path.startswith(m + "/") for m in mounts)

        check(mounted("/tmp"), "/tmp is a volume (read-only root filesystem)", f"mounts {mounts}")
        storage = (configmap or {}).get("data", {}).get("STORAGE_DIR") or env.get("STORAGE_DIR") or "target/storage"
        storage = posixpath.join(workdir, storage)
        check(mounted(storage), "STORAGE_DIR is on a volume (read-only root filesystem)",
              f"STORAGE_DIR {storage} is not under any of {mounts}: the server creates it at start")

for e in errors:
    print(f"containerfile-check: FAIL {e}", file=sys.stderr)
if errors:
    print(f"containerfile-check: {len(errors)} mismatch(es), {len(passed)} check(s) passed", file=sys.stderr)
    sys.exit(1)
print(f"containerfile-check: {len(passed)} checks passed")
PY
