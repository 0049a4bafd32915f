#!/usr/bin/python3
"""The conversions behind tools/prepare-data.sh, which checks inputs and outputs and moves the
results into place. Each command writes OUT and stops with one `error: FILE: problem: what to do`
line (exit status 1) on bad input.

  ml1m-train RATINGS TEST USER_MAP ITEM_MAP OUT
      The CFGAN ML1M training file: every ML-1M rating (`UserID::MovieID::Rating[::Timestamp]`)
      whose pair is not in the authors' ML1M.test, relabelled with CFGAN ids through the maps
      (tools/data/ml1m/), as `user item rating` lines sorted by (user, item), ratings written as
      the authors write them (`4.0`). No rating threshold: every rating is a positive.
  ciao-tsv MAT OUT
      Tang et al.'s Ciao rating.mat as TSV (userid, productid, categoryid, rating, helpfulness),
      rows in file order, integers as `%d`.
"""
import sys

ML1M_RATINGS = 1000209  # GroupLens: 1,000,209 ratings of 6,040 users on 3,706 movies
GROUPLENS = "download https://files.grouplens.org/datasets/movielens/ml-1m.zip and unzip it in the data root"


def fail(path, problem, todo):
    sys.exit(f"error: {path}: {problem}: {todo}")


def read_map(path):
    """MovieLens id -> CFGAN id, from a `cfgan_id<TAB>ml_id<TAB>status` file with a header."""
    out = {}
    with open(path) as f:
        next(f)
        for line in f:
            cfgan_id, ml_id, _ = line.split("\t")
            out[int(ml_id)] = int(cfgan_id)
    return out


def ml1m_train(ratings, test, user_map, item_map, out):
    users, items = read_map(user_map), read_map(item_map)
    full = {}  # (CFGAN user, CFGAN item) -> rating text
    with open(ratings, encoding="latin-1") as f:
        for n, line in enumerate(f, 1):
            fields = line.rstrip("\r\n").split("::")
            try:
                if len(fields) not in (3, 4):
                    raise ValueError
                u, i, r = int(fields[0]), int(fields[1]), float(fields[2])
            except ValueError:
                fail(f"{ratings}:{n}", "not a UserID::MovieID::Rating[::Timestamp] line", GROUPLENS)
            if u not in users or i not in items:
                fail(f"{ratings}:{n}", f"UserID {u} or MovieID {i} is not in ML-1M", GROUPLENS)
            pair = (users[u], items[i])
            if pair in full:
                fail(f"{ratings}:{n}", f"repeated rating of MovieID {i} by UserID {u}", GROUPLENS)
            full[pair] = str(r)
    if len(full) != ML1M_RATINGS:
        fail(ratings, f"{len(full):,} ratings where ML-1M has {ML1M_RATINGS:,}", GROUPLENS)
    # The test pairs leave the training set; each must be an ML-1M rating with the same value,
    # which also proves the maps and the test file belong together.
    with open(test) as f:
        for n, line in enumerate(f, 1):
            u, i, r = line.split()
            pair = (int(u), int(i))
            if full.pop(pair, None) != str(float(r)):
                fail(f"{test}:{n}", f"not a rating of {ratings} under the id maps",
                     "check that it is GroupLens's ML-1M and that tools/data/ml1m/ is unmodified")
    with open(out, "w") as f:
        f.writelines(f"{u} {i} {full[u, i]}\n" for u, i in sorted(full))


def ciao_tsv(mat, out):
    try:
        import numpy
        import scipy.io
    except ImportError:
        fail(mat, "reading it needs numpy and scipy", "install python3-scipy (make deps)")
    try:
        rating = scipy.io.loadmat(mat).get("rating")
    except Exception as e:  # scipy's reader raises several types for a damaged file
        fail(mat, f"not a MATLAB file scipy can read ({e})", "fetch Ciao's rating.mat again (tools/download-data.sh)")
    if rating is None or rating.ndim != 2 or rating.shape[1] != 5:
        fail(mat, "no 5-column matrix `rating`", "fetch Ciao's rating.mat again (tools/download-data.sh)")
    numpy.savetxt(out, rating, fmt="%d", delimiter="\t")


if __name__ == "__main__":
    commands = {"ml1m-train": (ml1m_train, 5), "ciao-tsv": (ciao_tsv, 2)}
    name = sys.argv[1] if len(sys.argv) > 1 else None
    if name not in commands or len(sys.argv) != 2 + commands[name][1]:
        sys.exit(__doc__)
    commands[name][0](*sys.argv[2:])
