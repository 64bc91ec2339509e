/* test_lua_columns.c - column objects over a hand-built sk_result: each
 * operation checked against values computed here in C, plus the errors and
 * the deadline inside C loops. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_lua.h"

/* The Lua side asserts; a failing assert names its line. */
static const char plugin_src[] =
    "return { api_level = 1, name = 'cols', version = '1', title = 't', description = 'd',\n"
    " unit = '', formula = 'f', source = 's', needs = {'water'},\n"
    " params = { test = { default = 'ops', description = '' } },\n"
    " compute = function(r, p, ctx)\n"
    "  local n = r.water.nodes\n"
    "  local pr, ty, el = n.pressure, n.type, n.elevation\n"
    "  if p.test == 'slow' then local big = r.water.big.v for i = 1, 1e9 do big:sum() end end\n"
    "  if p.test == 'strsum' then return { value = ty:sum() } end\n"
    "  if p.test == 'shape' then return { value = (pr + r.water.big.v):sum() } end\n"
    "  assert(#pr == 8 and pr:nelem() == 4 and pr:nperiods() == 2 and #el == 4)\n"
    "  assert(pr[1] == 10 and pr[8] == 45 and pr[0] == nil and pr[9] == nil)\n"
    "  assert(ty[3] == 'tank' and pr:unit() == 'm' and pr:name() == 'pressure' and pr:dtype() == 'f64')\n"
    "  assert(pr:sum() == 10+20+30+40+15+25+35+45)\n"
    "  assert(pr:min() == 10 and pr:max() == 45 and pr:mean() == 220/8)\n"
    "  assert(pr:quantile(0) == 10 and pr:quantile(1) == 45 and pr:quantile(0.5) == 27.5)\n"
    "  assert(math.abs(pr:quantile(0.9) - 41.5) < 1e-12)\n"
    "  local j = ty:eq('junction')\n"
    "  assert(#j == 4 and j:count() == 3 and pr:count(j) == 6 and pr:sum(j) == 10+20+40+15+25+45)\n"
    "  assert((pr:gt(20) & j):count() == 3)\n"
    "  assert((~j):count() == 1 and (pr:lt(15) | pr:gt(40)):count() == 2)\n"
    "  local w = pr:where(pr:ge(30))\n"
    "  assert(#w == 4 and w[1] == 30 and w[4] == 45)\n"
    "  local h = pr + el\n"
    "  assert(h[1] == 110 and h[5] == 115 and h[8] == 445)\n"
    "  assert((pr * 2)[2] == 40 and (100 - pr)[1] == 90 and (pr / pr)[3] == 1 and (-pr)[1] == -10)\n"
    "  local pp = pr:per_period('sum')\n"
    "  assert(#pp == 2 and pp[1] == 100 and pp[2] == 120)\n"
    "  local pe = pr:per_element('max')\n"
    "  local mk = pe:masked(j)\n"
    "  assert(mk[1] == 15 and mk[3] ~= mk[3] and mk:count() == 3)\n"
    "  assert(#pe == 4 and pe[1] == 15 and pe[4] == 45)\n"
    "  assert(pr:period(2)[1] == 15 and #pr:period(2) == 4)\n"
    "  local s = pr:scale_periods({1, 2})\n"
    "  assert(s[1] == 10 and s[5] == 30)\n"
    "  local g = pr:group_by_area(ctx.areas, 'sum')\n"
    "  assert(g.A == 10+20+15+25 and g.B == 30+35 and g.Z == nil)\n"
    "  local gm = pr:group_by_area(ctx.areas, 'max', j)\n"
    "  assert(gm.A == 25 and gm.B == nil)\n"
    "  local nan = r.water.nodes.flow\n"
    "  assert(nan:count() == 3 and nan:sum() == 6 and nan:mean() == 2)\n"
    "  local c = samskap.column({3, 1, 2})\n"
    "  assert(#c == 3 and c:quantile(0.5) == 2)\n"
    "  local loop = 0 for i = 1, #pr do loop = loop + pr[i] end\n"
    "  assert(loop == pr:sum())\n"
    "  assert(r.water.nodes:id(2) == 'J2' and r.water.nodes:has('pressure') and not r.water.nodes:has('nope'))\n"
    "  assert(r.water.converged == true and r.water.kernel_version == 'test')\n"
    "  return { value = 1, detail = pe }\n"
    " end }\n";

static sk_result *make(void)
{
    sk_result *r = sk_result_new("water", "test");
    if (!r)
        return NULL;
    r->converged = true;
    sk_table *t = sk_result_add_table(r, "nodes", "node", "node_id", 4);
    const char *ids[] = {"J1", "J2", "T1", "J3"};
    const char *types[] = {"junction", "junction", "tank", "junction"};
    int64_t per[] = {0, 3600};
    if (!t || sk_table_set_ids_str(t, ids) || sk_table_set_periods(t, 2, per) ||
        sk_table_add_str(t, "type", true, types))
        return r;
    double *p = sk_table_add_f64(t, "pressure", "m");
    double *e = sk_table_add_static_f64(t, "elevation", "m");
    double *f = sk_table_add_f64(t, "flow", "L/s");
    if (!p || !e || !f)
        return r;
    double pv[] = {10, 20, 30, 40, 15, 25, 35, 45};
    double fv[] = {1, NAN, 2, NAN, NAN, 3, NAN, NAN};
    double ev[] = {100, 200, 300, 400};
    memcpy(p, pv, sizeof pv);
    memcpy(f, fv, sizeof fv);
    memcpy(e, ev, sizeof ev);
    sk_table *b = sk_result_add_table(r, "big", "node", "id", 3000000);
    double *bv = b ? sk_table_add_f64(b, "v", "") : NULL;
    if (bv)
        for (size_t i = 0; i < 3000000; i++)
            bv[i] = (double)(i % 7);
    return r;
}

int main(void)
{
    int fails = 0;
    sk_result *r = make();
    sk_error err = SK_ERROR_INIT;
    const char areas_txt[] = "area,A,Alpha,100\narea,B,Beta,50\narea,Z,Zeta,5\n"
                             "map,node,J1,A\nmap,node,J2,A\nmap,water.node,T1,B\n";
    sk_result *areas = sk_lua_areas_parse(areas_txt, sizeof areas_txt - 1, "areas.csv", &err);
    sk_lua_plugin_info *pi = NULL;
    sk_lua_error le;
    if (!r || !areas || sk_lua_plugin_check("cols.lua", plugin_src, sizeof plugin_src - 1, NULL, &pi, &le) < 0) {
        printf("setup failed: %s %s\n", err.msg, le.message);
        return 1;
    }
    struct { const char *test; const char *kind; const char *msg; } cases[] = {
        {"ops", NULL, NULL},
        {"slow", "timeout", "deadline"},
        {"strsum", "runtime", "holds strings"},
        {"shape", "runtime", "do not line up"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sk_params *params = sk_params_new();
        sk_params_set_str(params, "test", cases[i].test);
        const sk_result *rs[1] = {r};
        sk_lua_job job;
        memset(&job, 0, sizeof job);
        job.plugin = pi;
        job.results = rs;
        job.nresults = 1;
        job.params = params;
        job.areas = areas;
        job.limits.deadline_s = 0.5;
        sk_result *out = NULL;
        memset(&le, 0, sizeof le);
        int rc = sk_lua_run(&job, &out, &le);
        int ok = cases[i].kind ? rc < 0 && strcmp(le.kind, cases[i].kind) == 0 && strstr(le.message, cases[i].msg)
                               : rc == 0;
        if (ok && !cases[i].kind) {
            const sk_table *d = sk_result_table(out, "detail");
            const sk_column *dv = d ? sk_table_column(d, "value") : NULL;
            ok = d && dv && d->nelem == 4 && strcmp(d->ids_str[3], "J3") == 0 &&
                 sk_column_get_f64(dv, 3) == 45 && strcmp(d->kind, "node") == 0;
        }
        printf("%s %-8s %s%s%s %s\n", ok ? "ok  " : "FAIL", cases[i].test, rc < 0 ? le.kind : "success",
               rc < 0 ? ": " : "", le.where, le.message);
        fails += !ok;
        sk_result_free(out);
        sk_params_free(params);
    }
    /* OOM injection through a whole plugin run (state, results views,
     * params, ctx, column temporaries, output): every failing allocation
     * must end as a "memory" error, never a crash or a leak. */
    {
        int memerr = 0, other = 0, clean = 0;
        for (long k = 1; k < 20000 && !clean; k += k < 2000 ? 1 : 7) {
            sk_params *params = sk_params_new();
            sk_params_set_str(params, "test", "ops");
            const sk_result *rs[1] = {r};
            sk_lua_job job;
            memset(&job, 0, sizeof job);
            job.plugin = pi;
            job.results = rs;
            job.nresults = 1;
            job.params = params;
            job.areas = areas;
            job.limits.deadline_s = 5;
            job.limits.oom_after = k;
            sk_result *out = NULL;
            memset(&le, 0, sizeof le);
            int rc = sk_lua_run(&job, &out, &le);
            if (rc == 0)
                clean = 1;
            else if (strcmp(le.kind, "memory") == 0)
                memerr++;
            else if (other++ < 3)
                printf("       oom_after=%ld: %s: %s\n", k, le.kind, le.message);
            sk_result_free(out);
            sk_params_free(params);
        }
        int ok = clean && memerr > 100 && other == 0;
        printf("%s oom      %d memory errors, %d other, clean run reached: %d\n", ok ? "ok  " : "FAIL",
               memerr, other, clean);
        fails += !ok;
    }
    sk_lua_plugin_info_free(pi);
    sk_result_free(areas);
    sk_result_free(r);
    return fails ? 1 : 0;
}
