// nn: layer kernels on flat buffers (gemm.c for dense products, row gathers for sparse inputs),
// activations, BCE-with-logits, L2 and the optimizers.
#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
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

void mlp_reserve(Mlp *self, size_t n) {
    if (n <= self->n_alloc) return;
    float **bufs[4] = {&self->params, &self->grads, &self->m, &self->v};
    for (int i = 0; i < 4; i++) {
        *bufs[i] = xrealloc(*bufs[i], n * sizeof(float));
        memset(*bufs[i] + self->n_alloc, 0, (n - self->n_alloc) * sizeof(float));
    }
    self->n_alloc = n;
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
    free(self->block);
    memset(self, 0, sizeof *self);
}

// ---- dense layers -----------------------------------------------------------------------------

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

void dense_forward_ref(float *out, const float *in, const float *w, const float *b, int B, int IN, int OUT) {
    for (int i = 0; i < B; i++)
        for (int o = 0; o < OUT; o++) {
            double s = b[o];
            for (int k = 0; k < IN; k++) s += (double)in[(size_t)i * IN + k] * w[(size_t)k * OUT + o];
            out[(size_t)i * OUT + o] = (float)s;
        }
}

void dense_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                        int IN, int OUT) {
    for (int i = 0; i < B; i++)
        for (int o = 0; o < OUT; o++) {
            float d = dout[(size_t)i * OUT + o];
            if (db) db[o] += d;
            for (int k = 0; k < IN; k++) {
                if (din) din[(size_t)i * IN + k] += d * w[(size_t)k * OUT + o];
                if (dw) dw[(size_t)k * OUT + o] += in[(size_t)i * IN + k] * d;
            }
        }
}

// ---- sparse-input layers ----------------------------------------------------------------------
// The first layers gather (forward) or scatter-add (weight gradient) one weight row per nonzero.
// Weight matrices of the real sets (6,040 x 300 floats on ML1M) do not fit in L2, so the batch is
// walked once per 64-column tile of the output: the tile's slice of W (or dW) stays in L2 while
// every row of the batch uses it, and in the gather a row's sum stays in registers. Each output
// element still adds the same terms in the same order, so results are bit-identical to the plain
// row-by-row loop (sparse_forward_ref and sparse_backward_w_ref, kept for the tests; the backward's
// last tile adds +0 to columns already done, which can only turn a -0 into +0).

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
    sparse_forward_ld(out, x, w, (size_t)OUT, b, OUT, accumulate);
}

void sparse_forward_ld(float *out, const SparseBatch *x, const float *w, size_t ldw, const float *b, int OUT,
                       int accumulate) {
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

void sparse_forward_ref(float *out, const SparseBatch *x, const float *w, const float *b, int OUT, int accumulate) {
    for (int i = 0; i < x->B; i++) {
        float *y = out + (size_t)i * OUT;
        for (int o = 0; o < OUT && !accumulate; o++) y[o] = b ? b[o] : 0;
        for (int64_t k = x->ptr[i]; k < x->ptr[i + 1]; k++)
            for (int o = 0; o < OUT; o++) y[o] += w[(size_t)x->col[k] * OUT + o];
    }
}

void sparse_backward_w_ref(float *dw, const float *dout, const SparseBatch *x, int OUT) {
    for (int i = 0; i < x->B; i++)
        for (int64_t k = x->ptr[i]; k < x->ptr[i + 1]; k++)
            for (int o = 0; o < OUT; o++) dw[(size_t)x->col[k] * OUT + o] += dout[(size_t)i * OUT + o];
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

void l2_grad(float *grads, const float *params, size_t n, float reg) {
    if (reg == 0) return;
    for (size_t i = 0; i < n; i++) grads[i] += reg * params[i];
}

// ---- optimizers -------------------------------------------------------------------------------


// Reads and zeroes grad (the next step accumulates from zero without a separate pass).
HOT_LOOP static void adam_kernel(float *restrict w, float *restrict grad, float *restrict m, float *restrict v,
                                 size_t n, float lr_t, float beta1, float beta2, float eps, float reg) {
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] + reg * w[i];
        grad[i] = 0;
        m[i] = beta1 * m[i] + (1 - beta1) * g;
        v[i] = beta2 * v[i] + (1 - beta2) * g * g;
        w[i] -= lr_t * m[i] / (sqrtf(v[i]) + eps);
    }
}

// Count the update and return TensorFlow's bias-corrected rate lr·√(1−β2^t)/(1−β1^t).
float adam_step_rate(Mlp *self, float lr, float beta1, float beta2) {
    const double t = (double)++self->step;
    return (float)(lr * sqrt(1.0 - pow(beta2, t)) / (1.0 - pow(beta1, t)));
}

void adam_update(Mlp *self, float lr, float beta1, float beta2, float eps, float reg) {
    const float lr_t = adam_step_rate(self, lr, beta1, beta2);
    adam_kernel(self->params, self->grads, self->m, self->v, self->n_params, lr_t, beta1, beta2, eps, reg);
}

void adam_update_range(Mlp *self, size_t lo, size_t hi, float *grad, float lr, float beta1, float beta2,
                       float eps, float reg) {
    const float lr_t = adam_step_rate(self, lr, beta1, beta2);
    if (hi > self->n_params) hi = self->n_params; // padding past the parameters stays zero
    if (lo < hi) adam_kernel(self->params + lo, grad, self->m + lo, self->v + lo, hi - lo, lr_t, beta1, beta2, eps, reg);
}

HOT_LOOP static void move_and_zero(float *restrict dst, float *restrict src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = src[i], src[i] = 0;
}

HOT_LOOP static void add_and_zero(float *restrict acc, float *restrict x, size_t n) {
    for (size_t i = 0; i < n; i++) acc[i] += x[i], x[i] = 0;
}

// [lo, hi) with the gradient Σ_r parts[r][i - base], chunk by chunk in L1 (the sum never goes
// back to memory), each chunk updated at once.
static void adam_chunks_summed(Mlp *self, size_t lo, size_t hi, size_t base, float *const *parts, int n_parts,
                               float lr_t, float beta1, float beta2, float eps, float reg) {
    enum { CHUNK = 1024 };
    float acc[CHUNK];
    for (size_t off = lo; off < hi; off += CHUNK) {
        const size_t n = hi - off < CHUNK ? hi - off : CHUNK;
        move_and_zero(acc, parts[0] + (off - base), n);
        for (int r = 1; r < n_parts; r++) add_and_zero(acc, parts[r] + (off - base), n);
        adam_kernel(self->params + off, acc, self->m + off, self->v + off, n, lr_t, beta1, beta2, eps, reg);
    }
}

void adam_update_summed(Mlp *self, size_t lo, size_t hi, float *const *parts, int n_parts, float lr, float beta1,
                        float beta2, float eps, float reg) {
    const float lr_t = adam_step_rate(self, lr, beta1, beta2);
    if (hi > self->n_params) hi = self->n_params; // padding past the parameters stays zero
    if (lo < hi) adam_chunks_summed(self, lo, hi, lo, parts, n_parts, lr_t, beta1, beta2, eps, reg);
}

void adam_range(Mlp *self, size_t lo, size_t hi, float *grad, float lr_t, float beta1, float beta2, float eps,
                float reg) {
    if (lo < hi) adam_kernel(self->params + lo, grad, self->m + lo, self->v + lo, hi - lo, lr_t, beta1, beta2, eps, reg);
}

void adam_range_summed(Mlp *self, size_t lo, size_t hi, float *const *grads, int n_parts, float lr_t, float beta1,
                       float beta2, float eps, float reg) {
    if (lo < hi) adam_chunks_summed(self, lo, hi, 0, grads, n_parts, lr_t, beta1, beta2, eps, reg);
}

// Dense input: rows [k0, k1) of dW, a block at a time, each block the sum of one product per part
// (the first writes it, the others add), then updated. With the own kernel (every part of up to 64
// rows, on AVX-512) a block is a run of whole rows, so Adam walks contiguous memory, and each part's
// sum starts from zero and is then added: the buffered path's (0 + p0) + p1, bit for bit. OpenBLAS
// is slow on a few rows (it packs the whole of dY per call), so there a block is a band of columns
// over all the rows; sgemm may block a band differently from the whole matrix: equal up to the last bit.
static void adam_rows_dense(Mlp *self, int l, int k0, int k1, const LayerFactors *f, float lr_t, float beta1,
                            float beta2, float eps, float reg) {
    const int OUT = self->dims[l + 1];
    const int IN = f->ld_in ? f->ld_in : self->dims[l]; // the factors' row stride
    float *acc = self->block;
    int own = 1;
    for (int r = 0; r < f->n_parts; r++) own &= f->B[r] == 0 || gemm_is_own('w', 1, OUT, f->B[r]);
    // the block: `step` rows by `band` columns, both >= 16 (mlp_factor_block)
    const int step = own ? (int)(self->n_block / (size_t)OUT) : k1 - k0;
    const int band = own ? OUT : (int)(self->n_block / (size_t)(k1 - k0));
    for (int k = k0; k < k1; k += step) {
        const int n = k1 - k < step ? k1 - k : step;
        for (int j = 0; j < OUT; j += band) {
            const int cols = OUT - j < band ? OUT - j : band;
            int first = 1;
            for (int r = 0; r < f->n_parts; r++) {
                if (f->B[r] == 0) continue;
                // block = [block +] Xᵀ·dY over part r's rows
                gemm_tn(n, cols, f->B[r], f->in[r] + (k - f->k_base), IN, f->dout[r] + j, OUT, first ? 0.0f : 1.0f,
                        acc, cols);
                first = 0;
            }
            if (first) memset(acc, 0, (size_t)n * (size_t)cols * sizeof(float));
            const size_t o = self->w_off[l] + (size_t)k * OUT + (size_t)j;
            if (cols == OUT) // whole rows: one contiguous run
                adam_kernel(self->params + o, acc, self->m + o, self->v + o, (size_t)n * OUT, lr_t, beta1, beta2, eps,
                            reg);
            else
                for (int i = 0; i < n; i++)
                    adam_kernel(self->params + o + (size_t)i * OUT, acc + (size_t)i * cols, self->m + o + (size_t)i * OUT,
                                self->v + o + (size_t)i * OUT, (size_t)cols, lr_t, beta1, beta2, eps, reg);
        }
    }
}

// Sparse 0/1 input: row k of dW is the sum of dout's rows b whose input has column k. Each part's
// batch is turned around once (which of its rows hold k, in batch order, for k in [k0, k1)); then a
// row's gradient is summed in L1, part by part, and updated at once.
static void adam_rows_sparse(Mlp *self, int l, int k0, int k1, const LayerFactors *f, int32_t *scratch, float lr_t,
                             float beta1, float beta2, float eps, float reg) {
    const int OUT = self->dims[l + 1], rows = k1 - k0;
    // columns [c0, c0 + W) of the rows; the factors' rows hold those columns only (stride ldd)
    const int c0 = f->col_lo, W = (f->col_hi ? f->col_hi : OUT) - c0;
    if (W <= 0) return; // an empty slice: nothing of these rows is this caller's
    const size_t ldd = f->ld_dout ? (size_t)f->ld_dout : (size_t)OUT;
    // start[r][k] .. start[r][k + 1]: the positions in list of part r's rows that hold column k0 + k
    int32_t *start = scratch, *list = scratch + (size_t)f->n_parts * (rows + 1);
    int32_t base = 0;
    for (int r = 0; r < f->n_parts; r++) { // a counting sort by column, stable in the batch order
        int32_t *st = start + (size_t)r * (rows + 1);
        const SparseBatch *x = &f->x[r];
        memset(st, 0, (size_t)(rows + 1) * sizeof *st);
        for (int64_t q = x->ptr[0]; q < x->ptr[f->B[r]]; q++)
            if (x->col[q] >= k0 && x->col[q] < k1) st[x->col[q] - k0 + 1]++;
        st[0] = base;
        for (int k = 1; k <= rows; k++) st[k] += st[k - 1];
        for (int b = 0; b < f->B[r]; b++) // st[k] serves as row k's cursor, ending at row k + 1's start
            for (int64_t q = x->ptr[b]; q < x->ptr[b + 1]; q++)
                if (x->col[q] >= k0 && x->col[q] < k1) list[st[x->col[q] - k0]++] = b;
        for (int k = rows - 1; k > 0; k--) st[k] = st[k - 1];
        st[0] = base;
        base = st[rows];
    }
    float *acc = self->block, *part = self->block + OUT;
    for (int k = 0; k < rows; k++) {
        memset(acc, 0, (size_t)W * sizeof(float));
        for (int r = 0; r < f->n_parts; r++) {
            const int32_t *st = start + (size_t)r * (rows + 1);
            if (r > 0 && st[k] == st[k + 1]) continue; // adding +0 changes nothing (acc is never -0)
            float *sum = r == 0 ? acc : part;
            if (r > 0) memset(part, 0, (size_t)W * sizeof(float));
            for (int32_t q = st[k]; q < st[k + 1]; q++) vec_add(sum, f->dout[r] + (size_t)list[q] * ldd, (size_t)W);
            if (r > 0) vec_add(acc, part, (size_t)W);
        }
        const size_t o = self->w_off[l] + (size_t)(k0 + k) * OUT + (size_t)c0;
        adam_kernel(self->params + o, acc, self->m + o, self->v + o, (size_t)W, lr_t, beta1, beta2, eps, reg);
    }
}

// The block the factored updates form gradients in, made at the first one (only a network trained
// that way needs it): at least NN_FACTOR_BLOCK floats, a band of 16 columns for the widest layer's
// rows and two of its rows (the sparse path's sum and part).
static void mlp_factor_block(Mlp *self) {
    if (self->block) return;
    self->n_block = NN_FACTOR_BLOCK;
    for (int l = 0; l <= self->n_layers; l++)
        if (16 * (size_t)self->dims[l] > self->n_block) self->n_block = 16 * (size_t)self->dims[l];
    self->block = xmalloc(self->n_block * sizeof(float));
}

void adam_rows_factored(Mlp *self, int l, int row_lo, int row_hi, const LayerFactors *f, int32_t *scratch,
                        float lr_t, float beta1, float beta2, float eps, float reg) {
    if (row_lo >= row_hi) return;
    mlp_factor_block(self);
    if (f->x) adam_rows_sparse(self, l, row_lo, row_hi, f, scratch, lr_t, beta1, beta2, eps, reg);
    else adam_rows_dense(self, l, row_lo, row_hi, f, lr_t, beta1, beta2, eps, reg);
}

void sgd_update(Mlp *self, float lr, float reg) {
    self->step++;
    float *w = self->params, *g = self->grads;
    for (size_t i = 0; i < self->n_params; i++) w[i] -= lr * (g[i] + reg * w[i]), g[i] = 0;
}
