# The micro-benchmark behind `make bench`: `cfgan bench-gemm` prints one JSON object per shape with a
# plausible rate, and refuses bad arguments with one line.
. "$(dirname "$0")/../lib.sh"

out=$("$CFGAN" bench-gemm 64,96,32,0,0 32,400,16,1,0 16,400,943,0,1 --seconds 0.02 2>/dev/null)
if /usr/bin/python3 - "$out" <<'PY'
import json, sys
lines = [json.loads(l) for l in sys.argv[1].splitlines()]
assert "blas" in lines[0], lines[0]
shapes = [(l["m"], l["n"], l["k"], l["ta"], l["tb"]) for l in lines[1:]]
assert shapes == [(64, 96, 32, 0, 0), (32, 400, 16, 1, 0), (16, 400, 943, 0, 1)], shapes
# 2·m·n·k over the time of one call: a units error would be off by orders of magnitude
assert all(0.1 < l["gflops"] < 1e5 for l in lines[1:]), lines
assert all(abs(l["gflops"] - 2 * l["m"] * l["n"] * l["k"] / l["seconds_per_call"] / 1e9) < 0.01 * l["gflops"] for l in lines[1:])
PY
then ok "bench: bench-gemm prints the library and one rate per shape"; else not_ok "bench: bench-gemm" "$out"; fi
expect_input_error "bench: bench-gemm refuses a bad shape" "bench-gemm: '1,2' is not M,N,K,TA,TB" "$CFGAN" bench-gemm 1,2
