# Sourced by the tools: Open MPI settings for this kind of machine (see README "Running with MPI").
# Usage: . tools/mpi-env.sh [NP]   (NP: ranks about to be started; default 1)
# Root needs explicit permission. More ranks than cores needs oversubscription, and then ranks must
# yield when idle -- but only then: yielding turns a 2 us allreduce into 3 ms when ranks fit the cores.
# One BLAS thread per rank unless the caller chose otherwise.
_np=${1:-1}
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_rmaps_base_oversubscribe=${OMPI_MCA_rmaps_base_oversubscribe:-1}
if [ "$_np" -gt "$(nproc)" ]; then
  export OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}
fi
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
if [ "$_np" -gt 1 ]; then export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}; fi
unset _np
