// libFuzzer target: the YAML config reader and validation (config_load_text + config_finish).
// Bad input must end in die() (caught here through util's exit hook), never in a crash.
#include "config.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static Config cfg;
    util_set_rank(0, 1, fuzz_exit_hook);
    if (setjmp(fuzz_env) == 0) {
        config_init(&cfg);
        config_load_text(&cfg, (const char *)data, size, "fuzz.yaml");
        config_finish(&cfg, "/nonexistent-data-root");
        char *text = NULL;
        size_t n = 0;
        FILE *mem = open_memstream(&text, &n);
        config_write_yaml(&cfg, mem); // the echo of anything accepted must work too
        fclose(mem);
        free(text);
    }
    config_free(&cfg);
    return 0;
}
