// Tests of the data layer: every reader (line ends, comments, blank lines, missing final newline,
// csv quoting and headers, thresholds), dense id mapping, duplicates, CSR helpers, holdout splits
// and the synthetic generator.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "csr_test.h"
#include "data.h"
#include "shard.h"
#include "synth.h"

static char g_dir[512];

static const char *write_file(const char *name, const char *text) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
    return path;
}

static int has_pair(const PairList *p, int64_t u, int64_t i) {
    for (int64_t k = 0; k < p->n; k++)
        if (p->user[k] == u && p->item[k] == i) return 1;
    return 0;
}

static void collect(void *ctx, int64_t u, int64_t i) { pairs_push(ctx, u, i); }

int main(void) {
    snprintf(g_dir, sizeof g_dir, "%s/cfgan-data-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", g_dir);
    if (system(cmd) != 0) return 1;
    ReadOptions opt = {FORMAT_CFGAN, ',', 0, 0, 1, 2, 0};
    ReadStats st;

    TEST("data: cfgan format with CRLF, comments, blank lines, tabs and no final newline", {
        PairList p = {0};
        const char *path = write_file("a.txt", "# header comment\r\n0 5 4.0\r\n\r\n  1\t7   1\r\n# another\n2 5 3.5");
        data_read_pairs(path, &opt, &p, &st);
        CHECK(p.n == 3 && st.lines == 3, "read %lld pairs from %lld lines", (long long)p.n, (long long)st.lines);
        CHECK(has_pair(&p, 0, 5) && has_pair(&p, 1, 7) && has_pair(&p, 2, 5), "wrong pairs");
        pairs_free(&p);
    });

    TEST("data: ml100k (tab), ml1m (::, with and without timestamps), csv with quotes and header, tsv with columns", {
        PairList p = {0};
        ReadOptions o = opt;
        o.format = FORMAT_ML100K;
        data_read_pairs(write_file("u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n"), &o, &p, &st);
        CHECK(p.n == 2 && has_pair(&p, 196, 242) && has_pair(&p, 186, 302), "ml100k");
        pairs_free(&p);
        o.format = FORMAT_ML1M;
        data_read_pairs(write_file("r.dat", "1::1193::5::978300760\n1::661::3::978302109\n"), &o, &p, &st);
        CHECK(p.n == 2 && has_pair(&p, 1, 1193) && has_pair(&p, 1, 661), "ml1m");
        pairs_free(&p);
        data_read_pairs(write_file("r3.dat", "1::1193::5\n1::661::3\n"), &o, &p, &st); // without timestamps
        CHECK(p.n == 2 && has_pair(&p, 1, 1193) && has_pair(&p, 1, 661), "ml1m without timestamps");
        pairs_free(&p);
        o = (ReadOptions){FORMAT_CSV, ',', 1, 1, 0, 4, 0};
        data_read_pairs(write_file("c.csv", "movie,user,genre,review,rating\n10,3,\"Drama, War\",\"said \"\"ok\"\"\",4\n11,3,x,y,5\n"), &o,
                        &p, &st);
        CHECK(p.n == 2 && has_pair(&p, 3, 10) && has_pair(&p, 3, 11), "csv with quoted commas, header and column choice");
        pairs_free(&p);
        o = (ReadOptions){FORMAT_TSV, '\t', 0, 0, 1, -1, 0};
        data_read_pairs(write_file("t.tsv", "4\t9\n4\t8\n"), &o, &p, &st);
        CHECK(p.n == 2 && has_pair(&p, 4, 9), "tsv without rating column");
        pairs_free(&p);
    });

    TEST("data: rating threshold keeps pairs rated >= min_rating", {
        PairList p = {0};
        ReadOptions o = opt;
        o.min_rating = 4;
        data_read_pairs(write_file("th.txt", "0 1 5\n0 2 3.9\n1 1 4\n"), &o, &p, &st);
        CHECK(p.n == 2 && st.below_threshold == 1 && !has_pair(&p, 0, 2), "kept %lld, dropped %lld", (long long)p.n,
              (long long)st.below_threshold);
        pairs_free(&p);
    });

    TEST("data: dense ids follow sorted original ids, duplicates collapse, maps speak original ids", {
        Config cfg;
        config_init(&cfg);
        cfg.model_mode = MODE_USER; // rows are users: ds.train is the user x item matrix
        snprintf(cfg.train_path, sizeof cfg.train_path, "%s", write_file("tr.txt", "900 70 1\n5 70 1\n5 70 2\n42 3 1\n5 3 1\n"));
        snprintf(cfg.test_path, sizeof cfg.test_path, "%s", write_file("te.txt", "900 3 1\n42 1000000000000 1\n"));
        Dataset ds;
        dataset_load(&ds, &cfg);
        CHECK(ds.n_users == 3 && ds.n_items == 3, "%d users, %d items", ds.n_users, ds.n_items);
        CHECK(ds.users.ids[0] == 5 && ds.users.ids[1] == 42 && ds.users.ids[2] == 900, "user map not sorted");
        CHECK(ds.items.ids[0] == 3 && ds.items.ids[1] == 70 && ds.items.ids[2] == 1000000000000LL, "item map");
        CHECK(ds.train.nnz == 4 && ds.train_stats.duplicates == 1, "train nnz %lld dupes %lld", (long long)ds.train.nnz,
              (long long)ds.train_stats.duplicates);
        CHECK(csr_has(&ds.train, 0, 0) && csr_has(&ds.train, 0, 1) && csr_has(&ds.train, 2, 1) && !csr_has(&ds.train, 2, 0),
              "train pairs");
        CHECK(csr_has(&ds.test, 2, 0) && csr_has(&ds.test, 1, 2), "test pairs");
        CHECK(idmap_find(&ds.users, 42) == 1 && idmap_find(&ds.users, 43) == -1, "idmap_find");
        uint64_t fp = ds.fingerprint;
        dataset_free(&ds);
        dataset_load(&ds, &cfg);
        CHECK(ds.fingerprint == fp, "fingerprint not stable");
        dataset_free(&ds);
        config_free(&cfg);
    });

    TEST("data: 0-based contiguous ids (the CFGAN splits) map to themselves", {
        Config cfg;
        config_init(&cfg);
        cfg.model_mode = MODE_USER;
        snprintf(cfg.train_path, sizeof cfg.train_path, "%s", write_file("id.txt", "0 0 1\n1 2 1\n2 1 1\n2 3 1\n"));
        snprintf(cfg.test_path, sizeof cfg.test_path, "%s", write_file("idt.txt", "0 3 1\n"));
        Dataset ds;
        dataset_load(&ds, &cfg);
        int ident = 1;
        for (int32_t u = 0; u < ds.n_users; u++) ident &= ds.users.ids[u] == u;
        for (int32_t i = 0; i < ds.n_items; i++) ident &= ds.items.ids[i] == i;
        CHECK(ident, "ids were renumbered");
        dataset_free(&ds);
        config_free(&cfg);
    });

    TEST("data: CSR from pairs sorts and dedupes; transpose and union", {
        int32_t r[] = {2, 0, 2, 0, 1, 2, 0}, c[] = {1, 3, 0, 3, 2, 4, 0};
        Csr m, t, tt, u;
        int64_t d;
        csr_from_pairs(&m, 3, 5, r, c, 7, &d);
        CHECK(d == 1 && m.nnz == 6, "dupes %lld nnz %lld", (long long)d, (long long)m.nnz);
        CHECK(m.col[0] == 0 && m.col[1] == 3 && m.col[m.row_ptr[2]] == 0, "rows not sorted");
        csr_transpose(&t, &m);
        csr_transpose(&tt, &t);
        CHECK(t.n_rows == 5 && t.n_cols == 3 && csr_has(&t, 4, 2) && csr_has(&t, 3, 0), "transpose");
        CHECK(tt.nnz == m.nnz && memcmp(tt.col, m.col, m.nnz * sizeof(int32_t)) == 0 &&
                  memcmp(tt.row_ptr, m.row_ptr, 4 * sizeof(int64_t)) == 0,
              "double transpose differs");
        int32_t r2[] = {0, 1}, c2[] = {1, 2};
        Csr m2;
        csr_from_pairs(&m2, 3, 5, r2, c2, 2, NULL);
        csr_union(&u, &m, &m2);
        CHECK(u.nnz == 7 && csr_has(&u, 0, 1) && csr_has(&u, 1, 2), "union nnz %lld", (long long)u.nnz);
        csr_free(&m), csr_free(&t), csr_free(&tt), csr_free(&m2), csr_free(&u);
    });

    TEST("data: per-user holdout is disjoint, complete, keeps a training pair, seeded and row-local", {
        int32_t r[400], c[400];
        int n = 0;
        for (int u = 0; u < 20; u++)
            for (int i = 0; i < 20; i++)
                if ((u * 7 + i * 3) % 5 != 0 || i == u) r[n] = u, c[n] = i, n++;
        Csr all, keep, held, keep2, held2, keep3, held3;
        csr_from_pairs(&all, 20, 20, r, c, n, NULL);
        csr_holdout(&all, 0, 0.25, 7, 0, &keep, &held);
        csr_holdout(&all, 0, 0.25, 7, 0, &keep2, &held2);
        csr_holdout(&all, 0, 0.25, 8, 0, &keep3, &held3);
        int ok_all = 1;
        for (int u = 0; u < 20; u++) {
            int len = csr_row_len(&all, u), h = csr_row_len(&held, u);
            ok_all &= csr_row_len(&keep, u) + h == len && csr_row_len(&keep, u) >= 1;
            ok_all &= h == (int)(0.25 * len + 0.5) || h == len - 1;
            for (int64_t k = held.row_ptr[u]; k < held.row_ptr[u + 1]; k++)
                ok_all &= csr_has(&all, u, held.col[k]) && !csr_has(&keep, u, held.col[k]);
        }
        CHECK(ok_all, "holdout sizes or disjointness wrong");
        CHECK(held.nnz == held2.nnz && memcmp(held.col, held2.col, held.nnz * sizeof(int32_t)) == 0, "not repeatable");
        CHECK(memcmp(held.col, held3.col, held.nnz * sizeof(int32_t)) != 0, "seed has no effect");
        int32_t r1[] = {0}, c1[] = {4};
        Csr single, k1, h1;
        csr_from_pairs(&single, 1, 5, r1, c1, 1, NULL);
        csr_holdout(&single, 0, 0.5, 7, 0, &k1, &h1);
        CHECK(k1.nnz == 1 && h1.nnz == 0, "a single-pair row lost its training pair");
        csr_free(&all), csr_free(&keep), csr_free(&held), csr_free(&keep2), csr_free(&held2), csr_free(&keep3),
            csr_free(&held3), csr_free(&single), csr_free(&k1), csr_free(&h1);
    });

    TEST("data: synthetic data is deterministic, exact in size, distinct and skewed", {
        SynthSpec s = {300, 120, 6000, 5, 6};
        PairList a = {0}, b = {0};
        synth_generate(&s, collect, &a);
        synth_generate(&s, collect, &b);
        CHECK(a.n == 6000, "%lld pairs, expected 6000", (long long)a.n);
        CHECK(a.n == b.n && memcmp(a.item, b.item, a.n * sizeof(int64_t)) == 0, "not deterministic");
        int32_t *r = malloc(a.n * sizeof(int32_t)), *c = malloc(a.n * sizeof(int32_t));
        for (int64_t k = 0; k < a.n; k++) r[k] = (int32_t)a.user[k], c[k] = (int32_t)a.item[k];
        Csr m;
        int64_t dupes;
        csr_from_pairs(&m, 300, 120, r, c, a.n, &dupes);
        CHECK(dupes == 0, "%lld repeated pairs", (long long)dupes);
        int64_t pop[120] = {0};
        for (int64_t k = 0; k < m.nnz; k++) pop[m.col[k]]++;
        int64_t mx = 0, mn = 1 << 30;
        for (int i = 0; i < 120; i++) mx = pop[i] > mx ? pop[i] : mx, mn = pop[i] < mn ? pop[i] : mn;
        CHECK(mx > 4 * (mn + 1), "no popularity skew: max %lld min %lld", (long long)mx, (long long)mn);
        SynthSpec s2 = s;
        s2.seed = 6;
        PairList d = {0};
        synth_generate(&s2, collect, &d);
        CHECK(memcmp(a.item, d.item, 100 * sizeof(int64_t)) != 0, "seed has no effect");
        free(r), free(c), csr_free(&m), pairs_free(&a), pairs_free(&b), pairs_free(&d);
    });
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) return 1;
    return check_summary();
}
