/* fetch.h - the node fetches datasets its jobs name by hash from the
 * broker, over its backend connection, in chunks (docs/protocol.md,
 * "Dataset fetch").
 *
 * One fetch per cache file at a time, shared by every job that waits for
 * it.  A fetch asks for one chunk, learns the broker's chunk size from the
 * answer, then keeps up to SK_FETCH_WINDOW chunks in flight.  Chunks are
 * appended to DIR/NAME.part and hashed as they arrive; the whole must hash
 * to the name, or the fetch fails.  Loop thread only: each chunk costs one
 * write and one hash update of at most SK_FETCH_CHUNK bytes. */
#ifndef SK_NODE_FETCH_H
#define SK_NODE_FETCH_H

#include <stdint.h>

#include "cache.h"
#include "sk_proto.h"

#define SK_FETCH_WINDOW 4

typedef struct sk_fetcher sk_fetcher;

/* Sends a request on the node's socket; 0 or -1. */
typedef int (*sk_fetch_send_fn)(void *ud, const sk_header *h);
/* A fetch a waiter asked for ended: rc 0 (the file is in the cache, not yet
 * pinned) or <0 with a reason naming the dataset and the cause. */
typedef void (*sk_fetch_done_fn)(void *ud, void *waiter, const char *name, int rc, const char *reason);

sk_fetcher *sk_fetcher_new(sk_cache *cache, sk_fetch_send_fn send, sk_fetch_done_fn done, void *ud,
                           uint64_t timeout_ms);
void sk_fetcher_free(sk_fetcher *f);
/* Ask for a dataset (name = its cache file name) for job/attempt.  waiter
 * is handed back in the done callback, once per call. */
int sk_fetcher_want(sk_fetcher *f, const char *name, const char *hash, int64_t size, const char *job,
                    int64_t attempt, void *waiter, uint64_t now_ms);
/* A reply or error from the broker: 1 if it belonged to a fetch. */
int sk_fetcher_on_message(sk_fetcher *f, sk_wire_msg *m, uint64_t now_ms);
/* The waiter is gone (job cancelled, timed out): no callback for it; a
 * fetch nobody waits for any more stops. */
void sk_fetcher_forget(sk_fetcher *f, void *waiter);
/* Fail fetches without an answer for timeout_ms. */
void sk_fetcher_tick(sk_fetcher *f, uint64_t now_ms);
/* Fetches running now, bytes fetched since start. */
void sk_fetcher_stats(const sk_fetcher *f, size_t *active, uint64_t *bytes);

#endif
