/* sk_map.c - open-addressing hash map (see sk_map.h). */
#include "sk_map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sk_error.h"

static char tomb_marker;
#define SK_MAP_TOMB (&tomb_marker)

static size_t hash_bytes(const void *key, size_t len)
{
    /* FNV-1a over the bytes, then a 64-bit finaliser (murmur3's fmix64):
     * job ids differ only in their last digits, and the table indexes by
     * the low bits, which plain FNV spreads poorly for such keys. */
    const unsigned char *p = key;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (size_t)h;
}

void sk_map_init(sk_map *m)
{
    memset(m, 0, sizeof *m);
}

void sk_map_free(sk_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key != NULL && m->slots[i].key != SK_MAP_TOMB)
            free(m->slots[i].key);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static sk_map_slot *find(const sk_map *m, const void *key, size_t klen, size_t h)
{
    if (m->cap == 0)
        return NULL;
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        sk_map_slot *s = &m->slots[i];
        if (s->key == NULL)
            return NULL;
        if (s->key != SK_MAP_TOMB && s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0)
            return s;
    }
}

void *sk_map_get(const sk_map *m, const void *key, size_t klen)
{
    sk_map_slot *s = find(m, key, klen, hash_bytes(key, klen));
    return s ? s->val : NULL;
}

static int grow(sk_map *m)
{
    /* Size for the live entries at most half full; when most of `used` are
     * tombstones (jobs come and go) this rehashes in place instead. */
    size_t cap = 64;
    while (cap < (m->len + 1) * 2)
        cap *= 2;
    sk_map_slot *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return SK_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        sk_map_slot *s = &m->slots[i];
        if (s->key == NULL || s->key == SK_MAP_TOMB)
            continue;
        size_t j = s->hash & (cap - 1);
        while (slots[j].key != NULL)
            j = (j + 1) & (cap - 1);
        slots[j] = *s;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    m->used = m->len;
    return 0;
}

int sk_map_put(sk_map *m, const void *key, size_t klen, void *val)
{
    size_t h = hash_bytes(key, klen);
    sk_map_slot *s = find(m, key, klen, h);
    if (s != NULL) {
        s->val = val;
        return 0;
    }
    /* Probe sequences stay short at a load (live + tombstones) under 1/2. */
    if ((m->used + 1) * 2 > m->cap && grow(m) < 0)
        return SK_ENOMEM;
    char *k = malloc(klen ? klen : 1);
    if (k == NULL)
        return SK_ENOMEM;
    memcpy(k, key, klen);
    size_t i = h & (m->cap - 1);
    while (m->slots[i].key != NULL && m->slots[i].key != SK_MAP_TOMB)
        i = (i + 1) & (m->cap - 1);
    if (m->slots[i].key == NULL)
        m->used++;
    m->slots[i] = (sk_map_slot){k, klen, h, val};
    m->len++;
    return 0;
}

void *sk_map_del(sk_map *m, const void *key, size_t klen)
{
    sk_map_slot *s = find(m, key, klen, hash_bytes(key, klen));
    if (s == NULL)
        return NULL;
    void *v = s->val;
    free(s->key);
    s->key = SK_MAP_TOMB;
    s->val = NULL;
    m->len--;
    return v;
}

size_t sk_map_next(const sk_map *m, size_t pos, const char **key, size_t *klen, void **val)
{
    for (size_t i = pos; i < m->cap; i++) {
        const sk_map_slot *s = &m->slots[i];
        if (s->key != NULL && s->key != SK_MAP_TOMB) {
            *key = s->key;
            *klen = s->klen;
            *val = s->val;
            return i + 1;
        }
    }
    return 0;
}
