// run_record: the run directory and the records rank 0 writes into it: config.yaml (the resolved
// configuration), metrics.jsonl (one JSON line per evaluation), final.json (the reported metrics,
// per-phase times, peak memory and provenance), per_user.tsv (the reported metrics of every test
// user), and the progress lines on stdout.
#ifndef CFGAN_RUN_RECORD_H
#define CFGAN_RUN_RECORD_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "shard.h"
#include "eval.h"
#include "timer.h"

enum { SPLIT_VALID, SPLIT_TEST };

// One evaluation point, as written to metrics.jsonl (plain data: checkpointed as bytes).
typedef struct {
    int32_t epoch, split;                             // split: SPLIT_VALID or SPLIT_TEST
    double d_loss, g_loss, d_real, d_fake, seconds;   // mean batch losses of the last passes, D's mean σ
    Metrics m;
} EvalRecord;

// Name the run directory (out_dir, else runs/<config name>[-<tag>]-<timestamp>, the same on every
// rank) and refuse one that holds a run unless resuming. Collective.
void record_choose_dir(char *dir, size_t size, const Config *cfg, const char *tag, const char *out_dir, int resume);
// Rank 0: create dir and write dir/config.yaml.
void record_write_config(const char *dir, const Config *cfg);
// Rank 0: open dir/metrics.jsonl, new, or on resume keeping exactly its first n_kept lines; NULL elsewhere.
FILE *record_open_metrics(const char *dir, int resume, int n_kept);
// Rank 0: append one evaluation line and flush.
void record_append(FILE *metrics, const char *dir, const EvalRecord *r);
// Rank 0: one progress line with the metrics, the time so far and the estimated time left.
void record_progress(const EvalRecord *r, int total_epochs, double seconds_per_epoch);

// Rank 0: write dir/per_user.tsv (every test user's metrics, users by their original ids).
void record_write_per_user(const char *dir, const PerUser *per_user, const int *cutoffs, const Dataset *ds);

// Per-phase seconds over ranks, operations and peak memory: the performance record.
typedef struct {
    double min[T_COUNT], max[T_COUNT], sum[T_COUNT], flops[T_COUNT];
    double rss_min, rss_max, rss_sum, data_min, data_max, data_sum; // MB
    double shard_min, shard_max, shard_sum;                          // MB of the training shard
    double gemm_lost_max;                                            // GEMM calls the shape table missed
} PhaseReport;
// Gather every rank's phase times and memory. Collective.
void record_gather_phases(PhaseReport *p, const Dataset *ds);

// What final.json reports.
typedef struct {
    const Config *cfg;
    const Dataset *ds;
    int honest;                   // the honest protocol (epoch selected on validation)
    const EvalRecord *reported;   // the test metrics reported
    const EvalRecord *selected;   // honest: the validation record of the selected epoch
    int epochs_run, stopped_early;
    double wall_seconds;
    const PhaseReport *phases;
} FinalReport;
// Rank 0: write dir/final.json atomically, and print the final metrics and the phase times.
void record_write_final(const char *dir, const FinalReport *f);

#endif
