// cmd_bench: `cfgan bench-gemm`, the machine's sgemm rate at given shapes, with the same BLAS
// library, kernels and thread count as training (tools/bench.py compares the trainer's phases
// with it); `cfgan bench-adam`, the optimizer's own update rate at given parameter counts.
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gemm.h"
#include "commands.h"
#include "nn.h"
#include "util.h"
#include "version.h"

static void bench_help(void) {
    printf("usage: cfgan bench-gemm M,N,K,TA,TB [M,N,K,TA,TB ...] [--seconds S]\n\n"
           "Time the trainer's GEMM (row-major, C += op(A)·op(B), TA/TB = 1 for transposed) at each shape for\n"
           "about S seconds (default 0.3) and print one JSON object per shape with its GFLOP/s and the kernel\n"
           "that ran it: \"own\" (cfgan's AVX-512 kernels: A·B with weights up to 2 MiB, the others for\n"
           "batches of up to 64 rows; one BLAS thread) or \"openblas\" (cblas_sgemm; CFGAN_GEMM=openblas sends\n"
           "every shape there). Threads: OpenBLAS's (OPENBLAS_NUM_THREADS). The OpenBLAS kernels are chosen\n"
           "as for `cfgan train`.\n");
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
            if (ta && tb)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasTrans, m, n, k, 1.0f, A, lda, B, ldb, 1.0f, C, n);
            else (ta ? gemm_tn : tb ? gemm_nt : gemm_nn)(m, n, k, A, lda, B, ldb, 1.0f, C, n);
            reps++;
            t = wall_seconds() - t0;
        } while (t < budget || reps < 3);
        const int own = !(ta && tb) && gemm_is_own(ta ? 'w' : tb ? 't' : 'n', m, n, k);
        printf("{\"m\": %d, \"n\": %d, \"k\": %d, \"ta\": %d, \"tb\": %d, \"kernel\": \"%s\", \"gflops\": %.3f, "
               "\"seconds_per_call\": %.3e}\n",
               m, n, k, ta, tb, own ? "own" : "openblas", 2.0 * m * n * k * reps / t / 1e9, t / reps);
        free(A), free(B), free(C);
    }
    free(shape);
    return 0;
}

static void bench_adam_help(void) {
    printf("usage: cfgan bench-adam N [N ...] [--seconds S] [--kernel adam|stream]\n\n"
           "Time the trainer's Adam update (TensorFlow form, L2 term fused, gradient cleared) on N parameters for\n"
           "about S seconds (default 0.3) and print one JSON object per N with the nanoseconds per parameter and\n"
           "the bytes per second it moves (weight, two moments and gradient, each read and written: 32 bytes per\n"
           "parameter). --kernel stream times a loop that reads and writes the same four buffers with one add\n"
           "each instead of Adam's arithmetic (a square root and a division per parameter): the memory floor any\n"
           "update of that many parameters stands on. Compare the two at an N whose buffers fit in L2 and at a\n"
           "model's size to see which one bounds the update (on the development machine: memory, at G's sizes).\n");
}

// The same memory traffic as the Adam update (four buffers read, four written), no square root or
// division: a floor for Adam at this size.
HOT_LOOP static void stream_kernel(float *restrict w, float *restrict grad, float *restrict m, float *restrict v,
                                   size_t n) {
    for (size_t i = 0; i < n; i++) w[i] += 1e-30f, m[i] += 1e-30f, v[i] += 1e-30f, grad[i] = 0;
}

int cmd_bench_adam(int argc, char **argv) {
    const char *secs_s = "0.3", *kernel = "adam";
    CliOpt extra[] = {{"--seconds", 1, &secs_s}, {"--kernel", 1, &kernel}, {NULL, 0, NULL}};
    CliArgs a;
    cli_parse(&a, "bench-adam", argc, argv, extra, bench_adam_help);
    double budget = atof(secs_s);
    if (a.n_positional == 0) die(EXIT_INPUT, "cfgan bench-adam: give at least one parameter count N (see --help)");
    if (strcmp(kernel, "adam") != 0 && strcmp(kernel, "stream") != 0)
        die(EXIT_INPUT, "cfgan bench-adam: --kernel is adam or stream, not '%s'", kernel);
    const int stream = strcmp(kernel, "stream") == 0;
    long *count = xmalloc((size_t)a.n_positional * sizeof *count);
    for (int s = 0; s < a.n_positional; s++) { // every count is checked before anything is printed
        char *end;
        count[s] = strtol(a.positional[s], &end, 10);
        if (*end || count[s] < 16 || count[s] > (1L << 30))
            die(EXIT_INPUT, "cfgan bench-adam: '%s' is not a count in [16, 2^30]", a.positional[s]);
    }
    for (int s = 0; s < a.n_positional; s++) {
        int dims[2] = {(int)count[s] - 1, 1};
        Act act = ACT_LINEAR;
        Mlp net;
        mlp_init(&net, 1, dims, &act); // n - 1 weights and a bias
        // a learning rate of 0 keeps the weights, so the gradient (their L2 term) and the moments stay
        // normal floats however long it runs (a decaying state turns denormal and 10x slower); every
        // operation of the update is still done
        for (size_t i = 0; i < net.n_params; i++) net.params[i] = 0.01f + 0.01f * (float)(i % 97) / 97.0f;
        const AdamHyper hyper = {.lr = 0.0f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .reg = 1e-3f};
        float *grad = net.grads;
        long reps = 0;
        double t0 = wall_seconds(), t;
        do {
            if (stream) stream_kernel(net.params, net.grads, net.m, net.v, net.n_params);
            else adam_update(&net, 0, net.n_params, &grad, 1, &hyper);
            reps++;
            t = wall_seconds() - t0;
        } while (t < budget || reps < 3);
        const double per = t / ((double)reps * (double)net.n_params);
        printf("{\"n\": %zu, \"kernel\": \"%s\", \"ns_per_parameter\": %.4f, \"gb_per_s\": %.2f}\n", net.n_params,
               kernel, per * 1e9, 32.0 / per / 1e9);
        mlp_free(&net);
    }
    free(count);
    return 0;
}
