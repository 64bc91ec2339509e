/* broker.c - the broker's state machine: jobs, nodes, queues, heartbeats.
 * See docs/protocol.md for the messages and the rules enforced here. */
#include "broker.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>
#include <zmq.h>

#include "sk_buf.h"
#include "sk_http.h"
#include "sk_keys.h"
#include "sk_metrics.h"
#include "sk_notify.h"
#include "sk_log.h"
#include "sk_map.h"
#include "sk_proto.h"
#include "sk_uvzmq.h"
#include "journal.h"
#include "region.h"
#include "datasets.h"
#include "sk_graph.h"

#define MAX_WAITERS 8
#define ROUTE_MAX 256
#define SPARE_JOBS_MAX 65536

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_FAILED };
static const char *const state_names[] = {"queued", "running", "done", "failed"};
/* The `state` label of samskap_jobs_total. */
enum { OUT_SUBMITTED, OUT_DONE, OUT_CANCELLED, OUT_TIMED_OUT, OUT_FAILED, JOB_OUTCOMES };
static const char *const outcome_names[] = {"submitted", "done", "cancelled", "timed_out", "failed"};

typedef struct route {
    unsigned char id[ROUTE_MAX];
    size_t len;
} route;

typedef struct node node;
typedef struct job job;
typedef struct svc_queue svc_queue;

struct job {
    char id[SK_ID_MAX];
    char service[SK_ID_MAX];
    char tenant[SK_ID_MAX];
    char idem[128];
    route client;
    int client_minor;           /* the submitter's protocol minor: 1+ reads batches */
    int64_t req;
    bool no_ack;
    int64_t attempt;
    enum job_state state;
    uint64_t submitted_ms, deadline_abs_ms, finished_ms;
    sk_params *params;
    size_t nbodies;
    char (*body_names)[SK_ID_MAX];  /* [nbodies]; NULL when none are held */
    zmq_msg_t *bodies;              /* [nbodies] */
    /* One input, the common case, lives in the record: no allocation. */
    char one_name[1][SK_ID_MAX];
    zmq_msg_t one_body;
    size_t body_bytes;
    bool inputs_lost;           /* adopted after a broker restart: cannot be retried */
    node *node;                 /* running on (or still held by, after a cancel) */
    svc_queue *queue;
    size_t tqi;                 /* its tenant's index in queue->tq */
    job *qprev, *qnext;
    int64_t code;
    char *reason;               /* why it failed: never NULL; "" or a copy (set_reason) */
    bool has_result;
    zmq_msg_t result;
    size_t nwaiters;
    route *waiters;             /* MAX_WAITERS slots, allocated on first use */
    job *lprev, *lnext;         /* in the active list, or in the finished list */
    bool in_done;
    bool pending_commit;        /* journaled submit not yet committed: not acked, not queued */
    bool undelivered;           /* its outcome could not be sent to its submitter yet */
    char (*deps)[2 * SK_ID_MAX];/* "JOB=INPUT": results this job waits for */
    size_t ndeps, deps_pending;
    char (*dependants)[SK_ID_MAX];  /* jobs waiting for this one's result */
    size_t ndependants, capdependants;
    uint64_t limbo_until_ms;    /* running before a restart: wait this long for its node */
    sk_data_ref *refs;          /* [nrefs] inputs the node fetches by hash (after the bodies) */
    size_t nrefs;
    char result_hash[SK_HASH_MAX];  /* its result, once stored as a dataset for dependants */
    bool result_by_ref;         /* its result is that dataset (result_size bytes) and nothing else: its
                                   node uploaded it, being larger than a frame */
    int64_t result_size;
    sk_dataset_upload *upload;  /* the running attempt's result upload, once its first chunk came */
    struct graph_reply *graph_reply;/* the last job of a graph: the answer, sent once it is committed */
    sk_journal_ref jref;        /* its row in the journal (0: not journaled) */
};

/* The answer to a graph submit: its job ids, for the submitter. */
struct graph_reply {
    route to;
    int64_t req;
    char *json;
};

struct node {
    route id;
    char name[SK_ID_MAX];
    size_t nservices, ntenants;
    char (*services)[SK_ID_MAX];
    char (*tenants)[SK_ID_MAX];
    char (*hashes)[SK_HASH_MAX];  /* code hash per service, "" if none */
    size_t nhashes;
    int64_t capacity, load;
    int minor;                  /* its protocol minor: 1+ reads batches */
    bool restricted;            /* its key limits tenants: an empty list means none */
    uint64_t expiry_ms, next_heartbeat_ms;
};

/* One tenant's share of a service queue: its own FIFO, and how many of its
 * jobs run now.  Dispatch serves the tenant with the fewest running jobs
 * first, so one municipality's 8,760-job batch cannot starve another's. */
typedef struct tenant_q {
    char tenant[SK_ID_MAX];
    job *head, *tail;
    size_t len;
    int64_t running;
    /* samskap_jobs_total for this service and tenant, by outcome: plain
     * counters on the loop, copied into the metrics registry when it is
     * scraped (a labelled update per job costs a lock and a lookup). */
    uint64_t jobs_total[JOB_OUTCOMES];
} tenant_q;

struct svc_queue {
    char name[SK_ID_MAX];
    tenant_q *tq;
    size_t ntq, captq, rr;
    size_t len;
    int64_t running;
    svc_queue *next;
};

/* Messages for one peer, collected while the loop handles what has arrived
 * and sent as one batch at the end of the loop turn (the flush check
 * handle): at tens of thousands of jobs per second, a ZeroMQ message per
 * job costs more than the broker's own work.  Only peers that spoke
 * protocol 1.1 get batches. */
typedef struct outbox {
    void *sock;
    route to;
    sk_wire_batch batch;
    job **jobs;                 /* outcomes in the batch: undelivered if the send fails */
    size_t njobs, capjobs;
    struct outbox *next_dirty;
} outbox;

typedef struct counters {
    uint64_t submitted, completed, failed, requeued, cancelled, malformed, late_results,
        unroutable, refused, auth_refused, access_refused, fetch_chunks, fetch_refused, batches_out, batched_out,
        upload_chunks, upload_bytes, upload_refused, results_by_ref;
} counters;

typedef struct broker {
    sk_broker_config cfg;
    uv_loop_t loop;
    void *ctx, *front, *back;
    sk_uvzmq zfront, zback, zzap, zevents;
    void *events;               /* XPUB, manual subscriptions; NULL when off */
    void *zap;                  /* ZAP handler (REP on inproc://zeromq.zap.01) */
    sk_access *access;          /* NULL: insecure mode, everyone may do anything */
    sk_journal *journal;        /* NULL: not durable (no --data-dir) */
    sk_region_conf *region;     /* municipalities and merged regions, or NULL */
    sk_metrics *metrics;
    sk_metric *m_jobs_total, *m_jobs, *m_queue_bytes, *m_nodes, *m_missed, *m_malformed, *m_auth, *m_access,
        *m_requeued, *m_commit, *m_late, *m_upload_bytes, *m_upload_refused, *m_results_by_ref;
    sk_http *http;
    sk_http_probe ready_probe;
    sk_notify *notify;
    uv_signal_t sighup;
    uint64_t next_status_ms;
    uv_timer_t tick;
    uv_signal_t sigint, sigterm;
    sk_map jobs, nodes, idem;
    node **node_list;           /* the nodes again, dense: dispatch walks them per job */
    size_t nnode_list, capnode_list;
    svc_queue *queues;
    /* Active jobs (queued or running) and finished ones, oldest first: the
     * timer walks only the first, and retention trims the second from its
     * head, so neither costs time per job ever seen. */
    job *active_head, *active_tail;
    job *done_head, *done_tail;
    size_t ndone;
    int64_t done_bytes;
    int64_t queued_bytes;
    uint64_t boot_id, next_job;
    uint64_t started_ms;
    size_t nundelivered;
    uint64_t next_dataset_trim_ms;
    job *last_submitted;        /* the job on_submit just created (graph submits read it) */
    /* Freed job records kept for reuse: the broker retires and creates
     * thousands per second, and reusing warm records saves a calloc and
     * its page faults each time.  Linked through lnext. */
    job *spare_jobs;
    size_t nspare_jobs;
    sk_wire_reader rfront, rback;
    sk_map outboxes;            /* "F"/"B" + route -> outbox with messages waiting */
    outbox *dirty;              /* the same outboxes, to flush */
    outbox *spare_outboxes;     /* flushed ones, kept for their buffers */
    size_t nspare_outboxes;
    uv_check_t flush_check;
    bool flush_armed;
    counters n;
    bool stopping;
} broker;

void sk_broker_config_defaults(sk_broker_config *c)
{
    c->frontend = SK_DEFAULT_FRONTEND;
    c->backend = SK_DEFAULT_BACKEND;
    c->heartbeat_ms = 1000;
    c->liveness = 5;
    c->max_attempts = 3;
    c->max_queue = 100000;
    c->max_queued_bytes = (int64_t)1 << 30;
    c->max_frame = SK_MAX_FRAME;
    c->no_service_wait_ms = 10000;
    c->result_ttl_s = 600;
    c->result_keep = 100000;
    c->result_bytes = (int64_t)1 << 30;
    c->log_level = SK_LOG_INFO;
    c->curve_secret = NULL;
    c->data_dir = NULL;
    c->events = NULL;
    c->region = NULL;
    c->dataset_ttl_s = 0;
    c->dataset_bytes = 0;
    c->access = NULL;
    c->insecure = 0;
}

static uint64_t now_ms(broker *b)
{
    return uv_now(&b->loop);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Loop time <-> wall time, for what the journal keeps across restarts. */
static int64_t to_wall(broker *b, uint64_t loop_ms)
{
    return loop_ms == 0 ? 0 : wall_ms() - ((int64_t)now_ms(b) - (int64_t)loop_ms);
}

static uint64_t from_wall(broker *b, int64_t wall)
{
    if (wall == 0)
        return 0;
    int64_t v = (int64_t)now_ms(b) - (wall_ms() - wall);
    return v > 1 ? (uint64_t)v : 1;
}

/* ---- sending ---- */

static void flush_route(broker *b, void *sock, const route *r);

static int send_to(broker *b, void *sock, const route *r, const sk_header *h, zmq_msg_t *bodies, size_t nb)
{
    /* Messages batched for this peer go first: order per peer is kept. */
    if (b->outboxes.len > 0)
        flush_route(b, sock, r);
    int rc = sk_wire_send(sock, r->id, r->len, h, bodies, nb, ZMQ_DONTWAIT);
    if (rc < 0) {
        /* Gone (EHOSTUNREACH) or not reading (EAGAIN): never block the
         * loop; the caller keeps what it needs (results stay for `wait`). */
        b->n.unroutable++;
        sk_debug("msg=\"send failed\" type=%s error=\"%s\"", sk_msg_type_name(h->type), zmq_strerror(errno));
        for (size_t i = 0; i < nb; i++)
            zmq_msg_close(&bodies[i]);
    }
    sk_uvzmq_kick(sock == b->front ? &b->zfront : &b->zback);
    return rc;
}

/* ---- batched sending (outbox) ---- */

static size_t outbox_key(broker *b, void *sock, const route *r, unsigned char *key)
{
    key[0] = sock == b->front ? 'F' : 'B';
    memcpy(key + 1, r->id, r->len);
    return r->len + 1;
}

static void mark_undelivered(broker *b, job *j)
{
    if (!j->undelivered) {
        j->undelivered = true;
        b->nundelivered++;
    }
}

static void outbox_send(broker *b, outbox *ob)
{
    if (ob->batch.count == 0)
        return;
    if (ob->batch.count > 1) {
        b->n.batches_out++;
        b->n.batched_out += ob->batch.count;
    }
    if (sk_wire_batch_send(ob->sock, ob->to.id, ob->to.len, &ob->batch, ZMQ_DONTWAIT) < 0) {
        /* As send_to: never block; outcomes stay for the retry timer and `wait`. */
        b->n.unroutable++;
        sk_debug("msg=\"batch send failed\" error=\"%s\"", zmq_strerror(errno));
        for (size_t i = 0; i < ob->njobs; i++)
            mark_undelivered(b, ob->jobs[i]);
    }
    ob->njobs = 0;
    sk_uvzmq_kick(ob->sock == b->front ? &b->zfront : &b->zback);
}

static void outbox_recycle(broker *b, outbox *ob)
{
    if (b->nspare_outboxes < 64) {
        ob->next_dirty = b->spare_outboxes;
        b->spare_outboxes = ob;
        b->nspare_outboxes++;
        return;
    }
    sk_wire_batch_free(&ob->batch);
    free(ob->jobs);
    free(ob);
}

/* Send everything batched: at the end of each loop turn. */
static void flush_all(broker *b)
{
    while (b->dirty != NULL) {
        outbox *ob = b->dirty;
        b->dirty = ob->next_dirty;
        outbox_send(b, ob);
        unsigned char key[ROUTE_MAX + 1];
        sk_map_del(&b->outboxes, key, outbox_key(b, ob->sock, &ob->to, key));
        outbox_recycle(b, ob);
    }
}

static void on_flush_check(uv_check_t *h)
{
    broker *b = h->data;
    flush_all(b);
    uv_check_stop(h);
    b->flush_armed = false;
}

static void flush_route(broker *b, void *sock, const route *r)
{
    unsigned char key[ROUTE_MAX + 1];
    outbox *ob = sk_map_get(&b->outboxes, key, outbox_key(b, sock, r, key));
    if (ob != NULL)
        outbox_send(b, ob);
}

/* Drop what waits for a node that is removed: its jobs are requeued and
 * must not reach it after all. */
static void discard_route(broker *b, void *sock, const route *r)
{
    unsigned char key[ROUTE_MAX + 1];
    outbox *ob = sk_map_get(&b->outboxes, key, outbox_key(b, sock, r, key));
    if (ob != NULL) {
        sk_wire_batch_free(&ob->batch);
        sk_wire_batch_init(&ob->batch);
        ob->njobs = 0;
    }
}

/* Queue a message for a peer that reads batches; j: an outcome for its
 * submitter.  0 when queued; -1 as send_to. */
static int send_batched(broker *b, void *sock, const route *r, const sk_header *h, zmq_msg_t *bodies, size_t nb,
                        job *j)
{
    unsigned char key[ROUTE_MAX + 1];
    size_t kl = outbox_key(b, sock, r, key);
    outbox *ob = sk_map_get(&b->outboxes, key, kl);
    if (ob == NULL) {
        if (b->spare_outboxes != NULL) {
            ob = b->spare_outboxes;
            b->spare_outboxes = ob->next_dirty;
            b->nspare_outboxes--;
        } else if ((ob = calloc(1, sizeof *ob)) != NULL) {
            sk_wire_batch_init(&ob->batch);
        }
        if (ob == NULL || sk_map_put(&b->outboxes, key, kl, ob) < 0) {
            if (ob != NULL)
                outbox_recycle(b, ob);
            return send_to(b, sock, r, h, bodies, nb);
        }
        ob->sock = sock;
        ob->to = *r;
        ob->njobs = 0;
        ob->next_dirty = b->dirty;
        b->dirty = ob;
    }
    if (sk_wire_batch_full(&ob->batch))
        outbox_send(b, ob);
    if (j != NULL && ob->njobs == ob->capjobs) {
        size_t cap = ob->capjobs ? ob->capjobs * 2 : 64;
        job **nj = realloc(ob->jobs, cap * sizeof *nj);
        if (nj == NULL) {
            outbox_send(b, ob);
            return send_to(b, sock, r, h, bodies, nb);
        }
        ob->jobs = nj;
        ob->capjobs = cap;
    }
    if (sk_wire_batch_add(&ob->batch, h, bodies, nb) < 0) {
        b->n.unroutable++;
        if (j != NULL)
            mark_undelivered(b, j);
        return -1;
    }
    if (j != NULL)
        ob->jobs[ob->njobs++] = j;
    if (!b->flush_armed) {
        uv_check_start(&b->flush_check, on_flush_check);
        b->flush_armed = true;
    }
    return 0;
}

static void send_client_failure(broker *b, const route *r, int64_t req, const char *jobid, int64_t code,
                                const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* A request that names no job we can speak of (unknown, or another
 * tenant's): an `error` reply matched by req, carrying no job id, so it can
 * never be mistaken for a job's outcome. */
static void send_request_error(broker *b, const route *r, int64_t req, int64_t code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* An `error` matched by req, on either socket. */
static void send_error_v(broker *b, void *sock, const route *r, int64_t req, int64_t code, const char *fmt,
                         va_list ap)
{
    sk_header h;
    sk_header_init(&h, SK_MSG_ERROR);
    h.req = req;
    h.code = code;
    vsnprintf(h.reason, sizeof h.reason, fmt, ap);
    send_to(b, sock, r, &h, NULL, 0);
}

static void send_request_error(broker *b, const route *r, int64_t req, int64_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    send_error_v(b, b->front, r, req, code, fmt, ap);
    va_end(ap);
}

static void send_client_failure(broker *b, const route *r, int64_t req, const char *jobid, int64_t code,
                                const char *fmt, ...)
{
    sk_header h;
    va_list ap;
    sk_header_init(&h, SK_MSG_FAILED);
    h.req = req;
    h.code = code;
    if (jobid != NULL)
        sk_strlcpy(h.job, jobid, sizeof h.job);
    va_start(ap, fmt);
    vsnprintf(h.reason, sizeof h.reason, fmt, ap);
    va_end(ap);
    send_to(b, b->front, r, &h, NULL, 0);
}

/* Deliver a finished job's outcome to one client route; -1 if the route
 * is not connected (the caller may retry later). */
static int send_outcome(broker *b, job *j, const route *r)
{
    sk_header h;
    sk_header_init(&h, j->state == JOB_DONE ? SK_MSG_RESULT : SK_MSG_FAILED);
    sk_strlcpy(h.job, j->id, sizeof h.job);
    sk_strlcpy(h.service, j->service, sizeof h.service);
    sk_strlcpy(h.tenant, j->tenant, sizeof h.tenant);
    h.req = j->req;
    h.attempt = j->attempt;
    if (j->state == JOB_DONE && j->result_by_ref) {
        /* No body: the client downloads the dataset the reference names. */
        sk_data_ref ref;
        sk_strlcpy(ref.input, "result", sizeof ref.input);
        sk_strlcpy(ref.hash, j->result_hash, sizeof ref.hash);
        ref.size = j->result_size;
        h.refs = &ref; /* borrowed: the header is sent (or batched, encoded) before this returns */
        h.nrefs = 1;
        int rc = r == &j->client && j->client_minor >= 1 ? send_batched(b, b->front, r, &h, NULL, 0, j)
                                                          : send_to(b, b->front, r, &h, NULL, 0);
        h.refs = NULL;
        h.nrefs = 0;
        return rc;
    }
    if (j->state == JOB_DONE && j->has_result) {
        zmq_msg_t copy;
        zmq_msg_init(&copy);
        zmq_msg_copy(&copy, &j->result);   /* shares the buffer, no copy */
        h.nbodies = 1;
        sk_strlcpy(h.body_names[0], "result", SK_ID_MAX);
        if (r == &j->client && j->client_minor >= 1)
            return send_batched(b, b->front, r, &h, &copy, 1, j);
        return send_to(b, b->front, r, &h, &copy, 1);
    }
    h.code = j->code;
    sk_strlcpy(h.reason, j->reason, sizeof h.reason);
    if (r == &j->client && j->client_minor >= 1)
        return send_batched(b, b->front, r, &h, NULL, 0, j);
    return send_to(b, b->front, r, &h, NULL, 0);
}

static void notify_outcome(broker *b, job *j)
{
    /* A submitter that is not connected right now (it reconnects after a
     * broker restart, or its HWM is full) gets the outcome retried from the
     * timer until the job is forgotten. */
    if (j->client.len > 0 && send_outcome(b, j, &j->client) < 0 && !j->undelivered) {
        j->undelivered = true;
        b->nundelivered++;
    }
    for (size_t i = 0; i < j->nwaiters; i++)
        send_outcome(b, j, &j->waiters[i]);
    j->nwaiters = 0;
}

/* ---- events ---- */

/* Advisory: dropped when a subscriber is slow (XPUB high-water mark); the
 * journal is the record.  Topic "<tenant>/" so a subscription to one
 * tenant never matches another by prefix. */
static void publish(broker *b, const job *j, const char *what, const char *node_name)
{
    if (b->events == NULL)
        return;
    char topic[SK_ID_MAX + 2];
    int tl = snprintf(topic, sizeof topic, "%s/", j->tenant);
    sk_header h;
    sk_header_init(&h, SK_MSG_EVENT);
    sk_strlcpy(h.job, j->id, sizeof h.job);
    sk_strlcpy(h.service, j->service, sizeof h.service);
    sk_strlcpy(h.tenant, j->tenant, sizeof h.tenant);
    sk_strlcpy(h.text, what, sizeof h.text);
    h.attempt = j->attempt;
    if (node_name != NULL)
        sk_strlcpy(h.node_name, node_name, sizeof h.node_name);
    if (j->state == JOB_FAILED) {
        h.code = j->code;
        sk_strlcpy(h.reason, j->reason, sizeof h.reason);
    }
    if (zmq_send(b->events, topic, (size_t)tl, ZMQ_SNDMORE | ZMQ_DONTWAIT) == (int)tl)
        sk_wire_send(b->events, NULL, 0, &h, NULL, 0, ZMQ_DONTWAIT);
}

/* Subscriptions arrive as messages on the XPUB socket (manual mode): allow
 * a tenant topic only to a key that may read that tenant; the empty topic
 * (everything) only to admins or in insecure mode. */
static int on_events(sk_uvzmq *z)
{
    broker *b = z->data;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, b->events, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return 0;
    }
    const unsigned char *d = zmq_msg_data(&m);
    size_t n = zmq_msg_size(&m);
    if (n >= 1 && (d[0] == 1 || d[0] == 0)) {
        char topic[SK_ID_MAX + 2] = "";
        size_t tl = n - 1 < sizeof topic - 1 ? n - 1 : sizeof topic - 1;
        memcpy(topic, d + 1, tl);
        topic[tl] = '\0';
        bool allowed = true;
        if (b->access != NULL) {
            const char *uid = zmq_msg_gets(&m, "User-Id");
            const sk_access_entry *e = uid ? sk_access_by_name(b->access, uid) : NULL;
            char tenant[SK_ID_MAX + 2];
            sk_strlcpy(tenant, topic, sizeof tenant);
            char *slash = strchr(tenant, '/');
            if (slash)
                *slash = '\0';
            allowed = e != NULL && (e->role == SK_ROLE_ADMIN ||
                                    (tenant[0] != '\0' && slash != NULL && sk_list_allows(e->tenants, tenant)));
        }
        if (d[0] == 1 && !allowed) {
            b->n.access_refused++;
            sk_warn("msg=\"event subscription refused\" topic=\"%s\"", topic);
        } else {
            zmq_setsockopt(b->events, d[0] == 1 ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE, d + 1, n - 1);
        }
    }
    zmq_msg_close(&m);
    return 1;
}

/* ---- queues ---- */

static svc_queue *queue_for(broker *b, const char *service, bool create)
{
    for (svc_queue *q = b->queues; q != NULL; q = q->next)
        if (strcmp(q->name, service) == 0)
            return q;
    if (!create)
        return NULL;
    svc_queue *q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    sk_strlcpy(q->name, service, sizeof q->name);
    q->next = b->queues;
    b->queues = q;
    return q;
}

static tenant_q *tq_for(svc_queue *q, const char *tenant, size_t *index)
{
    for (size_t i = 0; i < q->ntq; i++) {
        if (strcmp(q->tq[i].tenant, tenant) == 0) {
            if (index)
                *index = i;
            return &q->tq[i];
        }
    }
    if (q->ntq == q->captq) {
        size_t cap = q->captq ? q->captq * 2 : 4;
        tenant_q *t = realloc(q->tq, cap * sizeof *t);
        if (t == NULL)
            return NULL;
        q->tq = t;
        q->captq = cap;
    }
    tenant_q *t = &q->tq[q->ntq];
    memset(t, 0, sizeof *t);
    sk_strlcpy(t->tenant, tenant, sizeof t->tenant);
    if (index)
        *index = q->ntq;
    q->ntq++;
    return t;
}

/* Running jobs per service and per tenant move together. */
static void run_add(svc_queue *q, const char *tenant, int delta)
{
    if (q == NULL)
        return;
    q->running += delta;
    tenant_q *t = tq_for(q, tenant, NULL);
    if (t != NULL)
        t->running += delta;
}

/* q: the job's service queue when the caller has it at hand, else NULL.
 * Only on_collect writes the registry's counter, so the two never drift. */
static void count_job(broker *b, svc_queue *q, const job *j, int outcome)
{
    if (q == NULL)
        q = queue_for(b, j->service, true);
    tenant_q *t = q != NULL ? tq_for(q, j->tenant, NULL) : NULL;
    if (t != NULL)
        t->jobs_total[outcome]++; /* out of memory: the event goes uncounted */
}

static void queue_push(svc_queue *q, job *j, bool front)
{
    size_t i;
    tenant_q *t = tq_for(q, j->tenant, &i);
    if (t == NULL)
        return; /* out of memory: the job stays unqueued and fails at its deadline */
    j->queue = q;
    j->tqi = i;
    j->qprev = j->qnext = NULL;
    if (t->head == NULL) {
        t->head = t->tail = j;
    } else if (front) {
        j->qnext = t->head;
        t->head->qprev = j;
        t->head = j;
    } else {
        j->qprev = t->tail;
        t->tail->qnext = j;
        t->tail = j;
    }
    t->len++;
    q->len++;
}

static void queue_remove(job *j)
{
    svc_queue *q = j->queue;
    if (q == NULL)
        return;
    tenant_q *t = &q->tq[j->tqi];
    if (j->qprev) j->qprev->qnext = j->qnext; else t->head = j->qnext;
    if (j->qnext) j->qnext->qprev = j->qprev; else t->tail = j->qprev;
    j->qprev = j->qnext = NULL;
    j->queue = NULL;
    t->len--;
    q->len--;
}

static void list_add(job **head, job **tail, job *j)
{
    j->lprev = *tail;
    j->lnext = NULL;
    if (*tail)
        (*tail)->lnext = j;
    else
        *head = j;
    *tail = j;
}

static void list_del(job **head, job **tail, job *j)
{
    if (j->lprev) j->lprev->lnext = j->lnext; else *head = j->lnext;
    if (j->lnext) j->lnext->lprev = j->lprev; else *tail = j->lprev;
    j->lprev = j->lnext = NULL;
}

static bool same_route(const route *a, const route *b)
{
    return a->len == b->len && memcmp(a->id, b->id, a->len) == 0;
}

/* Add a route that hears the job's progress and outcome, once: not the
 * submitter again, not a waiter twice. */
static void add_waiter(job *j, const route *r)
{
    if (same_route(&j->client, r))
        return;
    for (size_t i = 0; i < j->nwaiters; i++)
        if (same_route(&j->waiters[i], r))
            return;
    if (j->waiters == NULL && (j->waiters = calloc(MAX_WAITERS, sizeof *j->waiters)) == NULL)
        return;
    if (j->nwaiters < MAX_WAITERS)
        j->waiters[j->nwaiters++] = *r;
}

/* Room for n inputs; 0 or -1 (out of memory, nothing held). */
static int alloc_bodies(job *j, size_t n)
{
    if (n == 1) {
        j->bodies = &j->one_body;
        j->body_names = j->one_name;
        return 0;
    }
    j->bodies = calloc(n, sizeof *j->bodies);
    j->body_names = calloc(n, sizeof *j->body_names);
    if (j->bodies == NULL || j->body_names == NULL) {
        free(j->bodies);
        free(j->body_names);
        j->bodies = NULL;
        j->body_names = NULL;
        return -1;
    }
    return 0;
}

static void free_body_arrays(job *j)
{
    if (j->bodies != &j->one_body) {
        free(j->bodies);
        free(j->body_names);
    }
}

static void release_bodies(broker *b, job *j)
{
    for (size_t i = 0; i < j->nbodies; i++)
        zmq_msg_close(&j->bodies[i]);
    free_body_arrays(j);
    j->bodies = NULL;
    j->body_names = NULL;
    b->queued_bytes -= (int64_t)j->body_bytes;
    j->nbodies = 0;
    j->body_bytes = 0;
    free(j->refs);
    j->refs = NULL;
    j->nrefs = 0;
}

static void finish_job(broker *b, job *j, enum job_state st, int64_t code, const char *reason);
static void dispatch(broker *b, svc_queue *q);

/* The job's result upload is over: finished (the dataset stays), or cut
 * short (its node is gone, the job ended): what was uploaded is deleted.
 * why: said in the log when bytes are thrown away. */
static void drop_upload(job *j, const char *why)
{
    if (j->upload == NULL)
        return;
    if (why != NULL && !sk_dataset_upload_complete(j->upload))
        sk_info("msg=\"partial result upload discarded\" job=%s attempt=%" PRId64 " reason=\"%s\"", j->id,
                j->attempt, why);
    sk_dataset_upload_free(j->upload);
    j->upload = NULL;
}

/* Most jobs succeed: a failure's reason is allocated when there is one,
 * which keeps the records of the many finished jobs the broker holds
 * small.  Reasons are cut at 511 bytes, as the protocol's field is. */
static char no_reason[1];

static void set_reason(job *j, const char *reason)
{
    if (j->reason != NULL && j->reason != no_reason)
        free(j->reason);
    j->reason = no_reason;
    if (reason != NULL && reason[0] != '\0') {
        size_t n = strnlen(reason, 511);
        char *r = malloc(n + 1);
        if (r != NULL) {
            memcpy(r, reason, n);
            r[n] = '\0';
            j->reason = r;
        }
    }
}

/* Add a finished dependency's result to a waiting job's inputs (shared,
 * not copied). */
static int attach_input(broker *b, job *j, const char *name, zmq_msg_t *result)
{
    if (j->nbodies + j->nrefs >= SK_MAX_BODIES)
        return -1;
    if (j->bodies == &j->one_body) {
        /* Out of the record and onto the heap, to grow. */
        zmq_msg_t *hb = calloc(2, sizeof *hb);
        char (*hn)[SK_ID_MAX] = calloc(2, sizeof *hn);
        if (hb == NULL || hn == NULL) {
            free(hb);
            free(hn);
            return -1;
        }
        zmq_msg_init(&hb[0]);
        zmq_msg_move(&hb[0], &j->one_body);
        zmq_msg_close(&j->one_body);
        memcpy(hn[0], j->one_name[0], SK_ID_MAX);
        j->bodies = hb;
        j->body_names = hn;
    }
    zmq_msg_t *nb = realloc(j->bodies, (j->nbodies + 1) * sizeof *nb);
    if (nb == NULL)
        return -1;
    j->bodies = nb;
    char (*nn)[SK_ID_MAX] = realloc(j->body_names, (j->nbodies + 1) * sizeof *nn);
    if (nn == NULL)
        return -1;
    j->body_names = nn;
    sk_strlcpy(j->body_names[j->nbodies], name, SK_ID_MAX);
    zmq_msg_init(&j->bodies[j->nbodies]);
    zmq_msg_copy(&j->bodies[j->nbodies], result);
    j->body_bytes += zmq_msg_size(result);
    b->queued_bytes += (int64_t)zmq_msg_size(result);
    j->nbodies++;
    return 0;
}

/* An input the node fetches from the dataset store by hash. */
static int add_ref(job *j, const char *input, const char *hash, int64_t size)
{
    if (j->nbodies + j->nrefs >= SK_MAX_BODIES)
        return -1;
    sk_data_ref *nr = realloc(j->refs, (j->nrefs + 1) * sizeof *nr);
    if (nr == NULL)
        return -1;
    j->refs = nr;
    sk_strlcpy(nr[j->nrefs].input, input, sizeof nr[j->nrefs].input);
    sk_strlcpy(nr[j->nrefs].hash, hash, sizeof nr[j->nrefs].hash);
    nr[j->nrefs].size = size;
    j->nrefs++;
    return 0;
}

/* A dependency's result for a dependant: with a dataset store, stored there
 * once by content hash and named by reference (the node fetches it, so a
 * result larger than a frame can feed the next step); without one, shared
 * as a frame. */
static int attach_result(broker *b, job *j, const char *input, job *d)
{
    if (d->result_by_ref) {
        /* Uploaded by its node: in the store already (retention keeps it
         * while d is kept); the dependant's node fetches it. */
        int64_t stored;
        sk_error serr = SK_ERROR_INIT;
        if (sk_dataset_stat(b->cfg.data_dir, d->tenant, d->result_hash, &stored, &serr) < 0 ||
            stored != d->result_size) {
            sk_warn("msg=\"a result by reference is gone from the dataset store\" job=%s hash=%.20s", d->id,
                    d->result_hash);
            return -1;
        }
        return add_ref(j, input, d->result_hash, d->result_size);
    }
    if (!d->has_result)
        return -1;
    if (b->cfg.data_dir == NULL)
        return attach_input(b, j, input, &d->result);
    int64_t stored;
    sk_error serr = SK_ERROR_INIT;
    if (d->result_hash[0] != '\0' && sk_dataset_stat(b->cfg.data_dir, d->tenant, d->result_hash, &stored, &serr) < 0)
        d->result_hash[0] = '\0'; /* retention deleted it: store it again */
    if (d->result_hash[0] == '\0') {
        sk_error err = SK_ERROR_INIT;
        bool created;
        char hash[SK_HASH_NAME_LEN];
        if (sk_dataset_store(b->cfg.data_dir, d->tenant, zmq_msg_data(&d->result), zmq_msg_size(&d->result), hash,
                             &created, &err) < 0) {
            sk_warn("msg=\"cannot store a result for its dependants\" job=%s error=\"%s\"", d->id, err.msg);
            return -1;
        }
        sk_strlcpy(d->result_hash, hash, sizeof d->result_hash);
        if (b->journal != NULL) {
            char name[SK_ID_MAX];
            snprintf(name, sizeof name, "result of %.50s", d->id);
            sk_journal_dataset(b->journal, d->tenant, hash, (int64_t)zmq_msg_size(&d->result), name, wall_ms());
        }
    }
    return add_ref(j, input, d->result_hash, (int64_t)zmq_msg_size(&d->result));
}

static void split_dep(const char *dep, char *id, char *input)
{
    const char *eq = strchr(dep, '=');
    size_t l = eq ? (size_t)(eq - dep) : strlen(dep);
    if (l >= SK_ID_MAX)
        l = SK_ID_MAX - 1;
    memcpy(id, dep, l);
    id[l] = '\0';
    sk_strlcpy(input, eq ? eq + 1 : "result", SK_ID_MAX);
}

static void make_ready(broker *b, job *j)
{
    svc_queue *q = queue_for(b, j->service, true);
    if (q != NULL) {
        queue_push(q, j, false);
        dispatch(b, q);
    }
}

/* Wire a job into the graph: attach the results of finished dependencies,
 * register with the unfinished ones.  Queues it when nothing is pending;
 * fails it when a dependency failed or is unknown.  A dependency must
 * belong to the same tenant. */
static void resolve_deps(broker *b, job *j)
{
    j->deps_pending = 0;
    for (size_t i = 0; i < j->ndeps; i++) {
        char id[SK_ID_MAX], input[SK_ID_MAX], reason[600];
        split_dep(j->deps[i], id, input);
        job *d = sk_map_get(&b->jobs, id, strlen(id));
        if (d == NULL || strcmp(d->tenant, j->tenant) != 0) {
            snprintf(reason, sizeof reason, "dependency %s: no such job (for tenant %s)", id, j->tenant);
            finish_job(b, j, JOB_FAILED, SK_ENOTFOUND, reason);
            return;
        }
        if (d->state == JOB_FAILED) {
            snprintf(reason, sizeof reason, "dependency %s failed: %.480s", id, d->reason);
            finish_job(b, j, JOB_FAILED, SK_EINVAL, reason);
            return;
        }
        if (d->state == JOB_DONE) {
            if (attach_result(b, j, input, d) < 0) {
                snprintf(reason, sizeof reason, "dependency %s: its result cannot be attached", id);
                finish_job(b, j, JOB_FAILED, SK_EINVAL, reason);
                return;
            }
            continue;
        }
        if (d->ndependants == d->capdependants) {
            size_t cap = d->capdependants ? d->capdependants * 2 : 4;
            char (*nd)[SK_ID_MAX] = realloc(d->dependants, cap * sizeof *nd);
            if (nd == NULL) {
                finish_job(b, j, JOB_FAILED, SK_ENOMEM, "broker out of memory");
                return;
            }
            d->dependants = nd;
            d->capdependants = cap;
        }
        sk_strlcpy(d->dependants[d->ndependants++], j->id, SK_ID_MAX);
        j->deps_pending++;
    }
    if (j->deps_pending == 0)
        make_ready(b, j);
}

/* A job that ran before a restart: its dependencies' results again. */
static void reattach_deps(broker *b, job *j)
{
    for (size_t i = 0; i < j->ndeps && j->state == JOB_QUEUED; i++) {
        char id[SK_ID_MAX], input[SK_ID_MAX], reason[600];
        split_dep(j->deps[i], id, input);
        job *d = sk_map_get(&b->jobs, id, strlen(id));
        if (d == NULL || d->state != JOB_DONE || strcmp(d->tenant, j->tenant) != 0 ||
            attach_result(b, j, input, d) < 0) {
            snprintf(reason, sizeof reason, "dependency %s: its result is gone after a broker restart", id);
            finish_job(b, j, JOB_FAILED, SK_ENOTFOUND, reason);
        }
    }
}

/* A job finished: its dependants get its result, or fail with its reason. */
static void release_dependants(broker *b, job *d)
{
    for (size_t k = 0; k < d->ndependants; k++) {
        job *w = sk_map_get(&b->jobs, d->dependants[k], strlen(d->dependants[k]));
        if (w == NULL || w->state != JOB_QUEUED || w->deps_pending == 0)
            continue;
        char reason[600];
        if (d->state != JOB_DONE) {
            snprintf(reason, sizeof reason, "dependency %s failed: %.480s", d->id, d->reason);
            finish_job(b, w, JOB_FAILED, SK_EINVAL, reason);
            continue;
        }
        for (size_t i = 0; i < w->ndeps; i++) {
            char id[SK_ID_MAX], input[SK_ID_MAX];
            split_dep(w->deps[i], id, input);
            if (strcmp(id, d->id) == 0 && attach_result(b, w, input, d) < 0) {
                finish_job(b, w, JOB_FAILED, SK_EINVAL, "a dependency's result cannot be attached");
                break;
            }
        }
        if (w->state == JOB_QUEUED && --w->deps_pending == 0)
            make_ready(b, w);
    }
    d->ndependants = 0;
}

static void finish_job(broker *b, job *j, enum job_state st, int64_t code, const char *reason)
{
    if (j->queue != NULL)
        queue_remove(j);
    svc_queue *q = queue_for(b, j->service, false);
    if (j->state == JOB_RUNNING && q != NULL)
        run_add(q, j->tenant, -1);
    j->state = st;
    j->code = code;
    set_reason(j, reason);
    j->finished_ms = now_ms(b);
    release_bodies(b, j);
    sk_params_free(j->params);
    j->params = NULL;
    drop_upload(j, st == JOB_DONE ? NULL : "the job ended first");
    if (b->journal != NULL) {
        sk_data_ref ref, *refp = NULL;
        if (j->result_by_ref) {
            sk_strlcpy(ref.input, "result", sizeof ref.input);
            sk_strlcpy(ref.hash, j->result_hash, sizeof ref.hash);
            ref.size = j->result_size;
            refp = &ref;
        }
        sk_journal_finish(b->journal, j->jref, j->id, st == JOB_DONE, code, j->reason,
                          j->has_result ? &j->result : NULL, refp, wall_ms());
    }
    if (!j->in_done) {
        list_del(&b->active_head, &b->active_tail, j);
        list_add(&b->done_head, &b->done_tail, j);
        j->in_done = true;
        b->ndone++;
        if (j->has_result)
            b->done_bytes += (int64_t)zmq_msg_size(&j->result);
    }
    if (st == JOB_DONE)
        b->n.completed++;
    else
        b->n.failed++;
    count_job(b, q, j, st == JOB_DONE ? OUT_DONE
                       : code == SK_ECANCELED ? OUT_CANCELLED
                       : code == SK_ETIMEDOUT ? OUT_TIMED_OUT
                                              : OUT_FAILED);
    publish(b, j, st == JOB_DONE ? "done" : code == SK_ECANCELED ? "cancelled" : code == SK_ETIMEDOUT ? "timed_out" : "failed",
            NULL);
    if (st == JOB_FAILED)
        sk_info("msg=\"job failed\" job=%s service=%s tenant=%s attempt=%" PRId64 " reason=\"%s\"", j->id,
                j->service, j->tenant, j->attempt, j->reason);
    notify_outcome(b, j);
    if (j->ndependants > 0)
        release_dependants(b, j);
}

static void job_free(broker *b, job *j)
{
    if (j->undelivered && b->nundelivered > 0)
        b->nundelivered--;
    if (j->queue)
        queue_remove(j);
    if (j->in_done) {
        list_del(&b->done_head, &b->done_tail, j);
        b->ndone--;
        if (j->has_result)
            b->done_bytes -= (int64_t)zmq_msg_size(&j->result);
    } else {
        list_del(&b->active_head, &b->active_tail, j);
    }
    free(j->waiters);
    free(j->deps);
    free(j->dependants);
    drop_upload(j, NULL);
    release_bodies(b, j);
    sk_params_free(j->params);
    if (j->has_result)
        zmq_msg_close(&j->result);
    if (j->graph_reply != NULL) {
        free(j->graph_reply->json);
        free(j->graph_reply);
        j->graph_reply = NULL;
    }
    set_reason(j, NULL);
    if (b->nspare_jobs < SPARE_JOBS_MAX) {
        j->lnext = b->spare_jobs;
        b->spare_jobs = j;
        b->nspare_jobs++;
        return;
    }
    free(j);
}

/* A zeroed job record, reused when one is spare. */
static job *job_new(broker *b)
{
    job *j = b->spare_jobs;
    if (j == NULL) {
        j = calloc(1, sizeof *j);
    } else {
        b->spare_jobs = j->lnext;
        b->nspare_jobs--;
        memset(j, 0, sizeof *j);
    }
    if (j != NULL)
        j->reason = no_reason;
    return j;
}

/* ---- nodes ---- */

static bool node_offers(const node *n, const char *service, const char *tenant)
{
    bool svc = false, ten = n->ntenants == 0 && !n->restricted;
    for (size_t i = 0; i < n->nservices && !svc; i++)
        svc = strcmp(n->services[i], service) == 0;
    for (size_t i = 0; i < n->ntenants && !ten; i++)
        ten = strcmp(n->tenants[i], "*") == 0 || strcmp(n->tenants[i], tenant) == 0;
    return svc && ten;
}

static bool any_node_offers(broker *b, const char *service)
{
    const char *k;
    size_t kl;
    void *v;
    for (size_t it = 0; (it = sk_map_next(&b->nodes, it, &k, &kl, &v)) != 0;) {
        node *n = v;
        for (size_t i = 0; i < n->nservices; i++)
            if (strcmp(n->services[i], service) == 0)
                return true;
    }
    return false;
}

/* Least-loaded live node with room that offers the service and tenant. */
static node *pick_node(broker *b, const char *service, const char *tenant)
{
    node *best = NULL;
    for (size_t i = 0; i < b->nnode_list; i++) {
        node *n = b->node_list[i];
        if (n->load >= n->capacity || !node_offers(n, service, tenant))
            continue;
        /* Compare load/capacity without division. */
        if (best == NULL || n->load * best->capacity < best->load * n->capacity)
            best = n;
    }
    return best;
}

static void dispatch_job(broker *b, job *j, node *n)
{
    sk_header h;
    zmq_msg_t copies[SK_MAX_BODIES];
    sk_header_init(&h, SK_MSG_JOB);
    sk_strlcpy(h.job, j->id, sizeof h.job);
    sk_strlcpy(h.service, j->service, sizeof h.service);
    sk_strlcpy(h.tenant, j->tenant, sizeof h.tenant);
    size_t cl = j->client.len < SK_ID_MAX - 1 ? j->client.len : SK_ID_MAX - 1;
    memcpy(h.client, j->client.id, cl);
    h.client[cl] = '\0';
    h.req = j->req;
    h.attempt = ++j->attempt;
    h.total = b->cfg.max_frame; /* the largest result this broker takes as a frame ... */
    h.result_ref = b->cfg.data_dir != NULL; /* ... and a larger one by reference, uploaded in chunks */
    h.params = j->params;
    if (j->deadline_abs_ms > 0) {
        int64_t left = (int64_t)j->deadline_abs_ms - (int64_t)now_ms(b);
        h.deadline_ms = left > 1 ? left : 1;
    }
    h.refs = j->refs;   /* borrowed */
    h.nrefs = j->nrefs;
    h.nbodies = j->nbodies;
    for (size_t i = 0; i < j->nbodies; i++) {
        memcpy(h.body_names[i], j->body_names[i], SK_ID_MAX);
        zmq_msg_init(&copies[i]);
        zmq_msg_copy(&copies[i], &j->bodies[i]);
    }
    queue_remove(j);
    j->state = JOB_RUNNING;
    j->node = n;
    n->load++;
    svc_queue *q = queue_for(b, j->service, false);
    run_add(q, j->tenant, 1);
    int rc = n->minor >= 1 ? send_batched(b, b->back, &n->id, &h, copies, j->nbodies, NULL)
                           : send_to(b, b->back, &n->id, &h, copies, j->nbodies);
    h.params = NULL; /* borrowed */
    h.refs = NULL;
    h.nrefs = 0;
    sk_debug("msg=\"dispatched\" job=%s node=%s attempt=%" PRId64, j->id, n->name, j->attempt);
    if (b->journal != NULL)
        sk_journal_state(b->journal, j->jref, j->id, "running", j->attempt);
    publish(b, j, "running", n->name);
    if (rc < 0)
        sk_warn("msg=\"dispatch send failed; node will be dropped at its heartbeat deadline\" job=%s node=%s",
                j->id, n->name);
}

static bool node_room_for(broker *b, const char *service)
{
    for (size_t i = 0; i < b->nnode_list; i++) {
        node *n = b->node_list[i];
        if (n->load >= n->capacity)
            continue;
        for (size_t s = 0; s < n->nservices; s++)
            if (strcmp(n->services[s], service) == 0)
                return true;
    }
    return false;
}

/* Fair dispatch: repeatedly take the oldest job of the tenant with the
 * fewest running jobs (ties: round robin), while some node has room.  A
 * tenant no free node may serve is skipped for this pass. */
static void dispatch(broker *b, svc_queue *q)
{
    if (q == NULL || q->len == 0)
        return;
    bool stack_blocked[64];
    bool *blocked = q->ntq <= 64 ? stack_blocked : calloc(q->ntq, sizeof *blocked);
    if (blocked == NULL)
        return;
    memset(blocked, 0, q->ntq * sizeof *blocked);
    while (node_room_for(b, q->name)) {
        size_t best = (size_t)-1;
        for (size_t k = 0; k < q->ntq; k++) {
            size_t i = (q->rr + 1 + k) % q->ntq;
            tenant_q *t = &q->tq[i];
            if (t->head == NULL || blocked[i])
                continue;
            if (best == (size_t)-1 || t->running < q->tq[best].running)
                best = i;
        }
        if (best == (size_t)-1)
            break;
        job *j = q->tq[best].head;
        node *n = pick_node(b, q->name, j->tenant);
        if (n == NULL) {
            blocked[best] = true;
            continue;
        }
        q->rr = best;
        dispatch_job(b, j, n);
    }
    if (blocked != stack_blocked)
        free(blocked);
}

static void dispatch_all(broker *b)
{
    for (svc_queue *q = b->queues; q != NULL; q = q->next)
        dispatch(b, q);
}

/* Jobs that were on a node that is gone go back to the queue (at the
 * front: they were accepted first), with a new attempt number. */
static void requeue_or_fail(broker *b, job *j, const char *why)
{
    svc_queue *q = queue_for(b, j->service, false);
    run_add(q, j->tenant, -1);
    j->node = NULL;
    drop_upload(j, why);
    if (j->inputs_lost) {
        j->state = JOB_QUEUED; /* so finish_job does not count it running twice */
        finish_job(b, j, JOB_FAILED, SK_EIO, "its node was lost after a broker restart; resubmit the job");
        return;
    }
    if (j->attempt >= b->cfg.max_attempts) {
        char reason[300];
        snprintf(reason, sizeof reason, "gave up after %" PRId64 " attempts: %s", j->attempt, why);
        j->state = JOB_QUEUED;
        finish_job(b, j, JOB_FAILED, SK_EIO, reason);
        return;
    }
    b->n.requeued++;
    j->state = JOB_QUEUED;
    if (b->journal != NULL)
        sk_journal_state(b->journal, j->jref, j->id, "queued", j->attempt);
    q = queue_for(b, j->service, true);
    if (q != NULL)
        queue_push(q, j, true);
    sk_info("msg=\"job requeued\" job=%s attempt=%" PRId64 " reason=\"%s\"", j->id, j->attempt, why);
    publish(b, j, "requeued", NULL);
}

static void node_drop(broker *b, node *n, const char *why)
{
    const char *k;
    size_t kl;
    void *v;
    sk_info("msg=\"node removed\" node=%s reason=\"%s\" jobs=%" PRId64, n->name, why, n->load);
    discard_route(b, b->back, &n->id);
    (void)k;
    (void)kl;
    (void)v;
    for (job *j = b->active_head, *next; j != NULL; j = next) {
        next = j->lnext;
        if (j->node == n && j->state == JOB_RUNNING)
            requeue_or_fail(b, j, why);
    }
    for (job *j = b->done_head; j != NULL; j = j->lnext)
        if (j->node == n)
            j->node = NULL; /* a cancelled job the node still held */
    sk_map_del(&b->nodes, n->id.id, n->id.len);
    for (size_t i = 0; i < b->nnode_list; i++)
        if (b->node_list[i] == n) {
            b->node_list[i] = b->node_list[--b->nnode_list];
            break;
        }
    free(n->services);
    free(n->tenants);
    free(n->hashes);
    free(n);
    dispatch_all(b);
}

/* ---- access ---- */

/* The access entry of a message's sender; NULL in insecure mode (allowed
 * everything).  With CURVE, ZAP admitted the key, so it is listed. */
static const sk_access_entry *peer_entry(broker *b, const sk_wire_msg *m)
{
    if (b->access == NULL)
        return NULL;
    return sk_access_by_name(b->access, m->user);
}

static bool may_act_for(broker *b, const sk_wire_msg *m, const char *tenant)
{
    if (b->access == NULL)
        return true;
    const sk_access_entry *e = peer_entry(b, m);
    return e != NULL && (e->role == SK_ROLE_ADMIN || sk_list_allows(e->tenants, tenant));
}

static int64_t to_wall(broker *b, uint64_t loop_ms);

/* Reading a job: its own tenant, or a merged region the key acts for that
 * the job's tenant belonged to on the day the job was submitted. */
static bool may_read(broker *b, const sk_wire_msg *m, const job *j)
{
    if (may_act_for(b, m, j->tenant))
        return true;
    const sk_access_entry *e = peer_entry(b, m);
    if (e == NULL || b->region == NULL)
        return false;
    int64_t when = to_wall(b, j->submitted_ms);
    for (size_t i = 0; i < b->region->n; i++) {
        const sk_membership *ms = &b->region->members[i];
        if (strcmp(ms->member, j->tenant) == 0 && sk_list_allows(e->tenants, ms->region) &&
            sk_region_member_at(b->region, ms->region, j->tenant, when))
            return true;
    }
    return false;
}

/* ---- client messages ---- */

static void make_job_id(broker *b, char *out, size_t n)
{
    /* "j-<boot, 8 hex>-<counter>" without printf: this runs for every job. */
    static const char hex[] = "0123456789abcdef";
    char buf[48];
    size_t k = 0;
    buf[k++] = 'j';
    buf[k++] = '-';
    for (int i = 7; i >= 0; i--)
        buf[k++] = hex[(b->boot_id >> (4 * i)) & 0xf];
    buf[k++] = '-';
    char digits[24];
    int nd = 0;
    uint64_t v = ++b->next_job;
    do {
        digits[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (nd > 0)
        buf[k++] = digits[--nd];
    buf[k] = '\0';
    sk_strlcpy(out, buf, n);
}

/* A submit's inputs named by stored dataset ("INPUT=sha256:HEX") become
 * references: the dataset must exist for the job's tenant; the node
 * fetches it.  On failure the client has heard why and j is freed. */
static int add_dataset_refs(broker *b, job *j, const sk_header *h, const route *from)
{
    for (size_t i = 0; i < h->ndatasets; i++) {
        char input[SK_ID_MAX];
        const char *eq = strchr(h->datasets[i], '=');
        size_t l = (size_t)(eq - h->datasets[i]) < SK_ID_MAX ? (size_t)(eq - h->datasets[i]) : SK_ID_MAX - 1;
        memcpy(input, h->datasets[i], l);
        input[l] = '\0';
        int64_t size = 0;
        sk_error derr = SK_ERROR_INIT;
        if (sk_dataset_stat(b->cfg.data_dir, j->tenant, eq + 1, &size, &derr) < 0 ||
            (add_ref(j, input, eq + 1, size) < 0 && sk_fail(&derr, SK_ETOOBIG, "more than %d inputs", SK_MAX_BODIES) < 0)) {
            b->n.refused++;
            send_client_failure(b, from, h->req, NULL, derr.code, "input '%s': %s", input, derr.msg);
            list_add(&b->active_head, &b->active_tail, j);
            job_free(b, j);
            return -1;
        }
        if (b->journal != NULL)
            sk_journal_dataset(b->journal, j->tenant, eq + 1, size, NULL, wall_ms());
    }
    return 0;
}

static void on_submit(broker *b, sk_wire_msg *m, const route *from)
{
    sk_header *h = &m->hdr;
    if (h->service[0] == '\0' || h->tenant[0] == '\0') {
        b->n.refused++;
        send_client_failure(b, from, h->req, NULL, SK_EINVAL, "submit needs a service and a tenant");
        return;
    }
    if (!may_act_for(b, m, h->tenant)) {
        b->n.access_refused++;
        sk_warn("msg=\"submit refused: tenant not allowed for key\" key=%s tenant=%s", m->user, h->tenant);
        send_client_failure(b, from, h->req, NULL, SK_EREFUSED, "key '%s' may not act for tenant '%s'", m->user,
                            h->tenant);
        return;
    }
    if (h->idem[0] != '\0') {
        char key[256];
        int kl = snprintf(key, sizeof key, "%s%c%s", h->tenant, 0, h->idem);
        job *old = sk_map_get(&b->idem, key, (size_t)kl);
        if (old != NULL) {
            /* Same tenant, same key: the same job.  The retrying client
             * becomes the job's client, since the old one may be gone. */
            sk_header a;
            sk_header_init(&a, SK_MSG_ACCEPTED);
            sk_strlcpy(a.job, old->id, sizeof a.job);
            a.req = h->req;
            snprintf(a.text, sizeof a.text, "duplicate");
            old->client = *from;
            old->client_minor = m->minor;
            old->req = h->req;
            if (!h->no_ack)
                send_to(b, b->front, from, &a, NULL, 0);
            if (old->state == JOB_DONE || old->state == JOB_FAILED)
                send_outcome(b, old, from);
            return;
        }
    }
    /* Frames, datasets and dependency results are all inputs of one job:
     * refuse too many now rather than fail the job when a dependency ends. */
    if (m->nbodies + h->ndatasets + h->ndeps > SK_MAX_BODIES) {
        b->n.refused++;
        send_client_failure(b, from, h->req, NULL, SK_ETOOBIG,
                            "a job takes at most %d inputs; this one names %zu (%zu files, %zu datasets, %zu dependencies)",
                            SK_MAX_BODIES, m->nbodies + h->ndatasets + h->ndeps, m->nbodies, h->ndatasets, h->ndeps);
        return;
    }
    size_t bytes = 0;
    for (size_t i = 0; i < m->nbodies; i++) {
        if ((int64_t)zmq_msg_size(&m->bodies[i]) > b->cfg.max_frame) {
            b->n.refused++;
            send_client_failure(b, from, h->req, NULL, SK_ETOOBIG, "input '%s' is %zu bytes; the frame limit is %" PRId64,
                                h->body_names[i], zmq_msg_size(&m->bodies[i]), b->cfg.max_frame);
            return;
        }
        bytes += zmq_msg_size(&m->bodies[i]);
    }
    svc_queue *q = queue_for(b, h->service, true);
    if (q == NULL) {
        send_client_failure(b, from, h->req, NULL, SK_ENOMEM, "broker out of memory");
        return;
    }
    if ((int64_t)q->len >= b->cfg.max_queue) {
        b->n.refused++;
        send_client_failure(b, from, h->req, NULL, SK_EREFUSED,
                            "queue for service '%s' is full (%zu jobs); retry later", h->service, q->len);
        return;
    }
    if (b->queued_bytes + (int64_t)bytes > b->cfg.max_queued_bytes) {
        b->n.refused++;
        send_client_failure(b, from, h->req, NULL, SK_EREFUSED,
                            "broker holds %" PRId64 " bytes of queued inputs, limit %" PRId64 "; retry later",
                            b->queued_bytes, b->cfg.max_queued_bytes);
        return;
    }
    job *j = job_new(b);
    if (j == NULL) {
        send_client_failure(b, from, h->req, NULL, SK_ENOMEM, "broker out of memory");
        return;
    }
    make_job_id(b, j->id, sizeof j->id);
    memcpy(j->service, h->service, sizeof j->service);
    memcpy(j->tenant, h->tenant, sizeof j->tenant);
    memcpy(j->idem, h->idem, sizeof j->idem);
    j->client = *from;
    j->client_minor = m->minor;
    j->req = h->req;
    j->no_ack = h->no_ack;
    j->submitted_ms = now_ms(b);
    if (h->deadline_ms > 0)
        j->deadline_abs_ms = j->submitted_ms + (uint64_t)h->deadline_ms;
    j->params = h->params;
    h->params = NULL;
    j->deps = h->deps;
    j->ndeps = h->ndeps;
    h->deps = NULL;
    h->ndeps = 0;
    /* Inputs named by stored dataset travel by reference: the node fetches them. */
    if (h->ndatasets > 0 && b->cfg.data_dir == NULL) {
        sk_params_free(j->params);
        free(j->deps);
        free(j);
        send_client_failure(b, from, h->req, NULL, SK_EUNSUPPORTED, "datasets need a broker with --data-dir");
        return;
    }
    /* Most of a job's life is spent finished, holding only its result:
     * body arrays are sized to the job, not to the protocol's maximum. */
    if (m->nbodies > 0 && alloc_bodies(j, m->nbodies) < 0) {
        {
            sk_params_free(j->params);
            free(j->deps);
            free(j);
            send_client_failure(b, from, h->req, NULL, SK_ENOMEM, "broker out of memory");
            return;
        }
    }
    j->nbodies = m->nbodies;
    for (size_t i = 0; i < m->nbodies; i++) {
        memcpy(j->body_names[i], h->body_names[i], SK_ID_MAX);
        zmq_msg_init(&j->bodies[i]);
        zmq_msg_move(&j->bodies[i], &m->bodies[i]);
    }
    j->body_bytes = bytes;
    b->queued_bytes += (int64_t)bytes;
    if (h->ndatasets > 0 && add_dataset_refs(b, j, h, from) < 0)
        return;
    list_add(&b->active_head, &b->active_tail, j);
    if (sk_map_put(&b->jobs, j->id, strlen(j->id), j) < 0) {
        job_free(b, j);
        send_client_failure(b, from, h->req, NULL, SK_ENOMEM, "broker out of memory");
        return;
    }
    b->last_submitted = j;
    if (j->idem[0] != '\0') {
        char key[256];
        int kl = snprintf(key, sizeof key, "%s%c%s", j->tenant, 0, j->idem);
        sk_map_put(&b->idem, key, (size_t)kl, j);
    }
    b->n.submitted++;
    count_job(b, q, j, OUT_SUBMITTED);
    if (b->journal != NULL) {
        /* Durable: `accepted` (and dispatch) wait for the commit. */
        sk_header jh;
        sk_header_init(&jh, SK_MSG_SUBMIT);
        sk_strlcpy(jh.job, j->id, sizeof jh.job);
        sk_strlcpy(jh.service, j->service, sizeof jh.service);
        sk_strlcpy(jh.tenant, j->tenant, sizeof jh.tenant);
        sk_strlcpy(jh.idem, j->idem, sizeof jh.idem);
        jh.req = j->req;
        jh.no_ack = j->no_ack;
        jh.deadline_ms = h->deadline_ms;
        jh.params = j->params;
        jh.nbodies = j->nbodies;
        for (size_t i = 0; i < j->nbodies; i++)
            memcpy(jh.body_names[i], j->body_names[i], SK_ID_MAX);
        jh.deps = j->deps;   /* borrowed: the graph is journaled with the job */
        jh.ndeps = j->ndeps;
        jh.datasets = h->datasets; /* borrowed: the dataset references too */
        jh.ndatasets = h->ndatasets;
        j->pending_commit = true;
        int jrc = sk_journal_submit(b->journal, j->id, &jh, j->client.id, j->client.len, to_wall(b, j->submitted_ms),
                                    to_wall(b, j->deadline_abs_ms), j->bodies, j->nbodies, &j->jref);
        jh.deps = NULL;
        jh.ndeps = 0;
        jh.datasets = NULL;
        jh.ndatasets = 0;
        if (jrc < 0) {
            j->pending_commit = false;
            finish_job(b, j, JOB_FAILED, SK_ENOMEM, "broker out of memory while journaling");
        }
        return;
    }
    if (!j->no_ack) {
        sk_header a;
        sk_header_init(&a, SK_MSG_ACCEPTED);
        sk_strlcpy(a.job, j->id, sizeof a.job);
        a.req = j->req;
        if (j->client_minor >= 1)
            send_batched(b, b->front, from, &a, NULL, 0, NULL);
        else
            send_to(b, b->front, from, &a, NULL, 0);
    }
    sk_debug("msg=\"job accepted\" job=%s service=%s tenant=%s", j->id, j->service, j->tenant);
    publish(b, j, "accepted", NULL);
    if (j->ndeps > 0) {
        resolve_deps(b, j);
        return;
    }
    queue_push(q, j, false);
    dispatch(b, q);
}

/* ---- job graphs (sk_graph.h) ---- */

static void send_graph_reply(broker *b, job *j)
{
    struct graph_reply *g = j->graph_reply;
    j->graph_reply = NULL;
    sk_header r;
    sk_header_init(&r, SK_MSG_REPLY);
    r.req = g->req;
    zmq_msg_t body;
    size_t n = strlen(g->json);
    if (zmq_msg_init_size(&body, n) == 0) {
        memcpy(zmq_msg_data(&body), g->json, n);
        send_to(b, b->front, &g->to, &r, &body, 1);
    }
    free(g->json);
    free(g);
}

/* Check a whole graph before any job exists: a refused graph creates
 * nothing.  0, or an error code with the reason in err. */
static int check_graph(broker *b, const sk_wire_msg *m, sk_header *nodes, size_t n, sk_error *err)
{
    for (size_t i = 0; i < n; i++) {
        sk_header *h = &nodes[i];
        if (h->service[0] == '\0' || h->tenant[0] == '\0')
            return sk_fail(err, SK_EINVAL, "graph job %zu: needs a service and a tenant", i);
        if (!may_act_for(b, m, h->tenant)) {
            b->n.access_refused++;
            sk_warn("msg=\"graph refused: tenant not allowed for key\" key=%s tenant=%s", m->user, h->tenant);
            return sk_fail(err, SK_EREFUSED, "graph job %zu: key '%s' may not act for tenant '%s'", i, m->user,
                           h->tenant);
        }
        for (size_t d = 0; d < h->ndeps; d++) {
            size_t k;
            if (sk_graph_dep_index(h->deps[d], &k) == 1 && strcmp(nodes[k].tenant, h->tenant) != 0)
                return sk_fail(err, SK_EINVAL, "graph job %zu: depends on job %zu of another tenant", i, k);
        }
        if (h->ndatasets > 0 && b->cfg.data_dir == NULL)
            return sk_fail(err, SK_EUNSUPPORTED, "datasets need a broker with --data-dir");
        for (size_t d = 0; d < h->ndatasets; d++) {
            const char *eq = strchr(h->datasets[d], '=');
            int64_t size;
            sk_error derr = SK_ERROR_INIT;
            if (eq == NULL || sk_dataset_stat(b->cfg.data_dir, h->tenant, eq + 1, &size, &derr) < 0)
                return sk_fail(err, SK_ENOTFOUND, "graph job %zu: input '%.*s': %s", i,
                               eq ? (int)(eq - h->datasets[d]) : 0, h->datasets[d], derr.msg);
        }
    }
    /* Room for the whole graph in every queue it touches. */
    for (size_t i = 0; i < n; i++) {
        size_t want = 0;
        for (size_t k = 0; k < n; k++)
            want += strcmp(nodes[k].service, nodes[i].service) == 0;
        svc_queue *q = queue_for(b, nodes[i].service, false);
        if ((int64_t)((q ? q->len : 0) + want) > b->cfg.max_queue) {
            b->n.refused++;
            return sk_fail(err, SK_EREFUSED, "queue for service '%s' has no room for %zu more jobs; retry later",
                           nodes[i].service, want);
        }
    }
    return 0;
}

/* A job graph in one message: every job or none, in node order, each an
 * ordinary submit whose "@K" dependencies become the ids of the jobs made
 * for earlier nodes.  The answer lists the ids; with a journal it waits
 * for the last job's commit (commits are in order), like `accepted`. */
static void on_graph(broker *b, sk_wire_msg *m, const route *from)
{
    sk_header *gh = &m->hdr;
    sk_error err = SK_ERROR_INIT;
    sk_header *nodes = NULL;
    size_t n = 0;
    if (gh->tenant[0] == '\0' || !may_act_for(b, m, gh->tenant)) {
        b->n.access_refused += gh->tenant[0] != '\0';
        send_request_error(b, from, gh->req, SK_EREFUSED, "a graph needs a tenant the key may act for");
        return;
    }
    /* Each job's key is the graph's key and its index ("KEY#3"), within
     * the 127 bytes of a key: a longer graph key could not stay distinct. */
    if (strlen(gh->idem) > SK_GRAPH_IDEM_MAX) {
        b->n.refused++;
        send_request_error(b, from, gh->req, SK_EINVAL, "graph: idempotency key of %zu bytes; at most %d",
                           strlen(gh->idem), SK_GRAPH_IDEM_MAX);
        return;
    }
    if (m->nbodies != 1 || sk_graph_decode(zmq_msg_data(&m->bodies[0]), zmq_msg_size(&m->bodies[0]), &nodes, &n,
                                           &err) < 0) {
        b->n.malformed++;
        send_request_error(b, from, gh->req, SK_EPROTO, "graph: %s",
                           m->nbodies != 1 ? "want one body, the graph" : err.msg);
        return;
    }
    int rc = check_graph(b, m, nodes, n, &err);
    if (rc < 0) {
        send_request_error(b, from, gh->req, err.code, "%s", err.msg);
        sk_graph_free(nodes, n);
        return;
    }
    job **made = calloc(n, sizeof *made);
    sk_buf json = SK_BUF_INIT;
    if (made == NULL) {
        send_request_error(b, from, gh->req, SK_ENOMEM, "broker out of memory");
        sk_graph_free(nodes, n);
        return;
    }
    sk_buf_puts(&json, "{\"jobs\":[");
    size_t i = 0;
    for (; i < n; i++) {
        sk_header *h = &nodes[i];
        for (size_t d = 0; d < h->ndeps; d++) {
            size_t k;
            if (sk_graph_dep_index(h->deps[d], &k) == 1) {
                char input[SK_ID_MAX];
                sk_strlcpy(input, strchr(h->deps[d], '=') + 1, sizeof input);
                snprintf(h->deps[d], sizeof h->deps[d], "%.63s=%.63s", made[k]->id, input);
            }
        }
        if (gh->idem[0] != '\0')
            snprintf(h->idem, sizeof h->idem, "%s#%zu", gh->idem, i);
        h->req = gh->req;
        h->no_ack = true;
        sk_wire_msg one;
        memset(&one, 0, sizeof one);
        one.hdr = *h;
        sk_header_init(h, SK_MSG_SUBMIT); /* the submit owns params, deps, datasets now */
        memcpy(one.user, m->user, sizeof one.user);
        b->last_submitted = NULL;
        on_submit(b, &one, from);
        job *j = b->last_submitted;
        if (j == NULL && one.hdr.idem[0] != '\0') {
            /* a retried graph: the job made the first time */
            char key[256];
            int kl = snprintf(key, sizeof key, "%s%c%s", one.hdr.tenant, 0, one.hdr.idem);
            j = sk_map_get(&b->idem, key, (size_t)kl);
        }
        sk_header_clear(&one.hdr);
        if (j == NULL)
            break; /* refused: its client heard why */
        made[i] = j;
        sk_buf_printf(&json, "%s\"%s\"", i ? "," : "", j->id);
    }
    if (i < n) {
        /* Every job or none: fail what this graph already made. */
        for (size_t k = 0; k < i; k++)
            if (made[k]->state == JOB_QUEUED)
                finish_job(b, made[k], JOB_FAILED, SK_EREFUSED, "another job of its graph was refused");
        sk_buf_free(&json);
    } else {
        sk_buf_puts(&json, "]}");
        struct graph_reply *g = calloc(1, sizeof *g);
        if (g == NULL) {
            sk_buf_free(&json);
        } else {
            g->to = *from;
            g->req = gh->req;
            g->json = sk_buf_steal(&json, NULL);
            job *last = made[n - 1];
            last->graph_reply = g;
            if (!last->pending_commit)
                send_graph_reply(b, last);
        }
        sk_info("msg=\"graph accepted\" jobs=%zu tenant=%s", n, gh->tenant);
    }
    free(made);
    sk_graph_free(nodes, n);
}

/* The journal committed a submit: now it is accepted. */
static void on_journal_committed(void *ud, const char *id)
{
    broker *b = ud;
    job *j = sk_map_get(&b->jobs, id, strlen(id));
    if (j == NULL || !j->pending_commit)
        return;
    j->pending_commit = false;
    if (j->graph_reply != NULL)
        send_graph_reply(b, j); /* commits are in order: the whole graph is durable */
    if (j->state != JOB_QUEUED)
        return; /* cancelled or expired meanwhile; its client heard so */
    svc_queue *q = queue_for(b, j->service, true);
    if (q == NULL)
        return;
    if (!j->no_ack) {
        sk_header a;
        sk_header_init(&a, SK_MSG_ACCEPTED);
        sk_strlcpy(a.job, j->id, sizeof a.job);
        a.req = j->req;
        if (j->client_minor >= 1)
            send_batched(b, b->front, &j->client, &a, NULL, 0, NULL);
        else
            send_to(b, b->front, &j->client, &a, NULL, 0);
    }
    publish(b, j, "accepted", NULL);
    if (j->ndeps > 0) {
        resolve_deps(b, j);
        return;
    }
    queue_push(q, j, false);
    dispatch(b, q);
}

static job *find_job_for(broker *b, const sk_wire_msg *m, bool write)
{
    const sk_header *h = &m->hdr;
    job *j = sk_map_get(&b->jobs, h->job, strlen(h->job));
    /* A tenant-scoped request, or a key without the job's tenant, never
     * learns that the job exists: it gets "no such job". */
    if (j != NULL && h->tenant[0] != '\0' && strcmp(h->tenant, j->tenant) != 0)
        return NULL;
    if (j != NULL && !(write ? may_act_for(b, m, j->tenant) : may_read(b, m, j))) {
        b->n.access_refused++;
        return NULL;
    }
    return j;
}

static void on_cancel(broker *b, sk_wire_msg *m, const route *from)
{
    job *j = find_job_for(b, m, true);
    if (j == NULL) {
        send_request_error(b, from, m->hdr.req, SK_ENOTFOUND, "no such job: %s", m->hdr.job);
        return;
    }
    if (j->state == JOB_DONE || j->state == JOB_FAILED) {
        send_outcome(b, j, from);
        return;
    }
    b->n.cancelled++;
    if (j->state == JOB_RUNNING && j->node != NULL) {
        sk_header c;
        sk_header_init(&c, SK_MSG_CANCEL);
        sk_strlcpy(c.job, j->id, sizeof c.job);
        c.attempt = j->attempt;
        send_to(b, b->back, &j->node->id, &c, NULL, 0);
    }
    /* The canceller hears "cancelled" even if it is not the submitter. */
    add_waiter(j, from);
    node *held = j->node;
    finish_job(b, j, JOB_FAILED, SK_ECANCELED, "cancelled");
    j->node = held; /* the node's slot frees when it reports back */
    sk_info("msg=\"job cancelled\" job=%s", j->id);
}

static void on_wait(broker *b, sk_wire_msg *m, const route *from)
{
    job *j = find_job_for(b, m, false);
    if (j == NULL) {
        send_request_error(b, from, m->hdr.req, SK_ENOTFOUND,
                           "no such job: %s (unknown, or finished more than %" PRId64 " s ago)", m->hdr.job,
                           b->cfg.result_ttl_s);
        return;
    }
    if (j->state == JOB_DONE || j->state == JOB_FAILED) {
        send_outcome(b, j, from);
        return;
    }
    add_waiter(j, from);
    sk_header a;
    sk_header_init(&a, SK_MSG_ACCEPTED);
    sk_strlcpy(a.job, j->id, sizeof a.job);
    a.req = m->hdr.req;
    sk_strlcpy(a.text, state_names[j->state], sizeof a.text);
    send_to(b, b->front, from, &a, NULL, 0);
}

static void reply_json(broker *b, const route *to, int64_t req, sk_buf *json)
{
    sk_header h;
    zmq_msg_t body;
    sk_header_init(&h, SK_MSG_REPLY);
    h.req = req;
    h.nbodies = 1;
    snprintf(h.body_names[0], SK_ID_MAX, "json");
    if (json->oom || zmq_msg_init_size(&body, json->len) < 0) {
        send_client_failure(b, to, req, NULL, SK_ENOMEM, "broker out of memory");
        return;
    }
    memcpy(zmq_msg_data(&body), json->data, json->len);
    send_to(b, b->front, to, &h, &body, 1);
}

/* Another live node offers `service` with different code than `hash`? */
static const node *code_conflict(broker *b, const node *self, const char *service, const char *hash)
{
    const char *k;
    size_t kl;
    void *v;
    for (size_t it = 0; (it = sk_map_next(&b->nodes, it, &k, &kl, &v)) != 0;) {
        const node *n = v;
        if (n == self)
            continue;
        for (size_t i = 0; i < n->nservices && i < n->nhashes; i++)
            if (strcmp(n->services[i], service) == 0 && n->hashes[i][0] != '\0' && strcmp(n->hashes[i], hash) != 0)
                return n;
    }
    return NULL;
}

/* What a key may see of a node: an admin (or insecure mode) everything; a
 * client only nodes that serve one of its tenants. */
static bool node_visible(const sk_access_entry *e, const node *n)
{
    if (e == NULL || e->role == SK_ROLE_ADMIN || strcmp(e->tenants, "*") == 0)
        return true;
    for (size_t i = 0; i < n->ntenants; i++)
        if (strcmp(n->tenants[i], "*") == 0 || sk_list_allows(e->tenants, n->tenants[i]))
            return true;
    return n->ntenants == 0 && !n->restricted;
}

static void on_status(broker *b, sk_wire_msg *m, const route *from)
{
    sk_buf j = SK_BUF_INIT;
    const char *k;
    size_t kl;
    void *v;
    bool first = true;
    /* A client key sees its own tenants' share of the picture: no other
     * tenant's nodes, queue lengths or counters leak. */
    const sk_access_entry *viewer = b->access != NULL ? peer_entry(b, m) : NULL;
    bool scoped = viewer != NULL && viewer->role != SK_ROLE_ADMIN && strcmp(viewer->tenants, "*") != 0;
    sk_buf_puts(&j, "{\"nodes\":[");
    for (size_t it = 0; (it = sk_map_next(&b->nodes, it, &k, &kl, &v)) != 0;) {
        node *n = v;
        if (!node_visible(scoped ? viewer : NULL, n))
            continue;
        sk_buf_puts(&j, first ? "{" : ",{");
        first = false;
        sk_json_key(&j, "name", true);
        sk_json_str(&j, n->name);
        sk_json_key(&j, "capacity", false);
        sk_json_i64(&j, n->capacity);
        sk_json_key(&j, "load", false);
        sk_json_i64(&j, n->load);
        sk_json_key(&j, "services", false);
        sk_buf_puts(&j, "[");
        for (size_t i = 0; i < n->nservices; i++) {
            if (i)
                sk_buf_puts(&j, ",");
            sk_json_str(&j, n->services[i]);
        }
        sk_buf_puts(&j, "]");
        sk_json_key(&j, "tenants", false);
        sk_buf_puts(&j, "[");
        bool firstt = true;
        for (size_t i = 0; i < n->ntenants; i++) {
            if (scoped && strcmp(n->tenants[i], "*") != 0 && !sk_list_allows(viewer->tenants, n->tenants[i]))
                continue;
            if (!firstt)
                sk_buf_puts(&j, ",");
            firstt = false;
            sk_json_str(&j, n->tenants[i]);
        }
        sk_buf_puts(&j, "]");
        /* Code hashes (plugins): two nodes offering different code under
         * one name show up here instead of mixing silently. */
        sk_json_key(&j, "hashes", false);
        sk_buf_puts(&j, "{");
        bool firsth = true;
        for (size_t i = 0; i < n->nhashes && i < n->nservices; i++) {
            if (n->hashes[i][0] == '\0')
                continue;
            sk_json_key(&j, n->services[i], firsth);
            sk_json_str(&j, n->hashes[i]);
            firsth = false;
        }
        sk_buf_puts(&j, "}}");
    }
    sk_buf_puts(&j, "],\"services\":[");
    first = true;
    for (svc_queue *q = b->queues; q != NULL; q = q->next) {
        int64_t queued = (int64_t)q->len, running = q->running;
        if (scoped) {
            queued = running = 0;
            for (size_t t = 0; t < q->ntq; t++)
                if (sk_list_allows(viewer->tenants, q->tq[t].tenant)) {
                    queued += (int64_t)q->tq[t].len;
                    running += q->tq[t].running;
                }
        }
        sk_buf_puts(&j, first ? "{" : ",{");
        first = false;
        sk_json_key(&j, "name", true);
        sk_json_str(&j, q->name);
        sk_json_key(&j, "queued", false);
        sk_json_i64(&j, queued);
        sk_json_key(&j, "running", false);
        sk_json_i64(&j, running);
        sk_buf_puts(&j, "}");
    }
    /* Plugins offered with different code by different nodes: shown, so
     * results never mix two versions silently (pin plugin_hash to choose). */
    sk_buf_puts(&j, "],\"code_conflicts\":[");
    first = true;
    if (!scoped) {
        for (size_t it = 0; (it = sk_map_next(&b->nodes, it, &k, &kl, &v)) != 0;) {
            node *n = v;
            for (size_t i = 0; i < n->nservices && i < n->nhashes; i++) {
                if (n->hashes[i][0] == '\0')
                    continue;
                const node *other = code_conflict(b, n, n->services[i], n->hashes[i]);
                if (other == NULL || strcmp(n->name, other->name) > 0)
                    continue; /* report each pair once */
                sk_buf_puts(&j, first ? "{" : ",{");
                first = false;
                sk_json_key(&j, "service", true);
                sk_json_str(&j, n->services[i]);
                sk_json_key(&j, "nodes", false);
                sk_buf_puts(&j, "[");
                sk_json_str(&j, n->name);
                sk_buf_puts(&j, ",");
                sk_json_str(&j, other->name);
                sk_buf_puts(&j, "]}");
            }
        }
    }
    if (scoped) {
        /* Broker-wide counters and sizes are not a client's to see. */
        sk_buf_puts(&j, "],\"scoped_to\":");
        sk_json_str(&j, viewer->tenants);
        sk_buf_puts(&j, ",\"secure\":true}");
    } else {
        sk_buf_printf(&j, "],\"counters\":{\"submitted\":%" PRIu64 ",\"completed\":%" PRIu64 ",\"failed\":%" PRIu64
                          ",\"requeued\":%" PRIu64 ",\"cancelled\":%" PRIu64 ",\"malformed\":%" PRIu64
                          ",\"late_results\":%" PRIu64 ",\"unroutable\":%" PRIu64 ",\"refused\":%" PRIu64
                          ",\"auth_refused\":%" PRIu64 ",\"access_refused\":%" PRIu64
                          ",\"fetch_chunks\":%" PRIu64 ",\"fetch_refused\":%" PRIu64 ",\"upload_chunks\":%" PRIu64
                          ",\"upload_bytes\":%" PRIu64 ",\"upload_refused\":%" PRIu64 ",\"results_by_ref\":%" PRIu64
                          ",\"batches_in\":%" PRIu64
                          ",\"batches_out\":%" PRIu64 ",\"batched_out\":%" PRIu64 "},\"queued_bytes\":%" PRId64 ",\"jobs_known\":%zu,\"secure\":%s}",
                          b->n.submitted, b->n.completed, b->n.failed, b->n.requeued, b->n.cancelled, b->n.malformed,
                          b->n.late_results, b->n.unroutable, b->n.refused, b->n.auth_refused, b->n.access_refused,
                          b->n.fetch_chunks, b->n.fetch_refused, b->n.upload_chunks, b->n.upload_bytes,
                          b->n.upload_refused, b->n.results_by_ref, b->rfront.batches + b->rback.batches,
                          b->n.batches_out, b->n.batched_out, b->queued_bytes, b->jobs.len, b->access ? "true" : "false");
    }
    reply_json(b, from, m->hdr.req, &j);
    sk_buf_free(&j);
}

static void on_jobs(broker *b, sk_wire_msg *m, const route *from)
{
    sk_buf j = SK_BUF_INIT;
    const char *k;
    size_t kl;
    void *v;
    size_t count = 0;
    uint64_t now = now_ms(b);
    sk_buf_puts(&j, "{\"jobs\":[");
    (void)k;
    (void)kl;
    (void)v;
    for (job *jb = b->active_head; jb != NULL && count < 10000; jb = jb->lnext) {
        if (m->hdr.tenant[0] != '\0' && strcmp(m->hdr.tenant, jb->tenant) != 0)
            continue;
        if (!may_read(b, m, jb))
            continue;
        sk_buf_puts(&j, count++ ? ",{" : "{");
        sk_json_key(&j, "job", true);
        sk_json_str(&j, jb->id);
        sk_json_key(&j, "service", false);
        sk_json_str(&j, jb->service);
        sk_json_key(&j, "tenant", false);
        sk_json_str(&j, jb->tenant);
        sk_json_key(&j, "state", false);
        sk_json_str(&j, state_names[jb->state]);
        sk_json_key(&j, "attempt", false);
        sk_json_i64(&j, jb->attempt);
        sk_json_key(&j, "node", false);
        sk_json_str(&j, jb->node && jb->state == JOB_RUNNING ? jb->node->name : "");
        sk_json_key(&j, "age_s", false);
        sk_json_f64(&j, (double)(now - jb->submitted_ms) / 1000.0);
        sk_buf_puts(&j, "}");
    }
    sk_buf_puts(&j, "]}");
    reply_json(b, from, m->hdr.req, &j);
    sk_buf_free(&j);
}

/* Read one message from a ROUTER socket.  1: *m and *from are set (close
 * m); 0: nothing waiting; -1: a malformed message, already counted, logged
 * and answered with an error where there is someone to answer. */
static int recv_from(broker *b, void *sock, sk_wire_msg *m, route *from, const char *who)
{
    sk_error err = SK_ERROR_INIT;
    int rc = sk_wire_read(sock == b->front ? &b->rfront : &b->rback, m, ZMQ_DONTWAIT, &err);
    from->len = 0;
    if (m->has_route) {
        from->len = zmq_msg_size(&m->route) < ROUTE_MAX ? zmq_msg_size(&m->route) : ROUTE_MAX;
        memcpy(from->id, zmq_msg_data(&m->route), from->len);
    }
    if (rc > 0)
        return 1;
    if (rc < 0) {
        b->n.malformed++;
        sk_warn("msg=\"malformed %s message\" error=\"%s\"", who, err.msg);
        if (m->has_route && rc != SK_EIO) {
            sk_header e;
            sk_header_init(&e, SK_MSG_ERROR);
            e.code = rc;
            sk_strlcpy(e.reason, err.msg, sizeof e.reason);
            send_to(b, sock, from, &e, NULL, 0);
        }
    }
    sk_wire_msg_close(m);
    return rc < 0 ? -1 : 0;
}

static void on_history(broker *b, sk_wire_msg *m, const route *from);
static void on_data(broker *b, sk_wire_msg *m, const route *from);
static void on_data_list(broker *b, sk_wire_msg *m, const route *from);

static int on_frontend(sk_uvzmq *z)
{
    broker *b = z->data;
    sk_wire_msg m;
    route from;
    int rc = recv_from(b, b->front, &m, &from, "client");
    if (rc <= 0)
        return rc < 0;
    if (b->stopping) {
        send_client_failure(b, &from, m.hdr.req, NULL, SK_EREFUSED, "broker is shutting down");
        sk_wire_msg_close(&m);
        return 1;
    }
    switch (m.hdr.type) {
    case SK_MSG_SUBMIT: on_submit(b, &m, &from); break;
    case SK_MSG_GRAPH: on_graph(b, &m, &from); break;
    case SK_MSG_CANCEL: on_cancel(b, &m, &from); break;
    case SK_MSG_WAIT: on_wait(b, &m, &from); break;
    case SK_MSG_STATUS: on_status(b, &m, &from); break;
    case SK_MSG_JOBS: on_jobs(b, &m, &from); break;
    case SK_MSG_HISTORY_PUT:
    case SK_MSG_HISTORY_GET: on_history(b, &m, &from); break;
    case SK_MSG_DATA_PUT:
    case SK_MSG_DATA_GET: on_data(b, &m, &from); break;
    case SK_MSG_DATA_LIST: on_data_list(b, &m, &from); break;
    case SK_MSG_HEARTBEAT: break;
    default: {
        b->n.malformed++;
        sk_header e;
        sk_header_init(&e, SK_MSG_ERROR);
        e.code = SK_EPROTO;
        e.req = m.hdr.req;
        snprintf(e.reason, sizeof e.reason, "message type '%s' is not for the client endpoint",
                 sk_msg_type_name(m.hdr.type));
        send_to(b, b->front, &from, &e, NULL, 0);
    }
    }
    sk_wire_msg_close(&m);
    return 1;
}

/* Indicator history: scenario reports stored per tenant and date (in the
 * journal, so it needs --data-dir). */
/* An answer that promises "stored": sent once the journal has committed
 * what it stored (sk_journal_barrier), so that a read right after it (a
 * history_get, a data_list) sees the write. */
typedef struct pending_answer {
    broker *b;
    route to;
    sk_header hdr;              /* the reply, without its body */
    sk_buf json;                /* its body, when it has one */
} pending_answer;

static void on_answer_committed(void *ud, bool ok)
{
    pending_answer *p = ud;
    if (!ok)
        send_request_error(p->b, &p->to, p->hdr.req, SK_EIO, "the broker's journal could not store it; try again");
    else if (p->json.len > 0)
        reply_json(p->b, &p->to, p->hdr.req, &p->json);
    else
        send_to(p->b, p->b->front, &p->to, &p->hdr, NULL, 0);
    sk_buf_free(&p->json);
    free(p);
}

/* Send h (and json, which it takes) after the journal's next commit; at
 * once if there is no journal or no memory to wait with. */
static void answer_when_committed(broker *b, const route *to, const sk_header *h, sk_buf *json)
{
    pending_answer *p = b->journal != NULL ? calloc(1, sizeof *p) : NULL;
    if (p != NULL) {
        p->b = b;
        p->to = *to;
        p->hdr = *h;
        if (json != NULL) {
            p->json = *json;
            *json = (sk_buf)SK_BUF_INIT;
        }
        if (sk_journal_barrier(b->journal, on_answer_committed, p) == 0)
            return;
        if (json != NULL)
            *json = p->json;
        free(p);
    }
    if (json != NULL && json->len > 0)
        reply_json(b, to, h->req, json);
    else
        send_to(b, b->front, to, h, NULL, 0);
}

static void on_history(broker *b, sk_wire_msg *m, const route *from)
{
    sk_header *h = &m->hdr;
    if (b->journal == NULL) {
        send_request_error(b, from, h->req, SK_EUNSUPPORTED,
                           "indicator history needs a durable broker (--data-dir)");
        return;
    }
    if (h->tenant[0] == '\0' || !may_act_for(b, m, h->tenant)) {
        b->n.access_refused++;
        send_request_error(b, from, h->req, SK_EREFUSED, "history for tenant '%s' is not yours to %s", h->tenant,
                           h->type == SK_MSG_HISTORY_PUT ? "write" : "read");
        return;
    }
    sk_buf reply = SK_BUF_INIT;
    if (h->type == SK_MSG_HISTORY_PUT) {
        if (m->nbodies != 1) {
            send_request_error(b, from, h->req, SK_EINVAL, "history_put needs the report (CSV) as its one body");
            return;
        }
        char date[16];
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(date, sizeof date, "%Y-%m-%d", &tm);
        if (sk_journal_history_put(b->journal, h->tenant, date, h->text, zmq_msg_data(&m->bodies[0]),
                                   zmq_msg_size(&m->bodies[0])) < 0) {
            send_request_error(b, from, h->req, SK_ENOMEM, "broker out of memory");
            return;
        }
        sk_buf_printf(&reply, "{\"stored\":true,\"tenant\":\"%s\",\"date\":\"%s\"}", h->tenant, date);
        sk_header r;
        sk_header_init(&r, SK_MSG_REPLY);
        r.req = h->req;
        answer_when_committed(b, from, &r, &reply);
        sk_buf_free(&reply);
        return;
    } else {
        char *csv = NULL;
        size_t len = 0;
        sk_error err = SK_ERROR_INIT;
        if (sk_journal_history_get(b->journal, h->tenant, h->text[0] ? h->text : "0000-00-00", &csv, &len, &err) < 0) {
            send_request_error(b, from, h->req, err.code, "%s", err.msg);
            return;
        }
        sk_buf_append(&reply, csv, len);
        free(csv);
    }
    reply_json(b, from, h->req, &reply);
    sk_buf_free(&reply);
}

/* Datasets: chunked upload and download by content hash, tenant-scoped. */
static void on_data(broker *b, sk_wire_msg *m, const route *from)
{
    sk_header *h = &m->hdr;
    sk_error err = SK_ERROR_INIT;
    if (b->cfg.data_dir == NULL) {
        send_request_error(b, from, h->req, SK_EUNSUPPORTED, "datasets need a broker with --data-dir");
        return;
    }
    const char *tenant = h->tenant;
    if (h->type == SK_MSG_DATA_GET && h->job[0] != '\0') {
        /* A job's result by reference, read by whoever may read the job
         * (a merged region's key reads its members' jobs). */
        job *j = find_job_for(b, m, false);
        if (j == NULL || j->state != JOB_DONE || !j->result_by_ref || strcmp(j->result_hash, h->text) != 0) {
            send_request_error(b, from, h->req, SK_ENOTFOUND, "no such dataset: %s (not the result of job %s)",
                               h->text, h->job);
            return;
        }
        tenant = j->tenant;
    } else if (h->tenant[0] == '\0' || !may_act_for(b, m, h->tenant)) {
        b->n.access_refused++;
        send_request_error(b, from, h->req, SK_ENOTFOUND, "no such dataset: %s", h->text);
        return;
    }
    sk_header r;
    sk_header_init(&r, SK_MSG_REPLY);
    r.req = h->req;
    sk_strlcpy(r.text, h->text, sizeof r.text);
    if (h->type == SK_MSG_DATA_PUT) {
        int64_t next = 0;
        bool complete = false;
        const void *data = m->nbodies == 1 ? zmq_msg_data(&m->bodies[0]) : "";
        size_t len = m->nbodies == 1 ? zmq_msg_size(&m->bodies[0]) : 0;
        if ((int64_t)len > b->cfg.max_frame) {
            sk_header e;
            sk_header_init(&e, SK_MSG_ERROR);
            e.req = h->req;
            e.code = SK_ETOOBIG;
            e.offset = h->offset;
            e.capacity = b->cfg.max_frame;
            snprintf(e.reason, sizeof e.reason, "a chunk of %zu bytes; this broker takes at most %" PRId64
                     " bytes per frame (--max-frame)", len, b->cfg.max_frame);
            send_to(b, b->front, from, &e, NULL, 0);
            return;
        }
        if (sk_dataset_put(b->cfg.data_dir, h->tenant, h->text, h->offset, h->total, data, len, &next, &complete,
                           &err) < 0) {
            /* The error says where a resumable upload stands (offset). */
            sk_header e;
            sk_header_init(&e, SK_MSG_ERROR);
            e.req = h->req;
            e.code = err.code;
            e.offset = next;
            sk_strlcpy(e.reason, err.msg, sizeof e.reason);
            send_to(b, b->front, from, &e, NULL, 0);
            return;
        }
        r.offset = next;
        r.total = h->total;
        r.code = complete ? 1 : 0; /* 1: stored and verified */
        r.capacity = b->cfg.max_frame; /* the largest chunk it takes: uploaders size theirs to it */
        if (!complete) {
            send_to(b, b->front, from, &r, NULL, 0);
            return;
        }
        sk_info("msg=\"dataset stored\" tenant=%s hash=%.20s size=%lld", h->tenant, h->text, (long long)next);
        if (b->journal != NULL)
            sk_journal_dataset(b->journal, h->tenant, h->text, next, h->name[0] ? h->name : NULL, wall_ms());
        answer_when_committed(b, from, &r, NULL); /* `dataset list` right after shows it */
        return;
    }
    zmq_msg_t chunk;
    int64_t size = 0;
    size_t maxlen = h->total > 0 && h->total < b->cfg.max_frame ? (size_t)h->total : (size_t)b->cfg.max_frame;
    if (sk_dataset_get(b->cfg.data_dir, tenant, h->text, h->offset, maxlen, &chunk, &size, &err) < 0) {
        send_request_error(b, from, h->req, err.code, "%s", err.msg);
        return;
    }
    r.offset = h->offset;
    r.total = size;
    r.nbodies = 1;
    sk_strlcpy(r.body_names[0], "data", SK_ID_MAX);
    send_to(b, b->front, from, &r, &chunk, 1);
}

/* A tenant's datasets from the journal: only a tenant the key acts for
 * (another tenant's list answers as an empty one would not: it is refused,
 * naming no dataset). */
static void on_data_list(broker *b, sk_wire_msg *m, const route *from)
{
    sk_header *h = &m->hdr;
    if (b->journal == NULL) {
        send_request_error(b, from, h->req, SK_EUNSUPPORTED, "datasets need a broker with --data-dir");
        return;
    }
    if (h->tenant[0] == '\0' || !may_act_for(b, m, h->tenant)) {
        b->n.access_refused++;
        send_request_error(b, from, h->req, SK_EREFUSED, "datasets of tenant '%s' are not yours to list", h->tenant);
        return;
    }
    sk_buf json = SK_BUF_INIT;
    sk_error err = SK_ERROR_INIT;
    if (sk_journal_datasets_json(b->journal, h->tenant, &json, &err) < 0)
        send_request_error(b, from, h->req, err.code, "%s", err.msg);
    else
        reply_json(b, from, h->req, &json);
    sk_buf_free(&json);
}

/* ---- node messages ---- */

static void send_node_error(broker *b, const route *to, int64_t req, int64_t code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* A node's request refused: an `error` matched by its req. */
static void send_node_error(broker *b, const route *to, int64_t req, int64_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    send_error_v(b, b->back, to, req, code, fmt, ap);
    va_end(ap);
}

/* A node fetches a chunk of a dataset one of its running jobs references.
 * It gets one only for a job of a tenant it may serve, assigned to it now,
 * that names that hash; any other request gets the same "not available"
 * answer, so a node learns nothing about other jobs or tenants.  A chunk is
 * at most SK_FETCH_CHUNK (and --max-frame) bytes, read with pread: the loop
 * never holds more than one chunk's read. */
static void on_node_fetch(broker *b, sk_wire_msg *m, const route *from, node *n)
{
    sk_header *h = &m->hdr;
    if (b->cfg.data_dir == NULL) {
        send_node_error(b, from, h->req, SK_EUNSUPPORTED, "datasets need a broker with --data-dir");
        return;
    }
    if (!sk_hash_valid(h->text) || h->offset < 0 || h->total < 0 || h->job[0] == '\0') {
        b->n.malformed++;
        send_node_error(b, from, h->req, SK_EINVAL,
                           "data_get from a node needs job, text = sha256:<64 hex>, offset >= 0 and total >= 0");
        return;
    }
    job *j = sk_map_get(&b->jobs, h->job, strlen(h->job));
    bool named = false;
    for (size_t i = 0; j != NULL && i < j->nrefs && !named; i++)
        named = strcmp(j->refs[i].hash, h->text) == 0;
    if (n == NULL || j == NULL || j->state != JOB_RUNNING || j->node != n || !named ||
        !node_offers(n, j->service, j->tenant)) {
        b->n.fetch_refused++;
        b->n.access_refused++;
        sk_warn("msg=\"dataset fetch refused\" node=%s job=%.63s hash=%.20s", n != NULL ? n->name : "(unknown)", h->job,
                h->text);
        send_node_error(b, from, h->req, SK_ENOTFOUND, "dataset %s is not available to this node for job %s",
                           h->text, h->job);
        return;
    }
    sk_header r;
    sk_header_init(&r, SK_MSG_REPLY);
    r.req = h->req;
    sk_strlcpy(r.job, h->job, sizeof r.job);
    sk_strlcpy(r.text, h->text, sizeof r.text);
    int64_t cap = b->cfg.max_frame < SK_FETCH_CHUNK ? b->cfg.max_frame : SK_FETCH_CHUNK;
    size_t maxlen = (size_t)(h->total > 0 && h->total < cap ? h->total : cap);
    zmq_msg_t chunk;
    int64_t size = 0;
    sk_error err = SK_ERROR_INIT;
    if (sk_dataset_get(b->cfg.data_dir, j->tenant, h->text, h->offset, maxlen, &chunk, &size, &err) < 0) {
        send_node_error(b, from, h->req, err.code, "%s", err.msg);
        return;
    }
    r.offset = h->offset;
    r.total = size;
    r.nbodies = 1;
    sk_strlcpy(r.body_names[0], "data", SK_ID_MAX);
    b->n.fetch_chunks++;
    send_to(b, b->back, from, &r, &chunk, 1);
}

/* A node uploads the result of a job it runs, in chunks: only for a job
 * assigned to it now, of a tenant it may serve, for the attempt it runs
 * (anything else gets one answer whatever the reason, code -8 like a
 * refused fetch, so a node learns nothing about other jobs).  The chunks go through the
 * dataset store like a client's upload, into a partial file of this
 * attempt's own; the whole must hash to the announced name.  A chunk at
 * offset 0 starts the upload afresh (a node that lost its broker for a
 * while starts over).  Then the node sends the result naming the dataset. */
static void on_node_upload(broker *b, sk_wire_msg *m, const route *from, node *n)
{
    sk_header *h = &m->hdr;
    if (b->cfg.data_dir == NULL) {
        send_node_error(b, from, h->req, SK_EUNSUPPORTED, "results by reference need a broker with --data-dir");
        return;
    }
    size_t len = m->nbodies == 1 ? zmq_msg_size(&m->bodies[0]) : 0;
    if (!sk_hash_valid(h->text) || h->offset < 0 || h->total <= 0 || h->total > SK_DATASET_MAX ||
        h->job[0] == '\0' || h->attempt <= 0 || m->nbodies != 1 || (int64_t)len > SK_FETCH_CHUNK) {
        b->n.malformed++;
        send_node_error(b, from, h->req, SK_EINVAL,
                        "data_put from a node needs job, attempt, text = sha256:<64 hex>, offset >= 0, "
                        "0 < total <= %lld and one body of at most %lld bytes",
                        (long long)SK_DATASET_MAX, (long long)SK_FETCH_CHUNK);
        return;
    }
    job *j = sk_map_get(&b->jobs, h->job, strlen(h->job));
    if (n == NULL || j == NULL || j->state != JOB_RUNNING || j->node != n || j->attempt != h->attempt ||
        (h->tenant[0] != '\0' && strcmp(h->tenant, j->tenant) != 0) || !node_offers(n, j->service, j->tenant)) {
        b->n.upload_refused++;
        b->n.access_refused++;
        sk_warn("msg=\"result upload refused\" node=%s job=%.63s attempt=%" PRId64 " hash=%.20s",
                n != NULL ? n->name : "(unknown)", h->job, h->attempt, h->text);
        send_node_error(b, from, h->req, SK_ENOTFOUND, "job %s takes no result from this node (attempt %" PRId64 ")",
                        h->job, h->attempt);
        return;
    }
    sk_error err = SK_ERROR_INIT;
    if (h->offset == 0) {
        drop_upload(j, "the node started its upload again");
        char owner[SK_ID_MAX + 24];
        snprintf(owner, sizeof owner, "%s#%" PRId64, j->id, j->attempt);
        j->upload = sk_dataset_upload_new(b->cfg.data_dir, j->tenant, h->text, h->total, owner, &err);
    } else if (j->upload == NULL) {
        sk_fail(&err, SK_EINVAL, "no upload of this attempt's result is under way: start at offset 0");
    } else if (strcmp(sk_dataset_upload_hash(j->upload), h->text) != 0 ||
               sk_dataset_upload_total(j->upload) != h->total) {
        sk_fail(&err, SK_EINVAL, "the upload under way is %s (%lld bytes), not %s (%lld bytes)",
                sk_dataset_upload_hash(j->upload), (long long)sk_dataset_upload_total(j->upload), h->text,
                (long long)h->total);
    }
    int64_t next = 0;
    bool complete = false;
    /* A dataset stored already completes the upload with its first chunk. */
    bool was_complete = h->offset != 0 && j->upload != NULL && sk_dataset_upload_complete(j->upload);
    if (j->upload != NULL && err.msg[0] == '\0' &&
        sk_dataset_upload_put(j->upload, h->offset, zmq_msg_data(&m->bodies[0]), len, &next, &complete, &err) < 0)
        drop_upload(j, err.msg);
    if (err.msg[0] != '\0') {
        sk_warn("msg=\"result upload failed\" job=%s node=%s error=\"%s\"", j->id, n->name, err.msg);
        send_node_error(b, from, h->req, err.code ? err.code : SK_EIO, "%s", err.msg);
        return;
    }
    b->n.upload_chunks++;
    b->n.upload_bytes += len;
    sk_header r;
    sk_header_init(&r, SK_MSG_REPLY);
    r.req = h->req;
    sk_strlcpy(r.job, j->id, sizeof r.job);
    r.attempt = j->attempt;
    sk_strlcpy(r.text, h->text, sizeof r.text);
    r.offset = next;
    r.total = h->total;
    r.code = complete ? 1 : 0; /* 1: stored and verified */
    send_to(b, b->back, from, &r, NULL, 0);
    if (complete && !was_complete) {
        sk_info("msg=\"result uploaded\" job=%s node=%s tenant=%s hash=%.20s size=%lld", j->id, n->name, j->tenant,
                h->text, (long long)h->total);
        if (b->journal != NULL) {
            char name[SK_ID_MAX];
            snprintf(name, sizeof name, "result of %.50s", j->id);
            sk_journal_dataset(b->journal, j->tenant, h->text, h->total, name, wall_ms());
        }
    }
}

static void send_node(broker *b, const route *to, int type)
{
    sk_header h;
    sk_header_init(&h, type);
    send_to(b, b->back, to, &h, NULL, 0);
}

/* A job the broker learns of from a node (it outlived a broker restart):
 * running, with no inputs held here, so it cannot be retried elsewhere. */
static job *adopt_job(broker *b, const char *id, const char *service, const char *tenant, const char *client,
                      int64_t req, int64_t attempt)
{
    job *j = job_new(b);
    if (j == NULL)
        return NULL;
    sk_strlcpy(j->id, id, sizeof j->id);
    sk_strlcpy(j->service, service, sizeof j->service);
    sk_strlcpy(j->tenant, tenant, sizeof j->tenant);
    j->client.len = strlen(client);
    memcpy(j->client.id, client, j->client.len);
    j->req = req;
    j->attempt = attempt;
    j->state = JOB_RUNNING;
    j->inputs_lost = true;
    j->submitted_ms = now_ms(b);
    if (sk_map_put(&b->jobs, j->id, strlen(j->id), j) < 0) {
        free(j);
        return NULL;
    }
    list_add(&b->active_head, &b->active_tail, j);
    run_add(queue_for(b, j->service, true), j->tenant, 1);
    return j;
}

static void on_ready(broker *b, sk_wire_msg *m, const route *from)
{
    sk_header *h = &m->hdr;
    node *n = sk_map_get(&b->nodes, from->id, from->len);
    bool fresh = n == NULL;
    if (h->nservices == 0 || h->capacity < 1 || h->capacity > 4096) {
        sk_header e;
        sk_header_init(&e, SK_MSG_ERROR);
        e.code = SK_EINVAL;
        snprintf(e.reason, sizeof e.reason, "ready needs at least one service and a capacity in [1, 4096]");
        send_to(b, b->back, from, &e, NULL, 0);
        return;
    }
    if (fresh) {
        n = calloc(1, sizeof *n);
        if (n != NULL && b->nnode_list == b->capnode_list) {
            size_t cap = b->capnode_list ? b->capnode_list * 2 : 16;
            node **nl = realloc(b->node_list, cap * sizeof *nl);
            if (nl == NULL) {
                free(n);
                return;
            }
            b->node_list = nl;
            b->capnode_list = cap;
        }
        if (n == NULL || sk_map_put(&b->nodes, from->id, from->len, n) < 0) {
            free(n);
            return;
        }
        b->node_list[b->nnode_list++] = n;
        n->id = *from;
    }
    free(n->services);
    free(n->tenants);
    free(n->hashes);
    n->hashes = h->hashes;
    n->nhashes = h->nhashes;
    h->hashes = NULL;
    h->nhashes = 0;
    n->services = h->services;
    n->nservices = h->nservices;
    n->tenants = h->tenants;
    n->ntenants = h->ntenants;
    h->services = NULL;
    h->tenants = NULL;
    h->nservices = h->ntenants = 0;
    /* The broker's access list, not the node's announcement, decides what
     * it may serve: drop services and tenants the key does not allow. */
    const sk_access_entry *e = peer_entry(b, m);
    if (e != NULL) {
        size_t k = 0;
        for (size_t i = 0; i < n->nservices; i++) {
            if (sk_list_allows(e->services, n->services[i])) {
                if (k != i) {
                    memcpy(n->services[k], n->services[i], SK_ID_MAX);
                    if (n->hashes != NULL && i < n->nhashes)
                        memcpy(n->hashes[k], n->hashes[i], SK_HASH_MAX);
                }
                k++;
            } else {
                b->n.access_refused++;
                sk_warn("msg=\"service not allowed for node key\" key=%s service=%s", e->name, n->services[i]);
            }
        }
        n->nservices = k;
        if (n->nhashes > k)
            n->nhashes = k;
        if (strcmp(e->tenants, "*") != 0) {
            bool any = false;
            for (size_t i = 0; i < n->ntenants; i++)
                any |= strcmp(n->tenants[i], "*") == 0;
            if (any || n->ntenants == 0) {
                /* "*" from the node means: whatever the key allows. */
                size_t cnt = 1;
                for (const char *p = e->tenants; *p; p++)
                    cnt += *p == ',';
                char (*t)[SK_ID_MAX] = calloc(cnt, SK_ID_MAX);
                size_t nt = 0;
                for (const char *p = e->tenants; t != NULL && *p;) {
                    const char *comma = strchr(p, ',');
                    size_t l = comma ? (size_t)(comma - p) : strlen(p);
                    if (l > 0 && l < SK_ID_MAX) {
                        memcpy(t[nt], p, l);
                        t[nt++][l] = '\0';
                    }
                    p += l + (comma != NULL);
                }
                free(n->tenants);
                n->tenants = t;
                n->ntenants = t != NULL ? nt : 0;
            } else {
                size_t kt = 0;
                for (size_t i = 0; i < n->ntenants; i++)
                    if (sk_list_allows(e->tenants, n->tenants[i]))
                        memmove(n->tenants[kt++], n->tenants[i], SK_ID_MAX);
                n->ntenants = kt;
            }
        }
        n->restricted = strcmp(e->tenants, "*") != 0;
        if (n->nservices == 0 || (n->ntenants == 0 && n->restricted)) {
            sk_warn("msg=\"node has nothing it may serve\" key=%s", e->name);
        }
    }
    n->capacity = h->capacity;
    n->minor = m->minor;
    sk_strlcpy(n->name, h->node_name[0] ? h->node_name : "node", sizeof n->name);
    n->expiry_ms = now_ms(b) + (uint64_t)(b->cfg.heartbeat_ms * b->cfg.liveness);
    /* Jobs the node still holds (it outlived a broker restart, or a network
     * cut): adopt the unknown ones, and stop the ones that were given to
     * another node meanwhile so no job runs twice to completion. */
    int64_t load = 0;
    for (size_t i = 0; i < h->nheld; i++) {
        sk_held_job *hj = &h->held[i];
        job *j = sk_map_get(&b->jobs, hj->job, strlen(hj->job));
        if (j == NULL) {
            j = adopt_job(b, hj->job, hj->service, hj->tenant, hj->client, hj->req, hj->attempt);
            if (j == NULL)
                continue;
            j->node = n;
            load++;
            sk_info("msg=\"adopted job after restart\" job=%s node=%s attempt=%" PRId64, j->id, n->name, j->attempt);
        } else if (j->node == n && j->attempt == hj->attempt) {
            load++;
        } else if (j->limbo_until_ms != 0 && j->state == JOB_QUEUED && j->attempt == hj->attempt) {
            /* Journaled as running before a restart, and its node still has
             * it: it carries on there. */
            j->limbo_until_ms = 0;
            j->state = JOB_RUNNING;
            j->node = n;
            svc_queue *q = queue_for(b, j->service, true);
            run_add(q, j->tenant, 1);
            load++;
        } else {
            sk_header c;
            sk_header_init(&c, SK_MSG_CANCEL);
            sk_strlcpy(c.job, hj->job, sizeof c.job);
            c.attempt = hj->attempt;
            snprintf(c.reason, sizeof c.reason, "stale attempt");
            send_to(b, b->back, from, &c, NULL, 0);
        }
    }
    if (fresh || h->nheld > 0)
        n->load = load;
    sk_info("msg=\"node %s\" node=%s services=%zu capacity=%" PRId64 " held=%zu", fresh ? "joined" : "re-announced",
            n->name, n->nservices, n->capacity, h->nheld);
    for (size_t i = 0; i < n->nservices && i < n->nhashes; i++) {
        const node *other = n->hashes[i][0] ? code_conflict(b, n, n->services[i], n->hashes[i]) : NULL;
        if (other != NULL)
            sk_warn("msg=\"different code under one service name\" service=%s node=%s other=%s hash=%.20s",
                    n->services[i], n->name, other->name, n->hashes[i]);
    }
    dispatch_all(b);
}

/* A result by reference: the dataset this attempt's node uploaded (or,
 * when the broker restarted after the upload, one the tenant's store
 * holds with that size); anything else is a protocol error. */
static void take_result_ref(broker *b, job *j, const sk_data_ref *ref, const node *n)
{
    int64_t stored = -1;
    sk_error err = SK_ERROR_INIT;
    bool uploaded = j->upload != NULL && sk_dataset_upload_complete(j->upload) &&
                    strcmp(sk_dataset_upload_hash(j->upload), ref->hash) == 0 &&
                    sk_dataset_upload_total(j->upload) == ref->size;
    if (strcmp(ref->input, "result") != 0 || (!uploaded && j->upload != NULL) ||
        sk_dataset_stat(b->cfg.data_dir, j->tenant, ref->hash, &stored, &err) < 0 || stored != ref->size) {
        char reason[300];
        snprintf(reason, sizeof reason, "node %.40s sent a result by reference to %.80s (%lld bytes), which it did not "
                 "upload for this attempt", n->name[0] ? n->name : "(unknown)", ref->hash, (long long)ref->size);
        finish_job(b, j, JOB_FAILED, SK_EPROTO, reason);
        return;
    }
    sk_strlcpy(j->result_hash, ref->hash, sizeof j->result_hash);
    j->result_size = ref->size;
    j->result_by_ref = true;
    b->n.results_by_ref++;
    finish_job(b, j, JOB_DONE, 0, "");
}

static void on_node_outcome(broker *b, sk_wire_msg *m, node *n)
{
    sk_header *h = &m->hdr;
    job *j = sk_map_get(&b->jobs, h->job, strlen(h->job));
    if (j != NULL && j->limbo_until_ms != 0 && j->state == JOB_QUEUED && j->attempt == h->attempt) {
        /* A result for a job that was running before a restart. */
        j->limbo_until_ms = 0;
        j->state = JOB_RUNNING;
        j->node = n;
        n->load++;
        svc_queue *q = queue_for(b, j->service, true);
        run_add(q, j->tenant, 1);
    }
    bool current = j != NULL && j->node == n && j->attempt == h->attempt;
    if (current || (j != NULL && j->node == n)) {
        if (n->load > 0)
            n->load--;
        j->node = NULL;
    }
    if (j == NULL && h->client[0] != '\0' && h->type == SK_MSG_RESULT && m->nbodies == 1) {
        /* The broker restarted while this job ran and the node's result
         * arrived before its re-announcement: adopt and deliver it. */
        j = adopt_job(b, h->job, h->service, h->tenant, h->client, h->req, h->attempt);
        current = j != NULL;
    }
    if (!current || j->state != JOB_RUNNING) {
        b->n.late_results++;
        sk_debug("msg=\"dropped late %s\" job=%s attempt=%" PRId64, sk_msg_type_name(h->type), h->job, h->attempt);
        dispatch_all(b);
        return;
    }
    if (h->type == SK_MSG_RESULT) {
        if (m->nbodies == 0 && h->nrefs == 1 && b->cfg.data_dir != NULL) {
            take_result_ref(b, j, &h->refs[0], n);
        } else if (m->nbodies != 1) {
            finish_job(b, j, JOB_FAILED, SK_EPROTO, "node sent a result without exactly one body");
        } else {
            zmq_msg_init(&j->result);
            zmq_msg_move(&j->result, &m->bodies[0]);
            j->has_result = true;
            finish_job(b, j, JOB_DONE, 0, "");
        }
    } else {
        finish_job(b, j, JOB_FAILED, h->code ? h->code : SK_EIO, h->reason[0] ? h->reason : "node reported failure");
    }
    svc_queue *q = queue_for(b, j->service, false);
    dispatch(b, q);
    dispatch_all(b);
}

static void on_node_progress(broker *b, sk_wire_msg *m, node *n)
{
    job *j = sk_map_get(&b->jobs, m->hdr.job, strlen(m->hdr.job));
    if (j == NULL || j->node != n || j->attempt != m->hdr.attempt || j->state != JOB_RUNNING)
        return;
    sk_header p;
    sk_header_init(&p, SK_MSG_PROGRESS);
    sk_strlcpy(p.job, j->id, sizeof p.job);
    p.req = j->req;
    p.attempt = j->attempt;
    p.progress = m->hdr.progress;
    memcpy(p.text, m->hdr.text, sizeof p.text);
    if (j->client.len > 0)
        send_to(b, b->front, &j->client, &p, NULL, 0);
    for (size_t i = 0; i < j->nwaiters; i++)
        send_to(b, b->front, &j->waiters[i], &p, NULL, 0);
}

static int on_backend(sk_uvzmq *z)
{
    broker *b = z->data;
    sk_wire_msg m;
    route from;
    int rc = recv_from(b, b->back, &m, &from, "node");
    if (rc <= 0)
        return rc < 0;
    node *n = sk_map_get(&b->nodes, from.id, from.len);
    if (n != NULL)
        n->expiry_ms = now_ms(b) + (uint64_t)(b->cfg.heartbeat_ms * b->cfg.liveness);
    switch (m.hdr.type) {
    case SK_MSG_READY:
        on_ready(b, &m, &from);
        break;
    case SK_MSG_HEARTBEAT:
        if (n == NULL)
            send_node(b, &from, SK_MSG_DISCONNECT); /* "I do not know you: announce yourself" */
        break;
    case SK_MSG_RESULT:
    case SK_MSG_FAILED:
        if (n == NULL) {
            /* Unknown node (broker restarted): still deliver, then ask it
             * to announce itself. */
            node tmp;
            memset(&tmp, 0, sizeof tmp);
            on_node_outcome(b, &m, &tmp);
            send_node(b, &from, SK_MSG_DISCONNECT);
        } else {
            on_node_outcome(b, &m, n);
        }
        break;
    case SK_MSG_PROGRESS:
        if (n != NULL)
            on_node_progress(b, &m, n);
        break;
    case SK_MSG_DISCONNECT:
        if (n != NULL)
            node_drop(b, n, "node disconnected");
        break;
    case SK_MSG_DATA_GET:
        on_node_fetch(b, &m, &from, n);
        break;
    case SK_MSG_DATA_PUT:
        on_node_upload(b, &m, &from, n);
        break;
    default:
        b->n.malformed++;
        sk_header e;
        sk_header_init(&e, SK_MSG_ERROR);
        e.code = SK_EPROTO;
        snprintf(e.reason, sizeof e.reason, "message type '%s' is not for the node endpoint",
                 sk_msg_type_name(m.hdr.type));
        send_to(b, b->back, &from, &e, NULL, 0);
    }
    sk_wire_msg_close(&m);
    return 1;
}

/* ---- timers ---- */

/* Forget finished jobs, oldest first: past their time to live, or beyond
 * the count and byte budgets for kept results. */
static void purge_done(broker *b, uint64_t now)
{
    /* An outbox may name a job about to be forgotten: send it first. */
    if (b->dirty != NULL)
        flush_all(b);
    while (b->done_head != NULL) {
        job *j = b->done_head;
        bool old = now - j->finished_ms > (uint64_t)b->cfg.result_ttl_s * 1000;
        bool over = (int64_t)b->ndone > b->cfg.result_keep || b->done_bytes > b->cfg.result_bytes;
        if (!old && !over)
            break;
        if (j->node != NULL && j->node->load > 0)
            j->node->load--; /* a cancelled job the node never reported back */
        if (b->journal != NULL)
            sk_journal_forget(b->journal, j->jref, j->id);
        sk_map_del(&b->jobs, j->id, strlen(j->id));
        if (j->idem[0] != '\0') {
            char key[256];
            int len = snprintf(key, sizeof key, "%s%c%s", j->tenant, 0, j->idem);
            if (sk_map_get(&b->idem, key, (size_t)len) == j)
                sk_map_del(&b->idem, key, (size_t)len);
        }
        job_free(b, j);
    }
}

/* ---- dataset retention ---- */

typedef struct trim_pass {
    broker *b;
    sk_map in_use;          /* "tenant NUL hash" of datasets queued or running jobs name, and results by
                               reference of the jobs the broker keeps */
    int64_t now_wall, kept_bytes;
    size_t removed;
} trim_pass;

static void trim_one(void *ud, const char *tenant, const char *hash, int64_t size, int64_t last_used_ms)
{
    trim_pass *t = ud;
    char key[SK_ID_MAX + SK_HASH_MAX + 1];
    int kl = snprintf(key, sizeof key, "%s%c%s", tenant, 0, hash);
    bool old = t->b->cfg.dataset_ttl_s > 0 && t->now_wall - last_used_ms > t->b->cfg.dataset_ttl_s * 1000;
    bool over = t->b->cfg.dataset_bytes > 0 && t->kept_bytes + size > t->b->cfg.dataset_bytes;
    if (sk_map_get(&t->in_use, key, (size_t)kl) != NULL || (!old && !over)) {
        t->kept_bytes += size;
        return;
    }
    if (sk_dataset_remove(t->b->cfg.data_dir, tenant, hash) < 0 && errno != ENOENT)
        return;
    sk_journal_dataset_forget(t->b->journal, tenant, hash);
    sk_info("msg=\"dataset deleted (retention)\" tenant=%s hash=%.20s size=%lld reason=%s", tenant, hash,
            (long long)size, old ? "unused" : "over budget");
    t->removed++;
}

static void keep_dataset(trim_pass *t, const char *tenant, const char *hash, job *j)
{
    char key[SK_ID_MAX + SK_HASH_MAX + 1];
    int kl = snprintf(key, sizeof key, "%s%c%s", tenant, 0, hash);
    sk_map_put(&t->in_use, key, (size_t)kl, j);
}

/* Delete stored datasets unused for --dataset-ttl, then the least recently
 * used beyond --dataset-bytes; never one a queued or running job names,
 * nor a result by reference of a job the broker still keeps (`wait` must
 * find it; once the job is forgotten it is an ordinary dataset).  Runs
 * from the timer every few seconds, never per job. */
static void trim_datasets(broker *b)
{
    trim_pass t = {.b = b, .now_wall = wall_ms()};
    sk_map_init(&t.in_use);
    for (job *j = b->active_head; j != NULL; j = j->lnext) {
        for (size_t i = 0; i < j->nrefs; i++)
            keep_dataset(&t, j->tenant, j->refs[i].hash, j);
        if (j->upload != NULL && sk_dataset_upload_complete(j->upload))
            keep_dataset(&t, j->tenant, sk_dataset_upload_hash(j->upload), j); /* its result is on the way */
    }
    for (job *j = b->done_head; j != NULL; j = j->lnext)
        if (j->result_by_ref)
            keep_dataset(&t, j->tenant, j->result_hash, j);
    sk_error err = SK_ERROR_INIT;
    if (sk_journal_datasets_scan(b->journal, trim_one, &t, &err) < 0)
        sk_warn("msg=\"dataset retention skipped\" error=\"%s\"", err.msg);
    sk_map_free(&t.in_use);
}

static void on_tick(uv_timer_t *t)
{
    broker *b = t->data;
    uint64_t now = now_ms(b);
    const char *k;
    size_t kl;
    void *v;
    /* Nodes: heartbeats out, dead ones out. Collect first: dropping edits the map. */
    node *dead[64];
    size_t ndead = 0;
    for (size_t it = 0; (it = sk_map_next(&b->nodes, it, &k, &kl, &v)) != 0;) {
        node *n = v;
        if (now >= n->expiry_ms) {
            if (ndead < 64)
                dead[ndead++] = n;
            continue;
        }
        if (now >= n->next_heartbeat_ms) {
            send_node(b, &n->id, SK_MSG_HEARTBEAT);
            n->next_heartbeat_ms = now + (uint64_t)b->cfg.heartbeat_ms;
        }
    }
    for (size_t i = 0; i < ndead; i++) {
        if (b->m_missed != NULL)
            sk_metric_inc(b->m_missed, NULL);
        node_drop(b, dead[i], "missed heartbeats");
    }
    if (b->notify != NULL && now >= b->next_status_ms) {
        size_t queued = 0;
        int64_t running = 0;
        for (svc_queue *q = b->queues; q != NULL; q = q->next) {
            queued += q->len;
            running += q->running;
        }
        sk_notify_status(b->notify, "%zu nodes, %zu queued, %lld running", b->nodes.len, queued, (long long)running);
        b->next_status_ms = now + 5000;
    }
    /* Active jobs: deadlines, services nobody offers, restart limbo. */
    for (job *j = b->active_head, *next; j != NULL; j = next) {
        next = j->lnext;
        if (j->limbo_until_ms != 0 && now >= j->limbo_until_ms && j->state == JOB_QUEUED) {
            j->limbo_until_ms = 0;
            svc_queue *q = queue_for(b, j->service, true);
            if (q != NULL) {
                queue_push(q, j, true);
                sk_info("msg=\"job from before the restart requeued; no node held it\" job=%s attempt=%" PRId64,
                        j->id, j->attempt);
                dispatch(b, q);
            }
        }
        /* The node enforces the deadline itself; the broker gives it a
         * grace period to report before failing the job on its own. */
        uint64_t grace = j->state == JOB_RUNNING ? 2000 : 0;
        if (j->deadline_abs_ms > 0 && now > j->deadline_abs_ms + grace) {
            if (j->state == JOB_RUNNING && j->node != NULL) {
                sk_header c;
                sk_header_init(&c, SK_MSG_CANCEL);
                sk_strlcpy(c.job, j->id, sizeof c.job);
                c.attempt = j->attempt;
                send_to(b, b->back, &j->node->id, &c, NULL, 0);
            }
            node *held = j->node;
            char reason[200];
            if (j->state == JOB_QUEUED && !any_node_offers(b, j->service))
                snprintf(reason, sizeof reason, "deadline passed while waiting for a node that offers service '%s'",
                         j->service);
            else
                snprintf(reason, sizeof reason, "deadline passed (%s)", state_names[j->state]);
            finish_job(b, j, JOB_FAILED, SK_ETIMEDOUT, reason);
            j->node = held;
            continue;
        }
        /* Wait for a node from the later of submit and broker start: after
         * a restart, nodes need a moment to come back. */
        uint64_t since = j->submitted_ms > b->started_ms ? j->submitted_ms : b->started_ms;
        if (j->state == JOB_QUEUED && j->limbo_until_ms == 0 && !j->pending_commit && j->deps_pending == 0 &&
            now - since > (uint64_t)b->cfg.no_service_wait_ms && !any_node_offers(b, j->service)) {
            char reason[200];
            snprintf(reason, sizeof reason, "no node offers service '%s' (waited %" PRId64 " ms)", j->service,
                     b->cfg.no_service_wait_ms);
            finish_job(b, j, JOB_FAILED, SK_ENOTFOUND, reason);
        }
    }
    /* Outcomes whose submitter was away: try again, a bounded number per tick. */
    if (b->nundelivered > 0) {
        size_t tries = 0;
        for (job *j = b->done_head; j != NULL && tries < 2000; j = j->lnext) {
            if (!j->undelivered)
                continue;
            tries++;
            if (send_outcome(b, j, &j->client) == 0) {
                j->undelivered = false;
                b->nundelivered--;
            }
        }
    }
    purge_done(b, now);
    if (b->journal != NULL && (b->cfg.dataset_ttl_s > 0 || b->cfg.dataset_bytes > 0) &&
        now >= b->next_dataset_trim_ms) {
        /* Every minute, or twice per time to live when that is shorter. */
        int64_t every = b->cfg.dataset_ttl_s > 0 && b->cfg.dataset_ttl_s * 500 < 60000 ? b->cfg.dataset_ttl_s * 500
                                                                                        : 60000;
        b->next_dataset_trim_ms = now + (uint64_t)(every > 1000 ? every : 1000);
        trim_datasets(b);
    }
}

static void on_signal(uv_signal_t *s, int signum)
{
    broker *b = s->data;
    sk_info("msg=\"shutting down\" signal=%d", signum);
    b->stopping = true;
    uv_stop(&b->loop);
}

/* ---- metrics, health, systemd, reload ---- */

static void counter_to(sk_metric *f, uint64_t v)
{
    double now = sk_metric_value(f, NULL);
    /* add(0) creates the series, so a counter reads 0 before its first event */
    sk_metric_add(f, NULL, (double)v > now ? (double)v - now : 0);
}

static void on_collect(sk_metrics *m, void *data)
{
    (void)m;
    broker *b = data;
    sk_metric_clear(b->m_jobs);
    for (svc_queue *q = b->queues; q != NULL; q = q->next) {
        for (size_t i = 0; i < q->ntq; i++) {
            tenant_q *t = &q->tq[i];
            for (int o = 0; o < JOB_OUTCOMES; o++) {
                if (t->jobs_total[o] == 0)
                    continue;
                const char *const *labels = SK_LABELS(outcome_names[o], q->name, t->tenant);
                double now = sk_metric_value(b->m_jobs_total, labels);
                if ((double)t->jobs_total[o] > now)
                    sk_metric_add(b->m_jobs_total, labels, (double)t->jobs_total[o] - now);
            }
        }
        sk_metric_set(b->m_jobs, SK_LABELS("queued", q->name), (double)q->len);
        sk_metric_set(b->m_jobs, SK_LABELS("running", q->name), (double)q->running);
    }
    sk_metric_set(b->m_queue_bytes, NULL, (double)b->queued_bytes);
    sk_metric_set(b->m_nodes, NULL, (double)b->nodes.len);
    sk_metric_add(b->m_missed, NULL, 0);
    counter_to(b->m_malformed, b->n.malformed);
    counter_to(b->m_auth, b->n.auth_refused);
    counter_to(b->m_access, b->n.access_refused);
    counter_to(b->m_requeued, b->n.requeued);
    counter_to(b->m_late, b->n.late_results);
    counter_to(b->m_upload_bytes, b->n.upload_bytes);
    counter_to(b->m_upload_refused, b->n.upload_refused);
    counter_to(b->m_results_by_ref, b->n.results_by_ref);
}

static void on_commit_observed(void *ud, double seconds, size_t records)
{
    (void)records;
    sk_metric_observe(((broker *)ud)->m_commit, NULL, seconds);
}

static int ready_check(void *ctx, sk_buf *why)
{
    broker *b = ctx;
    if (b->stopping) {
        sk_buf_puts(why, "shutting down");
        return 1;
    }
    return 0; /* bound, journal open (or not configured), loop turning */
}

static int setup_metrics(broker *b, sk_error *err)
{
    static const double commit_buckets[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1};
    b->metrics = sk_metrics_new();
    if (b->metrics == NULL)
        return sk_fail(err, SK_ENOMEM, "out of memory");
    if ((b->m_jobs_total = sk_metrics_counter(b->metrics, "samskap_jobs_total",
                                              "Jobs by what happened to them (submitted, done, failed, cancelled, timed_out).",
                                              SK_LABELS("state", "service", "tenant"), 3, err)) == NULL ||
        (b->m_jobs = sk_metrics_gauge(b->metrics, "samskap_jobs", "Jobs queued or running now, by service.",
                                      SK_LABELS("state", "service"), 2, err)) == NULL ||
        (b->m_queue_bytes = sk_metrics_gauge(b->metrics, "samskap_queued_bytes", "Bytes of inputs held for queued jobs.",
                                             NULL, 0, err)) == NULL ||
        (b->m_nodes = sk_metrics_gauge(b->metrics, "samskap_nodes", "Live worker nodes.", NULL, 0, err)) == NULL ||
        (b->m_missed = sk_metrics_counter(b->metrics, "samskap_missed_heartbeats_total",
                                          "Nodes dropped because they missed their heartbeats.", NULL, 0, err)) == NULL ||
        (b->m_malformed = sk_metrics_counter(b->metrics, "samskap_malformed_messages_total",
                                             "Messages refused as malformed, on either endpoint.", NULL, 0, err)) == NULL ||
        (b->m_auth = sk_metrics_counter(b->metrics, "samskap_auth_refused_total",
                                        "Connections refused by the ZAP handler.", NULL, 0, err)) == NULL ||
        (b->m_access = sk_metrics_counter(b->metrics, "samskap_access_refused_total",
                                          "Requests refused by the access list (tenant or service not allowed).", NULL,
                                          0, err)) == NULL ||
        (b->m_requeued = sk_metrics_counter(b->metrics, "samskap_jobs_requeued_total",
                                            "Jobs put back in their queue after their node was lost.", NULL, 0, err)) ==
            NULL ||
        (b->m_late = sk_metrics_counter(b->metrics, "samskap_late_results_total",
                                        "Results dropped because they came from an older attempt.", NULL, 0, err)) ==
            NULL ||
        (b->m_upload_bytes = sk_metrics_counter(b->metrics, "samskap_result_upload_bytes_total",
                                                "Result bytes nodes uploaded (results larger than a frame).", NULL, 0,
                                                err)) == NULL ||
        (b->m_upload_refused = sk_metrics_counter(b->metrics, "samskap_result_upload_refused_total",
                                                  "Result chunks refused: not from the node running that attempt.",
                                                  NULL, 0, err)) == NULL ||
        (b->m_results_by_ref = sk_metrics_counter(b->metrics, "samskap_results_by_ref_total",
                                                  "Results that went to the dataset store and to clients by reference.",
                                                  NULL, 0, err)) == NULL ||
        (b->m_commit = sk_metrics_histogram(b->metrics, "samskap_journal_commit_seconds",
                                            "Time to commit one batch of journal records.", NULL, 0, commit_buckets,
                                            sizeof commit_buckets / sizeof commit_buckets[0], err)) == NULL ||
        sk_metrics_on_collect(b->metrics, on_collect, b) < 0)
        return err->code ? err->code : SK_ENOMEM;
    return 0;
}

static void on_sighup(uv_signal_t *s, int signum)
{
    (void)signum;
    broker *b = s->data;
    if (b->cfg.region != NULL) {
        sk_region_conf *fresh = NULL;
        sk_error rerr = SK_ERROR_INIT;
        if (sk_region_conf_read(b->cfg.region, &fresh, &rerr) < 0) {
            sk_warn("msg=\"region reload failed; keeping the old one\" error=\"%s\"", rerr.msg);
        } else {
            sk_region_conf_free(b->region);
            b->region = fresh;
            sk_info("msg=\"region configuration reloaded\" memberships=%zu", fresh->n);
        }
    }
    if (b->access == NULL || b->cfg.access == NULL) {
        sk_info("msg=\"SIGHUP: nothing to reload (no access list)\"");
        return;
    }
    sk_notify_reloading(b->notify);
    sk_access *fresh = NULL;
    sk_error err = SK_ERROR_INIT;
    if (sk_access_read(b->cfg.access, &fresh, &err) < 0) {
        sk_warn("msg=\"reload failed; keeping the old access list\" error=\"%s\"", err.msg);
    } else {
        /* New connections and every later message are checked against the
         * new list; established connections keep their user id (name). */
        sk_access_free(b->access);
        b->access = fresh;
        sk_info("msg=\"access list reloaded\" keys=%zu", fresh->n);
    }
    sk_notify_ready(b->notify, "serving");
}

/* ---- restart from the journal ---- */

static int load_journal(broker *b, sk_error *err)
{
    sk_journal_job *jobs;
    size_t n;
    size_t queued = 0, running = 0, finished = 0;
    if (sk_journal_load(b->journal, &jobs, &n, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        sk_journal_job *jj = &jobs[i];
        job *j = job_new(b);
        if (j == NULL) {
            sk_journal_job_clear(jj);
            continue;
        }
        sk_strlcpy(j->id, jj->hdr.job, sizeof j->id);
        j->jref = jj->ref;
        sk_strlcpy(j->service, jj->hdr.service, sizeof j->service);
        sk_strlcpy(j->tenant, jj->hdr.tenant, sizeof j->tenant);
        sk_strlcpy(j->idem, jj->hdr.idem, sizeof j->idem);
        memcpy(j->client.id, jj->client, jj->client_len);
        j->client.len = jj->client_len;
        j->req = jj->hdr.req;
        j->no_ack = jj->hdr.no_ack;
        j->attempt = jj->attempt;
        j->params = jj->hdr.params;
        jj->hdr.params = NULL;
        j->deps = jj->hdr.deps;
        j->ndeps = jj->hdr.ndeps;
        jj->hdr.deps = NULL;
        jj->hdr.ndeps = 0;
        j->submitted_ms = from_wall(b, jj->submitted_ms);
        j->deadline_abs_ms = from_wall(b, jj->deadline_abs_ms);
        if (jj->nbodies > 0 && alloc_bodies(j, jj->nbodies) < 0) {
            {
                free(j);
                sk_journal_job_clear(jj);
                continue;
            }
        }
        j->nbodies = jj->nbodies;
        for (size_t k = 0; k < jj->nbodies; k++) {
            memcpy(j->body_names[k], jj->hdr.body_names[k], SK_ID_MAX);
            zmq_msg_init(&j->bodies[k]);
            zmq_msg_move(&j->bodies[k], &jj->bodies[k]);
            j->body_bytes += zmq_msg_size(&j->bodies[k]);
        }
        b->queued_bytes += (int64_t)j->body_bytes;
        bool done = strcmp(jj->state, "done") == 0, failed = strcmp(jj->state, "failed") == 0;
        for (size_t k = 0; k < jj->hdr.ndatasets && !done && !failed; k++) {
            const char *ref = jj->hdr.datasets[k], *eq = strchr(ref, '=');
            char input[SK_ID_MAX];
            int64_t size = 0;
            snprintf(input, sizeof input, "%.*s", (int)(eq - ref), ref);
            sk_error derr = SK_ERROR_INIT;
            if (sk_dataset_stat(b->cfg.data_dir, j->tenant, eq + 1, &size, &derr) < 0 ||
                add_ref(j, input, eq + 1, size) < 0) {
                failed = true;
                sk_strlcpy(jj->state, "failed", sizeof jj->state);
                jj->code = SK_ENOTFOUND;
                snprintf(jj->reason, sizeof jj->reason, "input '%s': its dataset %.80s is gone from the store",
                         input, eq + 1);
                if (b->journal != NULL)
                    sk_journal_finish(b->journal, jj->ref, j->id, false, jj->code, jj->reason, NULL, NULL, wall_ms());
            }
        }
        if (done && jj->has_result_ref) {
            int64_t size = -1;
            sk_error derr = SK_ERROR_INIT;
            if (sk_dataset_stat(b->cfg.data_dir, j->tenant, jj->result_ref.hash, &size, &derr) < 0 ||
                size != jj->result_ref.size) {
                /* Deleted by hand: `wait` says so rather than naming a dataset nobody can read. */
                done = false;
                failed = true;
                jj->code = SK_ENOTFOUND;
                snprintf(jj->reason, sizeof jj->reason, "its result (dataset %.80s, %lld bytes) is gone from the store",
                         jj->result_ref.hash, (long long)jj->result_ref.size);
                sk_warn("msg=\"journal: a result by reference is gone from the dataset store\" job=%s hash=%.20s",
                        j->id, jj->result_ref.hash);
                if (b->journal != NULL)
                    sk_journal_finish(b->journal, jj->ref, j->id, false, jj->code, jj->reason, NULL, NULL, wall_ms());
            } else {
                sk_strlcpy(j->result_hash, jj->result_ref.hash, sizeof j->result_hash);
                j->result_size = jj->result_ref.size;
                j->result_by_ref = true;
            }
        }
        if (done || failed) {
            j->state = done ? JOB_DONE : JOB_FAILED;
            j->code = jj->code;
            set_reason(j, jj->reason);
            j->finished_ms = from_wall(b, jj->finished_ms);
            if (jj->has_result) {
                zmq_msg_init(&j->result);
                zmq_msg_move(&j->result, &jj->result);
                j->has_result = true;
            }
            list_add(&b->done_head, &b->done_tail, j);
            j->in_done = true;
            b->ndone++;
            if (j->has_result)
                b->done_bytes += (int64_t)zmq_msg_size(&j->result);
            finished++;
        } else {
            j->state = JOB_QUEUED;
            list_add(&b->active_head, &b->active_tail, j);
            if (strcmp(jj->state, "running") == 0) {
                /* Its node may still run it: give the nodes one liveness
                 * period to say so before it runs again. */
                j->limbo_until_ms = now_ms(b) + (uint64_t)(b->cfg.heartbeat_ms * b->cfg.liveness);
                running++;
            } else if (j->ndeps > 0) {
                j->deps_pending = 1; /* wired into the graph once every job is loaded */
                queued++;
            } else {
                svc_queue *q = queue_for(b, j->service, true);
                if (q != NULL)
                    queue_push(q, j, false);
                queued++;
            }
        }
        sk_map_put(&b->jobs, j->id, strlen(j->id), j);
        if (j->idem[0] != '\0') {
            char key[256];
            int kl = snprintf(key, sizeof key, "%s%c%s", j->tenant, 0, j->idem);
            sk_map_put(&b->idem, key, (size_t)kl, j);
        }
        sk_journal_job_clear(jj);
    }
    free(jobs);
    /* Second pass: jobs waiting for others, now that all are known.  A job
     * that was running had all its dependencies done: it gets their results
     * again, for when it must run again (its node may be gone). */
    for (job *j = b->active_head, *next; j != NULL; j = next) {
        next = j->lnext;
        if (j->ndeps > 0 && j->deps_pending > 0 && j->queue == NULL && j->state == JOB_QUEUED)
            resolve_deps(b, j);
        else if (j->ndeps > 0 && j->limbo_until_ms != 0 && j->state == JOB_QUEUED)
            reattach_deps(b, j);
    }
    sk_info("msg=\"journal loaded\" queued=%zu running=%zu finished=%zu", queued, running, finished);
    return 0;
}

/* ---- ZAP: who may connect ---- */

/* One ZAP request (RFC 27): version, request id, domain, address, routing
 * id, mechanism, credentials.  We answer 200 only for a CURVE key in the
 * access list whose role fits the endpoint: clients and admins on the
 * frontend ("front"), nodes on the backend ("back").  Everything else gets
 * 400: the handler fails closed. */
static int on_zap(sk_uvzmq *z)
{
    broker *b = z->data;
    zmq_msg_t f[8];
    int n = 0, more = 1;
    while (more && n < 8) {
        zmq_msg_init(&f[n]);
        if (zmq_msg_recv(&f[n], b->zap, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&f[n]);
            if (n == 0)
                return 0;
            break;
        }
        more = zmq_msg_more(&f[n]);
        n++;
    }
    while (more) { /* drain anything beyond what we read */
        zmq_msg_t x;
        zmq_msg_init(&x);
        if (zmq_msg_recv(&x, b->zap, 0) < 0) {
            zmq_msg_close(&x);
            break;
        }
        more = zmq_msg_more(&x);
        zmq_msg_close(&x);
    }
    const char *status = "400", *text = "unknown key", *user = "";
    char domain[16] = "", mech[16] = "", addr[64] = "", key[SK_KEY_Z85] = "";
    if (n >= 7) {
        size_t dl = zmq_msg_size(&f[2]) < sizeof domain - 1 ? zmq_msg_size(&f[2]) : sizeof domain - 1;
        memcpy(domain, zmq_msg_data(&f[2]), dl);
        size_t al = zmq_msg_size(&f[3]) < sizeof addr - 1 ? zmq_msg_size(&f[3]) : sizeof addr - 1;
        memcpy(addr, zmq_msg_data(&f[3]), al);
        size_t ml = zmq_msg_size(&f[5]) < sizeof mech - 1 ? zmq_msg_size(&f[5]) : sizeof mech - 1;
        memcpy(mech, zmq_msg_data(&f[5]), ml);
        if (strcmp(mech, "CURVE") == 0 && zmq_msg_size(&f[6]) == 32) {
            zmq_z85_encode(key, zmq_msg_data(&f[6]), 32);
            const sk_access_entry *e = sk_access_by_key(b->access, key);
            if (e == NULL) {
                text = "unknown key";
            } else if (strcmp(domain, "back") == 0 ? e->role != SK_ROLE_NODE : e->role == SK_ROLE_NODE) {
                text = strcmp(domain, "back") == 0 ? "not a node key" : "a node key cannot act as a client";
            } else {
                status = "200";
                text = "OK";
                user = e->name;
            }
        } else {
            text = "CURVE required";
        }
    }
    if (strcmp(status, "200") != 0) {
        b->n.auth_refused++;
        sk_warn("msg=\"connection refused\" endpoint=%s address=%s key=%.8s... reason=\"%s\"",
                domain, addr, key[0] ? key : "-", text);
    } else {
        sk_debug("msg=\"connection admitted\" endpoint=%s key=%s", domain, user);
    }
    /* Reply: version, request id, status code, status text, user id, metadata. */
    zmq_send(b->zap, "1.0", 3, ZMQ_SNDMORE);
    if (n >= 2)
        zmq_send(b->zap, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
    else
        zmq_send(b->zap, "", 0, ZMQ_SNDMORE);
    zmq_send(b->zap, status, 3, ZMQ_SNDMORE);
    zmq_send(b->zap, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(b->zap, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(b->zap, "", 0, 0);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
    sk_uvzmq_kick(&b->zzap);
    return 1;
}

int sk_endpoint_is_local(const char *ep)
{
    if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0)
        return 1;
    if (strncmp(ep, "tcp://", 6) != 0)
        return 0;
    const char *host = ep + 6;
    return strncmp(host, "127.", 4) == 0 || strncmp(host, "localhost:", 10) == 0 || strncmp(host, "[::1]:", 6) == 0;
}

/* ---- setup ---- */

static void *make_router(broker *b, const char *endpoint, const char *domain, const sk_keypair *kp,
                         sk_error *err)
{
    void *s = zmq_socket(b->ctx, ZMQ_ROUTER);
    int one = 1, zero = 0;
    /* Room for a standard 1 MiB dataset chunk even under a small
     * --max-frame, so that on_data can refuse it with the limit instead of
     * libzmq dropping the connection without a word. */
    int64_t maxmsg = (b->cfg.max_frame > SK_FETCH_CHUNK ? b->cfg.max_frame : SK_FETCH_CHUNK) + 65536;
    int hwm = 100000;
    if (s == NULL) {
        sk_fail(err, SK_EIO, "zmq_socket: %s", zmq_strerror(errno));
        return NULL;
    }
    if (zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof one) < 0 ||
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) < 0 ||
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) < 0 ||
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm) < 0 ||
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm) < 0) {
        sk_fail(err, SK_EIO, "zmq_setsockopt: %s", zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    if (kp != NULL) {
        int enforce = 1;
        if (zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof one) < 0 ||
            zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, kp->secret_key, 41) < 0 ||
            zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) < 0) {
            sk_fail(err, SK_EIO, "cannot enable CURVE on %s: %s", endpoint, zmq_strerror(errno));
            zmq_close(s);
            return NULL;
        }
        /* ZMQ_ZAP_ENFORCE_DOMAIN (93) is a draft option in 4.3: without it
         * a connection is admitted when no handler answers.  Our handler is
         * bound before this socket exists, so it always answers. */
        if (zmq_setsockopt(s, 93, &enforce, sizeof enforce) < 0)
            sk_debug("msg=\"ZMQ_ZAP_ENFORCE_DOMAIN not available; relying on the bound ZAP handler\"");
    }
    if (zmq_bind(s, endpoint) < 0) {
        sk_fail(err, SK_EIO, "cannot bind %s: %s", endpoint, zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    return s;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int sk_broker_run(const sk_broker_config *cfg)
{
    broker *b = calloc(1, sizeof *b);
    sk_error err = SK_ERROR_INIT;
    int exit_code = 0;
    if (b == NULL)
        return 1;
    /* Job records, headers and frames come and go tens of thousands of
     * times a second: keep freed memory instead of handing it back to the
     * kernel and faulting it in again a moment later. */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_TOP_PAD, 16 << 20);
    b->cfg = *cfg;
    sk_map_init(&b->jobs);
    sk_map_init(&b->nodes);
    sk_map_init(&b->idem);
    sk_map_init(&b->outboxes);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    b->boot_id = ((uint64_t)ts.tv_sec << 20 ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 7) & 0xffffffffu;
    if (uv_loop_init(&b->loop) < 0) {
        free(b);
        return 1;
    }
    sk_keypair kp;
    bool secure = cfg->curve_secret != NULL;
    if (secure && cfg->access == NULL) {
        sk_error_log("msg=\"--curve-secret needs --access (the list of keys that may connect)\"");
        exit_code = 2;
        goto out;
    }
    if (!secure && !cfg->insecure) {
        sk_error_log("msg=\"no keys: give --curve-secret FILE --access FILE, or --insecure for a loopback-only broker\"");
        exit_code = 2;
        goto out;
    }
    if (!secure && (!sk_endpoint_is_local(cfg->frontend) || !sk_endpoint_is_local(cfg->backend))) {
        sk_error_log("msg=\"--insecure is allowed on loopback and ipc endpoints only\" frontend=%s backend=%s",
                     cfg->frontend, cfg->backend);
        exit_code = 2;
        goto out;
    }
    if (secure && (sk_key_read(cfg->curve_secret, true, &kp, &err) < 0 ||
                   sk_access_read(cfg->access, &b->access, &err) < 0)) {
        sk_error_log("msg=\"cannot read keys\" error=\"%s\"", err.msg);
        exit_code = 2;
        goto out;
    }
    if (cfg->region != NULL && sk_region_conf_read(cfg->region, &b->region, &err) < 0) {
        sk_error_log("msg=\"cannot read the region configuration\" error=\"%s\"", err.msg);
        exit_code = 2;
        goto out;
    }
    b->ctx = zmq_ctx_new();
    if (b->ctx != NULL && secure) {
        b->zap = zmq_socket(b->ctx, ZMQ_REP);
        int zero = 0;
        if (b->zap == NULL || zmq_setsockopt(b->zap, ZMQ_LINGER, &zero, sizeof zero) < 0 ||
            zmq_bind(b->zap, "inproc://zeromq.zap.01") < 0 ||
            sk_uvzmq_start(&b->loop, &b->zzap, b->zap, on_zap, b) < 0) {
            sk_error_log("msg=\"cannot start the ZAP handler\" error=\"%s\"", zmq_strerror(errno));
            exit_code = 1;
            goto out;
        }
        sk_info("msg=\"CURVE on; access list loaded\" keys=%zu", b->access->n);
    }
    if (b->ctx == NULL || (b->front = make_router(b, cfg->frontend, "front", secure ? &kp : NULL, &err)) == NULL ||
        (b->back = make_router(b, cfg->backend, "back", secure ? &kp : NULL, &err)) == NULL) {
        sk_error_log("msg=\"startup failed\" error=\"%s\"", err.msg[0] ? err.msg : "zmq_ctx_new failed");
        exit_code = 1;
        goto out;
    }
    if (cfg->events != NULL) {
        int one = 1, zero = 0, hwm = 10000;
        b->events = zmq_socket(b->ctx, ZMQ_XPUB);
        if (b->events == NULL || zmq_setsockopt(b->events, ZMQ_XPUB_MANUAL, &one, sizeof one) < 0 ||
            zmq_setsockopt(b->events, ZMQ_LINGER, &zero, sizeof zero) < 0 ||
            zmq_setsockopt(b->events, ZMQ_SNDHWM, &hwm, sizeof hwm) < 0 ||
            (secure && (zmq_setsockopt(b->events, ZMQ_CURVE_SERVER, &one, sizeof one) < 0 ||
                        zmq_setsockopt(b->events, ZMQ_CURVE_SECRETKEY, kp.secret_key, 41) < 0 ||
                        zmq_setsockopt(b->events, ZMQ_ZAP_DOMAIN, "front", 5) < 0)) ||
            zmq_bind(b->events, cfg->events) < 0 ||
            sk_uvzmq_start(&b->loop, &b->zevents, b->events, on_events, b) < 0) {
            sk_error_log("msg=\"cannot open the events endpoint\" endpoint=%s error=\"%s\"", cfg->events,
                         zmq_strerror(errno));
            exit_code = 1;
            goto out;
        }
        if (!secure && !sk_endpoint_is_local(cfg->events)) {
            sk_error_log("msg=\"--insecure is allowed on loopback and ipc endpoints only\" events=%s", cfg->events);
            exit_code = 2;
            goto out;
        }
    }
    b->started_ms = now_ms(b);
    if (cfg->data_dir != NULL) {
        if (sk_journal_open(&b->loop, cfg->data_dir, on_journal_committed, b, &b->journal, &err) < 0 ||
            load_journal(b, &err) < 0 || sk_journal_start(b->journal, &err) < 0) {
            sk_error_log("msg=\"cannot open the journal\" dir=%s error=\"%s\"", cfg->data_dir, err.msg);
            exit_code = 1;
            goto out;
        }
        sk_dataset_upload_sweep(cfg->data_dir); /* result uploads cut short by the last stop */
    }
    if (sk_uvzmq_start(&b->loop, &b->zfront, b->front, on_frontend, b) < 0 ||
        sk_uvzmq_start(&b->loop, &b->zback, b->back, on_backend, b) < 0) {
        sk_error_log("msg=\"cannot poll the sockets\"");
        exit_code = 1;
        goto out;
    }
    sk_wire_reader_init(&b->rfront, b->front, true);
    sk_wire_reader_init(&b->rback, b->back, true);
    uv_check_init(&b->loop, &b->flush_check);
    b->flush_check.data = b;
    uv_timer_init(&b->loop, &b->tick);
    b->tick.data = b;
    uint64_t tick_ms = (uint64_t)(cfg->heartbeat_ms / 4 > 10 ? cfg->heartbeat_ms / 4 : 10);
    uv_timer_start(&b->tick, on_tick, tick_ms, tick_ms);
    uv_signal_init(&b->loop, &b->sigint);
    uv_signal_init(&b->loop, &b->sigterm);
    b->sigint.data = b->sigterm.data = b;
    uv_signal_start(&b->sigint, on_signal, SIGINT);
    uv_signal_start(&b->sigterm, on_signal, SIGTERM);
    signal(SIGPIPE, SIG_IGN);
    if (setup_metrics(b, &err) < 0) {
        sk_error_log("msg=\"cannot set up metrics\" error=\"%s\"", err.msg);
        exit_code = 1;
        goto out;
    }
    if (b->journal != NULL)
        sk_journal_on_commit(b->journal, on_commit_observed, b);
    if (cfg->http != NULL) {
        b->ready_probe = (sk_http_probe){ready_check, b};
        const sk_http_route routes[] = {
            {"/metrics", sk_http_serve_metrics, b->metrics},
            {"/healthz", sk_http_serve_ok, NULL},
            {"/readyz", sk_http_serve_probe, &b->ready_probe},
        };
        if (sk_http_start(&b->loop, cfg->http, routes, 3, &b->http, &err) < 0) {
            sk_error_log("msg=\"cannot serve HTTP\" address=%s error=\"%s\"", cfg->http, err.msg);
            exit_code = 1;
            goto out;
        }
    }
    uv_signal_init(&b->loop, &b->sighup);
    b->sighup.data = b;
    uv_signal_start(&b->sighup, on_sighup, SIGHUP);
    if (sk_notify_start(&b->loop, &b->notify, &err) < 0)
        sk_warn("msg=\"systemd notification unavailable\" error=\"%s\"", err.msg);
    sk_info("msg=\"broker ready\" frontend=%s backend=%s heartbeat_ms=%" PRId64 " liveness=%" PRId64
            " secure=%s durable=%s http=%s",
            cfg->frontend, cfg->backend, cfg->heartbeat_ms, cfg->liveness, b->access ? "yes" : "no",
            b->journal ? "yes" : "no", cfg->http ? cfg->http : "-");
    sk_notify_ready(b->notify, "serving");
    uv_run(&b->loop, UV_RUN_DEFAULT);
    flush_all(b);
out:
    sk_notify_stopping(b->notify);
    bool http_done = false;
    sk_http_stop_flag(b->http, &http_done);
    b->http = NULL;
    /* h2o closes its own handles: let it finish before the close walk. */
    for (int i = 0; !http_done && i < 2000; i++)
        uv_run(&b->loop, UV_RUN_NOWAIT);
    sk_notify_stop(b->notify);
    b->notify = NULL;
    /* Flush and close the journal before the loop closes its async handle. */
    sk_journal_close(b->journal);
    b->journal = NULL;
    uv_walk(&b->loop, close_walk, NULL);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    uv_loop_close(&b->loop);
    {
        const char *k;
        size_t kl;
        void *v;
        for (size_t it = 0; (it = sk_map_next(&b->jobs, it, &k, &kl, &v)) != 0;)
            job_free(b, v);
        for (size_t it = 0; (it = sk_map_next(&b->nodes, it, &k, &kl, &v)) != 0;) {
            node *n = v;
            free(n->services);
            free(n->tenants);
            free(n->hashes);
            free(n);
        }
    }
    for (svc_queue *q = b->queues, *next; q != NULL; q = next) {
        next = q->next;
        free(q->tq);
        free(q);
    }
    while (b->spare_jobs != NULL) {
        job *j = b->spare_jobs;
        b->spare_jobs = j->lnext;
        free(j);
    }
    sk_map_free(&b->jobs);
    sk_map_free(&b->nodes);
    free(b->node_list);
    sk_map_free(&b->idem);
    for (outbox *ob = b->dirty; ob != NULL;) {
        outbox *next = ob->next_dirty;
        sk_wire_batch_free(&ob->batch);
        free(ob->jobs);
        free(ob);
        ob = next;
    }
    while (b->spare_outboxes != NULL) {
        outbox *ob = b->spare_outboxes;
        b->spare_outboxes = ob->next_dirty;
        sk_wire_batch_free(&ob->batch);
        free(ob->jobs);
        free(ob);
    }
    sk_map_free(&b->outboxes);
    sk_wire_reader_free(&b->rfront);
    sk_wire_reader_free(&b->rback);
    if (b->front)
        zmq_close(b->front);
    if (b->back)
        zmq_close(b->back);
    if (b->zap)
        zmq_close(b->zap);
    if (b->events)
        zmq_close(b->events);
    sk_access_free(b->access);
    sk_region_conf_free(b->region);
    sk_metrics_free(b->metrics);
    explicit_bzero(&kp, sizeof kp);
    if (b->ctx)
        zmq_ctx_term(b->ctx);
    free(b);
    sk_info("msg=\"broker stopped\"");
    return exit_code;
}
