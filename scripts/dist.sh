#!/usr/bin/env bash
# Packs a release into target/dist/natter-<version>-<arch>-linux.tar.gz (make dist):
#
#   natter-<version>/bin/natter      the server (and the operator's command line)
#   natter-<version>/site/           the web client, with its .gz and .br copies
#   natter-<version>/natter.toml     a production configuration to copy to /etc/natter
#   natter-<version>/natter.service  the systemd unit
#   natter-<version>/nginx.conf      the reverse proxy, for nginx
#   natter-<version>/Caddyfile       the same for Caddy
#   natter-<version>/README          install, start, back up, restore, upgrade
#
# The server runs from the unpacked folder on a machine with neither Rust nor Node.
# It builds the release first (cargo leptos build --release --precompress), unless
# NATTER_DIST_SKIP_BUILD=1 says the build in target/ is the one to pack.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/.tools/node_modules/.bin:$PATH"

version=$(awk -F '"' '/^version = / { print $2; exit }' Cargo.toml)
name="natter-$version"
bundle="target/dist/$name-$(uname -m)-linux.tar.gz"

if [ "${NATTER_DIST_SKIP_BUILD:-}" != 1 ]; then
  scripts/install-tools.sh
  cargo leptos build --release --precompress
fi
# target/site holds whichever build ran last; only a release build with --precompress
# writes the .br copies, so their absence means a debug client is there.
for f in target/release/natter target/site/pkg/natter.wasm target/site/pkg/natter.wasm.br; do
  if [ ! -f "$f" ]; then
    echo "dist: $f is missing: run cargo leptos build --release --precompress first" >&2
    exit 1
  fi
done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
dir="$stage/$name"
mkdir -p "$dir/bin"
install -m 0755 target/release/natter "$dir/bin/natter"
cp -R target/site "$dir/site"
# wasm-bindgen's TypeScript declarations are for developers, not browsers.
find "$dir/site" -name '*.d.ts' -delete
install -m 0644 deploy/natter.toml deploy/natter.service deploy/nginx.conf deploy/Caddyfile deploy/README "$dir/"

mkdir -p target/dist
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner -czf "$bundle.tmp" "$name"
mv "$bundle.tmp" "$bundle"
echo "$bundle"
