// train: the CFGAN training loop. Outer iterations redraw the negatives; each runs d_steps
// discriminator passes and g_steps generator passes over all rows in shuffled mini-batches, one
// optimizer update per mini-batch, and evaluates after generator passes. Two protocols:
// reference (test every eval.every epochs, report the last) and honest (select the epoch on a
// validation split, report the test metrics of the selected parameters).
#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "data.h"
#include "eval.h"
#include "model.h"
#include "par.h"
#include "rng.h"
#include "timer.h"
#include "util.h"
#include "version.h"

typedef struct {
    const Config *cfg;
    Dataset ds;
    int item_mode;
    int honest;            // data.validation > 0: select the epoch on validation
    Csr rows;              // training vectors of the rows: ds.train (user mode) or ds.trainᵀ (item mode)
    Csr test_excl;         // honest protocol: train ∪ validation, in row orientation
    int32_t n_rows, n_cols;
    int32_t *owner;        // (n_rows) rank that computes each row: contiguous blocks of ~equal nnz
    Cfgan model;
    int max_batch;
    int32_t *perm;         // (n_rows) batch order of the current pass
    int32_t *b_rows;       // (max_batch) rows of the current batch held here
    int64_t *b_ptr;        // (max_batch + 1)
    int32_t *b_col;        // training columns of the batch rows
    TopK topk;             // per-user candidates, max cutoff deep
    float *scores;         // (max_batch, n_cols) generator output while scoring
    char dir[CFG_STR_MAX];
    FILE *metrics;         // DIR/metrics.jsonl (rank 0)
    double t_start;
} Trainer;

// Numbers of one evaluation point, as written to metrics.jsonl.
typedef struct {
    int epoch;
    const char *split;
    double d_loss, g_loss, d_real, d_fake, seconds;
    Metrics m;
} EvalRecord;

static int cmp_i64_desc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

// Sum of the `bs` longest rows: the most training columns one batch can hold.
static int64_t max_batch_nnz(const Csr *rows, int bs) {
    int64_t *len = xmalloc((size_t)rows->n_rows * sizeof *len);
    for (int32_t r = 0; r < rows->n_rows; r++) len[r] = csr_row_len(rows, r);
    qsort(len, (size_t)rows->n_rows, sizeof *len, cmp_i64_desc);
    int64_t s = 0;
    for (int i = 0; i < bs && i < rows->n_rows; i++) s += len[i];
    free(len);
    return s;
}

// ---- run directory and records ----------------------------------------------------------------

static void choose_dir(Trainer *t, const TrainOptions *opt) {
    if (opt->out_dir) {
        snprintf(t->dir, sizeof t->dir, "%s", opt->out_dir);
    } else {
        char stamp[32];
        time_t now = time(NULL);
        if (util_is_root()) strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&now));
        par_bcast(stamp, sizeof stamp, 0); // every rank names the same directory
        snprintf(t->dir, sizeof t->dir, "runs/%s-%s", t->cfg->name, stamp);
    }
    char path[CFG_STR_MAX + 32];
    snprintf(path, sizeof path, "%s/metrics.jsonl", t->dir);
    struct stat st;
    if (!opt->resume && stat(path, &st) == 0)
        die(EXIT_INPUT, "%s: already holds a run (metrics.jsonl); pass --resume to continue it or choose another --out",
            t->dir);
}

static void write_text_atomic(const char *dir, const char *name, const char *text, size_t n) {
    char path[CFG_STR_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (write_file_atomic(path, text, n) != 0) die_local(EXIT_RUNTIME, "%s: cannot write: %s", path, strerror(errno));
}

static void write_config_echo(Trainer *t) {
    char *text = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&text, &n);
    fprintf(mem, "# resolved configuration of this run (cfgan %s, git %s)\n", cfgan_version(), cfgan_git());
    config_write_yaml(t->cfg, mem);
    fclose(mem);
    write_text_atomic(t->dir, "config.yaml", text, n);
    free(text);
}

static void record_json(StrBuf *sb, const EvalRecord *r) {
    sb_printf(sb, "{\"epoch\": %d, \"split\": \"%s\", \"d_loss\": %.9g, \"g_loss\": %.9g, \"d_real\": %.6g, "
                  "\"d_fake\": %.6g, \"seconds\": %.3f, ",
              r->epoch, r->split, r->d_loss, r->g_loss, r->d_real, r->d_fake, r->seconds);
    metrics_json(&r->m, sb);
    sb_printf(sb, "}");
}

static void append_metrics(Trainer *t, const EvalRecord *r) {
    if (!util_is_root()) return;
    StrBuf sb = {0};
    record_json(&sb, r);
    sb_printf(&sb, "\n");
    if (fwrite(sb.data, 1, sb.len, t->metrics) != sb.len || fflush(t->metrics) != 0)
        die_local(EXIT_RUNTIME, "%s/metrics.jsonl: write failed: %s", t->dir, strerror(errno));
    sb_free(&sb);
}

static void format_duration(double s, char *buf, size_t n) {
    long v = (long)(s + 0.5);
    if (v >= 3600) snprintf(buf, n, "%ldh%02ldm", v / 3600, (v / 60) % 60);
    else if (v >= 60) snprintf(buf, n, "%ldm%02lds", v / 60, v % 60);
    else snprintf(buf, n, "%lds", v);
}

static void print_progress(const EvalRecord *r, int total_epochs) {
    if (!util_is_root()) return;
    char line[1024], eta[32], el[32];
    int w = snprintf(line, sizeof line, "epoch %*d/%d  D %.4f (real %.3f fake %.3f)  G %.4f  %s", (int)log10(total_epochs) + 1,
                     r->epoch, total_epochs, r->d_loss, r->d_real, r->d_fake, r->g_loss, r->split);
    for (int c = 0; c < r->m.n_cutoffs && w < (int)sizeof line - 80; c++)
        w += snprintf(line + w, sizeof line - (size_t)w, "  @%d P %.4f R %.4f NDCG %.4f MRR %.4f", r->m.cutoff[c],
                      r->m.p[c], r->m.r[c], r->m.ndcg[c], r->m.mrr[c]);
    format_duration(r->seconds, el, sizeof el);
    format_duration(r->seconds / r->epoch * (total_epochs - r->epoch), eta, sizeof eta);
    info("%s  %s  ETA %s", line, el, eta);
}

// ---- evaluation -------------------------------------------------------------------------------

// Score every row with G, keep each user's top-K (excluding `excl`, rows as the mode's rows) and
// compute the metrics against `heldout` (user rows).
static void evaluate(Trainer *t, const Csr *heldout, const Csr *excl, Metrics *out) {
    timer_start(T_EVAL);
    topk_reset(&t->topk);
    const int n = t->n_cols;
    for (int32_t r0 = 0; r0 < t->n_rows; r0 += t->max_batch) {
        int B = t->n_rows - r0 < t->max_batch ? t->n_rows - r0 : t->max_batch;
        cfgan_generate(&t->model, B, t->rows.row_ptr + r0, t->rows.col, t->scores);
        for (int i = 0; i < B; i++) {
            int32_t r = r0 + i;
            const int32_t *ex = excl->col + excl->row_ptr[r];
            int32_t n_ex = csr_row_len(excl, r);
            if (t->item_mode) topk_offer_item_column(&t->topk, r, t->scores + (size_t)i * n, n, ex, n_ex);
            else topk_offer_user_row(&t->topk, r, t->scores + (size_t)i * n, n, ex, n_ex);
        }
    }
    topk_finish(&t->topk);
    metrics_compute(out, &t->topk, heldout, t->cfg->topk, t->cfg->n_topk);
    timer_stop(T_EVAL);
}

// ---- steps ------------------------------------------------------------------------------------

// Split rows into `size` contiguous blocks holding about equal numbers of training pairs (the
// work of a row is dominated by its dense output, but its sparse input grows with its pairs).
static void assign_owners(int32_t *owner, const Csr *rows, int size) {
    const double total = (double)rows->nnz + rows->n_rows;
    double acc = 0;
    for (int32_t r = 0; r < rows->n_rows; r++) {
        int k = (int)(acc / total * size);
        owner[r] = k < size ? k : size - 1;
        acc += (double)csr_row_len(rows, r) + 1;
    }
}

// Rows of perm[s, s + Bg) that this rank owns, gathered into the batch buffers.
static Batch gather_batch(Trainer *t, int64_t s, int Bg, uint32_t outer) {
    int B = 0;
    int64_t w = 0;
    const int me = par_rank();
    t->b_ptr[0] = 0;
    for (int i = 0; i < Bg; i++) {
        int32_t r = t->perm[s + i];
        if (t->owner[r] != me) continue;
        int64_t a = t->rows.row_ptr[r], len = t->rows.row_ptr[r + 1] - a;
        memcpy(t->b_col + w, t->rows.col + a, (size_t)len * sizeof *t->b_col);
        w += len;
        t->b_rows[B++] = r;
        t->b_ptr[B] = w;
    }
    return (Batch){B, t->b_rows, t->b_ptr, t->b_col, outer};
}

static noreturn void numeric_failure(const Trainer *t, const char *what, int epoch, int64_t step) {
    die(EXIT_NUMERIC, "%s: numerical failure: %s is not finite at epoch %d, step %lld (lower the learning rate?)",
        t->cfg->path, what, epoch, (long long)step);
}

// One pass over all rows in shuffled mini-batches, one update per batch. `pass` keys the shuffle.
static void run_pass(Trainer *t, int is_d, uint32_t outer, uint32_t pass, int epoch, StepStats *st, int64_t *step) {
    const Config *cfg = t->cfg;
    const int bs = is_d ? cfg->d_batch : cfg->g_batch;
    Mlp *net = is_d ? &t->model.d : &t->model.g;
    Rng rng;
    rng_init(&rng, (uint64_t)cfg->seed, RNG_SHUFFLE, outer, pass);
    for (int32_t r = 0; r < t->n_rows; r++) t->perm[r] = r;
    rng_shuffle(&rng, t->perm, t->n_rows);
    memset(st, 0, sizeof *st);
    int n_batches = 0;
    for (int64_t s = 0; s < t->n_rows; s += bs) {
        int Bg = (int)(t->n_rows - s < bs ? t->n_rows - s : bs);
        Batch b = gather_batch(t, s, Bg, outer);
        timer_start(T_SAMPLE);
        cfgan_sample_masks(&t->model, &b, (uint64_t)cfg->seed, !is_d);
        timer_stop(T_SAMPLE);
        memset(net->grads, 0, net->n_params * sizeof(float));
        float scale = 1.0f / (float)Bg; // the mean over the global batch
        StepStats bst = {0};
        if (is_d) cfgan_d_step(&t->model, &b, scale, &bst);
        else cfgan_g_step(&t->model, &b, scale, &bst);
        timer_start(T_ALLREDUCE);
        par_sum_float(net->grads, net->n_params);
        timer_stop(T_ALLREDUCE);
        timer_start(T_OPTIM);
        float lr = (float)(is_d ? cfg->d_lr : cfg->g_lr), reg = (float)(is_d ? cfg->d_reg : cfg->g_reg);
        if (cfg->optimizer == OPT_ADAM)
            adam_update(net, lr, (float)cfg->beta1, (float)cfg->beta2, (float)cfg->adam_eps, reg);
        else
            sgd_update(net, lr, reg);
        timer_stop(T_OPTIM);
        double loss = is_d ? bst.d_real + bst.d_fake : bst.g_adv + bst.g_zr;
        if (!isfinite(loss)) numeric_failure(t, is_d ? "the discriminator loss" : "the generator loss", epoch, *step);
        st->d_real += bst.d_real;
        st->d_fake += bst.d_fake;
        st->g_adv += bst.g_adv;
        st->g_zr += bst.g_zr;
        st->p_real += bst.p_real;
        st->p_fake += bst.p_fake;
        st->rows += bst.rows;
        n_batches++;
        (*step)++;
    }
    _Static_assert(sizeof(StepStats) == 7 * sizeof(double), "StepStats is summed as 7 doubles");
    par_sum_double(&st->d_real, 7); // one call sums every field over ranks
    double inv = 1.0 / n_batches;   // report the mean batch loss of the pass
    st->d_real *= inv;
    st->d_fake *= inv;
    st->g_adv *= inv;
    st->g_zr *= inv;
}

// ---- the run ----------------------------------------------------------------------------------

static void trainer_init(Trainer *t, const Config *cfg) {
    memset(t, 0, sizeof *t);
    t->cfg = cfg;
    t->t_start = wall_seconds();
    dataset_load(&t->ds, cfg);
    t->item_mode = cfg->model_mode == MODE_ITEM;
    t->honest = cfg->data_validation > 0;
    if (t->item_mode) csr_transpose(&t->rows, &t->ds.train);
    else {
        t->rows = t->ds.train; // shallow copy: freed through ds
    }
    t->n_rows = t->rows.n_rows;
    t->n_cols = t->rows.n_cols;
    if (t->honest) {
        Csr u;
        csr_union(&u, &t->ds.train, &t->ds.valid);
        if (t->item_mode) {
            csr_transpose(&t->test_excl, &u);
            csr_free(&u);
        } else {
            t->test_excl = u;
        }
    }
    t->max_batch = cfg->g_batch > cfg->d_batch ? cfg->g_batch : cfg->d_batch;
    if (t->max_batch > t->n_rows) t->max_batch = t->n_rows;
    cfgan_init(&t->model, cfg, t->n_cols, t->max_batch);
    cfgan_init_weights(&t->model, (uint64_t)cfg->seed);
    t->perm = xmalloc((size_t)t->n_rows * sizeof *t->perm);
    t->owner = xmalloc((size_t)t->n_rows * sizeof *t->owner);
    assign_owners(t->owner, &t->rows, par_size());
    t->b_rows = xmalloc((size_t)t->max_batch * sizeof *t->b_rows);
    t->b_ptr = xmalloc(((size_t)t->max_batch + 1) * sizeof *t->b_ptr);
    t->b_col = xmalloc((size_t)(max_batch_nnz(&t->rows, t->max_batch) + 1) * sizeof *t->b_col);
    topk_init(&t->topk, t->ds.n_users, cfg->topk[cfg->n_topk - 1]);
    t->scores = xmalloc((size_t)t->max_batch * t->n_cols * sizeof *t->scores);
}

static void trainer_free(Trainer *t) {
    if (t->item_mode) csr_free(&t->rows);
    if (t->honest) csr_free(&t->test_excl);
    cfgan_free(&t->model);
    free(t->perm);
    free(t->owner);
    free(t->b_rows);
    free(t->b_ptr);
    free(t->b_col);
    topk_free(&t->topk);
    free(t->scores);
    dataset_free(&t->ds);
}

static void write_final(Trainer *t, const EvalRecord *rep, const EvalRecord *best_valid, int epochs_run, int stopped_early) {
    if (!util_is_root()) return;
    const Config *cfg = t->cfg;
    StrBuf sb = {0};
    sb_printf(&sb, "{\n  \"protocol\": \"%s\",\n", t->honest ? "honest" : "reference");
    sb_printf(&sb, "  \"protocol_description\": \"%s\",\n",
              t->honest ? "epoch selected on the validation split by eval.select; test metrics of the selected parameters"
                        : "fixed number of epochs; test metrics at the last epoch (as the CFGAN authors report)");
    sb_printf(&sb, "  \"reported\": ");
    record_json(&sb, rep);
    if (best_valid) {
        sb_printf(&sb, ",\n  \"selected_on_validation\": ");
        record_json(&sb, best_valid);
        sb_printf(&sb, ",\n  \"select\": \"%s\"", cfg->eval_select);
    }
    sb_printf(&sb, ",\n  \"epochs_run\": %d,\n  \"stopped_early\": %s,\n", epochs_run, stopped_early ? "true" : "false");
    sb_printf(&sb, "  \"wall_seconds\": %.3f,\n", wall_seconds() - t->t_start);
    sb_printf(&sb, "  \"config\": ");
    sb_json_string(&sb, cfg->path);
    sb_printf(&sb, ",\n  \"config_hash\": \"%016llx\",\n  \"dataset_fingerprint\": \"%016llx\",\n",
              (unsigned long long)config_hash(cfg), (unsigned long long)t->ds.fingerprint);
    sb_printf(&sb, "  \"users\": %d, \"items\": %d, \"train_pairs\": %lld, \"valid_pairs\": %lld, \"test_pairs\": %lld,\n",
              t->ds.n_users, t->ds.n_items, (long long)t->ds.train.nnz, (long long)t->ds.valid.nnz,
              (long long)t->ds.test.nnz);
    sb_printf(&sb, "  \"ranks\": %d,\n  \"version\": \"%s\",\n  \"git\": \"%s\",\n  \"compiler\": ", par_size(),
              cfgan_version(), cfgan_git());
    sb_json_string(&sb, cfgan_compiler());
    sb_printf(&sb, ",\n  \"blas\": ");
    sb_json_string(&sb, cfgan_blas());
    sb_printf(&sb, "\n}\n");
    write_text_atomic(t->dir, "final.json", sb.data, sb.len);
    sb_free(&sb);
}

int train_run(const Config *cfg, const TrainOptions *opt) {
    Trainer t;
    // everything that can fail on bad input happens before the run directory is created
    trainer_init(&t, cfg);
    choose_dir(&t, opt);
    if (util_is_root()) {
        mkdir_p(t.dir);
        write_config_echo(&t);
        char path[CFG_STR_MAX + 32];
        snprintf(path, sizeof path, "%s/metrics.jsonl", t.dir);
        t.metrics = fopen(path, "w");
        if (!t.metrics) die_local(EXIT_RUNTIME, "%s: cannot write: %s", path, strerror(errno));
    }
    const int T = cfg->epochs / cfg->g_steps, total_epochs = T * cfg->g_steps;
    if (total_epochs != cfg->epochs)
        warn("train.epochs = %d is not a multiple of train.g_steps = %d: running %d epochs (%d outer iterations)",
             cfg->epochs, cfg->g_steps, total_epochs, T);
    info("cfgan: %s  %s mode, %s  %d rows x %d columns, %lld training pairs  protocol %s  %d epochs  run dir %s",
         cfg->name, t.item_mode ? "item" : "user",
         cfg->model_scheme == SCHEME_ZR ? "ZR" : cfg->model_scheme == SCHEME_PM ? "PM" : "ZP", t.n_rows, t.n_cols,
         (long long)t.ds.train.nnz, t.honest ? "honest (validation)" : "reference (test)", total_epochs, t.dir);

    timer_reset();
    timer_start(T_TOTAL);
    StepStats dst = {0}, gst = {0};
    int64_t step = 0;
    EvalRecord last = {0}, best = {0};
    double best_value = -INFINITY;
    float *best_g = t.honest ? xmalloc(t.model.g.n_params * sizeof(float)) : NULL;
    int evals_since_best = 0, stopped_early = 0, epoch = 0;
    for (int outer = 0; outer < T && !stopped_early; outer++) {
        for (int p = 0; p < cfg->d_steps; p++) run_pass(&t, 1, (uint32_t)outer, (uint32_t)p, epoch + 1, &dst, &step);
        for (int p = 0; p < cfg->g_steps && !stopped_early; p++) {
            run_pass(&t, 0, (uint32_t)outer, (uint32_t)(cfg->d_steps + p), epoch + 1, &gst, &step);
            epoch++;
            if (epoch % cfg->eval_every != 0 && epoch != total_epochs) continue;
            EvalRecord r = {.epoch = epoch, .split = t.honest ? "valid" : "test"};
            r.d_loss = dst.d_real + dst.d_fake + cfg->d_reg * l2_half(t.model.d.params, t.model.d.n_params);
            r.g_loss = gst.g_adv + gst.g_zr + cfg->g_reg * l2_half(t.model.g.params, t.model.g.n_params);
            r.d_real = dst.rows > 0 ? dst.p_real / dst.rows : 0;
            r.d_fake = dst.rows > 0 ? dst.p_fake / dst.rows : 0;
            evaluate(&t, t.honest ? &t.ds.valid : &t.ds.test, &t.rows, &r.m);
            r.seconds = wall_seconds() - t.t_start;
            append_metrics(&t, &r);
            print_progress(&r, total_epochs);
            last = r;
            if (t.honest) {
                double v = metrics_get(&r.m, cfg->select_metric, cfg->select_k);
                if (v > best_value) {
                    best_value = v;
                    best = r;
                    memcpy(best_g, t.model.g.params, t.model.g.n_params * sizeof(float));
                    evals_since_best = 0;
                } else if (cfg->eval_patience > 0 && ++evals_since_best >= cfg->eval_patience) {
                    stopped_early = 1;
                    info("early stop at epoch %d: no %s improvement on validation in %d evaluations (best %.4f at epoch %d)",
                         epoch, cfg->eval_select, cfg->eval_patience, best_value, best.epoch);
                }
            }
        }
    }
    EvalRecord reported = last;
    if (t.honest) { // test the selected parameters
        memcpy(t.model.g.params, best_g, t.model.g.n_params * sizeof(float));
        reported = best;
        reported.split = "test";
        evaluate(&t, &t.ds.test, &t.test_excl, &reported.m);
        reported.seconds = wall_seconds() - t.t_start;
        append_metrics(&t, &reported);
    }
    timer_stop(T_TOTAL);
    write_final(&t, &reported, t.honest ? &best : NULL, epoch, stopped_early);
    if (util_is_root()) {
        fclose(t.metrics);
        StrBuf sb = {0};
        metrics_json(&reported.m, &sb);
        info("final (%s protocol, epoch %d, test): %s", t.honest ? "honest" : "reference", reported.epoch, sb.data);
        sb_free(&sb);
        StrBuf tb = {0};
        for (int i = 0; i < T_COUNT; i++)
            if (timer_seconds((TimerId)i) > 0) sb_printf(&tb, "%s%s %.2f s", tb.len ? ", " : "", TIMER_NAMES[i], timer_seconds((TimerId)i));
        info("time: %s", tb.data ? tb.data : "");
        info("wrote %s/metrics.jsonl, %s/final.json, %s/config.yaml", t.dir, t.dir, t.dir);
        sb_free(&tb);
    }
    free(best_g);
    trainer_free(&t);
    return 0;
}
