// scalapack: prototypes of the BLACS and ScaLAPACK routines cfgan calls (Debian's ScaLAPACK ships
// no C header). Fortran routines take every argument by pointer; descriptors are 9 ints.
#ifndef CFGAN_SCALAPACK_H
#define CFGAN_SCALAPACK_H

void Cblacs_pinfo(int *mypnum, int *nprocs);
void Cblacs_get(int icontxt, int what, int *val);
void Cblacs_gridinit(int *icontxt, const char *order, int nprow, int npcol);
void Cblacs_gridinfo(int icontxt, int *nprow, int *npcol, int *myrow, int *mycol);
void Cblacs_gridexit(int icontxt);

// Rows (or columns) of a block-cyclic n-vector owned by process iproc of nprocs.
int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc, const int *nprocs);
void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb, const int *irsrc, const int *icsrc,
               const int *ictxt, const int *lld, int *info);
// Cholesky factorisation of a distributed symmetric positive definite matrix.
void pdpotrf_(const char *uplo, const int *n, double *a, const int *ia, const int *ja, const int *desca, int *info);
// Inverse from the Cholesky factor (one triangle).
void pdpotri_(const char *uplo, const int *n, double *a, const int *ia, const int *ja, const int *desca, int *info);
// C = beta·C + alpha·Aᵀ.
void pdtran_(const int *m, const int *n, const double *alpha, const double *a, const int *ia, const int *ja,
             const int *desca, const double *beta, double *c, const int *ic, const int *jc, const int *descc);
// Copy between two distributions (ictxt: a context holding every process of both).
void Cpdgemr2d(int m, int n, double *a, int ia, int ja, int *desca, double *b, int ib, int jb, int *descb, int ictxt);

#endif
