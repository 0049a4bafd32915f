// par: the only translation unit that includes mpi.h. Collectives on flat buffers, counts in
// elements; errors seen by one rank end the whole job through MPI_Abort (never a hang).
#include "par.h"

#include <limits.h>
#include <mpi.h>
#include <stdlib.h>

#include "util.h"

static int g_rank = 0, g_size = 1;

static void exit_hook(int status, int collective) {
    if (g_size == 1 || collective) {
        // every rank reached the same error: leave together without MPI_Abort's banner
        MPI_Finalize();
        exit(status);
    }
    MPI_Abort(MPI_COMM_WORLD, status);
    exit(status); // not reached
}

void par_init(int *argc, char ***argv) {
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    util_set_rank(g_rank, g_size, exit_hook);
}

void par_finalize(void) { MPI_Finalize(); }
int par_rank(void) { return g_rank; }
int par_size(void) { return g_size; }

static int to_int(size_t n) {
    if (n > INT_MAX) die_local(EXIT_RUNTIME, "internal: message of %zu elements exceeds MPI's int count", n);
    return (int)n;
}

void par_sum_float(float *buf, size_t n) {
    if (g_size > 1) MPI_Allreduce(MPI_IN_PLACE, buf, to_int(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}
void par_sum_double(double *buf, size_t n) {
    if (g_size > 1) MPI_Allreduce(MPI_IN_PLACE, buf, to_int(n), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}
void par_sum_int64(int64_t *buf, size_t n) {
    if (g_size > 1) MPI_Allreduce(MPI_IN_PLACE, buf, to_int(n), MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
}
void par_max_double(double *buf, size_t n) {
    if (g_size > 1) MPI_Allreduce(MPI_IN_PLACE, buf, to_int(n), MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
}
void par_min_double(double *buf, size_t n) {
    if (g_size > 1) MPI_Allreduce(MPI_IN_PLACE, buf, to_int(n), MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
}
void par_bcast(void *buf, size_t bytes, int root) {
    if (g_size > 1) MPI_Bcast(buf, to_int(bytes), MPI_BYTE, root, MPI_COMM_WORLD);
}
void par_gather(const void *in, size_t bytes, void *out, int root) {
    MPI_Gather(in, to_int(bytes), MPI_BYTE, out, to_int(bytes), MPI_BYTE, root, MPI_COMM_WORLD);
}
void par_gatherv(const void *in, size_t bytes, void *out, const size_t *counts, const size_t *displs, int root) {
    int *c = NULL, *d = NULL;
    if (g_rank == root) {
        c = xmalloc((size_t)g_size * sizeof *c);
        d = xmalloc((size_t)g_size * sizeof *d);
        for (int r = 0; r < g_size; r++) {
            c[r] = to_int(counts[r]);
            d[r] = to_int(displs[r]);
        }
    }
    MPI_Gatherv(in, to_int(bytes), MPI_BYTE, out, c, d, MPI_BYTE, root, MPI_COMM_WORLD);
    free(c);
    free(d);
}
void par_barrier(void) {
    if (g_size > 1) MPI_Barrier(MPI_COMM_WORLD);
}
int par_any(int flag) {
    if (g_size > 1) MPI_Allreduce(MPI_IN_PLACE, &flag, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
    return flag;
}
noreturn void par_abort(int status) {
    fflush(stdout);
    fflush(stderr);
    exit_hook(status, 0);
    exit(status); // not reached
}
