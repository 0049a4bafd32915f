// cmd_train: `cfgan train CONFIG`, the command-line face of train_run.
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "config.h"
#include "train.h"
#include "util.h"

static void train_help(void) {
    printf("usage: [mpirun -np N] cfgan train CONFIG [--set section.key=value]... [--data-root DIR] [--out DIR] [--resume]\n\n"
           "Train CFGAN as CONFIG says. Prints one progress line per evaluation and writes, in DIR\n"
           "(default runs/<config name>-<timestamp>):\n"
           "  config.yaml    the resolved configuration\n"
           "  metrics.jsonl  one JSON object per evaluation: epoch, split, d_loss, g_loss, d_real, d_fake,\n"
           "                 seconds, and P, R, NDCG, MRR, coverage, gini, novelty, popularity @K per cutoff\n"
           "  final.json     the reported result, the protocol that produced it, times and provenance\n"
           "  per_user.tsv   every test user's metrics at the reported epoch (for paired significance tests)\n"
           "  checkpoints/   every checkpoint.every epochs and at the end\n"
           "Protocols: reference (data.validation = 0): test every eval.every epochs, report the last epoch;\n"
           "honest (data.validation > 0): select the epoch on validation by eval.select, report its test metrics.\n\n"
           "Options:\n"
           "  --set k=v       override a config key (repeatable), e.g. --set train.epochs=100\n"
           "  --data-root DIR resolve data paths against DIR (else $CFGAN_DATA, else data/)\n"
           "  --out DIR       run directory (must not hold a run unless --resume)\n"
           "  --resume        continue the run in --out DIR from its newest valid checkpoint\n\n");
    config_print_keys(stdout);
}

int cmd_train(int argc, char **argv) {
    CliArgs a;
    const char *resume = NULL;
    CliOpt extra[] = {{"--resume", 0, &resume}, {NULL, 0, NULL}};
    cli_parse(&a, "train", argc, argv, extra, train_help);
    if (a.n_positional > 1) die(EXIT_INPUT, "cfgan train: unexpected argument '%s'", a.positional[1]);
    Config cfg;
    cli_load_config(&cfg, &a);
    if (resume && !a.out_dir) die(EXIT_INPUT, "cfgan train: --resume needs --out DIR (the run to continue)");
    TrainOptions opt = {a.out_dir, resume != NULL};
    int status = train_run(&cfg, &opt);
    config_free(&cfg);
    return status;
}
