#!/usr/bin/env bash
# Every check Natter has, in the order that fails fastest: formatting, lints for both
# builds, the Rust tests, then the Playwright suite against a debug build and a release
# smoke run (hydration must work with wasm-opt too).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-tools.sh --test
export PATH="$HOME/.cargo/bin:$PWD/.tools/node_modules/.bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

say "cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path bench/Cargo.toml -- --check
say "clippy (server)"
cargo clippy --features ssr --all-targets -- -D warnings
say "clippy (client)"
cargo clippy --lib --features hydrate --target wasm32-unknown-unknown -- -D warnings
say "clippy (benchmark)"
cargo clippy --manifest-path bench/Cargo.toml -- -D warnings
say "Rust tests (with a bounded fuzz run of the frame handling and the recovery property)"
NATTER_FUZZ_CASES=5000 NATTER_PROPTEST_CASES=200 cargo test --features ssr
say "end-to-end tests (debug build)"
(cd end2end && npx playwright test)
say "end-to-end smoke test (release build)"
cargo leptos build --release --precompress
(cd end2end && NATTER_E2E_SKIP_BUILD=1 NATTER_SERVER_BIN=target/release/natter \
  npx playwright test tests/shell.spec.ts tests/demo.spec.ts)
say "benchmark smoke run (a small load on each server: nothing lost, refused or reordered)"
NATTER_BENCH_SKIP_BUILD=1 bench/run.sh --quick
say "all checks passed"
