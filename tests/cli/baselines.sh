# `cfgan baseline`: TopPop, ItemKNN and EASE^R against the independent reference numbers on the
# CFGAN ML100K split (the independent reference numbers in docs/results.md), identical across rank
# counts, honest tuning; per_user.tsv.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tools/mpi-env.sh" 4
get() { /usr/bin/python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['reported'][sys.argv[2]], 4))" "$1/final.json" "$2"; }
near() { /usr/bin/python3 -c "import sys; sys.exit(0 if abs(float(sys.argv[1]) - float(sys.argv[2])) <= float(sys.argv[3]) else 1)" "$@"; }

# no data needed: every model runs on the demo, and a grid without validation is refused
for m in toppop itemknn ease; do
  "$CFGAN" baseline "$DEMO" --model $m --out "$TMP/demo-$m" > "$TMP/demo-$m.log" 2>&1 && [ -s "$TMP/demo-$m/final.json" ] &&
    per_user_means "$TMP/demo-$m" > "$TMP/pu-$m" \
    && ok "baseline: $m runs on the synthetic demo; per_user.tsv's means equal final.json's metrics" \
    || not_ok "baseline: $m on demo" "$(tail -3 "$TMP/demo-$m.log"; cat "$TMP/pu-$m")"
done
expect_input_error "baseline: a grid without a validation split is refused" "no validation split to choose among them" \
  "$CFGAN" baseline "$DEMO" --model ease --set "baselines.ease.lambda=[10,100]" --out "$TMP/never"
"$CFGAN" baseline "$DEMO" --model ease --set "baselines.ease.lambda=[1,30,300,3000]" --set data.validation=0.1 \
  --out "$TMP/tuned" > /dev/null 2>&1
if /usr/bin/python3 - "$TMP/tuned" <<'PY' && per_user_means "$TMP/tuned" > "$TMP/pu-tuned"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
valid = [r for r in rows if r["split"] == "valid"]; test = [r for r in rows if r["split"] == "test"]
f = json.load(open(sys.argv[1] + "/final.json"))
best = max(valid, key=lambda r: r["NDCG@20"])
assert len(valid) == 4 and len(test) == 1 and "refit" not in test[0] and test[0]["lambda"] == best["lambda"]
assert f["protocol"] == "honest" and f["selected"]["lambda"] == best["lambda"]
PY
then ok "baseline: a λ grid is scored on validation, the best tested without a refit, as CFGAN's honest protocol (per_user.tsv: the test's)"
else not_ok "baseline: honest tuning" "see $TMP/tuned"; fi

need_data "baseline: ML100K reference numbers" || exit 0
D=$(data_root)
"$CFGAN" baseline "$ROOT/configs/ml100k.yaml" --data-root "$D" --model toppop --out "$TMP/top" > /dev/null 2>&1
[ "$(get "$TMP/top" P@20)" = "0.1558" ] && ok "baseline: TopPop on ML100K gives P@20 0.1558" \
  || not_ok "baseline: TopPop" "P@20 $(get "$TMP/top" P@20)"
"$CFGAN" baseline "$ROOT/configs/ml100k.yaml" --data-root "$D" --model ease --out "$TMP/e1" > /dev/null 2>&1
mpirun -np 4 "$CFGAN" baseline "$ROOT/configs/ml100k.yaml" --data-root "$D" --model ease --out "$TMP/e4" > "$TMP/e4.log" 2>&1
ok_all=1
for kv in P@5:0.4464 NDCG@5:0.4808 P@20:0.2933 NDCG@20:0.4370; do
  near "$(get "$TMP/e1" ${kv%%:*})" "${kv#*:}" 0.0005 || ok_all=0
done
[ $ok_all = 1 ] && ok "baseline: EASE^R (λ 300) on ML100K gives P@5 .4464, NDCG@5 .4808, P@20 .2933, NDCG@20 .4370 (± .0005)" \
  || not_ok "baseline: EASE^R values" "$(cat "$TMP/e1/final.json" | head -8)"
/usr/bin/python3 - "$TMP/e1/final.json" "$TMP/e4/final.json" <<'PY' && ok "baseline: EASE^R gives the same metrics at np = 1 and np = 4 (within 1e-6)" || not_ok "baseline: EASE^R np=4" "$(tail -3 "$TMP/e4.log")"
import json, sys
a, b = (json.load(open(p))["reported"] for p in sys.argv[1:])
sys.exit(0 if all(abs(a[k] - b[k]) <= 1e-6 for k in a if "@" in k) else 1)
PY
"$CFGAN" baseline "$ROOT/configs/ml100k.yaml" --data-root "$D" --model itemknn --out "$TMP/knn" > /dev/null 2>&1
ok_all=1
for kv in P@5:0.3917 NDCG@5:0.4200 P@20:0.2597 NDCG@20:0.3841; do
  near "$(get "$TMP/knn" ${kv%%:*})" "${kv#*:}" 0.002 || ok_all=0
done
[ $ok_all = 1 ] && ok "baseline: ItemKNN (k 200, shrink 10) on ML100K within .002 of the reference (P@5 .3917, NDCG@20 .3841)" \
  || not_ok "baseline: ItemKNN values" "$(head -6 "$TMP/knn/final.json")"
