// main: `cfgan COMMAND ...` dispatch, help, version, and the process set-up every command shares
// (OpenBLAS's kernels and threads, MPI).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "commands.h"
#include "config.h"
#include "par.h"
#include "util.h"
#include "version.h"

static const struct {
    const char *name, *args, *what;
    int (*run)(int argc, char **argv);
} COMMANDS[] = {
    {"train", "CONFIG", "train CFGAN; writes metrics.jsonl, final.json, per_user.tsv and config.yaml", cmd_train},
    {"evaluate", "", "metrics of a score file from any system (--train, --test, --scores)", cmd_evaluate},
    {"baseline", "CONFIG", "TopPop, ItemKNN or EASE^R (--model) on the same split and evaluator", cmd_baseline},
    {"recommend", "RUN", "top-N items for users from a trained run (--user ID or --users FILE)", cmd_recommend},
    {"data-info", "CONFIG", "users, items, interactions, splits and cold users/items of a config's data", cmd_data_info},
    {"synth", "", "write a synthetic dataset (--users, --items, --interactions, --out)", cmd_synth},
    {"bench-gemm", "SHAPES", "OpenBLAS's sgemm GFLOP/s at the trainer's shapes (used by make bench)", cmd_bench_gemm},
};
enum { N_COMMANDS = sizeof COMMANDS / sizeof COMMANDS[0] };

static void usage(FILE *fp) {
    fprintf(fp, "cfgan %s: CFGAN (Chae et al., CIKM 2018) collaborative filtering, data-parallel with MPI\n\n"
                "usage: [mpirun -np N] cfgan COMMAND [options]\n\ncommands:\n", cfgan_version());
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(fp, "  %-10s %-7s %s\n", COMMANDS[i].name, COMMANDS[i].args, COMMANDS[i].what);
    fprintf(fp, "  help       [COMMAND | config [--markdown]]  a command's options, or every config key\n"
                "  version    print the version\n\n"
                "Every command takes --help. Config-taking commands accept --set section.key=value (repeatable)\n"
                "and --data-root DIR (else $CFGAN_DATA, else data/). Exit status: 0 ok, 1 runtime failure,\n"
                "2 bad command line, config or data (nothing was written), 3 numerical failure, 4 stopped after\n"
                "a checkpoint (continue with --resume).\n"
                "Environment: OPENBLAS_NUM_THREADS (BLAS threads per rank; unset: the node's cores over its\n"
                "ranks), OPENBLAS_CORETYPE and CFGAN_BLAS_AUTOFIX=0 (OpenBLAS's kernels), CFGAN_DATA.\n");
}

// A process that started MPI leaves through exit_now (see util.h) so that make asan's leak scan
// only covers runs without MPI.
static int finish(int status) {
    if (getenv("OMPI_COMM_WORLD_SIZE") || par_mpi_was_started()) exit_now(status);
    return status;
}

static int find(const char *name) {
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(name, COMMANDS[i].name) == 0) return i;
    return -1;
}

// `cfgan help [TOPIC]`: the general usage, a command's --help, or the config keys.
static int help(int argc, char **argv) {
    if (argc == 0) {
        if (par_rank() == 0) usage(stdout);
        return 0;
    }
    if (strcmp(argv[0], "config") == 0) {
        if (par_rank() == 0) {
            if (argc > 1 && strcmp(argv[1], "--markdown") == 0) config_print_keys_markdown(stdout);
            else config_print_keys(stdout);
        }
        return 0;
    }
    const int c = find(argv[0]);
    if (c < 0) die(EXIT_INPUT, "cfgan help: no help on '%s' (topics: a command, or config; see cfgan help)", argv[0]);
    char *args[] = {"--help", NULL};
    return COMMANDS[c].run(1, args);
}

int main(int argc, char **argv) {
    blas_autoselect(argv); // may re-execute this program once, before MPI starts
    par_init(&argc, &argv);
    blas_set_threads(par_node_ranks());
    if (argc < 2) {
        if (par_rank() == 0) {
            usage(stderr);
            fprintf(stderr, "\ntry: mpirun -np 8 cfgan train configs/demo.yaml\n");
        }
        die(EXIT_INPUT, "cfgan: missing COMMAND");
    }
    const char *cmd = argv[1];
    int status = 0;
    const int c = find(cmd);
    if (c >= 0) status = COMMANDS[c].run(argc - 2, argv + 2);
    else if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
        status = help(argc - 2, argv + 2);
    else if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        if (par_rank() == 0) printf("cfgan %s (git %s, %s)\n", cfgan_version(), cfgan_git(), cfgan_compiler());
    } else die(EXIT_INPUT, "cfgan: unknown command '%s' (see cfgan help)", cmd);
    par_finalize();
    return finish(status);
}
