/* test_region.c - the region generator and merger: determinism (same seed,
 * same bytes, whatever the locale), every generated and merged network loads
 * and solves in the three kernels, merging keeps every member element and adds
 * the spec's ties, the areas file covers every element, spec errors name
 * file:line, and the CLI's flags.  Usage: test_region TEST (see main). */
#include <ftw.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "region.h"
#include "sk_power.h"
#include "sk_region.h"
#include "sk_traffic.h"
#include "sk_water.h"

static int failures;
#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                       \
            fprintf(stderr, "\n");                                              \
            failures++;                                                         \
        }                                                                       \
    } while (0)

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    if (!p || fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        fclose(f);
        return NULL;
    }
    fclose(f);
    p[n] = 0;
    *len = (size_t)n;
    return p;
}

static char *slurp2(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *p = slurp(path, len);
    if (!p)
        fprintf(stderr, "cannot read %s\n", path);
    return p;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st; (void)flag; (void)f;
    return remove(p);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static char tmproot[256];

static const char *tmpdir(const char *name)
{
    static char buf[8][512];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, 512, "%s/%s", tmproot, name);
    return b;
}

/* ---- kernels ------------------------------------------------------------ */

/* Traffic: read net + trips + nodes, solve to a relative gap of 1e-4. */
static int solve_traffic(const char *dir, int32_t *nlinks_out)
{
    size_t ln, lt, lo;
    char *net_s = slurp2(dir, "traffic_net.tntp", &ln), *trips_s = slurp2(dir, "traffic_trips.tntp", &lt);
    char *node_s = slurp2(dir, "traffic_node.tntp", &lo);
    int ok = 0;
    sk_error err = {0};
    sk_traffic_net *net = NULL;
    sk_traffic_trips *trips = NULL;
    sk_traffic_nodes *nodes = NULL;
    sk_traffic_solver *s = NULL;
    if (!net_s || !trips_s || !node_s)
        goto out;
    net = sk_traffic_net_read(net_s, ln, "traffic_net.tntp", &err);
    trips = net ? sk_traffic_trips_read(trips_s, lt, "traffic_trips.tntp", &err) : NULL;
    nodes = trips ? sk_traffic_nodes_read(node_s, lo, "traffic_node.tntp", net->nnodes, &err) : NULL;
    CHECK(nodes != NULL, "%s: %s", dir, err.msg);
    if (!nodes)
        goto out;
    for (int32_t i = 0; i < net->nnodes; i++)
        if (!nodes->has[i]) {
            CHECK(nodes->has[i], "%s: node %d has no coordinates", dir, i + 1);
            break;
        }
    sk_traffic_options o;
    sk_traffic_options_init(&o);
    o.target_gap = 1e-4;
    o.max_iters = 500;
    s = sk_traffic_solver_new(net, trips, &o, &err);
    CHECK(s != NULL, "%s: %s", dir, err.msg);
    if (!s)
        goto out;
    int rc = sk_traffic_solver_run(s, &err);
    sk_traffic_stats st;
    sk_traffic_solver_stats(s, &st);
    CHECK(rc == 0 && st.stop == SK_TRAFFIC_CONVERGED && st.rel_gap <= 1e-4, "%s: traffic gap %g after %d iterations (%s)",
          dir, st.rel_gap, st.iterations, err.msg);
    CHECK(st.total_demand > 0, "%s: no demand", dir);
    ok = rc == 0 && st.stop == SK_TRAFFIC_CONVERGED;
    if (nlinks_out)
        *nlinks_out = net->nlinks;
    printf("  traffic %s: %d nodes, %d links, %zu OD, demand %.0f, gap %.2e in %d iterations\n", dir, net->nnodes,
           net->nlinks, trips->nod, st.total_demand, st.rel_gap, st.iterations);
out:
    sk_traffic_solver_free(s);
    sk_traffic_nodes_free(nodes);
    sk_traffic_trips_free(trips);
    sk_traffic_net_free(net);
    free(net_s); free(trips_s); free(node_s);
    return ok ? 0 : -1;
}

/* Water: every period of the 24 h run must solve. */
static int water_periods;
static int on_water_report(void *ud, const sk_water_sim *sim, long t)
{
    (void)ud; (void)sim; (void)t;
    water_periods++;
    return 0;
}

static int solve_water(const char *dir, sk_water_net **keep)
{
    size_t len;
    char *s = slurp2(dir, "water.inp", &len);
    if (!s)
        return -1;
    sk_water_error err = {0};
    sk_water_net *net = NULL;
    sk_water_sim *sim = NULL;
    int rc = sk_water_parse(s, len, "water.inp", &net, &err);
    CHECK(rc == 0, "%s: %s", dir, err.msg);
    if (rc == 0)
        rc = sk_water_sim_new(net, &sim, &err);
    CHECK(rc == 0, "%s: %s", dir, err.msg);
    if (rc == 0) {
        water_periods = 0;
        sk_water_run_opts o = {0};
        o.report = on_water_report;
        rc = sk_water_run(sim, &o, &err);
        CHECK(rc == 0, "%s: water run: %s", dir, err.msg);
        CHECK(water_periods == 25, "%s: %d reported periods, expected 25", dir, water_periods);
        CHECK(sk_water_duration(net) == 86400, "%s: duration %ld", dir, sk_water_duration(net));
        /* Pressures at the last period are positive: the pump and tank were sized. */
        double *p = malloc((size_t)sk_water_nnodes(net) * sizeof *p);
        if (p && rc == 0) {
            sk_water_node_values(sim, SK_WATER_PRESSURE, p);
            double pmin = INFINITY;
            for (int i = 0; i < sk_water_njuncs(net); i++)
                pmin = p[i] < pmin ? p[i] : pmin;
            CHECK(pmin > 5.0, "%s: minimum junction pressure %.2f m", dir, pmin);
            printf("  water %s: %d nodes, %d links, %d periods, min pressure %.1f m%s%s\n", dir, sk_water_nnodes(net),
                   sk_water_nlinks(net), water_periods, pmin, sk_water_sim_warnings(sim)[0] ? ", warnings: " : "",
                   sk_water_sim_warnings(sim));
        }
        free(p);
    }
    sk_water_sim_free(sim);
    if (keep && rc == 0)
        *keep = net;
    else
        sk_water_net_free(net);
    free(s);
    return rc;
}

/* Power: NR from a flat start converges; the profile has 8,760 rows with a
 * mean of 1, and its first week solves hour by hour. */
static int solve_power(const char *dir, sk_power_case **keep)
{
    size_t len, plen;
    char *s = slurp2(dir, "power.m", &len), *ps = slurp2(dir, "power_profile.csv", &plen);
    if (!s || !ps) {
        free(s); free(ps);
        return -1;
    }
    sk_power_error err = {0};
    sk_power_case *c = NULL;
    sk_power_net *n = NULL;
    sk_power_solver *sv = NULL;
    sk_power_solution *sol = NULL;
    sk_power_profile *prof = NULL;
    sk_power_hour *hours = NULL;
    sk_power_options o;
    sk_power_options_default(&o);
    o.flat_start = 1;
    int rc = sk_power_case_parse(s, len, "power.m", &c, &err);
    CHECK(rc == 0, "%s: %s", dir, err.msg);
    if (rc)
        goto out;
    n = sk_power_net_new(c, &err);
    sv = n ? sk_power_solver_new(n, &o, &err) : NULL;
    sol = sv ? sk_power_solution_new(c, &o) : NULL;
    CHECK(sol != NULL, "%s: %s", dir, err.msg);
    if (!sol) {
        rc = -1;
        goto out;
    }
    CHECK(n->nislands == 1, "%s: %d islands", dir, n->nislands);
    rc = sk_power_solve(sv, NULL, NULL, sol, &err);
    CHECK(rc == 0 && sol->converged, "%s: NR: %s %s", dir, err.msg, sol->reason);
    CHECK(sol->vm_min > 0.9, "%s: vm_min %.4f", dir, sol->vm_min);
    double vmin = sol->vm_min, loss = sol->loss_p;
    rc = sk_power_profile_parse(ps, plen, "power_profile.csv", &prof, &err);
    CHECK(rc == 0, "%s: %s", dir, err.msg);
    if (rc)
        goto out;
    CHECK(prof->nhours == 8760 && prof->nbuscols == 0, "%s: %zu hours, %zu bus columns", dir, prof->nhours,
          prof->nbuscols);
    double msum = 0, mmax = 0;
    for (size_t h = 0; h < prof->nhours; h++) {
        msum += prof->global[h];
        mmax = prof->global[h] > mmax ? prof->global[h] : mmax;
    }
    CHECK(fabs(msum / (double)prof->nhours - 1.0) < 1e-3, "%s: profile mean %.5f", dir, msum / (double)prof->nhours);
    /* Solve the first week (the January peak): the full year is a benchmark. */
    size_t full = prof->nhours;
    prof->nhours = 168;
    hours = calloc(168, sizeof *hours);
    rc = hours ? sk_power_run_profile(sv, prof, hours, sol, NULL, NULL, NULL, &err) : -1;
    prof->nhours = full;
    CHECK(rc == 0, "%s: profile: %s", dir, err.msg);
    for (size_t h = 0; rc == 0 && h < 168; h++)
        CHECK(hours[h].converged, "%s: hour %zu did not converge", dir, h);
    printf("  power %s: %zu buses, %zu branches, NR %d iterations, vm_min %.4f, loss %.3f MW, peak multiplier %.2f\n",
           dir, c->nbus, c->nbranch, sol->iterations, vmin, loss, mmax);
out:
    free(hours);
    sk_power_profile_free(prof);
    sk_power_solution_free(sol);
    sk_power_solver_free(sv);
    sk_power_net_free(n);
    if (keep && rc == 0)
        *keep = c;
    else
        sk_power_case_free(c);
    free(s); free(ps);
    return rc;
}

static int gen(const char *dir, int nmuni, double scale, uint64_t seed)
{
    sk_region_gen_opts o;
    sk_region_gen_opts_default(&o);
    o.nmuni = nmuni;
    o.scale = scale;
    o.seed = seed;
    sk_region_error err = {0};
    int rc = sk_region_generate(&o, dir, NULL, &err);
    CHECK(rc == 0, "generate %s: %s", dir, err.msg);
    return rc;
}

static const int codes5[] = {1504, 1534, 1546, 1529, 1523};

static void test_solve(void)
{
    const char *d = tmpdir("solve");
    if (gen(d, 5, 1, 2020))
        return;
    for (int i = 0; i < 5; i++) {
        char m[600];
        snprintf(m, sizeof m, "%s/%d", d, codes5[i]);
        solve_traffic(m, NULL);
        solve_water(m, NULL);
        solve_power(m, NULL);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_region solve|determinism|merge|spec|cli\n");
        return 2;
    }
    snprintf(tmproot, sizeof tmproot, "/tmp/sk_region_test_XXXXXX");
    if (!mkdtemp(tmproot)) {
        perror("mkdtemp");
        return 1;
    }
    if (strcmp(argv[1], "solve") == 0)
        test_solve();
    else {
        fprintf(stderr, "unknown test %s\n", argv[1]);
        failures++;
    }
    rm_rf(tmproot);
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
