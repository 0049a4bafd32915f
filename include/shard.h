// shard: this rank's part of a dataset. Every rank parses a share of each file's lines, global
// dense id maps are agreed with one allgather, pairs move to the rank that owns their user (where
// per-user holdout splits happen), then training vectors move to the rank that owns their row
// (users, or items in item mode) cyclically: row r lives on rank r mod np, so every rank gets about
// the same number of rows and of pairs even when popular rows cluster at low ids. Held-out sets for
// metrics are gathered on rank 0 only. Data memory per rank is O(pairs / np + users + items);
// results do not depend on np.
#ifndef CFGAN_SHARD_H
#define CFGAN_SHARD_H

#include <stdint.h>

#include "config.h"
#include "data.h"

typedef struct {
    int32_t n_users, n_items;           // global
    IdMap users, items;                 // global: dense index -> original id
    int item_mode;                      // rows are items (else users)
    int32_t n_rows, n_cols;             // global rows and columns of the mode
    int32_t row_offset, row_stride;     // this rank's rows: row_offset + k·row_stride (rank, np)
    int32_t n_local_rows;               // how many rows that is
    Csr train;                          // (n_local_rows, n_cols) training vectors of this rank's rows
    Csr valid_rows;                     // (same shape) validation pairs of these rows (excluded when testing)
    Csr test, valid;                    // (n_users, n_items) held-out pairs by user: rank 0 only, else empty
    int64_t *user_degree, *item_degree; // (n_users), (n_items) training pairs per user / item, every rank
    int64_t n_train, n_valid, n_test;   // global pair counts
    ReadStats train_stats, test_stats;  // summed over ranks
    uint64_t fingerprint;               // of the split data and the id maps; the same at every np
} Dataset;

// Build this rank's part of the dataset the config describes (collective: every rank calls it).
void dataset_load(Dataset *self, const Config *cfg);
void dataset_free(Dataset *self);
// Bytes of data this rank holds (its rows, rank 0's held-out sets, the id maps and degrees).
size_t dataset_bytes(const Dataset *self);
// Bytes of this rank's training shard alone (its rows' training and validation pairs).
size_t dataset_shard_bytes(const Dataset *self);
// Local row index of global row r, or -1 if another rank owns it.
static inline int32_t dataset_local_row(const Dataset *self, int32_t r) {
    return r % self->row_stride == self->row_offset ? r / self->row_stride : -1;
}
// Global row of local row lr.
static inline int32_t dataset_global_row(const Dataset *self, int32_t lr) { return self->row_offset + lr * self->row_stride; }

#endif
