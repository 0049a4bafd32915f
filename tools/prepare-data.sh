#!/usr/bin/env bash
# Build the data files the configs read that no public download holds as such:
#   cfgan/ML1M/ML1M.train  from ml-1m/ratings.dat, the authors' cfgan/ML1M/ML1M.test and the id
#                          maps in tools/data/ml1m/ (see PROVENANCE.md there)
#   ciao/rating.tsv        from Tang et al.'s ciao/rating.mat
# Usage: tools/prepare-data.sh [DATA_ROOT]   (default: $CFGAN_DATA, else data/)
# Run it after tools/download-data.sh, or on the same files fetched by hand. Each output is written
# to a temporary file, checked against its known sha256 and only then renamed into place; an output
# that is already right is left alone, so running the script again changes nothing.
set -euo pipefail
. "$(dirname "$0")/usage.sh"
tools=$(cd "$(dirname "$0")" && pwd)
root=${1:-${CFGAN_DATA:-data}}
py=/usr/bin/python3 # Debian's, which has numpy and scipy
tmp=
trap '[ -z "$tmp" ] || rm -f "$tmp"' EXIT

fail() { echo "error: $*" >&2; exit 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# need FILE SHA256 WHAT-TO-DO: FILE under the root must exist (and have SHA256 unless it is '-')
need() {
  [ -s "$root/$1" ] || fail "$root/$1: missing: $3"
  [ "$2" = - ] || [ "$(sha "$root/$1")" = "$2" ] || fail "$root/$1: not the expected file (sha256 $2): $3"
}

# build FILE SHA256 WHAT-TO-DO COMMAND...: `COMMAND TMPFILE` writes FILE's content
build() {
  local name=$1 out=$root/$1 want=$2 todo=$3; shift 3
  if [ -e "$out" ]; then
    # never overwrite a file this script did not make (it may be someone's own copy)
    [ "$(sha "$out")" = "$want" ] ||
      fail "$out: exists but is not the expected file (sha256 $want): move it aside and run again"
    echo "ok  $name (already built)"
    return
  fi
  mkdir -p "$(dirname "$out")"
  tmp=$out.$$.partial # in the same directory, so the rename below is atomic
  "$@" "$tmp"
  [ "$(sha "$tmp")" = "$want" ] || fail "$out: the result's sha256 is $(sha "$tmp"), expected $want: $todo"
  mv "$tmp" "$out"
  tmp=
  echo "ok  $name (built)"
}

[ -d "$root" ] || fail "$root: no such data root: run tools/download-data.sh $root, or pass the data root"
getit="run tools/download-data.sh $root (it fetches and checks every input)"

# ML1M.train = every ML-1M rating minus the authors' test pairs, in CFGAN ids, sorted
need ml-1m/ratings.dat - "$getit, or unzip https://files.grouplens.org/datasets/movielens/ml-1m.zip there"
need cfgan/ML1M/ML1M.test b6432eb0f2d21003018b671ea28896553505ef4000a5df98b2f22e7d41b51fd4 "$getit"
build cfgan/ML1M/ML1M.train 140b486ed03ed426eee5daa1b50a84ab69d33bf2ce408068409bfa5808fb1217 \
  "check that ml-1m/ratings.dat is GroupLens's ML-1M and that tools/data/ml1m/ is unmodified" \
  $py "$tools/prepare_data.py" ml1m-train "$root/ml-1m/ratings.dat" "$root/cfgan/ML1M/ML1M.test" \
  "$tools/data/ml1m/cfgan_user_id_map.tsv" "$tools/data/ml1m/cfgan_item_id_map.tsv"

# ciao/rating.tsv = the .mat's `rating` matrix as text, rows in file order. Only the output is
# checked: a copy of rating.mat from elsewhere may differ in its header yet hold the same matrix.
need ciao/rating.mat - "$getit"
build ciao/rating.tsv 64240ac7c1f5e4d8514668186afee1ad1c0c9680d0cd8c2eccc49b8229fb9e5d \
  "ciao/rating.mat holds other ratings than the configs were made with (sha256 aa793568...); $getit" \
  $py "$tools/prepare_data.py" ciao-tsv "$root/ciao/rating.mat"

echo "Data root ready for every config in configs/: $(cd "$root" && pwd)"
