# Data-parallel runs, checkpoints and resume: np = 1, 2, 3 agree; SIGKILL + --resume reproduces an
# uninterrupted run; a corrupted newest checkpoint falls back to the previous one; SIGUSR1 stops
# cleanly with a checkpoint; errors end every rank; np = 8 on this small machine.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tools/mpi-env.sh"
DEMO=$ROOT/configs/demo.yaml
CKPT="/usr/bin/python3 $ROOT/tools/ckpt.py"
strip() { sed 's/"seconds": [0-9.]*, //' "$1"; }
same_metrics() { [ "$(strip "$1/metrics.jsonl")" = "$(strip "$2/metrics.jsonl")" ]; }
# the ranking metrics only (the losses are printed to 9 digits: summation order shows there)
ranking() { sed -E 's/"(seconds|d_loss|g_loss|d_real|d_fake)": [-0-9.e]*, //g' "$1"; }
same_ranking() { [ "$(ranking "$1/metrics.jsonl")" = "$(ranking "$2/metrics.jsonl")" ]; }

# --- np = 1, 2, 3 on ML100K (40 epochs): parameters within 1e-5, metrics to 4 decimals
if need_data "mpi: np = 1, 2, 3 agree on ML100K"; then
  D=$(data_root)
  for np in 1 2 3; do
    mpirun -np $np "$CFGAN" train "$ROOT/configs/ml100k.yaml" --data-root "$D" --set train.epochs=40 --set eval.every=20 \
      --out "$TMP/ml$np" > "$TMP/ml$np.log" 2>&1 || not_ok "mpi: ML100K at np=$np" "$(tail -3 "$TMP/ml$np.log")"
  done
  ok_all=1
  for np in 2 3; do
    $CKPT diff "$($CKPT newest "$TMP/ml1")" "$($CKPT newest "$TMP/ml$np")" --tol 1e-5 > "$TMP/diff$np" || ok_all=0
    /usr/bin/python3 - "$TMP/ml1/final.json" "$TMP/ml$np/final.json" <<'PY' || ok_all=0
import json, sys
a, b = (json.load(open(p))["reported"] for p in sys.argv[1:])
bad = [k for k in a if "@" in k and round(a[k], 4) != round(b[k], 4)]
if bad: print("metrics differ:", bad); sys.exit(1)
PY
  done
  [ $ok_all = 1 ] && ok "mpi: np = 1, 2, 3 on ML100K give the same parameters (<= 1e-5 relative) and metrics (4 decimals)" \
    || not_ok "mpi: np = 1, 2, 3 agree on ML100K" "$(cat "$TMP"/diff2 "$TMP"/diff3)"
fi

# --- the node-shared exchange (the default with every rank on one node) against the message-passing
# ring. By default G is split by hidden units (run.split_hidden): its output is a sum of the ranks'
# partial outputs, so parameters agree up to summation order (1e-5) and the ranking metrics exactly;
# without the split G's weight gradients are formed from factors in the ring's order: at np = 2 the
# same metrics and parameters within 1e-6 (equal bits with the own GEMM kernels, OpenBLAS's sgemm may
# round a band of the matrix in another last bit)
for np in 2 3; do
  for ns in true false; do
    mpirun -np $np "$CFGAN" train "$DEMO" --set train.epochs=12 --set eval.every=4 --set run.node_shared=$ns \
      --out "$TMP/ns$np-$ns" > "$TMP/ns$np-$ns.log" 2>&1 || not_ok "mpi: node_shared=$ns at np=$np" "$(tail -3 "$TMP/ns$np-$ns.log")"
  done
done
mpirun -np 2 "$CFGAN" train "$DEMO" --set train.epochs=12 --set eval.every=4 --set run.split_hidden=false \
  --out "$TMP/ns2-nosplit" > "$TMP/ns2-nosplit.log" 2>&1 || not_ok "mpi: split_hidden=false at np=2" "$(tail -3 "$TMP/ns2-nosplit.log")"
if grep -q "node-shared memory (2 ranks" "$TMP/ns2-true.log" && ! grep -q "node-shared" "$TMP/ns2-false.log" &&
   grep -q "G split by hidden units: this rank owns 64 of 128" "$TMP/ns2-true.log" &&
   grep -q "this rank owns 42 of 128" "$TMP/ns3-true.log" && ! grep -q "G split" "$TMP/ns2-nosplit.log" &&
   same_ranking "$TMP/ns2-true" "$TMP/ns2-false" && same_ranking "$TMP/ns3-true" "$TMP/ns3-false" &&
   $CKPT diff "$($CKPT newest "$TMP/ns2-true")" "$($CKPT newest "$TMP/ns2-false")" --tol 1e-5 > "$TMP/nsdiff2" &&
   $CKPT diff "$($CKPT newest "$TMP/ns3-true")" "$($CKPT newest "$TMP/ns3-false")" --tol 1e-5 > "$TMP/nsdiff3" &&
   same_metrics "$TMP/ns2-nosplit" "$TMP/ns2-false" &&
   $CKPT diff "$($CKPT newest "$TMP/ns2-nosplit")" "$($CKPT newest "$TMP/ns2-false")" --tol 1e-6 > "$TMP/nsdiff2n"
then ok "mpi: node-shared memory equals the ring: split by hidden units within 1e-5 (np = 2, 3; same rankings), unsplit within 1e-6 (np = 2; same metrics)"
else not_ok "mpi: node-shared exchange" "$(cat "$TMP/nsdiff2" "$TMP/nsdiff3" "$TMP/nsdiff2n" 2>/dev/null; grep -h "node-shared\|G split" "$TMP"/ns*.log)"; fi
# G with two hidden layers: its middle layer's gradient is also formed from factors (a dense input
# published by every rank), the first from the sparse batch, the last from the output gradient
for ns in true false; do
  mpirun -np 2 "$CFGAN" train "$DEMO" --set train.epochs=8 --set 'model.g_hidden=[48, 24]' --set run.node_shared=$ns \
    --set run.split_hidden=true \
    --out "$TMP/deep-$ns" > "$TMP/deep-$ns.log" 2>&1
done
grep -q "node-shared memory (2 ranks" "$TMP/deep-true.log" && grep -q "split_hidden=true has no effect here" "$TMP/deep-true.log" &&
  $CKPT diff "$($CKPT newest "$TMP/deep-true")" "$($CKPT newest "$TMP/deep-false")" --tol 1e-6 > "$TMP/deepdiff" \
  && ok "mpi: with two hidden layers in G, node-shared memory (gradients from factors) equals the ring within 1e-6 (np = 2; a split by hidden units is refused with a note)" \
  || not_ok "mpi: two hidden layers, node-shared vs ring" "$(cat "$TMP/deepdiff"; tail -2 "$TMP/deep-true.log")"
# split by hidden units with G batches of 2 rows at np = 3 (a rank without rows in every batch) and
# G batches larger than the data; the ring does not split (and says that true has no effect there)
for ns in true false; do
  mpirun -np 3 "$CFGAN" train "$DEMO" --set train.epochs=2 --set eval.every=2 --set train.g_batch=2 \
    --set run.split_hidden=true --set run.node_shared=$ns --out "$TMP/tiny-$ns" > "$TMP/tiny-$ns.log" 2>&1
  mpirun -np 2 "$CFGAN" train "$DEMO" --set train.epochs=2 --set eval.every=2 --set train.g_batch=1000 \
    --set run.split_hidden=true --set run.node_shared=$ns --out "$TMP/huge-$ns" > "$TMP/huge-$ns.log" 2>&1
done
if grep -q "G split by hidden units" "$TMP/tiny-true.log" && grep -q "G split by hidden units" "$TMP/huge-true.log" &&
   grep -q "split_hidden=true has no effect here" "$TMP/tiny-false.log" &&
   $CKPT diff "$($CKPT newest "$TMP/tiny-true")" "$($CKPT newest "$TMP/tiny-false")" --tol 1e-5 > "$TMP/tinydiff" &&
   $CKPT diff "$($CKPT newest "$TMP/huge-true")" "$($CKPT newest "$TMP/huge-false")" --tol 1e-5 > "$TMP/hugediff"
then ok "mpi: split by hidden units with 2-row G batches at np = 3 and a G batch larger than the data equals the ring within 1e-5"
else not_ok "mpi: split with tiny and huge G batches" "$(cat "$TMP/tinydiff" "$TMP/hugediff" 2>/dev/null; tail -2 "$TMP"/tiny-true.log "$TMP"/huge-true.log)"; fi
# a G batch of 1,200 rows (600 per rank: several of sgemm's K blocks per product), user mode, unsplit
for ns in true false; do
  mpirun -np 2 "$CFGAN" train "$DEMO" --set train.epochs=2 --set model.mode=user --set train.g_batch=1200 \
    --set run.node_shared=$ns --set run.split_hidden=false --out "$TMP/bigb-$ns" > "$TMP/bigb-$ns.log" 2>&1
done
$CKPT diff "$($CKPT newest "$TMP/bigb-true")" "$($CKPT newest "$TMP/bigb-false")" --tol 1e-6 > "$TMP/bigbdiff" \
  && ok "mpi: with 600 rows per rank in a G batch, node-shared memory equals the ring within 1e-6 (np = 2)" \
  || not_ok "mpi: big G batch, node-shared vs ring" "$(cat "$TMP/bigbdiff"; tail -2 "$TMP/bigb-true.log")"
mpirun -np 2 "$CFGAN" train "$DEMO" --set train.epochs=2 --set model.mode=user --set train.g_batch=1200 \
  --set run.split_hidden=true --out "$TMP/bigb-split" > "$TMP/bigb-split.log" 2>&1
grep -q "G split by hidden units" "$TMP/bigb-split.log" &&
  $CKPT diff "$($CKPT newest "$TMP/bigb-split")" "$($CKPT newest "$TMP/bigb-false")" --tol 1e-5 > "$TMP/bigbdiffs" \
  && ok "mpi: with a 1,200-row G batch split by hidden units, node-shared memory equals the ring within 1e-5 (np = 2)" \
  || not_ok "mpi: big G batch, split vs ring" "$(cat "$TMP/bigbdiffs"; tail -2 "$TMP/bigb-split.log")"

# --- balanced batches (train.batch_strata): the batch order does not depend on np, so np = 1, 2, 3
# agree up to summation order; and it is a different order from the reference shuffle
for np in 1 2 3; do
  mpirun -np $np "$CFGAN" train "$DEMO" --set train.epochs=12 --set eval.every=4 --set train.batch_strata=24 \
    --out "$TMP/st$np" > "$TMP/st$np.log" 2>&1 || not_ok "mpi: batch_strata=24 at np=$np" "$(tail -3 "$TMP/st$np.log")"
done
if $CKPT diff "$($CKPT newest "$TMP/st1")" "$($CKPT newest "$TMP/st2")" --tol 1e-5 > "$TMP/stdiff" &&
   $CKPT diff "$($CKPT newest "$TMP/st1")" "$($CKPT newest "$TMP/st3")" --tol 1e-5 >> "$TMP/stdiff" &&
   ! $CKPT diff "$($CKPT newest "$TMP/st2")" "$($CKPT newest "$TMP/ns2-true")" --tol 1e-3 > /dev/null
then ok "mpi: balanced batches (batch_strata 24) agree at np = 1, 2, 3 and differ from the uniform shuffle"
else not_ok "mpi: balanced batches" "$(cat "$TMP/stdiff")"; fi

# --- SIGKILL mid-training, then --resume: the same metrics.jsonl and final.json as an uninterrupted run
run=(train "$DEMO" --set train.epochs=30 --set eval.every=3 --set checkpoint.every=4)
"$CFGAN" "${run[@]}" --out "$TMP/full" > /dev/null 2>&1
"$CFGAN" "${run[@]}" --out "$TMP/killed" > /dev/null 2>&1 & pid=$!
for _ in $(seq 1 200); do ls "$TMP/killed/checkpoints/"ckpt-*.bin > /dev/null 2>&1 && break; sleep 0.05; done
sleep 0.4; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
n_before=$(ls "$TMP/killed/checkpoints" | wc -l)
"$CFGAN" "${run[@]}" --out "$TMP/killed" --resume > "$TMP/resume.log" 2>&1
if [ "$n_before" -ge 1 ] && grep -q "^resuming" "$TMP/resume.log" && same_metrics "$TMP/full" "$TMP/killed" && \
   [ "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["reported"]["P@5"])' "$TMP/killed/final.json")" = \
     "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["reported"]["P@5"])' "$TMP/full/final.json")" ]
then ok "mpi: a run killed with SIGKILL and resumed ends with the same metrics as an uninterrupted run"
else not_ok "mpi: SIGKILL + resume" "checkpoints before kill: $n_before; $(tail -2 "$TMP/resume.log")"; fi

# --- the same at np = 2, killing one rank: the job ends, checkpoints stay loadable, resume matches
mpirun -np 2 "$CFGAN" "${run[@]}" --out "$TMP/full2" > /dev/null 2>&1
mpirun -np 2 "$CFGAN" "${run[@]}" --out "$TMP/k2" > "$TMP/k2.log" 2>&1 & mpid=$!
for _ in $(seq 1 200); do ls "$TMP/k2/checkpoints/"ckpt-*.bin > /dev/null 2>&1 && break; sleep 0.05; done
sleep 0.3
victim=$(pgrep -f "cfgan train $DEMO .*--out $TMP/k2" | tail -1)
kill -9 $victim 2>/dev/null
t0=$(date +%s); wait $mpid; st=$?; t1=$(date +%s)
newest=$($CKPT newest "$TMP/k2" 2>/dev/null)
if [ $st -ne 0 ] && [ $((t1 - t0)) -le 20 ] && $CKPT info "$newest" > /dev/null 2>&1; then
  ok "mpi: a rank killed with SIGKILL ends the job ($((t1 - t0)) s) and the checkpoints stay loadable"
else not_ok "mpi: rank killed" "status $st after $((t1 - t0)) s, newest '$newest'"; fi
mpirun -np 2 "$CFGAN" "${run[@]}" --out "$TMP/k2" --resume > "$TMP/k2r.log" 2>&1
same_metrics "$TMP/full2" "$TMP/k2" && ok "mpi: np = 2 resume after a killed rank reproduces the uninterrupted run" \
  || not_ok "mpi: np = 2 resume" "$(tail -2 "$TMP/k2r.log")"

# --- a corrupted newest checkpoint: warning, fall back to the previous one, same final result
cp -r "$TMP/full" "$TMP/corrupt"
newest=$($CKPT newest "$TMP/corrupt")
printf 'garbage' | dd of="$newest" bs=1 seek=200 conv=notrunc 2>/dev/null
"$CFGAN" "${run[@]}" --out "$TMP/corrupt" --resume > "$TMP/corrupt.log" 2> "$TMP/corrupt.err"
if grep -q "checksum mismatch (corrupted); renamed to \*.bad, trying the previous checkpoint" "$TMP/corrupt.err" && \
   grep -q "^resuming .* (epoch 28" "$TMP/corrupt.log" && same_metrics "$TMP/full" "$TMP/corrupt"
then ok "mpi: a corrupted newest checkpoint is reported and the previous one used"
else not_ok "mpi: corrupted checkpoint" "$(cat "$TMP/corrupt.err") $(grep resuming "$TMP/corrupt.log")"; fi
head -c 100 "$newest" > "$TMP/trunc" && mv "$TMP/trunc" "$newest"
"$CFGAN" "${run[@]}" --out "$TMP/corrupt" --resume > /dev/null 2> "$TMP/trunc.err"
grep -q "truncated" "$TMP/trunc.err" && ok "mpi: a truncated checkpoint is reported" || not_ok "mpi: truncated checkpoint" "$(cat "$TMP/trunc.err")"

# --- SIGUSR1: checkpoint and a clean exit (status 4) within one step; resume completes the run
mpirun -np 2 "$CFGAN" train "$DEMO" --set train.epochs=30 --set checkpoint.every=0 --out "$TMP/usr1" > "$TMP/usr1.log" 2>&1 & mpid=$!
for _ in $(seq 1 200); do grep -q "^epoch" "$TMP/usr1.log" 2>/dev/null && break; sleep 0.05; done
kill -USR1 $mpid
wait $mpid; st=$?
ck=$($CKPT newest "$TMP/usr1" 2>/dev/null)
if [ $st -eq 4 ] && [ -n "$ck" ] && grep -q "stopped by a signal at epoch" "$TMP/usr1.log"; then
  ok "mpi: SIGUSR1 writes a checkpoint and exits with status 4"
else not_ok "mpi: SIGUSR1" "status $st, checkpoint '$ck': $(tail -2 "$TMP/usr1.log")"; fi
mpirun -np 2 "$CFGAN" train "$DEMO" --set train.epochs=30 --set checkpoint.every=0 --out "$TMP/usr1" --resume > /dev/null 2>&1
mpirun -np 2 "$CFGAN" train "$DEMO" --set train.epochs=30 --set checkpoint.every=0 --out "$TMP/usr1full" > /dev/null 2>&1
same_metrics "$TMP/usr1full" "$TMP/usr1" && ok "mpi: a run stopped by SIGUSR1 mid-pass and resumed matches the uninterrupted run" \
  || not_ok "mpi: SIGUSR1 resume" "metrics differ"

# --- resume refuses another config or other data
expect_input_error "mpi: resume refuses a different config" "was written with a different configuration" \
  "$CFGAN" train "$DEMO" --set train.epochs=30 --set train.g_lr=0.5 --out "$TMP/full" --resume
"$CFGAN" synth --users 300 --items 80 --interactions 5000 --out "$TMP/syn.txt" 2> /dev/null
printf 'data:\n  train: %s\ntrain:\n  epochs: 4\n  g_steps: 1\n' "$TMP/syn.txt" > "$TMP/syn.yaml"
"$CFGAN" train "$TMP/syn.yaml" --out "$TMP/syn" > /dev/null 2>&1
sed -i 1d "$TMP/syn.txt"
expect_input_error "mpi: resume refuses different data" "was written for different data" \
  "$CFGAN" train "$TMP/syn.yaml" --out "$TMP/syn" --resume
expect_input_error "mpi: resume without checkpoints says so" "cannot resume: no checkpoint files" \
  "$CFGAN" train "$DEMO" --out "$TMP/empty" --resume

# --- the same under node-shared Adam (the default exchange; run.fail_at_step makes the last rank's
# loss NaN): every rank stops with status 3 before the update, and the last checkpoint resumes
for np in 2 3; do
  mpirun -np $np "$CFGAN" train "$DEMO" --set train.epochs=20 --set checkpoint.every=5 --set run.fail_at_step=200 \
    --out "$TMP/nsnan$np" > "$TMP/nsnan$np.log" 2>&1; st=$?
  mpirun -np $np "$CFGAN" train "$DEMO" --set train.epochs=20 --set checkpoint.every=5 --out "$TMP/nsnan$np" --resume \
    > "$TMP/nsnan$np-resume.log" 2>&1; st2=$?
  if [ $st -eq 3 ] && grep -q "node-shared memory ($np ranks" "$TMP/nsnan$np.log" &&
     grep -q "numerical failure: the .* loss is not finite at epoch .*, step 200" "$TMP/nsnan$np.log" &&
     [ $st2 -eq 0 ] && grep -q "^resuming .* (epoch 10" "$TMP/nsnan$np-resume.log" && [ -f "$TMP/nsnan$np/final.json" ]
  then ok "mpi: a non-finite loss under node-shared Adam ends all $np ranks with status 3; the last checkpoint resumes"
  else not_ok "mpi: non-finite loss under node-shared Adam (np=$np)" "status $st / $st2: $(grep -v '^epoch' "$TMP/nsnan$np.log" | head -3)"; fi
done
# the resumed run ends with the bits of an uninterrupted one: the checkpoint held every rank's
# Adam moments (each rank updates only its own rows of G's weights and gathers them to save)
mpirun -np 2 "$CFGAN" train "$DEMO" --set train.epochs=20 --set checkpoint.every=5 --out "$TMP/nsstraight" > /dev/null 2>&1
same_metrics "$TMP/nsstraight" "$TMP/nsnan2" &&
  $CKPT diff "$($CKPT newest "$TMP/nsstraight")" "$($CKPT newest "$TMP/nsnan2")" --tol 0 --moments > "$TMP/nsresdiff" \
  && ok "mpi: under node-shared Adam a run resumed from its checkpoint ends with an uninterrupted run's bits, moments too (np = 2)" \
  || not_ok "mpi: node-shared resume equals an uninterrupted run" "$(cat "$TMP/nsresdiff")"

# --- a non-finite loss seen by some ranks only: every rank stops at once with status 3 and the message
for sh in true false; do
  t0=$(date +%s); mpirun -np 2 "$CFGAN" train "$DEMO" --set train.epochs=10 --set train.g_lr=100 --set train.d_lr=100 \
    --set train.optimizer=sgd --set train.g_batch=1 --set train.d_batch=1 --set run.shard_optimizer=$sh \
    --out "$TMP/nan-$sh" > /dev/null 2> "$TMP/nan-$sh.err"; st=$?; t1=$(date +%s)
  if [ $st -eq 3 ] && [ $((t1 - t0)) -le 20 ] && grep -q "numerical failure: .* is not finite at epoch 1, step" "$TMP/nan-$sh.err"
  then ok "mpi: a non-finite loss on one rank ends all ranks with status 3 and the message (shard_optimizer=$sh)"
  else not_ok "mpi: NaN on one rank" "status $st after $((t1 - t0)) s: $(head -3 "$TMP/nan-$sh.err")"; fi
done

# --- a data error seen by one rank only ends every rank quickly with the message
printf '0 1 1\n0 2 1\n1 x 1\n1 2 1\n' > "$TMP/bad.train"; printf '0 3 1\n' > "$TMP/bad.test"
printf 'data:\n  train: %s\n  test: %s\n' "$TMP/bad.train" "$TMP/bad.test" > "$TMP/bad.yaml"
t0=$(date +%s); mpirun -np 2 "$CFGAN" train "$TMP/bad.yaml" --out "$TMP/badrun" > /dev/null 2> "$TMP/bad.err"; st=$?; t1=$(date +%s)
if [ $st -ne 0 ] && [ $((t1 - t0)) -le 15 ] && grep -q "^$TMP/bad.train:3: item id 'x' is not a non-negative integer" "$TMP/bad.err"
then ok "mpi: a data error seen by one rank ends all ranks with the message ($((t1 - t0)) s)"
else not_ok "mpi: one-rank data error" "status $st after $((t1 - t0)) s: $(head -3 "$TMP/bad.err")"; fi

# --- eight ranks on this 2-core machine (oversubscribed)
if need_data "mpi: np = 8 on ML100K"; then
  mpirun -np 8 "$CFGAN" train "$ROOT/configs/ml100k.yaml" --data-root "$(data_root)" --set train.epochs=8 --set eval.every=4 \
    --out "$TMP/np8" > "$TMP/np8.log" 2>&1 && [ -s "$TMP/np8/final.json" ] && grep -q '"ranks": 8' "$TMP/np8/final.json" \
    && ok "mpi: mpirun -np 8 cfgan train configs/ml100k.yaml works on 2 cores" || not_ok "mpi: np = 8" "$(tail -3 "$TMP/np8.log")"
fi

# --- the debug replica check: parameters are compared across ranks every step
# (with the message-passing exchange: under node-shared memory every rank reads the same parameters)
mpirun -np 2 "$CFGAN" train "$DEMO" --set train.epochs=4 --set run.check_every=1 --set run.node_shared=false \
  --out "$TMP/check" > "$TMP/check.log" 2>&1 \
  && ok "mpi: run.check_every=1 finds identical parameters on every rank at every step" \
  || not_ok "mpi: replica check" "$(tail -3 "$TMP/check.log")"

# --- the sharded optimizer (reduce-scatter, Adam on a slice, allgather) equals allreduce + full Adam
mpirun -np 2 "$CFGAN" train "$DEMO" --set train.epochs=12 --set run.shard_optimizer=false --out "$TMP/unsharded" > /dev/null 2>&1
mpirun -np 2 "$CFGAN" train "$DEMO" --set train.epochs=12 --set run.shard_optimizer=true --set run.split_hidden=false \
  --out "$TMP/sharded" > /dev/null 2>&1
same_metrics "$TMP/unsharded" "$TMP/sharded" && $CKPT diff "$($CKPT newest "$TMP/unsharded")" "$($CKPT newest "$TMP/sharded")" --tol 0 --moments > /dev/null \
  && ok "mpi: the sharded optimizer gives the same parameters, moments and metrics as allreduce + full Adam (np = 2)" \
  || not_ok "mpi: sharded optimizer" "runs differ"
