/* config_vs_lua.h - differential check of sk_config against real Lua 5.4.
 *
 * sk_config claims to read a subset of Lua: whatever it accepts, Lua must
 * load and run (in an empty environment, with an instruction limit) to the
 * same values.  sk_config may refuse more than Lua (duplicate keys,
 * integers that do not fit, NUL bytes), never less or differently.  Used by
 * test_config_lua.c on fixed samples and by the config fuzzer. */
#ifndef CONFIG_VS_LUA_H
#define CONFIG_VS_LUA_H

#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <string.h>

#include "sk_config.h"

static void cvl_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    luaL_error(L, "instruction limit");
}

static int cvl_value(lua_State *L, int idx, const sk_cval *v, const char *path, char *why, size_t n);

static int cvl_table(lua_State *L, int idx, const sk_cval *t, const char *path, char *why, size_t n)
{
    lua_Integer pos = 0, count = 0;
    idx = lua_absindex(L, idx);
    for (size_t i = 0; i < t->n; i++) {
        const sk_centry *e = &t->items[i];
        char sub[256];
        if (e->key == NULL) {
            lua_geti(L, idx, ++pos);
            snprintf(sub, sizeof sub, "%s[%lld]", path, (long long)pos);
        } else {
            lua_getfield(L, idx, e->key);
            snprintf(sub, sizeof sub, "%s.%s", path, e->key);
        }
        int rc = cvl_value(L, -1, &e->val, sub, why, n);
        lua_pop(L, 1);
        if (rc != 0)
            return rc;
        if (e->val.type != SK_CVAL_NIL)
            count++;
    }
    lua_Integer lua_count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_count++;
        lua_pop(L, 1);
    }
    if (lua_count != count) {
        snprintf(why, n, "%s: Lua has %lld entries, sk_config %lld", path, (long long)lua_count, (long long)count);
        return 1;
    }
    return 0;
}

static int cvl_value(lua_State *L, int idx, const sk_cval *v, const char *path, char *why, size_t n)
{
    bool ok;
    switch (v->type) {
    case SK_CVAL_NIL: ok = lua_isnil(L, idx); break;
    case SK_CVAL_BOOL: ok = lua_isboolean(L, idx) && lua_toboolean(L, idx) == v->b; break;
    case SK_CVAL_INT:
        ok = lua_type(L, idx) == LUA_TNUMBER &&
             (lua_isinteger(L, idx) ? lua_tointeger(L, idx) == v->i : lua_tonumber(L, idx) == (double)v->i);
        break;
    case SK_CVAL_NUM: ok = lua_type(L, idx) == LUA_TNUMBER && !lua_isinteger(L, idx) && lua_tonumber(L, idx) == v->d; break;
    case SK_CVAL_STR: {
        size_t len = 0;
        const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &len) : NULL;
        ok = s != NULL && len == v->slen && memcmp(s, v->s, len) == 0;
        break;
    }
    case SK_CVAL_TABLE:
        if (!lua_istable(L, idx)) {
            ok = false;
            break;
        }
        return cvl_table(L, idx, v, path, why, n);
    default: ok = false;
    }
    if (!ok)
        snprintf(why, n, "%s: sk_config read %s, Lua has %s", path, sk_cval_type_name(v->type), luaL_typename(L, idx));
    return ok ? 0 : 1;
}

/* 0: sk_config refused the text, or Lua agrees; 1: they differ (why says how). */
static int config_vs_lua(const char *text, size_t len, char *why, size_t n)
{
    sk_config *c = NULL;
    sk_error err = SK_ERROR_INIT;
    if (sk_config_parse(text, len, "t.lua", &c, &err) < 0)
        return 0;
    /* sk_config, like luaL_loadfile, skips a BOM and a '#' first line;
     * luaL_loadbuffer does not, so strip them for Lua. */
    const char *p = text, *end = text + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    if (p < end && *p == '#')
        while (p < end && *p != '\n')
            p++;
    lua_State *L = luaL_newstate();
    int rc = 1;
    if (L == NULL) {
        snprintf(why, n, "no Lua state");
        goto out;
    }
    if (luaL_loadbufferx(L, p, (size_t)(end - p), "=t.lua", "t") != LUA_OK) {
        snprintf(why, n, "sk_config accepted what Lua cannot load: %s", lua_tostring(L, -1));
        goto out;
    }
    lua_newtable(L); /* the chunk's _ENV: no functions at all */
    lua_pushvalue(L, -1);
    lua_setupvalue(L, -3, 1);
    lua_insert(L, -2);
    lua_sethook(L, cvl_hook, LUA_MASKCOUNT, 1000000);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
        snprintf(why, n, "sk_config accepted what Lua cannot run: %s", lua_tostring(L, -1));
        goto out;
    }
    /* return { ... } gives the table; plain assignments fill _ENV. */
    rc = cvl_table(L, lua_istable(L, -1) ? -1 : -2, sk_config_root(c), "root", why, n);
out:
    if (L != NULL)
        lua_close(L);
    sk_config_free(c);
    return rc;
}

#endif
