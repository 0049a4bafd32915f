# Helpers for the CLI test scripts (sourced). Each check prints "ok NAME" or "not ok NAME: why"; a
# check this machine or data root cannot run prints "skip NAME: why" (skip). tests/run.sh counts the
# lines, and under CFGAN_REQUIRE_DATA=1 (CI) counts every skip as a failure.
# Environment from tests/run.sh: ROOT, BUILD, CFGAN (the binary), TMP (a private scratch dir).
set -u
: "${CFGAN:?run through tests/run.sh}"
: "${TMP:=$(mktemp -d)}"
export LC_ALL=C

ok() { echo "ok $1"; }
not_ok() { echo "not ok $1: $2"; }
# skip NAME WHY: WHY must not contain ": " (the runner splits NAME from WHY at the last one).
skip() { echo "skip $1: $2"; }
check() { # check NAME CONDITION-COMMAND...
  local name=$1; shift
  if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi
}

# Real data root, or nothing (status 1) when it is missing.
data_root() {
  local d=${CFGAN_DATA:-}
  if [ -n "$d" ] && [ -d "$d/cfgan/ML100K" ]; then echo "$d"; return 0; fi
  return 1
}
# need_data NAME: prints a skip line and returns 1 when the datasets are absent (tests/run.sh turns
# the skip into a failure under CFGAN_REQUIRE_DATA=1)
need_data() {
  data_root >/dev/null && return 0
  skip "$1" "no datasets (set CFGAN_DATA)"
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

# ---- training runs (every script that trains uses these) ----
CKPT="/usr/bin/python3 $ROOT/tools/ckpt.py"
DEMO=$ROOT/configs/demo.yaml
# train NP NAME ARGS...: `cfgan train ARGS --out $TMP/NAME` on NP ranks (1: no mpirun), output in
# $TMP/NAME.log (a fresh directory each time); returns cfgan's exit status.
train() {
  local np=$1 name=$2; shift 2
  rm -rf "$TMP/$name"
  if [ "$np" = 1 ]; then "$CFGAN" train "$@" --out "$TMP/$name" > "$TMP/$name.log" 2>&1
  else mpirun -np "$np" "$CFGAN" train "$@" --out "$TMP/$name" > "$TMP/$name.log" 2>&1; fi
}
# resume NP NAME ARGS...: the same, continuing $TMP/NAME (its log appended to $TMP/NAME.log).
resume() {
  local np=$1 name=$2; shift 2
  if [ "$np" = 1 ]; then "$CFGAN" train "$@" --out "$TMP/$name" --resume >> "$TMP/$name.log" 2>&1
  else mpirun -np "$np" "$CFGAN" train "$@" --out "$TMP/$name" --resume >> "$TMP/$name.log" 2>&1; fi
}
# A run named by the helpers below: NAME under $TMP, or an absolute directory.
run_dir() { case $1 in /*) echo "$1" ;; *) echo "$TMP/$1" ;; esac; }
# finished RUN...: every run completed (final.json written).
finished() { local d; for d; do [ -s "$(run_dir "$d")/final.json" ] || return 1; done; }
strip_seconds() { sed 's/"seconds": [0-9.]*, //' "$1"; }
# same_metrics A B: both runs completed with the same metrics.jsonl (all but wall-clock seconds).
same_metrics() {
  finished "$1" "$2" &&
    [ "$(strip_seconds "$(run_dir "$1")/metrics.jsonl")" = "$(strip_seconds "$(run_dir "$2")/metrics.jsonl")" ]
}
# same_ranking A B: the same ranking metrics at every evaluation (the losses, printed to 9 digits, may
# differ in float summation order).
ranking() { sed -E 's/"(seconds|d_loss|g_loss|d_real|d_fake)": [-0-9.e]*, //g' "$1"; }
same_ranking() { finished "$1" "$2" && [ "$(ranking "$(run_dir "$1")/metrics.jsonl")" = "$(ranking "$(run_dir "$2")/metrics.jsonl")" ]; }
# metrics_4dp A B: the reported metrics agree to 4 decimals.
metrics_4dp() {
  finished "$1" "$2" && /usr/bin/python3 - "$(run_dir "$1")/final.json" "$(run_dir "$2")/final.json" <<'PY'
import json, sys
a, b = (json.load(open(p))["reported"] for p in sys.argv[1:])
bad = [k for k in a if "@" in k and round(a[k], 4) != round(b[k], 4)]
if bad: print("metrics differ:", bad); sys.exit(1)
PY
}
# params_close A B TOL [--moments]: the newest checkpoints' parameters within TOL of max |param|
# (prints the comparison).
params_close() {
  local a b
  a=$($CKPT newest "$(run_dir "$1")") && b=$($CKPT newest "$(run_dir "$2")") && $CKPT diff "$a" "$b" --tol "$3" ${4:-}
}
# per_user_means DIR: DIR/per_user.tsv has one line per test user (final.json's test_users) and its
# column means equal the reported metrics in DIR/final.json to 1e-6 (prints what differs).
per_user_means() {
  /usr/bin/python3 - "$1" <<'PY'
import csv, json, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(f"{d}/per_user.tsv"), delimiter="\t"))
final = json.load(open(f"{d}/final.json"))
rep = final["reported"]
assert len(rows) == final["test_users"], (len(rows), final["test_users"])
assert len(rows) > 0 and len({r["user"] for r in rows}) == len(rows), "no or repeated users"
cols = [k for k in rows[0] if k != "user"]
assert all(k in rep for k in cols) and len(cols) == 6 * sum(k.startswith("P@") for k in rep), cols
bad = [(k, m, rep[k]) for k in cols if abs((m := sum(float(r[k]) for r in rows) / len(rows)) - rep[k]) > 1e-6]
if bad: print("per_user.tsv means differ from final.json:", bad); sys.exit(1)
PY
}
