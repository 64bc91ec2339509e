/* test_map.c - the hash map under churn: inserts, lookups, deletes and
 * re-inserts of many keys (as jobs come and go), short ones kept in the
 * slot and long ones allocated, checked against a plain array of what
 * should be there; deleting everything leaves no tombstones. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sk_map.h"
#include "test_util.h"

/* Every fifth key is longer than SK_MAP_INLINE. */
static int make_key(char *key, size_t n, int k)
{
    return k % 5 == 0 ? snprintf(key, n, "j-0a1b2c3d-%d-a-key-longer-than-the-slot", k)
                      : snprintf(key, n, "j-0a1b2c3d-%d", k);
}

int main(void)
{
    sk_map m;
    sk_map_init(&m);
    enum { N = 20000 };
    static char present[N];
    char key[80];
    uint64_t x = 12345;
    for (int round = 0; round < 200000; round++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int k = (int)((x >> 33) % N);
        int len = make_key(key, sizeof key, k);
        if (present[k]) {
            CHECK(sk_map_get(&m, key, (size_t)len) == (void *)(intptr_t)(k + 1));
            CHECK(sk_map_del(&m, key, (size_t)len) == (void *)(intptr_t)(k + 1));
            present[k] = 0;
        } else {
            CHECK(sk_map_get(&m, key, (size_t)len) == NULL);
            CHECK(sk_map_put(&m, key, (size_t)len, (void *)(intptr_t)(k + 1)) == 0);
            present[k] = 1;
        }
    }
    size_t count = 0;
    for (int k = 0; k < N; k++) {
        int len = make_key(key, sizeof key, k);
        void *v = sk_map_get(&m, key, (size_t)len);
        CHECK((v != NULL) == (present[k] != 0));
        count += present[k] != 0;
    }
    CHECK(m.len == count);
    /* Iteration visits every live entry once. */
    const char *ik;
    size_t kl, seen = 0;
    void *v;
    for (size_t it = 0; (it = sk_map_next(&m, it, &ik, &kl, &v)) != 0;) {
        /* the key handed out is the one stored with the value */
        int k = (int)(intptr_t)v - 1;
        char want[80];
        int wl = make_key(want, sizeof want, k);
        CHECK(kl == (size_t)wl && memcmp(ik, want, kl) == 0);
        seen++;
    }
    CHECK(seen == count);
    /* Load stays at most one half after churn. */
    CHECK(m.used * 2 <= m.cap);
    /* Deleting every key leaves no tombstone behind: each one before an
     * empty slot is emptied, and the emptied slot frees the ones before it. */
    for (int k = 0; k < N; k++) {
        int len = make_key(key, sizeof key, k);
        if (present[k])
            CHECK(sk_map_del(&m, key, (size_t)len) == (void *)(intptr_t)(k + 1));
    }
    CHECK(m.len == 0 && m.used == 0);
    sk_map_free(&m);
    TEST_DONE();
}
