/* test_region.c - the region generator and merger: determinism (same seed,
 * same bytes, whatever the locale), every generated and merged network loads
 * and solves in the three kernels, merging keeps every member element and adds
 * the spec's ties, the areas file covers every element, spec errors name
 * file:line, and the CLI's flags.  Usage: test_region TEST (see main). */
#include <ftw.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
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
    const double *fl = sk_traffic_solver_flows(s);
    double vc = 0;
    for (int32_t k = 0; k < net->nlinks; k++)
        vc = fl[k] / net->capacity[k] > vc ? fl[k] / net->capacity[k] : vc;
    printf("  traffic %s: %d nodes, %d links, %zu OD, demand %.0f, gap %.2e in %d iterations, max v/c %.2f\n", dir,
           net->nnodes, net->nlinks, trips->nod, st.total_demand, st.rel_gap, st.iterations, vc);
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

/* ---- determinism -------------------------------------------------------- */

static const char *const member_files[] = {"traffic_net.tntp", "traffic_trips.tntp", "traffic_node.tntp", "water.inp",
                                           "power.m", "power_profile.csv", "power_bus_xy.csv", NULL};
static const char *const merged_files[] = {"traffic_net.tntp", "traffic_trips.tntp", "traffic_node.tntp",
                                           "traffic_node_map.csv", "water.inp", "power.m", "power_profile.csv",
                                           "power_bus_xy.csv", "areas.csv", "region.csv", NULL};

/* 1 same bytes, 0 different, -1 unreadable. */
static int same_file(const char *a, const char *b, const char *name)
{
    size_t la, lb;
    char *x = slurp2(a, name, &la), *y = slurp2(b, name, &lb);
    int r = (!x || !y) ? -1 : (la == lb && memcmp(x, y, la) == 0);
    free(x);
    free(y);
    return r;
}

static void test_determinism(void)
{
    const char *a = tmpdir("a"), *b = tmpdir("b"), *c = tmpdir("c"), *two = tmpdir("two");
    /* a in the C locale, b under nb_NO (decimal comma) when it exists. */
    setlocale(LC_ALL, "C");
    if (gen(a, 5, 1.5, 7))
        return;
    if (!setlocale(LC_ALL, "nb_NO.UTF-8"))
        printf("  (nb_NO.UTF-8 not installed: both runs in the C locale)\n");
    if (gen(b, 5, 1.5, 7) || gen(c, 5, 1.5, 8) || gen(two, 2, 1.5, 7))
        return;
    char pa[600], pb[600], pc[600], p2[600];
    for (int i = 0; i < 5; i++) {
        snprintf(pa, sizeof pa, "%s/%d", a, codes5[i]);
        snprintf(pb, sizeof pb, "%s/%d", b, codes5[i]);
        snprintf(pc, sizeof pc, "%s/%d", c, codes5[i]);
        snprintf(p2, sizeof p2, "%s/%d", two, codes5[i]);
        for (int k = 0; member_files[k]; k++) {
            CHECK(same_file(pa, pb, member_files[k]) == 1, "%s/%s differs between two runs with seed 7", pa,
                  member_files[k]);
            CHECK(same_file(pa, pc, member_files[k]) == 0, "%s/%s is the same with seeds 7 and 8", pa, member_files[k]);
            /* A member's files do not depend on how many members there are. */
            if (i < 2)
                CHECK(same_file(pa, p2, member_files[k]) == 1, "%s/%s changes with --municipalities", pa,
                      member_files[k]);
        }
    }
    CHECK(same_file(a, b, "region.csv") == 1 && same_file(a, b, "merge.spec") == 1, "region files differ");
    /* Merging is deterministic too. */
    sk_region_error err = {0};
    snprintf(pa, sizeof pa, "%s/merged", a);
    snprintf(pb, sizeof pb, "%s/merged", b);
    CHECK(sk_region_merge(a, NULL, NULL, NULL, &err) == 0, "merge a: %s", err.msg);
    CHECK(sk_region_merge(b, NULL, pb, NULL, &err) == 0, "merge b: %s", err.msg);
    for (int k = 0; merged_files[k]; k++)
        CHECK(same_file(pa, pb, merged_files[k]) == 1, "merged %s differs", merged_files[k]);
    /* The bundled region (deploy/region) is what the generator writes with
     * the defaults: regenerate and compare every file. */
    const char *src = getenv("SAMSKAP_SOURCE");
    if (src) {
        const char *fresh = tmpdir("fresh");
        char bundled[400], fm[600];
        snprintf(bundled, sizeof bundled, "%s/deploy/region", src);
        sk_region_gen_opts o;
        sk_region_gen_opts_default(&o);
        CHECK(sk_region_generate(&o, fresh, NULL, &err) == 0, "generate defaults: %s", err.msg);
        CHECK(sk_region_merge(fresh, NULL, NULL, NULL, &err) == 0, "merge defaults: %s", err.msg);
        for (int i = 0; i < 5; i++) {
            snprintf(pa, sizeof pa, "%s/%d", bundled, codes5[i]);
            snprintf(pc, sizeof pc, "%s/%d", fresh, codes5[i]);
            for (int k = 0; member_files[k]; k++)
                CHECK(same_file(pa, pc, member_files[k]) == 1,
                      "%s/%s is stale: regenerate with `samskap region generate --out deploy/region` and merge", pa,
                      member_files[k]);
        }
        snprintf(pa, sizeof pa, "%s/merged", bundled);
        snprintf(fm, sizeof fm, "%s/merged", fresh);
        for (int k = 0; merged_files[k]; k++)
            CHECK(same_file(pa, fm, merged_files[k]) == 1, "%s/%s is stale", pa, merged_files[k]);
        CHECK(same_file(bundled, fresh, "region.csv") == 1 && same_file(bundled, fresh, "merge.spec") == 1,
              "deploy/region region.csv or merge.spec is stale");
        /* The bundled scenario's variant: its spec merged anew. */
        char spec[600], fv[600];
        snprintf(spec, sizeof spec, "%s/variants/skodje_road.spec", bundled);
        snprintf(pa, sizeof pa, "%s/variants/skodje_road", bundled);
        snprintf(fv, sizeof fv, "%s/skodje_road", fresh);
        CHECK(sk_region_merge(fresh, spec, fv, NULL, &err) == 0, "merge the variant: %s", err.msg);
        for (int k = 0; merged_files[k]; k++)
            CHECK(same_file(pa, fv, merged_files[k]) == 1, "%s/%s is stale: merge it again (docs/region.md)", pa,
                  merged_files[k]);
    } else
        printf("  (SAMSKAP_SOURCE unset: bundled region not compared)\n");
    /* No decimal commas crept in under nb_NO. */
    size_t len;
    char *w = slurp2(pb, "power.m", &len);
    CHECK(w && !strstr(w, "0,0"), "a decimal comma in power.m");
    free(w);
    setlocale(LC_ALL, "C");
}

/* ---- merge -------------------------------------------------------------- */

typedef struct idset {
    char **v;
    size_t n, cap;
} idset;

static void ids_add(idset *s, const char *id)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v)
            abort();
    }
    s->v[s->n] = strdup(id);
    if (!s->v[s->n])
        abort();
    s->n++;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void ids_free(idset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* Sorted, duplicate-free and equal to another set? */
static int ids_equal(idset *a, idset *b, const char *what)
{
    qsort(a->v, a->n, sizeof *a->v, cmp_str);
    qsort(b->v, b->n, sizeof *b->v, cmp_str);
    for (size_t i = 1; i < a->n; i++)
        if (strcmp(a->v[i - 1], a->v[i]) == 0) {
            CHECK(0, "%s: %s mapped twice", what, a->v[i]);
            return 0;
        }
    CHECK(a->n == b->n, "%s: %zu mapped, %zu elements", what, a->n, b->n);
    for (size_t i = 0; i < a->n && i < b->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0) {
            CHECK(0, "%s: mapped %s, element %s", what, a->v[i], b->v[i]);
            return 0;
        }
    return a->n == b->n;
}

static long count_spec(const char *dir, const char *kw)
{
    size_t len;
    char *s = slurp2(dir, "merge.spec", &len);
    long n = 0;
    size_t k = strlen(kw);
    for (char *p = s; p && *p;) {
        if (strncmp(p, kw, k) == 0 && p[k] == ' ')
            n++;
        char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : p + strlen(p);
    }
    free(s);
    return n;
}

static void test_merge(void)
{
    const char *d = tmpdir("m");
    if (gen(d, 5, 1, 2020))
        return;
    sk_region_error err = {0};
    sk_region_summary sum;
    char md[600];
    snprintf(md, sizeof md, "%s/merged", d);
    int rc = sk_region_merge(d, NULL, NULL, &sum, &err);
    CHECK(rc == 0, "merge: %s", err.msg);
    if (rc)
        return;
    long roads = count_spec(d, "road"), mains = count_spec(d, "main"), ties = count_spec(d, "tie");
    CHECK(roads == 4 && mains == 4 && ties == 4, "default spec: %ld roads, %ld mains, %ld ties (a tree over 5)", roads,
          mains, ties);
    /* The merged networks solve. */
    int32_t mlinks = 0;
    sk_water_net *mw = NULL;
    sk_power_case *mp = NULL;
    solve_traffic(md, &mlinks);
    solve_water(md, &mw);
    solve_power(md, &mp);
    if (!mw || !mp) {
        sk_water_net_free(mw);
        sk_power_case_free(mp);
        return;
    }
    /* Traffic: merged links = members' + 2 per road; each member link keeps
     * its attributes at its offset, with renumbered ends (node map). */
    size_t len;
    char *mapcsv = slurp2(md, "traffic_node_map.csv", &len);
    char *mnet_s = slurp2(md, "traffic_net.tntp", &len);
    sk_error terr = {0};
    sk_traffic_net *mnet = mnet_s ? sk_traffic_net_read(mnet_s, len, "merged", &terr) : NULL;
    CHECK(mnet && mapcsv, "merged traffic: %s", terr.msg);
    long off = 0, sum_links = 0, sum_wn = 0, sum_wl = 0, sum_bus = 0, sum_br = 0;
    idset wnodes = {0}, wlinks = {0};
    for (int i = 0; mnet && mapcsv && i < 5; i++) {
        char m[600];
        snprintf(m, sizeof m, "%s/%d", d, codes5[i]);
        char *ns = slurp2(m, "traffic_net.tntp", &len);
        sk_traffic_net *n = ns ? sk_traffic_net_read(ns, len, "member", &terr) : NULL;
        CHECK(n != NULL, "%s: %s", m, terr.msg);
        if (n) {
            for (int32_t k = 0; k < n->nlinks; k++) {
                char key[64];
                /* node map line "code,member_node,merged_node" */
                long mf = -1, mt = -1;
                snprintf(key, sizeof key, "\n%d,%d,", codes5[i], n->from[k]);
                char *p = strstr(mapcsv, key);
                if (p)
                    mf = atol(p + strlen(key));
                snprintf(key, sizeof key, "\n%d,%d,", codes5[i], n->to[k]);
                p = strstr(mapcsv, key);
                if (p)
                    mt = atol(p + strlen(key));
                int32_t mk = (int32_t)off + k;
                CHECK(mk < mnet->nlinks && mnet->from[mk] == mf && mnet->to[mk] == mt &&
                          mnet->capacity[mk] == n->capacity[k] && mnet->fft[mk] == n->fft[k],
                      "%d link %d not preserved", codes5[i], k + 1);
            }
            off += n->nlinks;
            sum_links += n->nlinks;
        }
        sk_traffic_net_free(n);
        free(ns);
        /* Water: every member id is in the merged net with its prefix. */
        char *ws = slurp2(m, "water.inp", &len);
        sk_water_net *w = NULL;
        sk_water_error werr = {0};
        CHECK(ws && sk_water_parse(ws, len, "member.inp", &w, &werr) == 0, "%s: %s", m, werr.msg);
        for (int k = 0; w && k < sk_water_nnodes(w); k++) {
            char id[64];
            snprintf(id, sizeof id, "%d_%s", codes5[i], sk_water_node_id(w, k));
            ids_add(&wnodes, id);
        }
        for (int k = 0; w && k < sk_water_nlinks(w); k++) {
            char id[64];
            snprintf(id, sizeof id, "%d_%s", codes5[i], sk_water_link_id(w, k));
            ids_add(&wlinks, id);
        }
        sum_wn += w ? sk_water_nnodes(w) : 0;
        sum_wl += w ? sk_water_nlinks(w) : 0;
        sk_water_net_free(w);
        free(ws);
        /* Power: every bus is code*1e6 + bus with the same load. */
        char *ps = slurp2(m, "power.m", &len);
        sk_power_case *pc = NULL;
        sk_power_error perr = {0};
        CHECK(ps && sk_power_case_parse(ps, len, "member.m", &pc, &perr) == 0, "%s: %s", m, perr.msg);
        for (size_t k = 0; pc && k < pc->nbus; k++) {
            long r = sk_power_case_bus_index(mp, (int64_t)codes5[i] * 1000000 + pc->bus_i[k]);
            CHECK(r >= 0 && mp->pd[r] == pc->pd[k] && mp->bus_type[r] == pc->bus_type[k], "%d bus %lld not preserved",
                  codes5[i], (long long)pc->bus_i[k]);
        }
        sum_bus += pc ? (long)pc->nbus : 0;
        sum_br += pc ? (long)pc->nbranch : 0;
        sk_power_case_free(pc);
        free(ps);
    }
    CHECK(mnet && mnet->nlinks == sum_links + 2 * roads, "merged traffic links %d, members %ld + 2 x %ld roads",
          mnet ? mnet->nlinks : -1, sum_links, roads);
    CHECK(sk_water_nnodes(mw) == sum_wn && sk_water_nlinks(mw) == sum_wl + mains,
          "merged water %d nodes / %d links, members %ld / %ld + %ld mains", sk_water_nnodes(mw), sk_water_nlinks(mw),
          sum_wn, sum_wl, mains);
    CHECK((long)mp->nbus == sum_bus && (long)mp->nbranch == sum_br + ties,
          "merged power %zu buses / %zu branches, members %ld / %ld + %ld ties", mp->nbus, mp->nbranch, sum_bus, sum_br,
          ties);
    CHECK(sum.ties.traffic_links == 2 * roads && sum.ties.water_links == mains && sum.ties.power_branches == ties,
          "summary ties");
    /* The merged water ids are exactly the members' (prefixed) plus the mains. */
    idset mwn = {0}, mwl = {0}, mwl_nt = {0};
    for (int k = 0; k < sk_water_nnodes(mw); k++)
        ids_add(&mwn, sk_water_node_id(mw, k));
    for (int k = 0; k < sk_water_nlinks(mw); k++) {
        ids_add(&mwl, sk_water_link_id(mw, k));
        if (strncmp(sk_water_link_id(mw, k), "TIE", 3) != 0)
            ids_add(&mwl_nt, sk_water_link_id(mw, k));
    }
    ids_equal(&wnodes, &mwn, "water nodes (members vs merged)");
    ids_equal(&wlinks, &mwl_nt, "water links (members vs merged)");
    /* areas.csv: every element of every kind exactly once, known areas. */
    char *areas = slurp2(md, "areas.csv", &len);
    idset a_tl = {0}, a_tn = {0}, a_wn = {0}, a_wl = {0}, a_pb = {0}, a_pbr = {0}, a_pg = {0};
    idset e_tl = {0}, e_tn = {0}, e_pb = {0}, e_pbr = {0}, e_pg = {0};
    int nareas = 0;
    for (char *line = areas ? strtok(areas, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        char kind[32], id[64];
        int code;
        if (strncmp(line, "area,", 5) == 0) {
            nareas++;
            continue;
        }
        if (sscanf(line, "map,%31[^,],%63[^,],%d", kind, id, &code) != 3) {
            CHECK(0, "areas.csv: bad line '%s'", line);
            continue;
        }
        int known = 0;
        for (int i = 0; i < 5; i++)
            known |= code == codes5[i];
        CHECK(known, "areas.csv: unknown area in '%s'", line);
        idset *t = !strcmp(kind, "traffic.link") ? &a_tl : !strcmp(kind, "traffic.node") ? &a_tn
                 : !strcmp(kind, "water.node") ? &a_wn : !strcmp(kind, "water.link") ? &a_wl
                 : !strcmp(kind, "power.bus") ? &a_pb : !strcmp(kind, "power.branch") ? &a_pbr
                 : !strcmp(kind, "power.gen") ? &a_pg : NULL;
        CHECK(t != NULL, "areas.csv: unknown kind '%s'", kind);
        if (t)
            ids_add(t, id);
    }
    CHECK(nareas == 5, "%d areas", nareas);
    char id[64];
    for (int32_t k = 0; mnet && k < mnet->nlinks; k++) {
        snprintf(id, sizeof id, "%d", k + 1);
        ids_add(&e_tl, id);
    }
    for (int32_t k = 0; mnet && k < mnet->nnodes; k++) {
        snprintf(id, sizeof id, "%d", k + 1);
        ids_add(&e_tn, id);
    }
    for (size_t k = 0; k < mp->nbus; k++) {
        snprintf(id, sizeof id, "%lld", (long long)mp->bus_i[k]);
        ids_add(&e_pb, id);
    }
    for (size_t k = 0; k < mp->nbranch; k++) {
        snprintf(id, sizeof id, "%zu", k + 1);
        ids_add(&e_pbr, id);
    }
    for (size_t k = 0; k < mp->ngen; k++) {
        snprintf(id, sizeof id, "%zu", k + 1);
        ids_add(&e_pg, id);
    }
    ids_equal(&a_tl, &e_tl, "areas traffic.link");
    ids_equal(&a_tn, &e_tn, "areas traffic.node");
    ids_equal(&a_wn, &mwn, "areas water.node");
    ids_equal(&a_wl, &mwl, "areas water.link");
    ids_equal(&a_pb, &e_pb, "areas power.bus");
    ids_equal(&a_pbr, &e_pbr, "areas power.branch");
    ids_equal(&a_pg, &e_pg, "areas power.gen");
    idset *all[] = {&wnodes, &wlinks, &mwn, &mwl, &mwl_nt, &a_tl, &a_tn, &a_wn, &a_wl, &a_pb, &a_pbr, &a_pg,
                    &e_tl, &e_tn, &e_pb, &e_pbr, &e_pg};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        ids_free(all[k]);
    free(areas);
    sk_traffic_net_free(mnet);
    free(mnet_s);
    free(mapcsv);
    sk_water_net_free(mw);
    sk_power_case_free(mp);
}

/* ---- spec errors -------------------------------------------------------- */

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        CHECK(0, "cannot write %s", path);
        return;
    }
    fputs(text, f);
    fclose(f);
}

static void spec_case(const char *dir, const char *text, const char *expect)
{
    char path[600];
    snprintf(path, sizeof path, "%s/bad.spec", tmproot);
    put(path, text);
    sk_region_error err = {0};
    char out[600];
    snprintf(out, sizeof out, "%s/badout", tmproot);
    int rc = sk_region_merge(dir, path, out, NULL, &err);
    CHECK(rc == SK_REGION_EINVAL && strstr(err.msg, expect), "spec '%s': rc %d, '%s' (expected '%s')", text, rc, err.msg,
          expect);
}

static void test_spec(void)
{
    const char *d = tmpdir("s");
    if (gen(d, 3, 1, 5))
        return;
    spec_case(d, "# c\nroad 1504 80 1534 5 1800 10 70\nbogus 1\n", "bad.spec:3: unknown statement");
    spec_case(d, "road 1504 80 1534\n", "bad.spec:1: expected 'road");
    spec_case(d, "tie 1504 1 9999 2 0.1 0.1 0 10\n", "bad.spec:1: municipality 9999");
    spec_case(d, "\nroad 1504 1 1534 20 1800 10 70\n", "bad.spec:2: road ends");          /* node 1 is a zone */
    spec_case(d, "main 1504 J1 1534 NOPE 100 200 120\n", "bad.spec:1: main ends");
    spec_case(d, "tie 1504 1 1534 999999 0.1 0.1 0 10\n", "bad.spec:1: tie ends");
    spec_case(d, "road 1504 80 1504 81 1800 10 70\n", "two different");
    spec_case(d, "main 1504 J1 1534 J1 100 -2 120\n", "not a positive number");
    spec_case(d, "member 1504\nmember 1534\ntie 1504 3 1546 3 0.1 0.1 0 10\n", "not a member");
    /* A valid hand-written spec: two members, one of each tie, no demand. */
    char path[600], out[600];
    snprintf(path, sizeof path, "%s/ok.spec", tmproot);
    snprintf(out, sizeof out, "%s/okout", tmproot);
    put(path, "region 1599 Test\nmember 1504\nmember 1546\nroad 1504 60 1546 10 900 5 50\n"
              "main 1504 J2 1546 J3 1000 150 110\ntie 1504 5 1546 6 0.1 0.1 0 10\n");
    sk_region_summary sum;
    sk_region_error err = {0};
    int rc = sk_region_merge(d, path, out, &sum, &err);
    CHECK(rc == 0, "ok.spec: %s", err.msg);
    CHECK(rc || (sum.nmuni == 2 && sum.region_code == 1599 && sum.ties.traffic_links == 2 && sum.ties.water_links == 1 &&
                 sum.ties.power_branches == 1 && sum.ties.traffic_od == 0),
          "ok.spec summary");
    if (rc == 0) {
        solve_traffic(out, NULL);
        solve_water(out, NULL);
        solve_power(out, NULL);
    }
    /* A member file that is broken names its file and line.  Kernels merge
     * in the order traffic, water, power, so each break below is reported
     * before the previous one. */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/1546/power.m", d);
    put(bad, "function mpc = x\nmpc.version = '2';\nmpc.baseMVA = 100;\nmpc.bus = [\n 1 3 0 0;\n];\n");
    rc = sk_region_merge(d, NULL, out, NULL, &err);
    CHECK(rc == SK_REGION_EINVAL && strstr(err.msg, "1546/power.m:5: 4 columns"), "broken power member: %s", err.msg);
    snprintf(bad, sizeof bad, "%s/1534/water.inp", d);
    put(bad, "[JUNCTIONS]\n J1 1 1\n[SOMETHING]\n x\n");
    rc = sk_region_merge(d, NULL, out, NULL, &err);
    CHECK(rc == SK_REGION_EINVAL && strstr(err.msg, "1534/water.inp:3:"), "broken member: %s", err.msg);
    snprintf(bad, sizeof bad, "%s/1504/traffic_net.tntp", d);
    put(bad, "<NUMBER OF ZONES> 10\n<NUMBER OF NODES> 74\n<FIRST THRU NODE> 11\n<NUMBER OF LINKS> 1\n"
             "<END OF METADATA>\n 1 x 3 ;\n");
    rc = sk_region_merge(d, NULL, out, NULL, &err);
    CHECK(rc == SK_REGION_EINVAL && strstr(err.msg, "1504/traffic_net.tntp:6:"), "broken traffic member: %s", err.msg);
}

/* ---- CLI ---------------------------------------------------------------- */

static int run_cli(char *out, size_t outsz, int n, ...)
{
    char *argv[16];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n && i < 15; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    argv[n] = NULL;
    char path[600];
    snprintf(path, sizeof path, "%s/stdout.txt", tmproot);
    fflush(stdout);
    int saved = dup(1);
    FILE *f = fopen(path, "w");
    if (saved < 0 || !f)
        abort();
    dup2(fileno(f), 1);
    int rc = sk_cli_region_main(n, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fclose(f);
    size_t len;
    char *s = slurp(path, &len);
    snprintf(out, outsz, "%s", s ? s : "");
    free(s);
    return rc;
}

static void test_cli(void)
{
    static char out[65536];
    char dir[600], mdir[600];
    snprintf(dir, sizeof dir, "%s/cli", tmproot);
    snprintf(mdir, sizeof mdir, "%s/cli/merged", tmproot);
    CHECK(run_cli(out, sizeof out, 2, "region", "--help") == 0 && strstr(out, "generate"), "region --help");
    CHECK(run_cli(out, sizeof out, 3, "region", "generate", "--help") == 0 && strstr(out, "--scale"), "generate --help");
    CHECK(run_cli(out, sizeof out, 3, "region", "merge", "--help") == 0 && strstr(out, "--spec"), "merge --help");
    CHECK(run_cli(out, sizeof out, 1, "region") == 2, "no command");
    CHECK(run_cli(out, sizeof out, 2, "region", "frobnicate") == 2, "unknown command");
    CHECK(run_cli(out, sizeof out, 2, "region", "generate") == 2, "generate without --out");
    CHECK(run_cli(out, sizeof out, 5, "region", "generate", "--scale", "0", "--out") == 2, "bad scale");
    CHECK(run_cli(out, sizeof out, 5, "region", "generate", "--scale", "1,5", dir) == 2, "decimal comma scale");
    CHECK(run_cli(out, sizeof out, 5, "region", "generate", "--municipalities", "65", "--out") == 2, "too many");
    CHECK(run_cli(out, sizeof out, 4, "region", "generate", "--seed", "-1") == 2, "negative seed");
    int rc = run_cli(out, sizeof out, 11, "region", "generate", "--municipalities", "2", "--scale", "0.5", "--seed", "3",
                     "--json", "--out", dir);
    CHECK(rc == 0 && out[0] == '{' && strstr(out, "\"code\":1534") && strstr(out, "\"scale\":0.5") &&
              strstr(out, "\"total\":{"),
          "generate --json: rc %d, '%s'", rc, out);
    rc = run_cli(out, sizeof out, 4, "region", "merge", "--in", dir);
    CHECK(rc == 0 && strstr(out, "region") && strstr(out, "ties"), "merge: rc %d '%s'", rc, out);
    CHECK(same_file(mdir, mdir, "areas.csv") == 1, "merge wrote no areas.csv");
    rc = run_cli(out, sizeof out, 7, "region", "merge", "--in", dir, "--json", "--out", mdir);
    CHECK(rc == 0 && strstr(out, "\"ties\":{") && strstr(out, "\"region\":{\"code\":1507"), "merge --json '%s'", out);
    CHECK(run_cli(out, sizeof out, 4, "region", "merge", "--in", "/nonexistent/region") == 1, "missing input");
    CHECK(run_cli(out, sizeof out, 2, "region", "merge") == 2, "merge without --in");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_region solve|determinism|merge|spec|cli|solve-dir DIR...\n");
        return 2;
    }
    snprintf(tmproot, sizeof tmproot, "/tmp/sk_region_test_XXXXXX");
    if (!mkdtemp(tmproot)) {
        perror("mkdtemp");
        return 1;
    }
    if (strcmp(argv[1], "solve") == 0)
        test_solve();
    else if (strcmp(argv[1], "determinism") == 0)
        test_determinism();
    else if (strcmp(argv[1], "merge") == 0)
        test_merge();
    else if (strcmp(argv[1], "spec") == 0)
        test_spec();
    else if (strcmp(argv[1], "cli") == 0)
        test_cli();
    else if (strcmp(argv[1], "solve-dir") == 0)   /* by hand: solve any member/merged folders */
        for (int i = 2; i < argc; i++) {
            solve_traffic(argv[i], NULL);
            solve_water(argv[i], NULL);
            solve_power(argv[i], NULL);
        }
    else {
        fprintf(stderr, "unknown test %s\n", argv[1]);
        failures++;
    }
    rm_rf(tmproot);
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
