# `cfgan evaluate` on the metric fixture (tests/fixtures/metrics): every metric at every cutoff within 1e-6.
. "$(dirname "$0")/../lib.sh"
F=$ROOT/tests/fixtures/metrics
if [ ! -f "$F/small.expected.json" ]; then not_ok "evaluate: fixture" "missing $F"; exit 0; fi
out=$("$CFGAN" evaluate --train "$F/small.train" --test "$F/small.test" --scores "$F/small.scores" --topk 1,5,10,20)
if /usr/bin/python3 - "$F/small.expected.json" "$out" <<'PY'
import json, sys
want = json.load(open(sys.argv[1])); got = json.loads(sys.argv[2])
bad = [k for k in want if k not in got or abs(got[k] - want[k]) > 1e-6]
extra = [k for k in got if k not in want]
if bad or extra: print("mismatch:", bad, "extra:", extra); sys.exit(1)
PY
then ok "evaluate: reproduces the metric fixture (16 values within 1e-6)"; else not_ok "evaluate: fixture" "$out"; fi

# a score file with a short line names file and line
head -3 "$F/small.scores" > "$TMP/short.scores"; echo "0.5 0.25" >> "$TMP/short.scores"
expect_input_error "evaluate: ragged score line" "^$TMP/short.scores:4: 2 scores where line 2 has 60$" \
  "$CFGAN" evaluate --train "$F/small.train" --test "$F/small.test" --scores "$TMP/short.scores"
head -11 "$F/small.scores" > "$TMP/few.scores"
expect_input_error "evaluate: too few score lines" "^$TMP/few.scores: 10 score lines, but test user 10 needs line 11$" \
  "$CFGAN" evaluate --train "$F/small.train" --test "$F/small.test" --scores "$TMP/few.scores"
sed '3s/0.45/abc/' "$F/small.scores" > "$TMP/nan.scores"
expect_input_error "evaluate: non-numeric score" "^$TMP/nan.scores:3: score 'abc' is not a number$" \
  "$CFGAN" evaluate --train "$F/small.train" --test "$F/small.test" --scores "$TMP/nan.scores"
expect_input_error "evaluate: bad --topk" "^--topk: '5,x' is not a comma-separated list" \
  "$CFGAN" evaluate --train "$F/small.train" --test "$F/small.test" --scores "$F/small.scores" --topk 5,x
