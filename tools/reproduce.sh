#!/usr/bin/env bash
# Reproduce the CFGAN results of docs/results.md: the reference configs (three seeds on ML100K and Ciao, one
# on ML1M) and the honest-protocol variants, then print the results table.
# Usage: tools/reproduce.sh [OUT_DIR] [which...]   which: ml100k ciao ml1m ml100k-valid ciao-valid ml1m-valid
# (default: all). Needs the datasets under $CFGAN_DATA (or --data-root via CFGAN_DATA). Takes ~1.5 h
# on 2 cores, most of it ML1M.
set -euo pipefail
. "$(dirname "$0")/usage.sh"
cd "$(dirname "$0")/.."
out=${1:-runs/reproduce}; shift || true
which=${*:-ml100k ciao ml100k-valid ciao-valid ml1m ml1m-valid}
bin=${CFGAN_BIN:-build/cfgan}
[ -x $bin ] || make -s
mkdir -p "$out"
seeds_of() { case $1 in ml1m*) echo 1 ;; *) echo 1 2 3 ;; esac; }
dirs=()
for cfg in $which; do
  for s in $(seeds_of "$cfg"); do
    d=$out/$cfg-s$s
    if [ ! -f "$d/final.json" ]; then
      rm -rf "$d"
      echo "== $cfg seed $s -> $d"
      $bin train "configs/$cfg.yaml" --set train.seed=$s --out "$d" | tail -2
    fi
    dirs+=("$d")
  done
done
/usr/bin/python3 tools/results-table.py "${dirs[@]}"
