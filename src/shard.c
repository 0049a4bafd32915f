// shard: this rank's part of the dataset (see shard.h for the flow).
#include "shard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "par.h"
#include "synth.h"
#include "util.h"

// Sort and drop repeats in place; returns the new length.
static int64_t sort_unique(int64_t *a, int64_t n) {
    qsort(a, (size_t)n, sizeof *a, cmp_int64);
    int64_t u = 0;
    for (int64_t k = 0; k < n; k++)
        if (u == 0 || a[k] != a[u - 1]) a[u++] = a[k];
    return u;
}

// The sorted union over all ranks of the ids in a and b.
static void global_idmap(IdMap *m, const int64_t *a, int64_t na, const int64_t *b, int64_t nb, const char *what) {
    int64_t *mine = xmalloc((size_t)(na + nb + 1) * sizeof *mine);
    memcpy(mine, a, (size_t)na * sizeof *mine);
    if (nb) memcpy(mine + na, b, (size_t)nb * sizeof *mine);
    int64_t n = sort_unique(mine, na + nb);
    void *all;
    size_t bytes;
    par_allgatherv_bytes(mine, (size_t)n * sizeof *mine, &all, &bytes);
    free(mine);
    int64_t total = sort_unique(all, (int64_t)(bytes / sizeof(int64_t)));
    if (total > INT32_MAX - 1) die(EXIT_INPUT, "more than 2^31 distinct %s ids are not supported", what);
    m->ids = xrealloc(all, (size_t)(total ? total : 1) * sizeof(int64_t));
    m->n = (int32_t)total;
}

// Contiguous blocks of [0, n) for the ranks, each with about the same total of weight[x] + 1
// (the users' owners while reading and splitting).
static void block_bounds(int32_t *bounds, const int64_t *weight, int32_t n, int np) {
    double total = 0, acc = 0;
    for (int32_t x = 0; x < n; x++) total += (double)weight[x] + 1;
    for (int r = 0; r <= np; r++) bounds[r] = r == 0 ? 0 : n;
    int cur = 0;
    for (int32_t x = 0; x < n; x++) {
        int k = (int)(acc / total * np);
        if (k > np - 1) k = np - 1;
        while (cur < k) bounds[++cur] = x; // ranks cur+1..k start here
        acc += (double)weight[x] + 1;
    }
}

static int owner_of(const int32_t *bounds, int np, int32_t x) {
    int lo = 0, hi = np - 1;
    while (lo < hi) { // last r with bounds[r] <= x
        int mid = (lo + hi + 1) / 2;
        if (bounds[mid] <= x) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

// Pairs as (key, other) int32 couples, sent to the owner of key.
typedef struct {
    int32_t *v; // (2 n) key, other, key, other, ...
    int64_t n, cap;
} Couples;

static void couples_push(Couples *c, int32_t key, int32_t other) {
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 4096;
        c->v = xrealloc(c->v, (size_t)c->cap * 2 * sizeof(int32_t));
    }
    c->v[2 * c->n] = key;
    c->v[2 * c->n + 1] = other;
    c->n++;
}

// Send every couple to the owner of its key: a block of `bounds`, or key mod np when bounds is NULL.
static void route(Couples *c, const int32_t *bounds) {
    const int np = par_size();
    size_t *bytes = xcalloc((size_t)np, sizeof *bytes);
    int64_t *start = xcalloc((size_t)np + 1, sizeof *start);
#define OWNER(key) (bounds ? owner_of(bounds, np, (key)) : (key) % np)
    for (int64_t k = 0; k < c->n; k++) start[OWNER(c->v[2 * k]) + 1]++;
    for (int r = 0; r < np; r++) bytes[r] = (size_t)start[r + 1] * 2 * sizeof(int32_t), start[r + 1] += start[r];
    int32_t *packed = xmalloc((size_t)(c->n + 1) * 2 * sizeof(int32_t));
    for (int64_t k = 0; k < c->n; k++) {
        int64_t at = start[OWNER(c->v[2 * k])]++;
        packed[2 * at] = c->v[2 * k];
        packed[2 * at + 1] = c->v[2 * k + 1];
    }
#undef OWNER
    void *recv;
    size_t got;
    par_alltoallv_bytes(packed, bytes, &recv, &got);
    free(packed);
    free(bytes);
    free(start);
    free(c->v);
    c->v = recv;
    c->n = c->cap = (int64_t)(got / (2 * sizeof(int32_t)));
}

// CSR of couples whose key is a row: local row (key - lo) / stride; counts collapsed repeats.
static void csr_of(Csr *out, const Couples *c, int32_t lo, int32_t stride, int32_t n_rows, int32_t n_cols,
                   int64_t *dupes) {
    int32_t *r = xmalloc((size_t)(c->n + 1) * sizeof *r), *col = xmalloc((size_t)(c->n + 1) * sizeof *col);
    for (int64_t k = 0; k < c->n; k++) r[k] = (c->v[2 * k] - lo) / stride, col[k] = c->v[2 * k + 1];
    csr_from_pairs(out, n_rows, n_cols, r, col, c->n, dupes);
    free(r);
    free(col);
}

// Couples (row_offset + row, col) of a CSR, optionally swapped to (col, row).
static void couples_of(Couples *c, const Csr *m, int32_t row_offset, int swap) {
    for (int32_t r = 0; r < m->n_rows; r++)
        for (int64_t k = m->row_ptr[r]; k < m->row_ptr[r + 1]; k++) {
            if (swap) couples_push(c, m->col[k], row_offset + r);
            else couples_push(c, row_offset + r, m->col[k]);
        }
}

static void empty_csr(Csr *m, int32_t n_rows, int32_t n_cols) {
    memset(m, 0, sizeof *m);
    m->n_rows = n_rows;
    m->n_cols = n_cols;
    m->row_ptr = xcalloc((size_t)n_rows + 1, sizeof(int64_t));
    m->col = xmalloc(sizeof(int32_t));
}

// All ranks' (user, item) couples as a (n_users, n_items) CSR on rank 0; empty elsewhere.
static void gather_to_root(Csr *out, const Couples *c, int32_t n_users, int32_t n_items, int64_t *dupes) {
    void *all;
    size_t bytes;
    par_gatherv_bytes(c->v, (size_t)c->n * 2 * sizeof(int32_t), &all, &bytes, 0);
    Couples g = {all, (int64_t)(bytes / (2 * sizeof(int32_t))), 0};
    if (util_is_root()) csr_of(out, &g, 0, 1, n_users, n_items, dupes);
    else empty_csr(out, n_users, n_items);
    free(all);
}

// Iterative k-core on this rank's user rows (all of each user's pairs are here) with item degrees
// summed over ranks; returns the pairs removed (global).
static int64_t kcore_filter(Csr *m, int32_t n_items, int min_u, int min_i) {
    int64_t *ideg = xmalloc((size_t)n_items * sizeof *ideg), total_removed = 0;
    for (;;) {
        memset(ideg, 0, (size_t)n_items * sizeof *ideg);
        for (int64_t k = 0; k < m->nnz; k++) ideg[m->col[k]]++;
        par_sum_int64(ideg, (size_t)n_items);
        int64_t w = 0, removed = 0;
        for (int32_t r = 0; r < m->n_rows; r++) {
            int64_t a = m->row_ptr[r], b = m->row_ptr[r + 1];
            m->row_ptr[r] = w;
            if (b - a < min_u) {
                removed += b - a;
                continue;
            }
            for (int64_t k = a; k < b; k++) {
                if (ideg[m->col[k]] >= min_i) m->col[w++] = m->col[k];
                else removed++;
            }
        }
        m->row_ptr[m->n_rows] = w;
        m->nnz = w;
        par_sum_int64(&removed, 1);
        total_removed += removed;
        if (removed == 0) break;
    }
    free(ideg);
    return total_removed;
}

// Keep only ids with alive[x] != 0; new_index[x] gets the new dense index (or -1).
static void compact_map(IdMap *m, const int64_t *alive, int32_t *new_index) {
    int32_t w = 0;
    for (int32_t x = 0; x < m->n; x++) {
        new_index[x] = alive[x] ? w : -1;
        if (alive[x]) m->ids[w++] = m->ids[x];
    }
    m->n = w;
}

static void synth_collect(void *ctx, int64_t user, int64_t item) { pairs_push(ctx, user, item); }

// This rank's share of a file's lines; the empty-file check is collective.
static void read_share(const char *path, const ReadOptions *opt, PairList *p, ReadStats *st) {
    data_read_pairs_part(path, opt, par_rank(), par_size(), p, st);
    int64_t sums[4] = {st->lines, st->below_threshold, (int64_t)p->n, 0};
    par_sum_int64(sums, 4);
    st->lines = sums[0];
    st->below_threshold = sums[1];
    if (sums[0] == 0)
        die(EXIT_INPUT, "%s:%ld: no data lines (the file is empty or holds only blank lines and comments)", path,
            st->file_lines > 0 ? st->file_lines : 1);
    if (sums[2] == 0) die(EXIT_INPUT, "%s: every pair is below data.min_rating = %g", path, opt->min_rating);
}

static uint64_t row_hash(int32_t row, const int32_t *a, int32_t na, const int32_t *b, int32_t nb) {
    uint64_t h = hash_mix((uint64_t)row + 0x51ed27);
    h = hash64(h, a, (size_t)na * sizeof *a);
    h = hash64(h ^ 0xabcdef, b, (size_t)nb * sizeof *b);
    return hash_mix(h);
}

// A data file named relative to the data root that cannot be read: say which root was used and how
// to choose or fill one (every rank sees the same files, so every rank ends with the same message).
static void check_data_file(const Config *cfg, const char *rel, const char *path) {
    if (!rel[0] || rel[0] == '/' || access(path, R_OK) == 0) return;
    die(EXIT_INPUT, "%s: cannot open: %s (data root '%s' from %s; choose it with --data-root or CFGAN_DATA, and get "
                    "the datasets with tools/download-data.sh and tools/prepare-data.sh)",
        path, strerror(errno), cfg->data_root, cfg->data_root_from);
}

void dataset_load(Dataset *self, const Config *cfg) {
    memset(self, 0, sizeof *self);
    const int np = par_size(), me = par_rank();
    ReadOptions opt = read_options_from_config(cfg);
    PairList tr = {0}, te = {0};
    const char *train_label = cfg->train_path;
    if (cfg->data_format == FORMAT_SYNTHETIC) {
        SynthSpec spec = {cfg->synth_users, cfg->synth_items, cfg->synth_interactions, (uint64_t)cfg->synth_seed,
                          cfg->synth_topics};
        synth_generate_part(&spec, me, np, synth_collect, &tr);
        int64_t n = tr.n;
        par_sum_int64(&n, 1);
        self->train_stats.lines = n;
        train_label = "synthetic data";
    } else {
        check_data_file(cfg, cfg->data_train, cfg->train_path);
        check_data_file(cfg, cfg->data_test, cfg->test_path);
        read_share(cfg->train_path, &opt, &tr, &self->train_stats);
    }
    if (cfg->test_path[0]) read_share(cfg->test_path, &opt, &te, &self->test_stats);

    // global dense ids, sorted (0-based contiguous ids keep their numbers)
    global_idmap(&self->users, tr.user, tr.n, te.user, te.n, "user");
    global_idmap(&self->items, tr.item, tr.n, te.item, te.n, "item");
    int32_t U = self->users.n, I = self->items.n;
    self->n_users = U;
    self->n_items = I;

    // training pairs go to the owner of their user: blocks of users balanced by pairs
    int64_t *ucount = xcalloc((size_t)U, sizeof *ucount);
    Couples ct = {0}, cte = {0};
    for (int64_t k = 0; k < tr.n; k++) {
        int32_t u = idmap_find(&self->users, tr.user[k]), i = idmap_find(&self->items, tr.item[k]);
        ucount[u]++;
        couples_push(&ct, u, i);
    }
    for (int64_t k = 0; k < te.n; k++)
        couples_push(&cte, idmap_find(&self->users, te.user[k]), idmap_find(&self->items, te.item[k]));
    pairs_free(&tr);
    pairs_free(&te);
    par_sum_int64(ucount, (size_t)U);
    int32_t *ub = xmalloc(((size_t)np + 1) * sizeof *ub);
    block_bounds(ub, ucount, U, np);
    free(ucount);
    route(&ct, ub);

    // per-user splits where each user's whole row lives
    Csr mine, local_train, local_valid, local_test;
    int64_t d_train = 0;
    csr_of(&mine, &ct, ub[me], 1, ub[me + 1] - ub[me], I, &d_train);
    free(ct.v);
    if (cfg->min_user_interactions > 1 || cfg->min_item_interactions > 1) {
        self->train_stats.kcore_removed = kcore_filter(&mine, I, cfg->min_user_interactions, cfg->min_item_interactions);
        // drop the users and items the filter emptied from the id maps, and move users to new owners
        const int32_t old_lo = ub[me];
        int64_t *ualive = xcalloc((size_t)U, sizeof *ualive), *ialive = xcalloc((size_t)I, sizeof *ialive);
        for (int32_t r = 0; r < mine.n_rows; r++) ualive[old_lo + r] = csr_row_len(&mine, r);
        for (int64_t k = 0; k < mine.nnz; k++) ialive[mine.col[k]]++;
        par_sum_int64(ualive, (size_t)U);
        par_sum_int64(ialive, (size_t)I);
        int32_t *nu = xmalloc((size_t)U * sizeof *nu), *ni = xmalloc((size_t)I * sizeof *ni);
        compact_map(&self->users, ualive, nu);
        compact_map(&self->items, ialive, ni);
        if (self->users.n == 0) die(EXIT_INPUT, "%s: the k-core filter removed every pair", train_label);
        Couples moved = {0}, kept_test = {0};
        for (int32_t r = 0; r < mine.n_rows; r++)
            for (int64_t k = mine.row_ptr[r]; k < mine.row_ptr[r + 1]; k++) couples_push(&moved, nu[old_lo + r], ni[mine.col[k]]);
        for (int64_t k = 0; k < cte.n; k++) { // test pairs of removed users or items go too
            int32_t u = nu[cte.v[2 * k]], i = ni[cte.v[2 * k + 1]];
            if (u >= 0 && i >= 0) couples_push(&kept_test, u, i);
        }
        free(cte.v);
        cte = kept_test;
        for (int32_t x = 0; x < U; x++) // pairs per user by new index (nu[x] <= x, so in place)
            if (nu[x] >= 0) ualive[nu[x]] = ualive[x];
        self->n_users = U = self->users.n;
        self->n_items = I = self->items.n;
        block_bounds(ub, ualive, U, np);
        route(&moved, ub);
        csr_free(&mine);
        csr_of(&mine, &moved, ub[me], 1, ub[me + 1] - ub[me], I, NULL);
        free(moved.v);
        free(ualive), free(ialive), free(nu), free(ni);
    }
    const int32_t u_lo = ub[me], n_local_users = ub[me + 1] - ub[me];
    const int test_from_holdout = !cfg->test_path[0];
    if (test_from_holdout) {
        csr_holdout(&mine, u_lo, cfg->data_test_fraction, (uint64_t)cfg->data_seed, 0, &local_train, &local_test);
        csr_free(&mine);
    } else {
        local_train = mine;
        empty_csr(&local_test, n_local_users, I);
    }
    if (cfg->data_validation > 0) {
        Csr full = local_train;
        csr_holdout(&full, u_lo, cfg->data_validation, (uint64_t)cfg->data_seed, 1, &local_train, &local_valid);
        csr_free(&full);
    } else {
        empty_csr(&local_valid, n_local_users, I);
    }

    // held-out sets for metrics: rank 0
    int64_t d_test = 0;
    if (test_from_holdout) couples_of(&cte, &local_test, u_lo, 0);
    gather_to_root(&self->test, &cte, U, I, &d_test);
    free(cte.v);
    Couples cv = {0};
    couples_of(&cv, &local_valid, u_lo, 0);
    gather_to_root(&self->valid, &cv, U, I, NULL);
    free(cv.v);

    // degrees and counts
    self->user_degree = xcalloc((size_t)U, sizeof(int64_t));
    self->item_degree = xcalloc((size_t)I, sizeof(int64_t));
    for (int32_t r = 0; r < n_local_users; r++) self->user_degree[u_lo + r] = csr_row_len(&local_train, r);
    for (int64_t k = 0; k < local_train.nnz; k++) self->item_degree[local_train.col[k]]++;
    par_sum_int64(self->user_degree, (size_t)U);
    par_sum_int64(self->item_degree, (size_t)I);
    int64_t counts[5] = {local_train.nnz, local_valid.nnz, util_is_root() ? self->test.nnz : 0, d_train, d_test};
    par_sum_int64(counts, 5); // (rank 0 holds the whole test set)
    self->n_train = counts[0];
    self->n_valid = counts[1];
    self->n_test = counts[2];
    self->train_stats.duplicates = counts[3];
    self->test_stats.duplicates = counts[4];

    // fingerprint: a sum of per-user hashes does not depend on how users are spread over ranks
    uint64_t fp = 0;
    for (int32_t r = 0; r < n_local_users; r++)
        fp += row_hash(u_lo + r, local_train.col + local_train.row_ptr[r], csr_row_len(&local_train, r),
                       local_valid.col + local_valid.row_ptr[r], csr_row_len(&local_valid, r));
    int64_t fps = (int64_t)fp;
    par_sum_int64(&fps, 1);
    uint64_t h = (uint64_t)fps;
    h = hash64(h, self->users.ids, (size_t)U * sizeof(int64_t));
    h = hash64(h, self->items.ids, (size_t)I * sizeof(int64_t));
    if (util_is_root()) {
        h = hash64(h, self->test.row_ptr, ((size_t)U + 1) * sizeof(int64_t));
        h = hash64(h, self->test.col, (size_t)self->test.nnz * sizeof(int32_t));
    }
    par_bcast(&h, sizeof h, 0);
    self->fingerprint = h;

    if (self->n_test == 0 && test_from_holdout)
        die(EXIT_INPUT, "%s: the test split is empty: no user has enough pairs to hold any out (data.test_fraction = %g)",
            train_label, cfg->data_test_fraction);
    if (self->n_test == 0)
        die(EXIT_INPUT, "%s: no test pair is left after the k-core filter (data.min_user_interactions, "
                        "data.min_item_interactions)",
            cfg->test_path);
    // a test set that shares no user with training is almost certainly the wrong file pair
    int64_t known = 0;
    if (util_is_root())
        for (int32_t u = 0; u < U; u++) known += csr_row_len(&self->test, u) > 0 && self->user_degree[u] > 0;
    par_bcast(&known, sizeof known, 0);
    if (known == 0)
        die(EXIT_INPUT, "%s: no test user appears in the training data %s (wrong file pair or id columns?)",
            cfg->test_path[0] ? cfg->test_path : train_label, train_label);

    // rows of the mode (users, or items) move to the rank that computes them: row r to rank r mod np
    // (cyclic), so rows and pairs are both balanced even when popular rows have neighbouring ids
    self->item_mode = cfg->model_mode == MODE_ITEM;
    self->n_rows = self->item_mode ? I : U;
    self->n_cols = self->item_mode ? U : I;
    self->row_offset = me;
    self->row_stride = np;
    self->n_local_rows = self->n_rows > me ? (self->n_rows - me + np - 1) / np : 0;
    Couples rt = {0}, rv = {0};
    couples_of(&rt, &local_train, u_lo, self->item_mode);
    couples_of(&rv, &local_valid, u_lo, self->item_mode);
    csr_free(&local_train);
    csr_free(&local_valid);
    route(&rt, NULL);
    route(&rv, NULL);
    csr_of(&self->train, &rt, me, np, self->n_local_rows, self->n_cols, NULL);
    csr_of(&self->valid_rows, &rv, me, np, self->n_local_rows, self->n_cols, NULL);
    free(rt.v);
    free(rv.v);
    csr_free(&local_test);
    free(ub);
}

void dataset_free(Dataset *self) {
    csr_free(&self->train);
    csr_free(&self->valid_rows);
    csr_free(&self->test);
    csr_free(&self->valid);
    free(self->users.ids);
    free(self->items.ids);
    free(self->user_degree);
    free(self->item_degree);
    memset(self, 0, sizeof *self);
}

static size_t csr_bytes(const Csr *m) { return ((size_t)m->n_rows + 1) * sizeof(int64_t) + (size_t)m->nnz * sizeof(int32_t); }

size_t dataset_bytes(const Dataset *self) {
    return csr_bytes(&self->train) + csr_bytes(&self->valid_rows) + csr_bytes(&self->test) + csr_bytes(&self->valid) +
           ((size_t)self->users.n + self->items.n) * 2 * sizeof(int64_t);
}

size_t dataset_shard_bytes(const Dataset *self) { return csr_bytes(&self->train) + csr_bytes(&self->valid_rows); }
