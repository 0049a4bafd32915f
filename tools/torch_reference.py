#!/usr/bin/python3
"""Independent PyTorch reference of one CFGAN D step and one G step (CFGAN.md, the TensorFlow
reference code's definitions), for the C cross-check in tests/test_torch.c.

usage: torch_reference.py IN.cfgt OUT.cfgt

IN holds named float32 tensors written by the C test: the weights of G and D ("g.W0", "g.b0", ...,
"d.W0", ... with W stored (in, out)), the batch's condition vectors "e" (B, n), the PM mask "k"
(B, n), the ZR mask "z" (B, n) and "hp" = [zr_coef, g_reg, d_reg, g_lr, d_lr, beta1, beta2, eps,
hidden (0 sigmoid, 1 tanh, 2 relu), g_output (0 linear, 1 sigmoid), use_zr].
OUT gets the forward values, the losses, the gradients of the data losses (without L2, which the
C code folds into the optimizer), and the parameters after one Adam step (TensorFlow form, L2
gradient included), each starting from the IN weights.
"""
import struct
import sys

import torch

MAGIC = b"CFGT"


def read_tensors(path):
    out = {}
    with open(path, "rb") as f:
        if f.read(4) != MAGIC:
            sys.exit(f"{path}: not a tensor file")
        version, count = struct.unpack("<II", f.read(8))
        for _ in range(count):
            (nlen,) = struct.unpack("<I", f.read(4))
            name = f.read(nlen).decode()
            (ndim,) = struct.unpack("<I", f.read(4))
            dims = struct.unpack(f"<{ndim}I", f.read(4 * ndim))
            n = 1
            for d in dims:
                n *= d
            data = torch.frombuffer(bytearray(f.read(4 * n)), dtype=torch.float32).clone()
            out[name] = data.reshape(dims) if ndim else data.reshape(())
    return out


def write_tensors(path, tensors):
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<II", 1, len(tensors)))
        for name, t in tensors.items():
            t = t.detach().to(torch.float32).contiguous()
            dims = list(t.shape)
            f.write(struct.pack("<I", len(name)) + name.encode())
            f.write(struct.pack(f"<I{len(dims)}I", len(dims), *dims))
            f.write(t.numpy().tobytes())


def layers(t, prefix):
    n = 0
    while f"{prefix}.W{n}" in t:
        n += 1
    return [(t[f"{prefix}.W{i}"].clone().requires_grad_(), t[f"{prefix}.b{i}"].clone().requires_grad_()) for i in range(n)]


def mlp(x, params, hidden, out_act):
    for i, (w, b) in enumerate(params):
        x = x @ w + b
        x = hidden(x) if i < len(params) - 1 else out_act(x)
    return x


def adam_tf(params, grads, lr, beta1, beta2, eps, reg):
    """One Adam step from zero moments, TensorFlow's form, on g = grad + reg * w."""
    out = []
    t = 1
    lr_t = lr * (1 - beta2**t) ** 0.5 / (1 - beta1**t)
    for w, g in zip(params, grads):
        g = g + reg * w.detach()
        m = (1 - beta1) * g
        v = (1 - beta2) * g * g
        out.append(w.detach() - lr_t * m / (v.sqrt() + eps))
    return out


def main():
    t = read_tensors(sys.argv[1])
    hp = t["hp"].tolist()
    zr_coef, g_reg, d_reg, g_lr, d_lr, beta1, beta2, eps, hid, gout, use_zr = hp
    hidden = [torch.sigmoid, torch.tanh, torch.relu][int(hid)]
    g_out_act = torch.sigmoid if int(gout) == 1 else (lambda x: x)
    e, k, z = t["e"], t["k"], t["z"]
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    res = {}

    # D step: G is fixed, D's data loss is bce(D(e, e), 1) + bce(D(e, G(e)*k), 0), batch means
    G, D = layers(t, "g"), layers(t, "d")
    with torch.no_grad():
        g_val = mlp(e, G, hidden, g_out_act)
    fake = g_val * k
    logit_real = mlp(torch.cat([e, e], 1), D, hidden, lambda x: x).squeeze(1)
    logit_fake = mlp(torch.cat([e, fake], 1), D, hidden, lambda x: x).squeeze(1)
    d_loss = bce(logit_real, torch.ones_like(logit_real)) + bce(logit_fake, torch.zeros_like(logit_fake))
    d_params = [p for wb in D for p in wb]
    d_grads = torch.autograd.grad(d_loss, d_params)
    res["g.out"] = g_val
    res["d.logit_real"] = logit_real
    res["d.logit_fake"] = logit_fake
    res["d.loss"] = d_loss.reshape(1)
    names = [f"{kind}{i}" for i in range(len(D)) for kind in ("W", "b")]
    for name, g in zip(names, d_grads):
        res[f"d.grad.{name}"] = g
    for name, w in zip(names, adam_tf(d_params, d_grads, d_lr, beta1, beta2, eps, d_reg)):
        res[f"d.after.{name}"] = w

    # G step from the same starting weights: bce(D(e, G(e)*k), 1) + zr_coef * mean_b sum_j z*G^2
    G, D = layers(t, "g"), layers(t, "d")
    g_val = mlp(e, G, hidden, g_out_act)
    logit = mlp(torch.cat([e, g_val * k], 1), D, hidden, lambda x: x).squeeze(1)
    g_loss = bce(logit, torch.ones_like(logit))
    if use_zr:
        g_loss = g_loss + zr_coef * (z * g_val * g_val).sum(1).mean()
    g_params = [p for wb in G for p in wb]
    g_grads = torch.autograd.grad(g_loss, g_params)
    res["g.loss"] = g_loss.reshape(1)
    names = [f"{kind}{i}" for i in range(len(G)) for kind in ("W", "b")]
    for name, g in zip(names, g_grads):
        res[f"g.grad.{name}"] = g
    for name, w in zip(names, adam_tf(g_params, g_grads, g_lr, beta1, beta2, eps, g_reg)):
        res[f"g.after.{name}"] = w
    write_tensors(sys.argv[2], res)


if __name__ == "__main__":
    main()
