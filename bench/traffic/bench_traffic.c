/* bench_traffic.c - time to relative gap 1e-4 / 1e-6 / 1e-8 on the shared
 * TNTP networks (whole run: read + build + solve, one thread unless
 * BENCH_THREADS), next to tap-b's published figures, plus a generated grid
 * (~13,000 nodes, 28,000 links, 50,000 OD pairs) to 1e-6.
 *
 * Data: $SAMSKAP_SHARED_DATA/traffic (default <source>/../shared/data).
 * BENCH_REPS (default 3) repetitions; medians are reported.  Peak memory is
 * the process's max RSS after each network (monotonic over the run) and the
 * solver's own allocation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "sk_traffic.h"

#ifndef SAMSKAP_SOURCE_DIR
#define SAMSKAP_SOURCE_DIR "."
#endif

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b)
        *len = (size_t)n;
    return b;
}

static const double targets[3] = {1e-4, 1e-6, 1e-8};

typedef struct rec {
    double t0;
    double at[3];
    int it[3];
} rec;

static int on_iter(void *ud, int iter, double gap, double el)
{
    rec *r = ud;
    (void)el;
    for (int k = 0; k < 3; k++)
        if (r->at[k] < 0 && gap <= targets[k]) {
            r->at[k] = now_s() - r->t0;
            r->it[k] = iter;
        }
    return 0;
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

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* One solve from buffers; fills r.  Returns 0 on success. */
static int run_once(const char *net, size_t nl, const char *trips, size_t tl, double target, int threads,
                    int max_iters, rec *r, sk_traffic_stats *st)
{
    sk_error err = SK_ERROR_INIT;
    for (int k = 0; k < 3; k++) {
        r->at[k] = -1;
        r->it[k] = -1;
    }
    r->t0 = now_s();
    sk_traffic_net *n = sk_traffic_net_read(net, nl, "net", &err);
    sk_traffic_trips *t = n ? sk_traffic_trips_read(trips, tl, "trips", &err) : NULL;
    if (!n || !t) {
        fprintf(stderr, "bench_traffic: %s\n", err.msg);
        sk_traffic_net_free(n);
        return -1;
    }
    sk_traffic_options o;
    sk_traffic_options_init(&o);
    o.target_gap = target;
    o.max_iters = max_iters;
    o.time_limit_s = 120;
    o.threads = threads;
    o.progress = on_iter;
    o.progress_ud = r;
    sk_traffic_solver *s = sk_traffic_solver_new(n, t, &o, &err);
    if (!s || sk_traffic_solver_run(s, &err) < 0) {
        fprintf(stderr, "bench_traffic: %s\n", err.msg);
        sk_traffic_solver_free(s);
        sk_traffic_trips_free(t);
        sk_traffic_net_free(n);
        return -1;
    }
    sk_traffic_solver_stats(s, st);
    sk_traffic_solver_free(s);
    sk_traffic_trips_free(t);
    sk_traffic_net_free(n);
    return 0;
}

/* A generated region: 250 zones (nodes 1..250, each tied to two random
 * intersections by two-way connectors) and a 112 x 112 street grid with
 * alternating one-way streets (Manhattan style) and two-way arterials on
 * every 10th row and column: 12,794 nodes, 28,528 links; 50,000 random OD
 * pairs between distinct zones (deterministic xorshift seed). */
static void gen_grid(char **net, size_t *nl, char **trips, size_t *tl)
{
    enum { Z = 250, W = 112, NOD = 50000 };
    int ng = W * W, nn = Z + ng;
    unsigned long long st = 88172645463325252ull;
#define RND() (st ^= st << 13, st ^= st >> 7, st ^= st << 17, st)
    size_t cap = 4u << 20, len = 0;
    char *b = malloc(cap);
    /* count links first: one-way grid + arterial reverse links + connectors */
    int nlinks = 2 * W * (W - 1) + 2 * ((W - 1) / 10 + 1) * (W - 1) + 4 * Z;
    len += (size_t)snprintf(b + len, cap - len,
                            "<NUMBER OF ZONES> %d\n<NUMBER OF NODES> %d\n<FIRST THRU NODE> %d\n"
                            "<NUMBER OF LINKS> %d\n<END OF METADATA>\n", Z, nn, Z + 1, nlinks);
    for (int z = 0; z < Z; z++)
        for (int c = 0; c < 2; c++) {
            int g = Z + 1 + (int)(RND() % (unsigned)ng);
            len += (size_t)snprintf(b + len, cap - len,
                                    "%d %d 100000 1 0.5 0 0 0 0 1 ;\n%d %d 100000 1 0.5 0 0 0 0 1 ;\n", z + 1, g, g,
                                    z + 1);
        }
    for (int dir = 0; dir < 2; dir++)          /* 0: rows (x varies), 1: columns */
        for (int line = 0; line < W; line++) {
            int art = line % 10 == 0;
            for (int k = 0; k + 1 < W; k++) {
                int u = dir ? k * W + line : line * W + k;
                int v = dir ? (k + 1) * W + line : line * W + k + 1;
                if (line % 2) { int t = u; u = v; v = t; }
                double capv = art ? 1800 + (double)(RND() % 600) : 600 + (double)(RND() % 400);
                double fft = art ? 0.3 + (double)(RND() % 20) / 100.0 : 0.5 + (double)(RND() % 50) / 100.0;
                for (int rev = 0; rev <= art; rev++) {
                    if (cap - len < 256) {
                        cap *= 2;
                        b = realloc(b, cap);
                    }
                    len += (size_t)snprintf(b + len, cap - len, "%d %d %.0f 1 %.2f 0.15 4 0 0 %d ;\n",
                                            Z + 1 + (rev ? v : u), Z + 1 + (rev ? u : v), capv, fft, art ? 2 : 3);
                }
            }
        }
    *net = b;
    *nl = len;
    char *pick = calloc((size_t)Z * Z, 1);
    int got = 0;
    while (got < NOD) {
        int o = (int)(RND() % (unsigned)Z), d = (int)(RND() % (unsigned)Z);
        if (o != d && !pick[o * Z + d]) {
            pick[o * Z + d] = 1;
            got++;
        }
    }
    cap = 4u << 20;
    len = 0;
    char *t = malloc(cap);
    len += (size_t)snprintf(t + len, cap - len, "<NUMBER OF ZONES> %d\n<END OF METADATA>\n", Z);
    for (int o = 0; o < Z; o++) {
        len += (size_t)snprintf(t + len, cap - len, "Origin %d\n", o + 1);
        for (int d = 0; d < Z; d++)
            if (pick[o * Z + d]) {
                if (cap - len < 256) {
                    cap *= 2;
                    t = realloc(t, cap);
                }
                len += (size_t)snprintf(t + len, cap - len, "%d : %.2f;\n", d + 1,
                                        2.0 + (double)(RND() % 1600) / 100.0);
            }
    }
    *trips = t;
    *tl = len;
    free(pick);
#undef RND
}

int main(void)
{
    const char *env = getenv("SAMSKAP_SHARED_DATA");
    char root[4096];
    if (env && *env)
        snprintf(root, sizeof root, "%s/traffic", env);
    else
        snprintf(root, sizeof root, "%s/../shared/data/traffic", SAMSKAP_SOURCE_DIR);
    int reps = getenv("BENCH_REPS") ? atoi(getenv("BENCH_REPS")) : 3;
    int threads = getenv("BENCH_THREADS") ? atoi(getenv("BENCH_THREADS")) : 1;
    if (reps < 1) reps = 1;
    if (threads < 1) threads = 1;
    static const struct { const char *name; double tapb4, tapb6; } nets[] = {
        {"SiouxFalls", NAN, 0.016},
        {"Anaheim", NAN, 0.032},
        {"Barcelona", 0.28, 0.60},
        {"Winnipeg", 0.42, 0.72},
    };
    printf("bench_traffic: %d thread(s), median of %d runs, data %s\n", threads, reps, root);
    printf("%-11s %9s %4s %9s %4s %9s %4s %8s %8s | tap-b 1e-4 1e-6\n", "network", "t(1e-4)", "it",
           "t(1e-6)", "it", "t(1e-8)", "it", "solverMB", "maxrssMB");
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        char p1[4200], p2[4200];
        snprintf(p1, sizeof p1, "%s/%s/%s_net.tntp", root, nets[i].name, nets[i].name);
        snprintf(p2, sizeof p2, "%s/%s/%s_trips.tntp", root, nets[i].name, nets[i].name);
        size_t nl, tl;
        char *nb = slurp(p1, &nl), *tb = slurp(p2, &tl);
        if (!nb || !tb) {
            printf("%-11s skipped: %s not readable\n", nets[i].name, nb ? p2 : p1);
            free(nb);
            free(tb);
            continue;
        }
        double t[3][32];
        int it[3] = {-1, -1, -1};
        sk_traffic_stats st;
        memset(&st, 0, sizeof st);
        int r;
        for (r = 0; r < reps && r < 32; r++) {
            rec rc;
            if (run_once(nb, nl, tb, tl, 1e-8, threads, 500, &rc, &st) < 0)
                break;
            for (int k = 0; k < 3; k++) {
                t[k][r] = rc.at[k] < 0 ? NAN : rc.at[k];
                it[k] = rc.it[k];
            }
        }
        if (r == 0)
            continue;
        printf("%-11s", nets[i].name);
        for (int k = 0; k < 3; k++)
            printf(" %8.3fs %4d", median(t[k], r), it[k]);
        printf(" %8.1f %8.1f |", (double)st.bytes / 1048576.0, (double)maxrss_kb() / 1024.0);
        if (isnan(nets[i].tapb4))
            printf("     -");
        else
            printf(" %4.2fs", nets[i].tapb4);
        printf(" %5.3fs  (final gap %.2e, %d it)\n", nets[i].tapb6, st.rel_gap, st.iterations);
        fflush(stdout);
        free(nb);
        free(tb);
    }
    size_t nl, tl;
    char *nb, *tb;
    gen_grid(&nb, &nl, &tb, &tl);
    if (getenv("BENCH_GRID_DUMP")) {   /* write the generated files for inspection */
        char p[4200];
        snprintf(p, sizeof p, "%s/grid_net.tntp", getenv("BENCH_GRID_DUMP"));
        FILE *f = fopen(p, "wb");
        if (f) { fwrite(nb, 1, nl, f); fclose(f); }
        snprintf(p, sizeof p, "%s/grid_trips.tntp", getenv("BENCH_GRID_DUMP"));
        f = fopen(p, "wb");
        if (f) { fwrite(tb, 1, tl, f); fclose(f); }
    }
    rec rc;
    sk_traffic_stats st;
    if (run_once(nb, nl, tb, tl, 1e-6, threads, 500, &rc, &st) == 0)
        printf("grid13k     12794 nodes, 28528 links, 50000 OD: 1e-4 %.2fs (%d it), 1e-6 %.2fs (%d it), gap %.2e, solver %.1f MB, "
               "maxrss %.1f MB\n", rc.at[0], rc.it[0], rc.at[1], rc.it[1], st.rel_gap,
               (double)st.bytes / 1048576.0, (double)maxrss_kb() / 1024.0);
    free(nb);
    free(tb);
    return 0;
}
