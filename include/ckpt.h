// ckpt: the checkpoint file format. A checkpoint is a header (config hash, dataset fingerprint,
// ranks, epoch, step) plus named binary sections, closed by a checksum. Files are written
// atomically (temporary file, fsync, rename, fsync of the directory) as DIR/ckpt-<step>.bin, and
// only the newest `keep` are kept. Knows nothing of what the sections mean.
#ifndef CFGAN_CKPT_H
#define CFGAN_CKPT_H

#include <stddef.h>
#include <stdint.h>

#define CKPT_MAX_SECTIONS 32

typedef struct {
    uint64_t config_hash, fingerprint;
    int32_t ranks, epoch;
    int64_t step;
    int n_sections;
    struct {
        char name[32];
        const void *data; // points into `buffer` after a read; to caller memory before a write
        uint64_t bytes;
    } sec[CKPT_MAX_SECTIONS];
    unsigned char *buffer; // the whole file after a read (owned)
    size_t buffer_bytes;
} Checkpoint;

// Add a section to write (the data is not copied: keep it alive until ckpt_write returns).
void ckpt_add(Checkpoint *self, const char *name, const void *data, size_t bytes);
// Write DIR/ckpt-<step>.bin atomically and delete all but the newest `keep` checkpoints.
// Returns 0, or -1 with errno set and nothing half-written; path_out gets the file name.
int ckpt_write(const Checkpoint *self, const char *dir, int keep, char *path_out, size_t path_size);
// Parse and verify a checkpoint image (takes ownership of buf). Returns 0, or -1 with a reason in err.
int ckpt_parse(Checkpoint *self, unsigned char *buf, size_t bytes, char *err, size_t err_size);
// Section `name`, which must hold exactly `bytes` bytes; NULL otherwise.
const void *ckpt_get(const Checkpoint *self, const char *name, size_t bytes);
// The newest checkpoint in dir that verifies, read into *self; broken newer ones are reported
// through warn(). Returns 0, or -1 if there is none (err says why).
int ckpt_load_newest(Checkpoint *self, const char *dir, char *path_out, size_t path_size, char *err, size_t err_size);
void ckpt_free(Checkpoint *self);

// ---- training checkpoints ----
#include "config.h"
#include "nn.h"

// What a training checkpoint holds: both networks (parameters, Adam moments, step counts), the
// loop's state (plain bytes), every rank's loss sums of the pass in flight (n_sums doubles each),
// and the honest protocol's selected generator (best_g, saved and required when *have_best, which
// points into the loop state).
typedef struct {
    Mlp *g, *d;
    void *loop;
    size_t loop_bytes;
    double *sums;
    int n_sums;
    float *best_g;
    const int32_t *have_best;
} TrainingState;

// Write DIR/ckpt-<step>.bin (rank 0; collective for the loss sums) with the config's hash and text,
// the data's fingerprint and the rank count; ends every rank if it cannot be written (the previous
// checkpoints stay intact).
void ckpt_save_training(const char *dir, const Config *cfg, uint64_t fingerprint, int epoch, int64_t step,
                        const TrainingState *st);
// Restore st from the newest valid checkpoint in dir (rank 0 reads, every rank receives it). A
// missing or broken checkpoint, another config hash or data fingerprint end every rank with the
// reason. After a change of rank count rank 0 takes every rank's loss sums (summed), the others
// none; a change of rank count or of BLAS threads is warned about (float summation order changes).
// Collective; path_out gets the file restored.
void ckpt_restore_training(const char *dir, const Config *cfg, uint64_t fingerprint, TrainingState *st,
                           char *path_out, size_t path_size);

#endif
