#!/usr/bin/env bash
# Install the Debian packages cfgan needs, by purpose. Fast no-op when all are present.
# Usage: tools/install-deps.sh build|test|bench
#   build  building and running cfgan (make deps, make run)
#   test   + the test suite's tools (make test, make fuzz, make asan, make test-slurm)
#   bench  + the PyTorch reference and plots (make bench)
# Not root and no sudo (a cluster): load the modules instead and build with make variables (see the
# Makefile's header and docs/cluster.md); this script then only says what is missing.
set -euo pipefail
build=(
  build-essential pkg-config
  openmpi-bin libopenmpi-dev        # Open MPI (mpicc, mpirun)
  libopenblas-dev                   # CBLAS sgemm
  libscalapack-openmpi-dev          # distributed dense algebra (EASE^R)
  libyaml-dev                       # config reader
)
analysis=(python3-numpy python3-scipy python3-matplotlib)  # tools/: checkpoints, statistics, plots
test=(
  "${analysis[@]}"
  python3-torch                     # the PyTorch cross-check
  clang libclang-rt-14-dev          # make fuzz: libFuzzer and the sanitizer runtimes
  valgrind                          # the memory check
)
bench=("${analysis[@]}" python3-torch)
case ${1:-build} in
  build) pkgs=("${build[@]}") ;;
  test) pkgs=("${build[@]}" "${test[@]}") ;;
  bench) pkgs=("${build[@]}" "${bench[@]}") ;;
  *) echo "usage: tools/install-deps.sh build|test|bench" >&2; exit 2 ;;
esac
if ! command -v dpkg-query > /dev/null; then
  echo "note: not a Debian system: install the equivalents of ${pkgs[*]} yourself, or load your site's modules and build with make variables (docs/cluster.md)" >&2
  exit 0
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "error: need root (or sudo) to apt-get install: ${missing[*]}; without root, build with make variables and run make test-only (docs/cluster.md)" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
