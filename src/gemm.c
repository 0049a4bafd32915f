// gemm: the layers' dense products -- own AVX-512 kernels for small batches, OpenBLAS for the rest.
//
// Why own kernels: a G step at np=2 multiplies 16 rows by a 400 x 943 weight matrix. OpenBLAS packs
// the whole weight matrix into its panel layout on every call, and at 16 rows that copy costs about
// as much as the arithmetic (sgemm reached 40-45% of its peak at these shapes). The kernels here
// read the weights where they are (row-major, from L2) and keep a tile of the output in registers:
//   nn  C += A·B:  8 rows x 48 columns of C in 24 registers; per k, three loads of B's row and one
//                  broadcast of A per row;
//   tn  C += Aᵀ·B: the same tile (a weight gradient summed over the short batch), A read across;
//   nt  C += A·Bᵀ: 6 rows of A against 4 rows of B, 16-lane partial dot products over k, each
//                  added up in a fixed tree at the end.
// Each output is a sum from zero over k in order with one fused multiply-add per term (nt: in 16
// strided lanes, then a fixed tree), then added to beta·C. So an output's bits do not depend on the
// tile, on how many rows are in the call, or on which rank computes it -- and gemm_*_ref reproduce
// them with plain loops. nn picks its kernel by the weights' size alone, so that holds for it at any
// number of rows; nt and tn take batches of up to 64 rows.
#include "gemm.h"

#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "timer.h"
#include "util.h"

#define OWN_TARGET __attribute__((target("avx512f,fma")))
#define INLINE static inline __attribute__((always_inline))
#define MAX_SMALL 64             // nt, tn: batches up to this many rows go to the own kernels
#define MAX_NN_WEIGHTS (1 << 19) // nn: weight matrices up to 2 MiB (they stay in L2), any number of rows
#define PREFETCH_ROWS 16         // nn, tn: rows of B ahead (a row is 12 cycles of FMAs; L3 ~100 away)

static int g_mode = -1; // -1 not decided yet, 0 OpenBLAS only, 1 own kernels where they are faster
static int g_avx512 = -1;

static int cpu_avx512(void) {
#ifdef CFGAN_GEMM_BLAS_ONLY
    g_avx512 = 0;
#endif
    if (g_avx512 < 0) {
        __builtin_cpu_init();
        g_avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
    }
    return g_avx512;
}

int gemm_select(const char *mode) {
    if (strcmp(mode, "auto") == 0) g_mode = 1;
    else if (strcmp(mode, "openblas") == 0) g_mode = 0;
    else return 0;
    return 1;
}

static int own_enabled(void) {
    if (g_mode < 0) {
        const char *env = getenv("CFGAN_GEMM");
        if (!env) g_mode = 1;
        else if (!gemm_select(env)) die(EXIT_INPUT, "CFGAN_GEMM=%s: expected auto or openblas", env);
    }
    // the own kernels run on one thread: with several BLAS threads in the process OpenBLAS's threaded
    // sgemm wins (np=1 on 2 cores: G's backward pass 1.25 s with the own kernels, 0.9 s threaded)
    return g_mode == 1 && cpu_avx512() && openblas_get_num_threads() == 1;
}

const char *gemm_choice(void) {
#ifdef CFGAN_GEMM_BLAS_ONLY
    return "OpenBLAS for every product (built without the own kernels)";
#endif
    if (!own_enabled())
        return !cpu_avx512()                     ? "OpenBLAS for every product (no AVX-512 on this CPU)"
               : openblas_get_num_threads() > 1 ? "OpenBLAS for every product (several BLAS threads)"
                                                : "OpenBLAS for every product (CFGAN_GEMM=openblas)";
    return "own AVX-512 kernels for products with weights up to 2 MiB and for batches of up to 64 rows, OpenBLAS "
           "for the rest (one BLAS thread)";
}

int gemm_is_own(char op, int M, int N, int K) {
    if (!own_enabled() || M < 1 || N < 1 || K < 1) return 0;
    switch (op) {
    // nn decides on the weights alone, so a row's bits never depend on how many rows are computed
    // with it (G's outputs for the D phase come in blocks of 256 rows, in the G step per batch)
    case 'n': return (size_t)K * (size_t)N <= MAX_NN_WEIGHTS;
    case 't': return M <= MAX_SMALL && K >= 256; // short dot products lose to the lane sums
    case 'w': return K <= MAX_SMALL;
    }
    return 0;
}

#ifndef CFGAN_GEMM_BLAS_ONLY // the fuzz build leaves the kernels out (clang takes minutes over them)

// ---- nn and tn: C (M, N) = beta·C + op(A) · B (K, N) ------------------------------------------
// op(A)[i][k] = A[i·a_row + k·a_k]: nn has (lda, 1), tn (1, lda).

INLINE OWN_TARGET __m512 load_mask(__mmask16 m, const float *p) { return _mm512_maskz_loadu_ps(m, p); }

// One tile: MR rows of C (MR <= 8) by NV vectors of 16 columns (the last one masked by `last`).
INLINE OWN_TARGET void axb_tile(const int MR, const int NV, int K, const float *A, size_t a_row, size_t a_k,
                                const float *B, size_t ldb, float beta, float *C, size_t ldc, __mmask16 last) {
    __m512 acc[8][3];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        __m512 b[3];
        const float *bk = B + (size_t)k * ldb, *ak = A + (size_t)k * a_k;
        const float *pf = k + PREFETCH_ROWS < K ? bk + PREFETCH_ROWS * ldb : bk; // stay inside B
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) { // B's rows are far apart: the hardware prefetchers miss them
            _mm_prefetch((const char *)(pf + 16 * v), _MM_HINT_T0);
            b[v] = v == NV - 1 ? load_mask(last, bk + 16 * v) : _mm512_loadu_ps(bk + 16 * v);
        }
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            const __m512 a = _mm512_set1_ps(ak[i * a_row]);
#pragma GCC unroll 3
            for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(a, b[v], acc[i][v]);
        }
    }
    const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) {
            float *c = C + i * ldc + 16 * v;
            const __mmask16 m = v == NV - 1 ? last : 0xffff;
            const __m512 c0 = beta == 0.0f ? zero : load_mask(m, c);
            _mm512_mask_storeu_ps(c, m, _mm512_add_ps(c0, acc[i][v]));
        }
}

// MR rows of C by NV vectors of columns (the last masked by `last`).
static OWN_TARGET void axb_block(int MR, int NV, int K, const float *A, size_t a_row, size_t a_k, const float *B,
                                 size_t ldb, float beta, float *C, size_t ldc, __mmask16 last) {
#define AXB_CASE(R)                                                                                 \
    case R:                                                                                          \
        if (NV == 3) axb_tile(R, 3, K, A, a_row, a_k, B, ldb, beta, C, ldc, last);                   \
        else if (NV == 2) axb_tile(R, 2, K, A, a_row, a_k, B, ldb, beta, C, ldc, last);              \
        else axb_tile(R, 1, K, A, a_row, a_k, B, ldb, beta, C, ldc, last);                           \
        break;
    switch (MR) { AXB_CASE(8) AXB_CASE(7) AXB_CASE(6) AXB_CASE(5) AXB_CASE(4) AXB_CASE(3) AXB_CASE(2) AXB_CASE(1) }
#undef AXB_CASE
}

static OWN_TARGET void axb_own(int M, int N, int K, const float *A, size_t a_row, size_t a_k, const float *B,
                               size_t ldb, float beta, float *C, size_t ldc) {
    // 48 columns of B at a time, every row block against them before the next (B is read from
    // memory or another core's cache once, the other row blocks find it in L1/L2); row blocks of at
    // most 8, as even as possible (34 rows: 7, 7, 7, 7, 6 rather than 8, 8, 8, 8, 2)
    const int blocks = (M + 7) / 8;
    for (int j = 0; j < N; j += 48) {
        const int cols = N - j < 48 ? N - j : 48, nv = (cols + 15) / 16;
        const __mmask16 last = (__mmask16)(cols % 16 ? (1u << (cols % 16)) - 1 : 0xffff);
        for (int b = 0, i = 0; b < blocks; b++) {
            const int mr = (M - i) / (blocks - b);
            axb_block(mr, nv, K, A + (size_t)i * a_row, a_row, a_k, B + j, ldb, beta, C + (size_t)i * ldc + j, ldc,
                      last);
            i += mr;
        }
    }
}

static void nn_own(int M, int N, int K, const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                   size_t ldc) {
    axb_own(M, N, K, A, lda, 1, B, ldb, beta, C, ldc);
}

static void tn_own(int M, int N, int K, const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                   size_t ldc) {
    axb_own(M, N, K, A, 1, lda, B, ldb, beta, C, ldc);
}

// ---- nt: C (M, N) = beta·C + A (M, K) · B (N, K)ᵀ ---------------------------------------------

// Sum of the 16 lanes in a fixed tree: l + l+8, then + l+4, + l+2, + l+1 (gemm_nt_ref does the same).
INLINE OWN_TARGET float lane_sum(__m512 x) {
    const __m256 lo = _mm512_castps512_ps256(x);
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1));
    const __m256 s8 = _mm256_add_ps(lo, hi);
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

// One tile: MR rows of A (MR <= 6) against NR rows of B (NR <= 4).
INLINE OWN_TARGET void nt_tile(const int MR, const int NR, int K, const float *A, size_t lda, const float *B,
                               size_t ldb, float beta, float *C, size_t ldc) {
    __m512 acc[6][4];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_ps();
    for (int k = 0; k < K; k += 16) { // whole vectors, then one masked (its 0·0 terms add nothing)
        const __mmask16 m = K - k >= 16 ? 0xffff : (__mmask16)((1u << (K - k)) - 1);
        __m512 b[4];
        if (m == 0xffff) {
#pragma GCC unroll 4
            for (int j = 0; j < NR; j++) b[j] = _mm512_loadu_ps(B + j * ldb + k);
#pragma GCC unroll 6
            for (int i = 0; i < MR; i++) {
                const __m512 a = _mm512_loadu_ps(A + i * lda + k);
#pragma GCC unroll 4
                for (int j = 0; j < NR; j++) acc[i][j] = _mm512_fmadd_ps(a, b[j], acc[i][j]);
            }
            continue;
        }
#pragma GCC unroll 4
        for (int j = 0; j < NR; j++) b[j] = load_mask(m, B + j * ldb + k);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            const __m512 a = load_mask(m, A + i * lda + k);
#pragma GCC unroll 4
            for (int j = 0; j < NR; j++) acc[i][j] = _mm512_fmadd_ps(a, b[j], acc[i][j]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < NR; j++) {
            float *c = C + i * ldc + j;
            *c = (beta == 0.0f ? 0.0f : *c) + lane_sum(acc[i][j]);
        }
}

INLINE OWN_TARGET void nt_rows(const int MR, int N, int K, const float *A, size_t lda, const float *B, size_t ldb,
                               float beta, float *C, size_t ldc) {
    int j = 0;
    for (; j + 4 <= N; j += 4) nt_tile(MR, 4, K, A, lda, B + j * ldb, ldb, beta, C + j, ldc);
    switch (N - j) {
    case 3: nt_tile(MR, 3, K, A, lda, B + j * ldb, ldb, beta, C + j, ldc); break;
    case 2: nt_tile(MR, 2, K, A, lda, B + j * ldb, ldb, beta, C + j, ldc); break;
    case 1: nt_tile(MR, 1, K, A, lda, B + j * ldb, ldb, beta, C + j, ldc); break;
    }
}

static OWN_TARGET void nt_own(int M, int N, int K, const float *A, size_t lda, const float *B, size_t ldb, float beta,
                              float *C, size_t ldc) {
    const int blocks = (M + 5) / 6;
    for (int b = 0, i = 0; b < blocks; b++) {
        const int mr = (M - i) / (blocks - b);
        const float *a = A + (size_t)i * lda;
        float *c = C + (size_t)i * ldc;
        switch (mr) {
        case 6: nt_rows(6, N, K, a, lda, B, ldb, beta, c, ldc); break;
        case 5: nt_rows(5, N, K, a, lda, B, ldb, beta, c, ldc); break;
        case 4: nt_rows(4, N, K, a, lda, B, ldb, beta, c, ldc); break;
        case 3: nt_rows(3, N, K, a, lda, B, ldb, beta, c, ldc); break;
        case 2: nt_rows(2, N, K, a, lda, B, ldb, beta, c, ldc); break;
        default: nt_rows(1, N, K, a, lda, B, ldb, beta, c, ldc); break;
        }
        i += mr;
    }
}

#else
#define nn_own(...) abort()
#define nt_own(...) abort()
#define tn_own(...) abort()
#endif

// ---- dispatch ---------------------------------------------------------------------------------

void gemm_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    timer_gemm(M, N, K, 0, 0);
    if ((beta == 0.0f || beta == 1.0f) && gemm_is_own('n', M, N, K)) nn_own(M, N, K, A, (size_t)lda, B, (size_t)ldb, beta, C, (size_t)ldc);
    else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

void gemm_nt(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    timer_gemm(M, N, K, 0, 1);
    if ((beta == 0.0f || beta == 1.0f) && gemm_is_own('t', M, N, K)) nt_own(M, N, K, A, (size_t)lda, B, (size_t)ldb, beta, C, (size_t)ldc);
    else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

void gemm_tn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    timer_gemm(M, N, K, 1, 0);
    if ((beta == 0.0f || beta == 1.0f) && gemm_is_own('w', M, N, K)) tn_own(M, N, K, A, (size_t)lda, B, (size_t)ldb, beta, C, (size_t)ldc);
    else cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

// ---- reference loops (the kernels' order) -----------------------------------------------------

// nn and tn: op(A)[i][k] = A[i·a_row + k·a_k], as in axb_own
static void axb_ref(int M, int N, int K, const float *A, size_t a_row, size_t a_k, const float *B, int ldb, float beta,
                    float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0.0f;
            for (int k = 0; k < K; k++) s = fmaf(A[i * a_row + k * a_k], B[(size_t)k * ldb + j], s);
            float *c = C + (size_t)i * ldc + j;
            *c = (beta == 0.0f ? 0.0f : *c) + s;
        }
}

void gemm_nn_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    axb_ref(M, N, K, A, (size_t)lda, 1, B, ldb, beta, C, ldc);
}

void gemm_nt_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float lane[16] = {0};
            for (int k0 = 0; k0 < K; k0 += 16)
                for (int l = 0; l < 16; l++) { // past K the kernel's masked loads give 0·0 terms
                    const int k = k0 + l;
                    lane[l] = k < K ? fmaf(A[(size_t)i * lda + k], B[(size_t)j * ldb + k], lane[l]) : fmaf(0.0f, 0.0f, lane[l]);
                }
            for (int w = 8; w >= 1; w /= 2)
                for (int l = 0; l < w; l++) lane[l] += lane[l + w];
            float *c = C + (size_t)i * ldc + j;
            *c = (beta == 0.0f ? 0.0f : *c) + lane[0];
        }
}

void gemm_tn_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    axb_ref(M, N, K, A, 1, (size_t)lda, B, ldb, beta, C, ldc);
}
