/* upload.c - chunked result uploads to the broker (see upload.h). */
#include "upload.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_log.h"
#include "sk_time.h"

typedef struct upload {
    void *owner;
    char job[SK_ID_MAX], tenant[SK_ID_MAX], hash[SK_HASH_MAX];
    int64_t attempt;
    const unsigned char *data;
    int64_t size, chunk;
    int64_t sent;              /* bytes sent in this try */
    int64_t stored;            /* bytes the broker confirmed in this try */
    int inflight;
    int tries;
    uint64_t id;               /* this try's request id; 0 while waiting to try again */
    uint32_t seq;
    uint64_t last_ms;          /* loop time of the last answer, or of the try's start */
    uint64_t retry_at_ms;      /* waiting to try again from this loop time (0: not waiting) */
    uint64_t started_us;
    struct upload *next;
} upload;

struct sk_uploader {
    sk_upload_send_fn send;
    sk_upload_done_fn done;
    sk_upload_progress_fn progress;
    void *ud;
    uint64_t timeout_ms, retry_ms;
    upload *head;
    uint64_t next_id;
    uint64_t bytes;
};

/* Ids fit 30 bits: bit 62 marks an upload, the low 32 bits count chunks. */
#define ID_MASK 0x3fffffffu

sk_uploader *sk_uploader_new(sk_upload_send_fn send, sk_upload_done_fn done, sk_upload_progress_fn progress,
                             void *ud, uint64_t timeout_ms, uint64_t retry_ms)
{
    sk_uploader *u = calloc(1, sizeof *u);
    if (u == NULL)
        return NULL;
    u->send = send;
    u->done = done;
    u->progress = progress;
    u->ud = ud;
    u->timeout_ms = timeout_ms;
    u->retry_ms = retry_ms;
    return u;
}

void sk_uploader_free(sk_uploader *u)
{
    if (u == NULL)
        return;
    while (u->head != NULL) {
        upload *up = u->head;
        u->head = up->next;
        free(up);
    }
    free(u);
}


static void unlink_upload(sk_uploader *u, upload *up)
{
    for (upload **p = &u->head; *p != NULL; p = &(*p)->next) {
        if (*p == up) {
            *p = up->next;
            return;
        }
    }
}

/* The end of an upload: its owner hears the outcome. */
static void finish(sk_uploader *u, upload *up, int rc, const char *reason)
{
    unlink_upload(u, up);
    if (rc == 0)
        sk_info("msg=\"result uploaded\" job=%s hash=%.20s bytes=%" PRId64 " ms=%llu tries=%d", up->job, up->hash,
                up->size, (unsigned long long)((sk_mono_us() - up->started_us) / 1000), up->tries);
    else
        sk_warn("msg=\"result upload failed\" job=%s hash=%.20s tries=%d reason=\"%s\"", up->job, up->hash, up->tries,
                reason);
    void *owner = up->owner;
    free(up);
    u->done(u->ud, owner, rc, reason);
}

static int send_chunk(sk_uploader *u, upload *up)
{
    int64_t len = up->size - up->sent < up->chunk ? up->size - up->sent : up->chunk;
    sk_header h;
    zmq_msg_t body;
    if (zmq_msg_init_size(&body, (size_t)len) < 0)
        return -1;
    memcpy(zmq_msg_data(&body), up->data + up->sent, (size_t)len);
    sk_header_init(&h, SK_MSG_DATA_PUT);
    sk_strlcpy(h.job, up->job, sizeof h.job);
    sk_strlcpy(h.tenant, up->tenant, sizeof h.tenant);
    h.attempt = up->attempt;
    sk_strlcpy(h.text, up->hash, sizeof h.text);
    h.offset = up->sent;
    h.total = up->size;
    h.req = SK_UPLOAD_REQ_BIT | (int64_t)(up->id << 32) | ++up->seq;
    h.nbodies = 1;
    sk_strlcpy(h.body_names[0], "chunk", SK_ID_MAX);
    if (u->send(u->ud, &h, &body) < 0)
        return -1;
    up->sent += len;
    up->inflight++;
    return 0;
}

static void try_failed(sk_uploader *u, upload *up, uint64_t now_ms, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* This try is over: try again from the first byte after a pause (the
 * broker may have restarted, and the node must announce the job to it
 * first), or give up. */
static void try_failed(sk_uploader *u, upload *up, uint64_t now_ms, const char *fmt, ...)
{
    char reason[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (up->tries >= SK_UPLOAD_TRIES) {
        finish(u, up, SK_EIO, reason);
        return;
    }
    sk_warn("msg=\"result upload interrupted; starting over\" job=%s try=%d reason=\"%s\"", up->job, up->tries,
            reason);
    up->id = 0; /* answers to this try are ignored from now on */
    up->inflight = 0;
    up->retry_at_ms = now_ms + u->retry_ms;
}

/* Keep up to SK_UPLOAD_WINDOW chunks in flight. */
static void fill_window(sk_uploader *u, upload *up, uint64_t now_ms)
{
    while (up->inflight < SK_UPLOAD_WINDOW && up->sent < up->size) {
        if (send_chunk(u, up) < 0) {
            try_failed(u, up, now_ms, "cannot send a chunk to the broker");
            return;
        }
    }
}

static void start_try(sk_uploader *u, upload *up, uint64_t now_ms)
{
    u->next_id = (u->next_id + 1) & ID_MASK;
    if (u->next_id == 0)
        u->next_id = 1;
    up->id = u->next_id;
    up->seq = 0;
    up->sent = up->stored = 0;
    up->inflight = 0;
    up->retry_at_ms = 0;
    up->last_ms = now_ms;
    up->tries++;
    fill_window(u, up, now_ms);
}

int sk_uploader_start(sk_uploader *u, void *owner, const sk_upload_spec *spec, uint64_t now_ms)
{
    if (spec->size <= 0 || spec->chunk <= 0)
        return SK_EINVAL;
    upload *up = calloc(1, sizeof *up);
    if (up == NULL)
        return SK_ENOMEM;
    up->owner = owner;
    sk_strlcpy(up->job, spec->job, sizeof up->job);
    sk_strlcpy(up->tenant, spec->tenant, sizeof up->tenant);
    sk_strlcpy(up->hash, spec->hash, sizeof up->hash);
    up->attempt = spec->attempt;
    up->data = spec->data;
    up->size = spec->size;
    up->chunk = spec->chunk < SK_FETCH_CHUNK ? spec->chunk : SK_FETCH_CHUNK;
    up->started_us = sk_mono_us();
    up->next = u->head;
    u->head = up;
    sk_debug("msg=\"uploading result\" job=%s hash=%.20s bytes=%" PRId64 " chunk=%" PRId64, up->job, up->hash,
             up->size, up->chunk);
    start_try(u, up, now_ms);
    return 0;
}

int sk_uploader_on_message(sk_uploader *u, const sk_wire_msg *m, uint64_t now_ms)
{
    const sk_header *h = &m->hdr;
    if ((h->type != SK_MSG_REPLY && h->type != SK_MSG_ERROR) || (h->req & SK_UPLOAD_REQ_BIT) == 0)
        return 0;
    uint64_t id = ((uint64_t)h->req >> 32) & ID_MASK;
    upload *up = u->head;
    while (up != NULL && (up->id == 0 || up->id != id))
        up = up->next;
    if (up == NULL)
        return 1; /* an answer to a try or an upload that ended */
    up->last_ms = now_ms;
    up->inflight--;
    if (h->type == SK_MSG_ERROR) {
        try_failed(u, up, now_ms, "the broker refused: %s", h->reason);
        return 1;
    }
    if (h->code == 1) {
        /* Stored and verified (or held already: the first answer says so). */
        u->bytes += (uint64_t)(up->size - up->stored);
        if (u->progress != NULL)
            u->progress(u->ud, up->owner, up->size, up->size);
        finish(u, up, 0, NULL);
        return 1;
    }
    if (h->offset <= up->stored || h->offset > up->sent || h->total != up->size || h->offset >= up->size) {
        try_failed(u, up, now_ms, "the broker stands at byte %lld of %lld, this node sent %lld",
                   (long long)h->offset, (long long)h->total, (long long)up->sent);
        return 1;
    }
    u->bytes += (uint64_t)(h->offset - up->stored);
    up->stored = h->offset;
    if (u->progress != NULL)
        u->progress(u->ud, up->owner, up->stored, up->size);
    fill_window(u, up, now_ms);
    return 1;
}

void sk_uploader_forget(sk_uploader *u, void *owner)
{
    for (upload *up = u->head; up != NULL; up = up->next) {
        if (up->owner == owner) {
            unlink_upload(u, up);
            sk_info("msg=\"result upload stopped\" job=%s", up->job);
            free(up);
            return;
        }
    }
}

void sk_uploader_tick(sk_uploader *u, uint64_t now_ms)
{
    /* One at a time: a failure's callback may end other uploads. */
    bool again = true;
    while (again) {
        again = false;
        for (upload *up = u->head; up != NULL; up = up->next) {
            if (up->retry_at_ms != 0 && now_ms >= up->retry_at_ms) {
                start_try(u, up, now_ms);
                again = true;
                break;
            }
            if (up->retry_at_ms == 0 && now_ms - up->last_ms > u->timeout_ms) {
                try_failed(u, up, now_ms, "no answer from the broker for %llu ms (%lld of %lld bytes stored)",
                           (unsigned long long)(now_ms - up->last_ms), (long long)up->stored, (long long)up->size);
                again = true;
                break;
            }
        }
    }
}

void sk_uploader_stats(const sk_uploader *u, size_t *active, uint64_t *bytes)
{
    size_t n = 0;
    for (const upload *up = u->head; up != NULL; up = up->next)
        n++;
    *active = n;
    *bytes = u->bytes;
}
