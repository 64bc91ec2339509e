/* sk_error.h - the error value that travels out of every samskap call.
 *
 * Functions that can fail take an `sk_error *err` (may be NULL) and return a
 * negative code (or NULL); the message says what failed and where (file:line,
 * field) in one line that can go straight to a user. */
#ifndef SK_ERROR_H
#define SK_ERROR_H

#include <stdarg.h>

enum sk_errcode {
    SK_OK = 0,
    SK_EINVAL = -1,     /* bad argument or malformed input */
    SK_ENOMEM = -2,
    SK_EIO = -3,        /* file or socket */
    SK_EPROTO = -4,     /* wire protocol violation */
    SK_ETOOBIG = -5,    /* a limit was exceeded */
    SK_ECANCELED = -6,
    SK_ETIMEDOUT = -7,
    SK_ENOTFOUND = -8,
    SK_EUNSUPPORTED = -9,
    SK_ENOCONV = -10,   /* a solver did not converge */
    SK_EREFUSED = -11,  /* refused by policy: queue full, not allowed */
};

typedef struct sk_error {
    int code;
    char msg[512];
} sk_error;

#define SK_ERROR_INIT {0, {0}}

/* Set err (when not NULL) and return code, for `return sk_fail(err, ...)`. */
int sk_fail(sk_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int sk_failv(sk_error *err, int code, const char *fmt, va_list ap);
const char *sk_strerror(int code);

/* Copy src into dst (size n > 0), truncating; always NUL-terminates.
 * Cheaper than snprintf("%s") on hot paths. */
static inline void sk_strlcpy(char *dst, const char *src, unsigned long n)
{
    unsigned long i = 0;
    if (src != 0)
        for (; i + 1 < n && src[i] != '\0'; i++)
            dst[i] = src[i];
    dst[i] = '\0';
}

#endif
