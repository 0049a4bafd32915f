// ckpt: checkpoint files: header, named sections, checksum; atomic writes; newest valid lookup;
// and what a training checkpoint holds.
#include "ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "par.h"
#include "util.h"

#define CKPT_MAGIC "CFGANCKP"
#define CKPT_VERSION 2u // 2: cfgan 0.2 (version 1 checkpoints hold another training state)

typedef struct {
    unsigned char *p;
    size_t len, cap;
} Buf;

static void put(Buf *b, const void *data, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

void ckpt_add(Checkpoint *self, const char *name, const void *data, size_t bytes) {
    if (self->n_sections == CKPT_MAX_SECTIONS) die_local(EXIT_RUNTIME, "internal: too many checkpoint sections");
    int i = self->n_sections++;
    snprintf(self->sec[i].name, sizeof self->sec[i].name, "%s", name);
    self->sec[i].data = data;
    self->sec[i].bytes = bytes;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// Checkpoint file names in dir, sorted oldest first (names sort by step). Caller frees.
static int list_checkpoints(const char *dir, char ***names) {
    DIR *d = opendir(dir);
    *names = NULL;
    if (!d) return 0;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t L = strlen(e->d_name);
        if (strncmp(e->d_name, "ckpt-", 5) != 0 || L < 9 || strcmp(e->d_name + L - 4, ".bin") != 0) continue;
        if (n == cap) *names = xrealloc(*names, (size_t)(cap = cap ? 2 * cap : 16) * sizeof **names);
        (*names)[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(*names, (size_t)n, sizeof **names, cmp_names);
    return n;
}

int ckpt_write(const Checkpoint *self, const char *dir, int keep, char *path_out, size_t path_size) {
    Buf b = {0};
    uint32_t version = CKPT_VERSION, n = (uint32_t)self->n_sections;
    put(&b, CKPT_MAGIC, 8);
    put(&b, &version, 4);
    put(&b, &n, 4);
    put(&b, &self->config_hash, 8);
    put(&b, &self->fingerprint, 8);
    put(&b, &self->ranks, 4);
    put(&b, &self->epoch, 4);
    put(&b, &self->step, 8);
    for (int i = 0; i < self->n_sections; i++) {
        char name[32] = {0};
        snprintf(name, sizeof name, "%s", self->sec[i].name);
        put(&b, name, 32);
        put(&b, &self->sec[i].bytes, 8);
        put(&b, self->sec[i].data, self->sec[i].bytes);
    }
    uint64_t sum = hash64(0x636b7074, b.p, b.len);
    put(&b, &sum, 8);
    put(&b, "END!", 4);
    snprintf(path_out, path_size, "%s/ckpt-%012lld.bin", dir, (long long)self->step);
    int rc = write_file_atomic(path_out, b.p, b.len);
    int saved = errno;
    free(b.p);
    if (rc != 0) {
        errno = saved;
        return -1;
    }
    // temporary files of writes cut short (a killed process) are left over: remove them
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (strncmp(e->d_name, "ckpt-", 5) == 0 && strstr(e->d_name, ".bin.tmp.")) {
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (strcmp(p, path_out) != 0) unlink(p);
        }
    if (d) closedir(d);
    char **names;
    int count = list_checkpoints(dir, &names);
    for (int i = 0; i < count; i++) {
        if (i < count - keep) {
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", dir, names[i]);
            unlink(p);
        }
        free(names[i]);
    }
    free(names);
    return 0;
}

#define TAKE(dst, n)                                                            \
    do {                                                                        \
        if (off + (n) > bytes) {                                                \
            snprintf(err, err_size, "truncated (%zu bytes)", bytes);            \
            goto bad;                                                           \
        }                                                                       \
        memcpy((dst), buf + off, (n));                                          \
        off += (n);                                                             \
    } while (0)

int ckpt_parse(Checkpoint *self, unsigned char *buf, size_t bytes, char *err, size_t err_size) {
    memset(self, 0, sizeof *self);
    size_t off = 0;
    char magic[8];
    uint32_t version, n;
    TAKE(magic, 8);
    if (memcmp(magic, CKPT_MAGIC, 8) != 0) {
        snprintf(err, err_size, "not a cfgan checkpoint (bad magic)");
        goto bad;
    }
    TAKE(&version, 4);
    if (version != CKPT_VERSION) {
        snprintf(err, err_size, "checkpoint format version %u, this cfgan reads version %u", version, CKPT_VERSION);
        goto bad;
    }
    if (bytes < 12 + 12) {
        snprintf(err, err_size, "truncated (%zu bytes)", bytes);
        goto bad;
    }
    uint64_t stored;
    memcpy(&stored, buf + bytes - 12, 8);
    if (memcmp(buf + bytes - 4, "END!", 4) != 0) {
        snprintf(err, err_size, "truncated (no end marker)");
        goto bad;
    }
    if (hash64(0x636b7074, buf, bytes - 12) != stored) {
        snprintf(err, err_size, "checksum mismatch (corrupted)");
        goto bad;
    }
    bytes -= 12;
    TAKE(&n, 4);
    if (n > CKPT_MAX_SECTIONS) {
        snprintf(err, err_size, "%u sections, at most %d", n, CKPT_MAX_SECTIONS);
        goto bad;
    }
    TAKE(&self->config_hash, 8);
    TAKE(&self->fingerprint, 8);
    TAKE(&self->ranks, 4);
    TAKE(&self->epoch, 4);
    TAKE(&self->step, 8);
    for (uint32_t i = 0; i < n; i++) {
        TAKE(self->sec[i].name, 32);
        self->sec[i].name[31] = '\0';
        TAKE(&self->sec[i].bytes, 8);
        if (self->sec[i].bytes > bytes - off) {
            snprintf(err, err_size, "section '%s' runs past the end", self->sec[i].name);
            goto bad;
        }
        self->sec[i].data = buf + off;
        off += self->sec[i].bytes;
    }
    self->n_sections = (int)n;
    self->buffer = buf;
    self->buffer_bytes = bytes + 12;
    return 0;
bad:
    free(buf);
    self->n_sections = 0;
    return -1;
}
#undef TAKE

const void *ckpt_get(const Checkpoint *self, const char *name, size_t bytes) {
    for (int i = 0; i < self->n_sections; i++)
        if (strcmp(self->sec[i].name, name) == 0) return self->sec[i].bytes == bytes ? self->sec[i].data : NULL;
    return NULL;
}

static unsigned char *read_all(const char *path, size_t *bytes) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    unsigned char *p = xmalloc(cap);
    size_t got;
    while ((got = fread(p + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) p = xrealloc(p, cap *= 2);
    }
    fclose(f);
    *bytes = n;
    return p;
}

int ckpt_load_newest(Checkpoint *self, const char *dir, char *path_out, size_t path_size, char *err, size_t err_size) {
    char **names;
    int count = list_checkpoints(dir, &names), found = -1;
    snprintf(err, err_size, "no checkpoint files (ckpt-*.bin) in %s", dir);
    for (int i = count - 1; i >= 0 && found < 0; i--) {
        snprintf(path_out, path_size, "%s/%s", dir, names[i]);
        size_t bytes;
        unsigned char *buf = read_all(path_out, &bytes);
        char why[256];
        if (!buf) {
            warn("%s: cannot read (%s); trying the previous checkpoint", path_out, strerror(errno));
            continue;
        }
        if (ckpt_parse(self, buf, bytes, why, sizeof why) != 0) {
            // set it aside, so that pruning never keeps it in place of a good one
            char bad[4200];
            snprintf(bad, sizeof bad, "%s.bad", path_out);
            int moved = rename(path_out, bad) == 0;
            warn("%s: %s; %strying the previous checkpoint", path_out, why, moved ? "renamed to *.bad, " : "");
            snprintf(err, err_size, "no valid checkpoint in %s (newest problem: %s)", dir, why);
            continue;
        }
        found = i;
    }
    for (int i = 0; i < count; i++) free(names[i]);
    free(names);
    return found >= 0 ? 0 : -1;
}

void ckpt_free(Checkpoint *self) {
    free(self->buffer);
    memset(self, 0, sizeof *self);
}

// ---- training checkpoints ---------------------------------------------------------------------

void ckpt_save_training(const char *dir, const Config *cfg, uint64_t fingerprint, int epoch, int64_t step,
                        const TrainingState *st) {
    void *sums; // every rank's loss sums of the pass in flight, in rank order (rank 0 only)
    size_t sum_bytes;
    par_gatherv_bytes(st->sums, (size_t)st->n_sums * sizeof(double), &sums, &sum_bytes, 0);
    if (util_is_root()) {
        Checkpoint c = {.config_hash = config_hash(cfg), .fingerprint = fingerprint, .ranks = par_size(),
                        .epoch = epoch, .step = step};
        const Mlp *g = st->g, *d = st->d;
        const size_t gb = g->n_params * sizeof(float), db = d->n_params * sizeof(float);
        ckpt_add(&c, "state", st->loop, st->loop_bytes);
        ckpt_add(&c, "pass_sums", sums, sum_bytes);
        ckpt_add(&c, "g.params", g->params, gb);
        ckpt_add(&c, "g.m", g->m, gb);
        ckpt_add(&c, "g.v", g->v, gb);
        ckpt_add(&c, "g.step", &g->step, sizeof g->step);
        ckpt_add(&c, "d.params", d->params, db);
        ckpt_add(&c, "d.m", d->m, db);
        ckpt_add(&c, "d.v", d->v, db);
        ckpt_add(&c, "d.step", &d->step, sizeof d->step);
        // the selected parameters exist only after the first validation (recommend falls back to g.params)
        if (st->best_g && *st->have_best) ckpt_add(&c, "best_g", st->best_g, gb);
        const int32_t threads = openblas_get_num_threads();
        ckpt_add(&c, "blas_threads", &threads, sizeof threads);
        char *text = NULL;
        size_t text_bytes = 0;
        FILE *mem = open_memstream(&text, &text_bytes);
        config_write_yaml(cfg, mem);
        fclose(mem);
        ckpt_add(&c, "config.yaml", text, text_bytes);
        mkdir_p(dir);
        char path[CFG_STR_MAX + 64];
        if (ckpt_write(&c, dir, cfg->ckpt_keep, path, sizeof path) != 0)
            die_local(EXIT_RUNTIME, "%s: cannot write the checkpoint: %s (the previous checkpoints are intact)", path,
                      strerror(errno));
        free(text);
    }
    free(sums);
}

// Copy section `name` (exactly `bytes`) or end every rank naming it.
static void restore_part(const Checkpoint *c, const char *path, const char *name, void *dst, size_t bytes) {
    const void *src = ckpt_get(c, name, bytes);
    if (!src) die(EXIT_INPUT, "%s: section '%s' is missing or has the wrong size", path, name);
    memcpy(dst, src, bytes);
}

void ckpt_restore_training(const char *dir, const Config *cfg, uint64_t fingerprint, TrainingState *st,
                           char *path, size_t path_size) {
    Checkpoint c = {0};
    char err[512] = "";
    unsigned char *buf = NULL;
    uint64_t bytes = 0;
    if (util_is_root() && ckpt_load_newest(&c, dir, path, path_size, err, sizeof err) == 0)
        buf = c.buffer, bytes = c.buffer_bytes;
    par_bcast(&bytes, sizeof bytes, 0);
    if (bytes == 0) {
        par_bcast(err, sizeof err, 0);
        die(EXIT_INPUT, "%s: cannot resume: %s", dir, err);
    }
    par_bcast(path, path_size, 0);
    if (!util_is_root()) buf = xmalloc(bytes);
    par_bcast(buf, bytes, 0);
    if (!util_is_root() && ckpt_parse(&c, buf, bytes, err, sizeof err) != 0)
        die_local(EXIT_RUNTIME, "%s: checkpoint damaged in transit: %s", path, err);
    if (c.config_hash != config_hash(cfg))
        die(EXIT_INPUT, "%s: was written with a different configuration (hash %016llx, this config %016llx); resume "
                        "with the run's config.yaml, changing only keys that do not define the run (eval.topk, "
                        "eval.every, checkpoint.*, data.titles; see cfgan help config)",
            path, (unsigned long long)c.config_hash, (unsigned long long)config_hash(cfg));
    if (c.fingerprint != fingerprint)
        die(EXIT_INPUT, "%s: was written for different data (fingerprint %016llx, now %016llx): check --data-root", path,
            (unsigned long long)c.fingerprint, (unsigned long long)fingerprint);
    if (c.ranks != par_size())
        warn("%s: written by %d ranks, resuming with %d: results will differ from an uninterrupted run in float "
             "summation order",
             path, c.ranks, par_size());
    Mlp *g = st->g, *d = st->d;
    const size_t gb = g->n_params * sizeof(float), db = d->n_params * sizeof(float);
    restore_part(&c, path, "state", st->loop, st->loop_bytes);
    restore_part(&c, path, "g.params", g->params, gb);
    restore_part(&c, path, "g.m", g->m, gb);
    restore_part(&c, path, "g.v", g->v, gb);
    restore_part(&c, path, "g.step", &g->step, sizeof g->step);
    restore_part(&c, path, "d.params", d->params, db);
    restore_part(&c, path, "d.m", d->m, db);
    restore_part(&c, path, "d.v", d->v, db);
    restore_part(&c, path, "d.step", &d->step, sizeof d->step);
    if (st->best_g && *st->have_best) restore_part(&c, path, "best_g", st->best_g, gb); // the state says it is there
    // BLAS threads change the products' float summation order, as the rank count does
    const int32_t *threads = ckpt_get(&c, "blas_threads", sizeof *threads);
    if (threads && *threads != openblas_get_num_threads())
        warn("%s: written with %d BLAS threads per rank, resuming with %d: results will differ from an uninterrupted "
             "run in float summation order (set OPENBLAS_NUM_THREADS=%d to continue bit for bit)",
             path, *threads, openblas_get_num_threads(), *threads);
    // this rank's loss sums of the interrupted pass; with another rank count, rank 0 takes them all
    const size_t n = (size_t)st->n_sums;
    const double *sums = ckpt_get(&c, "pass_sums", (size_t)c.ranks * n * sizeof(double));
    if (!sums) die(EXIT_INPUT, "%s: section 'pass_sums' is missing or has the wrong size", path);
    memset(st->sums, 0, n * sizeof(double));
    if (c.ranks == par_size()) memcpy(st->sums, sums + (size_t)par_rank() * n, n * sizeof(double));
    else
        for (int r = 0; r < c.ranks && util_is_root(); r++)
            for (size_t i = 0; i < n; i++) st->sums[i] += sums[(size_t)r * n + i];
    ckpt_free(&c);
}
