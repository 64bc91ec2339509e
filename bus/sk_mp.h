/* sk_mp.h - bounded msgpack decoding and small packing helpers.
 *
 * msgpack-c trusts the counts it reads: a 5-byte array header can make it
 * reserve gigabytes.  Everything samskap decodes from the network or disk
 * first passes sk_mp_validate, which walks the bytes without allocating and
 * checks that every count fits in the remaining input, that nesting and the
 * number of objects stay within limits, and that nothing is truncated.  Only
 * then is msgpack_unpack_next allowed to build objects. */
#ifndef SK_MP_H
#define SK_MP_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sk_error.h"

typedef struct sk_mp_limits {
    size_t max_depth;     /* nesting of arrays/maps */
    size_t max_objects;   /* total objects in the document */
    size_t max_str;       /* longest str or bin */
} sk_mp_limits;

/* Limits for headers (small) and for results (large bins, many ids). */
extern const sk_mp_limits sk_mp_header_limits;
extern const sk_mp_limits sk_mp_result_limits;

/* One complete object must fill data[0..len) exactly. */
int sk_mp_validate(const char *data, size_t len, const sk_mp_limits *lim, sk_error *err);
/* The length of the one object at the start of data (more may follow),
 * checked with the same limits as sk_mp_validate. */
int sk_mp_object_len(const char *data, size_t len, const sk_mp_limits *lim, size_t *objlen, sk_error *err);
/* Validate, then unpack into `out` (msgpack_unpacked_init'ed by the caller,
 * msgpack_unpacked_destroy'ed by the caller whatever the outcome). */
int sk_mp_unpack(const char *data, size_t len, const sk_mp_limits *lim,
                 msgpack_unpacked *out, sk_error *err);

/* Map lookup by string key; NULL when absent or o is not a map. */
const msgpack_object *sk_mp_get(const msgpack_object *map, const char *key);
bool sk_mp_is_str(const msgpack_object *o);
/* Typed reads: 0 on success, -1 on a wrong type or range. */
int sk_mp_i64(const msgpack_object *o, int64_t *out);
int sk_mp_f64(const msgpack_object *o, double *out);   /* ints convert */
int sk_mp_bool(const msgpack_object *o, bool *out);
/* Copy a str into a fresh NUL-terminated string (malloc) or NULL. Rejects
 * embedded NULs so ids stay C strings. */
char *sk_mp_strdup(const msgpack_object *o);
/* Copy a str into buf (NUL-terminated); -1 if not a str, too long or has NUL. */
int sk_mp_strcpy(const msgpack_object *o, char *buf, size_t n);
/* Compare a str object to a C string. */
bool sk_mp_streq(const msgpack_object *o, const char *s);

/* Packing. */
int sk_mp_pack_cstr(msgpack_packer *pk, const char *s);
int sk_mp_pack_kstr(msgpack_packer *pk, const char *key, const char *val);
int sk_mp_pack_ki64(msgpack_packer *pk, const char *key, int64_t val);
int sk_mp_pack_kf64(msgpack_packer *pk, const char *key, double val);
int sk_mp_pack_kbool(msgpack_packer *pk, const char *key, bool val);

#endif
