// Tests of the nn kernels: BLAS versions against the loop versions, sparse against dense, and
// finite differences of every layer kind, the BCE loss and the optimizers.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gemm.h"
#include "nn.h"
#include "rng.h"
#include "timer.h"
#include "util.h"

static Rng g_rng;
static float frand(void) { return (float)(2 * rng_uniform(&g_rng) - 1); }
static void fill(float *a, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) a[i] = scale * frand();
}
static double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

// f = Σ c ⊙ act(X·W + b): the scalar a layer test differentiates.
static double layer_loss(const float *x, const float *w, const float *b, const float *c, int B, int IN, int OUT, Act act,
                         float *tmp) {
    dense_forward(tmp, x, w, b, B, IN, OUT);
    act_forward(tmp, (size_t)B * OUT, act);
    double s = 0;
    for (int i = 0; i < B * OUT; i++) s += (double)c[i] * tmp[i];
    return s;
}

int main(void) {
    rng_init(&g_rng, 99, RNG_INIT, 7, 7);
    enum { B = 5, IN = 7, OUT = 6 };
    float x[B * IN], w[IN * OUT], b[OUT], dy[B * OUT], y1[B * OUT], y2[B * OUT];
    fill(x, B * IN, 1);
    fill(w, IN * OUT, 0.5f);
    fill(b, OUT, 0.1f);
    fill(dy, B * OUT, 1);

    TEST("nn: dense forward/backward (sgemm) equal the loop versions", {
        dense_forward(y1, x, w, b, B, IN, OUT);
        dense_forward_ref(y2, x, w, b, B, IN, OUT);
        CHECK(max_abs_diff(y1, y2, B * OUT) < 1e-5, "forward differs by %g", max_abs_diff(y1, y2, B * OUT));
        float dx1[B * IN] = {0}, dx2[B * IN] = {0}, dw1[IN * OUT] = {0}, dw2[IN * OUT] = {0}, db1[OUT] = {0}, db2[OUT] = {0};
        // accumulate twice: backward must add, not overwrite
        for (int rep = 0; rep < 2; rep++) {
            dense_backward(dx1, dw1, db1, dy, x, w, B, IN, OUT);
            dense_backward_ref(dx2, dw2, db2, dy, x, w, B, IN, OUT);
        }
        CHECK(max_abs_diff(dx1, dx2, B * IN) < 1e-5, "dX differs");
        CHECK(max_abs_diff(dw1, dw2, IN * OUT) < 1e-5, "dW differs");
        CHECK(max_abs_diff(db1, db2, OUT) < 1e-5, "db differs");
        float once[IN * OUT] = {0};
        dense_backward(NULL, once, NULL, dy, x, w, B, IN, OUT);
        CHECK(fabs(dw1[3] - 2 * once[3]) < 1e-5, "backward does not accumulate");
    });

    TEST("nn: sparse-input layer equals the dense layer on a 0/1 matrix", {
        int64_t ptr[B + 1];
        int32_t col[B * IN];
        float xd[B * IN] = {0};
        int nnz = 0;
        ptr[0] = 0;
        for (int i = 0; i < B; i++) {
            for (int j = 0; j < IN; j++)
                if (rng_uniform(&g_rng) < 0.4) col[nnz++] = j, xd[i * IN + j] = 1;
            ptr[i + 1] = nnz;
        }
        SparseBatch sb = {B, ptr, col};
        sparse_forward(y1, &sb, w, b, OUT, 0);
        dense_forward_ref(y2, xd, w, b, B, IN, OUT);
        CHECK(max_abs_diff(y1, y2, B * OUT) < 1e-5, "sparse forward differs by %g", max_abs_diff(y1, y2, B * OUT));
        sparse_forward(y1, &sb, w, NULL, OUT, 1); // accumulate once more: y1 = b + 2·X·W
        for (int i = 0; i < B * OUT; i++) y2[i] = 2 * y2[i] - b[i % OUT];
        CHECK(max_abs_diff(y1, y2, B * OUT) < 1e-5, "sparse accumulate differs");
        float dw1[IN * OUT] = {0}, dw2[IN * OUT] = {0};
        sparse_backward_w(dw1, dy, &sb, OUT);
        dense_backward_ref(NULL, dw2, NULL, dy, xd, w, B, IN, OUT);
        CHECK(max_abs_diff(dw1, dw2, IN * OUT) < 1e-5, "sparse dW differs");
    });

    TEST("nn: tiled sparse kernels give the bits of the row-by-row loops (150 columns: two tiles and a tail)", {
        enum { SB = 9, SIN = 300, SOUT = 150 };
        static float sw[SIN * SOUT], sbias[SOUT], sdy[SB * SOUT], ya[SB * SOUT], yb[SB * SOUT], dwa[SIN * SOUT],
            dwb[SIN * SOUT];
        static int32_t scol[SB * SIN];
        int64_t sptr[SB + 1];
        fill(sw, SIN * SOUT, 1);
        fill(sbias, SOUT, 1);
        fill(sdy, SB * SOUT, 1);
        fill(dwa, SIN * SOUT, 1);
        memcpy(dwb, dwa, sizeof dwa);
        int nnz = 0;
        sptr[0] = 0;
        for (int i = 0; i < SB; i++) { // row 4 stays empty
            for (int j = 0; j < SIN && i != 4; j++)
                if (rng_uniform(&g_rng) < 0.1) scol[nnz++] = j;
            sptr[i + 1] = nnz;
        }
        SparseBatch sb = {SB, sptr, scol};
        sparse_forward(ya, &sb, sw, sbias, SOUT, 0);
        sparse_forward_ref(yb, &sb, sw, sbias, SOUT, 0);
        CHECK(memcmp(ya, yb, sizeof ya) == 0, "tiled forward differs from the loop by %g", max_abs_diff(ya, yb, SB * SOUT));
        sparse_forward(ya, &sb, sw, NULL, SOUT, 1);
        sparse_forward_ref(yb, &sb, sw, NULL, SOUT, 1);
        CHECK(memcmp(ya, yb, sizeof ya) == 0, "tiled accumulate differs from the loop");
        sparse_backward_w(dwa, sdy, &sb, SOUT);
        sparse_backward_w_ref(dwb, sdy, &sb, SOUT);
        CHECK(memcmp(dwa, dwb, sizeof dwa) == 0, "tiled dW differs from the loop by %g",
              max_abs_diff(dwa, dwb, SIN * SOUT));
        CHECK(max_abs_diff(ya, yb, SB * SOUT) == 0 && ya[4 * SOUT + 7] == sbias[7], "empty row lost its bias");
    });

    static const Act acts[] = {ACT_LINEAR, ACT_SIGMOID, ACT_TANH, ACT_RELU};
    static const char *names[] = {"linear", "sigmoid", "tanh", "relu"};
    for (int a = 0; a < 4; a++) {
        char name[96];
        snprintf(name, sizeof name, "nn: finite differences of a dense layer with %s activation", names[a]);
        TEST(name, {
            float c[B * OUT], tmp[B * OUT], pre[B * OUT];
            fill(c, B * OUT, 1);
            // analytic: dpre = c ⊙ act'(y); dW = Xᵀ·dpre, db = Σ dpre, dX = dpre·Wᵀ
            dense_forward(tmp, x, w, b, B, IN, OUT);
            memcpy(pre, tmp, sizeof pre);
            act_forward(tmp, B * OUT, acts[a]);
            float d[B * OUT];
            memcpy(d, c, sizeof d);
            act_backward(d, tmp, B * OUT, acts[a]);
            float dx[B * IN] = {0}, dw[IN * OUT] = {0}, db[OUT] = {0};
            dense_backward(dx, dw, db, d, x, w, B, IN, OUT);
            double gnorm = 0;
            for (int i = 0; i < IN * OUT; i++) gnorm += fabs(dw[i]);
            CHECK(gnorm > 1e-3, "all-zero weight gradient");
            const float eps = 1e-2f;
            float *bufs[3] = {w, b, x};
            float *grads[3] = {dw, db, dx};
            int sizes[3] = {IN * OUT, OUT, B * IN};
            int checked = 0, total = 0;
            for (int k = 0; k < 3; k++)
                for (int i = 0; i < sizes[k]; i++) {
                    float keep = bufs[k][i];
                    bufs[k][i] = keep + eps;
                    double fp = layer_loss(x, w, b, c, B, IN, OUT, acts[a], tmp);
                    bufs[k][i] = keep - eps;
                    double fm = layer_loss(x, w, b, c, B, IN, OUT, acts[a], tmp);
                    bufs[k][i] = keep;
                    double fd = (fp - fm) / (2 * eps);
                    // ReLU is not differentiable at 0: skip entries whose perturbation moves a
                    // pre-activation across it (|Δpre| <= eps since |x| <= 1 and |w| <= 0.5)
                    total++;
                    int near_kink = 0;
                    if (acts[a] == ACT_RELU)
                        for (int t = 0; t < B * OUT; t++) {
                            int row = t / OUT, o = t % OUT;
                            int affected = k == 0 ? o == i % OUT : k == 1 ? o == i : row == i / IN;
                            near_kink |= affected && fabsf(pre[t]) <= eps;
                        }
                    if (near_kink) continue;
                    checked++;
                    CHECK(fabs(fd - grads[k][i]) <= 2e-3 + 2e-2 * fabs(fd), "%s param %d of buffer %d: fd %.6f analytic %.6f",
                          names[a], i, k, fd, grads[k][i]);
                }
            CHECK(checked >= total * 8 / 10, "only %d of %d entries were away from the ReLU kink", checked, total);
        });
    }

    TEST("nn: the vectorised exp is within 2 ulp of expf, the sigmoid within 2 ulp of the stable form", {
        double worst_ulp = 0, worst_sig = 0;
        for (int i = 0; i <= 200000; i++) {
            float xi = -87.0f + 175.0f * (float)i / 200000.0f;
            float ea = exp_approx(xi), eb = expf(xi);
            double ulp = fabs((double)ea - eb) / (nextafterf(eb, INFINITY) - eb);
            if (ulp > worst_ulp) worst_ulp = ulp;
            float y = xi / 4; // sigmoid inputs of hidden layers
            float s = y;
            act_forward(&s, 1, ACT_SIGMOID);
            double e = fabs((double)s - sigmoidf_stable(y));
            if (e > worst_sig) worst_sig = e;
        }
        CHECK(worst_ulp <= 2, "exp_approx is %.2f ulp from expf", worst_ulp);
        CHECK(worst_sig <= 2.4e-7, "sigmoid differs by %g (2 ulp near 1 is 2.4e-7)", worst_sig);
    });

    TEST("nn: BCE with logits is stable and its gradient matches finite differences", {
        float logit[6] = {-80, -3, -0.2f, 0, 2.5f, 90}, dl[6] = {0};
        for (int label = 0; label <= 1; label++) {
            memset(dl, 0, sizeof dl);
            double loss = bce_logits(dl, logit, (float)label, 6, 0.5f);
            CHECK(isfinite(loss), "loss not finite");
            for (int i = 0; i < 6; i++) {
                float keep = logit[i];
                logit[i] = keep + 1e-2f;
                double fp = bce_logits(NULL, logit, (float)label, 6, 0.5f);
                logit[i] = keep - 1e-2f;
                double fm = bce_logits(NULL, logit, (float)label, 6, 0.5f);
                logit[i] = keep;
                CHECK(fabs((fp - fm) / 2e-2 - dl[i]) < 1e-3, "logit %g label %d: fd %g analytic %g", keep, label,
                      (fp - fm) / 2e-2, dl[i]);
            }
        }
        float big[1] = {90};
        CHECK(fabs(bce_logits(NULL, big, 0, 1, 1) - 90) < 1e-3, "bce(90, 0) should be 90");
        CHECK(bce_logits(NULL, big, 1, 1, 1) < 1e-30 + 1e-38, "bce(90, 1) should be ~0");
    });

    TEST("nn: L2 value and gradient; Adam (TensorFlow form) and SGD steps by hand", {
        int dims[3] = {3, 4, 2};
        Act ac[2] = {ACT_SIGMOID, ACT_LINEAR};
        Mlp net;
        mlp_init(&net, 2, dims, ac);
        mlp_init_reference(&net, 5, 0);
        CHECK(net.n_params == 3 * 4 + 4 + 4 * 2 + 2, "param count %zu", net.n_params);
        double lim = sqrt(6.0 / 7.0), wmax = 0, bmax = 0;
        for (int i = 0; i < 12; i++) wmax = fmax(wmax, fabs(mlp_w(&net, 0)[i]));
        for (int i = 0; i < 4; i++) bmax = fmax(bmax, fabs(mlp_b(&net, 0)[i]));
        CHECK(wmax <= lim && wmax > 0.5 * lim, "init range of W0: max %g, limit %g", wmax, lim);
        CHECK(bmax <= 0.01 && bmax > 0, "init range of b0: max %g", bmax);
        double l2 = 0;
        for (size_t i = 0; i < net.n_params; i++) l2 += 0.5 * net.params[i] * net.params[i];
        CHECK_CLOSE(l2_half(net.params, net.n_params), l2, 1e-9, "l2_half");
        float w0[64], g[64];
        memcpy(w0, net.params, net.n_params * sizeof(float));
        for (size_t i = 0; i < net.n_params; i++) g[i] = net.grads[i] = frand();
        const float lr = 0.01f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, reg = 0.1f;
        adam_update(&net, lr, b1, b2, eps, reg);
        int zeroed = 1;
        for (size_t i = 0; i < net.n_params; i++) zeroed &= net.grads[i] == 0;
        CHECK(zeroed, "Adam did not leave the gradient at zero");
        memcpy(net.grads, g, net.n_params * sizeof(float));
        adam_update(&net, lr, b1, b2, eps, reg); // two steps: bias correction with t = 2
        double max_err = 0;
        for (size_t i = 0; i < net.n_params; i++) {
            double wi = w0[i], m = 0, v = 0;
            for (int t = 1; t <= 2; t++) {
                double gg = g[i] + reg * wi;
                m = b1 * m + (1 - b1) * gg;
                v = b2 * v + (1 - b2) * gg * gg;
                double lr_t = lr * sqrt(1 - pow(b2, t)) / (1 - pow(b1, t));
                wi -= lr_t * m / (sqrt(v) + eps);
            }
            max_err = fmax(max_err, fabs(wi - net.params[i]));
        }
        CHECK(max_err < 1e-6, "Adam differs from the formula by %g", max_err);
        CHECK(net.step == 2, "Adam step count %lld", (long long)net.step);
        memcpy(net.params, w0, net.n_params * sizeof(float));
        memcpy(net.grads, g, net.n_params * sizeof(float));
        sgd_update(&net, lr, reg);
        CHECK(net.grads[5] == 0, "SGD did not leave the gradient at zero");
        CHECK_CLOSE(net.params[5], w0[5] - lr * (g[5] + reg * w0[5]), 1e-7, "SGD step");
        float gr[64] = {0};
        l2_grad(gr, w0, net.n_params, reg);
        CHECK_CLOSE(gr[7], reg * w0[7], 1e-9, "l2_grad");
        mlp_free(&net);
    });
    TEST("nn: Adam with weight gradients from their factors equals the buffered path (own kernels: bit for bit; OpenBLAS: dense to 1e-6)", {
        for (int config = 0; config < 2; config++) {
            // a sparse-input layer (30 -> 70: a full 64-column tile and a tail) and a dense one (70 -> 900:
            // several column bands); parts of 600 rows (OpenBLAS, more than one of its K blocks) or 40
            // rows (the own kernel on AVX-512), 0 and 3 rows
            enum { NP = 3, IN0 = 30, H = 70, NOUT = 900 };
            int dims[3] = {IN0, H, NOUT};
            Act ac[2] = {ACT_SIGMOID, ACT_LINEAR};
            Mlp fa, fb;
            mlp_init(&fa, 2, dims, ac);
            mlp_init(&fb, 2, dims, ac);
            mlp_init_reference(&fa, 9, 0);
            const int Bs[NP] = {config ? 40 : 600, 0, 3};
            const int exact = gemm_is_own('w', 1, 1, Bs[0]) && gemm_is_own('w', 1, 1, Bs[2]);
            float *in[NP], *d0[NP], *d1[NP];
            int64_t *ptr[NP];
            int32_t *col[NP];
            SparseBatch xs[NP];
            const float *ins[NP], *douts0[NP], *douts1[NP];
            float *parts[NP], *zeros[NP];
            int64_t nnz_all = 0;
            for (int r = 0; r < NP; r++) {
                in[r] = malloc((size_t)(Bs[r] + 1) * H * sizeof(float));
                d0[r] = malloc((size_t)(Bs[r] + 1) * H * sizeof(float));
                d1[r] = malloc((size_t)(Bs[r] + 1) * NOUT * sizeof(float));
                ptr[r] = malloc((size_t)(Bs[r] + 1) * sizeof(int64_t));
                col[r] = malloc((size_t)(Bs[r] + 1) * IN0 * sizeof(int32_t));
            }
            for (int step = 0; step < 3; step++) {
                for (int r = 0; r < NP; r++) {
                    ptr[r][0] = 0;
                    for (int i = 0; i < Bs[r]; i++) {
                        int64_t pos = ptr[r][i];
                        for (int c = 0; c < IN0; c++)
                            if (frand() < 0.3) col[r][pos++] = c; // sorted columns, some rows empty
                        ptr[r][i + 1] = pos;
                    }
                    nnz_all += ptr[r][Bs[r]];
                    for (int i = 0; i < Bs[r] * H; i++) in[r][i] = frand() - 0.5f, d0[r][i] = frand() - 0.5f;
                    for (int i = 0; i < Bs[r] * NOUT; i++) d1[r][i] = frand() - 0.5f;
                    xs[r] = (SparseBatch){Bs[r], ptr[r], col[r]};
                    ins[r] = in[r], douts0[r] = d0[r], douts1[r] = d1[r];
                }
                // the buffered path: every part's gradient from zero, summed in part order inside Adam
                if (step == 0) {
                    memcpy(fb.params, fa.params, fa.n_params * sizeof(float));
                    memset(fb.m, 0, fa.n_params * sizeof(float)), memset(fb.v, 0, fa.n_params * sizeof(float));
                    fb.step = fa.step;
                }
                for (int r = 0; r < NP; r++) {
                    parts[r] = calloc(fa.n_params, sizeof(float));
                    sparse_backward_w(parts[r] + fa.w_off[0], d0[r], &xs[r], H);
                    if (Bs[r]) dense_backward(NULL, parts[r] + fa.w_off[1], NULL, d1[r], in[r], NULL, Bs[r], H, NOUT);
                }
                adam_update_summed(&fb, 0, fb.n_params, parts, NP, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f);
                for (int r = 0; r < NP; r++) free(parts[r]);
                // factored: row ranges that split each matrix unevenly, biases from (zero) buffers
                for (int r = 0; r < NP; r++) zeros[r] = calloc(fa.n_params, sizeof(float));
                const float lr_t = adam_step_rate(&fa, 1e-2f, 0.9f, 0.999f);
                LayerFactors f0 = {.n_parts = NP, .B = Bs, .x = xs, .dout = douts0},
                             f1 = {.n_parts = NP, .B = Bs, .in = ins, .dout = douts1};
                int32_t *scratch = malloc(((size_t)NP * (IN0 + 1) + (size_t)(Bs[0] + Bs[2]) * IN0) * sizeof(int32_t));
                adam_rows_factored(&fa, 0, 0, 11, &f0, scratch, lr_t, 0.9f, 0.999f, 1e-8f, 0.01f);
                adam_rows_factored(&fa, 0, 11, IN0, &f0, scratch, lr_t, 0.9f, 0.999f, 1e-8f, 0.01f);
                adam_rows_factored(&fa, 1, 0, 7, &f1, scratch, lr_t, 0.9f, 0.999f, 1e-8f, 0.01f);
                adam_rows_factored(&fa, 1, 7, H, &f1, scratch, lr_t, 0.9f, 0.999f, 1e-8f, 0.01f);
                adam_range_summed(&fa, fa.b_off[0], fa.b_off[0] + H, zeros, NP, lr_t, 0.9f, 0.999f, 1e-8f, 0.01f);
                adam_range_summed(&fa, fa.b_off[1], fa.b_off[1] + NOUT, zeros, NP, lr_t, 0.9f, 0.999f, 1e-8f, 0.01f);
                for (int r = 0; r < NP; r++) free(zeros[r]);
                free(scratch);
            }
            // the sparse layer: our own sums in the buffered path's order
            const size_t n0 = fa.w_off[1];
            CHECK(memcmp(fa.params, fb.params, n0 * sizeof(float)) == 0 && memcmp(fa.m, fb.m, n0 * sizeof(float)) == 0 &&
                      memcmp(fa.v, fb.v, n0 * sizeof(float)) == 0,
                  "sparse layer: parameters or moments differ");
            // the dense layer and the biases: with the own kernel each part is summed from zero and then
            // added, as the buffered path does; sgemm's last bit may differ between a band and the whole
            CHECK(!exact || (memcmp(fa.params, fb.params, fa.n_params * sizeof(float)) == 0 &&
                             memcmp(fa.m, fb.m, fa.n_params * sizeof(float)) == 0 &&
                             memcmp(fa.v, fb.v, fa.n_params * sizeof(float)) == 0),
                  "parts of %d rows (own kernel): parameters or moments differ", Bs[0]);
            double dw = 0, dm = 0, wmax = 0, mmax = 0;
            for (size_t i = n0; i < fa.n_params; i++) {
                dw = fmax(dw, fabs(fa.params[i] - fb.params[i])), wmax = fmax(wmax, fabs(fb.params[i]));
                dm = fmax(dm, fabs(fa.m[i] - fb.m[i])), mmax = fmax(mmax, fabs(fb.m[i]));
            }
            CHECK(dw <= 1e-6 * wmax && dm <= 1e-6 * mmax, "dense layer: parameters differ by %g (of %g), moments by %g (of %g)",
                  dw, wmax, dm, mmax);
            CHECK(fa.step == 3 && fb.step == 3, "steps %lld / %lld", (long long)fa.step, (long long)fb.step);
            CHECK(fa.n_block / 2 / (size_t)(H - 7) < NOUT, "the dense layer fits one band: the test misses the band loop");
            double moved = 0;
            for (size_t i = 0; i < fa.w_off[1]; i++) moved += fabs(fa.m[i]);
            CHECK(moved > 0 && nnz_all > 0, "the sparse layer's moments never moved");
            for (int r = 0; r < NP; r++) free(in[r]), free(d0[r]), free(d1[r]), free(ptr[r]), free(col[r]);
            mlp_free(&fa);
            mlp_free(&fb);
        }
    });
    TEST("nn: a rank's slice of hidden units (run.split_hidden): forward and Adam on the slice equal the whole layer's there", {
        // G = 30 -> 150 -> 200; slices of 38 hidden units (under one 64-column tile) and 110 (a tile
        // and the shifted last tile); two parts of 5 and 3 rows
        enum { NP = 2, IN0 = 30, H = 150, NOUT = 200, MAXB = 5 };
        const int los[2] = {13, 40}, his[2] = {51, 150}, Bs[NP] = {5, 3};
        for (int sl = 0; sl < 2; sl++) {
            const int lo = los[sl], hi = his[sl], hw = hi - lo;
            int dims[3] = {IN0, H, NOUT};
            Act ac[2] = {ACT_SIGMOID, ACT_LINEAR};
            Mlp fa, fb;
            mlp_init(&fa, 2, dims, ac), mlp_init(&fb, 2, dims, ac);
            mlp_init_reference(&fa, 4, 0);
            memcpy(fb.params, fa.params, fa.n_params * sizeof(float));
            float *w0 = malloc(fa.n_params * sizeof(float));
            memcpy(w0, fa.params, fa.n_params * sizeof(float));
            float in[NP][MAXB * H], d0[NP][MAXB * H], d1[NP][MAXB * NOUT], ins_s[NP][MAXB * H], d0_s[NP][MAXB * H];
            int64_t ptr[NP][MAXB + 1];
            int32_t col[NP][MAXB * IN0];
            SparseBatch xs[NP];
            const float *ins[NP], *d0p[NP], *d1p[NP], *ins_sp[NP], *d0_sp[NP];
            int exact = 1;
            for (int r = 0; r < NP; r++) {
                ptr[r][0] = 0;
                for (int i = 0; i < Bs[r]; i++) {
                    int64_t pos = ptr[r][i];
                    for (int c = 0; c < IN0; c++)
                        if (frand() < 0.3) col[r][pos++] = c;
                    ptr[r][i + 1] = pos;
                }
                for (int i = 0; i < Bs[r] * H; i++) in[r][i] = frand() - 0.5f, d0[r][i] = frand() - 0.5f;
                for (int i = 0; i < Bs[r] * NOUT; i++) d1[r][i] = frand() - 0.5f;
                for (int i = 0; i < Bs[r]; i++)
                    for (int j = 0; j < hw; j++)
                        ins_s[r][i * hw + j] = in[r][i * H + lo + j], d0_s[r][i * hw + j] = d0[r][i * H + lo + j];
                xs[r] = (SparseBatch){Bs[r], ptr[r], col[r]};
                ins[r] = in[r], d0p[r] = d0[r], d1p[r] = d1[r], ins_sp[r] = ins_s[r], d0_sp[r] = d0_s[r];
                exact &= gemm_is_own('w', 1, 1, Bs[r]);
            }
            // the forward on the slice equals the whole layer's columns, bit for bit
            float yf[MAXB * H], ys[MAXB * H];
            sparse_forward(yf, &xs[0], mlp_w(&fa, 0), mlp_b(&fa, 0), H, 0);
            sparse_forward_ld(ys, &xs[0], mlp_w(&fa, 0) + lo, H, mlp_b(&fa, 0) + lo, hw, 0);
            int fwd_same = 1;
            for (int i = 0; i < Bs[0]; i++) fwd_same &= memcmp(yf + i * H + lo, ys + i * hw, (size_t)hw * sizeof(float)) == 0;
            CHECK(fwd_same, "slice [%d, %d): the sliced forward differs", lo, hi);
            // whole layers (every row of W0, rows [lo, hi) of W1) against the slices
            int32_t scratch[NP * (IN0 + 1) + NP * MAXB * IN0];
            float lr_t = adam_step_rate(&fa, 1e-2f, 0.9f, 0.999f);
            LayerFactors f0 = {.n_parts = NP, .B = Bs, .x = xs, .dout = d0p},
                         f1 = {.n_parts = NP, .B = Bs, .in = ins, .dout = d1p};
            adam_rows_factored(&fa, 0, 0, IN0, &f0, scratch, lr_t, 0.9f, 0.999f, 1e-8f, 0.01f);
            adam_rows_factored(&fa, 1, lo, hi, &f1, scratch, lr_t, 0.9f, 0.999f, 1e-8f, 0.01f);
            lr_t = adam_step_rate(&fb, 1e-2f, 0.9f, 0.999f);
            LayerFactors s0 = {.n_parts = NP, .B = Bs, .x = xs, .dout = d0_sp, .col_lo = lo, .col_hi = hi, .ld_dout = hw},
                         s1 = {.n_parts = NP, .B = Bs, .in = ins_sp, .dout = d1p, .ld_in = hw, .k_base = lo};
            adam_rows_factored(&fb, 0, 0, IN0, &s0, scratch, lr_t, 0.9f, 0.999f, 1e-8f, 0.01f);
            adam_rows_factored(&fb, 1, lo, hi, &s1, scratch, lr_t, 0.9f, 0.999f, 1e-8f, 0.01f);
            int w0_same = 1, w0_rest = 1, moved = 0;
            for (int k = 0; k < IN0; k++)
                for (int j = 0; j < H; j++) {
                    const size_t i = fa.w_off[0] + (size_t)k * H + (size_t)j;
                    if (j >= lo && j < hi) w0_same &= fa.params[i] == fb.params[i] && fa.m[i] == fb.m[i] && fa.v[i] == fb.v[i];
                    else w0_rest &= fb.params[i] == w0[i] && fb.m[i] == 0;
                    moved |= j >= lo && j < hi && fb.params[i] != w0[i];
                }
            CHECK(w0_same && moved, "slice [%d, %d): W0's columns differ from the whole layer's (or never moved)", lo, hi);
            CHECK(w0_rest, "slice [%d, %d): W0's other columns changed", lo, hi);
            const size_t o1 = fa.w_off[1] + (size_t)lo * NOUT, n1 = (size_t)hw * NOUT;
            double dw = 0, wmax = 0;
            for (size_t i = o1; i < o1 + n1; i++)
                dw = fmax(dw, fabs(fa.params[i] - fb.params[i])), wmax = fmax(wmax, fabs(fa.params[i]));
            CHECK(exact ? memcmp(fa.params + o1, fb.params + o1, n1 * sizeof(float)) == 0 &&
                              memcmp(fa.v + o1, fb.v + o1, n1 * sizeof(float)) == 0
                        : dw <= 1e-6 * wmax,
                  "slice [%d, %d): W1's rows differ by %g (of %g; own kernel: %d)", lo, hi, dw, wmax, exact);
            free(w0);
            mlp_free(&fa), mlp_free(&fb);
        }
    });
#ifndef NTIMING
    TEST("timer: a nested phase pauses the enclosing one (phases add up to the total)", {
        timer_reset();
        timer_start(T_TOTAL);
        timer_start(T_EVAL);
        double t0 = wall_seconds();
        while (wall_seconds() - t0 < 0.02) {}
        timer_start(T_SCORE);
        t0 = wall_seconds();
        while (wall_seconds() - t0 < 0.05) {}
        timer_stop(T_SCORE);
        t0 = wall_seconds();
        while (wall_seconds() - t0 < 0.02) {}
        timer_stop(T_EVAL);
        timer_stop(T_TOTAL);
        const double ev = timer_seconds(T_EVAL), sc = timer_seconds(T_SCORE), tot = timer_seconds(T_TOTAL);
        CHECK(sc >= 0.05 && sc < 0.07, "inner phase %.3f s, expected ~0.05", sc);
        CHECK(ev >= 0.04 && ev < 0.06, "outer phase %.3f s, expected ~0.04 (the inner time left out)", ev);
        CHECK(fabs(ev + sc - tot) < 0.002, "phases %.4f + %.4f != total %.4f", ev, sc, tot);
        timer_reset();
    });
    TEST("timer: the GEMM shape table counts every call, and calls past its capacity are reported", {
        timer_reset();
        // the same sizes in another phase and transposed are other shapes
        timer_start(T_D_BWD);
        for (int m = 1; m <= 10; m++) timer_gemm(m, 7, 9, 0, 1), timer_gemm(m, 7, 9, 0, 1), timer_gemm(m, 7, 9, 0, 0);
        timer_stop(T_D_BWD);
        timer_start(T_G_FWD);
        for (int rep = 0; rep < 2; rep++)
            for (int m = 1; m <= 5000; m++) timer_gemm(m, 7, 9, 0, 0);
        timer_stop(T_G_FWD);
        const GemmShape *g;
        int n = timer_gemm_shapes(&g);
        long long calls = 0;
        int ok_shapes = 1, d_shapes = 0;
        for (int i = 0; i < n; i++) {
            calls += g[i].calls;
            const int is_d = g[i].phase == T_D_BWD;
            d_shapes += is_d;
            ok_shapes &= (is_d || g[i].phase == T_G_FWD) && g[i].n == 7 && g[i].k == 9 &&
                         g[i].calls == (is_d ? (g[i].tb ? 2 : 1) : 2) && (is_d || !g[i].tb);
        }
        CHECK(ok_shapes, "a shape has the wrong phase, size or count");
        CHECK(d_shapes == 20, "%d D backward shapes recorded, expected 20", d_shapes);
        CHECK(n == 4096, "%d shapes recorded", n);
        CHECK(calls + timer_gemm_lost_calls() == 10030, "%lld calls recorded + %lld lost != 10030", calls,
              timer_gemm_lost_calls());
        CHECK(timer_gemm_lost_calls() > 0, "no call reported lost past the capacity");
        timer_reset();
        CHECK(timer_gemm_shapes(&g) == 0 && timer_gemm_lost_calls() == 0, "timer_reset left shapes behind");
    });
#endif
    return check_summary();
}
