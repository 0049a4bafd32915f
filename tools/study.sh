#!/usr/bin/env bash
# The research study of docs/results.md: is CFGAN better than strong baselines, and what does the
# adversarial part buy? For each dataset (ML100K and Ciao, the authors' splits):
#   1. tune on validation (tools/tune.py, 30 trials, honest protocol) CFGAN's hyper-parameters and,
#      separately, those of the ablation without D (model.adversarial: false; the same draws);
#   2. train three seeds each of CFGAN and the ablation with the reference config, CFGAN with its
#      tuned values, the ablation with CFGAN's tuned values and with its own;
#   3. compare on the test set with paired significance tests (tools/compare.py): the reference runs
#      with the baselines at their reference settings, the tuned runs with baselines tuned on the
#      same validation split (grids below), and each ablation against its CFGAN;
#   4. check that the shipped configs/<dataset>-tuned.yaml reproduces the tuned seed-1 run.
# Usage: tools/study.sh [OUT_DIR] [ml100k] [ciao]   (default runs/study, both; resumable: finished
# runs and trials are kept). Needs the datasets ($CFGAN_DATA). About 1.5 h on 2 cores.
set -euo pipefail
. "$(dirname "$0")/usage.sh"
cd "$(dirname "$0")/.."
out=${1:-runs/study}; shift || true
which=${*:-ml100k ciao}
bin=${CFGAN_BIN:-build/cfgan}
np=${NP:-2}
. tools/mpi-env.sh "$np"
mkdir -p "$out"
ease_grid='baselines.ease.lambda=[10,30,100,300,1000,3000]'
knn_k='baselines.itemknn.k=[50,100,200,400,800]'
knn_s='baselines.itemknn.shrink=[0,10,100]'

# train NAME CONFIG [--set ...]: one run, skipped when finished
train() {
  local d=$out/$1 cfg=$2; shift 2
  [ -f "$d/final.json" ] && return 0
  rm -rf "$d"
  echo "== $d"
  mpirun -np "$np" "$bin" train "$cfg" --out "$d" "$@" | tail -1
}

# runs NAME: the three seeds' run directories, comma-separated; cf NAME: them as --cfgan-run options;
# strip FILE: metrics.jsonl without the wall-clock seconds
runs() { local r=; for s in 1 2 3; do r+="${r:+,}$out/$1-s$s"; done; echo "$r"; }
cf() { for s in 1 2 3; do echo --cfgan-run "$out/$1-s$s"; done; }
strip() { sed -E 's/"seconds": [0-9.e+-]*, //' "$1"; }

for ds in $which; do
  /usr/bin/python3 tools/tune.py "configs/$ds.yaml" --out "$out/tune-$ds" --trials 30 --np "$np"
  /usr/bin/python3 tools/tune.py "configs/$ds.yaml" --out "$out/tune-$ds-nod" --trials 30 --np "$np" \
    --set model.adversarial=false
  tuned=$out/tune-$ds/best.yaml
  for s in 1 2 3; do
    train "$ds-s$s" "configs/$ds.yaml" --set train.seed=$s
    train "$ds-nod-s$s" "configs/$ds.yaml" --set train.seed=$s --set model.adversarial=false
    train "$ds-tuned-s$s" "$tuned" --set train.seed=$s
    train "$ds-tuned-nod-s$s" "$tuned" --set train.seed=$s --set model.adversarial=false
    train "$ds-nodtuned-s$s" "$out/tune-$ds-nod/best.yaml" --set train.seed=$s
  done
  /usr/bin/python3 tools/compare.py "configs/$ds.yaml" $(cf "$ds") --system "CFGAN without D=$(runs "$ds-nod")" \
    --np "$np" --out "$out/compare-$ds"
  shipped=configs/$ds-tuned.yaml; [ -f "$shipped" ] || shipped=$tuned  # the same split; its name titles the chart
  /usr/bin/python3 tools/compare.py "$shipped" $(cf "$ds-tuned") --system "without D (CFGAN's values)=$(runs "$ds-tuned-nod")" \
    --system "without D (tuned itself)=$(runs "$ds-nodtuned")" \
    --set "$ease_grid" --set "$knn_k" --set "$knn_s" --np "$np" --out "$out/compare-$ds-tuned"
  if [ -f "configs/$ds-tuned.yaml" ]; then
    train "$ds-tuned-config" "configs/$ds-tuned.yaml"
    if [ "$(strip "$out/$ds-tuned-config/metrics.jsonl")" = "$(strip "$out/$ds-tuned-s1/metrics.jsonl")" ]; then
      echo "configs/$ds-tuned.yaml reproduces the tuned seed-1 run ($out/$ds-tuned-s1) at every evaluation"
    else
      echo "error: configs/$ds-tuned.yaml does not reproduce $out/$ds-tuned-s1" >&2; exit 1
    fi
  fi
done
