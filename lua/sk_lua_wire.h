/* sk_lua_wire.h - the record framing between sk_lua_run_isolated and the
 * samskap-plugin-worker process (format in sk_lua_isolated.c). */
#ifndef SK_LUA_WIRE_H
#define SK_LUA_WIRE_H

#include <stddef.h>

#include "sk_lua.h"

#define SK_LUA_WIRE_MAGIC "SKLW1"

typedef struct sk_lua_wbuf {
    char *data;
    size_t len, cap;
} sk_lua_wbuf;

int sk_lua_wire_put(sk_lua_wbuf *b, char tag, const void *data, size_t len);
/* 0 and the next record, or -1 at the end / on a truncated record. */
int sk_lua_wire_next(const char **p, const char *end, char *tag, const char **data, size_t *len);
int sk_lua_wire_put_error(sk_lua_wbuf *b, const sk_lua_error *e);
void sk_lua_wire_get_error(const char *data, size_t len, sk_lua_error *e);

#endif
