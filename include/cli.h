// cli: shared command-line handling of the subcommands (config, --set, --data-root, --out).
#ifndef CFGAN_CLI_H
#define CFGAN_CLI_H

#include "config.h"

typedef struct {
    const char *cmd;         // subcommand name, for messages
    const char *config_path; // positional CONFIG
    const char *data_root;   // --data-root
    const char *out_dir;     // --out
    const char *sets[256];   // --set section.key=value, in order
    int n_sets;
    const char *positional[64];
    int n_positional;
} CliArgs;

// An extra option a command accepts: "--name" with a value (has_value) or a flag.
typedef struct {
    const char *name;
    int has_value;
    const char **value; // where the value (or "1" for a flag) goes
} CliOpt;

// Parse argv[0..argc) of a subcommand: common options, the command's own `extra` options (may be
// NULL), positionals. `help` prints usage; unknown options exit EXIT_INPUT.
void cli_parse(CliArgs *a, const char *cmd, int argc, char **argv, const CliOpt *extra, void (*help)(void));
// Load CONFIG, apply --set in order, resolve with --data-root: the config every command uses.
void cli_load_config(Config *cfg, const CliArgs *a);
// Parse "1,5,10" into ints (each in [1, 10000]); exits EXIT_INPUT naming `what` on error.
int cli_parse_int_list(const char *s, int *out, int max, const char *what);

#endif
