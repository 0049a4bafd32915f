// csr_transpose: out = inᵀ, a test helper (the program never transposes a CSR): csr_from_pairs of
// the swapped pairs.
#ifndef CFGAN_TEST_CSR_TRANSPOSE_H
#define CFGAN_TEST_CSR_TRANSPOSE_H

#include <stdlib.h>

#include "data.h"

static void csr_transpose(Csr *out, const Csr *in) {
    int32_t *r = malloc((size_t)(in->nnz + 1) * sizeof *r), *c = malloc((size_t)(in->nnz + 1) * sizeof *c);
    for (int32_t i = 0; i < in->n_rows; i++)
        for (int64_t k = in->row_ptr[i]; k < in->row_ptr[i + 1]; k++) r[k] = in->col[k], c[k] = i;
    csr_from_pairs(out, in->n_cols, in->n_rows, r, c, in->nnz, NULL);
    free(r);
    free(c);
}

#endif
