/* sk_map.h - a hash map from byte-string keys to pointers.
 *
 * Open addressing with linear probing and tombstones.  Keys are copied;
 * values are borrowed (the map never frees them).  A key returned by
 * sk_map_next is valid until the map is next changed.  Used for jobs by id,
 * nodes by routing id and idempotency keys. */
#ifndef SK_MAP_H
#define SK_MAP_H

#include <stddef.h>
#include <stdint.h>

/* Keys up to SK_MAP_INLINE bytes (job ids, routing ids) live in the slot
 * itself: no allocation per entry, and comparing one reads no other memory. */
#define SK_MAP_INLINE 24

typedef struct sk_map_slot {
    size_t hash;
    void *val;
    uint32_t klen;
    uint32_t state;   /* empty, live or deleted (a tombstone) */
    union {
        char *heap;
        char inl[SK_MAP_INLINE];
    } key;
} sk_map_slot;

typedef struct sk_map {
    sk_map_slot *slots;
    size_t cap, len, used;   /* used = len + tombstones */
} sk_map;

void sk_map_init(sk_map *m);
void sk_map_free(sk_map *m);
void *sk_map_get(const sk_map *m, const void *key, size_t klen);
/* Insert or replace; 0 or SK_ENOMEM. */
int sk_map_put(sk_map *m, const void *key, size_t klen, void *val);
/* Remove; returns the old value or NULL. */
void *sk_map_del(sk_map *m, const void *key, size_t klen);
/* Iterate: for (size_t i = 0; (i = sk_map_next(m, i, &k, &kl, &v)) != 0;) */
size_t sk_map_next(const sk_map *m, size_t pos, const char **key, size_t *klen, void **val);

#endif
