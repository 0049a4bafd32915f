// blas: make sure OpenBLAS runs kernels that match this CPU, with threads that fit the node. Debian's OpenBLAS 0.3.21 does not
// recognise recent Xeons and silently falls back to generic SSE3 ("Prescott") kernels, 4-5x
// slower for sgemm. The kernel set is chosen when the library loads, so the fix is to re-execute
// the program once with OPENBLAS_CORETYPE set.
#ifndef CFGAN_BLAS_H
#define CFGAN_BLAS_H

// Call first in main, before MPI starts. Re-executes the program with OPENBLAS_CORETYPE set when
// OpenBLAS picked generic kernels on a CPU with AVX2/AVX-512, unless OPENBLAS_CORETYPE is already
// set (the user's choice wins) or CFGAN_BLAS_AUTOFIX=0. Returns only when no re-exec happens.
void blas_autoselect(char **argv);
// One line describing the choice made ("OpenBLAS kernels: SkylakeX (auto: ...)"), for run records.
const char *blas_choice(void);
// Unless OPENBLAS_NUM_THREADS is set: as many BLAS threads per rank as the node's cores divided by its
// ranks (at least 1, at most the cores this process may run on), so that ranks x threads = cores.
void blas_set_threads(int ranks_on_node);
// One line saying how many threads and why, for the log.
const char *blas_threads(void);

#endif
