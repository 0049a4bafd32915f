// eval: per-user running top-K over scores produced in row blocks, the CFGAN paper's metrics (P@K,
// R@K, NDCG@K, MRR@K; training items excluded; ties go to the lower item index) and beyond-accuracy
// metrics of the lists (coverage, Gini, novelty, popularity), overall and per test user.
#ifndef CFGAN_EVAL_H
#define CFGAN_EVAL_H

#include <stdint.h>

#include "data.h"
#include "util.h"

#define EVAL_MAX_CUTOFFS 16

typedef struct {
    float score;
    int32_t item; // -1: empty slot
} TopKEntry;

// Bounded per-user candidate lists: a min-heap of the k best items per user, sorted by topk_finish.
typedef struct {
    int32_t n_users, k;
    TopKEntry *e;   // (n_users, k) heap, then best-first with empty slots last
    int32_t *count; // (n_users) entries held
    float *floor_;  // (n_users) score of the worst kept entry once full, else -inf: anything below
                    // it cannot enter, so most offers stop at one comparison
} TopK;

void topk_init(TopK *self, int32_t n_users, int32_t k);
void topk_reset(TopK *self);
// Offer item with score to user's list, in any order: the lists keep the best k by (score
// descending, item ascending), so ties go to the lower index whatever the order. NaN counts as -inf.
void topk_offer(TopK *self, int32_t user, int32_t item, float score);
// Sort every list best-first (empty slots last).
void topk_finish(TopK *self);
// Merge finished lists of every rank into rank 0's (collective; rank 0 then holds the global top-K).
void topk_reduce(TopK *self);
void topk_free(TopK *self);

// Offer one user's full score row (n_items floats) skipping the user's training items (sorted cols).
void topk_offer_user_row(TopK *self, int32_t user, const float *scores, int32_t n_items, const int32_t *exclude,
                         int32_t n_exclude);
// Offer one item's scores over all users (item-based mode) skipping users who have it in training.
void topk_offer_item_column(TopK *self, int32_t item, const float *scores, int32_t n_users, const int32_t *exclude,
                            int32_t n_exclude);

typedef struct {
    int n_cutoffs;
    int cutoff[EVAL_MAX_CUTOFFS];
    // accuracy, means over the test users (users with at least one held-out item)
    double p[EVAL_MAX_CUTOFFS], r[EVAL_MAX_CUTOFFS], ndcg[EVAL_MAX_CUTOFFS], mrr[EVAL_MAX_CUTOFFS];
    // beyond accuracy (docs/metrics.md): the share of the catalogue in some top-K list, the Gini index
    // of how often each item is recommended, the mean self-information log2(|U| / pop) and the mean
    // training popularity of the recommended items
    double coverage[EVAL_MAX_CUTOFFS], gini[EVAL_MAX_CUTOFFS], novelty[EVAL_MAX_CUTOFFS],
        popularity[EVAL_MAX_CUTOFFS];
    int64_t n_users; // users with at least one held-out item
} Metrics;

// The items' training popularity: pop[i] training users of item i (n_items), among n_users users.
typedef struct {
    const int64_t *pop;
    int32_t n_items;
    int64_t n_users;
} ItemPopularity;

// Every test user's metrics: P, R, NDCG, MRR, novelty and popularity at each cutoff, in that order.
enum { USER_METRICS = 6 };
typedef struct {
    int64_t n;       // test users
    int n_cutoffs;
    int32_t *user;   // (n) dense user index
    double *v;       // (n, n_cutoffs, USER_METRICS)
} PerUser;

// Metrics of finished lists against held-out pairs (users as rows), and each test user's metrics
// when per_user is not NULL (freed with per_user_free). Cutoffs must be <= topk->k.
void metrics_compute(Metrics *out, PerUser *per_user, const TopK *topk, const Csr *heldout, const ItemPopularity *pop,
                     const int *cutoffs, int n_cutoffs);
// Value of metric m (0 P, 1 R, 2 NDCG, 3 MRR) at cutoff k, or NAN if k was not computed.
double metrics_get(const Metrics *self, int metric, int k);
// Append `"P@5": 0.1, "R@5": ...` (no braces) to a JSON object under construction.
void metrics_json(const Metrics *self, StrBuf *sb);
// per_user.tsv: a header, then one line per test user: the user's original id (ids: dense index ->
// original id, NULL: the index itself), then every metric at every cutoff.
void per_user_tsv(const PerUser *self, const int *cutoffs, const int64_t *ids, StrBuf *sb);
void per_user_free(PerUser *self);

#endif
