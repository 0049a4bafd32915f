// Tests of the Philox counter-based RNG: known answers, stream independence, ranges.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rng.h"

int main(void) {
    TEST("rng: Philox4x32-10 known-answer vectors (Random123)", {
        uint32_t out[4];
        uint32_t c0[4] = {0, 0, 0, 0}, k0[2] = {0, 0};
        rng_philox_block(out, c0, k0);
        CHECK(out[0] == 0x6627e8d5u && out[1] == 0xe169c58du && out[2] == 0xbc57ac4cu && out[3] == 0x9b00dbd8u,
              "zero vector gave %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
        uint32_t c1[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, k1[2] = {0xffffffffu, 0xffffffffu};
        rng_philox_block(out, c1, k1);
        CHECK(out[0] == 0x408f276du && out[1] == 0x41c83b0eu && out[2] == 0xa20bc7c6u && out[3] == 0x6d5451fdu,
              "ones vector gave %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
        uint32_t c2[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, k2[2] = {0xa4093822u, 0x299f31d0u};
        rng_philox_block(out, c2, k2);
        CHECK(out[0] == 0xd16cfe09u && out[1] == 0x94fdccebu && out[2] == 0x5001e420u && out[3] == 0x24126ea1u,
              "pi vector gave %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
    });
    TEST("rng: a stream repeats and differs from its neighbours", {
        Rng a, b, c;
        rng_init(&a, 42, RNG_ZR, 3, 17);
        rng_init(&b, 42, RNG_ZR, 3, 17);
        rng_init(&c, 42, RNG_ZR, 3, 18);
        int same = 1, diff = 0;
        for (int i = 0; i < 1000; i++) {
            uint32_t x = rng_u32(&a), y = rng_u32(&b), z = rng_u32(&c);
            same &= x == y;
            diff += x != z;
        }
        CHECK(same, "same stream gave different numbers");
        CHECK(diff > 990, "neighbouring streams agree in %d of 1000 draws", 1000 - diff);
        Rng p;
        rng_init(&p, 42, RNG_PM, 3, 17);
        rng_init(&a, 42, RNG_ZR, 3, 17);
        CHECK(rng_u32(&p) != rng_u32(&a), "purposes share a stream");
    });
    TEST("rng: uniform, below and shuffle are in range and roughly uniform", {
        Rng r;
        rng_init(&r, 1, RNG_SHUFFLE, 0, 0);
        int counts[10] = {0};
        double sum = 0;
        for (int i = 0; i < 100000; i++) {
            double u = rng_uniform(&r);
            CHECK(u >= 0 && u < 1, "uniform out of range: %g", u);
            sum += u;
            uint32_t k = rng_below(&r, 10);
            CHECK(k < 10, "below(10) gave %u", k);
            counts[k]++;
        }
        CHECK_CLOSE(sum / 100000, 0.5, 0.01, "mean of uniform");
        for (int k = 0; k < 10; k++) CHECK(counts[k] > 9500 && counts[k] < 10500, "bucket %d has %d of 100000", k, counts[k]);
        int32_t a[100];
        for (int i = 0; i < 100; i++) a[i] = i;
        rng_shuffle(&r, a, 100);
        int seen[100] = {0}, moved = 0;
        for (int i = 0; i < 100; i++) {
            seen[a[i]]++;
            moved += a[i] != i;
        }
        int perm = 1;
        for (int i = 0; i < 100; i++) perm &= seen[i] == 1;
        CHECK(perm, "shuffle is not a permutation");
        CHECK(moved > 80, "shuffle moved only %d of 100", moved);
    });
    return check_summary();
}
