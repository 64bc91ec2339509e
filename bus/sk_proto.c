/* sk_proto.c - encoding, decoding, sending and receiving wire messages
 * (see sk_proto.h and docs/protocol.md). */
#include "sk_proto.h"

#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_hash.h"
#include "sk_mp.h"

static const char *const type_names[] = {
    "?", "submit", "accepted", "job", "progress", "result", "failed", "cancel",
    "ready", "heartbeat", "disconnect", "status", "jobs", "reply", "wait", "error", "event", "history_put", "history_get",
    "data_put", "data_get", "data_list", "graph",
};
_Static_assert(sizeof type_names / sizeof type_names[0] == SK_MSG_TYPE_MAX + 1, "a name for every message type");

const char *sk_msg_type_name(int type)
{
    if (type < 1 || type > SK_MSG_TYPE_MAX)
        return "?";
    return type_names[type];
}

void sk_header_init(sk_header *h, int type)
{
    /* Field by field rather than one memset: a header is ~2.5 KB, mostly
     * string buffers that only need their first byte cleared, and the
     * broker makes several per job. */
    h->type = type;
    h->job[0] = h->service[0] = h->tenant[0] = h->idem[0] = h->client[0] = '\0';
    h->req = h->attempt = h->deadline_ms = h->code = h->capacity = 0;
    h->no_ack = h->result_ref = false;
    h->reason[0] = h->text[0] = h->node_name[0] = '\0';
    h->progress = -1;
    h->params = NULL;
    h->nbodies = 0;
    h->nservices = h->ntenants = h->nheld = h->nhashes = h->ndeps = 0;
    h->services = NULL;
    h->tenants = NULL;
    h->hashes = NULL;
    h->held = NULL;
    h->deps = NULL;
    h->datasets = NULL;
    h->ndatasets = 0;
    h->offset = h->total = 0;
    h->name[0] = '\0';
    h->refs = NULL;
    h->nrefs = 0;
}

void sk_header_clear(sk_header *h)
{
    sk_params_free(h->params);
    free(h->services);
    free(h->tenants);
    free(h->held);
    free(h->hashes);
    h->hashes = NULL;
    h->nhashes = 0;
    free(h->deps);
    h->deps = NULL;
    h->ndeps = 0;
    free(h->datasets);
    h->datasets = NULL;
    h->ndatasets = 0;
    free(h->refs);
    h->refs = NULL;
    h->nrefs = 0;
    h->params = NULL;
    h->services = NULL;
    h->tenants = NULL;
    h->held = NULL;
    h->nservices = h->ntenants = h->nheld = 0;
}

/* ---- encoding ---- */

/* A msgpack writer into a caller's buffer, moving to the heap only for an
 * unusually large header, so that sending costs no allocation.  Headers
 * are written on every hop, and writing the bytes directly costs a third
 * of what msgpack-c's packer does through its write callback.  The
 * encodings are the smallest that fit, as msgpack-c chooses them. */
typedef struct mpw {
    unsigned char *data;
    size_t len, cap;
    bool heap, failed;
} mpw;

static bool w_room(mpw *w, size_t n)
{
    if (w->len + n <= w->cap)
        return true;
    if (w->failed)
        return false;
    size_t cap = (w->len + n) * 2;
    unsigned char *d = w->heap ? realloc(w->data, cap) : malloc(cap);
    if (d == NULL) {
        w->failed = true;
        return false;
    }
    if (!w->heap)
        memcpy(d, w->data, w->len);
    w->data = d;
    w->cap = cap;
    w->heap = true;
    return true;
}

static void w_byte(mpw *w, unsigned char c)
{
    if (w_room(w, 1))
        w->data[w->len++] = c;
}

/* A type byte and an n-byte big-endian value. */
static void w_be(mpw *w, unsigned char tag, uint64_t v, int n)
{
    if (!w_room(w, 1 + (size_t)n))
        return;
    w->data[w->len++] = tag;
    for (int i = n - 1; i >= 0; i--)
        w->data[w->len++] = (unsigned char)(v >> (8 * i));
}

static void w_map(mpw *w, size_t n)
{
    if (n < 16) w_byte(w, (unsigned char)(0x80 | n));
    else if (n < 65536) w_be(w, 0xde, n, 2);
    else w_be(w, 0xdf, n, 4);
}

static void w_array(mpw *w, size_t n)
{
    if (n < 16) w_byte(w, (unsigned char)(0x90 | n));
    else if (n < 65536) w_be(w, 0xdc, n, 2);
    else w_be(w, 0xdd, n, 4);
}

static void w_str(mpw *w, const char *s, size_t n)
{
    if (n < 32) w_byte(w, (unsigned char)(0xa0 | n));
    else if (n < 256) w_be(w, 0xd9, n, 1);
    else if (n < 65536) w_be(w, 0xda, n, 2);
    else w_be(w, 0xdb, n, 4);
    if (w_room(w, n)) {
        memcpy(w->data + w->len, s, n);
        w->len += n;
    }
}

static void w_cstr(mpw *w, const char *s)
{
    w_str(w, s ? s : "", s ? strlen(s) : 0);
}

/* Keys are literals: sizeof instead of strlen. */
#define w_key(w, lit) w_str((w), (lit), sizeof(lit) - 1)

static void w_i64(mpw *w, int64_t v)
{
    if (v >= -32 && v < 128) w_byte(w, (unsigned char)(int8_t)v);
    else if (v >= 0) {
        uint64_t u = (uint64_t)v;
        if (u < 256) w_be(w, 0xcc, u, 1);
        else if (u < 65536) w_be(w, 0xcd, u, 2);
        else if (u < 4294967296u) w_be(w, 0xce, u, 4);
        else w_be(w, 0xcf, u, 8);
    } else if (v >= -128) w_be(w, 0xd0, (uint64_t)v & 0xff, 1);
    else if (v >= -32768) w_be(w, 0xd1, (uint64_t)v & 0xffff, 2);
    else if (v >= -2147483648LL) w_be(w, 0xd2, (uint64_t)v & 0xffffffffu, 4);
    else w_be(w, 0xd3, (uint64_t)v, 8);
}

static void w_f64(mpw *w, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    w_be(w, 0xcb, u, 8);
}

#define w_kstr(w, lit, s) (w_key(w, lit), w_cstr(w, s))
#define w_ki64(w, lit, v) (w_key(w, lit), w_i64(w, v))
#define w_kf64(w, lit, v) (w_key(w, lit), w_f64(w, v))

static void pack_params(mpw *w, const sk_params *p)
{
    w_map(w, p->n);
    for (size_t i = 0; i < p->n; i++) {
        const sk_param *it = &p->items[i];
        w_cstr(w, it->key);
        switch (it->type) {
        case SK_PARAM_STR: w_cstr(w, it->s); break;
        case SK_PARAM_INT: w_i64(w, it->i); break;
        case SK_PARAM_F64: w_f64(w, it->d); break;
        case SK_PARAM_BOOL: w_byte(w, it->i ? 0xc3 : 0xc2); break;
        }
    }
}

static void header_pack_n(const sk_header *h, mpw *w, size_t nbodies);

static void header_pack(const sk_header *h, mpw *w)
{
    header_pack_n(h, w, h->nbodies);
}

int sk_header_encode(const sk_header *h, char **out, size_t *len, sk_error *err)
{
    mpw w = {malloc(512), 0, 512, true, false};
    if (w.data == NULL)
        return sk_fail(err, SK_ENOMEM, "header: out of memory");
    header_pack(h, &w);
    if (w.failed) {
        free(w.data);
        return sk_fail(err, SK_ENOMEM, "header: out of memory");
    }
    *out = (char *)w.data;
    *len = w.len;
    return 0;
}

/* nbodies: the body count to announce; names past h->nbodies are "". */
static void header_pack_n(const sk_header *h, mpw *w, size_t nbodies)
{
    size_t n = 1;
    /* Count first: msgpack maps carry their size up front. */
    n += h->job[0] != 0;
    n += h->service[0] != 0;
    n += h->tenant[0] != 0;
    n += h->idem[0] != 0;
    n += h->client[0] != 0;
    n += h->req != 0;
    n += h->attempt != 0;
    n += h->deadline_ms != 0;
    n += h->no_ack;
    n += h->result_ref;
    n += h->code != 0;
    n += h->reason[0] != 0;
    n += h->progress >= 0;
    n += h->text[0] != 0;
    n += h->params != NULL;
    n += nbodies > 0;
    n += h->capacity != 0;
    n += h->nservices > 0;
    n += h->ntenants > 0;
    n += h->nheld > 0;
    n += h->nhashes > 0;
    n += h->ndeps > 0;
    n += h->ndatasets > 0;
    n += h->offset != 0;
    n += h->total != 0;
    n += h->node_name[0] != 0;
    n += h->name[0] != 0;
    n += h->nrefs > 0;
    w_map(w, n);
    w_ki64(w, "t", h->type);
    if (h->job[0]) w_kstr(w, "job", h->job);
    if (h->service[0]) w_kstr(w, "svc", h->service);
    if (h->tenant[0]) w_kstr(w, "tenant", h->tenant);
    if (h->idem[0]) w_kstr(w, "idem", h->idem);
    if (h->client[0]) w_kstr(w, "client", h->client);
    if (h->req != 0) w_ki64(w, "req", h->req);
    if (h->attempt != 0) w_ki64(w, "attempt", h->attempt);
    if (h->deadline_ms != 0) w_ki64(w, "deadline_ms", h->deadline_ms);
    if (h->no_ack) w_key(w, "no_ack"), w_byte(w, 0xc3);
    if (h->result_ref) w_key(w, "result_ref"), w_byte(w, 0xc3);
    if (h->code != 0) w_ki64(w, "code", h->code);
    if (h->reason[0]) w_kstr(w, "reason", h->reason);
    if (h->progress >= 0) w_kf64(w, "progress", h->progress);
    if (h->text[0]) w_kstr(w, "text", h->text);
    if (h->params != NULL) {
        w_key(w, "params");
        pack_params(w, h->params);
    }
    if (nbodies > 0) {
        w_key(w, "bodies");
        w_array(w, nbodies);
        for (size_t i = 0; i < nbodies; i++)
            w_cstr(w, i < h->nbodies ? h->body_names[i] : "");
    }
    if (h->capacity != 0) w_ki64(w, "capacity", h->capacity);
    if (h->nservices > 0) {
        w_key(w, "services");
        w_array(w, h->nservices);
        for (size_t i = 0; i < h->nservices; i++)
            w_cstr(w, h->services[i]);
    }
    if (h->ntenants > 0) {
        w_key(w, "tenants");
        w_array(w, h->ntenants);
        for (size_t i = 0; i < h->ntenants; i++)
            w_cstr(w, h->tenants[i]);
    }
    if (h->nhashes > 0) {
        w_key(w, "hashes");
        w_array(w, h->nhashes);
        for (size_t i = 0; i < h->nhashes; i++)
            w_cstr(w, h->hashes[i]);
    }
    if (h->ndeps > 0) {
        w_key(w, "deps");
        w_array(w, h->ndeps);
        for (size_t i = 0; i < h->ndeps; i++)
            w_cstr(w, h->deps[i]);
    }
    if (h->ndatasets > 0) {
        w_key(w, "datasets");
        w_array(w, h->ndatasets);
        for (size_t i = 0; i < h->ndatasets; i++)
            w_cstr(w, h->datasets[i]);
    }
    if (h->offset != 0) w_ki64(w, "offset", h->offset);
    if (h->total != 0) w_ki64(w, "total", h->total);
    if (h->nheld > 0) {
        w_key(w, "held");
        w_array(w, h->nheld);
        for (size_t i = 0; i < h->nheld; i++) {
            const sk_held_job *j = &h->held[i];
            w_map(w, 6);
            w_kstr(w, "job", j->job);
            w_ki64(w, "attempt", j->attempt);
            w_kstr(w, "client", j->client);
            w_ki64(w, "req", j->req);
            w_kstr(w, "svc", j->service);
            w_kstr(w, "tenant", j->tenant);
        }
    }
    if (h->node_name[0]) w_kstr(w, "node", h->node_name);
    if (h->name[0]) w_kstr(w, "name", h->name);
    if (h->nrefs > 0) {
        w_key(w, "refs");
        w_array(w, h->nrefs);
        for (size_t i = 0; i < h->nrefs; i++) {
            w_array(w, 3);
            w_cstr(w, h->refs[i].input);
            w_cstr(w, h->refs[i].hash);
            w_i64(w, h->refs[i].size);
        }
    }
}

/* ---- decoding ---- */

static int get_str(const msgpack_object *root, const char *key, char *buf, size_t n, sk_error *err)
{
    const msgpack_object *o = sk_mp_get(root, key);
    if (o == NULL)
        return 0;
    if (sk_mp_strcpy(o, buf, n) < 0)
        return sk_fail(err, SK_EPROTO, "header: field '%s' must be a string shorter than %zu bytes", key, n);
    return 0;
}

static int get_i64(const msgpack_object *root, const char *key, int64_t *out, sk_error *err)
{
    const msgpack_object *o = sk_mp_get(root, key);
    if (o == NULL)
        return 0;
    if (sk_mp_i64(o, out) < 0)
        return sk_fail(err, SK_EPROTO, "header: field '%s' must be an integer", key);
    return 0;
}

static int decode_params(const msgpack_object *o, sk_header *h, sk_error *err)
{
    if (o == NULL)
        return 0;
    if (o->type != MSGPACK_OBJECT_MAP)
        return sk_fail(err, SK_EPROTO, "header: 'params' must be a map");
    h->params = sk_params_new();
    if (h->params == NULL)
        return sk_fail(err, SK_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
        char key[129];
        int64_t iv;
        double dv;
        bool bv;
        int rc;
        if (sk_mp_strcpy(k, key, sizeof key) < 0 || key[0] == '\0')
            return sk_fail(err, SK_EPROTO, "header: param key %u must be a non-empty string under 129 bytes", i);
        if (v->type == MSGPACK_OBJECT_STR) {
            char *s = sk_mp_strdup(v);
            if (s == NULL)
                return sk_fail(err, SK_EPROTO, "header: param '%s' has a NUL byte", key);
            rc = sk_params_set_str(h->params, key, s);
            free(s);
        } else if (sk_mp_bool(v, &bv) == 0) {
            rc = sk_params_set_bool(h->params, key, bv);
        } else if (sk_mp_i64(v, &iv) == 0) {
            rc = sk_params_set_int(h->params, key, iv);
        } else if (sk_mp_f64(v, &dv) == 0) {
            rc = sk_params_set_f64(h->params, key, dv);
        } else {
            return sk_fail(err, SK_EPROTO, "header: param '%s' must be a string, number or boolean", key);
        }
        if (rc < 0)
            return sk_fail(err, SK_ENOMEM, "out of memory");
    }
    return 0;
}

static int decode_names(const msgpack_object *o, const char *key, char (**out)[SK_ID_MAX], size_t *n,
                        size_t max, sk_error *err)
{
    if (o == NULL)
        return 0;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > max)
        return sk_fail(err, SK_EPROTO, "header: '%s' must be an array of at most %zu strings", key, max);
    *out = calloc(o->via.array.size ? o->via.array.size : 1, SK_ID_MAX);
    if (*out == NULL)
        return sk_fail(err, SK_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < o->via.array.size; i++)
        if (sk_mp_strcpy(&o->via.array.ptr[i], (*out)[i], SK_ID_MAX) < 0)
            return sk_fail(err, SK_EPROTO, "header: '%s'[%u] must be a string under %d bytes", key, i, SK_ID_MAX);
    *n = o->via.array.size;
    return 0;
}

/* refs: [[input, "sha256:HEX", size], ...] */
static int decode_refs(const msgpack_object *o, sk_header *h, sk_error *err)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > SK_MAX_BODIES)
        return sk_fail(err, SK_EPROTO, "header: 'refs' must be an array of at most %d references", SK_MAX_BODIES);
    h->refs = calloc(o->via.array.size ? o->via.array.size : 1, sizeof *h->refs);
    if (h->refs == NULL)
        return sk_fail(err, SK_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *r = &o->via.array.ptr[i];
        sk_data_ref *d = &h->refs[i];
        if (r->type != MSGPACK_OBJECT_ARRAY || r->via.array.size != 3 ||
            sk_mp_strcpy(&r->via.array.ptr[0], d->input, sizeof d->input) < 0 || d->input[0] == '\0' ||
            sk_mp_strcpy(&r->via.array.ptr[1], d->hash, sizeof d->hash) < 0 || !sk_hash_valid(d->hash) ||
            sk_mp_i64(&r->via.array.ptr[2], &d->size) < 0 || d->size < 0)
            return sk_fail(err, SK_EPROTO, "header: 'refs'[%u] must be [input name, \"sha256:<64 hex>\", size >= 0]",
                           i);
    }
    h->nrefs = o->via.array.size;
    return 0;
}

static int decode_held(const msgpack_object *o, sk_header *h, sk_error *err)
{
    if (o == NULL)
        return 0;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > 65536)
        return sk_fail(err, SK_EPROTO, "header: 'held' must be an array of at most 65536 jobs");
    h->held = calloc(o->via.array.size ? o->via.array.size : 1, sizeof *h->held);
    if (h->held == NULL)
        return sk_fail(err, SK_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *j = &o->via.array.ptr[i];
        sk_held_job *hj = &h->held[i];
        if (j->type != MSGPACK_OBJECT_MAP || get_str(j, "job", hj->job, sizeof hj->job, err) < 0 ||
            get_i64(j, "attempt", &hj->attempt, err) < 0 ||
            get_str(j, "client", hj->client, sizeof hj->client, err) < 0 ||
            get_i64(j, "req", &hj->req, err) < 0 ||
            get_str(j, "svc", hj->service, sizeof hj->service, err) < 0 ||
            get_str(j, "tenant", hj->tenant, sizeof hj->tenant, err) < 0 || hj->job[0] == '\0')
            return sk_fail(err, SK_EPROTO, "header: 'held'[%u] must be a map with job, attempt, client, req, svc, tenant", i);
    }
    h->nheld = o->via.array.size;
    return 0;
}

/* Headers are decoded on every hop: a zone per thread, cleared after each
 * use, saves a malloc/free pair per message. */
static __thread msgpack_zone header_zone;
static __thread bool header_zone_ready;

static void zone_release(void)
{
    msgpack_zone_clear(&header_zone);
}

/* ---- decoding, fast path ----
 *
 * Most headers on the bus are flat: scalars, body names and scalar params
 * (submit, job, result, accepted, heartbeat).  They are read here straight
 * from the bytes, in one bounded pass, without validating, unpacking into a
 * zone and then walking the objects.  Anything else (other arrays, nested
 * values, a wrong type, a truncated frame, a limit reached) makes the fast
 * path give up, and the general decoder below reads the frame again and
 * gives the precise error: both must agree on every frame the fast path
 * accepts, which tests/fuzz/fuzz_wire_header.c checks. */

typedef struct mpr {
    const unsigned char *p, *end;
    size_t objects;
} mpr;

/* Reads return false when the next object is not of the kind asked for
 * (nothing consumed then) or is truncated. */
static bool r_left(const mpr *r, size_t n)
{
    return (size_t)(r->end - r->p) >= n;
}

static uint64_t r_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static bool r_str(mpr *r, const char **s, size_t *n)
{
    if (!r_left(r, 1))
        return false;
    unsigned char t = r->p[0];
    int hl;
    size_t len;
    if ((t & 0xe0) == 0xa0) hl = 1, len = t & 0x1f;
    else if (t == 0xd9 && r_left(r, 2)) hl = 2, len = r->p[1];
    else if (t == 0xda && r_left(r, 3)) hl = 3, len = (size_t)r_be(r->p + 1, 2);
    else if (t == 0xdb && r_left(r, 5)) hl = 5, len = (size_t)r_be(r->p + 1, 4);
    else return false;
    if (len > sk_mp_header_limits.max_str || !r_left(r, (size_t)hl + len))
        return false;
    *s = (const char *)r->p + hl;
    *n = len;
    r->p += (size_t)hl + len;
    r->objects++;
    return true;
}

/* A str into a bounded C string: as sk_mp_strcpy, no NUL inside. */
static bool r_strcpy(mpr *r, char *buf, size_t cap)
{
    const char *s;
    size_t n;
    const unsigned char *at = r->p;
    if (!r_str(r, &s, &n))
        return false;
    if (n >= cap || memchr(s, '\0', n) != NULL) {
        r->p = at;
        return false;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    return true;
}

static bool r_i64(mpr *r, int64_t *v)
{
    if (!r_left(r, 1))
        return false;
    unsigned char t = r->p[0];
    int n;
    if (t <= 0x7f || t >= 0xe0) {
        *v = (int8_t)t;
        r->p++;
        r->objects++;
        return true;
    }
    switch (t) {
    case 0xcc: case 0xd0: n = 1; break;
    case 0xcd: case 0xd1: n = 2; break;
    case 0xce: case 0xd2: n = 4; break;
    case 0xcf: case 0xd3: n = 8; break;
    default: return false;
    }
    if (!r_left(r, 1 + (size_t)n))
        return false;
    uint64_t u = r_be(r->p + 1, n);
    if (t >= 0xd0) {
        /* Signed: extend from n bytes. */
        int shift = 64 - 8 * n;
        *v = shift ? (int64_t)(u << shift) >> shift : (int64_t)u;
        /* msgpack-c reads a non-negative signed value as a positive
         * integer: the same value, so nothing to do here. */
    } else {
        if (u > (uint64_t)INT64_MAX)
            return false;
        *v = (int64_t)u;
    }
    r->p += 1 + (size_t)n;
    r->objects++;
    return true;
}

static bool r_f64(mpr *r, double *d)
{
    int64_t i;
    if (r_left(r, 9) && r->p[0] == 0xcb) {
        uint64_t u = r_be(r->p + 1, 8);
        memcpy(d, &u, sizeof *d);
        r->p += 9;
        r->objects++;
        return true;
    }
    if (r_left(r, 5) && r->p[0] == 0xca) {
        uint32_t u = (uint32_t)r_be(r->p + 1, 4);
        float f;
        memcpy(&f, &u, sizeof f);
        *d = f;
        r->p += 5;
        r->objects++;
        return true;
    }
    if (r_i64(r, &i)) {
        *d = (double)i;
        return true;
    }
    return false;
}

static bool r_bool(mpr *r, bool *b)
{
    if (!r_left(r, 1) || (r->p[0] != 0xc2 && r->p[0] != 0xc3))
        return false;
    *b = r->p[0] == 0xc3;
    r->p++;
    r->objects++;
    return true;
}

/* Skip a scalar of a key this side does not know. */
static bool r_skip_scalar(mpr *r)
{
    const char *s;
    size_t n;
    int64_t i;
    double d;
    bool b;
    if (!r_left(r, 1))
        return false;
    unsigned char t = r->p[0];
    if (t == 0xc0) {
        r->p++;
        r->objects++;
        return true;
    }
    if (t == 0xcf && r_left(r, 9)) { /* a uint64 beyond int64 */
        r->p += 9;
        r->objects++;
        return true;
    }
    return r_str(r, &s, &n) || r_i64(r, &i) || r_f64(r, &d) || r_bool(r, &b);
}

static bool r_container(mpr *r, unsigned char fix, unsigned char c16, unsigned char c32, size_t *n)
{
    if (!r_left(r, 1))
        return false;
    unsigned char t = r->p[0];
    if ((t & 0xf0) == fix) *n = t & 0x0f, r->p += 1;
    else if (t == c16 && r_left(r, 3)) *n = (size_t)r_be(r->p + 1, 2), r->p += 3;
    else if (t == c32 && r_left(r, 5)) *n = (size_t)r_be(r->p + 1, 4), r->p += 5;
    else return false;
    r->objects++;
    /* Every element takes at least one byte. */
    return *n <= (size_t)(r->end - r->p);
}

static bool r_params(mpr *r, sk_header *h)
{
    size_t n;
    if (h->params != NULL || !r_container(r, 0x80, 0xde, 0xdf, &n))
        return false;
    h->params = sk_params_new();
    if (h->params == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        char key[129];
        const char *s;
        size_t sl;
        int64_t iv;
        double dv;
        bool bv;
        int rc;
        if (!r_strcpy(r, key, sizeof key) || key[0] == '\0')
            return false;
        if (r_str(r, &s, &sl)) {
            char buf[256];
            if (sl >= sizeof buf || memchr(s, '\0', sl) != NULL)
                return false; /* long strings: the general decoder */
            memcpy(buf, s, sl);
            buf[sl] = '\0';
            rc = sk_params_set_str(h->params, key, buf);
        } else if (r_bool(r, &bv)) {
            rc = sk_params_set_bool(h->params, key, bv);
        } else if (r_i64(r, &iv)) {
            rc = sk_params_set_int(h->params, key, iv);
        } else if (r_f64(r, &dv)) {
            rc = sk_params_set_f64(h->params, key, dv);
        } else {
            return false;
        }
        if (rc < 0)
            return false;
    }
    return true;
}

/* 1: decoded; 0: not a flat header this path reads (h is cleared).  With
 * consumed, the map may be followed by more bytes (a batch) and *consumed
 * says where it ended; without, it must fill data[0..len). */
static int header_decode_fast(const void *data, size_t len, sk_header *h, size_t *consumed)
{
    mpr r = {data, (const unsigned char *)data + len, 0};
    size_t n;
    int64_t type = 0;
    bool has_type = false;
    if ((consumed == NULL && len > sk_mp_header_limits.max_str) || !r_container(&r, 0x80, 0xde, 0xdf, &n))
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char *k;
        size_t kl;
        if (!r_str(&r, &k, &kl))
            goto slow;
        char *sbuf = NULL;
        size_t slen = 0;
        int64_t *ival = NULL;
        bool ok;
#define KEY_IS(lit) (kl == sizeof(lit) - 1 && memcmp(k, lit, sizeof(lit) - 1) == 0)
        if (KEY_IS("t")) {
            if (has_type)
                goto slow; /* the general decoder reads the first one */
            ival = &type, has_type = true;
        }
        else if (KEY_IS("job")) sbuf = h->job, slen = sizeof h->job;
        else if (KEY_IS("svc")) sbuf = h->service, slen = sizeof h->service;
        else if (KEY_IS("tenant")) sbuf = h->tenant, slen = sizeof h->tenant;
        else if (KEY_IS("idem")) sbuf = h->idem, slen = sizeof h->idem;
        else if (KEY_IS("client")) sbuf = h->client, slen = sizeof h->client;
        else if (KEY_IS("reason")) sbuf = h->reason, slen = sizeof h->reason;
        else if (KEY_IS("text")) sbuf = h->text, slen = sizeof h->text;
        else if (KEY_IS("node")) sbuf = h->node_name, slen = sizeof h->node_name;
        else if (KEY_IS("name")) sbuf = h->name, slen = sizeof h->name;
        else if (KEY_IS("req")) ival = &h->req;
        else if (KEY_IS("attempt")) ival = &h->attempt;
        else if (KEY_IS("deadline_ms")) ival = &h->deadline_ms;
        else if (KEY_IS("code")) ival = &h->code;
        else if (KEY_IS("capacity")) ival = &h->capacity;
        else if (KEY_IS("offset")) ival = &h->offset;
        else if (KEY_IS("total")) ival = &h->total;
        if (sbuf != NULL) {
            ok = r_strcpy(&r, sbuf, slen);
        } else if (ival != NULL) {
            ok = r_i64(&r, ival);
        } else if (KEY_IS("no_ack")) {
            ok = r_bool(&r, &h->no_ack);
        } else if (KEY_IS("result_ref")) {
            ok = r_bool(&r, &h->result_ref);
        } else if (KEY_IS("progress")) {
            ok = r_f64(&r, &h->progress);
        } else if (KEY_IS("params")) {
            ok = r_params(&r, h);
        } else if (KEY_IS("bodies")) {
            size_t nb;
            ok = r_container(&r, 0x90, 0xdc, 0xdd, &nb) && nb <= SK_MAX_BODIES;
            for (size_t b = 0; ok && b < nb; b++)
                ok = r_strcpy(&r, h->body_names[b], SK_ID_MAX);
            if (ok)
                h->nbodies = nb;
        } else if (KEY_IS("services") || KEY_IS("tenants") || KEY_IS("hashes") || KEY_IS("deps") ||
                   KEY_IS("datasets") || KEY_IS("held") || KEY_IS("refs")) {
            ok = false;
        } else {
            ok = r_skip_scalar(&r);
        }
#undef KEY_IS
        if (!ok)
            goto slow;
    }
    if ((consumed == NULL && r.p != r.end) ||
        (size_t)(r.p - (const unsigned char *)data) > sk_mp_header_limits.max_str || !has_type || type < 1 || type > SK_MSG_TYPE_MAX ||
        r.objects > sk_mp_header_limits.max_objects)
        goto slow;
    h->type = (int)type;
    if (consumed != NULL)
        *consumed = (size_t)(r.p - (const unsigned char *)data);
    return 1;
slow:
    sk_header_clear(h);
    sk_header_init(h, 0);
    return 0;
}

/* ---- decoding, general path ---- */

int sk_header_decode(const void *data, size_t len, sk_header *h, sk_error *err)
{
    sk_header_init(h, 0);
    if (header_decode_fast(data, len, h, NULL))
        return 0;
    return sk_header_decode_general(data, len, h, err);
}

bool sk_header_is_batch(const void *data, size_t len)
{
    const unsigned char *p = data;
    return len > 0 && ((p[0] & 0xf0) == 0x90 || p[0] == 0xdc || p[0] == 0xdd);
}

int sk_header_batch_open(const void *data, size_t len, size_t *count, size_t *off, sk_error *err)
{
    mpr r = {data, (const unsigned char *)data + len, 0};
    size_t n;
    if (!sk_header_is_batch(data, len) || !r_container(&r, 0x90, 0xdc, 0xdd, &n))
        return sk_fail(err, SK_EPROTO, "batch: the header frame is not an array of headers");
    if (n == 0)
        return sk_fail(err, SK_EPROTO, "batch: no headers");
    if (n > SK_BATCH_MAX)
        return sk_fail(err, SK_ETOOBIG, "batch: %zu headers, the limit is %d", n, SK_BATCH_MAX);
    *count = n;
    *off = (size_t)(r.p - (const unsigned char *)data);
    return 0;
}

int sk_header_batch_next(const void *data, size_t len, size_t *off, sk_header *h, sk_error *err)
{
    const char *p = (const char *)data + *off;
    size_t left = *off <= len ? len - *off : 0, used = 0;
    sk_header_init(h, 0);
    if (header_decode_fast(p, left, h, &used)) {
        *off += used;
        return 0;
    }
    /* Not the common flat form: find where this header ends, with the
     * same bounds as any header, and read it with the general decoder. */
    int rc = sk_mp_object_len(p, left, &sk_mp_header_limits, &used, err);
    if (rc < 0)
        return rc;
    rc = sk_header_decode_general(p, used, h, err);
    if (rc < 0)
        return rc;
    *off += used;
    return 0;
}

int sk_header_decode_general(const void *data, size_t len, sk_header *h, sk_error *err)
{
    msgpack_object rootobj;
    int64_t type = 0;
    int rc = -1;
    size_t off = 0;
    sk_header_init(h, 0);
    if (!header_zone_ready) {
        if (!msgpack_zone_init(&header_zone, 4096))
            return sk_fail(err, SK_ENOMEM, "out of memory");
        header_zone_ready = true;
    }
    if (len > sk_mp_header_limits.max_str) {
        sk_fail(err, SK_ETOOBIG, "header: %zu bytes, the limit is %zu", len, sk_mp_header_limits.max_str);
        goto out;
    }
    if (sk_mp_validate(data, len, &sk_mp_header_limits, err) < 0)
        goto out;
    if (msgpack_unpack(data, len, &off, &header_zone, &rootobj) != MSGPACK_UNPACK_SUCCESS || off != len) {
        sk_fail(err, SK_EPROTO, "header: cannot unpack");
        goto out;
    }
    const msgpack_object *root = &rootobj;
    if (root->type != MSGPACK_OBJECT_MAP) {
        sk_fail(err, SK_EPROTO, "header: not a msgpack map");
        goto out;
    }
    if (sk_mp_i64(sk_mp_get(root, "t"), &type) < 0 || type < 1 || type > SK_MSG_TYPE_MAX) {
        sk_fail(err, SK_EPROTO, "header: missing or unknown message type 't'");
        goto out;
    }
    h->type = (int)type;
    /* One pass over the map: each field is looked at once, unknown keys are
     * skipped (forward compatibility). */
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object *k = &root->via.map.ptr[i].key, *o = &root->via.map.ptr[i].val;
        /* A key with a NUL in it is no key of ours ("svc\0x" is not "svc"). */
        if (k->type != MSGPACK_OBJECT_STR || k->via.str.size == 0 || k->via.str.size > 16 ||
            memchr(k->via.str.ptr, '\0', k->via.str.size) != NULL)
            continue;
        char key[17];
        memcpy(key, k->via.str.ptr, k->via.str.size);
        key[k->via.str.size] = '\0';
        char *sbuf = NULL;
        size_t slen = 0;
        int64_t *ival = NULL;
        if (strcmp(key, "job") == 0) sbuf = h->job, slen = sizeof h->job;
        else if (strcmp(key, "svc") == 0) sbuf = h->service, slen = sizeof h->service;
        else if (strcmp(key, "tenant") == 0) sbuf = h->tenant, slen = sizeof h->tenant;
        else if (strcmp(key, "idem") == 0) sbuf = h->idem, slen = sizeof h->idem;
        else if (strcmp(key, "client") == 0) sbuf = h->client, slen = sizeof h->client;
        else if (strcmp(key, "reason") == 0) sbuf = h->reason, slen = sizeof h->reason;
        else if (strcmp(key, "text") == 0) sbuf = h->text, slen = sizeof h->text;
        else if (strcmp(key, "node") == 0) sbuf = h->node_name, slen = sizeof h->node_name;
        else if (strcmp(key, "name") == 0) sbuf = h->name, slen = sizeof h->name;
        else if (strcmp(key, "req") == 0) ival = &h->req;
        else if (strcmp(key, "attempt") == 0) ival = &h->attempt;
        else if (strcmp(key, "deadline_ms") == 0) ival = &h->deadline_ms;
        else if (strcmp(key, "code") == 0) ival = &h->code;
        else if (strcmp(key, "capacity") == 0) ival = &h->capacity;
        else if (strcmp(key, "offset") == 0) ival = &h->offset;
        else if (strcmp(key, "total") == 0) ival = &h->total;
        if (sbuf != NULL) {
            if (sk_mp_strcpy(o, sbuf, slen) < 0) {
                sk_fail(err, SK_EPROTO, "header: field '%s' must be a string shorter than %zu bytes", key, slen);
                goto out;
            }
        } else if (ival != NULL) {
            if (sk_mp_i64(o, ival) < 0) {
                sk_fail(err, SK_EPROTO, "header: field '%s' must be an integer", key);
                goto out;
            }
        } else if (strcmp(key, "no_ack") == 0) {
            if (sk_mp_bool(o, &h->no_ack) < 0) {
                sk_fail(err, SK_EPROTO, "header: 'no_ack' must be a boolean");
                goto out;
            }
        } else if (strcmp(key, "result_ref") == 0) {
            if (sk_mp_bool(o, &h->result_ref) < 0) {
                sk_fail(err, SK_EPROTO, "header: 'result_ref' must be a boolean");
                goto out;
            }
        } else if (strcmp(key, "progress") == 0) {
            if (sk_mp_f64(o, &h->progress) < 0) {
                sk_fail(err, SK_EPROTO, "header: 'progress' must be a number");
                goto out;
            }
        } else if (strcmp(key, "params") == 0) {
            if (h->params != NULL || decode_params(o, h, err) < 0) {
                if (err != NULL && err->msg[0] == '\0')
                    sk_fail(err, SK_EPROTO, "header: 'params' given twice");
                goto out;
            }
        } else if (strcmp(key, "bodies") == 0) {
            if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > SK_MAX_BODIES) {
                sk_fail(err, SK_EPROTO, "header: 'bodies' must be an array of at most %d names", SK_MAX_BODIES);
                goto out;
            }
            for (uint32_t b = 0; b < o->via.array.size; b++) {
                if (sk_mp_strcpy(&o->via.array.ptr[b], h->body_names[b], SK_ID_MAX) < 0) {
                    sk_fail(err, SK_EPROTO, "header: body name %u must be a string under %d bytes", b, SK_ID_MAX);
                    goto out;
                }
            }
            h->nbodies = o->via.array.size;
        } else if (strcmp(key, "services") == 0) {
            if (h->services != NULL ||
                decode_names(o, "services", &h->services, &h->nservices, 1024, err) < 0)
                goto dup_or_fail;
        } else if (strcmp(key, "tenants") == 0) {
            if (h->tenants != NULL || decode_names(o, "tenants", &h->tenants, &h->ntenants, 4096, err) < 0)
                goto dup_or_fail;
        } else if (strcmp(key, "hashes") == 0) {
            if (h->hashes != NULL || o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > 1024) {
                sk_fail(err, SK_EPROTO, "header: 'hashes' must be one array of at most 1024 strings");
                goto out;
            }
            h->hashes = calloc(o->via.array.size ? o->via.array.size : 1, SK_HASH_MAX);
            if (h->hashes == NULL) {
                sk_fail(err, SK_ENOMEM, "out of memory");
                goto out;
            }
            for (uint32_t b = 0; b < o->via.array.size; b++)
                if (sk_mp_strcpy(&o->via.array.ptr[b], h->hashes[b], SK_HASH_MAX) < 0) {
                    sk_fail(err, SK_EPROTO, "header: hash %u must be a string under %d bytes", b, SK_HASH_MAX);
                    goto out;
                }
            h->nhashes = o->via.array.size;
        } else if (strcmp(key, "deps") == 0) {
            if (h->deps != NULL || o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > 256) {
                sk_fail(err, SK_EPROTO, "header: 'deps' must be one array of at most 256 strings");
                goto out;
            }
            h->deps = calloc(o->via.array.size ? o->via.array.size : 1, sizeof *h->deps);
            if (h->deps == NULL) {
                sk_fail(err, SK_ENOMEM, "out of memory");
                goto out;
            }
            for (uint32_t b = 0; b < o->via.array.size; b++)
                if (sk_mp_strcpy(&o->via.array.ptr[b], h->deps[b], sizeof h->deps[b]) < 0 ||
                    strchr(h->deps[b], '=') == NULL) {
                    sk_fail(err, SK_EPROTO, "header: dependency %u must be a string \"JOB=INPUT\"", b);
                    goto out;
                }
            h->ndeps = o->via.array.size;
        } else if (strcmp(key, "datasets") == 0) {
            if (h->datasets != NULL || o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > SK_MAX_BODIES) {
                sk_fail(err, SK_EPROTO, "header: 'datasets' must be one array of at most %d strings", SK_MAX_BODIES);
                goto out;
            }
            h->datasets = calloc(o->via.array.size ? o->via.array.size : 1, sizeof *h->datasets);
            if (h->datasets == NULL) {
                sk_fail(err, SK_ENOMEM, "out of memory");
                goto out;
            }
            for (uint32_t b = 0; b < o->via.array.size; b++)
                if (sk_mp_strcpy(&o->via.array.ptr[b], h->datasets[b], sizeof h->datasets[b]) < 0 ||
                    strstr(h->datasets[b], "=sha256:") == NULL) {
                    sk_fail(err, SK_EPROTO, "header: dataset %u must be a string \"INPUT=sha256:HEX\"", b);
                    goto out;
                }
            h->ndatasets = o->via.array.size;
        } else if (strcmp(key, "held") == 0) {
            if (h->held != NULL || decode_held(o, h, err) < 0)
                goto dup_or_fail;
        } else if (strcmp(key, "refs") == 0) {
            if (h->refs != NULL || decode_refs(o, h, err) < 0)
                goto dup_or_fail;
        }
        continue;
    dup_or_fail:
        if (err != NULL && err->msg[0] == '\0')
            sk_fail(err, SK_EPROTO, "header: '%s' given twice", key);
        goto out;
    }
    rc = 0;
out:
    zone_release();
    if (rc < 0) {
        sk_header_clear(h);
        if (err != NULL && err->code == 0)
            err->code = SK_EPROTO;
        return err != NULL ? err->code : SK_EPROTO;
    }
    return 0;
}

int sk_sig_check(const void *data, size_t len, sk_error *err)
{
    const unsigned char *p = data;
    if (len != 4 || p[0] != 'S' || p[1] != 'K')
        return sk_fail(err, SK_EPROTO, "not a samskap message (bad signature frame)");
    if (p[2] != SK_PROTO_MAJOR)
        return sk_fail(err, SK_EUNSUPPORTED, "protocol version %d.%d, this side speaks %d.x", p[2], p[3],
                       SK_PROTO_MAJOR);
    return 0;
}

/* ---- sockets ---- */

void sk_wire_msg_close(sk_wire_msg *m)
{
    if (m->has_route)
        zmq_msg_close(&m->route);
    m->has_route = false;
    for (size_t i = 0; i < m->nbodies; i++)
        zmq_msg_close(&m->bodies[i]);
    m->nbodies = 0;
    sk_header_clear(&m->hdr);
}

void sk_wire_msg_move(sk_wire_msg *dst, sk_wire_msg *src)
{
    dst->has_route = src->has_route;
    if (src->has_route) {
        zmq_msg_init(&dst->route);
        zmq_msg_move(&dst->route, &src->route);
        zmq_msg_close(&src->route);
        src->has_route = false;
    }
    memcpy(dst->user, src->user, sizeof dst->user);
    dst->hdr = src->hdr; /* owned pointers go with it */
    sk_header_init(&src->hdr, 0);
    dst->nbodies = src->nbodies;
    for (size_t i = 0; i < src->nbodies; i++) {
        zmq_msg_init(&dst->bodies[i]);
        zmq_msg_move(&dst->bodies[i], &src->bodies[i]);
        zmq_msg_close(&src->bodies[i]);
    }
    src->nbodies = 0;
}

static int more(void *sock)
{
    int more = 0;
    size_t sz = sizeof more;
    if (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) < 0)
        return 0;
    return more;
}

static void drain(void *sock)
{
    zmq_msg_t f;
    while (more(sock)) {
        zmq_msg_init(&f);
        if (zmq_msg_recv(&f, sock, 0) < 0) {
            zmq_msg_close(&f);
            break;
        }
        zmq_msg_close(&f);
    }
}

static void close_bodies(sk_wire_msg *m)
{
    for (size_t i = 0; i < m->nbodies; i++)
        zmq_msg_close(&m->bodies[i]);
    m->nbodies = 0;
}

static void reader_reset(sk_wire_reader *r)
{
    if (r->has_route)
        zmq_msg_close(&r->route);
    if (r->has_hdrs)
        zmq_msg_close(&r->hdrs);
    for (size_t i = r->next; i < r->nframes; i++)
        zmq_msg_close(&r->frames[i]);
    r->has_route = r->has_hdrs = false;
    r->left = r->next = r->nframes = 0;
    r->off = 0;
}

void sk_wire_reader_init(sk_wire_reader *r, void *sock, bool router)
{
    memset(r, 0, sizeof *r);
    r->sock = sock;
    r->router = router;
}

void sk_wire_reader_free(sk_wire_reader *r)
{
    reader_reset(r);
    free(r->frames);
    r->frames = NULL;
    r->cap = 0;
}

/* The next message of the batch the reader holds. */
static int batch_next(sk_wire_reader *r, sk_wire_msg *m, sk_error *err)
{
    m->has_route = false;
    m->minor = r->minor;
    memcpy(m->user, r->user, sizeof m->user);
    m->nbodies = 0;
    if (r->has_route) {
        zmq_msg_init(&m->route);
        zmq_msg_copy(&m->route, &r->route);   /* a few bytes: routing ids are small */
        m->has_route = true;
    }
    const void *data = zmq_msg_data(&r->hdrs);
    size_t len = zmq_msg_size(&r->hdrs);
    int rc = sk_header_batch_next(data, len, &r->off, &m->hdr, err);
    r->left--;
    const char *why = NULL;
    size_t nb = rc == 0 ? m->hdr.nbodies : 0;
    if (rc == 0 && nb > r->nframes - r->next)
        why = "names more bodies than the batch has frames left";
    else if (rc == 0 && r->left == 0 && r->next + nb != r->nframes)
        why = "is the last, and body frames follow it";
    else if (rc == 0 && r->left == 0 && r->off != len)
        why = "is the last, and bytes follow it in the header frame";
    if (rc < 0 || why != NULL) {
        size_t dropped = r->left;
        if (why != NULL)
            rc = sk_fail(err, SK_EPROTO, "batch: a header %s", why);
        if (dropped > 0 && err != NULL) {
            size_t used = strlen(err->msg);
            snprintf(err->msg + used, sizeof err->msg - used, " (%zu later messages of the batch dropped)",
                     dropped);
        }
        sk_header_clear(&m->hdr);
        reader_reset(r);
        return rc;
    }
    for (size_t i = 0; i < nb; i++) {
        zmq_msg_init(&m->bodies[i]);
        zmq_msg_move(&m->bodies[i], &r->frames[r->next]);
        zmq_msg_close(&r->frames[r->next]);
        r->next++;
    }
    m->nbodies = nb;
    if (r->left == 0)
        reader_reset(r);
    return 1;
}

/* Read a batch's body frames into the reader, which then hands out its
 * messages; hdrs is the header frame, already received. */
static int batch_start(sk_wire_reader *r, void *sock, sk_wire_msg *m, zmq_msg_t *hdrs, int more_frames,
                       sk_error *err)
{
    size_t count, off;
    int rc = sk_header_batch_open(zmq_msg_data(hdrs), zmq_msg_size(hdrs), &count, &off, err);
    if (rc < 0) {
        zmq_msg_close(hdrs);
        if (more_frames)
            drain(sock);
        return rc;
    }
    const size_t max_frames = (size_t)SK_BATCH_MAX * SK_MAX_BODIES;
    r->nframes = r->next = 0;
    while (more_frames) {
        if (r->nframes == max_frames) {
            zmq_msg_close(hdrs);
            reader_reset(r);
            drain(sock);
            return sk_fail(err, SK_ETOOBIG, "batch: more than %zu body frames", max_frames);
        }
        if (r->nframes == r->cap) {
            size_t cap = r->cap ? r->cap * 2 : 64;
            zmq_msg_t *f = realloc(r->frames, cap * sizeof *f);
            if (f == NULL) {
                zmq_msg_close(hdrs);
                reader_reset(r);
                drain(sock);
                return sk_fail(err, SK_ENOMEM, "batch: out of memory");
            }
            r->frames = f;
            r->cap = cap;
        }
        zmq_msg_t *f = &r->frames[r->nframes];
        zmq_msg_init(f);
        if (zmq_msg_recv(f, sock, 0) < 0) {
            zmq_msg_close(f);
            break;
        }
        more_frames = zmq_msg_more(f);
        r->nframes++;
    }
    /* The route and the user move to the reader: every message of the batch gets them. */
    r->has_route = m->has_route;
    if (m->has_route) {
        zmq_msg_init(&r->route);
        zmq_msg_move(&r->route, &m->route);
        zmq_msg_close(&m->route);
        m->has_route = false;
    }
    r->minor = m->minor;
    memcpy(r->user, m->user, sizeof r->user);
    zmq_msg_init(&r->hdrs);
    zmq_msg_move(&r->hdrs, hdrs);
    zmq_msg_close(hdrs);
    r->has_hdrs = true;
    r->off = off;
    r->left = count;
    r->batches++;
    return batch_next(r, m, err);
}

/* One ZeroMQ message: a plain message into *m, or, with a reader, the
 * first message of a batch (the reader keeps the rest). */
static int recv_msg(void *sock, bool router, sk_wire_reader *rd, sk_wire_msg *m, int flags, sk_error *err)
{
    zmq_msg_t f;
    m->has_route = false;
    m->user[0] = '\0';
    m->minor = 0;
    m->nbodies = 0;
    sk_header_init(&m->hdr, 0);
    if (router) {
        zmq_msg_init(&m->route);
        if (zmq_msg_recv(&m->route, sock, flags) < 0) {
            zmq_msg_close(&m->route);
            return errno == EAGAIN ? 0 : sk_fail(err, SK_EIO, "recv: %s", zmq_strerror(errno));
        }
        m->has_route = true;
        /* zmq_msg_more on the frame just read, rather than asking the
         * socket (ZMQ_RCVMORE) for every frame. */
        if (!zmq_msg_more(&m->route))
            return sk_fail(err, SK_EPROTO, "message has no frames after the routing id");
        flags &= ~ZMQ_DONTWAIT; /* the rest of a multipart message is already here */
    }
    zmq_msg_init(&f);
    if (zmq_msg_recv(&f, sock, flags) < 0) {
        zmq_msg_close(&f);
        return errno == EAGAIN ? 0 : sk_fail(err, SK_EIO, "recv: %s", zmq_strerror(errno));
    }
    int rc = sk_sig_check(zmq_msg_data(&f), zmq_msg_size(&f), err);
    if (rc == 0)
        m->minor = ((const unsigned char *)zmq_msg_data(&f))[3];
    /* Frames that came over the wire carry the connection's metadata; the
     * routing-id frame a ROUTER makes up does not. */
    const char *uid = zmq_msg_gets(&f, "User-Id");
    if (uid != NULL)
        sk_strlcpy(m->user, uid, sizeof m->user);
    int more_frames = zmq_msg_more(&f);
    zmq_msg_close(&f);
    if (rc < 0) {
        drain(sock);
        return rc;
    }
    if (!more_frames)
        return sk_fail(err, SK_EPROTO, "message ends after the signature frame (no header)");
    zmq_msg_init(&f);
    if (zmq_msg_recv(&f, sock, 0) < 0) {
        zmq_msg_close(&f);
        return sk_fail(err, SK_EIO, "recv: %s", zmq_strerror(errno));
    }
    more_frames = zmq_msg_more(&f);
    if (sk_header_is_batch(zmq_msg_data(&f), zmq_msg_size(&f))) {
        if (rd != NULL)
            return batch_start(rd, sock, m, &f, more_frames, err);
        zmq_msg_close(&f);
        if (more_frames)
            drain(sock);
        return sk_fail(err, SK_EPROTO, "a batch of messages where one message was expected");
    }
    rc = sk_header_decode(zmq_msg_data(&f), zmq_msg_size(&f), &m->hdr, err);
    zmq_msg_close(&f);
    if (rc < 0) {
        if (more_frames)
            drain(sock);
        return rc;
    }
    while (more_frames) {
        if (m->nbodies == SK_MAX_BODIES) {
            drain(sock);
            sk_header_clear(&m->hdr);
            close_bodies(m);
            return sk_fail(err, SK_ETOOBIG, "more than %d body frames", SK_MAX_BODIES);
        }
        zmq_msg_init(&m->bodies[m->nbodies]);
        if (zmq_msg_recv(&m->bodies[m->nbodies], sock, 0) < 0) {
            zmq_msg_close(&m->bodies[m->nbodies]);
            break;
        }
        more_frames = zmq_msg_more(&m->bodies[m->nbodies]);
        m->nbodies++;
    }
    if (m->hdr.nbodies != 0 && m->hdr.nbodies != m->nbodies) {
        size_t announced = m->hdr.nbodies, got = m->nbodies;
        sk_header_clear(&m->hdr);
        close_bodies(m);
        return sk_fail(err, SK_EPROTO, "header names %zu bodies, %zu body frames arrived", announced, got);
    }
    return 1;
}

int sk_wire_recv(void *sock, bool router, sk_wire_msg *m, int flags, sk_error *err)
{
    return recv_msg(sock, router, NULL, m, flags, err);
}

int sk_wire_read(sk_wire_reader *r, sk_wire_msg *m, int flags, sk_error *err)
{
    if (r->left > 0)
        return batch_next(r, m, err);
    return recv_msg(r->sock, r->router, r, m, flags, err);
}

int sk_wire_send(void *sock, const void *route, size_t route_len, const sk_header *h,
                 zmq_msg_t *bodies, size_t nbodies, int flags)
{
    static const unsigned char sig[4] = {'S', 'K', SK_PROTO_MAJOR, SK_PROTO_MINOR};
    unsigned char stack[1024];
    mpw fb = {stack, 0, sizeof stack, false, false};
    header_pack(h, &fb);
    if (fb.failed) {
        if (fb.heap)
            free(fb.data);
        errno = ENOMEM;
        return -1;
    }
    const unsigned char *hdr = fb.data;
    size_t hlen = fb.len;
    int rc = 0;
    if (route != NULL && zmq_send(sock, route, route_len, flags | ZMQ_SNDMORE) < 0)
        rc = -1;
    /* After the first frame is queued, the rest of the message goes too. */
    if (rc == 0 && zmq_send(sock, sig, sizeof sig, flags | ZMQ_SNDMORE) < 0)
        rc = -1;
    if (rc == 0 && zmq_send(sock, hdr, hlen, flags | (nbodies > 0 ? ZMQ_SNDMORE : 0)) < 0)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < nbodies; i++)
        if (zmq_msg_send(&bodies[i], sock, flags | (i + 1 < nbodies ? ZMQ_SNDMORE : 0)) < 0)
            rc = -1;
    int saved = errno;
    if (fb.heap)
        free(fb.data);
    errno = saved;
    return rc;
}

/* ---- batches ---- */

void sk_wire_batch_init(sk_wire_batch *b)
{
    memset(b, 0, sizeof *b);
}

static void batch_empty(sk_wire_batch *b)
{
    for (size_t i = 0; i < b->nbodies; i++)
        zmq_msg_close(&b->bodies[i]);
    b->nbodies = 0;
    b->count = 0;
    b->hlen = 0;
    b->body_bytes = 0;
    b->first_len = 0;
}

void sk_wire_batch_free(sk_wire_batch *b)
{
    batch_empty(b);
    free(b->hdrs);
    free(b->bodies);
    memset(b, 0, sizeof *b);
}

bool sk_wire_batch_full(const sk_wire_batch *b)
{
    return b->count >= SK_BATCH_MAX || b->body_bytes >= SK_BATCH_BYTES;
}

int sk_wire_batch_add(sk_wire_batch *b, const sk_header *h, zmq_msg_t *bodies, size_t nbodies)
{
    if (b->count >= SK_BATCH_MAX || nbodies > SK_MAX_BODIES)
        goto fail;
    if (b->nbodies + nbodies > b->bcap) {
        size_t cap = b->bcap ? b->bcap * 2 : 64;
        while (cap < b->nbodies + nbodies)
            cap *= 2;
        zmq_msg_t *nb = realloc(b->bodies, cap * sizeof *nb);
        if (nb == NULL)
            goto fail;
        b->bodies = nb;
        b->bcap = cap;
    }
    if (b->hcap == 0) {
        b->hdrs = malloc(4096);
        if (b->hdrs == NULL)
            goto fail;
        b->hcap = 4096;
    }
    if (b->hlen == 0) {
        /* array16, its count written at send */
        b->hdrs[0] = 0xdc;
        b->hdrs[1] = b->hdrs[2] = 0;
        b->hlen = 3;
    }
    mpw w = {b->hdrs, b->hlen, b->hcap, true, false};
    header_pack_n(h, &w, nbodies);
    b->hdrs = w.data; /* a failed grow leaves the old buffer in place */
    b->hcap = w.cap;
    if (w.failed)
        goto fail;
    if (b->count == 0)
        b->first_len = w.len - b->hlen;
    b->hlen = w.len;
    for (size_t i = 0; i < nbodies; i++) {
        b->body_bytes += zmq_msg_size(&bodies[i]);
        zmq_msg_init(&b->bodies[b->nbodies]);
        zmq_msg_move(&b->bodies[b->nbodies], &bodies[i]);
        b->nbodies++;
    }
    b->count++;
    return 0;
fail:
    for (size_t i = 0; i < nbodies; i++)
        zmq_msg_close(&bodies[i]);
    errno = ENOMEM;
    return -1;
}

int sk_wire_batch_send(void *sock, const void *route, size_t route_len, sk_wire_batch *b, int flags)
{
    static const unsigned char sig[4] = {'S', 'K', SK_PROTO_MAJOR, SK_PROTO_MINOR};
    if (b->count == 0)
        return 0;
    const unsigned char *hdr = b->hdrs;
    size_t hlen = b->hlen;
    if (b->count == 1) {
        hdr += 3; /* one message goes plain: its map without the array */
        hlen = b->first_len;
    } else {
        b->hdrs[1] = (unsigned char)(b->count >> 8);
        b->hdrs[2] = (unsigned char)b->count;
    }
    int rc = 0;
    if (route != NULL && zmq_send(sock, route, route_len, flags | ZMQ_SNDMORE) < 0)
        rc = -1;
    if (rc == 0 && zmq_send(sock, sig, sizeof sig, flags | ZMQ_SNDMORE) < 0)
        rc = -1;
    if (rc == 0 && zmq_send(sock, hdr, hlen, flags | (b->nbodies > 0 ? ZMQ_SNDMORE : 0)) < 0)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < b->nbodies; i++)
        if (zmq_msg_send(&b->bodies[i], sock, flags | (i + 1 < b->nbodies ? ZMQ_SNDMORE : 0)) < 0)
            rc = -1;
    int saved = errno;
    batch_empty(b);
    errno = saved;
    return rc;
}
