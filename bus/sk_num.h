/* sk_num.h - numbers in the C locale, whatever LANG says.
 *
 * A Norwegian server runs with decimal commas; every number samskap reads
 * or writes in text (CSV, JSON, params) goes through these. */
#ifndef SK_NUM_H
#define SK_NUM_H

#include <stddef.h>
#include <stdint.h>

/* Parse a whole string as a double / int64; 0 on success, -1 otherwise.
 * Accepts inf/nan spellings of strtod. */
int sk_parse_f64(const char *s, double *out);
int sk_parse_i64(const char *s, int64_t *out);
/* Shortest text that reads back to the same double ("%.17g" style, with a
 * dot); writes at most n bytes, returns the length. */
int sk_fmt_f64(char *buf, size_t n, double v);

#endif
