#!/usr/bin/python3
"""Strong and weak scaling of `cfgan train`, with the time per epoch split into compute, exchange
(gradients summed across ranks, and waiting for the slowest rank), evaluation and the rest (set-up,
checkpoints: the remainder of the slowest rank's total), from the trainer's phase timers in final.json.

usage: tools/scaling.py [--config CONFIG] [--max-np 8] [--epochs E] [--weak | --weak-only] [--out DIR] [--set k=v ...]
  strong scaling: CONFIG (default configs/ml100k.yaml) at np = 1, 2, 4, ... up to --max-np, same data
  --weak: synthetic data grown with np (cfgan synth: users and interactions x np, items fixed),
          trained in user mode (rows = users, so each rank keeps its number of rows) with the
          global batches x np (each rank keeps its rows per step); layers as CONFIG
Each run uses one BLAS thread per rank. Runs with more ranks than cores are marked oversubscribed.
Writes DIR/scaling.csv (kind, np, oversubscribed, seconds_per_epoch, compute, exchange, evaluation,
other, speedup, efficiency, memory, and the provenance of every row: dataset, commit, host, cores,
cpu, date); plot it with tools/plot_scaling.py DIR/scaling.csv.
"""
import argparse
import csv
import datetime
import json
import os
import platform
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("CFGAN_BIN") or os.path.join(ROOT, "build", "cfgan")
CORES = os.cpu_count() or 1
COMPUTE = ["sampling", "G forward", "G backward", "D forward", "D backward", "optimizer"]


def env_for(np_):
    env = dict(os.environ)
    if os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env.update(OMPI_MCA_rmaps_base_oversubscribe="1", OMPI_MCA_btl_vader_single_copy_mechanism="none",
               OPENBLAS_NUM_THREADS="1")
    env.pop("OMPI_MCA_mpi_yield_when_idle", None)
    if np_ > CORES:  # oversubscribed: ranks must yield or they starve each other
        env["OMPI_MCA_mpi_yield_when_idle"] = "1"
    return env


def train(config, np_, epochs, out, sets):
    subprocess.run(["rm", "-rf", out], check=True)
    cmd = ["mpirun", "-np", str(np_), BIN, "train", config, "--out", out, "--set", f"train.epochs={epochs}",
           "--set", f"eval.every={epochs}", "--set", "checkpoint.every=0"] + sets
    r = subprocess.run(cmd, env=env_for(np_), capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stdout[-1500:]}\n{r.stderr[-1500:]}")
    f = json.load(open(os.path.join(out, "final.json")))
    ph = f["phases"]
    per = lambda name: ph[name]["avg"] / f["epochs_run"]
    total = ph["total"]["max"] / f["epochs_run"]
    compute = sum(per(p) for p in COMPUTE)
    # evaluation: G's scores for every row and the top-K lists
    exchange, evaluation = per("exchange"), per("evaluation") + per("scoring")
    return {"seconds_per_epoch": total, "compute": compute, "exchange": exchange, "evaluation": evaluation,
            "other": max(0.0, total - compute - exchange - evaluation), "data_mb_max": f["data_mb"]["max"],
            "rss_mb_max": f["peak_rss_mb"]["max"], "commit": f["git"]}


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def config_values(path):
    """The scalar `key: value` lines of a config (last word of the key path; enough for train.*)."""
    out = {}
    for line in open(path):
        s = line.split("#")[0].strip()
        if ":" in s and not s.endswith(":"):
            k, v = s.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "ml100k.yaml"))
    ap.add_argument("--max-np", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=0, help="epochs per run (default: 2 outer iterations)")
    ap.add_argument("--weak", action="store_true")
    ap.add_argument("--weak-only", action="store_true", help="only the weak series")
    ap.add_argument("--out", default=os.path.join(ROOT, "runs", "scaling"))
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--dataset", default="", help="the dataset's name in the CSV and plots (default: the config's name)")
    ap.add_argument("--weak-users", type=int, default=2000, help="synthetic users per rank")
    ap.add_argument("--weak-items", type=int, default=2000)
    ap.add_argument("--weak-interactions", type=int, default=100000, help="per rank")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    sets = [x for s in a.set for x in ("--set", s)]
    nps = [n for n in (1, 2, 4, 8, 16, 32, 64) if n <= a.max_np]
    rows = []
    for kind in (["weak"] if a.weak_only else ["strong"] + (["weak"] if a.weak else [])):
        base = None
        for np_ in nps:
            config, extra = a.config, list(sets)
            keys = config_values(config)
            if kind == "weak":
                data = os.path.join(a.out, f"synth-np{np_}.txt")
                if not os.path.exists(data):
                    subprocess.run([BIN, "synth", "--users", str(a.weak_users * np_), "--items", str(a.weak_items),
                                    "--interactions", str(a.weak_interactions * np_), "--out", data], check=True,
                                   capture_output=True)
                extra += ["--set", "data.format=cfgan", "--set", f"data.train={os.path.abspath(data)}",
                          "--set", "data.test=", "--set", "data.validation=0", "--set", "model.mode=user",
                          "--set", f"train.g_batch={int(keys.get('g_batch', 32)) * np_}",
                          "--set", f"train.d_batch={int(keys.get('d_batch', 64)) * np_}"]
            epochs = a.epochs or 2 * int(keys.get("g_steps", 1))  # default: two outer iterations
            print(f"== {kind} scaling, np={np_}{' (oversubscribed)' if np_ > CORES else ''}", flush=True)
            r = train(config, np_, epochs, os.path.join(a.out, f"{kind}-np{np_}"), extra)
            base = base or r["seconds_per_epoch"]
            speedup = base / r["seconds_per_epoch"] if kind == "strong" else base / r["seconds_per_epoch"] * np_
            r.update(kind=kind, np=np_, oversubscribed=int(np_ > CORES), speedup=speedup, efficiency=speedup / np_)
            rows.append(r)
            print(f"   {r['seconds_per_epoch']:.3f} s per epoch (compute {r['compute']:.3f}, exchange "
                  f"{r['exchange']:.3f}, evaluation {r['evaluation']:.3f}, other {r['other']:.3f}); "
                  f"speedup {speedup:.2f}, efficiency {100 * speedup / np_:.0f}%", flush=True)
    keys = ["kind", "np", "oversubscribed", "seconds_per_epoch", "compute", "exchange", "evaluation", "other",
            "speedup", "efficiency", "data_mb_max", "rss_mb_max", "dataset", "commit", "host", "cores", "cpu", "date"]
    where = {"dataset": a.dataset or os.path.splitext(os.path.basename(a.config))[0], "host": platform.node(),
             "cores": CORES, "cpu": cpu_model(), "date": datetime.date.today().isoformat()}
    with open(os.path.join(a.out, "scaling.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in rows:
            r.update(where, dataset=where["dataset"] if r["kind"] == "strong" else "synthetic (weak)")
            w.writerow({k: round(v, 4) if isinstance(v, float) else v for k, v in ((k, r[k]) for k in keys)})
    print(f"wrote {a.out}/scaling.csv (plot: tools/plot_scaling.py {a.out}/scaling.csv)")


if __name__ == "__main__":
    main()
