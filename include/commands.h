// commands: the subcommands of `cfgan`, each taking the arguments after its name.
#ifndef CFGAN_COMMANDS_H
#define CFGAN_COMMANDS_H

int cmd_train(int argc, char **argv);     // train CFGAN from a config
int cmd_evaluate(int argc, char **argv);  // metrics of a score file
int cmd_data_info(int argc, char **argv); // dataset statistics of a config
int cmd_synth(int argc, char **argv);     // write a synthetic dataset
int cmd_recommend(int argc, char **argv); // top-N items for users from a checkpoint
int cmd_bench_gemm(int argc, char **argv); // sgemm rate at given shapes (for make bench)
int cmd_baseline(int argc, char **argv);   // TopPop, ItemKNN, EASE^R on a config's split

#endif
