/* sk_hash.c - SHA-256 and content names (see sk_hash.h). */
#include "sk_hash.h"

/* OpenSSL 3 marks the SHA256_* functions deprecated in favour of EVP, whose
 * context must be allocated (EVP_MD_CTX_new) and freed on every path of
 * every caller.  These run the same code, keep the state in a plain struct,
 * and this file is the only one that uses them. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <string.h>

_Static_assert(sizeof(SHA256_CTX) <= sizeof(((sk_sha256_state *)0)->state.bytes), "sk_sha256_state holds a SHA256_CTX");
_Static_assert(_Alignof(SHA256_CTX) <= _Alignof(uint64_t), "sk_sha256_state is aligned for a SHA256_CTX");

void sk_sha256_init(sk_sha256_state *s)
{
    SHA256_Init((SHA256_CTX *)s->state.bytes);
}

void sk_sha256_update(sk_sha256_state *s, const void *data, size_t len)
{
    SHA256_Update((SHA256_CTX *)s->state.bytes, data, len);
}

void sk_sha256_final(sk_sha256_state *s, unsigned char digest[32])
{
    SHA256_Final(digest, (SHA256_CTX *)s->state.bytes);
}

void sk_sha256(const void *data, size_t len, unsigned char digest[32])
{
    sk_sha256_state s;
    sk_sha256_init(&s);
    sk_sha256_update(&s, data, len);
    sk_sha256_final(&s, digest);
}

void sk_hex(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

void sk_sha256_format(const unsigned char digest[32], char out[SK_HASH_NAME_LEN])
{
    memcpy(out, "sha256:", 7);
    sk_hex(digest, 32, out + 7);
}

void sk_sha256_name(const void *data, size_t len, char out[SK_HASH_NAME_LEN])
{
    unsigned char d[32];
    sk_sha256(data, len, d);
    sk_sha256_format(d, out);
}

int sk_hash_valid(const char *s)
{
    return strncmp(s, "sha256:", 7) == 0 && strlen(s) == 71 && strspn(s + 7, "0123456789abcdef") == 64;
}

void sk_scoped_name(const char *tenant, const char *hash, char out[65])
{
    sk_sha256_state st;
    unsigned char d[32];
    sk_sha256_init(&st);
    sk_sha256_update(&st, tenant, strlen(tenant) + 1);
    sk_sha256_update(&st, hash, strlen(hash));
    sk_sha256_final(&st, d);
    sk_hex(d, sizeof d, out);
}
