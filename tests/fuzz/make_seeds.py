#!/usr/bin/env python3
"""Write the seed corpora of the checkpoint, evaluate and recommend fuzz targets
(tests/fuzz/corpus-{ckpt,evaluate,recommend}/seed-*). Run from anywhere; rewrites only seed-* files
(crash regressions kept beside them have other names). The layouts are the harnesses' own: see
tests/fuzz/fuzz_ckpt.c, fuzz_evaluate.c and fuzz_recommend.c."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
M64 = (1 << 64) - 1


def hash_mix(x):  # util.c's splitmix64 finaliser
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & M64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def hash64(h, data):  # util.c's hash64
    n, p = len(data), 0
    while n - p >= 8:
        (w,) = struct.unpack_from("<Q", data, p)
        h = (hash_mix(h ^ w) + 0x9E3779B97F4A7C15) & M64
        p += 8
    w = int.from_bytes(data[p:] + bytes(8 - (n - p)), "little")
    return hash_mix(h ^ w ^ (((n - p) << 56) & M64))


def checkpoint(sections, step=7, n=None, version=2):  # ckpt.c CKPT_VERSION
    """A checkpoint image without its checksum and end marker (ckpt.c's layout)."""
    b = b"CFGANCKP" + struct.pack("<II", version, len(sections) if n is None else n)
    b += struct.pack("<QQiiq", 0x1234, 0x5678, 1, 2, step)
    for name, data in sections:
        b += name.encode().ljust(32, b"\0")[:32] + struct.pack("<Q", len(data)) + data
    return b


def sealed(img):
    return img + struct.pack("<Q", hash64(0x636B7074, img)) + b"END!"


def write(corpus, name, data):
    d = os.path.join(HERE, "corpus-" + corpus)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


secs = [("state", b"abc"), ("g.params", struct.pack("<2f", 0.5, -1.0)), ("config.yaml", b"train:\n  epochs: 3\n")]
# checkpoint: the first byte's bit 0 asks the harness to seal the rest, bit 1 adds the directory
# lookup, bits 2-3 pick the file name
write("ckpt", "valid", b"\x00" + sealed(checkpoint(secs)))
write("ckpt", "valid-dir", b"\x02" + sealed(checkpoint(secs)))
write("ckpt", "sealed-by-harness", b"\x01" + checkpoint(secs))
write("ckpt", "sealed-dir-name1", b"\x07" + checkpoint(secs[:1]))
write("ckpt", "no-sections", b"\x01" + checkpoint([]))
write("ckpt", "duplicate-names", b"\x01" + checkpoint([("a", b"1"), ("a", b"22")]))
write("ckpt", "too-many-sections", b"\x01" + checkpoint([], n=33))
write("ckpt", "section-past-end", b"\x01" + checkpoint([("x", b"12345678")])[:-4])
write("ckpt", "bad-checksum", b"\x02" + sealed(checkpoint(secs))[:-13] + b"\xff" + sealed(checkpoint(secs))[-12:])
write("ckpt", "version-1", b"\x01" + checkpoint(secs, version=1))  # another version: refused
write("ckpt", "truncated", b"\x00" + sealed(checkpoint(secs))[:30])

# evaluate: first byte = --format (bits 0-1: cfgan, ml100k, ml1m, tsv) and --topk (bits 2-4);
# then train, test and scores separated by lines "%%"
SEP = b"\n%%\n"
train = b"0 1 1\n0 2 1\n1 0 1\n2 3 1\n"
test = b"0 3 1\n1 2 1\n2 0 1\n"
scores = b"# users x items\n0.1 0.9 0.8 0.7\n0.5 0.2 0.6 0.1\n1 nan 0.3 0.2\n"
write("evaluate", "cfgan", b"\x00" + train + SEP + test + SEP + scores)
write("evaluate", "topk1", b"\x04" + train + SEP + test + SEP + scores)
write("evaluate", "ml100k", b"\x01" + b"0\t1\t5\t881250949\n1\t0\t3\t1\n" + SEP + b"0\t0\t4\t1\n" + SEP + b"0.1 0.2\n0.3 0.4\n")
write("evaluate", "ml1m", b"\x02" + b"0::1::5::1\n1::0::3::1\n" + SEP + b"1::1::4::1\n" + SEP + b"0.1\t0.2\n0.3\t0.4\n")
write("evaluate", "tsv", b"\x03" + b"0\t1\t1\n" + SEP + b"0\t0\t1\n" + SEP + b"1 2\n")
write("evaluate", "ragged-scores", b"\x00" + train + SEP + test + SEP + b"0.1 0.2 0.3 0.4\n0.1\n")
write("evaluate", "few-score-lines", b"\x00" + train + SEP + test + SEP + b"0.1 0.2 0.3 0.4\n")
write("evaluate", "big-ids", b"\x00" + b"0 1 1\n70000 1 1\n" + SEP + b"0 0 1\n" + SEP + b"0 0\n")
write("evaluate", "empty-files", b"\x00" + SEP + SEP)
write("evaluate", "many-cutoffs", b"\x10" + train + SEP + test + SEP + scores)

# recommend: first byte = run (bit 0: user rows with validation, or item rows), --user (bit 1),
# -k (bits 2-4), checkpoint file instead of directory (bit 5); then the users file and,
# after a line "%%", a titles file
write("recommend", "users-user-rows", b"\x00" + b"# two users\n0\n7\n")
write("recommend", "users-item-rows", b"\x01" + b"3\n 12 \n\t40\n")
write("recommend", "user-arg", b"\x02" + b"5")
write("recommend", "k1-ckpt-file", b"\x25" + b"1\n2\n")
write("recommend", "titles-ml", b"\x00" + b"1\n" + SEP + b"1|Toy Story (1995)|x\n2|Caf\xe9|y\n")
write("recommend", "titles-dat", b"\x09" + b"2\n" + SEP + b"3::Heat (1995)::Action\n4::\xc3\xa9t\xc3\xa9::Drama\n")
write("recommend", "unknown-user", b"\x00" + b"999999\n")
write("recommend", "not-an-id", b"\x00" + b"0\nabc\n")
write("recommend", "comments-only", b"\x00" + b"# nothing\n\n")
