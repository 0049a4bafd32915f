#!/usr/bin/python3
"""CFGAN beside TopPop, ItemKNN and EASE^R on the same split, metric code and candidate set.

usage: tools/compare.py CONFIG [--cfgan-run DIR ...] [--out DIR] [--np N] [--set k=v ...]
  CONFIG          the experiment config (e.g. configs/ml100k.yaml)
  --cfgan-run DIR finished `cfgan train` runs of CONFIG (several seeds: mean ± std); without it CFGAN
                  is trained once (slow for the full configs: pass runs you already have)
  --set k=v       passed to every command (e.g. baselines.ease.lambda=1000)
Writes DIR/compare.md (a Markdown table) and DIR/compare.png (a bar chart), default runs/compare-<config>.
Needs the datasets under $CFGAN_DATA (or data/).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("CFGAN_BIN") or os.path.join(ROOT, "build", "cfgan")
METRICS = ["P@5", "R@5", "NDCG@5", "P@20", "R@20", "NDCG@20", "MRR@20"]


def env_for(np_):
    env = dict(os.environ)
    if os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env.update(OMPI_MCA_rmaps_base_oversubscribe="1", OMPI_MCA_btl_vader_single_copy_mechanism="none")
    if np_ > 1:
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
    return env


def run(cmd, np_):
    full = (["mpirun", "-np", str(np_)] if np_ > 1 else []) + cmd
    r = subprocess.run(full, env=env_for(np_), capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(full)} failed:\n{r.stderr[-1500:]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("--cfgan-run", action="append", default=[])
    ap.add_argument("--out")
    ap.add_argument("--np", type=int, default=2)
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args()
    name = os.path.splitext(os.path.basename(a.config))[0]
    out = a.out or os.path.join(ROOT, "runs", f"compare-{name}")
    os.makedirs(out, exist_ok=True)
    sets = [x for s in a.set for x in ("--set", s)]
    rows = []  # (label, {metric: (mean, std)}, note)
    prints = {}  # run directory -> dataset fingerprint: every system must see the same split
    for model, label in (("toppop", "TopPop"), ("itemknn", "ItemKNN (cosine)"), ("ease", "EASE^R")):
        d = os.path.join(out, model)
        subprocess.run(["rm", "-rf", d], check=True)
        run([BIN, "baseline", a.config, "--model", model, "--out", d] + sets, a.np)
        f = json.load(open(os.path.join(d, "final.json")))
        prints[d] = f["dataset_fingerprint"]
        params = ", ".join(f"{k} {v}" for k, v in f["selected"].items() if v is not None) or "-"
        rows.append((label, {m: (f["reported"][m], 0.0) for m in METRICS}, f"{params}; {f['wall_seconds']:.1f} s"))
    runs = a.cfgan_run
    if not runs:
        d = os.path.join(out, "cfgan")
        subprocess.run(["rm", "-rf", d], check=True)
        run([BIN, "train", a.config, "--out", d] + sets, a.np)
        runs = [d]
    finals = [json.load(open(os.path.join(r, "final.json"))) for r in runs]
    prints.update({r: f["dataset_fingerprint"] for r, f in zip(runs, finals)})
    if len(set(prints.values())) > 1:
        sys.exit("error: the runs were made on different data (dataset_fingerprint differs): "
                 + ", ".join(f"{d}: {fp}" for d, fp in prints.items()) + "; compare runs on the same split")
    cf = {}
    for m in METRICS:
        v = [f["reported"][m] for f in finals]
        cf[m] = (statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0)
    wall = statistics.mean(f["wall_seconds"] for f in finals)
    rows.append((f"CFGAN ({finals[0]['protocol']} protocol)", cf,
                 f"{len(finals)} run{'s' if len(finals) > 1 else ''}; {wall / 60:.1f} min each"))
    with open(os.path.join(out, "compare.md"), "w") as f:
        f.write(f"| model | {' | '.join(METRICS)} | notes |\n|---|{'---|' * len(METRICS)}---|\n")
        for label, vals, note in rows:
            cells = [f"{m:.4f}" + (f" ± {s:.4f}" if s > 0 else "") for m, s in (vals[k] for k in METRICS)]
            f.write(f"| {label} | {' | '.join(cells)} | {note} |\n")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    shown = ["P@5", "NDCG@5", "P@20", "NDCG@20"]
    fig, ax = plt.subplots(figsize=(8, 4.4))
    width = 0.8 / len(rows)
    for k, (label, vals, _) in enumerate(rows):
        xs = [i + (k - (len(rows) - 1) / 2) * width for i in range(len(shown))]
        errs = [vals[m][1] for m in shown]
        ax.bar(xs, [vals[m][0] for m in shown], width, yerr=errs if any(errs) else None, label=label, capsize=3)
    ax.set_xticks(range(len(shown)))
    ax.set_xticklabels(shown)
    ax.set_ylabel("test metric")
    ax.set_title(f"{name}: CFGAN and baselines on the same split")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=len(rows), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "compare.png"), dpi=110)
    print(open(os.path.join(out, "compare.md")).read())
    print(f"wrote {out}/compare.md and {out}/compare.png")


if __name__ == "__main__":
    main()
