// Tests of the evaluator: bounded top-K against a full sort (ties to the lower index, NaN last,
// exclusions), item-column offering against user-row offering, hand-computed metrics, and the
// metric fixture's ranked lists.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "data.h"
#include "eval.h"
#include "rng.h"

// Reference ranking: full selection by repeated scan (O(n·K)), ties to the lower index.
static void brute_topk(const float *s, int n, const int32_t *ex, int n_ex, int K, int32_t *out, int *n_out) {
    char *used = calloc((size_t)n, 1);
    for (int e = 0; e < n_ex; e++) used[ex[e]] = 1;
    *n_out = 0;
    for (int k = 0; k < K; k++) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            if (used[i]) continue;
            float si = isnan(s[i]) ? -INFINITY : s[i];
            float sb = best < 0 ? 0 : (isnan(s[best]) ? -INFINITY : s[best]);
            if (best < 0 || si > sb) best = i;
        }
        if (best < 0) break;
        used[best] = 1;
        out[(*n_out)++] = best;
    }
    free(used);
}

int main(void) {
    Rng rng;
    rng_init(&rng, 5, RNG_INIT, 0, 0);
    TEST("eval: bounded top-K equals a full selection (ties, NaN, exclusions, short rows)", {
        enum { U = 40, N = 57, K = 12 };
        float s[U][N];
        int32_t ex[U][N];
        int n_ex[U];
        TopK t;
        topk_init(&t, U, K);
        for (int u = 0; u < U; u++) {
            n_ex[u] = 0;
            for (int i = 0; i < N; i++) {
                s[u][i] = (float)rng_below(&rng, 6) / 5; // many ties
                if (rng_uniform(&rng) < 0.03) s[u][i] = NAN;
                if (rng_uniform(&rng) < (u == 7 ? 0.9 : 0.2)) ex[u][n_ex[u]++] = i; // user 7: fewer than K left
            }
            topk_offer_user_row(&t, u, s[u], N, ex[u], n_ex[u]);
        }
        topk_finish(&t);
        for (int u = 0; u < U; u++) {
            int32_t ref[K];
            int nr;
            brute_topk(s[u], N, ex[u], n_ex[u], K, ref, &nr);
            CHECK(t.count[u] == nr, "user %d: %d entries, expected %d", u, t.count[u], nr);
            for (int k = 0; k < nr && k < t.count[u]; k++)
                CHECK(t.e[u * K + k].item == ref[k], "user %d rank %d: item %d, expected %d", u, k, t.e[u * K + k].item, ref[k]);
        }
        // item-based scoring: offering columns item by item gives the same lists
        TopK c;
        topk_init(&c, U, K);
        float col[U];
        int32_t cex[U];
        for (int i = 0; i < N; i++) {
            int nc = 0;
            for (int u = 0; u < U; u++) {
                col[u] = s[u][i];
                for (int e = 0; e < n_ex[u]; e++)
                    if (ex[u][e] == i) cex[nc++] = u;
            }
            topk_offer_item_column(&c, i, col, U, cex, nc);
        }
        topk_finish(&c);
        CHECK(memcmp(c.e, t.e, sizeof(TopKEntry) * U * K) == 0 && memcmp(c.count, t.count, sizeof(int32_t) * U) == 0,
              "item-column offering differs from user-row offering");
        topk_free(&t);
        topk_free(&c);
    });

    TEST("eval: the lists do not depend on the order items are offered in", {
        enum { N = 300, K = 10 };
        float s[N];
        for (int i = 0; i < N; i++) s[i] = (float)rng_below(&rng, 8); // heavy ties
        TopK fwd, rev, shuf;
        topk_init(&fwd, 1, K), topk_init(&rev, 1, K), topk_init(&shuf, 1, K);
        int32_t order[N];
        rng_stratified_permutation(&rng, order, N, 1); // a random order of 0..N-1
        for (int i = 0; i < N; i++) {
            topk_offer(&fwd, 0, i, s[i]);
            topk_offer(&rev, 0, N - 1 - i, s[N - 1 - i]);
            topk_offer(&shuf, 0, order[i], s[order[i]]);
        }
        topk_finish(&fwd), topk_finish(&rev), topk_finish(&shuf);
        CHECK(memcmp(fwd.e, rev.e, K * sizeof(TopKEntry)) == 0, "reverse order changed the list");
        CHECK(memcmp(fwd.e, shuf.e, K * sizeof(TopKEntry)) == 0, "shuffled order changed the list");
        topk_free(&fwd), topk_free(&rev), topk_free(&shuf);
    });

    TEST("eval: metrics by hand (P, R, NDCG with IDCG over min(|T|, K), MRR, users without test items skipped)", {
        // user 0 ranks [4, 1, 7]; test {1, 9}: hit at position 2
        // user 1 ranks [2, 3, 5]; test {2, 3, 5, 6}: hits at 1, 2, 3
        // user 2 has no test items and is not averaged
        TopK t;
        topk_init(&t, 3, 3);
        float s0[10] = {0}, s1[10] = {0}, s2[10] = {0};
        s0[4] = 3, s0[1] = 2, s0[7] = 1;
        s1[2] = 3, s1[3] = 2, s1[5] = 1;
        topk_offer_user_row(&t, 0, s0, 10, NULL, 0);
        topk_offer_user_row(&t, 1, s1, 10, NULL, 0);
        topk_offer_user_row(&t, 2, s2, 10, NULL, 0);
        topk_finish(&t);
        int32_t r[] = {0, 0, 1, 1, 1, 1}, c[] = {1, 9, 2, 3, 5, 6};
        Csr test;
        csr_from_pairs(&test, 3, 10, r, c, 6, NULL);
        int cut[] = {1, 3};
        Metrics m;
        // item i has i training users out of 16, but item 4 none (counted as one for novelty)
        const int64_t deg[10] = {0, 1, 2, 3, 0, 5, 6, 7, 8, 9};
        const ItemPopularity pop = {deg, 10, 16};
        PerUser pu;
        metrics_compute(&m, &pu, &t, &test, &pop, cut, 2);
        double l2 = 1 / log2(3.0), l3 = 1 / log2(4.0);
        CHECK(m.n_users == 2, "%lld test users", (long long)m.n_users);
        CHECK_CLOSE(m.p[0], (0 + 1) / 2.0, 1e-12, "P@1");
        CHECK_CLOSE(m.p[1], (1 / 3.0 + 1) / 2, 1e-12, "P@3");
        CHECK_CLOSE(m.r[1], (1 / 2.0 + 3 / 4.0) / 2, 1e-12, "R@3");
        CHECK_CLOSE(m.ndcg[1], (l2 / (1 + l2) + 1) / 2, 1e-12, "NDCG@3");
        CHECK_CLOSE(m.mrr[1], (0.5 + 1) / 2, 1e-12, "MRR@3");
        CHECK_CLOSE(m.mrr[0], 0.5, 1e-12, "MRR@1");
        CHECK_CLOSE(metrics_get(&m, 2, 3), m.ndcg[1], 0, "metrics_get");
        (void)l3;
        // beyond accuracy over the two test users' lists: @1 {4} and {2}, @3 {4, 1, 7} and {2, 3, 5}
        CHECK_CLOSE(m.coverage[0], 2 / 10.0, 1e-12, "coverage@1");
        CHECK_CLOSE(m.coverage[1], 6 / 10.0, 1e-12, "coverage@3");
        // Gini: counts sorted ascending, Σ (2i - n - 1) x_i / (n Σ x): @1 (7 + 9) / 20, @3 (-1+1+3+5+7+9) / 60
        CHECK_CLOSE(m.gini[0], 16 / 20.0, 1e-12, "gini@1");
        CHECK_CLOSE(m.gini[1], 24 / 60.0, 1e-12, "gini@3");
        // novelty: mean log2(16 / max(deg, 1)); popularity: mean deg
        CHECK_CLOSE(m.novelty[0], (4 + 3) / 2.0, 1e-12, "novelty@1");
        const double nov0 = (4 + 4 + log2(16 / 7.0)) / 3, nov1 = (3 + log2(16 / 3.0) + log2(16 / 5.0)) / 3;
        CHECK_CLOSE(m.novelty[1], (nov0 + nov1) / 2, 1e-12, "novelty@3");
        CHECK_CLOSE(m.popularity[0], (0 + 2) / 2.0, 1e-12, "popularity@1");
        CHECK_CLOSE(m.popularity[1], (8 / 3.0 + 10 / 3.0) / 2, 1e-12, "popularity@3");
        // per user: P, R, NDCG, MRR, novelty, popularity at each cutoff, test users only
        CHECK(pu.n == 2 && pu.user[0] == 0 && pu.user[1] == 1, "%lld users", (long long)pu.n);
        const double *u0 = pu.v, *u1 = pu.v + 2 * USER_METRICS;
        CHECK_CLOSE(u0[0], 0, 0, "user 0 P@1");
        CHECK_CLOSE(u0[USER_METRICS + 1], 1 / 2.0, 1e-12, "user 0 R@3");
        CHECK_CLOSE(u0[USER_METRICS + 3], 0.5, 1e-12, "user 0 MRR@3");
        CHECK_CLOSE(u0[USER_METRICS + 4], nov0, 1e-12, "user 0 novelty@3");
        CHECK_CLOSE(u1[2], 1, 1e-12, "user 1 NDCG@1");
        CHECK_CLOSE(u1[USER_METRICS + 5], 10 / 3.0, 1e-12, "user 1 popularity@3");
        StrBuf sb = {0};
        const int64_t ids[3] = {100, 205, 307};
        per_user_tsv(&pu, cut, ids, &sb);
        const char *head = "user\tP@1\tR@1\tNDCG@1\tMRR@1\tnovelty@1\tpopularity@1\tP@3\t";
        CHECK(sb.data && strncmp(sb.data, head, strlen(head)) == 0 &&
                  strstr(sb.data, "\n100\t0\t0\t0\t0\t4\t0\t") && strstr(sb.data, "\n205\t1\t0.25\t1\t1\t3\t2\t"),
              "per_user.tsv:\n%s", sb.data ? sb.data : "");
        sb_free(&sb);
        per_user_free(&pu);
        topk_free(&t);
        csr_free(&test);
    });

    TEST("eval: the metric fixture's top-20 lists are reproduced exactly", {
        const char *root = getenv("ROOT") ? getenv("ROOT") : ".";
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/fixtures/metrics/small.top20", root);
        FILE *f = fopen(path, "r");
        REQUIRE(f != NULL, "cannot open %s", path);
        // scores and train from the fixture
        snprintf(path, sizeof path, "%s/tests/fixtures/metrics/small.scores", root);
        FILE *fs = fopen(path, "r");
        snprintf(path, sizeof path, "%s/tests/fixtures/metrics/small.train", root);
        FILE *ft = fopen(path, "r");
        REQUIRE(fs && ft, "fixture files missing");
        static float s[50][60];
        char line[4096];
        int u = 0;
        while (fgets(line, sizeof line, fs) && u < 50) {
            if (line[0] == '#') continue;
            char *p = line;
            for (int i = 0; i < 60; i++) s[u][i] = strtof(p, &p);
            u++;
        }
        int32_t r[2000], c[2000];
        int n = 0, a, b;
        double rating;
        while (fscanf(ft, "%d %d %lf", &a, &b, &rating) == 3) r[n] = a, c[n] = b, n++;
        Csr train;
        csr_from_pairs(&train, 50, 60, r, c, n, NULL);
        TopK t;
        topk_init(&t, 50, 20);
        for (int uu = 0; uu < 50; uu++)
            topk_offer_user_row(&t, uu, s[uu], 60, train.col + train.row_ptr[uu], csr_row_len(&train, uu));
        topk_finish(&t);
        int mismatches = 0;
        for (int uu = 0; uu < 50; uu++)
            for (int k = 0; k < 20; k++) {
                int want;
                if (fscanf(f, "%d", &want) != 1) want = -1;
                mismatches += t.e[uu * 20 + k].item != want;
            }
        CHECK(mismatches == 0, "%d ranked positions differ from small.top20", mismatches);
        fclose(f), fclose(fs), fclose(ft);
        topk_free(&t);
        csr_free(&train);
    });
    return check_summary();
}
