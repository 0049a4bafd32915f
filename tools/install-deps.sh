#!/usr/bin/env bash
# Install the Debian packages cfgan needs (build, tests, tools/). Fast no-op when all are present.
set -euo pipefail
pkgs=(
  build-essential pkg-config
  openmpi-bin libopenmpi-dev        # Open MPI (mpicc, mpirun)
  libopenblas-dev                   # CBLAS sgemm
  libscalapack-openmpi-dev          # distributed dense algebra (EASE^R)
  libyaml-dev                       # config reader
  python3-numpy python3-torch       # tools/: PyTorch reference
  python3-matplotlib python3-scipy  # tools/: plots
  clang libclang-rt-14-dev          # make fuzz: libFuzzer and the sanitizer runtimes
  valgrind                          # the memory check in make test
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "error: need root (or sudo) to apt-get install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
