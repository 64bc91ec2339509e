/* tr_util.c - error formatting and locale-independent number parsing for
 * the traffic kernel.  Numbers go through strtod_l with a private "C"
 * locale so that LANG=nb_NO (decimal comma) cannot change what a file
 * means. */
#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_internal.h"

int tr_fail(sk_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

struct tr_numparser {
    locale_t c;
    char buf[128];
};

tr_numparser *tr_num_new(void)
{
    tr_numparser *np = calloc(1, sizeof *np);
    if (!np)
        return NULL;
    np->c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (np->c == (locale_t)0) {
        free(np);
        return NULL;
    }
    return np;
}

void tr_num_free(tr_numparser *np)
{
    if (!np)
        return;
    freelocale(np->c);
    free(np);
}

/* The buffer is not NUL-terminated: copy the candidate characters first.
 * Only [0-9+-.eE] can be part of a TNTP number; hex, inf and nan are refused
 * on purpose. */
size_t tr_parse_double(tr_numparser *np, const char *p, const char *end, double *out)
{
    size_t k = 0;
    while (p + k < end && k < sizeof np->buf - 1) {
        char ch = p[k];
        if ((ch >= '0' && ch <= '9') || ch == '+' || ch == '-' || ch == '.' || ch == 'e' || ch == 'E')
            k++;
        else
            break;
    }
    if (k == 0 || k >= sizeof np->buf - 1)
        return 0;
    memcpy(np->buf, p, k);
    np->buf[k] = 0;
    char *e = NULL;
    errno = 0;
    double v = strtod_l(np->buf, &e, np->c);
    if (e == np->buf)
        return 0;
    if (errno == ERANGE && (v > 1.0 || v < -1.0))
        return 0;   /* overflow; underflow to 0 or a denormal is accepted */
    *out = v;
    return (size_t)(e - np->buf);
}

size_t tr_parse_int(const char *p, const char *end, int64_t *out)
{
    size_t k = 0;
    int neg = 0;
    if (p < end && (*p == '-' || *p == '+')) {
        neg = *p == '-';
        k++;
    }
    size_t d0 = k;
    int64_t v = 0;
    while (p + k < end && p[k] >= '0' && p[k] <= '9') {
        if (v > (INT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (p[k] - '0');
        k++;
    }
    if (k == d0)
        return 0;
    *out = neg ? -v : v;
    return k;
}
