# The analysis tools on small runs: scaling series and its plots, learning curves, the results
# table and the communication model. Each check looks at what the tool wrote, not just its status.
. "$(dirname "$0")/../lib.sh"
export CFGAN_BIN=$CFGAN
DEMO=$ROOT/configs/demo.yaml
PY=/usr/bin/python3
is_png() { [ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }

# scaling: strong and weak at np = 1, 2 on the demo, a few seconds
"$PY" "$ROOT/tools/scaling.py" --config "$DEMO" --max-np 2 --weak --epochs 2 --weak-users 300 --weak-items 200 \
  --weak-interactions 6000 --out "$TMP/sc" > "$TMP/sc.log" 2>&1
if [ -f "$TMP/sc/scaling.csv" ] && "$PY" - "$TMP/sc" <<'PY'
import csv, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(f"{d}/scaling.csv")))
assert [(r["kind"], r["np"]) for r in rows] == [("strong", "1"), ("strong", "2"), ("weak", "1"), ("weak", "2")], rows
for r in rows:
    t = float(r["seconds_per_epoch"])
    parts = [float(r[k]) for k in ("compute", "allreduce", "evaluation", "idle")]
    assert t > 0 and all(p >= 0 for p in parts) and abs(sum(parts) - t) < 1e-6 + 0.02 * t, r
    assert r["oversubscribed"] == "0"
assert float(rows[0]["speedup"]) == 1.0 and float(rows[0]["allreduce"]) == 0 and float(rows[1]["allreduce"]) > 0
# the weak runs grow the rows with np: user mode, twice the users and twice the global batch at np=2
cfg = open(f"{d}/weak-np2/config.yaml").read()
assert "mode: user" in cfg and "g_batch: 64" in cfg and "d_batch: 128" in cfg, "weak np=2 config"
import json
u1 = json.load(open(f"{d}/weak-np1/final.json"))["users"]
u2 = json.load(open(f"{d}/weak-np2/final.json"))["users"]
assert u2 > 1.8 * u1, (u1, u2)
PY
then ok "tools: scaling.py writes strong and weak series whose phases add up to the epoch time"
else not_ok "tools: scaling.py" "$(tail -5 "$TMP/sc.log")"; fi

if "$PY" "$ROOT/tools/plot_scaling.py" "$TMP/sc/scaling.csv" > "$TMP/plot.log" 2>&1 &&
   is_png "$TMP/sc/scaling-speedup.png" && is_png "$TMP/sc/scaling-breakdown.png"
then ok "tools: plot_scaling.py draws the speedup and breakdown PNGs"
else not_ok "tools: plot_scaling.py" "$(tail -3 "$TMP/plot.log")"; fi

# learning curves and the results table on two seeds of a short demo run
for s in 1 2; do
  "$CFGAN" train "$DEMO" --set train.epochs=8 --set eval.every=4 --set train.seed=$s --out "$TMP/r$s" > /dev/null 2>&1
done
if "$PY" "$ROOT/tools/plot_curve.py" "$TMP/r1" "$TMP/r2" --out "$TMP/curve.png" > "$TMP/curve.log" 2>&1 && is_png "$TMP/curve.png"
then ok "tools: plot_curve.py draws learning curves from metrics.jsonl"
else not_ok "tools: plot_curve.py" "$(tail -3 "$TMP/curve.log")"; fi

"$PY" "$ROOT/tools/results-table.py" "$TMP/r1" "$TMP/r2" > "$TMP/table.md" 2>&1
expect=$("$PY" -c '
import json, statistics, sys
v = [json.load(open(f"{d}/final.json"))["reported"]["P@5"] for d in sys.argv[1:]]
print(f"{statistics.mean(v):.4f} ± {statistics.stdev(v):.4f}")' "$TMP/r1" "$TMP/r2")
row=$(grep 'demo.yaml' "$TMP/table.md")
if [ -n "$row" ] && [ "$(echo "$row" | cut -d'|' -f4 | tr -d ' ')" = 2 ] && [ "$(echo "$row" | cut -d'|' -f6 | sed 's/^ *//;s/ *$//')" = "$expect" ]
then ok "tools: results-table.py gives mean ± std over seeds"
else not_ok "tools: results-table.py" "expected P@5 $expect in: $(cat "$TMP/table.md")"; fi
# a run with balanced batches is another experiment: its own row, labelled
"$CFGAN" train "$DEMO" --set train.epochs=8 --set eval.every=4 --set train.batch_strata=24 --out "$TMP/r3" > /dev/null 2>&1
"$PY" "$ROOT/tools/results-table.py" "$TMP/r1" "$TMP/r2" "$TMP/r3" > "$TMP/table3.md" 2>&1
if [ "$(grep -c 'demo.yaml' "$TMP/table3.md")" = 2 ] && grep 'batch_strata=24' "$TMP/table3.md" | cut -d'|' -f4 | grep -qx ' 1 ' &&
   grep -v 'batch_strata' "$TMP/table3.md" | grep 'demo.yaml' | cut -d'|' -f4 | grep -qx ' 2 '
then ok "tools: results-table.py keeps runs with balanced batches (train.batch_strata) in their own row"
else not_ok "tools: results-table.py with batch_strata" "$(cat "$TMP/table3.md")"; fi
if ! "$PY" "$ROOT/tools/results-table.py" "$TMP/none" > /dev/null 2> "$TMP/table.err" && grep -q "$TMP/none/final.json" "$TMP/table.err"
then ok "tools: results-table.py names a missing run"
else not_ok "tools: results-table.py missing run" "$(cat "$TMP/table.err")"; fi

# communication model: its parameter counts match the layer sizes of the run (counted here), and it
# predicts an efficiency per rank count
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

# make bench's driver on the demo (2 outer iterations, no PyTorch): every setting and phase in the
# CSV, the phases within the total, GEMM fractions in (0, 3], the side-by-side ratios recomputed
"$PY" "$ROOT/tools/bench.py" --only demo --outer 2 --no-torch --out "$TMP/bench" > "$TMP/bench.log" 2>&1
if [ -f "$TMP/bench/bench.csv" ] && grep -q "np2-t1  products alone: " "$TMP/bench.log" && "$PY" - "$TMP/bench" <<'PY'
import csv, json, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(f"{d}/bench.csv")))
settings = sorted({r["setting"] for r in rows})
assert len(settings) == 6 and {"np2-ring", "np2-t1", "np2-bal", "np2-openblas"} <= set(settings), settings
for s in settings:
    ph = {r["phase"]: r for r in rows if r["setting"] == s}
    total = float(ph["total"]["seconds_max"])
    parts = sum(float(r["seconds_avg"]) for p, r in ph.items() if p != "total")
    assert 0 < parts <= total * 1.05, (s, parts, total)
    # a sanity range, not a performance check: the demo's phases last ~10 ms here (one CI run saw
    # 1.88 for np1-t2's G forward against two-thread sgemm), and the own kernels beat sgemm by up to
    # 1.9x at these shapes; a units error would be off by orders of magnitude
    for p in ("G forward", "G backward"):
        f = float(ph[p]["fraction_of_sgemm_rate"])
        assert 0 < f <= 3, (s, p, f)
        f = float(ph[p]["fraction_of_kernel_rate"])  # the trainer's own kernels where it uses them
        assert 0 < f <= 3, (s, p, f)
    if s.startswith("np2"):
        assert float(ph["allreduce"]["seconds_avg"]) > 0, s
sm = json.load(open(f"{d}/summary.json"))["demo"]
st = sm["settings"]
assert abs(sm["speedup_node_shared_vs_ring"] - st["np2-ring"]["seconds_per_outer"] / st["np2-t1"]["seconds_per_outer"]) < 1e-9
assert abs(sm["speedup_np2_balanced_vs_np1_one_thread"] - st["np1-t1"]["seconds_per_outer"] / st["np2-bal"]["seconds_per_outer"]) < 1e-9
assert abs(sm["speedup_own_kernels_vs_openblas"] - st["np2-openblas"]["seconds_per_outer"] / st["np2-t1"]["seconds_per_outer"]) < 1e-9
# the balanced setting really ran with another batch order: its metrics differ from np2-t1's
strip = lambda m: {k: v for k, v in m.items() if k != "seconds"}
assert strip(st["np2-bal"]["last"]) != strip(st["np2-t1"]["last"]), "np2-bal ran the reference batch order"
# G split by hidden units (the default) sums partial outputs: the losses may differ in the last
# printed digit, the rankings not
rank = lambda m: {k: v for k, v in m.items() if k not in ("seconds", "d_loss", "g_loss", "d_real", "d_fake")}
assert rank(st["np2-ring"]["last"]) == rank(st["np2-t1"]["last"]), "the ring changed the rankings at np=2"
# the floors: the products' time at the measured rates, summed over the phases, per outer iteration
for s in ("np1-t1", "np2-t1"):
    f = sm["floors"][s]
    ph = [r for r in rows if r["setting"] == s and r["phase"] != "total"]
    want = sum(float(r["gemm_seconds_at_sgemm_rate"]) for r in ph) / sm["outer"]
    assert 0 < f["gemm_seconds_per_outer_at_sgemm_rate"] == want, (s, f, want)
    assert 0 < f["gemm_seconds_per_outer_at_kernel_rate"] < f["seconds_per_outer"], (s, f)
PY
then ok "tools: bench.py reports every setting with phases inside the total and the side-by-side ratios"
  tables=$("$PY" "$ROOT/tools/bench.py" --tables "$TMP/bench")
  total=$(awk -F, '$1 == "demo" && $2 == "np2-t1" && $5 == "total" {printf "%.3f", $8}' "$TMP/bench/bench.csv")
  if echo "$tables" | grep -q "^| \*\*total\*\* | .*\*\*$total\*\*" && [ "$(echo "$tables" | grep -c '^| ')" -ge 10 ] &&
     echo "$tables" | grep -q "np2-t1  products alone: .* s per outer iteration at OpenBLAS's sgemm rate"
  then ok "tools: bench.py --tables prints the README's phase table and the products' floor from bench.csv"
  else not_ok "tools: bench.py --tables" "total $total or the floor line not in: $(echo "$tables" | grep 'total\|alone')"; fi
else not_ok "tools: bench.py" "$(tail -5 "$TMP/bench.log")"; fi
