# The bad-input corpus (tests/bad/cases.txt): every case exits 2 with one stderr line naming the
# file (and line), and writes nothing.
. "$(dirname "$0")/../lib.sh"
BAD=$ROOT/tests/bad
cd "$TMP"
while IFS='|' read -r name kind arg expect; do
  name=$(echo "$name" | xargs); kind=$(echo "$kind" | xargs); arg=$(echo "$arg" | xargs)
  expect=$(echo "$expect" | sed 's/^ *//; s/ *$//')
  [ -z "$name" ] && continue
  case $name in \#*) continue ;; esac
  label="bad input: $name"
  case $kind in
    config)
      path=$BAD/$arg
      expect_input_error "$label" "${expect//%F/$path}" "$CFGAN" data-info "$path" ;;
    set)
      expect_input_error "$label" "$expect" "$CFGAN" data-info "$BAD/ok.yaml" --data-root "$BAD" --set "$arg" ;;
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
      expect_input_error "$label" "${expect//%F/$path}" "$CFGAN" data-info "$cfg" ;;
    *) not_ok "$label" "unknown kind '$kind' in cases.txt" ;;
  esac
  leftovers=$(ls -A "$TMP" | grep -v -e '^case.yaml$' -e '^stderr$' || true)
  if [ -n "$leftovers" ]; then not_ok "$label (no output left behind)" "found: $leftovers"; fi
done < "$BAD/cases.txt"
