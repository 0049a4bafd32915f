// version: what built this binary (reported in every run record).
#ifndef CFGAN_VERSION_H
#define CFGAN_VERSION_H

const char *cfgan_version(void);   // release version, e.g. "0.1.0"
const char *cfgan_git(void);       // git commit the binary was built from, or "unknown"
const char *cfgan_compiler(void);  // compiler and version
const char *cfgan_blas(void);      // BLAS library, kernel set and thread count in use

#endif
