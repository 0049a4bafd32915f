// config: the experiment configuration. One key table (name, type, default, range, doc) drives
// the YAML reader, `--set` overrides, `--help` and the resolved-config echo.
#ifndef CFGAN_CONFIG_H
#define CFGAN_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CFG_LIST_MAX 16  // longest list value (eval.topk, model.g_hidden, ...)
#define CFG_STR_MAX 1024 // longest string value (paths)

typedef enum { FORMAT_CFGAN, FORMAT_ML100K, FORMAT_ML1M, FORMAT_CSV, FORMAT_TSV, FORMAT_SYNTHETIC } DataFormat;
typedef enum { MODE_USER, MODE_ITEM } RowMode;
typedef enum { SCHEME_ZR, SCHEME_PM, SCHEME_ZP } Scheme;
typedef enum { HIDDEN_SIGMOID, HIDDEN_TANH, HIDDEN_RELU } HiddenActivation;
typedef enum { GOUT_LINEAR, GOUT_SIGMOID } GeneratorOutput;

typedef struct {
    const char *file; // config path, or "--set"
    int line, col;    // 1-based; 0 when the value is a default
} ConfigOrigin;

typedef struct {
    // data
    int data_format;                  // DataFormat
    char data_train[CFG_STR_MAX];     // training pairs (or the only file), relative to the data root
    char data_test[CFG_STR_MAX];      // test pairs; empty: hold out data.test_fraction per user
    char data_titles[CFG_STR_MAX];    // optional item titles (u.item, movies.dat) for `recommend`
    double data_test_fraction;        // per-user holdout when there is no test file, e.g. 0.2
    double data_validation;           // fraction of each user's training pairs kept for validation
    int64_t data_seed;                // seed of the holdout splits
    double data_min_rating;           // keep pairs with rating >= this; 0 keeps every observed pair
    int min_user_interactions;        // k-core: users need at least this many pairs (0 = off)
    int min_item_interactions;        // k-core: items need at least this many pairs (0 = off)
    char data_delimiter[8];           // csv field separator, one character (tsv: tab)
    int data_header;                  // csv/tsv: first line is a header
    int data_user_col, data_item_col, data_rating_col; // csv/tsv 0-based columns; rating -1 = none
    int64_t synth_users, synth_items, synth_interactions; // synthetic data size
    int64_t synth_seed;               // synthetic data seed
    int synth_topics;                 // latent clusters in the synthetic data
    // model
    int model_mode;                   // RowMode: rows are users or items
    int model_scheme;                 // Scheme: ZR, PM or ZP negative sampling
    int g_hidden[CFG_LIST_MAX], n_g_hidden; // generator hidden widths, e.g. [400]
    int d_hidden[CFG_LIST_MAX], n_d_hidden; // discriminator hidden widths, e.g. [125]
    int model_activation;             // HiddenActivation of every hidden layer
    int model_g_output;               // GeneratorOutput
    double zr_ratio, pm_ratio, zr_coef;
    int adversarial;                  // 1: CFGAN; 0: G on a masked reconstruction loss, no D (ablation)
    // train
    int epochs;                       // generator passes over all rows
    int64_t seed;                     // seed of initialisation, negatives and batch order
    int g_steps, d_steps, g_batch, d_batch;
    int batch_strata;                 // batch order: shuffle within row id mod batch_strata (1 = uniform)
    double g_lr, d_lr, g_reg, d_reg;
    double beta1, beta2, adam_eps;
    // eval
    int topk[CFG_LIST_MAX], n_topk;   // cutoffs, sorted ascending, unique
    int eval_every;                   // epochs between evaluations
    char eval_select[32];             // honest protocol: metric that picks the epoch, e.g. NDCG@20
    int eval_patience;                // honest protocol: evaluations without improvement before stopping; 0 = never
    // checkpoint
    int ckpt_every;                   // epochs between checkpoints; 0 = only at the end
    int ckpt_keep;                    // newest checkpoints kept
    // baselines
    double ease_lambda[CFG_LIST_MAX]; int n_ease_lambda;
    int knn_k[CFG_LIST_MAX]; int n_knn_k;
    double knn_shrink[CFG_LIST_MAX]; int n_knn_shrink;
    // run: how the work is done (the results agree up to float summation order)
    int cache_mb;                     // MB per rank for negative sets and G's outputs kept between steps

    // resolved by config_finish
    char path[CFG_STR_MAX];           // config file as given
    char name[256];                   // config file name without directory and .yaml
    char data_root[CFG_STR_MAX];      // --data-root, else $CFGAN_DATA, else data/
    const char *data_root_from;       // which of the three: "--data-root", "$CFGAN_DATA", "the default"
    char train_path[CFG_STR_MAX];     // data.train resolved against data_root
    char test_path[CFG_STR_MAX];      // data.test resolved (empty if none)
    char titles_path[CFG_STR_MAX];    // data.titles resolved (empty if none)
    int select_metric;                // 0 P, 1 R, 2 NDCG, 3 MRR
    int select_k;                     // cutoff of eval.select
    ConfigOrigin *origin;             // where each key got its value (indexed like the key table)
    char *origin_file;                // owned copy of the file name the origins point to
} Config;

// Set every key to its default.
void config_init(Config *self);
// Read a YAML file over the current values; exits EXIT_INPUT with FILE:LINE:COL on any problem.
void config_load_file(Config *self, const char *path);
// The same from YAML text in memory; `path` names it in messages.
void config_load_text(Config *self, const char *text, size_t n, const char *path);
// Apply one "section.key=value" override with the same validation.
void config_apply_set(Config *self, const char *assignment);
// Derive and cross-check values, resolve paths against the data root (NULL: $CFGAN_DATA or data/).
void config_finish(Config *self, const char *data_root);
// Resolve a data path against the data root (absolute paths are kept).
void config_resolve_path(const Config *self, const char *rel, char *out, size_t out_size);
// Write the resolved configuration as YAML (exact values, so it can be fed back in).
void config_write_yaml(const Config *self, FILE *fp);
// Hash of the values that can change the results (everything but evaluation and checkpoint cadence,
// cutoffs and titles).
uint64_t config_hash(const Config *self);
// Print the key table (name, type, default, range, doc) for --help.
void config_print_keys(FILE *fp);
// The same table as Markdown (the README's config reference is generated from it).
void config_print_keys_markdown(FILE *fp);
void config_free(Config *self);

#endif
