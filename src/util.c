// util: call-site error exits, checked allocation and files, a line reader, hashing, clocks.
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int g_rank = 0, g_size = 1;
static void (*g_exit_fn)(int, int) = NULL;

void util_set_rank(int rank, int size, void (*exit_fn)(int, int)) {
    g_rank = rank;
    g_size = size;
    g_exit_fn = exit_fn;
}

int util_is_root(void) { return g_rank == 0; }

#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(__SANITIZE_ADDRESS__)
#define __SANITIZE_ADDRESS__ 1 /* clang spells it this way */
#endif
#endif

noreturn void exit_now(int status) {
#ifdef __SANITIZE_ADDRESS__
    fflush(NULL);
    _exit(status);
#else
    exit(status);
#endif
}

static noreturn void end_job(int status, int collective) {
    fflush(stdout);
    fflush(stderr);
    if (g_exit_fn) g_exit_fn(status, collective);
    exit_now(status);
}

noreturn void die(int status, const char *fmt, ...) {
    if (g_rank == 0) {
        va_list ap;
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
    end_job(status, 1);
}

noreturn void die_local(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (g_size > 1 && status != EXIT_INPUT) fprintf(stderr, "[rank %d] ", g_rank); // input errors name their file
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    end_job(status, 0);
}

void warn(const char *fmt, ...) {
    if (g_rank != 0) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void info(const char *fmt, ...) {
    if (g_rank != 0) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

void *xmalloc_at(size_t n, const char *file, int line) {
    void *p = malloc(n ? n : 1);
    if (!p) die_local(EXIT_RUNTIME, "%s:%d: out of memory allocating %zu bytes", file, line, n);
    return p;
}

void *xcalloc_at(size_t n, size_t size, const char *file, int line) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) die_local(EXIT_RUNTIME, "%s:%d: out of memory allocating %zu x %zu bytes", file, line, n, size);
    return p;
}

void *xrealloc_at(void *p, size_t n, const char *file, int line) {
    void *q = realloc(p, n ? n : 1);
    if (!q) die_local(EXIT_RUNTIME, "%s:%d: out of memory reallocating %zu bytes", file, line, n);
    return q;
}

char *xstrdup_at(const char *s, const char *file, int line) {
    size_t n = strlen(s) + 1;
    char *p = xmalloc_at(n, file, line);
    memcpy(p, s, n);
    return p;
}

FILE *xfopen_input(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        die(EXIT_INPUT, "%s: is a directory, expected a file", path);
    FILE *fp = fopen(path, "rb");
    if (!fp) die(EXIT_INPUT, "%s: cannot open: %s", path, strerror(errno));
    return fp;
}

// ---- line reader ----------------------------------------------------------------------------

// Every open reader, so that line_reader_free_all can release those die() jumped out of.
static LineReader *g_open_readers;

LineReader *line_reader_open(const char *path) {
    FILE *fp = xfopen_input(path);
    LineReader *self = xcalloc(1, sizeof *self);
    *self = (LineReader){.fp = fp, .path = path, .next = g_open_readers};
    g_open_readers = self;
    return self;
}

long line_reader_next(LineReader *self) {
    ssize_t n = getline(&self->line, &self->cap, self->fp);
    if (n < 0) {
        if (ferror(self->fp)) die(EXIT_INPUT, "%s: read error: %s", self->path, strerror(errno));
        return -1;
    }
    self->line_no++;
    if (memchr(self->line, '\0', (size_t)n))
        die(EXIT_INPUT, "%s:%ld: binary data (NUL byte): not a text file", self->path, self->line_no);
    if (n > 0 && self->line[n - 1] == '\n') n--;
    if (n > 0 && self->line[n - 1] == '\r') n--;
    self->line[n] = '\0';
    return (long)n;
}

void line_reader_close(LineReader *self) {
    LineReader **p = &g_open_readers;
    while (*p != self) p = &(*p)->next;
    *p = self->next;
    fclose(self->fp);
    free(self->line);
    free(self);
}

void line_reader_free_all(void) {
    while (g_open_readers) line_reader_close(g_open_readers);
}

// ---- clocks, hashing, strings -----------------------------------------------------------------

double wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

uint64_t hash_mix(uint64_t x) { // splitmix64 finaliser
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

uint64_t hash64(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = hash_mix(h ^ w) + 0x9e3779b97f4a7c15ULL;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    return hash_mix(h ^ w ^ ((uint64_t)n << 56));
}

int edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    int row[64];
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

// ---- files ------------------------------------------------------------------------------------

void mkdir_p(const char *path) {
    if (!path[0]) die(EXIT_INPUT, "empty directory name (check --out)");
    char *tmp = xstrdup(path);
    for (char *p = tmp + 1;; p++) { // each parent, then the directory itself
        if (*p && *p != '/') continue;
        const char end = *p;
        *p = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
            die_local(EXIT_RUNTIME, "%s: cannot create directory: %s", tmp, strerror(errno));
        if (!end) break;
        *p = '/';
    }
    free(tmp);
}

int write_file_atomic(const char *path, const void *data, size_t n) {
    char *tmp = xmalloc(strlen(path) + 32);
    sprintf(tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *fp = fopen(tmp, "wb");
    int ok = fp && fwrite(data, 1, n, fp) == n && fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    int saved = errno; // of the first failure
    if (fp && fclose(fp) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        saved = errno;
    }
    if (ok) { // fsync the directory so the rename itself is durable
        char *dir = xstrdup(path);
        int dfd = open(dirname(dir), O_RDONLY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir);
    } else {
        unlink(tmp);
    }
    free(tmp);
    if (!ok) errno = saved;
    return ok ? 0 : -1;
}

// ---- string buffer ----------------------------------------------------------------------------

void sb_printf(StrBuf *self, const char *fmt, ...) {
    for (;;) {
        size_t room = self->cap - self->len;
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(self->data ? self->data + self->len : NULL, self->data ? room : 0, fmt, ap);
        va_end(ap);
        if (k < 0) die_local(EXIT_RUNTIME, "internal: bad format string");
        if (self->data && (size_t)k < room) {
            self->len += (size_t)k;
            return;
        }
        size_t need = self->len + (size_t)k + 1;
        size_t cap = self->cap ? self->cap : 256;
        while (cap < need) cap *= 2;
        self->data = xrealloc(self->data, cap);
        self->cap = cap;
    }
}

void sb_json_string(StrBuf *self, const char *s) {
    sb_printf(self, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') sb_printf(self, "\\%c", *p);
        else if (*p == '\n') sb_printf(self, "\\n");
        else if (*p == '\t') sb_printf(self, "\\t");
        else if (*p < 0x20) sb_printf(self, "\\u%04x", *p);
        else sb_printf(self, "%c", *p);
    }
    sb_printf(self, "\"");
}

void sb_free(StrBuf *self) {
    free(self->data);
    memset(self, 0, sizeof *self);
}

HOT_LOOP void vec_add(float *restrict y, const float *restrict x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

int64_t env_count(const char *name) {
    const char *s = getenv(name);
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno || v < 0) die(EXIT_INPUT, "%s=%s: expected a count (0 or a positive integer)", name, s);
    return v;
}

int cmp_int64(const void *a, const void *b) {
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}
