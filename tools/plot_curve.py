#!/usr/bin/python3
"""Learning curves from metrics.jsonl files: one line per run, a panel per metric.

usage: tools/plot_curve.py RUN_DIR [RUN_DIR ...] [--metrics P@5,NDCG@20] [--out FILE.png] [--label NAME ...]
Validation points (honest protocol) are dashed, test points solid; a run's final test point of the
honest protocol is drawn as a star.
"""
import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--metrics", default="P@5,NDCG@20")
    ap.add_argument("--out", default="learning-curve.png")
    ap.add_argument("--label", action="append")
    a = ap.parse_args()
    metrics = a.metrics.split(",")
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.8), squeeze=False)
    for k, run in enumerate(a.runs):
        rows = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))]
        label = a.label[k] if a.label and k < len(a.label) else os.path.basename(os.path.normpath(run))
        for ax, m in zip(axes[0], metrics):
            for split, style in (("test", "-"), ("valid", "--")):
                pts = [(r["epoch"], r[m]) for r in rows if r["split"] == split]
                honest_final = split == "test" and any(r["split"] == "valid" for r in rows)
                if not pts:
                    continue
                if honest_final:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], "*", ms=12, label=f"{label} (test, selected)")
                else:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=f"{label} ({split})")
    for ax, m in zip(axes[0], metrics):
        ax.set_xlabel("epoch")
        ax.set_ylabel(m)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
