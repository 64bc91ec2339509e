/* sk_map.h - a hash map from byte-string keys to pointers.
 *
 * Open addressing with linear probing and tombstones.  Keys are copied;
 * values are borrowed (the map never frees them).  Used for jobs by id,
 * nodes by routing id and idempotency keys. */
#ifndef SK_MAP_H
#define SK_MAP_H

#include <stddef.h>

typedef struct sk_map_slot {
    char *key;        /* NULL: empty; SK_MAP_TOMB: deleted */
    size_t klen;
    size_t hash;
    void *val;
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
