/* upload.h - the node uploads a job's result that is larger than a frame
 * to the broker, in chunks, over its backend connection (docs/protocol.md,
 * "Results by reference"); the job's RESULT then names the dataset.
 *
 * An upload sends data_put chunks naming the job and attempt, keeps up to
 * SK_UPLOAD_WINDOW of them in flight, and ends when the broker says the
 * whole is stored and verified.  A refused or unanswered upload starts
 * over from the first byte a few times (a broker that restarted meanwhile
 * knows the job again once the node has re-announced it) before it fails.
 * Loop thread only; the result's bytes belong to the caller and must stay
 * in place until the done callback. */
#ifndef SK_NODE_UPLOAD_H
#define SK_NODE_UPLOAD_H

#include <stdint.h>
#include <zmq.h>

#include "sk_proto.h"

#define SK_UPLOAD_WINDOW 4
#define SK_UPLOAD_TRIES 4
/* Requests of uploads carry this bit in `req`; a fetch's never do. */
#define SK_UPLOAD_REQ_BIT ((int64_t)1 << 62)

typedef struct sk_uploader sk_uploader;

/* Sends a chunk (the body is taken, sent or not); 0 or -1. */
typedef int (*sk_upload_send_fn)(void *ud, const sk_header *h, zmq_msg_t *body);
/* The upload of owner's result ended: rc 0 (stored at the broker), or <0
 * with a reason. */
typedef void (*sk_upload_done_fn)(void *ud, void *owner, int rc, const char *reason);
/* How far the broker has confirmed (for progress messages). */
typedef void (*sk_upload_progress_fn)(void *ud, void *owner, int64_t stored, int64_t total);

typedef struct sk_upload_spec {
    const char *job, *tenant;
    int64_t attempt;
    const char *hash;          /* "sha256:<hex>" of data */
    const void *data;
    int64_t size;
    int64_t chunk;             /* bytes per chunk (at most SK_FETCH_CHUNK) */
} sk_upload_spec;

sk_uploader *sk_uploader_new(sk_upload_send_fn send, sk_upload_done_fn done, sk_upload_progress_fn progress,
                             void *ud, uint64_t timeout_ms, uint64_t retry_ms);
void sk_uploader_free(sk_uploader *u);
/* Start uploading owner's result: 0, or <0 (out of memory, or the first
 * chunk could not be sent). */
int sk_uploader_start(sk_uploader *u, void *owner, const sk_upload_spec *spec, uint64_t now_ms);
/* A reply or error from the broker: 1 if it answered an upload. */
int sk_uploader_on_message(sk_uploader *u, const sk_wire_msg *m, uint64_t now_ms);
/* The owner is gone (cancelled): its upload stops, without a callback. */
void sk_uploader_forget(sk_uploader *u, void *owner);
/* Time out silent uploads and start the ones waiting to try again. */
void sk_uploader_tick(sk_uploader *u, uint64_t now_ms);
/* Uploads running now, and bytes confirmed by the broker since start. */
void sk_uploader_stats(const sk_uploader *u, size_t *active, uint64_t *bytes);

#endif
