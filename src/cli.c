// cli: shared command-line handling of the subcommands (config, --set, --data-root, --out).
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int take_value(int argc, char **argv, int *i, const char *name, const char **out, const char *cmd) {
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0) return 0;
    if (arg[n] == '=') {
        *out = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0') return 0;
    if (*i + 1 >= argc) die(EXIT_INPUT, "cfgan %s: %s needs a value (see cfgan %s --help)", cmd, name, cmd);
    *out = argv[++*i];
    return 1;
}

void cli_parse(CliArgs *a, const char *cmd, int argc, char **argv, const CliOpt *extra, void (*help)(void)) {
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const char *v;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            help();
            exit(0);
        }
        if (take_value(argc, argv, &i, "--set", &v, cmd)) {
            if (a->n_sets == (int)(sizeof a->sets / sizeof a->sets[0])) die(EXIT_INPUT, "cfgan %s: too many --set", cmd);
            a->sets[a->n_sets++] = v;
            continue;
        }
        if (take_value(argc, argv, &i, "--data-root", &a->data_root, cmd)) continue;
        if (take_value(argc, argv, &i, "--out", &a->out_dir, cmd)) {
            if (!a->out_dir[0]) die(EXIT_INPUT, "cfgan %s: --out needs a non-empty path", cmd);
            continue;
        }
        int matched = 0;
        for (const CliOpt *o = extra; o && o->name && !matched; o++) {
            if (o->has_value) matched = take_value(argc, argv, &i, o->name, o->value, cmd);
            else if (strcmp(arg, o->name) == 0) *o->value = "1", matched = 1;
        }
        if (matched) continue;
        if (arg[0] == '-' && arg[1] != '\0')
            die(EXIT_INPUT, "cfgan %s: unknown option '%s' (see cfgan %s --help)", cmd, arg, cmd);
        if (a->n_positional == 64) die(EXIT_INPUT, "cfgan %s: too many arguments", cmd);
        a->positional[a->n_positional++] = arg;
    }
    if (a->n_positional > 0) a->config_path = a->positional[0];
}

void cli_load_config(Config *cfg, const CliArgs *a) {
    if (!a->config_path) die(EXIT_INPUT, "cfgan %s: missing CONFIG (a YAML file; see cfgan %s --help)", a->cmd, a->cmd);
    config_init(cfg);
    config_load_file(cfg, a->config_path);
    for (int i = 0; i < a->n_sets; i++) config_apply_set(cfg, a->sets[i]);
    config_finish(cfg, a->data_root);
}

int cli_parse_int_list(const char *s, int *out, int max, const char *what) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 1 || v > 10000)
            die(EXIT_INPUT, "%s: '%s' is not a comma-separated list of integers in [1, 10000]", what, s);
        if (n == max) die(EXIT_INPUT, "%s: more than %d values", what, max);
        out[n++] = (int)v;
        p = end;
        if (*p == ',') p++;
        else if (*p) die(EXIT_INPUT, "%s: '%s' is not a comma-separated list of integers", what, s);
    }
    if (n == 0) die(EXIT_INPUT, "%s: empty list", what);
    return n;
}
