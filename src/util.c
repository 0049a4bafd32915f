// util: call-site error exits, checked allocation and files, a fast line reader, hashing, clocks.
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

// Heap copies of every open reader's resources, so line_reader_free_all never touches the stack
// frame of a reader that die() jumped out of.
struct OpenReader {
    FILE *fp;
    char *buf, *line;
    struct OpenReader *next;
};
static struct OpenReader *g_open_readers;

void line_reader_init(LineReader *self, const char *path) {
    memset(self, 0, sizeof *self);
    self->fp = xfopen_input(path);
    self->path = path;
    self->cap = 1 << 20;
    self->buf = xmalloc(self->cap);
    self->line_cap = 256;
    self->line = xmalloc(self->line_cap);
    self->open = xmalloc(sizeof *self->open);
    *self->open = (struct OpenReader){self->fp, self->buf, self->line, g_open_readers};
    g_open_readers = self->open;
}

// Refill the buffer; returns bytes available.
static size_t reader_fill(LineReader *self) {
    if (self->pos < self->len) return self->len - self->pos;
    if (self->eof) return 0;
    self->len = fread(self->buf, 1, self->cap, self->fp);
    self->pos = 0;
    if (self->len == 0) {
        if (ferror(self->fp)) die(EXIT_INPUT, "%s: read error: %s", self->path, strerror(errno));
        self->eof = 1;
    }
    return self->len;
}

long line_reader_next(LineReader *self) {
    size_t n = 0;
    int got_any = 0;
    for (;;) {
        if (reader_fill(self) == 0) break;
        got_any = 1;
        char *start = self->buf + self->pos;
        size_t avail = self->len - self->pos;
        char *nl = memchr(start, '\n', avail);
        size_t take = nl ? (size_t)(nl - start) : avail;
        if (memchr(start, '\0', take))
            die(EXIT_INPUT, "%s:%ld: binary data (NUL byte): not a text file", self->path, self->line_no + 1);
        if (n + take + 1 > self->line_cap) {
            while (n + take + 1 > self->line_cap) self->line_cap *= 2;
            self->line = xrealloc(self->line, self->line_cap);
            self->open->line = self->line;
        }
        memcpy(self->line + n, start, take);
        n += take;
        self->pos += take;
        if (nl) {
            self->pos++; // consume '\n'
            break;
        }
    }
    if (!got_any) return -1;
    if (n > 0 && self->line[n - 1] == '\r') n--;
    self->line[n] = '\0';
    self->line_no++;
    return (long)n;
}

void line_reader_free(LineReader *self) {
    for (struct OpenReader **p = &g_open_readers; *p; p = &(*p)->next)
        if (*p == self->open) {
            *p = self->open->next;
            break;
        }
    free(self->open);
    if (self->fp) fclose(self->fp);
    free(self->buf);
    free(self->line);
    memset(self, 0, sizeof *self);
}

void line_reader_free_all(void) {
    while (g_open_readers) {
        struct OpenReader *r = g_open_readers;
        g_open_readers = r->next;
        if (r->fp) fclose(r->fp);
        free(r->buf);
        free(r->line);
        free(r);
    }
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
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
            die_local(EXIT_RUNTIME, "%s: cannot create directory: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
        die_local(EXIT_RUNTIME, "%s: cannot create directory: %s", tmp, strerror(errno));
    free(tmp);
}

int write_file_atomic(const char *path, const void *data, size_t n) {
    size_t plen = strlen(path);
    char *tmp = xmalloc(plen + 32);
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) goto fail_nofd;
    const char *p = data;
    size_t left = n;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            goto fail;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0) goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) goto fail;
    { // fsync the directory so the rename itself is durable
        char *dir = xstrdup(path);
        int dfd = open(dirname(dir), O_RDONLY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
    free(tmp);
    return 0;
fail: {
    int saved = errno;
    if (fd >= 0) close(fd);
    unlink(tmp);
    errno = saved;
}
fail_nofd:
    free(tmp);
    return -1;
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
