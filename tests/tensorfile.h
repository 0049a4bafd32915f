// tensorfile: named float32 tensors in one binary file ("CFGT", version, count, then per tensor
// name, dims, data; little-endian), shared with tools/torch_reference.py.
#ifndef CFGAN_TENSORFILE_H
#define CFGAN_TENSORFILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char name[64];
    uint32_t ndim, dims[4];
    size_t n;
    float *data;
} Tensor;

typedef struct {
    Tensor t[128];
    int count;
} TensorSet;

static void ts_add(TensorSet *s, const char *name, const float *data, uint32_t ndim, const uint32_t *dims) {
    Tensor *t = &s->t[s->count++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->n = 1;
    for (uint32_t i = 0; i < ndim; i++) t->dims[i] = dims[i], t->n *= dims[i];
    t->data = malloc(t->n * sizeof(float));
    memcpy(t->data, data, t->n * sizeof(float));
}

static int ts_write(const TensorSet *s, const char *path) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    uint32_t hdr[2] = {1, (uint32_t)s->count};
    fwrite("CFGT", 1, 4, f);
    fwrite(hdr, 4, 2, f);
    for (int i = 0; i < s->count; i++) {
        const Tensor *t = &s->t[i];
        uint32_t len = (uint32_t)strlen(t->name);
        fwrite(&len, 4, 1, f);
        fwrite(t->name, 1, len, f);
        fwrite(&t->ndim, 4, 1, f);
        fwrite(t->dims, 4, t->ndim, f);
        fwrite(t->data, sizeof(float), t->n, f);
    }
    return fclose(f);
}

static int ts_read(TensorSet *s, const char *path) {
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char magic[4];
    uint32_t hdr[2];
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "CFGT", 4) || fread(hdr, 4, 2, f) != 2 || hdr[1] > 128) {
        fclose(f);
        return -1;
    }
    for (uint32_t i = 0; i < hdr[1]; i++) {
        Tensor *t = &s->t[s->count++];
        uint32_t len;
        if (fread(&len, 4, 1, f) != 1 || len >= sizeof t->name || fread(t->name, 1, len, f) != len) break;
        t->name[len] = '\0';
        if (fread(&t->ndim, 4, 1, f) != 1 || t->ndim > 4 || fread(t->dims, 4, t->ndim, f) != t->ndim) break;
        t->n = 1;
        for (uint32_t d = 0; d < t->ndim; d++) t->n *= t->dims[d];
        t->data = malloc(t->n * sizeof(float));
        if (fread(t->data, sizeof(float), t->n, f) != t->n) break;
    }
    fclose(f);
    return s->count == (int)hdr[1] ? 0 : -1;
}

static const Tensor *ts_get(const TensorSet *s, const char *name) {
    for (int i = 0; i < s->count; i++)
        if (strcmp(s->t[i].name, name) == 0) return &s->t[i];
    return NULL;
}

static void ts_free(TensorSet *s) {
    for (int i = 0; i < s->count; i++) free(s->t[i].data);
    s->count = 0;
}

#endif
