#!/usr/bin/env bash
# Installs the tools that build and run Natter, skipping what is already there:
# the wasm32 target, cargo-leptos, the wasm-bindgen CLI that matches Cargo.lock, and
# wasm-opt (binaryen from npm; Debian's older binaryen breaks release builds).
# With --test it also installs what the test suite needs: Chromium and the end2end packages.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/.tools/node_modules/.bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(cargo leptos --version 2>/dev/null || true)" != "cargo-leptos 0.3.10" ]; then
  say "installing cargo-leptos 0.3.10 (takes about 15 minutes once)"
  # no_downloads: use the tools on PATH instead of fetching binaries at build time.
  cargo install cargo-leptos --version 0.3.10 --locked --features no_downloads
fi

# The CLI must be exactly the wasm-bindgen version the crate is built with.
wbg=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $wbg" ]; then
  say "installing wasm-bindgen-cli $wbg"
  cargo install wasm-bindgen-cli --version "$wbg" --force
fi

if ! [ -x .tools/node_modules/.bin/wasm-opt ]; then
  say "installing wasm-opt (binaryen from npm)"
  mkdir -p .tools
  npm install --prefix .tools --no-audit --no-fund --silent binaryen@132.0.0
fi

if [ "${1:-}" = "--test" ]; then
  rustup component list --installed | grep -q '^clippy' || rustup component add clippy
  rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
  chromium="${NATTER_CHROMIUM:-/usr/bin/chromium}"
  if ! [ -x "$chromium" ]; then
    say "installing Chromium (Debian package)"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    $sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  if ! [ -d end2end/node_modules/@playwright/test ] \
     || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
    say "installing the end2end packages"
    (cd end2end && npm ci --no-audit --no-fund)
  fi
fi
