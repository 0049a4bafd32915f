#!/usr/bin/python3
"""Inspect and compare cfgan checkpoints (the format of src/ckpt.c).

usage: tools/ckpt.py info CKPT          (header, sections, and whether every parameter and moment is finite)
       tools/ckpt.py diff CKPT_A CKPT_B [--tol 1e-5] [--moments]
       tools/ckpt.py newest RUN_DIR
diff prints, per network, max|a - b| / max|a| over the parameters (with --moments also over Adam's
first and second moments) and exits 1 if any exceeds --tol.
"""
import glob
import os
import struct
import sys

import numpy as np


def read(path):
    data = open(path, "rb").read()
    if data[:8] != b"CFGANCKP" or data[-4:] != b"END!":
        sys.exit(f"{path}: not a complete cfgan checkpoint")
    version, n = struct.unpack_from("<II", data, 8)
    cfg_hash, fp, ranks, epoch, step = struct.unpack_from("<QQiiq", data, 16)
    off = 48
    sections = {}
    for _ in range(n):
        name = data[off:off + 32].split(b"\0")[0].decode()
        (size,) = struct.unpack_from("<Q", data, off + 32)
        sections[name] = data[off + 40:off + 40 + size]
        off += 40 + size
    return {"version": version, "config_hash": f"{cfg_hash:016x}", "fingerprint": f"{fp:016x}", "ranks": ranks,
            "epoch": epoch, "step": step, "sections": sections}


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cmd = sys.argv[1]
    if cmd == "info":
        c = read(sys.argv[2])
        for k in ("version", "config_hash", "fingerprint", "ranks", "epoch", "step"):
            print(f"{k}: {c[k]}")
        for name, blob in c["sections"].items():
            print(f"section {name}: {len(blob)} bytes")
        for n in "gd":  # the networks' Adam step counts (0: never updated)
            print(f"{n}.step: {struct.unpack('<q', c['sections'][f'{n}.step'])[0]}")
        floats = [np.frombuffer(c["sections"][f"{n}.{p}"], dtype=np.float32) for n in "gd" for p in ("params", "m", "v")]
        print("finite:", "yes" if all(np.isfinite(x).all() for x in floats) else "no")
    elif cmd == "newest":
        files = sorted(glob.glob(os.path.join(sys.argv[2], "checkpoints", "ckpt-*.bin")))
        if not files:
            sys.exit(f"{sys.argv[2]}: no checkpoints")
        print(files[-1])
    elif cmd == "diff":
        tol = float(sys.argv[sys.argv.index("--tol") + 1]) if "--tol" in sys.argv else 1e-5
        a, b = read(sys.argv[2]), read(sys.argv[3])
        worst = 0.0
        parts = (("params", "parameters"), ("m", "first moments"), ("v", "second moments"))
        for net in ("g", "d"):
            for sec, what in parts if "--moments" in sys.argv else parts[:1]:
                x = np.frombuffer(a["sections"][f"{net}.{sec}"], dtype=np.float32).astype(np.float64)
                y = np.frombuffer(b["sections"][f"{net}.{sec}"], dtype=np.float32).astype(np.float64)
                if x.shape != y.shape:
                    sys.exit(f"{net}: {x.size} vs {y.size} {what}")
                rel = np.abs(x - y).max() / max(np.abs(x).max(), 1e-30)
                worst = max(worst, rel)
                print(f"{net}: {x.size} {what}, max|a-b|/max|a| = {rel:.3e}")
        sys.exit(0 if worst <= tol else 1)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
