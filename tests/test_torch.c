// Cross-check against an independent PyTorch implementation (tools/torch_reference.py): from
// identical weights, batch and negative masks, every forward value, both losses, every gradient
// and the parameters after one Adam step must agree within |c - t| <= atol + rtol·|t|.
//
// Tolerances (float32 on both sides, different summation orders):
//   forward values and losses: atol 1e-5, rtol 1e-4 (sums of ~100 terms of size ~1 carry ~1e-6 error);
//   gradients: atol 1e-6, rtol 1e-3 (products of several such sums; the largest gradients are ~1e-1);
//   parameters after Adam: atol 2e-7, rtol 1e-5: the first Adam step moves each weight by about
//   lr·g/(|g| + eps), i.e. by lr = 1e-3 unless |g| is near eps; 2e-7 allows a 1e-4 relative
//   disagreement in that step plus the float rounding of a weight of size ~1.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "data.h"
#include "model.h"
#include "reference.h"
#include "rng.h"
#include "tensorfile.h"

static void add_mlp(TensorSet *s, const Mlp *net, const char *prefix, const char *kind) {
    char name[64];
    for (int l = 0; l < net->n_layers; l++) {
        uint32_t wd[2] = {(uint32_t)net->dims[l], (uint32_t)net->dims[l + 1]}, bd[1] = {(uint32_t)net->dims[l + 1]};
        const float *base = strcmp(kind, "grad") == 0 ? net->grads : net->params;
        snprintf(name, sizeof name, "%s%sW%d", prefix, kind[0] ? (strcmp(kind, "grad") == 0 ? "grad." : "after.") : "", l);
        ts_add(s, name, base + net->w_off[l], 2, wd);
        snprintf(name, sizeof name, "%s%sb%d", prefix, kind[0] ? (strcmp(kind, "grad") == 0 ? "grad." : "after.") : "", l);
        ts_add(s, name, base + net->b_off[l], 1, bd);
    }
}

static void compare(const TensorSet *c, const TensorSet *t, const char *name, double atol, double rtol, const char *tag) {
    const Tensor *a = ts_get(c, name), *b = ts_get(t, name);
    CHECK(a && b, "%s: tensor %s missing (%s side)", tag, name, a ? "torch" : "C");
    if (!a || !b) return;
    CHECK(a->n == b->n, "%s: %s has %zu values in C, %zu in torch", tag, name, a->n, b->n);
    if (a->n != b->n) return;
    double worst = 0;
    size_t at = 0;
    int bad = 0;
    for (size_t i = 0; i < a->n; i++) {
        double d = fabs((double)a->data[i] - b->data[i]), lim = atol + rtol * fabs(b->data[i]);
        if (d > lim) bad++;
        if (d - lim > worst - (atol + rtol * fabs(b->data[at])) || i == 0) worst = d, at = i;
    }
    CHECK(bad == 0, "%s: %s: %d of %zu values outside tolerance (e.g. [%zu] C %.9g torch %.9g)", tag, name, bad, a->n, at,
          a->data[at], b->data[at]);
}

static void run_case(const char *tag, int scheme, int hidden, int gout, const char *root) {
    Config cfg;
    config_init(&cfg);
    cfg.model_scheme = scheme;
    cfg.model_activation = hidden;
    cfg.model_g_output = gout;
    cfg.n_g_hidden = 2, cfg.g_hidden[0] = 16, cfg.g_hidden[1] = 12;
    cfg.n_d_hidden = 1, cfg.d_hidden[0] = 10;
    cfg.zr_ratio = 0.6, cfg.pm_ratio = 0.5, cfg.zr_coef = 0.1;
    cfg.g_reg = 1e-2, cfg.d_reg = 5e-3, cfg.g_lr = 1e-3, cfg.d_lr = 2e-3;
    enum { ROWS = 12, N = 30, B = 8 };
    // data: random 0/1 rows
    int32_t r[ROWS * N], c[ROWS * N];
    int64_t nnz = 0;
    Rng rng;
    rng_init(&rng, 21, RNG_SYNTH, 1, 1);
    for (int i = 0; i < ROWS; i++)
        for (int j = 0; j < N; j++)
            if (rng_uniform(&rng) < 0.25 || j == i) r[nnz] = i, c[nnz] = j, nnz++;
    Csr rows;
    csr_from_pairs(&rows, ROWS, N, r, c, nnz, NULL);
    Cfgan m;
    cfgan_init(&m, &cfg, N, B);
    cfgan_init_weights(&m, 8);
    int32_t ids[B] = {4, 11, 0, 7, 2, 9, 5, 1};
    int64_t ptr[B + 1];
    int32_t col[ROWS * N];
    float e[B * N] = {0};
    ptr[0] = 0;
    for (int i = 0; i < B; i++) {
        ptr[i + 1] = ptr[i];
        for (int64_t k = rows.row_ptr[ids[i]]; k < rows.row_ptr[ids[i] + 1]; k++)
            col[ptr[i + 1]++] = rows.col[k], e[i * N + rows.col[k]] = 1;
    }
    Batch b = {B, ids, ptr, col, 3, NULL};
    cfgan_sample_masks(&m, &b, 99, 1);
    static float k_mask[B * N], z_mask[B * N];
    cfgan_masks_as_floats(&m, B, k_mask, z_mask); // z is all 0 under PM

    TensorSet in = {0};
    add_mlp(&in, &m.g, "g.", "");
    add_mlp(&in, &m.d, "d.", "");
    uint32_t bn[2] = {B, N}, one[1] = {11};
    ts_add(&in, "e", e, 2, bn);
    ts_add(&in, "k", k_mask, 2, bn);
    ts_add(&in, "z", z_mask, 2, bn);
    float hp[11] = {(float)cfg.zr_coef, (float)cfg.g_reg, (float)cfg.d_reg, (float)cfg.g_lr, (float)cfg.d_lr,
                    (float)cfg.beta1, (float)cfg.beta2, (float)cfg.adam_eps, (float)hidden, (float)gout,
                    (float)(scheme != SCHEME_PM)};
    ts_add(&in, "hp", hp, 1, one);
    char in_path[256], out_path[256], cmd[1024];
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(in_path, sizeof in_path, "%s/torch_in_%d.cfgt", tmp, (int)getpid());
    snprintf(out_path, sizeof out_path, "%s/torch_out_%d.cfgt", tmp, (int)getpid());
    CHECK(ts_write(&in, in_path) == 0, "cannot write %s", in_path);
    // Debian's interpreter, where python3-torch lives (a pyenv python3 on PATH would lack torch)
    const char *py = getenv("PYTHON") ? getenv("PYTHON") : "/usr/bin/python3";
    snprintf(cmd, sizeof cmd, "%s %s/tools/torch_reference.py %s %s", py, root, in_path, out_path);
    int status = system(cmd);
    CHECK(status == 0, "%s failed with status %d (is python3-torch installed? make deps)", cmd, status);
    TensorSet ref;
    if (status != 0 || ts_read(&ref, out_path) != 0) {
        CHECK(0, "cannot read the torch output %s", out_path);
        return;
    }

    // C side: the same D step and G step from the same weights
    TensorSet got = {0};
    float *g0 = malloc(m.g.n_params * sizeof(float)), *d0 = malloc(m.d.n_params * sizeof(float));
    memcpy(g0, m.g.params, m.g.n_params * sizeof(float));
    memcpy(d0, m.d.params, m.d.n_params * sizeof(float));
    StepStats st = {0};
    cfgan_d_step(&m, &b, NULL, 1.0f / B, &st);
    float loss = (float)(st.d_real + st.d_fake);
    uint32_t d1[1] = {1}, db[1] = {B};
    ts_add(&got, "d.loss", &loss, 1, d1);
    ts_add(&got, "g.out", m.g_h[m.g.n_layers - 1], 2, bn);
    ts_add(&got, "d.logit_real", m.d_real_h[m.d.n_layers - 1], 1, db);
    ts_add(&got, "d.logit_fake", m.d_fake_h[m.d.n_layers - 1], 1, db);
    add_mlp(&got, &m.d, "d.", "grad");
    const AdamHyper hd = {(float)cfg.d_lr, (float)cfg.beta1, (float)cfg.beta2, (float)cfg.adam_eps, (float)cfg.d_reg};
    adam_update(&m.d, &hd);
    add_mlp(&got, &m.d, "d.", "after");
    memcpy(m.d.params, d0, m.d.n_params * sizeof(float)); // G step starts from the original weights
    StepStats gs = {0};
    cfgan_g_step(&m, &b, 1.0f / B, &gs);
    loss = (float)(gs.g_adv + gs.g_zr);
    ts_add(&got, "g.loss", &loss, 1, d1);
    add_mlp(&got, &m.g, "g.", "grad");
    const AdamHyper hg = {(float)cfg.g_lr, (float)cfg.beta1, (float)cfg.beta2, (float)cfg.adam_eps, (float)cfg.g_reg};
    adam_update(&m.g, &hg);
    add_mlp(&got, &m.g, "g.", "after");

    int compared = 0;
    for (int i = 0; i < ref.count; i++) {
        const char *nm = ref.t[i].name;
        if (strstr(nm, ".grad.")) compare(&got, &ref, nm, 1e-6, 1e-3, tag);
        else if (strstr(nm, ".after.")) compare(&got, &ref, nm, 2e-7, 1e-5, tag);
        else compare(&got, &ref, nm, 1e-5, 1e-4, tag);
        compared++;
    }
    CHECK(compared == got.count, "%s: torch wrote %d tensors, C computed %d", tag, compared, got.count);
    remove(in_path);
    remove(out_path);
    ts_free(&in);
    ts_free(&ref);
    ts_free(&got);
    free(g0);
    free(d0);
    cfgan_free(&m);
    csr_free(&rows);
    config_free(&cfg);
}

int main(void) {
    const char *root = getenv("ROOT") ? getenv("ROOT") : ".";
    TEST("torch: reference setting (ZP, sigmoid hidden, linear output) matches PyTorch", run_case("ZP/sigmoid/linear", SCHEME_ZP, HIDDEN_SIGMOID, GOUT_LINEAR, root));
    TEST("torch: ZR, tanh hidden, sigmoid output matches PyTorch", run_case("ZR/tanh/sigmoid", SCHEME_ZR, HIDDEN_TANH, GOUT_SIGMOID, root));
    TEST("torch: PM, relu hidden, linear output matches PyTorch", run_case("PM/relu/linear", SCHEME_PM, HIDDEN_RELU, GOUT_LINEAR, root));
    return check_summary();
}
