/* rg_internal.h - helpers shared by the region generator and merger: a
 * growable text buffer, the PRNG, file I/O, errors and the C-locale guard. */
#ifndef RG_INTERNAL_H
#define RG_INTERNAL_H

#include <locale.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "sk_region.h"

/* Growable text buffer; a failed allocation latches `oom` so callers check
 * once at the end instead of after every append. */
typedef struct rg_buf {
    char *p;
    size_t len, cap;
    int oom;
} rg_buf;

void rg_buf_free(rg_buf *b);
void rg_buf_put(rg_buf *b, const char *s, size_t n);
void rg_buf_puts(rg_buf *b, const char *s);
void rg_buf_printf(rg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* splitmix64 seeded from (seed, a, b) so that every municipality and kernel
 * has its own stream: one file's bytes do not depend on the others. */
typedef struct rg_rng {
    uint64_t s;
} rg_rng;

void rg_rng_init(rg_rng *r, uint64_t seed, uint64_t a, uint64_t b);
uint64_t rg_rng_next(rg_rng *r);
double rg_rng_unif(rg_rng *r);                 /* [0, 1) */
long rg_rng_below(rg_rng *r, long n);          /* [0, n) */

int rg_fail(sk_region_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* mkdir -p (mode 0777 & ~umask). */
int rg_mkdirs(const char *path, sk_region_error *err);
/* Join dir and name into out (size n); -1 when it does not fit. */
int rg_path(char *out, size_t n, const char *dir, const char *name);
int rg_write_file(const char *path, const rg_buf *b, sk_region_error *err);
/* Whole file, NUL-terminated; *len excludes the NUL. */
int rg_read_file(const char *path, char **data, size_t *len, sk_region_error *err);
int rg_file_exists(const char *path);

/* Switch this thread to the C locale for number formatting and back. */
typedef struct rg_locale {
    locale_t c, old;
} rg_locale;
int rg_locale_enter(rg_locale *l, sk_region_error *err);
void rg_locale_leave(rg_locale *l);

/* Parse a whole token as a number in the C locale (hand-written: digits,
 * sign, '.', exponent).  Returns 0 or -1. */
int rg_parse_double(const char *s, size_t n, double *out);
int rg_parse_long(const char *s, size_t n, long *out);

/* Line iteration over a buffer. */
typedef struct rg_lines {
    const char *p, *end;
    const char *ls, *le;   /* current line, without the newline */
    long lineno;
} rg_lines;
void rg_lines_init(rg_lines *it, const char *data, size_t len);
int rg_lines_next(rg_lines *it);

/* Split [s, e) into whitespace-separated tokens (at most max); returns the
 * count (tokens beyond max are counted but not stored). */
typedef struct rg_tok {
    const char *s;
    size_t n;
} rg_tok;
int rg_tokens(const char *s, const char *e, rg_tok *t, int max);
int rg_tok_eq(const rg_tok *t, const char *lit);      /* case-insensitive */


#endif
