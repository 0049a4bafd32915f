#!/usr/bin/env bash
# Download the datasets cfgan's configs use into a data root, and verify their sha256 sums.
# Usage: tools/download-data.sh [DATA_ROOT]   (default: $CFGAN_DATA, else data/)
# Needs internet access. The MovieLens terms forbid redistribution: every user downloads their own copy.
set -euo pipefail
. "$(dirname "$0")/usage.sh"
root=${1:-${CFGAN_DATA:-data}}
mkdir -p "$root"
cd "$root"
fetch() { # URL FILE
  if [ -s "$2" ]; then return 0; fi
  echo "downloading $1"
  curl -fL --retry 3 -o "$2.partial" "$1" && mv "$2.partial" "$2"
}
verify() { # SHA256 FILE
  if echo "$1  $2" | sha256sum -c --quiet -; then echo "ok  $2"; else echo "sha256 mismatch: $2" >&2; return 1; fi
}
# The CFGAN authors' splits (Chae et al., CIKM 2018), github.com/Bigdasgit/CFGAN @ cf04729
base=https://raw.githubusercontent.com/Bigdasgit/CFGAN/cf04729a52d508e29c292e86a918b19bf952d75d/datasets
mkdir -p cfgan/ML100K cfgan/Ciao cfgan/ML1M
fetch $base/ML100K/ML100K.train cfgan/ML100K/ML100K.train
fetch $base/ML100K/ML100K.test  cfgan/ML100K/ML100K.test
fetch $base/Ciao/Ciao.train     cfgan/Ciao/Ciao.train
fetch $base/Ciao/Ciao.test      cfgan/Ciao/Ciao.test
fetch $base/ML1M/ML1M.test      cfgan/ML1M/ML1M.test
verify 3dcc6c5219de56ad819152860d31c9bfde0103288cb51923242d8b768726183f cfgan/ML100K/ML100K.train
verify 4ad38c30a6f584571028c1e18815b9892febe254874872960629728d1cb293a4 cfgan/ML100K/ML100K.test
verify cae074efabbdecda62f7d85670f6c1f9e72ef02899077b0951d3846f2550b628 cfgan/Ciao/Ciao.train
verify 85ae70656de7b9267bc573d986f2f6ea96637933f3c7f75add04bb02fd75837a cfgan/Ciao/Ciao.test
verify b6432eb0f2d21003018b671ea28896553505ef4000a5df98b2f22e7d41b51fd4 cfgan/ML1M/ML1M.test
# MovieLens (GroupLens; research use, cite Harper and Konstan 2015, no redistribution)
fetch https://files.grouplens.org/datasets/movielens/ml-100k.zip ml-100k.zip
fetch https://files.grouplens.org/datasets/movielens/ml-1m.zip ml-1m.zip
[ -d ml-100k ] || unzip -q ml-100k.zip
[ -d ml-1m ] || unzip -q ml-1m.zip
verify 06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490 ml-100k/u.data
# Ciao (Tang et al., 2012): rating.mat of the authors' MATLAB release (linked from
# https://www.cse.msu.edu/~tangjili/datasetcode/truststudy.htm), fetched from its copy in
# github.com/Wang-Shuo/GraphRec_PyTorch @ 5768c61 (MEICRS/GDSRec holds the same git blob)
mkdir -p ciao
fetch https://raw.githubusercontent.com/Wang-Shuo/GraphRec_PyTorch/5768c61f66b238dc057c09535b00eec687daac2c/datasets/Ciao/rating.mat ciao/rating.mat
verify aa793568686285a93286ba9e56954fcce347370ad2e58c785760362ab12d2c2c ciao/rating.mat
echo
echo "Downloads ready in $(pwd)."
echo "Next: tools/prepare-data.sh $root builds what no download holds as such (cfgan/ML1M/ML1M.train"
echo "from ml-1m/ratings.dat and ML1M.test, ciao/rating.tsv from ciao/rating.mat)."
