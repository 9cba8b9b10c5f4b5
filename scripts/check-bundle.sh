#!/usr/bin/env bash
# Checks an unpacked release bundle the way an operator uses it: from its own folder, with
# its own natter.toml (only the database and the addresses moved, through NATTER_*
# variables), the server starts, is ready, serves metrics, answers public_url's host and
# refuses another (421), sends HSTS, and serves the page and the precompressed client;
# while it runs, the command line creates the first admin and backs the database up;
# SIGTERM stops it cleanly.
# Usage: scripts/check-bundle.sh <unpacked natter-<version> folder>
set -euo pipefail
bundle=$(cd "$1" && pwd)
work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ] && kill "$server" 2>/dev/null; then wait "$server" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "check-bundle: $*" >&2
  echo "--- server log ---" >&2
  cat "$work/server.log" >&2 || true
  exit 1
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
metrics_port=$(free_port)
# The metrics' default address takes one server per machine; the suite may run others.
export NATTER_DATABASE_URL="sqlite://$work/natter.db" NATTER_SITE_ADDR="127.0.0.1:$port" \
  NATTER_METRICS_ADDR="127.0.0.1:$metrics_port"
unset NATTER_CONFIG
natter() { (cd "$bundle" && bin/natter --config natter.toml "$@"); }
public_host=$(awk -F '"' '/^public_url = / { sub("https://", "", $2); print $2; exit }' "$bundle/natter.toml")

version=$(natter --version)
echo "check-bundle: $version"
(cd "$bundle" && exec bin/natter --config natter.toml serve) >"$work/server.log" 2>&1 &
server=$!
until curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null; do
  kill -0 "$server" 2>/dev/null || fail "the server exited before answering /healthz"
  sleep 0.2
done

status() { curl -sS -o /dev/null -w '%{http_code}' "$@"; }
[ "$(curl -sS "http://127.0.0.1:$port/readyz")" = ready ] || fail "/readyz: the database in its place is not ready"
[ "$(status "http://127.0.0.1:$metrics_port/metrics")" = 200 ] || fail "no /metrics on metrics_addr"
[ "$(status -H "Host: $public_host" "http://127.0.0.1:$port/login")" = 200 ] ||
  fail "GET /login for $public_host is not 200"
[ "$(status -H 'Host: attacker.example' "http://127.0.0.1:$port/login")" = 421 ] ||
  fail "GET /login for attacker.example is not 421: public_url is not in force"
headers=$(curl -fsS -D - -o /dev/null "http://127.0.0.1:$port/healthz")
grep -qi '^strict-transport-security: max-age=' <<<"$headers" || fail "no HSTS although public_url is https"
headers=$(curl -fsS -D - -o /dev/null -H 'Accept-Encoding: br' "http://127.0.0.1:$port/pkg/natter.wasm")
grep -qi '^content-encoding: br' <<<"$headers" || fail "/pkg/natter.wasm is not served brotli-compressed from site/"

password=$(natter admin create operator)
[[ $password =~ ^[A-Za-z0-9]{20}$ ]] || fail "admin create printed no password"
natter backup "$work/backup.db" 2>/dev/null || fail "backup failed"
users=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from users").fetchone()[0])' "$work/backup.db")
[ "$users" = 1 ] || fail "the backup holds $users users, not the admin"

kill -TERM "$server"
code=0
wait "$server" || code=$?
server=
[ "$code" = 0 ] || fail "the server exited with $code on SIGTERM"
echo "check-bundle: the bundle runs from its folder with its own configuration"
