// rng: Philox4x32-10 (Salmon et al., SC 2011) counter-based random streams.
#include "rng.h"

#include <math.h>
#include <string.h>

#include "util.h"

static void philox_round(uint32_t ctr[4], const uint32_t key[2]) {
    const uint64_t p0 = (uint64_t)0xD2511F53u * ctr[0];
    const uint64_t p1 = (uint64_t)0xCD9E8D57u * ctr[2];
    uint32_t c0 = (uint32_t)(p1 >> 32) ^ ctr[1] ^ key[0];
    uint32_t c2 = (uint32_t)(p0 >> 32) ^ ctr[3] ^ key[1];
    ctr[0] = c0;
    ctr[1] = (uint32_t)p1;
    ctr[2] = c2;
    ctr[3] = (uint32_t)p0;
}

void rng_philox_block(uint32_t out[4], const uint32_t in[4], const uint32_t key_in[2]) {
    uint32_t c[4] = {in[0], in[1], in[2], in[3]};
    uint32_t k[2] = {key_in[0], key_in[1]};
    for (int r = 0; r < 10; r++) {
        philox_round(c, k);
        k[0] += 0x9E3779B9u; // the key schedule (Weyl sequence)
        k[1] += 0xBB67AE85u;
    }
    memcpy(out, c, sizeof c);
}

void rng_init(Rng *self, uint64_t seed, uint32_t purpose, uint32_t a, uint32_t b) {
    uint64_t k = hash_mix(hash_mix(seed) ^ ((uint64_t)purpose * 0x9E3779B97F4A7C15ULL));
    self->key[0] = (uint32_t)k;
    self->key[1] = (uint32_t)(k >> 32);
    self->ctr[0] = 0;
    self->ctr[1] = 0;
    self->ctr[2] = a;
    self->ctr[3] = b;
    self->n_left = 0;
}

uint32_t rng_u32(Rng *self) {
    if (self->n_left == 0) {
        rng_philox_block(self->out, self->ctr, self->key);
        if (++self->ctr[0] == 0) self->ctr[1]++;
        self->n_left = 4;
    }
    return self->out[4 - self->n_left--];
}

double rng_uniform(Rng *self) {
    uint64_t hi = rng_u32(self) >> 5, lo = rng_u32(self) >> 6; // 27 + 26 bits
    return ((double)hi * 67108864.0 + (double)lo) * (1.0 / 9007199254740992.0);
}

uint32_t rng_below(Rng *self, uint32_t n) {
    // Lemire's multiply-and-reject: unbiased without division in the common case.
    uint64_t m = (uint64_t)rng_u32(self) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (uint64_t)rng_u32(self) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

// Fisher-Yates over a[0], a[stride], ..., a[(n - 1) * stride].
static void shuffle_strided(Rng *self, int32_t *a, int32_t n, int32_t stride) {
    for (int32_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)rng_below(self, (uint32_t)i + 1) * stride;
        int32_t t = a[(int64_t)i * stride];
        a[(int64_t)i * stride] = a[j];
        a[j] = t;
    }
}

void rng_stratified_permutation(Rng *self, int32_t *perm, int32_t n, int P) {
    for (int32_t j = 0; j < n; j++) perm[j] = j;
    if (P > n) P = n;
    for (int c = 0; c < P; c++) shuffle_strided(self, perm + c, (n - c + P - 1) / P, P);
}

double rng_normal(Rng *self) {
    double u1 = rng_uniform(self), u2 = rng_uniform(self);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
