// par: the only translation unit that includes mpi.h. Collectives on flat buffers, counts in
// elements; errors seen by one rank end the whole job through MPI_Abort (never a hang).
#include "par.h"

#include <limits.h>
#include <mpi.h>
#include <signal.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int g_rank = 0, g_size = 1;
static int g_mpi = 0;         // MPI is running
static int g_mpi_started = 0; // MPI_Init was called at some point

// Launched by mpirun or srun? A plain `cfgan ...` skips MPI_Init (a singleton start costs ~0.3 s)
// and runs as one rank; every collective below is a no-op then.
static int launched_by_mpi(void) {
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "CFGAN_FORCE_MPI"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

static void finalize_timed_out(int sig) {
    (void)sig;
    MPI_Abort(MPI_COMM_WORLD, EXIT_RUNTIME);
}

static void exit_hook(int status, int collective) {
    if (!g_mpi) exit_now(status);
    if (g_size == 1 || collective) {
        // every rank reached the same error: leave together without MPI_Abort's banner. Should some
        // rank not have reached it after all, MPI_Finalize would wait forever: abort after 10 s.
        signal(SIGALRM, finalize_timed_out);
        alarm(10);
        MPI_Finalize();
        exit_now(status);
    }
    MPI_Abort(MPI_COMM_WORLD, status);
    exit_now(status); // not reached
}

void par_init(int *argc, char ***argv) {
    if (launched_by_mpi()) par_require_mpi(argc, argv);
    util_set_rank(g_rank, g_size, exit_hook);
}

void par_require_mpi(int *argc, char ***argv) {
    if (g_mpi) return;
    MPI_Init(argc, argv);
    g_mpi = g_mpi_started = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    util_set_rank(g_rank, g_size, exit_hook);
}

void par_finalize(void) {
    if (g_mpi) MPI_Finalize();
    g_mpi = 0;
}
int par_mpi_was_started(void) { return g_mpi_started; }
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
    if (g_size == 1) return;
    const size_t chunk = (size_t)1 << 30; // MPI counts are ints: 1 GiB at a time
    for (size_t off = 0; off < bytes; off += chunk) {
        size_t n = bytes - off < chunk ? bytes - off : chunk;
        MPI_Bcast((char *)buf + off, to_int(n), MPI_BYTE, root, MPI_COMM_WORLD);
    }
}
void par_allgatherv_bytes(const void *in, size_t bytes, void **out, size_t *out_bytes) {
    int *counts = xmalloc((size_t)g_size * sizeof *counts), *displs = xmalloc((size_t)g_size * sizeof *displs);
    int mine = to_int(bytes);
    if (g_size > 1) MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD);
    else counts[0] = mine;
    size_t total = 0;
    for (int r = 0; r < g_size; r++) displs[r] = to_int(total), total += (size_t)counts[r];
    *out = xmalloc(total ? total : 1);
    *out_bytes = total;
    if (g_size > 1) MPI_Allgatherv(in, mine, MPI_BYTE, *out, counts, displs, MPI_BYTE, MPI_COMM_WORLD);
    else if (bytes) memcpy(*out, in, bytes); // in may be NULL when there is nothing to send
    free(counts);
    free(displs);
}

void par_gatherv_bytes(const void *in, size_t bytes, void **out, size_t *out_bytes, int root) {
    int mine = to_int(bytes), *counts = NULL, *displs = NULL;
    *out = NULL;
    *out_bytes = 0;
    if (g_size == 1) {
        *out = xmalloc(bytes ? bytes : 1);
        if (bytes) memcpy(*out, in, bytes);
        *out_bytes = bytes;
        return;
    }
    if (g_rank == root) {
        counts = xmalloc((size_t)g_size * sizeof *counts);
        displs = xmalloc((size_t)g_size * sizeof *displs);
    }
    MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT, root, MPI_COMM_WORLD);
    if (g_rank == root) {
        size_t total = 0;
        for (int r = 0; r < g_size; r++) displs[r] = to_int(total), total += (size_t)counts[r];
        *out = xmalloc(total ? total : 1);
        *out_bytes = total;
    }
    MPI_Gatherv(in, mine, MPI_BYTE, *out, counts, displs, MPI_BYTE, root, MPI_COMM_WORLD);
    free(counts);
    free(displs);
}

void par_alltoallv_bytes(const void *send, const size_t *send_bytes, void **recv, size_t *recv_bytes) {
    if (g_size == 1) {
        *recv = xmalloc(send_bytes[0] ? send_bytes[0] : 1);
        if (send_bytes[0]) memcpy(*recv, send, send_bytes[0]);
        *recv_bytes = send_bytes[0];
        return;
    }
    int *sc = xmalloc(4 * (size_t)g_size * sizeof *sc), *sd = sc + g_size, *rc = sd + g_size, *rd = rc + g_size;
    size_t off = 0;
    for (int r = 0; r < g_size; r++) sc[r] = to_int(send_bytes[r]), sd[r] = to_int(off), off += send_bytes[r];
    MPI_Alltoall(sc, 1, MPI_INT, rc, 1, MPI_INT, MPI_COMM_WORLD);
    size_t total = 0;
    for (int r = 0; r < g_size; r++) rd[r] = to_int(total), total += (size_t)rc[r];
    *recv = xmalloc(total ? total : 1);
    *recv_bytes = total;
    MPI_Alltoallv(send, sc, sd, MPI_BYTE, *recv, rc, rd, MPI_BYTE, MPI_COMM_WORLD);
    free(sc);
}

static void (*g_merge)(const void *, void *, int, size_t);
static size_t g_merge_elem;
static void merge_trampoline(void *in, void *inout, int *len, MPI_Datatype *dt) {
    (void)dt;
    g_merge(in, inout, *len, g_merge_elem);
}

void par_reduce_custom(void *buf, int count, size_t elem_bytes,
                       void (*merge)(const void *in, void *inout, int count, size_t elem_bytes), int root) {
    if (g_size == 1) return;
    MPI_Datatype t;
    MPI_Type_contiguous(to_int(elem_bytes), MPI_BYTE, &t);
    MPI_Type_commit(&t);
    MPI_Op op;
    g_merge = merge;
    g_merge_elem = elem_bytes;
    MPI_Op_create(merge_trampoline, 1, &op);
    if (g_rank == root) MPI_Reduce(MPI_IN_PLACE, buf, count, t, op, root, MPI_COMM_WORLD);
    else MPI_Reduce(buf, NULL, count, t, op, root, MPI_COMM_WORLD);
    MPI_Op_free(&op);
    MPI_Type_free(&t);
}

void par_reduce_sum_double(double *buf, size_t n, int root) {
    if (g_size == 1) return;
    // in chunks: MPI counts are ints
    for (size_t off = 0; off < n; off += (size_t)1 << 28) {
        int c = to_int(n - off < ((size_t)1 << 28) ? n - off : (size_t)1 << 28);
        if (g_rank == root) MPI_Reduce(MPI_IN_PLACE, buf + off, c, MPI_DOUBLE, MPI_SUM, root, MPI_COMM_WORLD);
        else MPI_Reduce(buf + off, NULL, c, MPI_DOUBLE, MPI_SUM, root, MPI_COMM_WORLD);
    }
}

void par_ring_shift(void *buf, size_t bytes) {
    if (g_size == 1) return;
    int next = (g_rank + 1) % g_size, prev = (g_rank + g_size - 1) % g_size;
    for (size_t off = 0; off < bytes; off += (size_t)1 << 30) {
        int c = to_int(bytes - off < ((size_t)1 << 30) ? bytes - off : (size_t)1 << 30);
        MPI_Sendrecv_replace((char *)buf + off, c, MPI_BYTE, next, 7, prev, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
}

int par_same_u64(uint64_t v) {
    if (g_size == 1) return 1;
    uint64_t lo = v, hi = v;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    return lo == hi;
}

int par_node_ranks(void) {
    static int n = 0; // decided once (collective the first time, on every rank)
    if (n) return n;
    if (g_size == 1) return n = 1;
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &n);
    MPI_Comm_free(&node);
    return n;
}


