// Tests of the own small-batch GEMM kernels: bit for bit against their plain-loop references
// (same order of operations) over shapes that hit every tile and tail, strided operands and beta
// 0/1; within float rounding of OpenBLAS; and an output's bits independent of the rows beside it
// (what keeps results from depending on how a batch is split over ranks).
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gemm.h"

static float *random_floats(size_t n, unsigned *seed) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        x[i] = (float)((*seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    return x;
}

typedef void GemmFn(int, int, int, const float *, int, const float *, int, float, float *, int);

// op: 'n' C += A·B, 't' C += A·Bᵀ, 'w' C += Aᵀ·B. Returns the number of mismatches against ref and
// checks the cblas result within tol (relative to the sum of |terms|).
static int compare(char op, int M, int N, int K, float beta, int pad, unsigned seed, double *worst_rel) {
    GemmFn *fast = op == 'n' ? gemm_nn : op == 't' ? gemm_nt : gemm_tn;
    GemmFn *ref = op == 'n' ? gemm_nn_ref : op == 't' ? gemm_nt_ref : gemm_tn_ref;
    const int ar = op == 'w' ? K : M, ac = op == 'w' ? M : K; // A's stored shape
    const int br = op == 't' ? N : K, bc = op == 't' ? K : N;
    const int lda = ac + pad, ldb = bc + pad, ldc = N + pad;
    float *A = random_floats((size_t)ar * lda, &seed), *B = random_floats((size_t)br * ldb, &seed);
    float *C0 = random_floats((size_t)M * ldc, &seed);
    if (beta == 0.0f) // beta 0 must not read C: NaN there would show
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C0[(size_t)i * ldc + j] = NAN;
    float *C1 = malloc((size_t)M * ldc * sizeof(float)), *C2 = malloc((size_t)M * ldc * sizeof(float));
    float *C3 = malloc((size_t)M * ldc * sizeof(float));
    memcpy(C1, C0, (size_t)M * ldc * sizeof(float));
    memcpy(C2, C0, (size_t)M * ldc * sizeof(float));
    memcpy(C3, C0, (size_t)M * ldc * sizeof(float));
    fast(M, N, K, A, lda, B, ldb, beta, C1, ldc);
    ref(M, N, K, A, lda, B, ldb, beta, C2, ldc);
    cblas_sgemm(CblasRowMajor, op == 'w' ? CblasTrans : CblasNoTrans, op == 't' ? CblasTrans : CblasNoTrans, M, N, K,
                1.0f, A, lda, B, ldb, beta, C3, ldc);
    int bad = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++) {
            const size_t q = (size_t)i * ldc + j;
            if (j >= N) { // padding must be untouched
                bad += memcmp(&C1[q], &C0[q], sizeof(float)) != 0;
                continue;
            }
            bad += memcmp(&C1[q], &C2[q], sizeof(float)) != 0;
            const double rel = fabs((double)C1[q] - C3[q]) / (K + 1.0);
            if (!(rel <= *worst_rel)) *worst_rel = isnan(rel) ? INFINITY : rel;
        }
    free(A), free(B), free(C0), free(C1), free(C2), free(C3);
    return bad;
}

int main(void) {
    openblas_set_num_threads(1); // the own kernels are used with one BLAS thread only
    if (!gemm_select("auto")) return 1;
    printf("# %s\n", gemm_choice());
    if (!gemm_is_own('n', 16, 16, 16)) {
        SKIP("gemm: the own kernels against their reference loop and OpenBLAS", "%s", gemm_choice());
        return 0;
    }
    static const int Ms[] = {1, 2, 3, 5, 6, 7, 8, 9, 13, 16, 17, 33, 34, 64, 100, 256};
    static const int Ns[] = {1, 2, 3, 4, 6, 14, 15, 16, 17, 31, 32, 33, 47, 48, 49, 80, 97, 125};
    static const int Ks[] = {1, 7, 16, 17, 64, 300};
    static const char ops[] = {'n', 't', 'w'};
    for (int o = 0; o < 3; o++) {
        char name[128];
        snprintf(name, sizeof name, "gemm: %s equals its reference loop bit for bit and OpenBLAS within rounding",
                 ops[o] == 'n' ? "A·B" : ops[o] == 't' ? "A·Bᵀ" : "Aᵀ·B");
        TEST(name, {
            int bad = 0, n = 0;
            double worst = 0;
            unsigned seed = 7;
            for (size_t a = 0; a < sizeof Ms / sizeof *Ms; a++)
                for (size_t b = 0; b < sizeof Ns / sizeof *Ns; b++)
                    for (size_t c = 0; c < sizeof Ks / sizeof *Ks; c++) {
                        int M = Ms[a], N = Ns[b], K = Ks[c];
                        if (ops[o] == 't' && K < 256) K += 256; // the own nt kernel takes long dot products
                        if (ops[o] != 'n' && M > 64) continue; // nt, tn: batches of up to 64 rows
                        if (ops[o] == 'w') { int t = M; M = K > 64 ? 64 : K; K = t; } // tn: the batch is K
                        if (!gemm_is_own(ops[o], M, N, K)) continue;
                        n++;
                        bad += compare(ops[o], M, N, K, (a + b + c) % 2 ? 1.0f : 0.0f, (int)(c % 3), seed++, &worst);
                    }
            CHECK(n > 100, "only %d shapes went to the own kernel", n);
            CHECK(bad == 0, "%d outputs differ from the reference loop (or padding was written)", bad);
            CHECK(worst < 1e-6, "largest difference from OpenBLAS %g per term", worst);
        });
    }
    TEST("gemm: a row's result does not depend on the rows computed with it", {
        unsigned seed = 99;
        const int M = 34, N = 943, K = 400;
        float *A = random_floats((size_t)M * K, &seed), *B = random_floats((size_t)K * N, &seed);
        float *Bt = random_floats((size_t)N * K, &seed);
        float *all = calloc((size_t)M * N, sizeof(float)), *one = calloc((size_t)M * N, sizeof(float));
        gemm_nn(M, N, K, A, K, B, N, 0.0f, all, N);
        for (int i = 0; i < M; i++) gemm_nn(1, N, K, A + (size_t)i * K, K, B, N, 0.0f, one + (size_t)i * N, N);
        CHECK(memcmp(all, one, (size_t)M * N * sizeof(float)) == 0, "A·B: 34 rows at once differ from one at a time");
        gemm_nt(M, N, K, A, K, Bt, K, 0.0f, all, N);
        for (int i = 0; i < M; i++) gemm_nt(1, N, K, A + (size_t)i * K, K, Bt, K, 0.0f, one + (size_t)i * N, N);
        CHECK(memcmp(all, one, (size_t)M * N * sizeof(float)) == 0, "A·Bᵀ: 34 rows at once differ from one at a time");
        // Aᵀ·B: 34 rows of a weight gradient (columns of A) over a 16-row batch
        gemm_tn(M, N, 16, A, M, B, N, 0.0f, all, N);
        for (int i = 0; i < M; i++) gemm_tn(1, N, 16, A + i, M, B, N, 0.0f, one + (size_t)i * N, N);
        CHECK(memcmp(all, one, (size_t)M * N * sizeof(float)) == 0, "Aᵀ·B: 34 rows at once differ from one at a time");
        // A·B with 300 rows (the D phase's G outputs come in blocks of 256, the G step's per batch)
        const int M2 = 300, K2 = 120, N2 = 943;
        float *A2 = random_floats((size_t)M2 * K2, &seed), *B2 = random_floats((size_t)K2 * N2, &seed);
        float *all2 = calloc((size_t)M2 * N2, sizeof(float)), *part2 = calloc((size_t)M2 * N2, sizeof(float));
        gemm_nn(M2, N2, K2, A2, K2, B2, N2, 0.0f, all2, N2);
        for (int i = 0; i < M2; i += 16)
            gemm_nn(M2 - i < 16 ? M2 - i : 16, N2, K2, A2 + (size_t)i * K2, K2, B2, N2, 0.0f, part2 + (size_t)i * N2, N2);
        CHECK(memcmp(all2, part2, (size_t)M2 * N2 * sizeof(float)) == 0, "A·B: 300 rows at once differ from 16 at a time");
        free(A), free(B), free(Bt), free(all), free(one), free(A2), free(B2), free(all2), free(part2);
    });
    TEST("gemm: a weight gradient summed in two parts equals two gradients added", {
        // the factored optimizer forms dW = A0ᵀ·B0 (beta 0) then += A1ᵀ·B1; the buffered path adds
        // two separately formed gradients. With the own kernel both are (0 + S0) + S1.
        unsigned seed = 5;
        const int IN = 70, OUT = 943, B0 = 16, B1 = 18;
        float *A = random_floats((size_t)(B0 + B1) * IN, &seed), *D = random_floats((size_t)(B0 + B1) * OUT, &seed);
        float *f = malloc((size_t)IN * OUT * sizeof(float)), *g0 = calloc((size_t)IN * OUT, sizeof(float));
        float *g1 = calloc((size_t)IN * OUT, sizeof(float));
        gemm_tn(IN, OUT, B0, A, IN, D, OUT, 0.0f, f, OUT);
        gemm_tn(IN, OUT, B1, A + (size_t)B0 * IN, IN, D + (size_t)B0 * OUT, OUT, 1.0f, f, OUT);
        gemm_tn(IN, OUT, B0, A, IN, D, OUT, 1.0f, g0, OUT);
        gemm_tn(IN, OUT, B1, A + (size_t)B0 * IN, IN, D + (size_t)B0 * OUT, OUT, 1.0f, g1, OUT);
        int bad = 0;
        for (size_t q = 0; q < (size_t)IN * OUT; q++) {
            const float s = g0[q] + g1[q];
            bad += memcmp(&s, &f[q], sizeof s) != 0;
        }
        CHECK(bad == 0, "%d of %d entries differ", bad, IN * OUT);
        free(A), free(D), free(f), free(g0), free(g1);
    });
    TEST("gemm: CFGAN_GEMM=openblas, or several BLAS threads, send every product to OpenBLAS", {
        CHECK(gemm_select("openblas") && !gemm_is_own('n', 16, 943, 400), "nn still own");
        CHECK(!gemm_select("fast"), "an unknown mode was accepted");
        CHECK(gemm_select("auto") && !gemm_is_own('n', 16, 6040, 300) && !gemm_is_own('t', 65, 400, 943) &&
                  !gemm_is_own('w', 400, 943, 65),
              "weights over 2 MiB or batches over 64 rows went to the own kernels");
        CHECK(gemm_select("auto"), "auto refused");
        openblas_set_num_threads(2);
        CHECK(!gemm_is_own('n', 16, 943, 400), "two BLAS threads: the single-threaded own kernel was still chosen");
        openblas_set_num_threads(1);
    });
    return check_summary();
}
