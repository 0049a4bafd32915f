#!/usr/bin/python3
"""Vectorised PyTorch implementation of the CFGAN training loop: the speed and accuracy baseline
for the C trainer.

usage:
  /usr/bin/python3 tools/torch_cfgan.py --train FILE --test FILE [--mode item|user]
      [--scheme ZR|PM|ZP] [--g-hidden 400] [--d-hidden 125] [--zr-ratio 0.7] [--pm-ratio 0.7]
      [--zr-coef 0.03] [--epochs 1000] [--g-steps 4] [--d-steps 2] [--g-batch 32] [--d-batch 64]
      [--g-lr 1e-4] [--d-lr 1e-4] [--g-reg 1e-3] [--d-reg 0] [--outer N] [--eval-every 1]
      [--topk 5,10,20] [--seed 1] [--threads N] [--blas-threads N] [--jsonl FILE]
  /usr/bin/python3 tools/torch_cfgan.py --check-fixture tests/fixtures/metrics

  e.g. 10 outer iterations (40 epochs) of the ML100K reference config on 2 threads:
  /usr/bin/python3 tools/torch_cfgan.py --train ML100K.train --test ML100K.test --outer 10 --threads 2

Run it with Debian's interpreter (/usr/bin/python3, python3-torch 1.13): the `python3` on PATH
may be an interpreter without torch. The defaults are the ML100K reference config (item-based ZP).
--g-hidden / --d-hidden take comma-separated widths for several hidden layers (Ciao: --d-hidden
50,50,50,50).

What it implements (../../shared/reference/CFGAN.md, the authors' TensorFlow code's behaviour):
- Data: `user item rating` lines, 0-based ids, every line a positive (ratings ignored). Users =
  max user id + 1 over train and test, items likewise. Rows are items (vectors over users) in
  item mode, users (vectors over items) in user mode; n = number of columns.
- G: MLP n -> hidden (sigmoid) ... -> n with a linear output; input e_r (no noise). D: MLP 2n ->
  hidden (sigmoid) ... -> 1 logit on [c, x]. Weights stored (in, out), y = x @ W + b, W ~
  U(+-sqrt(6/(fan_in+fan_out))), b ~ U(+-0.01); all drawn from the one seeded generator, G's
  layers first, then D's, each layer W then b.
- Outer iterations T = epochs // g_steps (or --outer, whichever is smaller). Each one: draw the
  ZR and PM negatives of every row (floor(|U_r| * ratio) unobserved columns, without
  replacement); d_steps passes over all rows in shuffled mini-batches of d_batch (one D update per
  batch, last batch may be smaller); g_steps passes with g_batch (one G update per batch).
- Losses (batch means): D: bce(D([e,e]),1) + bce(D([e,G(e)*k]),0) + d_reg*l2(D);
  G: bce(D([e,G(e)*k]),1) + g_reg*l2(G) + zr_coef*mean_b sum_j z_j G(e)_j^2 (ZR/ZP only), with
  k = e plus the PM columns (PM/ZP) or k = e, l2 = sum of squares / 2 over all weights and biases.
  G's output is computed without gradient in the D step; in the G step only G's parameters are
  differentiated. The L2 terms are folded into the gradients (g + reg * w), as in the C trainer.
- Adam in TensorFlow's form, written out on the parameter tensors: m = b1 m + (1-b1) g,
  v = b2 v + (1-b2) g^2, lr_t = lr sqrt(1-b2^t)/(1-b1^t), w -= lr_t m / (sqrt(v) + eps).
- Evaluation after every G pass whose epoch (count of G passes) is a multiple of --eval-every, and
  after the last one: scores G(e_r) for all rows (transposed to users x items in item mode),
  training items excluded, top-K with ties broken towards the lower item index, averaged over the
  users with at least one test item: P@K, R@K, NDCG@K, MRR@K (definitions in metrics()).
- Reported losses are the C trainer's: the mean batch data loss (adversarial + ZR) of the last D
  pass and of the G pass just finished, plus reg * l2 of the current weights.

Deliberate differences from the authors' code:
- Seeded and repeatable (--seed): the authors reseed from the wall clock.
- The ZR and PM sets are two independent draws. In the authors' code both draws follow a reseed
  with the same wall-clock second, so there Z_r = P_r in practice.
- Negatives are drawn for all rows at once by thresholding random keys (sample_negatives), not
  with Python's random.sample, so the draws differ from any per-row implementation for one seed.

Implementation notes (speed; none of them changes what is computed):
- No Python loop over rows anywhere: loops are over outer iterations, passes and mini-batches.
  Everything is float32 and dense (the datasets are small). Gradients come from torch.autograd
  (D's parameters are not differentiated in the G step, nor G's in the D step); each network's
  parameters live in one flat buffer so that Adam is a few whole-buffer ops (class Net).
- D's first layer is split into its condition and sample halves, so c @ W0[:n] is computed once
  per batch for the real and the fake sample and no 2n-wide input is concatenated.
- Threads: torch.set_num_threads(--threads, default os.cpu_count(); Debian's torch otherwise
  starts with 1 here) and OpenBLAS's separate pthread pool gets --blas-threads (default
  --threads). OMP_WAIT_POLICY defaults to PASSIVE (see the comment at the imports).
- BLAS: Debian's torch 1.13 (BLAS_INFO=generic) calls the system libblas.so.3, i.e. OpenBLAS
  0.3.21 (openblas-pthread). That OpenBLAS picks generic Prescott (SSE3) kernels on this CPU, so,
  like the C trainer (src/blas.c), the script re-executes itself once with
  OPENBLAS_CORETYPE=SkylakeX (Haswell on AVX2-only CPUs); CFGAN_BLAS_AUTOFIX=0 or an explicit
  OPENBLAS_CORETYPE disables that. The choice is printed and written to the JSONL summary.
- Wall time is measured per phase (sampling, D passes, G passes, evaluation) with
  time.perf_counter(); "seconds per outer iteration" is the whole loop's wall time / iterations.
"""
import argparse
import ctypes
import json
import math
import os
import sys
import time

# libgomp reads OMP_WAIT_POLICY when `import torch` loads it. Its default lets idle OpenMP threads
# spin between parallel regions; on a machine with other load (or OpenBLAS's own threads) the
# spinning threads keep the one doing the work off the cores, and measured 10-15x slower runs here
# with --threads 2. PASSIVE makes them sleep; an explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

BETA1, BETA2, ADAM_EPS = 0.9, 0.999, 1e-8


# ---- data ---------------------------------------------------------------------------------------

def read_pairs(path):
    """(user, item) int64 arrays from a `user item [rating]` file; `#` lines are comments."""
    a = np.loadtxt(path, comments="#", usecols=(0, 1), dtype=np.int64, ndmin=2)
    return a[:, 0], a[:, 1]


def dense(users, items, n_users, n_items):
    """Boolean users x items matrix with the given pairs set."""
    m = torch.zeros(n_users, n_items, dtype=torch.bool)
    m[torch.from_numpy(users), torch.from_numpy(items)] = True
    return m


# ---- metrics ------------------------------------------------------------------------------------

def rank_keys(scores):
    """int64 keys whose descending order is the ranking: score descending, ties by lower index.

    A float32 is mapped to an int32 with the same order (non-negative floats keep their bits,
    negative ones get their 31 magnitude bits flipped; -0.0 is first turned into +0.0, so equal
    floats get equal int32 values), shifted into the high 32 bits, and the low 32 bits hold
    (n - 1 - index). The keys are therefore all distinct, distinct scores are never reordered,
    and torch.topk on them is exact and deterministic (no epsilon, no reliance on topk's tie order).
    """
    s = scores.to(torch.float32) + 0.0  # -0.0 + 0.0 == +0.0
    bits = s.view(torch.int32).to(torch.int64)  # sign-extended
    ordered = torch.where(bits < 0, bits ^ 0x7FFFFFFF, bits)
    n = s.shape[1]
    tie = (n - 1) - torch.arange(n, dtype=torch.int64)
    return ordered * (1 << 32) + tie  # |ordered| <= 2^31: no int64 overflow


def metrics(scores, train, test, ks):
    """Top-K metrics of a users x items score matrix (the authors' definitions, CFGAN.md).

    scores: float tensor (users x items); train, test: bool tensors of the same shape. Training
    items are excluded (score -inf), the ranking is by score with ties towards the lower item
    index, and every value is the mean over the users with >= 1 test item of
      P@K = hits/K, R@K = hits/|T_u|, NDCG@K = DCG/IDCG with DCG = sum over hit positions p
      (1-based) of 1/log2(p+1) and IDCG the same sum over positions 1..min(|T_u|, K),
      MRR@K = 1/p of the first hit within K (0 if none).
    Returns (dict name -> float, top-K item indices of the test users, the test users' ids).
    """
    kmax = max(ks)
    if kmax > scores.shape[1]:
        raise ValueError(f"cutoff {kmax} exceeds the number of items {scores.shape[1]}")
    n_test = test.sum(1)
    users = torch.nonzero(n_test > 0).squeeze(1)
    s = scores[users].masked_fill(train[users], float("-inf"))
    if torch.isnan(s).any():
        raise FloatingPointError("NaN among the scores")
    top = torch.topk(rank_keys(s), kmax, dim=1, largest=True, sorted=True).indices
    hits = test[users].gather(1, top).to(torch.float64)  # (test users, kmax), position order
    nt = n_test[users].to(torch.float64)
    pos = torch.arange(1, kmax + 1, dtype=torch.float64)
    disc = 1.0 / torch.log2(pos + 1.0)
    dcg = torch.cumsum(hits * disc, 1)
    idcg_all = torch.cumsum(disc, 0)
    n_hits = torch.cumsum(hits, 1)
    rr = torch.cummax(hits / pos, 1).values  # 1/p of the first hit: 1/p decreases with p
    out = {}
    for k in ks:
        h = n_hits[:, k - 1]
        idcg = idcg_all[(torch.clamp(nt, max=k) - 1).long()]
        out[f"P@{k}"] = (h / k).mean().item()
        out[f"R@{k}"] = (h / nt).mean().item()
        out[f"NDCG@{k}"] = (dcg[:, k - 1] / idcg).mean().item()
        out[f"MRR@{k}"] = rr[:, k - 1].mean().item()
    return out, top, users


def check_fixture(d):
    """Metrics of the fixture's score matrix vs small.expected.json (and the ranked top-20 vs
    small.top20). Returns the process exit status."""
    scores = torch.from_numpy(np.loadtxt(os.path.join(d, "small.scores"), comments="#", dtype=np.float32, ndmin=2))
    n_users, n_items = scores.shape
    train = dense(*read_pairs(os.path.join(d, "small.train")), n_users, n_items)
    test = dense(*read_pairs(os.path.join(d, "small.test")), n_users, n_items)
    with open(os.path.join(d, "small.expected.json")) as f:
        expected = json.load(f)
    ks = sorted({int(name.split("@")[1]) for name in expected})
    got, top, users = metrics(scores, train, test, ks)
    bad = 0
    for name in sorted(expected, key=lambda s: (s.split("@")[0], int(s.split("@")[1]))):
        diff = abs(got[name] - expected[name])
        ok = diff <= 1e-6
        bad += not ok
        print(f"{name:8s} expected {expected[name]:.10f}  got {got[name]:.10f}  |diff| {diff:.1e}  {'ok' if ok else 'MISMATCH'}")
    print(f"metric values: {len(expected) - bad}/{len(expected)} within 1e-6")
    top_path = os.path.join(d, "small.top20")
    if os.path.exists(top_path) and max(ks) >= 20:
        ref = np.loadtxt(top_path, comments="#", dtype=np.int64, ndmin=2)
        # one line per user; every fixture user has test items, so `users` is all of them
        mine = np.full((n_users, 20), -1, dtype=np.int64)
        mine[users.numpy()] = top[:, :20].numpy()
        same = ref.shape == mine.shape and bool((ref == mine).all())
        print(f"top-20 lists: {'identical to' if same else 'DIFFERENT from'} small.top20")
        bad += not same
    print(f"fixture check: {'passed' if bad == 0 else 'FAILED'}")
    return 0 if bad == 0 else 1


# ---- networks and optimiser ---------------------------------------------------------------------

class Net:
    """An MLP's parameters in one flat float32 buffer, with Adam (TensorFlow's form) on it.

    params are (in, out) weight and bias views into `flat`, initialised in layer order with
    W ~ U(+-sqrt(6/(fan_in+fan_out))), b ~ U(+-0.01). Keeping everything flat makes an Adam update
    a handful of element-wise ops on one tensor instead of several per parameter; each parallel
    op is an OpenMP barrier, and on a busy machine those barriers dominated the run time.
    """

    def __init__(self, dims, gen, lr, reg):
        sizes = [(i * o, o) for i, o in zip(dims[:-1], dims[1:])]
        self.flat = torch.empty(sum(a + b for a, b in sizes))
        self.params, off = [], 0
        for (fan_in, fan_out), (nw, nb) in zip(zip(dims[:-1], dims[1:]), sizes):
            r = math.sqrt(6.0 / (fan_in + fan_out))
            w = self.flat[off:off + nw].view(fan_in, fan_out).uniform_(-r, r, generator=gen)
            b = self.flat[off + nw:off + nw + nb].uniform_(-0.01, 0.01, generator=gen)
            self.params += [w.requires_grad_(), b.requires_grad_()]
            off += nw + nb
        self.lr, self.reg, self.t = lr, reg, 0
        self.m = torch.zeros_like(self.flat)
        self.v = torch.zeros_like(self.flat)
        self.grad = torch.empty_like(self.flat)  # preallocated: a fresh 3 MB buffer per step costs page faults
        self.den = torch.empty_like(self.flat)

    def l2_half(self):
        return float(torch.dot(self.flat, self.flat)) / 2.0

    @torch.no_grad()
    def adam_step(self, grads):
        """One update from the data-loss gradients (one per param), L2 folded in: g + reg * w."""
        self.t += 1
        lr_t = self.lr * math.sqrt(1.0 - BETA2 ** self.t) / (1.0 - BETA1 ** self.t)
        g = torch.cat([x.reshape(-1) for x in grads], out=self.grad)
        if self.reg:
            g.add_(self.flat, alpha=self.reg)
        self.m.mul_(BETA1).add_(g, alpha=1.0 - BETA1)
        self.v.mul_(BETA2).addcmul_(g, g, value=1.0 - BETA2)
        torch.sqrt(self.v, out=self.den).add_(ADAM_EPS)
        self.flat.addcdiv_(self.m, self.den, value=-lr_t)


def generator(params, e):
    """G(e): sigmoid hidden layers, linear output."""
    h = e
    last = len(params) // 2 - 1
    for i in range(0, len(params), 2):
        h = torch.addmm(params[i + 1], h, params[i])
        if i // 2 < last:
            h = torch.sigmoid(h)
    return h


def discriminator(params, n, c_part, x):
    """D([c, x]) logits, shape (batch,). The first layer is split, [c, x] @ W0 = c @ W0[:n] +
    x @ W0[n:], so that the caller can share c @ W0[:n] between several x (c_part, already with
    the bias b0 added) and no concatenated 2n-wide input is built."""
    h = torch.sigmoid(c_part + x @ params[0][n:])
    for i in range(2, len(params), 2):
        h = torch.addmm(params[i + 1], h, params[i])
        if i < len(params) - 2:
            h = torch.sigmoid(h)
    return h.squeeze(1)


# ---- negative sampling --------------------------------------------------------------------------

KEY_MAX = 2**31 - 1


def rank_select(observed, count, gen):
    """Bool mask with count[r] columns per row drawn without replacement from the row's
    unobserved columns, by sorting float64 random keys (observed columns get key 2) and scattering
    ones into the first count[r] sorted positions. Always exact, but torch's sort is slow
    (~80 ms for ML100K's 1653 x 943): used only for the rare rows that sample_negatives hands over."""
    rows, n = observed.shape
    keys = torch.rand(rows, n, generator=gen, dtype=torch.float64).masked_fill_(observed, 2.0)
    order = torch.sort(keys, dim=1, stable=True).indices
    take = torch.arange(n).unsqueeze(0) < count.unsqueeze(1)
    return torch.zeros(rows, n, dtype=torch.bool).scatter_(1, order, take)


def sample_negatives(observed, ratio, gen, key_max=KEY_MAX):
    """0/1 float mask with floor(|U_r| * ratio) columns per row drawn uniformly without
    replacement from the row's unobserved columns U_r, for all rows at once.

    Every column gets a random int32 key in [0, key_max), observed columns the key KEY_MAX; the
    count_r-th smallest key of row r (numpy's AVX-512 sort of 32-bit keys, ~10x faster than
    torch.sort) is the threshold, and the columns with keys <= threshold are taken. If a row's
    threshold key is tied (probability ~n/2^31 per row) more than count_r columns pass; such rows are
    redrawn with rank_select, which keeps the draw exact and uniform (the tie event is symmetric in
    the columns). key_max is a parameter only so that a test can force ties."""
    rows, n = observed.shape
    unobs = (n - observed.sum(1)).to(torch.float64)
    count = torch.floor(unobs * ratio).to(torch.int64)  # float64, like Python's int(len * ratio)
    keys = torch.randint(0, key_max, (rows, n), generator=gen, dtype=torch.int32)
    keys.masked_fill_(observed, KEY_MAX)
    srt = torch.from_numpy(np.sort(keys.numpy(), axis=1))
    th = srt.gather(1, (count - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
    th = torch.where(count > 0, th, torch.full_like(th, -1))
    mask = keys <= th.unsqueeze(1)
    tied = torch.nonzero(mask.sum(1) != count).squeeze(1)
    if len(tied):
        mask[tied] = rank_select(observed[tied], count[tied], gen)
    return mask.to(torch.float32)


# ---- training -----------------------------------------------------------------------------------

GENERIC_CORES = {"prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "coppermine",
                 "northwood", "banias"}


def openblas():
    """The OpenBLAS library torch computes with, or None. Debian's torch calls the system libblas,
    which the openblas-pthread alternative provides; loading it again returns the same handle."""
    try:
        with open("/proc/self/maps") as f:
            if "libopenblas" not in f.read():
                return None
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib
    except (OSError, AttributeError):
        return None


def best_core():
    """The best OpenBLAS 0.3.21 kernel set this CPU can run (the C trainer's src/blas.c rule)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return None
    if {"avx512f", "avx512bw", "avx512vl"} <= set(flags):
        return "SkylakeX"
    if {"avx2", "fma"} <= set(flags):
        return "Haswell"
    return None


def blas_autoselect():
    """Do what the C trainer does (src/blas.c): Debian's OpenBLAS 0.3.21 does not know recent CPUs
    and falls back to generic kernels (Prescott, SSE3) on them; if so, re-execute this script once
    with OPENBLAS_CORETYPE set to the best kernel set the CPU supports. OPENBLAS_CORETYPE set by the
    user is respected; CFGAN_BLAS_AUTOFIX=0 disables the re-execution. Returns a description."""
    lib = openblas()
    if lib is None:
        return "not OpenBLAS"
    core = lib.openblas_get_corename().decode()
    if os.environ.get("CFGAN_BLAS_NOTE"):  # we are the re-executed process
        return os.environ["CFGAN_BLAS_NOTE"]
    if "OPENBLAS_CORETYPE" in os.environ:
        return f"{core} (OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} set by the user)"
    best = best_core()
    if os.environ.get("CFGAN_BLAS_AUTOFIX") == "0" or best is None or core.lower() not in GENERIC_CORES:
        return f"{core} (as OpenBLAS detected)"
    note = f"{best} (auto: OpenBLAS chose generic {core} kernels; CFGAN_BLAS_AUTOFIX=0 disables)"
    env = dict(os.environ, OPENBLAS_CORETYPE=best, CFGAN_BLAS_NOTE=note)
    try:
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    except OSError:
        return f"{core} (could not re-execute with OPENBLAS_CORETYPE={best})"


def set_threads(threads, blas_threads):
    """torch's intra-op (OpenMP) threads, and OpenBLAS's own pthread pool, which
    torch.set_num_threads does not touch (torch only sets MKL's)."""
    torch.set_num_threads(threads)
    lib = openblas()
    if lib is not None:
        lib.openblas_set_num_threads(ctypes.c_int(blas_threads))


def widths(s):
    return [int(x) for x in str(s).split(",") if x.strip()]


def train(a):
    gen = torch.Generator().manual_seed(a.seed)
    tr_u, tr_i = read_pairs(a.train)
    te_u, te_i = read_pairs(a.test)
    n_users = int(max(tr_u.max(), te_u.max())) + 1
    n_items = int(max(tr_i.max(), te_i.max())) + 1
    train_m = dense(tr_u, tr_i, n_users, n_items)  # users x items
    test_m = dense(te_u, te_i, n_users, n_items)
    observed = train_m.t().contiguous() if a.mode == "item" else train_m  # rows x columns
    E = observed.to(torch.float32)
    rows, n = E.shape
    use_zr, use_pm = a.scheme in ("ZR", "ZP"), a.scheme in ("PM", "ZP")
    ks = widths(a.topk)

    G = Net([n] + widths(a.g_hidden) + [n], gen, a.g_lr, a.g_reg)
    D = Net([2 * n] + widths(a.d_hidden) + [1], gen, a.d_lr, a.d_reg)
    g_params, d_params = G.params, D.params

    total_outer = a.epochs // a.g_steps
    outer = total_outer if a.outer is None else min(a.outer, total_outer)
    last_epoch = outer * a.g_steps
    print(f"{a.mode}-based {a.scheme}: {n_users} users x {n_items} items, {rows} rows of {n} columns, "
          f"{len(tr_u)} train / {len(te_u)} test pairs; {outer} outer iterations of {a.d_steps} D and "
          f"{a.g_steps} G passes; {torch.get_num_threads()} threads ({a.blas_threads} OpenBLAS), BLAS {a.blas}",
          flush=True)
    jf = open(a.jsonl, "w") if a.jsonl else None
    t_phase = {"sampling": 0.0, "d_steps": 0.0, "g_steps": 0.0, "eval": 0.0}
    d_loss_pass = g_loss_pass = float("nan")
    ones = torch.ones(max(a.d_batch, a.g_batch))
    zeros = torch.zeros(max(a.d_batch, a.g_batch))
    t_start = time.perf_counter()

    for it in range(outer):
        # -- negatives for every row
        t0 = time.perf_counter()
        K = E + sample_negatives(observed, a.pm_ratio, gen) if use_pm else E
        Z = sample_negatives(observed, a.zr_ratio, gen) if use_zr else None
        t1 = time.perf_counter()
        t_phase["sampling"] += t1 - t0

        # -- discriminator passes
        for _ in range(a.d_steps):
            perm = torch.randperm(rows, generator=gen)
            acc, nb = 0.0, 0
            for s in range(0, rows, a.d_batch):
                idx = perm[s:s + a.d_batch]
                e, B = E[idx], len(idx)
                with torch.no_grad():
                    fake = generator(g_params, e) * K[idx]
                c = torch.addmm(d_params[1], e, d_params[0][:n])  # shared by real and fake
                logit_real = discriminator(d_params, n, c, e)
                logit_fake = discriminator(d_params, n, c, fake)
                loss = (F.binary_cross_entropy_with_logits(logit_real, ones[:B])
                        + F.binary_cross_entropy_with_logits(logit_fake, zeros[:B]))
                D.adam_step(torch.autograd.grad(loss, d_params))
                acc += loss.item()
                nb += 1
            d_loss_pass = acc / nb
        t2 = time.perf_counter()
        t_phase["d_steps"] += t2 - t1

        # -- generator passes, each followed by an evaluation when due
        for gp in range(a.g_steps):
            tg = time.perf_counter()
            perm = torch.randperm(rows, generator=gen)
            acc, nb = 0.0, 0
            for s in range(0, rows, a.g_batch):
                idx = perm[s:s + a.g_batch]
                e, B = E[idx], len(idx)
                g = generator(g_params, e)
                with torch.no_grad():
                    c = torch.addmm(d_params[1], e, d_params[0][:n])
                logit = discriminator(d_params, n, c, g * K[idx])
                loss = F.binary_cross_entropy_with_logits(logit, ones[:B])
                if use_zr:
                    loss = loss + a.zr_coef * (Z[idx] * g * g).sum(1).mean()
                G.adam_step(torch.autograd.grad(loss, g_params))
                acc += loss.item()
                nb += 1
            g_loss_pass = acc / nb
            te = time.perf_counter()
            t_phase["g_steps"] += te - tg
            if not (math.isfinite(d_loss_pass) and math.isfinite(g_loss_pass)):
                sys.exit(f"non-finite loss at epoch {it * a.g_steps + gp + 1}")

            epoch = it * a.g_steps + gp + 1
            if epoch % a.eval_every == 0 or epoch == last_epoch:
                with torch.no_grad():
                    out = generator(g_params, E)  # rows x columns
                    scores = out.t() if a.mode == "item" else out  # users x items
                    m, _, _ = metrics(scores, train_m, test_m, ks)
                t_phase["eval"] += time.perf_counter() - te
                d_loss = d_loss_pass + a.d_reg * D.l2_half()
                g_loss = g_loss_pass + a.g_reg * G.l2_half()
                secs = time.perf_counter() - t_start
                line = "  ".join([f"epoch {epoch}", f"D {d_loss:.5f} G {g_loss:.5f}",
                                  " ".join(f"P@{k} {m[f'P@{k}']:.4f}" for k in ks),
                                  " ".join(f"NDCG@{k} {m[f'NDCG@{k}']:.4f}" for k in ks), f"{secs:.2f}s"])
                print(line, flush=True)
                if jf:
                    rec = {"epoch": epoch, "d_loss": d_loss, "g_loss": g_loss, "seconds": secs}
                    for name in ("P", "R", "NDCG", "MRR"):
                        for k in ks:
                            rec[f"{name}@{k}"] = m[f"{name}@{k}"]
                    jf.write(json.dumps(rec) + "\n")
                    jf.flush()

    total = time.perf_counter() - t_start
    per = {k: v / max(outer, 1) for k, v in t_phase.items()}
    spo = total / max(outer, 1)
    print(f"outer iterations: {outer}, seconds per outer iteration: {spo:.4f} (sampling {per['sampling']:.4f}, "
          f"D {per['d_steps']:.4f}, G {per['g_steps']:.4f}, eval {per['eval']:.4f})", flush=True)
    if jf:
        jf.write(json.dumps({"summary": True, "outer": outer, "seconds_per_outer": spo, **per,
                             "threads": torch.get_num_threads(),
                             "blas_threads": a.blas_threads, "blas": a.blas}) + "\n")
        jf.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train")
    p.add_argument("--test")
    p.add_argument("--mode", choices=("item", "user"), default="item")
    p.add_argument("--scheme", choices=("ZR", "PM", "ZP"), default="ZP")
    p.add_argument("--g-hidden", default="400", help="hidden widths of G, comma-separated")
    p.add_argument("--d-hidden", default="125", help="hidden widths of D, comma-separated")
    p.add_argument("--zr-ratio", type=float, default=0.7)
    p.add_argument("--pm-ratio", type=float, default=0.7)
    p.add_argument("--zr-coef", type=float, default=0.03)
    p.add_argument("--epochs", type=int, default=1000, help="G passes; outer iterations = epochs // g_steps")
    p.add_argument("--g-steps", type=int, default=4)
    p.add_argument("--d-steps", type=int, default=2)
    p.add_argument("--g-batch", type=int, default=32)
    p.add_argument("--d-batch", type=int, default=64)
    p.add_argument("--g-lr", type=float, default=1e-4)
    p.add_argument("--d-lr", type=float, default=1e-4)
    p.add_argument("--g-reg", type=float, default=1e-3)
    p.add_argument("--d-reg", type=float, default=0.0)
    p.add_argument("--outer", type=int, default=None, help="stop after N outer iterations")
    p.add_argument("--eval-every", type=int, default=1, help="evaluate every N epochs (G passes)")
    p.add_argument("--topk", default="5,10,20")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--blas-threads", type=int, default=None, help="OpenBLAS threads (default: --threads)")
    p.add_argument("--jsonl", help="write one JSON object per evaluation and a summary line")
    p.add_argument("--check-fixture", metavar="DIR",
                   help="check the metric code on DIR/small.{train,test,scores,expected.json} and exit")
    a = p.parse_args()
    if not a.check_fixture:
        if not a.train or not a.test:
            p.error("--train and --test are required")
        for name in ("epochs", "g_steps", "d_steps", "g_batch", "d_batch", "eval_every", "threads"):
            if getattr(a, name) < 1:
                p.error(f"--{name.replace('_', '-')} must be >= 1")
        if a.blas_threads is not None and a.blas_threads < 1:
            p.error("--blas-threads must be >= 1")
        if a.outer is not None and a.outer < 1:
            p.error("--outer must be >= 1")
        if not widths(a.g_hidden) or not widths(a.d_hidden):
            p.error("G and D need at least one hidden layer")
    a.blas = blas_autoselect()  # may re-execute this script with OPENBLAS_CORETYPE set
    if a.blas_threads is None:
        a.blas_threads = a.threads
    set_threads(a.threads, a.blas_threads)
    if a.check_fixture:
        sys.exit(check_fixture(a.check_fixture))
    train(a)


if __name__ == "__main__":
    main()
