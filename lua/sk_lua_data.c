/* sk_lua_data.c - evaluate a declarative Lua file (a scenario) in the
 * plugin sandbox and hand back the table it returns as data text.
 *
 * Scenario files may compute their tables (a loop over variants, a local
 * for a shared params table), so they run, but only here: in the sandbox,
 * with the plugin host's CPU deadline and memory cap, never in the broker.
 * What comes out is re-written in the data-only subset that sk_config
 * reads, so everything downstream handles plain values and nothing of the
 * Lua state survives the call.  Records are written with sorted keys, so
 * the same file gives the same text. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sk_buf.h"
#include "sk_lua.h"
#include "sk_lua_internal.h"

#define DATA_MAX_DEPTH 30          /* the data reader nests 32 deep */
#define DATA_MAX_BYTES (1u << 20)  /* the same bound as a file it reads */

typedef struct data_ctx {
    sk_buf *out;
    char path[512];                /* key path of the value being written */
} data_ctx;

static void put_string(sk_buf *b, const char *s, size_t len)
{
    sk_buf_puts(b, "\"");
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            sk_buf_printf(b, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            sk_buf_printf(b, "\\%03u", ch);
        else
            sk_buf_append(b, s + i, 1);
    }
    sk_buf_puts(b, "\"");
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void put_value(lua_State *L, data_ctx *c, int idx, int depth);

/* Append ".key" or "[i]" to the path for errors; returns the old length. */
static size_t path_push(data_ctx *c, const char *key, lua_Integer i)
{
    size_t l = strlen(c->path);
    if (key != NULL)
        snprintf(c->path + l, sizeof c->path - l, "%s%s", l ? "." : "", key);
    else
        snprintf(c->path + l, sizeof c->path - l, "[%lld]", (long long)i);
    return l;
}

static void put_table(lua_State *L, data_ctx *c, int idx, int depth)
{
    if (depth > DATA_MAX_DEPTH)
        luaL_error(L, "%s: tables nest deeper than %d (a table that contains itself?)",
                   c->path[0] ? c->path : "the returned table", DATA_MAX_DEPTH);
    /* One C call writes every level: each needs its own stack slots. */
    luaL_checkstack(L, 8, "tables nest too deep");
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    size_t nkeys = 0, nstr = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        nkeys++;
        if (lua_type(L, -1) == LUA_TSTRING)
            nstr++;
        else if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > n)
            luaL_error(L, "%s: a key must be a string or a list index 1..n, not %s",
                       c->path[0] ? c->path : "the returned table", luaL_typename(L, -1));
        sk_lua__check_deadline(L);
    }
    if (nstr > 0 && nstr != nkeys)
        luaL_error(L, "%s: a table is either a list or a record, not both",
                   c->path[0] ? c->path : "the returned table");
    sk_buf_puts(c->out, "{");
    if (nstr == 0) {
        for (lua_Integer i = 1; i <= n; i++) {
            size_t l = path_push(c, NULL, i);
            lua_rawgeti(L, idx, i);
            put_value(L, c, lua_gettop(L), depth + 1);
            lua_pop(L, 1);
            c->path[l] = '\0';
            sk_buf_puts(c->out, ",");
        }
    } else {
        /* Sorted keys: the same file gives the same text.  The key array
         * lives in a userdata so an error unwinding through here frees it. */
        const char **keys = lua_newuserdatauv(L, nkeys * sizeof *keys, 0);
        int keep = lua_gettop(L);
        lua_newtable(L); /* keeps the key strings alive */
        size_t k = 0;
        lua_pushnil(L);
        while (lua_next(L, idx) != 0) {
            lua_pop(L, 1);
            keys[k++] = lua_tostring(L, -1);
            lua_pushvalue(L, -1);
            lua_rawseti(L, keep + 1, (lua_Integer)k);
        }
        qsort(keys, nkeys, sizeof *keys, key_cmp);
        for (k = 0; k < nkeys; k++) {
            size_t l = path_push(c, keys[k], 0);
            sk_buf_puts(c->out, "[");
            put_string(c->out, keys[k], strlen(keys[k]));
            sk_buf_puts(c->out, "]=");
            lua_getfield(L, idx, keys[k]);
            put_value(L, c, lua_gettop(L), depth + 1);
            lua_pop(L, 1);
            c->path[l] = '\0';
            sk_buf_puts(c->out, ",\n");
        }
        lua_pop(L, 2);
    }
    sk_buf_puts(c->out, "}");
}

static void put_value(lua_State *L, data_ctx *c, int idx, int depth)
{
    char num[64];
    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
        sk_buf_puts(c->out, lua_toboolean(L, idx) ? "true" : "false");
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, idx));
        } else {
            double d = lua_tonumber(L, idx);
            if (!isfinite(d))
                luaL_error(L, "%s: %s is not a finite number", c->path, d != d ? "nan" : "inf");
            /* Enough digits to read back the same double; always a float. */
            snprintf(num, sizeof num, "%.17g", d);
            if (strpbrk(num, ".eE") == NULL)
                strcat(num, ".0");
        }
        sk_buf_puts(c->out, num);
        break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (memchr(s, '\0', len) != NULL)
            luaL_error(L, "%s: strings may not contain NUL bytes", c->path);
        put_string(c->out, s, len);
        break;
    }
    case LUA_TTABLE:
        put_table(L, c, idx, depth);
        break;
    default:
        luaL_error(L, "%s: a %s is not data (a scenario returns strings, numbers, booleans and tables)",
                   c->path[0] ? c->path : "the returned value", luaL_typename(L, idx));
    }
    if (c->out->len > DATA_MAX_BYTES)
        luaL_error(L, "the returned table is larger than %u bytes as data", DATA_MAX_BYTES);
}

static int serialize(lua_State *L)
{
    data_ctx *c = lua_touserdata(L, lua_upvalueindex(1));
    if (lua_type(L, 1) != LUA_TTABLE)
        return luaL_error(L, "the file must return a table (it returned %s)", luaL_typename(L, 1));
    sk_buf_puts(c->out, "return ");
    put_table(L, c, 1, 0);
    sk_buf_puts(c->out, "\n");
    return 0;
}

static int eval_impl(const char *chunkname, const char *src, size_t len, const sk_lua_limits *lim, sk_buf *out,
                     sk_lua_error *err)
{
    const char *slash = strrchr(chunkname, '/');
    const char *base = slash ? slash + 1 : chunkname;
    sk_lua_host *h = sk_lua__host_new(lim);
    if (h == NULL) {
        sk_lua__err(err, SK_ENOMEM, "memory", base, "cannot create a Lua state");
        return SK_ENOMEM;
    }
    int rc = 0;
    data_ctx c = {.out = out};
    if (sk_lua__load_chunk(h, base, src, len, base, err) != LUA_OK ||
        sk_lua__pcall(h, 0, 1, base, "runtime", err) != LUA_OK ||
        sk_lua__pcall_c(h, serialize, &c, 1, 0, base, "output", err) != LUA_OK)
        rc = err->code ? err->code : SK_EINVAL;
    sk_lua__host_free(h);
    return rc;
}

int sk_lua_eval_data(const char *chunkname, const char *src, size_t len, const sk_lua_limits *lim, sk_buf *out,
                     sk_lua_error *err)
{
    sk_lua_error local;
    if (err == NULL)
        err = &local;
    memset(err, 0, sizeof *err);
    sk_lua_locale loc;
    sk_lua__c_locale_enter(&loc);
    int rc = eval_impl(chunkname ? chunkname : "chunk", src, len, lim, out, err);
    sk_lua__c_locale_leave(&loc);
    return rc;
}
