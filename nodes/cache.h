/* cache.h - the node's local cache of fetched datasets: one file per
 * dataset in a directory, bounded in bytes, least recently used evicted
 * first.
 *
 * Files are named sk_scoped_name(tenant, hash) (sha256 of tenant NUL hash,
 * like the broker's store), so two tenants' copies of the same bytes are
 * two files and a file name says nothing about its tenant.  A job pins the
 * entries it uses; pinned entries are never evicted, so the cache may stay
 * over its budget while running jobs need more.  Loop thread only; worker
 * threads only read files whose entries are pinned. */
#ifndef SK_NODE_CACHE_H
#define SK_NODE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sk_error.h"
#include "sk_map.h"

typedef struct sk_cache_entry {
    char name[65];
    int64_t size;
    uint64_t last_used;   /* use counter: higher is more recent */
    int pins;
} sk_cache_entry;

typedef struct sk_cache {
    char dir[1024];
    int64_t max_bytes, bytes;
    uint64_t clock;
    sk_map entries;       /* name -> sk_cache_entry */
    uint64_t evictions;
} sk_cache;

/* Create dir if needed and index the files in it (oldest first by mtime);
 * leftover partial fetches are removed. */
int sk_cache_open(sk_cache *c, const char *dir, int64_t max_bytes, sk_error *err);
void sk_cache_close(sk_cache *c);
void sk_cache_path(const sk_cache *c, const char *name, const char *suffix, char *out, size_t n);
/* The entry, marked used now, or NULL. */
sk_cache_entry *sk_cache_use(sk_cache *c, const char *name);
/* A finished fetch (already renamed into place). */
sk_cache_entry *sk_cache_add(sk_cache *c, const char *name, int64_t size);
void sk_cache_pin(sk_cache *c, const char *name);
void sk_cache_unpin(sk_cache *c, const char *name);
/* Forget and delete an entry (it failed verification), pinned or not. */
void sk_cache_drop(sk_cache *c, const char *name);
/* Evict unpinned entries, least recently used first, until within budget. */
void sk_cache_trim(sk_cache *c);

#endif
