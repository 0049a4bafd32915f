# `cfgan train` end to end on the synthetic demo: run records, repeatability, both protocols,
# refusal to overwrite, numerical failure, help.
. "$(dirname "$0")/../lib.sh"
DEMO=$ROOT/configs/demo.yaml
short=(--set train.epochs=8 --set eval.every=4)
strip_seconds() { sed 's/"seconds": [0-9.]*, //' "$1"; }

"$CFGAN" train "$DEMO" "${short[@]}" --out "$TMP/a" > "$TMP/a.log" 2>&1; status=$?
if [ $status -eq 0 ] && [ "$(wc -l < "$TMP/a/metrics.jsonl")" -eq 2 ] && [ -s "$TMP/a/final.json" ] && [ -s "$TMP/a/config.yaml" ]
then ok "train: demo writes metrics.jsonl (one line per evaluation), final.json and config.yaml"
else not_ok "train: demo run records" "status $status: $(tail -3 "$TMP/a.log")"; fi

# a checkpoint resumes only under the same config hash; keys added later are left out of it at their
# defaults, so the checkpoints of earlier versions still resume. The demo's hash with these options
# has been a5e0e1c53ce50d3e since before train.batch_strata existed; a change that alters it on purpose
# must say in the README that older checkpoints no longer resume.
h=$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["config_hash"])' "$TMP/a/final.json" 2>/dev/null)
[ "$h" = a5e0e1c53ce50d3e ] && ok "train: config hashes are stable across versions (older checkpoints resume)" \
  || not_ok "train: config hash changed" "demo hash $h, was a5e0e1c53ce50d3e"

if /usr/bin/python3 - "$TMP/a/metrics.jsonl" "$TMP/a/final.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
need = ["epoch", "split", "d_loss", "g_loss", "seconds"] + [f"{m}@{k}" for k in (5, 10, 20) for m in ("P", "R", "NDCG", "MRR")]
assert all(all(k in r for k in need) for r in rows), "missing keys"
assert [r["epoch"] for r in rows] == [4, 8] and all(r["split"] == "test" for r in rows)
f = json.load(open(sys.argv[2]))
assert f["protocol"] == "reference" and f["reported"]["epoch"] == 8 and f["reported"]["P@5"] == rows[-1]["P@5"]
for k in ("config_hash", "dataset_fingerprint", "git", "blas", "ranks", "wall_seconds"): assert k in f, k
PY
then ok "train: metrics.jsonl and final.json carry every field; reference protocol reports the last epoch"
else not_ok "train: record contents" "see $TMP/a"; fi

grep -q "^epoch 8/8 .* ETA" "$TMP/a.log" && ok "train: one progress line per evaluation with ETA" \
  || not_ok "train: progress lines" "$(head -3 "$TMP/a.log")"

"$CFGAN" train "$DEMO" "${short[@]}" --out "$TMP/b" > /dev/null 2>&1
"$CFGAN" train "$DEMO" "${short[@]}" --set train.seed=2 --out "$TMP/c" > /dev/null 2>&1
if [ "$(strip_seconds "$TMP/a/metrics.jsonl")" = "$(strip_seconds "$TMP/b/metrics.jsonl")" ] && \
   [ "$(strip_seconds "$TMP/a/metrics.jsonl")" != "$(strip_seconds "$TMP/c/metrics.jsonl")" ]
then ok "train: same seed, same metrics.jsonl (all but wall-clock seconds); another seed differs"
else not_ok "train: determinism" "runs a/b differ or seed has no effect"; fi

"$CFGAN" train "$DEMO" "${short[@]}" --set run.negative_cache_mb=0 --out "$TMP/nocache" > /dev/null 2>&1
if [ "$(strip_seconds "$TMP/a/metrics.jsonl")" = "$(strip_seconds "$TMP/nocache/metrics.jsonl")" ]
then ok "train: negative sets kept per outer iteration give the same run as drawing them at every step"
else not_ok "train: negative cache" "metrics differ with run.negative_cache_mb=0"; fi

"$CFGAN" train "$DEMO" "${short[@]}" --set run.g_cache_mb=0 --out "$TMP/nogcache" > /dev/null 2>&1
if [ "$(strip_seconds "$TMP/a/metrics.jsonl")" = "$(strip_seconds "$TMP/nogcache/metrics.jsonl")" ]
then ok "train: G outputs computed once per D phase give the same run as computing them per batch (and item-mode evaluation offering items by popularity, as the cache allows, the same lists as in row order)"
else not_ok "train: G output cache" "metrics differ with run.g_cache_mb=0"; fi
# with a wider G and OpenBLAS's generic kernels (whose blocking differs with the number of rows) too:
# G's product goes to the own kernel in both cases, which picks it by the weights alone
if grep -q avx512f /proc/cpuinfo; then
  wide=(--set model.g_hidden=[1000])
  CFGAN_BLAS_AUTOFIX=0 "$CFGAN" train "$DEMO" "${short[@]}" "${wide[@]}" --out "$TMP/gw" > /dev/null 2>&1
  CFGAN_BLAS_AUTOFIX=0 "$CFGAN" train "$DEMO" "${short[@]}" "${wide[@]}" --set run.g_cache_mb=0 --out "$TMP/gw0" > /dev/null 2>&1
  if [ -s "$TMP/gw/metrics.jsonl" ] && [ "$(strip_seconds "$TMP/gw/metrics.jsonl")" = "$(strip_seconds "$TMP/gw0/metrics.jsonl")" ]
  then ok "train: the G output cache gives the same run with a 1000-wide G on generic OpenBLAS kernels"
  else not_ok "train: G output cache, wide G" "metrics differ with run.g_cache_mb=0"; fi
fi

"$CFGAN" train "$TMP/a/config.yaml" --out "$TMP/d" > /dev/null 2>&1
if [ "$(strip_seconds "$TMP/a/metrics.jsonl")" = "$(strip_seconds "$TMP/d/metrics.jsonl")" ]
then ok "train: the resolved config.yaml reproduces the run"; else not_ok "train: config echo rerun" "metrics differ"; fi

"$CFGAN" train "$DEMO" --set train.epochs=40 --set eval.every=2 --set data.validation=0.15 --set eval.patience=3 \
  --out "$TMP/h" > "$TMP/h.log" 2>&1
if /usr/bin/python3 - "$TMP/h/metrics.jsonl" "$TMP/h/final.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
valid = [r for r in rows if r["split"] == "valid"]; test = [r for r in rows if r["split"] == "test"]
f = json.load(open(sys.argv[2]))
best = max(valid, key=lambda r: r["NDCG@20"])
assert len(test) == 1 and test[0]["epoch"] == best["epoch"], "test line is not at the best validation epoch"
assert f["protocol"] == "honest" and f["reported"]["epoch"] == best["epoch"] and f["selected_on_validation"]["NDCG@20"] == best["NDCG@20"]
# patience 3: stopped at most 3 evaluations after the best one, or ran to the end
assert f["epochs_run"] == 40 or (f["stopped_early"] and valid[-1]["epoch"] - best["epoch"] == 3 * 2)
PY
then ok "train: honest protocol selects the epoch on validation, early-stops, reports that epoch's test metrics"
else not_ok "train: honest protocol" "$(tail -3 "$TMP/h.log")"; fi

expect_input_error "train: refuses to overwrite an existing run" "^$TMP/a: already holds a run" \
  "$CFGAN" train "$DEMO" --out "$TMP/a"
expect_input_error "train: bad --set fails before any output" "^--set train.epochs=0: 'train.epochs' = 0 is out of range" \
  "$CFGAN" train "$DEMO" --set train.epochs=0 --out "$TMP/never"
[ ! -e "$TMP/never" ] && ok "train: nothing written on bad input" || not_ok "train: nothing written on bad input" "$TMP/never exists"

"$CFGAN" train "$DEMO" "${short[@]}" --set train.optimizer=sgd --set train.d_lr=100 --set train.g_lr=100 --out "$TMP/nan" > /dev/null 2> "$TMP/nan.err"; status=$?
if [ $status -eq 3 ] && grep -q "numerical failure: .* is not finite at epoch [0-9]*, step [0-9]*" "$TMP/nan.err"
then ok "train: a non-finite loss stops training with exit status 3 naming epoch and step"
else not_ok "train: numerical failure" "status $status: $(cat "$TMP/nan.err")"; fi

"$CFGAN" train --help > "$TMP/help" 2>&1 && grep -q "model.scheme" "$TMP/help" && grep -q -- "--resume" "$TMP/help" \
  && ok "train: --help lists the options and every config key" || not_ok "train: --help" "$(head -3 "$TMP/help")"

# balanced batches need classes of a few rows at least, or the batch order would hardly be shuffled
expect_input_error "train: train.batch_strata larger than the data allows is refused before anything is written" \
  "demo.yaml: train.batch_strata = 101 needs at least 4 rows per class but the data has 400 rows: use at most 100$" \
  "$CFGAN" train "$DEMO" --set train.batch_strata=101 --out "$TMP/strata"
if [ -e "$TMP/strata" ]; then not_ok "train: a refused batch_strata left $TMP/strata behind"; fi
