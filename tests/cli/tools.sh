# The analysis tools on tiny runs: the scaling series and its plots, learning curves, the results
# table, the communication model and make bench's driver. Each check looks at what the tool wrote.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tools/mpi-env.sh" 2
export CFGAN_BIN=$CFGAN
PY=/usr/bin/python3
is_png() { [ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }
tiny=(--set data.synthetic.users=300 --set data.synthetic.items=120 --set data.synthetic.interactions=6000)

# scaling: strong and weak at np = 1, 2 on a tiny demo; the CSV carries its provenance; np = 1 has no
# exchange and np = 2 one (measured, not derived); the weak runs grow the rows and the batches with np
"$PY" "$ROOT/tools/scaling.py" --config "$DEMO" --max-np 2 --weak --epochs 2 --weak-users 300 --weak-items 120 \
  --weak-interactions 6000 --out "$TMP/sc" "${tiny[@]}" > "$TMP/sc.log" 2>&1
if [ -f "$TMP/sc/scaling.csv" ] && "$PY" - "$TMP/sc" <<'PY'
import csv, datetime, json, re, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(f"{d}/scaling.csv")))
assert [(r["kind"], r["np"]) for r in rows] == [("strong", "1"), ("strong", "2"), ("weak", "1"), ("weak", "2")], rows
for r in rows:
    assert float(r["seconds_per_epoch"]) > 0 and r["oversubscribed"] == "0", r
    assert re.fullmatch("[0-9a-f]{12}|unknown", r["commit"]) and r["date"] == datetime.date.today().isoformat() and int(r["cores"]) >= 2, r
    assert r["host"] and r["cpu"] and r["dataset"] in ("demo", "synthetic (weak)"), r
    assert all(len(r[k].split(".")[-1]) <= 4 for k in ("compute", "exchange", "speedup")), r  # rounded
assert float(rows[0]["speedup"]) == 1.0 and float(rows[0]["exchange"]) == 0 and float(rows[1]["exchange"]) > 0
cfg = open(f"{d}/weak-np2/config.yaml").read()
assert "mode: user" in cfg and "g_batch: 64" in cfg and "d_batch: 128" in cfg, "weak np=2 config"
u1, u2 = (json.load(open(f"{d}/weak-np{n}/final.json"))["users"] for n in (1, 2))
assert u2 > 1.8 * u1, (u1, u2)
PY
then ok "tools: scaling.py writes strong and weak series with their provenance (commit, host, cores, date)"
else not_ok "tools: scaling.py" "$(tail -5 "$TMP/sc.log")"; fi

if "$PY" "$ROOT/tools/plot_scaling.py" "$TMP/sc/scaling.csv" > "$TMP/plot.log" 2>&1 &&
   is_png "$TMP/sc/scaling-speedup.png" && is_png "$TMP/sc/scaling-breakdown.png"
then ok "tools: plot_scaling.py draws the speedup and breakdown PNGs"
else not_ok "tools: plot_scaling.py" "$(tail -3 "$TMP/plot.log")"; fi

# learning curves and the results table on two seeds of a tiny demo
for s in 1 2; do train 1 "r$s" "$DEMO" "${tiny[@]}" --set train.epochs=4 --set eval.every=2 --set train.seed=$s; done
if "$PY" "$ROOT/tools/plot_curve.py" "$TMP/r1" "$TMP/r2" --out "$TMP/curve.png" > "$TMP/curve.log" 2>&1 && is_png "$TMP/curve.png"
then ok "tools: plot_curve.py draws learning curves from metrics.jsonl"
else not_ok "tools: plot_curve.py" "$(tail -3 "$TMP/curve.log")"; fi

"$PY" "$ROOT/tools/results-table.py" "$TMP/r1" "$TMP/r2" > "$TMP/table.md" 2>&1
expect=$("$PY" -c '
import json, statistics, sys
v = [json.load(open(f"{d}/final.json"))["reported"]["P@5"] for d in sys.argv[1:]]
print(f"{statistics.mean(v):.4f} ± {statistics.stdev(v):.4f}")' "$TMP/r1" "$TMP/r2")
row=$(grep 'demo.yaml' "$TMP/table.md")
if finished r1 r2 && [ "$(echo "$row" | cut -d'|' -f4 | tr -d ' ')" = 2 ] && [ "$(echo "$row" | cut -d'|' -f6 | sed 's/^ *//;s/ *$//')" = "$expect" ]
then ok "tools: results-table.py gives mean ± std over seeds"
else not_ok "tools: results-table.py" "expected P@5 $expect in: $(cat "$TMP/table.md")"; fi
# a run with balanced batches is another experiment: its own row, labelled
train 1 r3 "$DEMO" "${tiny[@]}" --set train.epochs=4 --set eval.every=2 --set train.batch_strata=24
"$PY" "$ROOT/tools/results-table.py" "$TMP/r1" "$TMP/r2" "$TMP/r3" > "$TMP/table3.md" 2>&1
if [ "$(grep -c 'demo.yaml' "$TMP/table3.md")" = 2 ] && grep 'batch_strata=24' "$TMP/table3.md" | cut -d'|' -f4 | grep -qx ' 1 ' &&
   grep -v 'batch_strata' "$TMP/table3.md" | grep 'demo.yaml' | cut -d'|' -f4 | grep -qx ' 2 '
then ok "tools: results-table.py keeps runs with balanced batches (train.batch_strata) in their own row"
else not_ok "tools: results-table.py with batch_strata" "$(cat "$TMP/table3.md")"; fi
if ! "$PY" "$ROOT/tools/results-table.py" "$TMP/none" > /dev/null 2> "$TMP/table.err" && grep -q "$TMP/none/final.json" "$TMP/table.err"
then ok "tools: results-table.py names a missing run"
else not_ok "tools: results-table.py missing run" "$(cat "$TMP/table.err")"; fi

# communication model: its parameter counts match the layer sizes of the run (counted here), and it
# predicts an efficiency per rank count, 100% at np = 1
if "$PY" "$ROOT/tools/comm_model.py" "$DEMO" --run "$TMP/sc/strong-np1" > "$TMP/comm.log" 2>&1 &&
   "$PY" - "$TMP/sc/strong-np1" "$TMP/comm.log" <<'PY'
import json, re, sys
d, text = sys.argv[1], open(sys.argv[2]).read()
f = json.load(open(f"{d}/final.json"))
cfg = open(f"{d}/config.yaml").read()
hidden = lambda k: [int(x) for x in re.search(k + r": \[([0-9, ]+)\]", cfg).group(1).split(",")]
cols = f["users"] if "mode: item" in cfg else f["items"]
def dense(dims): return sum(a * b + b for a, b in zip(dims, dims[1:]))
g, dd = dense([cols] + hidden("g_hidden") + [cols]), dense([2 * cols] + hidden("d_hidden") + [1])
assert f"G: {g:,} parameters" in text and f"D: {dd:,} parameters" in text, (g, dd, text)
rows = re.findall(r"^\| (\d+) \|.*\| ([0-9.]+)% \|$", text, re.M)
assert [r[0] for r in rows] == ["1", "2", "8", "64", "512"] and float(rows[0][1]) == 100, rows
assert all(0 < float(e) <= 100 for _, e in rows), rows
PY
then ok "tools: comm_model.py counts the run's parameters and predicts an efficiency per rank count"
else not_ok "tools: comm_model.py" "$(tail -5 "$TMP/comm.log")"; fi

# make bench's driver on the demo (one round, one outer iteration, the same binary as a baseline):
# every setting ran at the rank count it names, the CSV and summary agree, --tables prints them (a
# header and eleven phases)
"$PY" "$ROOT/tools/bench.py" --only demo --rounds 1 --outer 1 --no-torch --baseline "$CFGAN" --out "$TMP/bench" \
  > "$TMP/bench.log" 2>&1
if [ -f "$TMP/bench/summary.json" ] && "$PY" - "$TMP/bench" <<'PY'
import csv, json, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(f"{d}/bench.csv")))
s = json.load(open(f"{d}/summary.json"))["workloads"]["demo"]
st = s["settings"]
assert list(st) == ["np1", "np2", "np2-baseline"], list(st)
assert [st[k]["ranks"] for k in st] == [1, 2, 2], [st[k]["ranks"] for k in st]
for label, v in st.items():
    ph = {r["phase"]: float(r["seconds_max"]) for r in rows if r["setting"] == label}
    assert abs(ph["total"] - v["seconds_per_outer"]) < 1e-4, (label, ph["total"], v)  # one outer iteration
    assert (ph["exchange"] > 0) == label.startswith("np2"), (label, ph["exchange"])
# the same run at np = 1 and 2: the same rankings (4 decimals)
assert len({round(v["P@5"], 4) for v in st.values()}) == 1, st
assert 0 < s["products_at_sgemm_rate_np1"] < st["np1"]["seconds_per_outer"], s
PY
then ok "tools: bench.py runs every setting at the rank count it names and records their phases"
  tables=$("$PY" "$ROOT/tools/bench.py" --tables "$TMP/bench")
  total=$(awk -F, '$1 == "demo" && $2 == "np2" && $4 == "total" {printf "%.3f", $6}' "$TMP/bench/bench.csv")
  if echo "$tables" | grep -q "^| \*\*total\*\* | .* | \*\*$total\*\* | .*|$" && [ "$(echo "$tables" | grep -c '^| ')" -eq 12 ]
  then ok "tools: bench.py --tables prints the phase table from bench.csv"
  else not_ok "tools: bench.py --tables" "total $total not in: $(echo "$tables" | grep total)"; fi
else not_ok "tools: bench.py" "$(tail -5 "$TMP/bench.log")"; fi

# compare.py's statistics on cases with a known answer: differences 1..5 (all positive) give the exact
# two-sided Wilcoxon p = 2 / 2^5, and the t-test t = 3 / (sqrt(2.5) / sqrt(5)) at 4 degrees of
# freedom, whose two-sided p has the closed form 1 - t (t^2 + 6) / (t^2 + 4)^1.5; Holm on
# (0.01, 0.04, 0.03) gives (0.03, 0.06, 0.06)
if "$PY" - "$ROOT/tools" <<'PY'
import sys; sys.path.insert(0, sys.argv[1])
from importlib import import_module
c = import_module("compare")
import math
mean, w, t = c.paired_tests([0, 0, 0, 0, 0], [1, 2, 3, 4, 5])
tt = 3 / (math.sqrt(2.5) / math.sqrt(5))
assert mean == 3 and abs(w - 0.0625) < 1e-12 and abs(t - (1 - tt * (tt * tt + 6) / (tt * tt + 4) ** 1.5)) < 1e-9, (mean, w, t)
assert max(abs(x - y) for x, y in zip(c.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])) < 1e-12
assert c.paired_tests([1, 2], [1, 2])[1:] == (1.0, 1.0)
PY
then ok "tools: compare.py's Wilcoxon, t-test and Holm correction give the known answers"
else not_ok "tools: compare.py statistics" "see above"; fi

# compare.py on the demo: two CFGAN seeds (averaged per user) against the three baselines and the
# ablation without D, with p-values and marks; a run on other data is refused
for s in 1 2; do train 1 "c$s" "$DEMO" "${tiny[@]}" --set train.epochs=4 --set eval.every=4 --set train.seed=$s; done
train 1 abl "$DEMO" "${tiny[@]}" --set train.epochs=4 --set eval.every=4 --set model.adversarial=false
"$PY" "$ROOT/tools/compare.py" "$DEMO" --cfgan-run "$TMP/c1" --cfgan-run "$TMP/c2" --system "without D=$TMP/abl" \
  --np 1 --out "$TMP/cmp" "${tiny[@]}" > "$TMP/cmp.log" 2>&1
if [ -s "$TMP/cmp/compare.md" ] && "$PY" - "$TMP/cmp" <<'PY'
import json, sys
d = sys.argv[1]
md, js = open(f"{d}/compare.md").read(), json.load(open(f"{d}/compare.json"))
assert "averaged over the seeds first" in md and md.count("| EASE^R |") == 9 and md.count("| without D |") == 9, md
r = json.load(open(f"{d}/ease/final.json"))["reported"]  # the beyond-accuracy row: EASE^R's own numbers
assert "| EASE^R | " + " | ".join(f"{r[m]:.4f}" for m in ("coverage@20", "gini@20", "novelty@20", "popularity@20")) + " |" in md, md
t = js["tests"]["NDCG@20"]
assert set(t) == {"TopPop", "ItemKNN (cosine)", "EASE^R", "without D"}, t
for r in t.values():
    assert 0 <= r["wilcoxon"] <= r["wilcoxon_holm"] <= 1 and 0 <= r["t"] <= r["t_holm"] <= 1, r
    assert r["significant"] == (r["wilcoxon_holm"] < 0.05 and r["t_holm"] < 0.05)
    assert ("†" in md) or not r["significant"]
PY
then ok "tools: compare.py tests every baseline and the ablation against CFGAN over the users, marks the significant differences and shows what each recommends"
else not_ok "tools: compare.py" "$(tail -5 "$TMP/cmp.log")"; fi
train 1 other "$DEMO" "${tiny[@]}" --set train.epochs=4 --set data.seed=99
if ! "$PY" "$ROOT/tools/compare.py" "$DEMO" --cfgan-run "$TMP/other" --baseline-run "$TMP/cmp/ease" --out "$TMP/cmp2" \
     > /dev/null 2> "$TMP/cmp2.err" && grep -q "different data (dataset_fingerprint differs)" "$TMP/cmp2.err"
then ok "tools: compare.py refuses runs on different data"
else not_ok "tools: compare.py fingerprint" "$(cat "$TMP/cmp2.err")"; fi

# tune.py: two random trials on the tiny demo (honest protocol, early stopping); a second call runs
# nothing again; best.yaml reproduces the best trial's test metrics
tune=("$DEMO" --out "$TMP/tune" --trials 2 --np 1 --max-epochs 6 --every 2 --patience 2 "${tiny[@]}")
"$PY" "$ROOT/tools/tune.py" "${tune[@]}" > "$TMP/tune.log" 2>&1
stamp=$(stat -c %Y "$TMP/tune/trial-0/final.json" 2>/dev/null)
sleep 1; "$PY" "$ROOT/tools/tune.py" "${tune[@]}" > "$TMP/tune2.log" 2>&1
train 1 tuned "$TMP/tune/best.yaml"
if [ -s "$TMP/tune/trials.csv" ] && [ "$(stat -c %Y "$TMP/tune/trial-0/final.json")" = "$stamp" ] && "$PY" - "$TMP" <<'PY'
import csv, json, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(f"{d}/tune/trials.csv")))
assert [r["trial"] for r in rows] == ["0", "1"] and all(r["status"] == "ok" for r in rows), rows
assert rows[0]["train.g_lr"] != rows[1]["train.g_lr"], "the trials drew the same values"
best = max(rows, key=lambda r: float(r["valid_ndcg20"]))
f = json.load(open(f"{d}/tuned/final.json"))
assert f["protocol"] == "honest" and abs(f["reported"]["NDCG@20"] - float(best["test_NDCG@20"])) < 1e-9, (f["reported"], best)
PY
then ok "tools: tune.py runs seeded trials, resumes without rerunning them, and best.yaml reproduces the best trial"
else not_ok "tools: tune.py" "$(tail -5 "$TMP/tune.log" "$TMP/tune2.log" "$TMP/tuned.log")"; fi
# --trial K runs trial K alone (a SLURM array task) and leaves the table to the collecting call; a
# trial whose loss is not finite is recorded as failed and not run again
"$PY" "$ROOT/tools/tune.py" "$DEMO" --out "$TMP/tune1" --trials 2 --trial 1 --np 1 --max-epochs 6 --every 2 "${tiny[@]}" \
  > "$TMP/tune1.log" 2>&1
[ -s "$TMP/tune1/trial-1/final.json" ] && [ ! -e "$TMP/tune1/trial-0" ] && [ ! -e "$TMP/tune1/trials.csv" ] \
  && ok "tools: tune.py --trial K runs that trial alone and writes no table" || not_ok "tools: tune.py --trial" "$(tail -3 "$TMP/tune1.log")"
fail=("$DEMO" --out "$TMP/tunef" --trials 1 --np 1 --max-epochs 6 --every 2 "${tiny[@]}")
CFGAN_DEBUG_FAIL_AT_STEP=1 "$PY" "$ROOT/tools/tune.py" "${fail[@]}" > "$TMP/tunef.log" 2>&1
stamp=$(stat -c %Y "$TMP/tunef/trial-0/failed.json" 2>/dev/null)
sleep 1; "$PY" "$ROOT/tools/tune.py" "${fail[@]}" > "$TMP/tunef2.log" 2>&1
if [ -n "$stamp" ] && [ "$(stat -c %Y "$TMP/tunef/trial-0/failed.json")" = "$stamp" ] && [ ! -e "$TMP/tunef/trial-0/final.json" ] \
   && grep -q ",failed (non-finite loss)" "$TMP/tunef/trials.csv"; then
  ok "tools: tune.py records a trial whose loss is not finite as failed and does not run it again"
else not_ok "tools: tune.py failed trial" "$(tail -3 "$TMP/tunef.log" "$TMP/tunef2.log")"; fi

# the shell tools a user runs: --help prints their usage, an unknown option is refused before any work
bad=
for t in download-data prepare-data reproduce study; do
  h=$(bash "$ROOT/tools/$t.sh" --help 2>&1) && [[ $h == *"Usage: tools/$t.sh"* ]] || bad+=" $t --help"
  e=$(cd "$TMP" && bash "$ROOT/tools/$t.sh" --bogus 2>&1); st=$?
  [ $st = 2 ] && [[ $e == *"unknown option '--bogus'"* ]] && [ ! -e "$TMP/--bogus" ] || bad+=" $t --bogus (status $st)"
done
[ -z "$bad" ] && ok "tools: the shell tools print their usage with --help and refuse unknown options" \
  || not_ok "tools: shell tools' options" "$bad"
