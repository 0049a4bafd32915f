# Data-parallel training: np = 1, 2, 3 and 8 give the same run, which resumes bit for bit; balanced
# batches; a non-finite loss, a failing rank, a data error seen by one rank end every rank; the
# replica check; np = 1, 2, 3 on ML100K.
. "$(dirname "$0")/../lib.sh"
. "$ROOT/tools/mpi-env.sh"

# --- np = 1, 2, 3 on the demo: the same metrics to 4 decimals and the same parameters within 1e-5 of
# max |param| (16 epochs: the few parameters whose gradient is float noise drift by ~5e-6 in Adam's
# first steps, 1.8e-5 of max |param| at epoch 4, 0.8e-5 at epoch 16 as the weights grow)
short=("$DEMO" --set train.epochs=16 --set eval.every=4 --set checkpoint.every=4)
all_ok=1 why=
for np in 1 2 3; do
  train $np "np$np" "${short[@]}" || { all_ok=0; why+=" np$np failed: $(tail -2 "$TMP/np$np.log")"; }
  [ $np = 1 ] && continue
  metrics_4dp np1 "np$np" > "$TMP/m-$np" || { all_ok=0; why+=" np$np: $(cat "$TMP/m-$np")"; }
  params_close np1 "np$np" 1e-5 > "$TMP/p-$np" || { all_ok=0; why+=" np$np: $(cat "$TMP/p-$np")"; }
done
[ $all_ok = 1 ] && ok "mpi: np = 1, 2, 3 on the demo agree (metrics to 4 decimals, parameters within 1e-5)" \
  || not_ok "mpi: np = 1, 2, 3" "$why"

# --- resume is bit-exact: a NaN injected on the last rank at step 150 ends every rank with status 3
# after the epoch-8 checkpoint; resuming from it ends with the uninterrupted run's metrics,
# parameters and Adam moments
for np in 2 3; do
  CFGAN_DEBUG_FAIL_AT_STEP=150 train $np "nan$np" "${short[@]}"; st=$?
  resume $np "nan$np" "${short[@]}"; st2=$?
  if [ $st -eq 3 ] && grep -q "numerical failure: the .* loss is not finite at epoch .*, step 150" "$TMP/nan$np.log" &&
     [ $st2 -eq 0 ] && grep -q "^resuming .* (epoch 8, step" "$TMP/nan$np.log" &&
     same_metrics "np$np" "nan$np" && params_close "np$np" "nan$np" 0 --moments > "$TMP/r-$np"
  then ok "mpi: at np = $np a NaN on one rank stops every rank (status 3) and the resumed run has the uninterrupted run's bits, moments too"
  else not_ok "mpi: np=$np NaN and resume" "status $st / $st2: $(grep -v '^epoch' "$TMP/nan$np.log" | head -4; cat "$TMP/r-$np" 2>/dev/null)"; fi
done

# --- eight ranks on this 2-core machine (oversubscribed): the demo's metrics to 4 decimals of np = 1
train 8 np8 "${short[@]}" && grep -q '"ranks": 8' "$TMP/np8/final.json" && metrics_4dp np1 np8 > "$TMP/m8" &&
  params_close np1 np8 1e-5 > "$TMP/p8" \
  && ok "mpi: np = 8 on 2 cores gives np = 1's metrics to 4 decimals and parameters within 1e-5" \
  || not_ok "mpi: np = 8" "$(tail -2 "$TMP/np8.log"; cat "$TMP/m8" "$TMP/p8" 2>/dev/null)"

# --- balanced batches (train.batch_strata): the batch order does not depend on np, so np = 1, 2, 3
# agree up to summation order; and it is another order than the reference shuffle
for np in 1 2 3; do train $np "st$np" "${short[@]}" --set train.batch_strata=24; done
if params_close st1 st2 1e-5 > "$TMP/st" && params_close st1 st3 1e-5 >> "$TMP/st" && ! params_close st2 np2 1e-3 > /dev/null
then ok "mpi: balanced batches (batch_strata 24) agree at np = 1, 2, 3 and differ from the uniform shuffle"
else not_ok "mpi: balanced batches" "$(cat "$TMP/st")"; fi

# --- a rank killed with SIGKILL mid-run ends the job; its checkpoints stay loadable and resume to
# the uninterrupted run's metrics (the kill lands before the last epoch: no final.json yet)
run=("$DEMO" --set train.epochs=30 --set eval.every=3 --set checkpoint.every=4)
train 2 full2 "${run[@]}"
mpirun -np 2 "$CFGAN" train "${run[@]}" --out "$TMP/k2" > "$TMP/k2.log" 2>&1 & mpid=$!
for _ in $(seq 1 200); do ls "$TMP/k2/checkpoints/"ckpt-*.bin > /dev/null 2>&1 && break; sleep 0.05; done
victim=$(pgrep -f "cfgan train $DEMO .*--out $TMP/k2" | tail -1)
kill -9 $victim 2>/dev/null
t0=$(date +%s); wait $mpid; st=$?; t1=$(date +%s)
newest=$($CKPT newest "$TMP/k2" 2>/dev/null)
if [ $st -ne 0 ] && [ ! -e "$TMP/k2/final.json" ] && [ $((t1 - t0)) -le 20 ] && $CKPT info "$newest" > /dev/null 2>&1; then
  ok "mpi: a rank killed with SIGKILL before the last epoch ends the job ($((t1 - t0)) s) and the checkpoints stay loadable"
else not_ok "mpi: rank killed" "status $st after $((t1 - t0)) s, newest '$newest', final.json: $(ls "$TMP/k2")"; fi
resume 2 k2 "${run[@]}"
same_metrics full2 k2 && ok "mpi: np = 2 resumed after a killed rank reproduces the uninterrupted run" \
  || not_ok "mpi: np = 2 resume after a kill" "$(tail -2 "$TMP/k2.log")"

# --- SIGUSR1 to mpirun: a checkpoint and status 4 within one step; resume completes the run
mpirun -np 2 "$CFGAN" train "$DEMO" --set train.epochs=30 --set checkpoint.every=0 --out "$TMP/usr1" > "$TMP/usr1.log" 2>&1 & mpid=$!
for _ in $(seq 1 200); do grep -q "^epoch" "$TMP/usr1.log" 2>/dev/null && break; sleep 0.05; done
kill -USR1 $mpid
wait $mpid; st=$?
ck=$($CKPT newest "$TMP/usr1" 2>/dev/null)
if [ $st -eq 4 ] && [ -n "$ck" ] && [ ! -e "$TMP/usr1/final.json" ] && grep -q "stopped by a signal at epoch" "$TMP/usr1.log"; then
  ok "mpi: SIGUSR1 writes a checkpoint and exits with status 4 before the end"
else not_ok "mpi: SIGUSR1" "status $st, checkpoint '$ck': $(tail -2 "$TMP/usr1.log")"; fi
resume 2 usr1 "$DEMO" --set train.epochs=30 --set checkpoint.every=0
train 2 usr1full "$DEMO" --set train.epochs=30 --set checkpoint.every=0
same_metrics usr1full usr1 && ok "mpi: a run stopped by SIGUSR1 mid-pass and resumed matches the uninterrupted run" \
  || not_ok "mpi: SIGUSR1 resume" "$(tail -2 "$TMP/usr1.log")"

# --- a data error seen by one rank only ends every rank quickly with the message
printf '0 1 1\n0 2 1\n1 x 1\n1 2 1\n' > "$TMP/bad.train"; printf '0 3 1\n' > "$TMP/bad.test"
printf 'data:\n  train: %s\n  test: %s\n' "$TMP/bad.train" "$TMP/bad.test" > "$TMP/bad.yaml"
t0=$(date +%s); mpirun -np 2 "$CFGAN" train "$TMP/bad.yaml" --out "$TMP/badrun" > /dev/null 2> "$TMP/bad.err"; st=$?; t1=$(date +%s)
if [ $st -eq 2 ] && [ $((t1 - t0)) -le 15 ] && grep -q "^$TMP/bad.train:3: item id 'x' is not a non-negative integer" "$TMP/bad.err" &&
   [ ! -e "$TMP/badrun" ]
then ok "mpi: a data error seen by one rank ends all ranks with the message ($((t1 - t0)) s), nothing written"
else not_ok "mpi: one-rank data error" "status $st after $((t1 - t0)) s: $(head -3 "$TMP/bad.err")"; fi

# --- the replica check (CFGAN_DEBUG_CHECK_EVERY): it runs and finds equal parameters, and it fires
# when one rank's copy diverges (CFGAN_DEBUG_DIVERGE_AT_STEP)
CFGAN_DEBUG_CHECK_EVERY=1 train 2 check "$DEMO" --set train.epochs=4; st=$?
n=$(grep -c "^replica check at step [0-9]*: parameters equal on all 2 ranks" "$TMP/check.log")
# 4 epochs = 2 outer iterations of one D pass (7 batches) and two G passes (13 each): 66 steps
[ $st -eq 0 ] && [ "$n" -eq 66 ] && ok "mpi: the replica check ran at every step ($n) and found equal parameters" \
  || not_ok "mpi: replica check" "status $st, $n checks: $(tail -2 "$TMP/check.log")"
CFGAN_DEBUG_CHECK_EVERY=5 CFGAN_DEBUG_DIVERGE_AT_STEP=12 train 2 diverge "$DEMO" --set train.epochs=4; st=$?
[ $st -eq 1 ] && grep -q "internal: model parameters differ across ranks at step 15 (CFGAN_DEBUG_CHECK_EVERY)" "$TMP/diverge.log" \
  && ok "mpi: the replica check fires at the first check after one rank's parameters diverge" \
  || not_ok "mpi: replica check firing" "status $st: $(tail -2 "$TMP/diverge.log")"

# --- np = 1, 2, 3 on ML100K (40 epochs): parameters within 1e-5, metrics to 4 decimals
if need_data "mpi: np = 1, 2, 3 agree on ML100K"; then
  D=$(data_root) all_ok=1 why=
  for np in 1 2 3; do
    train $np "ml$np" "$ROOT/configs/ml100k.yaml" --data-root "$D" --set train.epochs=40 --set eval.every=20 ||
      { all_ok=0; why+=" np=$np failed: $(tail -2 "$TMP/ml$np.log")"; }
  done
  for np in 2 3; do
    metrics_4dp ml1 "ml$np" > "$TMP/mm$np" || { all_ok=0; why+=" $(cat "$TMP/mm$np")"; }
    params_close ml1 "ml$np" 1e-5 > "$TMP/mp$np" || { all_ok=0; why+=" $(cat "$TMP/mp$np")"; }
  done
  [ $all_ok = 1 ] && ok "mpi: np = 1, 2, 3 on ML100K give the same parameters (within 1e-5) and metrics (4 decimals)" \
    || not_ok "mpi: np = 1, 2, 3 agree on ML100K" "$why"
  # the learning check: after 40 epochs at np = 2 an independent PyTorch implementation of the
  # reference algorithm reaches P@5 0.252 and NDCG@20 0.228; D rates real rows above fake ones
  if finished ml2 && /usr/bin/python3 - "$TMP/ml2" <<'PY'
import json, sys
f = json.load(open(f"{sys.argv[1]}/final.json"))["reported"]
last = [json.loads(l) for l in open(f"{sys.argv[1]}/metrics.jsonl")][-1]
print(f"P@5 {f['P@5']:.4f} NDCG@20 {f['NDCG@20']:.4f}; D real {last['d_real']:.3f} fake {last['d_fake']:.3f}")
assert f["P@5"] >= 0.23 and f["NDCG@20"] >= 0.21 and last["d_real"] > last["d_fake"]
PY
  then ok "mpi: CFGAN learns on ML100K (40 epochs at np = 2: P@5 >= 0.23, NDCG@20 >= 0.21, D real > fake)"
  else not_ok "mpi: ML100K learning check" "see $TMP/ml2"; fi
fi

# --- BLAS threads: with OPENBLAS_NUM_THREADS unset, four ranks on this 2-core machine get one
# thread each (the node's cores over its ranks, at least one), and the log says so
(unset OPENBLAS_NUM_THREADS; train 4 threads "$DEMO" --set train.epochs=2)
if finished threads && grep -q "^1 BLAS thread per rank: 4 ranks on this node of $(nproc) cores" "$TMP/threads.log" &&
   grep -q '; 1 threads"' "$TMP/threads/final.json"
then ok "mpi: with OPENBLAS_NUM_THREADS unset, np = 4 runs one BLAS thread per rank and logs the choice"
else not_ok "mpi: BLAS threads" "$(grep -i blas "$TMP/threads.log"; grep -o '"blas": .*' "$TMP/threads/final.json")"; fi
