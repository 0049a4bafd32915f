// libFuzzer target: `cfgan evaluate` on fuzzed --train, --test and --scores files, through the
// command's entry point (cmd_evaluate). The first byte picks --format (bits 0-1) and --topk (bits
// 2-4); the rest is the train file, the test file and the score file, separated by lines "%%".
// Bad input must end in die() (caught through util's exit hook), never in a crash.
//
// Inputs whose pair files hold a number of 6 or more digits (leading zeros aside) are not run:
// `cfgan evaluate` sizes its tables by the largest id, not by the input (one pair with user id
// 2000000000 takes over 9 GB and minutes), so each would end as an out-of-memory report, and ids up
// to 99999 keep what a die() leaks small. Lift this once cmd_evaluate.c bounds its tables; the
// input tests/fuzz/corpus-evaluate/oom-huge-user-id then replays the case.
#include <ctype.h>

#include "commands.h"
#include "fuzz_common.h"

static int has_big_number(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n;) {
        if (!isdigit(p[i])) {
            i++;
            continue;
        }
        while (i < n && p[i] == '0') i++;
        size_t run = 0;
        while (i < n && isdigit(p[i])) i++, run++;
        if (run >= 6) return 1;
    }
    return 0;
}

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
    if (has_big_number(part[0], len[0]) || has_big_number(part[1], len[1])) return 0;
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
