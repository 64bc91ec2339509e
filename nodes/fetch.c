/* fetch.c - chunked, verified dataset fetches from the broker (see
 * fetch.h). */
#include "fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sk_csv.h"
#include "sk_hash.h"
#include "sk_log.h"
#include "sk_time.h"
#include "upload.h"

typedef struct waiter_rec {
    void *waiter;
    char job[SK_ID_MAX];
    int64_t attempt;
} waiter_rec;

typedef struct fetch {
    char name[65];
    char hash[SK_HASH_MAX];
    int64_t size, received, requested, chunk;
    int inflight;
    int fd;
    sk_sha256_state st;
    uint64_t id;               /* high half of every request's req */
    uint32_t seq;
    char job[SK_ID_MAX];       /* the job whose assignment authorises the fetch */
    int64_t attempt;
    waiter_rec *w;
    size_t nw, capw;
    uint64_t last_ms;          /* loop time of the last answer (timeouts) */
    uint64_t started_us;       /* monotonic, for the log */
    struct fetch *next;
} fetch;

struct sk_fetcher {
    sk_cache *cache;
    sk_fetch_send_fn send;
    sk_fetch_done_fn done;
    void *ud;
    uint64_t timeout_ms;
    fetch *head;
    uint64_t next_id;
    uint64_t bytes;
};

sk_fetcher *sk_fetcher_new(sk_cache *cache, sk_fetch_send_fn send, sk_fetch_done_fn done, void *ud,
                           uint64_t timeout_ms)
{
    sk_fetcher *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    f->cache = cache;
    f->send = send;
    f->done = done;
    f->ud = ud;
    f->timeout_ms = timeout_ms;
    return f;
}


static void unlink_fetch(sk_fetcher *f, fetch *ft)
{
    for (fetch **p = &f->head; *p != NULL; p = &(*p)->next) {
        if (*p == ft) {
            *p = ft->next;
            return;
        }
    }
}

static void discard(sk_fetcher *f, fetch *ft)
{
    char part[1200];
    if (ft->fd >= 0)
        close(ft->fd);
    sk_cache_path(f->cache, ft->name, ".part", part, sizeof part);
    unlink(part);
    free(ft->w);
    free(ft);
}

void sk_fetcher_free(sk_fetcher *f)
{
    if (f == NULL)
        return;
    while (f->head != NULL) {
        fetch *ft = f->head;
        f->head = ft->next;
        discard(f, ft);
    }
    free(f);
}

/* End a fetch: every waiter hears the outcome (the list is detached
 * first, so a callback may free its job and call sk_fetcher_forget). */
static void finish(sk_fetcher *f, fetch *ft, int rc, const char *reason)
{
    unlink_fetch(f, ft);
    if (rc < 0) {
        sk_warn("msg=\"dataset fetch failed\" hash=%.20s job=%s reason=\"%s\"", ft->hash, ft->job, reason);
        if (ft->fd >= 0)
            close(ft->fd);
        ft->fd = -1;
        char part[1200];
        sk_cache_path(f->cache, ft->name, ".part", part, sizeof part);
        unlink(part);
    }
    for (size_t i = 0; i < ft->nw; i++)
        f->done(f->ud, ft->w[i].waiter, ft->name, rc, reason);
    free(ft->w);
    free(ft);
    if (rc == 0)
        sk_cache_trim(f->cache); /* after the waiters pinned it */
}

static void fail(sk_fetcher *f, fetch *ft, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fail(sk_fetcher *f, fetch *ft, const char *fmt, ...)
{
    char reason[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    finish(f, ft, SK_EIO, reason);
}

static int request(sk_fetcher *f, fetch *ft, int64_t offset, int64_t len)
{
    sk_header h;
    sk_header_init(&h, SK_MSG_DATA_GET);
    sk_strlcpy(h.job, ft->job, sizeof h.job);
    h.attempt = ft->attempt;
    sk_strlcpy(h.text, ft->hash, sizeof h.text);
    h.offset = offset;
    h.total = len;
    h.req = (int64_t)((ft->id << 32) | ++ft->seq);
    if (f->send(f->ud, &h) < 0)
        return -1;
    ft->inflight++;
    return 0;
}

/* Keep up to SK_FETCH_WINDOW chunks in flight once the chunk size is known. */
static int fill_window(sk_fetcher *f, fetch *ft)
{
    while (ft->inflight < SK_FETCH_WINDOW && ft->requested < ft->size) {
        int64_t len = ft->size - ft->requested < ft->chunk ? ft->size - ft->requested : ft->chunk;
        if (request(f, ft, ft->requested, len) < 0)
            return -1;
        ft->requested += len;
    }
    return 0;
}

static int add_waiter(fetch *ft, void *waiter, const char *job, int64_t attempt)
{
    if (ft->nw == ft->capw) {
        size_t cap = ft->capw ? ft->capw * 2 : 4;
        waiter_rec *nw = realloc(ft->w, cap * sizeof *nw);
        if (nw == NULL)
            return SK_ENOMEM;
        ft->w = nw;
        ft->capw = cap;
    }
    waiter_rec *w = &ft->w[ft->nw++];
    w->waiter = waiter;
    sk_strlcpy(w->job, job, sizeof w->job);
    w->attempt = attempt;
    return 0;
}

int sk_fetcher_want(sk_fetcher *f, const char *name, const char *hash, int64_t size, const char *job,
                    int64_t attempt, void *waiter, uint64_t now_ms)
{
    for (fetch *ft = f->head; ft != NULL; ft = ft->next)
        if (strcmp(ft->name, name) == 0)
            return add_waiter(ft, waiter, job, attempt);
    fetch *ft = calloc(1, sizeof *ft);
    if (ft == NULL)
        return SK_ENOMEM;
    char part[1200];
    sk_strlcpy(ft->name, name, sizeof ft->name);
    sk_strlcpy(ft->hash, hash, sizeof ft->hash);
    sk_strlcpy(ft->job, job, sizeof ft->job);
    ft->attempt = attempt;
    ft->size = size;
    ft->id = ++f->next_id;
    ft->last_ms = now_ms;
    ft->started_us = sk_mono_us();
    sk_sha256_init(&ft->st);
    sk_cache_path(f->cache, name, ".part", part, sizeof part);
    ft->fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (ft->fd < 0 || add_waiter(ft, waiter, job, attempt) < 0) {
        int e = errno;
        if (ft->fd >= 0)
            close(ft->fd);
        free(ft->w);
        free(ft);
        errno = e;
        return SK_EIO;
    }
    ft->next = f->head;
    f->head = ft;
    sk_debug("msg=\"fetching dataset\" hash=%.20s size=%" PRId64 " job=%s", hash, size, job);
    /* The first chunk tells us the broker's chunk size. */
    if (request(f, ft, 0, SK_FETCH_CHUNK) < 0) {
        unlink_fetch(f, ft);
        discard(f, ft);
        return SK_EIO;
    }
    return 0;
}

static void complete(sk_fetcher *f, fetch *ft)
{
    unsigned char d[32];
    char got[SK_HASH_NAME_LEN], part[1200], final[1200];
    sk_sha256_final(&ft->st, d);
    sk_sha256_format(d, got);
    int crc = close(ft->fd);
    ft->fd = -1;
    if (crc < 0) {
        fail(f, ft, "cache write failed: %s", strerror(errno));
        return;
    }
    if (strcmp(got, ft->hash) != 0) {
        fail(f, ft, "the fetched bytes hash to %s, not %s", got, ft->hash);
        return;
    }
    sk_cache_path(f->cache, ft->name, ".part", part, sizeof part);
    sk_cache_path(f->cache, ft->name, NULL, final, sizeof final);
    if (rename(part, final) < 0) {
        fail(f, ft, "cache: %s", strerror(errno));
        return;
    }
    if (sk_cache_add(f->cache, ft->name, ft->size) == NULL) {
        fail(f, ft, "out of memory");
        return;
    }
    sk_info("msg=\"dataset fetched\" hash=%.20s bytes=%" PRId64 " ms=%llu job=%s", ft->hash, ft->size,
            (unsigned long long)((sk_mono_us() - ft->started_us) / 1000), ft->job);
    finish(f, ft, 0, NULL);
}

int sk_fetcher_on_message(sk_fetcher *f, sk_wire_msg *m, uint64_t now_ms)
{
    const sk_header *h = &m->hdr;
    if ((h->type != SK_MSG_REPLY && h->type != SK_MSG_ERROR) || h->req <= 0 || (h->req >> 32) == 0 ||
        (h->req & SK_UPLOAD_REQ_BIT) != 0)
        return 0; /* not a fetch's: a result upload's answers carry SK_UPLOAD_REQ_BIT */
    uint64_t id = (uint64_t)h->req >> 32;
    fetch *ft = f->head;
    while (ft != NULL && ft->id != id)
        ft = ft->next;
    if (ft == NULL)
        return 1; /* a late answer for a fetch that ended */
    ft->last_ms = now_ms;
    ft->inflight--;
    if (h->type == SK_MSG_ERROR) {
        fail(f, ft, "the broker refused: %s", h->reason);
        return 1;
    }
    if (m->nbodies != 1) {
        fail(f, ft, "a chunk reply without exactly one body");
        return 1;
    }
    size_t n = zmq_msg_size(&m->bodies[0]);
    if (h->total != ft->size) {
        fail(f, ft, "the broker holds %lld bytes, the job named %lld", (long long)h->total, (long long)ft->size);
        return 1;
    }
    if (h->offset != ft->received || (int64_t)n > ft->size - ft->received || (n == 0 && ft->received < ft->size)) {
        fail(f, ft, "chunk at offset %lld (+%zu) does not continue %lld of %lld bytes", (long long)h->offset, n,
             (long long)ft->received, (long long)ft->size);
        return 1;
    }
    if (sk_write_all(ft->fd, zmq_msg_data(&m->bodies[0]), n) < 0) {
        fail(f, ft, "cache write failed: %s", errno ? strerror(errno) : "short write");
        return 1;
    }
    sk_sha256_update(&ft->st, zmq_msg_data(&m->bodies[0]), n);
    ft->received += (int64_t)n;
    f->bytes += n;
    if (ft->chunk == 0) {
        ft->chunk = (int64_t)n > 0 ? (int64_t)n : 1;
        ft->requested = ft->received;
    }
    if (ft->received == ft->size) {
        complete(f, ft);
        return 1;
    }
    if (fill_window(f, ft) < 0)
        fail(f, ft, "cannot send a chunk request to the broker");
    return 1;
}

void sk_fetcher_forget(sk_fetcher *f, void *waiter)
{
    for (fetch *ft = f->head, *next; ft != NULL; ft = next) {
        next = ft->next;
        size_t k = 0;
        for (size_t i = 0; i < ft->nw; i++)
            if (ft->w[i].waiter != waiter)
                ft->w[k++] = ft->w[i];
        if (k == ft->nw)
            continue;
        ft->nw = k;
        if (k == 0) {
            unlink_fetch(f, ft);
            discard(f, ft);
            continue;
        }
        /* Its job may have been the one the broker checks the fetch
         * against: carry on under another waiting job. */
        sk_strlcpy(ft->job, ft->w[0].job, sizeof ft->job);
        ft->attempt = ft->w[0].attempt;
    }
}

void sk_fetcher_tick(sk_fetcher *f, uint64_t now_ms)
{
    /* One at a time: a failure's callbacks may end other fetches. */
    for (;;) {
        fetch *ft = f->head;
        while (ft != NULL && now_ms - ft->last_ms <= f->timeout_ms)
            ft = ft->next;
        if (ft == NULL)
            return;
        fail(f, ft, "no answer from the broker for %llu ms (%lld of %lld bytes fetched)",
             (unsigned long long)(now_ms - ft->last_ms), (long long)ft->received, (long long)ft->size);
    }
}

void sk_fetcher_stats(const sk_fetcher *f, size_t *active, uint64_t *bytes)
{
    size_t n = 0;
    for (const fetch *ft = f->head; ft != NULL; ft = ft->next)
        n++;
    *active = n;
    *bytes = f->bytes;
}
