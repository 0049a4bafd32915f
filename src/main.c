// main: `cfgan COMMAND ...` dispatch, global --help and --version.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "commands.h"
#include "config.h"
#include "gemm.h"
#include "par.h"
#include "util.h"
#include "version.h"

static void usage(FILE *fp) {
    fprintf(fp,
            "cfgan %s: CFGAN (Chae et al., CIKM 2018) collaborative filtering, data-parallel with MPI\n\n"
            "usage: [mpirun -np N] cfgan COMMAND [options]\n\n"
            "commands:\n"
            "  train CONFIG      train CFGAN; writes metrics.jsonl, final.json and the resolved config\n"
            "  evaluate          P/R/NDCG/MRR@K of a score file (--train, --test, --scores)\n"
            "  data-info CONFIG  users, items, interactions, splits and cold users/items of a config's data\n"
            "  synth             write a synthetic dataset (--users, --items, --interactions, --out)\n"
            "  recommend CKPT    top-N items for users from a trained checkpoint (--user ID or --users FILE)\n"
            "  baseline CONFIG   TopPop, ItemKNN or EASE^R (--model) on the same split and evaluator\n"
            "  bench-gemm SHAPES the trainer's GEMM GFLOP/s at given shapes (used by make bench)\n"
            "  bench-adam N...   the Adam update's time per parameter at N parameters\n"
            "  help config       every config key: type, default, range and meaning\n"
            "  version           print the version\n\n"
            "Every command takes --help. Config-taking commands accept --set section.key=value (repeatable)\n"
            "and --data-root DIR (else $CFGAN_DATA, else data/). Exit status: 0 ok, 1 runtime failure,\n"
            "2 bad command line, config or data (nothing was written), 3 numerical failure, 4 preempted.\n"
            "Environment: OPENBLAS_NUM_THREADS (BLAS threads per process), OPENBLAS_CORETYPE and\n"
            "CFGAN_BLAS_AUTOFIX=0 (OpenBLAS's kernels), CFGAN_GEMM=auto|openblas (cfgan's own AVX-512 kernels\n"
            "for small batches with one BLAS thread, or OpenBLAS for every product).\n",
            cfgan_version());
}

// A process that started MPI leaves through exit_now (see util.h) so that make asan's leak scan
// only covers runs without MPI.
static int finish(int status) {
    if (getenv("OMPI_COMM_WORLD_SIZE") || par_mpi_was_started()) exit_now(status);
    return status;
}

int main(int argc, char **argv) {
    blas_autoselect(argv); // may re-execute this program once, before MPI starts
    (void)gemm_choice();   // checks CFGAN_GEMM before anything is read or written
    par_init(&argc, &argv);
    int status = 0;
    if (argc < 2) {
        if (par_rank() == 0) usage(stderr);
        die(EXIT_INPUT, "cfgan: missing COMMAND");
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "train") == 0) status = cmd_train(argc - 2, argv + 2);
    else if (strcmp(cmd, "evaluate") == 0) status = cmd_evaluate(argc - 2, argv + 2);
    else if (strcmp(cmd, "data-info") == 0) status = cmd_data_info(argc - 2, argv + 2);
    else if (strcmp(cmd, "synth") == 0) status = cmd_synth(argc - 2, argv + 2);
    else if (strcmp(cmd, "recommend") == 0) status = cmd_recommend(argc - 2, argv + 2);
    else if (strcmp(cmd, "bench-gemm") == 0) status = cmd_bench_gemm(argc - 2, argv + 2);
    else if (strcmp(cmd, "bench-adam") == 0) status = cmd_bench_adam(argc - 2, argv + 2);
    else if (strcmp(cmd, "baseline") == 0) status = cmd_baseline(argc - 2, argv + 2);
    else if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (par_rank() == 0) {
            if (argc > 3 && strcmp(argv[2], "config") == 0 && strcmp(argv[3], "--markdown") == 0)
                config_print_keys_markdown(stdout);
            else if (argc > 2 && strcmp(argv[2], "config") == 0) config_print_keys(stdout);
            else usage(stdout);
        }
    } else if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        if (par_rank() == 0) printf("cfgan %s (git %s, %s)\n", cfgan_version(), cfgan_git(), cfgan_compiler());
    } else {
        die(EXIT_INPUT, "cfgan: unknown command '%s' (see cfgan --help)", cmd);
    }
    par_finalize();
    return finish(status);
}
