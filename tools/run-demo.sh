#!/usr/bin/env bash
# `make run`: train the built-in synthetic demo (configs/demo.yaml) on NP MPI ranks and print the
# progress and final metrics. Usage: tools/run-demo.sh BINARY [NP]
set -euo pipefail
bin=${1:-build/cfgan}
np=${2:-2}
. "$(dirname "$0")/mpi-env.sh" "$np"
out=runs/demo-$(date +%Y%m%d-%H%M%S)
echo "training configs/demo.yaml on $np MPI ranks (run directory $out)"
if [ "$np" -gt 1 ]; then
  mpirun -np "$np" "$bin" train configs/demo.yaml --out "$out"
else
  "$bin" train configs/demo.yaml --out "$out"
fi
echo "metrics per evaluation: $out/metrics.jsonl; reported result: $out/final.json"
