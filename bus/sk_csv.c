/* sk_csv.c - in-memory CSV reader and whole-file reading (see sk_csv.h). */
#include "sk_csv.h"

#include "sk_buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

void sk_csv_init(sk_csv *c, const char *data, size_t len, const char *filename)
{
    memset(c, 0, sizeof *c);
    c->p = data;
    c->end = data + len;
    c->filename = filename != NULL ? filename : "<csv>";
    c->next_line = 1;
}

void sk_csv_free(sk_csv *c)
{
    free(c->scratch);
    free(c->fields);
    c->scratch = NULL;
    c->fields = NULL;
}

int sk_csv_next(sk_csv *c, sk_error *err)
{
    if (c->p >= c->end)
        return 0;
    /* A record is never longer than the rest of the input. */
    size_t rest = (size_t)(c->end - c->p) + 1;
    if (rest > c->scratch_cap) {
        char *s = realloc(c->scratch, rest);
        if (s == NULL)
            return sk_fail(err, SK_ENOMEM, "%s: out of memory", c->filename);
        c->scratch = s;
        c->scratch_cap = rest;
    }
    c->line = c->next_line;
    c->nfields = 0;
    char *out = c->scratch;
    size_t field_start = 0, w = 0;
    int done = 0;
    while (!done) {
        /* One field. */
        field_start = w;
        if (c->p < c->end && *c->p == '"') {
            c->p++;
            for (;;) {
                if (c->p >= c->end)
                    return sk_fail(err, SK_EINVAL, "%s:%zu: unterminated quoted field", c->filename, c->line);
                if (*c->p == '"') {
                    if (c->p + 1 < c->end && c->p[1] == '"') {
                        out[w++] = '"';
                        c->p += 2;
                        continue;
                    }
                    c->p++;
                    break;
                }
                if (*c->p == '\n')
                    c->next_line++;
                out[w++] = *c->p++;
            }
        } else {
            while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r')
                out[w++] = *c->p++;
        }
        out[w++] = '\0';
        if (c->nfields == c->fields_cap) {
            size_t cap = c->fields_cap ? c->fields_cap * 2 : 16;
            char **f = realloc(c->fields, cap * sizeof *f);
            if (f == NULL)
                return sk_fail(err, SK_ENOMEM, "%s: out of memory", c->filename);
            c->fields = f;
            c->fields_cap = cap;
        }
        c->fields[c->nfields++] = out + field_start;
        if (c->p >= c->end) {
            done = 1;
        } else if (*c->p == ',') {
            c->p++;
        } else if (*c->p == '\r' || *c->p == '\n') {
            if (*c->p == '\r')
                c->p++;
            if (c->p < c->end && *c->p == '\n')
                c->p++;
            c->next_line++;
            done = 1;
        } else {
            return sk_fail(err, SK_EINVAL, "%s:%zu: text after a closing quote", c->filename, c->line);
        }
    }
    return 1;
}

int sk_write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = 0;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

char *sk_read_file(const char *path, size_t *len, size_t max_len, sk_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        sk_fail(err, SK_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        sk_fail(err, SK_EIO, "%s: not a regular file", path);
        return NULL;
    }
    if ((size_t)st.st_size > max_len) {
        fclose(f);
        sk_fail(err, SK_ETOOBIG, "%s: %lld bytes, more than the limit of %zu", path,
                (long long)st.st_size, max_len);
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        fclose(f);
        sk_fail(err, SK_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    size_t n = fread(buf, 1, (size_t)st.st_size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n != (size_t)st.st_size) {
        free(buf);
        sk_fail(err, SK_EIO, "%s: read error", path);
        return NULL;
    }
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

void sk_csv_put_field(sk_buf *b, const char *s)
{
    if (strpbrk(s, ",\"\n\r") == NULL) {
        sk_buf_puts(b, s);
        return;
    }
    sk_buf_append(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"')
            sk_buf_append(b, "\"", 1);
        sk_buf_append(b, s, 1);
    }
    sk_buf_append(b, "\"", 1);
}
