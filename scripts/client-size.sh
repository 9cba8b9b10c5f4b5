#!/usr/bin/env bash
# Prints the size of the client a browser downloads (the WASM, its JS glue and the CSS) as
# built in target/site/pkg, raw and as served precompressed (`cargo leptos build --release
# --precompress` writes the .gz and .br copies next to each file), in KB (1 KB = 1,000 bytes).
# Usage: scripts/client-size.sh [pkg-dir]
set -euo pipefail
pkg=${1:-target/site/pkg}
kb() { if [[ -f $1 ]]; then echo $((($(stat -c %s "$1") + 500) / 1000)); else echo "-"; fi; }
printf '%-14s %8s %8s %8s\n' file raw gzip brotli
total=(0 0 0)
for f in natter.wasm natter.js natter.css; do
  if [[ ! -f $pkg/$f ]]; then
    echo "$pkg/$f is missing: build the release first (cargo leptos build --release --precompress)" >&2
    exit 1
  fi
  row=("$(kb "$pkg/$f")" "$(kb "$pkg/$f.gz")" "$(kb "$pkg/$f.br")")
  printf '%-14s %8s %8s %8s\n' "$f" "${row[@]}"
  if [[ $f != natter.css ]]; then
    for i in 0 1 2; do [[ ${row[$i]} == - ]] || total[$i]=$((total[i] + row[i])); done
  fi
done
printf '%-14s %8s %8s %8s\n' "WASM + JS" "${total[@]}"
