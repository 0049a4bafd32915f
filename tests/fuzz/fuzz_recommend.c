// libFuzzer target: `cfgan recommend RUN --users FILE [--titles FILE]` through the command's entry
// point (cmd_recommend), on tiny trained runs made once per process (cmd_train on a synthetic
// config; kept under $CFGAN_FUZZ_RUNS when set, so that tests/fuzz/run.sh trains them once).
// The first byte picks options: bit 0 the run (user rows with the honest protocol, or item rows),
// bit 1 --user with the first part as its value instead of --users FILE, bits 2-4 -k, bit 5 the
// checkpoint file instead of the run directory. The rest is the users file and, after a line "%%",
// a titles file (passed as --titles when present).
// Bad input must end in die() (caught through util's exit hook), never in a crash.
#include <stdlib.h>
#include <sys/stat.h>

#include "ckpt.h"
#include "commands.h"
#include "fuzz_common.h"

static char g_run[2][512], g_ckpt[2][1024], g_users[512], g_titles[512];

static const char *g_yaml[2] = {
    // user rows, honest protocol (the selected generator: best_g)
    "data:\n  format: synthetic\n  synthetic:\n    users: 60\n    items: 40\n    interactions: 700\n    topics: 3\n    seed: 5\n"
    "  validation: 0.2\nmodel:\n  mode: user\n  g_hidden: [8]\n  d_hidden: [4]\n"
    "train:\n  epochs: 2\n  g_steps: 1\n  g_batch: 16\n  d_batch: 16\neval:\n  every: 1\n  topk: [5]\n  select: P@5\n",
    // item rows (the reference setting)
    "data:\n  format: synthetic\n  synthetic:\n    users: 50\n    items: 30\n    interactions: 500\n    topics: 3\n    seed: 6\n"
    "model:\n  mode: item\n  g_hidden: [8]\n  d_hidden: [4]\n"
    "train:\n  epochs: 2\n  g_steps: 1\n  g_batch: 8\n  d_batch: 8\neval:\n  every: 2\n",
};

static void train_once(int r, const char *base) {
    snprintf(g_run[r], sizeof g_run[r], "%s/run-%d", base, r);
    char done[600];
    snprintf(done, sizeof done, "%s/final.json", g_run[r]);
    struct stat st;
    if (stat(done, &st) != 0) {
        char yaml[600];
        snprintf(yaml, sizeof yaml, "%s/run-%d.yaml", base, r);
        if (fuzz_write(yaml, (const uint8_t *)g_yaml[r], strlen(g_yaml[r])) != 0) {
            fprintf(stderr, "fuzz_recommend: cannot write %s\n", yaml);
            abort();
        }
        char *argv[] = {yaml, "--out", g_run[r], NULL};
        if (setjmp(fuzz_env) != 0 || cmd_train(3, argv) != 0) {
            fprintf(stderr, "fuzz_recommend: training the run %s failed\n", g_run[r]);
            abort();
        }
    }
    Checkpoint c;
    char dir[600], err[512];
    snprintf(dir, sizeof dir, "%s/checkpoints", g_run[r]);
    if (ckpt_load_newest(&c, dir, g_ckpt[r], sizeof g_ckpt[r], err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_recommend: %s: %s\n", g_run[r], err);
        abort();
    }
    ckpt_free(&c);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    util_set_rank(0, 1, fuzz_exit_hook);
    char base[256];
    const char *env = getenv("CFGAN_FUZZ_RUNS");
    if (env && *env) snprintf(base, sizeof base, "%s", env);
    else snprintf(base, sizeof base, "/tmp/cfgan-fuzz-recommend-%d", (int)getpid());
    mkdir(base, 0700);
    for (int r = 0; r < 2; r++) train_once(r, base);
    fuzz_scratch_path(g_users, sizeof g_users, "recommend", "users");
    fuzz_scratch_path(g_titles, sizeof g_titles, "recommend", "titles");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const int opt = data[0];
    const uint8_t *part[2] = {NULL, NULL};
    size_t len[2] = {0, 0};
    int n_parts = fuzz_split(data + 1, size - 1, part, len, 2);
    static const char *ks[8] = {"10", "1", "3", "30", "39", "40", "10000", "2"};
    char *argv[12];
    int argc = 0;
    argv[argc++] = (opt & 32) ? g_ckpt[opt & 1] : g_run[opt & 1];
    char *user = NULL;
    if (opt & 2) { // --user ID: the first part up to its first NUL
        user = malloc(len[0] + 1);
        if (!user) return 0;
        if (len[0]) memcpy(user, part[0], len[0]);
        user[len[0]] = '\0';
        argv[argc++] = "--user", argv[argc++] = user;
    } else {
        if (fuzz_write(g_users, part[0], len[0]) != 0) return 0;
        argv[argc++] = "--users", argv[argc++] = g_users;
    }
    if (n_parts > 1) {
        if (fuzz_write(g_titles, part[1], len[1]) != 0) return 0;
        argv[argc++] = "--titles", argv[argc++] = g_titles;
    }
    argv[argc++] = "-k", argv[argc++] = (char *)ks[(opt >> 2) & 7];
    argv[argc] = NULL;
    util_set_rank(0, 1, fuzz_exit_hook);
    int first_free = fuzz_first_free_fd();
    if (setjmp(fuzz_env) == 0) cmd_recommend(argc, argv);
    else line_reader_free_all();
    fflush(stdout);
    fuzz_close_from(first_free);
    free(user);
    return 0;
}
