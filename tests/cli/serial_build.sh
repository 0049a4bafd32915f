# `make MPI=0` builds a serial binary (par_serial.c, no mpi.h anywhere else) that trains.
. "$(dirname "$0")/../lib.sh"
if make -C "$ROOT" -s MPI=0 BUILD="$TMP/serial" "$TMP/serial/cfgan" > "$TMP/build.log" 2>&1 && \
   ! grep -l "mpi.h" "$ROOT"/src/*.c "$ROOT"/include/*.h | grep -v "src/par.c" | grep -q . && \
   "$TMP/serial/cfgan" train "$ROOT/configs/demo.yaml" --set train.epochs=4 --out "$TMP/run" > "$TMP/run.log" 2>&1 && \
   [ -s "$TMP/run/final.json" ]
then ok "build: make MPI=0 gives a serial binary that trains; only src/par.c includes mpi.h"
else not_ok "build: serial" "$(tail -5 "$TMP/build.log" "$TMP/run.log" 2>/dev/null)"; fi
