// cmd_baseline: `cfgan baseline CONFIG --model toppop|itemknn|ease`, simple strong baselines on
// the same split, candidates and evaluator as the trainer, with the same run records.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baselines.h"
#include "cli.h"
#include "commands.h"
#include "config.h"
#include "eval.h"
#include "par.h"
#include "run_record.h"
#include "shard.h"
#include "util.h"
#include "version.h"

enum { M_TOPPOP, M_ITEMKNN, M_EASE };
static const char *const MODEL_NAMES[] = {"toppop", "itemknn", "ease"};

typedef struct {
    double lambda; // EASE^R
    int k;         // ItemKNN
    double shrink; // ItemKNN
} Params;

static void baseline_help(void) {
    printf("usage: [mpirun -np N] cfgan baseline CONFIG --model toppop|itemknn|ease [--set k=v]... [--data-root DIR] [--out DIR]\n\n"
           "Fit a baseline on the config's split and report P@K, R@K, NDCG@K, MRR@K with the trainer's evaluator\n"
           "(same test users, training items excluded, ties to the lower index). Writes DIR/metrics.jsonl (one line\n"
           "per fitted parameter setting), DIR/final.json and DIR/config.yaml; DIR defaults to\n"
           "runs/<config name>-<model>-<timestamp>.\n"
           "  toppop   items ranked by their number of training pairs\n"
           "  itemknn  cosine item-item similarity (baselines.itemknn.k neighbours, baselines.itemknn.shrink)\n"
           "  ease     EASE^R (baselines.ease.lambda), solved with ScaLAPACK over all ranks\n"
           "With data.validation > 0 every combination of the listed values is scored on validation and the best by\n"
           "eval.select is tested, fit on the training pairs only, as CFGAN's honest protocol does (no refit on\n"
           "training + validation: both models learn from the same pairs). Without validation a list of more\n"
           "than one value is refused (choosing on the test set is not a result).\n");
}

static void params_json(StrBuf *sb, int model, const Params *p) {
    if (model == M_EASE) sb_printf(sb, "\"lambda\": %.10g", p->lambda);
    else if (model == M_ITEMKNN) sb_printf(sb, "\"k\": %d, \"shrink\": %.10g", p->k, p->shrink);
    else sb_printf(sb, "\"params\": null");
}

// Fit on `hist` (this rank's users' pairs), score this rank's users excluding `excl`, merge on
// rank 0 and compute metrics against `heldout` there; every rank gets the metrics.
static void fit_and_evaluate(int model, const Params *p, const Dataset *ds, const Config *cfg, const Csr *hist,
                             const Csr *excl, const Csr *heldout, EaseGram *gram, Metrics *out, PerUser *per_user,
                             double *seconds) {
    double t0 = wall_seconds();
    TopK topk;
    topk_init(&topk, ds->n_users, cfg->topk[cfg->n_topk - 1]);
    if (model == M_TOPPOP) {
        score_toppop(&topk, hist, ds->row_offset, ds->row_stride, excl, ds->n_items);
    } else {
        ColumnBlocks S;
        colblocks_init(&S, ds->n_items);
        if (model == M_ITEMKNN) itemknn_fit(&S, hist, ds->n_items, p->k, p->shrink);
        else ease_fit(&S, gram, p->lambda);
        score_columns(&topk, hist, ds->row_offset, ds->row_stride, excl, &S);
        colblocks_free(&S);
    }
    topk_finish(&topk);
    topk_reduce(&topk);
    const ItemPopularity pop = {ds->item_degree, ds->n_items, ds->n_users};
    if (util_is_root()) metrics_compute(out, per_user, &topk, heldout, &pop, cfg->topk, cfg->n_topk);
    par_bcast(out, sizeof *out, 0);
    topk_free(&topk);
    *seconds = wall_seconds() - t0;
}

int cmd_baseline(int argc, char **argv) {
    const char *model_s = NULL;
    CliOpt extra[] = {{"--model", 1, &model_s}, {NULL, 0, NULL}};
    CliArgs a;
    cli_parse(&a, "baseline", argc, argv, extra, baseline_help);
    int model = -1;
    for (int m = 0; m < 3; m++)
        if (model_s && strcmp(model_s, MODEL_NAMES[m]) == 0) model = m;
    if (model < 0) die(EXIT_INPUT, "cfgan baseline: --model must be toppop, itemknn or ease (see --help)");
    Config cfg;
    cli_load_config(&cfg, &a);
    cfg.model_mode = MODE_USER; // baselines score users: rows are users
    const int honest = cfg.data_validation > 0;

    // the parameter grid
    int n_grid = 1;
    Params grid[CFG_LIST_MAX * CFG_LIST_MAX] = {{0}};
    if (model == M_EASE) {
        n_grid = cfg.n_ease_lambda;
        for (int i = 0; i < n_grid; i++) grid[i].lambda = cfg.ease_lambda[i];
    } else if (model == M_ITEMKNN) {
        n_grid = 0;
        for (int i = 0; i < cfg.n_knn_k; i++)
            for (int j = 0; j < cfg.n_knn_shrink; j++) grid[n_grid].k = cfg.knn_k[i], grid[n_grid++].shrink = cfg.knn_shrink[j];
    }
    if (!honest && n_grid > 1)
        die(EXIT_INPUT, "%s: %d parameter settings but no validation split to choose among them: set data.validation > 0 "
                        "or give one value",
            cfg.path, n_grid);
    if (model == M_EASE) par_require_mpi(NULL, NULL); // BLACS runs on MPI even for one process

    Dataset ds;
    dataset_load(&ds, &cfg);
    char dir[CFG_STR_MAX], path[CFG_STR_MAX + 32];
    record_choose_dir(dir, sizeof dir, &cfg, MODEL_NAMES[model], a.out_dir, 0);
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    info("baseline %s on %s: %d users x %d items, %lld training pairs, %d rank%s, protocol %s", MODEL_NAMES[model],
         cfg.name, ds.n_users, ds.n_items, (long long)ds.n_train, par_size(), par_size() > 1 ? "s" : "",
         honest ? "honest (validation)" : "reference (test)");

    double t_start = wall_seconds();
    StrBuf lines = {0};
    Metrics m, best_m = {0};
    int best = 0;
    double best_value = -1, secs;
    EaseGram *gram = model == M_EASE ? ease_gram(&ds.train, ds.n_items) : NULL;
    const Csr *heldout = honest ? &ds.valid : &ds.test;
    PerUser per_user = {0}; // the reported test metrics of every test user
    for (int g = 0; g < n_grid; g++) { // on validation (honest) or the single setting on test
        fit_and_evaluate(model, &grid[g], &ds, &cfg, &ds.train, &ds.train, heldout, gram, &m, honest ? NULL : &per_user,
                         &secs);
        StrBuf sb = {0};
        sb_printf(&sb, "{\"model\": \"%s\", ", MODEL_NAMES[model]);
        params_json(&sb, model, &grid[g]);
        sb_printf(&sb, ", \"split\": \"%s\", \"seconds\": %.3f, ", honest ? "valid" : "test", secs);
        metrics_json(&m, &sb);
        sb_printf(&sb, "}\n");
        sb_printf(&lines, "%s", sb.data); // written with the rest at the end: an error leaves nothing
        info("%s", sb.data ? strtok(sb.data, "\n") : "");
        sb_free(&sb);
        double v = metrics_get(&m, cfg.select_metric, cfg.select_k);
        if (v > best_value) best_value = v, best = g, best_m = m;
    }
    Metrics reported = best_m;
    if (honest) { // the chosen setting, fit on the training pairs as for validation, tested with the
                  // training and validation items excluded: what CFGAN's honest protocol does too
        Csr known;
        csr_union(&known, &ds.train, &ds.valid_rows);
        fit_and_evaluate(model, &grid[best], &ds, &cfg, &ds.train, &known, &ds.test, gram, &reported, &per_user, &secs);
        csr_free(&known);
        StrBuf sb = {0};
        sb_printf(&sb, "{\"model\": \"%s\", ", MODEL_NAMES[model]);
        params_json(&sb, model, &grid[best]);
        sb_printf(&sb, ", \"split\": \"test\", \"seconds\": %.3f, ", secs);
        metrics_json(&reported, &sb);
        sb_printf(&sb, "}\n");
        sb_printf(&lines, "%s", sb.data);
        sb_free(&sb);
    }
    ease_gram_free(gram);
    if (util_is_root()) { // every fit succeeded: now the run directory and its records
        record_write_config(dir, &cfg);
        record_write_per_user(dir, &per_user, cfg.topk, &ds);
        if (write_file_atomic(path, lines.data, lines.len) != 0)
            die_local(EXIT_RUNTIME, "%s: cannot write: %s", path, strerror(errno));
        StrBuf f = {0};
        sb_printf(&f, "{\n  \"model\": \"%s\",\n  \"protocol\": \"%s\",\n  \"selected\": {", MODEL_NAMES[model],
                  honest ? "honest" : "reference");
        params_json(&f, model, &grid[best]);
        sb_printf(&f, "},\n  \"test_users\": %lld,\n  \"reported\": {\"split\": \"test\", ", (long long)reported.n_users);
        metrics_json(&reported, &f);
        sb_printf(&f, "},\n  \"grid_size\": %d,\n  \"wall_seconds\": %.3f,\n  \"config\": ", n_grid, wall_seconds() - t_start);
        sb_json_string(&f, cfg.path);
        sb_printf(&f, ",\n  \"dataset_fingerprint\": \"%016llx\",\n  \"users\": %d, \"items\": %d, \"train_pairs\": %lld, "
                      "\"valid_pairs\": %lld, \"test_pairs\": %lld,\n  \"ranks\": %d,\n  \"version\": \"%s\",\n  \"git\": \"%s\",\n  \"blas\": ",
                  (unsigned long long)ds.fingerprint, ds.n_users, ds.n_items, (long long)ds.n_train, (long long)ds.n_valid,
                  (long long)ds.n_test, par_size(), cfgan_version(), cfgan_git());
        sb_json_string(&f, cfgan_blas());
        sb_printf(&f, "\n}\n");
        char fpath[CFG_STR_MAX + 32];
        snprintf(fpath, sizeof fpath, "%s/final.json", dir);
        if (write_file_atomic(fpath, f.data, f.len) != 0) die_local(EXIT_RUNTIME, "%s: cannot write: %s", fpath, strerror(errno));
        sb_free(&f);
        StrBuf r = {0};
        metrics_json(&reported, &r);
        info("final (%s protocol, test): %s", honest ? "honest" : "reference", r.data);
        info("wrote %s/metrics.jsonl, %s/final.json, %s/per_user.tsv, %s/config.yaml (%.1f s)", dir, dir, dir, dir,
             wall_seconds() - t_start);
        sb_free(&r);
    }
    sb_free(&lines);
    per_user_free(&per_user);
    dataset_free(&ds);
    config_free(&cfg);
    return 0;
}
