// score: the trained model's evaluation during a run. Each rank scores its rows with G in blocks,
// keeps every user's top-K (training or validation items excluded), the lists are merged on rank 0,
// which computes the metrics. G's outputs for every local row can be kept (the cache): the D phase
// reads G's output for each batch row from it, since G does not change while D trains.
#ifndef CFGAN_SCORE_H
#define CFGAN_SCORE_H

#include <stddef.h>
#include <stdint.h>

#include "shard.h"
#include "eval.h"
#include "model.h"

typedef struct {
    int block;          // rows scored at once
    TopK topk;          // per-user candidates, the largest cutoff deep
    float *scores;      // (block, n_cols) G's output while scoring without the cache
    float *cache;       // (local rows, n_cols) G's output for every local row, or NULL
    int64_t cache_step; // G's optimizer step the cache was computed at; -1: none
    int32_t *order;     // (local rows) most training pairs first: the order item columns are offered in
} Scorer;

// Scoring for the local rows of ds in blocks of `block` rows, lists max_cutoff deep; the cache when
// it takes at most cache_bytes.
void scorer_init(Scorer *self, const Dataset *ds, int block, int max_cutoff, size_t cache_bytes);
void scorer_free(Scorer *self);
// Fill the cache with G's outputs, unless it holds G's current step already (or there is none).
void scorer_refresh_cache(Scorer *self, Cfgan *model, const Dataset *ds);
// G's cached output row of local row lr, or NULL without a cache.
const float *scorer_cached(const Scorer *self, int32_t lr, int n_cols);
// Score every local row, rank items per user excluding excl (local rows), and compute the metrics
// against heldout at the cutoffs on rank 0 (with each test user's when per_user is not NULL: rank 0
// only); every rank receives the metrics. Collective.
void scorer_evaluate(Scorer *self, Cfgan *model, const Dataset *ds, const Csr *heldout, const Csr *excl,
                     const int *cutoffs, int n_cutoffs, Metrics *out, PerUser *per_user);

#endif
