/* sk_lua_sha256.c - content hashes of plugin sources ("sha256:<hex>"). */
#include "sk_hash.h"
#include "sk_lua.h"

void sk_lua_hash(const void *data, size_t len, char *out)
{
    sk_sha256_name(data, len, out);
}
