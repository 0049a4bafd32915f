#!/usr/bin/env bash
# The whole test suite: C unit tests (build/tests/test_*), then the CLI scripts (tests/cli/*.sh,
# bad-input corpus included). Every test prints "ok NAME" or "not ok NAME: why", or "skip NAME: why"
# when this machine or data root cannot run it; each file's time follows as "# FILE: N s". The last
# lines are the skip count and "N passed, M failed"; the exit status is non-zero when anything failed.
# Usage: tests/run.sh [BUILD_DIR]   (env: CFGAN_DATA data root; CFGAN_REQUIRE_DATA=1 (CI) counts
# every skip, for want of data or of a CPU feature, as a failure "not ok NAME: skipped in CI: why";
# TESTS=pattern runs only matching files)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
export ROOT BUILD CFGAN=$BUILD/cfgan
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 \
       OMPI_MCA_mpi_yield_when_idle=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
TMPROOT=$(mktemp -d /tmp/cfgan-tests.XXXXXX)
trap 'rm -rf "$TMPROOT"' EXIT
passed=0 failed=0 skipped=0
failures=()

# Run one test program; count its ok/not ok/skip lines.
run_one() {
  local label=$1; shift
  local out status t0 t1
  t0=$(date +%s.%N)
  out=$("$@" 2>&1)
  status=$?
  t1=$(date +%s.%N)
  # "skip NAME: why" (NAME may hold ": ", why may not); a skip line without a reason is a failure,
  # and so is every skip in CI
  out=$(awk -v ci="${CFGAN_REQUIRE_DATA:-0}" '
    /^skip / {
      r = substr($0, 6); i = 0
      for (j = index(r, ": "); j > 0; j = index(substr(r, i + 1), ": ")) i += j
      if (i == 0) { print "not ok " r ": a skip line without its reason (expected skip NAME: why)"; next }
      if (ci == 1) { print "not ok " substr(r, 1, i - 1) ": skipped in CI: " substr(r, i + 2); next }
    }
    { print }' <<<"$out")
  local n_ok n_fail n_skip
  n_ok=$(grep -c '^ok ' <<<"$out")
  n_fail=$(grep -c '^not ok ' <<<"$out")
  n_skip=$(grep -c '^skip ' <<<"$out")
  grep -E '^(ok|not ok|skip) ' <<<"$out"
  if [ "$status" -ne 0 ] && [ "$n_fail" -eq 0 ]; then
    echo "not ok $label: exited with status $status"
    echo "$out" | tail -20 | sed 's/^/    | /'
    n_fail=1
  elif [ "$n_fail" -gt 0 ]; then
    echo "$out" | grep -vE '^(ok|not ok|skip) ' | tail -20 | sed 's/^/    | /'
  fi
  if [ "$n_ok" -eq 0 ] && [ "$n_fail" -eq 0 ] && [ "$n_skip" -eq 0 ]; then
    echo "not ok $label: reported no results"
    n_fail=1
  fi
  passed=$((passed + n_ok)); failed=$((failed + n_fail)); skipped=$((skipped + n_skip))
  [ "$n_fail" -gt 0 ] && failures+=("$label")
  awk -v l="$label" -v a="$t0" -v b="$t1" 'BEGIN { printf "# %s: %.1f s\n", l, b - a }'
}

for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  [[ -n ${TESTS:-} && $t != *${TESTS}* ]] && continue
  run_one "$(basename "$t")" env TMPDIR="$TMPROOT" "$t"
done
for s in "$ROOT"/tests/cli/*.sh; do
  [[ -n ${TESTS:-} && $s != *${TESTS}* ]] && continue
  d=$TMPROOT/$(basename "$s" .sh); mkdir -p "$d"
  run_one "$(basename "$s")" env TMP="$d" bash "$s"
done

[ ${#failures[@]} -gt 0 ] && echo "# failing files: ${failures[*]}"
[ "$skipped" -gt 0 ] && echo "# $skipped skipped (the skip lines above say why; real-data tests need CFGAN_DATA)"
[ "${CFGAN_REQUIRE_DATA:-0}" = 1 ] && echo "# CFGAN_REQUIRE_DATA=1: every skip counts as a failure"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
