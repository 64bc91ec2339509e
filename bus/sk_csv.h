/* sk_csv.h - reading RFC 4180-style CSV text held in memory.
 *
 * Records are returned one at a time as arrays of NUL-terminated fields that
 * point into a scratch buffer owned by the reader (valid until the next
 * call).  Quoted fields may hold commas, quotes ("") and newlines. */
#ifndef SK_CSV_H
#define SK_CSV_H

#include <stddef.h>

#include "sk_error.h"

typedef struct sk_csv {
    const char *p, *end;
    const char *filename;
    size_t line;          /* line where the current record starts (1-based) */
    size_t next_line;
    char *scratch;
    size_t scratch_cap;
    char **fields;
    size_t nfields, fields_cap;
} sk_csv;

void sk_csv_init(sk_csv *c, const char *data, size_t len, const char *filename);
void sk_csv_free(sk_csv *c);
/* 1: a record is in c->fields/c->nfields; 0: end of input; <0: error. */
int sk_csv_next(sk_csv *c, sk_error *err);

/* Append one field to b, quoted as RFC 4180 wants when it holds a comma,
 * quote, CR or LF. */
struct sk_buf;
void sk_csv_put_field(struct sk_buf *b, const char *s);

/* Read a whole file (malloc'ed, NUL-terminated); NULL with err set. */
char *sk_read_file(const char *path, size_t *len, size_t max_len, sk_error *err);
/* Write all n bytes to fd, retrying short writes and EINTR: 0, or -1 with
 * errno (0 after a write that wrote nothing). */
int sk_write_all(int fd, const void *data, size_t n);

#endif
