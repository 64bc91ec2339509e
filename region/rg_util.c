/* rg_util.c - text buffer, PRNG, files, errors and number parsing for the
 * region generator and merger. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "rg_internal.h"

void rg_buf_free(rg_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static int buf_reserve(rg_buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void rg_buf_put(rg_buf *b, const char *s, size_t n)
{
    if (buf_reserve(b, n) < 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void rg_buf_puts(rg_buf *b, const char *s)
{
    rg_buf_put(b, s, strlen(s));
}

void rg_buf_printf(rg_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        rg_buf_put(b, tmp, (size_t)n);
        return;
    }
    if (buf_reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rg_rng_init(rg_rng *r, uint64_t seed, uint64_t a, uint64_t b)
{
    r->s = mix64(mix64(seed + 0x9e3779b97f4a7c15ULL) ^ mix64(a * 0x632be59bd9b4e019ULL + b));
}

uint64_t rg_rng_next(rg_rng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    return mix64(r->s);
}

double rg_rng_unif(rg_rng *r)
{
    return (double)(rg_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

long rg_rng_below(rg_rng *r, long n)
{
    return n <= 1 ? 0 : (long)(rg_rng_next(r) % (uint64_t)n);
}

int rg_fail(sk_region_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int rg_path(char *out, size_t n, const char *dir, const char *name)
{
    int k = snprintf(out, n, "%s/%s", dir, name);
    return k < 0 || (size_t)k >= n ? -1 : 0;
}

int rg_mkdirs(const char *path, sk_region_error *err)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp)
        return rg_fail(err, SK_REGION_EINVAL, "bad directory name '%s'", path);
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] == '/' || tmp[i] == 0) {
            char c = tmp[i];
            tmp[i] = 0;
            if (mkdir(tmp, 0777) < 0 && errno != EEXIST)
                return rg_fail(err, SK_REGION_EIO, "%s: cannot create directory: %s", tmp, strerror(errno));
            tmp[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return rg_fail(err, SK_REGION_EIO, "%s: not a directory", path);
    return 0;
}

int rg_write_file(const char *path, const rg_buf *b, sk_region_error *err)
{
    if (b->oom)
        return rg_fail(err, SK_REGION_ENOMEM, "%s: out of memory", path);
    FILE *f = fopen(path, "wb");
    if (!f)
        return rg_fail(err, SK_REGION_EIO, "%s: cannot write: %s", path, strerror(errno));
    size_t w = b->len ? fwrite(b->p, 1, b->len, f) : 0;
    int bad = w != b->len;
    if (fclose(f) != 0)
        bad = 1;
    if (bad)
        return rg_fail(err, SK_REGION_EIO, "%s: write failed: %s", path, strerror(errno));
    return 0;
}

int rg_read_file(const char *path, char **data, size_t *len, sk_region_error *err)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return rg_fail(err, SK_REGION_EIO, "%s: cannot read: %s", path, strerror(errno));
    rg_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rg_buf_put(&b, chunk, n);
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        rg_buf_free(&b);
        return rg_fail(err, SK_REGION_EIO, "%s: read error", path);
    }
    if (b.oom) {
        rg_buf_free(&b);
        return rg_fail(err, SK_REGION_ENOMEM, "%s: out of memory", path);
    }
    if (!b.p) {
        b.p = calloc(1, 1);
        if (!b.p)
            return rg_fail(err, SK_REGION_ENOMEM, "%s: out of memory", path);
    }
    *data = b.p;
    *len = b.len;
    return 0;
}

int rg_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int rg_locale_enter(rg_locale *l, sk_region_error *err)
{
    l->c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (l->c == (locale_t)0)
        return rg_fail(err, SK_REGION_ENOMEM, "cannot create the C locale");
    l->old = uselocale(l->c);
    return 0;
}

void rg_locale_leave(rg_locale *l)
{
    uselocale(l->old);
    freelocale(l->c);
}

/* Hand-written so that the process locale never matters: the value is
 * built from the digit string and scaled by a power of ten once (exact to
 * ~1 ulp for the short numbers these files hold). */
int rg_parse_double(const char *s, size_t n, double *out)
{
    size_t i = 0;
    int neg = 0, digits = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    double m = 0;
    long exp10 = 0;
    while (i < n && isdigit((unsigned char)s[i])) {
        m = m * 10 + (s[i++] - '0');
        digits++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && isdigit((unsigned char)s[i])) {
            m = m * 10 + (s[i++] - '0');
            exp10--;
            digits++;
        }
    }
    if (!digits)
        return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        int eneg = 0;
        long e = 0;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (i >= n || !isdigit((unsigned char)s[i]))
            return -1;
        while (i < n && isdigit((unsigned char)s[i]) && e < 100000)
            e = e * 10 + (s[i++] - '0');
        exp10 += eneg ? -e : e;
    }
    if (i != n)
        return -1;
    double v = exp10 < 0 ? m / pow(10.0, (double)-exp10) : m * pow(10.0, (double)exp10);
    if (!isfinite(v))
        return -1;
    *out = neg ? -v : v;
    return 0;
}

int rg_parse_long(const char *s, size_t n, long *out)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i >= n)
        return -1;
    long v = 0;
    for (; i < n; i++) {
        if (!isdigit((unsigned char)s[i]) || v > 100000000000000L)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

void rg_lines_init(rg_lines *it, const char *data, size_t len)
{
    it->p = data;
    it->end = data + len;
    it->ls = it->le = NULL;
    it->lineno = 0;
}

int rg_lines_next(rg_lines *it)
{
    if (it->p >= it->end)
        return 0;
    const char *nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
    it->ls = it->p;
    it->le = nl ? nl : it->end;
    it->p = nl ? nl + 1 : it->end;
    if (it->le > it->ls && it->le[-1] == '\r')
        it->le--;
    it->lineno++;
    return 1;
}

int rg_tokens(const char *s, const char *e, rg_tok *t, int max)
{
    int n = 0;
    while (s < e) {
        while (s < e && isspace((unsigned char)*s))
            s++;
        if (s >= e)
            break;
        const char *b = s;
        while (s < e && !isspace((unsigned char)*s))
            s++;
        if (n < max) {
            t[n].s = b;
            t[n].n = (size_t)(s - b);
        }
        n++;
    }
    return n;
}

int rg_tok_eq(const rg_tok *t, const char *lit)
{
    size_t n = strlen(lit);
    return t->n == n && strncasecmp(t->s, lit, n) == 0;
}

long sk_region_counts_elements(const sk_region_counts *c)
{
    return c->traffic_nodes + c->traffic_links + c->water_nodes + c->water_links + c->power_buses +
           c->power_branches + c->power_gens;
}
