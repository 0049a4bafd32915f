# `cfgan evaluate` on the metric fixture (tests/fixtures/metrics): every metric at every cutoff within 1e-6.
. "$(dirname "$0")/../lib.sh"
F=$ROOT/tests/fixtures/metrics
if [ ! -f "$F/small.expected.json" ]; then not_ok "evaluate: fixture" "missing $F"; exit 0; fi
out=$("$CFGAN" evaluate --train "$F/small.train" --test "$F/small.test" --scores "$F/small.scores" --topk 1,5,10,20)
if /usr/bin/python3 - "$F/small.expected.json" "$out" <<'PY'
import json, sys
want = json.load(open(sys.argv[1])); got = json.loads(sys.argv[2])
bad = [k for k in want if k not in got or abs(got[k] - want[k]) > 1e-6]
extra = [k for k in got if k not in want and k.split("@")[0] in ("P", "R", "NDCG", "MRR")]
if bad or extra: print("mismatch:", bad, "extra:", extra); sys.exit(1)
PY
then ok "evaluate: reproduces the metric fixture (16 values within 1e-6)"; else not_ok "evaluate: fixture" "$out"; fi

# beyond accuracy, computed here from the fixture's expected top-20 lists and its training pairs:
# coverage (distinct recommended items / 60), Gini of the per-item counts, novelty (mean
# log2(|U| / training users of the item), at least one) and popularity (mean training users)
out=$("$CFGAN" evaluate --train "$F/small.train" --test "$F/small.test" --scores "$F/small.scores" --topk 1,5,10,20 \
  --per-user "$TMP/pu.tsv")
if /usr/bin/python3 - "$F" "$out" "$TMP/pu.tsv" <<'PY'
import csv, json, math, sys
F, got = sys.argv[1], json.loads(sys.argv[2])
lists = [list(map(int, l.split())) for l in open(f"{F}/small.top20") if l.strip()]
train = [tuple(map(int, l.split()[:2])) for l in open(f"{F}/small.train") if l.strip()]
test_users = sorted({int(l.split()[0]) for l in open(f"{F}/small.test") if l.strip()})
n_users, n_items = 50, 60
deg = [0] * n_items
for u, i in train: deg[i] += 1
bad = []
for K in (1, 5, 10, 20):
    tops = [lists[u][:K] for u in test_users]
    counts = [0] * n_items
    for t in tops:
        for i in t: counts[i] += 1
    x = sorted(counts)
    want = {f"coverage@{K}": sum(c > 0 for c in counts) / n_items,
            f"gini@{K}": sum((2 * (j + 1) - n_items - 1) * v for j, v in enumerate(x)) / (n_items * sum(x)),
            f"novelty@{K}": sum(sum(math.log2(n_users / max(deg[i], 1)) for i in t) / len(t) for t in tops) / len(tops),
            f"popularity@{K}": sum(sum(deg[i] for i in t) / len(t) for t in tops) / len(tops)}
    bad += [(k, got.get(k), v) for k, v in want.items() if abs(got.get(k, -1) - v) > 1e-6]
rows = list(csv.DictReader(open(sys.argv[3]), delimiter="\t"))
assert [int(r["user"]) for r in rows] == test_users, "per-user rows are not the test users"
for k in (k for k in rows[0] if k != "user"):  # every per-user column: P, R, NDCG, MRR, novelty, popularity
    mean = sum(float(r[k]) for r in rows) / len(rows)
    if abs(mean - got[k]) > 1e-6: bad.append((k, mean, got[k]))
if bad: print("differ:", bad); sys.exit(1)
PY
then ok "evaluate: coverage, Gini, novelty and popularity equal the values computed from the fixture's lists; --per-user's means equal them"
else not_ok "evaluate: beyond-accuracy metrics" "$out"; fi

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
