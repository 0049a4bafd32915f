#!/usr/bin/python3
"""CFGAN beside TopPop, ItemKNN and EASE^R on the same split, metric code and candidate set, with
paired significance tests on the per-user results.

usage: tools/compare.py CONFIG [--cfgan-run DIR ...] [--baseline-run DIR ...] [--system LABEL=DIR[,DIR...] ...]
                        [--no-baselines] [--out DIR] [--np N] [--set k=v ...] [--alpha 0.05]
  CONFIG            the experiment config (e.g. configs/ml100k.yaml)
  --cfgan-run DIR   finished `cfgan train` runs of CONFIG (several seeds: each user's metrics are
                    averaged over the seeds first); without it CFGAN is trained once
  --baseline-run D  finished `cfgan baseline` runs to use instead of running TopPop, ItemKNN, EASE^R
  --system L=D,...  other finished `cfgan train` runs compared with CFGAN under the label L (several
                    seeds, comma-separated, averaged per user as CFGAN's), e.g. an ablation
  --no-baselines    compare only the --system runs with CFGAN
  --set k=v         passed to every command (e.g. baselines.ease.lambda=1000)
Every run must be on the same data (final.json's dataset_fingerprint): other runs are refused.
For every baseline and metric it reports the mean per-user difference (baseline - CFGAN), the
p-values of a paired Wilcoxon signed-rank test and a paired t-test (scipy), each Holm-corrected
over the compared baselines; a difference is marked when both corrected p-values are below alpha.
Writes DIR/compare.md (Markdown tables), DIR/compare.json and DIR/compare.png (a bar chart);
default DIR runs/compare-<config>. Needs the datasets under $CFGAN_DATA (or data/).
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("CFGAN_BIN") or os.path.join(ROOT, "build", "cfgan")
METRICS = ["P@5", "R@5", "NDCG@5", "P@20", "R@20", "NDCG@20", "MRR@20"]
BEYOND = ["coverage@20", "gini@20", "novelty@20", "popularity@20"]
BASELINES = (("toppop", "TopPop"), ("itemknn", "ItemKNN (cosine)"), ("ease", "EASE^R"))


def paired_tests(a, b):
    """Mean of b - a, and the two-sided p-values of the paired Wilcoxon signed-rank test (zero
    differences dropped; exact for small samples, as scipy chooses) and the paired t-test."""
    from scipy import stats
    d = [y - x for x, y in zip(a, b)]
    mean = statistics.fmean(d)
    if all(v == 0 for v in d):
        return mean, 1.0, 1.0
    w = stats.wilcoxon(b, a, zero_method="wilcox").pvalue
    t = stats.ttest_rel(b, a).pvalue
    if t != t:  # every difference the same, and not zero: no variance, the t-test's limit is p = 0
        t = 0.0
    return mean, float(w), float(t)


def holm(pvalues):
    """Holm's step-down correction of a list of p-values (same order)."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    out, running = [0.0] * len(pvalues), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        out[i] = running
    return out


def env_for():
    env = dict(os.environ)
    if os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env.update(OMPI_MCA_rmaps_base_oversubscribe="1")
    return env


def run(cmd, np_):
    full = (["mpirun", "-np", str(np_)] if np_ > 1 else []) + cmd
    r = subprocess.run(full, env=env_for(), capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(full)} failed:\n{r.stderr[-1500:]}")


def per_user(run_dir):
    """{user id: {metric: value}} from a run's per_user.tsv."""
    path = os.path.join(run_dir, "per_user.tsv")
    if not os.path.exists(path):
        sys.exit(f"error: {path}: missing (runs made before per-user results cannot be tested; rerun them)")
    return {r["user"]: {k: float(v) for k, v in r.items() if k != "user"}
            for r in csv.DictReader(open(path), delimiter="\t")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("--cfgan-run", action="append", default=[])
    ap.add_argument("--baseline-run", action="append", default=[])
    ap.add_argument("--out")
    ap.add_argument("--np", type=int, default=2)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--system", action="append", default=[])
    ap.add_argument("--no-baselines", action="store_true")
    a = ap.parse_args()
    name = os.path.splitext(os.path.basename(a.config))[0]
    out = a.out or os.path.join(ROOT, "runs", f"compare-{name}")
    os.makedirs(out, exist_ok=True)
    sets = [x for s in a.set for x in ("--set", s)]
    base_dirs = list(a.baseline_run)
    if not base_dirs and not a.no_baselines:
        for model, _ in BASELINES:
            d = os.path.join(out, model)
            subprocess.run(["rm", "-rf", d], check=True)
            run([BIN, "baseline", a.config, "--model", model, "--out", d] + sets, a.np)
            base_dirs.append(d)
    runs = a.cfgan_run
    if not runs:
        d = os.path.join(out, "cfgan")
        subprocess.run(["rm", "-rf", d], check=True)
        run([BIN, "train", a.config, "--out", d] + sets, a.np)
        runs = [d]
    others = [(x.split("=", 1)[0], x.split("=", 1)[1].split(",")) for x in a.system]
    finals = {d: json.load(open(os.path.join(d, "final.json"))) for d in base_dirs + runs + [d for _, ds in others for d in ds]}
    prints = {d: f["dataset_fingerprint"] for d, f in finals.items()}
    if len(set(prints.values())) > 1:
        sys.exit("error: the runs were made on different data (dataset_fingerprint differs): "
                 + ", ".join(f"{d}: {fp}" for d, fp in prints.items()) + "; compare runs on the same split")

    users = sorted(per_user(runs[0]), key=int)  # every system must have these test users

    def users_of(d):
        pu = per_user(d)
        if set(pu) != set(users):
            sys.exit(f"error: {d} has other test users than {runs[0]}")
        return pu
    systems = []  # (label, {metric: (mean, std over seeds)}, note, per-user values or None)
    names = dict(BASELINES)
    for d in base_dirs:
        f = finals[d]
        pu = users_of(d)
        params = ", ".join(f"{k} {v}" for k, v in f["selected"].items() if v is not None) or "-"
        systems.append((names.get(f["model"], f["model"]), {m: (f["reported"][m], 0.0) for m in METRICS + BEYOND},
                        f"{params}; {f['wall_seconds']:.1f} s", pu))
    def seeds_row(label, dirs):
        """A system trained over seeds: metrics mean ± std, each user's metrics averaged over seeds."""
        vals = {m: (statistics.mean(v := [finals[d]["reported"][m] for d in dirs]), statistics.stdev(v) if len(v) > 1 else 0.0)
                for m in METRICS + BEYOND}
        pus = [users_of(d) for d in dirs]
        wall = statistics.mean(finals[d]["wall_seconds"] for d in dirs)
        took = f"{wall / 60:.1f} min" if wall >= 60 else f"{wall:.0f} s"
        note = f"{len(dirs)} run{'s' if len(dirs) > 1 else ''}; {took} each"
        return label, vals, note, {u: {m: statistics.fmean(p[u][m] for p in pus) for m in METRICS} for u in users}
    systems += [seeds_row(label, dirs) for label, dirs in others]
    cf_row = seeds_row(f"CFGAN ({finals[runs[0]]['protocol']} protocol)", runs)
    cfgan_u = cf_row[3]  # CFGAN: every user's metrics averaged over the seeds
    rows = systems + [cf_row[:3] + (None,)]

    # paired tests of every baseline against CFGAN, Holm-corrected over the baselines, per metric
    tests = {m: [] for m in METRICS}
    for m in METRICS:
        a_vals = [cfgan_u[u][m] for u in users]
        raw = [paired_tests(a_vals, [s[3][u][m] for u in users]) for s in systems]
        for (mean, w, t), wh, th in zip(raw, holm([r[1] for r in raw]), holm([r[2] for r in raw])):
            tests[m].append({"diff": mean, "wilcoxon": w, "t": t, "wilcoxon_holm": wh, "t_holm": th,
                             "significant": wh < a.alpha and th < a.alpha})
    with open(os.path.join(out, "compare.md"), "w") as f:
        f.write(f"| model | {' | '.join(METRICS)} | notes |\n|---|{'---|' * len(METRICS)}---|\n")
        for k, (label, vals, note, _) in enumerate(rows):
            cells = []
            for m in METRICS:
                mean, sd = vals[m]
                mark = "†" if k < len(systems) and tests[m][k]["significant"] else ""
                cells.append(f"{mean:.4f}{mark}" + (f" ± {sd:.4f}" if sd > 0 else ""))
            f.write(f"| {label} | {' | '.join(cells)} | {note} |\n")
        f.write(f"\n† differs from CFGAN with Holm-corrected p < {a.alpha} in both a paired Wilcoxon signed-rank "
                f"test and a paired t-test over the {len(users)} test users"
                + (" (systems trained over several seeds: each user's metrics averaged over the seeds first)"
                   if len(runs) > 1 or any(len(ds) > 1 for _, ds in others) else "")
                + ".\n")
        f.write("\nWhat each system recommends (top 20 of every test user; docs/metrics.md defines them): catalogue "
                "coverage, Gini index of the items' recommendation counts (0 = even), novelty (mean -log2 of the "
                "items' training popularity) and the mean training popularity of the recommended items.\n\n"
                f"| model | {' | '.join(BEYOND)} |\n|---|{'---|' * len(BEYOND)}\n")
        for label, vals, _, _ in rows:
            f.write(f"| {label} | " + " | ".join(f"{vals[m][0]:.4f}" + (f" ± {vals[m][1]:.4f}" if vals[m][1] > 0 else "")
                                                  for m in BEYOND) + " |\n")
        f.write("\n| model | metric | mean difference (model - CFGAN) | Wilcoxon p (Holm) | t-test p (Holm) |\n"
                "|---|---|---|---|---|\n")
        for k, s in enumerate(systems):
            for m in METRICS:
                r = tests[m][k]
                f.write(f"| {s[0]} | {m} | {r['diff']:+.4f} | {r['wilcoxon']:.2g} ({r['wilcoxon_holm']:.2g}) | "
                        f"{r['t']:.2g} ({r['t_holm']:.2g}) |\n")
    json.dump({"users": len(users), "cfgan_runs": runs, "baselines": base_dirs, "systems": dict(others), "alpha": a.alpha,
               "tests": {m: {s[0]: r for s, r in zip(systems, tests[m])} for m in METRICS}},
              open(os.path.join(out, "compare.json"), "w"), indent=1)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    shown = ["P@5", "NDCG@5", "P@20", "NDCG@20"]
    fig, ax = plt.subplots(figsize=(8, 4.4))
    width = 0.8 / len(rows)
    for k, (label, vals, _, _) in enumerate(rows):
        xs = [i + (k - (len(rows) - 1) / 2) * width for i in range(len(shown))]
        errs = [vals[m][1] for m in shown]
        ax.bar(xs, [vals[m][0] for m in shown], width, yerr=errs if any(errs) else None, label=label, capsize=3)
    ax.set_xticks(range(len(shown)))
    ax.set_xticklabels(shown)
    ax.set_ylabel("test metric")
    ax.set_title(f"{name}: CFGAN and baselines on the same split")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=min(len(rows), 3), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "compare.png"), dpi=110, bbox_inches="tight")
    print(open(os.path.join(out, "compare.md")).read())
    print(f"wrote {out}/compare.md, {out}/compare.json and {out}/compare.png")


if __name__ == "__main__":
    main()
