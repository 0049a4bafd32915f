// cmd_evaluate: `cfgan evaluate`, the evaluator on its own for scores from any system. It uses
// the same top-K and metric code as the trainer.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "data.h"
#include "eval.h"
#include "util.h"

static void evaluate_help(void) {
    printf("usage: cfgan evaluate --train FILE --test FILE --scores FILE [--topk 1,5,10,20] [--format cfgan]\n"
           "                      [--per-user OUT]\n\n"
           "Rank items by the given scores and print P@K, R@K, NDCG@K, MRR@K and the beyond-accuracy metrics\n"
           "(coverage, Gini, novelty, popularity of the lists; see docs/metrics.md) as one JSON object.\n"
           "  --train FILE    training pairs (their items are excluded from each user's ranking)\n"
           "  --test FILE     held-out pairs; test users are users with at least one test pair\n"
           "  --scores FILE   one line per user (0-based user ids of the files, in order), each holding\n"
           "                  whitespace-separated scores of items 0..n-1; lines starting with # are skipped\n"
           "  --topk LIST     cutoffs (default 5,10,20)\n"
           "  --format F      format of --train/--test: cfgan (default), ml100k, ml1m, tsv\n"
           "  --per-user OUT  also write every test user's metrics to OUT (TSV, as a run's per_user.tsv)\n"
           "Ids in the files are used as they are (0-based row and column numbers), not re-mapped.\n"
           "Ties are broken towards the lower item index; a NaN score ranks last.\n");
}

// Dense CSR from a pair file whose ids are already 0-based indices; users from n_rows on (who have
// no score line) are left out.
static void pairs_to_indexed_csr(Csr *out, int32_t n_rows, int32_t n_cols, const PairList *p) {
    int32_t *r = xmalloc((size_t)(p->n ? p->n : 1) * sizeof *r), *c = xmalloc((size_t)(p->n ? p->n : 1) * sizeof *c);
    int64_t n = 0;
    for (int64_t k = 0; k < p->n; k++)
        if (p->user[k] < n_rows) r[n] = (int32_t)p->user[k], c[n++] = (int32_t)p->item[k];
    csr_from_pairs(out, n_rows, n_cols, r, c, n, NULL);
    free(r);
    free(c);
}

// The largest of m and v[0..n).
static int64_t max_id(int64_t m, const int64_t *v, int64_t n) {
    for (int64_t k = 0; k < n; k++)
        if (v[k] > m) m = v[k];
    return m;
}

// Score lines (all but comment lines): user u's scores are line u. Counted before anything is sized
// by the ids, so that one huge id in a pair file cannot ask for memory the scores do not back.
static int32_t count_score_lines(const char *path) {
    LineReader *lr = line_reader_open(path);
    int64_t n = 0;
    while (line_reader_next(lr) >= 0) n += lr->line[strspn(lr->line, " \t")] != '#';
    line_reader_close(lr);
    return n > INT32_MAX - 1 ? INT32_MAX - 1 : (int32_t)n;
}

int cmd_evaluate(int argc, char **argv) {
    const char *train = NULL, *test = NULL, *scores = NULL, *topk_s = "5,10,20", *format = "cfgan", *per_user_path = NULL;
    CliOpt extra[] = {{"--train", 1, &train},   {"--test", 1, &test},     {"--scores", 1, &scores},
                      {"--topk", 1, &topk_s},   {"--format", 1, &format}, {"--per-user", 1, &per_user_path},
                      {NULL, 0, NULL}};
    CliArgs a;
    cli_parse(&a, "evaluate", argc, argv, extra, evaluate_help);
    if (a.n_positional) die(EXIT_INPUT, "cfgan evaluate: unexpected argument '%s' (see --help)", a.positional[0]);
    if (!train || !test || !scores) die(EXIT_INPUT, "cfgan evaluate: --train, --test and --scores are required (see --help)");
    int cutoffs[EVAL_MAX_CUTOFFS];
    int n_cut = cli_parse_int_list(topk_s, cutoffs, EVAL_MAX_CUTOFFS, "--topk");
    int maxk = 0;
    for (int c = 0; c < n_cut; c++) maxk = cutoffs[c] > maxk ? cutoffs[c] : maxk;
    ReadOptions opt = {FORMAT_CFGAN, ',', 0, 0, 1, 2, 0};
    if (strcmp(format, "ml100k") == 0) opt.format = FORMAT_ML100K;
    else if (strcmp(format, "ml1m") == 0) opt.format = FORMAT_ML1M;
    else if (strcmp(format, "tsv") == 0) opt.format = FORMAT_TSV, opt.delimiter = '\t';
    else if (strcmp(format, "cfgan") != 0) die(EXIT_INPUT, "cfgan evaluate: unknown --format '%s'", format);

    PairList tr = {0}, te = {0};
    ReadStats st;
    data_read_pairs(train, &opt, &tr, &st);
    data_read_pairs(test, &opt, &te, &st);
    const int32_t n_lines = count_score_lines(scores);
    const int64_t mi = max_id(max_id(-1, tr.item, tr.n), te.item, te.n);
    const int64_t mu = max_id(max_id(-1, tr.user, tr.n), te.user, te.n); // the files' users: U of novelty
    if (mi >= INT32_MAX || mu >= INT32_MAX)
        die(EXIT_INPUT, "%s: ids must be below 2^31 for `evaluate`", max_id(-1, tr.item, tr.n) == mi ? train : test);
    int64_t unscored = INT64_MAX; // the first test user without a score line (reported after the scores' own checks)
    for (int64_t k = 0; k < te.n; k++)
        if (te.user[k] >= n_lines && te.user[k] < unscored) unscored = te.user[k];
    const int32_t n_users = n_lines, n_items_files = (int32_t)mi + 1;
    Csr trc, tec;
    pairs_to_indexed_csr(&trc, n_users, n_items_files, &tr);
    pairs_to_indexed_csr(&tec, n_users, n_items_files, &te);
    pairs_free(&te);

    TopK topk;
    topk_init(&topk, n_users, maxk);
    LineReader *lr = line_reader_open(scores);
    int32_t row = 0, n_items = -1;
    long first_line = 0;
    float *s = NULL;
    while (line_reader_next(lr) >= 0) {
        char *p = lr->line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '#') continue;
        int32_t n = 0;
        for (;;) {
            while (*p == ' ' || *p == '\t') p++;
            if (!*p) break;
            char *end;
            float v = strtof(p, &end);
            if (end == p || (*end && *end != ' ' && *end != '\t')) {
                char tok[32];
                snprintf(tok, sizeof tok, "%.*s", (int)strcspn(p, " \t"), p);
                die(EXIT_INPUT, "%s:%ld: score '%s' is not a number", scores, lr->line_no, tok);
            }
            if (n_items < 0 || n < n_items) {
                s = xrealloc(s, (size_t)(n + 1) * sizeof *s);
                s[n] = v;
            }
            n++;
            p = end;
        }
        if (n_items < 0) {
            if (n == 0) die(EXIT_INPUT, "%s:%ld: empty score line (user %d)", scores, lr->line_no, row);
            n_items = n, first_line = lr->line_no;
            if (n_items < n_items_files)
                die(EXIT_INPUT, "%s:%ld: %d scores, but the pair files use items up to %d", scores, lr->line_no, n, n_items_files - 1);
        } else if (n != n_items) {
            die(EXIT_INPUT, "%s:%ld: %d scores where line %ld has %d", scores, lr->line_no, n, first_line, n_items);
        }
        topk_offer_user_row(&topk, row, s, n_items, trc.col + trc.row_ptr[row], csr_row_len(&trc, row));
        row++;
    }
    line_reader_close(lr);
    if (unscored < INT64_MAX)
        die(EXIT_INPUT, "%s: %d score lines, but test user %lld needs line %lld", scores, row, (long long)unscored,
            (long long)unscored + 1);
    topk_finish(&topk);
    // the items' training popularity over the scored catalogue
    // (every distinct training pair counts, also those of users without a score line)
    int64_t *pop = xcalloc((size_t)n_items + 1, sizeof *pop), *key = xmalloc((size_t)(tr.n + 1) * sizeof *key);
    for (int64_t q = 0; q < tr.n; q++) key[q] = tr.user[q] << 32 | tr.item[q];
    qsort(key, (size_t)tr.n, sizeof *key, cmp_int64);
    for (int64_t q = 0; q < tr.n; q++)
        if (q == 0 || key[q] != key[q - 1]) pop[key[q] & UINT32_MAX]++;
    free(key);
    pairs_free(&tr);
    const ItemPopularity ip = {pop, n_items, mu + 1};
    Metrics m;
    PerUser per_user = {0};
    metrics_compute(&m, per_user_path ? &per_user : NULL, &topk, &tec, &ip, cutoffs, n_cut);
    if (per_user_path) {
        StrBuf t = {0};
        per_user_tsv(&per_user, cutoffs, NULL, &t);
        if (write_file_atomic(per_user_path, t.data, t.len) != 0)
            die(EXIT_RUNTIME, "%s: cannot write: %s", per_user_path, strerror(errno));
        sb_free(&t);
        per_user_free(&per_user);
    }
    free(pop);
    StrBuf sb = {0};
    sb_printf(&sb, "{");
    metrics_json(&m, &sb);
    sb_printf(&sb, "}\n");
    if (util_is_root()) fputs(sb.data, stdout);
    sb_free(&sb);
    free(s);
    topk_free(&topk);
    csr_free(&trc);
    csr_free(&tec);
    return 0;
}
