// cmd_recommend: `cfgan recommend`, top-N items for users from a trained checkpoint, in the
// dataset's original ids, with titles where the dataset has them.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ckpt.h"
#include "cli.h"
#include "commands.h"
#include "config.h"
#include "eval.h"
#include "model.h"
#include "par.h"
#include "shard.h"
#include "util.h"

static void recommend_help(void) {
    printf("usage: cfgan recommend CHECKPOINT (--user ID | --users FILE) [-k N] [--data-root DIR] [--titles FILE] [--out FILE]\n\n"
           "Print the top-N items for users from a trained model, as TSV: user, rank, item, score, title.\n"
           "Ids are the dataset's original ids; items the user has in training (or validation) are excluded.\n"
           "  CHECKPOINT      a checkpoint file, or a run directory (its newest valid checkpoint)\n"
           "  --user ID       one user (original id)\n"
           "  --users FILE    one user id per line (# comments allowed)\n"
           "  -k N            items per user (default 10)\n"
           "  --data-root DIR where the run's data lives (else $CFGAN_DATA, else data/)\n"
           "  --titles FILE   item titles: MovieLens u.item (id|title|...) or movies.dat (id::title::genres);\n"
           "                  default: the run's data.titles\n"
           "  --out FILE      write the TSV there (atomically) instead of stdout\n"
           "With the honest protocol the selected (best validation) parameters are used.\n");
}

// A heap copy of s, converted from Latin-1 unless it is valid UTF-8 already.
static char *to_utf8(const char *s) {
    size_t n = strlen(s);
    int valid = 1;
    for (const unsigned char *p = (const unsigned char *)s; *p && valid; p++) {
        int extra = *p < 0x80 ? 0 : (*p >> 5) == 6 ? 1 : (*p >> 4) == 14 ? 2 : (*p >> 3) == 30 ? 3 : -1;
        if (extra < 0) valid = 0;
        for (int k = 0; k < extra && valid; k++)
            if ((*++p & 0xC0) != 0x80) valid = 0;
    }
    if (valid) return xstrdup(s);
    char *out = xmalloc(2 * n + 1), *w = out; // Latin-1 -> UTF-8
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x80) *w++ = (char)*p;
        else *w++ = (char)(0xC0 | (*p >> 6)), *w++ = (char)(0x80 | (*p & 0x3F));
    }
    *w = '\0';
    return out;
}

// Each item's title (by dense index; NULL where the file has none) from MovieLens u.item
// (id|title|...) or movies.dat (id::title::genres).
static char **titles_load(const char *path, const IdMap *items) {
    char **titles = xcalloc((size_t)items->n, sizeof *titles);
    if (!path || !*path) return titles;
    LineReader *lr = line_reader_open(path);
    while (line_reader_next(lr) >= 0) {
        char *s = lr->line, *sep = strstr(s, "::");
        size_t sl = 2;
        if (!sep) sep = strchr(s, '|'), sl = 1;
        if (!sep) continue;
        *sep = '\0';
        char *title = sep + sl, *end = strstr(title, sl == 2 ? "::" : "|");
        if (end) *end = '\0';
        char *e;
        long long id = strtoll(s, &e, 10);
        if (e == s || *e) die(EXIT_INPUT, "%s:%ld: expected `id%stitle...`", path, lr->line_no, sl == 2 ? "::" : "|");
        int32_t i = idmap_find(items, id);
        if (i < 0 || titles[i]) continue; // an item not in the data, or a repeated id (the first title wins)
        for (char *p = title; *p; p++)
            if (*p == '\t') *p = ' ';
        titles[i] = to_utf8(title);
    }
    line_reader_close(lr);
    return titles;
}

static void load_checkpoint_arg(Checkpoint *c, const char *arg) {
    char err[512], path[4096];
    struct stat st;
    if (stat(arg, &st) != 0) die(EXIT_INPUT, "%s: cannot open: %s", arg, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        snprintf(path, sizeof path, "%s/checkpoints", arg); // a run directory, or its checkpoints
        const char *dir = stat(path, &st) == 0 ? path : arg;
        char found[4096];
        if (ckpt_load_newest(c, dir, found, sizeof found, err, sizeof err) != 0) die(EXIT_INPUT, "%s: %s", arg, err);
        return;
    }
    FILE *f = xfopen_input(arg);
    size_t cap = 1 << 20, n = 0, got;
    unsigned char *buf = xmalloc(cap);
    while ((got = fread(buf + n, 1, cap - n, f)) > 0)
        if ((n += got) == cap) buf = xrealloc(buf, cap *= 2);
    fclose(f);
    if (ckpt_parse(c, buf, n, err, sizeof err) != 0) die(EXIT_INPUT, "%s: %s", arg, err);
}

int cmd_recommend(int argc, char **argv) {
    const char *user = NULL, *users_file = NULL, *k_s = "10", *titles_path = NULL;
    CliOpt extra[] = {{"--user", 1, &user}, {"--users", 1, &users_file}, {"-k", 1, &k_s}, {"--titles", 1, &titles_path},
                      {NULL, 0, NULL}};
    CliArgs a;
    cli_parse(&a, "recommend", argc, argv, extra, recommend_help);
    if (par_size() > 1) die(EXIT_INPUT, "cfgan recommend: run it as one process (without mpirun)");
    if (!a.config_path) die(EXIT_INPUT, "cfgan recommend: missing CHECKPOINT (see --help)");
    if (!user == !users_file) die(EXIT_INPUT, "cfgan recommend: give exactly one of --user ID and --users FILE");
    char *end;
    long K = strtol(k_s, &end, 10);
    if (*end || K < 1 || K > 10000) die(EXIT_INPUT, "cfgan recommend: -k '%s' must be an integer in [1, 10000]", k_s);

    Checkpoint c;
    load_checkpoint_arg(&c, a.config_path);
    size_t cfg_bytes = 0;
    const char *cfg_text = NULL;
    for (int i = 0; i < c.n_sections; i++)
        if (strcmp(c.sec[i].name, "config.yaml") == 0) cfg_text = c.sec[i].data, cfg_bytes = c.sec[i].bytes;
    if (!cfg_text) die(EXIT_INPUT, "%s: the checkpoint holds no configuration", a.config_path);
    Config cfg;
    config_init(&cfg);
    char label[4200];
    snprintf(label, sizeof label, "%s (config.yaml)", a.config_path);
    config_load_text(&cfg, cfg_text, cfg_bytes, label);
    config_finish(&cfg, a.data_root);
    Dataset ds;
    dataset_load(&ds, &cfg);
    if (ds.fingerprint != c.fingerprint)
        die(EXIT_INPUT, "%s: the data under %s is not the data this model was trained on (fingerprint %016llx, "
                        "checkpoint %016llx): check --data-root",
            a.config_path, cfg.data_root, (unsigned long long)ds.fingerprint, (unsigned long long)c.fingerprint);

    // requested users (dense indices)
    int32_t *req = NULL;
    int n_req = 0, cap = 0;
    LineReader *lr = users_file ? line_reader_open(users_file) : NULL;
    for (const char *s = user; lr ? line_reader_next(lr) >= 0 : s != NULL; s = NULL) {
        const char *text = lr ? lr->line : s;
        while (*text == ' ' || *text == '\t') text++;
        if (!*text || *text == '#') continue;
        long long id = strtoll(text, &end, 10);
        while (*end == ' ' || *end == '\t') end++;
        if (end == text || *end) {
            if (lr) die(EXIT_INPUT, "%s:%ld: '%s' is not a user id", users_file, lr->line_no, text);
            die(EXIT_INPUT, "cfgan recommend: --user '%s' is not a user id", text);
        }
        int32_t u = idmap_find(&ds.users, id);
        if (u < 0) {
            if (lr) die(EXIT_INPUT, "%s:%ld: user %lld is not in the data", users_file, lr->line_no, id);
            die(EXIT_INPUT, "cfgan recommend: user %lld is not in the data", id);
        }
        if (n_req == cap) {
            cap = cap ? 2 * cap : 64;
            req = xrealloc(req, (size_t)cap * sizeof *req);
        }
        req[n_req++] = u;
    }
    if (lr) line_reader_close(lr);
    if (n_req == 0) die(EXIT_INPUT, "%s: no user ids", users_file ? users_file : "--user");

    // the model: selected parameters under the honest protocol, else the latest
    const int B = ds.n_rows < 256 ? ds.n_rows : 256;
    Cfgan m;
    cfgan_init(&m, &cfg, ds.n_cols, B);
    const void *params = ckpt_get(&c, "best_g", m.g.n_params * sizeof(float));
    if (!params) params = ckpt_get(&c, "g.params", m.g.n_params * sizeof(float));
    if (!params) die(EXIT_INPUT, "%s: generator parameters missing or of the wrong size", a.config_path);
    memcpy(m.g.params, params, m.g.n_params * sizeof(float));

    // scores: one pass over the rows (one process: local rows are global rows); every user's list
    // leaves out the user's training and validation pairs
    Csr known;
    csr_union(&known, &ds.train, &ds.valid_rows);
    if (K > ds.n_items) K = ds.n_items; // no list is longer than the catalogue: the table stays that small
    TopK top;
    topk_init(&top, ds.n_users, (int32_t)K);
    float *scores = xmalloc((size_t)B * ds.n_cols * sizeof *scores);
    for (int32_t r0 = 0; r0 < ds.n_rows; r0 += B) {
        int nb = ds.n_rows - r0 < B ? ds.n_rows - r0 : B;
        int any = ds.item_mode; // rows are users: only blocks with a requested user matter
        for (int j = 0; j < n_req && !any; j++) any = req[j] >= r0 && req[j] < r0 + nb;
        if (!any) continue;
        cfgan_generate(&m, nb, ds.train.row_ptr + r0, ds.train.col, scores);
        for (int32_t r = r0; r < r0 + nb; r++) {
            const float *row = scores + (size_t)(r - r0) * ds.n_cols;
            const int32_t *excl = known.col + known.row_ptr[r];
            if (ds.item_mode) topk_offer_item_column(&top, r, row, ds.n_cols, excl, csr_row_len(&known, r));
            else topk_offer_user_row(&top, r, row, ds.n_cols, excl, csr_row_len(&known, r));
        }
    }
    topk_finish(&top);
    char **titles = titles_load(titles_path ? titles_path : cfg.titles_path, &ds.items);
    StrBuf sb = {0};
    sb_printf(&sb, "user\trank\titem\tscore\ttitle\n");
    for (int j = 0; j < n_req; j++)
        for (int k = 0; k < top.count[req[j]]; k++) {
            TopKEntry e = top.e[(size_t)req[j] * K + k];
            sb_printf(&sb, "%lld\t%d\t%lld\t%.6g\t%s\n", (long long)ds.users.ids[req[j]], k + 1,
                      (long long)ds.items.ids[e.item], e.score, titles[e.item] ? titles[e.item] : "");
        }
    if (a.out_dir) {
        if (write_file_atomic(a.out_dir, sb.data, sb.len) != 0) die(EXIT_RUNTIME, "%s: cannot write: %s", a.out_dir, strerror(errno));
    } else {
        fwrite(sb.data, 1, sb.len, stdout);
    }
    sb_free(&sb);
    for (int32_t i = 0; i < ds.n_items; i++) free(titles[i]);
    free(titles), free(scores), free(req);
    topk_free(&top);
    csr_free(&known);
    cfgan_free(&m);
    dataset_free(&ds);
    config_free(&cfg);
    ckpt_free(&c);
    return 0;
}
