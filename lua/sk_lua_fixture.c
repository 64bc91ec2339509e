/* sk_lua_fixture.c - plugin fixtures: a data-only Lua file (read in the
 * sandbox) with hand-made results, an areas sidecar and cases with expected
 * values; each case runs the plugin and compares (docs/plugins.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_csv.h"
#include "sk_lua_internal.h"

typedef struct fx_ctx {
    lua_Integer ncases;
    sk_result *results[3];
    sk_result *areas;
    sk_result *building;      /* reachable while filled, freed on error */
} fx_ctx;

static const char *const fx_kernels[3] = {"water", "power", "traffic"};

static const char *opt_str(lua_State *L, int idx, const char *k, const char *def)
{
    lua_getfield(L, idx, k);
    const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : def;
    lua_pop(L, 1);   /* the string stays alive: it is in the table */
    return s;
}

#define FX_OOM(x) do { if (!(x)) return sk_lua__errorf(L, "out of memory building the fixture"); } while (0)

/* table spec at idx -> a table of r */
static void fx_table(lua_State *L, sk_result *r, const char *tname, int idx)
{
    idx = lua_absindex(L, idx);
    /* default kind as the kernels name them: nodes -> node, links -> link,
     * bus/branch/gen unchanged */
    char defkind[64];
    snprintf(defkind, sizeof defkind, "%s", tname);
    if (strcmp(tname, "nodes") == 0 || strcmp(tname, "links") == 0)
        defkind[strlen(defkind) - 1] = 0;
    const char *kind = opt_str(L, idx, "kind", defkind);
    const char *id_name = opt_str(L, idx, "id_name", "id");
    lua_getfield(L, idx, "ids");
    if (!lua_istable(L, -1))
        sk_lua__errorf(L, "fixture table '%s': 'ids' must be an array", tname);
    int ids = lua_gettop(L);
    size_t n = lua_rawlen(L, ids);
    sk_table *t = sk_result_add_table(r, tname, kind, id_name, n);
    if (!t)
        sk_lua__errorf(L, "fixture table '%s': duplicate or out of memory", tname);
    lua_rawgeti(L, ids, 1);
    int str_ids = lua_type(L, -1) == LUA_TSTRING;
    lua_pop(L, 1);
    if (str_ids) {
        const char **v = lua_newuserdatauv(L, (n ? n : 1) * sizeof *v, 0);
        for (size_t i = 0; i < n; i++) {
            lua_rawgeti(L, ids, (lua_Integer)i + 1);
            v[i] = lua_tostring(L, -1);
            if (!v[i])
                sk_lua__errorf(L, "fixture table '%s': ids[%zu] must be a string", tname, i + 1);
            lua_pop(L, 1);
        }
        if (sk_table_set_ids_str(t, v))
            sk_lua__errorf(L, "out of memory");
        lua_pop(L, 1);
    } else {
        int64_t *v = lua_newuserdatauv(L, (n ? n : 1) * sizeof *v, 0);
        for (size_t i = 0; i < n; i++) {
            lua_rawgeti(L, ids, (lua_Integer)i + 1);
            if (!lua_isinteger(L, -1))
                sk_lua__errorf(L, "fixture table '%s': ids[%zu] must be an integer", tname, i + 1);
            v[i] = lua_tointeger(L, -1);
            lua_pop(L, 1);
        }
        if (sk_table_set_ids_int(t, v))
            sk_lua__errorf(L, "out of memory");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "periods");
    if (lua_istable(L, -1)) {
        size_t np = lua_rawlen(L, -1);
        int64_t *p = lua_newuserdatauv(L, (np ? np : 1) * sizeof *p, 0);
        for (size_t i = 0; i < np; i++) {
            lua_rawgeti(L, -2, (lua_Integer)i + 1);
            p[i] = (int64_t)lua_tointeger(L, -1);
            lua_pop(L, 1);
        }
        if (sk_table_set_periods(t, np, p))
            sk_lua__errorf(L, "out of memory");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "columns");
    if (!lua_istable(L, -1))
        sk_lua__errorf(L, "fixture table '%s': 'columns' must be a table", tname);
    int cols = lua_gettop(L);
    /* sorted names so the column order does not depend on hashing */
    lua_newtable(L);
    int names = lua_gettop(L);
    size_t nc = 0;
    lua_pushnil(L);
    while (lua_next(L, cols)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, names, (lua_Integer)++nc);
    }
    for (size_t a = 1; a <= nc; a++)
        for (size_t b = a + 1; b <= nc; b++) {
            lua_rawgeti(L, names, (lua_Integer)a);
            lua_rawgeti(L, names, (lua_Integer)b);
            if (strcmp(lua_tostring(L, -1), lua_tostring(L, -2)) < 0) {
                lua_rawseti(L, names, (lua_Integer)a);
                lua_rawseti(L, names, (lua_Integer)b);
            } else
                lua_pop(L, 2);
        }
    for (size_t ci = 1; ci <= nc; ci++) {
        lua_rawgeti(L, names, (lua_Integer)ci);
        const char *cname = lua_tostring(L, -1);
        lua_getfield(L, cols, cname);
        int spec = lua_gettop(L);
        if (!lua_istable(L, spec))
            sk_lua__errorf(L, "fixture column '%s.%s' must be a table {values=...}", tname, cname);
        int is_static = 0;
        lua_getfield(L, spec, "static");
        is_static = lua_toboolean(L, -1);
        lua_pop(L, 1);
        const char *unit = opt_str(L, spec, "unit", "");
        const char *dtype = opt_str(L, spec, "dtype", NULL);
        lua_getfield(L, spec, "values");
        if (!lua_istable(L, -1))
            sk_lua__errorf(L, "fixture column '%s.%s': 'values' must be an array", tname, cname);
        int vals = lua_gettop(L);
        size_t want = is_static ? n : n * (t->nperiods ? t->nperiods : 1);
        size_t have = lua_rawlen(L, vals);
        if (have != want)
            sk_lua__errorf(L, "fixture column '%s.%s': %zu values, expected %zu (%s)", tname, cname,
                       have, want, is_static ? "one per element" : "elements x periods, period-major");
        lua_rawgeti(L, vals, 1);
        int is_str = lua_type(L, -1) == LUA_TSTRING;
        lua_pop(L, 1);
        if (is_str) {
            const char **v = lua_newuserdatauv(L, (want ? want : 1) * sizeof *v, 0);
            for (size_t i = 0; i < want; i++) {
                lua_rawgeti(L, vals, (lua_Integer)i + 1);
                v[i] = lua_tostring(L, -1);
                lua_pop(L, 1);
            }
            if (sk_table_add_str(t, cname, is_static, v))
                sk_lua__errorf(L, "fixture column '%s.%s': duplicate or out of memory", tname, cname);
            lua_pop(L, 1);
        } else if (dtype && strcmp(dtype, "i32") == 0) {
            int32_t *d = is_static ? sk_table_add_static_i32(t, cname, unit)
                                   : sk_table_add_i32(t, cname, unit);
            if (!d)
                sk_lua__errorf(L, "fixture column '%s.%s': duplicate or out of memory", tname, cname);
            for (size_t i = 0; i < want; i++) {
                lua_rawgeti(L, vals, (lua_Integer)i + 1);
                d[i] = (int32_t)lua_tointeger(L, -1);
                lua_pop(L, 1);
            }
        } else {
            double *d = is_static ? sk_table_add_static_f64(t, cname, unit)
                                  : sk_table_add_f64(t, cname, unit);
            if (!d)
                sk_lua__errorf(L, "fixture column '%s.%s': duplicate or out of memory", tname, cname);
            for (size_t i = 0; i < want; i++) {
                lua_rawgeti(L, vals, (lua_Integer)i + 1);
                int ok;
                double x = lua_tonumberx(L, -1, &ok);
                d[i] = ok ? x : NAN;   /* false/nil -> missing value */
                lua_pop(L, 1);
            }
        }
        lua_settop(L, names);
    }
    lua_settop(L, idx);
}

static void fx_meta(lua_State *L, sk_result *r, int idx)
{
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *k = lua_tostring(L, -2);
        int rc = 0;
        if (lua_type(L, -2) != LUA_TSTRING)
            sk_lua__errorf(L, "fixture meta keys must be strings");
        if (lua_isinteger(L, -1))
            rc = sk_result_meta_int(r, k, lua_tointeger(L, -1));
        else if (lua_type(L, -1) == LUA_TNUMBER)
            rc = sk_result_meta_f64(r, k, lua_tonumber(L, -1));
        else if (lua_type(L, -1) == LUA_TBOOLEAN)
            rc = sk_result_meta_bool(r, k, lua_toboolean(L, -1));
        else
            rc = sk_result_meta_str(r, k, luaL_tolstring(L, -1, NULL)), lua_pop(L, 1);
        if (rc)
            sk_lua__errorf(L, "out of memory");
        lua_pop(L, 1);
    }
}

/* Protected: fixture table at 1 -> ctx results and areas. */
static int fx_build(lua_State *L)
{
    fx_ctx *fx = lua_touserdata(L, lua_upvalueindex(1));
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "results");
    int res = lua_gettop(L);
    if (!lua_istable(L, res))
        return sk_lua__errorf(L, "fixture: 'results' must be a table {water = {...}, ...}");
    for (int k = 0; k < 3; k++) {
        lua_getfield(L, res, fx_kernels[k]);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            continue;
        }
        int spec = lua_gettop(L);
        fx->building = sk_result_new(opt_str(L, spec, "kernel", fx_kernels[k]),
                                     opt_str(L, spec, "kernel_version", "fixture"));
        FX_OOM(fx->building);
        sk_result *r = fx->building;
        FX_OOM(sk_result_set_input_hash(r, opt_str(L, spec, "input_hash", "fixture")) == 0);
        lua_getfield(L, spec, "converged");
        r->converged = lua_isnil(L, -1) ? true : lua_toboolean(L, -1);
        lua_getfield(L, spec, "iterations");
        r->iterations = lua_tointeger(L, -1);
        lua_pop(L, 2);
        lua_getfield(L, spec, "meta");
        if (lua_istable(L, -1))
            fx_meta(L, r, lua_gettop(L));
        lua_pop(L, 1);
        lua_getfield(L, spec, "tables");
        if (!lua_istable(L, -1))
            return sk_lua__errorf(L, "fixture: results.%s.tables must be a table", fx_kernels[k]);
        int tabs = lua_gettop(L);
        /* tables in name order */
        for (;;) {
            const char *best = NULL;
            lua_pushnil(L);
            while (lua_next(L, tabs)) {
                lua_pop(L, 1);
                const char *nm = lua_tostring(L, -1);
                if (!sk_result_table(r, nm) && (!best || strcmp(nm, best) < 0))
                    best = nm;
            }
            if (!best)
                break;
            lua_getfield(L, tabs, best);
            fx_table(L, r, best, -1);
            lua_pop(L, 1);
        }
        lua_settop(L, res);
        fx->results[k] = r;
        fx->building = NULL;
    }
    lua_settop(L, 1);
    lua_getfield(L, 1, "areas");
    if (lua_istable(L, -1)) {
        int at = lua_gettop(L);
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        lua_getfield(L, at, "areas");
        int al = lua_gettop(L);
        for (lua_Integer i = 1; lua_istable(L, al) && i <= (lua_Integer)lua_rawlen(L, al); i++) {
            lua_rawgeti(L, al, i);
            lua_getfield(L, -1, "code");
            lua_getfield(L, -2, "name");
            lua_getfield(L, -3, "population");
            lua_pushfstring(L, "area,%s,%s,%s\n", luaL_checkstring(L, -3), luaL_checkstring(L, -2),
                            luaL_checkstring(L, -1));
            lua_replace(L, -5);
            lua_pop(L, 3);
            luaL_addvalue(&b);
        }
        lua_pop(L, 1);
        lua_getfield(L, at, "map");
        int ml = lua_gettop(L);
        for (lua_Integer i = 1; lua_istable(L, ml) && i <= (lua_Integer)lua_rawlen(L, ml); i++) {
            lua_rawgeti(L, ml, i);
            lua_rawgeti(L, -1, 1);
            lua_rawgeti(L, -2, 2);
            lua_rawgeti(L, -3, 3);
            lua_pushfstring(L, "map,%s,%s,%s\n", luaL_checkstring(L, -3), luaL_checkstring(L, -2),
                            luaL_checkstring(L, -1));
            lua_replace(L, -5);
            lua_pop(L, 3);
            luaL_addvalue(&b);
        }
        lua_pop(L, 1);
        luaL_pushresult(&b);
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        sk_error e = SK_ERROR_INIT;
        fx->areas = sk_lua_areas_parse(s, len, "fixture areas", &e);
        if (!fx->areas)
            return sk_lua__errorf(L, "fixture areas: %s", e.msg);
    }
    lua_settop(L, 1);
    lua_getfield(L, 1, "cases");
    fx->ncases = lua_istable(L, -1) ? (lua_Integer)lua_rawlen(L, -1) : 0;
    return 0;
}

/* ---- cases -------------------------------------------------------------- */

typedef struct fx_case {
    lua_Integer index;
    fx_ctx *own;              /* filled when the case brings its own results */
    int has_own;
    char name[128];
    sk_params *params;
    int converged;            /* -1 leave, 0 force false */
    int allow_nonconverged;
    int has_value;
    double value, tol;
    char band[64];
    char expect_error[256];
    char error_kind[16];
    char warning[256];
    size_t narea;
    char area_code[32][32];
    double area_value[32];
    char area_band[32][32];
} fx_case;

static void copy_opt(lua_State *L, int idx, const char *k, char *dst, size_t n)
{
    lua_getfield(L, idx, k);
    if (lua_type(L, -1) == LUA_TSTRING)
        snprintf(dst, n, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
}

/* Protected: fixture at 1, case index upvalue 2 -> fx_case. */
static int fx_read_case(lua_State *L)
{
    fx_case *c = lua_touserdata(L, lua_upvalueindex(1));
    lua_Integer ci = c->index;
    lua_getfield(L, 1, "cases");
    lua_rawgeti(L, -1, ci);
    int t = lua_gettop(L);
    if (!lua_istable(L, t))
        return sk_lua__errorf(L, "fixture: cases[%d] must be a table", (int)ci);
    /* the case's own results, built here (protected) from its table */
    lua_getfield(L, t, "results");
    c->has_own = lua_istable(L, -1);
    lua_pop(L, 1);
    if (c->has_own) {
        lua_pushlightuserdata(L, c->own);
        lua_pushcclosure(L, fx_build, 1);
        lua_pushvalue(L, t);
        lua_call(L, 1, 0);
    }
    snprintf(c->name, sizeof c->name, "case %d", (int)ci);
    copy_opt(L, t, "name", c->name, sizeof c->name);
    lua_getfield(L, t, "converged");
    c->converged = lua_isnil(L, -1) ? -1 : lua_toboolean(L, -1);
    lua_getfield(L, t, "allow_nonconverged");
    c->allow_nonconverged = lua_toboolean(L, -1);
    lua_pop(L, 2);
    copy_opt(L, t, "expect_error", c->expect_error, sizeof c->expect_error);
    copy_opt(L, t, "error_kind", c->error_kind, sizeof c->error_kind);
    lua_getfield(L, t, "params");
    if (lua_istable(L, -1)) {
        int pt = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, pt)) {
            const char *k = lua_tostring(L, -2);
            int rc;
            if (lua_isinteger(L, -1))
                rc = sk_params_set_int(c->params, k, lua_tointeger(L, -1));
            else if (lua_type(L, -1) == LUA_TNUMBER)
                rc = sk_params_set_f64(c->params, k, lua_tonumber(L, -1));
            else if (lua_type(L, -1) == LUA_TBOOLEAN)
                rc = sk_params_set_bool(c->params, k, lua_toboolean(L, -1));
            else
                rc = sk_params_set_str(c->params, k, luaL_checkstring(L, -1));
            if (rc)
                return sk_lua__errorf(L, "out of memory");
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    lua_getfield(L, t, "expect");
    if (lua_istable(L, -1)) {
        int et = lua_gettop(L);
        lua_getfield(L, et, "value");
        if (lua_type(L, -1) == LUA_TNUMBER) {
            c->has_value = 1;
            c->value = lua_tonumber(L, -1);
        }
        lua_getfield(L, et, "tol");
        c->tol = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 1e-9;
        lua_pop(L, 2);
        copy_opt(L, et, "band", c->band, sizeof c->band);
        copy_opt(L, et, "warning", c->warning, sizeof c->warning);
        lua_getfield(L, et, "per_area");
        if (lua_istable(L, -1)) {
            int pa = lua_gettop(L);
            lua_pushnil(L);
            while (lua_next(L, pa) && c->narea < 32) {
                size_t k = c->narea++;
                snprintf(c->area_code[k], sizeof c->area_code[k], "%s", lua_tostring(L, -2));
                if (lua_istable(L, -1)) {      /* {value, band} */
                    lua_getfield(L, -1, "value");
                    c->area_value[k] = lua_isnil(L, -1) ? NAN : lua_tonumber(L, -1);
                    lua_pop(L, 1);
                    copy_opt(L, lua_gettop(L), "band", c->area_band[k], sizeof c->area_band[k]);
                } else
                    c->area_value[k] = lua_tonumber(L, -1);
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
    }
    return 0;
}

static int near(double got, double want, double tol)
{
    if (want != want)
        return got != got;
    return fabs(got - want) <= tol * (fabs(want) > 1 ? fabs(want) : 1);
}

static const sk_meta *meta(const sk_result *r, const char *k)
{
    return r ? sk_result_meta_find(r, k) : NULL;
}

/* Compare one run with the case; detail gets the reason (empty on pass). */
static int fx_compare(const fx_case *c, const sk_result *out, int rc, const sk_lua_error *le,
                      char *detail, size_t dn)
{
    detail[0] = 0;
    if (c->expect_error[0] || c->error_kind[0]) {
        if (rc >= 0) {
            snprintf(detail, dn, "expected an error ('%s'), got success", c->expect_error);
            return 0;
        }
        if (c->expect_error[0] && !strstr(le->message, c->expect_error)) {
            snprintf(detail, dn, "error '%.300s' does not contain '%.200s'", le->message, c->expect_error);
            return 0;
        }
        if (c->error_kind[0] && strcmp(le->kind, c->error_kind) != 0) {
            snprintf(detail, dn, "error kind '%s', expected '%s'", le->kind, c->error_kind);
            return 0;
        }
        snprintf(detail, dn, "refused as expected: %.400s", le->message);
        return 1;
    }
    if (rc < 0) {
        snprintf(detail, dn, "%s error: %.100s%s%.400s", le->kind, le->where, le->where[0] ? ": " : "",
                 le->message);
        return 0;
    }
    const sk_meta *v = meta(out, "value"), *b = meta(out, "band"), *w = meta(out, "warnings");
    if (c->has_value && (!v || !near(v->d, c->value, c->tol))) {
        snprintf(detail, dn, "value %.10g, expected %.10g (tol %g)", v ? v->d : NAN, c->value, c->tol);
        return 0;
    }
    if (c->band[0] && (!b || strcmp(b->s, c->band) != 0)) {
        snprintf(detail, dn, "band '%s', expected '%s'", b ? b->s : "", c->band);
        return 0;
    }
    if (c->warning[0] && (!w || !strstr(w->s, c->warning))) {
        snprintf(detail, dn, "warnings '%s' do not mention '%s'", w ? w->s : "", c->warning);
        return 0;
    }
    const sk_table *at = c->narea ? sk_result_table(out, "areas") : NULL;
    if (c->narea && !at) {
        snprintf(detail, dn, "expected per-area values, got none");
        return 0;
    }
    const sk_column *av = at ? sk_table_column(at, "value") : NULL;
    const sk_column *ab = at ? sk_table_column(at, "band") : NULL;
    for (size_t k = 0; k < c->narea; k++) {
        size_t i = 0;
        while (i < at->nelem && strcmp(at->ids_str[i], c->area_code[k]) != 0)
            i++;
        double got = i < at->nelem && av ? sk_column_get_f64(av, i) : NAN;
        if (!near(got, c->area_value[k], c->tol)) {
            snprintf(detail, dn, "area %s: %.10g, expected %.10g", c->area_code[k], got,
                     c->area_value[k]);
            return 0;
        }
        if (c->area_band[k][0] && (i >= at->nelem || !ab ||
                                   strcmp(((char **)ab->data)[i], c->area_band[k]) != 0)) {
            snprintf(detail, dn, "area %s: band '%s', expected '%s'", c->area_code[k],
                     i < at->nelem && ab ? ((char **)ab->data)[i] : "", c->area_band[k]);
            return 0;
        }
    }
    snprintf(detail, dn, "value %.6g%s%s", v ? v->d : NAN, b && b->s[0] ? " band " : "",
             b ? b->s : "");
    return 1;
}

static int fixture_impl(const sk_lua_plugin_info *plugin, const char *fixture_path,
                        bool isolated, const char *worker_path,
                        sk_lua_report_fn report, void *ud, int *ncases, sk_error *err)
{
    *ncases = 0;
    size_t len;
    char *src = sk_read_file(fixture_path, &len, 64u << 20, err);
    if (!src)
        return err ? err->code : SK_EIO;
    fx_ctx fx;
    memset(&fx, 0, sizeof fx);
    sk_lua_error le;
    int failed = 0, rc = 0;
    sk_lua_limits lim = {0};
    lim.deadline_s = 10;
    sk_lua_host *h = sk_lua__host_new(&lim);
    if (!h) {
        free(src);
        return sk_fail(err, SK_ENOMEM, "%s: cannot create a Lua state", fixture_path);
    }
    const char *base = strrchr(fixture_path, '/') ? strrchr(fixture_path, '/') + 1 : fixture_path;
    if (sk_lua__load_chunk(h, base, src, len, base, &le) != LUA_OK ||
        sk_lua__pcall(h, 0, 1, base, "load", &le) != LUA_OK) {
        rc = sk_fail(err, SK_EINVAL, "%s: %s%s%s", fixture_path, le.where, le.where[0] ? ": " : "",
                     le.message);
        goto out;
    }
    lua_State *L = h->L;
    int fixture = lua_gettop(L);
    lua_pushvalue(L, fixture);
    if (sk_lua__pcall_c(h, fx_build, &fx, 1, 0, base, "load", &le) != LUA_OK) {
        rc = sk_fail(err, SK_EINVAL, "%s: %s", fixture_path, le.message);
        goto out;
    }
    lua_Integer ncase = fx.ncases;
    if (ncase == 0) {
        rc = sk_fail(err, SK_EINVAL, "%s: no cases", fixture_path);
        goto out;
    }
    for (lua_Integer ci = 1; ci <= ncase; ci++) {
        fx_case *c = calloc(1, sizeof *c);
        if (!c || !(c->params = sk_params_new())) {
            free(c);
            rc = sk_fail(err, SK_ENOMEM, "out of memory");
            goto out;
        }
        sk_lua__set_deadline(h, 10);   /* the runs in between use their own states */
        fx_ctx own;
        memset(&own, 0, sizeof own);
        c->index = ci;
        c->own = &own;
        lua_pushvalue(L, fixture);
        if (sk_lua__pcall_c(h, fx_read_case, c, 1, 0, base, "load", &le) != LUA_OK) {
            for (int k = 0; k < 3; k++)
                sk_result_free(own.results[k]);
            sk_result_free(own.building);
            sk_result_free(own.areas);
            sk_params_free(c->params);
            free(c);
            rc = sk_fail(err, SK_EINVAL, "%s: case %d: %s", fixture_path, (int)ci, le.message);
            goto out;
        }
        /* a case may bring its own results (areas stay the fixture's) */
        fx_ctx *use = c->has_own ? &own : &fx;
        bool saved[3];
        const sk_result *inputs[3];
        size_t ni = 0;
        for (int k = 0; k < 3; k++) {
            if (!use->results[k])
                continue;
            saved[k] = use->results[k]->converged;
            if (c->converged == 0)
                use->results[k]->converged = false;
            inputs[ni++] = use->results[k];
        }
        sk_lua_job job;
        memset(&job, 0, sizeof job);
        job.plugin = plugin;
        job.results = inputs;
        job.nresults = ni;
        job.params = c->params;
        job.areas = fx.areas;
        job.allow_nonconverged = c->allow_nonconverged;
        job.worker_path = worker_path;
        sk_result *out = NULL;
        memset(&le, 0, sizeof le);
        int r = isolated ? sk_lua_run_isolated(&job, &out, &le) : sk_lua_run(&job, &out, &le);
        for (int k = 0; k < 3; k++)
            if (use->results[k])
                use->results[k]->converged = saved[k];
        for (int k = 0; k < 3; k++)
            sk_result_free(own.results[k]);
        char detail[700];
        int pass = fx_compare(c, out, r, &le, detail, sizeof detail);
        failed += !pass;
        (*ncases)++;
        if (report)
            report(ud, pass, plugin->name, c->name, detail);
        sk_result_free(out);
        sk_params_free(c->params);
        free(c);
    }
out:
    sk_lua__host_free(h);
    for (int k = 0; k < 3; k++)
        sk_result_free(fx.results[k]);
    sk_result_free(fx.building);
    sk_result_free(fx.areas);
    free(src);
    return rc < 0 ? rc : failed;
}

int sk_lua_fixture_test(const sk_lua_plugin_info *plugin, const char *fixture_path,
                        bool isolated, const char *worker_path,
                        sk_lua_report_fn report, void *ud, int *ncases, sk_error *err)
{
    sk_lua_locale loc;
    sk_lua__c_locale_enter(&loc);
    int rc = fixture_impl(plugin, fixture_path, isolated, worker_path, report, ud, ncases, err);
    sk_lua__c_locale_leave(&loc);
    return rc;
}
