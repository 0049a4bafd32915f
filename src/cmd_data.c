// cmd_data: `cfgan data-info` (what a config's data looks like) and `cfgan synth` (write a
// synthetic dataset).
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "data.h"
#include "shard.h"
#include "synth.h"
#include "util.h"

// 1234567 -> "1,234,567"
static const char *grouped(int64_t v, char *buf) {
    char raw[32];
    snprintf(raw, sizeof raw, "%lld", (long long)(v < 0 ? -v : v));
    int n = (int)strlen(raw), w = 0;
    if (v < 0) buf[w++] = '-';
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0) buf[w++] = ',';
        buf[w++] = raw[i];
    }
    buf[w] = '\0';
    return buf;
}

static void data_info_help(void) {
    printf("usage: cfgan data-info CONFIG [--set section.key=value]... [--data-root DIR] [--json]\n\n"
           "Load the data a config names (same reader, id mapping and splits as `cfgan train`) and print\n"
           "users, items, interactions, density, train/validation/test sizes and cold users/items.\n"
           "  --json   one JSON object instead of the table\n"
           "Data paths are relative to --data-root, else $CFGAN_DATA, else data/.\n");
}

int cmd_data_info(int argc, char **argv) {
    CliArgs a;
    const char *json = NULL;
    CliOpt extra[] = {{"--json", 0, &json}, {NULL, 0, NULL}};
    cli_parse(&a, "data-info", argc, argv, extra, data_info_help);
    Config cfg;
    cli_load_config(&cfg, &a);
    Dataset ds;
    dataset_load(&ds, &cfg);
    int64_t total = ds.n_train + ds.n_valid + ds.n_test;
    int64_t test_users = 0, cold_users = 0, cold_items = 0;
    if (util_is_root()) { // rank 0 holds the test set
        char *item_test = xcalloc((size_t)ds.n_items, 1);
        for (int64_t k = 0; k < ds.test.nnz; k++) item_test[ds.test.col[k]] = 1;
        for (int32_t u = 0; u < ds.n_users; u++) {
            if (csr_row_len(&ds.test, u) == 0) continue;
            test_users++;
            if (ds.user_degree[u] == 0) cold_users++;
        }
        for (int32_t i = 0; i < ds.n_items; i++) cold_items += item_test[i] && ds.item_degree[i] == 0;
        free(item_test);
    }
    double density = (double)total / ((double)ds.n_users * (double)ds.n_items);
    if (!util_is_root()) goto done;
    if (json) {
        StrBuf cp = {0};
        sb_json_string(&cp, cfg.path);
        printf("{\"config\": %s, \"users\": %d, \"items\": %d, \"interactions\": %lld, \"density\": %.6g, "
               "\"train\": %lld, \"validation\": %lld, \"test\": %lld, \"test_users\": %lld, \"cold_users\": %lld, "
               "\"cold_items\": %lld, \"duplicates\": %lld, \"below_threshold\": %lld, \"kcore_removed\": %lld, "
               "\"fingerprint\": \"%016" PRIx64 "\"}\n",
               cp.data, ds.n_users, ds.n_items, (long long)total, density, (long long)ds.n_train,
               (long long)ds.n_valid, (long long)ds.n_test, (long long)test_users, (long long)cold_users,
               (long long)cold_items, (long long)(ds.train_stats.duplicates + ds.test_stats.duplicates),
               (long long)(ds.train_stats.below_threshold + ds.test_stats.below_threshold),
               (long long)ds.train_stats.kcore_removed, ds.fingerprint);
        sb_free(&cp);
        goto done;
    }
    char b1[32], b2[32], b3[32];
    static const char *fmt_names[] = {"cfgan", "ml100k", "ml1m", "csv", "tsv", "synthetic"};
    printf("config        %s (format %s)\n", cfg.path, fmt_names[cfg.data_format]);
    if (cfg.data_format == FORMAT_SYNTHETIC)
        printf("source        synthetic: %lld users, %lld items, %lld interactions, seed %lld\n",
               (long long)cfg.synth_users, (long long)cfg.synth_items, (long long)cfg.synth_interactions,
               (long long)cfg.synth_seed);
    else
        printf("train file    %s (%s lines, %s duplicates collapsed, %s below data.min_rating)\n", cfg.train_path,
               grouped(ds.train_stats.lines, b1), grouped(ds.train_stats.duplicates, b2),
               grouped(ds.train_stats.below_threshold, b3));
    if (cfg.test_path[0])
        printf("test file     %s (%s lines, %s duplicates collapsed, %s below data.min_rating)\n", cfg.test_path,
               grouped(ds.test_stats.lines, b1), grouped(ds.test_stats.duplicates, b2),
               grouped(ds.test_stats.below_threshold, b3));
    else
        printf("test split    per-user holdout of %.3g (data.test_fraction), seed %lld\n", cfg.data_test_fraction,
               (long long)cfg.data_seed);
    if (cfg.min_user_interactions > 1 || cfg.min_item_interactions > 1)
        printf("k-core        %s pairs removed (users >= %d pairs, items >= %d pairs)\n",
               grouped(ds.train_stats.kcore_removed, b1), cfg.min_user_interactions, cfg.min_item_interactions);
    printf("users         %s\n", grouped(ds.n_users, b1));
    printf("items         %s\n", grouped(ds.n_items, b1));
    printf("interactions  %s (density %.4f%%)\n", grouped(total, b1), 100 * density);
    printf("train         %s pairs\n", grouped(ds.n_train, b1));
    printf("validation    %s pairs (data.validation = %g)\n", grouped(ds.n_valid, b1), cfg.data_validation);
    printf("test          %s pairs, %s test users\n", grouped(ds.n_test, b1), grouped(test_users, b2));
    printf("cold users    %s (test users with no training pairs)\n", grouped(cold_users, b1));
    printf("cold items    %s (test items with no training pairs)\n", grouped(cold_items, b1));
    printf("fingerprint   %016" PRIx64 "\n", ds.fingerprint);
done:
    dataset_free(&ds);
    config_free(&cfg);
    return 0;
}

// ---- synth ------------------------------------------------------------------------------------

static void synth_help(void) {
    printf("usage: cfgan synth --users N --items M --interactions K [--seed S] [--topics T] --out FILE\n\n"
           "Write a deterministic synthetic implicit-feedback dataset in the cfgan format (`user item 1`\n"
           "per line, users in order). Items have lognormal popularity and belong to T latent topics; each\n"
           "user draws mostly from two topics, so a recommender can learn the structure. Output is\n"
           "streamed (memory O(users + items)) and appears atomically under FILE when complete.\n"
           "  --users N          users (>= 1)\n"
           "  --items M          items (>= 2)\n"
           "  --interactions K   distinct (user, item) pairs, exactly (at most users x items / 2)\n"
           "  --seed S           generator seed (default 7)\n"
           "  --topics T         latent clusters (default 10)\n"
           "  --out FILE         output path\n");
}

typedef struct {
    FILE *fp;
    int64_t n;
    double t0, next_report;
    int64_t total;
} SynthOut;

static void synth_write(void *ctx, int64_t user, int64_t item) {
    SynthOut *o = ctx;
    fprintf(o->fp, "%lld %lld 1\n", (long long)user, (long long)item);
    if (++o->n % 1000000 == 0) {
        double t = wall_seconds() - o->t0;
        if (t >= o->next_report) {
            double frac = (double)o->n / (double)o->total;
            fprintf(stderr, "synth: %.1f%% (%lld pairs, %.0f s, ETA %.0f s)\n", 100 * frac, (long long)o->n, t,
                    t / frac - t);
            o->next_report = t + 5;
        }
    }
}

static int64_t parse_count(const char *s, const char *what, int64_t lo, int64_t hi) {
    if (!s) die(EXIT_INPUT, "cfgan synth: missing %s (see cfgan synth --help)", what);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi)
        die(EXIT_INPUT, "cfgan synth: %s '%s' must be an integer in [%lld, %lld]", what, s, (long long)lo, (long long)hi);
    return v;
}

int cmd_synth(int argc, char **argv) {
    const char *users = NULL, *items = NULL, *inter = NULL, *seed = "7", *topics = "10";
    CliOpt extra[] = {{"--users", 1, &users},   {"--items", 1, &items}, {"--interactions", 1, &inter},
                      {"--seed", 1, &seed},     {"--topics", 1, &topics}, {NULL, 0, NULL}};
    CliArgs a;
    cli_parse(&a, "synth", argc, argv, extra, synth_help);
    if (a.n_positional) die(EXIT_INPUT, "cfgan synth: unexpected argument '%s'", a.positional[0]);
    SynthSpec spec = {parse_count(users, "--users", 1, INT32_MAX - 1), parse_count(items, "--items", 2, INT32_MAX - 1),
                      parse_count(inter, "--interactions", 1, INT64_MAX / 2),
                      (uint64_t)parse_count(seed, "--seed", 0, INT64_MAX), (int)parse_count(topics, "--topics", 1, 100000)};
    if (!a.out_dir) die(EXIT_INPUT, "cfgan synth: missing --out FILE"); // (cli_parse rejects an empty one)
    const char *problem = synth_check(&spec);
    if (problem) die(EXIT_INPUT, "cfgan synth: %s", problem);
    if (!util_is_root()) return 0;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.partial", a.out_dir);
    FILE *fp = fopen(tmp, "w");
    if (!fp) die(EXIT_INPUT, "%s: cannot write: %s", tmp, strerror(errno));
    setvbuf(fp, NULL, _IOFBF, 1 << 22);
    SynthOut o = {fp, 0, wall_seconds(), 5, spec.interactions};
    synth_generate(&spec, synth_write, &o);
    if (fflush(fp) != 0 || ferror(fp) || fsync(fileno(fp)) != 0) {
        int e = errno;
        fclose(fp);
        remove(tmp);
        die(EXIT_RUNTIME, "%s: write failed: %s", a.out_dir, strerror(e));
    }
    fclose(fp);
    if (rename(tmp, a.out_dir) != 0) {
        int e = errno;
        remove(tmp);
        die(EXIT_RUNTIME, "%s: cannot rename from %s: %s", a.out_dir, tmp, strerror(e));
    }
    fprintf(stderr, "synth: wrote %lld pairs to %s in %.1f s\n", (long long)o.n, a.out_dir, wall_seconds() - o.t0);
    return 0;
}
