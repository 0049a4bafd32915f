// train: the CFGAN training loop. Outer iterations redraw the negatives; each runs d_steps
// discriminator passes and g_steps generator passes over all rows in shuffled mini-batches, one
// optimizer update per mini-batch, and evaluates after generator passes. Two protocols:
// reference (test every eval.every epochs, report the last) and honest (select the epoch on a
// validation split, report the test metrics of the selected parameters).
//
// Parallel shape: every rank holds every np-th row and the whole model. A global mini-batch is
// fixed by the seed; each rank computes its rows of it; the gradients are summed across ranks once
// per step -- a reduce-scatter, Adam on this rank's 1/np of the parameters, an allgather (or one
// allreduce and the full update on every rank) -- with the "stop now" and "loss not finite" flags
// of every rank riding along. Evaluation: each rank scores its rows, per-user top-K lists are
// merged on rank 0, which computes the metrics and writes every file.
#include "train.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ckpt.h"
#include "data.h"
#include "eval.h"
#include "gemm.h"
#include "model.h"
#include "par.h"
#include "rng.h"
#include "shard.h"
#include "timer.h"
#include "util.h"
#include "version.h"

enum { SPLIT_VALID, SPLIT_TEST };
static const char *const SPLIT_NAMES[] = {"valid", "test"};

// One evaluation point, as written to metrics.jsonl (plain data: checkpointed as bytes).
typedef struct {
    int32_t epoch, split;
    double d_loss, g_loss, d_real, d_fake, seconds;
    Metrics m;
} EvalRecord;

// Where training stands: enough to continue bit for bit (plain data: checkpointed as bytes).
typedef struct {
    int32_t outer, pass;     // outer iteration and pass within it (D passes first, then G passes)
    int32_t epoch;           // generator passes completed
    int32_t n_evals;         // lines written to metrics.jsonl
    int64_t batch_start;     // next batch of the pass starts at this position of its permutation
    int64_t step;            // optimizer steps taken (both networks)
    int32_t pass_batches;    // batches done in the current pass
    int32_t finished;        // the training loop completed (only the reporting is left)
    double elapsed;          // wall seconds used so far
    StepStats pass_st;       // sums of the current pass so far
    StepStats dst, gst;      // last complete D pass and G pass (means)
    // honest protocol
    double best_value;
    int32_t evals_since_best, stopped_early, have_best, pad;
    EvalRecord best, last;
} TrainState;

typedef struct {
    const Config *cfg;
    Dataset ds;
    int honest;            // data.validation > 0: select the epoch on validation
    Cfgan model;
    size_t shard[2];       // sharded optimizer: parameters per rank of D ([0]) and G ([1]); 0 = off
    // node-shared exchange (run.node_shared): every rank's gradient buffer and one copy of the
    // parameters in shared memory; each rank's optimizer sums its slice straight from every rank's
    // gradient and updates it in place, so nothing is copied and no allgather is needed
    int node_shared;
    float **grad_slices[2]; // (np) this rank's slice of every rank's gradient, D ([0]) and G ([1])
    // with node-shared memory G's weight gradients are formed from their factors (Cfgan.g_factored):
    // each rank owns about 1/np of the rows of each of G's weight matrices (owned_rows) and 1/np of
    // each bias, and publishes its batch, G's layer inputs and their gradients in a window (fwin)
    float **g_grad_base;   // (np) every rank's whole G gradient buffer (the biases are summed from them)
    float **fwin;          // (np) every rank's factor window, or NULL
    int32_t *fscratch;     // adam_rows_factored's counting sort
    int *f_B;              // (np) rows of every rank's current batch (read from the windows each step)
    SparseBatch *f_x;      // (np) their training columns (G's sparse input), in the windows
    const float **f_in, **f_dout; // (layers x np) inputs and output gradients of G's layers, in the windows
    int64_t b_col_cap;     // columns the batch buffer holds
    int *in_split;         // (np + 1) rank r owns rows [in_split[r], in_split[r + 1]) of G's first layer
    // run.split_hidden (G with one hidden layer): rank r owns G's hidden units [hid_lo, hid_hi) --
    // those columns of the first weight matrix, those rows of the second -- and computes them for
    // every rank's batch rows; its partial output goes through its window (FH_PART)
    int split;
    int hid_lo, hid_hi;
    int *x_off;            // (np + 1) rank r's rows are rows [x_off[r], x_off[r + 1]) of the whole batch
    int64_t *x_ptr;        // the whole batch's training columns (a private copy, rank order)
    int32_t *x_col;
    float *hid, *dhid;     // (g_batch, hid_hi - hid_lo) this rank's hidden units and their gradient, all rows
    float *dbias;          // (hid_hi - hid_lo) their bias gradient
    const float **split_dout; // (np) each rank's rows of dhid
    int max_batch;         // largest training mini-batch
    int eval_block;        // rows scored at once
    int32_t *perm;         // (n_rows) batch order of the current pass
    int32_t *b_rows;       // (max_batch) rows of the current batch held here
    int32_t *b_local;      // (max_batch) their local indices
    int64_t *b_ptr;        // (max_batch + 1)
    int32_t *b_col;        // training columns of the batch rows
    TopK topk;             // per-user candidates, max cutoff deep
    float *scores;         // (eval_block, n_cols) generator output while scoring
    int32_t *eval_order;   // (local rows) item mode: local rows, most training pairs first
    float *g_cache;        // (local rows, n_cols) G's output for every local row, or NULL (run.g_cache_mb)
    int64_t g_cache_step;  // G's optimizer step the cache was computed at; -1 = stale
    const float **g_rows;  // (max_batch) cache rows of the current batch
    float *best_g;         // honest protocol: generator parameters of the best epoch
    Csr test_excl;         // honest protocol: train ∪ validation of the local rows
    char dir[CFG_STR_MAX];
    char ckpt_dir[CFG_STR_MAX + 16];
    FILE *metrics;         // DIR/metrics.jsonl (rank 0)
    double t_start;
    TrainState s;
} Trainer;

static volatile sig_atomic_t g_stop_signal = 0;
static void on_stop_signal(int sig) { g_stop_signal = sig; }

static void step_stats_add(StepStats *acc, const StepStats *add) {
    acc->d_real += add->d_real, acc->d_fake += add->d_fake, acc->g_adv += add->g_adv, acc->g_zr += add->g_zr;
    acc->p_real += add->p_real, acc->p_fake += add->p_fake, acc->rows += add->rows;
}

static int cmp_i64_desc(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

// ---- run directory and records ----------------------------------------------------------------

static void choose_dir(Trainer *t, const TrainOptions *opt) {
    if (opt->out_dir) {
        snprintf(t->dir, sizeof t->dir, "%s", opt->out_dir);
    } else {
        char stamp[32] = "";
        time_t now = time(NULL);
        if (util_is_root()) strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&now));
        par_bcast(stamp, sizeof stamp, 0); // every rank names the same directory
        snprintf(t->dir, sizeof t->dir, "runs/%s-%s", t->cfg->name, stamp);
    }
    snprintf(t->ckpt_dir, sizeof t->ckpt_dir, "%s/checkpoints", t->dir);
    char path[CFG_STR_MAX + 32];
    snprintf(path, sizeof path, "%s/metrics.jsonl", t->dir);
    struct stat st;
    int taken = util_is_root() && stat(path, &st) == 0; // rank 0 decides: others may see its files appear
    par_bcast(&taken, sizeof taken, 0);
    if (!opt->resume && taken)
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
              r->epoch, SPLIT_NAMES[r->split], r->d_loss, r->g_loss, r->d_real, r->d_fake, r->seconds);
    metrics_json(&r->m, sb);
    sb_printf(sb, "}");
}

static void append_metrics(Trainer *t, const EvalRecord *r) {
    t->s.n_evals++;
    if (!util_is_root()) return;
    StrBuf sb = {0};
    record_json(&sb, r);
    sb_printf(&sb, "\n");
    if (fwrite(sb.data, 1, sb.len, t->metrics) != sb.len || fflush(t->metrics) != 0)
        die_local(EXIT_RUNTIME, "%s/metrics.jsonl: write failed: %s", t->dir, strerror(errno));
    sb_free(&sb);
}

// Open metrics.jsonl: new, or on resume keep exactly the first n_evals lines.
static void open_metrics(Trainer *t, int resume) {
    if (!util_is_root()) return;
    char path[CFG_STR_MAX + 32];
    snprintf(path, sizeof path, "%s/metrics.jsonl", t->dir);
    if (resume) {
        FILE *in = fopen(path, "r");
        StrBuf keep = {0};
        char *line = NULL;
        size_t cap = 0;
        int kept = 0;
        while (in && kept < t->s.n_evals && getline(&line, &cap, in) > 0) sb_printf(&keep, "%s", line), kept++;
        free(line);
        if (in) fclose(in);
        if (kept < t->s.n_evals)
            die_local(EXIT_INPUT, "%s: holds %d evaluations but the checkpoint recorded %d", path, kept, t->s.n_evals);
        if (write_file_atomic(path, keep.data ? keep.data : "", keep.len) != 0)
            die_local(EXIT_RUNTIME, "%s: cannot rewrite: %s", path, strerror(errno));
        sb_free(&keep);
    }
    t->metrics = fopen(path, resume ? "a" : "w");
    if (!t->metrics) die_local(EXIT_RUNTIME, "%s: cannot write: %s", path, strerror(errno));
}

static void format_duration(double s, char *buf, size_t n) {
    long v = (long)(s + 0.5);
    if (v >= 3600) snprintf(buf, n, "%ldh%02ldm", v / 3600, (v / 60) % 60);
    else if (v >= 60) snprintf(buf, n, "%ldm%02lds", v / 60, v % 60);
    else snprintf(buf, n, "%lds", v);
}

static void print_progress(const EvalRecord *r, int total_epochs, double epoch_rate) {
    if (!util_is_root()) return;
    char line[1024], eta[32], el[32];
    int w = snprintf(line, sizeof line, "epoch %*d/%d  D %.4f (real %.3f fake %.3f)  G %.4f  %s",
                     (int)log10(total_epochs) + 1, r->epoch, total_epochs, r->d_loss, r->d_real, r->d_fake, r->g_loss,
                     SPLIT_NAMES[r->split]);
    for (int c = 0; c < r->m.n_cutoffs && w < (int)sizeof line - 80; c++)
        w += snprintf(line + w, sizeof line - (size_t)w, "  @%d P %.4f R %.4f NDCG %.4f MRR %.4f", r->m.cutoff[c],
                      r->m.p[c], r->m.r[c], r->m.ndcg[c], r->m.mrr[c]);
    format_duration(r->seconds, el, sizeof el);
    format_duration(epoch_rate * (total_epochs - r->epoch), eta, sizeof eta);
    info("%s  %s  ETA %s", line, el, eta);
}

// ---- evaluation -------------------------------------------------------------------------------

// Score this rank's rows with G, keep each user's top-K (excluding `excl`, local rows), merge the
// lists on rank 0 and compute the metrics there against `heldout`; every rank gets the metrics.
static void evaluate(Trainer *t, const Csr *heldout, const Csr *excl, Metrics *out) {
    timer_start(T_EVAL);
    topk_reset(&t->topk);
    const Dataset *ds = &t->ds;
    const int n = ds->n_cols;
    const int32_t n_local = ds->n_local_rows;
    const int fill_cache = t->g_cache != NULL; // these outputs also serve the next D phase
    // item mode with every row's scores at hand: offer the items most popular in training first. The
    // lists are the same in any order, but with the likely winners early each user's floor rises
    // at once and most later offers stop at one comparison (fewer heap updates)
    const int by_popularity = fill_cache && ds->item_mode;
    for (int32_t r0 = 0; r0 < n_local; r0 += t->eval_block) {
        int B = n_local - r0 < t->eval_block ? n_local - r0 : t->eval_block;
        float *scores = fill_cache ? t->g_cache + (size_t)r0 * n : t->scores;
        timer_start(T_SCORE); // pauses T_EVAL
        cfgan_generate(&t->model, B, ds->train.row_ptr + r0, ds->train.col, scores);
        timer_stop(T_SCORE);
        for (int i = 0; i < B && !by_popularity; i++) {
            int32_t lr = r0 + i, r = dataset_global_row(ds, lr);
            const int32_t *ex = excl->col + excl->row_ptr[lr];
            int32_t n_ex = csr_row_len(excl, lr);
            if (ds->item_mode) topk_offer_item_column(&t->topk, r, scores + (size_t)i * n, n, ex, n_ex);
            else topk_offer_user_row(&t->topk, r, scores + (size_t)i * n, n, ex, n_ex);
        }
    }
    for (int32_t q = 0; q < n_local && by_popularity; q++) {
        const int32_t lr = t->eval_order[q];
        topk_offer_item_column(&t->topk, dataset_global_row(ds, lr), t->g_cache + (size_t)lr * n, n,
                               excl->col + excl->row_ptr[lr], csr_row_len(excl, lr));
    }
    if (fill_cache) t->g_cache_step = t->model.g.step;
    topk_finish(&t->topk);
    topk_reduce(&t->topk);
    if (util_is_root()) metrics_compute(out, &t->topk, heldout, t->cfg->topk, t->cfg->n_topk);
    par_bcast(out, sizeof *out, 0);
    timer_stop(T_EVAL);
}

// ---- steps ------------------------------------------------------------------------------------

// Rows of perm[s, s + Bg) that this rank holds, gathered into the batch buffers.
static Batch gather_batch(Trainer *t, int64_t s, int Bg, uint32_t outer) {
    const Csr *rows = &t->ds.train;
    int B = 0;
    int64_t w = 0;
    t->b_ptr[0] = 0;
    for (int i = 0; i < Bg; i++) {
        int32_t r = t->perm[s + i], lr = dataset_local_row(&t->ds, r);
        if (lr < 0) continue;
        int64_t a = rows->row_ptr[lr], len = rows->row_ptr[lr + 1] - a;
        memcpy(t->b_col + w, rows->col + a, (size_t)len * sizeof *t->b_col);
        w += len;
        t->b_local[B] = lr;
        t->b_rows[B++] = r;
        t->b_ptr[B] = w;
    }
    return (Batch){B, t->b_rows, t->b_ptr, t->b_col, outer, t->b_local};
}

static noreturn void numeric_failure(const Trainer *t, const char *what, int epoch, int64_t step) {
    die(EXIT_NUMERIC, "%s: numerical failure: %s is not finite at epoch %d, step %lld (lower the learning rate?)",
        t->cfg->path, what, epoch, (long long)step);
}

static void check_replicas(const Trainer *t) {
    uint64_t h = hash64(1, t->model.g.params, t->model.g.n_params * sizeof(float));
    h = hash64(h, t->model.d.params, t->model.d.n_params * sizeof(float));
    if (!par_same_u64(h))
        die(EXIT_RUNTIME, "internal: model parameters differ across ranks at step %lld (run.check_every)",
            (long long)t->s.step);
}

// G's output for every local row, in large blocks (G does not change during the D phase).
static void refresh_g_cache(Trainer *t) {
    timer_start(T_G_FWD);
    const Dataset *ds = &t->ds;
    const int32_t n_local = ds->n_local_rows;
    for (int32_t r0 = 0; r0 < n_local; r0 += t->eval_block) {
        int B = n_local - r0 < t->eval_block ? n_local - r0 : t->eval_block;
        cfgan_generate(&t->model, B, ds->train.row_ptr + r0, ds->train.col, t->g_cache + (size_t)r0 * ds->n_cols);
    }
    t->g_cache_step = t->model.g.step;
    timer_stop(T_G_FWD);
}

// ---- G's weight gradients from their factors (node-shared memory) -----------------------------

// A factor window: a header of 64 uint64 (the batch's row count, the column capacity and the float
// offsets of the sections), then the batch's row starts (int64) and columns (int32), and for every
// layer l of G its output gradient dg_h[l] and, for l >= 1, its input g_h[l - 1], each for up to
// max rows.
// With run.split_hidden it also holds the rank's partial G output for the whole batch (FH_PART).
enum { FH_B, FH_CAP, FH_PTR, FH_COL, FH_DOUT, FH_IN = FH_DOUT + NN_MAX_LAYERS, FH_PART = FH_IN + NN_MAX_LAYERS,
       FH_WORDS = 64 };
_Static_assert(FH_PART < FH_WORDS, "factor window header");

static uint64_t *fwin_head(float *w) { return (uint64_t *)(void *)w; }

// Rows [lo, hi) of n that rank r of np owns.
static void owned(int n, int r, int np, int *lo, int *hi) {
    *lo = (int)((int64_t)n * r / np), *hi = (int)((int64_t)n * (r + 1) / np);
}

// This rank's rows of G's weight matrix l: the first layer's by expected work (split_first_layer),
// the others evenly.
static void owned_rows(const Trainer *t, int l, int r, int *lo, int *hi) {
    if (l == 0 && t->split) *lo = 0, *hi = t->model.g.dims[0]; // every row, the rank's columns
    else if (l == 0) *lo = t->in_split[r], *hi = t->in_split[r + 1];
    else owned(t->model.g.dims[l], r, par_size(), lo, hi);
}

// Split the rows of G's first layer (one per input column) so that every rank has the same expected
// work: a row's Adam update, plus one add of a gradient row for every batch row that holds its
// column -- count(column) · g_batch / n_rows per step -- at about a tenth of an update each
// (cfgan bench-adam against a vector add). Popular columns cluster in id order (ML1M's early users
// rate more), so an even split leaves one rank waiting. Collective; the same split on every rank.
static void split_first_layer(Trainer *t) {
    const int n = t->ds.n_cols, np = par_size();
    float *count = xcalloc((size_t)n, sizeof *count);
    const Csr *tr = &t->ds.train;
    for (int64_t q = 0; q < tr->row_ptr[tr->n_rows]; q++) count[tr->col[q]] += 1; // exact below 2^24
    par_sum_float(count, (size_t)n);
    const double per_row = 0.1 * t->cfg->g_batch / (double)t->ds.n_rows;
    double total = 0;
    for (int c = 0; c < n; c++) total += 1 + per_row * count[c];
    t->in_split = xmalloc((size_t)(np + 1) * sizeof *t->in_split);
    t->in_split[0] = 0;
    double acc = 0;
    int r = 1;
    for (int c = 0; c < n && r < np; c++) {
        acc += 1 + per_row * count[c];
        while (r < np && acc >= total * r / np) t->in_split[r++] = c + 1;
    }
    while (r <= np) t->in_split[r++] = n;
    free(count);
}

// Collective (node-shared only): the windows, their layout, and the optimizer's scratch.
static void setup_factors(Trainer *t) {
    const Mlp *g = &t->model.g;
    const int np = par_size(), L = g->n_layers;
    const size_t rows = (size_t)(t->cfg->g_batch < t->ds.n_local_rows ? t->cfg->g_batch : t->ds.n_local_rows);
    const size_t all_rows = (size_t)(t->cfg->g_batch < t->ds.n_rows ? t->cfg->g_batch : t->ds.n_rows);
    // split by hidden units (when every rank gets at least 16 of them). auto: when a rank's share of
    // the batch is small (np = 2: ML100K, 16 rows a rank, 11% faster per outer iteration; Ciao, 64,
    // even; ML1M, 128, 2% slower)
    const int want = t->cfg->split_hidden == SPLIT_ON ||
                     (t->cfg->split_hidden == SPLIT_AUTO && (all_rows + (size_t)np - 1) / (size_t)np <= 32);
    t->split = want && L == 2 && g->dims[1] / np >= 16;
    uint64_t head[FH_WORDS] = {0};
    size_t n = FH_WORDS * 2; // floats
#define SECTION(field, floats) (head[field] = n, n += ((floats) + 15) / 16 * 16)
    SECTION(FH_PTR, 2 * (rows + 1));
    SECTION(FH_COL, (size_t)t->b_col_cap);
    for (int l = 0; l < L; l++) SECTION(FH_DOUT + l, rows * (size_t)g->dims[l + 1]);
    for (int l = 1; l < L; l++) SECTION(FH_IN + l, rows * (size_t)g->dims[l]);
    if (t->split) SECTION(FH_PART, all_rows * (size_t)g->dims[L]);
#undef SECTION
    head[FH_CAP] = (uint64_t)t->b_col_cap;
    t->fwin = xmalloc((size_t)np * sizeof *t->fwin);
    par_node_shared(n, t->fwin);
    memcpy(t->fwin[par_rank()], head, sizeof head);
    par_node_sync();
    size_t cols = 0; // the most columns any rank's batch can hold
    for (int r = 0; r < np; r++) cols += (size_t)fwin_head(t->fwin[r])[FH_CAP];
    if (!t->split) split_first_layer(t); // split: every rank owns columns of every row of W1
    int most_rows = 0;
    for (int l = 0; l < L; l++) {
        int lo, hi;
        owned_rows(t, l, par_rank(), &lo, &hi);
        if (hi - lo > most_rows) most_rows = hi - lo;
    }
    t->fscratch = xmalloc(((size_t)np * ((size_t)most_rows + 1) + cols) * sizeof *t->fscratch);
    t->f_B = xcalloc((size_t)np, sizeof *t->f_B);
    t->f_x = xmalloc((size_t)np * sizeof *t->f_x);
    t->f_in = xmalloc((size_t)L * np * sizeof *t->f_in);
    t->f_dout = xmalloc((size_t)L * np * sizeof *t->f_dout);
    for (int r = 0; r < np; r++) { // where every rank's factors live (only the row counts change)
        float *w = t->fwin[r];
        const uint64_t *h = fwin_head(w);
        t->f_x[r] = (SparseBatch){0, (const int64_t *)(const void *)(w + h[FH_PTR]),
                                  (const int32_t *)(const void *)(w + h[FH_COL])};
        for (int l = 0; l < L; l++) {
            t->f_dout[(size_t)l * np + r] = w + h[FH_DOUT + l];
            t->f_in[(size_t)l * np + r] = l ? w + h[FH_IN + l] : NULL;
        }
    }
    // the G step writes its output gradient (B x n, the largest factor) straight into the window
    cfgan_g_output_grad_buffer(&t->model, t->fwin[par_rank()] + head[FH_DOUT + L - 1]);
    t->model.g_factored = 1;
    if (!t->split && t->cfg->split_hidden == SPLIT_ON)
        info("run.split_hidden=true has no effect here: it needs one hidden layer in G with at least 16 units per rank");
    if (!t->split) return;
    owned(g->dims[1], par_rank(), np, &t->hid_lo, &t->hid_hi);
    const size_t hw = (size_t)(t->hid_hi - t->hid_lo);
    t->x_off = xcalloc((size_t)np + 1, sizeof *t->x_off);
    t->x_ptr = xmalloc((all_rows + 1) * sizeof *t->x_ptr);
    t->x_col = xmalloc((cols ? cols : 1) * sizeof *t->x_col);
    t->hid = xmalloc(all_rows * hw * sizeof *t->hid);
    t->dhid = xmalloc(all_rows * hw * sizeof *t->dhid);
    t->dbias = xcalloc(hw, sizeof *t->dbias);
    t->split_dout = xmalloc((size_t)np * sizeof *t->split_dout);
    t->model.g_split = 1;
    info("G split by hidden units: this rank owns %d of %d (run.split_hidden)", t->hid_hi - t->hid_lo, g->dims[1]);
}

// Copy this G step's batch into this rank's window (a barrier then makes it visible; the next step
// writes after the barrier that ends this one).
static void publish_batch(Trainer *t, const Batch *b) {
    float *w = t->fwin[par_rank()];
    uint64_t *head = fwin_head(w);
    const int64_t nnz = b->ptr[b->B] - b->ptr[0];
    head[FH_B] = (uint64_t)b->B;
    int64_t *ptr = (int64_t *)(void *)(w + head[FH_PTR]);
    for (int i = 0; i <= b->B; i++) ptr[i] = b->ptr[i] - b->ptr[0];
    memcpy(w + head[FH_COL], b->col + b->ptr[0], (size_t)nnz * sizeof *b->col);
}

// The batch and G's layer outputs and gradients (the factors of G's weight gradients).
static void publish_factors(Trainer *t, const Batch *b) {
    const Mlp *g = &t->model.g;
    float *w = t->fwin[par_rank()];
    uint64_t *head = fwin_head(w);
    publish_batch(t, b);
    for (int l = 0; l + 1 < g->n_layers; l++) // the last one is there already (setup_factors)
        memcpy(w + head[FH_DOUT + l], t->model.dg_h[l], (size_t)b->B * g->dims[l + 1] * sizeof(float));
    for (int l = 1; l < g->n_layers; l++)
        memcpy(w + head[FH_IN + l], t->model.g_h[l - 1], (size_t)b->B * g->dims[l] * sizeof(float));
}

// Adam on this rank's rows of every weight matrix of G (gradients formed from every rank's factors,
// in rank order) and its share of every bias (summed from every rank's gradient buffer).
static void g_update_factored(Trainer *t, float lr, float reg) {
    const Config *cfg = t->cfg;
    Mlp *g = &t->model.g;
    const int np = par_size(), L = g->n_layers, me = par_rank();
    const float b1 = (float)cfg->beta1, b2 = (float)cfg->beta2, eps = (float)cfg->adam_eps;
    for (int r = 0; r < np; r++) t->f_x[r].B = t->f_B[r] = (int)fwin_head(t->fwin[r])[FH_B];
    const float lr_t = adam_step_rate(g, lr, b1, b2);
    for (int l = 0; l < L; l++) {
        LayerFactors f = {.n_parts = np, .B = t->f_B, .in = l ? t->f_in + (size_t)l * np : NULL,
                          .x = l ? NULL : t->f_x, .dout = t->f_dout + (size_t)l * np};
        int lo, hi;
        owned_rows(t, l, me, &lo, &hi);
        adam_rows_factored(g, l, lo, hi, &f, t->fscratch, lr_t, b1, b2, eps, reg);
        owned(g->dims[l + 1], me, np, &lo, &hi);
        adam_range_summed(g, g->b_off[l] + (size_t)lo, g->b_off[l] + (size_t)hi, t->g_grad_base, np, lr_t, b1, b2,
                          eps, reg);
    }
}

// run.split_hidden, G's forward for this step: every rank's batch through this rank's hidden units,
// their partial output for the whole batch into the window; then G(e) of this rank's rows is the
// output bias plus the ranks' partial outputs added in rank order. Collective (two syncs): every
// rank calls it for every G step, with or without rows in the batch.
static void split_forward(Trainer *t, const Batch *b) {
    const Mlp *g = &t->model.g;
    const int np = par_size(), me = par_rank(), H = g->dims[1], n = g->dims[2];
    const int lo = t->hid_lo, hw = t->hid_hi - t->hid_lo;
    timer_start(T_ALLREDUCE);
    publish_batch(t, b);
    par_node_sync(); // every rank's batch is visible
    timer_stop(T_ALLREDUCE);
    timer_start(T_G_FWD);
    // a private copy of the whole batch (a rank may refill its window once this step's syncs are past)
    int rows = 0;
    int64_t nnz = 0;
    t->x_ptr[0] = 0;
    for (int r = 0; r < np; r++) {
        const float *w = t->fwin[r];
        const uint64_t *h = fwin_head(t->fwin[r]);
        const int Br = (int)h[FH_B];
        const int64_t *ptr = (const int64_t *)(const void *)(w + h[FH_PTR]);
        memcpy(t->x_col + nnz, (const int32_t *)(const void *)(w + h[FH_COL]), (size_t)ptr[Br] * sizeof *t->x_col);
        for (int i = 1; i <= Br; i++) t->x_ptr[rows + i] = nnz + ptr[i];
        t->f_B[r] = Br, t->x_off[r] = rows;
        rows += Br, nnz += ptr[Br];
    }
    t->x_off[np] = rows;
    SparseBatch x = {rows, t->x_ptr, t->x_col};
    sparse_forward_ld(t->hid, &x, mlp_w(g, 0) + lo, (size_t)H, mlp_b(g, 0) + lo, hw, 0);
    act_forward(t->hid, (size_t)rows * hw, g->act[0]);
    float *part = t->fwin[me] + fwin_head(t->fwin[me])[FH_PART];
    if (rows > 0) gemm_nn(rows, n, hw, t->hid, hw, mlp_w(g, 1) + (size_t)lo * n, n, 0.0f, part, n);
    timer_stop(T_G_FWD);
    timer_start(T_ALLREDUCE);
    par_node_sync(); // every partial output is complete
    timer_stop(T_ALLREDUCE);
    timer_start(T_G_FWD);
    float *y = cfgan_g_output(&t->model);
    for (int i = 0; i < b->B; i++) {
        float *yi = y + (size_t)i * n;
        memcpy(yi, mlp_b(g, 1), (size_t)n * sizeof(float));
        for (int r = 0; r < np; r++) {
            const float *p = t->fwin[r] + fwin_head(t->fwin[r])[FH_PART];
            vec_add(yi, p + ((size_t)t->x_off[me] + (size_t)i) * n, (size_t)n);
        }
    }
    act_forward(y, (size_t)b->B * n, g->act[1]);
    timer_stop(T_G_FWD);
}

// run.split_hidden, the update: the gradient at this rank's hidden units for every row (through its
// rows of W2 before they change), then Adam on its rows of W2 (from the hidden units and every
// rank's output gradient), its columns of W1 (from the whole batch's columns and that gradient), its
// hidden biases, and its share of the output bias (summed from every rank's gradient buffer).
static void g_update_split(Trainer *t, float lr, float reg) {
    const Config *cfg = t->cfg;
    Mlp *g = &t->model.g;
    const int np = par_size(), me = par_rank(), n_in = g->dims[0], n = g->dims[2];
    const int lo = t->hid_lo, hi = t->hid_hi, hw = hi - lo, rows = t->x_off[np];
    const float b1 = (float)cfg->beta1, b2 = (float)cfg->beta2, eps = (float)cfg->adam_eps;
    const float lr_t = adam_step_rate(g, lr, b1, b2);
    const float **dout = t->f_dout + np, **in = t->f_in + np;
    timer_start(T_G_BWD);
    for (int r = 0; r < np; r++) {
        float *dh = t->dhid + (size_t)t->x_off[r] * hw;
        if (t->f_B[r]) gemm_nt(t->f_B[r], hw, n, dout[r], n, mlp_w(g, 1) + (size_t)lo * n, n, 0.0f, dh, hw);
        in[r] = t->hid + (size_t)t->x_off[r] * hw, t->split_dout[r] = dh;
        t->f_x[r] = (SparseBatch){t->f_B[r], t->x_ptr + t->x_off[r], t->x_col};
    }
    act_backward(t->dhid, t->hid, (size_t)rows * hw, g->act[0]);
    bias_grad_add(t->dbias, t->dhid, rows, hw);
    timer_stop(T_G_BWD);
    LayerFactors f1 = {.n_parts = np, .B = t->f_B, .in = in, .dout = dout, .ld_in = hw, .k_base = lo};
    adam_rows_factored(g, 1, lo, hi, &f1, NULL, lr_t, b1, b2, eps, reg);
    LayerFactors f0 = {.n_parts = np, .B = t->f_B, .x = t->f_x, .dout = t->split_dout, .col_lo = lo, .col_hi = hi,
                       .ld_dout = hw};
    adam_rows_factored(g, 0, 0, n_in, &f0, t->fscratch, lr_t, b1, b2, eps, reg);
    adam_range(g, g->b_off[0] + (size_t)lo, g->b_off[0] + (size_t)hi, t->dbias, lr_t, b1, b2, eps, reg);
    int blo, bhi;
    owned(n, me, np, &blo, &bhi);
    adam_range_summed(g, g->b_off[1] + (size_t)blo, g->b_off[1] + (size_t)bhi, t->g_grad_base, np, lr_t, b1, b2, eps,
                      reg);
}

// Every rank's Adam moments of G in full (for a checkpoint): each rank clears what it does not own,
// then the moments are summed (x + 0 = x: exact).
static void gather_g_moments(Trainer *t) {
    Mlp *g = &t->model.g;
    const int np = par_size(), me = par_rank();
    float *bufs[2] = {g->m, g->v};
    for (int q = 0; q < 2; q++) {
        for (int l = 0; l < g->n_layers; l++) {
            const size_t OUT = (size_t)g->dims[l + 1];
            int lo, hi;
            owned_rows(t, l, me, &lo, &hi);
            float *w = bufs[q] + g->w_off[l];
            memset(w, 0, (size_t)lo * OUT * sizeof(float));
            memset(w + (size_t)hi * OUT, 0, ((size_t)g->dims[l] - (size_t)hi) * OUT * sizeof(float));
            if (l == 0 && t->split) // the rank's columns of every row
                for (size_t k = 0; k < (size_t)g->dims[0]; k++) {
                    memset(w + k * OUT, 0, (size_t)t->hid_lo * sizeof(float));
                    memset(w + k * OUT + t->hid_hi, 0, (OUT - (size_t)t->hid_hi) * sizeof(float));
                }
            owned((int)OUT, me, np, &lo, &hi);
            float *b = bufs[q] + g->b_off[l];
            memset(b, 0, (size_t)lo * sizeof(float));
            memset(b + hi, 0, (OUT - (size_t)hi) * sizeof(float));
        }
        par_sum_float(bufs[q], g->n_params);
    }
}

// Move the gradients and parameters of both networks into node-shared memory (sharded Adam, every
// rank on one node, run.node_shared); otherwise leave them private. Collective.
static void share_buffers(Trainer *t) {
    if (!t->cfg->node_shared || !t->shard[0] || !par_all_on_one_node()) {
        if (t->cfg->split_hidden == SPLIT_ON)
            info("run.split_hidden=true has no effect here: it needs several ranks on one node with run.node_shared "
                 "and run.shard_optimizer");
        return;
    }
    Mlp *nets[2] = {&t->model.d, &t->model.g};
    const int np = par_size();
    float **params_seg = xmalloc((size_t)np * sizeof *params_seg);
    for (int k = 0; k < 2; k++) {
        Mlp *net = nets[k];
        float **grad_seg = t->grad_slices[k] = xmalloc((size_t)np * sizeof *grad_seg);
        par_node_shared(net->n_alloc, grad_seg);
        par_node_shared(util_is_root() ? net->n_alloc : 0, params_seg);
        if (util_is_root()) memcpy(params_seg[0], net->params, net->n_alloc * sizeof(float));
        par_node_sync();
        free(net->params); // the private buffers come back in unshare_buffers
        free(net->grads);
        net->params = params_seg[0], net->grads = grad_seg[par_rank()];
        if (k == 1) {
            t->g_grad_base = xmalloc((size_t)np * sizeof *t->g_grad_base);
            memcpy(t->g_grad_base, grad_seg, (size_t)np * sizeof *grad_seg);
        }
        // from now on only this rank's slice of every rank's gradient is read here
        for (int r = 0; r < np; r++) grad_seg[r] += (size_t)par_rank() * t->shard[k];
    }
    free(params_seg);
    t->node_shared = 1;
    setup_factors(t);
    info("gradient exchange: node-shared memory (%d ranks on one node; run.node_shared)", np);
}

// Back to private buffers (every rank copies the shared parameters; gradients start at zero).
// Collective-free: the last step ended with a par_node_sync.
static void unshare_buffers(Trainer *t) {
    if (!t->node_shared) return;
    Mlp *nets[2] = {&t->model.d, &t->model.g};
    for (int k = 0; k < 2; k++) {
        const size_t n = nets[k]->n_alloc;
        float *params = xmalloc(n * sizeof(float));
        memcpy(params, nets[k]->params, n * sizeof(float));
        nets[k]->params = params, nets[k]->grads = xcalloc(n, sizeof(float));
        free(t->grad_slices[k]);
    }
    free(t->g_grad_base), free(t->fwin), free(t->fscratch), free(t->f_B), free(t->f_x), free(t->f_in), free(t->f_dout);
    free(t->in_split);
    free(t->x_off), free(t->x_ptr), free(t->x_col), free(t->hid), free(t->dhid), free(t->dbias), free(t->split_dout);
    t->x_off = NULL, t->x_ptr = NULL, t->x_col = NULL, t->hid = t->dhid = t->dbias = NULL, t->split_dout = NULL;
    t->split = t->model.g_split = 0;
    t->g_grad_base = NULL, t->fwin = NULL, t->fscratch = NULL, t->f_B = NULL, t->f_x = NULL, t->in_split = NULL;
    t->f_in = t->f_dout = NULL;
    if (t->model.g_factored) cfgan_g_output_grad_buffer(&t->model, NULL);
    t->model.g_factored = 0; // the windows live until par_finalize
    t->node_shared = 0;
}

// Continue pass s->pass of outer iteration s->outer from batch s->batch_start. Returns 1 if a
// rank was asked to stop (after the step in flight), 0 when the pass is complete.
static int run_pass(Trainer *t) {
    const Config *cfg = t->cfg;
    TrainState *s = &t->s;
    const int is_d = s->pass < cfg->d_steps;
    const int bs = is_d ? cfg->d_batch : cfg->g_batch;
    const int32_t n_rows = t->ds.n_rows;
    Mlp *net = is_d ? &t->model.d : &t->model.g;
    if (is_d && t->g_cache && t->g_cache_step != t->model.g.step) refresh_g_cache(t);
    Rng rng;
    rng_init(&rng, (uint64_t)cfg->seed, RNG_SHUFFLE, (uint32_t)s->outer, (uint32_t)s->pass);
    // train.batch_strata: rows are dealt to ranks by id mod np, so when np divides the strata every
    // batch (a run of consecutive positions) gives each rank the same number of rows, +-1
    rng_stratified_permutation(&rng, t->perm, n_rows, cfg->batch_strata);
    for (; s->batch_start < n_rows; s->batch_start += bs) {
        int Bg = (int)(n_rows - s->batch_start < bs ? n_rows - s->batch_start : bs);
        Batch b = gather_batch(t, s->batch_start, Bg, (uint32_t)s->outer);
        timer_start(T_SAMPLE);
        cfgan_sample_masks(&t->model, &b, (uint64_t)cfg->seed, !is_d);
        timer_stop(T_SAMPLE);
        const size_t block = t->shard[!is_d];
        // the optimizer leaves the gradient it read at zero; a ring leaves partial sums in other blocks
        if (block && !t->node_shared) memset(net->grads, 0, net->n_alloc * sizeof(float));
        const float scale = 1.0f / (float)Bg; // the mean over the global batch
        StepStats bst = {0};
        if (is_d) {
            const float *const *g_rows = NULL;
            if (t->g_cache) {
                for (int i = 0; i < b.B; i++)
                    t->g_rows[i] = t->g_cache + (size_t)b.local[i] * t->ds.n_cols;
                g_rows = t->g_rows;
            }
            cfgan_d_step(&t->model, &b, g_rows, scale, &bst);
        }
        else {
            if (t->split) split_forward(t, &b);
            cfgan_g_step(&t->model, &b, scale, &bst);
            if (t->model.g_factored && !t->split) {
                timer_start(T_ALLREDUCE); // the factors are what the ranks exchange for G's weights
                publish_factors(t, &b);
                timer_stop(T_ALLREDUCE);
            }
        }
        float lr = (float)(is_d ? cfg->d_lr : cfg->g_lr), reg = (float)(is_d ? cfg->d_reg : cfg->g_reg);
        // any rank can stop every rank (a signal), and a non-finite loss on any rank fails them all
        // together, before the update overwrites the parameters
        double loss = is_d ? bst.d_real + bst.d_fake : bst.g_adv + bst.g_zr;
        const int injected = cfg->fail_at_step > 0 && s->step == cfg->fail_at_step && par_rank() == par_size() - 1;
        if (injected) loss = NAN; // run.fail_at_step (a debug key)
        const int want_stop = g_stop_signal != 0, bad = !isfinite(loss);
        // sharded: each rank updates its 1/np of the parameters, then every rank gets them all;
        // otherwise the flags ride along in the gradient buffer's two spare slots
        int flags;
        const size_t lo = (size_t)par_rank() * block;
        timer_start(T_ALLREDUCE);
        if (t->node_shared) {
            flags = par_or_bits_sync(want_stop | bad << 1); // every rank's gradient is complete
        } else if (block) {
            par_reduce_scatter_float(net->grads, block);
            flags = par_or_bits(want_stop | bad << 1);
        } else {
            net->grads[net->n_params] = (float)want_stop;
            net->grads[net->n_params + 1] = (float)bad;
            par_sum_float(net->grads, net->n_params + 2);
            flags = (net->grads[net->n_params] > 0) | (net->grads[net->n_params + 1] > 0) << 1;
        }
        timer_stop(T_ALLREDUCE);
        if (flags & 2) numeric_failure(t, is_d ? "the discriminator loss" : "the generator loss", s->epoch + 1, s->step);
        timer_start(T_OPTIM);
        if (!is_d && t->split) {
            g_update_split(t, lr, reg);
        } else if (!is_d && t->model.g_factored) {
            g_update_factored(t, lr, reg);
        } else if (t->node_shared) {
            // this rank's slice of every rank's gradient, summed in rank order inside the update
            adam_update_summed(net, lo, lo + block, t->grad_slices[!is_d], par_size(), lr, (float)cfg->beta1, (float)cfg->beta2,
                               (float)cfg->adam_eps, reg);
        } else if (block) adam_update_range(net, lo, lo + block, net->grads + lo, lr, (float)cfg->beta1, (float)cfg->beta2,
                                     (float)cfg->adam_eps, reg);
        else if (cfg->optimizer == OPT_ADAM) adam_update(net, lr, (float)cfg->beta1, (float)cfg->beta2, (float)cfg->adam_eps, reg);
        else sgd_update(net, lr, reg);
        timer_stop(T_OPTIM);
        if (block) {
            timer_start(T_ALLREDUCE);
            // every slice updated (and every gradient read); with run.split_hidden the next step's own
            // two syncs would order what it reads, but dropping this one measured slower
            if (t->node_shared) par_node_sync();
            else par_allgather_float(net->params, block);
            timer_stop(T_ALLREDUCE);
        }
        step_stats_add(&s->pass_st, &bst);
        s->pass_batches++;
        s->step++;
        if (cfg->check_every > 0 && s->step % cfg->check_every == 0) check_replicas(t);
        if (flags & 1) { // a stop request
            s->batch_start += bs;
            return 1;
        }
    }
    // the pass is complete: sum over ranks, report the mean batch loss
    _Static_assert(sizeof(StepStats) == 7 * sizeof(double), "StepStats is summed as 7 doubles");
    StepStats st = s->pass_st;
    par_sum_double(&st.d_real, 7);
    double inv = 1.0 / s->pass_batches;
    st.d_real *= inv, st.d_fake *= inv, st.g_adv *= inv, st.g_zr *= inv;
    if (is_d) s->dst = st;
    else s->gst = st;
    memset(&s->pass_st, 0, sizeof s->pass_st);
    s->pass_batches = 0;
    s->batch_start = 0;
    return 0;
}

// ---- checkpoints ------------------------------------------------------------------------------

static int params_finite(const Mlp *net) {
    for (size_t i = 0; i < net->n_params; i++)
        if (!isfinite(net->params[i])) return 0;
    return 1;
}

static void save_checkpoint(Trainer *t) {
    timer_start(T_CKPT);
    // a step with a finite loss can still leave non-finite parameters (an Inf gradient): never let
    // them replace the last good checkpoint (parameters are the same on every rank)
    if (!params_finite(&t->model.g) || !params_finite(&t->model.d))
        numeric_failure(t, "a model parameter", t->s.epoch, t->s.step);
    // with a sharded optimizer each rank holds the current Adam moments of its slice only
    Mlp *nets[2] = {&t->model.d, &t->model.g};
    for (int k = 0; k < 2; k++)
        if (k == 1 && t->model.g_factored) gather_g_moments(t);
        else if (t->shard[k]) {
            par_allgather_float(nets[k]->m, t->shard[k]);
            par_allgather_float(nets[k]->v, t->shard[k]);
        }
    t->s.elapsed = wall_seconds() - t->t_start;
    // the loss sums of an interrupted pass are per rank: keep every rank's
    void *pass_sums;
    size_t pass_bytes;
    par_gatherv_bytes(&t->s.pass_st, sizeof t->s.pass_st, &pass_sums, &pass_bytes, 0);
    if (util_is_root()) {
        Checkpoint c = {0};
        c.config_hash = config_hash(t->cfg);
        c.fingerprint = t->ds.fingerprint;
        c.ranks = par_size();
        c.epoch = t->s.epoch;
        c.step = t->s.step;
        const Mlp *g = &t->model.g, *d = &t->model.d;
        ckpt_add(&c, "state", &t->s, sizeof t->s);
        ckpt_add(&c, "pass_sums", pass_sums, pass_bytes);
        ckpt_add(&c, "g.params", g->params, g->n_params * sizeof(float));
        ckpt_add(&c, "g.m", g->m, g->n_params * sizeof(float));
        ckpt_add(&c, "g.v", g->v, g->n_params * sizeof(float));
        ckpt_add(&c, "g.step", &g->step, sizeof g->step);
        ckpt_add(&c, "d.params", d->params, d->n_params * sizeof(float));
        ckpt_add(&c, "d.m", d->m, d->n_params * sizeof(float));
        ckpt_add(&c, "d.v", d->v, d->n_params * sizeof(float));
        ckpt_add(&c, "d.step", &d->step, sizeof d->step);
        // the selected parameters exist only after the first validation (recommend falls back to g.params)
        if (t->honest && t->s.have_best) ckpt_add(&c, "best_g", t->best_g, g->n_params * sizeof(float));
        char *cfg_text = NULL;
        size_t cfg_bytes = 0;
        FILE *mem = open_memstream(&cfg_text, &cfg_bytes);
        config_write_yaml(t->cfg, mem);
        fclose(mem);
        ckpt_add(&c, "config.yaml", cfg_text, cfg_bytes);
        mkdir_p(t->ckpt_dir);
        char path[CFG_STR_MAX + 64];
        if (ckpt_write(&c, t->ckpt_dir, t->cfg->ckpt_keep, path, sizeof path) != 0)
            die_local(EXIT_RUNTIME, "%s: cannot write the checkpoint: %s (the previous checkpoints are intact)", path,
                      strerror(errno));
        free(cfg_text);
    }
    free(pass_sums);
    timer_stop(T_CKPT);
}

// Restore from the newest valid checkpoint in the run directory (rank 0 reads, all ranks get it).
static void load_checkpoint(Trainer *t) {
    Checkpoint c;
    char path[CFG_STR_MAX + 64] = "", err[512] = "";
    unsigned char *buf = NULL;
    uint64_t bytes = 0;
    if (util_is_root()) {
        if (ckpt_load_newest(&c, t->ckpt_dir, path, sizeof path, err, sizeof err) == 0) {
            buf = c.buffer, bytes = c.buffer_bytes;
        }
    }
    par_bcast(&bytes, sizeof bytes, 0);
    if (bytes == 0) {
        par_bcast(err, sizeof err, 0);
        die(EXIT_INPUT, "%s: cannot resume: %s", t->dir, err);
    }
    par_bcast(path, sizeof path, 0);
    if (!util_is_root()) buf = xmalloc(bytes);
    par_bcast(buf, bytes, 0);
    if (!util_is_root() && ckpt_parse(&c, buf, bytes, err, sizeof err) != 0)
        die_local(EXIT_RUNTIME, "%s: checkpoint damaged in transit: %s", path, err);
    if (c.config_hash != config_hash(t->cfg))
        die(EXIT_INPUT, "%s: was written with a different configuration (hash %016llx, this config %016llx); resume "
                        "with the run's config.yaml, changing only run-time keys (see cfgan help config: eval.topk, "
                        "eval.every, eval.block, checkpoint.*, run.*, data.titles)",
            path, (unsigned long long)c.config_hash, (unsigned long long)config_hash(t->cfg));
    if (c.fingerprint != t->ds.fingerprint)
        die(EXIT_INPUT, "%s: was written for different data (fingerprint %016llx, now %016llx): check --data-root", path,
            (unsigned long long)c.fingerprint, (unsigned long long)t->ds.fingerprint);
    if (c.ranks != par_size())
        warn("%s: written by %d ranks, resuming with %d: results will differ from an uninterrupted run in float "
             "summation order",
             path, c.ranks, par_size());
    Mlp *g = &t->model.g, *d = &t->model.d;
    const size_t gb = g->n_params * sizeof(float), db = d->n_params * sizeof(float);
    struct {
        const char *name;
        void *dst;
        size_t bytes;
    } parts[] = {{"state", &t->s, sizeof t->s},   {"g.params", g->params, gb}, {"g.m", g->m, gb},
                 {"g.v", g->v, gb},               {"g.step", &g->step, sizeof g->step},
                 {"d.params", d->params, db},     {"d.m", d->m, db},           {"d.v", d->v, db},
                 {"d.step", &d->step, sizeof d->step}, {"best_g", t->best_g, gb}};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (!parts[i].dst) continue;
        if (strcmp(parts[i].name, "best_g") == 0 && !t->s.have_best) continue; // no best epoch yet
        const void *src = ckpt_get(&c, parts[i].name, parts[i].bytes);
        if (!src) die(EXIT_INPUT, "%s: section '%s' is missing or has the wrong size", path, parts[i].name);
        memcpy(parts[i].dst, src, parts[i].bytes);
    }
    // this rank's loss sums of the interrupted pass; with another rank count, rank 0 takes them all
    const StepStats *sums = ckpt_get(&c, "pass_sums", (size_t)c.ranks * sizeof(StepStats));
    if (!sums) die(EXIT_INPUT, "%s: section 'pass_sums' is missing or has the wrong size", path);
    if (c.ranks == par_size()) {
        t->s.pass_st = sums[par_rank()];
    } else {
        memset(&t->s.pass_st, 0, sizeof t->s.pass_st);
        for (int r = 0; r < c.ranks && util_is_root(); r++) step_stats_add(&t->s.pass_st, &sums[r]);
    }
    t->t_start = wall_seconds() - t->s.elapsed;
    info("resuming %s from %s (epoch %d, step %lld)", t->dir, path, t->s.epoch, (long long)t->s.step);
    ckpt_free(&c);
}

// ---- the run ----------------------------------------------------------------------------------

static void trainer_init(Trainer *t, const Config *cfg) {
    memset(t, 0, sizeof *t);
    t->cfg = cfg;
    t->t_start = wall_seconds();
    dataset_load(&t->ds, cfg);
    t->honest = cfg->data_validation > 0;
    const Dataset *ds = &t->ds;
    // a class of train.batch_strata with a row or two would leave the batch order nearly fixed
    if (cfg->batch_strata > 1 && ds->n_rows < 4 * cfg->batch_strata)
        die(EXIT_INPUT, "%s: train.batch_strata = %d needs at least 4 rows per class but the data has %d rows: "
            "use at most %d",
            cfg->path, cfg->batch_strata, ds->n_rows, ds->n_rows / 4 > 1 ? ds->n_rows / 4 : 1);
    if (t->honest) csr_union(&t->test_excl, &ds->train, &ds->valid_rows);
    t->max_batch = cfg->g_batch > cfg->d_batch ? cfg->g_batch : cfg->d_batch;
    if (t->max_batch > ds->n_rows) t->max_batch = ds->n_rows;
    // scoring runs in blocks of eval.block rows: large blocks keep the GEMMs efficient
    t->eval_block = cfg->eval_block > t->max_batch ? cfg->eval_block : t->max_batch;
    cfgan_init(&t->model, cfg, ds->n_cols, t->eval_block);
    cfgan_init_weights(&t->model, (uint64_t)cfg->seed);
    if (par_size() > 1 && cfg->shard_optimizer && cfg->optimizer == OPT_ADAM) {
        Mlp *nets[2] = {&t->model.d, &t->model.g};
        for (int k = 0; k < 2; k++) {
            t->shard[k] = (nets[k]->n_params + par_size() - 1) / (size_t)par_size();
            mlp_reserve(nets[k], t->shard[k] * (size_t)par_size());
        }
    }
    cfgan_cache_init(&t->model, ds->n_local_rows, (size_t)cfg->negative_cache_mb << 20);
    t->perm = xmalloc((size_t)ds->n_rows * sizeof *t->perm);
    t->b_rows = xmalloc((size_t)t->max_batch * sizeof *t->b_rows);
    t->b_local = xmalloc((size_t)t->max_batch * sizeof *t->b_local);
    t->b_ptr = xmalloc(((size_t)t->max_batch + 1) * sizeof *t->b_ptr);
    // local rows by training pairs, most first (ties: lower row first): a batch holds at most the
    // max_batch longest, and item-mode evaluation offers the items in this order
    const int32_t n_rows = ds->train.n_rows;
    int64_t most = 0, *key = xmalloc(((size_t)n_rows + 1) * sizeof *key);
    for (int32_t r = 0; r < n_rows; r++)
        key[r] = (int64_t)csr_row_len(&ds->train, r) << 32 | (int64_t)(UINT32_MAX - (uint32_t)r);
    qsort(key, (size_t)n_rows, sizeof *key, cmp_i64_desc);
    t->eval_order = xmalloc(((size_t)n_rows + 1) * sizeof *t->eval_order);
    for (int32_t k = 0; k < n_rows; k++) {
        t->eval_order[k] = (int32_t)(UINT32_MAX - (uint32_t)(key[k] & UINT32_MAX));
        if (k < t->max_batch) most += key[k] >> 32;
    }
    free(key);
    t->b_col = xmalloc((size_t)(most + 1) * sizeof *t->b_col);
    t->b_col_cap = most + 1;
    topk_init(&t->topk, ds->n_users, cfg->topk[cfg->n_topk - 1]);
    t->scores = xmalloc((size_t)t->eval_block * ds->n_cols * sizeof *t->scores);
    const size_t cache_bytes = (size_t)ds->n_local_rows * ds->n_cols * sizeof(float);
    if (cache_bytes <= ((size_t)cfg->g_cache_mb << 20) && cache_bytes > 0) t->g_cache = xmalloc(cache_bytes);
    t->g_cache_step = -1;
    t->g_rows = xmalloc((size_t)t->max_batch * sizeof *t->g_rows);
    if (t->honest) t->best_g = xcalloc(t->model.g.n_params, sizeof(float));
    t->s.best_value = -INFINITY;
}

static void trainer_free(Trainer *t) {
    if (t->honest) csr_free(&t->test_excl);
    cfgan_free(&t->model);
    free(t->perm);
    free(t->b_rows);
    free(t->b_local);
    free(t->b_ptr);
    free(t->b_col);
    topk_free(&t->topk);
    free(t->scores);
    free(t->eval_order);
    free(t->g_cache);
    free(t->g_rows);
    free(t->best_g);
    dataset_free(&t->ds);
}

// Per-phase seconds (min/avg/max over ranks) and operations, peak memory: the performance record.
typedef struct {
    double min[T_COUNT], max[T_COUNT], sum[T_COUNT], flops[T_COUNT];
    double rss_min, rss_max, rss_sum, data_min, data_max, data_sum; // MB
    double shard_min, shard_max, shard_sum;                          // MB of the training shard
    double gemm_lost_max;                                            // GEMM calls the shape table missed
} PhaseReport;

static void gather_phases(const Trainer *t, PhaseReport *p) {
    for (int i = 0; i < T_COUNT; i++) {
        p->min[i] = p->max[i] = p->sum[i] = timer_seconds((TimerId)i);
        p->flops[i] = timer_flop_count((TimerId)i);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    p->rss_min = p->rss_max = p->rss_sum = (double)ru.ru_maxrss / 1024.0;
    p->data_min = p->data_max = p->data_sum = (double)dataset_bytes(&t->ds) / 1048576.0;
    p->shard_min = p->shard_max = p->shard_sum = (double)dataset_shard_bytes(&t->ds) / 1048576.0;
    par_min_double(&p->shard_min, 1), par_max_double(&p->shard_max, 1), par_sum_double(&p->shard_sum, 1);
    par_min_double(p->min, T_COUNT);
    par_max_double(p->max, T_COUNT);
    par_sum_double(p->sum, T_COUNT);
    par_sum_double(p->flops, T_COUNT);
    par_min_double(&p->rss_min, 1), par_max_double(&p->rss_max, 1), par_sum_double(&p->rss_sum, 1);
    par_min_double(&p->data_min, 1), par_max_double(&p->data_max, 1), par_sum_double(&p->data_sum, 1);
    p->gemm_lost_max = (double)timer_gemm_lost_calls();
    par_max_double(&p->gemm_lost_max, 1);
}

static void phases_json(StrBuf *sb, const PhaseReport *p) {
    const int np = par_size();
    sb_printf(sb, "  \"phases\": {");
    for (int i = 0; i < T_COUNT; i++)
        sb_printf(sb, "%s\n    \"%s\": {\"min\": %.4f, \"avg\": %.4f, \"max\": %.4f, \"gflop\": %.4f}", i ? "," : "",
                  TIMER_NAMES[i], p->min[i], p->sum[i] / np, p->max[i], p->flops[i] / 1e9);
    sb_printf(sb, "\n  },\n  \"peak_rss_mb\": {\"min\": %.1f, \"avg\": %.1f, \"max\": %.1f},\n", p->rss_min,
              p->rss_sum / np, p->rss_max);
    sb_printf(sb, "  \"data_mb\": {\"min\": %.2f, \"avg\": %.2f, \"max\": %.2f},\n", p->data_min, p->data_sum / np,
              p->data_max);
    sb_printf(sb, "  \"shard_mb\": {\"min\": %.3f, \"avg\": %.3f, \"max\": %.3f},\n", p->shard_min, p->shard_sum / np,
              p->shard_max);
    const GemmShape *g;
    // rank 0's calls: the other ranks make the same calls on their rows of each batch (row counts
    // differ by batch unless batches are balanced, train.batch_strata)
    int n = timer_gemm_shapes(&g);
    sb_printf(sb, "  \"gemm_shapes\": [");
    for (int i = 0; i < n; i++)
        sb_printf(sb, "%s\n    {\"phase\": \"%s\", \"m\": %d, \"n\": %d, \"k\": %d, \"ta\": %d, \"tb\": %d, \"calls\": %lld}",
                  i ? "," : "", TIMER_NAMES[g[i].phase], g[i].m, g[i].n, g[i].k, g[i].ta, g[i].tb, g[i].calls);
    sb_printf(sb, "\n  ],\n  \"gemm_calls_unrecorded\": %.0f,\n", p->gemm_lost_max); // most on any rank
}

static void write_final(Trainer *t, const EvalRecord *rep, const PhaseReport *phases) {
    if (!util_is_root()) return;
    const Config *cfg = t->cfg;
    StrBuf sb = {0};
    sb_printf(&sb, "{\n  \"protocol\": \"%s\",\n", t->honest ? "honest" : "reference");
    sb_printf(&sb, "  \"protocol_description\": \"%s\",\n",
              t->honest ? "epoch selected on the validation split by eval.select; test metrics of the selected parameters"
                        : "fixed number of epochs; test metrics at the last epoch (as the CFGAN authors report)");
    sb_printf(&sb, "  \"reported\": ");
    record_json(&sb, rep);
    if (t->honest) {
        sb_printf(&sb, ",\n  \"selected_on_validation\": ");
        record_json(&sb, &t->s.best);
        sb_printf(&sb, ",\n  \"select\": \"%s\"", cfg->eval_select);
    }
    sb_printf(&sb, ",\n  \"epochs_run\": %d,\n  \"stopped_early\": %s,\n", t->s.epoch, t->s.stopped_early ? "true" : "false");
    sb_printf(&sb, "  \"wall_seconds\": %.3f,\n", wall_seconds() - t->t_start);
    phases_json(&sb, phases);
    sb_printf(&sb, "  \"config\": ");
    sb_json_string(&sb, cfg->path);
    sb_printf(&sb, ",\n  \"config_hash\": \"%016llx\",\n  \"dataset_fingerprint\": \"%016llx\",\n",
              (unsigned long long)config_hash(cfg), (unsigned long long)t->ds.fingerprint);
    sb_printf(&sb, "  \"users\": %d, \"items\": %d, \"train_pairs\": %lld, \"valid_pairs\": %lld, \"test_pairs\": %lld,\n",
              t->ds.n_users, t->ds.n_items, (long long)t->ds.n_train, (long long)t->ds.n_valid, (long long)t->ds.n_test);
    sb_printf(&sb, "  \"ranks\": %d,\n  \"version\": \"%s\",\n  \"git\": \"%s\",\n  \"compiler\": ", par_size(),
              cfgan_version(), cfgan_git());
    sb_json_string(&sb, cfgan_compiler());
    sb_printf(&sb, ",\n  \"blas\": ");
    sb_json_string(&sb, cfgan_blas());
    sb_printf(&sb, "\n}\n");
    write_text_atomic(t->dir, "final.json", sb.data, sb.len);
    sb_free(&sb);
}

// After a generator pass: evaluate if due, track the honest protocol's best epoch.
static void after_epoch(Trainer *t, int total_epochs) {
    const Config *cfg = t->cfg;
    TrainState *s = &t->s;
    if (s->epoch % cfg->eval_every != 0 && s->epoch != total_epochs) return;
    EvalRecord r = {.epoch = s->epoch, .split = t->honest ? SPLIT_VALID : SPLIT_TEST};
    r.d_loss = s->dst.d_real + s->dst.d_fake + cfg->d_reg * l2_half(t->model.d.params, t->model.d.n_params);
    r.g_loss = s->gst.g_adv + s->gst.g_zr + cfg->g_reg * l2_half(t->model.g.params, t->model.g.n_params);
    r.d_real = s->dst.rows > 0 ? s->dst.p_real / s->dst.rows : 0;
    r.d_fake = s->dst.rows > 0 ? s->dst.p_fake / s->dst.rows : 0;
    evaluate(t, t->honest ? &t->ds.valid : &t->ds.test, &t->ds.train, &r.m);
    r.seconds = wall_seconds() - t->t_start;
    append_metrics(t, &r);
    print_progress(&r, total_epochs, r.seconds / s->epoch);
    s->last = r;
    if (!t->honest) return;
    double v = metrics_get(&r.m, cfg->select_metric, cfg->select_k);
    if (v > s->best_value) {
        s->best_value = v;
        s->best = r;
        s->have_best = 1;
        memcpy(t->best_g, t->model.g.params, t->model.g.n_params * sizeof(float));
        s->evals_since_best = 0;
    } else if (cfg->eval_patience > 0 && ++s->evals_since_best >= cfg->eval_patience) {
        s->stopped_early = 1;
        info("early stop at epoch %d: no %s improvement on validation in %d evaluations (best %.4f at epoch %d)",
             s->epoch, cfg->eval_select, cfg->eval_patience, s->best_value, s->best.epoch);
    }
}

int train_run(const Config *cfg, const TrainOptions *opt) {
    Trainer t;
    // everything that can fail on bad input happens before the run directory is touched
    trainer_init(&t, cfg);
    choose_dir(&t, opt);
    if (opt->resume) load_checkpoint(&t);
    if (util_is_root()) {
        mkdir_p(t.dir);
        if (!opt->resume) write_config_echo(&t);
    }
    open_metrics(&t, opt->resume);
    share_buffers(&t);
    const int T = cfg->epochs / cfg->g_steps, total_epochs = T * cfg->g_steps, n_pass = cfg->d_steps + cfg->g_steps;
    if (total_epochs != cfg->epochs)
        warn("train.epochs = %d is not a multiple of train.g_steps = %d: running %d epochs (%d outer iterations)",
             cfg->epochs, cfg->g_steps, total_epochs, T);
    if (!opt->resume)
        info("cfgan: %s  %s mode, %s  %d rows x %d columns, %lld training pairs  protocol %s  %d epochs  %d rank%s  "
             "run dir %s",
             cfg->name, t.ds.item_mode ? "item" : "user",
             cfg->model_scheme == SCHEME_ZR ? "ZR" : cfg->model_scheme == SCHEME_PM ? "PM" : "ZP", t.ds.n_rows,
             t.ds.n_cols, (long long)t.ds.n_train, t.honest ? "honest (validation)" : "reference (test)", total_epochs,
             par_size(), par_size() > 1 ? "s" : "", t.dir);
    signal(SIGUSR1, on_stop_signal);
    signal(SIGTERM, on_stop_signal);

    timer_reset();
    timer_start(T_TOTAL);
    TrainState *s = &t.s;
    while (!s->finished && s->outer < T && !s->stopped_early) {
        if (run_pass(&t)) { // a rank was asked to stop: save where we are and leave
            save_checkpoint(&t);
            info("stopped by a signal at epoch %d, step %lld: checkpoint written in %s; continue with --resume",
                 s->epoch, (long long)s->step, t.ckpt_dir);
            if (util_is_root()) fclose(t.metrics);
            unshare_buffers(&t);
            trainer_free(&t);
            return EXIT_PREEMPTED;
        }
        int was_g = s->pass >= cfg->d_steps;
        if (++s->pass == n_pass) s->pass = 0, s->outer++;
        if (!was_g) continue;
        s->epoch++;
        after_epoch(&t, total_epochs);
        if (cfg->ckpt_every > 0 && s->epoch % cfg->ckpt_every == 0 && s->epoch != total_epochs) save_checkpoint(&t);
    }
    if (!s->finished) {
        s->finished = 1;
        save_checkpoint(&t);
    }
    unshare_buffers(&t);
    EvalRecord reported = s->last;
    if (t.honest) { // test the selected parameters
        memcpy(t.model.g.params, t.best_g, t.model.g.n_params * sizeof(float));
        reported = s->best;
        reported.split = SPLIT_TEST;
        evaluate(&t, &t.ds.test, &t.test_excl, &reported.m);
        reported.seconds = wall_seconds() - t.t_start;
        append_metrics(&t, &reported);
    }
    timer_stop(T_TOTAL);
    PhaseReport phases;
    gather_phases(&t, &phases);
    write_final(&t, &reported, &phases);
    if (util_is_root()) {
        fclose(t.metrics);
        StrBuf sb = {0};
        metrics_json(&reported.m, &sb);
        info("final (%s protocol, epoch %d, test): %s", t.honest ? "honest" : "reference", reported.epoch, sb.data);
        sb_free(&sb);
        StrBuf tb = {0};
        for (int i = 0; i < T_COUNT; i++)
            if (phases.max[i] > 0)
                sb_printf(&tb, "%s%s %.2f", tb.len ? ", " : "", TIMER_NAMES[i], phases.sum[i] / par_size());
        info("seconds per phase (mean over ranks): %s", tb.data ? tb.data : "");
        info("wrote %s/metrics.jsonl, %s/final.json, %s/config.yaml", t.dir, t.dir, t.dir);
        sb_free(&tb);
    }
    trainer_free(&t);
    return 0;
}
