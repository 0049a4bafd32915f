// eval: bounded per-user top-K lists and the ranking metrics of the CFGAN paper.
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "par.h"
#include "util.h"

void topk_init(TopK *self, int32_t n_users, int32_t k) {
    self->n_users = n_users;
    self->k = k;
    self->e = xmalloc((size_t)n_users * (size_t)k * sizeof *self->e);
    self->count = xcalloc((size_t)n_users, sizeof *self->count);
    self->floor_ = xmalloc(((size_t)n_users + 1) * sizeof *self->floor_);
    topk_reset(self);
}

void topk_reset(TopK *self) {
    memset(self->count, 0, (size_t)self->n_users * sizeof *self->count);
    for (int32_t u = 0; u < self->n_users; u++) self->floor_[u] = -INFINITY;
}

void topk_free(TopK *self) {
    free(self->e);
    free(self->count);
    free(self->floor_);
    memset(self, 0, sizeof *self);
}

// a ranks below b: lower score, or equal score and higher item index.
static inline int worse(TopKEntry a, TopKEntry b) { return a.score < b.score || (a.score == b.score && a.item > b.item); }

static void sift_down(TopKEntry *h, int32_t n, int32_t i) {
    for (;;) {
        int32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(h[l], h[m])) m = l;
        if (r < n && worse(h[r], h[m])) m = r;
        if (m == i) return;
        TopKEntry t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

void topk_offer(TopK *self, int32_t user, int32_t item, float score) {
    if (isnan(score)) score = -INFINITY;
    TopKEntry *h = self->e + (size_t)user * self->k, x = {score, item};
    int32_t n = self->count[user];
    if (n < self->k) { // heap insert: sift up
        int32_t i = n;
        while (i > 0) {
            int32_t p = (i - 1) / 2;
            if (!worse(x, h[p])) break;
            h[i] = h[p];
            i = p;
        }
        h[i] = x;
        self->count[user] = n + 1;
        if (n + 1 == self->k) self->floor_[user] = h[0].score;
    } else if (worse(h[0], x)) { // beats the worst kept: replace the root
        h[0] = x;
        sift_down(h, n, 0);
        self->floor_[user] = h[0].score;
    }
}

void topk_finish(TopK *self) {
    for (int32_t u = 0; u < self->n_users; u++) {
        TopKEntry *h = self->e + (size_t)u * self->k;
        // heap sort: repeatedly move the worst to the end, leaving best-first order
        for (int32_t n = self->count[u]; n > 1; n--) {
            TopKEntry t = h[0];
            h[0] = h[n - 1];
            h[n - 1] = t;
            sift_down(h, n - 1, 0);
        }
        for (int32_t i = self->count[u]; i < self->k; i++) h[i] = (TopKEntry){-INFINITY, -1};
    }
}

// MPI reduction operator: merge two best-first lists per user into the best k.
static void topk_merge(const void *in, void *inout, int count, size_t elem_bytes) {
    const int32_t k = (int32_t)(elem_bytes / sizeof(TopKEntry));
    TopKEntry *tmp = xmalloc((size_t)k * sizeof *tmp);
    for (int u = 0; u < count; u++) {
        const TopKEntry *a = (const TopKEntry *)in + (size_t)u * k;
        TopKEntry *b = (TopKEntry *)inout + (size_t)u * k;
        int32_t i = 0, j = 0;
        for (int32_t t = 0; t < k; t++) {
            int take_a = j >= k || b[j].item < 0 || (i < k && a[i].item >= 0 && !worse(a[i], b[j]));
            tmp[t] = take_a ? a[i++] : b[j++];
        }
        memcpy(b, tmp, (size_t)k * sizeof *tmp);
    }
    free(tmp);
}

void topk_reduce(TopK *self) {
    par_reduce_custom(self->e, self->n_users, (size_t)self->k * sizeof(TopKEntry), topk_merge, 0);
    if (!util_is_root()) return;
    for (int32_t u = 0; u < self->n_users; u++) {
        int32_t n = 0;
        while (n < self->k && self->e[(size_t)u * self->k + n].item >= 0) n++;
        self->count[u] = n;
    }
}

void topk_offer_user_row(TopK *self, int32_t user, const float *scores, int32_t n_items, const int32_t *exclude,
                         int32_t n_exclude) {
    int32_t e = 0;
    for (int32_t i = 0; i < n_items; i++) {
        if (scores[i] < self->floor_[user]) continue; // cannot enter the list
        while (e < n_exclude && exclude[e] < i) e++;
        if (e < n_exclude && exclude[e] == i) continue;
        topk_offer(self, user, i, scores[i]);
    }
}

void topk_offer_item_column(TopK *self, int32_t item, const float *scores, int32_t n_users, const int32_t *exclude,
                            int32_t n_exclude) {
    int32_t e = 0;
    const float *fl = self->floor_;
    for (int32_t u = 0; u < n_users; u++) {
        if (scores[u] < fl[u]) continue; // cannot enter u's list (NaN falls through to the full check)
        while (e < n_exclude && exclude[e] < u) e++;
        if (e < n_exclude && exclude[e] == u) continue;
        topk_offer(self, u, item, scores[u]);
    }
}

// Gini index of the counts x (n): Σ_i (2i - n - 1) x_(i) / (n Σ x) over x sorted ascending, i = 1..n;
// 0 when every item is recommended equally often, towards 1 when a few items take every slot.
static double gini(int64_t *x, int32_t n) {
    qsort(x, (size_t)n, sizeof *x, cmp_int64);
    double num = 0, sum = 0;
    for (int32_t i = 0; i < n; i++) num += (2.0 * (i + 1) - n - 1) * (double)x[i], sum += (double)x[i];
    return sum > 0 ? num / ((double)n * sum) : 0;
}

void metrics_compute(Metrics *out, PerUser *per_user, const TopK *topk, const Csr *heldout, const ItemPopularity *pop,
                     const int *cutoffs, int n_cutoffs) {
    memset(out, 0, sizeof *out);
    out->n_cutoffs = n_cutoffs;
    memcpy(out->cutoff, cutoffs, (size_t)n_cutoffs * sizeof *cutoffs);
    int64_t *count = xcalloc((size_t)n_cutoffs * (size_t)pop->n_items + 1, sizeof *count); // (cutoff, item) in lists
    if (per_user) {
        *per_user = (PerUser){.n_cutoffs = n_cutoffs};
        per_user->user = xmalloc(((size_t)heldout->n_rows + 1) * sizeof *per_user->user);
        per_user->v = xmalloc(((size_t)heldout->n_rows * n_cutoffs + 1) * USER_METRICS * sizeof *per_user->v);
    }
    const double n_all = (double)(pop->n_users > 0 ? pop->n_users : 1);
    for (int32_t u = 0; u < heldout->n_rows && u < topk->n_users; u++) {
        int32_t n_rel = csr_row_len(heldout, u);
        if (n_rel == 0) continue;
        const int32_t *rel = heldout->col + heldout->row_ptr[u];
        const TopKEntry *list = topk->e + (size_t)u * topk->k;
        int32_t n_list = topk->count[u];
        double *row = per_user ? per_user->v + (size_t)out->n_users * n_cutoffs * USER_METRICS : NULL;
        if (per_user) per_user->user[out->n_users] = u;
        out->n_users++;
        for (int c = 0; c < n_cutoffs; c++) {
            int K = cutoffs[c];
            double hits = 0, dcg = 0, idcg = 0, rr = 0, self_info = 0, popularity = 0;
            int n_shown = 0;
            for (int p = 0; p < K && p < n_list; p++) {
                // binary search in the sorted held-out row
                int32_t lo = 0, hi = n_rel, x = list[p].item;
                while (lo < hi) {
                    int32_t mid = (lo + hi) / 2;
                    if (rel[mid] < x) lo = mid + 1;
                    else hi = mid;
                }
                if (lo < n_rel && rel[lo] == x) {
                    hits += 1;
                    dcg += 1.0 / log2(p + 2.0);
                    if (rr == 0) rr = 1.0 / (p + 1);
                }
                const int64_t deg = x < pop->n_items ? pop->pop[x] : 0;
                self_info += log2(n_all / (double)(deg > 0 ? deg : 1)); // unseen items count as seen once
                popularity += (double)deg;
                if (x < pop->n_items) count[(size_t)c * pop->n_items + x]++;
                n_shown++;
            }
            for (int p = 0; p < K && p < n_rel; p++) idcg += 1.0 / log2(p + 2.0);
            const double vals[USER_METRICS] = {hits / K, hits / n_rel, dcg / idcg, rr,
                                               n_shown ? self_info / n_shown : 0, n_shown ? popularity / n_shown : 0};
            out->p[c] += vals[0], out->r[c] += vals[1], out->ndcg[c] += vals[2], out->mrr[c] += vals[3];
            out->novelty[c] += vals[4], out->popularity[c] += vals[5];
            if (row) memcpy(row + (size_t)c * USER_METRICS, vals, sizeof vals);
        }
    }
    if (per_user) per_user->n = out->n_users;
    for (int c = 0; c < n_cutoffs; c++) {
        if (out->n_users > 0) {
            const double n = (double)out->n_users;
            out->p[c] /= n, out->r[c] /= n, out->ndcg[c] /= n, out->mrr[c] /= n;
            out->novelty[c] /= n, out->popularity[c] /= n;
        }
        int64_t *x = count + (size_t)c * pop->n_items, distinct = 0;
        for (int32_t i = 0; i < pop->n_items; i++) distinct += x[i] > 0;
        out->coverage[c] = pop->n_items ? (double)distinct / pop->n_items : 0;
        out->gini[c] = gini(x, pop->n_items);
    }
    free(count);
}

void per_user_tsv(const PerUser *self, const int *cutoffs, const int64_t *ids, StrBuf *sb) {
    static const char *const names[USER_METRICS] = {"P", "R", "NDCG", "MRR", "novelty", "popularity"};
    sb_printf(sb, "user");
    for (int c = 0; c < self->n_cutoffs; c++)
        for (int m = 0; m < USER_METRICS; m++) sb_printf(sb, "\t%s@%d", names[m], cutoffs[c]);
    sb_printf(sb, "\n");
    for (int64_t i = 0; i < self->n; i++) {
        sb_printf(sb, "%lld", (long long)(ids ? ids[self->user[i]] : self->user[i]));
        const double *v = self->v + (size_t)i * self->n_cutoffs * USER_METRICS;
        for (int k = 0; k < self->n_cutoffs * USER_METRICS; k++) sb_printf(sb, "\t%.10g", v[k]);
        sb_printf(sb, "\n");
    }
}

void per_user_free(PerUser *self) {
    free(self->user);
    free(self->v);
    memset(self, 0, sizeof *self);
}

double metrics_get(const Metrics *self, int metric, int k) {
    for (int c = 0; c < self->n_cutoffs; c++) {
        if (self->cutoff[c] != k) continue;
        switch (metric) {
        case 0: return self->p[c];
        case 1: return self->r[c];
        case 2: return self->ndcg[c];
        default: return self->mrr[c];
        }
    }
    return NAN;
}

void metrics_json(const Metrics *self, StrBuf *sb) {
    for (int c = 0; c < self->n_cutoffs; c++) {
        int k = self->cutoff[c];
        sb_printf(sb, "%s\"P@%d\": %.10g, \"R@%d\": %.10g, \"NDCG@%d\": %.10g, \"MRR@%d\": %.10g", c ? ", " : "", k,
                  self->p[c], k, self->r[c], k, self->ndcg[c], k, self->mrr[c]);
    }
    for (int c = 0; c < self->n_cutoffs; c++) {
        int k = self->cutoff[c];
        sb_printf(sb, ", \"coverage@%d\": %.10g, \"gini@%d\": %.10g, \"novelty@%d\": %.10g, \"popularity@%d\": %.10g", k,
                  self->coverage[c], k, self->gini[c], k, self->novelty[c], k, self->popularity[c]);
    }
}
