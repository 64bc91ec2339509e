/* sk_graph.c - job graphs in one message (see sk_graph.h). */
#include "sk_graph.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "sk_mp.h"

int sk_graph_dep_index(const char *dep, size_t *k)
{
    if (dep[0] != '@')
        return 0;
    size_t v = 0, i = 1;
    for (; dep[i] >= '0' && dep[i] <= '9' && i < 8; i++)
        v = v * 10 + (size_t)(dep[i] - '0');
    if (i == 1 || dep[i] != '=' || dep[i + 1] == '\0')
        return -1;
    *k = v;
    return 1;
}

int sk_graph_encode(const sk_header *nodes, size_t n, char **out, size_t *len, sk_error *err)
{
    *out = NULL;
    *len = 0;
    if (n == 0 || n > SK_GRAPH_MAX_NODES)
        return sk_fail(err, SK_EINVAL, "a graph has 1..%d jobs, not %zu", SK_GRAPH_MAX_NODES, n);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *h = NULL;
        size_t hl = 0;
        if (nodes[i].nbodies > 0) {
            rc = sk_fail(err, SK_EINVAL, "graph job %zu: inputs must be datasets, not bodies", i);
            break;
        }
        if (sk_header_encode(&nodes[i], &h, &hl, err) < 0) {
            rc = -1;
            break;
        }
        if (hl > SK_GRAPH_MAX_NODE_BYTES)
            rc = sk_fail(err, SK_ETOOBIG, "graph job %zu: its header is %zu bytes, limit %d", i, hl,
                         SK_GRAPH_MAX_NODE_BYTES);
        else if (msgpack_pack_bin(&pk, hl) != 0 || msgpack_pack_bin_body(&pk, h, hl) != 0)
            rc = sk_fail(err, SK_ENOMEM, "out of memory");
        free(h);
    }
    if (rc != 0) {
        msgpack_sbuffer_destroy(&sb);
        return rc < 0 ? rc : sk_fail(err, SK_ENOMEM, "out of memory");
    }
    *out = sb.data;
    *len = sb.size;
    return 0;
}

void sk_graph_free(sk_header *nodes, size_t n)
{
    for (size_t i = 0; nodes != NULL && i < n; i++)
        sk_header_clear(&nodes[i]);
    free(nodes);
}

int sk_graph_decode(const void *data, size_t len, sk_header **nodes, size_t *n, sk_error *err)
{
    *nodes = NULL;
    *n = 0;
    /* One array of bins: shallow, few objects, big strings. */
    const sk_mp_limits lim = {.max_depth = 2, .max_objects = SK_GRAPH_MAX_NODES + 1,
                              .max_str = SK_GRAPH_MAX_NODE_BYTES};
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    if (sk_mp_unpack(data, len, &lim, &up, err) < 0) {
        msgpack_unpacked_destroy(&up);
        return -1;
    }
    const msgpack_object *arr = &up.data;
    if (arr->type != MSGPACK_OBJECT_ARRAY || arr->via.array.size == 0) {
        msgpack_unpacked_destroy(&up);
        return sk_fail(err, SK_EPROTO, "graph: want a non-empty array of submit headers");
    }
    size_t count = arr->via.array.size;
    sk_header *hs = calloc(count, sizeof *hs);
    if (hs == NULL) {
        msgpack_unpacked_destroy(&up);
        return sk_fail(err, SK_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        const msgpack_object *o = &arr->via.array.ptr[i];
        sk_header_init(&hs[i], SK_MSG_SUBMIT);
        if (o->type != MSGPACK_OBJECT_BIN) {
            rc = sk_fail(err, SK_EPROTO, "graph job %zu: want a bin holding a submit header", i);
            break;
        }
        sk_error herr = SK_ERROR_INIT;
        if (sk_header_decode(o->via.bin.ptr, o->via.bin.size, &hs[i], &herr) < 0) {
            rc = sk_fail(err, SK_EPROTO, "graph job %zu: %s", i, herr.msg);
            break;
        }
        if (hs[i].type != SK_MSG_SUBMIT || hs[i].nbodies > 0)
            rc = sk_fail(err, SK_EPROTO, "graph job %zu: want a submit without bodies (inputs by dataset)", i);
        for (size_t d = 0; rc == 0 && d < hs[i].ndeps; d++) {
            size_t k;
            int r = sk_graph_dep_index(hs[i].deps[d], &k);
            if (r < 0 || (r == 1 && k >= i))
                rc = sk_fail(err, SK_EPROTO, "graph job %zu: dependency '%s' must name an earlier job (@K=INPUT, "
                             "K < %zu) or a job id", i, hs[i].deps[d], i);
        }
    }
    msgpack_unpacked_destroy(&up);
    if (rc != 0) {
        sk_graph_free(hs, count); /* calloc'ed: untouched headers free nothing */
        return rc;
    }
    *nodes = hs;
    *n = count;
    return 0;
}
