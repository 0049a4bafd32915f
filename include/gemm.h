// gemm: the layers' dense products, C = beta·C + op(A)·op(B) on row-major floats (beta 0 or 1).
// Products with small weight matrices (up to 2 MiB: A·B at any number of rows) and of small
// batches (up to 64 rows: A·Bᵀ with long rows, weight gradients Aᵀ·B) go to cfgan's own AVX-512
// kernels, which stream the weights from cache without packing them (OpenBLAS packs the whole
// weight matrix on every call, which costs about as much as the product at 16 rows); every other
// shape, every CPU without AVX-512 and every process with more than one BLAS thread (the own
// kernels are single-threaded) goes to OpenBLAS's cblas_sgemm, and so does a beta other than 0 or
// 1. Every call is recorded with timer_gemm under its cblas shape.
#ifndef CFGAN_GEMM_H
#define CFGAN_GEMM_H

// C (M, N) = beta·C + A (M, K) · B (K, N)
void gemm_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
// C (M, N) = beta·C + A (M, K) · B (N, K)ᵀ
void gemm_nt(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
// C (M, N) = beta·C + A (K, M)ᵀ · B (K, N)  (K is the batch: a weight gradient)
void gemm_tn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

// Which products the own kernels take: "auto" (the shapes above, when the CPU has AVX-512 and
// OpenBLAS runs one thread) or "openblas" (none). Returns 0 for an unknown name. Default:
// $CFGAN_GEMM (an unknown value is a fatal input error), else "auto".
int gemm_select(const char *mode);
// One line for run records: "own AVX-512 kernels for small batches, OpenBLAS otherwise" or similar.
const char *gemm_choice(void);

// The own kernels' arithmetic as plain loops, in the same order (tests compare them bit for bit):
// each output is a sum from zero over k in order, one fused multiply-add per term, then added to
// beta·C. gemm_nt_ref sums k in 16 strided lanes and adds the lanes in a fixed tree, as the kernel does.
void gemm_nn_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
void gemm_nt_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
void gemm_tn_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
// 1 if the own kernel takes this shape (op: 'n' = nn, 't' = nt, 'w' = tn) on this CPU and selection.
int gemm_is_own(char op, int M, int N, int K);

#endif
