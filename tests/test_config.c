// Tests of the config module: defaults, YAML sections and dotted keys, --set, the resolved echo
// reading back to the same configuration, the hash, and path resolution.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

static const char *write_tmp(const char *name, const char *text) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s-%d.yaml", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", name, (int)getpid());
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

int main(void) {
    TEST("config: defaults are the ML100K reference hyperparameters", {
        Config c;
        config_init(&c);
        CHECK(c.model_mode == MODE_ITEM && c.model_scheme == SCHEME_ZP, "mode/scheme");
        CHECK(c.n_g_hidden == 1 && c.g_hidden[0] == 400 && c.n_d_hidden == 1 && c.d_hidden[0] == 125, "widths");
        CHECK(c.g_batch == 32 && c.d_batch == 64 && c.g_steps == 4 && c.d_steps == 2, "batches/steps");
        CHECK(c.zr_ratio == 0.7 && c.pm_ratio == 0.7 && c.zr_coef == 0.03 && c.g_reg == 1e-3 && c.d_reg == 0, "ratios/regs");
        CHECK(c.n_topk == 3 && c.topk[2] == 20, "topk");
        config_free(&c);
    });

    TEST("config: YAML sections, dotted keys, flow lists, scalars as one-element lists, --set in order", {
        const char *p = write_tmp("ok", "data:\n  train: a/b.txt\n  synthetic:\n    users: 77\nmodel.scheme: zr\n"
                                        "model:\n  g_hidden: [30, 20]\neval:\n  topk: 10\n  select: P@10\n");
        Config c;
        config_init(&c);
        config_load_file(&c, p);
        config_apply_set(&c, "train.epochs=12");
        config_apply_set(&c, "train.epochs=16");
        config_apply_set(&c, "eval.topk=[20, 5,5]");
        config_apply_set(&c, "eval.select=NDCG@5");
        config_finish(&c, "/data/root/");
        CHECK(c.synth_users == 77, "nested section value");
        CHECK(c.model_scheme == SCHEME_ZR, "dotted top-level key, case-insensitive choice");
        CHECK(c.n_g_hidden == 2 && c.g_hidden[1] == 20, "list");
        CHECK(c.epochs == 16, "later --set wins");
        CHECK(c.n_topk == 2 && c.topk[0] == 5 && c.topk[1] == 20, "cutoffs sorted and unique");
        CHECK(c.select_metric == 2 && c.select_k == 5, "eval.select parsed");
        CHECK(strcmp(c.train_path, "/data/root/a/b.txt") == 0, "resolved path %s", c.train_path);
        CHECK(strcmp(c.name, "ok-") > 0, "config name %s", c.name);
        unlink(p);
        config_free(&c);
    });

    TEST("config: the resolved echo reads back to the same configuration", {
        Config a, b;
        config_init(&a);
        config_apply_set(&a, "data.train=x y/z:w.txt");
        config_apply_set(&a, "train.g_lr=0.00012345678901");
        config_apply_set(&a, "baselines.ease.lambda=[1, 2.5, 1e9]");
        config_apply_set(&a, "data.delimiter=;");
        config_finish(&a, "root");
        char *text = NULL;
        size_t n = 0;
        FILE *mem = open_memstream(&text, &n);
        config_write_yaml(&a, mem);
        fclose(mem);
        const char *p = write_tmp("echo", text);
        config_init(&b);
        config_load_file(&b, p);
        config_finish(&b, "root");
        CHECK(config_hash(&a) == config_hash(&b), "hash differs after the round trip");
        CHECK(b.g_lr == a.g_lr && strcmp(b.data_train, a.data_train) == 0 && b.n_ease_lambda == 3 && b.ease_lambda[2] == 1e9,
              "values differ after the round trip");
        char *text2 = NULL;
        size_t n2 = 0;
        mem = open_memstream(&text2, &n2);
        config_write_yaml(&b, mem);
        fclose(mem);
        CHECK(n == n2 && memcmp(text, text2, n) == 0, "echo of the echo differs");
        config_apply_set(&b, "eval.every=7"); // run-time knobs do not change the hash
        CHECK(config_hash(&a) == config_hash(&b), "eval.every changed the hash");
        config_apply_set(&b, "train.seed=2");
        CHECK(config_hash(&a) != config_hash(&b), "train.seed did not change the hash");
        unlink(p);
        free(text), free(text2);
        config_free(&a), config_free(&b);
    });
    return check_summary();
}
