// data: readers for every input format, dense id maps, CSR storage and holdout splits. Implicit
// feedback: a kept (user, item) pair is a 1, everything else 0. (shard.h builds the dataset.)
#ifndef CFGAN_DATA_H
#define CFGAN_DATA_H

#include <stdint.h>

#include "config.h"

// Sparse 0/1 matrix in compressed sparse rows; columns sorted and unique within a row.
typedef struct {
    int32_t n_rows, n_cols;
    int64_t nnz;
    int64_t *row_ptr; // (n_rows + 1) start of each row in col
    int32_t *col;     // (nnz) column indices
} Csr;

// Dense index -> original id (sorted ascending, so 0-based contiguous ids map to themselves).
typedef struct {
    int64_t *ids; // (n)
    int32_t n;
} IdMap;

// Pairs in original ids as read from a file.
typedef struct {
    int64_t *user, *item; // (n)
    int64_t n, cap;
} PairList;

// How to read one file.
typedef struct {
    int format;        // DataFormat
    char delimiter;    // csv separator
    int header;        // csv/tsv: skip first line
    int user_col, item_col, rating_col;
    double min_rating; // keep rating >= min_rating; 0 keeps all
} ReadOptions;

// Counts kept while reading, for data-info.
typedef struct {
    int64_t lines;        // data lines read
    int64_t below_threshold; // dropped by data.min_rating
    int64_t duplicates;   // repeated pairs collapsed
    long file_lines;      // lines in the file (all parts)
    int64_t kcore_removed; // pairs dropped by the k-core filter
} ReadStats;


// Read every kept pair of a file; exits EXIT_INPUT with "FILE:LINE: problem" on bad data.
void data_read_pairs(const char *path, const ReadOptions *opt, PairList *out, ReadStats *stats);
// The same for the lines numbered part, part + n_parts, ... (every line is read, only those are
// parsed and checked). Does not complain about an empty file: the caller sums stats over parts.
void data_read_pairs_part(const char *path, const ReadOptions *opt, int part, int n_parts, PairList *out,
                          ReadStats *stats);
void pairs_push(PairList *self, int64_t user, int64_t item);
void pairs_free(PairList *self);
// Reader options from the config's data.* keys.
ReadOptions read_options_from_config(const Config *cfg);


// CSR from (row, col) pairs; sorts and collapses duplicates (counted in *n_dupes if not NULL).
void csr_from_pairs(Csr *out, int32_t n_rows, int32_t n_cols, const int32_t *rows, const int32_t *cols, int64_t n,
                    int64_t *n_dupes);
// Split each row: round(frac * row length) of its columns (leaving at least one) go to `held`,
// chosen by the stream (seed, RNG_SPLIT, which, row_offset + row); the rest to `kept`.
void csr_holdout(const Csr *in, int32_t row_offset, double frac, uint64_t seed, uint32_t which, Csr *kept, Csr *held);
// out = a ∪ b (same shape), rows sorted and unique.
void csr_union(Csr *out, const Csr *a, const Csr *b);
static inline int32_t csr_row_len(const Csr *self, int32_t r) { return (int32_t)(self->row_ptr[r + 1] - self->row_ptr[r]); }
void csr_free(Csr *self);
// Dense index of an original id, or -1.
int32_t idmap_find(const IdMap *self, int64_t id);

#endif
