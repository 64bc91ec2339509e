/* test_lua_isolated.c - the hard backstop: plugin jobs in a
 * samskap-plugin-worker process.  A normal job gives the same result as in
 * process; a Lua runaway comes back as "timeout"; a worker that defeats
 * every Lua limit (SAMSKAP_PLUGIN_WORKER_FAULT=spin|sleep) is killed by the
 * watchdog; a crash is reported; the caller survives all of them. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sk_lua.h"

static int fails;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define CHECK(cond, ...) do { if (!(cond)) { fails++; printf("FAIL %s:%d: ", __FILE__, __LINE__); \
    printf(__VA_ARGS__); printf("\n"); } else { printf("ok   "); printf(__VA_ARGS__); printf("\n"); } } while (0)

static const char plugin_src[] =
    "return { api_level = 1, name = 'iso', version = '1', title = 't', description = 'd', unit = 'x',\n"
    "  formula = 'f', source = 's', needs = {'water'},\n"
    "  params = { mode = { default = 'sum', description = 'what to do' } },\n"
    "  compute = function(r, p, ctx)\n"
    "    if p.mode == 'loop' then while true do end end\n"
    "    if p.mode == 'bomb' then local t = {} for i = 1, 1e9 do t[i] = i end end\n"
    "    if p.mode == 'error' then local x = nil; return x.y end\n"
    "    return { value = r.water.nodes.pressure:sum() }\n"
    "  end }\n";

static sk_result *make_result(void)
{
    sk_result *r = sk_result_new("water", "test");
    sk_table *t = r ? sk_result_add_table(r, "nodes", "node", "node_id", 3) : NULL;
    const char *ids[] = {"a", "b", "c"};
    double *p = t && sk_table_set_ids_str(t, ids) == 0 ? sk_table_add_f64(t, "pressure", "m") : NULL;
    if (!p) {
        sk_result_free(r);
        return NULL;
    }
    p[0] = 1.5;
    p[1] = 2.5;
    p[2] = 4;
    r->converged = true;
    return r;
}

static double margin = 0.3;

static int run(const sk_lua_plugin_info *pi, const sk_result *res, const char *mode, int isolated,
               double deadline, sk_result **out, sk_lua_error *le, double *took)
{
    sk_params *params = sk_params_new();
    sk_params_set_str(params, "mode", mode);
    const sk_result *rs[1] = {res};
    sk_lua_job job;
    memset(&job, 0, sizeof job);
    job.plugin = pi;
    job.results = rs;
    job.nresults = 1;
    job.params = params;
    job.limits.deadline_s = deadline;
    job.limits.close_s = 0.2;
    job.limits.kill_margin_s = margin;
    job.limits.mem_bytes = 64u << 20;
    memset(le, 0, sizeof *le);
    double t0 = now();
    int rc = isolated ? sk_lua_run_isolated(&job, out, le) : sk_lua_run(&job, out, le);
    *took = now() - t0;
    sk_params_free(params);
    return rc;
}

/* The node runs jobs from worker threads: several at once, in process and
 * isolated, must not disturb each other. */
typedef struct thr {
    const sk_lua_plugin_info *pi;
    const sk_result *res;
    int bad;
} thr;

static void *thread_main(void *arg)
{
    thr *t = arg;
    for (int i = 0; i < 6; i++) {
        sk_result *out = NULL;
        sk_lua_error le;
        double took;
        int rc = run(t->pi, t->res, i % 3 == 2 ? "loop" : "sum", i % 2, i % 3 == 2 ? 0.2 : 5.0,
                     &out, &le, &took);
        const sk_meta *v = out ? sk_result_meta_find(out, "value") : NULL;
        if (i % 3 == 2)
            t->bad += !(rc < 0 && strcmp(le.kind, "timeout") == 0);
        else
            t->bad += !(rc == 0 && v && v->d == 8.0);
        sk_result_free(out);
    }
    return NULL;
}

int main(void)
{
    if (!getenv("SAMSKAP_PLUGIN_WORKER")) {
        printf("SAMSKAP_PLUGIN_WORKER not set: skipped\n");
        return 77;
    }
    sk_result *res = make_result();
    sk_lua_plugin_info *pi = NULL;
    sk_lua_error le;
    if (!res || sk_lua_plugin_check("iso.lua", plugin_src, strlen(plugin_src), NULL, &pi, &le) < 0) {
        printf("setup failed: %s\n", le.message);
        return 1;
    }
    sk_result *out = NULL;
    double took;

    int rc = run(pi, res, "sum", 1, 2.0, &out, &le, &took);
    const sk_meta *v = out ? sk_result_meta_find(out, "value") : NULL;
    const sk_meta *h = out ? sk_result_meta_find(out, "plugin_hash") : NULL;
    CHECK(rc == 0 && v && v->d == 8.0 && h && strcmp(h->s, pi->hash) == 0,
          "isolated run: value %g, hash recorded (%.2fs) %s", v ? v->d : NAN, took, rc ? le.message : "");
    sk_result_free(out);
    out = NULL;

    rc = run(pi, res, "loop", 1, 0.3, &out, &le, &took);
    CHECK(rc < 0 && strcmp(le.kind, "timeout") == 0 && took < 2.0,
          "Lua runaway in the worker: %s: %s (%.2fs)", le.kind, le.message, took);

    rc = run(pi, res, "bomb", 1, 2.0, &out, &le, &took);
    CHECK(rc < 0 && strcmp(le.kind, "memory") == 0, "memory bomb in the worker: %s: %s", le.kind, le.message);

    rc = run(pi, res, "error", 1, 2.0, &out, &le, &took);
    CHECK(rc < 0 && strcmp(le.kind, "runtime") == 0 && strstr(le.where, "iso.lua:7") &&
          strstr(le.traceback, "stack traceback"),
          "plugin error via the worker: %s at %s: %s", le.kind, le.where, le.message);

    setenv("SAMSKAP_PLUGIN_WORKER_FAULT", "spin", 1);
    rc = run(pi, res, "sum", 1, 0.3, &out, &le, &took);
    CHECK(rc < 0 && strcmp(le.kind, "killed") == 0 && took >= 0.75 && took < 5,
          "worker spinning in C killed by the watchdog: %s (%.2fs)", le.message, took);

    /* with a long watchdog margin the worker's own CPU rlimit fires first
     * (3 CPU seconds; wall time depends on the machine's load) */
    margin = 30;
    rc = run(pi, res, "sum", 1, 0.3, &out, &le, &took);
    CHECK(rc < 0 && strcmp(le.kind, "killed") == 0 && strstr(le.message, "SIGXCPU") && took < 30,
          "spinning worker stopped by its RLIMIT_CPU: %s (%.2fs)", le.message, took);
    margin = 0.3;

    setenv("SAMSKAP_PLUGIN_WORKER_FAULT", "sleep", 1);
    rc = run(pi, res, "sum", 1, 0.3, &out, &le, &took);
    CHECK(rc < 0 && strcmp(le.kind, "killed") == 0 && took < 5,
          "sleeping worker killed by the watchdog: %s (%.2fs)", le.message, took);

    setenv("SAMSKAP_PLUGIN_WORKER_FAULT", "crash", 1);
    rc = run(pi, res, "sum", 1, 2.0, &out, &le, &took);
    CHECK(rc < 0 && strcmp(le.kind, "killed") == 0 && strstr(le.message, "worker died"),
          "crashing worker reported: %s", le.message);
    unsetenv("SAMSKAP_PLUGIN_WORKER_FAULT");

    /* the caller is fine afterwards: the same job runs in process */
    rc = run(pi, res, "sum", 0, 2.0, &out, &le, &took);
    v = out ? sk_result_meta_find(out, "value") : NULL;
    CHECK(rc == 0 && v && v->d == 8.0, "caller still serving: in-process value %g", v ? v->d : NAN);
    sk_result_free(out);
    out = NULL;

    sk_lua_job job;
    memset(&job, 0, sizeof job);
    const sk_result *rs[1] = {res};
    job.plugin = pi;
    job.results = rs;
    job.nresults = 1;
    job.worker_path = "/nonexistent/samskap-plugin-worker";
    rc = sk_lua_run_isolated(&job, &out, &le);
    CHECK(rc == SK_ENOTFOUND && strstr(le.message, "cannot find"), "missing worker: %s", le.message);

    {
        pthread_t th[4];
        thr ts[4];
        int started = 0, bad = 0;
        for (int i = 0; i < 4; i++) {
            ts[i] = (thr){pi, res, 0};
            if (pthread_create(&th[i], NULL, thread_main, &ts[i]) == 0)
                started++;
        }
        for (int i = 0; i < started; i++) {
            pthread_join(th[i], NULL);
            bad += ts[i].bad;
        }
        CHECK(started == 4 && bad == 0, "4 threads x 6 jobs (in process and isolated, some timing out): %d bad", bad);
    }

    sk_lua_plugin_info_free(pi);
    sk_result_free(res);
    printf("%s\n", fails ? "FAILED" : "all isolated checks passed");
    return fails ? 1 : 0;
}
