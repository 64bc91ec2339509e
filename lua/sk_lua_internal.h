/* sk_lua_internal.h - what the files of lua/ share and nothing else sees:
 * the per-job host (state, allocator cap, deadline), the sandbox entry
 * points, column objects, and the embedded lua/samskap library (*.lua). */
#ifndef SK_LUA_INTERNAL_H
#define SK_LUA_INTERNAL_H

#include <locale.h>

#include <lauxlib.h>
#include <lua.h>

#include "sk_lua.h"

#define SK_LUA_HOST_MAGIC 0x534b4c48u   /* "SKLH" */
#define SK_LUA_DEF_DEADLINE_S 5.0
#define SK_LUA_DEF_CLOSE_S 0.5
#define SK_LUA_DEF_MEM ((size_t)256 << 20)
#define SK_LUA_DEF_KILL_MARGIN_S 2.0
#define SK_LUA_LOG_MAX (64 * 1024)

enum { SK_LUA_LIVE = 0, SK_LUA_KILL_TIMEOUT = 1, SK_LUA_KILL_MEMORY = 2 };

typedef struct sk_lua_libfile {
    const char *module;     /* "samskap.units" */
    const char *file;       /* "samskap/units.lua" */
    const unsigned char *src;
    size_t len;
} sk_lua_libfile;

extern const sk_lua_libfile sk_lua_libfiles[];   /* generated, NULL-terminated */

/* One job's interpreter.  The allocator's ud is the host, so any C function
 * finds it with lua_getallocf. */
typedef struct sk_lua_host {
    uint32_t magic;
    lua_State *L;
    size_t mem_used, mem_peak, mem_cap;
    long allocs, oom_after;
    int killed;             /* SK_LUA_KILL_*; sticky: every pcall re-raises */
    double deadline;        /* monotonic seconds */
    double close_s;         /* budget for __close/finalizers at lua_close */
    double started;
    char *log;              /* print() output, bounded */
    size_t loglen;
    int env_ref;            /* the plugin's _ENV */
    int loaded_ref;         /* require cache */
} sk_lua_host;

double sk_lua__now(void);

/* Lua formats and parses numbers with the C library, which follows the
 * locale (nb_NO: "2,5").  Every entry point that runs Lua switches the
 * calling thread (uselocale, thread-safe) to the C locale and back. */
typedef struct sk_lua_locale {
    locale_t made, old;
} sk_lua_locale;
void sk_lua__c_locale_enter(sk_lua_locale *l);
void sk_lua__c_locale_leave(sk_lua_locale *l);
sk_lua_host *sk_lua__host_new(const sk_lua_limits *lim);
/* Runs __gc/__close under the close deadline, then frees everything. */
void sk_lua__host_free(sk_lua_host *h);
sk_lua_host *sk_lua__host_of(lua_State *L);
void sk_lua__set_deadline(sk_lua_host *h, double seconds_from_now);

/* Raise the kill sentinel when the host is killed or past its deadline.
 * Called by the count hook and by every long C loop (columns). */
void sk_lua__check_deadline(lua_State *L);
/* Raise the uncatchable kill error (kind already set in h->killed). */
int sk_lua__raise_kill(lua_State *L);
bool sk_lua__is_kill(lua_State *L, int idx);

/* Protected call with traceback; fills err on failure (kind from h->killed,
 * LUA_ERRMEM, or fallback_kind).  Returns LUA_OK or the status. */
int sk_lua__pcall(sk_lua_host *h, int nargs, int nres, const char *plugin,
                  const char *fallback_kind, sk_lua_error *err);

/* sk_lua__pcall of a C function that reads `ud` as lua_upvalueindex(1).
 * The closure is made inside the protected call: making it outside could
 * raise out-of-memory where nothing catches it (a Lua panic). */
int sk_lua__pcall_c(sk_lua_host *h, lua_CFunction f, void *ud, int nargs, int nres,
                    const char *plugin, const char *fallback_kind, sk_lua_error *err);

/* Load a text chunk with the plugin env as _ENV. */
int sk_lua__load_chunk(sk_lua_host *h, const char *chunkname, const char *src,
                       size_t len, const char *plugin, sk_lua_error *err);

/* Replace the table at idx with a read-only proxy (deep), push the proxy. */
void sk_lua__readonly(lua_State *L, int idx);

/* luaL_error with printf formats (%zu, %g, ...), which lua_pushfstring lacks. */
int sk_lua__errorf(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fill a structured error. */
void sk_lua__err(sk_lua_error *e, int code, const char *kind, const char *plugin,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Split "file:line: message" into where and message. */
void sk_lua__err_from_msg(sk_lua_error *e, int code, const char *kind,
                          const char *plugin, const char *msg);

/* Columns (sk_lua_column.c). */
void sk_lua__column_open(lua_State *L);
/* samskap.column{1, 2, 3} -> an f64 column (Lua side). */
int sk_lua__column_from_array(lua_State *L);
/* Push a column object over c (borrowed; t may be NULL). */
void sk_lua__push_column(lua_State *L, const sk_column *c, const sk_table *t,
                         const char *kernel);
void sk_lua__push_table(lua_State *L, const sk_table *t, const char *kernel);
/* Push a read-only view of one result: kernel, converged, meta, tables. */
void sk_lua__push_result(lua_State *L, const sk_result *r, const char *key);
/* Areas object (group-by) from an areas sk_result; pushes nil when a is NULL. */
void sk_lua__push_areas(lua_State *L, const sk_result *a);

/* Column values for output: numeric view of the column at idx (NULL if not a
 * column).  *len rows, get(i) as double. */
typedef struct sk_lua_colview {
    size_t len, nelem, nperiods;
    const sk_table *table;
    const char *kernel;
    int kind;
    const void *data;
} sk_lua_colview;
bool sk_lua__column_view(lua_State *L, int idx, sk_lua_colview *v);
double sk_lua__colview_get(const sk_lua_colview *v, size_t i);

#endif
