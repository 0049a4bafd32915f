// nn: dense and sparse-input layers, activations, BCE-with-logits, L2 and Adam on flat buffers.
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
    float *params, *grads, *m, *v;        // (n_alloc) each, n_alloc = n_params + 2, zero past n_params
    size_t n_alloc;                       // + two spare gradient slots that carry flags in an allreduce
    int64_t step;                         // optimizer updates applied (Adam's t)
} Mlp;

void mlp_init(Mlp *self, int n_layers, const int *dims, const Act *acts);
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

// Row-major products through OpenBLAS, each recorded by shape for the performance record:
// C (M, N) = beta·C + A (M, K) · B (K, N)
void gemm_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
// C (M, N) = beta·C + A (M, K) · B (N, K)ᵀ
void gemm_nt(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
// C (M, N) = beta·C + A (K, M)ᵀ · B (K, N)  (K is the batch: a weight gradient)
void gemm_tn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

// out (B, OUT) = in (B, IN) · w (IN, OUT) + b
void dense_forward(float *out, const float *in, const float *w, const float *b, int B, int IN, int OUT);
// din += dout·wᵀ (skipped when din is NULL); dw += inᵀ·dout (skipped when dw is NULL); db += Σ_B dout
void dense_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w, int B,
                    int IN, int OUT);

// A batch of sparse 0/1 input rows: row b holds columns col[ptr[b]..ptr[b+1]).
typedef struct {
    int B;
    const int64_t *ptr; // (B + 1) start of each row in col (ptr[0] may be > 0)
    const int32_t *col; // column indices
} SparseBatch;

// out (B, OUT) (+)= X · w: accumulate=0 writes b + X·w (b may be NULL for 0), accumulate=1 adds X·w.
void sparse_forward(float *out, const SparseBatch *x, const float *w, const float *b, int OUT, int accumulate);
// dw += Xᵀ·dout (rows of w touched by the nonzeros only)
void sparse_backward_w(float *dw, const float *dout, const SparseBatch *x, int OUT);

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

// Adam's hyper-parameters, with the L2 weight that is fused into its gradient.
typedef struct {
    float lr, beta1, beta2, eps; // e.g. 1e-4, 0.9, 0.999, 1e-8
    float reg;                   // L2 weight: the gradient used is g + reg·w
} AdamHyper;

// One Adam step in TensorFlow's form with the gradient g = grads + reg·w: lr_t = lr·√(1−β2^t)/(1−β1^t),
// m = β1·m + (1−β1)·g, v = β2·v + (1−β2)·g², w −= lr_t·m/(√v + ε). Counts the step (t) and leaves
// the gradient at zero, ready for the next step's accumulation.
void adam_update(Mlp *self, const AdamHyper *h);

#endif
