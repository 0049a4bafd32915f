// libFuzzer target: the data readers and the dataset pipeline (id maps, CSR, holdout splits).
// The first byte picks the format and options; the rest is the training file.
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "shard.h"
#include "util.h"

static jmp_buf g_env;
static void on_exit_hook(int status, int collective) {
    (void)status, (void)collective;
    longjmp(g_env, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[64];
    static Config cfg;
    static Dataset ds;
    if (size < 1) return 0;
    if (!path[0]) snprintf(path, sizeof path, "/tmp/cfgan-fuzz-data-%d.txt", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    util_set_rank(0, 1, on_exit_hook);
    memset(&ds, 0, sizeof ds);
    // die() ends a real run; here it jumps back, so close whatever the input left open
    int first_free = dup(0);
    close(first_free);
    if (setjmp(g_env) == 0) {
        config_init(&cfg);
        cfg.data_format = data[0] % 5; // cfgan, ml100k, ml1m, csv, tsv
        cfg.data_header = (data[0] >> 3) & 1;
        cfg.data_rating_col = (data[0] >> 4) & 1 ? -1 : 2;
        cfg.model_mode = (data[0] >> 5) & 1;
        cfg.data_validation = (data[0] >> 6) & 1 ? 0.2 : 0;
        cfg.min_user_interactions = (data[0] >> 7) ? 2 : 0;
        snprintf(cfg.train_path, sizeof cfg.train_path, "%s", path);
        dataset_load(&ds, &cfg);
        dataset_free(&ds);
    } else {
        line_reader_free_all();
    }
    config_free(&cfg);
    for (int fd = first_free; fd < first_free + 64; fd++) close(fd);
    return 0;
}
