/* bench_plugins.c - one indicator (pressure adequacy: share of junctions
 * with 20 <= p <= 80 m) over a 1,000,000-element result, three ways:
 * column operations, a plain Lua loop over the column, and plain C.
 * Prints the best of several runs for each.  A benchmark, not a test. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sk_lua.h"

#define N 1000000
#define RUNS 5

static const char plugin_src[] =
    "return { api_level = 1, name = 'bench', version = '1', title = 'bench', description = '',\n"
    " unit = '%', formula = 'f', source = 's', needs = {'water'}, deadline_s = 60,\n"
    " params = { mode = { default = 'columns', description = '' } },\n"
    " compute = function(r, p, ctx)\n"
    "  local n = r.water.nodes\n"
    "  local pr, ty = n.pressure, n.type\n"
    "  if p.mode == 'noop' then return 0 end\n"
    "  if p.mode == 'columns' then\n"
    "    local j = ty:eq('junction')\n"
    "    return 100 * (pr:between(20, 80) & j):count() / pr:count(j)\n"
    "  end\n"
    "  local ok, all = 0, 0\n"
    "  for i = 1, #pr do\n"
    "    if ty[i] == 'junction' then\n"
    "      local v = pr[i]\n"
    "      if v == v then all = all + 1 if v >= 20 and v <= 80 then ok = ok + 1 end end\n"
    "    end\n"
    "  end\n"
    "  return 100 * ok / all\n"
    " end }\n";

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double plain_c(const sk_table *t)
{
    const sk_column *p = sk_table_column(t, "pressure"), *ty = sk_table_column(t, "type");
    const double *pv = p->data;
    char *const *tv = ty->data;
    size_t ok = 0, all = 0;
    for (size_t i = 0; i < t->nelem; i++) {
        if (strcmp(tv[i], "junction") != 0)
            continue;
        double v = pv[i];
        if (v == v) {
            all++;
            ok += v >= 20 && v <= 80;
        }
    }
    return 100.0 * (double)ok / (double)all;
}

int main(void)
{
    sk_result *r = sk_result_new("water", "bench");
    sk_table *t = r ? sk_result_add_table(r, "nodes", "node", "node_id", N) : NULL;
    double *p = t ? sk_table_add_f64(t, "pressure", "m") : NULL;
    const char **types = malloc(N * sizeof *types);
    int64_t *ids = malloc(N * sizeof *ids);
    if (!p || !types || !ids) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    srand(42);
    for (size_t i = 0; i < N; i++) {
        p[i] = (double)(rand() % 10000) / 100.0;     /* 0 - 100 m */
        types[i] = i % 50 == 0 ? "tank" : "junction";
    }
    for (size_t i = 0; i < N; i++)
        ids[i] = (int64_t)i + 1;
    if (sk_table_add_str(t, "type", true, types) < 0 || sk_table_set_ids_int(t, ids) < 0) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    free(types);
    free(ids);
    r->converged = true;
    sk_lua_plugin_info *pi = NULL;
    sk_lua_error le;
    if (sk_lua_plugin_check("bench.lua", plugin_src, strlen(plugin_src), NULL, &pi, &le) < 0) {
        fprintf(stderr, "%s\n", le.message);
        return 1;
    }
    const char *modes[] = {"noop", "columns", "loop"};
    double best[3] = {INFINITY, INFINITY, INFINITY}, val[3] = {0};
    for (int m = 0; m < 3; m++)
        for (int k = 0; k < RUNS; k++) {
            sk_params *params = sk_params_new();
            sk_params_set_str(params, "mode", modes[m]);
            const sk_result *rs[1] = {r};
            sk_lua_job job;
            memset(&job, 0, sizeof job);
            job.plugin = pi;
            job.results = rs;
            job.nresults = 1;
            job.params = params;
            sk_result *out = NULL;
            double t0 = now();
            if (sk_lua_run(&job, &out, &le) < 0) {
                fprintf(stderr, "%s: %s\n", modes[m], le.message);
                return 1;
            }
            double dt = now() - t0;
            if (dt < best[m])
                best[m] = dt;
            val[m] = sk_result_meta_find(out, "value")->d;
            sk_result_free(out);
            sk_params_free(params);
        }
    /* The same column job through the samskap-plugin-worker process (what
     * the node does): spawn, result transfer (msgpack), run, reply. */
    double ibest = INFINITY;
    const char *worker = getenv("SAMSKAP_PLUGIN_WORKER");
    for (int k = 0; worker && k < RUNS; k++) {
        sk_params *params = sk_params_new();
        sk_params_set_str(params, "mode", "columns");
        const sk_result *rs[1] = {r};
        sk_lua_job job;
        memset(&job, 0, sizeof job);
        job.plugin = pi;
        job.results = rs;
        job.nresults = 1;
        job.params = params;
        sk_result *out = NULL;
        double t0 = now();
        int rc = sk_lua_run_isolated(&job, &out, &le);
        double dt = now() - t0;
        sk_result_free(out);
        sk_params_free(params);
        if (rc < 0) {
            fprintf(stderr, "isolated: %s\n", le.message);
            break;
        }
        if (dt < ibest)
            ibest = dt;
    }
    double cbest = INFINITY, cval = 0;
    for (int k = 0; k < RUNS; k++) {
        double t0 = now();
        cval = plain_c(t);
        double dt = now() - t0;
        if (dt < cbest)
            cbest = dt;
    }
    double col = best[1] - best[0], loop = best[2] - best[0];
    printf("bench_plugins: pressure adequacy over %d elements (best of %d)\n", N, RUNS);
    printf("  host overhead (state, load, no-op compute): %8.3f ms\n", best[0] * 1e3);
    printf("  column operations:  %8.3f ms  (value %.4f %%)  %.2fx C\n", col * 1e3, val[1], col / cbest);
    printf("  plain Lua loop:     %8.3f ms  (value %.4f %%)  %.2fx C\n", loop * 1e3, val[2], loop / cbest);
    printf("  plain C:            %8.3f ms  (value %.4f %%)\n", cbest * 1e3, cval);
    if (ibest < INFINITY)
        printf("  column job in samskap-plugin-worker (spawn + transfer + run): %8.3f ms\n", ibest * 1e3);
    else
        printf("  (set SAMSKAP_PLUGIN_WORKER to time the isolated worker too)\n");
    int same = fabs(val[1] - cval) < 1e-9 && fabs(val[2] - cval) < 1e-9;
    if (!same)
        printf("  MISMATCH between the three values\n");
    sk_lua_plugin_info_free(pi);
    sk_result_free(r);
    return same ? 0 : 1;
}
