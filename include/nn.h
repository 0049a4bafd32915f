// nn: dense and sparse-input layers, activations, BCE-with-logits, L2 and optimizers on flat buffers.
// Kernel convention: outputs first, then inputs, then weights, then sizes. Backward kernels
// ACCUMULATE (+=) into every gradient they write; callers zero gradient buffers once per step.
// Weights are stored (in, out) row-major, so a layer is Y = X·W + b.
#ifndef CFGAN_NN_H
#define CFGAN_NN_H

#include <stddef.h>
#include <stdint.h>

#define NN_MAX_LAYERS 17

typedef enum { ACT_LINEAR, ACT_SIGMOID, ACT_TANH, ACT_RELU } Act;

// A stack of dense layers with one flat buffer per role (params, grads, Adam m, Adam v).
typedef struct {
    int n_layers;
    int dims[NN_MAX_LAYERS + 1];          // dims[0] input width, dims[l + 1] output width of layer l
    Act act[NN_MAX_LAYERS];               // activation after layer l
    size_t w_off[NN_MAX_LAYERS];          // W_l (dims[l], dims[l+1]) at params + w_off[l]
    size_t b_off[NN_MAX_LAYERS];          // b_l (dims[l+1]) at params + b_off[l]
    size_t n_params;
    float *params, *grads, *m, *v;        // (n_alloc) each, n_alloc >= n_params + 2, zero past n_params
    size_t n_alloc;                       // room for padding (a sharded optimizer splits n_alloc evenly)
    int64_t step;                         // optimizer updates applied (Adam's t)
    float *block;                         // (n_block) scratch of the factored updates (made at the first)
    size_t n_block;                       // >= NN_FACTOR_BLOCK and >= 16 x the widest layer
} Mlp;

// Floats of weight gradient formed at once from its factors (128 KB: stays in L2), at least.
#define NN_FACTOR_BLOCK 32768

void mlp_init(Mlp *self, int n_layers, const int *dims, const Act *acts);
// Grow every buffer to hold at least n floats (the tail stays zero).
void mlp_reserve(Mlp *self, size_t n);
// db += the sum of the B rows of dout (B x OUT): a bias gradient.
void bias_grad_add(float *restrict db, const float *restrict dout, int B, int OUT);
// The reference initialisation: W ~ U(±sqrt(6/(fan_in+fan_out))), b ~ U(±0.01), drawn from the
// stream (seed, RNG_INIT, net_id, layer); Adam state and step zeroed.
void mlp_init_reference(Mlp *self, uint64_t seed, uint32_t net_id);
void mlp_free(Mlp *self);
static inline float *mlp_w(const Mlp *self, int l) { return self->params + self->w_off[l]; }
static inline float *mlp_b(const Mlp *self, int l) { return self->params + self->b_off[l]; }
static inline float *mlp_dw(const Mlp *self, int l) { return self->grads + self->w_off[l]; }
static inline float *mlp_db(const Mlp *self, int l) { return self->grads + self->b_off[l]; }

// out (B, OUT) = in (B, IN) · w (IN, OUT) + b
void dense_forward(float *out, const float *in, const float *w, const float *b, int B, int IN, int OUT);
// din += dout·wᵀ (skipped when din is NULL); dw += inᵀ·dout (skipped when dw is NULL); db += Σ_B dout
void dense_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                    int IN, int OUT);
// Slow, obvious loop versions (tests compare against them).
void dense_forward_ref(float *out, const float *in, const float *w, const float *b, int B, int IN, int OUT);
void dense_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                        int IN, int OUT);

// A batch of sparse 0/1 input rows: row b holds columns col[ptr[b]..ptr[b+1]).
typedef struct {
    int B;
    const int64_t *ptr; // (B + 1) start of each row in col (ptr[0] may be > 0)
    const int32_t *col; // column indices
} SparseBatch;

// out (B, OUT) (+)= X · w: accumulate=0 writes b + X·w (b may be NULL for 0), accumulate=1 adds X·w.
void sparse_forward(float *out, const SparseBatch *x, const float *w, const float *b, int OUT, int accumulate);
// The same with W's rows ldw floats apart (a block of columns of a wider matrix).
void sparse_forward_ld(float *out, const SparseBatch *x, const float *w, size_t ldw, const float *b, int OUT,
                       int accumulate);
// dw += Xᵀ·dout (rows of w touched by the nonzeros only)
void sparse_backward_w(float *dw, const float *dout, const SparseBatch *x, int OUT);
// Plain row-by-row loops adding the same terms in the same order (tests expect identical bits).
void sparse_forward_ref(float *out, const SparseBatch *x, const float *w, const float *b, int OUT, int accumulate);
void sparse_backward_w_ref(float *dw, const float *dout, const SparseBatch *x, int OUT);

// y = act(y) in place, n elements.
void act_forward(float *restrict y, size_t n, Act act);
// dpre = dy ⊙ act'(·) expressed through the activation's output y, in place on dy.
void act_backward(float *restrict dy, const float *restrict y, size_t n, Act act);

// Σ_b scale·bce(logit_b, label) with the stable form max(l,0) − l·y + log(1 + e^−|l|);
// dlogit[b] += scale·(σ(l_b) − label). Returns the (double) loss sum.
double bce_logits(float *dlogit, const float *logit, float label, int B, float scale);
float sigmoidf_stable(float x);
// The vectorisable exp used by the sigmoid activation (within 2 ulp of expf on [-87, 88]).
float exp_approx(float x);

// Σ w²/2 over the whole parameter buffer, accumulated in double.
double l2_half(const float *params, size_t n);
// grads += reg · params (the gradient of reg · l2_half).
void l2_grad(float *grads, const float *params, size_t n, float reg);

// Adam in TensorFlow's form on g = grads + reg·params (the L2 gradient fused in):
// lr_t = lr·√(1−β2^t)/(1−β1^t), m = β1·m + (1−β1)·g, v = β2·v + (1−β2)·g², w −= lr_t·m/(√v + ε).
// The optimizers consume the gradient: they leave what they read at zero, ready for the next step.
void adam_update(Mlp *self, float lr, float beta1, float beta2, float eps, float reg);
// The same update on parameters [lo, hi) only, with their gradient at grad (hi - lo floats): a
// sharded optimizer (each rank updates its slice). Increments step.
void adam_update_range(Mlp *self, size_t lo, size_t hi, float *grad, float lr, float beta1, float beta2,
                       float eps, float reg);
// The same on [lo, hi) with the gradient Σ_r parts[r][0 .. hi - lo), summed in the order given
// (chunk by chunk, so the sum never goes back to memory); every part is left at zero. The sharded
// update reading each rank's gradient slice straight from node-shared memory.
void adam_update_summed(Mlp *self, size_t lo, size_t hi, float *const *parts, int n_parts, float lr, float beta1,
                        float beta2, float eps, float reg);
// ---- Adam with the weight gradients formed from their factors ----
// A layer's weight gradient is a sum over the batch rows of outer products, dW = Σ_r in[r]ᵀ·dout[r]
// (one part per rank, B[r] rows each). With batches much smaller than the layer these factors are
// B·(IN + OUT) floats against IN·OUT, so the optimizer can form any rows of dW block by block in
// cache and update them at once: no gradient buffer is written, exchanged, summed or cleared. The
// sums are the ones the buffered path adds (each part from zero, then the parts in order): the same
// bits for a sparse input, and for a dense one with the own GEMM kernels (gemm.h); through OpenBLAS
// sgemm may round a band of the matrix differently from the whole in the last bit.
typedef struct {
    int n_parts;
    const int *B;               // (n_parts) rows of each part (0: none)
    const float *const *in;     // (n_parts) B[r] x IN: the layer's dense input, or NULL when x is given
    const SparseBatch *x;       // (n_parts) the layer's sparse 0/1 input rows, or NULL
    const float *const *dout;   // (n_parts) B[r] x OUT: the gradient at the layer's pre-activation
    // zero for whole layers; a rank that owns a slice of the hidden units (run.split_hidden) has
    // factors for its slice only:
    int ld_in, k_base;          // dense: in[r] has row stride ld_in and holds W's rows from k_base
    // sparse: columns [col_lo, col_hi) of W's rows (col_hi = 0: all of them); dout rows that wide,
    // stride ld_dout
    int col_lo, col_hi, ld_dout;
} LayerFactors;

// Count an update and return its bias-corrected rate (one call per step, before the ranges below).
float adam_step_rate(Mlp *self, float lr, float beta1, float beta2);
// Adam on [lo, hi) with the gradient at grad (hi - lo floats, left at zero).
void adam_range(Mlp *self, size_t lo, size_t hi, float *grad, float lr_t, float beta1, float beta2, float eps,
                float reg);
// Adam on [lo, hi) with the gradient Σ_r grads[r][i] (whole-network buffers, summed in the order
// given; every entry read is left at zero).
void adam_range_summed(Mlp *self, size_t lo, size_t hi, float *const *grads, int n_parts, float lr_t, float beta1,
                       float beta2, float eps, float reg);
// Adam on rows [row_lo, row_hi) of W_l with their gradient formed from f. scratch: (n_parts ·
// (row_hi − row_lo + 1) + Σ_r nnz of f->x[r]) ints when the input is sparse, else unused.
void adam_rows_factored(Mlp *self, int l, int row_lo, int row_hi, const LayerFactors *f, int32_t *scratch,
                        float lr_t, float beta1, float beta2, float eps, float reg);

// w −= lr·(grads + reg·params).
void sgd_update(Mlp *self, float lr, float reg);

#endif
