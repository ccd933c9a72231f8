# Sourced by ./dev: puts the offline toolchain first on PATH.
# - .config/bin/cargo routes wasm32 builds to Debian's rustc 1.96 with -Zbuild-std
# - end2end/node_modules/.bin provides tailwindcss (v4 CLI) and wasm-opt (binaryen), which
#   cargo-leptos finds on PATH instead of downloading them
# - ~/.cargo/bin has cargo-leptos, wasm-bindgen (same version as Cargo.lock) and leptosfmt
_root=$(CDPATH= cd -- "$(dirname -- "${BASH_SOURCE:-$0}")/.." && pwd)
case ":$PATH:" in
  *":$_root/.config/bin:"*) ;;
  *) PATH="$_root/.config/bin:$_root/end2end/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH" ;;
esac
export PATH
export LEPTOS_TAILWIND_VERSION=${LEPTOS_TAILWIND_VERSION:-v4.3.5}
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
unset _root
