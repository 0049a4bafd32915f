# The bad-input corpus (tests/bad/cases.txt): every case exits 2 with one stderr line naming the
# file (and line), and writes nothing: config and data cases run through `cfgan train` and
# `cfgan baseline` (the commands that write run directories), checked to leave no file behind.
. "$(dirname "$0")/../lib.sh"
BAD=$ROOT/tests/bad
cd "$TMP"
while IFS='|' read -r name kind arg expect; do
  name=$(echo "$name" | xargs); kind=$(echo "$kind" | xargs); arg=$(echo "$arg" | xargs)
  expect=$(echo "$expect" | sed 's/^ *//; s/ *$//')
  [ -z "$name" ] && continue
  case $name in \#*) continue ;; esac
  label="bad input: $name"
  # both writing commands, one after the other, with the same expected line
  both() { # both EXPECT CONFIG [ARGS...]
    local re=$1 cfg=$2; shift 2
    expect_input_error "$label (train)" "$re" "$CFGAN" train "$cfg" "$@" --out "$TMP/run"
    expect_input_error "$label (baseline)" "$re" "$CFGAN" baseline "$cfg" --model toppop "$@" --out "$TMP/run"
  }
  case $kind in
    config)
      path=$BAD/$arg
      both "${expect//%F/$path}" "$path" ;;
    set)
      both "$expect" "$BAD/ok.yaml" --data-root "$BAD" --set "$arg" ;;
    args)
      # shellcheck disable=SC2086
      expect_input_error "$label" "$expect" "$CFGAN" $arg ;;
    train:*|test:*)
      fmt=${kind#*:}; path=$BAD/$arg
      cfg=$TMP/case.yaml
      if [ "${kind%%:*}" = train ]; then
        printf 'data:\n  format: %s\n  train: "%s"\n  test: "%s"\n' "$fmt" "$path" "$BAD/ok.test" > "$cfg"
      else
        printf 'data:\n  format: %s\n  train: "%s"\n  test: "%s"\n' "$fmt" "$BAD/ok.train" "$path" > "$cfg"
      fi
      both "${expect//%F/$path}" "$cfg" ;;
    *) not_ok "$label" "unknown kind '$kind' in cases.txt" ;;
  esac
  leftovers=$(ls -A "$TMP" | grep -v -e '^case.yaml$' -e '^stderr$' || true)
  if [ -n "$leftovers" ]; then not_ok "$label (no output left behind)" "found: $leftovers"; fi
done < "$BAD/cases.txt"
