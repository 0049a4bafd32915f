// version: what built this binary (reported in every run record).
#include "version.h"

#include <cblas.h>

#include "blas.h"
#include <stdio.h>

#ifndef CFGAN_GIT
#define CFGAN_GIT "unknown"
#endif

const char *cfgan_version(void) { return "0.2.0"; }
const char *cfgan_git(void) { return CFGAN_GIT; }

const char *cfgan_compiler(void) {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#else
    return "unknown";
#endif
}

const char *cfgan_blas(void) {
    static char buf[512];
    snprintf(buf, sizeof buf, "%s; kernels %s; %d threads", openblas_get_config(), blas_choice(),
             openblas_get_num_threads());
    return buf;
}
