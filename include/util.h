// util: call-site error exits, checked allocation and files, a line reader, hashing, clocks.
#ifndef CFGAN_UTIL_H
#define CFGAN_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdnoreturn.h>

enum {
    EXIT_RUNTIME = 1, // internal or I/O failure while working
    EXIT_INPUT = 2,   // bad command line, config or data: nothing was done
    EXIT_NUMERIC = 3, // NaN/Inf during training; last good checkpoint kept
    EXIT_PREEMPTED = 4, // stopped by SIGTERM/SIGUSR1 after writing a checkpoint
};

// Tell util which rank this process is, so collective errors print once (rank 0) and
// rank-local ones carry "[rank r]". `on_exit_fn` ends the job (MPI_Abort etc.).
void util_set_rank(int rank, int size, void (*exit_fn)(int status, int collective));

// Print "msg\n" to stderr (rank 0 only) and end every rank with `status`. Use for errors that
// every rank sees identically (config, command line, shared data files).
noreturn void die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Print "[rank r] msg\n" and end the whole job: for errors only this rank can see.
noreturn void die_local(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// exit(status), except that under AddressSanitizer it skips LeakSanitizer's exit-time scan: an
// error exit leaves the run's allocations live by design, and so does a process that started MPI
// (Open MPI unloads the components that made its allocations, so reports cannot be attributed).
noreturn void exit_now(int status);
// Print a warning line to stderr on rank 0.
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// Print an informational line to stdout on rank 0 (flushes).
void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// True on rank 0.
int util_is_root(void);

void *xmalloc_at(size_t n, const char *file, int line);
void *xcalloc_at(size_t n, size_t size, const char *file, int line);
void *xrealloc_at(void *p, size_t n, const char *file, int line);
char *xstrdup_at(const char *s, const char *file, int line);
#define xmalloc(n) xmalloc_at((n), __FILE__, __LINE__)
#define xcalloc(n, s) xcalloc_at((n), (s), __FILE__, __LINE__)
#define xrealloc(p, n) xrealloc_at((p), (n), __FILE__, __LINE__)
#define xstrdup(s) xstrdup_at((s), __FILE__, __LINE__)

// Open an input file; on failure exit EXIT_INPUT with "PATH: reason".
FILE *xfopen_input(const char *path);

// Reader of text lines: strips CR/LF, counts lines, rejects NUL bytes (binary files).
typedef struct LineReader {
    FILE *fp;
    const char *path;        // for messages
    char *line;              // current line (NUL-terminated, no line end)
    size_t cap;              // capacity of line
    long line_no;            // 1-based number of the current line
    struct LineReader *next; // the other open readers
} LineReader;
LineReader *line_reader_open(const char *path); // exits EXIT_INPUT if unreadable
// Next line into self->line; returns its length, or -1 at end of file.
long line_reader_next(LineReader *self);
void line_reader_close(LineReader *self);
// die() ends the process, so readers open at that moment are never closed. A harness whose exit
// hook longjmps out of die() (the fuzzer) calls this to release them.
void line_reader_free_all(void);

// The non-negative integer in environment variable `name` (0 when unset or empty); anything else
// ends every rank with an input error naming the variable.
int64_t env_count(const char *name);

// Seconds since an arbitrary fixed point (monotonic).
double wall_seconds(void);

// 64-bit hashing for fingerprints and checksums (not cryptographic).
uint64_t hash64(uint64_t h, const void *data, size_t n);
uint64_t hash_mix(uint64_t x);

// Levenshtein distance of two short strings (for "did you mean" hints).
int edit_distance(const char *a, const char *b);
// qsort comparator of int64_t values, ascending.
int cmp_int64(const void *a, const void *b);

// Make directory and its parents; exit EXIT_RUNTIME with the reason on failure.
void mkdir_p(const char *path);
// Write `text` to PATH atomically (temporary file, fsync, rename, fsync of the directory).
// Returns 0 or -1 with errno set; never leaves a half-written PATH.
int write_file_atomic(const char *path, const void *data, size_t n);

// Growable byte buffer for building text (JSON, YAML) before an atomic write.
typedef struct {
    char *data;
    size_t len, cap;
} StrBuf;
void sb_printf(StrBuf *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_json_string(StrBuf *self, const char *s); // appends a quoted, escaped JSON string
void sb_free(StrBuf *self);

// Hot loops (sparse gathers and scatters, activations, the optimizer, elementwise masks) get
// vectorised clones for AVX-512 and AVX2 beside the baseline, picked when the program loads: the
// binary stays portable. -O2 alone leaves them scalar (it will not add the alias checks they need;
// `restrict` says why none are needed).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define HOT_LOOP __attribute__((target_clones("avx512f", "avx2", "default"), optimize("tree-vectorize")))
#else
#define HOT_LOOP
#endif


// y[i] += x[i] for n floats (vectorised): bias gradients, sparse rows, gradient sums.
void vec_add(float *restrict y, const float *restrict x, size_t n);
#endif
