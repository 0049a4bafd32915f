// model: CFGAN's generator and discriminator, negative sampling (ZR/PM/ZP) and the D-step and
// G-step losses with their gradients for a mini-batch of rows. Rows are users or items; the model
// only sees "a row's 0/1 training vector over n columns".
//
// Loss scaling: every data term is multiplied by `scale` = 1/B_global, the size of the whole
// mini-batch across all ranks, so summing the ranks' gradients (one allreduce) gives the gradient
// of the batch mean. The L2 terms are added once, in the optimizer step, after the sum.
#ifndef CFGAN_MODEL_H
#define CFGAN_MODEL_H

#include <stdint.h>

#include "config.h"
#include "nn.h"
#include "rng.h"

typedef struct {
    int n_cols;            // n: length of a row vector (items in user mode, users in item mode)
    int scheme;            // Scheme
    int adversarial;       // 1: G learns from D (CFGAN); 0: from a masked reconstruction (the ablation)
    double zr_ratio, pm_ratio;
    float zr_coef;
    Mlp g;                 // n -> g_hidden... -> n
    Mlp d;                 // 2n -> d_hidden... -> 1 (input is [condition, sample])
    int max_batch;         // rows the workspaces hold
    // activations, views into one flat buffer `acts` (B = max_batch rows)
    float *acts;
    float *g_h[NN_MAX_LAYERS];      // (B, g.dims[l+1]) output of G's layer l; the last is G(e)
    float *x_fake;                  // (B, n) G(e) ⊙ k
    float *d_real_h[NN_MAX_LAYERS]; // (B, d.dims[l+1]) D on [e, e]; the last is the logit (B, 1)
    float *d_fake_h[NN_MAX_LAYERS]; // (B, d.dims[l+1]) D on [e, x_fake]
    // gradients of the activations, views into `dacts` (same layout), zeroed once per step except
    // dx_fake and G's output gradient, which are written whole
    float *dacts;
    float *dg_h[NN_MAX_LAYERS], *dx_fake, *dd_real_h[NN_MAX_LAYERS], *dd_fake_h[NN_MAX_LAYERS];
    size_t n_dacts;        // floats in dacts
    // the batch's masks as bit rows (bit j of row i = column j), never expanded to floats
    int32_t mask_words;    // (n + 63) / 64
    uint64_t *k_bits;      // (B, mask_words) 1 on e_r and on P_r (PM), else 0
    uint64_t *z_bits;      // (B, mask_words) 1 on Z_r (ZR), else 0 (all 0 under PM)
    uint64_t *bits;        // (n/64 + 2) scratch of the negative sampler
    // negative sets drawn once per outer iteration per row (NULL: drawn at every step instead)
    int32_t cache_words;
    uint32_t *cache_outer; // (rows) outer iteration + 1 the row's cached sets belong to; 0 = none
    uint64_t *cache_pm;    // (rows, words) columns of k = e_r ∪ P_r
    uint64_t *cache_zr;    // (rows, words) columns of Z_r
} Cfgan;

// A mini-batch as one rank sees it: the rows it owns, their training vectors, the outer iteration.
typedef struct {
    int B;                 // rows here
    const int32_t *rows;   // (B) global row ids (key the negative-sampling streams)
    const int64_t *ptr;    // (B + 1) row starts in col
    const int32_t *col;    // training columns of each row, sorted
    uint32_t outer;        // outer iteration: negatives are redrawn once per outer iteration
    const int32_t *local;  // (B) this rank's local index of each row (keys the negative-set cache)
} Batch;

// Loss parts of one step (sums over this rank's rows, already multiplied by `scale`).
typedef struct {
    double d_real, d_fake;     // D step: bce(D(e,e), 1) and bce(D(e,x_fake), 0)
    double g_adv, g_zr;        // G step: bce(D(e,x_fake), 1) and zr_coef·Σ_Z G²
    double p_real, p_fake;     // Σ σ(D logit) on real and fake rows (unscaled; for monitoring)
    double rows;               // rows counted
} StepStats;

void cfgan_init(Cfgan *self, const Config *cfg, int n_cols, int max_batch);
// Reference initialisation of both networks from the training seed.
void cfgan_init_weights(Cfgan *self, uint64_t seed);
void cfgan_free(Cfgan *self);

// Keep each row's negative sets for the rest of its outer iteration (n_rows local rows, indexed by
// Batch.local), if that takes at most max_bytes; otherwise they are redrawn at every step (same
// sets either way). Returns the bytes taken.
size_t cfgan_cache_init(Cfgan *self, int32_t n_rows, size_t max_bytes);
// Fill k_bits (and z_bits when need_zr) for the batch from streams (seed, RNG_PM|RNG_ZR, outer, row).
void cfgan_sample_masks(Cfgan *self, const Batch *b, uint64_t seed, int need_zr);
// D step on this rank's rows: forward G (no grad) and D on real and fake, accumulate D's gradient.
// g_rows[i], when not NULL, is G's output for row i computed beforehand (G is fixed in the D phase).
void cfgan_d_step(Cfgan *self, const Batch *b, const float *const *g_rows, float scale, StepStats *st);
// G step: forward G and D on fake, backward through D into G, accumulate G's gradient. Without
// model.adversarial, G's loss replaces D's verdict on x_fake by scale·Σ_{j ∈ e} (1 − G(e)_j)² (the
// ZR term as ever); D is not used.
void cfgan_g_step(Cfgan *self, const Batch *b, float scale, StepStats *st);
// G(e) for rows given as (B, ptr, col), written to out (B, n). B <= max_batch.
void cfgan_generate(Cfgan *self, int B, const int64_t *ptr, const int32_t *col, float *out);

// Draw the exact-size subset of a row's unobserved columns: floor(|U|·ratio) columns of
// U = {0..n-1} \ pos chosen uniformly without replacement by `rng`; out bit j = 1 for the chosen
// columns (and for pos when include_pos). out: (n+63)/64 words; scratch: n/64 + 2 words.
void sample_unobserved_bits(uint64_t *out, const int32_t *pos, int n_pos, int n, double ratio, int include_pos,
                            Rng *rng, uint64_t *scratch);
// Place mark bits (indexed by unobserved position; inverted when invert) on the columns: bit j of
// out is the mark of the u-th unobserved column for unobserved j, include_pos for positives.
// 64 columns per step with BMI2 pdep (tests/reference.h holds a column-by-column version).
void deposit_unobserved(uint64_t *out, const uint64_t *marks, const int32_t *pos, int n_pos, int n, int invert,
                        int include_pos);

#endif
