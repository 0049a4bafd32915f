#!/usr/bin/python3
"""Summarise run directories (final.json) as a Markdown table, mean ± std over seeds.

usage: tools/results-table.py RUN_DIR...
Runs of the same config, protocol and batch order are grouped; each group is one row (runs with
balanced batches, train.batch_strata > 1 in the run's config.yaml, get their own row).
"""
import argparse
import json
import os
import re
import statistics
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="run directories holding final.json")
    groups = {}
    for d in ap.parse_args().runs:
        try:
            f = json.load(open(f"{d}/final.json"))
        except (OSError, ValueError) as e:
            sys.exit(f"results-table: {d}/final.json: {e}")
        label = f"`{f['config']}`"
        try:
            m = re.search(r"^\s*batch_strata:\s*(\d+)", open(os.path.join(d, "config.yaml")).read(), re.M)
        except OSError:
            m = None
        if m and int(m.group(1)) > 1:
            label += f" (`train.batch_strata={m.group(1)}`)"
        key = (label, f["protocol"])
        groups.setdefault(key, []).append(f)
    cols = ["P@5", "NDCG@5", "P@20", "NDCG@20", "R@20", "MRR@20"]
    print("| config | protocol | runs | epoch | " + " | ".join(cols) + " | wall time per run |")
    print("|---|---|---|---|" + "---|" * len(cols) + "---|")
    for (cfg, proto), runs in groups.items():
        def cell(k):
            v = [r["reported"][k] for r in runs]
            if len(v) == 1:
                return f"{v[0]:.4f}"
            return f"{statistics.mean(v):.4f} ± {statistics.stdev(v):.4f}"
        epochs = sorted(r["reported"]["epoch"] for r in runs)
        ep = str(epochs[0]) if len(set(epochs)) == 1 else ", ".join(map(str, epochs))
        wall = statistics.mean(r["wall_seconds"] for r in runs)
        print(f"| {cfg} | {proto} | {len(runs)} | {ep} | " + " | ".join(cell(k) for k in cols) + f" | {wall / 60:.1f} min |")


if __name__ == "__main__":
    main()
