# A smoke run of every libFuzzer target (make fuzz) on a fresh corpus of the repository's seeds and
# regression inputs (tests/fuzz/corpus-*), which it replays first: CFGAN_FUZZ_SECONDS each (1, which
# libFuzzer's whole-second clock makes about 2 s: 10 s in all). `make fuzz` is the long run (FUZZ_SECONDS,
# 60 each), a step of its own in .ci/run.
. "$(dirname "$0")/../lib.sh"
if ! command -v clang > /dev/null; then not_ok "fuzz: clang" "clang is missing (make deps installs it)"; exit 0; fi
out=$(FUZZ_FRESH=1 make -C "$ROOT" -s -j2 fuzz FUZZ_SECONDS="${CFGAN_FUZZ_SECONDS:-1}" 2>&1); st=$?
grep -E '^(ok|not ok|    \|)' <<<"$out"
if [ $st -ne 0 ] && ! grep -q '^not ok' <<<"$out"; then
  not_ok "fuzz: make fuzz" "status $st"; tail -20 <<<"$out" | sed 's/^/    | /'
fi
