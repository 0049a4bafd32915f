// config: one key table drives the YAML reader, `--set`, `--help` and the resolved-config echo.
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "util.h"

typedef enum { T_INT, T_INT64, T_FLOAT, T_BOOL, T_STR, T_ENUM, T_INT_LIST, T_FLOAT_LIST } KeyType;

enum {
    F_RUNTIME = 1,    // key does not change the results (left out of config_hash): a resume may change it
    F_HASH_IF_SET = 2 // changes the results' bits: hashed, except at its default (the checkpoints of
                      // versions that did not have the key still resume)
};

typedef struct {
    const char *name;    // "section.key"
    KeyType type;
    size_t off;          // offsetof(Config, field)
    size_t count_off;    // lists: offsetof(Config, n_field)
    size_t size;         // strings: capacity of the field
    const char *def;     // default, written as it would be in YAML
    double min, max;     // numeric range (each element of a list)
    const char *choices; // enums: "a|b|c", index = enum value
    int flags;
    const char *doc;
} Key;

#define OFF(f) offsetof(Config, f)
#define SZ(f) sizeof(((Config *)0)->f)
#define BIG 1e18

static const Key KEYS[] = {
    {"data.format", T_ENUM, OFF(data_format), 0, 0, "cfgan", 0, 0, "cfgan|ml100k|ml1m|csv|tsv|synthetic", 0,
     "file format: cfgan `user item rating` (whitespace), ml100k u.data (tab), ml1m `::`, csv/tsv "
     "(see data.*_col), or synthetic (generated in memory, no file)"},
    {"data.train", T_STR, OFF(data_train), 0, SZ(data_train), "", 0, 0, NULL, 0,
     "training pairs, or the only file (then data.test_fraction is held out); relative to the data root"},
    {"data.test", T_STR, OFF(data_test), 0, SZ(data_test), "", 0, 0, NULL, 0,
     "test pairs, same format; empty: per-user holdout of data.test_fraction from data.train"},
    {"data.titles", T_STR, OFF(data_titles), 0, SZ(data_titles), "", 0, 0, NULL, F_RUNTIME,
     "optional item titles for `recommend`: MovieLens u.item or movies.dat"},
    {"data.test_fraction", T_FLOAT, OFF(data_test_fraction), 0, 0, "0.2", 0.01, 0.9, NULL, 0,
     "fraction of each user's pairs held out for test when data.test is empty"},
    {"data.validation", T_FLOAT, OFF(data_validation), 0, 0, "0", 0, 0.9, NULL, 0,
     "fraction of each user's training pairs held out for validation; > 0 selects the honest protocol"},
    {"data.seed", T_INT64, OFF(data_seed), 0, 0, "12345", 0, BIG, NULL, 0, "seed of the holdout splits"},
    {"data.min_rating", T_FLOAT, OFF(data_min_rating), 0, 0, "0", -BIG, BIG, NULL, 0,
     "keep pairs rated >= this as positives; 0 keeps every observed pair"},
    {"data.min_user_interactions", T_INT, OFF(min_user_interactions), 0, 0, "0", 0, 1e9, NULL, 0,
     "k-core filter: repeatedly drop users with fewer training pairs (0 = off)"},
    {"data.min_item_interactions", T_INT, OFF(min_item_interactions), 0, 0, "0", 0, 1e9, NULL, 0,
     "k-core filter: repeatedly drop items with fewer training pairs (0 = off)"},
    {"data.delimiter", T_STR, OFF(data_delimiter), 0, SZ(data_delimiter), ",", 0, 0, NULL, 0,
     "csv field separator (one character); tsv always uses tab"},
    {"data.header", T_BOOL, OFF(data_header), 0, 0, "false", 0, 0, NULL, 0, "csv/tsv: skip the first line"},
    {"data.user_col", T_INT, OFF(data_user_col), 0, 0, "0", 0, 1000, NULL, 0, "csv/tsv: 0-based user column"},
    {"data.item_col", T_INT, OFF(data_item_col), 0, 0, "1", 0, 1000, NULL, 0, "csv/tsv: 0-based item column"},
    {"data.rating_col", T_INT, OFF(data_rating_col), 0, 0, "2", -1, 1000, NULL, 0,
     "csv/tsv: 0-based rating column, -1 if there is none"},
    {"data.synthetic.users", T_INT64, OFF(synth_users), 0, 0, "2000", 2, 2e9, NULL, 0, "synthetic: users"},
    {"data.synthetic.items", T_INT64, OFF(synth_items), 0, 0, "500", 2, 2e9, NULL, 0, "synthetic: items"},
    {"data.synthetic.interactions", T_INT64, OFF(synth_interactions), 0, 0, "60000", 1, BIG, NULL, 0,
     "synthetic: total user-item pairs (before the split)"},
    {"data.synthetic.seed", T_INT64, OFF(synth_seed), 0, 0, "7", 0, BIG, NULL, 0, "synthetic: generator seed"},
    {"data.synthetic.topics", T_INT, OFF(synth_topics), 0, 0, "10", 1, 100000, NULL, 0,
     "synthetic: latent taste clusters (what a recommender can learn)"},

    {"model.mode", T_ENUM, OFF(model_mode), 0, 0, "item", 0, 0, "user|item", 0,
     "rows are users (a user's item vector) or items (an item's user vector)"},
    {"model.scheme", T_ENUM, OFF(model_scheme), 0, 0, "ZP", 0, 0, "ZR|PM|ZP", 0,
     "negative sampling: zero-reconstruction, partial masking, or both"},
    {"model.g_hidden", T_INT_LIST, OFF(g_hidden), OFF(n_g_hidden), 0, "[400]", 1, 100000, NULL, 0,
     "generator hidden layer widths, e.g. [400] (one layer of 400)"},
    {"model.d_hidden", T_INT_LIST, OFF(d_hidden), OFF(n_d_hidden), 0, "[125]", 1, 100000, NULL, 0,
     "discriminator hidden layer widths, e.g. [50, 50, 50, 50]"},
    {"model.activation", T_ENUM, OFF(model_activation), 0, 0, "sigmoid", 0, 0, "sigmoid|tanh|relu", 0,
     "hidden activation of both networks (reference: sigmoid)"},
    {"model.g_output", T_ENUM, OFF(model_g_output), 0, 0, "linear", 0, 0, "linear|sigmoid", 0,
     "generator output activation (reference: linear)"},
    {"model.zr_ratio", T_FLOAT, OFF(zr_ratio), 0, 0, "0.7", 0, 1, NULL, 0,
     "ZR: fraction of a row's unobserved columns drawn as zero-reconstruction negatives"},
    {"model.pm_ratio", T_FLOAT, OFF(pm_ratio), 0, 0, "0.7", 0, 1, NULL, 0,
     "PM: fraction of a row's unobserved columns unmasked in the fake sample"},
    {"model.zr_coef", T_FLOAT, OFF(zr_coef), 0, 0, "0.03", 0, 1e6, NULL, 0, "ZR: weight of the reconstruction penalty"},
    {"model.adversarial", T_BOOL, OFF(adversarial), 0, 0, "true", 0, 0, NULL, F_HASH_IF_SET,
     "true: CFGAN; false: the ablation without D: G learns a masked reconstruction (observed columns towards 1, "
     "the ZR negatives towards 0 with zr_coef), D is never trained"},

    {"train.epochs", T_INT, OFF(epochs), 0, 0, "1000", 1, 1e8, NULL, 0,
     "generator passes over all rows; outer iterations = epochs / g_steps"},
    {"train.seed", T_INT64, OFF(seed), 0, 0, "1", 0, BIG, NULL, 0,
     "seed of initialisation, negative sets and batch order (runs repeat bit for bit)"},
    {"train.g_steps", T_INT, OFF(g_steps), 0, 0, "4", 1, 10000, NULL, 0, "generator passes per outer iteration"},
    {"train.d_steps", T_INT, OFF(d_steps), 0, 0, "2", 1, 10000, NULL, 0, "discriminator passes per outer iteration"},
    {"train.g_batch", T_INT, OFF(g_batch), 0, 0, "32", 1, 1e7, NULL, 0, "rows per generator mini-batch"},
    {"train.d_batch", T_INT, OFF(d_batch), 0, 0, "64", 1, 1e7, NULL, 0, "rows per discriminator mini-batch"},
    {"train.batch_strata", T_INT, OFF(batch_strata), 0, 0, "1", 1, 1024, NULL, F_HASH_IF_SET,
     "batch order: 1 = one uniform shuffle of the rows per pass (the reference); P > 1 = rows shuffled within "
     "the P classes of row id mod P and batches filled from the classes in turn, so every batch splits "
     "evenly over np ranks whenever np divides P (24: np = 1, 2, 3, 4, 6, 8, 12, 24); needs >= 4 rows per class"},
    {"train.g_lr", T_FLOAT, OFF(g_lr), 0, 0, "1e-4", 0, 100, NULL, 0, "generator learning rate"},
    {"train.d_lr", T_FLOAT, OFF(d_lr), 0, 0, "1e-4", 0, 100, NULL, 0, "discriminator learning rate"},
    {"train.g_reg", T_FLOAT, OFF(g_reg), 0, 0, "1e-3", 0, 1e6, NULL, 0, "generator L2 weight (sum of squares / 2)"},
    {"train.d_reg", T_FLOAT, OFF(d_reg), 0, 0, "0", 0, 1e6, NULL, 0, "discriminator L2 weight"},
    {"train.beta1", T_FLOAT, OFF(beta1), 0, 0, "0.9", 0, 0.999999, NULL, 0, "Adam beta1"},
    {"train.beta2", T_FLOAT, OFF(beta2), 0, 0, "0.999", 0, 0.999999999, NULL, 0, "Adam beta2"},
    {"train.eps", T_FLOAT, OFF(adam_eps), 0, 0, "1e-8", 1e-30, 1, NULL, 0, "Adam epsilon"},

    {"eval.topk", T_INT_LIST, OFF(topk), OFF(n_topk), 0, "[5, 10, 20]", 1, 10000, NULL, F_RUNTIME,
     "cutoffs K of P@K, R@K, NDCG@K, MRR@K"},
    {"eval.every", T_INT, OFF(eval_every), 0, 0, "1", 1, 1e8, NULL, F_RUNTIME, "epochs between evaluations"},
    {"eval.select", T_STR, OFF(eval_select), 0, SZ(eval_select), "NDCG@20", 0, 0, NULL, 0,
     "honest protocol: validation metric that picks the epoch (P|R|NDCG|MRR @ one of eval.topk)"},
    {"eval.patience", T_INT, OFF(eval_patience), 0, 0, "0", 0, 1e8, NULL, 0,
     "honest protocol: stop after this many evaluations without improvement; 0 = never"},

    {"checkpoint.every", T_INT, OFF(ckpt_every), 0, 0, "50", 0, 1e8, NULL, F_RUNTIME,
     "epochs between checkpoints; 0 = only at the end"},
    {"checkpoint.keep", T_INT, OFF(ckpt_keep), 0, 0, "3", 1, 1000, NULL, F_RUNTIME, "newest checkpoints kept"},

    {"baselines.ease.lambda", T_FLOAT_LIST, OFF(ease_lambda), OFF(n_ease_lambda), 0, "[300]", 0, 1e12, NULL, 0,
     "EASE^R L2 weight; a list is a grid tuned on validation"},
    {"baselines.itemknn.k", T_INT_LIST, OFF(knn_k), OFF(n_knn_k), 0, "[200]", 1, 1e8, NULL, 0,
     "ItemKNN neighbours; a list is a grid"},
    {"baselines.itemknn.shrink", T_FLOAT_LIST, OFF(knn_shrink), OFF(n_knn_shrink), 0, "[10]", 0, 1e12, NULL, 0,
     "ItemKNN cosine shrink term; a list is a grid"},

    {"run.cache_mb", T_INT, OFF(cache_mb), 0, 0, "1024", 0, 1e7, NULL, F_HASH_IF_SET,
     "memory per rank for keeping each row's negative sets through an outer iteration and G's outputs through a "
     "D phase (0 = recompute them; the same negatives, G's outputs may differ in the last bits)"},
};
#define N_KEYS ((int)(sizeof KEYS / sizeof KEYS[0]))

static const char *const TYPE_NAMES[] = {"integer", "integer", "number", "boolean", "string", "choice", "integer list",
                                         "number list"}; // indexed by KeyType

static int is_list(const Key *k) { return k->type == T_INT_LIST || k->type == T_FLOAT_LIST; }

static int find_key(const char *name) {
    for (int i = 0; i < N_KEYS; i++)
        if (strcmp(KEYS[i].name, name) == 0) return i;
    return -1;
}

// True if `prefix.` starts some key (so `prefix` is a section).
static int is_section(const char *prefix) {
    size_t n = strlen(prefix);
    for (int i = 0; i < N_KEYS; i++)
        if (strncmp(KEYS[i].name, prefix, n) == 0 && KEYS[i].name[n] == '.') return 1;
    return 0;
}

// " (did you mean 'x'?)" for the closest key name, or "".
static const char *suggest(const char *name, char *buf, size_t n) {
    int best = 99, bi = -1;
    for (int i = 0; i < N_KEYS; i++) {
        int d = edit_distance(name, KEYS[i].name);
        const char *dot = strrchr(KEYS[i].name, '.');
        int d2 = dot ? edit_distance(name, dot + 1) + 1 : 99; // bare key without its section
        if (d2 < d) d = d2;
        if (d < best) best = d, bi = i;
    }
    if (bi >= 0 && best <= 3) snprintf(buf, n, " (did you mean '%s'?)", KEYS[bi].name);
    else buf[0] = '\0';
    return buf;
}

// ---- scalar parsing ---------------------------------------------------------------------------

// The whole of s as an integer or a finite number; 0 if it is anything else.
static int parse_int64(const char *s, int64_t *out) {
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE || *end != '\0' || end == s) return 0;
    *out = v;
    return 1;
}

static int parse_double(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (*end != '\0' || end == s || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

static void fmt_range(const Key *k, char *buf, size_t n) {
    if (k->type == T_FLOAT || k->type == T_FLOAT_LIST) snprintf(buf, n, "[%.10g, %.10g]", k->min, k->max);
    else snprintf(buf, n, "[%.0f, %.0f]", k->min, k->max);
}

// What k accepts: its choices separated by sep, or its numeric range; "" for strings and booleans.
static const char *accepted(const Key *k, char sep, char *buf, size_t n) {
    buf[0] = '\0';
    if (k->type == T_ENUM) {
        snprintf(buf, n, "%s", k->choices);
        for (char *p = buf; *p; p++)
            if (*p == '|') *p = sep;
    } else if (k->type != T_STR && k->type != T_BOOL) {
        fmt_range(k, buf, n);
    }
    return buf;
}

// Parse text as one element of key k into the field (list element `idx`); quoted: YAML style. A bad
// value ends the run with a message that starts with `at`, where the value came from.
static void parse_scalar(Config *self, const Key *k, const char *text, int quoted, int idx, const char *at) {
    char *base = (char *)self + k->off, range[96];
    if (idx == CFG_LIST_MAX) die(EXIT_INPUT, "%s'%s' has more than %d values", at, k->name, CFG_LIST_MAX);
    fmt_range(k, range, sizeof range);
    const char *how = quoted ? "the quoted string " : "";
    switch (k->type) {
    case T_INT: case T_INT64: case T_INT_LIST: {
        int64_t v;
        if (quoted || !parse_int64(text, &v))
            die(EXIT_INPUT, "%s'%s' expects an integer, got %s'%s'", at, k->name, how, text);
        if ((double)v < k->min || (double)v > k->max)
            die(EXIT_INPUT, "%s'%s' = %lld is out of range %s", at, k->name, (long long)v, range);
        if (k->type == T_INT64) *(int64_t *)base = v;
        else ((int *)base)[idx] = (int)v;
        return;
    }
    case T_FLOAT: case T_FLOAT_LIST: {
        double v;
        if (quoted || !parse_double(text, &v))
            die(EXIT_INPUT, "%s'%s' expects a finite number, got %s'%s'", at, k->name, how, text);
        if (v < k->min || v > k->max) die(EXIT_INPUT, "%s'%s' = %g is out of range %s", at, k->name, v, range);
        ((double *)base)[idx] = v;
        return;
    }
    case T_BOOL: {
        static const char *words[] = {"true", "yes", "on", "false", "no", "off"}; // the first three mean true
        for (int i = 0; i < 6 && !quoted; i++) {
            if (strcasecmp(text, words[i]) != 0) continue;
            *(int *)base = i < 3;
            return;
        }
        die(EXIT_INPUT, "%s'%s' expects true or false, got '%s'", at, k->name, text);
    }
    case T_STR:
        if (strlen(text) >= k->size)
            die(EXIT_INPUT, "%s'%s' is too long (at most %zu characters)", at, k->name, k->size - 1);
        strcpy(base, text);
        return;
    case T_ENUM: {
        const char *c = k->choices;
        for (int i = 0; *c; i++) {
            size_t n = strcspn(c, "|");
            if (strlen(text) == n && strncasecmp(text, c, n) == 0) {
                *(int *)base = i;
                return;
            }
            c += n + (c[n] == '|');
        }
        char choices[128];
        accepted(k, ',', choices, sizeof choices);
        die(EXIT_INPUT, "%s'%s' must be one of %s, got '%s'", at, k->name, choices, text);
    }
    }
}

static int *list_count(Config *self, const Key *k) { return (int *)((char *)self + k->count_off); }

// ---- defaults ---------------------------------------------------------------------------------

// s without leading and trailing white space (cut in place).
static char *trim_space(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    return s;
}

// Parse a value written in --set/default syntax: lists as "[a, b]" or "a,b", scalars plain.
static void parse_text_value(Config *self, const Key *k, const char *text, const char *at) {
    if (!is_list(k)) return parse_scalar(self, k, text, 0, 0, at);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    char *s = trim_space(buf);
    size_t L = strlen(s);
    if (*s == '[') {
        if (L < 2 || s[L - 1] != ']') die(EXIT_INPUT, "%s'%s': unterminated list '%s'", at, k->name, text);
        s[L - 1] = '\0';
        s++;
    }
    int n = 0;
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) parse_scalar(self, k, trim_space(tok), 0, n++, at);
    if (n == 0) die(EXIT_INPUT, "%s'%s' needs at least one value", at, k->name);
    *list_count(self, k) = n;
}

void config_init(Config *self) {
    memset(self, 0, sizeof *self);
    self->origin = xcalloc(N_KEYS, sizeof *self->origin);
    for (int i = 0; i < N_KEYS; i++) {
        parse_text_value(self, &KEYS[i], KEYS[i].def, "internal: bad default: ");
        self->origin[i] = (ConfigOrigin){"(default)", 0, 0};
    }
}

void config_free(Config *self) {
    free(self->origin);
    free(self->origin_file);
    self->origin = NULL;
    self->origin_file = NULL;
}

// ---- YAML -------------------------------------------------------------------------------------

typedef struct {
    Config *cfg;
    const char *path;
    yaml_document_t *doc;
    char set_in_file[N_KEYS]; // per key: already set by this file
} Loader;

// "PATH:LINE:COL: " of the YAML position m: how messages about it start.
static const char *position(char *buf, size_t n, const char *path, yaml_mark_t m) {
    snprintf(buf, n, "%s:%zu:%zu: ", path, m.line + 1, m.column + 1);
    return buf;
}

// End with "PATH:LINE:COL: message".
static noreturn void die_at(const char *path, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static noreturn void die_at(const char *path, yaml_mark_t m, const char *fmt, ...) {
    char msg[1024], at[4200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    die(EXIT_INPUT, "%s%s", position(at, sizeof at, path, m), msg);
}

static void load_value(Loader *L, int ki, yaml_node_t *node) {
    const Key *k = &KEYS[ki];
    char at[4200]; // "PATH:LINE:COL: "
    if (L->set_in_file[ki])
        die_at(L->path, node->start_mark, "duplicate key '%s' (already set at line %d)", k->name,
               L->cfg->origin[ki].line);
    if (node->type == YAML_MAPPING_NODE)
        die_at(L->path, node->start_mark, "'%s' expects a %s, found a mapping", k->name, TYPE_NAMES[k->type]);
    if (node->type == YAML_SEQUENCE_NODE) {
        if (!is_list(k))
            die_at(L->path, node->start_mark, "'%s' expects a %s, found a list", k->name, TYPE_NAMES[k->type]);
        int n = 0;
        for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
            yaml_node_t *el = yaml_document_get_node(L->doc, *it);
            if (el->type != YAML_SCALAR_NODE)
                die_at(L->path, el->start_mark, "'%s' expects a list of numbers, found a nested structure", k->name);
            const int quoted = el->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
            position(at, sizeof at, L->path, el->start_mark);
            parse_scalar(L->cfg, k, (const char *)el->data.scalar.value, quoted, n++, at);
        }
        if (n == 0) die_at(L->path, node->start_mark, "'%s' needs at least one value", k->name);
        *list_count(L->cfg, k) = n;
    } else { // scalar
        const char *text = (const char *)node->data.scalar.value;
        int plain = node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (plain && (text[0] == '\0' || strcmp(text, "~") == 0 || strcmp(text, "null") == 0)) {
            if (k->type != T_STR)
                die_at(L->path, node->start_mark, "'%s' has no value (expects a %s)", k->name, TYPE_NAMES[k->type]);
            text = "";
        }
        parse_scalar(L->cfg, k, text, !plain, 0, position(at, sizeof at, L->path, node->start_mark));
        if (is_list(k)) *list_count(L->cfg, k) = 1; // a single scalar is a list of one
    }
    L->set_in_file[ki] = 1;
    L->cfg->origin[ki] = (ConfigOrigin){L->path, (int)node->start_mark.line + 1, (int)node->start_mark.column + 1};
}

// Keys of earlier versions, which the configs echoed into their run directories: reading those
// config.yaml files must keep working (`cfgan data-info`, `train` on them), so they are accepted with
// a warning, but only at a value that meant what 0.2 does (NULL: any value; they chose how, not what,
// was computed). 0.1's checkpoints themselves are format 1, which ckpt.c refuses.
static const struct {
    const char *name, *value;
} RETIRED[] = {{"train.optimizer", "adam"},      {"run.fail_at_step", "0"},  {"run.check_every", "0"},
               {"eval.block", NULL},             {"run.exchange", NULL},     {"run.shard_optimizer", NULL},
               {"run.node_shared", NULL},        {"run.split_hidden", NULL}, {"run.negative_cache_mb", NULL},
               {"run.g_cache_mb", NULL}};

// 1 when name is a retired key: at an accepted value it is ignored with a warning; at another the
// load stops there.
static int retired(const Loader *L, const char *name, yaml_node_t *key, yaml_node_t *value) {
    for (size_t i = 0; i < sizeof RETIRED / sizeof RETIRED[0]; i++) {
        if (strcmp(name, RETIRED[i].name) != 0) continue;
        const char *v = value->type == YAML_SCALAR_NODE ? (const char *)value->data.scalar.value : "";
        if (RETIRED[i].value && strcmp(v, RETIRED[i].value) != 0)
            die_at(L->path, key->start_mark, "'%s' is no longer a key (cfgan 0.2): only %s remains%s", name,
                   RETIRED[i].value, strncmp(name, "run.", 4) == 0 ? "; debug hooks are CFGAN_DEBUG_* variables" : "");
        warn("%s:%zu: '%s' is no longer a key (cfgan 0.2 decides it): ignored", L->path, key->start_mark.line + 1, name);
        return 1;
    }
    return 0;
}

static void load_mapping(Loader *L, yaml_node_t *map, const char *prefix) {
    char name[256];
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(L->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(L->doc, p->value);
        if (kn->type != YAML_SCALAR_NODE) die_at(L->path, kn->start_mark, "keys must be plain names");
        const char *key = (const char *)kn->data.scalar.value;
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) { // duplicate in this mapping
            yaml_node_t *qk = yaml_document_get_node(L->doc, q->key);
            if (qk->type == YAML_SCALAR_NODE && strcmp((const char *)qk->data.scalar.value, key) == 0)
                die_at(L->path, kn->start_mark, "duplicate key '%s%s%s' (first at line %zu)", prefix,
                       *prefix ? "." : "", key, qk->start_mark.line + 1);
        }
        snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", key);
        int ki = find_key(name);
        if (ki >= 0) {
            load_value(L, ki, vn);
        } else if (is_section(name)) {
            if (vn->type == YAML_SCALAR_NODE && vn->data.scalar.length == 0) continue; // empty section
            if (vn->type != YAML_MAPPING_NODE)
                die_at(L->path, vn->start_mark, "'%s' is a section: expected a mapping of its keys", name);
            load_mapping(L, vn, name);
        } else if (!retired(L, name, kn, vn)) {
            char hint[128];
            die_at(L->path, kn->start_mark, "unknown key '%s'%s", name, suggest(name, hint, sizeof hint));
        }
    }
}

// libyaml state of the load in progress. A load that ends in die() never returns (the program
// exits); where die() is caught instead (the fuzz tests), the next load frees what was left.
static struct {
    yaml_parser_t parser;
    yaml_document_t doc[2]; // the config, and whatever follows it (must be nothing)
    int parser_live, n_docs;
    FILE *fp; // the input, unless it is text in memory
} g_load;

static void release_load(void) {
    while (g_load.n_docs > 0) yaml_document_delete(&g_load.doc[--g_load.n_docs]);
    if (g_load.parser_live) yaml_parser_delete(&g_load.parser);
    memset(&g_load, 0, sizeof g_load);
}

// The next YAML document of the load, or the end with libyaml's complaint.
static yaml_document_t *next_document(const char *path) {
    yaml_parser_t *p = &g_load.parser;
    if (yaml_parser_load(p, &g_load.doc[g_load.n_docs])) return &g_load.doc[g_load.n_docs++];
    const char *what = p->problem ? p->problem : "YAML syntax error";
    if (g_load.fp && ferror(g_load.fp)) die(EXIT_INPUT, "%s: read error: %s", path, strerror(errno));
    if (p->error == YAML_READER_ERROR) // bytes that are not text: no line to point at
        die_at(path, (yaml_mark_t){0, 0, 0}, "not a text file: %s", what);
    const char *context = p->context ? p->context : "";
    die_at(path, p->problem_mark, "YAML syntax error: %s%s%s", what, *context ? " " : "", context);
}

// Read YAML from fp, or else from text[0..n), over the current values.
static void load_yaml(Config *self, const char *path, FILE *fp, const char *text, size_t n) {
    release_load();
    snprintf(self->path, sizeof self->path, "%s", path);
    if (!yaml_parser_initialize(&g_load.parser)) die(EXIT_RUNTIME, "%s: cannot initialise the YAML parser", path);
    g_load.parser_live = 1;
    g_load.fp = fp;
    if (fp) yaml_parser_set_input_file(&g_load.parser, fp);
    else yaml_parser_set_input_string(&g_load.parser, (const unsigned char *)text, n);
    Loader L = {self, path, next_document(path), {0}};
    yaml_node_t *root = yaml_document_get_root_node(L.doc);
    const int empty = !root || (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0); // defaults only
    if (!empty && root->type != YAML_MAPPING_NODE)
        die_at(path, root->start_mark, "expected a mapping of sections (data:, model:, train:, ...)");
    if (!empty) load_mapping(&L, root, "");
    // a second document in the same file is almost certainly a mistake
    yaml_node_t *second = yaml_document_get_root_node(next_document(path));
    if (second) die_at(path, second->start_mark, "more than one YAML document (remove the '---' separator)");
    // origins point into `path`, which must outlive the config: keep a copy
    free(self->origin_file);
    self->origin_file = xstrdup(path);
    for (int i = 0; i < N_KEYS; i++)
        if (L.set_in_file[i]) self->origin[i].file = self->origin_file;
    release_load();
}

void config_load_text(Config *self, const char *text, size_t n, const char *path) {
    load_yaml(self, path, NULL, text, n);
}

void config_load_file(Config *self, const char *path) {
    FILE *fp = xfopen_input(path);
    load_yaml(self, path, fp, NULL, 0);
    fclose(fp);
}

void config_apply_set(Config *self, const char *assignment) {
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) die(EXIT_INPUT, "--set %s: expected section.key=value", assignment);
    char name[256];
    size_t n = (size_t)(eq - assignment);
    if (n >= sizeof name) die(EXIT_INPUT, "--set %s: key too long", assignment);
    memcpy(name, assignment, n);
    name[n] = '\0';
    int ki = find_key(name);
    if (ki < 0) {
        char hint[128];
        die(EXIT_INPUT, "--set %s: unknown key '%s'%s", assignment, name, suggest(name, hint, sizeof hint));
    }
    char *at = xmalloc(strlen(assignment) + 16);
    sprintf(at, "--set %s: ", assignment);
    parse_text_value(self, &KEYS[ki], eq + 1, at);
    free(at);
    self->origin[ki] = (ConfigOrigin){"--set", 0, 0};
}

// ---- derive and validate ----------------------------------------------------------------------

// Report a cross-key problem at the place the key was set.
static noreturn void die_key(const Config *self, const char *key, const char *msg) {
    int ki = find_key(key);
    const ConfigOrigin *o = &self->origin[ki];
    if (o->line > 0) die(EXIT_INPUT, "%s:%d:%d: %s", o->file, o->line, o->col, msg);
    if (strcmp(o->file, "--set") == 0) die(EXIT_INPUT, "--set %s: %s", key, msg);
    die(EXIT_INPUT, "%s:1:1: %s", self->path[0] ? self->path : "(no config)", msg);
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

void config_resolve_path(const Config *self, const char *rel, char *out, size_t out_size) {
    if (!rel[0]) {
        out[0] = '\0';
        return;
    }
    int n = rel[0] == '/' ? snprintf(out, out_size, "%s", rel) : snprintf(out, out_size, "%s/%s", self->data_root, rel);
    if (n < 0 || (size_t)n >= out_size) die(EXIT_INPUT, "%s: path too long", rel);
}

void config_finish(Config *self, const char *data_root) {
    char msg[512];
    // name: file name without directory and extension
    const char *base = strrchr(self->path, '/');
    base = base ? base + 1 : (self->path[0] ? self->path : "config");
    snprintf(self->name, sizeof self->name, "%.200s", base);
    char *dot = strrchr(self->name, '.');
    if (dot && (strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0)) *dot = '\0';

    const char *env = getenv("CFGAN_DATA");
    const char *root = data_root && *data_root ? data_root : (env && *env ? env : "data");
    self->data_root_from = data_root && *data_root ? "--data-root" : env && *env ? "$CFGAN_DATA" : "the default";
    snprintf(self->data_root, sizeof self->data_root, "%s", root);
    size_t rl = strlen(self->data_root);
    while (rl > 1 && self->data_root[rl - 1] == '/') self->data_root[--rl] = '\0';

    if (self->data_format != FORMAT_SYNTHETIC && !self->data_train[0])
        die_key(self, "data.train", "missing required key 'data.train' (the training file, relative to the data root)");
    config_resolve_path(self, self->data_train, self->train_path, sizeof self->train_path);
    config_resolve_path(self, self->data_test, self->test_path, sizeof self->test_path);
    config_resolve_path(self, self->data_titles, self->titles_path, sizeof self->titles_path);

    if (self->data_format == FORMAT_CSV && strlen(self->data_delimiter) != 1)
        die_key(self, "data.delimiter", "'data.delimiter' must be exactly one character");
    if (self->data_user_col == self->data_item_col)
        die_key(self, "data.item_col", "'data.item_col' must differ from 'data.user_col'");
    if (self->data_rating_col == self->data_user_col || self->data_rating_col == self->data_item_col)
        die_key(self, "data.rating_col", "'data.rating_col' must differ from the user and item columns");
    if (self->data_format == FORMAT_SYNTHETIC && self->synth_interactions > self->synth_users * (self->synth_items / 2))
        die_key(self, "data.synthetic.interactions",
                "'data.synthetic.interactions' exceeds users x floor(items / 2), the densest synthetic data");

    if (self->epochs < self->g_steps)
        die_key(self, "train.epochs", "'train.epochs' must be at least train.g_steps (epochs count generator passes)");

    // cutoffs: sorted, unique
    qsort(self->topk, (size_t)self->n_topk, sizeof(int), cmp_int);
    int u = 0;
    for (int i = 0; i < self->n_topk; i++)
        if (u == 0 || self->topk[i] != self->topk[u - 1]) self->topk[u++] = self->topk[i];
    self->n_topk = u;

    // eval.select = METRIC@K with K among the cutoffs
    static const char *metrics[] = {"P@", "R@", "NDCG@", "MRR@"}; // index = select_metric
    int mi = 3;
    while (mi >= 0 && strncasecmp(self->eval_select, metrics[mi], strlen(metrics[mi])) != 0) mi--;
    int64_t k = 0;
    if (mi < 0 || !parse_int64(self->eval_select + strlen(metrics[mi]), &k)) {
        snprintf(msg, sizeof msg, "'eval.select' must look like NDCG@20 (P, R, NDCG or MRR @ a cutoff), got '%s'",
                 self->eval_select);
        die_key(self, "eval.select", msg);
    }
    int found = 0;
    for (int i = 0; i < self->n_topk; i++) found |= self->topk[i] == k;
    if (!found) {
        snprintf(msg, sizeof msg, "'eval.select' uses cutoff %lld, which is not in eval.topk", (long long)k);
        die_key(self, "eval.select", msg);
    }
    self->select_metric = mi;
    self->select_k = (int)k;
}

// ---- echo, hash, help -------------------------------------------------------------------------

// Shortest text that reads back as exactly v.
static void fmt_double(double v, char *buf, size_t n) {
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    // keep it a number in YAML's eyes even when it looks like an integer
    if (!strpbrk(buf, ".eEn")) strncat(buf, ".0", n - strlen(buf) - 1);
}

static void format_value(const Config *self, const Key *k, StrBuf *sb) {
    const char *base = (const char *)self + k->off;
    char num[64];
    switch (k->type) {
    case T_INT: sb_printf(sb, "%d", *(const int *)base); break;
    case T_INT64: sb_printf(sb, "%lld", (long long)*(const int64_t *)base); break;
    case T_FLOAT: fmt_double(*(const double *)base, num, sizeof num); sb_printf(sb, "%s", num); break;
    case T_BOOL: sb_printf(sb, "%s", *(const int *)base ? "true" : "false"); break;
    case T_STR: sb_json_string(sb, base); break; // a JSON string is a valid YAML double-quoted scalar
    case T_ENUM: {
        const char *c = k->choices;
        for (int i = *(const int *)base; i > 0; i--) c += strcspn(c, "|") + 1;
        sb_printf(sb, "%.*s", (int)strcspn(c, "|"), c);
        break;
    }
    case T_INT_LIST: case T_FLOAT_LIST: {
        int n = *(const int *)((const char *)self + k->count_off);
        sb_printf(sb, "[");
        for (int i = 0; i < n; i++) {
            if (k->type == T_INT_LIST) sb_printf(sb, "%s%d", i ? ", " : "", ((const int *)base)[i]);
            else {
                fmt_double(((const double *)base)[i], num, sizeof num);
                sb_printf(sb, "%s%s", i ? ", " : "", num);
            }
        }
        sb_printf(sb, "]");
        break;
    }
    }
}

// Emit keys as nested YAML; consecutive keys share sections because the table is ordered.
static void build_yaml(const Config *self, StrBuf *sb, int runtime_too) {
    const char *prev = ""; // the key written last
    for (int i = 0; i < N_KEYS; i++) {
        const Key *k = &KEYS[i];
        if (!runtime_too && (k->flags & F_RUNTIME)) continue;
        if (!runtime_too && (k->flags & F_HASH_IF_SET)) {
            StrBuf v = {0};
            format_value(self, k, &v);
            const int at_default = v.data && strcmp(v.data, k->def) == 0;
            sb_free(&v);
            if (at_default) continue;
        }
        // the sections it shares with the previous key are open; write the others
        const char *s = k->name;
        int depth = 0;
        for (size_t j = 0; k->name[j] && k->name[j] == prev[j]; j++) {
            if (k->name[j] != '.') continue;
            s = k->name + j + 1;
            depth++;
        }
        for (const char *dot; (dot = strchr(s, '.')); s = dot + 1, depth++)
            sb_printf(sb, "%*s%.*s:\n", 2 * depth, "", (int)(dot - s), s);
        sb_printf(sb, "%*s%s: ", 2 * depth, "", s);
        format_value(self, k, sb);
        sb_printf(sb, "\n");
        prev = k->name;
    }
}

void config_write_yaml(const Config *self, FILE *fp) {
    StrBuf sb = {0};
    build_yaml(self, &sb, 1);
    fwrite(sb.data, 1, sb.len, fp);
    sb_free(&sb);
}

uint64_t config_hash(const Config *self) {
    StrBuf sb = {0};
    build_yaml(self, &sb, 0);
    uint64_t h = hash64(0x636667616eULL, sb.data, sb.len);
    sb_free(&sb);
    return h;
}

void config_print_keys(FILE *fp) {
    fprintf(fp, "Config keys (YAML sections, or --set section.key=value):\n");
    for (int i = 0; i < N_KEYS; i++) {
        const Key *k = &KEYS[i];
        char range[96];
        accepted(k, '|', range, sizeof range);
        const char *what = !range[0] ? "" : k->type == T_ENUM ? "  one of: " : "  range ";
        fprintf(fp, "  %-28s %-12s default %s%s%s\n      %s\n", k->name, TYPE_NAMES[k->type],
                k->def[0] ? k->def : "\"\"", what, range, k->doc);
    }
}

void config_print_keys_markdown(FILE *fp) {
    fprintf(fp, "| key | type | default | range or choices | meaning |\n|---|---|---|---|---|\n");
    for (int i = 0; i < N_KEYS; i++) {
        const Key *k = &KEYS[i];
        char range[96];
        fprintf(fp, "| `%s` | %s | `%s` | %s | ", k->name, TYPE_NAMES[k->type], k->def[0] ? k->def : "\"\"",
                accepted(k, ',', range, sizeof range));
        for (const char *p = k->doc; *p; p++) fputc(*p == '|' ? '/' : *p, fp);
        fprintf(fp, " |\n");
    }
}
