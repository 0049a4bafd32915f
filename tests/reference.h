// reference: the slow, obvious loop versions of the trainer's kernels, which the tests compare the
// fast ones against (the dense layers in double, the sparse ones adding the same terms in the same
// order), and the masks as 0/1 floats.
#ifndef CFGAN_TEST_REFERENCE_H
#define CFGAN_TEST_REFERENCE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "nn.h"

static inline void dense_forward_ref(float *out, const float *in, const float *w, const float *b, int B, int IN,
                                     int OUT) {
    for (int i = 0; i < B; i++)
        for (int o = 0; o < OUT; o++) {
            double s = b[o];
            for (int k = 0; k < IN; k++)
                s += (double)in[(size_t)i * IN + k] * w[(size_t)k * OUT + o];
            out[(size_t)i * OUT + o] = (float)s;
        }
}

static inline void dense_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in,
                                      const float *w, int B, int IN, int OUT) {
    for (int i = 0; i < B; i++)
        for (int o = 0; o < OUT; o++) {
            float d = dout[(size_t)i * OUT + o];
            if (db)
                db[o] += d;
            for (int k = 0; k < IN; k++) {
                if (din)
                    din[(size_t)i * IN + k] += d * w[(size_t)k * OUT + o];
                if (dw)
                    dw[(size_t)k * OUT + o] += in[(size_t)i * IN + k] * d;
            }
        }
}

static inline void sparse_forward_ref(float *out, const SparseBatch *x, const float *w, const float *b, int OUT,
                                      int accumulate) {
    for (int i = 0; i < x->B; i++) {
        float *y = out + (size_t)i * OUT;
        for (int o = 0; o < OUT && !accumulate; o++)
            y[o] = b ? b[o] : 0;
        for (int64_t k = x->ptr[i]; k < x->ptr[i + 1]; k++)
            for (int o = 0; o < OUT; o++)
                y[o] += w[(size_t)x->col[k] * OUT + o];
    }
}

static inline void sparse_backward_w_ref(float *dw, const float *dout, const SparseBatch *x, int OUT) {
    for (int i = 0; i < x->B; i++)
        for (int64_t k = x->ptr[i]; k < x->ptr[i + 1]; k++)
            for (int o = 0; o < OUT; o++)
                dw[(size_t)x->col[k] * OUT + o] += dout[(size_t)i * OUT + o];
}

static inline void deposit_unobserved_ref(uint64_t *out, const uint64_t *marks, const int32_t *pos, int n_pos, int n,
                                          int invert, int include_pos) {
    // column by column: positives from pos, the u-th unobserved column chosen by mark bit u
    memset(out, 0, ((size_t)n + 63) / 64 * sizeof *out);
    const uint64_t pos_bit = include_pos ? 1 : 0;
    for (int j = 0, k = 0, u = 0; j < n; j++) {
        uint64_t b;
        if (k < n_pos && pos[k] == j) {
            b = pos_bit;
            k++;
        } else {
            b = ((marks[u >> 6] >> (u & 63)) & 1) ^ (uint64_t)invert;
            u++;
        }
        out[j >> 6] |= b << (j & 63);
    }
}

static inline void expand_bits(float *out, const uint64_t *bits, int n) {
    for (int j = 0; j < n; j++)
        out[j] = (float)((bits[j >> 6] >> (j & 63)) & 1);
}

// sample_unobserved_bits as a 0/1 float mask (mask[j] = 1 for chosen columns).
static inline void sample_unobserved(float *mask, const int32_t *pos, int n_pos, int n, double ratio, int include_pos,
                                     Rng *rng, uint64_t *bits) {
    uint64_t *out = malloc(((size_t)n + 63) / 64 * sizeof *out);
    sample_unobserved_bits(out, pos, n_pos, n, ratio, include_pos, rng, bits);
    expand_bits(mask, out, n);
    free(out);
}

// The first B rows of the masks as 0/1 floats (B, n) each. z is the last sample's with need_zr set
// (a D-step sample leaves z_bits as they were).
static inline void cfgan_masks_as_floats(const Cfgan *self, int B, float *k, float *z) {
    const size_t n = (size_t)self->n_cols, words = (size_t)self->mask_words;
    for (int i = 0; i < B; i++) {
        expand_bits(k + i * n, self->k_bits + i * words, (int)n);
        expand_bits(z + i * n, self->z_bits + i * words, (int)n);
    }
}

#endif
