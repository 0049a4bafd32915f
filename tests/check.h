// check: a tiny test harness. Each CHECK prints "ok"/"not ok" with its location; main returns
// check_summary(), the verdict as the exit status (tests/run.sh counts the lines).
#ifndef CFGAN_CHECK_H
#define CFGAN_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_failed_, check_passed_;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (cond) {                                                                        \
            check_passed_++;                                                               \
        } else {                                                                           \
            check_failed_++;                                                               \
            printf("not ok %s:%d: ", __FILE__, __LINE__);                                   \
            printf(__VA_ARGS__);                                                           \
            printf("\n");                                                                  \
        }                                                                                  \
    } while (0)

// Report a named test (a group of checks) as one line: "ok NAME" or "not ok NAME".
#define TEST(name, ...)                                                                   \
    do {                                                                                   \
        int f0_ = check_failed_;                                                           \
        __VA_ARGS__;                                                                       \
        printf("%s %s\n", check_failed_ == f0_ ? "ok" : "not ok", name);                  \
        fflush(stdout);                                                                    \
    } while (0)

#define CHECK_CLOSE(a, b, tol, what)                                                       \
    CHECK(fabs((double)(a) - (double)(b)) <= (tol), "%s: %.9g vs %.9g (tol %g)", what, (double)(a), (double)(b), (double)(tol))

static inline int check_summary(void) {
    (void)check_passed_;
    return check_failed_ ? 1 : 0;
}

#endif
