/* sk_mp.c - bounded msgpack validation and helpers (see sk_mp.h). */
#include "sk_mp.h"

#include <stdlib.h>
#include <string.h>

const sk_mp_limits sk_mp_header_limits = {16, 4096, 64 * 1024};
const sk_mp_limits sk_mp_result_limits = {16, 64u * 1024 * 1024, 1024u * 1024 * 1024};

typedef struct walker {
    const unsigned char *p, *end;
    const sk_mp_limits *lim;
    size_t objects;
    sk_error *err;
} walker;

static int need(walker *w, size_t n)
{
    if ((size_t)(w->end - w->p) < n)
        return sk_fail(w->err, SK_EPROTO, "msgpack: truncated input (%zu bytes needed, %zu left)", n, (size_t)(w->end - w->p));
    return 0;
}

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Read a big-endian length of n bytes after the type byte. */
static int read_len(walker *w, int n, uint64_t *out)
{
    if (need(w, (size_t)n) < 0)
        return -1;
    *out = be(w->p, n);
    w->p += n;
    return 0;
}

static int skip_bytes(walker *w, uint64_t n)
{
    if (n > w->lim->max_str)
        return sk_fail(w->err, SK_ETOOBIG, "msgpack: string/bin of %llu bytes exceeds limit %zu",
                       (unsigned long long)n, w->lim->max_str);
    if ((uint64_t)(w->end - w->p) < n)
        return sk_fail(w->err, SK_EPROTO, "msgpack: truncated string/bin (%llu bytes announced)",
                       (unsigned long long)n);
    w->p += n;
    return 0;
}

static int walk(walker *w, size_t depth);

static int walk_children(walker *w, uint64_t count, size_t depth)
{
    /* Every element takes at least one byte, so a count larger than what is
     * left is a lie; checking it here keeps msgpack-c from allocating it. */
    if (count > (uint64_t)(w->end - w->p))
        return sk_fail(w->err, SK_EPROTO, "msgpack: container announces %llu elements, %zu bytes left",
                       (unsigned long long)count, (size_t)(w->end - w->p));
    if (depth + 1 > w->lim->max_depth)
        return sk_fail(w->err, SK_ETOOBIG, "msgpack: nesting deeper than %zu", w->lim->max_depth);
    for (uint64_t i = 0; i < count; i++)
        if (walk(w, depth + 1) < 0)
            return -1;
    return 0;
}

static int walk(walker *w, size_t depth)
{
    uint64_t n;
    if (++w->objects > w->lim->max_objects)
        return sk_fail(w->err, SK_ETOOBIG, "msgpack: more than %zu objects", w->lim->max_objects);
    if (need(w, 1) < 0)
        return -1;
    unsigned char t = *w->p++;
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
        return 0;
    if ((t & 0xf0) == 0x80)
        return walk_children(w, 2u * (t & 0x0f), depth);
    if ((t & 0xf0) == 0x90)
        return walk_children(w, t & 0x0f, depth);
    if ((t & 0xe0) == 0xa0)
        return skip_bytes(w, t & 0x1f);
    switch (t) {
    case 0xcc: case 0xd0: return need(w, 1) < 0 ? -1 : (w->p += 1, 0);
    case 0xcd: case 0xd1: return need(w, 2) < 0 ? -1 : (w->p += 2, 0);
    case 0xce: case 0xd2: case 0xca: return need(w, 4) < 0 ? -1 : (w->p += 4, 0);
    case 0xcf: case 0xd3: case 0xcb: return need(w, 8) < 0 ? -1 : (w->p += 8, 0);
    case 0xd9: case 0xc4: return read_len(w, 1, &n) < 0 ? -1 : skip_bytes(w, n);
    case 0xda: case 0xc5: return read_len(w, 2, &n) < 0 ? -1 : skip_bytes(w, n);
    case 0xdb: case 0xc6: return read_len(w, 4, &n) < 0 ? -1 : skip_bytes(w, n);
    case 0xdc: return read_len(w, 2, &n) < 0 ? -1 : walk_children(w, n, depth);
    case 0xdd: return read_len(w, 4, &n) < 0 ? -1 : walk_children(w, n, depth);
    case 0xde: return read_len(w, 2, &n) < 0 ? -1 : walk_children(w, 2 * n, depth);
    case 0xdf: return read_len(w, 4, &n) < 0 ? -1 : walk_children(w, 2 * n, depth);
    default:
        /* ext types and 0xc1 (never used) carry nothing samskap reads. */
        return sk_fail(w->err, SK_EPROTO, "msgpack: unsupported type byte 0x%02x", t);
    }
}

int sk_mp_validate(const char *data, size_t len, const sk_mp_limits *lim, sk_error *err)
{
    walker w = {(const unsigned char *)data, (const unsigned char *)data + len, lim, 0, err};
    if (len == 0)
        return sk_fail(err, SK_EPROTO, "msgpack: empty frame");
    if (walk(&w, 0) < 0) {
        if (err != NULL && err->code == 0)
            err->code = SK_EPROTO;
        return err != NULL ? err->code : SK_EPROTO;
    }
    if (w.p != w.end)
        return sk_fail(err, SK_EPROTO, "msgpack: %zu trailing bytes after the object",
                       (size_t)(w.end - w.p));
    return 0;
}

int sk_mp_object_len(const char *data, size_t len, const sk_mp_limits *lim, size_t *objlen, sk_error *err)
{
    walker w = {(const unsigned char *)data, (const unsigned char *)data + len, lim, 0, err};
    if (len == 0)
        return sk_fail(err, SK_EPROTO, "msgpack: no object (end of input)");
    if (walk(&w, 0) < 0) {
        if (err != NULL && err->code == 0)
            err->code = SK_EPROTO;
        return err != NULL ? err->code : SK_EPROTO;
    }
    *objlen = (size_t)(w.p - (const unsigned char *)data);
    return 0;
}

int sk_mp_unpack(const char *data, size_t len, const sk_mp_limits *lim,
                 msgpack_unpacked *out, sk_error *err)
{
    int rc = sk_mp_validate(data, len, lim, err);
    if (rc < 0)
        return rc;
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(out, data, len, &off);
    if (ur != MSGPACK_UNPACK_SUCCESS || off != len)
        return sk_fail(err, SK_EPROTO, "msgpack: cannot unpack (code %d)", (int)ur);
    return 0;
}

bool sk_mp_is_str(const msgpack_object *o)
{
    return o != NULL && o->type == MSGPACK_OBJECT_STR;
}

bool sk_mp_streq(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return sk_mp_is_str(o) && o->via.str.size == n && memcmp(o->via.str.ptr, s, n) == 0;
}

const msgpack_object *sk_mp_get(const msgpack_object *map, const char *key)
{
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (sk_mp_streq(&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    return NULL;
}

int sk_mp_i64(const msgpack_object *o, int64_t *out)
{
    if (o == NULL)
        return -1;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return -1;
        *out = (int64_t)o->via.u64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return 0;
    }
    return -1;
}

int sk_mp_f64(const msgpack_object *o, double *out)
{
    int64_t i;
    if (o == NULL)
        return -1;
    if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32) {
        *out = o->via.f64;
        return 0;
    }
    if (sk_mp_i64(o, &i) == 0) {
        *out = (double)i;
        return 0;
    }
    return -1;
}

int sk_mp_bool(const msgpack_object *o, bool *out)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_BOOLEAN)
        return -1;
    *out = o->via.boolean;
    return 0;
}

char *sk_mp_strdup(const msgpack_object *o)
{
    if (!sk_mp_is_str(o) || memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL)
        return NULL;
    char *s = malloc(o->via.str.size + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, o->via.str.ptr, o->via.str.size);
    s[o->via.str.size] = '\0';
    return s;
}

int sk_mp_strcpy(const msgpack_object *o, char *buf, size_t n)
{
    if (!sk_mp_is_str(o) || o->via.str.size >= n ||
        memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL)
        return -1;
    memcpy(buf, o->via.str.ptr, o->via.str.size);
    buf[o->via.str.size] = '\0';
    return 0;
}

int sk_mp_pack_cstr(msgpack_packer *pk, const char *s)
{
    if (s == NULL)
        s = "";
    return msgpack_pack_str_with_body(pk, s, strlen(s));
}

int sk_mp_pack_kstr(msgpack_packer *pk, const char *key, const char *val)
{
    return sk_mp_pack_cstr(pk, key) | sk_mp_pack_cstr(pk, val);
}

int sk_mp_pack_ki64(msgpack_packer *pk, const char *key, int64_t val)
{
    return sk_mp_pack_cstr(pk, key) | msgpack_pack_int64(pk, val);
}

int sk_mp_pack_kf64(msgpack_packer *pk, const char *key, double val)
{
    return sk_mp_pack_cstr(pk, key) | msgpack_pack_double(pk, val);
}

int sk_mp_pack_kbool(msgpack_packer *pk, const char *key, bool val)
{
    return sk_mp_pack_cstr(pk, key) | (val ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
}
