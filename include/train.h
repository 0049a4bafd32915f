// train: the CFGAN training loop (batches, steps, gradient sums, the reference and honest
// protocols, evaluation, run records).
#ifndef CFGAN_TRAIN_H
#define CFGAN_TRAIN_H

#include "config.h"

typedef struct {
    const char *out_dir; // run directory; NULL: runs/<config name>-<timestamp>
    int resume;          // continue the run in out_dir from its newest valid checkpoint
} TrainOptions;

// Train as configured; returns the process exit status.
int train_run(const Config *cfg, const TrainOptions *opt);

#endif
