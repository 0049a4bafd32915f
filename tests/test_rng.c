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
    TEST("rng: uniform, below and a shuffle (P = 1) are in range and roughly uniform", {
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
        rng_stratified_permutation(&r, a, 100, 1);
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
    TEST("rng: stratified permutation keeps classes, balances every window over ranks, P = 1 is a shuffle", {
        enum { N = 1653 };
        static int32_t a[N], b[N];
        for (int P = 1; P <= 48; P += (P < 4 ? 1 : 10)) {
            Rng r1, r2;
            rng_init(&r1, 7, RNG_SHUFFLE, 1, (uint32_t)P);
            rng_stratified_permutation(&r1, a, N, P);
            static int seen[N];
            memset(seen, 0, sizeof seen);
            int same_class = 1, moved = 0;
            for (int j = 0; j < N; j++) {
                seen[a[j]]++;
                same_class &= a[j] % P == j % P;
                moved += a[j] != j;
            }
            int perm = 1;
            for (int j = 0; j < N; j++) perm &= seen[j] == 1;
            CHECK(perm, "P=%d: not a permutation", P);
            CHECK(same_class, "P=%d: a value left its class mod P", P);
            CHECK(moved > N * 9 / 10, "P=%d: only %d of %d values moved", P, moved, N);
            if (P == 1) { // the reference order: one Fisher-Yates over 0..n-1 from the same stream
                rng_init(&r2, 7, RNG_SHUFFLE, 1, 1);
                for (int j = 0; j < N; j++) b[j] = j;
                for (int32_t i = N - 1; i > 0; i--) {
                    int32_t j = (int32_t)rng_below(&r2, (uint32_t)i + 1), t = b[i];
                    b[i] = b[j];
                    b[j] = t;
                }
                CHECK(memcmp(a, b, sizeof a) == 0, "P=1 differs from a plain Fisher-Yates shuffle");
            }
            // rows are dealt to ranks by id mod np: any np dividing P sees every window balanced
            for (int np = 2; np <= 8; np++) {
                if (P % np) continue;
                for (int B = 1; B <= 64; B += 7)
                    for (int s = 0; s + B <= N; s += B) {
                        int cnt[8] = {0}, lo = B, hi = 0;
                        for (int j = s; j < s + B; j++) cnt[a[j] % np]++;
                        for (int k = 0; k < np; k++) lo = cnt[k] < lo ? cnt[k] : lo, hi = cnt[k] > hi ? cnt[k] : hi;
                        CHECK(hi - lo <= 1, "P=%d np=%d B=%d batch at %d: %d..%d rows per rank", P, np, B, s, lo, hi);
                    }
            }
        }
        // within a class every value lands on every position of its class about equally often
        enum { M = 60, P = 4, T = 30000 };
        static int pos[M / P];
        for (int t = 0; t < T; t++) {
            Rng r;
            rng_init(&r, 9, RNG_SHUFFLE, (uint32_t)t, 0);
            rng_stratified_permutation(&r, a, M, P);
            for (int j = 0; j < M; j++)
                if (a[j] == 6) pos[j / P]++; // 6 is in class 2: positions 2, 6, ..., 58
        }
        for (int i = 0; i < M / P; i++)
            CHECK(pos[i] > T / (M / P) * 0.9 && pos[i] < T / (M / P) * 1.1, "value 6 at class position %d %d times of %d", i,
                  pos[i], T);
    });
    return check_summary();
}
