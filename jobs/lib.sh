# shellcheck shell=bash source-path=SCRIPTDIR
# jobs/lib.sh: the run logic shared by the cfgan SLURM job scripts (train.sbatch, sweep.sbatch,
# baselines.sbatch). Sourced, never run. It
#   - finds the project (SLURM_SUBMIT_DIR: submit the jobs from the repository root) and the
#     binary (env CFGAN, default build/cfgan relative to that directory),
#   - sets the MPI and BLAS environment: OPENBLAS_NUM_THREADS from SLURM_CPUS_PER_TASK, and
#     tools/mpi-env.sh for Open MPI (root permission, oversubscription, yielding),
#   - launches cfgan with `srun --mpi=pmix` (default) or `mpirun` (env LAUNCHER=mpirun) in the
#     background and forwards SIGUSR1/SIGTERM received by the batch shell to it: with
#     `--signal=B:USR1@T` only the batch shell is signalled, and ranks under mpirun would
#     otherwise never hear of it,
#   - resumes a run directory that already holds a checkpoint, and requeues the job when cfgan
#     stopped after writing a checkpoint (exit status 4), so that a preempted or time-limited job
#     continues where it stopped.
#
# Environment knobs (all optional):
#   CFGAN         path of the cfgan binary (default build/cfgan, relative to the submit directory)
#   LAUNCHER      srun (default) or mpirun
#   SRUN_ARGS     extra srun options (default: none)
#   MPIRUN_ARGS   extra mpirun options (default: --bind-to none: without task confinement, two
#                 jobs on one node would otherwise pin their ranks to the same cores)
#   RUNS_DIR      where run directories go (default runs, relative to the submit directory)
#   MAX_RESTARTS  do not requeue again after this many restarts (default 50)

# ---- messages ----------------------------------------------------------------------------------
cfgan_log() { printf '[%s cfgan-job] %s\n' "$(date '+%F %T')" "$*"; }
cfgan_die() { # cfgan_die STATUS MESSAGE: print to stderr and leave the job with STATUS
  local status=$1; shift
  printf '[%s cfgan-job] error: %s\n' "$(date '+%F %T')" "$*" >&2
  exit "$status"
}

# ---- environment -------------------------------------------------------------------------------
# cfgan_setup: check the environment, set CFGAN_ROOT, CFGAN (absolute), NTASKS, LAUNCHER and the
# MPI/BLAS variables, and install the signal traps. Call it first.
cfgan_setup() {
  CFGAN_ROOT=${SLURM_SUBMIT_DIR:-$PWD}
  cd "$CFGAN_ROOT" || cfgan_die 1 "cannot enter the submit directory $CFGAN_ROOT"
  CFGAN=${CFGAN:-build/cfgan}
  case $CFGAN in /*) ;; *) CFGAN=$CFGAN_ROOT/$CFGAN ;; esac
  [ -x "$CFGAN" ] || cfgan_die 2 "cfgan binary not found or not executable: $CFGAN (build it with make, or set CFGAN=/path/to/cfgan; submit from the repository root)"
  NTASKS=${SLURM_NTASKS:-1}
  LAUNCHER=${LAUNCHER:-srun}
  case $LAUNCHER in
    srun | mpirun) ;;
    *) cfgan_die 2 "LAUNCHER must be srun or mpirun, not '$LAUNCHER'" ;;
  esac
  if [ -z "${SLURM_JOB_ID:-}" ] && [ "$LAUNCHER" = srun ]; then
    cfgan_die 2 "not inside a SLURM job: submit with sbatch (or run here with LAUNCHER=mpirun)"
  fi

  # One BLAS thread per allocated CPU of a task: ranks x threads must not exceed the cores.
  export OPENBLAS_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
  # srun (22.05 and later) does not inherit --cpus-per-task from the batch allocation.
  if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then export SRUN_CPUS_PER_TASK=$SLURM_CPUS_PER_TASK; fi
  # Open MPI settings for this kind of machine (root, oversubscription, yielding when oversubscribed).
  if [ -f "$CFGAN_ROOT/tools/mpi-env.sh" ]; then
    # shellcheck source=../tools/mpi-env.sh
    . "$CFGAN_ROOT/tools/mpi-env.sh" "$NTASKS"
  else
    if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
    export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
  fi

  _cfgan_pid=''        # the launcher running in the background
  _cfgan_started=0     # 1 once cfgan has been launched (signals after it has ended are ignored)
  _cfgan_pending=''    # a signal that arrived before the launcher was started
  _cfgan_trapped=0     # set by the trap: wait was interrupted by a signal
  _cfgan_terminated=0  # SIGTERM seen: the job is being cancelled or killed, do not requeue
  _cfgan_requeueing=0  # 1 while `scontrol requeue` runs
  trap '_cfgan_on_signal USR1' USR1
  trap '_cfgan_on_signal TERM' TERM
}

# Trap handler: ask the launcher for a checkpoint-and-stop. USR1 is forwarded as USR1; TERM too is
# forwarded as USR1, because mpirun answers SIGTERM by killing its ranks after a short grace time
# while it relays SIGUSR1 to them, and cfgan treats both signals alike.
_cfgan_on_signal() {
  _cfgan_trapped=1
  [ "$1" = TERM ] && _cfgan_terminated=1
  if [ "$_cfgan_requeueing" = 1 ]; then
    return 0 # SLURM ending this incarnation after `scontrol requeue`
  elif [ -n "$_cfgan_pid" ]; then
    cfgan_log "batch shell got SIG$1: asking cfgan (launcher pid $_cfgan_pid) to checkpoint and stop"
    kill -s USR1 "$_cfgan_pid" 2>/dev/null || true
  elif [ "$_cfgan_started" = 1 ]; then
    cfgan_log "batch shell got SIG$1 after cfgan ended"
  else
    cfgan_log "batch shell got SIG$1 before cfgan started: will pass it on at start"
    _cfgan_pending=USR1
  fi
}

# cfgan_launch ARGS...: run `cfgan ARGS...` on all tasks of the allocation with the chosen launcher,
# in the background, forwarding signals; returns cfgan's exit status (that of srun/mpirun).
cfgan_launch() {
  local launcher=()
  if [ "$LAUNCHER" = srun ]; then
    # shellcheck disable=SC2206  # SRUN_ARGS is a list of options, split on purpose
    launcher=(srun --mpi=pmix ${SRUN_ARGS:-})
  else
    # shellcheck disable=SC2206
    launcher=(mpirun -np "$NTASKS" ${MPIRUN_ARGS:---bind-to none})
  fi
  cfgan_log "running: ${launcher[*]} $CFGAN $*"
  "${launcher[@]}" "$CFGAN" "$@" &
  _cfgan_pid=$!
  _cfgan_started=1
  if [ -n "$_cfgan_pending" ]; then kill -s "$_cfgan_pending" "$_cfgan_pid" 2>/dev/null || true; fi
  # `wait` returns early (status > 128) whenever a trapped signal arrives; then wait again until
  # the launcher has really finished (bash keeps a finished child's status for the next wait).
  local status=0 previous=0
  while :; do
    _cfgan_trapped=0
    status=0
    wait "$_cfgan_pid" || status=$?
    if [ "$_cfgan_trapped" = 1 ] && [ "$status" -gt 128 ]; then
      previous=$status
      continue
    fi
    break
  done
  # A signal that landed just after the child had been reaped: the retry finds no child (127).
  if [ "$status" -eq 127 ] && [ "$previous" -gt 128 ]; then status=$previous; fi
  _cfgan_pid=''
  return "$status"
}

# cfgan_run_dir: the run directory of this job: RUNS_DIR/JOBID, or RUNS_DIR/ARRAYJOB_TASK for an
# array task (stable across requeues, which keep the job id).
cfgan_run_dir() {
  local base=${RUNS_DIR:-runs}
  if [ -n "${SLURM_ARRAY_JOB_ID:-}" ] && [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
    echo "$base/${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
  elif [ -n "${SLURM_JOB_ID:-}" ]; then
    echo "$base/$SLURM_JOB_ID"
  else
    echo "$base/local-$(date +%Y%m%d-%H%M%S)"
  fi
}

# cfgan_train RUN_DIR CONFIG [cfgan train options...]: train, resuming from RUN_DIR's newest
# checkpoint if it has one; on exit status 4 (stopped after a checkpoint) requeue the job.
# Exits the shell with the job's status.
cfgan_train() {
  local dir=$1 config=$2
  shift 2
  [ -f "$config" ] || cfgan_die 2 "config not found: $config (relative to $PWD)"
  mkdir -p "$(dirname "$dir")" || cfgan_die 1 "cannot create $(dirname "$dir")"

  cfgan_log "job ${SLURM_JOB_ID:-none} (restart ${SLURM_RESTART_COUNT:-0}) on ${SLURM_JOB_NODELIST:-$(hostname -s)}: $NTASKS task(s), OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS, launcher $LAUNCHER"
  cfgan_log "run directory: $dir"
  local resume=()
  if [ -f "$dir/final.json" ]; then
    cfgan_log "$dir/final.json exists: the run has already finished, nothing to do"
    exit 0
  elif compgen -G "$dir/checkpoints/ckpt-*.bin" >/dev/null; then
    cfgan_log "checkpoint found in $dir/checkpoints: resuming"
    resume=(--resume)
  elif [ -e "$dir/metrics.jsonl" ]; then
    # Started before but stopped before its first checkpoint: cfgan would refuse the directory.
    local old
    old="$dir.incomplete-$(date +%Y%m%d-%H%M%S)"
    cfgan_log "$dir holds a run without a checkpoint: moving it to $old and starting again"
    mv "$dir" "$old" || cfgan_die 1 "cannot move $dir aside"
  fi

  local status=0
  cfgan_launch train "$config" --out "$dir" "${resume[@]}" "$@" || status=$?
  case $status in
    0) cfgan_log "finished: $dir/final.json" ;;
    4)
      cfgan_log "cfgan stopped after writing a checkpoint (exit status 4)"
      cfgan_requeue_or_exit 4
      ;;
    *) cfgan_log "cfgan failed with exit status $status (1 runtime, 2 bad input, 3 numerical failure; see above)" ;;
  esac
  exit "$status"
}

# cfgan_requeue_or_exit STATUS: put this job back in the queue (it will resume from its checkpoint),
# unless it is being cancelled, runs outside SLURM, or has been restarted MAX_RESTARTS times;
# then exit. Exits with 0 once requeued, else with STATUS.
cfgan_requeue_or_exit() {
  local status=$1 restarts=${SLURM_RESTART_COUNT:-0}
  if [ -z "${SLURM_JOB_ID:-}" ]; then
    cfgan_log "not running under SLURM: not requeueing; to continue, run the same command with RUN_DIR=$dir"
  elif [ "$_cfgan_terminated" = 1 ]; then
    cfgan_log "the job got SIGTERM (cancelled or past its time limit): not requeueing; resubmit to resume"
  elif [ "$restarts" -ge "${MAX_RESTARTS:-50}" ]; then
    cfgan_log "already restarted $restarts times (MAX_RESTARTS=${MAX_RESTARTS:-50}): not requeueing"
  else
    # A successful requeue ends this incarnation of the job at once: SLURM sends SIGTERM to every
    # process of the batch step, scontrol included. So scontrol runs with SIGTERM ignored, and a
    # SIGTERM that arrives meanwhile is the requeue itself, not a cancellation.
    _cfgan_requeueing=1
    local rc=0
    (trap '' TERM && exec scontrol requeue "$SLURM_JOB_ID") || rc=$?
    if [ "$rc" -eq 0 ] || [ "$_cfgan_terminated" = 1 ]; then
      cfgan_log "requeued job $SLURM_JOB_ID: it will resume from the checkpoint when it starts again"
      exit 0
    fi
    cfgan_log "scontrol requeue $SLURM_JOB_ID failed (status $rc): resubmit the job to resume"
  fi
  exit "$status"
}
