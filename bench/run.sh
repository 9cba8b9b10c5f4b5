#!/usr/bin/env bash
# The benchmark, one command: builds Natter's release server and client, installs the
# Socket.io relay it is compared with, then runs the load generator, which starts each
# server itself and prints the report (also written to bench/results.md).
# `bench/run.sh --quick` is a smoke run that checks the benchmark works (its figures mean
# nothing); the test suite runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-tools.sh
export PATH="$HOME/.cargo/bin:$PWD/.tools/node_modules/.bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if [ "${NATTER_BENCH_SKIP_BUILD:-}" != 1 ]; then
  say "release build of Natter"
  cargo leptos build --release --precompress
fi
say "the Socket.io relay (npm ci)"
(cd bench/socketio && npm ci --no-audit --no-fund --loglevel=error)
say "the load generator"
cargo build --release --manifest-path bench/Cargo.toml
# 10,000 idle connections need as many descriptors on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
out=bench/results.md
case " $* " in *" --quick "*) out="${TMPDIR:-/tmp}/natter-bench-quick.md" ;; esac
say "running (the report goes to $out)"
bench/target/release/natter-bench --repo . --out "$out" "$@"
