# Helpers for the CLI test scripts (sourced). Each check prints "ok NAME" or "not ok NAME: why".
# Environment from tests/run.sh: ROOT, BUILD, CFGAN (the binary), TMP (a private scratch dir).
set -u
: "${CFGAN:?run through tests/run.sh}"
: "${TMP:=$(mktemp -d)}"
export LC_ALL=C

ok() { echo "ok $1"; }
not_ok() { echo "not ok $1: $2"; }
check() { # check NAME CONDITION-COMMAND...
  local name=$1; shift
  if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi
}

# Real data root, or skip/fail (CFGAN_REQUIRE_DATA=1) when it is missing.
data_root() {
  local d=${CFGAN_DATA:-}
  if [ -n "$d" ] && [ -d "$d/cfgan/ML100K" ]; then echo "$d"; return 0; fi
  return 1
}
need_data() { # need_data NAME: prints skip/not ok and returns 1 when the datasets are absent
  data_root >/dev/null && return 0
  if [ "${CFGAN_REQUIRE_DATA:-0}" = 1 ]; then not_ok "$1" "datasets missing: CFGAN_DATA='${CFGAN_DATA:-}'"
  else echo "skip $1 (no datasets; set CFGAN_DATA)"; fi
  return 1
}

# expect_input_error NAME REGEX CMD...: exit status 2, exactly one line on stderr matching REGEX,
# nothing on stdout.
expect_input_error() {
  local name=$1 re=$2; shift 2
  local out err status
  out=$("$@" 2>"$TMP/stderr"); status=$?
  err=$(cat "$TMP/stderr")
  if [ "$status" -ne 2 ]; then not_ok "$name" "exit status $status, expected 2 (stderr: $err)"; return; fi
  if [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] || [ -z "$err" ]; then not_ok "$name" "expected one stderr line, got: $err"; return; fi
  if ! grep -Eq -- "$re" <<<"$err"; then not_ok "$name" "stderr '$err' does not match '$re'"; return; fi
  if [ -n "$out" ]; then not_ok "$name" "unexpected stdout: $out"; return; fi
  ok "$name"
}
