// Shared pieces of the libFuzzer targets that run a whole command on files made from the input:
// die() turned into a longjmp (util's exit hook), inputs split into files, descriptors and line
// readers left open by a die() released afterwards.
#ifndef CFGAN_FUZZ_COMMON_H
#define CFGAN_FUZZ_COMMON_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static jmp_buf fuzz_env;
static void fuzz_exit_hook(int status, int collective) {
    (void)status, (void)collective;
    longjmp(fuzz_env, 1);
}

// The input's parts: split at every "\n%%\n" (the separator line of the seed files), at most max
// parts; the rest of the input goes to the last one. Returns the number of parts (>= 1).
static int fuzz_split(const uint8_t *data, size_t size, const uint8_t **part, size_t *len, int max) {
    static const char sep[] = "\n%%\n";
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; n < max - 1 && i + 4 <= size; i++)
        if (memcmp(data + i, sep, 4) == 0) {
            part[n] = data + start, len[n++] = i - start;
            start = i + 4;
            i += 3;
        }
    part[n] = data + start, len[n++] = size - start;
    return n;
}

// Scratch files removed when the fuzzer exits normally (a crash leaves them for a look).
static char fuzz_scratch[8][256];
static void fuzz_remove_scratch(void) {
    for (int k = 0; k < 8; k++)
        if (fuzz_scratch[k][0]) remove(fuzz_scratch[k]);
}
// path gets "/tmp/cfgan-fuzz-NAME-PID.EXT", removed at exit.
static void fuzz_scratch_path(char *path, size_t size, const char *name, const char *ext) {
    snprintf(path, size, "/tmp/cfgan-fuzz-%s-%d.%s", name, (int)getpid(), ext);
    for (int k = 0; k < 8; k++)
        if (!fuzz_scratch[k][0]) {
            if (k == 0) atexit(fuzz_remove_scratch);
            snprintf(fuzz_scratch[k], sizeof fuzz_scratch[k], "%s", path);
            break;
        }
}

// Write bytes to path (the harness's own scratch file); 0 on success.
static int fuzz_write(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    if (size) fwrite(data, 1, size, f);
    return fclose(f);
}

// The lowest free descriptor before a run; after it, every descriptor from there up is closed
// again (a die() leaves the command's input files open).
static int fuzz_first_free_fd(void) {
    int fd = dup(0);
    if (fd >= 0) close(fd);
    return fd;
}
static void fuzz_close_from(int first_free) {
    for (int fd = first_free; fd >= 0 && fd < first_free + 64; fd++) close(fd);
}

#endif
