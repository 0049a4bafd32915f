// synth: deterministic synthetic implicit feedback with popularity skew and latent taste clusters,
// generated user by user (streaming: memory is O(users + items), not O(interactions)).
#ifndef CFGAN_SYNTH_H
#define CFGAN_SYNTH_H

#include <stdint.h>

typedef struct {
    int64_t users, items, interactions; // exact total of distinct (user, item) pairs
    uint64_t seed;
    int topics;                         // latent clusters
} SynthSpec;

typedef void (*SynthEmit)(void *ctx, int64_t user, int64_t item);

// NULL if the spec can be generated, else what is wrong (for an error before any output exists).
const char *synth_check(const SynthSpec *spec);
// Call emit once per pair, users in increasing order; exits EXIT_INPUT if the spec is infeasible.
void synth_generate(const SynthSpec *spec, SynthEmit emit, void *ctx);
// Only the users u with u % n_parts == part (the same pairs those users get from synth_generate).
void synth_generate_part(const SynthSpec *spec, int part, int n_parts, SynthEmit emit, void *ctx);

#endif
