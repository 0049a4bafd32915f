#!/usr/bin/env bash
# Run every fuzz target for SECONDS, seeded with the repository's configs, the bad-input corpus and
# tests/fuzz/corpus-*/ (regression inputs: every crash ever found is kept there). Prints ok/not ok per
# target; a crash leaves its input in build-fuzz/crash-* and fails.
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=$1; S=${2:-60}
fail=0
for t in config data; do
  work=$B/corpus-$t; mkdir -p "$work"
  if [ $t = config ]; then cp "$ROOT"/configs/*.yaml "$ROOT"/tests/bad/*.yaml "$work"/ 2>/dev/null
  else for f in "$ROOT"/tests/bad/*.txt "$ROOT"/tests/bad/*.csv "$ROOT"/tests/bad/*.tsv "$ROOT"/tests/bad/ok.train; do
         [ -f "$f" ] && { printf '\000'; cat "$f"; } > "$work/$(basename "$f")"; done; fi
  [ -d "$ROOT/tests/fuzz/corpus-$t" ] && cp "$ROOT/tests/fuzz/corpus-$t"/* "$work"/ 2>/dev/null
  log=$B/fuzz_$t.log; : > "$log"
  # Bad input ends in die(), which the harness turns into a longjmp, so whatever the reader held
  # at that moment leaks (a real run exits there). Sessions of at most 15 s keep that bounded; the
  # corpus directory carries coverage from one session to the next.
  st=0; runs=0; left=$S
  while [ "$left" -gt 0 ] && [ $st -eq 0 ]; do
    chunk=$(( left < 15 ? left : 15 ))
    ( cd "$B" && ASAN_OPTIONS=detect_leaks=0 ./fuzz_$t -max_total_time="$chunk" -close_fd_mask=3 -timeout=10 -rss_limit_mb=2048 "corpus-$t" ) >> "$log" 2>&1
    st=$?
    n=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    [ -z "$n" ] && n=$(grep -oE '#[0-9]+' "$log" | tail -1 | tr -d '#')
    runs=$(( runs + ${n:-0} )); left=$(( left - chunk ))
  done
  if [ $st -eq 0 ]; then echo "ok fuzz: $t reader survived $runs inputs in ${S}s"
  else echo "not ok fuzz: $t reader: status $st, see $log"; tail -20 "$log" | sed 's/^/    | /'; fail=1; fi
done
exit $fail
