// Tests of the CFGAN model: finite-difference checks of the whole D and G losses for every
// scheme (ZR, PM, ZP), both modes (user and item rows), several activations and depths; the
// negative sampler's exact sizes and independence from batch composition; D learns.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "csr_test.h"
#include "data.h"
#include "model.h"
#include "reference.h"
#include "rng.h"
#include "util.h"

// A random user x item 0/1 matrix with every row non-empty.
static void random_matrix(Csr *out, int n_users, int n_items, double density, uint64_t seed) {
    int32_t *r = malloc(sizeof(int32_t) * n_users * n_items), *c = malloc(sizeof(int32_t) * n_users * n_items);
    int64_t n = 0;
    Rng rng;
    rng_init(&rng, seed, RNG_SYNTH, 9, 9);
    for (int u = 0; u < n_users; u++)
        for (int i = 0; i < n_items; i++)
            if (rng_uniform(&rng) < density || i == (u * 7) % n_items) r[n] = u, c[n] = i, n++;
    csr_from_pairs(out, n_users, n_items, r, c, n, NULL);
    free(r);
    free(c);
}

static Batch batch_of(const Csr *rows, int32_t *ids, int B, uint32_t outer) {
    static int64_t ptr[64];
    static int32_t col[4096];
    int64_t w = 0;
    ptr[0] = 0;
    for (int i = 0; i < B; i++) {
        for (int64_t k = rows->row_ptr[ids[i]]; k < rows->row_ptr[ids[i] + 1]; k++) col[w++] = rows->col[k];
        ptr[i + 1] = w;
    }
    return (Batch){B, ids, ptr, col, outer, NULL};
}

// The finite-difference cases' set-up: a model of cfg over rows, weights from weight_seed, and a
// batch of six fixed rows with their negative sets drawn.
static Batch fd_case(Cfgan *m, const Config *cfg, const Csr *rows, uint64_t weight_seed) {
    static int32_t ids[6] = {3, 0, 7, 5, 9, 1};
    cfgan_init(m, cfg, rows->n_cols, 6);
    cfgan_init_weights(m, weight_seed);
    Batch b = batch_of(rows, ids, 6, 2);
    cfgan_sample_masks(m, &b, 5, 1);
    return b;
}

static double d_loss(Cfgan *m, const Batch *b, float scale) {
    StepStats st = {0};
    memset(m->d.grads, 0, m->d.n_params * sizeof(float));
    cfgan_d_step(m, b, NULL, scale, &st);
    return st.d_real + st.d_fake;
}

static double g_loss(Cfgan *m, const Batch *b, float scale) {
    StepStats st = {0};
    memset(m->g.grads, 0, m->g.n_params * sizeof(float));
    cfgan_g_step(m, b, scale, &st);
    return st.g_adv + st.g_zr;
}

// Finite differences of loss(net params) against the analytic gradient: every layer's W and b
// sampled, plus a random directional derivative. Returns the number of failures.
static void fd_check(Cfgan *m, Mlp *net, double (*loss)(Cfgan *, const Batch *, float), const Batch *b, float scale,
                     const char *what) {
    loss(m, b, scale);
    float *grad = malloc(net->n_params * sizeof(float));
    memcpy(grad, net->grads, net->n_params * sizeof(float));
    const float eps = 1e-2f;
    Rng rng;
    rng_init(&rng, 3, RNG_INIT, 3, 3);
    for (int l = 0; l < net->n_layers; l++) {
        size_t nw = (size_t)net->dims[l] * net->dims[l + 1];
        double layer_norm = 0;
        for (size_t i = 0; i < nw; i++) layer_norm += fabs(grad[net->w_off[l] + i]);
        CHECK(layer_norm > 1e-6, "%s: all-zero gradient of W%d", what, l);
        for (int s = 0; s < 12; s++) {
            size_t i = s < 10 ? net->w_off[l] + rng_below(&rng, (uint32_t)nw) : net->b_off[l] + rng_below(&rng, (uint32_t)net->dims[l + 1]);
            float keep = net->params[i];
            net->params[i] = keep + eps;
            double fp = loss(m, b, scale);
            net->params[i] = keep - eps;
            double fm = loss(m, b, scale);
            net->params[i] = keep;
            double fd = (fp - fm) / (2 * eps);
            CHECK(fabs(fd - grad[i]) <= 1e-4 + 2e-2 * fabs(fd), "%s: layer %d param %zu: fd %.7f analytic %.7f", what, l,
                  i, fd, grad[i]);
        }
    }
    // directional derivative along a random unit-scale direction of all parameters
    float *v = malloc(net->n_params * sizeof(float)), *p0 = malloc(net->n_params * sizeof(float));
    memcpy(p0, net->params, net->n_params * sizeof(float));
    double gv = 0;
    for (size_t i = 0; i < net->n_params; i++) v[i] = (float)(2 * rng_uniform(&rng) - 1), gv += (double)v[i] * grad[i];
    const float h = 1e-3f;
    for (size_t i = 0; i < net->n_params; i++) net->params[i] = p0[i] + h * v[i];
    double fp = loss(m, b, scale);
    for (size_t i = 0; i < net->n_params; i++) net->params[i] = p0[i] - h * v[i];
    double fm = loss(m, b, scale);
    memcpy(net->params, p0, net->n_params * sizeof(float));
    double fd = (fp - fm) / (2 * h);
    CHECK(fabs(fd - gv) <= 1e-3 + 3e-2 * fabs(gv), "%s: directional derivative fd %.6f analytic %.6f", what, fd, gv);
    free(v);
    free(p0);
    free(grad);
}

int main(void) {
    Csr ui;
    random_matrix(&ui, 14, 11, 0.3, 1);
    static const char *schemes[] = {"ZR", "PM", "ZP"};
    static const char *acts[] = {"sigmoid", "tanh", "relu"};
    for (int mode = 0; mode < 2; mode++)
        for (int sc = 0; sc < 3; sc++)
            for (int a = 0; a < 2; a++)
                for (int gout = 0; gout < 2; gout++) {
                    if (a == 1 && gout == 1) continue;
                    char name[160];
                    snprintf(name, sizeof name, "model: finite differences of the D and G losses, %s mode, %s, %s hidden, %s output",
                             mode ? "item" : "user", schemes[sc], acts[a], gout ? "sigmoid" : "linear");
                    TEST(name, {
                        Config cfg;
                        config_init(&cfg);
                        cfg.model_scheme = sc;
                        cfg.model_activation = a;
                        cfg.model_g_output = gout;
                        cfg.n_g_hidden = 2, cfg.g_hidden[0] = 6, cfg.g_hidden[1] = 5;
                        cfg.n_d_hidden = 2, cfg.d_hidden[0] = 5, cfg.d_hidden[1] = 4;
                        cfg.zr_ratio = 0.5, cfg.pm_ratio = 0.4, cfg.zr_coef = 0.2;
                        Csr rows;
                        if (mode) csr_transpose(&rows, &ui);
                        else rows = ui;
                        Cfgan m;
                        Batch b = fd_case(&m, &cfg, &rows, 11);
                        const float scale = 1.0f / 8; // as if 2 more rows of the batch lived on another rank
                        fd_check(&m, &m.d, d_loss, &b, scale, "D loss");
                        fd_check(&m, &m.g, g_loss, &b, scale, "G loss");
                        cfgan_free(&m);
                        if (mode) csr_free(&rows);
                        config_free(&cfg);
                    });
                }

    for (int sc = 0; sc < 3; sc += 2) {
        char name[160];
        snprintf(name, sizeof name, "model: finite differences of G's reconstruction loss without D (model.adversarial "
                 "false), %s", schemes[sc]);
        TEST(name, {
            Config cfg;
            config_init(&cfg);
            cfg.model_scheme = sc, cfg.adversarial = 0;
            cfg.n_g_hidden = 1, cfg.g_hidden[0] = 6, cfg.n_d_hidden = 1, cfg.d_hidden[0] = 4;
            cfg.zr_ratio = 0.5, cfg.pm_ratio = 0.4, cfg.zr_coef = 0.2;
            Cfgan m;
            Batch b = fd_case(&m, &cfg, &ui, 12);
            fd_check(&m, &m.g, g_loss, &b, 1.0f / 8, "G loss");
            // the loss is the reconstruction of the observed columns plus the ZR term; D gives no verdict
            // (that D is never trained either is checked on a run, in tests/cli/train.sh)
            StepStats st = {0};
            memset(m.g.grads, 0, m.g.n_params * sizeof(float));
            cfgan_g_step(&m, &b, 1.0f / 8, &st);
            const float *y = m.g_h[m.g.n_layers - 1];
            double rec = 0;
            for (int i = 0; i < 6; i++)
                for (int64_t q = b.ptr[i]; q < b.ptr[i + 1]; q++) {
                    const double yj = y[(size_t)i * ui.n_cols + (size_t)b.col[q]];
                    rec += (1 - yj) * (1 - yj) / 8;
                }
            CHECK_CLOSE(st.g_adv, rec, 1e-9 + 1e-6 * rec, "reconstruction term");
            CHECK(st.p_fake == 0, "D's verdict was computed");
            cfgan_free(&m);
            config_free(&cfg);
        });
    }
    TEST("model: negative sets have the exact size, avoid positives and depend only on (seed, outer, row)", {
        int n = 200, pos[] = {3, 17, 18, 150, 199};
        float mask[200], mask2[200];
        uint64_t bits[8]; // n/64 + 2 words
        double ratios[] = {0.0, 0.1, 0.4, 0.5, 0.7, 0.9, 1.0};
        for (int k = 0; k < 7; k++)
            for (int inc = 0; inc < 2; inc++) {
                Rng rng;
                rng_init(&rng, 1, RNG_PM, 0, 42);
                sample_unobserved(mask, pos, 5, n, ratios[k], inc, &rng, bits);
                int on = 0, on_pos = 0;
                for (int j = 0; j < n; j++) on += mask[j] == 1;
                for (int t = 0; t < 5; t++) on_pos += mask[pos[t]] == 1;
                int expect = (int)floor(195 * ratios[k]);
                CHECK(on - on_pos == expect, "ratio %g: %d negatives, expected %d", ratios[k], on - on_pos, expect);
                CHECK(on_pos == (inc ? 5 : 0), "positives marked %d (include_pos %d)", on_pos, inc);
            }
        // same stream, same set; a different row, a different set
        Rng r1, r2, r3;
        rng_init(&r1, 1, RNG_ZR, 4, 42);
        rng_init(&r2, 1, RNG_ZR, 4, 42);
        rng_init(&r3, 1, RNG_ZR, 4, 43);
        sample_unobserved(mask, pos, 5, n, 0.3, 0, &r1, bits);
        sample_unobserved(mask2, pos, 5, n, 0.3, 0, &r2, bits);
        CHECK(memcmp(mask, mask2, sizeof mask) == 0, "same stream gave different sets");
        sample_unobserved(mask2, pos, 5, n, 0.3, 0, &r3, bits);
        CHECK(memcmp(mask, mask2, sizeof mask) != 0, "different rows gave the same set");
        // a row's masks do not depend on its batch neighbours (what lets ranks split batches)
        Config cfg;
        config_init(&cfg);
        Cfgan m;
        cfgan_init(&m, &cfg, ui.n_cols, 6);
        int32_t a_ids[3] = {2, 5, 9}, b_ids[2] = {9, 4};
        Batch ba = batch_of(&ui, a_ids, 3, 1);
        cfgan_sample_masks(&m, &ba, 77, 1);
        float k9[64], z9[64], ka[6 * 64], za[6 * 64];
        cfgan_masks_as_floats(&m, 3, ka, za);
        memcpy(k9, ka + 2 * ui.n_cols, ui.n_cols * sizeof(float));
        memcpy(z9, za + 2 * ui.n_cols, ui.n_cols * sizeof(float));
        Batch bb = batch_of(&ui, b_ids, 2, 1);
        cfgan_sample_masks(&m, &bb, 77, 1);
        cfgan_masks_as_floats(&m, 2, ka, za);
        CHECK(memcmp(k9, ka, ui.n_cols * sizeof(float)) == 0, "PM mask of row 9 depends on the batch");
        CHECK(memcmp(z9, za, ui.n_cols * sizeof(float)) == 0, "ZR mask of row 9 depends on the batch");
        cfgan_free(&m);
        config_free(&cfg);
    });

    TEST("model: the word-wise deposit of negatives (pdep) equals the column-by-column walk", {
        Rng rng;
        rng_init(&rng, 9, RNG_INIT, 1, 2);
        int bad = 0;
        for (int trial = 0; trial < 300; trial++) {
            int n = 1 + (int)rng_below(&rng, 700), n_pos = 0;
            int32_t pos[700];
            for (int j = 0; j < n; j++)
                if (rng_uniform(&rng) < (trial % 3 == 0 ? 0.9 : 0.1)) pos[n_pos++] = j;
            uint64_t marks[16] = {0}, a[16], b[16];
            for (int w = 0; w < 12; w++) marks[w] = ((uint64_t)rng_u32(&rng) << 32) | rng_u32(&rng);
            int inv = trial & 1, inc = (trial >> 1) & 1;
            deposit_unobserved(a, marks, pos, n_pos, n, inv, inc);
            deposit_unobserved_ref(b, marks, pos, n_pos, n, inv, inc);
            bad += memcmp(a, b, ((size_t)n + 63) / 64 * sizeof(uint64_t)) != 0;
        }
        CHECK(bad == 0, "%d of 300 random rows differ", bad);
    });

    TEST("model: the discriminator learns (real/fake separation grows with D steps)", {
        Csr big;
        random_matrix(&big, 64, 40, 0.15, 2);
        Config cfg;
        config_init(&cfg);
        cfg.g_hidden[0] = 16, cfg.d_hidden[0] = 8;
        Cfgan m;
        cfgan_init(&m, &cfg, big.n_cols, 16);
        cfgan_init_weights(&m, 4);
        int32_t ids[16];
        double first = 0, last = 0;
        const AdamHyper hyper = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .reg = 0};
        for (int it = 0; it < 300; it++) {
            for (int i = 0; i < 16; i++) ids[i] = (it * 16 + i) % 64;
            Batch b = batch_of(&big, ids, 16, (uint32_t)it);
            cfgan_sample_masks(&m, &b, 1, 0);
            StepStats st = {0};
            memset(m.d.grads, 0, m.d.n_params * sizeof(float));
            cfgan_d_step(&m, &b, NULL, 1.0f / 16, &st);
            adam_update(&m.d, &hyper);
            double sep = (st.p_real - st.p_fake) / st.rows;
            if (it < 10) first += sep / 10;
            if (it >= 290) last += sep / 10;
        }
        CHECK(last > first + 0.2, "D's mean real-fake output gap went from %.3f to %.3f", first, last);
        cfgan_free(&m);
        config_free(&cfg);
        csr_free(&big);
    });
    TEST("model: the mask kernels select G's output on k and give the ZR penalty (53 columns: a ragged tail)", {
        Csr x;
        random_matrix(&x, 40, 53, 0.1, 3);
        Config cfg;
        config_init(&cfg);
        cfg.g_hidden[0] = 16, cfg.d_hidden[0] = 8; // the default scheme is ZP: both masks in use
        Cfgan m;
        cfgan_init(&m, &cfg, x.n_cols, 8);
        cfgan_init_weights(&m, 6);
        int32_t ids[8] = {1, 4, 9, 16, 25, 36, 0, 39};
        Batch b = batch_of(&x, ids, 8, 1);
        cfgan_sample_masks(&m, &b, 2, 1);
        StepStats st = {0};
        memset(m.g.grads, 0, m.g.n_params * sizeof(float));
        cfgan_g_step(&m, &b, 0.125f, &st);
        float k[8 * 53], z[8 * 53];
        cfgan_masks_as_floats(&m, 8, k, z);
        const float *y = m.g_h[m.g.n_layers - 1];
        int selected = 1;
        double zr = 0;
        for (int i = 0; i < 8 * 53; i++) {
            selected &= m.x_fake[i] == (k[i] != 0 ? y[i] : 0.0f);
            zr += z[i] * (double)y[i] * y[i];
        }
        CHECK(selected, "x_fake is not G(e) on k and 0 elsewhere");
        CHECK_CLOSE(st.g_zr, cfg.zr_coef * 0.125 * zr, 1e-6 * fabs(st.g_zr) + 1e-12, "ZR penalty");
        CHECK(st.g_zr > 0, "no ZR term");
        cfgan_free(&m);
        config_free(&cfg);
        csr_free(&x);
    });
    csr_free(&ui);
    return check_summary();
}
