// par (serial build, make MPI=0): one process, collectives are identities.
#include <stdlib.h>
#include <string.h>

#include "par.h"
#include "util.h"

void par_init(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    util_set_rank(0, 1, NULL);
}
void par_require_mpi(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
}
void par_finalize(void) {}
int par_mpi_was_started(void) { return 0; }
int par_rank(void) { return 0; }
int par_size(void) { return 1; }
void par_sum_float(float *buf, size_t n) { (void)buf, (void)n; }
void par_sum_double(double *buf, size_t n) { (void)buf, (void)n; }
void par_sum_int64(int64_t *buf, size_t n) { (void)buf, (void)n; }
void par_max_double(double *buf, size_t n) { (void)buf, (void)n; }
void par_min_double(double *buf, size_t n) { (void)buf, (void)n; }
void par_bcast(void *buf, size_t bytes, int root) { (void)buf, (void)bytes, (void)root; }
int par_node_ranks(void) { return 1; }
static void copy_out(const void *in, size_t bytes, void **out, size_t *out_bytes) {
    *out = xmalloc(bytes ? bytes : 1);
    if (bytes) memcpy(*out, in, bytes); // in may be NULL when there is nothing to send
    *out_bytes = bytes;
}
void par_allgatherv_bytes(const void *in, size_t bytes, void **out, size_t *out_bytes) { copy_out(in, bytes, out, out_bytes); }
void par_gatherv_bytes(const void *in, size_t bytes, void **out, size_t *out_bytes, int root) {
    (void)root;
    copy_out(in, bytes, out, out_bytes);
}
void par_alltoallv_bytes(const void *send, const size_t *send_bytes, void **recv, size_t *recv_bytes) {
    copy_out(send, send_bytes[0], recv, recv_bytes);
}
void par_reduce_custom(void *buf, int count, size_t elem_bytes,
                       void (*merge)(const void *in, void *inout, int count, size_t elem_bytes), int root) {
    (void)buf, (void)count, (void)elem_bytes, (void)merge, (void)root;
}
void par_reduce_sum_double(double *buf, size_t n, int root) { (void)buf, (void)n, (void)root; }
void par_ring_shift(void *buf, size_t bytes) { (void)buf, (void)bytes; }
int par_same_u64(uint64_t v) {
    (void)v;
    return 1;
}
