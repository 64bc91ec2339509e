/* sk_lua_sandbox.c - one job's lua_State: allow-listed globals, read-only
 * host tables, capped allocator, CPU deadline that pcall cannot swallow,
 * bounded string/table functions, text-only load and library-only require.
 *
 * The policy is the table sk_lua_allowlist below: a global is in the plugin
 * environment if and only if it has a line there.  Functions with a wrapper
 * get the original as upvalue 1 and check a bound before calling it. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lualib.h>

#include "sk_lua_internal.h"

/* Address used as the kill sentinel: a light userdata nobody else can make. */
static const char sk_lua_kill_key = 'K';
#define SK_LUA_HOOK_COUNT 1000
#define SK_LUA_MAX_STR ((size_t)64 << 20)      /* string.rep result */
#define SK_LUA_MAX_RANGE ((lua_Integer)1 << 26) /* table.concat/move/insert/sort */
#define SK_LUA_PATTERN_BUDGET 1e8               /* ~ steps a pattern may take */

double sk_lua__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void sk_lua__c_locale_enter(sk_lua_locale *l)
{
    l->made = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    l->old = l->made ? uselocale(l->made) : (locale_t)0;
}

void sk_lua__c_locale_leave(sk_lua_locale *l)
{
    if (l->made) {
        uselocale(l->old);
        freelocale(l->made);
        l->made = (locale_t)0;
    }
}

sk_lua_host *sk_lua__host_of(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ud;
}

/* ---- errors ------------------------------------------------------------ */

void sk_lua__err(sk_lua_error *e, int code, const char *kind, const char *plugin,
                 const char *fmt, ...)
{
    if (!e)
        return;
    memset(e, 0, sizeof *e);
    e->code = code;
    snprintf(e->kind, sizeof e->kind, "%s", kind ? kind : "host");
    snprintf(e->plugin, sizeof e->plugin, "%s", plugin ? plugin : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

/* Lua messages look like "file.lua:12: text"; keep the position apart so a
 * user interface can link to it. */
void sk_lua__err_from_msg(sk_lua_error *e, int code, const char *kind,
                          const char *plugin, const char *msg)
{
    sk_lua__err(e, code, kind, plugin, "%s", msg ? msg : "(no message)");
    if (!e || !msg)
        return;
    const char *colon = strchr(msg, ':');
    while (colon) {
        const char *p = colon + 1;
        if (*p >= '0' && *p <= '9') {
            while (*p >= '0' && *p <= '9')
                p++;
            if (p[0] == ':' && p[1] == ' ') {
                size_t wl = (size_t)(p - msg);
                if (wl >= sizeof e->where)
                    wl = sizeof e->where - 1;
                memcpy(e->where, msg, wl);
                e->where[wl] = 0;
                snprintf(e->message, sizeof e->message, "%s", p + 2);
                return;
            }
        }
        colon = strchr(colon + 1, ':');
    }
}

void sk_lua_error_to_sk(const sk_lua_error *le, sk_error *err)
{
    if (!err || !le)
        return;
    err->code = le->code ? le->code : SK_EINVAL;
    /* the message may be cut to fit sk_error; the structured error keeps it all */
    int n = snprintf(err->msg, sizeof err->msg, "plugin %.100s: %s: %.200s%s",
                     le->plugin[0] ? le->plugin : "?", le->kind, le->where,
                     le->where[0] ? ": " : "");
    if (n > 0 && (size_t)n < sizeof err->msg)
        snprintf(err->msg + n, sizeof err->msg - (size_t)n, "%.*s",
                 (int)(sizeof err->msg - (size_t)n - 1), le->message);
}

int sk_lua__errorf(lua_State *L, const char *fmt, ...)
{
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    luaL_where(L, 1);
    lua_pushstring(L, buf);
    lua_concat(L, 2);
    return lua_error(L);
}

/* ---- allocator ----------------------------------------------------------- */

/* Lua assumes shrinking never fails, so only growth is checked. */
static void *sk_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    sk_lua_host *h = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        h->mem_used -= old;
        return NULL;
    }
    if (nsize > old) {
        h->allocs++;
        /* Once the injected fault fires every later growth fails too, so
         * Lua's emergency-GC retry cannot hide it. */
        if ((h->oom_after > 0 && h->allocs >= h->oom_after) ||
            nsize - old > h->mem_cap - h->mem_used)
            return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p)
        return nsize <= old ? ptr : NULL;
    h->mem_used = h->mem_used - old + nsize;
    if (h->mem_used > h->mem_peak)
        h->mem_peak = h->mem_used;
    return p;
}

/* ---- deadline ------------------------------------------------------------ */

bool sk_lua__is_kill(lua_State *L, int idx)
{
    return lua_touserdata(L, idx) == (void *)&sk_lua_kill_key &&
           lua_type(L, idx) == LUA_TLIGHTUSERDATA;
}

int sk_lua__raise_kill(lua_State *L)
{
    lua_pushlightuserdata(L, (void *)&sk_lua_kill_key);
    return lua_error(L);
}

void sk_lua__check_deadline(lua_State *L)
{
    sk_lua_host *h = sk_lua__host_of(L);
    if (h->killed == SK_LUA_LIVE && sk_lua__now() > h->deadline)
        h->killed = SK_LUA_KILL_TIMEOUT;
    if (h->killed != SK_LUA_LIVE)
        sk_lua__raise_kill(L);
}

static void sk_lua_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    sk_lua__check_deadline(L);
}

void sk_lua__set_deadline(sk_lua_host *h, double s)
{
    h->deadline = sk_lua__now() + s;
}

/* ---- wrapped base functions ------------------------------------------------ */

/* Continuation shared by pcall and xpcall: a killed host re-raises, so the
 * plugin never sees the kill as a caught error. */
static int sb_finishpcall(lua_State *L, int status, lua_KContext extra)
{
    sk_lua_host *h = sk_lua__host_of(L);
    /* Out of memory is not catchable either.  coroutine.wrap re-raises a
     * coroutine's memory error as a plain error with Lua's message, so
     * that message counts too. */
    if (h->killed == SK_LUA_LIVE && status != LUA_OK && status != LUA_YIELD &&
        (status == LUA_ERRMEM || (lua_type(L, -1) == LUA_TSTRING &&
                                  strcmp(lua_tostring(L, -1), "not enough memory") == 0)))
        h->killed = SK_LUA_KILL_MEMORY;
    if (h->killed != SK_LUA_LIVE)
        return sk_lua__raise_kill(L);
    if (status != LUA_OK && status != LUA_YIELD) {
        lua_pushboolean(L, 0);
        lua_pushvalue(L, -2);
        return 2;
    }
    return lua_gettop(L) - (int)extra;
}

static int sb_pcall(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    int status = lua_pcallk(L, lua_gettop(L) - 2, LUA_MULTRET, 0, 0, sb_finishpcall);
    return sb_finishpcall(L, status, 0);
}

/* The plugin's message handler runs inside the wrapper: a kill raised from
 * the count hook calls the handler while hooks are off (Lua disables them
 * during a hook), so a looping handler would never be stopped.  A killed
 * host skips the handler and passes the sentinel on. */
static int sb_msgh_guard(lua_State *L)
{
    if (sk_lua__host_of(L)->killed != SK_LUA_LIVE || sk_lua__is_kill(L, 1)) {
        lua_settop(L, 1);
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static int sb_xpcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, sb_msgh_guard, 1);
    lua_replace(L, 2);
    lua_pushboolean(L, 1);
    lua_pushvalue(L, 1);
    lua_rotate(L, 3, 2);
    int status = lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, sb_finishpcall);
    return sb_finishpcall(L, status, 2);
}

/* Lua runs finalizers with hooks off, so a __gc loop would escape the CPU
 * deadline (in the node's own process when not isolated).  Metatables with
 * __gc are refused; __close runs with hooks on and stays allowed. */
static int sb_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        int t = lua_rawget(L, 2);
        lua_pop(L, 1);
        if (t != LUA_TNIL)
            return luaL_error(L, "setmetatable: __gc metamethods are refused in the sandbox "
                                 "(finalizers run outside the CPU deadline)");
    }
    lua_CFunction orig = lua_tocfunction(L, lua_upvalueindex(1));
    return orig(L);
}

/* coroutine.resume/close report errors as values: re-raise a kill. */
static int sb_call_orig_then_check(lua_State *L)
{
    lua_CFunction orig = lua_tocfunction(L, lua_upvalueindex(1));
    lua_State *co = lua_tothread(L, 1);
    int n = orig(L);
    sk_lua_host *h = sk_lua__host_of(L);
    if (co && lua_status(co) == LUA_ERRMEM && h->killed == SK_LUA_LIVE)
        h->killed = SK_LUA_KILL_MEMORY;
    if (h->killed != SK_LUA_LIVE)
        return sk_lua__raise_kill(L);
    return n;
}

static void sb_log(sk_lua_host *h, const char *s, size_t l)
{
    if (!h->log) {
        h->log = malloc(SK_LUA_LOG_MAX + 1);
        if (!h->log)
            return;
        h->loglen = 0;
        h->log[0] = 0;
    }
    size_t room = SK_LUA_LOG_MAX - h->loglen;
    if (l > room)
        l = room;
    memcpy(h->log + h->loglen, s, l);
    h->loglen += l;
    h->log[h->loglen] = 0;
}

/* print goes to the job's log (bounded), never to the node's stdout. */
static int sb_print(lua_State *L)
{
    sk_lua_host *h = sk_lua__host_of(L);
    int n = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        size_t l;
        const char *s = luaL_tolstring(L, i, &l);
        sb_log(h, s, l);
        sb_log(h, i < n ? "\t" : "\n", 1);
        lua_pop(L, 1);
    }
    return 0;
}

/* load(chunk [, name [, mode [, env]]]): strings only, text only. */
static int sb_load(lua_State *L)
{
    sk_lua_host *h = sk_lua__host_of(L);
    size_t l;
    if (lua_type(L, 1) != LUA_TSTRING)
        return sk_lua__errorf(L, "load: only string chunks are allowed in the sandbox");
    const char *s = lua_tolstring(L, 1, &l);
    const char *name = luaL_optstring(L, 2, "=(load)");
    const char *mode = luaL_optstring(L, 3, "t");
    if (strcmp(mode, "t") != 0)
        return sk_lua__errorf(L, "load: mode '%s' refused: only text chunks ('t') are allowed", mode);
    int has_env = !lua_isnone(L, 4);
    int status = luaL_loadbufferx(L, s, l, name, "t");
    if (status != LUA_OK) {
        if (h->killed != SK_LUA_LIVE)
            return sk_lua__raise_kill(L);
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    if (has_env)
        lua_pushvalue(L, 4);
    else
        lua_rawgeti(L, LUA_REGISTRYINDEX, h->env_ref);
    if (!lua_setupvalue(L, -2, 1))
        lua_pop(L, 1);
    return 1;
}

/* require: only modules of the embedded plugin library (lua/samskap/). */
static int sb_require(lua_State *L)
{
    sk_lua_host *h = sk_lua__host_of(L);
    const char *name = luaL_checkstring(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->loaded_ref);
    lua_getfield(L, -1, name);
    if (!lua_isnil(L, -1))
        return 1;
    lua_pop(L, 1);
    const sk_lua_libfile *f = NULL;
    for (const sk_lua_libfile *p = sk_lua_libfiles; p->module; p++)
        if (strcmp(p->module, name) == 0)
            f = p;
    if (!f)
        return sk_lua__errorf(L, "require '%s' refused: only modules of the plugin library "
                             "(samskap.*) can be required", name);
    char chunk[96];
    snprintf(chunk, sizeof chunk, "@%s", f->file);
    if (luaL_loadbufferx(L, (const char *)f->src, f->len, chunk, "t") != LUA_OK)
        return lua_error(L);
    /* A module gets its own _ENV over the read-only globals. */
    lua_newtable(L);
    lua_newtable(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->env_ref);
    lua_getmetatable(L, -1);
    lua_getfield(L, -1, "__index");
    lua_setfield(L, -4, "__index");
    lua_pop(L, 2);
    lua_setmetatable(L, -2);
    lua_setupvalue(L, -2, 1);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    if (lua_istable(L, -1))
        sk_lua__readonly(L, -1);      /* replaces and pushes the proxy */
    else
        lua_pushvalue(L, -1);
    lua_setfield(L, -3, name);
    return 1;
}

/* ---- wrapped string functions ---------------------------------------------- */

static int sb_str_rep(lua_State *L)
{
    size_t l, lsep;
    luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &lsep);
    if (n <= 0 || (l == 0 && lsep == 0)) {
        lua_pushliteral(L, "");   /* Lua would loop n times copying nothing */
        return 1;
    }
    double total = (double)l * (double)n + (double)lsep * (double)(n - 1);
    if (total > (double)SK_LUA_MAX_STR)
        return sk_lua__errorf(L, "string.rep: a %.0f-byte result exceeds the sandbox limit of %zu bytes",
                          total, (size_t)SK_LUA_MAX_STR);
    lua_CFunction orig = lua_tocfunction(L, lua_upvalueindex(1));
    return orig(L);
}

/* Lua patterns backtrack: each variable-length item that is followed by more
 * pattern multiplies the worst case by the subject length (and an unanchored
 * search by one more).  Refuse when length^items exceeds the budget; a
 * trailing quantifier never backtracks and is free. */
static void sb_check_pattern(lua_State *L, const char *fn, size_t slen, const char *p, size_t plen)
{
    if (plen > 4096)
        sk_lua__errorf(L, "%s: pattern of %zu bytes refused (limit 4096)", fn, plen);
    int q = 0, last_q_at_end = 0;
    size_t i = 0;
    int anchored = plen > 0 && p[0] == '^';
    if (anchored)
        i = 1;
    while (i < plen) {
        char c = p[i];
        size_t item_end;
        if (c == '%' && i + 1 < plen) {
            if (p[i + 1] == 'b')
                item_end = i + 4;
            else if (p[i + 1] == 'f') {
                item_end = i + 2;
                if (item_end < plen && p[item_end] == '[') {
                    item_end++;
                    if (item_end < plen && p[item_end] == '^')
                        item_end++;
                    if (item_end < plen)
                        item_end++;
                    while (item_end < plen && p[item_end] != ']')
                        item_end += p[item_end] == '%' ? 2 : 1;
                    item_end++;
                }
            } else
                item_end = i + 2;
        } else if (c == '[') {
            item_end = i + 1;
            if (item_end < plen && p[item_end] == '^')
                item_end++;
            if (item_end < plen)
                item_end++;
            while (item_end < plen && p[item_end] != ']')
                item_end += p[item_end] == '%' ? 2 : 1;
            item_end++;
        } else
            item_end = i + 1;
        if (item_end < plen && (p[item_end] == '*' || p[item_end] == '+' ||
                                p[item_end] == '-' || p[item_end] == '?')) {
            size_t rest = item_end + 1;
            while (rest < plen && (p[rest] == ')' || (p[rest] == '$' && rest + 1 == plen)))
                rest++;
            last_q_at_end = rest >= plen;
            if (!last_q_at_end)
                q++;
            item_end++;
        }
        i = item_end;
    }
    int e = q + (anchored ? 0 : 1);
    if (q > 0 && e >= 2 && pow((double)slen + 1.0, e) > SK_LUA_PATTERN_BUDGET)
        sk_lua__errorf(L, "%s: pattern '%s' with %d backtracking items refused on a %zu-byte "
                      "subject (worst case beyond the sandbox budget)", fn, p, q, slen);
}

static int sb_str_pattern(lua_State *L)
{
    size_t sl, pl;
    luaL_checklstring(L, 1, &sl);
    const char *p = luaL_checklstring(L, 2, &pl);
    const char *fn = lua_tostring(L, lua_upvalueindex(2));
    /* find with plain=true does no matching */
    if (!(strcmp(fn, "string.find") == 0 && lua_toboolean(L, 4)))
        sb_check_pattern(L, fn, sl, p, pl);
    sk_lua__check_deadline(L);
    lua_CFunction orig = lua_tocfunction(L, lua_upvalueindex(1));
    return orig(L);
}

/* ---- wrapped table functions ------------------------------------------------ */

static void sb_check_range(lua_State *L, const char *fn, lua_Integer i, lua_Integer j)
{
    if (j >= i && (j - i >= SK_LUA_MAX_RANGE || j - i < 0))
        sk_lua__errorf(L, "%s: range of %lld elements exceeds the sandbox limit of %lld",
                   fn, (long long)(j - i) + 1, (long long)SK_LUA_MAX_RANGE);
    sk_lua__check_deadline(L);
}

static int sb_tab_concat(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer i = luaL_optinteger(L, 3, 1);
    lua_Integer j = lua_isnoneornil(L, 4) ? luaL_len(L, 1) : luaL_checkinteger(L, 4);
    sb_check_range(L, "table.concat", i, j);
    lua_CFunction orig = lua_tocfunction(L, lua_upvalueindex(1));
    return orig(L);
}

static int sb_tab_move(lua_State *L)
{
    lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);
    sb_check_range(L, "table.move", f, e);
    lua_CFunction orig = lua_tocfunction(L, lua_upvalueindex(1));
    return orig(L);
}

/* insert/remove/sort/unpack loop over #t, which __len can make huge. */
static int sb_tab_len_bounded(lua_State *L)
{
    const char *fn = lua_tostring(L, lua_upvalueindex(2));
    if (strcmp(fn, "table.unpack") == 0) {
        lua_Integer i = luaL_optinteger(L, 2, 1);
        lua_Integer j = lua_isnoneornil(L, 3) ? luaL_len(L, 1) : luaL_checkinteger(L, 3);
        sb_check_range(L, fn, i, j);
    } else {
        luaL_checktype(L, 1, LUA_TTABLE);
        sb_check_range(L, fn, 1, luaL_len(L, 1));
    }
    lua_CFunction orig = lua_tocfunction(L, lua_upvalueindex(1));
    return orig(L);
}

/* ---- the allow-list ------------------------------------------------------ */

typedef struct sk_lua_allow {
    const char *lib;        /* "_G" for base functions */
    const char *name;
    lua_CFunction wrap;     /* NULL: the original as is */
} sk_lua_allow;

/* THE sandbox policy.  Anything not listed here does not exist for a plugin:
 * no io, no debug, no package, no dofile/loadfile, no collectgarbage, no
 * rawset, no string.dump, os only for clocks and dates. */
static const sk_lua_allow sk_lua_allowlist[] = {
    {"_G", "assert", NULL},          {"_G", "error", NULL},
    {"_G", "getmetatable", NULL},    {"_G", "ipairs", NULL},
    {"_G", "next", NULL},            {"_G", "pairs", NULL},
    {"_G", "rawequal", NULL},        {"_G", "rawget", NULL},
    {"_G", "rawlen", NULL},          {"_G", "select", NULL},
    {"_G", "setmetatable", sb_setmetatable}, {"_G", "tonumber", NULL},
    {"_G", "tostring", NULL},        {"_G", "type", NULL},
    {"_G", "_VERSION", NULL},
    {"_G", "pcall", sb_pcall},       {"_G", "xpcall", sb_xpcall},
    {"_G", "print", sb_print},       {"_G", "load", sb_load},
    {"_G", "require", sb_require},

    {"coroutine", "create", NULL},   {"coroutine", "isyieldable", NULL},
    {"coroutine", "running", NULL},  {"coroutine", "status", NULL},
    {"coroutine", "wrap", NULL},     {"coroutine", "yield", NULL},
    {"coroutine", "resume", sb_call_orig_then_check},
    {"coroutine", "close", sb_call_orig_then_check},

    {"math", "abs", NULL},   {"math", "ceil", NULL},  {"math", "exp", NULL},
    {"math", "floor", NULL}, {"math", "fmod", NULL},  {"math", "huge", NULL},
    {"math", "log", NULL},   {"math", "max", NULL},   {"math", "maxinteger", NULL},
    {"math", "min", NULL},   {"math", "mininteger", NULL}, {"math", "modf", NULL},
    {"math", "pi", NULL},    {"math", "sqrt", NULL},  {"math", "tointeger", NULL},
    {"math", "type", NULL},  {"math", "ult", NULL},   {"math", "sin", NULL},
    {"math", "cos", NULL},   {"math", "tan", NULL},   {"math", "asin", NULL},
    {"math", "acos", NULL},  {"math", "atan", NULL},  {"math", "random", NULL},
    {"math", "randomseed", NULL},

    {"os", "clock", NULL},   {"os", "date", NULL},    {"os", "time", NULL},
    {"os", "difftime", NULL},

    {"string", "byte", NULL},    {"string", "char", NULL},
    {"string", "format", NULL},  {"string", "len", NULL},
    {"string", "lower", NULL},   {"string", "upper", NULL},
    {"string", "reverse", NULL}, {"string", "sub", NULL},
    {"string", "pack", NULL},    {"string", "packsize", NULL},
    {"string", "unpack", NULL},
    {"string", "rep", sb_str_rep},
    {"string", "find", sb_str_pattern},  {"string", "match", sb_str_pattern},
    {"string", "gmatch", sb_str_pattern}, {"string", "gsub", sb_str_pattern},

    {"table", "concat", sb_tab_concat},  {"table", "move", sb_tab_move},
    {"table", "insert", sb_tab_len_bounded}, {"table", "remove", sb_tab_len_bounded},
    {"table", "sort", sb_tab_len_bounded},   {"table", "unpack", sb_tab_len_bounded},
    {"table", "pack", NULL},

    {"utf8", "char", NULL},  {"utf8", "charpattern", NULL}, {"utf8", "codes", NULL},
    {"utf8", "codepoint", NULL}, {"utf8", "len", NULL}, {"utf8", "offset", NULL},
    {NULL, NULL, NULL},
};

static const luaL_Reg sk_lua_stdlibs[] = {
    {"_G", luaopen_base},       {"coroutine", luaopen_coroutine},
    {"math", luaopen_math},     {"os", luaopen_os},
    {"string", luaopen_string}, {"table", luaopen_table},
    {"utf8", luaopen_utf8},     {NULL, NULL},
};

/* ---- read-only proxies ------------------------------------------------------ */

static int ro_newindex(lua_State *L)
{
    const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?";
    return sk_lua__errorf(L, "attempt to modify read-only host table (field '%s')", k);
}

/* pairs(proxy) walks the hidden table; #proxy is its length. */
/* pairs(proxy) walks the hidden table without handing it out: the
 * iterator state is the proxy itself. */
static int ro_next(lua_State *L)
{
    lua_settop(L, 2);
    if (!lua_getmetatable(L, 1))
        return luaL_error(L, "not a read-only host table");
    if (lua_getfield(L, -1, "__index") != LUA_TTABLE)
        return luaL_error(L, "not a read-only host table");
    lua_pushvalue(L, 2);
    if (lua_next(L, -2))
        return 2;
    lua_pushnil(L);
    return 1;
}

static int ro_pairs(lua_State *L)
{
    lua_pushcfunction(L, ro_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static int ro_len(lua_State *L)
{
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "__index");
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
    return 1;
}

/* Deep: nested tables are replaced (in the hidden table) by their proxies.
 * `seen` (at seen_idx) maps real tables to proxies, so cycles end. */
static void ro_make(lua_State *L, int idx, int seen_idx)
{
    idx = lua_absindex(L, idx);
    lua_pushvalue(L, idx);
    lua_rawget(L, seen_idx);
    if (!lua_isnil(L, -1))
        return;
    lua_pop(L, 1);
    lua_newtable(L);                   /* proxy */
    int proxy = lua_gettop(L);
    lua_pushvalue(L, idx);
    lua_pushvalue(L, proxy);
    lua_rawset(L, seen_idx);
    /* nested tables first */
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -1) == LUA_TTABLE && !lua_getmetatable(L, -1)) {
            ro_make(L, -1, seen_idx);  /* pushes proxy of value */
            lua_pushvalue(L, -3);      /* key */
            lua_insert(L, -2);
            lua_rawset(L, idx);        /* replace value while iterating: allowed for existing keys */
        }
        else if (lua_type(L, -1) == LUA_TTABLE)
            lua_pop(L, 1);             /* the metatable pushed by lua_getmetatable */
        lua_pop(L, 1);
    }
    lua_createtable(L, 0, 5);
    lua_pushvalue(L, idx);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ro_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, ro_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushcfunction(L, ro_len);
    lua_setfield(L, -2, "__len");
    lua_pushliteral(L, "protected");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, proxy);
}

void sk_lua__readonly(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_newtable(L);
    int seen = lua_gettop(L);
    ro_make(L, idx, seen);
    lua_remove(L, seen);
    lua_replace(L, idx);
    lua_pushvalue(L, idx);
}

/* ---- state setup ----------------------------------------------------------- */

static void sk_lua_warnf(void *ud, const char *msg, int tocont)
{
    (void)ud; (void)msg; (void)tocont;   /* __gc errors at close: dropped */
}

/* Build the plugin environment from the allow-list (runs protected). */
static int sb_setup(lua_State *L)
{
    sk_lua_host *h = sk_lua__host_of(L);
    for (const luaL_Reg *lib = sk_lua_stdlibs; lib->name; lib++) {
        luaL_requiref(L, lib->name, lib->func, 0);
        lua_pop(L, 1);
    }
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    int loaded = lua_gettop(L);
    lua_newtable(L);                   /* sandbox globals */
    int g = lua_gettop(L);
    for (const sk_lua_allow *a = sk_lua_allowlist; a->lib; a++) {
        lua_getfield(L, loaded, a->lib);
        lua_getfield(L, -1, a->name);
        /* require has no original (no package library): the wrapper is all */
        if (lua_isnil(L, -1) && !a->wrap)
            return sk_lua__errorf(L, "allow-list names %s.%s, which this Lua lacks", a->lib, a->name);
        if (a->wrap) {
            char full[64];
            snprintf(full, sizeof full, "%s.%s", a->lib, a->name);
            lua_pushstring(L, full);
            lua_pushcclosure(L, a->wrap, 2);
        }
        if (strcmp(a->lib, "_G") == 0)
            lua_setfield(L, g, a->name);
        else {
            if (lua_getfield(L, g, a->lib) != LUA_TTABLE) {
                lua_pop(L, 1);
                lua_newtable(L);
                lua_pushvalue(L, -1);
                lua_setfield(L, g, a->lib);
            }
            lua_insert(L, -2);
            lua_setfield(L, -2, a->name);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    /* samskap: the host API table */
    lua_newtable(L);
    lua_pushinteger(L, SK_LUA_API_LEVEL);
    lua_setfield(L, -2, "api_level");
    lua_pushliteral(L, "samskap-lua 0.1");
    lua_setfield(L, -2, "host");
    lua_pushcfunction(L, sk_lua__column_from_array);
    lua_setfield(L, -2, "column");
    lua_setfield(L, g, "samskap");
    sk_lua__column_open(L);

    /* Freeze the globals (deep). */
    sk_lua__readonly(L, g);            /* g now holds the proxy; pushes it */
    lua_pop(L, 1);

    /* Strings index the sandboxed string table; the metatable is protected. */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_getfield(L, g, "string");      /* the read-only proxy */
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "protected");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);

    /* The plugin's _ENV: its own table over the frozen globals. */
    lua_newtable(L);
    lua_newtable(L);
    lua_pushvalue(L, g);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "protected");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "_G");
    h->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    h->loaded_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    /* Drop the unsandboxed libraries from the real globals so nothing that
     * reaches them by accident finds io/os.execute/debug. */
    lua_pushglobaltable(L);
    lua_pushnil(L);
    lua_setfield(L, -2, "dofile");
    lua_pushnil(L);
    lua_setfield(L, -2, "loadfile");
    lua_pushnil(L);
    lua_setfield(L, -2, "collectgarbage");
    lua_pop(L, 1);
    return 0;
}

sk_lua_host *sk_lua__host_new(const sk_lua_limits *lim)
{
    sk_lua_host *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->magic = SK_LUA_HOST_MAGIC;
    h->mem_cap = lim && lim->mem_bytes ? lim->mem_bytes : SK_LUA_DEF_MEM;
    h->oom_after = lim ? lim->oom_after : 0;
    h->close_s = lim && lim->close_s > 0 ? lim->close_s : SK_LUA_DEF_CLOSE_S;
    h->env_ref = h->loaded_ref = LUA_NOREF;
    h->started = sk_lua__now();
    sk_lua__set_deadline(h, lim && lim->deadline_s > 0 ? lim->deadline_s : SK_LUA_DEF_DEADLINE_S);
    lua_State *L = lua_newstate(sk_lua_alloc, h);
    if (!L) {
        free(h);
        return NULL;
    }
    h->L = L;
    lua_setwarnf(L, sk_lua_warnf, NULL);
    lua_sethook(L, sk_lua_hook, LUA_MASKCOUNT, SK_LUA_HOOK_COUNT);
    lua_pushcfunction(L, sb_setup);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
        if (getenv("SAMSKAP_LUA_DEBUG"))
            fprintf(stderr, "sk_lua: setup failed: %s\n", lua_tostring(L, -1));
        sk_lua__host_free(h);
        return NULL;
    }
    return h;
}

void sk_lua__host_free(sk_lua_host *h)
{
    if (!h)
        return;
    if (h->L) {
        /* Plugin finalizers run now, with a short deadline of their own; a
         * killed host stays killed so they abort at their first hook. */
        if (h->killed == SK_LUA_LIVE)
            sk_lua__set_deadline(h, h->close_s);
        lua_sethook(h->L, sk_lua_hook, LUA_MASKCOUNT, 100);
        lua_close(h->L);
    }
    free(h->log);
    h->magic = 0xdeadbeefu;
    free(h);
}

/* ---- protected calls ----------------------------------------------------- */

static int sk_lua_msgh(lua_State *L)
{
    if (sk_lua__is_kill(L, 1))
        return 1;
    const char *msg = lua_type(L, 1) == LUA_TSTRING ? lua_tostring(L, 1) : NULL;
    if (!msg)
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, L, msg, 1);
    /* return {message, traceback} as two strings via a table-free trick:
     * push message then traceback; the caller reads both from an array. */
    lua_createtable(L, 2, 0);
    lua_pushstring(L, msg);
    lua_rawseti(L, -2, 1);
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, 2);
    return 1;
}

int sk_lua__pcall(sk_lua_host *h, int nargs, int nres, const char *plugin,
                  const char *fallback_kind, sk_lua_error *err)
{
    lua_State *L = h->L;
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, sk_lua_msgh);
    lua_insert(L, base);
    int st = lua_pcall(L, nargs, nres, base);
    lua_remove(L, base);
    if (st == LUA_OK && h->killed == SK_LUA_LIVE)
        return LUA_OK;
    if (h->killed == SK_LUA_KILL_TIMEOUT) {
        sk_lua__err(err, SK_ETIMEDOUT, "timeout", plugin,
                    "CPU deadline exceeded after %.3f s (limit enforced by the host; "
                    "pcall cannot catch it)", sk_lua__now() - h->started);
    } else if (h->killed == SK_LUA_KILL_MEMORY || st == LUA_ERRMEM) {
        sk_lua__err(err, SK_ETOOBIG, "memory", plugin,
                    "memory limit of %zu bytes exceeded", h->mem_cap);
    } else if (lua_istable(L, -1)) {
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        sk_lua__err_from_msg(err, SK_EINVAL, fallback_kind, plugin, lua_tostring(L, -2));
        /* host-side checks (metadata, params, output) have no plugin stack */
        int plugin_code = strcmp(fallback_kind, "runtime") == 0 || strcmp(fallback_kind, "load") == 0;
        if (err && plugin_code)
            snprintf(err->traceback, sizeof err->traceback, "%s",
                     lua_tostring(L, -1) ? lua_tostring(L, -1) : "");
        lua_pop(L, 2);
    } else {
        sk_lua__err_from_msg(err, SK_EINVAL, fallback_kind, plugin,
                             lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                            : "error in error handling");
    }
    if (st != LUA_OK)
        lua_pop(L, 1);
    else
        lua_pop(L, nres == LUA_MULTRET ? 0 : nres);
    return st != LUA_OK ? st : LUA_ERRRUN;
}

typedef struct sk_lua_cfn {
    lua_CFunction f;
    void *ud;
} sk_lua_cfn;

static int sk_lua_trampoline(lua_State *L)
{
    sk_lua_cfn *c = lua_touserdata(L, 1);
    lua_remove(L, 1);
    lua_pushlightuserdata(L, c->ud);
    lua_pushcclosure(L, c->f, 1);
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

int sk_lua__pcall_c(sk_lua_host *h, lua_CFunction f, void *ud, int nargs, int nres,
                    const char *plugin, const char *fallback_kind, sk_lua_error *err)
{
    sk_lua_cfn c = {f, ud};
    lua_State *L = h->L;
    lua_pushcfunction(L, sk_lua_trampoline);      /* light C function: no allocation */
    lua_pushlightuserdata(L, &c);
    lua_rotate(L, -(nargs + 2), 2);
    return sk_lua__pcall(h, nargs + 1, nres, plugin, fallback_kind, err);
}

int sk_lua__load_chunk(sk_lua_host *h, const char *chunkname, const char *src,
                       size_t len, const char *plugin, sk_lua_error *err)
{
    lua_State *L = h->L;
    if (len >= 4 && src[0] == LUA_SIGNATURE[0]) {
        sk_lua__err(err, SK_EREFUSED, "load", plugin, "%s: binary (precompiled) chunks are refused",
                    chunkname);
        return LUA_ERRSYNTAX;
    }
    char name[300];
    snprintf(name, sizeof name, "@%s", chunkname);
    int st = luaL_loadbufferx(L, src, len, name, "t");
    if (st != LUA_OK) {
        if (st == LUA_ERRMEM || h->killed == SK_LUA_KILL_MEMORY)
            sk_lua__err(err, SK_ETOOBIG, "memory", plugin, "memory limit of %zu bytes exceeded",
                        h->mem_cap);
        else
            sk_lua__err_from_msg(err, SK_EINVAL, "load", plugin, lua_tostring(L, -1));
        lua_pop(L, 1);
        return st;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->env_ref);
    lua_setupvalue(L, -2, 1);
    return LUA_OK;
}

/* ---- exec ---------------------------------------------------------------- */

static const char *sk_lua_basename(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int exec_impl(const char *chunkname, const char *src, size_t len,
                     const sk_lua_limits *lim, sk_lua_error *err)
{
    const char *base = sk_lua_basename(chunkname ? chunkname : "chunk");
    sk_lua_host *h = sk_lua__host_new(lim);
    if (!h) {
        sk_lua__err(err, SK_ENOMEM, "memory", base, "cannot create a Lua state");
        return SK_ENOMEM;
    }
    int rc = 0;
    if (sk_lua__load_chunk(h, base, src, len, base, err) != LUA_OK)
        rc = err && err->code ? err->code : SK_EINVAL;
    else if (sk_lua__pcall(h, 0, 0, base, "runtime", err) != LUA_OK)
        rc = err && err->code ? err->code : SK_EINVAL;
    sk_lua__host_free(h);
    return rc;
}

int sk_lua_exec(const char *chunkname, const char *src, size_t len,
                const sk_lua_limits *lim, sk_lua_error *err)
{
    sk_lua_locale loc;
    sk_lua__c_locale_enter(&loc);
    int rc = exec_impl(chunkname, src, len, lim, err);
    sk_lua__c_locale_leave(&loc);
    return rc;
}
