#!/usr/bin/env bash
# Every check Natter has, in the order that fails fastest: formatting, lints for both
# builds, the Rust tests, then the Playwright suite against a debug build, and the release
# bundle (scripts/dist.sh) unpacked and smoke-tested (hydration must work with wasm-opt too). Each step says how long it took, and
# a table of all of them closes the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/.tools/node_modules/.bin:$PATH"

timings=()
started_all=$SECONDS

# Runs one named step and records how long it took.
step() {
  local name=$1
  shift
  printf '\033[1m==> %s\033[0m\n' "$name"
  local start=$SECONDS
  "$@"
  local took=$((SECONDS - start))
  timings+=("$(printf '%6d s  %s' "$took" "$name")")
  printf '\033[1m<== %s: %d s\033[0m\n' "$name" "$took"
}

summary() {
  printf '\n\033[1mTimes\033[0m\n'
  printf '%s\n' "${timings[@]}"
  printf '%6d s  in all\n' "$((SECONDS - started_all))"
}
trap summary EXIT

step "install the tools (every run; each installer is idempotent)" scripts/install-tools.sh --test
step "cargo fmt --check" bash -c 'cargo fmt --all -- --check && cargo fmt --manifest-path bench/Cargo.toml -- --check'
step "clippy (server)" cargo clippy --features ssr --all-targets -- -D warnings
step "clippy (client)" cargo clippy --lib --features hydrate --target wasm32-unknown-unknown -- -D warnings
step "clippy (benchmark)" cargo clippy --manifest-path bench/Cargo.toml -- -D warnings
step "no import cycle between the top-level modules" python3 scripts/check-layers.py
step "Rust tests (with a bounded fuzz run of the frame handling and the recovery property)" \
  env NATTER_FUZZ_CASES=5000 NATTER_PROPTEST_CASES=200 cargo test --features ssr
step "end-to-end tests (debug build)" bash -c 'cd end2end && npx playwright test'
step "release build" cargo leptos build --release --precompress
step "client size (what a browser downloads)" scripts/client-size.sh
step "release bundle (scripts/dist.sh)" env NATTER_DIST_SKIP_BUILD=1 scripts/dist.sh

# The bundle as an operator gets it: unpacked into a folder of its own, it runs with its own
# configuration, and the smoke tests run against its binary and its site.
release_smoke() (
  local bundle unpacked
  bundle=$(ls -t target/dist/natter-*-linux.tar.gz | head -n 1)
  unpacked=$(mktemp -d)
  trap 'rm -rf "$unpacked"' EXIT
  tar -xzf "$bundle" -C "$unpacked"
  local dir=("$unpacked"/natter-*)
  scripts/check-bundle.sh "${dir[0]}"
  cd end2end
  NATTER_E2E_SKIP_BUILD=1 NATTER_SERVER_BIN="${dir[0]}/bin/natter" NATTER_SITE_ROOT="${dir[0]}/site" \
    npx playwright test tests/shell.spec.ts tests/demo.spec.ts
)
step "end-to-end smoke test (the release bundle, unpacked)" release_smoke
step "benchmark smoke run (a small load on each server: nothing lost, refused or reordered)" \
  env NATTER_BENCH_SKIP_BUILD=1 bench/run.sh --quick
printf '\033[1m==> all checks passed\033[0m\n'
