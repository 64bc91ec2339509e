/* sk_buf.c - growable buffer and JSON writing helpers (see sk_buf.h). */
#include "sk_buf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_num.h"

void sk_buf_free(sk_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = false;
}

void sk_buf_reset(sk_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

static int reserve(sk_buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (d == NULL) {
        b->oom = true;
        return -1;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

int sk_buf_append(sk_buf *b, const void *p, size_t n)
{
    if (reserve(b, n) < 0)
        return -1;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int sk_buf_puts(sk_buf *b, const char *s)
{
    return sk_buf_append(b, s, strlen(s));
}

int sk_buf_printf(sk_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(b, (size_t)n) < 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *sk_buf_steal(sk_buf *b, size_t *len)
{
    char *d = b->data;
    if (len != NULL)
        *len = b->len;
    if (d == NULL && !b->oom)
        d = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = false;
    return d;
}

void sk_json_strn(sk_buf *b, const char *s, size_t n)
{
    sk_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': sk_buf_append(b, "\\\"", 2); break;
        case '\\': sk_buf_append(b, "\\\\", 2); break;
        case '\n': sk_buf_append(b, "\\n", 2); break;
        case '\r': sk_buf_append(b, "\\r", 2); break;
        case '\t': sk_buf_append(b, "\\t", 2); break;
        default:
            if (c < 0x20)
                sk_buf_printf(b, "\\u%04x", c);
            else
                sk_buf_append(b, &s[i], 1);
        }
    }
    sk_buf_append(b, "\"", 1);
}

void sk_json_str(sk_buf *b, const char *s)
{
    if (s == NULL)
        sk_buf_puts(b, "null");
    else
        sk_json_strn(b, s, strlen(s));
}

void sk_json_f64(sk_buf *b, double v)
{
    char tmp[40];
    if (!isfinite(v)) {
        sk_buf_puts(b, "null");
        return;
    }
    sk_fmt_f64(tmp, sizeof tmp, v);
    sk_buf_puts(b, tmp);
}

void sk_json_i64(sk_buf *b, int64_t v)
{
    sk_buf_printf(b, "%lld", (long long)v);
}

void sk_json_key(sk_buf *b, const char *key, bool first)
{
    if (!first)
        sk_buf_append(b, ",", 1);
    sk_json_str(b, key);
    sk_buf_append(b, ":", 1);
}
