/* bench_water.c - times the water kernel on the shared EPANET networks.
 *
 * For each network in $SAMSKAP_SHARED_DATA/water (default
 * <source>/../shared/data): median over several in-process runs of
 *   parse   - .inp text to network,
 *   setup   - solver creation (AMD ordering, symbolic LDL'),
 *   single  - init + the t = 0 solve,
 *   eps     - init + the whole extended period (all hydraulic steps), wall
 *             and thread CPU time,
 * printed next to EPANET 2.3.5's figures from the issue where known. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sk_water.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* CPU time of this thread: robust when other jobs share the cores */
static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmpd);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return NULL; }
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) { fclose(f); return NULL; }
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); b = NULL; }
    fclose(f);
    if (b) { b[n] = '\0'; *len = (size_t)n; }
    return b;
}

static int count_steps(void *ud, double f, long t)
{
    (void)f; (void)t;
    ++*(int *)ud;
    return 0;
}

static void progress(void *ud, double f, long t) { (void)count_steps(ud, f, t); }

int main(void)
{
    const char *sd = getenv("SAMSKAP_SHARED_DATA");
    char root[1024];
    if (sd && *sd) snprintf(root, sizeof root, "%s/water", sd);
    else snprintf(root, sizeof root, "%s/../shared/data/water", SAMSKAP_SOURCE_DIR);
    static const struct { const char *name; double ep_single, ep_eps; } nets[] = {
        {"Net1", -1, -1}, {"Net2", -1, -1}, {"Net3", 0.066, 0.98},
        {"ky4", -1, -1}, {"ky10", -1, -1}, {"Net6", 2.2, 832.0}};
    printf("water kernel bench (medians, ms); data: %s\n", root);
    printf("%-6s %6s %6s %9s %9s %9s %9s %9s %7s %14s %14s\n", "net", "nodes", "links", "parse", "setup",
           "single", "eps", "eps(cpu)", "steps", "EPANET single", "EPANET eps");
    int found = 0;
    for (size_t n = 0; n < sizeof nets / sizeof nets[0]; n++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s/network.inp", root, nets[n].name);
        size_t len;
        char *inp = slurp(path, &len);
        if (!inp) { printf("%-6s (absent)\n", nets[n].name); continue; }
        found++;
        enum { R = 9 };
        double tp[R], ts[R], t1[R], te[R], tc[R];
        int steps = 0, reps_eps = R;
        sk_water_error err;
        sk_water_net *net = NULL;
        sk_water_sim *sim = NULL;
        int ok = 1;
        for (int r = 0; r < R && ok; r++) {
            double a = now_ms();
            sk_water_net *tmp = NULL;
            if (sk_water_parse(inp, len, nets[n].name, &tmp, &err)) { printf("%s: %s\n", nets[n].name, err.msg); ok = 0; break; }
            tp[r] = now_ms() - a;
            if (r == R - 1) net = tmp; else sk_water_net_free(tmp);
        }
        if (!ok) { free(inp); continue; }
        for (int r = 0; r < R; r++) {
            double a = now_ms();
            sk_water_sim *tmp = NULL;
            if (sk_water_sim_new(net, &tmp, &err)) { printf("%s: %s\n", nets[n].name, err.msg); ok = 0; break; }
            ts[r] = now_ms() - a;
            if (r == R - 1) sim = tmp; else sk_water_sim_free(tmp);
        }
        if (!ok) { sk_water_net_free(net); free(inp); continue; }
        for (int r = 0; r < R; r++) {
            double a = now_ms();
            sk_water_run_opts o = {.first_only = 1};
            if (sk_water_run(sim, &o, &err)) printf("%s: %s\n", nets[n].name, err.msg);
            t1[r] = now_ms() - a;
        }
        if (sk_water_duration(net) > 86400) reps_eps = 5;
        for (int r = 0; r < reps_eps; r++) {
            int st = 0;
            double a = now_ms(), c = cpu_ms();
            sk_water_run_opts o = {.progress = progress, .ud = &st};
            if (sk_water_run(sim, &o, &err)) printf("%s: %s\n", nets[n].name, err.msg);
            te[r] = now_ms() - a;
            tc[r] = cpu_ms() - c;
            steps = st;
        }
        char e1[32] = "-", e2[32] = "-";
        if (nets[n].ep_single > 0) snprintf(e1, sizeof e1, "%.3f", nets[n].ep_single);
        if (nets[n].ep_eps > 0) snprintf(e2, sizeof e2, "%.2f", nets[n].ep_eps);
        printf("%-6s %6d %6d %9.3f %9.3f %9.3f %9.3f %9.3f %7d %14s %14s\n", nets[n].name, sk_water_nnodes(net),
               sk_water_nlinks(net), median(tp, R), median(ts, R), median(t1, R), median(te, reps_eps),
               median(tc, reps_eps), steps, e1, e2);
        sk_water_sim_free(sim);
        sk_water_net_free(net);
        free(inp);
    }
    if (!found) printf("no networks found; set SAMSKAP_SHARED_DATA\n");
    return 0;
}
