// data: per-format line parsers, dense id maps, CSR construction and holdout splits (the dataset built
// from them, with its fingerprint, is shard.c's).
#include "data.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "util.h"

#define MAX_FIELDS 64

// ---- line splitting ---------------------------------------------------------------------------

// Split on runs of spaces/tabs. Returns field count (fields point into line, NUL-terminated).
static int split_ws(char *line, char **f) {
    int n = 0;
    char *save;
    for (char *tok = strtok_r(line, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (n == MAX_FIELDS) return n + 1;
        f[n++] = tok;
    }
    return n;
}

// Split on a separator string (":" "::" "\t"), keeping empty fields.
static int split_sep(char *line, const char *sep, char **f) {
    size_t sl = strlen(sep);
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == MAX_FIELDS) return n + 1;
        f[n++] = p;
        char *q = strstr(p, sep);
        if (!q) break;
        *q = '\0';
        p = q + sl;
    }
    return n;
}

// CSV with RFC 4180 quotes ("a,b" is one field, "" inside quotes is a quote). Returns count or -1
// for an unterminated quote.
static int split_csv(char *line, char sep, char **f) {
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == MAX_FIELDS) return n + 1;
        while (*p == ' ') p++;
        if (*p == '"') {
            char *w = ++p;
            f[n++] = w;
            for (;;) {
                if (!*p) return -1;
                if (*p == '"') {
                    if (p[1] == '"') {
                        *w++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                *w++ = *p++;
            }
            *w = '\0';
            while (*p && *p != sep) p++; // ignore junk after the closing quote
        } else {
            f[n++] = p;
            while (*p && *p != sep) p++;
        }
        if (!*p) break;
        *p++ = '\0';
    }
    return n;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) *--e = '\0';
    return s;
}

// ---- field parsing ----------------------------------------------------------------------------

static void parse_id(const char *path, long line, const char *what, const char *s, int64_t *out) {
    s = trim((char *)s);
    if (!*s) die_local(EXIT_INPUT, "%s:%ld: empty %s id", path, line, what);
    if (*s == '-') die_local(EXIT_INPUT, "%s:%ld: %s id '%s' is negative", path, line, what, s);
    const char *p = s + (*s == '+');
    if (!*p || p[strspn(p, "0123456789")])
        die_local(EXIT_INPUT, "%s:%ld: %s id '%s' is not a non-negative integer", path, line, what, s);
    errno = 0;
    long long v = strtoll(p, NULL, 10);
    if (errno == ERANGE) die_local(EXIT_INPUT, "%s:%ld: %s id '%s' overflows a 64-bit integer", path, line, what, s);
    *out = v;
}

static double parse_rating(const char *path, long line, const char *s) {
    s = trim((char *)s);
    if (!*s) die_local(EXIT_INPUT, "%s:%ld: empty rating", path, line);
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end) die_local(EXIT_INPUT, "%s:%ld: rating '%s' is not a number", path, line, s);
    if (isnan(v)) die_local(EXIT_INPUT, "%s:%ld: rating is NaN", path, line);
    if (isinf(v)) die_local(EXIT_INPUT, "%s:%ld: rating '%s' is infinite", path, line, s);
    return v;
}

void pairs_push(PairList *self, int64_t user, int64_t item) {
    if (self->n == self->cap) {
        self->cap = self->cap ? 2 * self->cap : 4096;
        self->user = xrealloc(self->user, (size_t)self->cap * sizeof *self->user);
        self->item = xrealloc(self->item, (size_t)self->cap * sizeof *self->item);
    }
    self->user[self->n] = user;
    self->item[self->n] = item;
    self->n++;
}

void pairs_free(PairList *self) {
    free(self->user);
    free(self->item);
    memset(self, 0, sizeof *self);
}

ReadOptions read_options_from_config(const Config *cfg) {
    ReadOptions o = {cfg->data_format, cfg->data_delimiter[0], cfg->data_header, cfg->data_user_col,
                     cfg->data_item_col, cfg->data_rating_col, cfg->data_min_rating};
    if (o.format == FORMAT_TSV) o.delimiter = '\t';
    return o;
}

static const char *format_hint(int format) {
    switch (format) {
    case FORMAT_CFGAN: return "cfgan format is `user item [rating]`, separated by spaces or tabs";
    case FORMAT_ML100K: return "ml100k format is user<TAB>item<TAB>rating<TAB>timestamp";
    case FORMAT_ML1M: return "ml1m format is UserID::MovieID::Rating[::Timestamp]";
    default: return "check data.delimiter and data.*_col";
    }
}

void data_read_pairs_part(const char *path, const ReadOptions *opt, int part, int n_parts, PairList *out,
                          ReadStats *stats) {
    LineReader *lr = line_reader_open(path);
    char *f[MAX_FIELDS];
    int first_nf = -1; // fields of the first data line: every part finds it, so ragged lines are caught anywhere
    long first_line = 0;
    int skip_header = (opt->format == FORMAT_CSV || opt->format == FORMAT_TSV) && opt->header;
    int user_col = 0, item_col = 1, rating_col = 2;
    if (opt->format == FORMAT_CSV || opt->format == FORMAT_TSV)
        user_col = opt->user_col, item_col = opt->item_col, rating_col = opt->rating_col;
    int need = user_col > item_col ? user_col : item_col;
    if (rating_col > need) need = rating_col;
    need++;
    memset(stats, 0, sizeof *stats);
    while (line_reader_next(lr) >= 0) {
        int mine = (lr->line_no - 1) % n_parts == part;
        if (!mine && first_nf >= 0) continue; // another part parses this line
        char *s = trim(lr->line);
        if (!*s || *s == '#') continue;
        if (skip_header) {
            skip_header = 0;
            continue;
        }
        int nf;
        switch (opt->format) {
        case FORMAT_ML100K: nf = split_sep(s, "\t", f); break;
        case FORMAT_ML1M: nf = split_sep(s, "::", f); break;
        case FORMAT_CSV: nf = split_csv(s, opt->delimiter, f); break;
        case FORMAT_TSV: nf = split_sep(s, "\t", f); break;
        default: nf = split_ws(s, f); break;
        }
        if (first_nf < 0 && !mine) { // only learn the reference field count from this line
            first_nf = nf, first_line = lr->line_no;
            continue;
        }
        if (nf < 0) die_local(EXIT_INPUT, "%s:%ld: unterminated quoted field", path, lr->line_no);
        if (nf > MAX_FIELDS) die_local(EXIT_INPUT, "%s:%ld: more than %d fields", path, lr->line_no, MAX_FIELDS);
        int has_rating = 1;
        if (opt->format == FORMAT_CFGAN || opt->format == FORMAT_ML1M) {
            if (nf < 2)
                die_local(EXIT_INPUT, "%s:%ld: missing fields: found %d, %s", path, lr->line_no, nf, format_hint(opt->format));
            if (nf > 4) die_local(EXIT_INPUT, "%s:%ld: %d fields, %s", path, lr->line_no, nf, format_hint(opt->format));
            has_rating = nf >= 3;
        } else if (opt->format == FORMAT_ML100K) {
            if (nf < 3 || nf > 4)
                die_local(EXIT_INPUT, "%s:%ld: found %d fields, %s", path, lr->line_no, nf, format_hint(opt->format));
        } else {
            if (nf < need)
                die_local(EXIT_INPUT, "%s:%ld: missing fields: found %d, need at least %d (%s)", path, lr->line_no, nf,
                          need, format_hint(opt->format));
            has_rating = rating_col >= 0;
        }
        if (first_nf < 0) first_nf = nf, first_line = lr->line_no;
        else if (nf != first_nf)
            die_local(EXIT_INPUT, "%s:%ld: ragged line: %d fields where line %ld has %d", path, lr->line_no, nf, first_line,
                      first_nf);
        int64_t u, i;
        parse_id(path, lr->line_no, "user", f[user_col], &u);
        parse_id(path, lr->line_no, "item", f[item_col], &i);
        double r = has_rating ? parse_rating(path, lr->line_no, f[rating_col]) : 1.0;
        stats->lines++;
        if (opt->min_rating != 0 && r < opt->min_rating) {
            stats->below_threshold++;
            continue;
        }
        pairs_push(out, u, i);
    }
    stats->file_lines = lr->line_no;
    line_reader_close(lr);
}

void data_read_pairs(const char *path, const ReadOptions *opt, PairList *out, ReadStats *stats) {
    data_read_pairs_part(path, opt, 0, 1, out, stats);
    if (stats->lines == 0)
        die(EXIT_INPUT, "%s:%ld: no data lines (the file is empty or holds only blank lines and comments)", path,
            stats->file_lines > 0 ? stats->file_lines : 1);
}

// ---- CSR --------------------------------------------------------------------------------------

static int cmp_i32(const void *x, const void *y) {
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    return (a > b) - (a < b);
}

void csr_from_pairs(Csr *out, int32_t n_rows, int32_t n_cols, const int32_t *rows, const int32_t *cols, int64_t n,
                    int64_t *n_dupes) {
    out->n_rows = n_rows;
    out->n_cols = n_cols;
    out->row_ptr = xcalloc((size_t)n_rows + 1, sizeof *out->row_ptr);
    for (int64_t k = 0; k < n; k++) out->row_ptr[rows[k] + 1]++;
    for (int32_t r = 0; r < n_rows; r++) out->row_ptr[r + 1] += out->row_ptr[r];
    int64_t *fill = xmalloc((size_t)n_rows * sizeof *fill);
    memcpy(fill, out->row_ptr, (size_t)n_rows * sizeof *fill);
    int32_t *col = xmalloc((size_t)(n ? n : 1) * sizeof *col);
    for (int64_t k = 0; k < n; k++) col[fill[rows[k]]++] = cols[k];
    free(fill);
    // sort each row, then drop repeated columns
    int64_t w = 0, dupes = 0;
    for (int32_t r = 0; r < n_rows; r++) {
        int32_t *c = col + out->row_ptr[r];
        int64_t len = out->row_ptr[r + 1] - out->row_ptr[r];
        qsort(c, (size_t)len, sizeof *c, cmp_i32);
        out->row_ptr[r] = w;
        for (int64_t i = 0; i < len; i++) {
            if (i > 0 && c[i] == c[i - 1]) {
                dupes++;
                continue;
            }
            col[w++] = c[i];
        }
    }
    out->row_ptr[n_rows] = w;
    out->nnz = w;
    out->col = xrealloc(col, (size_t)(w ? w : 1) * sizeof *col);
    if (n_dupes) *n_dupes = dupes;
}

void csr_union(Csr *out, const Csr *a, const Csr *b) {
    out->n_rows = a->n_rows;
    out->n_cols = a->n_cols;
    out->row_ptr = xcalloc((size_t)a->n_rows + 1, sizeof *out->row_ptr);
    out->col = xmalloc((size_t)(a->nnz + b->nnz + 1) * sizeof *out->col);
    int64_t w = 0;
    for (int32_t r = 0; r < a->n_rows; r++) {
        int64_t i = a->row_ptr[r], ie = a->row_ptr[r + 1], j = b->row_ptr[r], je = b->row_ptr[r + 1];
        while (i < ie || j < je) { // merge two sorted rows
            int32_t v;
            if (j >= je || (i < ie && a->col[i] < b->col[j])) v = a->col[i++];
            else if (i >= ie || b->col[j] < a->col[i]) v = b->col[j++];
            else v = a->col[i++], j++;
            out->col[w++] = v;
        }
        out->row_ptr[r + 1] = w;
    }
    out->nnz = w;
}

void csr_holdout(const Csr *in, int32_t row_offset, double frac, uint64_t seed, uint32_t which, Csr *kept, Csr *held) {
    int32_t n = in->n_rows;
    kept->n_rows = held->n_rows = n;
    kept->n_cols = held->n_cols = in->n_cols;
    kept->row_ptr = xcalloc((size_t)n + 1, sizeof(int64_t));
    held->row_ptr = xcalloc((size_t)n + 1, sizeof(int64_t));
    kept->col = xmalloc((size_t)(in->nnz ? in->nnz : 1) * sizeof(int32_t));
    held->col = xmalloc((size_t)(in->nnz ? in->nnz : 1) * sizeof(int32_t));
    int32_t max_len = 0;
    for (int32_t r = 0; r < n; r++)
        if (csr_row_len(in, r) > max_len) max_len = csr_row_len(in, r);
    int32_t *perm = xmalloc((size_t)(max_len ? max_len : 1) * sizeof *perm);
    char *take = xmalloc((size_t)(max_len ? max_len : 1));
    int64_t wk = 0, wh = 0;
    for (int32_t r = 0; r < n; r++) {
        int32_t len = csr_row_len(in, r);
        int32_t h = (int32_t)floor(frac * len + 0.5);
        if (h > len - 1) h = len - 1; // every row keeps at least one pair
        if (h < 0) h = 0;
        memset(take, 0, (size_t)len);
        if (h > 0) {
            Rng rng;
            rng_init(&rng, seed, RNG_SPLIT, which, (uint32_t)(row_offset + r));
            for (int32_t i = 0; i < len; i++) perm[i] = i;
            // partial Fisher-Yates: the first h positions are a uniform h-subset
            for (int32_t i = 0; i < h; i++) {
                int32_t j = i + (int32_t)rng_below(&rng, (uint32_t)(len - i));
                int32_t t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
                take[perm[i]] = 1;
            }
        }
        const int32_t *c = in->col + in->row_ptr[r];
        for (int32_t i = 0; i < len; i++) {
            if (take[i]) held->col[wh++] = c[i];
            else kept->col[wk++] = c[i];
        }
        kept->row_ptr[r + 1] = wk;
        held->row_ptr[r + 1] = wh;
    }
    kept->nnz = wk;
    held->nnz = wh;
    free(perm);
    free(take);
}

void csr_free(Csr *self) {
    free(self->row_ptr);
    free(self->col);
    memset(self, 0, sizeof *self);
}

// ---- id maps ----------------------------------------------------------------------------------

int32_t idmap_find(const IdMap *self, int64_t id) {
    int32_t lo = 0, hi = self->n;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (self->ids[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < self->n && self->ids[lo] == id ? lo : -1;
}

