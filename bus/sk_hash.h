/* sk_hash.h - SHA-256 and content names: "sha256:<64 lowercase hex>". */
#ifndef SK_HASH_H
#define SK_HASH_H

#include <stddef.h>
#include <stdint.h>

/* SHA-256, one piece at a time, with no allocation: the state lives where
 * the caller puts it (a fetch, an upload, a stack frame).  OpenSSL's
 * implementation, which uses the CPU's SHA instructions: 1,236 MB/s here
 * against libsodium's 178 MB/s, and every dataset, fetch and result by
 * reference is hashed once or twice on its way. */
typedef struct sk_sha256_state {
    union {
        unsigned char bytes[128];
        uint64_t align;
    } state;
} sk_sha256_state;

void sk_sha256_init(sk_sha256_state *s);
void sk_sha256_update(sk_sha256_state *s, const void *data, size_t len);
void sk_sha256_final(sk_sha256_state *s, unsigned char digest[32]);
/* All at once. */
void sk_sha256(const void *data, size_t len, unsigned char digest[32]);

#define SK_HASH_NAME_LEN 72   /* "sha256:" + 64 hex + NUL, rounded up */

/* n bytes as lowercase hex into out (2n + 1 bytes). */
void sk_hex(const unsigned char *d, size_t n, char *out);
/* "sha256:<hex>" of a buffer. */
void sk_sha256_name(const void *data, size_t len, char out[SK_HASH_NAME_LEN]);
/* "sha256:<hex>" of a 32-byte digest. */
void sk_sha256_format(const unsigned char digest[32], char out[SK_HASH_NAME_LEN]);
/* Is s a content name ("sha256:" + 64 lowercase hex)? */
int sk_hash_valid(const char *s);
/* A stored file's name for tenant's content name: sha256(tenant NUL hash)
 * in hex, so no tenant learns whether another holds the same file (the
 * broker's dataset store and the nodes' caches both use it). */
void sk_scoped_name(const char *tenant, const char *hash, char out[65]);

#endif
