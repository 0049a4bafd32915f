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

#endif
