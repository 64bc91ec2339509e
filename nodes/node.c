/* node.c - the worker node: loop thread, worker pool, job bookkeeping. */
#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <zmq.h>

#include "cache.h"
#include "fetch.h"
#include "sk_client.h"
#include "sk_hash.h"
#include "sk_keys.h"
#include "sk_http.h"
#include "sk_log.h"
#include "sk_metrics.h"
#include "sk_notify.h"
#include "sk_map.h"
#include "sk_proto.h"
#include "sk_sim.h"
#include "sk_time.h"
#include "sk_uvzmq.h"
#include "upload.h"
#ifdef SK_HAVE_PLUGINS
#include "plugins.h"
#endif

typedef struct node_job node_job;
typedef struct node_state node_state;

enum { EV_PROGRESS, EV_DONE };

typedef struct event {
    int kind;
    node_job *job;
    double fraction;
    char text[256];
    struct event *next;
} event;

struct node_job {
    char id[SK_ID_MAX];
    int64_t attempt;
    char service[SK_ID_MAX];
    char tenant[SK_ID_MAX];
    char client[SK_ID_MAX];
    int64_t req;
    const sk_service_def *svc;
    void *pset;                  /* plugin_set the service came from (held) */
    sk_params *params;
    size_t ninputs;              /* nbodies frames, then nrefs fetched datasets */
    size_t nbodies, nrefs;
    sk_data_ref refs[SK_MAX_BODIES];
    char refname[SK_MAX_BODIES][65];   /* cache file of each ref */
    bool ref_pinned[SK_MAX_BODIES];
    bool ref_fresh[SK_MAX_BODIES];     /* fetched for this job, hashed on arrival: not hashed again */
    char *refdata[SK_MAX_BODIES];      /* read and verified by the worker */
    size_t fetches_waiting;            /* distinct datasets still being fetched */
    bool fetching;                     /* waiting for fetches, not yet with the workers */
    int64_t max_result;                /* largest result frame: the node's and the broker's --max-frame */
    bool result_ref_ok;                /* the broker takes a larger result by reference (it has --data-dir) */
    bool by_ref;                       /* the result is larger than a frame: uploaded, then named */
    bool uploading, uploaded;
    char result_hash[SK_HASH_MAX];     /* by_ref: the result's content name, hashed by the worker */
    int bad_ref;                       /* worker: a cached copy failed verification (-1: none) */
    bool refetched;
    zmq_msg_t bodies[SK_MAX_BODIES];
    sk_input inputs[SK_MAX_BODIES];
    char names[SK_MAX_BODIES][SK_ID_MAX];
    atomic_int cancel;
    bool timed_out;
    uint64_t deadline_ms;        /* loop time; 0 = none */
    uint64_t last_progress_ms;   /* worker side throttle (monotonic) */
    node_state *node;
    /* outcome, written by the worker before EV_DONE */
    int rc;
    sk_error err;
    char *result;
    size_t result_len;
    bool finished;
    bool in_batch;               /* its outcome waits in the node's outgoing batch */
    node_job *next;              /* pending queue */
};

struct node_state {
    sk_node_config cfg;
    uv_loop_t loop;
    void *ctx, *sock;
    sk_uvzmq z;
    uv_timer_t tick;
    uv_async_t wake;
    uv_signal_t sigint, sigterm;
    uv_thread_t *threads;
    size_t nthreads;
    uv_mutex_t lock;
    uv_cond_t cond;
    node_job *pending_head, *pending_tail;  /* under lock */
    event *events_head, *events_tail;       /* under lock */
    bool quit;                              /* under lock */
    sk_map jobs;                            /* loop thread only */
    const sk_service_def *services[64];   /* built-in */
    size_t nservices;
    void *plugins;                        /* plugin_set, or NULL */
    uint64_t next_plugin_scan_ms;
    char tenants[64][SK_ID_MAX];
    size_t ntenants;
    uint64_t last_broker_ms, next_heartbeat_ms, next_announce_ms;
    bool announced_since_silence;
    uint64_t jobs_done, jobs_failed;
    sk_metrics *metrics;
    sk_metric *m_running, *m_jobs_total, *m_kernel, *m_kills, *m_connected;
    sk_http *http;
    sk_http_probe ready_probe;
    sk_notify *notify;
    uv_signal_t sighup;
    sk_cache cache;
    bool cache_open;
    sk_fetcher *fetcher;
    sk_uploader *uploader;
    sk_metric *m_cache, *m_fetched, *m_cache_bytes, *m_uploaded;
    uint64_t fetched_seen, uploaded_seen;
    sk_wire_reader rd;
    int broker_minor;                     /* from the broker's last message: 1+ reads batches */
    /* Outcomes sent as one batch at the end of the loop turn; their jobs
     * are freed once the batch is sent, or retried from the tick. */
    sk_wire_batch out;
    node_job **out_jobs;
    size_t nout_jobs, capout_jobs;
    uv_check_t flush_check;
    bool flush_armed;
};

void sk_node_config_defaults(sk_node_config *c)
{
    c->broker = SK_DEFAULT_BACKEND;
    c->name = NULL;
    c->tenants = "*";
    c->services = NULL;
    c->jobs = 2;
    c->heartbeat_ms = 1000;
    c->liveness = 5;
    c->progress_ms = 250;
    c->plugins = NULL;
    c->curve_key = NULL;
    c->http = NULL;
    c->server_key = NULL;
    c->plugin_reload_ms = 2000;
    c->log_level = SK_LOG_INFO;
    c->cache_dir = NULL;
    c->cache_max_bytes = (int64_t)4 << 30;
    c->max_frame = SK_MAX_FRAME;
}


/* ---- worker side ---- */

static void push_event(node_state *n, event *e)
{
    uv_mutex_lock(&n->lock);
    e->next = NULL;
    if (n->events_tail)
        n->events_tail->next = e;
    else
        n->events_head = e;
    n->events_tail = e;
    uv_mutex_unlock(&n->lock);
    uv_async_send(&n->wake);
}

static void on_job_progress(void *ud, double fraction, const char *msg)
{
    node_job *j = ud;
    uint64_t now = sk_mono_ms();
    /* Throttle here, at the source: an 8,760-step job must not flood the bus. */
    if (fraction < 1.0 && now - j->last_progress_ms < (uint64_t)j->node->cfg.progress_ms)
        return;
    j->last_progress_ms = now;
    event *e = calloc(1, sizeof *e);
    if (e == NULL)
        return;
    e->kind = EV_PROGRESS;
    e->job = j;
    e->fraction = fraction;
    sk_strlcpy(e->text, msg, sizeof e->text);
    push_event(j->node, e);
}

/* Read each fetched dataset from the cache into memory and check that it
 * still hashes to its name: the kernel sees the same bytes a frame would
 * have carried.  A bad copy is reported to the loop, which fetches again.
 * A copy fetched for this very job was hashed as it arrived, moments ago:
 * hashing it again would cost about a second per 100 MB for nothing. */
static int load_refs(node_job *j)
{
    for (size_t i = 0; i < j->nrefs; i++) {
        char path[1200], got[SK_HASH_NAME_LEN];
        const sk_data_ref *r = &j->refs[i];
        sk_cache_path(&j->node->cache, j->refname[i], NULL, path, sizeof path);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || st.st_size != r->size) {
            if (fd >= 0)
                close(fd);
            j->bad_ref = (int)i;
            return sk_fail(&j->err, SK_EIO, "input '%s': the cached copy of %s is missing or has the wrong size",
                           r->input, r->hash);
        }
        char *buf = malloc(r->size > 0 ? (size_t)r->size : 1);
        if (buf == NULL) {
            close(fd);
            return sk_fail(&j->err, SK_ENOMEM, "input '%s': no memory for %lld bytes", r->input, (long long)r->size);
        }
        size_t got_n = 0;
        while (got_n < (size_t)r->size) {
            ssize_t n = read(fd, buf + got_n, (size_t)r->size - got_n);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got_n += (size_t)n;
        }
        close(fd);
        if (j->ref_fresh[i])
            sk_strlcpy(got, r->hash, sizeof got);
        else
            sk_sha256_name(buf, got_n, got);
        if (got_n != (size_t)r->size || strcmp(got, r->hash) != 0) {
            free(buf);
            j->bad_ref = (int)i;
            return sk_fail(&j->err, SK_EIO, "input '%s': the cached copy of %s failed verification (hashes to %s)",
                           r->input, r->hash, got);
        }
        j->refdata[i] = buf;
        sk_input *in = &j->inputs[j->nbodies + i];
        in->name = r->input;
        in->filename = r->input;
        in->data = buf;
        in->len = got_n;
    }
    return 0;
}

static void run_job(node_job *j)
{
    sk_job_ctx ctx = {
        .inputs = j->inputs,
        .ninputs = j->ninputs,
        .params = j->params,
        .cancel = &j->cancel,
        .progress = on_job_progress,
        .progress_ud = j,
        .threads = 1,
    };
    sk_result *r = NULL;
    j->err.code = 0;
    j->err.msg[0] = '\0';
    if (atomic_load(&j->cancel)) {
        j->rc = sk_fail(&j->err, SK_ECANCELED, "cancelled before it started");
        return;
    }
    if (j->nrefs > 0 && (j->rc = load_refs(j)) < 0)
        return;
    uint64_t t0 = sk_mono_ms();
    j->rc = sk_sim_run(j->svc, &ctx, &r, &j->err);
    if (j->node->m_kernel != NULL)
        sk_metric_observe(j->node->m_kernel, SK_LABELS(j->svc->name), (double)(sk_mono_ms() - t0) / 1000.0);
    if (j->rc < 0 && j->node->m_kills != NULL && strstr(j->err.msg, "killed") != NULL &&
        strncmp(j->svc->name, "indicator.", 10) == 0)
        sk_metric_inc(j->node->m_kills, SK_LABELS(j->svc->name));
    if (j->rc == 0 && sk_result_encode(r, &j->result, &j->result_len, &j->err) < 0)
        j->rc = j->err.code;
    /* A frame over the broker's limit would make libzmq drop the connection
     * and the job would wait for its deadline.  A broker with a dataset
     * store takes it by reference: the loop uploads it in chunks under its
     * content name, hashed here, off the loop.  Any other broker: the job
     * fails now, saying why. */
    if (j->rc == 0 && (int64_t)j->result_len > j->max_result && j->result_ref_ok) {
        sk_sha256_name(j->result, j->result_len, j->result_hash);
        j->by_ref = true;
    } else if (j->rc == 0 && (int64_t)j->result_len > j->max_result) {
        j->rc = sk_fail(&j->err, SK_ETOOBIG, "the result is %zu bytes; the bus carries at most %lld bytes per "
                        "frame (--max-frame): ask for less (e.g. fewer periods), or use a broker with --data-dir, "
                        "which takes larger results by reference", j->result_len, (long long)j->max_result);
        free(j->result);
        j->result = NULL;
        j->result_len = 0;
    }
    if (j->rc < 0 && j->err.msg[0] == '\0')
        sk_fail(&j->err, j->rc, "%s", sk_strerror(j->rc));
    sk_result_free(r);
}

static void worker_main(void *arg)
{
    node_state *n = arg;
    for (;;) {
        uv_mutex_lock(&n->lock);
        while (n->pending_head == NULL && !n->quit)
            uv_cond_wait(&n->cond, &n->lock);
        if (n->quit) {
            uv_mutex_unlock(&n->lock);
            return;
        }
        node_job *j = n->pending_head;
        n->pending_head = j->next;
        if (n->pending_head == NULL)
            n->pending_tail = NULL;
        uv_mutex_unlock(&n->lock);
        run_job(j);
        event *e = calloc(1, sizeof *e);
        while (e == NULL) { /* the outcome must reach the loop */
            usleep(1000);
            e = calloc(1, sizeof *e);
        }
        e->kind = EV_DONE;
        e->job = j;
        push_event(n, e);
    }
}

/* ---- loop side ---- */

static void job_free(node_job *j);

/* Send the batched outcomes; a job whose outcome went is done with. */
static void flush_out(node_state *n)
{
    if (n->out.count == 0)
        return;
    int rc = sk_wire_batch_send(n->sock, NULL, 0, &n->out, ZMQ_DONTWAIT);
    sk_uvzmq_kick(&n->z);
    for (size_t i = 0; i < n->nout_jobs; i++) {
        node_job *j = n->out_jobs[i];
        j->in_batch = false;
        if (rc == 0) {
            sk_map_del(&n->jobs, j->id, strlen(j->id));
            job_free(j);
        } /* else: still finished, flush_finished sends it again */
    }
    n->nout_jobs = 0;
}

static void on_flush_check(uv_check_t *h)
{
    node_state *n = h->data;
    flush_out(n);
    uv_check_stop(h);
    n->flush_armed = false;
}

static int send_msg(node_state *n, const sk_header *h, zmq_msg_t *bodies, size_t nb)
{
    flush_out(n); /* keep the order of what this node says */
    int rc = sk_wire_send(n->sock, NULL, 0, h, bodies, nb, ZMQ_DONTWAIT);
    sk_uvzmq_kick(&n->z);
    return rc;
}

/* Queue j's outcome for the batch; false when it could not be queued.
 * The bodies are taken either way (the job keeps its result to retry). */
static bool send_batched(node_state *n, node_job *j, const sk_header *h, zmq_msg_t *bodies, size_t nb)
{
    if (sk_wire_batch_full(&n->out))
        flush_out(n);
    if (n->nout_jobs == n->capout_jobs) {
        size_t cap = n->capout_jobs ? n->capout_jobs * 2 : 64;
        node_job **nj = realloc(n->out_jobs, cap * sizeof *nj);
        if (nj == NULL) {
            for (size_t i = 0; i < nb; i++)
                zmq_msg_close(&bodies[i]);
            return false;
        }
        n->out_jobs = nj;
        n->capout_jobs = cap;
    }
    if (sk_wire_batch_add(&n->out, h, bodies, nb) < 0)
        return false;
    n->out_jobs[n->nout_jobs++] = j;
    j->in_batch = true;
    if (!n->flush_armed) {
        uv_check_start(&n->flush_check, on_flush_check);
        n->flush_armed = true;
    }
    return true;
}

static void send_simple(node_state *n, int type)
{
    sk_header h;
    sk_header_init(&h, type);
    send_msg(n, &h, NULL, 0);
}

static void announce(node_state *n)
{
    sk_header h;
    sk_header_init(&h, SK_MSG_READY);
    size_t total = n->nservices;
#ifdef SK_HAVE_PLUGINS
    plugin_set *ps = n->plugins;
    if (ps != NULL)
        total += ps->n;
#endif
    char (*svc)[SK_ID_MAX] = calloc(total ? total : 1, SK_ID_MAX);
    char (*hashes)[SK_HASH_MAX] = calloc(total ? total : 1, SK_HASH_MAX);
    if (svc == NULL || hashes == NULL) {
        free(svc);
        free(hashes);
        return;
    }
    for (size_t i = 0; i < n->nservices; i++)
        sk_strlcpy(svc[i], n->services[i]->name, SK_ID_MAX);
#ifdef SK_HAVE_PLUGINS
    for (size_t i = 0; ps != NULL && i < ps->n; i++) {
        sk_strlcpy(svc[n->nservices + i], ps->defs[i].name, SK_ID_MAX);
        sk_strlcpy(hashes[n->nservices + i], ps->defs[i].hash, SK_HASH_MAX);
    }
#endif
    h.services = svc;
    h.nservices = total;
    h.hashes = hashes;
    h.nhashes = total;
    h.tenants = n->tenants;
    h.ntenants = n->ntenants;
    h.capacity = n->cfg.jobs;
    sk_strlcpy(h.node_name, n->cfg.name, sizeof h.node_name);
    size_t cap = n->jobs.len;
    sk_held_job *held = cap ? calloc(cap, sizeof *held) : NULL;
    const char *k;
    size_t kl;
    void *v;
    for (size_t it = 0; held && (it = sk_map_next(&n->jobs, it, &k, &kl, &v)) != 0;) {
        node_job *j = v;
        sk_held_job *hj = &held[h.nheld++];
        memcpy(hj->job, j->id, SK_ID_MAX);
        hj->attempt = j->attempt;
        memcpy(hj->client, j->client, SK_ID_MAX);
        hj->req = j->req;
        memcpy(hj->service, j->service, SK_ID_MAX);
        memcpy(hj->tenant, j->tenant, SK_ID_MAX);
    }
    h.held = held;
    if (send_msg(n, &h, NULL, 0) < 0)
        sk_debug("msg=\"announce not sent\" error=\"%s\"", zmq_strerror(errno));
    free(held);
    free(svc);
    free(hashes);
    sk_info("msg=\"announced\" broker=%s services=%zu capacity=%" PRId64 " held=%zu", n->cfg.broker, total,
            n->cfg.jobs, h.nheld);
}

/* Let go of a job's cached datasets (they may be evicted now). */
static void release_refs(node_job *j)
{
    node_state *n = j->node;
    for (size_t i = 0; i < j->nrefs; i++) {
        if (j->ref_pinned[i])
            sk_cache_unpin(&n->cache, j->refname[i]);
        j->ref_pinned[i] = false;
        j->ref_fresh[i] = false;
        free(j->refdata[i]);
        j->refdata[i] = NULL;
    }
    if (n->fetcher != NULL && j->fetches_waiting > 0)
        sk_fetcher_forget(n->fetcher, j);
    j->fetches_waiting = 0;
}

static void job_free(node_job *j)
{
    if (j->uploading)
        sk_uploader_forget(j->node->uploader, j);
#ifdef SK_HAVE_PLUGINS
    plugin_set_unref(j->pset);
#endif
    if (j->nrefs > 0) {
        release_refs(j);
        sk_cache_trim(&j->node->cache);
    }
    for (size_t i = 0; i < j->nbodies; i++)
        zmq_msg_close(&j->bodies[i]);
    sk_params_free(j->params);
    free(j->result);
    free(j);
}

static void fill_outcome_header(node_job *j, sk_header *h, int type)
{
    sk_header_init(h, type);
    memcpy(h->job, j->id, SK_ID_MAX);
    memcpy(h->service, j->service, SK_ID_MAX);
    memcpy(h->tenant, j->tenant, SK_ID_MAX);
    memcpy(h->client, j->client, SK_ID_MAX);
    h->req = j->req;
    h->attempt = j->attempt;
}

enum { OUTCOME_RETRY, OUTCOME_SENT, OUTCOME_QUEUED, OUTCOME_UPLOADING };

/* Start uploading a result larger than a frame; the upload's end sends the
 * outcome (on_upload_done).  0, or <0 with the job's error set. */
static int start_upload(node_state *n, node_job *j)
{
    sk_upload_spec spec = {
        .job = j->id,
        .tenant = j->tenant,
        .attempt = j->attempt,
        .hash = j->result_hash,
        .data = j->result,
        .size = (int64_t)j->result_len,
        .chunk = j->max_result < SK_FETCH_CHUNK ? j->max_result : SK_FETCH_CHUNK,
    };
    int rc = sk_uploader_start(n->uploader, j, &spec, uv_now(&n->loop));
    if (rc < 0)
        return sk_fail(&j->err, rc, "cannot upload the result (%zu bytes): %s", j->result_len, sk_strerror(rc));
    j->uploading = true;
    sk_info("msg=\"result larger than a frame; uploading it\" job=%s bytes=%zu limit=%lld", j->id, j->result_len,
            (long long)j->max_result);
    return 0;
}

/* Send a finished job's outcome: OUTCOME_SENT (free the job), OUTCOME_QUEUED
 * (in the batch: flush_out frees it), OUTCOME_UPLOADING (its result goes
 * to the broker first) or OUTCOME_RETRY (try again later). */
static int send_outcome(node_state *n, node_job *j)
{
    sk_header h;
    bool batch = n->broker_minor >= 1;
    if (j->in_batch)
        return OUTCOME_QUEUED;
    if (j->uploading)
        return OUTCOME_UPLOADING;
    if (j->rc == 0 && j->by_ref && !j->uploaded) {
        if ((j->rc = start_upload(n, j)) == 0)
            return OUTCOME_UPLOADING;
    }
    if (j->rc == 0 && j->by_ref) {
        /* Stored at the broker: the result names it, and carries no body. */
        sk_data_ref ref;
        sk_strlcpy(ref.input, "result", sizeof ref.input);
        sk_strlcpy(ref.hash, j->result_hash, sizeof ref.hash);
        ref.size = (int64_t)j->result_len;
        fill_outcome_header(j, &h, SK_MSG_RESULT);
        h.refs = &ref; /* borrowed: encoded before this returns */
        h.nrefs = 1;
        int rc = batch ? (send_batched(n, j, &h, NULL, 0) ? OUTCOME_QUEUED : OUTCOME_RETRY)
                       : (send_msg(n, &h, NULL, 0) < 0 ? OUTCOME_RETRY : OUTCOME_SENT);
        h.refs = NULL;
        h.nrefs = 0;
        return rc;
    }
    if (j->rc == 0) {
        zmq_msg_t body;
        fill_outcome_header(j, &h, SK_MSG_RESULT);
        h.nbodies = 1;
        snprintf(h.body_names[0], SK_ID_MAX, "result");
        if (zmq_msg_init_size(&body, j->result_len) < 0)
            return false;
        memcpy(zmq_msg_data(&body), j->result, j->result_len);
        if (batch)
            return send_batched(n, j, &h, &body, 1) ? OUTCOME_QUEUED : OUTCOME_RETRY;
        if (send_msg(n, &h, &body, 1) < 0) {
            zmq_msg_close(&body);
            return OUTCOME_RETRY;
        }
    } else {
        fill_outcome_header(j, &h, SK_MSG_FAILED);
        if (j->timed_out) {
            h.code = SK_ETIMEDOUT;
            snprintf(h.reason, sizeof h.reason, "deadline passed on node %.40s (%.400s)", n->cfg.name, j->err.msg);
        } else {
            h.code = j->rc;
            sk_strlcpy(h.reason, j->err.msg, sizeof h.reason);
        }
        if (batch)
            return send_batched(n, j, &h, NULL, 0) ? OUTCOME_QUEUED : OUTCOME_RETRY;
        if (send_msg(n, &h, NULL, 0) < 0)
            return OUTCOME_RETRY;
    }
    return OUTCOME_SENT;
}

static void flush_finished(node_state *n)
{
    const char *k;
    size_t kl;
    void *v;
    node_job *sent[256];
    size_t nsent = 0;
    for (size_t it = 0; (it = sk_map_next(&n->jobs, it, &k, &kl, &v)) != 0 && nsent < 256;) {
        node_job *j = v;
        if (j->finished && !j->in_batch && send_outcome(n, j) == OUTCOME_SENT)
            sent[nsent++] = j;
    }
    for (size_t i = 0; i < nsent; i++) {
        sk_map_del(&n->jobs, sent[i]->id, strlen(sent[i]->id));
        job_free(sent[i]);
    }
}

/* A job is over (run, failed, or could not get its inputs): count it and
 * send its outcome. */
static void complete_job(node_state *n, node_job *j)
{
    j->finished = true;
    j->fetching = false;
    if (j->rc == 0)
        n->jobs_done++;
    else
        n->jobs_failed++;
    if (n->m_jobs_total != NULL)
        sk_metric_inc(n->m_jobs_total, SK_LABELS(j->service, j->rc == 0 ? "done"
                                                            : j->timed_out ? "timed_out"
                                                            : j->rc == SK_ECANCELED ? "cancelled"
                                                                                    : "failed"));
    sk_debug("msg=\"job finished\" job=%s rc=%d", j->id, j->rc);
    if (send_outcome(n, j) == OUTCOME_SENT) {
        sk_map_del(&n->jobs, j->id, strlen(j->id));
        job_free(j);
    }
}

static void start_job(node_state *n, node_job *j)
{
    j->fetching = false;
    sk_debug("msg=\"job started\" job=%s service=%s attempt=%" PRId64, j->id, j->service, j->attempt);
    uv_mutex_lock(&n->lock);
    j->next = NULL;
    if (n->pending_tail)
        n->pending_tail->next = j;
    else
        n->pending_head = j;
    n->pending_tail = j;
    uv_cond_signal(&n->cond);
    uv_mutex_unlock(&n->lock);
}

/* Pin the datasets the job names that the cache holds; fetch the others
 * (one fetch per distinct file).  The job goes to the workers when all are
 * here. */
static void acquire_refs(node_state *n, node_job *j)
{
    j->fetches_waiting = 0;
    for (size_t i = 0; i < j->nrefs; i++) {
        bool again = false;
        for (size_t k = 0; k < i && !again; k++)
            again = strcmp(j->refname[k], j->refname[i]) == 0;
        if (again)
            continue; /* the same dataset under two input names: one fetch */
        if (sk_cache_use(&n->cache, j->refname[i]) != NULL) {
            for (size_t k = i; k < j->nrefs; k++)
                if (strcmp(j->refname[k], j->refname[i]) == 0 && !j->ref_pinned[k]) {
                    sk_cache_pin(&n->cache, j->refname[k]);
                    j->ref_pinned[k] = true;
                }
            if (n->m_cache != NULL)
                sk_metric_inc(n->m_cache, SK_LABELS("hit"));
            sk_info("msg=\"dataset from cache\" job=%s input=%s hash=%.20s bytes=%" PRId64, j->id, j->refs[i].input,
                    j->refs[i].hash, j->refs[i].size);
            continue;
        }
        if (n->m_cache != NULL)
            sk_metric_inc(n->m_cache, SK_LABELS("miss"));
        int rc = sk_fetcher_want(n->fetcher, j->refname[i], j->refs[i].hash, j->refs[i].size, j->id, j->attempt, j,
                                 uv_now(&n->loop));
        if (rc < 0) {
            j->rc = sk_fail(&j->err, rc, "input '%s': cannot fetch dataset %s: %s", j->refs[i].input, j->refs[i].hash,
                            rc == SK_ENOMEM ? "out of memory" : "cannot write to the cache directory");
            release_refs(j);
            complete_job(n, j);
            return;
        }
        j->fetches_waiting++;
    }
    j->fetching = j->fetches_waiting > 0;
    if (!j->fetching)
        start_job(n, j);
}

/* A fetch this job waited for ended. */
static void on_fetch_done(void *ud, void *waiter, const char *name, int rc, const char *reason)
{
    node_state *n = ud;
    node_job *j = waiter;
    if (j->fetches_waiting > 0)
        j->fetches_waiting--;
    if (rc < 0) {
        const sk_data_ref *r = NULL;
        for (size_t i = 0; i < j->nrefs && r == NULL; i++)
            if (strcmp(j->refname[i], name) == 0)
                r = &j->refs[i];
        j->rc = sk_fail(&j->err, rc, "input '%s': cannot fetch dataset %s on node %s: %s", r ? r->input : "?",
                        r ? r->hash : "?", n->cfg.name, reason);
        release_refs(j); /* stops its other fetches */
        complete_job(n, j);
        return;
    }
    for (size_t i = 0; i < j->nrefs; i++)
        if (strcmp(j->refname[i], name) == 0 && !j->ref_pinned[i]) {
            sk_cache_pin(&n->cache, name);
            j->ref_pinned[i] = true;
            j->ref_fresh[i] = true;
        }
    if (j->fetches_waiting == 0 && j->fetching)
        start_job(n, j);
}

static int fetch_send(void *ud, const sk_header *h)
{
    return send_msg(ud, h, NULL, 0);
}

static int upload_send(void *ud, const sk_header *h, zmq_msg_t *body)
{
    if (send_msg(ud, h, body, 1) < 0) {
        zmq_msg_close(body);
        return -1;
    }
    return 0;
}

/* A result upload ended: the outcome goes now (the result naming the
 * dataset, or the failure). */
static void on_upload_done(void *ud, void *owner, int rc, const char *reason)
{
    node_state *n = ud;
    node_job *j = owner;
    j->uploading = false;
    if (rc == 0)
        j->uploaded = true;
    else
        j->rc = sk_fail(&j->err, rc, "cannot upload the result (%zu bytes) to the broker from node %s: %s",
                        j->result_len, n->cfg.name, reason);
    if (send_outcome(n, j) == OUTCOME_SENT) {
        sk_map_del(&n->jobs, j->id, strlen(j->id));
        job_free(j);
    }
}

/* Progress of an upload, throttled like a kernel's (--progress-ms). */
static void on_upload_progress(void *ud, void *owner, int64_t stored, int64_t total)
{
    node_state *n = ud;
    node_job *j = owner;
    uint64_t now = sk_mono_ms();
    if (stored < total && now - j->last_progress_ms < (uint64_t)n->cfg.progress_ms)
        return;
    j->last_progress_ms = now;
    sk_header h;
    fill_outcome_header(j, &h, SK_MSG_PROGRESS);
    h.progress = total > 0 ? (double)stored / (double)total : 1;
    snprintf(h.text, sizeof h.text, "uploading the result: %lld of %lld bytes", (long long)stored, (long long)total);
    send_msg(n, &h, NULL, 0); /* advisory */
}

/* A job waiting for its datasets is cancelled or passes its deadline: it
 * ends now (a running one ends when its worker sees the cancel flag). */
static void stop_fetching_job(node_state *n, node_job *j, int code, const char *why)
{
    release_refs(j);
    j->rc = sk_fail(&j->err, code, "%s while fetching its inputs", why);
    complete_job(n, j);
}

static void on_wake(uv_async_t *a)
{
    node_state *n = a->data;
    uv_mutex_lock(&n->lock);
    event *e = n->events_head;
    n->events_head = n->events_tail = NULL;
    uv_mutex_unlock(&n->lock);
    while (e != NULL) {
        event *next = e->next;
        node_job *j = e->job;
        if (e->kind == EV_PROGRESS) {
            if (!j->finished) {
                sk_header h;
                fill_outcome_header(j, &h, SK_MSG_PROGRESS);
                h.progress = e->fraction < 0 ? 0 : e->fraction;
                sk_strlcpy(h.text, e->text, sizeof h.text);
                send_msg(n, &h, NULL, 0); /* progress is advisory: a failed send is dropped */
            }
        } else if (j->bad_ref >= 0 && !j->refetched && !atomic_load(&j->cancel)) {
            /* A cached copy went bad on disk: drop it and fetch it once more. */
            sk_warn("msg=\"cached dataset failed verification; fetching it again\" job=%s error=\"%s\"", j->id,
                    j->err.msg);
            if (n->m_cache != NULL)
                sk_metric_inc(n->m_cache, SK_LABELS("corrupt"));
            sk_cache_drop(&n->cache, j->refname[j->bad_ref]);
            j->refetched = true;
            j->bad_ref = -1;
            j->rc = 0;
            j->err.code = 0;
            j->err.msg[0] = '\0';
            release_refs(j);
            acquire_refs(n, j);
        } else {
            complete_job(n, j);
        }
        free(e);
        e = next;
    }
}

static void on_job_msg(node_state *n, sk_wire_msg *m)
{
    sk_header *h = &m->hdr;
    node_job *existing = sk_map_get(&n->jobs, h->job, strlen(h->job));
    if (existing != NULL) {
        sk_warn("msg=\"duplicate job ignored\" job=%s attempt=%" PRId64, h->job, h->attempt);
        return;
    }
    node_job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return;
    memcpy(j->id, h->job, SK_ID_MAX);
    memcpy(j->service, h->service, SK_ID_MAX);
    memcpy(j->tenant, h->tenant, SK_ID_MAX);
    memcpy(j->client, h->client, SK_ID_MAX);
    j->req = h->req;
    j->attempt = h->attempt;
    j->max_result = h->total > 0 && h->total < n->cfg.max_frame ? h->total : n->cfg.max_frame;
    j->result_ref_ok = h->result_ref;
    j->node = n;
    j->params = h->params;
    h->params = NULL;
    j->bad_ref = -1;
    j->nbodies = m->nbodies;
    j->nrefs = h->nrefs <= SK_MAX_BODIES - m->nbodies ? h->nrefs : 0;
    j->ninputs = j->nbodies + j->nrefs;
    for (size_t i = 0; i < j->nrefs; i++) {
        j->refs[i] = h->refs[i];
        sk_scoped_name(j->tenant, j->refs[i].hash, j->refname[i]);
    }
    for (size_t i = 0; i < m->nbodies; i++) {
        zmq_msg_init(&j->bodies[i]);
        zmq_msg_move(&j->bodies[i], &m->bodies[i]);
        memcpy(j->names[i], h->body_names[i], SK_ID_MAX);
        j->inputs[i].name = j->names[i];
        j->inputs[i].filename = j->names[i];
        j->inputs[i].data = zmq_msg_data(&j->bodies[i]);
        j->inputs[i].len = zmq_msg_size(&j->bodies[i]);
    }
    if (h->deadline_ms > 0)
        j->deadline_ms = uv_now(&n->loop) + (uint64_t)h->deadline_ms;
    if (sk_map_put(&n->jobs, j->id, strlen(j->id), j) < 0) {
        job_free(j);
        return;
    }
    for (size_t i = 0; i < n->nservices; i++)
        if (strcmp(n->services[i]->name, h->service) == 0)
            j->svc = n->services[i];
#ifdef SK_HAVE_PLUGINS
    plugin_set *ps = n->plugins;
    for (size_t i = 0; j->svc == NULL && ps != NULL && i < ps->n; i++) {
        if (strcmp(ps->defs[i].name, h->service) == 0) {
            j->svc = &ps->defs[i];
            j->pset = ps;
            plugin_set_ref(ps); /* the job finishes on this code even if a reload swaps it */
        }
    }
#endif
    if (j->svc == NULL || j->nrefs != h->nrefs) {
        if (j->svc == NULL)
            j->rc = sk_fail(&j->err, SK_ENOTFOUND, "node %s does not offer service %s", n->cfg.name, h->service);
        else
            j->rc = sk_fail(&j->err, SK_ETOOBIG, "more than %d inputs", SK_MAX_BODIES);
        j->finished = true;
        if (send_outcome(n, j) == OUTCOME_SENT) {
            sk_map_del(&n->jobs, j->id, strlen(j->id));
            job_free(j);
        }
        return;
    }
    if (j->nrefs > 0)
        acquire_refs(n, j);
    else
        start_job(n, j);
}

static void on_cancel_msg(node_state *n, const sk_header *h)
{
    node_job *j = sk_map_get(&n->jobs, h->job, strlen(h->job));
    if (j == NULL || (h->attempt != 0 && h->attempt != j->attempt))
        return;
    atomic_store(&j->cancel, 1);
    sk_info("msg=\"cancel requested\" job=%s", j->id);
    if (j->fetching)
        stop_fetching_job(n, j, SK_ECANCELED, "cancelled");
    else if (j->uploading) {
        sk_uploader_forget(n->uploader, j);
        j->uploading = false;
        j->rc = sk_fail(&j->err, SK_ECANCELED, "cancelled while its result was uploading");
        if (send_outcome(n, j) == OUTCOME_SENT) {
            sk_map_del(&n->jobs, j->id, strlen(j->id));
            job_free(j);
        }
    }
}

static int on_socket(sk_uvzmq *z)
{
    node_state *n = z->data;
    sk_wire_msg m;
    sk_error err = SK_ERROR_INIT;
    int rc = sk_wire_read(&n->rd, &m, ZMQ_DONTWAIT, &err);
    if (rc <= 0) {
        if (rc < 0)
            sk_warn("msg=\"malformed message from broker\" error=\"%s\"", err.msg);
        sk_wire_msg_close(&m);
        return rc < 0;
    }
    if (n->last_broker_ms + (uint64_t)(n->cfg.heartbeat_ms * n->cfg.liveness) < uv_now(&n->loop))
        sk_info("msg=\"broker is back\"");
    n->last_broker_ms = uv_now(&n->loop);
    n->broker_minor = m.minor;
    n->announced_since_silence = false;
    /* Uploads first: their requests are marked (SK_UPLOAD_REQ_BIT), and
     * the fetcher takes every other numbered answer as its own. */
    if (n->uploader != NULL && sk_uploader_on_message(n->uploader, &m, uv_now(&n->loop))) {
        sk_wire_msg_close(&m);
        return 1;
    }
    if (n->fetcher != NULL && sk_fetcher_on_message(n->fetcher, &m, uv_now(&n->loop))) {
        sk_wire_msg_close(&m);
        return 1;
    }
    switch (m.hdr.type) {
    case SK_MSG_JOB: on_job_msg(n, &m); break;
    case SK_MSG_CANCEL: on_cancel_msg(n, &m.hdr); break;
    case SK_MSG_HEARTBEAT: break;
    case SK_MSG_DISCONNECT: announce(n); break;
    case SK_MSG_ERROR: sk_warn("msg=\"broker refused a message\" reason=\"%s\"", m.hdr.reason); break;
    default: sk_warn("msg=\"unexpected message\" type=%s", sk_msg_type_name(m.hdr.type));
    }
    sk_wire_msg_close(&m);
    return 1;
}

static void on_tick(uv_timer_t *t)
{
    node_state *n = t->data;
    uint64_t now = uv_now(&n->loop);
    if (now >= n->next_heartbeat_ms) {
        send_simple(n, SK_MSG_HEARTBEAT);
        n->next_heartbeat_ms = now + (uint64_t)n->cfg.heartbeat_ms;
    }
    /* A silent broker may have restarted: announce again (with the jobs we
     * hold), at most once per liveness period; ZeroMQ reconnects the TCP
     * connection itself with backoff. */
    uint64_t silent_after = (uint64_t)(n->cfg.heartbeat_ms * n->cfg.liveness);
    if (now - n->last_broker_ms > silent_after && now >= n->next_announce_ms) {
        if (!n->announced_since_silence)
            sk_warn("msg=\"broker silent; re-announcing\" silent_ms=%" PRIu64, now - n->last_broker_ms);
        n->announced_since_silence = true;
        announce(n);
        n->next_announce_ms = now + silent_after;
    }
    const char *k;
    size_t kl;
    void *v;
    node_job *expired = NULL;
    for (size_t it = 0; (it = sk_map_next(&n->jobs, it, &k, &kl, &v)) != 0;) {
        node_job *j = v;
        if (!j->finished && j->deadline_ms > 0 && now > j->deadline_ms && !j->timed_out) {
            j->timed_out = true;
            atomic_store(&j->cancel, 1);
            sk_info("msg=\"deadline passed; cancelling\" job=%s", j->id);
        }
    }
    /* Jobs still fetching end now; one at a time, since ending one edits the map. */
    do {
        expired = NULL;
        for (size_t it = 0; expired == NULL && (it = sk_map_next(&n->jobs, it, &k, &kl, &v)) != 0;)
            if (((node_job *)v)->fetching && ((node_job *)v)->timed_out)
                expired = v;
        if (expired != NULL)
            stop_fetching_job(n, expired, SK_ETIMEDOUT, "deadline passed");
    } while (expired != NULL);
    sk_fetcher_tick(n->fetcher, now);
    sk_uploader_tick(n->uploader, now);
    flush_finished(n);
#ifdef SK_HAVE_PLUGINS
    if (n->cfg.plugins != NULL && n->cfg.plugin_reload_ms > 0 && now >= n->next_plugin_scan_ms) {
        n->next_plugin_scan_ms = now + (uint64_t)n->cfg.plugin_reload_ms;
        char sig[80];
        plugin_dir_signature(n->cfg.plugins, sig, sizeof sig);
        plugin_set *old = n->plugins;
        if (old == NULL || strcmp(sig, old->signature) != 0) {
            sk_error err = SK_ERROR_INIT;
            plugin_set *fresh = plugin_set_load(n->cfg.plugins, &err);
            if (fresh == NULL) {
                sk_warn("msg=\"plugin reload failed; keeping the old set\" error=\"%s\"", err.msg);
            } else {
                n->plugins = fresh;
                plugin_set_unref(old);
                sk_info("msg=\"plugins reloaded\" plugins=%zu", fresh->n);
                announce(n);
            }
        }
    }
#endif
}

static void node_collect(sk_metrics *m, void *data)
{
    (void)m;
    node_state *n = data;
    size_t running = 0;
    const char *k;
    size_t kl;
    void *v;
    for (size_t it = 0; (it = sk_map_next(&n->jobs, it, &k, &kl, &v)) != 0;)
        running += !((node_job *)v)->finished;
    sk_metric_set(n->m_running, NULL, (double)running);
    uint64_t silent = (uint64_t)(n->cfg.heartbeat_ms * n->cfg.liveness);
    sk_metric_set(n->m_connected, NULL, uv_now(&n->loop) - n->last_broker_ms <= silent ? 1 : 0);
    size_t active;
    uint64_t fetched;
    sk_fetcher_stats(n->fetcher, &active, &fetched);
    sk_metric_add(n->m_fetched, NULL, (double)(fetched - n->fetched_seen));
    n->fetched_seen = fetched;
    uint64_t uploaded;
    sk_uploader_stats(n->uploader, &active, &uploaded);
    sk_metric_add(n->m_uploaded, NULL, (double)(uploaded - n->uploaded_seen));
    n->uploaded_seen = uploaded;
    sk_metric_set(n->m_cache_bytes, NULL, (double)n->cache.bytes);
}

static int node_ready(void *ctx, sk_buf *why)
{
    node_state *n = ctx;
    uint64_t silent = (uint64_t)(n->cfg.heartbeat_ms * n->cfg.liveness);
    if (uv_now(&n->loop) - n->last_broker_ms > silent) {
        sk_buf_printf(why, "no word from the broker at %s for %llu ms", n->cfg.broker,
                      (unsigned long long)(uv_now(&n->loop) - n->last_broker_ms));
        return 1;
    }
    return 0;
}

static int node_metrics(node_state *n, sk_error *err)
{
    n->metrics = sk_metrics_new();
    if (n->metrics == NULL)
        return sk_fail(err, SK_ENOMEM, "out of memory");
    if ((n->m_running = sk_metrics_gauge(n->metrics, "samskap_node_running_jobs", "Jobs running on this node now.",
                                         NULL, 0, err)) == NULL ||
        (n->m_connected = sk_metrics_gauge(n->metrics, "samskap_node_connected",
                                           "1 while the broker has been heard from within the liveness period.", NULL,
                                           0, err)) == NULL ||
        (n->m_jobs_total = sk_metrics_counter(n->metrics, "samskap_node_jobs_total", "Jobs finished on this node.",
                                              SK_LABELS("service", "outcome"), 2, err)) == NULL ||
        (n->m_kernel = sk_metrics_histogram(n->metrics, "samskap_kernel_seconds",
                                            "Time a service (kernel or plugin) ran per job.", SK_LABELS("service"), 1,
                                            sk_metrics_default_buckets, 11, err)) == NULL ||
        (n->m_kills = sk_metrics_counter(n->metrics, "samskap_plugin_kills_total",
                                         "Plugin runs killed by the watchdog or rlimits.", SK_LABELS("service"), 1,
                                         err)) == NULL ||
        (n->m_cache = sk_metrics_counter(n->metrics, "samskap_node_dataset_cache_total",
                                         "Datasets jobs named, by outcome: hit (cached), miss (fetched), corrupt "
                                         "(a cached copy failed verification and was fetched again).",
                                         SK_LABELS("outcome"), 1, err)) == NULL ||
        (n->m_fetched = sk_metrics_counter(n->metrics, "samskap_node_fetched_bytes_total",
                                           "Dataset bytes fetched from the broker.", NULL, 0, err)) == NULL ||
        (n->m_cache_bytes = sk_metrics_gauge(n->metrics, "samskap_node_cache_bytes",
                                             "Bytes in the dataset cache now.", NULL, 0, err)) == NULL ||
        (n->m_uploaded = sk_metrics_counter(n->metrics, "samskap_node_uploaded_bytes_total",
                                            "Result bytes uploaded to the broker (results larger than a frame).",
                                            NULL, 0, err)) == NULL ||
        sk_metrics_on_collect(n->metrics, node_collect, n) < 0)
        return err->code ? err->code : SK_ENOMEM;
    return 0;
}

static void on_sighup(uv_signal_t *s, int signum)
{
    (void)signum;
    node_state *n = s->data;
    sk_notify_reloading(n->notify);
#ifdef SK_HAVE_PLUGINS
    /* Rescan the plugin directory now instead of at the next poll. */
    n->next_plugin_scan_ms = 0;
    if (n->plugins != NULL)
        ((plugin_set *)n->plugins)->signature[0] = '\0';
#endif
    announce(n);
    sk_info("msg=\"SIGHUP: plugins rescanned, re-announced\"");
    sk_notify_ready(n->notify, "serving");
}

static void on_signal(uv_signal_t *s, int signum)
{
    node_state *n = s->data;
    sk_info("msg=\"shutting down\" signal=%d", signum);
    uv_stop(&n->loop);
}

static int setup_services(node_state *n)
{
    for (const sk_service_def *const *s = sk_sim_services; *s != NULL && n->nservices < 64; s++) {
        if (n->cfg.services != NULL) {
            /* exact match in a comma list */
            const char *p = n->cfg.services;
            bool found = false;
            size_t len = strlen((*s)->name);
            while (*p) {
                const char *comma = strchr(p, ',');
                size_t l = comma ? (size_t)(comma - p) : strlen(p);
                if (l == len && strncmp(p, (*s)->name, len) == 0)
                    found = true;
                p += l + (comma != NULL);
            }
            if (!found)
                continue;
        }
        n->services[n->nservices++] = *s;
    }
    if (n->nservices == 0) {
        sk_error_log("msg=\"no services to offer\" filter=\"%s\"", n->cfg.services ? n->cfg.services : "");
        return -1;
    }
    const char *p = n->cfg.tenants;
    while (*p && n->ntenants < 64) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        if (l > 0 && l < SK_ID_MAX) {
            memcpy(n->tenants[n->ntenants], p, l);
            n->tenants[n->ntenants++][l] = '\0';
        }
        p += l + (comma != NULL);
    }
    return 0;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int sk_node_run(const sk_node_config *cfg)
{
    node_state *n = calloc(1, sizeof *n);
    char name[SK_ID_MAX], rid[SK_ID_MAX + 32];
    int exit_code = 0, zero = 0, hwm = 100000, ivl = 100, ivl_max = 5000;
    if (n == NULL)
        return 1;
    n->cfg = *cfg;
    if (cfg->name == NULL) {
        char host[48] = "node";
        gethostname(host, sizeof host - 1);
        snprintf(name, sizeof name, "%s-%d", host, (int)getpid());
        n->cfg.name = name;
    }
    sk_map_init(&n->jobs);
    if (setup_services(n) < 0) {
        free(n);
        return 2;
    }
    uv_loop_init(&n->loop);
    uv_mutex_init(&n->lock);
    uv_cond_init(&n->cond);
    {
        char cdir[1024];
        const char *tmp = getenv("TMPDIR");
        sk_error cerr = SK_ERROR_INIT;
        if (cfg->cache_dir == NULL)
            snprintf(cdir, sizeof cdir, "%s/samskap-node-%s.cache", tmp && *tmp ? tmp : "/tmp", n->cfg.name);
        else
            snprintf(cdir, sizeof cdir, "%s", cfg->cache_dir);
        if (sk_cache_open(&n->cache, cdir, cfg->cache_max_bytes, &cerr) < 0) {
            sk_error_log("msg=\"cannot open the dataset cache\" error=\"%s\"", cerr.msg);
            sk_cache_close(&n->cache);
            exit_code = 2;
            goto out;
        }
        n->cache_open = true;
        /* A fetch without an answer for a liveness period has lost its broker. */
        n->fetcher = sk_fetcher_new(&n->cache, fetch_send, on_fetch_done, n,
                                    (uint64_t)(cfg->heartbeat_ms * cfg->liveness));
        /* An upload refused or unanswered starts over after two heartbeats:
         * time for the node to announce its jobs to a restarted broker. */
        n->uploader = sk_uploader_new(upload_send, on_upload_done, on_upload_progress, n,
                                      (uint64_t)(cfg->heartbeat_ms * cfg->liveness), (uint64_t)(cfg->heartbeat_ms * 2));
        if (n->fetcher == NULL || n->uploader == NULL) {
            exit_code = 1;
            goto out;
        }
        sk_info("msg=\"dataset cache\" dir=%s files=%zu bytes=%lld max=%lld", cdir, n->cache.entries.len,
                (long long)n->cache.bytes, (long long)cfg->cache_max_bytes);
    }
    sk_keypair mine, server;
    sk_error kerr = SK_ERROR_INIT;
    bool curve = cfg->curve_key != NULL || cfg->server_key != NULL;
    if (curve && (cfg->curve_key == NULL || cfg->server_key == NULL)) {
        sk_error_log("msg=\"CURVE needs both --curve-key and --server-key\"");
        exit_code = 2;
        goto out;
    }
    if (curve && (sk_key_read(cfg->curve_key, true, &mine, &kerr) < 0 ||
                  sk_key_read(cfg->server_key, false, &server, &kerr) < 0)) {
        sk_error_log("msg=\"cannot read keys\" error=\"%s\"", kerr.msg);
        exit_code = 2;
        goto out;
    }
    n->ctx = zmq_ctx_new();
    n->sock = n->ctx ? zmq_socket(n->ctx, ZMQ_DEALER) : NULL;
    sk_curve cv = {server.public_key, mine.public_key, mine.secret_key};
    if (curve && n->sock != NULL && sk_curve_apply(n->sock, &cv, &kerr) < 0) {
        sk_error_log("msg=\"cannot use keys\" error=\"%s\"", kerr.msg);
        exit_code = 2;
        goto out;
    }
    /* A new routing id per process: a restarted node is a new node. */
    snprintf(rid, sizeof rid, "n-%s-%lx", n->cfg.name, (unsigned long)sk_mono_ms());
    if (n->sock == NULL || zmq_setsockopt(n->sock, ZMQ_ROUTING_ID, rid, strlen(rid)) < 0 ||
        zmq_setsockopt(n->sock, ZMQ_LINGER, &zero, sizeof zero) < 0 ||
        zmq_setsockopt(n->sock, ZMQ_SNDHWM, &hwm, sizeof hwm) < 0 ||
        zmq_setsockopt(n->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) < 0 ||
        zmq_setsockopt(n->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) < 0 ||
        zmq_connect(n->sock, cfg->broker) < 0) {
        sk_error_log("msg=\"cannot connect\" broker=%s error=\"%s\"", cfg->broker, zmq_strerror(errno));
        exit_code = 1;
        goto out;
    }
    sk_wire_reader_init(&n->rd, n->sock, false);
    sk_wire_batch_init(&n->out);
    uv_check_init(&n->loop, &n->flush_check);
    n->flush_check.data = n;
    if (sk_uvzmq_start(&n->loop, &n->z, n->sock, on_socket, n) < 0) {
        exit_code = 1;
        goto out;
    }
    uv_async_init(&n->loop, &n->wake, on_wake);
    n->wake.data = n;
    uv_timer_init(&n->loop, &n->tick);
    n->tick.data = n;
    uv_timer_start(&n->tick, on_tick, 50, 50);
    uv_signal_init(&n->loop, &n->sigint);
    uv_signal_init(&n->loop, &n->sigterm);
    n->sigint.data = n->sigterm.data = n;
    uv_signal_start(&n->sigint, on_signal, SIGINT);
    uv_signal_start(&n->sigterm, on_signal, SIGTERM);
    signal(SIGPIPE, SIG_IGN);
#ifdef SK_HAVE_PLUGINS
    if (cfg->plugins != NULL) {
        sk_error perr = SK_ERROR_INIT;
        n->plugins = plugin_set_load(cfg->plugins, &perr);
        if (n->plugins == NULL)
            sk_warn("msg=\"cannot load plugins\" dir=%s error=\"%s\"", cfg->plugins, perr.msg);
        n->next_plugin_scan_ms = uv_now(&n->loop) + (uint64_t)cfg->plugin_reload_ms;
    }
#endif
    n->last_broker_ms = uv_now(&n->loop);
    sk_error merr = SK_ERROR_INIT;
    if (node_metrics(n, &merr) < 0) {
        sk_error_log("msg=\"cannot set up metrics\" error=\"%s\"", merr.msg);
        exit_code = 1;
        goto out;
    }
    if (cfg->http != NULL) {
        n->ready_probe = (sk_http_probe){node_ready, n};
        const sk_http_route routes[] = {
            {"/metrics", sk_http_serve_metrics, n->metrics},
            {"/healthz", sk_http_serve_ok, NULL},
            {"/readyz", sk_http_serve_probe, &n->ready_probe},
        };
        if (sk_http_start(&n->loop, cfg->http, routes, 3, &n->http, &merr) < 0) {
            sk_error_log("msg=\"cannot serve HTTP\" address=%s error=\"%s\"", cfg->http, merr.msg);
            exit_code = 1;
            goto out;
        }
    }
    uv_signal_init(&n->loop, &n->sighup);
    n->sighup.data = n;
    uv_signal_start(&n->sighup, on_sighup, SIGHUP);
    if (sk_notify_start(&n->loop, &n->notify, &merr) < 0)
        sk_warn("msg=\"systemd notification unavailable\" error=\"%s\"", merr.msg);
    n->nthreads = (size_t)cfg->jobs;
    n->threads = calloc(n->nthreads, sizeof *n->threads);
    for (size_t i = 0; n->threads && i < n->nthreads; i++)
        if (uv_thread_create(&n->threads[i], worker_main, n) != 0)
            n->nthreads = i;
    announce(n);
    sk_notify_ready(n->notify, "announced to the broker");
    uv_run(&n->loop, UV_RUN_DEFAULT);
    flush_out(n);
    sk_notify_stopping(n->notify);

    /* Shutdown: tell the broker (it requeues what we held), stop workers. */
    send_simple(n, SK_MSG_DISCONNECT);
    {
        const char *k;
        size_t kl;
        void *v;
        for (size_t it = 0; (it = sk_map_next(&n->jobs, it, &k, &kl, &v)) != 0;)
            atomic_store(&((node_job *)v)->cancel, 1);
    }
    uv_mutex_lock(&n->lock);
    n->quit = true;
    uv_cond_broadcast(&n->cond);
    uv_mutex_unlock(&n->lock);
    for (size_t i = 0; i < n->nthreads; i++)
        uv_thread_join(&n->threads[i]);
out:
    {
        bool http_done = false;
        sk_http_stop_flag(n->http, &http_done);
        n->http = NULL;
        for (int i = 0; !http_done && i < 2000; i++)
            uv_run(&n->loop, UV_RUN_NOWAIT);
    }
    sk_notify_stop(n->notify);
    n->notify = NULL;
    uv_walk(&n->loop, close_walk, NULL);
    uv_run(&n->loop, UV_RUN_DEFAULT);
    uv_loop_close(&n->loop);
    for (event *e = n->events_head, *next; e != NULL; e = next) {
        next = e->next;
        free(e);
    }
    {
        const char *k;
        size_t kl;
        void *v;
        for (size_t it = 0; (it = sk_map_next(&n->jobs, it, &k, &kl, &v)) != 0;)
            job_free(v);
    }
    sk_map_free(&n->jobs);
    sk_wire_batch_free(&n->out);
    free(n->out_jobs);
    sk_wire_reader_free(&n->rd);
    sk_fetcher_free(n->fetcher);
    sk_uploader_free(n->uploader);
    if (n->cache_open)
        sk_cache_close(&n->cache);
    sk_metrics_free(n->metrics);
#ifdef SK_HAVE_PLUGINS
    plugin_set_unref(n->plugins);
#endif
    free(n->threads);
    if (n->sock)
        zmq_close(n->sock);
    if (n->ctx)
        zmq_ctx_term(n->ctx);
    uv_mutex_destroy(&n->lock);
    uv_cond_destroy(&n->cond);
    sk_info("msg=\"node stopped\" done=%" PRIu64 " failed=%" PRIu64, n->jobs_done, n->jobs_failed);
    free(n);
    return exit_code;
}
