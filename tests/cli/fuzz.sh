# libFuzzer on the config reader and the data pipeline (make fuzz), CFGAN_FUZZ_SECONDS each (60).
. "$(dirname "$0")/../lib.sh"
if ! command -v clang > /dev/null; then not_ok "fuzz: clang" "clang is missing (make deps installs it)"; exit 0; fi
make -C "$ROOT" -s fuzz FUZZ_SECONDS="${CFGAN_FUZZ_SECONDS:-60}" 2>&1 | grep -E '^(ok|not ok|    \|)'
