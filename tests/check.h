// check: a tiny test harness for TAP-like output that tests/run.sh counts: one line per result.
//   TEST(name, { ... })   a named group of checks: exactly one "ok NAME" or "not ok NAME" line, however
//                         the body ends (at its end, at a REQUIRE that fails, or at a `break` at the
//                         body's top level; never `return` from a body: that skips the line). A
//                         failed CHECK inside prints only an indented diagnostic
//                         "    # file:line: message", so one failure counts once.
//   CHECK(cond, fmt...)   records a failure with its location. Outside any TEST it prints its own
//                         "not ok file:line: message" line.
//   REQUIRE(cond, fmt...) CHECK, and on failure leave the TEST's body at once (from any depth of
//                         loops): the TEST then prints "not ok NAME". Only inside a TEST.
//   SKIP(name, fmt...)    "skip NAME: why" for a check this machine cannot run (tests/run.sh counts
//                         it as a skip, and as a failure under CFGAN_REQUIRE_DATA=1). The reason must
//                         not contain ": " (the runner splits NAME from the reason at the last one).
// main returns check_summary(), the verdict as the exit status.
#ifndef CFGAN_CHECK_H
#define CFGAN_CHECK_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

static int check_failed_, check_passed_, check_in_test_;

__attribute__((format(printf, 3, 4), unused)) static void check_fail_(const char *file, int line, const char *fmt, ...) {
    check_failed_++;
    if (check_in_test_) printf("    # %s:%d: ", file, line);
    else printf("not ok %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (cond) check_passed_++;                                                         \
        else check_fail_(__FILE__, __LINE__, __VA_ARGS__);                                 \
    } while (0)

// The body runs in its own block inside a one-iteration loop: a `break` at its top level ends the
// body, not the TEST, and REQUIRE jumps to the local label after it (GNU C's __label__, which gcc
// and clang accept in -std=c11 too). Either way the result line is printed.
#define TEST(name, ...)                                                                    \
    do {                                                                                   \
        __label__ check_bail_;                                                             \
        int f0_ = check_failed_;                                                           \
        check_in_test_++;                                                                  \
        if (0) goto check_bail_; /* (no unused-label warning without a REQUIRE) */         \
        do {                                                                               \
            __VA_ARGS__;                                                                   \
        } while (0);                                                                       \
    check_bail_:                                                                           \
        check_in_test_--;                                                                  \
        printf("%s %s\n", check_failed_ == f0_ ? "ok" : "not ok", name);                  \
        fflush(stdout);                                                                    \
    } while (0)

// (outside a TEST the label does not exist: a compile error, not a silent miss)
#define REQUIRE(cond, ...)                                                                 \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            check_fail_(__FILE__, __LINE__, __VA_ARGS__);                                  \
            goto check_bail_;                                                              \
        }                                                                                  \
        check_passed_++;                                                                   \
    } while (0)

#define SKIP(name, ...)                                                                    \
    do {                                                                                   \
        printf("skip %s: ", name);                                                         \
        printf(__VA_ARGS__);                                                               \
        printf("\n");                                                                      \
        fflush(stdout);                                                                    \
    } while (0)

#define CHECK_CLOSE(a, b, tol, what)                                                       \
    CHECK(fabs((double)(a) - (double)(b)) <= (tol), "%s: %.9g vs %.9g (tol %g)", what, (double)(a), (double)(b), (double)(tol))

static inline int check_summary(void) {
    (void)check_passed_;
    return check_failed_ ? 1 : 0;
}

#endif
