#!/usr/bin/env bash
# Run every fuzz target (BUILD_DIR/fuzz_*) for SECONDS, seeded with tests/fuzz/corpus-<target>/
# (seeds and regression inputs: every crash ever found is kept there) and, for the config and data
# readers, with the repository's configs and the bad-input corpus. Prints "ok fuzz: ..." or
# "not ok fuzz: ..." per target and exits non-zero if any target crashed; a crash leaves its input in
# BUILD_DIR/crash-* (copy it into tests/fuzz/corpus-<target>/ once fixed).
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]   (default: every fuzz_* built; env FUZZ_FRESH=1)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=$1; S=${2:-60}; shift 2 2>/dev/null || shift $#
targets=${*:-$(cd "$B" && find . -maxdepth 1 -name "fuzz_*" -type f -executable | sed "s|^./fuzz_||" | sort)}
fail=0
# fuzz_recommend needs trained runs: made once here (cmd_train in the harness), reused by every session
export CFGAN_FUZZ_RUNS=$(cd "$B" && pwd)/recommend-runs
rm -rf "$CFGAN_FUZZ_RUNS"; mkdir -p "$CFGAN_FUZZ_RUNS"
for t in $targets; do
  # the long runs grow BUILD_DIR/corpus-TARGET from run to run; FUZZ_FRESH=1 (make test's smoke run)
  # starts from the repository's seeds alone, so that replaying the corpus stays short
  if [ "${FUZZ_FRESH:-0}" = 1 ]; then work=$B/fresh-corpus-$t; rm -rf "$work"; else work=$B/corpus-$t; fi
  mkdir -p "$work"; work=$(cd "$work" && pwd)
  case $t in
    config) cp "$ROOT"/configs/*.yaml "$ROOT"/tests/bad/*.yaml "$work"/ 2>/dev/null ;;
    data) for f in "$ROOT"/tests/bad/*.txt "$ROOT"/tests/bad/*.csv "$ROOT"/tests/bad/*.tsv "$ROOT"/tests/bad/ok.train; do
            [ -f "$f" ] && { printf '\000'; cat "$f"; } > "$work/$(basename "$f")"; done ;;
  esac
  [ -d "$ROOT/tests/fuzz/corpus-$t" ] && cp "$ROOT/tests/fuzz/corpus-$t"/* "$work"/ 2>/dev/null
  dict=$ROOT/tests/fuzz/$t.dict; [ -f "$dict" ] && dict="-dict=$dict" || dict=
  log=$B/fuzz_$t.log; : > "$log"
  # Bad input ends in die(), which the harness turns into a longjmp, so whatever the command held
  # at that moment leaks (a real run exits there). Sessions of at most 15 s keep that bounded; the
  # corpus directory carries coverage from one session to the next.
  st=0; runs=0; left=$S; t0=$(date +%s)
  while [ "$left" -gt 0 ] && [ $st -eq 0 ]; do
    chunk=$(( left < 15 ? left : 15 ))
    ( cd "$B" && ASAN_OPTIONS=detect_leaks=0 ./fuzz_$t -max_total_time="$chunk" -close_fd_mask=3 -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 $dict "$work" ) > "$log.session" 2>&1
    st=$?
    cat "$log.session" >> "$log"
    n=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log.session" | awk '{print $2}')
    [ -z "$n" ] && n=$(grep -oE '^#[0-9]+' "$log.session" | tail -1 | tr -d '#')
    runs=$(( runs + ${n:-0} )); left=$(( left - chunk ))
  done
  rm -f "$log.session"
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)
  secs=$(( $(date +%s) - t0 ))
  if [ $st -eq 0 ]; then echo "ok fuzz: $t survived $runs inputs in ${secs}s ($cov)"
  else
    crash=$(grep -oE "(crash|leak|timeout|oom|slow-unit)-[0-9a-f]+" "$log" | tail -1)
    echo "not ok fuzz: $t: status $st${crash:+, input $B/$crash}, see $log"
    grep -E 'ERROR|SUMMARY|runtime error|#[0-9]+ 0x.* in .*/(src|tests)/' "$log" | head -12 | sed 's/^/    | /'
    fail=1
  fi
done
exit $fail
