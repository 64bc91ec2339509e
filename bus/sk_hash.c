/* sk_hash.c - content names (see sk_hash.h). */
#include "sk_hash.h"

#include <sodium.h>
#include <string.h>

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
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, (const unsigned char *)data, len);
    sk_sha256_format(d, out);
}

int sk_hash_valid(const char *s)
{
    return strncmp(s, "sha256:", 7) == 0 && strlen(s) == 71 && strspn(s + 7, "0123456789abcdef") == 64;
}

void sk_scoped_name(const char *tenant, const char *hash, char out[65])
{
    crypto_hash_sha256_state st;
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)tenant, strlen(tenant) + 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)hash, strlen(hash));
    crypto_hash_sha256_final(&st, d);
    sk_hex(d, sizeof d, out);
}
