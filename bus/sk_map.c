/* sk_map.c - open-addressing hash map (see sk_map.h). */
#include "sk_map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sk_error.h"

enum { SLOT_EMPTY, SLOT_LIVE, SLOT_TOMB };

static const char *slot_key(const sk_map_slot *s)
{
    return s->klen <= SK_MAP_INLINE ? s->key.inl : s->key.heap;
}

static void slot_release(sk_map_slot *s)
{
    if (s->klen > SK_MAP_INLINE)
        free(s->key.heap);
}

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
        if (m->slots[i].state == SLOT_LIVE)
            slot_release(&m->slots[i]);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static sk_map_slot *find(const sk_map *m, const void *key, size_t klen, size_t h)
{
    if (m->cap == 0)
        return NULL;
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        sk_map_slot *s = &m->slots[i];
        if (s->state == SLOT_EMPTY)
            return NULL;
        if (s->state == SLOT_LIVE && s->hash == h && s->klen == klen && memcmp(slot_key(s), key, klen) == 0)
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
    /* Size for the live entries at most a third full; when most of `used`
     * are tombstones (jobs come and go) this rehashes at the same size
     * instead.  The third leaves room for many inserts before the next
     * rehash: a broker keeping 100,000 finished jobs and taking 100,000
     * new ones a second would otherwise rehash its job table every few
     * hundred milliseconds. */
    size_t cap = 64;
    while (cap < (m->len + 1) * 3)
        cap *= 2;
    sk_map_slot *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return SK_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        sk_map_slot *s = &m->slots[i];
        if (s->state != SLOT_LIVE)
            continue;
        size_t j = s->hash & (cap - 1);
        while (slots[j].state != SLOT_EMPTY)
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
    if (klen > UINT32_MAX)
        return SK_ENOMEM;
    char *heap = NULL;
    if (klen > SK_MAP_INLINE && (heap = malloc(klen)) == NULL)
        return SK_ENOMEM;
    size_t i = h & (m->cap - 1);
    while (m->slots[i].state == SLOT_LIVE)
        i = (i + 1) & (m->cap - 1);
    sk_map_slot *to = &m->slots[i];
    if (to->state == SLOT_EMPTY)
        m->used++;
    to->hash = h;
    to->val = val;
    to->klen = (uint32_t)klen;
    to->state = SLOT_LIVE;
    if (heap != NULL) {
        memcpy(heap, key, klen);
        to->key.heap = heap;
    } else {
        memcpy(to->key.inl, key, klen);
    }
    m->len++;
    return 0;
}

void *sk_map_del(sk_map *m, const void *key, size_t klen)
{
    sk_map_slot *s = find(m, key, klen, hash_bytes(key, klen));
    if (s == NULL)
        return NULL;
    void *v = s->val;
    slot_release(s);
    s->state = SLOT_TOMB;
    s->val = NULL;
    m->len--;
    /* A tombstone followed by an empty slot ends no probe that goes on
     * past it, so it can be empty too, and so can the tombstones just
     * before it: fewer tombstones, fewer rehashes.  No live entry moves,
     * so deleting while iterating stays safe. */
    size_t i = (size_t)(s - m->slots);
    if (m->slots[(i + 1) & (m->cap - 1)].state == SLOT_EMPTY) {
        while (m->slots[i].state == SLOT_TOMB) {
            m->slots[i].state = SLOT_EMPTY;
            m->used--;
            i = (i - 1) & (m->cap - 1);
        }
    }
    return v;
}

size_t sk_map_next(const sk_map *m, size_t pos, const char **key, size_t *klen, void **val)
{
    for (size_t i = pos; i < m->cap; i++) {
        const sk_map_slot *s = &m->slots[i];
        if (s->state == SLOT_LIVE) {
            *key = slot_key(s);
            *klen = s->klen;
            *val = s->val;
            return i + 1;
        }
    }
    return 0;
}
