/* sk_lua_sha256.c - content hashes of plugin sources ("sha256:<hex>"),
 * with libsodium's SHA-256 (the same the rest of samskap uses). */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "sk_lua.h"

void sk_lua_hash(const void *data, size_t len, char *out)
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, (const unsigned char *)data, len);
    memcpy(out, "sha256:", 7);
    for (size_t i = 0; i < sizeof d; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", d[i]);
}
