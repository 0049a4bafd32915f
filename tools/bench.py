#!/usr/bin/python3
"""make bench: cfgan's speed on fixed workloads, every setting side by side in one run.

usage: tools/bench.py [--out DIR] [--only ml100k,ml1m,demo] [--rounds N] [--outer N] [--baseline BIN]
                      [--no-torch]
       tools/bench.py --tables DIR   (the Markdown tables of docs/performance.md from DIR/bench.csv)

Settings per workload: np1 (one rank, one BLAS thread), np2 (two ranks, one BLAS thread each); with
--baseline BIN also np2-baseline (another cfgan binary, e.g. an earlier commit built in a git
worktree, with its default settings at np = 2); and on ML100K
the PyTorch reference (tools/torch_cfgan.py, one process with a thread per core). The settings run in
turn, round after round (--rounds, default 3), so that a slow spell of a shared machine hits them
alike; each setting's median round is reported, with its per-phase seconds (slowest rank), GFLOP/s,
and, for np1, the share of its time the products would take at OpenBLAS's sgemm rate at the same
shapes (`cfgan bench-gemm`: what bounds the run). Writes DIR/bench.csv (one row per workload,
setting, round and phase) and DIR/summary.json (medians and the ratios), and prints the tables.
"""
import argparse
import csv
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("CFGAN_BIN") or os.path.join(ROOT, "build", "cfgan")
CORES = os.cpu_count() or 2

# name: (config, epochs per outer iteration, outer iterations measured, needs data, outer iterations
#        of the full reference run, eval.every (None: the config's))
WORKLOADS = {
    "ml100k": ("configs/ml100k.yaml", 4, 10, True, 250, 1),  # evaluated after every G pass, as the authors do
    "ml1m": ("configs/ml1m.yaml", 1, 20, True, 1500, None),
    "demo": ("configs/demo.yaml", 2, 15, False, 30, 1),
}
PHASES = ["sampling", "G forward", "G backward", "D forward", "D backward", "exchange", "optimizer", "scoring",
          "evaluation", "checkpoint", "total"]
GEMM_PHASES = ["G forward", "G backward", "D forward", "D backward", "scoring"]


def settings(baseline):
    """(label, ranks, binary)"""
    s = [("np1", 1, BIN), ("np2", 2, BIN)]
    return s + ([("np2-baseline", 2, baseline)] if baseline else [])


def mpi_env():
    env = dict(os.environ)
    if os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    # ranks fit the cores: no yielding (it makes every collective ~1000x slower), and Open MPI's
    # default single-copy transfer
    env.pop("OMPI_MCA_mpi_yield_when_idle", None)
    env.pop("OMPI_MCA_btl_vader_single_copy_mechanism", None)
    env.update(OMPI_MCA_rmaps_base_oversubscribe="1", OPENBLAS_NUM_THREADS="1")
    return env


def run_cfgan(name, label, np_, binary, outer, out_dir, data_root):
    cfg, epo, _, _, _, every = WORKLOADS[name]
    run_dir = os.path.join(out_dir, f"{name}-{label}")
    subprocess.run(["rm", "-rf", run_dir], check=True)
    cmd = [binary, "train", os.path.join(ROOT, cfg), "--out", run_dir, "--set", f"train.epochs={epo * outer}",
           "--set", "checkpoint.every=0", "--data-root", data_root]
    cmd += ["--set", f"eval.every={every}"] if every else []
    if np_ > 1:
        cmd = ["mpirun", "-np", str(np_)] + cmd
    r = subprocess.run(cmd, env=mpi_env(), capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    final = json.load(open(os.path.join(run_dir, "final.json")))
    last = [json.loads(l) for l in open(os.path.join(run_dir, "metrics.jsonl"))][-1]
    return final, last


def sgemm_share(final, outer):
    """Seconds per outer iteration the products of this run (rank 0's calls) take at OpenBLAS's
    sgemm rate at their shapes, measured by `cfgan bench-gemm` with one thread."""
    shapes = [s for s in final["gemm_shapes"] if s["phase"] in GEMM_PHASES]
    distinct = sorted({(s["m"], s["n"], s["k"], s["ta"], s["tb"]) for s in shapes})
    rates = {}
    for i in range(0, len(distinct), 50):
        args = [",".join(map(str, d)) for d in distinct[i:i + 50]]
        r = subprocess.run([BIN, "bench-gemm", *args, "--seconds", "0.1"], env=mpi_env(), capture_output=True,
                           text=True, check=True)
        for line in r.stdout.splitlines():
            d = json.loads(line)
            if "gflops" in d:
                rates[(d["m"], d["n"], d["k"], d["ta"], d["tb"])] = d["gflops"]
    return sum(s["calls"] * 2.0 * s["m"] * s["n"] * s["k"] / (rates[(s["m"], s["n"], s["k"], s["ta"], s["tb"])] * 1e9)
               for s in shapes) / outer


def run_torch(outer, out_dir, data_root):
    d = os.path.join(data_root, "cfgan", "ML100K")
    jsonl = os.path.join(out_dir, "ml100k-torch.jsonl")
    env = dict(os.environ, OPENBLAS_CORETYPE=os.environ.get("OPENBLAS_CORETYPE", "SkylakeX"))
    r = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools", "torch_cfgan.py"), "--train", f"{d}/ML100K.train",
                        "--test", f"{d}/ML100K.test", "--outer", str(outer), "--threads", str(CORES), "--eval-every", "1",
                        "--jsonl", jsonl], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        print(f"warning: the PyTorch reference failed: {r.stderr[-500:]}", file=sys.stderr)
        return None
    lines = [json.loads(l) for l in open(jsonl)]
    return [l for l in lines if l.get("summary")][-1]["seconds_per_outer"]


def markdown_tables(out_dir):
    """Per workload: the median round's phases (seconds, slowest rank) for every setting."""
    rows = list(csv.DictReader(open(os.path.join(out_dir, "bench.csv"))))
    summary = json.load(open(os.path.join(out_dir, "summary.json")))
    for w, s in summary["workloads"].items():
        labels = list(s["settings"])
        print(f"{w} ({s['outer']} outer iterations; seconds, slowest rank, median of {summary['rounds']} rounds):\n")
        print("| phase | " + " | ".join(labels) + " |")
        print("|---" * (len(labels) + 1) + "|")
        for ph in PHASES:
            cells = []
            for l in labels:
                r = [x for x in rows if x["workload"] == w and x["setting"] == l and x["phase"] == ph
                     and int(x["round"]) == s["settings"][l]["median_round"]]
                t = float(r[0]["seconds_max"]) if r else 0.0
                cells.append(f"**{t:.3f}**" if ph == "total" else (f"{t:.3f}" if t >= 0.0005 else "-"))
            print(f"| {'**total**' if ph == 'total' else ph} | " + " | ".join(cells) + " |")
        print()
        for k, v in s["ratios"].items():
            print(f"- {k}: {v:.2f}x")
        print()


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--tables":
        return markdown_tables(sys.argv[2])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "runs", "bench"))
    ap.add_argument("--only", default="ml100k,ml1m,demo")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--outer", type=int, default=0, help="outer iterations per run (default: per workload)")
    ap.add_argument("--baseline", help="another cfgan binary run beside at np = 2 with its defaults")
    ap.add_argument("--no-torch", action="store_true")
    a = ap.parse_args()
    data_root = os.environ.get("CFGAN_DATA", os.path.join(ROOT, "data"))
    os.makedirs(a.out, exist_ok=True)
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
    summary = {"commit": commit, "host": platform.node(), "cores": CORES, "cpu": cpu, "rounds": a.rounds,
               "date": datetime.date.today().isoformat(), "baseline": a.baseline, "workloads": {}}
    csv_rows = []
    for name in a.only.split(","):
        cfg, _, default_outer, needs_data, full_outer, _ = WORKLOADS[name]
        if needs_data and not os.path.isdir(os.path.join(data_root, "cfgan")):
            print(f"skipping {name}: no datasets under {data_root} (set CFGAN_DATA)")
            continue
        outer = a.outer or default_outer
        per = {}  # label -> [seconds per outer iteration, one per round]
        finals = {}
        torch = []
        for rnd in range(a.rounds):
            for label, np_, binary in settings(a.baseline):
                print(f"== {name}, round {rnd + 1}/{a.rounds}: {label}", flush=True)
                final, last = run_cfgan(name, label, np_, binary, outer, a.out, data_root)
                ph = final["phases"]
                per.setdefault(label, []).append(ph["total"]["max"] / outer)
                finals.setdefault(label, []).append((final, last))
                for p in PHASES:
                    q = ph.get(p) or ph.get("allreduce" if p == "exchange" else p, {"avg": 0, "max": 0, "gflop": 0})
                    csv_rows.append({"workload": name, "setting": label, "round": rnd, "phase": p,
                                     "seconds_avg": q["avg"], "seconds_max": q["max"], "gflop_all_ranks": q["gflop"]})
            if name == "ml100k" and not a.no_torch:
                print(f"== {name}, round {rnd + 1}/{a.rounds}: PyTorch reference", flush=True)
                t = run_torch(outer, a.out, data_root)
                if t:
                    torch.append(t)
        s = {"outer": outer, "full_outer": full_outer, "settings": {}}
        for label, secs in per.items():
            med = sorted(range(len(secs)), key=lambda i: secs[i])[len(secs) // 2]
            final, last = finals[label][med]
            s["settings"][label] = {"seconds_per_outer": secs[med], "rounds": secs, "median_round": med,
                                    "full_run_seconds": secs[med] * full_outer,
                                    "peak_rss_mb_max": final["peak_rss_mb"]["max"],
                                    "ranks": final["ranks"],
                                    "P@5": last["P@5"], "NDCG@20": last["NDCG@20"]}
        st = s["settings"]
        s["products_at_sgemm_rate_np1"] = sgemm_share(finals["np1"][st["np1"]["median_round"]][0], outer)
        r = {"np2 vs np1": st["np1"]["seconds_per_outer"] / st["np2"]["seconds_per_outer"]}
        if a.baseline:
            r["np2 vs np2-baseline"] = st["np2-baseline"]["seconds_per_outer"] / st["np2"]["seconds_per_outer"]
        if torch:
            s["torch_seconds_per_outer"] = statistics.median(torch)
            for l in st:
                r[f"{l} vs PyTorch"] = s["torch_seconds_per_outer"] / st[l]["seconds_per_outer"]
        s["ratios"] = r
        summary["workloads"][name] = s
    if not csv_rows:
        sys.exit("nothing measured")
    with open(os.path.join(a.out, "bench.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(csv_rows[0]))
        w.writeheader()
        w.writerows({k: round(v, 5) if isinstance(v, float) else v for k, v in row.items()} for row in csv_rows)
    json.dump(summary, open(os.path.join(a.out, "summary.json"), "w"), indent=1)
    print(f"\ncommit {commit}, {CORES} cores ({cpu}), {summary['date']}")
    for name, s in summary["workloads"].items():
        print(f"{name} ({s['outer']} outer iterations measured, median of {a.rounds} rounds; the full reference run "
              f"has {s['full_outer']}):")
        for label, v in s["settings"].items():
            print(f"  {label:12} {v['seconds_per_outer']:.3f} s per outer iteration (rounds "
                  f"{', '.join(f'{x:.3f}' for x in v['rounds'])}), full run ~{v['full_run_seconds']:.0f} s, "
                  f"peak RSS {v['peak_rss_mb_max']:.0f} MB, P@5 {v['P@5']:.4f}")
        if "torch_seconds_per_outer" in s:
            print(f"  {'PyTorch':12} {s['torch_seconds_per_outer']:.3f} s per outer iteration ({CORES} threads)")
        for k, v in s["ratios"].items():
            print(f"  {k}: {v:.2f}x")
        np1 = s["settings"]["np1"]["seconds_per_outer"]
        print(f"  np1's products at OpenBLAS's sgemm rate: {s['products_at_sgemm_rate_np1']:.3f} s per outer "
              f"iteration ({100 * s['products_at_sgemm_rate_np1'] / np1:.0f}% of np1's time)")
    print(f"\nwrote {a.out}/bench.csv and {a.out}/summary.json")


if __name__ == "__main__":
    main()
