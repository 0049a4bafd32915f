#!/usr/bin/python3
"""make bench: fixed workloads through cfgan at np = 1 and 2, per-phase time, FLOPs and GFLOP/s,
the machine's sgemm rate at the very shapes each phase used (same library, kernels and threads;
OpenBLAS's cblas_sgemm, and the trainer's own small-batch kernels where it uses them),
peak memory per rank, and the PyTorch reference (tools/torch_cfgan.py) on the same workload; per
workload it ends with the products' floor: their time at those rates (no run with kernels as fast is shorter).

usage: tools/bench.py [--out DIR] [--outer N] [--only ml100k,ml1m,demo] [--no-torch]
       tools/bench.py --tables DIR   (the README's Markdown tables from DIR/bench.csv)
Writes DIR/bench.csv (one row per workload x setting x phase) and DIR/summary.json, prints a table.
Settings: np=1 with 1 BLAS thread, np=1 with one thread per core, np=2 with one thread per rank
(ranks x threads = cores), np=2 with the message-passing ring instead of node-shared memory, and
np=2 with balanced batches (train.batch_strata=24: every batch splits evenly over the ranks), and
np=2 with every product in OpenBLAS (CFGAN_GEMM=openblas: the own small-batch kernels off).
The sgemm rate of each shape is timed for 0.15 s, or less when a run called many shapes (np=2
with uneven batches: down to 0.03 s each, so those rates are noisier).
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("CFGAN_BIN") or os.path.join(ROOT, "build", "cfgan")
CORES = os.cpu_count() or 2

WORKLOADS = {
    # name: (config, epochs per outer iteration, outer iterations by default, needs data,
    #        outer iterations of the full reference run, eval.every (None: the config's))
    "ml100k": ("configs/ml100k.yaml", 4, 10, True, 250, 1),   # the reference protocol: every G pass
    # 50 epochs: evaluations (every 25) and the one checkpoint at the full run's own rate
    "ml1m": ("configs/ml1m.yaml", 1, 50, True, 1500, None),
    "demo": ("configs/demo.yaml", 2, 15, False, 30, 1),
}
# (label, ranks, BLAS threads per rank, extra --set options, extra environment); np2-ring is np2-t1
# with the message-passing gradient exchange instead of node-shared memory, np2-bal np2-t1 with
# batches that split evenly over the ranks (a different batch order from the reference shuffle),
# np2-openblas np2-t1 with every product in OpenBLAS: all for side-by-side ratios
SETTINGS = [("np1-t1", 1, 1, [], {}), ("np1-t%d" % CORES, 1, CORES, [], {}), ("np2-t1", 2, 1, [], {}),
            ("np2-ring", 2, 1, ["run.node_shared=false"], {}), ("np2-bal", 2, 1, ["train.batch_strata=24"], {}),
            ("np2-openblas", 2, 1, [], {"CFGAN_GEMM": "openblas"})]
GEMM_PHASES = ["G forward", "G backward", "D forward", "D backward", "scoring"]


def mpi_env(threads):
    env = dict(os.environ)
    if os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    # no mpi_yield_when_idle: ranks fit the cores here, and yielding makes every allreduce ~1000x
    # slower; Open MPI's default single-copy (CMA) transfer is ~1.5x faster than copy-in/copy-out
    env.pop("OMPI_MCA_mpi_yield_when_idle", None)
    env.pop("OMPI_MCA_btl_vader_single_copy_mechanism", None)
    env.update(OMPI_MCA_rmaps_base_oversubscribe="1", OPENBLAS_NUM_THREADS=str(threads))
    return env


def run_cfgan(name, label, np_, threads, outer, out_dir, data_root, extra=(), env_extra=None):
    cfg, epo = WORKLOADS[name][:2]
    run_dir = os.path.join(out_dir, f"{name}-{label}")
    subprocess.run(["rm", "-rf", run_dir], check=True)
    every = WORKLOADS[name][5]
    cmd = [BIN, "train", os.path.join(ROOT, cfg), "--out", run_dir, "--set", f"train.epochs={epo * outer}",
           "--set", "checkpoint.every=0"] + (["--set", f"eval.every={every}"] if every else [])
    for opt in extra:
        cmd += ["--set", opt]
    if data_root:
        cmd += ["--data-root", data_root]
    if np_ > 1:
        cmd = ["mpirun", "-np", str(np_)] + cmd
    t0 = time.time()
    r = subprocess.run(cmd, env={**mpi_env(threads), **(env_extra or {})}, capture_output=True, text=True)
    wall = time.time() - t0
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    final = json.load(open(os.path.join(run_dir, "final.json")))
    rows = [json.loads(l) for l in open(os.path.join(run_dir, "metrics.jsonl"))]
    return final, rows, threads, wall


def sgemm_rates(shapes, threads, gemm):
    """GFLOP/s at each distinct shape, measured with `cfgan bench-gemm`: gemm "openblas" times
    cblas_sgemm, "auto" the trainer's choice (its own kernels for small batches)."""
    distinct = sorted({(s["m"], s["n"], s["k"], s["ta"], s["tb"]) for s in shapes})
    args = [f"{m},{n},{k},{a},{b}" for m, n, k, a, b in distinct]
    secs = max(0.03, min(0.15, 40.0 / max(1, len(args))))  # uneven batches give hundreds of shapes
    rates = {}
    for i in range(0, len(args), 50):
        r = subprocess.run([BIN, "bench-gemm", *args[i:i + 50], "--seconds", str(secs)],
                           env={**mpi_env(threads), "CFGAN_GEMM": gemm},
                           capture_output=True, text=True, check=True)
        for line in r.stdout.splitlines():
            d = json.loads(line)
            if "gflops" in d:
                rates[(d["m"], d["n"], d["k"], d["ta"], d["tb"])] = d["gflops"]
    return rates


def run_torch(name, outer, threads, out_dir, data_root):
    cfg = os.path.join(ROOT, WORKLOADS[name][0])
    script = os.path.join(ROOT, "tools", "torch_cfgan.py")
    if name != "ml100k" or not os.path.exists(script):
        return None
    d = os.path.join(data_root, "cfgan", "ML100K")
    jsonl = os.path.join(out_dir, f"{name}-torch.jsonl")
    env = dict(os.environ)
    env["OPENBLAS_CORETYPE"] = os.environ.get("OPENBLAS_CORETYPE", "SkylakeX")  # the good kernels for both
    r = subprocess.run(["/usr/bin/python3", script, "--train", f"{d}/ML100K.train", "--test", f"{d}/ML100K.test",
                        "--outer", str(outer), "--threads", str(threads), "--eval-every", "1", "--jsonl", jsonl],
                       env=env, capture_output=True, text=True)
    if r.returncode != 0:
        print(f"warning: PyTorch reference failed: {r.stderr[-500:]}", file=sys.stderr)
        return None
    lines = [json.loads(l) for l in open(jsonl)]
    summary = [l for l in lines if l.get("summary")][-1]
    return {"seconds_per_outer": summary["seconds_per_outer"], "rows": [l for l in lines if not l.get("summary")]}


PHASE_LABELS = {"sampling": "sampling", "G forward": "G forward", "G backward": "G backward", "D forward": "D forward",
                "D backward": "D backward", "allreduce": "gradient exchange (and waiting)",
                "optimizer": "optimizer (Adam; with node-shared memory it also forms G's weight gradients)",
                "scoring": "evaluation: scoring (G forward, every row)", "evaluation": "evaluation: top-K and metrics", "checkpoint": "checkpoint (the final one)",
                "total": "**total**"}


def floors(rows, outer, label):
    """What the products alone cost per outer iteration on one rank (rank 0's shapes) at OpenBLAS's
    sgemm rate and at the trainer's kernels' rate at the same shapes: a floor for any schedule of the
    same FLOPs on kernels no faster than these. rows: this workload's bench.csv rows."""
    mine = [r for r in rows if r["setting"] == label and r["phase"] != "total"]
    if not mine:
        return None
    sgemm = sum(float(r["gemm_seconds_at_sgemm_rate"] or 0) for r in mine) / outer
    kernel = sum(float(r["gemm_seconds_at_kernel_rate"] or 0) for r in mine) / outer
    total = [float(r["seconds_max"]) for r in rows if r["setting"] == label and r["phase"] == "total"][0] / outer
    return {"gemm_seconds_per_outer_at_sgemm_rate": sgemm, "gemm_seconds_per_outer_at_kernel_rate": kernel,
            "seconds_per_outer": total}


FLOOR_SETTINGS = ("np1-t1", "np2-t1")


def print_floors(by_label, full_outer):
    """by_label: {setting: floors(...)}"""
    for label, f in by_label.items():
        if f:
            low = min(f["gemm_seconds_per_outer_at_sgemm_rate"], f["gemm_seconds_per_outer_at_kernel_rate"])
            print(f"  {label:7} products alone: {f['gemm_seconds_per_outer_at_sgemm_rate']:.3f} s per outer iteration "
                  f"at OpenBLAS's sgemm rate, {f['gemm_seconds_per_outer_at_kernel_rate']:.3f} s at the trainer's "
                  f"kernels' rate (full run >= {low * full_outer:.{0 if low * full_outer >= 10 else 2}f} s); everything else now "
                  f"{f['seconds_per_outer'] - low:.3f} s")


def markdown_tables(out_dir):
    """The README's per-phase tables (seconds, slowest rank) from DIR/bench.csv."""
    rows = list(csv.DictReader(open(os.path.join(out_dir, "bench.csv"))))
    labels = [s[0] for s in SETTINGS]
    first3 = labels[:3]
    heads = {"np1-t1": "np=1, 1 thread", "np2-t1": "np=2, 1 thread each", "np2-ring": "np=2, ring exchange",
             "np2-bal": "np=2, balanced batches", "np2-openblas": "np=2, OpenBLAS only"}
    for w in dict.fromkeys(r["workload"] for r in rows):
        print(f"{w}:\n")
        print("| phase | " + " | ".join(heads[l] if l in heads else f"np=1, {l.split('-t')[1]} threads" for l in labels)
              + " | fraction of OpenBLAS's sgemm rate at the same shapes (first three settings)"
              + " | fraction of the trainer's kernels' rate at the same shapes (first three settings) |")
        print("|---" * (len(labels) + 3) + "|")
        split = any(x["phase"] == "scoring" for x in rows if x["workload"] == w)
        for ph, name in PHASE_LABELS.items():
            if ph == "scoring" and not split:
                continue  # an older bench.csv: one "evaluation" phase held scoring and top-K
            if ph == "evaluation" and not split:
                name = "evaluation (scoring, top-K and metrics)"
            cells, fracs, kfracs = [], [], []
            for l in labels:
                r = [x for x in rows if x["workload"] == w and x["setting"] == l and x["phase"] == ph]
                t = float(r[0]["seconds_max"]) if r else 0.0
                cells.append(f"**{t:.3f}**" if ph == "total" else (f"{t:.3f}" if t >= 0.0005 else "-"))
                # the optimizer's GEMMs share their phase with Adam: no rate of its own to compare
                if l in first3 and ph in GEMM_PHASES and r and r[0]["fraction_of_sgemm_rate"] not in ("", None):
                    fracs.append(f"{100 * float(r[0]['fraction_of_sgemm_rate']):.0f}%")
                    if r[0].get("fraction_of_kernel_rate") not in ("", None):
                        kfracs.append(f"{100 * float(r[0]['fraction_of_kernel_rate']):.0f}%")
            print(f"| {name} | " + " | ".join(cells) + f" | {' / '.join(fracs) if fracs else '-'}"
                  + f" | {' / '.join(kfracs) if kfracs else '-'} |")
        print()
    summary = json.load(open(os.path.join(out_dir, "summary.json")))
    print("floors (the products alone at the measured rates of their shapes, one rank):")
    for w in dict.fromkeys(r["workload"] for r in rows):
        if w in summary:
            print(f"{w}:")
            mine = [r for r in rows if r["workload"] == w]
            print_floors({l: floors(mine, summary[w]["outer"], l) for l in FLOOR_SETTINGS}, summary[w]["full_outer"])


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--tables":
        return markdown_tables(sys.argv[2])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "runs", "bench"))
    ap.add_argument("--outer", type=int, default=0, help="outer iterations per workload (default: per workload)")
    ap.add_argument("--only", default="ml100k,ml1m,demo")
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()
    data_root = os.environ.get("CFGAN_DATA", os.path.join(ROOT, "data"))
    os.makedirs(args.out, exist_ok=True)
    table, csv_rows, summary = [], [], {}
    for name in args.only.split(","):
        cfg, epo, default_outer, needs_data, full_outer, _ = WORKLOADS[name]
        if needs_data and not os.path.isdir(os.path.join(data_root, "cfgan")):
            print(f"skipping {name}: no datasets under {data_root} (set CFGAN_DATA)")
            continue
        outer = args.outer or default_outer
        per = {}
        for label, np_, threads, extra, env_extra in SETTINGS:
            print(f"== {name}: {outer} outer iterations, {label}", flush=True)
            final, rows, threads, wall = run_cfgan(name, label, np_, threads, outer, args.out, data_root, extra,
                                                   env_extra)
            if final.get("gemm_calls_unrecorded", 0):
                sys.exit(f"{name} {label}: {final['gemm_calls_unrecorded']} GEMM calls missing from the shape table")
            rates = sgemm_rates(final["gemm_shapes"], threads, "openblas")
            kernel_rates = (rates if env_extra.get("CFGAN_GEMM") == "openblas"
                            else sgemm_rates(final["gemm_shapes"], threads, "auto"))
            ph = final["phases"]
            total = ph["total"]["max"]
            per[label] = {"seconds_per_outer": total / outer, "rss_max_mb": final["peak_rss_mb"]["max"],
                          "data_mb_max": final["data_mb"]["max"], "threads": threads, "ranks": np_,
                          "full_run_seconds": total / outer * full_outer, "last": rows[-1]}
            for phase in ph:
                t = ph[phase]["avg"]
                gflop = ph[phase]["gflop"]
                def at(r):
                    return sum(s["calls"] * 2.0 * s["m"] * s["n"] * s["k"] / (r[(s["m"], s["n"], s["k"], s["ta"], s["tb"])] * 1e9)
                               for s in final["gemm_shapes"] if s["phase"] == phase)
                ideal, ideal_kernel = at(rates), at(kernel_rates)
                row = {"workload": name, "setting": label, "ranks": np_, "threads_per_rank": threads, "phase": phase,
                       "seconds_min": ph[phase]["min"], "seconds_avg": t, "seconds_max": ph[phase]["max"],
                       "gflop_all_ranks": gflop, "gflops_achieved": gflop / t / np_ if t > 0 else 0,
                       "gemm_seconds_at_sgemm_rate": ideal, "fraction_of_sgemm_rate": ideal / t if t > 0 and ideal > 0 else "",
                       "gemm_seconds_at_kernel_rate": ideal_kernel,
                       "fraction_of_kernel_rate": ideal_kernel / t if t > 0 and ideal_kernel > 0 else "",
                       "peak_rss_mb_max": final["peak_rss_mb"]["max"], "data_mb_max": final["data_mb"]["max"]}
                csv_rows.append(row)
                if t > 0:
                    table.append(row)
        torch = None if args.no_torch else run_torch(name, outer, CORES, args.out, data_root)
        best = min(per, key=lambda k: per[k]["seconds_per_outer"])
        summary[name] = {"outer": outer, "full_outer": full_outer, "settings": per, "fastest": best,
                         "speedup_np2_vs_np1_one_thread": per["np1-t1"]["seconds_per_outer"] / per["np2-t1"]["seconds_per_outer"],
                         "speedup_np2_balanced_vs_np1_one_thread": per["np1-t1"]["seconds_per_outer"] / per["np2-bal"]["seconds_per_outer"],
                         "speedup_node_shared_vs_ring": per["np2-ring"]["seconds_per_outer"] / per["np2-t1"]["seconds_per_outer"],
                         "speedup_own_kernels_vs_openblas": per["np2-openblas"]["seconds_per_outer"] / per["np2-t1"]["seconds_per_outer"]}
        summary[name]["floors"] = {l: floors([r for r in csv_rows if r["workload"] == name], outer, l)
                                   for l in FLOOR_SETTINGS}
        if torch:
            summary[name]["torch_seconds_per_outer"] = torch["seconds_per_outer"]
            summary[name]["ratio_vs_torch"] = {k: torch["seconds_per_outer"] / v["seconds_per_outer"] for k, v in per.items()}
    # data memory per rank at np = 1, 2, 4 (4 oversubscribed: memory, not speed) on ML1M
    if "ml1m" in args.only and os.path.isdir(os.path.join(data_root, "cfgan")):
        mem = {}
        for np_ in (1, 2, 4):
            print(f"== ml1m data memory at np={np_}", flush=True)
            run_dir = os.path.join(args.out, f"mem-ml1m-np{np_}")
            subprocess.run(["rm", "-rf", run_dir], check=True)
            cmd = [BIN, "train", os.path.join(ROOT, "configs/ml1m.yaml"), "--out", run_dir, "--data-root", data_root,
                   "--set", "train.epochs=1", "--set", "checkpoint.every=0"]
            env = mpi_env(1)
            if np_ > CORES:
                env["OMPI_MCA_mpi_yield_when_idle"] = "1"
            subprocess.run((["mpirun", "-np", str(np_)] if np_ > 1 else []) + cmd, env=env, check=True, capture_output=True)
            f = json.load(open(os.path.join(run_dir, "final.json")))
            mem[np_] = {"shard_mb_max": f["shard_mb"]["max"], "shard_mb_min": f["shard_mb"]["min"],
                        "data_mb_max": f["data_mb"]["max"], "rss_mb_max": f["peak_rss_mb"]["max"]}
        summary["ml1m_memory"] = mem
    with open(os.path.join(args.out, "bench.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(csv_rows[0].keys()))
        w.writeheader()
        w.writerows(csv_rows)
    json.dump(summary, open(os.path.join(args.out, "summary.json"), "w"), indent=1)
    print(f"\n{'workload':8} {'setting':8} {'phase':12} {'s avg':>8} {'s max':>8} {'GFLOP/s':>8} {'of sgemm':>8}")
    for r in table:
        frac = (f"{100 * r['fraction_of_sgemm_rate']:.0f}%"
                if r["fraction_of_sgemm_rate"] != "" and r["phase"] in GEMM_PHASES else "")
        print(f"{r['workload']:8} {r['setting']:8} {r['phase']:12} {r['seconds_avg']:8.3f} {r['seconds_max']:8.3f} "
              f"{r['gflops_achieved']:8.1f} {frac:>8}")
    print()
    for name, s in summary.items():
        if name == "ml1m_memory":
            continue
        print(f"{name} ({s['outer']} outer iterations measured; the full reference run has {s['full_outer']}):")
        for label, v in s["settings"].items():
            line = (f"  {label:7} {v['seconds_per_outer']:.3f} s per outer iteration, full run ~{v['full_run_seconds']:.0f} s; "
                    f"peak RSS per rank {v['rss_max_mb']:.0f} MB, data per rank {v['data_mb_max']:.2f} MB")
            if "ratio_vs_torch" in s:
                line += f"; x{s['ratio_vs_torch'][label]:.1f} the PyTorch reference"
            print(line)
        print(f"  np=2 vs np=1 (one BLAS thread per rank): x{s['speedup_np2_vs_np1_one_thread']:.2f}; "
              f"with balanced batches x{s['speedup_np2_balanced_vs_np1_one_thread']:.2f}")
        print(f"  np=2 node-shared exchange vs message-passing ring: x{s['speedup_node_shared_vs_ring']:.2f}")
        print(f"  np=2 own small-batch kernels vs OpenBLAS for every product: x{s['speedup_own_kernels_vs_openblas']:.2f}")
        print_floors(s["floors"], s["full_outer"])
        if "torch_seconds_per_outer" in s:
            print(f"  PyTorch reference (tools/torch_cfgan.py, {CORES} threads): {s['torch_seconds_per_outer']:.3f} s per outer iteration")
    if "ml1m_memory" in summary:
        print("ml1m data memory per rank (training shard min-max; all data incl. rank 0's held-out sets; peak RSS):")
        for np_, m in summary["ml1m_memory"].items():
            print(f"  np={np_}: shard {m['shard_mb_min']:.2f}-{m['shard_mb_max']:.2f} MB, data max {m['data_mb_max']:.2f} MB, "
                  f"peak RSS max {m['rss_mb_max']:.0f} MB")
    print(f"\nwrote {args.out}/bench.csv and {args.out}/summary.json")


if __name__ == "__main__":
    main()
