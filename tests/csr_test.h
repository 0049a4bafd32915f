// CSR helpers only the tests use (the program never transposes a matrix or looks up one entry).
#ifndef CFGAN_TEST_CSR_H
#define CFGAN_TEST_CSR_H

#include <stdlib.h>

#include "data.h"

// out = inᵀ, from csr_from_pairs of the swapped pairs.
static inline void csr_transpose(Csr *out, const Csr *in) {
    int32_t *r = malloc((size_t)(in->nnz + 1) * sizeof *r), *c = malloc((size_t)(in->nnz + 1) * sizeof *c);
    for (int32_t i = 0; i < in->n_rows; i++)
        for (int64_t k = in->row_ptr[i]; k < in->row_ptr[i + 1]; k++) r[k] = in->col[k], c[k] = i;
    csr_from_pairs(out, in->n_cols, in->n_rows, r, c, in->nnz, NULL);
    free(r);
    free(c);
}

// 1 if (row, col) is stored.
static inline int csr_has(const Csr *self, int32_t row, int32_t col) {
    int64_t lo = self->row_ptr[row], hi = self->row_ptr[row + 1];
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (self->col[mid] < col) lo = mid + 1;
        else hi = mid;
    }
    return lo < self->row_ptr[row + 1] && self->col[lo] == col;
}

#endif
