// cmd_bench: `cfgan bench-gemm`, OpenBLAS's sgemm rate at given shapes with the same library, kernels
// and thread count as training (tools/bench.py compares the trainer's products with it).
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "util.h"
#include "version.h"

static void bench_help(void) {
    printf("usage: cfgan bench-gemm M,N,K,TA,TB [M,N,K,TA,TB ...] [--seconds S]\n\n"
           "Time OpenBLAS's cblas_sgemm (row-major, C += op(A)·op(B), TA/TB = 1 for transposed) at each shape\n"
           "for about S seconds (default 0.3) and print one JSON object per shape with its GFLOP/s. Kernels and\n"
           "threads are chosen as for `cfgan train` (OPENBLAS_NUM_THREADS: threads per process).\n");
}

int cmd_bench_gemm(int argc, char **argv) {
    const char *secs_s = "0.3";
    CliOpt extra[] = {{"--seconds", 1, &secs_s}, {NULL, 0, NULL}};
    CliArgs a;
    cli_parse(&a, "bench-gemm", argc, argv, extra, bench_help);
    double budget = atof(secs_s);
    if (a.n_positional == 0) die(EXIT_INPUT, "cfgan bench-gemm: give at least one shape M,N,K,TA,TB (see --help)");
    int(*shape)[5] = xmalloc((size_t)a.n_positional * sizeof *shape);
    for (int s = 0; s < a.n_positional; s++) { // every shape is checked before anything is printed
        int *d = shape[s];
        if (sscanf(a.positional[s], "%d,%d,%d,%d,%d", &d[0], &d[1], &d[2], &d[3], &d[4]) != 5 || d[0] < 1 ||
            d[1] < 1 || d[2] < 1)
            die(EXIT_INPUT, "cfgan bench-gemm: '%s' is not M,N,K,TA,TB", a.positional[s]);
    }
    printf("{\"blas\": \"%s\"}\n", cfgan_blas());
    for (int s = 0; s < a.n_positional; s++) {
        const int m = shape[s][0], n = shape[s][1], k = shape[s][2], ta = shape[s][3], tb = shape[s][4];
        float *A = xmalloc((size_t)m * k * sizeof(float)), *B = xmalloc((size_t)k * n * sizeof(float));
        float *C = xcalloc((size_t)m * n, sizeof(float));
        for (size_t i = 0; i < (size_t)m * k; i++) A[i] = (float)(i % 7) * 0.01f;
        for (size_t i = 0; i < (size_t)k * n; i++) B[i] = (float)(i % 5) * 0.01f;
        int lda = ta ? m : k, ldb = tb ? k : n;
        long reps = 0;
        double t0 = wall_seconds(), t;
        do {
            // C += op(A)·op(B)
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f,
                        A, lda, B, ldb, 1.0f, C, n);
            reps++;
            t = wall_seconds() - t0;
        } while (t < budget || reps < 3);
        printf("{\"m\": %d, \"n\": %d, \"k\": %d, \"ta\": %d, \"tb\": %d, \"gflops\": %.3f, \"seconds_per_call\": %.3e}\n",
               m, n, k, ta, tb, 2.0 * m * n * k * reps / t / 1e9, t / reps);
        free(A), free(B), free(C);
    }
    free(shape);
    return 0;
}
