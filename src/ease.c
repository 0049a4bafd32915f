// ease: EASE^R (Steck, WWW 2019) with ScaLAPACK. The Gram matrix G = XᵀX is assembled straight
// into a block-cyclic distribution over a P x Q BLACS grid of all ranks (no rank holds the whole
// item x item matrix when np > 1); for each λ: P = (G + λI)^-1 by Cholesky (pdpotrf + pdpotri),
// the other triangle by a distributed transpose, then P moves to column blocks (pdgemr2d) where
// B = I - P·diag(1/diag(P)) with a zero diagonal is formed for scoring.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "baselines.h"
#include "par.h"
#include "util.h"

#ifdef CFGAN_SERIAL
struct EaseGram {
    int unused;
};
EaseGram *ease_gram(const Csr *hist, int32_t n_items) {
    (void)hist, (void)n_items;
    die(EXIT_INPUT, "EASE^R needs ScaLAPACK: build with MPI (make, not make MPI=0)");
}
void ease_fit(ColumnBlocks *S, const EaseGram *g, double lambda) { (void)S, (void)g, (void)lambda; }
void ease_gram_free(EaseGram *g) { (void)g; }
#else

#include "scalapack.h"

enum { EASE_NB = 64 }; // block size of the block-cyclic distribution

struct EaseGram {
    int32_t n;
    int ctxt, P, Q, myrow, mycol;
    int desc[9];
    int32_t mr, mc;   // local rows and columns
    double *g;        // (mr, mc) column-major local part of G
    Layout layout;
};

// The most square P x Q grid with P * Q = np.
static void grid_shape(int np, int *P, int *Q) {
    int p = (int)sqrt((double)np);
    while (np % p) p--;
    *P = p;
    *Q = np / p;
}

EaseGram *ease_gram(const Csr *hist, int32_t n_items) {
    EaseGram *e = xcalloc(1, sizeof *e);
    const int np = par_size();
    e->n = n_items;
    grid_shape(np, &e->P, &e->Q);
    int me, nprocs;
    Cblacs_pinfo(&me, &nprocs);
    Cblacs_get(-1, 0, &e->ctxt);
    Cblacs_gridinit(&e->ctxt, "Row", e->P, e->Q); // rank = row * Q + col, as Layout assumes
    Cblacs_gridinfo(e->ctxt, &e->P, &e->Q, &e->myrow, &e->mycol);
    if (e->myrow * e->Q + e->mycol != par_rank())
        die(EXIT_RUNTIME, "internal: BLACS grid order differs from MPI ranks");
    layout_block_cyclic(&e->layout, n_items, EASE_NB, e->P, e->Q);
    e->mr = e->layout.local_rows[e->myrow];
    e->mc = e->layout.local_cols[e->mycol];
    int n = n_items, nb = EASE_NB, zero = 0, info, lld = e->mr > 1 ? e->mr : 1;
    descinit_(e->desc, &n, &n, &nb, &nb, &zero, &zero, &e->ctxt, &lld, &info);
    if (info != 0) die(EXIT_RUNTIME, "internal: descinit failed (%d)", info);
    e->g = xmalloc(((size_t)e->mr * e->mc + 1) * sizeof *e->g);
    gram_distribute(e->g, hist, n_items, &e->layout);
    return e;
}

void ease_gram_free(EaseGram *e) {
    if (!e) return;
    Cblacs_gridexit(e->ctxt);
    layout_free(&e->layout);
    free(e->g);
    free(e);
}

void ease_fit(ColumnBlocks *S, const EaseGram *e, double lambda) {
    const int32_t n = e->n, mr = e->mr, mc = e->mc;
    const Layout *L = &e->layout;
    int ni = n, one = 1, info;
    double *a = xmalloc(((size_t)mr * mc + 1) * sizeof *a), *t = xcalloc((size_t)mr * mc + 1, sizeof *t);
    memcpy(a, e->g, (size_t)mr * mc * sizeof *a);
    // local column lj holds global column j: invert the layout's maps for this rank
    int32_t *grow = xmalloc(((size_t)mr + 1) * sizeof *grow), *gcol = xmalloc(((size_t)mc + 1) * sizeof *gcol);
    for (int32_t i = 0; i < n; i++) {
        if (L->row_owner[i] == e->myrow) grow[L->row_local[i]] = i;
        if (L->col_owner[i] == e->mycol) gcol[L->col_local[i]] = i;
    }
    for (int32_t lj = 0; lj < mc; lj++) // G + λI
        for (int32_t li = 0; li < mr; li++)
            if (grow[li] == gcol[lj]) a[li + (size_t)lj * mr] += lambda;
    pdpotrf_("L", &ni, a, &one, &one, e->desc, &info);
    if (info > 0)
        die(EXIT_INPUT, "EASE^R: G + %g I is not positive definite (pdpotrf info %d): use a larger baselines.ease.lambda",
            lambda, info);
    if (info < 0) die(EXIT_RUNTIME, "internal: pdpotrf argument %d", -info);
    pdpotri_("L", &ni, a, &one, &one, e->desc, &info);
    if (info != 0) die(EXIT_RUNTIME, "EASE^R: pdpotri failed (info %d)", info);
    // pdpotri leaves P in the lower triangle: mirror it (P = L + Lᵀ - diag)
    for (int32_t lj = 0; lj < mc; lj++)
        for (int32_t li = 0; li < mr; li++)
            if (grow[li] < gcol[lj]) a[li + (size_t)lj * mr] = 0;
    double alpha = 1, beta = 0;
    pdtran_(&ni, &ni, &alpha, a, &one, &one, e->desc, &beta, t, &one, &one, e->desc);
    double *diag = xcalloc((size_t)n, sizeof *diag);
    for (int32_t lj = 0; lj < mc; lj++)
        for (int32_t li = 0; li < mr; li++) {
            size_t x = li + (size_t)lj * mr;
            if (grow[li] == gcol[lj]) diag[grow[li]] = a[x];
            else a[x] += t[x];
        }
    par_sum_double(diag, (size_t)n);
    // P to column blocks (1 x np grid, each rank a contiguous block of columns, all rows)
    const int np = par_size(), me = par_rank();
    int ctx2, p1, q1, r1, c1;
    Cblacs_get(-1, 0, &ctx2);
    Cblacs_gridinit(&ctx2, "Row", 1, np);
    Cblacs_gridinfo(ctx2, &p1, &q1, &r1, &c1);
    int desc2[9], zero = 0, wblock = S->bounds[1] - S->bounds[0], lld2 = n > 1 ? n : 1;
    if (wblock < 1) wblock = 1;
    descinit_(desc2, &ni, &ni, &ni, &wblock, &zero, &zero, &ctx2, &lld2, &info);
    if (info != 0) die(EXIT_RUNTIME, "internal: descinit (columns) failed (%d)", info);
    const int32_t w = S->bounds[me + 1] - S->bounds[me];
    double *cols = xmalloc(((size_t)n * (w > 0 ? w : 1)) * sizeof *cols); // column-major (n, w)
    int desc1[9];
    memcpy(desc1, e->desc, sizeof desc1);
    Cpdgemr2d(n, n, a, 1, 1, desc1, cols, 1, 1, desc2, e->ctxt);
    Cblacs_gridexit(ctx2);
    // B[i, j] = -P[i, j] / P[j, j], B[j, j] = 0, row-major into S
    for (int32_t c = 0; c < w; c++) {
        const int32_t j = S->bounds[me] + c;
        for (int32_t i = 0; i < n; i++)
            S->block[(size_t)i * S->wmax + c] = i == j ? 0 : -cols[i + (size_t)c * n] / diag[j];
    }
    free(cols), free(diag), free(a), free(t), free(grow), free(gcol);
}
#endif
