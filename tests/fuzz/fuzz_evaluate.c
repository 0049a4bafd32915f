// libFuzzer target: `cfgan evaluate` on fuzzed --train, --test and --scores files, through the
// command's entry point (cmd_evaluate). The first byte picks --format (bits 0-1) and --topk (bits
// 2-4); the rest is the train file, the test file and the score file, separated by lines "%%".
// Bad input must end in die() (caught through util's exit hook), never in a crash.

#include "commands.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[3][96];
    if (size < 1) return 0;
    if (!path[0][0]) {
        static const char *ext[3] = {"train", "test", "scores"};
        for (int k = 0; k < 3; k++) fuzz_scratch_path(path[k], sizeof path[k], "evaluate", ext[k]);
    }
    const uint8_t *part[3] = {NULL, NULL, NULL};
    size_t len[3] = {0, 0, 0};
    fuzz_split(data + 1, size - 1, part, len, 3);
    for (int k = 0; k < 3; k++)
        if (fuzz_write(path[k], part[k], len[k]) != 0) return 0;

    static const char *formats[4] = {"cfgan", "ml100k", "ml1m", "tsv"};
    static const char *topks[8] = {"5,10,20", "1", "3,1,3", "50", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", "2,4",
                                   "10", "1,20"};
    char *argv[] = {"--train",  path[0], "--test", path[1], "--scores", path[2], "--format",
                    (char *)formats[data[0] & 3], "--topk", (char *)topks[(data[0] >> 2) & 7], NULL};
    util_set_rank(0, 1, fuzz_exit_hook);
    int first_free = fuzz_first_free_fd();
    if (setjmp(fuzz_env) == 0) cmd_evaluate(10, argv);
    else line_reader_free_all();
    fflush(stdout);
    fuzz_close_from(first_free);
    return 0;
}
