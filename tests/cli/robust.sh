# Robustness: a kill loop (SIGKILL at random moments, resume each time, same final result), a full
# disk and a read-only output directory (clear error, previous checkpoints intact), NaN with the
# last good checkpoint kept, and a short run under valgrind (no errors, no leaks).
. "$(dirname "$0")/../lib.sh"
DEMO=$ROOT/configs/demo.yaml
CKPT="/usr/bin/python3 $ROOT/tools/ckpt.py"
strip() { sed 's/"seconds": [0-9.]*, //' "$1"; }
run=(train "$DEMO" --set train.epochs=240 --set eval.every=4 --set checkpoint.every=2 --set checkpoint.keep=2)

# --- kill loop (a run of ~6 s: long enough that it cannot finish before the 10th kill)
"$CFGAN" "${run[@]}" --out "$TMP/ref" > /dev/null 2>&1
kills=0 restarts=0
for i in $(seq 1 30); do
  [ $kills -ge 12 ] && break
  if ls "$TMP/loop/checkpoints/"ckpt-*.bin > /dev/null 2>&1; then resume=--resume; else rm -rf "$TMP/loop"; resume=; fi
  "$CFGAN" "${run[@]}" --out "$TMP/loop" $resume > /dev/null 2>&1 & pid=$!
  sleep "0.$(( (RANDOM % 5) + 1 ))"
  if kill -9 $pid 2>/dev/null; then kills=$((kills + 1)); fi
  wait $pid 2>/dev/null
  restarts=$((restarts + 1))
  [ -s "$TMP/loop/final.json" ] && break
done
if [ ! -s "$TMP/loop/final.json" ]; then
  if ls "$TMP/loop/checkpoints/"ckpt-*.bin > /dev/null 2>&1; then resume=--resume; else rm -rf "$TMP/loop"; resume=; fi
  "$CFGAN" "${run[@]}" --out "$TMP/loop" $resume > "$TMP/loop.log" 2>&1
fi
leftovers=$(ls "$TMP/loop/checkpoints" 2>/dev/null | grep -c tmp)
if [ $kills -ge 10 ] && [ "$(strip "$TMP/ref/metrics.jsonl")" = "$(strip "$TMP/loop/metrics.jsonl")" ] && [ "$leftovers" = 0 ]
then ok "robust: killed with SIGKILL $kills times at random moments and resumed, the run ends as an uninterrupted one"
else
  same=no; [ "$(strip "$TMP/ref/metrics.jsonl")" = "$(strip "$TMP/loop/metrics.jsonl" 2>/dev/null)" ] && same=yes
  not_ok "robust: kill loop" "$kills kills, $restarts starts, $leftovers temporary files left, same metrics: $same"
fi

# --- numerical failure keeps the last good checkpoint (SGD at lr 30 diverges in the demo's epoch 2, after
# the first checkpoint)
"$CFGAN" train "$DEMO" --set train.epochs=40 --set checkpoint.every=1 --set train.optimizer=sgd --set train.g_lr=30 \
  --set train.d_lr=30 --set eval.every=1 --out "$TMP/nan" > /dev/null 2> "$TMP/nan.err"; st=$?
newest=$($CKPT newest "$TMP/nan" 2>/dev/null)
if [ $st -eq 3 ] && grep -q "numerical failure" "$TMP/nan.err" && [ -n "$newest" ] && $CKPT info "$newest" > /dev/null; then
  ok "robust: a NaN stops training (status 3) and the last good checkpoint loads"
else not_ok "robust: NaN checkpoint" "status $st, newest '$newest': $(cat "$TMP/nan.err")"; fi

# --- full disk and read-only directory (tmpfs mounts: needs root)
if mkdir -p "$TMP/small" && mount -t tmpfs -o size=12m tmpfs "$TMP/small" 2>/dev/null; then
  "$CFGAN" train "$DEMO" --set train.epochs=40 --set checkpoint.every=2 --set checkpoint.keep=5 --out "$TMP/small/run" \
    > /dev/null 2> "$TMP/full.err"; st=$?
  newest=$($CKPT newest "$TMP/small/run" 2>/dev/null)
  if [ $st -eq 1 ] && grep -q "cannot write the checkpoint: No space left on device (the previous checkpoints are intact)" "$TMP/full.err" \
     && [ -n "$newest" ] && $CKPT info "$newest" > /dev/null && ! ls "$TMP/small/run/checkpoints" | grep -q tmp; then
    ok "robust: a full disk gives a clear error and leaves the previous checkpoint loadable"
  else not_ok "robust: full disk" "status $st: $(cat "$TMP/full.err"); newest '$newest'"; fi
  umount "$TMP/small"
  mount -t tmpfs -o size=1m,ro tmpfs "$TMP/small"
  "$CFGAN" train "$DEMO" --set train.epochs=4 --out "$TMP/small/run" > /dev/null 2> "$TMP/ro.err"; st=$?
  umount "$TMP/small"
  [ $st -eq 1 ] && grep -q "$TMP/small/run: cannot create directory: Read-only file system" "$TMP/ro.err" \
    && ok "robust: a read-only output directory gives a clear error" || not_ok "robust: read-only" "status $st: $(cat "$TMP/ro.err")"
else
  not_ok "robust: disk faults" "cannot mount a tmpfs (run the suite as root)"
fi

# --- valgrind: no invalid accesses, no uninitialised reads, no leaks
if [ "${CFGAN_SANITIZED:-0}" = 1 ]; then
  echo "skip robust: valgrind (the binary is built with AddressSanitizer, which valgrind cannot run)"
elif command -v valgrind > /dev/null; then
  OPENBLAS_NUM_THREADS=1 valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9 \
    "$CFGAN" train "$DEMO" --set train.epochs=2 --set data.synthetic.users=200 --set data.synthetic.items=100 \
    --set data.synthetic.interactions=4000 --out "$TMP/vg" > "$TMP/vg.log" 2>&1; st=$?
  [ $st -eq 0 ] && ok "robust: a short training run under valgrind shows no errors and no leaks" \
    || not_ok "robust: valgrind" "status $st: $(grep -E 'Invalid|uninitialised|definitely|ERROR SUMMARY' "$TMP/vg.log" | head -5)"
else not_ok "robust: valgrind" "valgrind is missing (make deps installs it)"; fi
