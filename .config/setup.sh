#!/usr/bin/env bash
# Installs what building and testing Meeboter needs on Debian 12, idempotently (a second run
# only checks, in seconds). Run as root. Sourced tools:
#   apt   : rustc-web cargo-web rust-web-src (Debian's rustc 1.96 + std sources: the wasm32 std
#           is built from source with -Zbuild-std), lld-N (wasm-ld), chromium (Playwright),
#           postgresql (if no initdb is on the machine), curl, prometheus (for promtool, which
#           checks k8s/monitoring/; if no promtool is on the machine)
#   cargo : cargo-leptos, wasm-bindgen-cli (= the wasm-bindgen version in Cargo.lock), leptosfmt
#   npm   : end2end/package.json (tailwindcss v4 CLI, binaryen's wasm-opt, @playwright/test,
#           @stoplight/prism-cli for the Coolify conformance tests)
# Nothing here touches the rustup default toolchain. Usage: .config/setup.sh
set -euo pipefail
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
CARGO_LEPTOS_VERSION=0.3.11
LEPTOSFMT_VERSION=0.1.33
CARGO_HOME=${CARGO_HOME:-$HOME/.cargo}
export PATH="$CARGO_HOME/bin:$PATH"
export DEBIAN_FRONTEND=noninteractive
log() { printf '[setup] %s\n' "$*"; }

apt_updated=0
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $apt_updated = 0 ]; then apt-get update -qq; apt_updated=1; fi
  log "apt-get install ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

apt_install rustc-web cargo-web rust-web-src rust-web-clippy chromium curl ca-certificates
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then apt_install postgresql; fi
# promtool (.config/monitoring-check.sh) comes with Debian's Prometheus server, which the package
# enables and starts: where systemd runs, stop and disable the one this just installed.
if ! command -v promtool >/dev/null 2>&1; then
  apt_install prometheus
  if [ -d /run/systemd/system ]; then systemctl disable --now prometheus.service >/dev/null 2>&1 || true; fi
fi

deb_ver=$(/usr/bin/rustc --version | awk '{print $2}')
case "$deb_ver" in
  1.9[6-9]*|1.[1-9][0-9][0-9]*|[2-9].*) ;;
  *) echo "[setup] Debian rustc is $deb_ver; need >= 1.96 (rustc-web from bookworm-security)" >&2; exit 1 ;;
esac
[ -d /usr/lib/rustlib/src/rust/library ] || { echo "[setup] rust-web-src missing" >&2; exit 1; }
llvm_major=$(/usr/bin/rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
apt_install "lld-$llvm_major"
[ -x "/usr/lib/llvm-$llvm_major/bin/wasm-ld" ] || { echo "[setup] wasm-ld missing" >&2; exit 1; }

# wasm-bindgen CLI: must equal the wasm-bindgen crate version pinned in Cargo.lock.
wb_ver=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' "$ROOT/Cargo.lock" 2>/dev/null || true)
wb_ver=${wb_ver:-0.2.130}
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $wb_ver" ]; then
  log "cargo install wasm-bindgen-cli $wb_ver (~8 min on 2 cores)"
  # Its own lock file pins a crate version absent from the registry mirror: fall back.
  cargo install --locked wasm-bindgen-cli --version "$wb_ver" --root "$CARGO_HOME" \
    || cargo install wasm-bindgen-cli --version "$wb_ver" --root "$CARGO_HOME"
fi

if [ "$(leptosfmt --version 2>/dev/null || true)" != "leptosfmt $LEPTOSFMT_VERSION" ]; then
  log "cargo install leptosfmt $LEPTOSFMT_VERSION"
  cargo install --locked leptosfmt --version "$LEPTOSFMT_VERSION" --root "$CARGO_HOME" \
    || cargo install leptosfmt --version "$LEPTOSFMT_VERSION" --root "$CARGO_HOME"
fi

if [ "$(cargo-leptos --version 2>/dev/null || true)" != "cargo-leptos $CARGO_LEPTOS_VERSION" ]; then
  # cargo-leptos 0.3.11 needs rustc >= 1.96: build it with Debian's cargo. Its release profile
  # is fat LTO + one codegen unit; these overrides shorten the link a lot.
  log "cargo install cargo-leptos $CARGO_LEPTOS_VERSION (long: ~30 min on 2 cores, once per machine)"
  env PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc \
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    /usr/bin/cargo install --locked cargo-leptos --version "$CARGO_LEPTOS_VERSION" --root "$CARGO_HOME"
fi

cd "$ROOT/end2end"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if ! npm ls --depth=0 >/dev/null 2>&1 || [ ! -x node_modules/.bin/tailwindcss ] || [ ! -x node_modules/.bin/prism ]; then
  log "npm install in end2end/"
  # `npm ci` rejects the lock file npm writes here; `npm install` honours the pinned versions.
  npm install --no-audit --no-fund
fi
log "ready: $(cargo-leptos --version), $(wasm-bindgen --version), $(leptosfmt --version), $(chromium --version 2>/dev/null | head -1)"
