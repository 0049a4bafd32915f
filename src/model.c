// model: CFGAN forward/backward for the D step and the G step, and ZR/PM negative sampling.
#include "model.h"

#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "timer.h"
#include "util.h"

// The masks select: out = y where the mask bit is set, else 0.
HOT_LOOP static void select_bits(float *restrict out, const float *restrict y, const uint64_t *restrict bits, int n) {
    for (int j = 0; j < n; j++) out[j] = (bits[j >> 6] >> (j & 63)) & 1 ? y[j] : 0.0f;
}

// One row of G's output gradient: dy = dx ⊙ k + c2 · z ⊙ y. Returns Σ_{j ∈ Z} y_j² (the ZR penalty
// before its weight), summed in 16 float lanes (lane = j mod 16) and then in lane order: the same
// bits whatever vector width the loop runs at.
HOT_LOOP static double g_output_grad(float *restrict dy, const float *restrict dx, const uint64_t *restrict k,
                                     const uint64_t *restrict z, const float *restrict y, float c2, int n) {
    float lanes[16] = {0};
    for (int j = 0; j < n; j++) {
        const float dxk = (k[j >> 6] >> (j & 63)) & 1 ? dx[j] : 0.0f, zy = (z[j >> 6] >> (j & 63)) & 1 ? y[j] : 0.0f;
        dy[j] = dxk + c2 * zy;
        lanes[j & 15] += zy * zy;
    }
    double s = 0;
    for (int l = 0; l < 16; l++) s += lanes[l];
    return s;
}

static Act hidden_act(int a) { return a == HIDDEN_TANH ? ACT_TANH : a == HIDDEN_RELU ? ACT_RELU : ACT_SIGMOID; }

// Point the activation views (grads = 0) or their gradient views (grads = 1) into one flat
// buffer at base (NULL: only count). Returns the floats needed. Masks have no gradient.
static size_t layout(Cfgan *s, float *base, int grads) {
    size_t off = 0;
    const size_t B = (size_t)s->max_batch, n = (size_t)s->n_cols;
    float **gh = grads ? s->dg_h : s->g_h, **dr = grads ? s->dd_real_h : s->d_real_h;
    float **df = grads ? s->dd_fake_h : s->d_fake_h, **xf = grads ? &s->dx_fake : &s->x_fake;
#define TAKE(ptr, count)                  \
    do {                                  \
        (ptr) = base ? base + off : NULL; \
        off += (count);                   \
    } while (0)
    for (int l = 0; l < s->g.n_layers; l++) TAKE(gh[l], B * s->g.dims[l + 1]);
    TAKE(*xf, B * n);
    for (int l = 0; l < s->d.n_layers; l++) TAKE(dr[l], B * s->d.dims[l + 1]);
    for (int l = 0; l < s->d.n_layers; l++) TAKE(df[l], B * s->d.dims[l + 1]);
#undef TAKE
    return off;
}

void cfgan_init(Cfgan *self, const Config *cfg, int n_cols, int max_batch) {
    memset(self, 0, sizeof *self);
    self->n_cols = n_cols;
    self->scheme = cfg->model_scheme;
    self->adversarial = cfg->adversarial;
    self->zr_ratio = cfg->zr_ratio;
    self->pm_ratio = cfg->pm_ratio;
    self->zr_coef = (float)cfg->zr_coef;
    self->max_batch = max_batch;
    int dims[NN_MAX_LAYERS + 1];
    Act acts[NN_MAX_LAYERS];
    if (cfg->n_g_hidden + 1 > NN_MAX_LAYERS || cfg->n_d_hidden + 1 > NN_MAX_LAYERS)
        die(EXIT_INPUT, "%s: at most %d hidden layers per network", cfg->path, NN_MAX_LAYERS - 1);
    // G: n -> hidden... -> n
    dims[0] = n_cols;
    for (int l = 0; l < cfg->n_g_hidden; l++) dims[l + 1] = cfg->g_hidden[l], acts[l] = hidden_act(cfg->model_activation);
    dims[cfg->n_g_hidden + 1] = n_cols;
    acts[cfg->n_g_hidden] = cfg->model_g_output == GOUT_SIGMOID ? ACT_SIGMOID : ACT_LINEAR;
    mlp_init(&self->g, cfg->n_g_hidden + 1, dims, acts);
    // D: 2n -> hidden... -> 1 (a logit)
    dims[0] = 2 * n_cols;
    for (int l = 0; l < cfg->n_d_hidden; l++) dims[l + 1] = cfg->d_hidden[l], acts[l] = hidden_act(cfg->model_activation);
    dims[cfg->n_d_hidden + 1] = 1;
    acts[cfg->n_d_hidden] = ACT_LINEAR;
    mlp_init(&self->d, cfg->n_d_hidden + 1, dims, acts);

    self->acts = xcalloc(layout(self, NULL, 0), sizeof(float));
    layout(self, self->acts, 0);
    self->n_dacts = layout(self, NULL, 1);
    self->dacts = xcalloc(self->n_dacts, sizeof(float));
    layout(self, self->dacts, 1);
    self->bits = xcalloc((size_t)n_cols / 64 + 2, sizeof(uint64_t));
    self->mask_words = (n_cols + 63) / 64;
    self->k_bits = xcalloc((size_t)max_batch * (size_t)self->mask_words + 1, sizeof(uint64_t));
    self->z_bits = xcalloc((size_t)max_batch * (size_t)self->mask_words + 1, sizeof(uint64_t));
}

void cfgan_init_weights(Cfgan *self, uint64_t seed) {
    mlp_init_reference(&self->g, seed, 0);
    mlp_init_reference(&self->d, seed, 1);
}

void cfgan_free(Cfgan *self) {
    mlp_free(&self->g);
    mlp_free(&self->d);
    free(self->acts);
    free(self->dacts);
    free(self->bits);
    free(self->k_bits);
    free(self->z_bits);
    free(self->cache_outer);
    free(self->cache_pm);
    free(self->cache_zr);
    memset(self, 0, sizeof *self);
}

// ---- negative sampling ------------------------------------------------------------------------

void sample_unobserved_bits(uint64_t *out, const int32_t *pos, int n_pos, int n, double ratio, int include_pos,
                            Rng *rng, uint64_t *scratch) {
    const int n_unobs = n - n_pos;
    const int m = (int)floor((double)n_unobs * ratio); // as the reference: int(|U| * ratio)
    // Mark a uniform subset of the smaller side (chosen or left out) by rejection into a bitset:
    // at most |U|/2 marks, so under 0.7·|U| draws, and no allocation.
    const int invert = m > n_unobs / 2;
    const int marks = invert ? n_unobs - m : m;
    memset(scratch, 0, ((size_t)n_unobs / 64 + 2) * sizeof *scratch); // + a word read past the last mark
    for (int got = 0; got < marks;) {
        uint32_t p = rng_below(rng, (uint32_t)n_unobs);
        uint64_t bit = 1ULL << (p & 63);
        if (scratch[p >> 6] & bit) continue;
        scratch[p >> 6] |= bit;
        got++;
    }
    deposit_unobserved(out, scratch, pos, n_pos, n, invert, include_pos);
}

// Scatter the low bits of v to the set bits of mask (BMI2 pdep), and a portable fallback.
__attribute__((target("bmi2"))) static uint64_t pdep_bmi2(uint64_t v, uint64_t mask) { return _pdep_u64(v, mask); }
static uint64_t pdep_soft(uint64_t v, uint64_t mask) {
    uint64_t r = 0;
    for (uint64_t bit = 1; mask; bit <<= 1) {
        if (v & bit) r |= mask & -mask;
        mask &= mask - 1;
    }
    return r;
}

void deposit_unobserved(uint64_t *out, const uint64_t *marks, const int32_t *pos, int n_pos, int n, int invert,
                        int include_pos) {
    // 64 columns at a time: the next popcount(unobserved) mark bits go to the unobserved columns
    static int have_bmi2 = -1;
    if (have_bmi2 < 0) have_bmi2 = __builtin_cpu_supports("bmi2");
    const int words = (n + 63) / 64;
    int k = 0, u = 0;
    for (int w = 0; w < words; w++) {
        uint64_t posw = 0;
        for (; k < n_pos && pos[k] < 64 * (w + 1); k++) posw |= 1ULL << (pos[k] & 63);
        uint64_t valid = (w == words - 1 && (n & 63)) ? (1ULL << (n & 63)) - 1 : ~0ULL;
        uint64_t unobs = ~posw & valid;
        int cnt = __builtin_popcountll(unobs);
        int lo = u >> 6, sh = u & 63;
        uint64_t chunk = marks[lo] >> sh;
        if (sh && sh + cnt > 64) chunk |= marks[lo + 1] << (64 - sh);
        if (invert) chunk = ~chunk;
        if (cnt < 64) chunk &= (1ULL << cnt) - 1;
        out[w] = (have_bmi2 ? pdep_bmi2(chunk, unobs) : pdep_soft(chunk, unobs)) | (include_pos ? posw : 0);
        u += cnt;
    }
}

size_t cfgan_cache_init(Cfgan *self, int32_t n_rows, size_t max_bytes) {
    const size_t words = ((size_t)self->n_cols + 63) / 64;
    const int sets = (self->scheme != SCHEME_ZR) + (self->scheme != SCHEME_PM);
    const size_t bytes = (size_t)n_rows * words * sizeof(uint64_t) * (size_t)sets;
    if (bytes > max_bytes) return 0; // draw per step instead
    self->cache_words = (int32_t)words;
    self->cache_outer = xcalloc((size_t)n_rows + 1, sizeof *self->cache_outer);
    if (self->scheme != SCHEME_ZR) self->cache_pm = xmalloc((size_t)n_rows * words * sizeof(uint64_t) + 8);
    if (self->scheme != SCHEME_PM) self->cache_zr = xmalloc((size_t)n_rows * words * sizeof(uint64_t) + 8);
    return bytes;
}

void cfgan_sample_masks(Cfgan *self, const Batch *b, uint64_t seed, int need_zr) {
    const int n = self->n_cols;
    const size_t words = (size_t)self->mask_words, bytes = words * sizeof(uint64_t);
    const int use_pm = self->scheme != SCHEME_ZR, use_zr = self->scheme != SCHEME_PM;
    for (int i = 0; i < b->B; i++) {
        const int32_t row = b->rows[i];
        const int32_t *pos = b->col + b->ptr[i];
        int n_pos = (int)(b->ptr[i + 1] - b->ptr[i]);
        uint64_t *k = self->k_bits + (size_t)i * words, *z = self->z_bits + (size_t)i * words;
        uint64_t *pm_bits = k, *zr_bits = z; // drawn straight into the batch unless cached
        int cached = 0;
        if (self->cache_outer) { // the sets of a row are drawn once per outer iteration
            const size_t lr = (size_t)b->local[i];
            if (use_pm) pm_bits = self->cache_pm + lr * words;
            if (use_zr) zr_bits = self->cache_zr + lr * words;
            cached = self->cache_outer[lr] == b->outer + 1;
            self->cache_outer[lr] = b->outer + 1;
        }
        Rng rng;
        if (use_pm) {
            if (!cached) {
                rng_init(&rng, seed, RNG_PM, b->outer, (uint32_t)row);
                sample_unobserved_bits(pm_bits, pos, n_pos, n, self->pm_ratio, 1, &rng, self->bits);
            }
            if (pm_bits != k) memcpy(k, pm_bits, bytes);
        } else { // k = e_r
            memset(k, 0, bytes);
            for (int t = 0; t < n_pos; t++) k[pos[t] >> 6] |= 1ULL << (pos[t] & 63);
        }
        if (use_zr && (need_zr || (self->cache_outer && !cached))) {
            if (!cached) {
                rng_init(&rng, seed, RNG_ZR, b->outer, (uint32_t)row);
                sample_unobserved_bits(zr_bits, pos, n_pos, n, self->zr_ratio, 0, &rng, self->bits);
            }
            if (need_zr && zr_bits != z) memcpy(z, zr_bits, bytes);
        } else if (!use_zr) {
            memset(z, 0, bytes);
        }
    }
}

// ---- forward pieces ---------------------------------------------------------------------------

static SparseBatch sparse_of(const Batch *b) { return (SparseBatch){b->B, b->ptr, b->col}; }

// G forward for B rows; leaves every layer's output in g_h, except the last one's when out is
// given (B x n, written there directly: the evaluation's scores, the D phase's cache).
static void g_forward(Cfgan *s, const SparseBatch *e, float *out) {
    const Mlp *g = &s->g;
    const int B = e->B, L = g->n_layers;
    float *y0 = L == 1 && out ? out : s->g_h[0];
    // layer 0 reads the sparse condition: H0 = act(e·W0 + b0)
    sparse_forward(y0, e, mlp_w(g, 0), mlp_b(g, 0), g->dims[1], 0);
    act_forward(y0, (size_t)B * g->dims[1], g->act[0]);
    for (int l = 1; l < L; l++) {
        float *y = l == L - 1 && out ? out : s->g_h[l];
        dense_forward(y, s->g_h[l - 1], mlp_w(g, l), mlp_b(g, l), B, g->dims[l], g->dims[l + 1]);
        act_forward(y, (size_t)B * g->dims[l + 1], g->act[l]);
    }
}

static float *g_out(Cfgan *s) { return s->g_h[s->g.n_layers - 1]; }

// D forward on [e, x] where x is e itself (real) or the dense x_fake (fake). h: layer outputs.
// cond_done: h[0] already holds the condition half b0 + e·W_cond (shared by real and fake).
static void d_forward(Cfgan *s, const SparseBatch *e, const float *x_dense, float **h, int cond_done) {
    const Mlp *d = &s->d;
    const int B = e->B, n = s->n_cols, H = d->dims[1];
    const float *w_cond = mlp_w(d, 0), *w_x = w_cond + (size_t)n * H; // W0 = [W_cond; W_x], (2n, H)
    if (!cond_done) sparse_forward(h[0], e, w_cond, mlp_b(d, 0), H, 0); // H0 = e·W_cond + b0
    if (x_dense) // H0 += x_fake·W_x
        gemm_nn(B, H, n, x_dense, n, w_x, H, 1.0f, h[0], H);
    else // H0 += e·W_x
        sparse_forward(h[0], e, w_x, NULL, H, 1);
    act_forward(h[0], (size_t)B * H, d->act[0]);
    for (int l = 1; l < d->n_layers; l++) {
        dense_forward(h[l], h[l - 1], mlp_w(d, l), mlp_b(d, l), B, d->dims[l], d->dims[l + 1]);
        act_forward(h[l], (size_t)B * d->dims[l + 1], d->act[l]);
    }
}

// D backward from dh[last] (the logit gradient). Accumulates D's parameter gradients when
// want_params, except dW_cond when skip_cond (the caller adds it); writes dx_dense = dpre0·W_xᵀ
// (overwritten, not accumulated) when dx_dense is not NULL.
static void d_backward(Cfgan *s, const SparseBatch *e, const float *x_dense, float **h, float **dh, int want_params,
                       int skip_cond, float *dx_dense) {
    Mlp *d = &s->d;
    const int B = e->B, n = s->n_cols, H = d->dims[1];
    for (int l = d->n_layers - 1; l >= 1; l--) {
        act_backward(dh[l], h[l], (size_t)B * d->dims[l + 1], d->act[l]);
        dense_backward(dh[l - 1], want_params ? mlp_dw(d, l) : NULL, want_params ? mlp_db(d, l) : NULL, dh[l], h[l - 1],
                       mlp_w(d, l), B, d->dims[l], d->dims[l + 1]);
    }
    act_backward(dh[0], h[0], (size_t)B * H, d->act[0]);
    const float *w_x = mlp_w(d, 0) + (size_t)n * H;
    if (want_params) {
        float *dw_cond = mlp_dw(d, 0), *dw_x = dw_cond + (size_t)n * H, *db = mlp_db(d, 0);
        bias_grad_add(db, dh[0], B, H);
        if (!skip_cond) sparse_backward_w(dw_cond, dh[0], e, H); // dW_cond += eᵀ·dH0
        if (x_dense) // dW_x += x_fakeᵀ·dH0
            gemm_tn(n, H, B, x_dense, n, dh[0], H, 1.0f, dw_x, H);
        else // dW_x += eᵀ·dH0
            sparse_backward_w(dw_x, dh[0], e, H);
    }
    if (dx_dense) // dX = dH0·W_xᵀ
        gemm_nt(B, n, H, dh[0], H, w_x, H, 0.0f, dx_dense, n);
}

static void make_fake(Cfgan *s, int B) {
    const size_t n = (size_t)s->n_cols, words = (size_t)s->mask_words;
    for (int i = 0; i < B; i++) select_bits(s->x_fake + i * n, g_out(s) + i * n, s->k_bits + i * words, (int)n);
}

// Backward kernels accumulate, so the first B rows of every activation gradient start at zero.
// G's output gradient and dx_fake (B x n each, the big ones) are written, not accumulated: skipped.
static void zero_dacts(Cfgan *s, int B) {
    const size_t b = (size_t)B * sizeof(float);
    for (int l = 0; l + 1 < s->g.n_layers; l++) memset(s->dg_h[l], 0, b * (size_t)s->g.dims[l + 1]);
    for (int l = 0; l < s->d.n_layers; l++) {
        memset(s->dd_real_h[l], 0, b * (size_t)s->d.dims[l + 1]);
        memset(s->dd_fake_h[l], 0, b * (size_t)s->d.dims[l + 1]);
    }
}

static double sum_sigmoid(const float *logit, int B) {
    double t = 0;
    for (int i = 0; i < B; i++) t += sigmoidf_stable(logit[i]);
    return t;
}

// ---- steps ------------------------------------------------------------------------------------

void cfgan_d_step(Cfgan *self, const Batch *b, const float *const *g_rows, float scale, StepStats *st) {
    if (b->B == 0) return;
    SparseBatch e = sparse_of(b);
    const int L = self->d.n_layers;
    zero_dacts(self, b->B);
    timer_start(T_G_FWD);
    if (g_rows) { // G is fixed during the D phase: its outputs were computed once for all rows
        const size_t n = (size_t)self->n_cols;
        for (int i = 0; i < b->B; i++)
            select_bits(self->x_fake + i * n, g_rows[i], self->k_bits + i * (size_t)self->mask_words, (int)n);
    } else {
        g_forward(self, &e, NULL);
        make_fake(self, b->B);
    }
    timer_stop(T_G_FWD);
    timer_start(T_D_FWD);
    // real and fake rows share the condition half of the first layer: gathered once
    const size_t H = (size_t)self->d.dims[1];
    sparse_forward(self->d_fake_h[0], &e, mlp_w(&self->d, 0), mlp_b(&self->d, 0), (int)H, 0);
    memcpy(self->d_real_h[0], self->d_fake_h[0], (size_t)b->B * H * sizeof(float));
    d_forward(self, &e, NULL, self->d_real_h, 1);
    d_forward(self, &e, self->x_fake, self->d_fake_h, 1);
    timer_stop(T_D_FWD);
    timer_start(T_D_BWD);
    st->d_real += bce_logits(self->dd_real_h[L - 1], self->d_real_h[L - 1], 1.0f, b->B, scale);
    st->d_fake += bce_logits(self->dd_fake_h[L - 1], self->d_fake_h[L - 1], 0.0f, b->B, scale);
    st->p_real += sum_sigmoid(self->d_real_h[L - 1], b->B);
    st->p_fake += sum_sigmoid(self->d_fake_h[L - 1], b->B);
    st->rows += b->B;
    d_backward(self, &e, NULL, self->d_real_h, self->dd_real_h, 1, 1, NULL);
    d_backward(self, &e, self->x_fake, self->d_fake_h, self->dd_fake_h, 1, 1, NULL);
    // and one scatter for the condition half: dW_cond += eᵀ·(dH0_real + dH0_fake)
    vec_add(self->dd_real_h[0], self->dd_fake_h[0], (size_t)b->B * H);
    sparse_backward_w(mlp_dw(&self->d, 0), self->dd_real_h[0], &e, (int)H);
    timer_stop(T_D_BWD);
}

void cfgan_g_step(Cfgan *self, const Batch *b, float scale, StepStats *st) {
    if (b->B == 0) return;
    SparseBatch e = sparse_of(b);
    Mlp *g = &self->g;
    const int B = b->B, n = self->n_cols, Ld = self->d.n_layers, Lg = g->n_layers;
    zero_dacts(self, B);
    timer_start(T_G_FWD);
    g_forward(self, &e, NULL);
    if (self->adversarial) make_fake(self, B); // D's input; the ablation has no D
    timer_stop(T_G_FWD);
    if (self->adversarial) {
        timer_start(T_D_FWD);
        d_forward(self, &e, self->x_fake, self->d_fake_h, 0);
        timer_stop(T_D_FWD);
        timer_start(T_D_BWD);
        st->g_adv += bce_logits(self->dd_fake_h[Ld - 1], self->d_fake_h[Ld - 1], 1.0f, B, scale);
        st->p_fake += sum_sigmoid(self->d_fake_h[Ld - 1], B);
        st->rows += B;
        d_backward(self, &e, self->x_fake, self->d_fake_h, self->dd_fake_h, 0, 0, self->dx_fake);
        timer_stop(T_D_BWD);
    } else { // the ablation: scale·Σ_{j ∈ e} (1 − y_j)² in place of D's verdict; its gradient on e only
        const float *y = g_out(self);
        double rec = 0;
        memset(self->dx_fake, 0, (size_t)B * n * sizeof(float));
        for (int i = 0; i < B; i++)
            for (int64_t q = b->ptr[i]; q < b->ptr[i + 1]; q++) {
                const size_t j = (size_t)i * n + (size_t)b->col[q];
                rec += (1.0 - y[j]) * (1.0 - y[j]);
                self->dx_fake[j] = 2.0f * scale * (y[j] - 1.0f);
            }
        st->g_adv += scale * rec;
        st->rows += B;
    }
    timer_start(T_G_BWD);
    // dG(e) = dx_fake ⊙ k  (+ ZR: d/dy of zr_coef·scale·Σ_Z y² = 2·zr_coef·scale·y on Z)
    float *y = g_out(self), *dy = self->dg_h[Lg - 1];
    const size_t words = (size_t)self->mask_words;
    if (self->scheme != SCHEME_PM) {
        const float c2 = 2.0f * self->zr_coef * scale;
        double zr = 0;
        for (int i = 0; i < B; i++) {
            const size_t o = (size_t)i * n;
            zr += g_output_grad(dy + o, self->dx_fake + o, self->k_bits + i * words, self->z_bits + i * words, y + o,
                                c2, n);
        }
        st->g_zr += (double)self->zr_coef * scale * zr;
    } else {
        for (int i = 0; i < B; i++)
            select_bits(dy + (size_t)i * n, self->dx_fake + (size_t)i * n, self->k_bits + i * words, n);
    }
    for (int l = Lg - 1; l >= 1; l--) {
        act_backward(self->dg_h[l], self->g_h[l], (size_t)B * g->dims[l + 1], g->act[l]);
        dense_backward(self->dg_h[l - 1], mlp_dw(g, l), mlp_db(g, l), self->dg_h[l], self->g_h[l - 1], mlp_w(g, l), B,
                       g->dims[l], g->dims[l + 1]);
    }
    const int H = g->dims[1];
    act_backward(self->dg_h[0], self->g_h[0], (size_t)B * H, g->act[0]);
    bias_grad_add(mlp_db(g, 0), self->dg_h[0], B, H);
    sparse_backward_w(mlp_dw(g, 0), self->dg_h[0], &e, H); // dW0 += eᵀ·dH0
    timer_stop(T_G_BWD);
}

void cfgan_generate(Cfgan *self, int B, const int64_t *ptr, const int32_t *col, float *out) {
    SparseBatch e = {B, ptr, col};
    g_forward(self, &e, out);
}
