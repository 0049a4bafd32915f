#!/usr/bin/python3
"""Communication model of cfgan's data-parallel training: bytes allreduced per step, steps per
epoch, and the predicted parallel efficiency on p ranks.

usage: tools/comm_model.py CONFIG [--rows R --cols C] [--run DIR] [--bandwidth GBIT] [--latency US] [--ranks 8,64,512]
  --run DIR     a finished np=1 run of CONFIG: its final.json gives rows/cols and the compute time per epoch
  --bandwidth   link bandwidth in Gbit/s (default 100)
  --latency     per-message latency in microseconds (default 2)
Model, per step and network (G or D) with N parameters:
  exchange(p) = 2 (p-1)/p * 4N / bandwidth + 2 log2(p) * latency   (a bandwidth-optimal allreduce, as
                Open MPI picks for large buffers: reduce-scatter + allgather, each rank sending and
                receiving 2(p-1)/p of the buffer in 2 log2(p) rounds; cfgan's mpi exchange)
  epoch(p)    = compute_1 / p_busy * (1 + imbalance(p, B)) + steps_G exchange_G(p) + steps_D exchange_D(p)
                + optimizer_1   (after the allreduce every rank applies Adam to every parameter)
where p_busy = min(p, B) (a mini-batch of B rows cannot use more than B ranks) and imbalance is the
expected excess rows of the busiest rank when B shuffled rows are dealt by owner: the maximum of p
binomial(B, 1/p) counts, ~ z_p sqrt(B/p (1 - 1/p)) / (B/p), z_p the expected maximum of p standard
normals (every step waits for the slowest rank).
"""
import argparse
import json
import math
import os


def read_config(path):
    """The few keys the model needs, read from the YAML config (flat two-level sections)."""
    cfg, section = {}, None
    for line in open(path):
        s = line.split("#")[0].rstrip()
        if not s.strip():
            continue
        if not s.startswith(" "):
            section = s.strip().rstrip(":")
            continue
        k, _, v = s.strip().partition(":")
        cfg[f"{section}.{k.strip()}"] = v.strip()
    ints = lambda v: [int(x) for x in v.strip("[]").split(",")]
    return {"g_hidden": ints(cfg.get("model.g_hidden", "[400]")), "d_hidden": ints(cfg.get("model.d_hidden", "[125]")),
            "g_batch": int(cfg.get("train.g_batch", 32)), "d_batch": int(cfg.get("train.d_batch", 64)),
            "g_steps": int(cfg.get("train.g_steps", 4)), "d_steps": int(cfg.get("train.d_steps", 2))}


def mlp_params(dims):
    return sum(a * b + b for a, b in zip(dims[:-1], dims[1:]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("--rows", type=int)
    ap.add_argument("--cols", type=int)
    ap.add_argument("--run")
    ap.add_argument("--compute", type=float, help="compute seconds per epoch at np=1 (else from --run)")
    ap.add_argument("--bandwidth", type=float, default=100.0)
    ap.add_argument("--latency", type=float, default=2.0)
    ap.add_argument("--ranks", default="1,2,8,64,512")
    a = ap.parse_args()
    c = read_config(a.config)
    compute = optimizer = None
    rows, cols = a.rows, a.cols
    if a.run:
        f = json.load(open(os.path.join(a.run, "final.json")))
        item_mode = "item" in open(os.path.join(a.run, "config.yaml")).read().split("mode:")[1].split("\n")[0]
        rows, cols = (f["items"], f["users"]) if item_mode else (f["users"], f["items"])
        ph, ep = f["phases"], f["epochs_run"]
        compute = sum(ph[k]["avg"] for k in ("sampling", "G forward", "G backward", "D forward", "D backward", "scoring",
                                             "evaluation") if k in ph) / ep
        optimizer = ph["optimizer"]["avg"] / ep
    if a.compute is not None:
        compute = a.compute
    n_g = mlp_params([cols] + c["g_hidden"] + [cols])
    n_d = mlp_params([2 * cols] + c["d_hidden"] + [1])
    # per epoch (one G pass): G steps of one pass, and the D steps of an outer iteration shared by its g_steps epochs
    steps_g = math.ceil(rows / c["g_batch"])
    steps_d = math.ceil(rows / c["d_batch"]) * c["d_steps"] / c["g_steps"]
    bw = a.bandwidth * 1e9 / 8
    lat = a.latency * 1e-6
    mb = lambda n: 4 * (n + 1) / 1e6
    print(f"config {a.config}: {rows} rows x {cols} columns")
    print(f"G: {n_g:,} parameters = {mb(n_g):.2f} MB per allreduce, {steps_g} steps per epoch")
    print(f"D: {n_d:,} parameters = {mb(n_d):.2f} MB per allreduce, {steps_d:g} steps per epoch")
    print(f"allreduced per epoch: {steps_g * mb(n_g) + steps_d * mb(n_d):.1f} MB; network {a.bandwidth:g} Gbit/s, latency {a.latency:g} us")
    if compute is None:
        return
    print(f"compute per epoch at np=1: {compute:.3f} s, optimizer {optimizer or 0:.3f} s")
    print("| ranks | compute s/epoch (incl. imbalance) | exchange s/epoch | predicted s/epoch | speedup | efficiency |")
    print("|---|---|---|---|---|---|")
    base = compute + (optimizer or 0)
    def max_normal(p):  # expected maximum of p standard normals (Blom's approximation)
        if p == 1:
            return 0.0
        from statistics import NormalDist
        return NormalDist().inv_cdf((p - 0.375) / (p + 0.25))
    for p in [int(x) for x in a.ranks.split(",")]:
        busy = min(p, c["g_batch"])
        per = c["g_batch"] / busy
        imb = 0 if p == 1 else max_normal(busy) * math.sqrt(per * (1 - 1 / busy)) / per
        ar = lambda n: 0 if p == 1 else 2 * (p - 1) / p * 4 * n / bw + 2 * math.log2(p) * lat
        comm = steps_g * ar(n_g) + steps_d * ar(n_d)
        t = compute / busy * (1 + imb) + comm + (optimizer or 0)
        print(f"| {p} | {compute / busy * (1 + imb):.4f} | {comm:.4f} | {t:.4f} | {base / t:.2f} | {100 * base / t / p:.1f}% |")


if __name__ == "__main__":
    main()
