// train: the CFGAN training loop. Outer iterations redraw the negatives; each runs d_steps
// discriminator passes, then g_steps generator passes, over all rows in shuffled mini-batches. One
// step: this rank's rows of the global mini-batch -> their negatives -> forward and backward ->
// the exchange (gradients summed over ranks with MPI_Allreduce, the same Adam update on every rank). After each
// generator pass (an epoch): evaluate when due, checkpoint when due. Two protocols: reference (test
// metrics every eval.every epochs, the last reported) and honest (the epoch selected on a
// validation split, the test metrics of its parameters).
//
// Every rank holds every np-th row (shard.h) and the whole model; rank 0 merges the evaluations,
// writes the run records (run_record.c) and the checkpoints (ckpt.c).
#include "train.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "ckpt.h"
#include "shard.h"
#include "exchange.h"
#include "model.h"
#include "par.h"
#include "rng.h"
#include "run_record.h"
#include "score.h"
#include "timer.h"
#include "util.h"

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
    StepStats pass_st;       // this rank's sums of the current pass so far
    StepStats dst, gst;      // last complete D pass and G pass (means over batches, all ranks)
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
    AdamHyper adam[2];     // D ([0]) and G ([1])
    Scorer scorer;
    int max_batch;         // largest training mini-batch
    int32_t *perm;         // (n_rows) batch order of the current pass
    int32_t *b_rows;       // (max_batch) global ids of the batch rows held here
    int32_t *b_local;      // (max_batch) their local indices
    int64_t *b_ptr;        // (max_batch + 1) starts of their training columns in b_col
    int32_t *b_col;        // training columns of the batch rows
    const float **g_rows;  // (max_batch) G's cached outputs of the batch rows (D phase)
    float *best_g;         // honest protocol: generator parameters of the best epoch
    Csr test_excl;         // honest protocol: train ∪ validation of the local rows
    char dir[CFG_STR_MAX];
    char ckpt_dir[CFG_STR_MAX + 16];
    FILE *metrics;         // DIR/metrics.jsonl (rank 0)
    int64_t fail_at_step;  // CFGAN_DEBUG_FAIL_AT_STEP: the last rank's loss is NaN at this step (0 = never)
    int64_t check_every;   // CFGAN_DEBUG_CHECK_EVERY: steps between cross-rank parameter checks (0 = never)
    int64_t diverge_at;    // CFGAN_DEBUG_DIVERGE_AT_STEP: the last rank changes a parameter of its own (0 = never)
    double t_start;
    TrainState s;
} Trainer;

static volatile sig_atomic_t g_stop_signal = 0;
static void on_stop_signal(int sig) { g_stop_signal = sig; }

static noreturn void numeric_failure(const Trainer *t, const char *what, int epoch, int64_t step) {
    die(EXIT_NUMERIC, "%s: numerical failure: %s is not finite at epoch %d, step %lld (lower the learning rate?)",
        t->cfg->path, what, epoch, (long long)step);
}

// ---- set-up and teardown ----------------------------------------------------------------------

static void trainer_init(Trainer *t, const Config *cfg) {
    memset(t, 0, sizeof *t);
    t->cfg = cfg;
    t->t_start = wall_seconds();
    dataset_load(&t->ds, cfg);
    const Dataset *ds = &t->ds;
    t->honest = cfg->data_validation > 0;
    // a class of train.batch_strata with a row or two would leave the batch order nearly fixed
    if (cfg->batch_strata > 1 && ds->n_rows < 4 * cfg->batch_strata)
        die(EXIT_INPUT, "%s: train.batch_strata = %d needs at least 4 rows per class but the data has %d rows: "
            "use at most %d",
            cfg->path, cfg->batch_strata, ds->n_rows, ds->n_rows / 4 > 1 ? ds->n_rows / 4 : 1);
    if (t->honest) csr_union(&t->test_excl, &ds->train, &ds->valid_rows);
    t->max_batch = cfg->g_batch > cfg->d_batch ? cfg->g_batch : cfg->d_batch;
    if (t->max_batch > ds->n_rows) t->max_batch = ds->n_rows;
    // scoring runs in blocks of at least 256 rows (large blocks keep the products efficient)
    const int block = t->max_batch > 256 ? t->max_batch : 256;
    cfgan_init(&t->model, cfg, ds->n_cols, block);
    cfgan_init_weights(&t->model, (uint64_t)cfg->seed);
    for (int k = 0; k < 2; k++)
        t->adam[k] = (AdamHyper){.lr = (float)(k ? cfg->g_lr : cfg->d_lr), .beta1 = (float)cfg->beta1,
                                 .beta2 = (float)cfg->beta2, .eps = (float)cfg->adam_eps,
                                 .reg = (float)(k ? cfg->g_reg : cfg->d_reg)};
    // run.cache_mb: the negative sets first (they spare the sampling), G's outputs from what is left
    const size_t budget = (size_t)cfg->cache_mb << 20;
    const size_t neg = cfgan_cache_init(&t->model, ds->n_local_rows, budget);
    scorer_init(&t->scorer, ds, block, cfg->topk[cfg->n_topk - 1], budget - neg);
    t->perm = xmalloc((size_t)ds->n_rows * sizeof *t->perm);
    t->b_rows = xmalloc((size_t)t->max_batch * sizeof *t->b_rows);
    t->b_local = xmalloc((size_t)t->max_batch * sizeof *t->b_local);
    t->b_ptr = xmalloc(((size_t)t->max_batch + 1) * sizeof *t->b_ptr);
    t->g_rows = xmalloc((size_t)t->max_batch * sizeof *t->g_rows);
    // the batch's columns: at most the max_batch longest local rows (scorer.order sorts them)
    int64_t most = 0;
    for (int32_t k = 0; k < t->max_batch && k < ds->n_local_rows; k++)
        most += csr_row_len(&ds->train, t->scorer.order[k]);
    t->b_col = xmalloc((size_t)(most + 1) * sizeof *t->b_col);
    if (t->honest) t->best_g = xcalloc(t->model.g.n_params, sizeof(float));
    t->s.best_value = -INFINITY;
    // debug hooks, from the environment so that no config or checkpoint carries them
    t->fail_at_step = env_count("CFGAN_DEBUG_FAIL_AT_STEP");
    t->check_every = env_count("CFGAN_DEBUG_CHECK_EVERY");
    t->diverge_at = env_count("CFGAN_DEBUG_DIVERGE_AT_STEP");
}

static void trainer_free(Trainer *t) {
    if (t->metrics) fclose(t->metrics);
    if (t->honest) csr_free(&t->test_excl);
    cfgan_free(&t->model);
    scorer_free(&t->scorer);
    free(t->perm), free(t->b_rows), free(t->b_local), free(t->b_ptr), free(t->b_col), free(t->g_rows);
    free(t->best_g);
    dataset_free(&t->ds);
}

static TrainingState checkpoint_parts(Trainer *t) {
    _Static_assert(sizeof(StepStats) == 7 * sizeof(double), "StepStats is summed as 7 doubles");
    return (TrainingState){.g = &t->model.g, .d = &t->model.d, .loop = &t->s, .loop_bytes = sizeof t->s,
                           .sums = &t->s.pass_st.d_real, .n_sums = 7, .best_g = t->best_g,
                           .have_best = &t->s.have_best};
}

static int params_finite(const Mlp *net) {
    for (size_t i = 0; i < net->n_params; i++)
        if (!isfinite(net->params[i])) return 0;
    return 1;
}

static void save_checkpoint(Trainer *t) {
    timer_start(T_CKPT);
    // a step with a finite loss can still leave non-finite parameters (an Inf gradient): never let
    // them replace the last good checkpoint (the parameters are the same on every rank)
    if (!params_finite(&t->model.g) || !params_finite(&t->model.d))
        numeric_failure(t, "a model parameter", t->s.epoch, t->s.step);
    t->s.elapsed = wall_seconds() - t->t_start;
    TrainingState parts = checkpoint_parts(t);
    ckpt_save_training(t->ckpt_dir, t->cfg, t->ds.fingerprint, t->s.epoch, t->s.step, &parts);
    timer_stop(T_CKPT);
}

static void load_checkpoint(Trainer *t) {
    TrainingState parts = checkpoint_parts(t);
    char path[CFG_STR_MAX + 64] = "";
    ckpt_restore_training(t->ckpt_dir, t->cfg, t->ds.fingerprint, &parts, path, sizeof path);
    t->t_start = wall_seconds() - t->s.elapsed;
    info("resuming %s from %s (epoch %d, step %lld)", t->dir, path, t->s.epoch, (long long)t->s.step);
}

// ---- one pass ---------------------------------------------------------------------------------

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

// CFGAN_DEBUG_CHECK_EVERY: the parameters must be the same on every rank.
static void check_replicas(const Trainer *t) {
    uint64_t h = hash64(1, t->model.g.params, t->model.g.n_params * sizeof(float));
    h = hash64(h, t->model.d.params, t->model.d.n_params * sizeof(float));
    if (!par_same_u64(h))
        die(EXIT_RUNTIME, "internal: model parameters differ across ranks at step %lld (CFGAN_DEBUG_CHECK_EVERY)",
            (long long)t->s.step);
    info("replica check at step %lld: parameters equal on all %d ranks", (long long)t->s.step, par_size());
}

static void step_stats_add(StepStats *acc, const StepStats *add) {
    acc->d_real += add->d_real, acc->d_fake += add->d_fake, acc->g_adv += add->g_adv, acc->g_zr += add->g_zr;
    acc->p_real += add->p_real, acc->p_fake += add->p_fake, acc->rows += add->rows;
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
    if (is_d && !cfg->adversarial) return 0; // the ablation has no D to train
    if (is_d) scorer_refresh_cache(&t->scorer, &t->model, &t->ds); // G does not change while D trains
    Rng rng;
    rng_init(&rng, (uint64_t)cfg->seed, RNG_SHUFFLE, (uint32_t)s->outer, (uint32_t)s->pass);
    // train.batch_strata: rows are dealt to ranks by id mod np, so when np divides the strata every
    // batch (a run of consecutive positions) gives each rank the same number of rows, +-1
    rng_stratified_permutation(&rng, t->perm, n_rows, cfg->batch_strata);
    for (; s->batch_start < n_rows; s->batch_start += bs) {
        const int Bg = (int)(n_rows - s->batch_start < bs ? n_rows - s->batch_start : bs);
        Batch b = gather_batch(t, s->batch_start, Bg, (uint32_t)s->outer);
        timer_start(T_SAMPLE);
        cfgan_sample_masks(&t->model, &b, (uint64_t)cfg->seed, !is_d);
        timer_stop(T_SAMPLE);
        // every data term is divided by the global batch size, so the sum over ranks is the batch mean
        const float scale = 1.0f / (float)Bg;
        StepStats bst = {0};
        if (is_d) {
            const float *const *g_rows = NULL;
            if (t->scorer.cache) {
                for (int i = 0; i < b.B; i++) t->g_rows[i] = scorer_cached(&t->scorer, b.local[i], t->ds.n_cols);
                g_rows = t->g_rows;
            }
            cfgan_d_step(&t->model, &b, g_rows, scale, &bst);
        } else {
            cfgan_g_step(&t->model, &b, scale, &bst);
        }
        double loss = is_d ? bst.d_real + bst.d_fake : bst.g_adv + bst.g_zr;
        if (t->fail_at_step > 0 && s->step == t->fail_at_step && par_rank() == par_size() - 1) loss = NAN;
        // any rank can stop every rank (a signal); a non-finite loss on any rank fails them all
        // together, before the update touches the parameters
        int flags = (g_stop_signal ? EXCHANGE_STOP : 0) | (isfinite(loss) ? 0 : EXCHANGE_BAD);
        flags = exchange_step(net, &t->adam[!is_d], flags);
        if (flags & EXCHANGE_BAD)
            numeric_failure(t, is_d ? "the discriminator loss" : "the generator loss", s->epoch + 1, s->step);
        if (t->diverge_at > 0 && s->step == t->diverge_at && par_rank() == par_size() - 1) net->params[0] += 1.0f;
        step_stats_add(&s->pass_st, &bst);
        s->pass_batches++;
        s->step++;
        if (t->check_every > 0 && s->step % t->check_every == 0) check_replicas(t);
        if (flags & EXCHANGE_STOP) {
            s->batch_start += bs;
            return 1;
        }
    }
    // the pass is complete: sum over ranks, report the mean batch loss
    StepStats st = s->pass_st;
    par_sum_double(&st.d_real, 7);
    const double inv = 1.0 / s->pass_batches;
    st.d_real *= inv, st.d_fake *= inv, st.g_adv *= inv, st.g_zr *= inv;
    if (is_d) s->dst = st;
    else s->gst = st;
    memset(&s->pass_st, 0, sizeof s->pass_st);
    s->pass_batches = 0;
    s->batch_start = 0;
    return 0;
}

// ---- after an epoch ---------------------------------------------------------------------------

static void evaluate(Trainer *t, const Csr *heldout, const Csr *excl, Metrics *out, PerUser *per_user) {
    scorer_evaluate(&t->scorer, &t->model, &t->ds, heldout, excl, t->cfg->topk, t->cfg->n_topk, out, per_user);
}

// After a generator pass: evaluate if due, track the honest protocol's best epoch. The reference
// protocol's last evaluation is the reported one: its per-user rows go to per_user, and the return
// value says so (1 on every rank).
static int after_epoch(Trainer *t, int total_epochs, PerUser *per_user) {
    const Config *cfg = t->cfg;
    TrainState *s = &t->s;
    if (s->epoch % cfg->eval_every != 0 && s->epoch != total_epochs) return 0;
    const int reported = !t->honest && s->epoch == total_epochs;
    EvalRecord r = {.epoch = s->epoch, .split = t->honest ? SPLIT_VALID : SPLIT_TEST};
    r.d_loss = s->dst.d_real + s->dst.d_fake + cfg->d_reg * l2_half(t->model.d.params, t->model.d.n_params);
    r.g_loss = s->gst.g_adv + s->gst.g_zr + cfg->g_reg * l2_half(t->model.g.params, t->model.g.n_params);
    r.d_real = s->dst.rows > 0 ? s->dst.p_real / s->dst.rows : 0;
    r.d_fake = s->dst.rows > 0 ? s->dst.p_fake / s->dst.rows : 0;
    evaluate(t, t->honest ? &t->ds.valid : &t->ds.test, &t->ds.train, &r.m, reported ? per_user : NULL);
    r.seconds = wall_seconds() - t->t_start;
    s->n_evals++;
    record_append(t->metrics, t->dir, &r);
    record_progress(&r, total_epochs, r.seconds / s->epoch);
    s->last = r;
    if (!t->honest) return reported;
    const double v = metrics_get(&r.m, cfg->select_metric, cfg->select_k);
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
    return 0;
}

// ---- the run ----------------------------------------------------------------------------------

int train_run(const Config *cfg, const TrainOptions *opt) {
    Trainer t;
    // everything that can fail on bad input happens before the run directory is touched
    trainer_init(&t, cfg);
    record_choose_dir(t.dir, sizeof t.dir, cfg, NULL, opt->out_dir, opt->resume);
    snprintf(t.ckpt_dir, sizeof t.ckpt_dir, "%s/checkpoints", t.dir);
    if (opt->resume) load_checkpoint(&t);
    if (util_is_root() && !opt->resume) record_write_config(t.dir, cfg);
    t.metrics = record_open_metrics(t.dir, opt->resume, t.s.n_evals);
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
    info("%s", blas_threads());
    signal(SIGUSR1, on_stop_signal);
    signal(SIGTERM, on_stop_signal);

    timer_reset();
    timer_start(T_TOTAL);
    TrainState *s = &t.s;
    PerUser per_user = {0}; // the reported test metrics of every test user
    int have_per_user = 0;
    while (!s->finished && s->outer < T && !s->stopped_early) {
        if (run_pass(&t)) { // a rank was asked to stop: save where we are and leave
            save_checkpoint(&t);
            info("stopped by a signal at epoch %d, step %lld: checkpoint written in %s; continue with --resume",
                 s->epoch, (long long)s->step, t.ckpt_dir);
            per_user_free(&per_user);
            trainer_free(&t);
            return EXIT_PREEMPTED;
        }
        const int was_g = s->pass >= cfg->d_steps;
        if (++s->pass == n_pass) s->pass = 0, s->outer++;
        if (!was_g) continue;
        s->epoch++;
        have_per_user |= after_epoch(&t, total_epochs, &per_user);
        if (cfg->ckpt_every > 0 && s->epoch % cfg->ckpt_every == 0 && s->epoch != total_epochs) save_checkpoint(&t);
    }
    if (!s->finished) {
        s->finished = 1;
        save_checkpoint(&t);
    }
    EvalRecord reported = s->last;
    if (t.honest) { // test the selected parameters
        memcpy(t.model.g.params, t.best_g, t.model.g.n_params * sizeof(float));
        reported = s->best;
        reported.split = SPLIT_TEST;
        evaluate(&t, &t.ds.test, &t.test_excl, &reported.m, &per_user);
        reported.seconds = wall_seconds() - t.t_start;
        s->n_evals++;
        record_append(t.metrics, t.dir, &reported);
    } else if (!have_per_user) { // resumed after the last evaluation: again, user by user (the same lists)
        Metrics again;
        evaluate(&t, &t.ds.test, &t.ds.train, &again, &per_user);
    }
    record_write_per_user(t.dir, &per_user, cfg->topk, &t.ds);
    per_user_free(&per_user);
    timer_stop(T_TOTAL);
    PhaseReport phases;
    record_gather_phases(&phases, &t.ds);
    FinalReport f = {.cfg = cfg, .ds = &t.ds, .honest = t.honest, .reported = &reported, .selected = &s->best,
                     .epochs_run = s->epoch, .stopped_early = s->stopped_early,
                     .wall_seconds = wall_seconds() - t.t_start, .phases = &phases};
    record_write_final(t.dir, &f);
    trainer_free(&t);
    return 0;
}
