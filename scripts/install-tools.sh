#!/usr/bin/env bash
# Installs the tools that build and run Natter: the wasm32 target, cargo-leptos, the
# wasm-bindgen CLI that matches Cargo.lock, and wasm-opt (binaryen from npm; Debian's older
# binaryen breaks release builds). With --test it also installs what the test suite needs:
# clippy, rustfmt, Chromium, nginx and openssl (the suite runs Natter behind a real TLS
# proxy), curl (the release bundle's check) and the end2end packages.
#
# Every step runs on every call. Each installer is idempotent (it does nothing when the
# version asked for is there), so a step that would fail on a new machine fails here too,
# instead of hiding behind an "if missing" that is never taken on a machine that has it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/.tools/node_modules/.bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# Runs a command as root: directly when we are root, through sudo otherwise. Environment
# assignments go through `env`, so they are never taken for the command's name.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

say "wasm32-unknown-unknown target"
rustup target add wasm32-unknown-unknown

say "cargo-leptos 0.3.10 (about 15 to 25 minutes the first time on a machine)"
# no_downloads: use the tools on PATH instead of fetching binaries at build time.
cargo install cargo-leptos --version 0.3.10 --locked --features no_downloads

# The CLI must be exactly the wasm-bindgen version the crate is built with.
wbg=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
say "wasm-bindgen-cli $wbg"
cargo install wasm-bindgen-cli --version "$wbg"

say "wasm-opt (binaryen from npm)"
mkdir -p .tools
npm install --prefix .tools --no-audit --no-fund --no-save --silent binaryen@132.0.0

if [ "${1:-}" = "--test" ]; then
  say "clippy and rustfmt"
  rustup component add clippy rustfmt
  say "Chromium (Debian package)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  # The suite starts its own nginx, as the user running it, on a free port with a
  # certificate openssl makes; the system's nginx service is never used.
  say "nginx, openssl and curl (Debian packages)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx openssl curl >/dev/null
  say "the end2end packages"
  (cd end2end && npm ci --no-audit --no-fund)
fi
