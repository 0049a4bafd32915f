// baselines: distributed Gram matrix, ring scoring over column blocks, TopPop and ItemKNN.
#include "baselines.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "par.h"
#include "util.h"

void colblocks_init(ColumnBlocks *self, int32_t n) {
    const int np = par_size();
    self->n = n;
    self->bounds = xmalloc(((size_t)np + 1) * sizeof *self->bounds);
    int32_t w = (n + np - 1) / np;
    for (int r = 0; r <= np; r++) self->bounds[r] = (int32_t)((int64_t)r * w < n ? r * w : n);
    self->wmax = w > 0 ? w : 1;
    self->block = xcalloc((size_t)n * self->wmax, sizeof *self->block);
}

void colblocks_free(ColumnBlocks *self) {
    free(self->bounds);
    free(self->block);
    memset(self, 0, sizeof *self);
}

static void layout_alloc(Layout *L, int32_t n, int P, int Q) {
    L->P = P, L->Q = Q;
    L->row_owner = xmalloc((size_t)n * sizeof(int32_t));
    L->row_local = xmalloc((size_t)n * sizeof(int32_t));
    L->col_owner = xmalloc((size_t)n * sizeof(int32_t));
    L->col_local = xmalloc((size_t)n * sizeof(int32_t));
    L->local_rows = xcalloc((size_t)P, sizeof(int32_t));
    L->local_cols = xcalloc((size_t)Q, sizeof(int32_t));
}

void layout_block_cyclic(Layout *L, int32_t n, int nb, int P, int Q) {
    layout_alloc(L, n, P, Q);
    L->col_major = 1;
    for (int32_t i = 0; i < n; i++) {
        L->row_owner[i] = (i / nb) % P;
        L->row_local[i] = (i / (nb * P)) * nb + i % nb;
        L->col_owner[i] = (i / nb) % Q;
        L->col_local[i] = (i / (nb * Q)) * nb + i % nb;
        L->local_rows[L->row_owner[i]]++;
        L->local_cols[L->col_owner[i]]++;
    }
}

void layout_columns(Layout *L, const ColumnBlocks *cb) {
    const int np = par_size();
    layout_alloc(L, cb->n, 1, np);
    L->col_major = 0;
    for (int r = 0; r < np; r++)
        for (int32_t j = cb->bounds[r]; j < cb->bounds[r + 1]; j++) L->col_owner[j] = r, L->col_local[j] = j - cb->bounds[r];
    for (int32_t i = 0; i < cb->n; i++) L->row_owner[i] = 0, L->row_local[i] = i;
    L->local_rows[0] = cb->n;
    for (int r = 0; r < np; r++) L->local_cols[r] = cb->wmax; // row-major with stride wmax
}

void layout_free(Layout *L) {
    free(L->row_owner), free(L->row_local), free(L->col_owner), free(L->col_local);
    free(L->local_rows), free(L->local_cols);
    memset(L, 0, sizeof *L);
}

void gram_distribute(double *out, const Csr *hist, int32_t n_items, const Layout *L) {
    const int me = par_rank();
    size_t most = 0;
    for (int t = 0; t < L->P * L->Q; t++) {
        size_t sz = (size_t)L->local_rows[t / L->Q] * L->local_cols[t % L->Q];
        if (sz > most) most = sz;
    }
    double *buf = xmalloc((most ? most : 1) * sizeof *buf);
    int32_t *a = xmalloc(((size_t)n_items + 1) * sizeof *a), *b = xmalloc(((size_t)n_items + 1) * sizeof *b);
    for (int t = 0; t < L->P * L->Q; t++) { // one target rank at a time: memory stays O(n^2 / np)
        const int tr = t / L->Q, tc = t % L->Q;
        const int32_t mr = L->local_rows[tr], mc = L->local_cols[tc];
        double *dst = t == me ? out : buf;
        memset(dst, 0, (size_t)mr * mc * sizeof *dst);
        for (int32_t u = 0; u < hist->n_rows; u++) {
            int na = 0, nb = 0;
            for (int64_t k = hist->row_ptr[u]; k < hist->row_ptr[u + 1]; k++) {
                int32_t i = hist->col[k];
                if (L->row_owner[i] == tr) a[na++] = L->row_local[i];
                if (L->col_owner[i] == tc) b[nb++] = L->col_local[i];
            }
            if (L->col_major)
                for (int x = 0; x < nb; x++) {
                    double *col = dst + (size_t)b[x] * mr;
                    for (int y = 0; y < na; y++) col[a[y]] += 1;
                }
            else
                for (int y = 0; y < na; y++) {
                    double *row = dst + (size_t)a[y] * mc;
                    for (int x = 0; x < nb; x++) row[b[x]] += 1;
                }
        }
        par_reduce_sum_double(dst, (size_t)mr * mc, t);
    }
    free(buf), free(a), free(b);
}

void score_columns(TopK *topk, const Csr *hist, int32_t user_offset, int32_t user_stride, const Csr *excl,
                   ColumnBlocks *S) {
    const int np = par_size(), me = par_rank();
    double *acc = xmalloc((size_t)S->wmax * sizeof *acc);
    for (int s = 0; s < np; s++) {
        const int o = (me - s + np) % np; // whose block this rank holds now
        const int32_t c0 = S->bounds[o], w = S->bounds[o + 1] - c0;
        for (int32_t u = 0; u < hist->n_rows && w > 0; u++) {
            memset(acc, 0, (size_t)w * sizeof *acc);
            for (int64_t k = hist->row_ptr[u]; k < hist->row_ptr[u + 1]; k++) { // x_u · S[:, block]
                const double *row = S->block + (size_t)hist->col[k] * S->wmax;
                for (int32_t c = 0; c < w; c++) acc[c] += row[c];
            }
            const int32_t *ex = excl->col + excl->row_ptr[u];
            int32_t n_ex = csr_row_len(excl, u), e = 0;
            for (int32_t c = 0; c < w; c++) {
                int32_t item = c0 + c;
                while (e < n_ex && ex[e] < item) e++;
                if (e < n_ex && ex[e] == item) continue;
                topk_offer(topk, user_offset + u * user_stride, item, (float)acc[c]);
            }
        }
        if (np > 1) par_ring_shift(S->block, (size_t)S->n * S->wmax * sizeof(double));
    }
    free(acc);
}

// Training pairs per item over every rank's users.
static int64_t *item_degrees(const Csr *hist, int32_t n_items) {
    int64_t *deg = xcalloc((size_t)n_items, sizeof *deg);
    for (int64_t k = 0; k < hist->nnz; k++) deg[hist->col[k]]++;
    par_sum_int64(deg, (size_t)n_items);
    return deg;
}

void score_toppop(TopK *topk, const Csr *hist, int32_t user_offset, int32_t user_stride, const Csr *excl,
                  int32_t n_items) {
    int64_t *deg = item_degrees(hist, n_items);
    float *pop = xmalloc((size_t)n_items * sizeof *pop);
    for (int32_t i = 0; i < n_items; i++) pop[i] = (float)deg[i];
    for (int32_t u = 0; u < hist->n_rows; u++)
        topk_offer_user_row(topk, user_offset + u * user_stride, pop, n_items, excl->col + excl->row_ptr[u],
                            csr_row_len(excl, u));
    free(pop);
    free(deg);
}

typedef struct {
    double v;
    int32_t i;
} Scored;

// a ranks below b: smaller value, or equal value and higher index
static int below(Scored a, Scored b) { return a.v < b.v || (a.v == b.v && a.i > b.i); }

void itemknn_fit(ColumnBlocks *S, const Csr *hist, int32_t n_items, int k, double shrink) {
    Layout L;
    layout_columns(&L, S);
    gram_distribute(S->block, hist, n_items, &L);
    layout_free(&L);
    int64_t *deg = item_degrees(hist, n_items);
    const int me = par_rank();
    const int32_t c0 = S->bounds[me], w = S->bounds[me + 1] - c0;
    if (k > n_items - 1) k = n_items - 1;
    Scored *heap = xmalloc((size_t)(k + 1) * sizeof *heap);
    for (int32_t c = 0; c < w; c++) {
        const int32_t j = c0 + c;
        int h = 0;
        for (int32_t i = 0; i < n_items; i++) { // keep the k most similar items of column j (min-heap)
            double *x = S->block + (size_t)i * S->wmax + c;
            double sim = i == j ? 0 : *x / (sqrt((double)deg[i]) * sqrt((double)deg[j]) + shrink);
            *x = 0;
            if (i == j || sim <= 0) continue;
            Scored e = {sim, i};
            if (h < k) {
                int p = h++;
                while (p > 0 && below(e, heap[(p - 1) / 2])) heap[p] = heap[(p - 1) / 2], p = (p - 1) / 2;
                heap[p] = e;
            } else if (below(heap[0], e)) {
                int p = 0;
                for (;;) {
                    int l = 2 * p + 1, r = l + 1, m = p;
                    Scored cur = m == p ? e : heap[m];
                    if (l < h && below(heap[l], cur)) m = l, cur = heap[l];
                    if (r < h && below(heap[r], cur)) m = r;
                    if (m == p) break;
                    heap[p] = heap[m];
                    p = m;
                }
                heap[p] = e;
            }
        }
        for (int t = 0; t < h; t++) S->block[(size_t)heap[t].i * S->wmax + c] = heap[t].v;
    }
    free(heap);
    free(deg);
}
