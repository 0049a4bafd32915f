# The micro-benchmarks behind `make bench` and the README's bounds: `cfgan bench-gemm` and
# `cfgan bench-adam` print one JSON object per shape or size with a plausible rate, and refuse bad
# arguments with one line.
. "$(dirname "$0")/../lib.sh"

out=$("$CFGAN" bench-gemm 64,96,32,0,0 32,400,16,1,0 --seconds 0.02 2>/dev/null)
if /usr/bin/python3 - "$out" <<'PY'
import json, sys
lines = [json.loads(l) for l in sys.argv[1].splitlines()]
assert "blas" in lines[0], lines[0]
shapes = [(l["m"], l["n"], l["k"], l["ta"], l["tb"]) for l in lines[1:]]
assert shapes == [(64, 96, 32, 0, 0), (32, 400, 16, 1, 0)], shapes
assert all(0.1 < l["gflops"] < 1e5 for l in lines[1:]), lines
PY
then ok "bench: bench-gemm prints the library and one rate per shape"; else not_ok "bench: bench-gemm" "$out"; fi

out=$("$CFGAN" bench-adam 4096 200000 --seconds 0.02 2>/dev/null)
if /usr/bin/python3 - "$out" <<'PY'
import json, sys
lines = [json.loads(l) for l in sys.argv[1].splitlines()]
assert [l["n"] for l in lines] == [4096, 200000], lines
# a square root and a division per parameter cannot take under 0.01 ns nor (on any machine that
# trains) 1 us; gb_per_s is 32 bytes over that time
assert all(0.01 < l["ns_per_parameter"] < 1000 for l in lines), lines
assert all(abs(l["gb_per_s"] - 32 / l["ns_per_parameter"]) < 0.01 * l["gb_per_s"] + 0.01 for l in lines), lines
PY
then ok "bench: bench-adam prints the time per parameter at each size"; else not_ok "bench: bench-adam" "$out"; fi
out=$("$CFGAN" bench-adam 4096 --kernel stream --seconds 0.02 2>/dev/null)
echo "$out" | grep -q '"kernel": "stream"' && ok "bench: bench-adam --kernel stream times the memory floor and says so" \
  || not_ok "bench: bench-adam --kernel stream" "$out"
expect_input_error "bench: bench-adam refuses an unknown kernel" "--kernel is adam or stream, not 'fast'" \
  "$CFGAN" bench-adam 4096 --kernel fast

expect_input_error "bench: bench-adam refuses a bad count" "bench-adam: '3' is not a count" "$CFGAN" bench-adam 3
expect_input_error "bench: bench-gemm refuses a bad shape" "bench-gemm: '1,2' is not M,N,K,TA,TB" "$CFGAN" bench-gemm 1,2
expect_input_error "bench: an unknown CFGAN_GEMM is refused at start" "CFGAN_GEMM=blas: expected auto or openblas" \
  env CFGAN_GEMM=blas "$CFGAN" bench-gemm 16,16,16,0,0

# the kernel each shape went to, as the trainer would choose it (own: AVX-512 and one BLAS thread)
own=$(OPENBLAS_NUM_THREADS=1 "$CFGAN" bench-gemm 16,943,400,0,0 --seconds 0.02 2>/dev/null | tail -1)
ob=$(CFGAN_GEMM=openblas OPENBLAS_NUM_THREADS=1 "$CFGAN" bench-gemm 16,943,400,0,0 --seconds 0.02 2>/dev/null | tail -1)
if grep -q avx512f /proc/cpuinfo; then want=own; else want=openblas; fi
if [[ $own == *"\"kernel\": \"$want\""* && $ob == *'"kernel": "openblas"'* ]]
then ok "bench: bench-gemm names the kernel (own on AVX-512 with one BLAS thread; CFGAN_GEMM=openblas: OpenBLAS)"
else not_ok "bench: bench-gemm kernel" "$own / $ob"; fi
