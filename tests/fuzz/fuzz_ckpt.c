// libFuzzer target: the checkpoint reader. ckpt_parse on the input's bytes, and the newest-valid
// lookup (ckpt_load_newest) on a directory holding them as the newest checkpoint file, with a
// valid older one behind it.
// The first byte picks options: bit 0 seals the rest with a correct checksum and end marker (so the
// section parser is reached, not only the checksum test); bit 1 runs the directory lookup; bits 2-3
// pick the file name (names the lookup must accept or ignore).
// A checkpoint that parses must give sections inside its buffer, and ckpt_get must agree with them.
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "ckpt.h"
#include "fuzz_common.h"

static char g_dir[256];

static void empty_dir(void) {
    DIR *d = opendir(g_dir);
    if (!d) return;
    char p[600];
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name), unlink(p);
    closedir(d);
}

static void remove_dir(void) {
    empty_dir();
    rmdir(g_dir);
}

// The parsed sections lie inside the buffer and are found again by name and size.
static void check_parsed(const Checkpoint *c) {
    if (c->n_sections < 0 || c->n_sections > CKPT_MAX_SECTIONS) abort();
    const unsigned char *lo = c->buffer, *hi = c->buffer + c->buffer_bytes;
    for (int i = 0; i < c->n_sections; i++) {
        const unsigned char *p = c->sec[i].data;
        if (p < lo || p > hi || c->sec[i].bytes > (uint64_t)(hi - p)) abort();
        if (c->sec[i].bytes) (void)hash64(0, p, c->sec[i].bytes); // every byte readable (ASan)
        const void *got = ckpt_get(c, c->sec[i].name, c->sec[i].bytes);
        // ckpt_get returns the first section of that name: a duplicate name may hold another size
        if (!got) {
            int first = 0;
            while (strcmp(c->sec[first].name, c->sec[i].name) != 0) first++;
            if (first == i) abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const int opt = data[0];
    size_t n = size - 1;
    unsigned char *buf = malloc(n + 12 + 1);
    if (!buf) return 0;
    if (n) memcpy(buf, data + 1, n);
    if (opt & 1) { // seal: checksum over everything before it, then the end marker
        uint64_t sum = hash64(0x636b7074, buf, n);
        memcpy(buf + n, &sum, 8);
        memcpy(buf + n + 8, "END!", 4);
        n += 12;
    }
    util_set_rank(0, 1, fuzz_exit_hook);
    if (setjmp(fuzz_env) != 0) abort(); // the reader reports through its return value, never die()

    if (opt & 2) {
        if (!g_dir[0]) {
            snprintf(g_dir, sizeof g_dir, "/dev/shm/cfgan-fuzz-ckpt-%d", (int)getpid());
            if (mkdir(g_dir, 0700) != 0) {
                snprintf(g_dir, sizeof g_dir, "/tmp/cfgan-fuzz-ckpt-%d", (int)getpid());
                mkdir(g_dir, 0700);
            }
            atexit(remove_dir);
        }
        empty_dir();
        // an older valid checkpoint, which the lookup falls back to when the input does not verify
        Checkpoint old = {.config_hash = 1, .fingerprint = 2, .ranks = 1, .epoch = 3, .step = 4};
        ckpt_add(&old, "state", "abc", 3);
        char path[600];
        if (ckpt_write(&old, g_dir, 10, path, sizeof path) != 0) abort();
        static const char *names[] = {"ckpt-999999999999.bin", "ckpt-5.bin", "ckpt-.bin", "ckpt-5.bin.tmp.1"};
        snprintf(path, sizeof path, "%s/%s", g_dir, names[(opt >> 2) & 3]);
        if (fuzz_write(path, buf, n) != 0) abort();
        Checkpoint c;
        char found[600], err[512];
        if (ckpt_load_newest(&c, g_dir, found, sizeof found, err, sizeof err) != 0) abort(); // the old one is valid
        check_parsed(&c);
        ckpt_free(&c);
        empty_dir();
    }

    Checkpoint c;
    char err[512];
    if (ckpt_parse(&c, buf, n, err, sizeof err) == 0) { // takes buf either way
        check_parsed(&c);
        ckpt_free(&c);
    } else if (!err[0] || !memchr(err, '\0', sizeof err)) {
        abort(); // a rejection always says why
    }
    return 0;
}
