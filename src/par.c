// par: the only translation unit that includes mpi.h. Collectives on flat buffers, counts in
// elements; errors seen by one rank end the whole job through MPI_Abort (never a hang).
#include "par.h"

#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int g_rank = 0, g_size = 1;
static int g_mpi = 0; // MPI_Init was called

// Launched by mpirun or srun? A plain `cfgan ...` skips MPI_Init (a singleton start costs ~0.3 s)
// and runs as one rank; every collective below is a no-op then.
static int launched_by_mpi(void) {
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "CFGAN_FORCE_MPI"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

static void exit_hook(int status, int collective) {
    if (!g_mpi) exit(status);
    if (g_size == 1 || collective) {
        // every rank reached the same error: leave together without MPI_Abort's banner
        MPI_Finalize();
        exit(status);
    }
    MPI_Abort(MPI_COMM_WORLD, status);
    exit(status); // not reached
}

void par_init(int *argc, char ***argv) {
    if (launched_by_mpi()) par_require_mpi(argc, argv);
    util_set_rank(g_rank, g_size, exit_hook);
}

void par_require_mpi(int *argc, char ***argv) {
    if (g_mpi) return;
    MPI_Init(argc, argv);
    g_mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    util_set_rank(g_rank, g_size, exit_hook);
}

void par_finalize(void) {
    if (g_mpi) MPI_Finalize();
    g_mpi = 0;
}
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
    if (g_size == 1) {
        memcpy(out, in, bytes);
        return;
    }
    MPI_Gather(in, to_int(bytes), MPI_BYTE, out, to_int(bytes), MPI_BYTE, root, MPI_COMM_WORLD);
}
void par_gatherv(const void *in, size_t bytes, void *out, const size_t *counts, const size_t *displs, int root) {
    if (g_size == 1) {
        memcpy((char *)out + displs[0], in, bytes);
        return;
    }
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
