// run_record: the run directory, config.yaml, metrics.jsonl, final.json and the progress lines.
#include "run_record.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "par.h"
#include "util.h"
#include "version.h"

static const char *const SPLIT_NAMES[] = {"valid", "test"};

void record_choose_dir(char *dir, size_t size, const Config *cfg, const char *tag, const char *out_dir, int resume) {
    if (out_dir) {
        snprintf(dir, size, "%s", out_dir);
    } else {
        char stamp[32] = "";
        time_t now = time(NULL);
        if (util_is_root()) strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&now));
        par_bcast(stamp, sizeof stamp, 0); // every rank names the same directory
        snprintf(dir, size, "runs/%s%s%s-%s", cfg->name, tag ? "-" : "", tag ? tag : "", stamp);
    }
    char path[CFG_STR_MAX + 32];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    struct stat st;
    int taken = util_is_root() && stat(path, &st) == 0; // rank 0 decides: others may see its files appear
    par_bcast(&taken, sizeof taken, 0);
    if (!resume && taken)
        die(EXIT_INPUT, "%s: already holds a run (metrics.jsonl); choose another --out%s", dir,
            tag ? "" : ", or pass --resume to continue it");
}

static void write_text(const char *dir, const char *name, const char *text, size_t n) {
    char path[CFG_STR_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (write_file_atomic(path, text, n) != 0) die_local(EXIT_RUNTIME, "%s: cannot write: %s", path, strerror(errno));
}

void record_write_config(const char *dir, const Config *cfg) {
    mkdir_p(dir);
    char *text = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&text, &n);
    fprintf(mem, "# resolved configuration of this run (cfgan %s, git %s)\n", cfgan_version(), cfgan_git());
    config_write_yaml(cfg, mem);
    fclose(mem);
    write_text(dir, "config.yaml", text, n);
    free(text);
}

static void record_json(StrBuf *sb, const EvalRecord *r) {
    sb_printf(sb, "{\"epoch\": %d, \"split\": \"%s\", \"d_loss\": %.9g, \"g_loss\": %.9g, \"d_real\": %.6g, "
                  "\"d_fake\": %.6g, \"seconds\": %.3f, ",
              r->epoch, SPLIT_NAMES[r->split], r->d_loss, r->g_loss, r->d_real, r->d_fake, r->seconds);
    metrics_json(&r->m, sb);
    sb_printf(sb, "}");
}

FILE *record_open_metrics(const char *dir, int resume, int n_kept) {
    if (!util_is_root()) return NULL;
    mkdir_p(dir);
    char path[CFG_STR_MAX + 32];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    if (resume) { // the lines after the checkpoint's evaluations are written again
        FILE *in = fopen(path, "r");
        StrBuf keep = {0};
        char *line = NULL;
        size_t cap = 0;
        int kept = 0;
        while (in && kept < n_kept && getline(&line, &cap, in) > 0) sb_printf(&keep, "%s", line), kept++;
        free(line);
        if (in) fclose(in);
        if (kept < n_kept)
            die_local(EXIT_INPUT, "%s: holds %d evaluations but the checkpoint recorded %d", path, kept, n_kept);
        if (write_file_atomic(path, keep.data ? keep.data : "", keep.len) != 0)
            die_local(EXIT_RUNTIME, "%s: cannot rewrite: %s", path, strerror(errno));
        sb_free(&keep);
    }
    FILE *f = fopen(path, resume ? "a" : "w");
    if (!f) die_local(EXIT_RUNTIME, "%s: cannot write: %s", path, strerror(errno));
    return f;
}

void record_append(FILE *metrics, const char *dir, const EvalRecord *r) {
    if (!util_is_root()) return;
    StrBuf sb = {0};
    record_json(&sb, r);
    sb_printf(&sb, "\n");
    if (fwrite(sb.data, 1, sb.len, metrics) != sb.len || fflush(metrics) != 0)
        die_local(EXIT_RUNTIME, "%s/metrics.jsonl: write failed: %s", dir, strerror(errno));
    sb_free(&sb);
}

void record_write_per_user(const char *dir, const PerUser *per_user, const int *cutoffs, const Dataset *ds) {
    if (!util_is_root()) return;
    StrBuf sb = {0};
    per_user_tsv(per_user, cutoffs, ds->users.ids, &sb);
    write_text(dir, "per_user.tsv", sb.data, sb.len);
    sb_free(&sb);
}

static void format_duration(double s, char *buf, size_t n) {
    long v = (long)(s + 0.5);
    if (v >= 3600) snprintf(buf, n, "%ldh%02ldm", v / 3600, (v / 60) % 60);
    else if (v >= 60) snprintf(buf, n, "%ldm%02lds", v / 60, v % 60);
    else snprintf(buf, n, "%lds", v);
}

void record_progress(const EvalRecord *r, int total_epochs, double seconds_per_epoch) {
    if (!util_is_root()) return;
    char line[1024], eta[32], el[32];
    int w = snprintf(line, sizeof line, "epoch %*d/%d  D %.4f (real %.3f fake %.3f)  G %.4f  %s",
                     (int)log10(total_epochs) + 1, r->epoch, total_epochs, r->d_loss, r->d_real, r->d_fake, r->g_loss,
                     SPLIT_NAMES[r->split]);
    for (int c = 0; c < r->m.n_cutoffs && w < (int)sizeof line - 80; c++)
        w += snprintf(line + w, sizeof line - (size_t)w, "  @%d P %.4f R %.4f NDCG %.4f MRR %.4f", r->m.cutoff[c],
                      r->m.p[c], r->m.r[c], r->m.ndcg[c], r->m.mrr[c]);
    format_duration(r->seconds, el, sizeof el);
    format_duration(seconds_per_epoch * (total_epochs - r->epoch), eta, sizeof eta);
    info("%s  %s  ETA %s", line, el, eta);
}

void record_gather_phases(PhaseReport *p, const Dataset *ds) {
    for (int i = 0; i < T_COUNT; i++) {
        p->min[i] = p->max[i] = p->sum[i] = timer_seconds((TimerId)i);
        p->flops[i] = timer_flop_count((TimerId)i);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    p->rss_min = p->rss_max = p->rss_sum = (double)ru.ru_maxrss / 1024.0;
    p->data_min = p->data_max = p->data_sum = (double)dataset_bytes(ds) / 1048576.0;
    p->shard_min = p->shard_max = p->shard_sum = (double)dataset_shard_bytes(ds) / 1048576.0;
    p->gemm_lost_max = (double)timer_gemm_lost_calls();
    par_min_double(p->min, T_COUNT), par_max_double(p->max, T_COUNT), par_sum_double(p->sum, T_COUNT);
    par_sum_double(p->flops, T_COUNT);
    par_min_double(&p->rss_min, 1), par_max_double(&p->rss_max, 1), par_sum_double(&p->rss_sum, 1);
    par_min_double(&p->data_min, 1), par_max_double(&p->data_max, 1), par_sum_double(&p->data_sum, 1);
    par_min_double(&p->shard_min, 1), par_max_double(&p->shard_max, 1), par_sum_double(&p->shard_sum, 1);
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
    // rank 0's calls: the other ranks make the same calls on their rows of each batch
    const GemmShape *g;
    const int n = timer_gemm_shapes(&g);
    sb_printf(sb, "  \"gemm_shapes\": [");
    for (int i = 0; i < n; i++)
        sb_printf(sb, "%s\n    {\"phase\": \"%s\", \"m\": %d, \"n\": %d, \"k\": %d, \"ta\": %d, \"tb\": %d, \"calls\": %lld}",
                  i ? "," : "", TIMER_NAMES[g[i].phase], g[i].m, g[i].n, g[i].k, g[i].ta, g[i].tb, g[i].calls);
    sb_printf(sb, "\n  ],\n  \"gemm_calls_unrecorded\": %.0f,\n", p->gemm_lost_max); // most on any rank
}

void record_write_final(const char *dir, const FinalReport *f) {
    if (!util_is_root()) return;
    const Config *cfg = f->cfg;
    StrBuf sb = {0};
    sb_printf(&sb, "{\n  \"protocol\": \"%s\",\n", f->honest ? "honest" : "reference");
    sb_printf(&sb, "  \"protocol_description\": \"%s\",\n",
              f->honest ? "epoch selected on the validation split by eval.select; test metrics of the selected parameters"
                        : "fixed number of epochs; test metrics at the last epoch (as the CFGAN authors report)");
    sb_printf(&sb, "  \"test_users\": %lld,\n  \"reported\": ", (long long)f->reported->m.n_users);
    record_json(&sb, f->reported);
    if (f->honest) {
        sb_printf(&sb, ",\n  \"selected_on_validation\": ");
        record_json(&sb, f->selected);
        sb_printf(&sb, ",\n  \"select\": \"%s\"", cfg->eval_select);
    }
    sb_printf(&sb, ",\n  \"epochs_run\": %d,\n  \"stopped_early\": %s,\n", f->epochs_run,
              f->stopped_early ? "true" : "false");
    sb_printf(&sb, "  \"wall_seconds\": %.3f,\n", f->wall_seconds);
    phases_json(&sb, f->phases);
    sb_printf(&sb, "  \"config\": ");
    sb_json_string(&sb, cfg->path);
    sb_printf(&sb, ",\n  \"config_hash\": \"%016llx\",\n  \"dataset_fingerprint\": \"%016llx\",\n",
              (unsigned long long)config_hash(cfg), (unsigned long long)f->ds->fingerprint);
    const Dataset *ds = f->ds;
    sb_printf(&sb, "  \"users\": %d, \"items\": %d, \"train_pairs\": %lld, \"valid_pairs\": %lld, \"test_pairs\": %lld,\n",
              ds->n_users, ds->n_items, (long long)ds->n_train, (long long)ds->n_valid, (long long)ds->n_test);
    sb_printf(&sb, "  \"ranks\": %d,\n  \"version\": \"%s\",\n  \"git\": \"%s\",\n  \"compiler\": ", par_size(),
              cfgan_version(), cfgan_git());
    sb_json_string(&sb, cfgan_compiler());
    sb_printf(&sb, ",\n  \"blas\": ");
    sb_json_string(&sb, cfgan_blas());
    sb_printf(&sb, "\n}\n");
    write_text(dir, "final.json", sb.data, sb.len);
    sb_free(&sb);

    StrBuf line = {0};
    metrics_json(&f->reported->m, &line);
    info("final (%s protocol, epoch %d, test): %s", f->honest ? "honest" : "reference", f->reported->epoch, line.data);
    sb_free(&line);
    StrBuf tb = {0};
    for (int i = 0; i < T_COUNT; i++)
        if (f->phases->max[i] > 0)
            sb_printf(&tb, "%s%s %.2f", tb.len ? ", " : "", TIMER_NAMES[i], f->phases->sum[i] / par_size());
    info("seconds per phase (mean over ranks): %s", tb.data ? tb.data : "");
    info("wrote %s/metrics.jsonl, %s/final.json, %s/per_user.tsv, %s/config.yaml", dir, dir, dir, dir);
    sb_free(&tb);
}
