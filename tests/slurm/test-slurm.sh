#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions run from traps and wait_for look unreachable to shellcheck
# tests/slurm/test-slurm.sh: end-to-end test of the SLURM job scripts in jobs/ on a throwaway
# single-node SLURM cluster (the body of `make test-slurm`).
#
# Usage (as root, from anywhere; paths are relative to this file): bash tests/slurm/test-slurm.sh
# Environment: CFGAN (binary, default build/cfgan), TEST_SLURM_AUTH=munge (default) or none,
# TEST_SLURM_KEEP=1 keeps the temporary directory (daemons are stopped all the same),
# TEST_SLURM_BUDGET (seconds, default 270) bounds all waits together, TEST_SLURM_EVAL_EVERY (default 2, see below).
#
# What it does:
#   1. installs slurm-wlm and munge with apt-get when missing (Debian 12: SLURM 22.05);
#   2. starts munged, slurmctld and slurmd by hand (no systemd, no cgroups), every config, state,
#      spool, log, pid, key and socket file under one temporary directory, on free TCP ports, the
#      node advertising 8 CPUs (config_overrides) so that several small jobs fit on 2 cores;
#   3. checks, one line each ("ok NAME" / "not ok NAME: why"):
#      train-*    jobs/train.sbatch on the demo config runs to the end (final.json, metrics.jsonl);
#      preempt-*  a longer run (2 tasks, checkpoints every 5 epochs) gets `scancel -b -s USR1`, is
#                 requeued by the script, resumes from its checkpoint and finishes with the same
#                 metrics.jsonl (every field but "seconds") as an uninterrupted mpirun run; once
#                 with srun --mpi=pmix (the default) and once with LAUNCHER=mpirun;
#      sweep-*    a 3-task array from jobs/sweep.sbatch produces 3 finished run directories,
#                 each trained with its own line of the sweep file;
#      baselines  jobs/baselines.sbatch fits TopPop, ItemKNN and EASE^R on the demo config;
#      cleanup    every daemon and job process is gone afterwards;
#   4. always (exit, error or Ctrl-C) cancels its jobs, stops the daemons by their recorded PIDs,
#      makes sure they are gone and deletes the temporary directory.
# The last line is "N passed, M failed"; the exit status is non-zero when anything failed.
#
# Authentication: munge by default, with its own key, socket, pid, seed and log files in the
# temporary directory: it is what real clusters run, and with cred/munge the job credentials
# expire after AuthInfo=cred_expire=10 s, which (with sched_interval=2) lets a requeued job restart
# after ~12 s instead of ~2 min. TEST_SLURM_AUTH=none uses auth/none + cred/none (no munged at all)
# as a fallback should munged not start somewhere; it passes here too.
set -uo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CFGAN=${CFGAN:-$ROOT/build/cfgan}
export CFGAN ROOT
TMP=/nonexistent # (set up below; lib.sh would otherwise make a scratch folder of its own)
. "$ROOT/tests/lib.sh" # the run comparisons the other test scripts use (same_metrics); ok/not_ok follow
AUTH=${TEST_SLURM_AUTH:-munge}
T_START=$(date +%s)
DEADLINE=$((T_START + ${TEST_SLURM_BUDGET:-270})) # no wait goes past this (seconds since epoch)

passed=0 failed=0
ok() { echo "ok $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok $1: $2"; failed=$((failed + 1)); }
note() { echo "# $*"; }
# Indent a file's last lines as diagnostics.
show_tail() { # show_tail FILE [N]
  [ -f "$1" ] && tail -n "${2:-15}" "$1" | sed "s|^|#   $(basename "$1"): |"
  return 0
}

# ---- state for the cleanup ---------------------------------------------------------------------
TMP=''
DAEMON_PIDS=()  # "name:pid" of munged, slurmctld, slurmd
OTHER_PIDS=()   # background processes of this script (the uninterrupted reference runs)
JOBS=()         # every job id submitted
CLUSTER_UP=0
FINISHED=0

stop_pid() { # stop_pid PID TIMEOUT: SIGTERM, wait up to TIMEOUT s, then SIGKILL; 0 when gone
  local pid=$1 t=$2 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < t * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  sleep 0.2
  wait "$pid" 2>/dev/null
  ! kill -0 "$pid" 2>/dev/null
}

# PIDs of live processes that belong to this test cluster: the daemons carry the tag
# CFGAN_SLURM_TEST_TAG=$TMP in their environment, job processes our SLURM_CONF and a job id, and
# slurmstepd (which clears its environment) works in or holds files under $TMP.
cluster_pids() {
  [ -n "$TMP" ] || return 0
  local d p e
  for d in /proc/[0-9]*; do
    p=${d#/proc/} e=$d/environ
    [ "$p" = $$ ] && continue
    grep -q '^State:.*Z' "$d/status" 2>/dev/null && continue # a zombie is not running
    if grep -qzxF "CFGAN_SLURM_TEST_TAG=$TMP" "$e" 2>/dev/null ||
      { grep -qzxF "SLURM_CONF=$TMP/etc/slurm.conf" "$e" 2>/dev/null && grep -qz '^SLURM_JOB_ID=' "$e" 2>/dev/null; } ||
      [[ "$(readlink "$d/cwd" 2>/dev/null)/" == "$TMP"/* ]] ||
      find "$d/fd" -maxdepth 1 -lname "$TMP/*" 2>/dev/null | grep -q .; then
      echo "$p"
    fi
  done
}

cleanup() {
  local status=$? entry name pid left=() i
  [ "$FINISHED" = 1 ] && return
  FINISHED=1
  trap - EXIT INT TERM
  if [ "$CLUSTER_UP" = 1 ] && [ ${#JOBS[@]} -gt 0 ]; then
    scancel "${JOBS[@]}" 2>/dev/null
    for ((i = 0; i < 100; i++)); do # up to 10 s for the jobs to end
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
  for pid in "${OTHER_PIDS[@]}"; do stop_pid "$pid" 5; done
  # slurmd first (it ends its job steps), then slurmctld, then munged.
  for ((i = ${#DAEMON_PIDS[@]} - 1; i >= 0; i--)); do
    entry=${DAEMON_PIDS[i]}
    name=${entry%%:*} pid=${entry#*:}
    stop_pid "$pid" 10 || left+=("$name($pid)")
  done
  # Anything of the cluster still alive (slurmstepd, job processes): kill it by PID.
  for pid in $(cluster_pids); do
    left+=("$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-60)($pid)")
    kill -KILL "$pid" 2>/dev/null
  done
  sleep 0.2
  if [ ${#DAEMON_PIDS[@]} -gt 0 ]; then
    local still
    still=$(cluster_pids | tr '\n' ' ')
    if [ ${#left[@]} -gt 0 ] || [ -n "$still" ]; then
      not_ok cleanup "left running and killed: ${left[*]} ${still:+still alive: $still}"
    else
      ok cleanup
    fi
  fi
  if [ -n "$TMP" ] && [ -d "$TMP" ]; then
    if [ "${TEST_SLURM_KEEP:-0}" = 1 ]; then note "kept $TMP"; else rm -rf "$TMP"; fi
  fi
  [ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && not_ok script "ended early with status $status"
  note "took $(($(date +%s) - T_START)) s"
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ] && exit 0
  exit 1
}
trap cleanup EXIT
trap 'echo "# interrupted"; exit 130' INT
trap 'echo "# terminated"; exit 143' TERM

# ---- prerequisites ------------------------------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
  not_ok setup "must run as root (it installs packages and runs the SLURM daemons)"
  exit 1
fi
if [ ! -x "$CFGAN" ]; then
  not_ok setup "$CFGAN not found: build it first (make all)"
  exit 1
fi

install_slurm() {
  local need=0 cmd before after pid
  for cmd in sbatch srun squeue scontrol scancel sinfo slurmctld slurmd munged munge; do
    command -v "$cmd" >/dev/null || need=1
  done
  [ "$need" = 0 ] && return 0
  note "installing slurm-wlm and munge with apt-get"
  before=$(pgrep -x 'munged|slurmctld|slurmd' | sort)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold slurm-wlm munge; } \
    >/tmp/cfgan-slurm-apt.log 2>&1; then
    show_tail /tmp/cfgan-slurm-apt.log
    return 1
  fi
  rm -f /tmp/cfgan-slurm-apt.log
  # Package scripts may have started the system daemons (where no policy-rc.d forbids it): stop
  # those this installation started; the test runs its own.
  after=$(pgrep -x 'munged|slurmctld|slurmd' | sort)
  for pid in $(comm -13 <(echo "$before") <(echo "$after")); do
    note "stopping daemon $pid started by the package installation"
    stop_pid "$pid" 10
  done
  for cmd in sbatch srun slurmctld slurmd munged; do command -v "$cmd" >/dev/null || return 1; done
}
if ! install_slurm; then
  not_ok setup "could not install slurm-wlm and munge (apt-get)"
  exit 1
fi

# Nothing of an outer SLURM job (if any) may leak into the test cluster's commands.
for v in $(compgen -e | grep '^SLURM_'); do unset "$v"; done

TMP=$(mktemp -d /tmp/cfgan-slurm.XXXXXX) || { not_ok setup "mktemp failed"; exit 1; }
chmod 755 "$TMP" # munged wants its socket's directory searchable by everyone
mkdir -p "$TMP"/{etc,state,spool,log,run,out,runs} && mkdir -m 700 "$TMP/munge" && mkdir -m 755 "$TMP/munge-run"

# ---- the cluster --------------------------------------------------------------------------------
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { # a free TCP port, not the one given
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 40000))
    [ "$p" != "${1:-}" ] && port_free "$p" && { echo "$p"; return 0; }
  done
  return 1
}

# start_cluster: munged (unless auth/none), slurmctld and slurmd; sets SLURM_CONF; on failure
# prints diagnostics, sets `why` and returns 1. Runs in this shell (no subshell): it records PIDs.
start_cluster() {
  local node ctld_port slurmd_port mem auth i state
  node=$(hostname -s)
  if ! ctld_port=$(free_port) || ! slurmd_port=$(free_port "$ctld_port"); then
    why="no free TCP port"
    return 1
  fi
  mem=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
  if [ "$AUTH" = munge ]; then
    head -c 1024 /dev/urandom >"$TMP/munge/munge.key" && chmod 400 "$TMP/munge/munge.key"
    CFGAN_SLURM_TEST_TAG=$TMP munged -F --socket="$TMP/munge-run/munge.sock" \
      --key-file="$TMP/munge/munge.key" --pid-file="$TMP/munge-run/munged.pid" \
      --log-file="$TMP/log/munged.log" --seed-file="$TMP/munge/munged.seed" \
      >"$TMP/log/munged.stderr" 2>&1 &
    DAEMON_PIDS+=("munged:$!")
    for ((i = 0; i < 100; i++)); do
      [ -S "$TMP/munge-run/munge.sock" ] && break
      kill -0 "$!" 2>/dev/null || break
      sleep 0.1
    done
    if ! munge -n -S "$TMP/munge-run/munge.sock" | unmunge -S "$TMP/munge-run/munge.sock" >/dev/null 2>&1; then
      show_tail "$TMP/log/munged.log"; show_tail "$TMP/log/munged.stderr"
      why="munged did not start (try TEST_SLURM_AUTH=none)"
      return 1
    fi
    auth="AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$TMP/munge-run/munge.sock,cred_expire=10"
  else
    auth="AuthType=auth/none
CredType=cred/none
AuthInfo=cred_expire=10"
  fi

  cat >"$TMP/etc/slurm.conf" <<EOF
# throwaway single-node cluster of tests/slurm/test-slurm.sh
ClusterName=cfgantest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
$auth
StateSaveLocation=$TMP/state
SlurmdSpoolDir=$TMP/spool
SlurmctldPidFile=$TMP/run/slurmctld.pid
SlurmdPidFile=$TMP/run/slurmd.pid
SlurmctldLogFile=$TMP/log/slurmctld.log
SlurmdLogFile=$TMP/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups, no systemd: plain process tracking, no task binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
# look at pending jobs every 2 s (default 60 s): a requeued job may start cred_expire + 1 s later
SchedulerParameters=sched_interval=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
# reject at submission what can never run, rather than leave it pending forever
EnforcePartLimits=ALL
JobRequeue=1
ReturnToService=2
KillWait=5
MinJobAge=600
InactiveLimit=0
MessageTimeout=10
# advertise 8 CPUs on this 2-core machine so that several small jobs run at once
SlurmdParameters=config_overrides
NodeName=$node NodeAddr=127.0.0.1 CPUs=8 RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=30 State=UP
EOF
  export SLURM_CONF=$TMP/etc/slurm.conf
  CFGAN_SLURM_TEST_TAG=$TMP slurmctld -D -i -f "$SLURM_CONF" >"$TMP/log/slurmctld.stderr" 2>&1 &
  DAEMON_PIDS+=("slurmctld:$!")
  CFGAN_SLURM_TEST_TAG=$TMP slurmd -D -f "$SLURM_CONF" -N "$node" >"$TMP/log/slurmd.stderr" 2>&1 &
  DAEMON_PIDS+=("slurmd:$!")
  CLUSTER_UP=1
  for ((i = 0; i < 300; i++)); do # up to 30 s for the node to come up idle
    state=$(sinfo -h -n "$node" -o %t 2>/dev/null)
    [ "$state" = idle ] && return 0
    sleep 0.1
  done
  show_tail "$TMP/log/slurmctld.log"; show_tail "$TMP/log/slurmd.log"
  why="node $node not idle after 30 s (state: '${state:-none}')"
  return 1
}

t0=$(date +%s.%N)
why=''
if ! start_cluster; then
  not_ok cluster "$why"
  exit 1
fi
ok cluster
note "cluster up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s ($AUTH auth, $TMP)"

# ---- helpers for the checks ---------------------------------------------------------------------
cd "$ROOT" || exit 1
# What every job gets from the submitting environment (sbatch exports it): this binary, run
# directories under the temporary directory (not runs/ of the work tree), and ranks that yield
# when idle (8 advertised CPUs on 2 cores: concurrent jobs oversubscribe them).
export CFGAN RUNS_DIR=$TMP/runs OMPI_MCA_mpi_yield_when_idle=1

# submit SBATCH-ARGS...: sbatch from the repository root with a 5-minute limit (the partition's
# MaxTime is 30 min and EnforcePartLimits=ALL rejects the scripts' own 4 h); sets JOB (or
# SUBMIT_ERR, returns 1).
submit() {
  local out
  JOB='' SUBMIT_ERR=''
  if ! out=$(sbatch --parsable --time=5 "$@" 2>&1); then
    SUBMIT_ERR="sbatch $*: $out"
    return 1
  fi
  JOB=${out%%;*}
  JOBS+=("$JOB")
}
# job_field JOBID FIELD: a field of `scontrol show job` (first line: first task of an array).
job_field() { scontrol show job -o "$1" 2>/dev/null | head -1 | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
is_final_state() {
  case $1 in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED) return 0 ;; esac
  return 1
}
# job_done JOBID [N]: every task of the job (N of them, default 1) is in a final state.
job_done() {
  local states s n=0
  states=$(scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n 's/^JobState=//p')
  for s in $states; do is_final_state "$s" || return 1; n=$((n + 1)); done
  [ "$n" -ge "${2:-1}" ]
}
# wait_for TIMEOUT CMD...: run CMD every 0.5 s until it succeeds; 1 after TIMEOUT s (or past the
# test's overall deadline).
wait_for() {
  local end=$(($(date +%s) + $1))
  shift
  [ "$end" -gt "$DEADLINE" ] && end=$DEADLINE
  while :; do
    "$@" && return 0
    [ "$(date +%s)" -ge "$end" ] && return 1
    sleep 0.5
  done
}

# await_job NAME TIMEOUT COND ID WHAT: wait_for COND ID; on timeout report NAME as failed ("job ID
# WHAT within TIMEOUT s") with the job's state and output tail, and return 1.
await_job() {
  local name=$1 secs=$2 cond=$3 id=$4 what=$5
  wait_for "$secs" "$cond" "$id" && return 0
  not_ok "$name" "job $id $what within $secs s: $(job_summary "$id")"
  show_tail "$TMP/out/slurm-$id.out"
  return 1
}

# await_array NAME ID N SECS: wait until the N tasks of array ID have ended and check that all
# completed; on failure report NAME as failed with the tasks' states and their output tails.
await_array() {
  local name=$1 id=$2 n=$3 secs=$4 k states
  if ! wait_for "$secs" job_done "$id" "$n"; then
    not_ok "$name" "array $id not finished after $secs s: $(scontrol show job -o "$id" | grep -o 'JobState=[A-Z]*' | tr '\n' ' ')"
    return 1
  fi
  [ "$(scontrol show job -o "$id" | grep -c 'JobState=COMPLETED')" -eq "$n" ] && return 0
  states=$(scontrol show job -o "$id" | grep -o 'JobState=[A-Z]*' | sort | uniq -c | tr -s ' \n' ' ')
  not_ok "$name" "array $id:$states"
  for ((k = 0; k < n; k++)); do show_tail "$TMP/out/slurm-${id}_$k.out" 5; done
  return 1
}

has_ckpt() { compgen -G "$1/checkpoints/ckpt-*.bin" >/dev/null; }
running_with_ckpt() { [ "$(job_field "$1" JobState)" = RUNNING ] && has_ckpt "$RUNS_DIR/$1"; }
restarted() { local r; r=$(job_field "$1" Restarts); [ "${r:-0}" -ge 1 ]; }
job_summary() { echo "state $(job_field "$1" JobState), exit code $(job_field "$1" ExitCode), restarts $(job_field "$1" Restarts)"; }
train_seed() { awk '/^train:/ { t = 1; next } /^[^ #]/ { t = 0 } t && $1 == "seed:" { print $2 }' "$1/config.yaml" 2>/dev/null; }

# ---- a. one training run ------------------------------------------------------------------------
check_train() {
  local id dir out
  if ! submit -J cfgan-t-train -o "$TMP/out/slurm-%j.out" jobs/train.sbatch configs/demo.yaml --set train.epochs=20; then
    not_ok train-completes "$SUBMIT_ERR"
    return
  fi
  id=$JOB dir=$RUNS_DIR/$JOB out=$TMP/out/slurm-$JOB.out
  await_job train-completes 90 job_done "$id" "not finished" || return
  if [ "$(job_field "$id" JobState)" = COMPLETED ] && [ "$(job_field "$id" ExitCode)" = 0:0 ]; then
    ok train-completes
  else
    not_ok train-completes "job $id: $(job_summary "$id")"
    show_tail "$out"
  fi
  if [ -s "$dir/final.json" ] && [ -s "$dir/metrics.jsonl" ]; then
    ok train-run-dir
  else
    not_ok train-run-dir "$dir lacks final.json or metrics.jsonl: $(cd "$dir" 2>&1 && echo *)"
  fi
}

# ---- b. preemption: USR1, checkpoint, requeue, resume --------------------------------------------
# The same run under srun --mpi=pmix (default launcher) and under mpirun, side by side; both must
# reproduce an uninterrupted mpirun run of the same config, seed and rank count. The signal goes
# out as soon as the first checkpoint (epoch 5) exists, so the stop lands around epochs 5-15.
# Evaluations every 2 epochs (TEST_SLURM_EVAL_EVERY) so the stop lands in an evaluated pass: the
# resumed run must restore every rank's partial loss sums of the pass it was stopped in.
PRE_ARGS=(configs/demo.yaml --set train.epochs=200 --set checkpoint.every=5 --set train.seed=3
  --set eval.every="${TEST_SLURM_EVAL_EVERY:-2}")
check_preemption() {
  local L id dir out ref=$TMP/ref-uninterrupted
  local -A pjob=()
  for L in srun mpirun; do
    if submit -J "cfgan-t-pre-$L" --ntasks=2 --export="ALL,LAUNCHER=$L" -o "$TMP/out/slurm-%j.out" \
      jobs/train.sbatch "${PRE_ARGS[@]}"; then
      pjob[$L]=$JOB
    else
      not_ok "preempt-$L-stopped" "$SUBMIT_ERR"
    fi
  done
  # The uninterrupted reference, directly with mpirun outside SLURM, meanwhile.
  (. tools/mpi-env.sh 2 && exec mpirun -np 2 --bind-to none "$CFGAN" train "${PRE_ARGS[@]}" --out "$ref") \
    >"$TMP/log/ref.log" 2>&1 &
  local ref_pid=$!
  OTHER_PIDS+=("$ref_pid")

  for L in "${!pjob[@]}"; do
    id=${pjob[$L]}
    if ! await_job "preempt-$L-stopped" 60 running_with_ckpt "$id" "not running with a checkpoint"; then
      unset "pjob[$L]"
      continue
    fi
    scancel -b -s USR1 "$id"
  done
  for L in "${!pjob[@]}"; do
    id=${pjob[$L]} out=$TMP/out/slurm-$id.out
    if ! await_job "preempt-$L-stopped" 60 restarted "$id" "not requeued after SIGUSR1"; then
      unset "pjob[$L]"
      continue
    fi
    if grep -q 'exit status 4' "$out" && grep -q "requeued job $id" "$out"; then
      ok "preempt-$L-stopped"
    else
      not_ok "preempt-$L-stopped" "no 'exit status 4' and 'requeued' in $out"
      show_tail "$out"
    fi
  done
  for L in "${!pjob[@]}"; do
    id=${pjob[$L]} dir=$RUNS_DIR/${pjob[$L]} out=$TMP/out/slurm-$id.out
    await_job "preempt-$L-resumed" 180 job_done "$id" "not finished after the requeue" || continue
    if [ "$(job_field "$id" JobState)" = COMPLETED ] && [ "$(job_field "$id" ExitCode)" = 0:0 ] &&
      grep -q 'resuming' "$out" && [ -s "$dir/final.json" ] && has_ckpt "$dir"; then
      ok "preempt-$L-resumed"
    else
      not_ok "preempt-$L-resumed" "job $id: $(job_summary "$id"); want COMPLETED, 'resuming' in the output, final.json and a checkpoint in $dir"
      show_tail "$out"
    fi
  done
  if ! wait_for 240 eval '! kill -0 '"$ref_pid"' 2>/dev/null'; then
    not_ok preempt-same-metrics "the uninterrupted reference run did not finish in 240 s"
    return
  fi
  if ! wait "$ref_pid" || [ ! -s "$ref/final.json" ]; then
    not_ok preempt-same-metrics "the uninterrupted reference run failed"
    show_tail "$TMP/log/ref.log"
    return
  fi
  for L in "${!pjob[@]}"; do
    if same_metrics "$ref" "$RUNS_DIR/${pjob[$L]}"; then
      ok "preempt-$L-same-metrics"
    else
      not_ok "preempt-$L-same-metrics" "metrics.jsonl differs from the uninterrupted run's (or a run did not finish)"
    fi
  done
}

# ---- c. a job array sweep -----------------------------------------------------------------------
check_sweep() {
  local id s dir bad=''
  printf -- '--set train.seed=%d --set train.epochs=10\n' 1 2 3 >"$TMP/sweep.txt"
  if ! submit -J cfgan-t-sweep --array=0-2 --ntasks=1 --export="ALL,SWEEP_FILE=$TMP/sweep.txt" \
    -o "$TMP/out/slurm-%A_%a.out" jobs/sweep.sbatch configs/demo.yaml; then
    not_ok sweep-completes "$SUBMIT_ERR"
    return
  fi
  id=$JOB
  await_array sweep-completes "$id" 3 240 && ok sweep-completes
  for s in 0 1 2; do
    dir=$RUNS_DIR/${id}_$s
    [ -s "$dir/final.json" ] || bad+=" $dir has no final.json;"
    [ "$(train_seed "$dir")" = $((s + 1)) ] || bad+=" $dir: train.seed '$(train_seed "$dir")', want $((s + 1));"
  done
  if [ -z "$bad" ]; then ok sweep-run-dirs; else not_ok sweep-run-dirs "$bad"; fi
}

# ---- d. the baselines job ------------------------------------------------------------------------
check_baselines() {
  local id m bad=''
  if ! submit -J cfgan-t-baselines --ntasks=2 -o "$TMP/out/slurm-%j.out" jobs/baselines.sbatch configs/demo.yaml; then
    not_ok baselines "$SUBMIT_ERR"
    return
  fi
  id=$JOB
  await_job baselines 60 job_done "$id" "not finished" || return
  [ "$(job_field "$id" JobState)" = COMPLETED ] || bad+=" job $id: $(job_summary "$id");"
  for m in toppop itemknn ease; do
    [ -s "$RUNS_DIR/$id/$m/final.json" ] || bad+=" no $RUNS_DIR/$id/$m/final.json;"
  done
  if [ -z "$bad" ]; then ok baselines; else
    not_ok baselines "$bad"
    show_tail "$TMP/out/slurm-$id.out"
  fi
}

# ---- e. a hyper-parameter search as a job array --------------------------------------------------
# jobs/tune.sbatch runs one trial of tools/tune.py per array task; tune.py afterwards collects the
# table and best.yaml without running the finished trials again.
check_tune() {
  local id k bad='' opts=(--max-epochs 8 --every 4 --patience 2) dir=$TMP/tune
  if ! submit -J cfgan-t-tune --array=0-1 --ntasks=2 -o "$TMP/out/slurm-%A_%a.out" jobs/tune.sbatch \
    configs/demo.yaml "$dir" "${opts[@]}"; then
    not_ok tune-array "$SUBMIT_ERR"
    return
  fi
  id=$JOB
  await_array tune-array "$id" 2 120 || return
  for k in 0 1; do # each task ran its own trial, and only that one
    [ -s "$dir/trial-$k/final.json" ] || bad+=" no $dir/trial-$k/final.json;"
    [ "$(grep '^trial ' "$TMP/out/slurm-${id}_$k.out" | cut -d: -f1)" = "trial $k" ] || bad+=" task $k did not run exactly trial $k;"
  done
  local before after out
  before=$(stat -c %Y "$dir"/trial-*/final.json 2>/dev/null)
  out=$(/usr/bin/python3 tools/tune.py configs/demo.yaml --out "$dir" --trials 2 "${opts[@]}" 2>&1) || bad+=" collect: $out;"
  after=$(stat -c %Y "$dir"/trial-*/final.json 2>/dev/null)
  [ "$before" = "$after" ] || bad+=" the collect step ran a finished trial again;"
  [[ $out == *"2 trials done"* ]] && [ -s "$dir/best.yaml" ] && [ "$(grep -c ',ok,' "$dir/trials.csv")" -eq 2 ] \
    || bad+=" collect output: $out;"
  if [ -z "$bad" ]; then ok tune-array; else not_ok tune-array "$bad"; fi
}

# ---- f. the scaling study inside one allocation ----------------------------------------------------
check_scaling() {
  local id csv bad=''
  if ! CONFIG=configs/demo.yaml submit -J cfgan-t-scaling --ntasks=2 -o "$TMP/out/slurm-%j.out" jobs/scaling.sbatch; then
    not_ok scaling-job "$SUBMIT_ERR"
    return
  fi
  id=$JOB
  await_job scaling-job 120 job_done "$id" "not finished" || return
  csv=$ROOT/runs/scaling-$id/scaling.csv
  [ "$(job_field "$id" JobState)" = COMPLETED ] || bad+=" job $id: $(job_summary "$id");"
  [ "$(cut -d, -f1,2 "$csv" 2>/dev/null | tr '\n' ' ')" = "kind,np strong,1 strong,2 " ] || bad+=" $csv: not the np = 1, 2 rows;"
  rm -rf "$ROOT/runs/scaling-$id"
  if [ -z "$bad" ]; then ok scaling-job; else
    not_ok scaling-job "$bad"
    show_tail "$TMP/out/slurm-$id.out"
  fi
}

check_train
check_preemption
check_sweep
check_baselines
check_tune
check_scaling
exit 0 # the EXIT trap stops the cluster and prints the summary
