/* sk_client.c - blocking bus client (see sk_client.h). */
#include "sk_client.h"
#include "sk_graph.h"
#include "sk_hash.h"
#include "sk_time.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void random_hex(char *out, size_t nbytes)
{
    unsigned char buf[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, buf, nbytes) : -1;
    if (fd >= 0)
        close(fd);
    if (got != (ssize_t)nbytes) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_sec;
        for (size_t i = 0; i < nbytes; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            buf[i] = (unsigned char)(x >> 56);
        }
    }
    for (size_t i = 0; i < nbytes; i++)
        sprintf(out + 2 * i, "%02x", buf[i]);
}

sk_client *sk_client_new(const char *endpoint, sk_error *err)
{
    return sk_client_new_in(NULL, endpoint, err);
}

sk_client *sk_client_new_in(void *zmq_ctx, const char *endpoint, sk_error *err)
{
    return sk_client_new_opts(zmq_ctx, endpoint, NULL, err);
}

int sk_curve_apply(void *sock, const sk_curve *curve, sk_error *err)
{
    if (curve == NULL)
        return 0;
    if (curve->server_key == NULL || curve->public_key == NULL || curve->secret_key == NULL ||
        strlen(curve->server_key) != 40 || strlen(curve->public_key) != 40 || strlen(curve->secret_key) != 40)
        return sk_fail(err, SK_EINVAL, "CURVE needs the server's public key and this side's key pair (40-character Z85)");
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, curve->server_key, 41) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, curve->public_key, 41) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, curve->secret_key, 41) < 0)
        return sk_fail(err, SK_EINVAL, "cannot set CURVE keys: %s", zmq_strerror(errno));
    return 0;
}

sk_client *sk_client_new_opts(void *zmq_ctx, const char *endpoint, const sk_curve *curve, sk_error *err)
{
    sk_client *c = calloc(1, sizeof *c);
    int zero = 0, hwm = 100000;
    if (c == NULL) {
        sk_fail(err, SK_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(c->endpoint, sizeof c->endpoint, "%s", endpoint);
    c->max_frame = SK_MAX_FRAME;
    sk_map_init(&c->seen);
    sk_wire_batch_init(&c->out);
    /* A fixed routing id lets the broker reach this client again after
     * either side reconnects. */
    memcpy(c->id, "c-", 2);
    random_hex(c->id + 2, 12);
    c->own_ctx = zmq_ctx == NULL;
    c->ctx = zmq_ctx != NULL ? zmq_ctx : zmq_ctx_new();
    if (c->ctx == NULL || (c->sock = zmq_socket(c->ctx, ZMQ_DEALER)) == NULL) {
        sk_fail(err, SK_EIO, "zmq: %s", zmq_strerror(errno));
        sk_client_free(c);
        return NULL;
    }
    if (sk_curve_apply(c->sock, curve, err) < 0) {
        sk_client_free(c);
        return NULL;
    }
    /* A send may block while no connection is up (a DEALER holds messages
     * only for connected or connecting peers): bound it, so a refused
     * handshake or a dead broker is an error, not a hang. */
    int sndtimeo = 10000;
    if (zmq_setsockopt(c->sock, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo) < 0 ||
        zmq_setsockopt(c->sock, ZMQ_ROUTING_ID, c->id, strlen(c->id)) < 0 ||
        zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof zero) < 0 ||
        zmq_setsockopt(c->sock, ZMQ_SNDHWM, &hwm, sizeof hwm) < 0 ||
        zmq_setsockopt(c->sock, ZMQ_RCVHWM, &hwm, sizeof hwm) < 0 ||
        zmq_connect(c->sock, endpoint) < 0) {
        sk_fail(err, SK_EIO, "cannot connect to %s: %s", endpoint, zmq_strerror(errno));
        sk_client_free(c);
        return NULL;
    }
    sk_wire_reader_init(&c->rd, c->sock, false);
    return c;
}

void sk_client_free(sk_client *c)
{
    if (c == NULL)
        return;
    sk_wire_reader_free(&c->rd);
    sk_wire_batch_free(&c->out);
    if (c->sock)
        zmq_close(c->sock);
    if (c->ctx && c->own_ctx)
        zmq_ctx_term(c->ctx);
    sk_map_free(&c->seen);
    if (c->seen_ring != NULL)
        for (size_t i = 0; i < SK_CLIENT_SEEN; i++)
            free(c->seen_ring[i]);
    free(c->seen_ring);
    free(c);
}

static int send_failed(sk_client *c, sk_error *err)
{
    return sk_fail(err, SK_EIO, "send to %s: %s", c->endpoint,
                   errno == EAGAIN ? "no connection to the broker (timed out after 10 s)" : zmq_strerror(errno));
}

void sk_client_set_batching(sk_client *c, bool on)
{
    c->batching = on;
}

int sk_client_flush(sk_client *c, sk_error *err)
{
    if (c->out.count == 0)
        return 0;
    if (sk_wire_batch_send(c->sock, NULL, 0, &c->out, 0) < 0)
        return send_failed(c, err);
    return 0;
}

static int send_blocking(sk_client *c, const sk_header *h, zmq_msg_t *bodies, size_t n, sk_error *err)
{
    /* What waits in the batch goes first: the broker sees requests in order. */
    if (sk_client_flush(c, err) < 0)
        return -1; /* the caller closes the bodies */
    /* Blocking send: a client may wait for the broker; bounded by HWM. */
    if (sk_wire_send(c->sock, NULL, 0, h, bodies, n, 0) < 0)
        return sk_fail(err, SK_EIO, "send to %s: %s", c->endpoint,
                       errno == EAGAIN ? "no connection to the broker (timed out after 10 s)" : zmq_strerror(errno));
    return 0;
}

/* A submit's header: everything but the body frames.  deps and dsets are
 * the caller's storage for the header's arrays. */
static int submit_header(const sk_submit *s, sk_header *h, char (*deps)[2 * SK_ID_MAX],
                         char (*dsets)[2 * SK_ID_MAX], sk_error *err)
{
    if (s->service == NULL || strlen(s->service) >= SK_ID_MAX || s->tenant == NULL || strlen(s->tenant) >= SK_ID_MAX)
        return sk_fail(err, SK_EINVAL, "service and tenant must be set and shorter than %d bytes", SK_ID_MAX);
    sk_header_init(h, SK_MSG_SUBMIT);
    sk_strlcpy(h->service, s->service, sizeof h->service);
    sk_strlcpy(h->tenant, s->tenant, sizeof h->tenant);
    if (s->idem != NULL) {
        if (strlen(s->idem) >= sizeof h->idem)
            return sk_fail(err, SK_EINVAL, "idempotency key longer than %zu bytes", sizeof h->idem - 1);
        sk_strlcpy(h->idem, s->idem, sizeof h->idem);
    }
    h->deadline_ms = s->timeout_ms;
    h->no_ack = s->no_ack;
    h->params = (sk_params *)s->params;
    if (s->ndeps > SK_MAX_BODIES)
        return sk_fail(err, SK_ETOOBIG, "at most %d dependencies per job", SK_MAX_BODIES);
    for (size_t i = 0; i < s->ndeps; i++) {
        if (s->deps[i] == NULL || strchr(s->deps[i], '=') == NULL || strlen(s->deps[i]) >= sizeof deps[i])
            return sk_fail(err, SK_EINVAL, "dependency '%s' must be JOB=INPUT", s->deps[i] ? s->deps[i] : "");
        sk_strlcpy(deps[i], s->deps[i], sizeof deps[i]);
    }
    h->deps = s->ndeps ? deps : NULL;
    h->ndeps = s->ndeps;
    if (s->ndatasets > SK_MAX_BODIES)
        return sk_fail(err, SK_ETOOBIG, "at most %d dataset inputs per job", SK_MAX_BODIES);
    for (size_t i = 0; i < s->ndatasets; i++) {
        if (s->datasets[i] == NULL || strstr(s->datasets[i], "=sha256:") == NULL ||
            strlen(s->datasets[i]) >= sizeof dsets[i])
            return sk_fail(err, SK_EINVAL, "dataset input '%s' must be INPUT=sha256:HEX",
                           s->datasets[i] ? s->datasets[i] : "");
        sk_strlcpy(dsets[i], s->datasets[i], sizeof dsets[i]);
    }
    h->datasets = s->ndatasets ? dsets : NULL;
    h->ndatasets = s->ndatasets;
    return 0;
}

int64_t sk_client_submit(sk_client *c, const sk_submit *s, sk_error *err)
{
    sk_header h;
    zmq_msg_t bodies[SK_MAX_BODIES];
    if (s->ninputs > SK_MAX_BODIES)
        return sk_fail(err, SK_ETOOBIG, "at most %d inputs per job", SK_MAX_BODIES);
    for (size_t i = 0; i < s->ninputs; i++)
        if ((int64_t)s->input_len[i] > c->max_frame)
            return sk_fail(err, SK_ETOOBIG,
                           "input '%s' is %zu bytes; the bus carries at most %lld bytes per frame",
                           s->input_names[i] ? s->input_names[i] : "", s->input_len[i], (long long)c->max_frame);
    char deps[SK_MAX_BODIES][2 * SK_ID_MAX], dsets[SK_MAX_BODIES][2 * SK_ID_MAX];
    if (submit_header(s, &h, deps, dsets, err) < 0)
        return -1;
    h.req = ++c->next_req;
    h.nbodies = s->ninputs;
    for (size_t i = 0; i < s->ninputs; i++) {
        const char *name = s->input_names[i] ? s->input_names[i] : "";
        if (strlen(name) >= SK_ID_MAX) {
            for (size_t j = 0; j < i; j++)
                zmq_msg_close(&bodies[j]);
            return sk_fail(err, SK_EINVAL, "input name '%s' is too long", name);
        }
        sk_strlcpy(h.body_names[i], name, SK_ID_MAX);
        if (zmq_msg_init_size(&bodies[i], s->input_len[i]) < 0) {
            for (size_t j = 0; j < i; j++)
                zmq_msg_close(&bodies[j]);
            return sk_fail(err, SK_ENOMEM, "out of memory");
        }
        if (s->input_len[i] > 0)
            memcpy(zmq_msg_data(&bodies[i]), s->input_data[i], s->input_len[i]);
    }
    if (c->batching) {
        if (sk_wire_batch_full(&c->out) && sk_client_flush(c, err) < 0) {
            for (size_t i = 0; i < s->ninputs; i++)
                zmq_msg_close(&bodies[i]);
            return -1;
        }
        if (sk_wire_batch_add(&c->out, &h, bodies, s->ninputs) < 0)
            return sk_fail(err, SK_ENOMEM, "out of memory");
        if (sk_wire_batch_full(&c->out) && sk_client_flush(c, err) < 0)
            return -1;
        return h.req;
    }
    int rc = send_blocking(c, &h, bodies, s->ninputs, err);
    if (rc < 0) {
        for (size_t i = 0; i < s->ninputs; i++)
            zmq_msg_close(&bodies[i]);
        return rc;
    }
    return h.req;
}

int64_t sk_client_submit_graph(sk_client *c, const sk_submit *subs, size_t n, const char *tenant, const char *idem,
                               sk_error *err)
{
    if (n == 0 || n > SK_GRAPH_MAX_NODES)
        return sk_fail(err, SK_EINVAL, "a graph has 1..%d jobs, not %zu", SK_GRAPH_MAX_NODES, n);
    sk_header *nodes = calloc(n, sizeof *nodes);
    char (*deps)[SK_MAX_BODIES][2 * SK_ID_MAX] = calloc(n, sizeof *deps);
    char (*dsets)[SK_MAX_BODIES][2 * SK_ID_MAX] = calloc(n, sizeof *dsets);
    char *body = NULL;
    size_t blen = 0;
    int64_t rc = 0;
    if (nodes == NULL || deps == NULL || dsets == NULL)
        rc = sk_fail(err, SK_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (subs[i].ninputs > 0)
            rc = sk_fail(err, SK_EINVAL, "graph job %zu (%s): inputs must be datasets, not files", i,
                         subs[i].service ? subs[i].service : "");
        else if (submit_header(&subs[i], &nodes[i], deps[i], dsets[i], err) < 0)
            rc = -1;
    }
    if (rc == 0)
        rc = sk_graph_encode(nodes, n, &body, &blen, err);
    /* the nodes borrow params, deps and datasets: nothing of theirs to free */
    free(nodes);
    free(deps);
    free(dsets);
    if (rc < 0)
        return rc;
    if (tenant == NULL || strlen(tenant) >= SK_ID_MAX || (idem != NULL && strlen(idem) > SK_GRAPH_IDEM_MAX)) {
        free(body);
        return sk_fail(err, SK_EINVAL, "a graph needs a tenant (and an idempotency key of at most 100 bytes)");
    }
    sk_header h;
    sk_header_init(&h, SK_MSG_GRAPH);
    sk_strlcpy(h.tenant, tenant, sizeof h.tenant);
    if (idem != NULL)
        sk_strlcpy(h.idem, idem, sizeof h.idem);
    h.req = ++c->next_req;
    h.nbodies = 1;
    sk_strlcpy(h.body_names[0], "graph", SK_ID_MAX);
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, blen) < 0) {
        free(body);
        return sk_fail(err, SK_ENOMEM, "out of memory");
    }
    memcpy(zmq_msg_data(&m), body, blen);
    free(body);
    if (send_blocking(c, &h, &m, 1, err) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    return h.req;
}

int64_t sk_client_request(sk_client *c, int type, const char *job, const char *tenant, sk_error *err)
{
    sk_header h;
    sk_header_init(&h, type);
    if (job != NULL)
        snprintf(h.job, sizeof h.job, "%s", job);
    if (tenant != NULL)
        snprintf(h.tenant, sizeof h.tenant, "%s", tenant);
    h.req = ++c->next_req;
    int rc = send_blocking(c, &h, NULL, 0, err);
    return rc < 0 ? rc : h.req;
}


static void remember(sk_client *c, const char *job, size_t kl)
{
    if (c->seen_ring == NULL && (c->seen_ring = calloc(SK_CLIENT_SEEN, sizeof *c->seen_ring)) == NULL)
        return;
    char *old = c->seen_ring[c->seen_pos];
    if (old != NULL) {
        sk_map_del(&c->seen, old, strlen(old));
        free(old);
    }
    c->seen_ring[c->seen_pos] = strndup(job, kl);
    c->seen_pos = (c->seen_pos + 1) % SK_CLIENT_SEEN;
    sk_map_put(&c->seen, job, kl, (void *)1);
}

int sk_client_recv(sk_client *c, int timeout_ms, sk_wire_msg *m, sk_error *err)
{
    int64_t end = timeout_ms < 0 ? -1 : (int64_t)sk_mono_ms() + timeout_ms;
    bool try_first = true;
    if (sk_client_flush(c, err) < 0)
        return -1;
    for (;;) {
        /* A message is usually already waiting under load, or the rest of
         * a batch is: read it without a poll system call first. */
        if (try_first || c->rd.left > 0) {
            try_first = false;
            int rc = sk_wire_read(&c->rd, m, ZMQ_DONTWAIT, err);
            if (rc < 0)
                return rc;
            if (rc == 1)
                goto got;
        }
        int left = -1;
        if (end >= 0) {
            int64_t l = end - (int64_t)sk_mono_ms();
            if (l <= 0)
                return 0;
            left = (int)l;
        }
        zmq_pollitem_t item = {c->sock, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&item, 1, left);
        if (n < 0) {
            if (errno == EINTR)
                return sk_fail(err, SK_ECANCELED, "interrupted");
            return sk_fail(err, SK_EIO, "poll: %s", zmq_strerror(errno));
        }
        if (n == 0)
            continue;
        int rc = sk_wire_read(&c->rd, m, ZMQ_DONTWAIT, err);
        if (rc < 0)
            return rc;
        if (rc == 0)
            continue;
    got:;
        int t = m->hdr.type;
        if ((t == SK_MSG_RESULT || t == SK_MSG_FAILED) && m->hdr.job[0] != '\0') {
            size_t kl = strlen(m->hdr.job);
            if (sk_map_get(&c->seen, m->hdr.job, kl) != NULL) {
                sk_wire_msg_close(m);
                try_first = true;
                continue;
            }
            remember(c, m->hdr.job, kl);
        }
        return 1;
    }
}

int64_t sk_client_request_text(sk_client *c, int type, const char *tenant, const char *text, const void *body,
                               size_t len, sk_error *err)
{
    sk_header h;
    zmq_msg_t m;
    sk_header_init(&h, type);
    if (tenant != NULL)
        sk_strlcpy(h.tenant, tenant, sizeof h.tenant);
    if (text != NULL)
        sk_strlcpy(h.text, text, sizeof h.text);
    h.req = ++c->next_req;
    if (body != NULL) {
        if (zmq_msg_init_size(&m, len) < 0)
            return sk_fail(err, SK_ENOMEM, "out of memory");
        memcpy(zmq_msg_data(&m), body, len);
        h.nbodies = 1;
        sk_strlcpy(h.body_names[0], "body", SK_ID_MAX);
    }
    int rc = send_blocking(c, &h, body != NULL ? &m : NULL, body != NULL ? 1 : 0, err);
    if (rc < 0) {
        if (body != NULL)
            zmq_msg_close(&m);
        return rc;
    }
    return h.req;
}

int sk_client_call(sk_client *c, int type, const char *tenant, const char *text, const void *body, size_t len,
                   int timeout_ms, char **out, size_t *outlen, sk_error *err)
{
    int64_t req = sk_client_request_text(c, type, tenant, text, body, len, err);
    if (req < 0)
        return (int)req;
    int64_t end = (int64_t)sk_mono_ms() + timeout_ms;
    while ((int64_t)sk_mono_ms() < end) {
        sk_wire_msg m;
        int rc = sk_client_recv(c, (int)(end - (int64_t)sk_mono_ms()), &m, err);
        if (rc < 0)
            return rc;
        if (rc == 0)
            break;
        if (m.hdr.req == req && m.hdr.type == SK_MSG_REPLY && m.nbodies == 1) {
            *outlen = zmq_msg_size(&m.bodies[0]);
            *out = malloc(*outlen + 1);
            if (*out != NULL) {
                memcpy(*out, zmq_msg_data(&m.bodies[0]), *outlen);
                (*out)[*outlen] = '\0';
            }
            sk_wire_msg_close(&m);
            return *out != NULL ? 0 : sk_fail(err, SK_ENOMEM, "out of memory");
        }
        if (m.hdr.req == req && (m.hdr.type == SK_MSG_ERROR || m.hdr.type == SK_MSG_FAILED)) {
            int code = (int)(m.hdr.code ? m.hdr.code : SK_EIO);
            sk_fail(err, code, "%s", m.hdr.reason);
            sk_wire_msg_close(&m);
            return code;
        }
        sk_wire_msg_close(&m);
    }
    return sk_fail(err, SK_ETIMEDOUT, "no answer from the broker at %s", c->endpoint);
}

/* ---- results by reference ---- */

const sk_data_ref *sk_client_result_ref(const sk_wire_msg *m)
{
    if (m->hdr.type != SK_MSG_RESULT || m->nbodies != 0)
        return NULL;
    for (size_t i = 0; i < m->hdr.nrefs; i++)
        if (strcmp(m->hdr.refs[i].input, "result") == 0)
            return &m->hdr.refs[i];
    return NULL;
}

#define FETCH_WINDOW 4
#define FETCH_CHUNK (4 * SK_FETCH_CHUNK) /* asked for; the broker's --max-frame may make it less */

int sk_client_fetch_result(sk_client *c, const sk_wire_msg *m, const sk_fetch_opts *opts, char **out, size_t *len,
                           sk_error *err)
{
    const sk_data_ref *ref = sk_client_result_ref(m);
    if (ref == NULL)
        return 0;
    if (ref->size < 0 || (uint64_t)ref->size >= (uint64_t)SIZE_MAX / 2)
        return sk_fail(err, SK_EPROTO, "job %s: a result of %lld bytes", m->hdr.job, (long long)ref->size);
    int timeout_ms = opts != NULL && opts->timeout_ms > 0 ? opts->timeout_ms : 30000;
    size_t size = (size_t)ref->size;
    char *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return sk_fail(err, SK_ENOMEM, "job %s: no memory for its result of %zu bytes", m->hdr.job, size);
    sk_sha256_state st;
    sk_sha256_init(&st);
    /* The first chunk says how large the broker's chunks are (at most its
     * --max-frame); then up to FETCH_WINDOW requests are in flight.  The
     * broker answers one connection's requests in order. */
    int64_t requested = 0, received = 0, chunk = 0, first_req = c->next_req + 1;
    int inflight = 0, rc = 0;
    while (received < ref->size && rc == 0) {
        while (inflight < FETCH_WINDOW && requested < ref->size && (chunk > 0 || inflight == 0)) {
            sk_header h;
            sk_header_init(&h, SK_MSG_DATA_GET);
            sk_strlcpy(h.job, m->hdr.job, sizeof h.job);
            sk_strlcpy(h.tenant, m->hdr.tenant, sizeof h.tenant);
            sk_strlcpy(h.text, ref->hash, sizeof h.text);
            h.offset = requested;
            h.total = chunk > 0 ? chunk : FETCH_CHUNK;
            h.req = ++c->next_req;
            if (send_blocking(c, &h, NULL, 0, err) < 0) {
                rc = err != NULL ? err->code : SK_EIO;
                break;
            }
            inflight++;
            requested += chunk > 0 ? chunk : ref->size; /* before the first answer: one request only */
        }
        if (rc < 0)
            break;
        sk_wire_msg a;
        int got = sk_client_recv(c, timeout_ms, &a, err);
        if (got < 0) {
            rc = got;
            break;
        }
        if (got == 0) {
            rc = sk_fail(err, SK_ETIMEDOUT, "job %s: no answer from the broker for %d ms while downloading its result "
                         "(%lld of %lld bytes)", m->hdr.job, timeout_ms, (long long)received, (long long)ref->size);
            break;
        }
        if (a.hdr.req < first_req || a.hdr.req > c->next_req ||
            (a.hdr.type != SK_MSG_REPLY && a.hdr.type != SK_MSG_ERROR)) {
            if (opts != NULL && opts->other != NULL)
                opts->other(opts->ud, &a);
            sk_wire_msg_close(&a);
            continue;
        }
        inflight--;
        size_t n = a.nbodies == 1 ? zmq_msg_size(&a.bodies[0]) : 0;
        if (a.hdr.type == SK_MSG_ERROR) {
            rc = sk_fail(err, a.hdr.code ? (int)a.hdr.code : SK_EIO, "job %s: cannot download its result: %s",
                         m->hdr.job, a.hdr.reason);
        } else if (a.nbodies != 1 || a.hdr.total != ref->size || a.hdr.offset != received || n == 0 ||
                   (int64_t)n > ref->size - received) {
            rc = sk_fail(err, SK_EPROTO, "job %s: a result chunk at %lld (+%zu of %lld) does not continue %lld of %lld "
                         "bytes", m->hdr.job, (long long)a.hdr.offset, n, (long long)a.hdr.total, (long long)received,
                         (long long)ref->size);
        } else {
            memcpy(buf + received, zmq_msg_data(&a.bodies[0]), n);
            sk_sha256_update(&st, zmq_msg_data(&a.bodies[0]), n);
            received += (int64_t)n;
            if (chunk == 0) {
                chunk = (int64_t)n;
                requested = received;
            }
            if (opts != NULL && opts->progress != NULL)
                opts->progress(opts->ud, received, ref->size);
        }
        sk_wire_msg_close(&a);
    }
    if (rc == 0) {
        unsigned char d[32];
        char got[SK_HASH_NAME_LEN];
        sk_sha256_final(&st, d);
        sk_sha256_format(d, got);
        if (strcmp(got, ref->hash) != 0)
            rc = sk_fail(err, SK_EPROTO, "job %s: the downloaded result hashes to %s, not %s", m->hdr.job, got,
                         ref->hash);
    }
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = size;
    return 1;
}
