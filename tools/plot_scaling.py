#!/usr/bin/python3
"""Plots of tools/scaling.py's CSV: speedup and efficiency against np (with the ideal speedup = np
and 100% efficiency), and the time per epoch split into compute, exchange, evaluation and the rest.
Oversubscribed runs (more ranks than cores) are drawn hollow and marked. Titles name the dataset,
the machine (cores, CPU) and the date, from the CSV.

usage: tools/plot_scaling.py SCALING.csv [--out DIR] [--title TEXT]
Writes DIR/scaling-speedup.png and DIR/scaling-breakdown.png (DIR: the CSV's folder).
"""
import argparse
import csv
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv")
    ap.add_argument("--out")
    ap.add_argument("--title", default="")
    a = ap.parse_args()
    out = a.out or os.path.dirname(os.path.abspath(a.csv))
    text = ("kind", "dataset", "commit", "host", "cpu", "date")
    rows = list(csv.DictReader(open(a.csv)))
    for r in rows:
        for k in r:
            if k not in text:
                r[k] = float(r[k])
    r0 = rows[0]
    where = f"{int(r0['cores'])}-core {r0['host']} ({r0['cpu']}), {r0['date']}, commit {r0['commit'][:7]}"
    kinds = sorted({r["kind"] for r in rows}, key=lambda k: k != "strong")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for kind in kinds:
        rs = [r for r in rows if r["kind"] == kind]
        nps = [r["np"] for r in rs]
        line, = ax1.plot(nps, [r["speedup"] for r in rs], "o-", label=f"{kind} scaling")
        ax2.plot(nps, [100 * r["efficiency"] for r in rs], "o-", color=line.get_color(), label=f"{kind} scaling")
        for r in rs:
            if r["oversubscribed"]:
                for ax, y in ((ax1, r["speedup"]), (ax2, 100 * r["efficiency"])):
                    ax.plot([r["np"]], [y], "o", mfc="white", color=line.get_color())
    nps = sorted({r["np"] for r in rows})
    ax1.plot(nps, nps, ":", color="gray", label="ideal (speedup = np)")  # every point: straight on the log axis
    ax2.axhline(100, ls=":", color="gray", label="ideal (100%)")
    for ax in (ax1, ax2):
        ax.set_xscale("log", base=2)
        ax.set_xticks(nps)
        ax.set_xticklabels([str(int(n)) for n in nps])
        ax.minorticks_off()
        ax.set_xlabel("MPI ranks (hollow: oversubscribed, more ranks than cores)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    ax1.set_ylabel("speedup (weak: scaled by np)")
    ax2.set_ylabel("parallel efficiency (%)")
    ax2.set_ylim(0, max(110, max(100 * r["efficiency"] for r in rows) + 10))
    data = " / ".join(dict.fromkeys(r["dataset"] for r in rows))
    fig.suptitle(a.title or f"cfgan scaling: {data}\n{where}", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "scaling-speedup.png"), dpi=110)

    fig, axes = plt.subplots(1, len(kinds), figsize=(5 * len(kinds), 4), squeeze=False)
    parts = [("compute", "#4c72b0"), ("exchange", "#dd8452"), ("evaluation", "#55a868"), ("other", "#c44e52")]
    for ax, kind in zip(axes[0], kinds):
        rs = [r for r in rows if r["kind"] == kind]
        labels = [f"{int(r['np'])}{'*' if r['oversubscribed'] else ''}" for r in rs]
        bottom = [0.0] * len(rs)
        for part, color in parts:
            vals = [r[part] for r in rs]
            ax.bar(labels, vals, bottom=bottom, color=color, label=part)
            bottom = [b + v for b, v in zip(bottom, vals)]
        ax.set_title(f"{kind} scaling: {rs[0]['dataset']}")
        ax.set_xlabel("MPI ranks (* oversubscribed)")
        ax.set_ylabel("seconds per epoch")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(where, fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "scaling-breakdown.png"), dpi=110)
    print(f"wrote {out}/scaling-speedup.png and {out}/scaling-breakdown.png")


if __name__ == "__main__":
    main()
