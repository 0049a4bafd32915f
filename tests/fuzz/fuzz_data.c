// libFuzzer target: the data readers and the dataset pipeline (id maps, CSR, holdout splits).
// The first byte picks the format and options; the rest is the training file.
#include "config.h"
#include "fuzz_common.h"
#include "shard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[64];
    static Config cfg;
    static Dataset ds;
    if (size < 1) return 0;
    if (!path[0]) fuzz_scratch_path(path, sizeof path, "data", "txt");
    if (fuzz_write(path, data + 1, size - 1) != 0) return 0;
    util_set_rank(0, 1, fuzz_exit_hook);
    memset(&ds, 0, sizeof ds);
    // die() ends a real run; here it jumps back, so close whatever the input left open
    int first_free = fuzz_first_free_fd();
    if (setjmp(fuzz_env) == 0) {
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
    fuzz_close_from(first_free);
    return 0;
}
