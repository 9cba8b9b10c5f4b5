#!/usr/bin/env bash
# Installs what is missing and runs Natter with live reload on http://127.0.0.1:3000.
# The server creates ./data/natter.db, migrates it and seeds the demo users on first start.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-tools.sh
export PATH="$HOME/.cargo/bin:$PWD/.tools/node_modules/.bin:$PATH"
mkdir -p data
# A development server is a demo: alice, bob, carol and admin with one-click logins.
export NATTER_DEMO_MODE="${NATTER_DEMO_MODE:-true}"
exec cargo leptos watch
