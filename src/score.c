// score: G's scores for this rank's rows in blocks, per-user top-K merged on rank 0, the metrics;
// and the cache of G's outputs that the D phase reads.
#include "score.h"

#include <stdlib.h>
#include <string.h>

#include "par.h"
#include "timer.h"
#include "util.h"

static int cmp_i64_desc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

void scorer_init(Scorer *self, const Dataset *ds, int block, int max_cutoff, size_t cache_bytes) {
    memset(self, 0, sizeof *self);
    const int32_t n_local = ds->n_local_rows;
    self->block = block;
    topk_init(&self->topk, ds->n_users, max_cutoff);
    const size_t bytes = (size_t)n_local * ds->n_cols * sizeof(float);
    if (bytes > 0 && bytes <= cache_bytes) self->cache = xmalloc(bytes);
    else self->scores = xmalloc((size_t)block * ds->n_cols * sizeof(float));
    self->cache_step = -1;
    // local rows by training pairs, most first (ties: lower row first)
    int64_t *key = xmalloc(((size_t)n_local + 1) * sizeof *key);
    for (int32_t r = 0; r < n_local; r++)
        key[r] = (int64_t)csr_row_len(&ds->train, r) << 32 | (int64_t)(UINT32_MAX - (uint32_t)r);
    qsort(key, (size_t)n_local, sizeof *key, cmp_i64_desc);
    self->order = xmalloc(((size_t)n_local + 1) * sizeof *self->order);
    for (int32_t k = 0; k < n_local; k++) self->order[k] = (int32_t)(UINT32_MAX - (uint32_t)(key[k] & UINT32_MAX));
    free(key);
}

void scorer_free(Scorer *self) {
    topk_free(&self->topk);
    free(self->scores);
    free(self->cache);
    free(self->order);
    memset(self, 0, sizeof *self);
}

const float *scorer_cached(const Scorer *self, int32_t lr, int n_cols) {
    return self->cache ? self->cache + (size_t)lr * n_cols : NULL;
}

// G's outputs for local rows [r0, r0 + B) into out (B x n_cols).
static void generate_block(Cfgan *model, const Dataset *ds, int32_t r0, int B, float *out) {
    cfgan_generate(model, B, ds->train.row_ptr + r0, ds->train.col, out);
}

void scorer_refresh_cache(Scorer *self, Cfgan *model, const Dataset *ds) {
    if (!self->cache || self->cache_step == model->g.step) return;
    timer_start(T_G_FWD);
    for (int32_t r0 = 0; r0 < ds->n_local_rows; r0 += self->block) {
        const int B = ds->n_local_rows - r0 < self->block ? ds->n_local_rows - r0 : self->block;
        generate_block(model, ds, r0, B, self->cache + (size_t)r0 * ds->n_cols);
    }
    self->cache_step = model->g.step;
    timer_stop(T_G_FWD);
}

// Offer local row lr's scores: a user's row of items, or in item mode an item's column of users.
static void offer(Scorer *self, const Dataset *ds, int32_t lr, const float *scores, const Csr *excl) {
    const int32_t r = dataset_global_row(ds, lr), n_ex = csr_row_len(excl, lr);
    const int32_t *ex = excl->col + excl->row_ptr[lr];
    if (ds->item_mode) topk_offer_item_column(&self->topk, r, scores, ds->n_cols, ex, n_ex);
    else topk_offer_user_row(&self->topk, r, scores, ds->n_cols, ex, n_ex);
}

void scorer_evaluate(Scorer *self, Cfgan *model, const Dataset *ds, const Csr *heldout, const Csr *excl,
                     const int *cutoffs, int n_cutoffs, Metrics *out, PerUser *per_user) {
    timer_start(T_EVAL);
    topk_reset(&self->topk);
    const int n = ds->n_cols;
    const int32_t n_local = ds->n_local_rows;
    for (int32_t r0 = 0; r0 < n_local; r0 += self->block) {
        const int B = n_local - r0 < self->block ? n_local - r0 : self->block;
        float *scores = self->cache ? self->cache + (size_t)r0 * n : self->scores;
        timer_start(T_SCORE); // pauses T_EVAL
        generate_block(model, ds, r0, B, scores);
        timer_stop(T_SCORE);
        for (int i = 0; i < B && !self->cache; i++) offer(self, ds, r0 + i, scores + (size_t)i * n, excl);
    }
    if (self->cache) {
        // every row's scores at hand: offer the rows with the most training pairs first. The lists
        // are the same in any order, but in item mode the likely winners come early, each user's
        // floor rises at once and most later offers stop at one comparison
        for (int32_t q = 0; q < n_local; q++)
            offer(self, ds, self->order[q], self->cache + (size_t)self->order[q] * n, excl);
        self->cache_step = model->g.step; // these outputs also serve the next D phase
    }
    topk_finish(&self->topk);
    topk_reduce(&self->topk);
    const ItemPopularity pop = {ds->item_degree, ds->n_items, ds->n_users};
    if (util_is_root()) metrics_compute(out, per_user, &self->topk, heldout, &pop, cutoffs, n_cutoffs);
    par_bcast(out, sizeof *out, 0);
    timer_stop(T_EVAL);
}
