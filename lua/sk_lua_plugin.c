/* sk_lua_plugin.c - plugin files: load in the sandbox, validate the metadata
 * with precise errors, and run compute(results, params, ctx) into an
 * "indicator" sk_result (layout in sk_lua.h and docs/plugins.md). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_csv.h"
#include "sk_lua_internal.h"

#define SK_LUA_MAX_SOURCE (4u << 20)

static const char *basename_of(const char *p)
{
    const char *s = p ? strrchr(p, '/') : NULL;
    return s ? s + 1 : (p ? p : "plugin");
}

/* ---- metadata ------------------------------------------------------------- */

typedef struct meta_ctx {
    const char *file;
    sk_lua_plugin_info *pi;
} meta_ctx;

static char *dupz(const char *s)
{
    return strdup(s ? s : "");
}

static const char *const known_fields[] = {
    "api_level", "name", "version", "title", "description", "unit", "formula",
    "source", "sdg", "u4ssc", "needs", "params", "bands", "deadline_s", "compute",
    NULL,
};

/* Get field k of the table at idx (raw: no plugin code runs); error unless
 * its type is `want` (or nil when optional). */
static int field(lua_State *L, int idx, const char *path, const char *k, int want, int optional)
{
    const meta_ctx *m = lua_touserdata(L, lua_upvalueindex(1));
    lua_pushstring(L, k);
    int t = lua_rawget(L, idx);
    if (t == LUA_TNIL && optional)
        return 0;
    if (t != want)
        sk_lua__errorf(L, "%s: field '%s%s%s' must be a %s, got %s", m->file, path,
                   path[0] ? "." : "", k, lua_typename(L, want), lua_typename(L, t));
    return 1;
}

static char *str_field(lua_State *L, int idx, const char *path, const char *k, int optional)
{
    char *s = NULL;
    if (field(L, idx, path, k, LUA_TSTRING, optional))
        s = strdup(lua_tostring(L, -1));
    else
        s = strdup("");
    lua_pop(L, 1);
    if (!s)
        sk_lua__errorf(L, "out of memory");
    return s;
}

static double num_field(lua_State *L, int idx, const char *path, const char *k, double def)
{
    double v = def;
    if (field(L, idx, path, k, LUA_TNUMBER, 1))
        v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

/* Runs protected; the plugin's table is at 1. */
static int meta_read(lua_State *L)
{
    meta_ctx *m = lua_touserdata(L, lua_upvalueindex(1));
    sk_lua_plugin_info *pi = m->pi;
    const char *f = m->file;
    if (!lua_istable(L, 1))
        return sk_lua__errorf(L, "%s: the plugin must return a table (got %s)", f, luaL_typename(L, 1));
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            return sk_lua__errorf(L, "%s: top-level keys must be field names", f);
        const char *k = lua_tostring(L, -1);
        int ok = 0;
        for (const char *const *p = known_fields; *p; p++)
            ok |= strcmp(*p, k) == 0;
        if (!ok)
            return sk_lua__errorf(L, "%s: unknown field '%s'", f, k);
    }
    field(L, 1, "", "api_level", LUA_TNUMBER, 0);
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1)
        return sk_lua__errorf(L, "%s: field 'api_level' must be a positive integer", f);
    pi->api_level = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (pi->api_level > SK_LUA_API_LEVEL)
        return sk_lua__errorf(L, "%s: plugin needs api_level %d; this host offers %d", f,
                          pi->api_level, SK_LUA_API_LEVEL);
    pi->name = str_field(L, 1, "", "name", 0);
    size_t nl = strlen(pi->name);
    if (nl == 0 || nl > 64 || !(pi->name[0] >= 'a' && pi->name[0] <= 'z') ||
        strspn(pi->name, "abcdefghijklmnopqrstuvwxyz0123456789_") != nl)
        return sk_lua__errorf(L, "%s: field 'name' must match [a-z][a-z0-9_]* (at most 64), got '%s'",
                          f, pi->name);
    pi->version = str_field(L, 1, "", "version", 0);
    pi->title = str_field(L, 1, "", "title", 0);
    pi->description = str_field(L, 1, "", "description", 0);
    pi->unit = str_field(L, 1, "", "unit", 0);
    pi->formula = str_field(L, 1, "", "formula", 0);
    pi->source_def = str_field(L, 1, "", "source", 0);
    if (!pi->version[0] || !pi->title[0] || !pi->formula[0] || !pi->source_def[0])
        return sk_lua__errorf(L, "%s: fields 'version', 'title', 'formula' and 'source' must not be empty", f);
    if (field(L, 1, "", "sdg", LUA_TTABLE, 1)) {
        pi->sdg_code = str_field(L, lua_gettop(L), "sdg", "code", 0);
        pi->sdg_name = str_field(L, lua_gettop(L), "sdg", "name", 0);
    }
    lua_pop(L, 1);
    if (field(L, 1, "", "u4ssc", LUA_TTABLE, 1)) {
        pi->u4ssc_code = str_field(L, lua_gettop(L), "u4ssc", "code", 0);
        pi->u4ssc_name = str_field(L, lua_gettop(L), "u4ssc", "name", 0);
    }
    lua_pop(L, 1);
    if (!pi->sdg_code && !(pi->sdg_code = strdup("")))
        return sk_lua__errorf(L, "out of memory");
    if (!pi->sdg_name && !(pi->sdg_name = strdup("")))
        return sk_lua__errorf(L, "out of memory");
    if (!pi->u4ssc_code && !(pi->u4ssc_code = strdup("")))
        return sk_lua__errorf(L, "out of memory");
    if (!pi->u4ssc_name && !(pi->u4ssc_name = strdup("")))
        return sk_lua__errorf(L, "out of memory");

    field(L, 1, "", "needs", LUA_TTABLE, 0);
    int nt = lua_gettop(L);
    lua_Integer nn = (lua_Integer)lua_rawlen(L, nt);
    if (nn < 1)
        return sk_lua__errorf(L, "%s: field 'needs' must list at least one of water, power, traffic", f);
    for (lua_Integer i = 1; i <= nn; i++) {
        lua_rawgeti(L, nt, i);
        const char *s = lua_tostring(L, -1);
        if (lua_type(L, -1) != LUA_TSTRING)
            return sk_lua__errorf(L, "%s: field 'needs[%d]' must be a string", f, (int)i);
        if (strcmp(s, "water") == 0) pi->needs |= SK_LUA_NEEDS_WATER;
        else if (strcmp(s, "power") == 0) pi->needs |= SK_LUA_NEEDS_POWER;
        else if (strcmp(s, "traffic") == 0) pi->needs |= SK_LUA_NEEDS_TRAFFIC;
        else
            return sk_lua__errorf(L, "%s: field 'needs[%d]': '%s' is not one of water, power, traffic",
                              f, (int)i, s);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);

    double dl = num_field(L, 1, "", "deadline_s", 0);
    if (dl < 0 || dl > 600)
        return sk_lua__errorf(L, "%s: field 'deadline_s' must be in (0, 600]", f);
    pi->deadline_s = dl;

    if (field(L, 1, "", "params", LUA_TTABLE, 1)) {
        int pt = lua_gettop(L);
        size_t np = 0;
        lua_pushnil(L);
        while (lua_next(L, pt)) {
            lua_pop(L, 1);
            np++;
        }
        pi->params = calloc(np ? np : 1, sizeof *pi->params);
        if (!pi->params)
            return sk_lua__errorf(L, "out of memory");
        lua_pushnil(L);
        while (lua_next(L, pt)) {
            if (lua_type(L, -2) != LUA_TSTRING)
                return sk_lua__errorf(L, "%s: field 'params' must be keyed by parameter name", f);
            const char *pn = lua_tostring(L, -2);
            char path[96];
            snprintf(path, sizeof path, "params.%s", pn);
            if (!lua_istable(L, -1))
                return sk_lua__errorf(L, "%s: field '%s' must be a table {default=..., min=..., max=...}", f, path);
            int it = lua_gettop(L);
            sk_lua_param_info *p = &pi->params[pi->nparams++];
            p->name = strdup(pn);
            if (!p->name)
                return sk_lua__errorf(L, "out of memory");
            p->unit = str_field(L, it, path, "unit", 1);
            p->description = str_field(L, it, path, "description", 0);
            p->min = -INFINITY;
            p->max = INFINITY;
            lua_getfield(L, it, "default");
            int dt = lua_type(L, -1);
            const char *ty = dt == LUA_TNUMBER ? "number"
                           : dt == LUA_TBOOLEAN ? "boolean" : dt == LUA_TSTRING ? "string" : NULL;
            if (!ty)
                return sk_lua__errorf(L, "%s: field '%s.default' must be a number, boolean or string, got %s",
                                  f, path, lua_typename(L, dt));
            /* "integer" only when declared: a default of 20 must still accept 20.5 */
            lua_getfield(L, it, "type");
            if (lua_type(L, -1) == LUA_TSTRING) {
                const char *dty = lua_tostring(L, -1);
                if (strcmp(dty, "integer") == 0 && dt == LUA_TNUMBER && lua_isinteger(L, -2))
                    ty = "integer";
                else if (strcmp(dty, ty) != 0)
                    return sk_lua__errorf(L, "%s: field '%s.type' is '%s' but the default is a %s",
                                          f, path, dty, lua_typename(L, dt));
            } else if (!lua_isnil(L, -1))
                return sk_lua__errorf(L, "%s: field '%s.type' must be a string", f, path);
            lua_pop(L, 1);
            p->type = strdup(ty);
            p->def_str = strdup(dt == LUA_TSTRING ? lua_tostring(L, -1) : "");
            if (!p->type || !p->def_str)
                return sk_lua__errorf(L, "out of memory");
            if (dt == LUA_TNUMBER)
                p->def = lua_tonumber(L, -1);
            else if (dt == LUA_TBOOLEAN)
                p->def = lua_toboolean(L, -1);
            lua_pop(L, 1);
            p->min = num_field(L, it, path, "min", -INFINITY);
            p->max = num_field(L, it, path, "max", INFINITY);
            if (dt == LUA_TNUMBER && !(p->def >= p->min && p->def <= p->max))
                return sk_lua__errorf(L, "%s: field '%s.default' %g is outside [%g, %g]", f, path,
                                  p->def, p->min, p->max);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);

    if (field(L, 1, "", "bands", LUA_TTABLE, 1)) {
        int bt = lua_gettop(L);
        size_t nb = (size_t)lua_rawlen(L, bt);
        pi->bands = calloc(nb ? nb : 1, sizeof *pi->bands);
        if (!pi->bands)
            return sk_lua__errorf(L, "out of memory");
        for (size_t i = 1; i <= nb; i++) {
            char path[32];
            snprintf(path, sizeof path, "bands[%zu]", i);
            lua_rawgeti(L, bt, (lua_Integer)i);
            if (!lua_istable(L, -1))
                return sk_lua__errorf(L, "%s: field '%s' must be a table {label=, min=, max=}", f, path);
            int it = lua_gettop(L);
            sk_lua_band_info *b = &pi->bands[pi->nbands++];
            b->label = str_field(L, it, path, "label", 0);
            b->min = num_field(L, it, path, "min", -INFINITY);
            b->max = num_field(L, it, path, "max", INFINITY);
            if (!b->label[0] || b->min > b->max)
                return sk_lua__errorf(L, "%s: field '%s' needs a label and min <= max", f, path);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    field(L, 1, "", "compute", LUA_TFUNCTION, 0);
    lua_pop(L, 1);
    return 0;
}

static void info_clear(sk_lua_plugin_info *pi)
{
    free(pi->path); free(pi->name); free(pi->version); free(pi->title);
    free(pi->description); free(pi->unit); free(pi->formula); free(pi->source_def);
    free(pi->sdg_code); free(pi->sdg_name); free(pi->u4ssc_code); free(pi->u4ssc_name);
    for (size_t i = 0; i < pi->nparams; i++) {
        free(pi->params[i].name); free(pi->params[i].type); free(pi->params[i].unit);
        free(pi->params[i].description); free(pi->params[i].def_str);
    }
    free(pi->params);
    for (size_t i = 0; i < pi->nbands; i++)
        free(pi->bands[i].label);
    free(pi->bands);
    free(pi->source);
}

void sk_lua_plugin_info_free(sk_lua_plugin_info *pi)
{
    if (!pi)
        return;
    info_clear(pi);
    free(pi);
}

/* Load the plugin into h and leave its table on the stack; fill pi. */
static int load_plugin(sk_lua_host *h, const char *path, const char *src, size_t len,
                       sk_lua_plugin_info *pi, sk_lua_error *err)
{
    const char *file = basename_of(path);
    if (sk_lua__load_chunk(h, file, src, len, file, err) != LUA_OK)
        return err && err->code ? err->code : SK_EINVAL;
    if (sk_lua__pcall(h, 0, 1, file, "load", err) != LUA_OK)
        return err && err->code ? err->code : SK_EINVAL;
    meta_ctx m = {file, pi};
    lua_pushvalue(h->L, -1);
    if (sk_lua__pcall_c(h, meta_read, &m, 1, 0, file, "metadata", err) != LUA_OK) {
        lua_pop(h->L, 1);
        return err && err->code ? err->code : SK_EINVAL;
    }
    if (err)
        snprintf(err->plugin, sizeof err->plugin, "%s", pi->name);
    return 0;
}

static char *read_source(const char *path, size_t *len, sk_lua_error *err)
{
    sk_error e = SK_ERROR_INIT;
    char *s = sk_read_file(path, len, SK_LUA_MAX_SOURCE, &e);
    if (!s)
        sk_lua__err(err, e.code ? e.code : SK_EIO, "load", basename_of(path), "%s", e.msg);
    return s;
}

static int check_impl(const char *path, const char *src, size_t len,
                      const sk_lua_limits *lim, sk_lua_plugin_info **out, sk_lua_error *err)
{
    *out = NULL;
    sk_lua_plugin_info *pi = calloc(1, sizeof *pi);
    if (!pi) {
        sk_lua__err(err, SK_ENOMEM, "host", basename_of(path), "out of memory");
        return SK_ENOMEM;
    }
    pi->path = dupz(path);
    if (src) {
        pi->source = malloc(len + 1);
        if (pi->source) {
            memcpy(pi->source, src, len);
            pi->source[len] = 0;
        }
        pi->source_len = len;
    } else {
        pi->source = read_source(path, &pi->source_len, err);
        if (!pi->source) {
            sk_lua_plugin_info_free(pi);
            return err && err->code ? err->code : SK_EIO;
        }
    }
    if (!pi->path || !pi->source) {
        sk_lua_plugin_info_free(pi);
        sk_lua__err(err, SK_ENOMEM, "host", basename_of(path), "out of memory");
        return SK_ENOMEM;
    }
    sk_lua_hash(pi->source, pi->source_len, pi->hash);
    sk_lua_host *h = sk_lua__host_new(lim);
    if (!h) {
        sk_lua_plugin_info_free(pi);
        sk_lua__err(err, SK_ENOMEM, "memory", basename_of(path), "cannot create a Lua state");
        return SK_ENOMEM;
    }
    int rc = load_plugin(h, path, pi->source, pi->source_len, pi, err);
    sk_lua__host_free(h);
    if (rc < 0) {
        sk_lua_plugin_info_free(pi);
        return rc;
    }
    *out = pi;
    return 0;
}

int sk_lua_plugin_check(const char *path, const char *src, size_t len,
                        const sk_lua_limits *lim, sk_lua_plugin_info **out, sk_lua_error *err)
{
    sk_lua_locale loc;
    sk_lua__c_locale_enter(&loc);
    int rc = check_impl(path, src, len, lim, out, err);
    sk_lua__c_locale_leave(&loc);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int sk_lua_plugin_dir_load(const char *dir, const sk_lua_limits *lim,
                           sk_lua_plugin_dir **out, sk_error *err)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d)
        return sk_fail(err, SK_EIO, "%s: cannot open plugin directory", dir);
    size_t n = 0, cap = 0;
    char **names = NULL;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".lua") != 0 || de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                rc = SK_ENOMEM;
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = SK_ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    sk_lua_plugin_dir *pd = rc ? NULL : calloc(1, sizeof *pd);
    if (pd && n && !(pd->items = calloc(n, sizeof *pd->items)))
        rc = SK_ENOMEM;
    if (!pd || rc) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
        free(pd);
        return sk_fail(err, SK_ENOMEM, "%s: out of memory listing plugins", dir);
    }
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        sk_lua_plugin_entry *e = &pd->items[pd->n++];
        e->file = names[i];
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        sk_lua_plugin_check(path, NULL, 0, lim, &e->info, &e->error);
    }
    free(names);
    /* Two files claiming one name would silently shadow each other. */
    for (size_t i = 0; i < pd->n; i++)
        for (size_t j = 0; j < i; j++)
            if (pd->items[i].info && pd->items[j].info &&
                strcmp(pd->items[i].info->name, pd->items[j].info->name) == 0) {
                sk_lua__err(&pd->items[i].error, SK_EINVAL, "metadata", pd->items[i].info->name,
                            "%s: name '%s' is already used by %s", pd->items[i].file,
                            pd->items[i].info->name, pd->items[j].file);
                sk_lua_plugin_info_free(pd->items[i].info);
                pd->items[i].info = NULL;
            }
    *out = pd;
    return 0;
}

void sk_lua_plugin_dir_free(sk_lua_plugin_dir *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].file);
        sk_lua_plugin_info_free(d->items[i].info);
    }
    free(d->items);
    free(d);
}

const sk_lua_plugin_info *sk_lua_plugin_dir_find(const sk_lua_plugin_dir *d, const char *name)
{
    for (size_t i = 0; d && i < d->n; i++)
        if (d->items[i].info && strcmp(d->items[i].info->name, name) == 0)
            return d->items[i].info;
    return NULL;
}

/* ---- running -------------------------------------------------------------- */

typedef struct run_ctx {
    const sk_lua_job *job;
    const sk_lua_plugin_info *pi;
    const sk_result *inputs[3];      /* water, power, traffic */
    sk_result *out;
    char warnings[2048];
} run_ctx;

static const char *const need_names[3] = {"water", "power", "traffic"};

static const char *kernel_key(const sk_result *r)
{
    const char *k = r && r->kernel ? r->kernel : "";
    if (strncmp(k, "sim.", 4) == 0)
        k += 4;
    return k;
}

static void warn_add(run_ctx *rc, const char *msg)
{
    size_t l = strlen(rc->warnings);
    if (l + 3 >= sizeof rc->warnings)
        return;
    snprintf(rc->warnings + l, sizeof rc->warnings - l, "%s%s", l ? "; " : "", msg);
}

static int ctx_warn(lua_State *L)
{
    run_ctx *rc = lua_touserdata(L, lua_upvalueindex(1));
    warn_add(rc, luaL_checkstring(L, 1));
    return 0;
}

static const sk_column *areas_col(const sk_result *a, const char *name)
{
    const sk_table *t = a ? sk_result_table(a, "areas") : NULL;
    sk_column *c = t ? sk_table_column(t, name) : NULL;
    return c && c->len >= t->nelem ? c : NULL;
}

/* Build results, params and ctx (protected); params checked against the
 * declared ones.  Stack in: the plugin table.  Out: compute, results,
 * params, ctx. */
static int push_args(lua_State *L)
{
    run_ctx *rc = lua_touserdata(L, lua_upvalueindex(1));
    lua_pushliteral(L, "compute");
    lua_rawget(L, 1);
    lua_replace(L, 1);
    lua_settop(L, 1);
    const sk_lua_plugin_info *pi = rc->pi;
    const sk_params *jp = rc->job->params;

    lua_newtable(L);                                /* results */
    for (int k = 0; k < 3; k++)
        if (rc->inputs[k]) {
            sk_lua__push_result(L, rc->inputs[k], need_names[k]);
            lua_setfield(L, -2, need_names[k]);
        }
    sk_lua__readonly(L, -1);
    lua_pop(L, 1);

    lua_newtable(L);                                /* params */
    for (size_t i = 0; jp && i < jp->n; i++) {
        const char *k = jp->items[i].key;
        if (k[0] == '_')
            continue;                               /* host-level keys */
        int known = 0;
        for (size_t j = 0; j < pi->nparams; j++)
            known |= strcmp(pi->params[j].name, k) == 0;
        if (!known) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (size_t j = 0; j < pi->nparams; j++) {
                if (j)
                    luaL_addstring(&b, ", ");
                luaL_addstring(&b, pi->params[j].name);
            }
            luaL_pushresult(&b);
            return sk_lua__errorf(L, "unknown param '%s' (plugin declares: %s)", k,
                              pi->nparams ? lua_tostring(L, -1) : "none");
        }
    }
    for (size_t j = 0; j < pi->nparams; j++) {
        const sk_lua_param_info *p = &pi->params[j];
        sk_error e = SK_ERROR_INIT;
        int r = 0;
        if (strcmp(p->type, "number") == 0 || strcmp(p->type, "integer") == 0) {
            double v;
            r = sk_params_get_f64(jp, p->name, p->def, p->min, p->max, &v, &e);
            if (!r && strcmp(p->type, "integer") == 0 && v != floor(v))
                r = sk_fail(&e, SK_EINVAL, "param '%s': %g is not an integer", p->name, v);
            if (!r && strcmp(p->type, "integer") == 0)
                lua_pushinteger(L, (lua_Integer)v);
            else if (!r)
                lua_pushnumber(L, v);
        } else if (strcmp(p->type, "boolean") == 0) {
            bool v;
            r = sk_params_get_bool(jp, p->name, p->def != 0, &v, &e);
            if (!r)
                lua_pushboolean(L, v);
        } else {
            lua_pushstring(L, jp ? sk_params_get_str(jp, p->name, p->def_str) : p->def_str);
        }
        if (r)
            return sk_lua__errorf(L, "%s", e.msg);
        lua_setfield(L, -2, p->name);
    }
    sk_lua__readonly(L, -1);
    lua_pop(L, 1);

    lua_newtable(L);                                /* ctx */
    const sk_result *a = rc->job->areas;
    sk_lua__push_areas(L, a);
    lua_setfield(L, -2, "areas");
    const sk_table *at = a ? sk_result_table(a, "areas") : NULL;
    const sk_column *an = areas_col(a, "name"), *ap = areas_col(a, "population");
    lua_newtable(L);
    lua_newtable(L);
    lua_newtable(L);
    for (size_t i = 0; at && at->ids_str && i < at->nelem; i++) {
        lua_pushstring(L, at->ids_str[i]);
        lua_rawseti(L, -4, (lua_Integer)i + 1);
        if (an && an->dtype == SK_DT_STR) {
            lua_pushstring(L, ((char **)an->data)[i]);
            lua_setfield(L, -3, at->ids_str[i]);
        }
        if (ap && ap->dtype != SK_DT_STR) {
            lua_pushnumber(L, sk_column_get_f64(ap, i));
            lua_setfield(L, -2, at->ids_str[i]);
        }
    }
    lua_setfield(L, -4, "population");
    lua_setfield(L, -3, "area_names");
    lua_setfield(L, -2, "area_codes");
    lua_newtable(L);
    int all_conv = 1;
    for (int k = 0; k < 3; k++) {
        const sk_result *r = rc->inputs[k];
        if (!r)
            continue;
        all_conv &= r->converged;
        lua_newtable(L);
        lua_pushboolean(L, r->converged);
        lua_setfield(L, -2, "converged");
        lua_pushstring(L, r->kernel_version ? r->kernel_version : "");
        lua_setfield(L, -2, "kernel_version");
        lua_pushstring(L, r->input_hash ? r->input_hash : "");
        lua_setfield(L, -2, "input_hash");
        lua_pushinteger(L, r->iterations);
        lua_setfield(L, -2, "iterations");
        lua_setfield(L, -2, need_names[k]);
    }
    lua_setfield(L, -2, "inputs");
    lua_pushboolean(L, all_conv);
    lua_setfield(L, -2, "converged");
    lua_newtable(L);
    lua_pushstring(L, pi->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, pi->version);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, pi->hash);
    lua_setfield(L, -2, "hash");
    lua_setfield(L, -2, "plugin");
    lua_pushlightuserdata(L, rc);
    lua_pushcclosure(L, ctx_warn, 1);
    lua_setfield(L, -2, "warn");
    sk_lua__readonly(L, -1);
    lua_pop(L, 1);
    return 4;
}

static const char *band_of(const sk_lua_plugin_info *pi, double v)
{
    if (v != v)
        return "";
    for (size_t i = 0; i < pi->nbands; i++)
        if (v >= pi->bands[i].min && v <= pi->bands[i].max)
            return pi->bands[i].label;
    return "";
}

static int num_of(lua_State *L, int idx, double *v)
{
    int ok;
    *v = lua_tonumberx(L, idx, &ok);
    return ok && lua_type(L, idx) == LUA_TNUMBER;
}

#define OUT_CHECK(x) do { if (!(x)) return sk_lua__errorf(L, "out of memory building the result"); } while (0)

/* Read compute's return (at 1) into rc->out (protected). */
static int read_output(lua_State *L)
{
    run_ctx *rc = lua_touserdata(L, lua_upvalueindex(1));
    const sk_lua_plugin_info *pi = rc->pi;
    sk_result *out = rc->out;
    double value;
    if (lua_type(L, 1) == LUA_TNUMBER) {
        lua_newtable(L);
        lua_pushvalue(L, 1);
        lua_setfield(L, -2, "value");
        lua_replace(L, 1);
    }
    if (!lua_istable(L, 1))
        return sk_lua__errorf(L, "compute must return a table {value = number, ...}, got %s",
                          luaL_typename(L, 1));
    lua_getfield(L, 1, "value");
    if (!num_of(L, -1, &value))
        return sk_lua__errorf(L, "compute's 'value' must be a number, got %s", luaL_typename(L, -1));
    lua_pop(L, 1);
    const char *band = band_of(pi, value);
    lua_getfield(L, 1, "band");
    if (lua_type(L, -1) == LUA_TSTRING)
        band = lua_tostring(L, -1);
    else if (!lua_isnil(L, -1))
        return sk_lua__errorf(L, "compute's 'band' must be a string");
    OUT_CHECK(sk_result_meta_f64(out, "value", value) == 0);
    OUT_CHECK(sk_result_meta_str(out, "band", band) == 0);
    lua_pop(L, 1);
    lua_getfield(L, 1, "notes");
    if (lua_type(L, -1) == LUA_TSTRING)
        warn_add(rc, lua_tostring(L, -1));
    lua_pop(L, 1);

    /* per-area values, in region order when the job has areas */
    lua_getfield(L, 1, "per_area");
    if (lua_istable(L, -1)) {
        int pa = lua_gettop(L);
        const sk_result *a = rc->job->areas;
        const sk_table *at = a ? sk_result_table(a, "areas") : NULL;
        lua_pushnil(L);
        while (lua_next(L, pa)) {
            double v;
            if (lua_type(L, -2) != LUA_TSTRING || !num_of(L, -1, &v))
                return sk_lua__errorf(L, "per_area must map area code (string) -> number");
            int found = !at;
            for (size_t i = 0; at && i < at->nelem; i++)
                found |= strcmp(at->ids_str[i], lua_tostring(L, -2)) == 0;
            if (!found)
                return sk_lua__errorf(L, "per_area: '%s' is not an area of this job", lua_tostring(L, -2));
            lua_pop(L, 1);
        }
        size_t n = 0;
        const char **codes = NULL;
        if (at) {
            n = at->nelem;
            codes = (const char **)at->ids_str;
        } else {
            lua_pushnil(L);
            while (lua_next(L, pa)) {
                lua_pop(L, 1);
                n++;
            }
            codes = lua_newuserdatauv(L, (n ? n : 1) * sizeof *codes, 0);
            size_t k = 0;
            lua_pushnil(L);
            while (lua_next(L, pa)) {
                lua_pop(L, 1);
                codes[k++] = lua_tostring(L, -1);
            }
            qsort(codes, n, sizeof *codes, cmp_str);
        }
        sk_table *t = sk_result_add_table(out, "areas", "area", "area", n);
        OUT_CHECK(t);
        OUT_CHECK(sk_table_set_ids_str(t, codes) == 0);
        double *vals = sk_table_add_f64(t, "value", pi->unit);
        OUT_CHECK(vals);
        const char **bands = lua_newuserdatauv(L, (n ? n : 1) * sizeof *bands, 0);
        for (size_t i = 0; i < n; i++) {
            lua_getfield(L, pa, codes[i]);
            vals[i] = lua_isnil(L, -1) ? NAN : lua_tonumber(L, -1);
            bands[i] = band_of(pi, vals[i]);
            lua_pop(L, 1);
        }
        OUT_CHECK(sk_table_add_str(t, "band", false, bands) == 0);
        const sk_column *an = areas_col(a, "name"), *ap = areas_col(a, "population");
        if (an && an->dtype == SK_DT_STR)
            OUT_CHECK(sk_table_add_str(t, "name", false, (const char *const *)an->data) == 0);
        if (ap && ap->dtype != SK_DT_STR) {
            double *pop = sk_table_add_f64(t, "population", "");
            OUT_CHECK(pop);
            for (size_t i = 0; i < n; i++)
                pop[i] = sk_column_get_f64(ap, i);
        }
    } else if (!lua_isnil(L, -1))
        return sk_lua__errorf(L, "compute's 'per_area' must be a table");
    lua_pop(L, 1);

    /* optional per-element detail: a column, or {table=, result=, values=} */
    lua_getfield(L, 1, "detail");
    if (!lua_isnil(L, -1)) {
        int dt = lua_gettop(L);
        sk_lua_colview v;
        const sk_table *src = NULL;
        int vidx = dt;
        if (lua_istable(L, dt)) {
            lua_getfield(L, dt, "values");
            vidx = lua_gettop(L);
            lua_getfield(L, dt, "result");
            lua_getfield(L, dt, "table");
            const char *rk = lua_tostring(L, -2), *tn = lua_tostring(L, -1);
            for (int k = 0; tn && k < 3; k++)
                if (rc->inputs[k] && (!rk || strcmp(rk, need_names[k]) == 0) &&
                    (src = sk_result_table(rc->inputs[k], tn)))
                    break;
            if (tn && !src)
                return sk_lua__errorf(L, "detail: no table '%s' in the inputs", tn);
            lua_pop(L, 2);
        }
        int is_col = sk_lua__column_view(L, vidx, &v);
        if (is_col && !src)
            src = v.table;
        if (!src)
            return sk_lua__errorf(L, "detail: give a column of a result table, or {table=, values=}");
        size_t n = src->nelem;
        size_t have = is_col ? v.len : (lua_istable(L, vidx) ? (size_t)lua_rawlen(L, vidx) : 0);
        if (have != n)
            return sk_lua__errorf(L, "detail: %zu values for %zu elements of '%s' (one per element; "
                                 "use per_element() on per-period columns)", have, n, src->name);
        sk_table *t = sk_result_add_table(out, "detail", src->kind, src->id_name, n);
        OUT_CHECK(t);
        if (src->ids_str)
            OUT_CHECK(sk_table_set_ids_str(t, (const char *const *)src->ids_str) == 0);
        else if (src->ids_int)
            OUT_CHECK(sk_table_set_ids_int(t, src->ids_int) == 0);
        double *d = sk_table_add_f64(t, "value", pi->unit);
        OUT_CHECK(d);
        for (size_t i = 0; i < n; i++) {
            if (is_col)
                d[i] = sk_lua__colview_get(&v, i);
            else {
                lua_rawgeti(L, vidx, (lua_Integer)i + 1);
                d[i] = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : NAN;
                lua_pop(L, 1);
            }
        }
    }
    lua_pop(L, 1);
    return 0;
}

static int out_meta(run_ctx *rc, sk_lua_host *h, double t0)
{
    sk_result *o = rc->out;
    const sk_lua_plugin_info *pi = rc->pi;
    int conv = 1;
    char hashes[1024] = "";
    for (int k = 0; k < 3; k++)
        if (rc->inputs[k]) {
            conv &= rc->inputs[k]->converged;
            size_t l = strlen(hashes);
            snprintf(hashes + l, sizeof hashes - l, "%s%s=%s", l ? ";" : "", need_names[k],
                     rc->inputs[k]->input_hash ? rc->inputs[k]->input_hash : "");
        }
    o->converged = conv;
    int r = 0;
    r |= sk_result_set_input_hash(o, hashes);
    r |= sk_result_meta_str(o, "plugin", pi->name);
    r |= sk_result_meta_str(o, "plugin_version", pi->version);
    r |= sk_result_meta_str(o, "plugin_hash", pi->hash);
    r |= sk_result_meta_int(o, "api_level", pi->api_level);
    r |= sk_result_meta_str(o, "unit", pi->unit);
    r |= sk_result_meta_str(o, "title", pi->title);
    r |= sk_result_meta_str(o, "sdg_code", pi->sdg_code);
    r |= sk_result_meta_str(o, "u4ssc_code", pi->u4ssc_code);
    r |= sk_result_meta_bool(o, "inputs_converged", conv);
    r |= sk_result_meta_str(o, "warnings", rc->warnings);
    r |= sk_result_meta_str(o, "log", h->log ? h->log : "");
    r |= sk_result_meta_f64(o, "elapsed_s", sk_lua__now() - t0);
    r |= sk_result_meta_int(o, "mem_peak_bytes", (int64_t)h->mem_peak);
    return r ? SK_ENOMEM : 0;
}

static int run_impl(const sk_lua_job *job, sk_result **out, sk_lua_error *err)
{
    *out = NULL;
    double t0 = sk_lua__now();
    sk_lua_plugin_info *owned = NULL;
    const sk_lua_plugin_info *pi = job->plugin;
    if (!pi && !job->plugin_path) {
        sk_lua__err(err, SK_EINVAL, "host", "", "job names no plugin (plugin or plugin_path)");
        return SK_EINVAL;
    }
    if (!pi) {
        int rc = sk_lua_plugin_check(job->plugin_path, NULL, 0, &job->limits, &owned, err);
        if (rc < 0)
            return rc;
        pi = owned;
    }
    run_ctx rc;
    memset(&rc, 0, sizeof rc);
    rc.job = job;
    rc.pi = pi;
    int ret = 0;
    /* inputs */
    for (size_t i = 0; i < job->nresults; i++) {
        const char *k = kernel_key(job->results[i]);
        for (int n = 0; n < 3; n++)
            if (strcmp(k, need_names[n]) == 0)
                rc.inputs[n] = job->results[i];
    }
    for (int n = 0; n < 3; n++) {
        if (!(pi->needs & (1u << n)))
            continue;
        const sk_result *r = rc.inputs[n];
        if (!r) {
            sk_lua__err(err, SK_EINVAL, "input", pi->name, "plugin needs %s results; the job has none",
                        need_names[n]);
            ret = SK_EINVAL;
            goto done;
        }
        if (!r->converged) {
            if (!job->allow_nonconverged) {
                sk_lua__err(err, SK_ENOCONV, "input", pi->name,
                            "%s results did not converge (%lld iterations); refused "
                            "(allow non-converged input to compute a flagged value)",
                            need_names[n], (long long)r->iterations);
                ret = SK_ENOCONV;
                goto done;
            }
            char w[96];
            snprintf(w, sizeof w, "%s results did not converge", need_names[n]);
            warn_add(&rc, w);
        }
    }
    sk_lua_limits lim = job->limits;
    if (lim.deadline_s <= 0)
        lim.deadline_s = pi->deadline_s > 0 ? pi->deadline_s : SK_LUA_DEF_DEADLINE_S;
    sk_lua_host *h = sk_lua__host_new(&lim);
    if (!h) {
        sk_lua__err(err, SK_ENOMEM, "memory", pi->name, "cannot create a Lua state");
        ret = SK_ENOMEM;
        goto done;
    }
    sk_lua_plugin_info scratch;
    memset(&scratch, 0, sizeof scratch);
    ret = load_plugin(h, pi->path, pi->source, pi->source_len, &scratch, err);
    info_clear(&scratch);   /* validated before; only the table matters */
    if (ret < 0)
        goto close;
    if (sk_lua__pcall_c(h, push_args, &rc, 1, 4, pi->name, "params", err) != LUA_OK) {
        ret = err && err->code ? err->code : SK_EINVAL;
        goto close;
    }
    if (sk_lua__pcall(h, 3, 1, pi->name, "runtime", err) != LUA_OK) {
        ret = err && err->code ? err->code : SK_EINVAL;
        goto close;
    }
    char kernel[160];
    snprintf(kernel, sizeof kernel, "indicator.%s", pi->name);
    rc.out = sk_result_new(kernel, pi->version);
    if (!rc.out) {
        sk_lua__err(err, SK_ENOMEM, "host", pi->name, "out of memory");
        ret = SK_ENOMEM;
        goto close;
    }
    if (sk_lua__pcall_c(h, read_output, &rc, 1, 0, pi->name, "output", err) != LUA_OK) {
        ret = err && err->code ? err->code : SK_EINVAL;
        goto close;
    }
    if (out_meta(&rc, h, t0) < 0) {
        sk_lua__err(err, SK_ENOMEM, "host", pi->name, "out of memory");
        ret = SK_ENOMEM;
    }
close:
    sk_lua__host_free(h);
done:
    if (ret < 0) {
        sk_result_free(rc.out);
        rc.out = NULL;
        if (err && !err->plugin[0])
            snprintf(err->plugin, sizeof err->plugin, "%s", pi->name);
    }
    *out = rc.out;
    sk_lua_plugin_info_free(owned);
    return ret;
}

int sk_lua_run(const sk_lua_job *job, sk_result **out, sk_lua_error *err)
{
    sk_lua_locale loc;
    sk_lua__c_locale_enter(&loc);
    int rc = run_impl(job, out, err);
    sk_lua__c_locale_leave(&loc);
    return rc;
}
