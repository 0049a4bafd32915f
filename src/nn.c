// nn: layer kernels on flat buffers (OpenBLAS for dense products, row gathers for sparse inputs),
// activations, BCE-with-logits, L2 and the optimizers.
#include "nn.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "timer.h"
#include "util.h"


void mlp_init(Mlp *self, int n_layers, const int *dims, const Act *acts) {
    memset(self, 0, sizeof *self);
    if (n_layers < 1 || n_layers > NN_MAX_LAYERS) die(EXIT_INPUT, "a network needs 1 to %d layers", NN_MAX_LAYERS);
    self->n_layers = n_layers;
    size_t off = 0;
    for (int l = 0; l <= n_layers; l++) self->dims[l] = dims[l];
    for (int l = 0; l < n_layers; l++) {
        self->act[l] = acts[l];
        self->w_off[l] = off;
        off += (size_t)dims[l] * (size_t)dims[l + 1];
        self->b_off[l] = off;
        off += (size_t)dims[l + 1];
    }
    self->n_params = off;
    self->n_alloc = off + 2; // + two spare slots that ride along in the gradient allreduce (flags)
    self->params = xcalloc(self->n_alloc, sizeof(float));
    self->grads = xcalloc(self->n_alloc, sizeof(float));
    self->m = xcalloc(self->n_alloc, sizeof(float));
    self->v = xcalloc(self->n_alloc, sizeof(float));
}

void mlp_init_reference(Mlp *self, uint64_t seed, uint32_t net_id) {
    for (int l = 0; l < self->n_layers; l++) {
        Rng rng;
        rng_init(&rng, seed, RNG_INIT, net_id, (uint32_t)l);
        double scale = sqrt(6.0 / (self->dims[l] + self->dims[l + 1]));
        float *w = mlp_w(self, l), *b = mlp_b(self, l);
        size_t nw = (size_t)self->dims[l] * (size_t)self->dims[l + 1];
        for (size_t i = 0; i < nw; i++) w[i] = (float)((2 * rng_uniform(&rng) - 1) * scale);
        for (int i = 0; i < self->dims[l + 1]; i++) b[i] = (float)((2 * rng_uniform(&rng) - 1) * 0.01);
    }
    memset(self->grads, 0, self->n_params * sizeof(float));
    memset(self->m, 0, self->n_params * sizeof(float));
    memset(self->v, 0, self->n_params * sizeof(float));
    self->step = 0;
}

void mlp_free(Mlp *self) {
    free(self->params);
    free(self->grads);
    free(self->m);
    free(self->v);
    memset(self, 0, sizeof *self);
}

// ---- dense products and layers ----------------------------------------------------------------
// Every product goes to OpenBLAS's cblas_sgemm (row-major) and is recorded by its shape (timer.h).

void gemm_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    timer_gemm(M, N, K, 0, 0);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

void gemm_nt(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    timer_gemm(M, N, K, 0, 1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

void gemm_tn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    timer_gemm(M, N, K, 1, 0);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

void dense_forward(float *out, const float *in, const float *w, const float *b, int B, int IN, int OUT) {
    for (int i = 0; i < B; i++) memcpy(out + (size_t)i * OUT, b, (size_t)OUT * sizeof(float));
    // Y = X·W + b
    gemm_nn(B, OUT, IN, in, IN, w, OUT, 1.0f, out, OUT);
}

void dense_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                    int IN, int OUT) {
    // dX += dY·Wᵀ
    if (din) gemm_nt(B, IN, OUT, dout, OUT, w, OUT, 1.0f, din, IN);
    // dW += Xᵀ·dY
    if (dw) gemm_tn(IN, OUT, B, in, IN, dout, OUT, 1.0f, dw, OUT);
    if (db) bias_grad_add(db, dout, B, OUT);
}

void bias_grad_add(float *restrict db, const float *restrict dout, int B, int OUT) {
    for (int i = 0; i < B; i++) vec_add(db, dout + (size_t)i * OUT, (size_t)OUT);
}

// ---- sparse-input layers ----------------------------------------------------------------------
// The first layers gather (forward) or scatter-add (weight gradient) one weight row per nonzero.
// Weight matrices of the real sets (6,040 x 300 floats on ML1M) do not fit in L2, so the batch is
// walked once per 64-column tile of the output: the tile's slice of W (or dW) stays in L2 while
// every row of the batch uses it, and in the gather a row's sum stays in registers. Each output
// element still adds the same terms in the same order, so results are bit-identical to the plain
// row-by-row loop (tests/reference.h; the backward's last tile adds +0 to columns already done,
// which can only turn a -0 into +0).

enum { SP_TILE = 64 };
// 16 floats, loadable from any float address (the vector type is lowered to one AVX-512 register,
// two AVX2 ones or four SSE ones by each clone).
typedef float f32x16 __attribute__((vector_size(64), aligned(4)));

// y[0..64) += Σ_k w[idx[k]·ld + 0..64) with the running sum in registers. The first row to touch a
// tile row brings it from L3 (the optimizer streamed everything out since the last call): asking
// for the row PREFETCH nonzeros ahead overlaps those misses.
enum { PREFETCH = 16 };
HOT_LOOP static void gather_tile(float *restrict y, const float *restrict w, size_t ld, const int32_t *restrict idx,
                                 int64_t n) {
    f32x16 a0 = *(const f32x16 *)y, a1 = *(const f32x16 *)(y + 16), a2 = *(const f32x16 *)(y + 32),
           a3 = *(const f32x16 *)(y + 48);
    for (int64_t k = 0; k < n; k++) {
        if (k + PREFETCH < n) {
            const float *p = w + (size_t)idx[k + PREFETCH] * ld;
            __builtin_prefetch(p), __builtin_prefetch(p + 16), __builtin_prefetch(p + 32), __builtin_prefetch(p + 48);
        }
        const float *r = w + (size_t)idx[k] * ld;
        a0 += *(const f32x16 *)r;
        a1 += *(const f32x16 *)(r + 16);
        a2 += *(const f32x16 *)(r + 32);
        a3 += *(const f32x16 *)(r + 48);
    }
    *(f32x16 *)y = a0, *(f32x16 *)(y + 16) = a1, *(f32x16 *)(y + 32) = a2, *(f32x16 *)(y + 48) = a3;
}

void sparse_forward(float *out, const SparseBatch *x, const float *w, const float *b, int OUT, int accumulate) {
    const size_t ldw = (size_t)OUT;
    timer_flops(1.0 * (double)(x->ptr[x->B] - x->ptr[0]) * OUT);
    if (!accumulate)
        for (int i = 0; i < x->B; i++) {
            float *y = out + (size_t)i * OUT;
            if (b) memcpy(y, b, (size_t)OUT * sizeof(float));
            else memset(y, 0, (size_t)OUT * sizeof(float));
        }
    // Y[i] += Σ_{j ∈ row i} W[j]: O(nnz·OUT) instead of O(IN·OUT), one column tile at a time
    for (int c = 0; c < OUT; c += SP_TILE) {
        const int width = OUT - c < SP_TILE ? OUT - c : SP_TILE;
        for (int i = 0; i < x->B; i++) {
            const int32_t *idx = x->col + x->ptr[i];
            const int64_t n = x->ptr[i + 1] - x->ptr[i];
            float *y = out + (size_t)i * OUT;
            if (width == SP_TILE) {
                gather_tile(y + c, w + c, ldw, idx, n);
            } else if (OUT >= SP_TILE) {
                // the last tile: a full-width tile ending at OUT, of which only the new columns are kept
                float tmp[SP_TILE];
                memcpy(tmp, y + OUT - SP_TILE, sizeof tmp);
                gather_tile(tmp, w + OUT - SP_TILE, ldw, idx, n);
                memcpy(y + c, tmp + SP_TILE - width, (size_t)width * sizeof(float));
            } else {
                for (int64_t k = 0; k < n; k++) vec_add(y, w + (size_t)idx[k] * ldw, (size_t)OUT);
            }
        }
    }
}

// dw[idx[k]·ld + 0..64) += d[0..64) for every k.
HOT_LOOP static void scatter_tile(float *restrict dw, size_t ld, const float *restrict d, const int32_t *restrict idx,
                                  int64_t n) {
    const f32x16 d0 = *(const f32x16 *)d, d1 = *(const f32x16 *)(d + 16), d2 = *(const f32x16 *)(d + 32),
                 d3 = *(const f32x16 *)(d + 48);
    for (int64_t k = 0; k < n; k++) {
        float *r = dw + (size_t)idx[k] * ld;
        *(f32x16 *)r += d0;
        *(f32x16 *)(r + 16) += d1;
        *(f32x16 *)(r + 32) += d2;
        *(f32x16 *)(r + 48) += d3;
    }
}

void sparse_backward_w(float *dw, const float *dout, const SparseBatch *x, int OUT) {
    timer_flops(1.0 * (double)(x->ptr[x->B] - x->ptr[0]) * OUT);
    // dW[j] += dY[i] for every nonzero (i, j): the transpose of the gather, one column tile at a time
    for (int c = 0; c < OUT; c += SP_TILE) {
        const int width = OUT - c < SP_TILE ? OUT - c : SP_TILE;
        for (int i = 0; i < x->B; i++) {
            const int32_t *idx = x->col + x->ptr[i];
            const int64_t n = x->ptr[i + 1] - x->ptr[i];
            const float *d = dout + (size_t)i * OUT;
            if (width == SP_TILE) {
                scatter_tile(dw + c, (size_t)OUT, d + c, idx, n);
            } else if (OUT >= SP_TILE) {
                // the last tile: a full-width tile ending at OUT that adds zeros to the columns already done
                float tmp[SP_TILE] = {0};
                memcpy(tmp + SP_TILE - width, d + c, (size_t)width * sizeof(float));
                scatter_tile(dw + OUT - SP_TILE, (size_t)OUT, tmp, idx, n);
            } else {
                for (int64_t k = 0; k < n; k++) vec_add(dw + (size_t)idx[k] * OUT, d, (size_t)OUT);
            }
        }
    }
}

// ---- activations and losses -------------------------------------------------------------------

// exp(x) in a form the compiler can vectorise (libm's expf is one call per element): Cody-Waite
// reduction x = n·ln2 + r, |r| <= ln2/2, Cephes' degree-6 polynomial for e^r, 2^n through the
// exponent bits. Within 2 ulp of expf for x in [-87, 88]; the argument is clamped to that range.
static inline float exp_vec(float x) {
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    const float big = 12582912.0f; // 1.5·2^23: adding and subtracting it rounds to an integer
    float n = (x * 1.44269504088896341f + big) - big;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

float exp_approx(float x) { return exp_vec(x); }

float sigmoidf_stable(float x) {
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

HOT_LOOP void act_forward(float *restrict y, size_t n, Act act) {
    switch (act) {
    case ACT_LINEAR: break;
    case ACT_SIGMOID: for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + exp_vec(-y[i])); break;
    case ACT_TANH: for (size_t i = 0; i < n; i++) y[i] = tanhf(y[i]); break;
    case ACT_RELU: for (size_t i = 0; i < n; i++) y[i] = y[i] > 0 ? y[i] : 0; break;
    }
}

HOT_LOOP void act_backward(float *restrict dy, const float *restrict y, size_t n, Act act) {
    switch (act) {
    case ACT_LINEAR: break;
    case ACT_SIGMOID: for (size_t i = 0; i < n; i++) dy[i] *= y[i] * (1 - y[i]); break;
    case ACT_TANH: for (size_t i = 0; i < n; i++) dy[i] *= 1 - y[i] * y[i]; break;
    case ACT_RELU: for (size_t i = 0; i < n; i++) dy[i] = y[i] > 0 ? dy[i] : 0; break;
    }
}

double bce_logits(float *dlogit, const float *logit, float label, int B, float scale) {
    double loss = 0;
    for (int i = 0; i < B; i++) {
        float l = logit[i];
        loss += (double)scale * ((l > 0 ? l : 0) - l * label + log1pf(expf(-fabsf(l))));
        if (dlogit) dlogit[i] += scale * (sigmoidf_stable(l) - label);
    }
    return loss;
}

// Eight running sums in double, one per lane (a fixed order, so the same bits on every machine and
// clone), then added in a fixed tree: the loss report runs it over every parameter at every evaluation.
typedef float f32x8 __attribute__((vector_size(32), aligned(4)));
typedef double f64x8 __attribute__((vector_size(64)));
HOT_LOOP double l2_half(const float *params, size_t n) {
    f64x8 acc = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const f64x8 x = __builtin_convertvector(*(const f32x8 *)(params + i), f64x8);
        acc += x * x;
    }
    double s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    for (; i < n; i++) s += (double)params[i] * params[i];
    return 0.5 * s;
}

// ---- Adam -------------------------------------------------------------------------------------

// Reads and zeroes grad (the next step accumulates from zero without a separate pass).
HOT_LOOP static void adam_kernel(float *restrict w, float *restrict grad, float *restrict m, float *restrict v,
                                 size_t n, float lr_t, const AdamHyper *h) {
    const float b1 = h->beta1, b2 = h->beta2, eps = h->eps, reg = h->reg;
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] + reg * w[i];
        grad[i] = 0;
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        w[i] -= lr_t * m[i] / (sqrtf(v[i]) + eps);
    }
}

void adam_update(Mlp *self, const AdamHyper *h) {
    const double t = (double)++self->step;
    const float lr_t = (float)(h->lr * sqrt(1.0 - pow(h->beta2, t)) / (1.0 - pow(h->beta1, t)));
    adam_kernel(self->params, self->grads, self->m, self->v, self->n_params, lr_t, h);
}
