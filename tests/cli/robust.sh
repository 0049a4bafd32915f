# Robustness: a kill loop (SIGKILL at random moments, resume each time, same final result), a full
# disk and a read-only output directory (clear error, previous checkpoints intact), NaN with the
# last good checkpoint kept, and a short run under valgrind (no errors, no leaks).
. "$(dirname "$0")/../lib.sh"
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
if [ $kills -ge 10 ] && same_metrics ref loop && [ "$leftovers" = 0 ]
then ok "robust: killed with SIGKILL $kills times at random moments and resumed, the run ends as an uninterrupted one"
else
  same=no; same_metrics ref loop && same=yes
  not_ok "robust: kill loop" "$kills kills, $restarts starts, $leftovers temporary files left, same metrics: $same"
fi

# --- numerical failure keeps the last good checkpoint: a NaN injected at step 150 (epoch 9 of the
# demo; checkpoints every epoch) stops the run with status 3; the newest checkpoint is epoch 8's, its
# parameters finite and equal to those an uninterrupted run saved at epoch 8
CFGAN_DEBUG_FAIL_AT_STEP=150 train 1 nan "$DEMO" --set train.epochs=40 --set checkpoint.every=1 --set checkpoint.keep=40; st=$?
train 1 nanref "$DEMO" --set train.epochs=40 --set checkpoint.every=1 --set checkpoint.keep=40
newest=$($CKPT newest "$TMP/nan" 2>/dev/null)
ref8=$(ls "$TMP/nanref/checkpoints/"ckpt-*.bin 2>/dev/null | sed -n 8p)
if [ $st -eq 3 ] && grep -q "numerical failure: the .* loss is not finite at epoch 9, step 150" "$TMP/nan.log" &&
   $CKPT info "$newest" | grep -q "^epoch: 8$" && $CKPT info "$ref8" | grep -q "^epoch: 8$" &&
   $CKPT diff "$newest" "$ref8" --tol 0 --moments > "$TMP/nan.diff" && $CKPT info "$newest" | grep -q "^finite: yes$"
then ok "robust: a NaN stops training (status 3); the last checkpoint is epoch 8's, equal to an uninterrupted run's"
else not_ok "robust: NaN checkpoint" "status $st, newest '$newest': $(grep -v '^epoch' "$TMP/nan.log" | head -3; cat "$TMP/nan.diff" 2>/dev/null)"; fi

# --- a corrupted newest checkpoint: a warning, the previous one is used (epoch 28 of 30), the same
# final result; a truncated one: the same fallback
run=("$DEMO" --set train.epochs=30 --set eval.every=3 --set checkpoint.every=4)
train 1 full "${run[@]}"
cp -r "$TMP/full" "$TMP/corrupt"
newest=$($CKPT newest "$TMP/corrupt")
printf 'garbage' | dd of="$newest" bs=1 seek=200 conv=notrunc 2>/dev/null
resume 1 corrupt "${run[@]}" 2> "$TMP/corrupt.err"
if grep -q "checksum mismatch (corrupted); renamed to \*.bad, trying the previous checkpoint" "$TMP/corrupt.log" && \
   grep -q "^resuming .* (epoch 28, step" "$TMP/corrupt.log" && same_metrics full corrupt
then ok "robust: a corrupted newest checkpoint is reported and the previous one (epoch 28) resumes to the same result"
else not_ok "robust: corrupted checkpoint" "$(grep -v '^epoch' "$TMP/corrupt.log" | head -4)"; fi
cp -r "$TMP/full" "$TMP/trunc"
newest=$($CKPT newest "$TMP/trunc")
head -c 100 "$newest" > "$TMP/t.bin" && mv "$TMP/t.bin" "$newest"
resume 1 trunc "${run[@]}"
if grep -q "truncated" "$TMP/trunc.log" && grep -q "^resuming .* (epoch 28, step" "$TMP/trunc.log" && same_metrics full trunc
then ok "robust: a truncated newest checkpoint is reported and the previous one (epoch 28) resumes to the same result"
else not_ok "robust: truncated checkpoint" "$(grep -v '^epoch' "$TMP/trunc.log" | head -4)"; fi

# --- SIGKILL mid-run (before the last epoch: no final.json yet), then --resume: the same records as
# an uninterrupted run
"$CFGAN" train "${run[@]}" --out "$TMP/killed" > /dev/null 2>&1 & pid=$!
for _ in $(seq 1 200); do ls "$TMP/killed/checkpoints/"ckpt-*.bin > /dev/null 2>&1 && break; sleep 0.05; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
n_before=$(ls "$TMP/killed/checkpoints" 2>/dev/null | wc -l)
landed=no; [ ! -e "$TMP/killed/final.json" ] && landed=yes
resume 1 killed "${run[@]}"
if [ "$n_before" -ge 1 ] && [ $landed = yes ] && grep -q "^resuming" "$TMP/killed.log" && same_metrics full killed
then ok "robust: a run killed with SIGKILL before its end and resumed ends with the uninterrupted run's records"
else not_ok "robust: SIGKILL + resume" "checkpoints before the kill: $n_before, killed before the end: $landed; $(tail -2 "$TMP/killed.log")"; fi

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
  skip "robust: valgrind" "the binary is built with AddressSanitizer, which valgrind cannot run"
elif command -v valgrind > /dev/null; then
  OPENBLAS_NUM_THREADS=1 valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9 \
    "$CFGAN" train "$DEMO" --set train.epochs=2 --set data.synthetic.users=200 --set data.synthetic.items=100 \
    --set data.synthetic.interactions=4000 --out "$TMP/vg" > "$TMP/vg.log" 2>&1; st=$?
  [ $st -eq 0 ] && ok "robust: a short training run under valgrind shows no errors and no leaks" \
    || not_ok "robust: valgrind" "status $st: $(grep -E 'Invalid|uninitialised|definitely|ERROR SUMMARY' "$TMP/vg.log" | head -5)"
else not_ok "robust: valgrind" "valgrind is missing (make deps installs it)"; fi
