// blas: pick OpenBLAS kernels that match the CPU (re-executing once with OPENBLAS_CORETYPE), and
// its thread count.
#include "blas.h"

#include <cblas.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_choice[256], g_threads[160];

// Kernel set the CPU can run best, among those Debian's OpenBLAS 0.3.21 ships, or NULL.
static const char *best_core(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return NULL;
}

static int is_generic(const char *core) {
    static const char *generic[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Katmai",
                                    "Coppermine", "Northwood", "Banias"};
    for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
        if (strcasecmp(core, generic[i]) == 0) return 1;
    return 0;
}

void blas_autoselect(char **argv) {
    const char *core = openblas_get_corename();
    const char *user = getenv("OPENBLAS_CORETYPE");
    const char *note = getenv("CFGAN_BLAS_NOTE");
    if (note) { // we are the re-executed process
        snprintf(g_choice, sizeof g_choice, "%s", note);
        return;
    }
    if (user) {
        snprintf(g_choice, sizeof g_choice, "%s (OPENBLAS_CORETYPE=%s set by the user)", core, user);
        return;
    }
    const char *off = getenv("CFGAN_BLAS_AUTOFIX");
    const char *best = best_core();
    if ((off && strcmp(off, "0") == 0) || !best || !is_generic(core)) {
        snprintf(g_choice, sizeof g_choice, "%s (as OpenBLAS detected)", core);
        return;
    }
    char msg[256];
    snprintf(msg, sizeof msg, "%s (auto: OpenBLAS chose generic %s kernels on a CPU with %s; CFGAN_BLAS_AUTOFIX=0 disables)",
             best, core, strcmp(best, "SkylakeX") == 0 ? "AVX-512" : "AVX2");
    setenv("OPENBLAS_CORETYPE", best, 1);
    setenv("CFGAN_BLAS_NOTE", msg, 1);
    execv("/proc/self/exe", argv);
    // exec failed: carry on with the slow kernels, and say so
    snprintf(g_choice, sizeof g_choice, "%s (could not re-execute with OPENBLAS_CORETYPE=%s)", core, best);
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv("CFGAN_BLAS_NOTE");
}

const char *blas_choice(void) { return g_choice[0] ? g_choice : openblas_get_corename(); }

void blas_set_threads(int ranks_on_node) {
    const char *user = getenv("OPENBLAS_NUM_THREADS");
    if (user && *user) {
        snprintf(g_threads, sizeof g_threads, "%d BLAS thread%s per rank (OPENBLAS_NUM_THREADS)",
                 openblas_get_num_threads(), openblas_get_num_threads() > 1 ? "s" : "");
        return;
    }
    // the node's cores shared by its ranks, and no more than this process may run on (a launcher that
    // binds a rank to one core)
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t mine;
    const int allowed = sched_getaffinity(0, sizeof mine, &mine) == 0 ? CPU_COUNT(&mine) : (int)cores;
    int n = (int)(cores / (ranks_on_node > 0 ? ranks_on_node : 1));
    if (n > allowed) n = allowed;
    if (n < 1) n = 1;
    openblas_set_num_threads(n);
    snprintf(g_threads, sizeof g_threads, "%d BLAS thread%s per rank: %d rank%s on this node of %ld cores "
             "(OPENBLAS_NUM_THREADS to choose)", n, n > 1 ? "s" : "", ranks_on_node, ranks_on_node > 1 ? "s" : "", cores);
}

const char *blas_threads(void) { return g_threads[0] ? g_threads : "BLAS threads as OpenBLAS chose"; }
