// cmd_train: placeholder until the trainer lands.
#include "commands.h"
#include "util.h"
int cmd_train(int argc, char **argv) {
    (void)argc, (void)argv;
    die(EXIT_RUNTIME, "cfgan train: not built yet");
}
