/* sk_proto.c - encoding, decoding, sending and receiving wire messages
 * (see sk_proto.h and docs/protocol.md). */
#include "sk_proto.h"

#include <errno.h>
#include <msgpack.h>
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
    h->no_ack = false;
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

static int pack_params(msgpack_packer *pk, const sk_params *p)
{
    int rc = msgpack_pack_map(pk, p->n);
    for (size_t i = 0; i < p->n; i++) {
        const sk_param *it = &p->items[i];
        rc |= sk_mp_pack_cstr(pk, it->key);
        switch (it->type) {
        case SK_PARAM_STR: rc |= sk_mp_pack_cstr(pk, it->s); break;
        case SK_PARAM_INT: rc |= msgpack_pack_int64(pk, it->i); break;
        case SK_PARAM_F64: rc |= msgpack_pack_double(pk, it->d); break;
        case SK_PARAM_BOOL: rc |= it->i ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
        }
    }
    return rc;
}

/* A fixed buffer that msgpack writes into; headers fit in it nearly
 * always, so sending costs no allocation. */
typedef struct fixbuf {
    char *data;
    size_t len, cap;
    bool heap;
} fixbuf;

static int fixbuf_write(void *data, const char *buf, size_t len)
{
    fixbuf *f = data;
    if (f->len + len > f->cap) {
        size_t cap = (f->len + len) * 2;
        char *d = f->heap ? realloc(f->data, cap) : malloc(cap);
        if (d == NULL)
            return -1;
        if (!f->heap)
            memcpy(d, f->data, f->len);
        f->data = d;
        f->cap = cap;
        f->heap = true;
    }
    memcpy(f->data + f->len, buf, len);
    f->len += len;
    return 0;
}

static int header_pack(const sk_header *h, msgpack_packer *pk);

int sk_header_encode(const sk_header *h, char **out, size_t *len, sk_error *err)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (header_pack(h, &pk) != 0) {
        msgpack_sbuffer_destroy(&sb);
        return sk_fail(err, SK_ENOMEM, "header: out of memory");
    }
    *out = sb.data;
    *len = sb.size;
    return 0;
}

static int header_pack(const sk_header *h, msgpack_packer *pk_)
{
    msgpack_packer pk = *pk_;
    int rc = 0;
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
    n += h->code != 0;
    n += h->reason[0] != 0;
    n += h->progress >= 0;
    n += h->text[0] != 0;
    n += h->params != NULL;
    n += h->nbodies > 0;
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
    rc |= msgpack_pack_map(&pk, n);
    rc |= sk_mp_pack_ki64(&pk, "t", h->type);
    if (h->job[0]) rc |= sk_mp_pack_kstr(&pk, "job", h->job);
    if (h->service[0]) rc |= sk_mp_pack_kstr(&pk, "svc", h->service);
    if (h->tenant[0]) rc |= sk_mp_pack_kstr(&pk, "tenant", h->tenant);
    if (h->idem[0]) rc |= sk_mp_pack_kstr(&pk, "idem", h->idem);
    if (h->client[0]) rc |= sk_mp_pack_kstr(&pk, "client", h->client);
    if (h->req != 0) rc |= sk_mp_pack_ki64(&pk, "req", h->req);
    if (h->attempt != 0) rc |= sk_mp_pack_ki64(&pk, "attempt", h->attempt);
    if (h->deadline_ms != 0) rc |= sk_mp_pack_ki64(&pk, "deadline_ms", h->deadline_ms);
    if (h->no_ack) rc |= sk_mp_pack_kbool(&pk, "no_ack", true);
    if (h->code != 0) rc |= sk_mp_pack_ki64(&pk, "code", h->code);
    if (h->reason[0]) rc |= sk_mp_pack_kstr(&pk, "reason", h->reason);
    if (h->progress >= 0) rc |= sk_mp_pack_kf64(&pk, "progress", h->progress);
    if (h->text[0]) rc |= sk_mp_pack_kstr(&pk, "text", h->text);
    if (h->params != NULL) {
        rc |= sk_mp_pack_cstr(&pk, "params");
        rc |= pack_params(&pk, h->params);
    }
    if (h->nbodies > 0) {
        rc |= sk_mp_pack_cstr(&pk, "bodies");
        rc |= msgpack_pack_array(&pk, h->nbodies);
        for (size_t i = 0; i < h->nbodies; i++)
            rc |= sk_mp_pack_cstr(&pk, h->body_names[i]);
    }
    if (h->capacity != 0) rc |= sk_mp_pack_ki64(&pk, "capacity", h->capacity);
    if (h->nservices > 0) {
        rc |= sk_mp_pack_cstr(&pk, "services");
        rc |= msgpack_pack_array(&pk, h->nservices);
        for (size_t i = 0; i < h->nservices; i++)
            rc |= sk_mp_pack_cstr(&pk, h->services[i]);
    }
    if (h->ntenants > 0) {
        rc |= sk_mp_pack_cstr(&pk, "tenants");
        rc |= msgpack_pack_array(&pk, h->ntenants);
        for (size_t i = 0; i < h->ntenants; i++)
            rc |= sk_mp_pack_cstr(&pk, h->tenants[i]);
    }
    if (h->nhashes > 0) {
        rc |= sk_mp_pack_cstr(&pk, "hashes");
        rc |= msgpack_pack_array(&pk, h->nhashes);
        for (size_t i = 0; i < h->nhashes; i++)
            rc |= sk_mp_pack_cstr(&pk, h->hashes[i]);
    }
    if (h->ndeps > 0) {
        rc |= sk_mp_pack_cstr(&pk, "deps");
        rc |= msgpack_pack_array(&pk, h->ndeps);
        for (size_t i = 0; i < h->ndeps; i++)
            rc |= sk_mp_pack_cstr(&pk, h->deps[i]);
    }
    if (h->ndatasets > 0) {
        rc |= sk_mp_pack_cstr(&pk, "datasets");
        rc |= msgpack_pack_array(&pk, h->ndatasets);
        for (size_t i = 0; i < h->ndatasets; i++)
            rc |= sk_mp_pack_cstr(&pk, h->datasets[i]);
    }
    if (h->offset != 0) rc |= sk_mp_pack_ki64(&pk, "offset", h->offset);
    if (h->total != 0) rc |= sk_mp_pack_ki64(&pk, "total", h->total);
    if (h->nheld > 0) {
        rc |= sk_mp_pack_cstr(&pk, "held");
        rc |= msgpack_pack_array(&pk, h->nheld);
        for (size_t i = 0; i < h->nheld; i++) {
            const sk_held_job *j = &h->held[i];
            rc |= msgpack_pack_map(&pk, 6);
            rc |= sk_mp_pack_kstr(&pk, "job", j->job);
            rc |= sk_mp_pack_ki64(&pk, "attempt", j->attempt);
            rc |= sk_mp_pack_kstr(&pk, "client", j->client);
            rc |= sk_mp_pack_ki64(&pk, "req", j->req);
            rc |= sk_mp_pack_kstr(&pk, "svc", j->service);
            rc |= sk_mp_pack_kstr(&pk, "tenant", j->tenant);
        }
    }
    if (h->node_name[0]) rc |= sk_mp_pack_kstr(&pk, "node", h->node_name);
    if (h->name[0]) rc |= sk_mp_pack_kstr(&pk, "name", h->name);
    if (h->nrefs > 0) {
        rc |= sk_mp_pack_cstr(&pk, "refs");
        rc |= msgpack_pack_array(&pk, h->nrefs);
        for (size_t i = 0; i < h->nrefs; i++) {
            rc |= msgpack_pack_array(&pk, 3);
            rc |= sk_mp_pack_cstr(&pk, h->refs[i].input);
            rc |= sk_mp_pack_cstr(&pk, h->refs[i].hash);
            rc |= msgpack_pack_int64(&pk, h->refs[i].size);
        }
    }
    return rc;
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

int sk_header_decode(const void *data, size_t len, sk_header *h, sk_error *err)
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
        if (k->type != MSGPACK_OBJECT_STR || k->via.str.size == 0 || k->via.str.size > 16)
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

int sk_wire_recv(void *sock, bool router, sk_wire_msg *m, int flags, sk_error *err)
{
    zmq_msg_t f;
    m->has_route = false;
    m->user[0] = '\0';
    m->nbodies = 0;
    sk_header_init(&m->hdr, 0);
    if (router) {
        zmq_msg_init(&m->route);
        if (zmq_msg_recv(&m->route, sock, flags) < 0) {
            zmq_msg_close(&m->route);
            return errno == EAGAIN ? 0 : sk_fail(err, SK_EIO, "recv: %s", zmq_strerror(errno));
        }
        m->has_route = true;
        if (!more(sock))
            return sk_fail(err, SK_EPROTO, "message has no frames after the routing id");
        flags &= ~ZMQ_DONTWAIT; /* the rest of a multipart message is already here */
    }
    zmq_msg_init(&f);
    if (zmq_msg_recv(&f, sock, flags) < 0) {
        zmq_msg_close(&f);
        return errno == EAGAIN ? 0 : sk_fail(err, SK_EIO, "recv: %s", zmq_strerror(errno));
    }
    int rc = sk_sig_check(zmq_msg_data(&f), zmq_msg_size(&f), err);
    /* Frames that came over the wire carry the connection's metadata; the
     * routing-id frame a ROUTER makes up does not. */
    const char *uid = zmq_msg_gets(&f, "User-Id");
    if (uid != NULL)
        sk_strlcpy(m->user, uid, sizeof m->user);
    zmq_msg_close(&f);
    if (rc < 0) {
        drain(sock);
        return rc;
    }
    if (!more(sock))
        return sk_fail(err, SK_EPROTO, "message ends after the signature frame (no header)");
    zmq_msg_init(&f);
    if (zmq_msg_recv(&f, sock, 0) < 0) {
        zmq_msg_close(&f);
        return sk_fail(err, SK_EIO, "recv: %s", zmq_strerror(errno));
    }
    rc = sk_header_decode(zmq_msg_data(&f), zmq_msg_size(&f), &m->hdr, err);
    zmq_msg_close(&f);
    if (rc < 0) {
        drain(sock);
        return rc;
    }
    while (more(sock)) {
        if (m->nbodies == SK_MAX_BODIES) {
            drain(sock);
            sk_header_clear(&m->hdr);
            for (size_t i = 0; i < m->nbodies; i++)
                zmq_msg_close(&m->bodies[i]);
            m->nbodies = 0;
            return sk_fail(err, SK_ETOOBIG, "more than %d body frames", SK_MAX_BODIES);
        }
        zmq_msg_init(&m->bodies[m->nbodies]);
        if (zmq_msg_recv(&m->bodies[m->nbodies], sock, 0) < 0) {
            zmq_msg_close(&m->bodies[m->nbodies]);
            break;
        }
        m->nbodies++;
    }
    if (m->hdr.nbodies != 0 && m->hdr.nbodies != m->nbodies) {
        size_t announced = m->hdr.nbodies;
        sk_header_clear(&m->hdr);
        for (size_t i = 0; i < m->nbodies; i++)
            zmq_msg_close(&m->bodies[i]);
        size_t got = m->nbodies;
        m->nbodies = 0;
        return sk_fail(err, SK_EPROTO, "header names %zu bodies, %zu body frames arrived", announced, got);
    }
    return 1;
}

int sk_wire_send(void *sock, const void *route, size_t route_len, const sk_header *h,
                 zmq_msg_t *bodies, size_t nbodies, int flags)
{
    static const unsigned char sig[4] = {'S', 'K', SK_PROTO_MAJOR, SK_PROTO_MINOR};
    char stack[1024];
    fixbuf fb = {stack, 0, sizeof stack, false};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &fb, fixbuf_write);
    if (header_pack(h, &pk) != 0) {
        if (fb.heap)
            free(fb.data);
        errno = ENOMEM;
        return -1;
    }
    const char *hdr = fb.data;
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
