/* sk_buf.h - a growable byte buffer, and JSON text written into one.
 *
 * The CLI's --json output, summary.json and the broker's status replies are
 * all small documents built with these; numbers are printed in the C locale. */
#ifndef SK_BUF_H
#define SK_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sk_buf {
    char *data;   /* NUL-terminated when len > 0 */
    size_t len, cap;
    bool oom;     /* sticky: a failed append sets it and later ones are no-ops */
} sk_buf;

#define SK_BUF_INIT {NULL, 0, 0, false}

void sk_buf_free(sk_buf *b);
void sk_buf_reset(sk_buf *b);
int sk_buf_append(sk_buf *b, const void *p, size_t n);
int sk_buf_puts(sk_buf *b, const char *s);
int sk_buf_printf(sk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand the memory to the caller (who frees it); b becomes empty. */
char *sk_buf_steal(sk_buf *b, size_t *len);

/* JSON pieces.  The writer tracks nothing: callers place commas. */
void sk_json_str(sk_buf *b, const char *s);
void sk_json_strn(sk_buf *b, const char *s, size_t n);
void sk_json_f64(sk_buf *b, double v);    /* NaN/Inf become null */
void sk_json_i64(sk_buf *b, int64_t v);
void sk_json_key(sk_buf *b, const char *key, bool first);  /* ,"key": */

#endif
