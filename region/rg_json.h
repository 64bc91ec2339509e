/* rg_json.h - a small bounded JSON reader for the area tools (GeoJSON).
 *
 * RFC 8259 JSON into a flat array of values: no recursion limit surprises
 * (depth is bounded), no unbounded allocation (input bytes, value count and
 * string length are bounded), numbers parsed in the C locale whatever the
 * process locale, strings checked as UTF-8 and unescaped (\uXXXX with
 * surrogate pairs).  Errors read "NAME:LINE:COL: reason", where COL counts
 * characters (UTF-8 code points) from 1.  Only libc. */
#ifndef RG_JSON_H
#define RG_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "sk_region.h"

enum { RG_JNULL, RG_JFALSE, RG_JTRUE, RG_JNUM, RG_JSTR, RG_JARR, RG_JOBJ };

#define RG_JNONE UINT32_MAX

typedef struct rg_jval {
    uint8_t type;
    uint32_t off;          /* byte offset of the value in the text (rg_json_where) */
    uint32_t next;         /* next sibling in the parent array/object, or RG_JNONE */
    uint32_t key, keylen;  /* member name (offset into rg_json.str) when the parent is an object */
    union {
        double num;
        struct { uint32_t off, len; } str;     /* into rg_json.str, NUL-terminated there */
        struct { uint32_t first, n; } kids;    /* first child, count */
    } u;
} rg_jval;

typedef struct rg_json_limits {
    size_t max_bytes;      /* input size (default 256 MiB; at most 4 GiB - 1) */
    size_t max_values;     /* values in the document (default 20 million) */
    size_t max_string;     /* bytes of one decoded string or key (default 1 MiB) */
    int max_depth;         /* nesting of arrays and objects (default 64) */
} rg_json_limits;

typedef struct rg_json {
    rg_jval *v;            /* v[0] is the root */
    size_t n, cap;
    char *str;             /* decoded strings and keys */
    size_t slen, scap;
} rg_json;

void rg_json_limits_default(rg_json_limits *lim);

/* Parse a whole document (one value, surrounded by optional whitespace; a
 * UTF-8 byte order mark is skipped).  name is used in messages.  lim may
 * be NULL for the defaults.  On error *out is empty. */
int rg_json_parse(const char *text, size_t len, const char *name, const rg_json_limits *lim, rg_json *out,
                  sk_region_error *err);
void rg_json_free(rg_json *j);

/* Member of an object (the first one when a name repeats), or NULL. */
const rg_jval *rg_json_get(const rg_json *j, const rg_jval *obj, const char *key);
/* First child of an array or object and the following sibling, or NULL. */
const rg_jval *rg_json_first(const rg_json *j, const rg_jval *v);
const rg_jval *rg_json_next(const rg_json *j, const rg_jval *v);
/* Decoded string (NUL-terminated; may hold NULs inside, see len). */
const char *rg_json_str(const rg_json *j, const rg_jval *v, size_t *len);
/* Is v a string equal to s? */
int rg_json_is(const rg_json *j, const rg_jval *v, const char *s);
const char *rg_json_type_name(int type);

/* Line and column (1-based, columns in code points) of byte offset off. */
void rg_json_where(const char *text, size_t len, size_t off, long *line, long *col);

#endif
