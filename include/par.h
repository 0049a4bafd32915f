// par: the only user of MPI. Rank/size, collectives on flat buffers, abort. A serial build
// (make MPI=0) links par_serial.c instead, so every other file reads as plain C.
#ifndef CFGAN_PAR_H
#define CFGAN_PAR_H

#include <stddef.h>
#include <stdint.h>

// Start MPI (or nothing in the serial build) and register the error-exit hook with util.
void par_init(int *argc, char ***argv);
// Start MPI now even without mpirun (ScaLAPACK needs it); no-op when already started.
void par_require_mpi(int *argc, char ***argv);
// Shut down cleanly.
void par_finalize(void);
// Whether MPI was started at some point in this process (also after par_finalize).
int par_mpi_was_started(void);
int par_rank(void);
int par_size(void);
// In-place elementwise sums across ranks.
void par_sum_float(float *buf, size_t n);
void par_sum_double(double *buf, size_t n);
void par_sum_int64(int64_t *buf, size_t n);
// Elementwise max/min of doubles across ranks, in place.
void par_max_double(double *buf, size_t n);
void par_min_double(double *buf, size_t n);
// Broadcast bytes from rank `root`.
void par_bcast(void *buf, size_t bytes, int root);
// Every rank's bytes, concatenated in rank order, on every rank (*out malloc'ed).
void par_allgatherv_bytes(const void *in, size_t bytes, void **out, size_t *out_bytes);
// Concatenation of every rank's bytes in rank order on root only (*out malloc'ed there, NULL elsewhere).
void par_gatherv_bytes(const void *in, size_t bytes, void **out, size_t *out_bytes, int root);
// Personalised exchange: send_bytes[r] bytes from send (packed in rank order) go to rank r; *recv
// (malloc'ed) receives what every rank sent here, in rank order.
void par_alltoallv_bytes(const void *send, const size_t *send_bytes, void **recv, size_t *recv_bytes);
// Reduce `count` elements of elem_bytes each onto root with a commutative, associative merge:
// merge(in, inout, count, elem_bytes) folds in into inout. Non-root buffers are left unspecified.
void par_reduce_custom(void *buf, int count, size_t elem_bytes,
                       void (*merge)(const void *in, void *inout, int count, size_t elem_bytes), int root);
// Sum n doubles of every rank into root's buf (others' buf unchanged).
void par_reduce_sum_double(double *buf, size_t n, int root);
// Pass bytes around the ring in place: send to rank + 1, receive from rank - 1.
void par_ring_shift(void *buf, size_t bytes);
// 1 if every rank passed the same value.
int par_same_u64(uint64_t v);
// Ranks on this process's node (collective the first time it is called; 1 without MPI).
int par_node_ranks(void);

#endif
