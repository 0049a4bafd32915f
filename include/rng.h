// rng: Philox4x32-10 counter-based random streams. A stream is named by (seed, purpose, a, b),
// e.g. (seed, RNG_ZR, outer iteration, row): its draws never depend on which process asks.
#ifndef CFGAN_RNG_H
#define CFGAN_RNG_H

#include <stdint.h>

// Purposes keep streams for different jobs independent even with equal (a, b).
enum {
    RNG_INIT = 1,     // weight initialisation (a = network, b = layer)
    RNG_ZR = 2,       // zero-reconstruction negatives (a = outer iteration, b = row)
    RNG_PM = 3,       // partial-masking negatives (a = outer iteration, b = row)
    RNG_SHUFFLE = 4,  // batch order (a = outer iteration, b = pass)
    RNG_SPLIT = 5,    // holdout splits (a = 0 test / 1 validation, b = user)
    RNG_SYNTH = 6,    // synthetic data (a = 0 model / 1 user, b = index)
};

typedef struct {
    uint32_t key[2];
    uint32_t ctr[4]; // ctr[0..1] position in the stream, ctr[2..3] = (a, b)
    uint32_t out[4];
    int n_left;      // unused words left in out
} Rng;

// Start stream (seed, purpose, a, b) at position 0.
void rng_init(Rng *self, uint64_t seed, uint32_t purpose, uint32_t a, uint32_t b);
// Next 32 random bits.
uint32_t rng_u32(Rng *self);
// Uniform double in [0, 1) with 53 random bits.
double rng_uniform(Rng *self);
// Uniform integer in [0, n), unbiased (n > 0).
uint32_t rng_below(Rng *self, uint32_t n);
// A random permutation of 0..n-1 with perm[j] = j (mod P): each class of values mod P shuffled
// uniformly on its own (class 0 first). P = 1 is one Fisher-Yates shuffle; P > n acts as P = n.
void rng_stratified_permutation(Rng *self, int32_t *perm, int32_t n, int P);
// One raw Philox4x32-10 block (exposed for the known-answer test).
void rng_philox_block(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]);
// Standard normal (Box-Muller).
double rng_normal(Rng *self);

#endif
