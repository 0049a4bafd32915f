// shard: this rank's part of a dataset. Every rank parses a share of each file's lines, global
// dense id maps are agreed with one allgather, pairs move to the rank that owns their user (where
// per-user holdout splits happen), then training vectors move to the rank that owns their row
// (users, or items in item mode; contiguous blocks of about equal work: a row weighs its pairs plus
// the number of columns). Held-out sets for metrics are gathered on rank 0 only. Data memory per
// rank is O(pairs / np + users + items); results do not depend on np.
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
    int32_t *row_bounds;                // (np + 1) rank r owns rows [row_bounds[r], row_bounds[r+1])
    int32_t row_begin, row_end;         // this rank's rows
    Csr train;                          // (row_end - row_begin, n_cols) training vectors of this rank's rows
    Csr valid_rows;                     // (same shape) validation pairs of these rows (excluded when testing)
    Csr test, valid;                    // (n_users, n_items) held-out pairs by user: rank 0 only, else empty
    int64_t *user_degree, *item_degree; // (n_users), (n_items) training pairs per user / item, every rank
    int64_t n_train, n_valid, n_test;   // global pair counts
    ReadStats train_stats, test_stats;  // summed over ranks
    int test_from_holdout;              // test was split off data.train
    uint64_t fingerprint;               // of the split data and the id maps; the same at every np
} Dataset;

// Build this rank's part of the dataset the config describes (collective: every rank calls it).
void dataset_load(Dataset *self, const Config *cfg);
void dataset_free(Dataset *self);
// Bytes of data this rank holds (its rows, rank 0's held-out sets, the id maps and degrees).
size_t dataset_bytes(const Dataset *self);
// Local row index of global row r, or -1 if another rank owns it.
static inline int32_t dataset_local_row(const Dataset *self, int32_t r) {
    return r >= self->row_begin && r < self->row_end ? r - self->row_begin : -1;
}

#endif
