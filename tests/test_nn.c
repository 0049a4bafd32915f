// Tests of the nn kernels: BLAS versions against the loop versions, sparse against dense, and
// finite differences of every layer kind, the BCE loss and Adam.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nn.h"
#include "reference.h"
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

    TEST("nn: L2 value and gradient; Adam (TensorFlow form) steps by hand", {
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
        const AdamHyper h = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .reg = 0.1f};
        adam_update(&net, &h);
        int zeroed = 1;
        for (size_t i = 0; i < net.n_params; i++) zeroed &= net.grads[i] == 0;
        CHECK(zeroed, "Adam did not leave the gradient at zero");
        memcpy(net.grads, g, net.n_params * sizeof(float));
        adam_update(&net, &h); // two steps: bias correction with t = 2
        double max_err = 0;
        for (size_t i = 0; i < net.n_params; i++) {
            double wi = w0[i], m = 0, v = 0;
            for (int t = 1; t <= 2; t++) {
                double gg = g[i] + h.reg * wi;
                m = h.beta1 * m + (1 - h.beta1) * gg;
                v = h.beta2 * v + (1 - h.beta2) * gg * gg;
                double lr_t = h.lr * sqrt(1 - pow(h.beta2, t)) / (1 - pow(h.beta1, t));
                wi -= lr_t * m / (sqrt(v) + h.eps);
            }
            max_err = fmax(max_err, fabs(wi - net.params[i]));
        }
        CHECK(max_err < 1e-6, "Adam differs from the formula by %g", max_err);
        CHECK(net.step == 2, "Adam step count %lld", (long long)net.step);
        mlp_free(&net);
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
