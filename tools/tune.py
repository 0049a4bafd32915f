#!/usr/bin/python3
"""Random search of CFGAN's hyper-parameters on a validation split (the honest protocol).

usage: tools/tune.py CONFIG --out DIR [--trials 30] [--seed 1] [--np 2] [--trial K] [--max-epochs E]
                     [--every 10] [--patience 5] [--validation 0.1] [--set k=v ...]
Trial k draws its values from a generator seeded with (seed, k), so trials are independent and the
same everywhere; a trial whose run finished (DIR/trial-K/final.json) is not run again, so the search
resumes where it stopped, and --trial K runs one trial only (jobs/tune.sbatch runs the trials as a
SLURM array). Every trial trains CONFIG with `data.validation`, evaluates on validation every
`--every` epochs, keeps the epoch with the best validation NDCG@20 and stops after `--patience`
evaluations without improvement (at most --max-epochs, default the config's); its test metrics are
those of the selected epoch. The search space follows Pérez Maurera et al. (ECIR 2022):
  train.g_lr, train.d_lr      log-uniform in [1e-5, 1e-2]
  model.g_hidden, d_hidden    one layer of 50, 100, 200, 400 or 800 units
  model.zr_ratio, pm_ratio    uniform in [0.1, 0.9]
  model.zr_coef               log-uniform in [1e-3, 1]
  train.g_batch, d_batch      32, 64, 128 or 256 rows
  train.g_steps, d_steps      1 to 4 passes per outer iteration
Writes DIR/trials.csv (one row per finished trial: its values, selected epoch, validation NDCG@20,
test metrics, seconds) and DIR/best.yaml (the best trial's resolved configuration: `cfgan train
DIR/best.yaml` reproduces its row).
"""
import argparse
import csv
import json
import math
import os
import random
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("CFGAN_BIN") or os.path.join(ROOT, "build", "cfgan")
UNITS = [50, 100, 200, 400, 800]
BATCHES = [32, 64, 128, 256]


def draw(seed, k):
    """Trial k's values as config keys (a generator of its own: the same values in any run)."""
    r = random.Random(f"cfgan-tune-{seed}-{k}")
    log = lambda lo, hi: math.exp(r.uniform(math.log(lo), math.log(hi)))
    return {"train.g_lr": f"{log(1e-5, 1e-2):.3g}", "train.d_lr": f"{log(1e-5, 1e-2):.3g}",
            "model.g_hidden": f"[{r.choice(UNITS)}]", "model.d_hidden": f"[{r.choice(UNITS)}]",
            "model.zr_ratio": f"{r.uniform(0.1, 0.9):.3g}", "model.pm_ratio": f"{r.uniform(0.1, 0.9):.3g}",
            "model.zr_coef": f"{log(1e-3, 1):.3g}", "train.g_batch": str(r.choice(BATCHES)),
            "train.d_batch": str(r.choice(BATCHES)), "train.g_steps": str(r.randint(1, 4)),
            "train.d_steps": str(r.randint(1, 4))}


def run_trial(a, k):
    d = os.path.join(a.out, f"trial-{k}")
    if os.path.exists(os.path.join(d, "final.json")) or os.path.exists(os.path.join(d, "failed.json")):
        return d
    resume = os.path.isdir(os.path.join(d, "checkpoints"))  # a trial stopped by a signal (status 4) continues
    if not resume:
        subprocess.run(["rm", "-rf", d], check=True)
    values = draw(a.seed, k)
    g_steps = int(values["train.g_steps"])
    epochs = max(g_steps, a.max_epochs // g_steps * g_steps) if a.max_epochs else 0
    sets = dict(values, **{"data.validation": str(a.validation), "eval.every": str(a.every),
                           "eval.patience": str(a.patience), "eval.select": "NDCG@20", "checkpoint.every": "0"})
    if epochs:
        sets["train.epochs"] = str(epochs)
    for s in a.set:
        k_, v = s.split("=", 1)
        sets[k_] = v
    cmd = [BIN, "train", a.config, "--out", d] + [x for kv in sets.items() for x in ("--set", "=".join(kv))]
    cmd += ["--resume"] if resume else []
    if a.np > 1:
        cmd = ["mpirun", "-np", str(a.np)] + cmd
    env = dict(os.environ)
    if os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env.setdefault("OMPI_MCA_rmaps_base_oversubscribe", "1")
    env["OPENBLAS_NUM_THREADS"] = "1"  # BLAS threads change the bits: pinned, so best.yaml reproduces
    t0 = time.time()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode == 3:  # a non-finite loss: a failed trial, recorded as such (it has no final.json)
        os.makedirs(d, exist_ok=True)
        json.dump({"failed": "numerical failure", "seconds": time.time() - t0}, open(os.path.join(d, "failed.json"), "w"))
        return d
    if r.returncode == 4:
        sys.exit(f"trial {k}: stopped by a signal after a checkpoint; run tools/tune.py again to continue it")
    if r.returncode != 0:
        sys.exit(f"trial {k}: {' '.join(cmd)} failed:\n{r.stderr[-1500:]}")
    return d


def collect(a):
    rows = []
    for k in range(a.trials):
        d = os.path.join(a.out, f"trial-{k}")
        row = {"trial": k, **draw(a.seed, k)}
        if os.path.exists(os.path.join(d, "final.json")):
            f = json.load(open(os.path.join(d, "final.json")))
            row.update(status="ok", selected_epoch=f["reported"]["epoch"], epochs_run=f["epochs_run"],
                       valid_ndcg20=f["selected_on_validation"]["NDCG@20"], seconds=round(f["wall_seconds"], 1),
                       **{f"test_{m}": f["reported"][m] for m in ("P@5", "NDCG@5", "P@20", "NDCG@20", "R@20", "MRR@20")})
        elif os.path.exists(os.path.join(d, "failed.json")):
            row.update(status="failed (non-finite loss)")
        else:
            continue
        rows.append(row)
    if not rows:
        return
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(os.path.join(a.out, "trials.csv.partial"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    os.replace(os.path.join(a.out, "trials.csv.partial"), os.path.join(a.out, "trials.csv"))
    done = [r for r in rows if r["status"] == "ok"]
    if done:
        best = max(done, key=lambda r: r["valid_ndcg20"])
        text = open(os.path.join(a.out, f"trial-{best['trial']}", "config.yaml")).read().split("\n", 1)[1]
        with open(os.path.join(a.out, "best.yaml.partial"), "w") as f:
            f.write(f"# CFGAN on {os.path.basename(a.config)}, tuned by tools/tune.py: trial {best['trial']} of "
                    f"{len(rows)}, the best validation NDCG@20 ({best['valid_ndcg20']:.4f}, epoch "
                    f"{best['selected_epoch']}); honest protocol (test metrics of the selected epoch)\n" + text)
        os.replace(os.path.join(a.out, "best.yaml.partial"), os.path.join(a.out, "best.yaml"))
        print(f"{len(done)} trials done ({len(rows) - len(done)} failed); best: trial {best['trial']}, validation "
              f"NDCG@20 {best['valid_ndcg20']:.4f}, test P@5 {best['test_P@5']:.4f}, NDCG@20 {best['test_NDCG@20']:.4f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("--out", required=True)
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--np", type=int, default=2)
    ap.add_argument("--trial", type=int, help="run this trial only (a SLURM array task)")
    ap.add_argument("--max-epochs", type=int, default=0)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--validation", type=float, default=0.1)
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for k in ([a.trial] if a.trial is not None else range(a.trials)):
        t0 = time.time()
        run_trial(a, k)
        print(f"trial {k}: {time.time() - t0:.0f} s", flush=True)
    if a.trial is None:  # a single array task leaves the table to the collecting call
        collect(a)


if __name__ == "__main__":
    main()
