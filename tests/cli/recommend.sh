# `cfgan recommend`: original ids, training items excluded, several users, titles, clear errors.
. "$(dirname "$0")/../lib.sh"
"$CFGAN" synth --users 400 --items 120 --interactions 9000 --seed 3 --out "$TMP/all.txt" 2> /dev/null
# original ids that are not 0-based: users x 10 + 7, items x 100 + 5
awk '{print $1*10+7, $2*100+5, 1}' "$TMP/all.txt" > "$TMP/shifted.txt"
awk 'NR % 5 != 0' "$TMP/shifted.txt" > "$TMP/train.txt"; awk 'NR % 5 == 0' "$TMP/shifted.txt" > "$TMP/test.txt"
awk '{print $1 "::Title of " $1}' <(cut -d' ' -f2 "$TMP/shifted.txt" | sort -un) > "$TMP/titles.dat"
for mode in item user; do
  printf 'data:\n  train: %s\n  test: %s\n  titles: %s\nmodel:\n  mode: %s\n  g_hidden: [32]\n  d_hidden: [16]\ntrain:\n  epochs: 4\n  g_steps: 1\n' \
    "$TMP/train.txt" "$TMP/test.txt" "$TMP/titles.dat" $mode > "$TMP/$mode.yaml"
  "$CFGAN" train "$TMP/$mode.yaml" --out "$TMP/run-$mode" > /dev/null 2>&1 || not_ok "recommend: train ($mode mode)" "failed"
  "$CFGAN" recommend "$TMP/run-$mode" --user 17 -k 7 > "$TMP/rec-$mode.tsv" 2> "$TMP/err"
  if /usr/bin/python3 - "$TMP/rec-$mode.tsv" "$TMP/train.txt" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
train = {int(l.split()[1]) for l in open(sys.argv[2]) if l.split()[0] == "17"}
assert len(rows) == 7, len(rows)
assert [int(r["rank"]) for r in rows] == list(range(1, 8))
assert all(r["user"] == "17" for r in rows)
items = [int(r["item"]) for r in rows]
assert all(i % 100 == 5 for i in items), "not original item ids"
assert not set(items) & train, "recommended a training item"
assert all(r["title"] == f"Title of {r['item']}" for r in rows), "titles"
scores = [float(r["score"]) for r in rows]
assert scores == sorted(scores, reverse=True)
PY
  then ok "recommend: $mode mode gives top-k in original ids with titles, training items excluded"
  else not_ok "recommend: $mode mode" "$(cat "$TMP/err") $(head -3 "$TMP/rec-$mode.tsv")"; fi
done
printf '# two users\n17\n27\n' > "$TMP/users.txt"
"$CFGAN" recommend "$TMP/run-item" --users "$TMP/users.txt" -k 3 --out "$TMP/two.tsv" > /dev/null 2>&1
[ "$(tail -n +2 "$TMP/two.tsv" | cut -f1 | sort | uniq -c | awk '{print $1}' | tr '\n' ' ')" = "3 3 " ] \
  && ok "recommend: --users FILE and --out write k rows per user" || not_ok "recommend: --users" "$(cat "$TMP/two.tsv")"
expect_input_error "recommend: unknown user" "^cfgan recommend: user 18 is not in the data$" "$CFGAN" recommend "$TMP/run-item" --user 18
printf '17\nabc\n' > "$TMP/bad_users.txt"
expect_input_error "recommend: bad line in --users" "^$TMP/bad_users.txt:2: 'abc' is not a user id$" \
  "$CFGAN" recommend "$TMP/run-item" --users "$TMP/bad_users.txt"
echo "7 5 1" >> "$TMP/train.txt"
expect_input_error "recommend: data changed since training" "is not the data this model was trained on" \
  "$CFGAN" recommend "$TMP/run-item" --user 17

# a checkpoint of the honest protocol written before the first validation has no selected
# parameters yet: recommend uses the current ones (not zeros)
"$CFGAN" train "$ROOT/configs/demo.yaml" --set data.validation=0.1 --set eval.every=10 --set checkpoint.every=2 \
  --set checkpoint.keep=10 --set train.epochs=10 --out "$TMP/early" > /dev/null 2>&1
first=$(ls "$TMP/early/checkpoints/"ckpt-*.bin | head -1)
"$CFGAN" recommend "$first" --user 3 -k 3 > "$TMP/early.tsv" 2>&1
awk -F'\t' 'NR > 1 && $4 != 0 { nz++ } END { exit nz == 3 ? 0 : 1 }' "$TMP/early.tsv" \
  && ok "recommend: an honest-protocol checkpoint from before the first validation scores with the current parameters" \
  || not_ok "recommend: early checkpoint" "$(cat "$TMP/early.tsv")"
