/* test_util.h - minimal assertions for samskap's C tests.
 *
 * A failed CHECK prints file:line and the expression and marks the test
 * failed; the test keeps going so one run shows every broken expectation.
 * Exit codes: 0 pass, 1 fail, 77 skip (ctest SKIP_RETURN_CODE). */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;

#define CHECK(expr)                                                                 \
    do {                                                                            \
        if (!(expr)) {                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr); \
            test_failures++;                                                        \
        }                                                                           \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                       \
    do {                                                                            \
        double a_ = (a), b_ = (b);                                                  \
        if (!(fabs(a_ - b_) <= (tol))) {                                            \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.17g, %s = %.17g\n",   \
                    __FILE__, __LINE__, #a, a_, #b, b_);                            \
            test_failures++;                                                        \
        }                                                                           \
    } while (0)

#define CHECK_STR(a, b)                                                             \
    do {                                                                            \
        const char *a_ = (a), *b_ = (b);                                            \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                      \
            fprintf(stderr, "%s:%d: CHECK_STR failed: '%s' != '%s'\n", __FILE__,    \
                    __LINE__, a_ ? a_ : "(null)", b_ ? b_ : "(null)");              \
            test_failures++;                                                        \
        }                                                                           \
    } while (0)

#define TEST_SKIP(...)                                                              \
    do {                                                                            \
        fprintf(stderr, "SKIP: " __VA_ARGS__);                                      \
        fprintf(stderr, "\n");                                                      \
        exit(77);                                                                   \
    } while (0)

#define TEST_DONE()                                                                 \
    do {                                                                            \
        if (test_failures) {                                                        \
            fprintf(stderr, "%d check(s) failed\n", test_failures);                 \
            return 1;                                                               \
        }                                                                           \
        return 0;                                                                   \
    } while (0)

#endif
