/* sk_num.c - C-locale number parsing and printing (see sk_num.h). */
#include "sk_num.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One C locale object for the process: newlocale per call would be slow on
 * CSV files with millions of numbers. It is immutable once made. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static locale_t get_c_locale(void)
{
    pthread_once(&c_locale_once, make_c_locale);
    return c_locale;
}

int sk_parse_f64(const char *s, double *out)
{
    locale_t loc = get_c_locale();
    char *end;
    if (s == NULL || *s == '\0' || loc == (locale_t)0)
        return -1;
    errno = 0;
    double v = strtod_l(s, &end, loc);
    if (end == s)
        return -1;
    while (*end == ' ' || *end == '\t' || *end == '\r')
        end++;
    if (*end != '\0')
        return -1;
    if (errno == ERANGE && isinf(v))
        return -1;
    *out = v;
    return 0;
}

int sk_parse_i64(const char *s, int64_t *out)
{
    char *end;
    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno == ERANGE)
        return -1;
    while (*end == ' ' || *end == '\t' || *end == '\r')
        end++;
    if (*end != '\0')
        return -1;
    *out = (int64_t)v;
    return 0;
}

int sk_fmt_f64(char *buf, size_t n, double v)
{
    if (isnan(v))
        return snprintf(buf, n, "nan");
    if (isinf(v))
        return snprintf(buf, n, v > 0 ? "inf" : "-inf");
    locale_t loc = get_c_locale();
    locale_t old = uselocale(loc);
    /* Try %.15g first: it reads back exactly for most values and is what a
     * human expects to see ("0.1", not "0.10000000000000001"). */
    int len = snprintf(buf, n, "%.15g", v);
    double back = strtod_l(buf, NULL, loc);
    if (back != v)
        len = snprintf(buf, n, "%.17g", v);
    uselocale(old);
    return len;
}
