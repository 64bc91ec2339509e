/* rg_gen.c - the synthetic region: the municipality table, one generator per
 * kernel (roads + gravity trips, water network, distribution grid + load
 * profile), region.csv and the default merge spec.
 *
 * Every file is drawn from its own PRNG stream keyed by (seed, municipality
 * code, kernel), so a municipality's files do not change when others are
 * added.  Sizes grow linearly with population share and --scale. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rg_internal.h"

#define RG_PI 3.14159265358979323846

/* The 2020 merger: populations rounded (SSB, 2019), centres from the
 * administrative centres' latitude/longitude projected to metres around
 * Ålesund (x east, y north; offsets in km: 51.5 km per degree of longitude
 * at 62.5 N, 111 km per degree of latitude). */
static const struct {
    int code;
    const char *name;
    long pop;
    double dx_km, dy_km;
} known[] = {
    {1504, "Ålesund", 67000, 0.0, 0.0},
    {1534, "Haram", 9400, 14.9, 14.4},
    {1546, "Sandøy", 1300, 17.0, 34.4},
    {1529, "Skodje", 4700, 28.3, 3.3},
    {1523, "Ørskog", 2300, 34.0, 1.1},
};
#define NKNOWN ((int)(sizeof known / sizeof known[0]))
#define BASE_E 357000.0
#define BASE_N 6927000.0

int sk_region_muni_get(int i, sk_region_muni *m)
{
    if (i < 0 || i >= SK_REGION_MAX_MUNI)
        return -1;
    memset(m, 0, sizeof *m);
    if (i < NKNOWN) {
        m->code = known[i].code;
        snprintf(m->name, sizeof m->name, "%s", known[i].name);
        m->population = known[i].pop;
        m->cx = BASE_E + known[i].dx_km * 1000.0;
        m->cy = BASE_N + known[i].dy_km * 1000.0;
        return 0;
    }
    /* Synthetic members on a spiral around the region, far enough apart
     * that their networks (radius below 4.5 km) never overlap. */
    m->code = 9001 + (i - NKNOWN);
    snprintf(m->name, sizeof m->name, "Kommune %d", i + 1);
    m->population = 2000 + (long)((i * 7919L) % 9000);
    double ang = i * 2.39996, rad = 45000.0 + 9000.0 * (i - NKNOWN);
    m->cx = BASE_E + rad * cos(ang);
    m->cy = BASE_N + rad * sin(ang);
    return 0;
}

void sk_region_gen_opts_default(sk_region_gen_opts *o)
{
    o->nmuni = 5;
    o->scale = 1.0;
    o->seed = 2020;
}

/* What the default merge spec needs from each member's networks. */
typedef struct muni_ctx {
    sk_region_muni m;
    double w, radius;             /* population share of Ålesund, metres */
    /* traffic: grid (through) nodes only */
    long tn_first, tn_count;      /* node numbers tn_first .. tn_first+count-1 */
    double *tx, *ty;
    /* water junctions J1..Jn */
    long wj;
    double *wx, *wy;
    /* power load buses 3..nb */
    long pb;
    double *px, *py;
    double p_mean_mw;
    int cable;
    double *od_row;               /* unused by the spec; kept NULL */
} muni_ctx;

static void ctx_free(muni_ctx *c)
{
    free(c->tx); free(c->ty); free(c->wx); free(c->wy); free(c->px); free(c->py);
    free(c->od_row);
}

static long lround_min(double v, long min)
{
    long n = lround(v);
    return n < min ? min : n;
}

static double dist(double x0, double y0, double x1, double y1)
{
    return hypot(x1 - x0, y1 - y0);
}

static int write_in(const char *dir, const char *name, const rg_buf *b, sk_region_error *err)
{
    char path[4096];
    if (rg_path(path, sizeof path, dir, name) < 0)
        return rg_fail(err, SK_REGION_EINVAL, "%s/%s: path too long", dir, name);
    return rg_write_file(path, b, err);
}

/* ---- traffic ------------------------------------------------------------ */

static int gen_traffic(muni_ctx *c, const sk_region_gen_opts *o, const char *dir,
                       sk_region_counts *cnt, sk_region_error *err)
{
    rg_rng r;
    rg_rng_init(&r, o->seed, (uint64_t)c->m.code, 1);
    long g = lround_min(sqrt(70.0 * c->w * o->scale), 4);
    long ng = g * g;
    long nz = ng / 6;
    if (nz < 3) nz = 3;
    if (nz > 100) nz = 100;
    long nn = nz + ng;
    double R = c->radius, sp = 2.0 * R / (double)(g - 1);
    double *x = malloc((size_t)nn * sizeof *x), *y = malloc((size_t)nn * sizeof *y);
    double *zp = malloc((size_t)nz * sizeof *zp);
    long *zat = malloc((size_t)nz * sizeof *zat);
    unsigned char *used = calloc((size_t)ng, 1);
    double *od = malloc((size_t)nz * (size_t)nz * sizeof *od);
    rg_buf net = {0}, trips = {0}, nodes = {0};
    int rc = 0;
    if (!x || !y || !zp || !zat || !used || !od) {
        rc = rg_fail(err, SK_REGION_ENOMEM, "traffic %d: out of memory", c->m.code);
        goto out;
    }
    for (long i = 0; i < g; i++)
        for (long j = 0; j < g; j++) {
            long k = nz + i * g + j;
            x[k] = c->m.cx - R + (double)j * sp + (rg_rng_unif(&r) - 0.5) * 0.4 * sp;
            y[k] = c->m.cy - R + (double)i * sp + (rg_rng_unif(&r) - 0.5) * 0.4 * sp;
        }
    /* Zones: centroids beside distinct grid nodes, weighted towards the
     * centre (a town with a denser core). */
    double zsum = 0;
    for (long z = 0; z < nz; z++) {
        long k;
        do
            k = rg_rng_below(&r, ng);
        while (used[k]);
        used[k] = 1;
        zat[z] = k;
        x[z] = x[nz + k] + 0.1 * sp;
        y[z] = y[nz + k] + 0.1 * sp;
        double d = dist(x[z], y[z], c->m.cx, c->m.cy);
        zp[z] = exp(-1.5 * d / R) * (0.5 + rg_rng_unif(&r));
        zsum += zp[z];
    }
    /* Gravity model: T_ij ~ P_i P_j exp(-d_ij / 3 km), scaled to the
     * peak-hour car trips of the population (0.15 per inhabitant). */
    double total = 0.15 * (double)c->m.population, osum = 0;
    for (long i = 0; i < nz; i++)
        for (long j = 0; j < nz; j++) {
            double v = 0;
            if (i != j)
                v = zp[i] / zsum * zp[j] / zsum * exp(-dist(x[i], y[i], x[j], y[j]) / 3000.0);
            od[i * nz + j] = v;
            osum += v;
        }
    long nod = 0;
    double written = 0;
    for (long i = 0; i < nz * nz; i++) {
        od[i] = osum > 0 ? round(od[i] * total / osum * 100.0) / 100.0 : 0;
        if (od[i] > 0) {
            nod++;
            written += od[i];
        }
    }
    long nlinks = 4 * g * (g - 1) + 2 * nz;
    rg_buf_printf(&net, "<NUMBER OF ZONES> %ld\n<NUMBER OF NODES> %ld\n<FIRST THRU NODE> %ld\n"
                        "<NUMBER OF LINKS> %ld\n<ORIGINAL HEADER> samskap region generate: %s (%d), seed %llu, scale %g\n"
                        "<END OF METADATA>\n\n",
                  nz, nn, nz + 1, nlinks, c->m.name, c->m.code, (unsigned long long)o->seed, o->scale);
    rg_buf_puts(&net, "~\tinit\tterm\tcapacity\tlength\tfree_flow_time\tb\tpower\tspeed\ttoll\tlink_type\t;\n");
    for (long i = 0; i < g; i++)
        for (long j = 0; j < g; j++) {
            long a = nz + i * g + j;
            for (int dir2 = 0; dir2 < 2; dir2++) {
                long bi = i + (dir2 == 1), bj = j + (dir2 == 0);
                if (bi >= g || bj >= g)
                    continue;
                long b = nz + bi * g + bj;
                /* The middle row and column and the ring round the grid
                 * are the arterials (ties to neighbours land on the ring). */
                int art = (dir2 == 0 && (i == g / 2 || i == 0 || i == g - 1)) ||
                          (dir2 == 1 && (j == g / 2 || j == 0 || j == g - 1));
                /* Local streets get narrower as the grid gets finer, so the
                 * total capacity across town (and the congestion) stays
                 * about the same at every scale. */
                double cap = art ? 1800 : fmax(60.0, round(600.0 / sqrt(fmax(o->scale, 1.0)))), spd = art ? 60 : 40;
                double len = dist(x[a], y[a], x[b], y[b]) / 1000.0;
                for (int rev = 0; rev < 2; rev++)
                    rg_buf_printf(&net, "\t%ld\t%ld\t%.0f\t%.4f\t%.4f\t0.15\t4\t%.0f\t0\t%d\t;\n",
                                  (rev ? b : a) + 1, (rev ? a : b) + 1, cap, len, len / spd * 60.0, spd,
                                  art ? 2 : 1);
            }
        }
    for (long z = 0; z < nz; z++) {
        long k = nz + zat[z];
        rg_buf_printf(&net, "\t%ld\t%ld\t99999\t0.1000\t0.2000\t0.15\t4\t30\t0\t3\t;\n", z + 1, k + 1);
        rg_buf_printf(&net, "\t%ld\t%ld\t99999\t0.1000\t0.2000\t0.15\t4\t30\t0\t3\t;\n", k + 1, z + 1);
    }
    rg_buf_printf(&trips, "<NUMBER OF ZONES> %ld\n<TOTAL OD FLOW> %.2f\n<END OF METADATA>\n\n", nz, written);
    for (long i = 0; i < nz; i++) {
        rg_buf_printf(&trips, "Origin %ld\n", i + 1);
        int col = 0;
        for (long j = 0; j < nz; j++) {
            if (od[i * nz + j] <= 0)
                continue;
            rg_buf_printf(&trips, "%5ld : %10.2f;", j + 1, od[i * nz + j]);
            if (++col == 5) {
                rg_buf_puts(&trips, "\n");
                col = 0;
            }
        }
        rg_buf_puts(&trips, col ? "\n\n" : "\n");
    }
    rg_buf_puts(&nodes, "Node\tX\tY\t;\n");
    for (long k = 0; k < nn; k++)
        rg_buf_printf(&nodes, "%ld\t%.1f\t%.1f\t;\n", k + 1, x[k], y[k]);
    if ((rc = write_in(dir, "traffic_net.tntp", &net, err)) < 0 ||
        (rc = write_in(dir, "traffic_trips.tntp", &trips, err)) < 0 ||
        (rc = write_in(dir, "traffic_node.tntp", &nodes, err)) < 0)
        goto out;
    c->tn_first = nz + 1;
    c->tn_count = ng;
    c->tx = malloc((size_t)ng * sizeof *c->tx);
    c->ty = malloc((size_t)ng * sizeof *c->ty);
    if (!c->tx || !c->ty) {
        rc = rg_fail(err, SK_REGION_ENOMEM, "traffic %d: out of memory", c->m.code);
        goto out;
    }
    memcpy(c->tx, x + nz, (size_t)ng * sizeof *x);
    memcpy(c->ty, y + nz, (size_t)ng * sizeof *y);
    cnt->traffic_zones = nz;
    cnt->traffic_nodes = nn;
    cnt->traffic_links = nlinks;
    cnt->traffic_od = nod;
out:
    free(x); free(y); free(zp); free(zat); free(used); free(od);
    rg_buf_free(&net); rg_buf_free(&trips); rg_buf_free(&nodes);
    return rc;
}

/* ---- water -------------------------------------------------------------- */

/* Hazen-Williams head loss (m) of Q m3/s in a pipe of L m and D m. */
static double hw_loss(double q, double l, double d)
{
    return 10.67 * l * pow(fabs(q), 1.852) / (pow(120.0, 1.852) * pow(d, 4.8704));
}

static double pipe_size(double q_m3s)
{
    static const double sizes[] = {0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2};
    double d = sqrt(4.0 * q_m3s / (RG_PI * 0.7));   /* 0.7 m/s at the peak */
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i] >= d)
            return sizes[i];
    return 1.4;
}

static const double day_pattern[24] = {0.55, 0.50, 0.48, 0.48, 0.52, 0.70, 1.05, 1.40, 1.45, 1.30, 1.20, 1.15,
                                       1.15, 1.10, 1.05, 1.05, 1.15, 1.30, 1.40, 1.35, 1.20, 1.00, 0.80, 0.63};

static int gen_water(muni_ctx *c, const sk_region_gen_opts *o, const char *dir, sk_region_counts *cnt,
                     sk_region_error *err)
{
    rg_rng r;
    rg_rng_init(&r, o->seed, (uint64_t)c->m.code, 2);
    long g = lround_min(sqrt(140.0 * c->w * o->scale), 5), n = g * g;
    double R = c->radius, sp = 2.0 * R / (double)(g - 1);
    double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    double *el = malloc((size_t)n * sizeof *el), *dem = malloc((size_t)n * sizeof *dem);
    double *acc = malloc((size_t)n * sizeof *acc);
    long *par = malloc((size_t)n * sizeof *par), *order = malloc((size_t)n * sizeof *order);
    unsigned char *tree = calloc((size_t)n * 2, 1);   /* edge (k, right/up) is in the tree */
    rg_buf b = {0};
    int rc = 0;
    if (!x || !y || !el || !dem || !acc || !par || !order || !tree) {
        rc = rg_fail(err, SK_REGION_ENOMEM, "water %d: out of memory", c->m.code);
        goto out;
    }
    double qavg = (double)c->m.population * 250.0 / 86400.0;   /* L/s: 250 L per person and day */
    double wsum = 0, emax = 0;
    for (long i = 0; i < g; i++)
        for (long j = 0; j < g; j++) {
            long k = i * g + j;
            x[k] = c->m.cx - R + (double)j * sp + (rg_rng_unif(&r) - 0.5) * 0.3 * sp;
            y[k] = c->m.cy - R + (double)i * sp + (rg_rng_unif(&r) - 0.5) * 0.3 * sp;
            double d = dist(x[k], y[k], c->m.cx, c->m.cy);
            el[k] = 8.0 + 45.0 * d / R + 10.0 * sin(x[k] / 900.0) * cos(y[k] / 700.0) + 4.0 * rg_rng_unif(&r);
            if (el[k] < 2.0)
                el[k] = 2.0;
            if (el[k] > emax)
                emax = el[k];
            dem[k] = 0.3 + rg_rng_unif(&r);
            wsum += dem[k];
            par[k] = -2;
        }
    for (long k = 0; k < n; k++)
        dem[k] = round(dem[k] / wsum * qavg * 10000.0) / 10000.0;
    /* Randomised BFS tree from the pump node (the centre): short supply paths; the
     * remaining grid edges become loops with probability 0.4. */
    long head = 0, tail = 0, src = (g / 2) * g + g / 2;
    order[tail++] = src;
    par[src] = -1;
    while (head < tail) {
        long k = order[head++], i = k / g, j = k % g;
        long nb[4] = {j + 1 < g ? k + 1 : -1, i + 1 < g ? k + g : -1, j > 0 ? k - 1 : -1, i > 0 ? k - g : -1};
        for (int s = 3; s > 0; s--) {
            int t = (int)rg_rng_below(&r, s + 1);
            long tmp = nb[s]; nb[s] = nb[t]; nb[t] = tmp;
        }
        for (int s = 0; s < 4; s++)
            if (nb[s] >= 0 && par[nb[s]] == -2) {
                par[nb[s]] = k;
                order[tail++] = nb[s];
            }
    }
    for (long k = 0; k < n; k++)
        acc[k] = dem[k] / 1000.0;
    for (long t = n - 1; t > 0; t--)
        acc[par[order[t]]] += acc[order[t]];
    int ntank = n >= 100 ? 2 : 1;
    long tank_at[2] = {order[n - 1], (g - 1) * g};
    if (tank_at[1] == tank_at[0])
        tank_at[1] = g - 1;   /* the other far corner */
    double tank_bottom = round(emax + 30.0);
    double res_head = 15.0;
    /* Pump head: lift to the tank's working level plus the friction along
     * the tree path at the mean flow, so that the tank floats near its
     * initial level over the day. */
    double qd = qavg / 1000.0, loss = 0;
    for (long k = tank_at[0]; par[k] >= 0; k = par[k])
        loss += hw_loss(acc[k], dist(x[k], y[k], x[par[k]], y[par[k]]), pipe_size(1.5 * acc[k]));
    double hd = tank_bottom + 4.0 - res_head + loss + 2.0;
    if (hd < 5)
        hd = 5;
    rg_buf_printf(&b, "[TITLE]\nSynthetic water network of %s (%d): samskap region generate, seed %llu, scale %g\n\n",
                  c->m.name, c->m.code, (unsigned long long)o->seed, o->scale);
    rg_buf_puts(&b, "[JUNCTIONS]\n;ID\tElev\tDemand\tPattern\n");
    for (long k = 0; k < n; k++)
        rg_buf_printf(&b, " J%ld\t%.2f\t%.4f\tDAY\t;\n", k + 1, el[k], dem[k]);
    rg_buf_printf(&b, "\n[RESERVOIRS]\n;ID\tHead\n R1\t%.1f\t;\n", res_head);
    rg_buf_puts(&b, "\n[TANKS]\n;ID\tElevation\tInitLevel\tMinLevel\tMaxLevel\tDiameter\tMinVol\n");
    for (int t = 0; t < ntank; t++) {
        double vol = qd * 3600.0 * 6.0 / ntank;
        double d = sqrt(4.0 * vol / (RG_PI * 7.5));
        if (d < 8)
            d = 8;
        rg_buf_printf(&b, " T%d\t%.1f\t4\t0.5\t8\t%.1f\t0\t;\n", t + 1, tank_bottom, d);
    }
    rg_buf_puts(&b, "\n[PIPES]\n;ID\tNode1\tNode2\tLength\tDiameter\tRoughness\tMinorLoss\tStatus\n");
    long np = 0;
    for (long k = 0; k < n; k++) {
        long p = par[k];
        if (p < 0)
            continue;
        double l = dist(x[k], y[k], x[p], y[p]);
        rg_buf_printf(&b, " P%ld\tJ%ld\tJ%ld\t%.1f\t%.0f\t120\t0\tOpen\t;\n", ++np, p + 1, k + 1, l,
                      pipe_size(1.5 * acc[k]) * 1000.0);
        long i = k / g, j = k % g, pi = p / g, pj = p % g;
        long lo = p < k ? p : k;
        tree[lo * 2 + (pi == i ? 0 : 1)] = 1;
        (void)j; (void)pj;
    }
    for (long k = 0; k < n; k++) {
        long i = k / g, j = k % g;
        for (int d2 = 0; d2 < 2; d2++) {
            long m = d2 == 0 ? (j + 1 < g ? k + 1 : -1) : (i + 1 < g ? k + g : -1);
            if (m < 0 || tree[k * 2 + d2])
                continue;
            if (rg_rng_unif(&r) < 0.4)
                rg_buf_printf(&b, " P%ld\tJ%ld\tJ%ld\t%.1f\t100\t120\t0\tOpen\t;\n", ++np, k + 1, m + 1,
                              dist(x[k], y[k], x[m], y[m]));
        }
    }
    for (int t = 0; t < ntank; t++)
        rg_buf_printf(&b, " PT%d\tJ%ld\tT%d\t200.0\t%.0f\t120\t0\tOpen\t;\n", t + 1, tank_at[t] + 1, t + 1,
                      pipe_size(0.75 * qd) * 1000.0);
    rg_buf_printf(&b, "\n[PUMPS]\n;ID\tNode1\tNode2\tParameters\n PU1\tR1\tJ%ld\tHEAD PC1\t;\n", src + 1);
    rg_buf_puts(&b, "\n[PATTERNS]\n;ID\tMultipliers\n");
    for (int h = 0; h < 24; h++)
        rg_buf_printf(&b, "%s\t%.2f%s", h % 6 == 0 ? " DAY" : "", day_pattern[h], h % 6 == 5 ? "\n" : "");
    rg_buf_printf(&b, "\n[CURVES]\n;ID\tFlow\tHead\n PC1\t%.2f\t%.2f\n", qavg, hd);
    rg_buf_puts(&b, "\n[TIMES]\n Duration\t24:00\n Hydraulic Timestep\t1:00\n Pattern Timestep\t1:00\n"
                    " Report Timestep\t1:00\n Report Start\t0:00\n Start ClockTime\t12 am\n");
    rg_buf_puts(&b, "\n[OPTIONS]\n Units\tLPS\n Headloss\tH-W\n Trials\t200\n Accuracy\t0.001\n"
                    " Unbalanced\tContinue 10\n Pattern\tDAY\n Demand Multiplier\t1.0\n");
    rg_buf_puts(&b, "\n[COORDINATES]\n;Node\tX-Coord\tY-Coord\n");
    for (long k = 0; k < n; k++)
        rg_buf_printf(&b, " J%ld\t%.1f\t%.1f\n", k + 1, x[k], y[k]);
    rg_buf_printf(&b, " R1\t%.1f\t%.1f\n", x[src] - 300.0, y[src] - 300.0);
    for (int t = 0; t < ntank; t++)
        rg_buf_printf(&b, " T%d\t%.1f\t%.1f\n", t + 1, x[tank_at[t]] + 150.0, y[tank_at[t]] + 150.0);
    rg_buf_puts(&b, "\n[END]\n");
    if ((rc = write_in(dir, "water.inp", &b, err)) < 0)
        goto out;
    c->wj = n;
    c->wx = x;
    c->wy = y;
    x = y = NULL;
    cnt->water_nodes = n + 1 + ntank;
    cnt->water_links = np + ntank + 1;
out:
    free(x); free(y); free(el); free(dem); free(acc); free(par); free(order); free(tree);
    rg_buf_free(&b);
    return rc;
}

/* ---- power -------------------------------------------------------------- */

/* Per km on 22 kV: cable (240 mm2 Al) in towns, overhead line (FeAl 95) in
 * rural members.  Zbase = 22^2 / 100 MVA = 4.84 ohm. */
static void line_params(int cable, double km, double *rr, double *xx, double *bb)
{
    *rr = (cable ? 0.125 : 0.31) * km / 4.84;
    *xx = (cable ? 0.10 : 0.36) * km / 4.84;
    *bb = (cable ? 4.6e-4 : 1.0e-5) * km;
}

static int gen_power(muni_ctx *c, const sk_region_gen_opts *o, const char *dir, sk_region_counts *cnt,
                     sk_region_error *err)
{
    rg_rng r;
    rg_rng_init(&r, o->seed, (uint64_t)c->m.code, 3);
    long nb = lround_min(200.0 * c->w * o->scale, 16);
    double pmean = (double)c->m.population * 2.0 / 1000.0;   /* MW: 2 kW per inhabitant */
    long nf = (long)ceil(pmean * 1.5 / 8.0);
    if (nf < 1) nf = 1;
    if (nf > nb - 2) nf = nb - 2;
    c->cable = c->m.population >= 5000;
    c->p_mean_mw = pmean;
    double R = c->radius;
    double *x = malloc((size_t)nb * sizeof *x), *y = malloc((size_t)nb * sizeof *y);
    double *pd = malloc((size_t)nb * sizeof *pd);
    long *par = malloc((size_t)nb * sizeof *par);
    rg_buf b = {0}, xy = {0}, prof = {0};
    double *mult = malloc(8760 * sizeof *mult);
    int rc = 0;
    if (!x || !y || !pd || !par || !mult) {
        rc = rg_fail(err, SK_REGION_ENOMEM, "power %d: out of memory", c->m.code);
        goto out;
    }
    x[0] = x[1] = c->m.cx;
    y[0] = y[1] = c->m.cy;
    pd[0] = pd[1] = 0;
    par[0] = par[1] = -1;
    double wsum = 0;
    long load = nb - 2, next = 2;
    for (long f = 0; f < nf; f++) {
        long nf_b = load / nf + (f < load % nf ? 1 : 0);
        double th = 2.0 * RG_PI * ((double)f + 0.5) / (double)nf;
        double step = R / (double)nf_b;
        for (long k = 0; k < nf_b; k++, next++) {
            /* A feeder: each bus hangs off one of the last three of its
             * feeder, so feeders branch into laterals but stay radial; it
             * sits one step (R / buses) from its parent, so a feeder's cable
             * length is about R whatever the scale. */
            long back = k < 3 ? k : 3;
            par[next] = k == 0 ? 1 : next - 1 - rg_rng_below(&r, back);
            double a = th + (rg_rng_unif(&r) - 0.5) * 1.2;
            double len = step * (0.6 + 0.8 * rg_rng_unif(&r));
            x[next] = x[par[next]] + len * cos(a);
            y[next] = y[par[next]] + len * sin(a);
            pd[next] = 0.5 + rg_rng_unif(&r);
            wsum += pd[next];
        }
    }
    double ptot = 0;
    for (long k = 2; k < nb; k++) {
        pd[k] = round(pd[k] / wsum * pmean * 10000.0) / 10000.0;
        ptot += pd[k];
    }
    double srated = ceil(pmean * 1.5 * 1.3 / 5.0) * 5.0;
    if (srated < 10)
        srated = 10;
    rg_buf_printf(&b, "function mpc = grid_%d\n%% Synthetic 22 kV distribution grid of %s (%d): samskap region generate,\n"
                      "%% seed %llu, scale %g.  Bus 1 is the 132 kV infeed (slack), bus 2 the 22 kV\n"
                      "%% busbar, %ld radial feeders leave bus 2.  Loads are the annual mean\n"
                      "%% (power_profile.csv scales them hour by hour).\n",
                  c->m.code, c->m.name, c->m.code, (unsigned long long)o->seed, o->scale, nf);
    rg_buf_puts(&b, "mpc.version = '2';\nmpc.baseMVA = 100;\n\n%% bus_i type Pd Qd Gs Bs area Vm Va baseKV zone Vmax Vmin\nmpc.bus = [\n");
    rg_buf_puts(&b, "\t1\t3\t0\t0\t0\t0\t1\t1.03\t0\t132\t1\t1.1\t0.9;\n");
    for (long k = 1; k < nb; k++)
        rg_buf_printf(&b, "\t%ld\t1\t%.4f\t%.4f\t0\t0\t1\t1\t0\t22\t1\t1.1\t0.9;\n", k + 1, pd[k], pd[k] * 0.25);
    rg_buf_puts(&b, "];\n\n%% bus Pg Qg Qmax Qmin Vg mBase status Pmax Pmin\nmpc.gen = [\n");
    rg_buf_printf(&b, "\t1\t%.4f\t0\t999\t-999\t1.03\t100\t1\t%.1f\t0;\n];\n", ptot, 3.0 * pmean + 10.0);
    rg_buf_puts(&b, "\n%% fbus tbus r x b rateA rateB rateC ratio angle status angmin angmax\nmpc.branch = [\n");
    rg_buf_printf(&b, "\t1\t2\t%.6f\t%.6f\t0\t%.0f\t%.0f\t%.0f\t1\t0\t1\t-360\t360;\n", 0.005 * 100.0 / srated,
                  0.08 * 100.0 / srated, srated, srated, srated);
    long nbr = 1;
    for (long k = 2; k < nb; k++) {
        double km = dist(x[k], y[k], x[par[k]], y[par[k]]) / 1000.0, rr, xx, bb;
        if (km < 0.01)
            km = 0.01;
        line_params(c->cable, km, &rr, &xx, &bb);
        double rate = c->cable ? 12 : 8;
        rg_buf_printf(&b, "\t%ld\t%ld\t%.6f\t%.6f\t%.6f\t%.0f\t%.0f\t%.0f\t0\t0\t1\t-360\t360;\n", par[k] + 1, k + 1, rr,
                      xx, bb, rate, rate, rate);
        nbr++;
    }
    rg_buf_puts(&b, "];\n\n%% model startup shutdown n c2 c1 c0\nmpc.gencost = [\n\t2\t0\t0\t3\t0\t20\t0;\n];\n");
    rg_buf_puts(&xy, "bus,x,y\n");
    for (long k = 0; k < nb; k++)
        rg_buf_printf(&xy, "%ld,%.1f,%.1f\n", k + 1, x[k], y[k]);
    /* Hourly multipliers for a year starting on a Wednesday (2020-01-01):
     * winter peak, morning and evening peaks, lower weekends, 3 % noise;
     * normalised to a mean of exactly 1 before rounding. */
    double msum = 0;
    for (int h = 0; h < 8760; h++) {
        int day = h / 24, hod = h % 24, dow = (day + 2) % 7;
        double season = 1.0 + 0.30 * cos(2.0 * RG_PI * (day - 15) / 365.0);
        double daily = 0.78 + 0.18 * exp(-pow((hod - 8) / 2.5, 2)) + 0.24 * exp(-pow((hod - 18) / 3.0, 2)) +
                       0.10 * exp(-pow((hod - 13) / 4.0, 2));
        double week = dow >= 5 ? 0.92 : 1.0;
        mult[h] = season * daily * week * (1.0 + 0.06 * (rg_rng_unif(&r) - 0.5));
        msum += mult[h];
    }
    rg_buf_puts(&prof, "hour,global\n");
    for (int h = 0; h < 8760; h++)
        rg_buf_printf(&prof, "%d,%.4f\n", h, mult[h] * 8760.0 / msum);
    if ((rc = write_in(dir, "power.m", &b, err)) < 0 || (rc = write_in(dir, "power_bus_xy.csv", &xy, err)) < 0 ||
        (rc = write_in(dir, "power_profile.csv", &prof, err)) < 0)
        goto out;
    c->pb = nb;
    c->px = x;
    c->py = y;
    x = y = NULL;
    cnt->power_buses = nb;
    cnt->power_branches = nbr;
    cnt->power_gens = 1;
out:
    free(x); free(y); free(pd); free(par); free(mult);
    rg_buf_free(&b); rg_buf_free(&xy); rg_buf_free(&prof);
    return rc;
}

/* ---- region.csv and the default merge spec ------------------------------ */

static long nearest(const double *x, const double *y, long lo, long n, double px, double py)
{
    long best = lo;
    double bd = INFINITY;
    for (long k = lo; k < n; k++) {
        double d = dist(x[k], y[k], px, py);
        if (d < bd) {
            bd = d;
            best = k;
        }
    }
    return best;
}

static int write_spec(muni_ctx *cs, int nm, const char *outdir, sk_region_error *err)
{
    rg_buf b = {0};
    rg_buf_puts(&b, "# samskap merge spec (docs/region.md), written by `samskap region generate`.\n"
                    "# Ties follow a minimum spanning tree of the municipal centres; each tie\n"
                    "# joins the elements of the two members nearest to the other's centre.\n"
                    "region 1507 Ålesund\n");
    for (int i = 0; i < nm; i++)
        rg_buf_printf(&b, "member %d\n", cs[i].m.code);
    /* Prim's algorithm on the centres (n is small). */
    int in[SK_REGION_MAX_MUNI] = {0}, from[SK_REGION_MAX_MUNI];
    double bestd[SK_REGION_MAX_MUNI];
    for (int i = 0; i < nm; i++) {
        bestd[i] = INFINITY;
        from[i] = -1;
    }
    bestd[0] = 0;
    for (int it = 0; it < nm; it++) {
        int u = -1;
        for (int i = 0; i < nm; i++)
            if (!in[i] && (u < 0 || bestd[i] < bestd[u]))
                u = i;
        in[u] = 1;
        if (from[u] >= 0) {
            muni_ctx *a = &cs[from[u]], *c = &cs[u];
            long ta = nearest(a->tx, a->ty, 0, a->tn_count, c->m.cx, c->m.cy);
            long tc = nearest(c->tx, c->ty, 0, c->tn_count, a->m.cx, a->m.cy);
            double km = dist(a->tx[ta], a->ty[ta], c->tx[tc], c->ty[tc]) * 1.25 / 1000.0;
            rg_buf_printf(&b, "road %d %ld %d %ld 1800 %.3f 70\n", a->m.code, ta + a->tn_first, c->m.code,
                          tc + c->tn_first, km);
            long wa = nearest(a->wx, a->wy, 0, a->wj, c->m.cx, c->m.cy);
            long wc = nearest(c->wx, c->wy, 0, c->wj, a->m.cx, a->m.cy);
            rg_buf_printf(&b, "main %d J%ld %d J%ld %.1f 250 120\n", a->m.code, wa + 1, c->m.code, wc + 1,
                          dist(a->wx[wa], a->wy[wa], c->wx[wc], c->wy[wc]) * 1.15);
            long pa = nearest(a->px, a->py, 2, a->pb, c->m.cx, c->m.cy);
            long pc = nearest(c->px, c->py, 2, c->pb, a->m.cx, a->m.cy);
            double rr, xx, bb;
            line_params(1, dist(a->px[pa], a->py[pa], c->px[pc], c->py[pc]) * 1.1 / 1000.0, &rr, &xx, &bb);
            rg_buf_printf(&b, "tie %d %ld %d %ld %.6f %.6f %.6f 15\n", a->m.code, pa + 1, c->m.code, pc + 1, rr, xx,
                          bb);
        }
        for (int i = 0; i < nm; i++) {
            double d = dist(cs[u].m.cx, cs[u].m.cy, cs[i].m.cx, cs[i].m.cy);
            if (!in[i] && d < bestd[i]) {
                bestd[i] = d;
                from[i] = u;
            }
        }
    }
    /* Commuting between every pair: gravity on populations and centre
     * distance (peak-hour cars each way). */
    for (int i = 0; i < nm; i++)
        for (int j = i + 1; j < nm; j++) {
            double km = dist(cs[i].m.cx, cs[i].m.cy, cs[j].m.cx, cs[j].m.cy) / 1000.0;
            double t = 6e-5 * (double)cs[i].m.population * (double)cs[j].m.population / pow(km < 1 ? 1 : km, 1.5);
            if (t >= 0.05)
                rg_buf_printf(&b, "demand %d %d %.1f\n", cs[i].m.code, cs[j].m.code, t);
        }
    int rc = write_in(outdir, "merge.spec", &b, err);
    rg_buf_free(&b);
    return rc;
}

int sk_region_generate(const sk_region_gen_opts *o, const char *outdir, sk_region_summary *sum,
                       sk_region_error *err)
{
    if (!o || !outdir || o->nmuni < 1 || o->nmuni > SK_REGION_MAX_MUNI || !(o->scale > 0) || o->scale > 1e5)
        return rg_fail(err, SK_REGION_EINVAL, "region generate: municipalities must be 1..%d and scale > 0",
                       SK_REGION_MAX_MUNI);
    int rc = rg_mkdirs(outdir, err);
    if (rc < 0)
        return rc;
    rg_locale loc;
    if ((rc = rg_locale_enter(&loc, err)) < 0)
        return rc;
    muni_ctx *cs = calloc((size_t)o->nmuni, sizeof *cs);
    sk_region_summary *s = calloc(1, sizeof *s);
    rg_buf reg = {0};
    if (!cs || !s) {
        rc = rg_fail(err, SK_REGION_ENOMEM, "region generate: out of memory");
        goto out;
    }
    s->nmuni = o->nmuni;
    rg_buf_puts(&reg, "code,name,population\n");
    for (int i = 0; i < o->nmuni && rc == 0; i++) {
        muni_ctx *c = &cs[i];
        sk_region_muni_get(i, &c->m);
        c->w = (double)c->m.population / 67000.0;
        c->radius = 1500.0 + 3000.0 * sqrt(c->w);
        char dir[4096];
        snprintf(s->name[i], sizeof s->name[i], "%s", c->m.name);
        s->code[i] = c->m.code;
        if (snprintf(dir, sizeof dir, "%s/%d", outdir, c->m.code) >= (int)sizeof dir) {
            rc = rg_fail(err, SK_REGION_EINVAL, "%s: path too long", outdir);
            break;
        }
        sk_region_counts *cnt = &s->muni[i];
        cnt->population = c->m.population;
        if ((rc = rg_mkdirs(dir, err)) < 0 || (rc = gen_traffic(c, o, dir, cnt, err)) < 0 ||
            (rc = gen_water(c, o, dir, cnt, err)) < 0 || (rc = gen_power(c, o, dir, cnt, err)) < 0)
            break;
        rg_buf_printf(&reg, "%d,%s,%ld\n", c->m.code, c->m.name, c->m.population);
        sk_region_counts *t = &s->total;
        t->traffic_zones += cnt->traffic_zones; t->traffic_nodes += cnt->traffic_nodes;
        t->traffic_links += cnt->traffic_links; t->traffic_od += cnt->traffic_od;
        t->water_nodes += cnt->water_nodes; t->water_links += cnt->water_links;
        t->power_buses += cnt->power_buses; t->power_branches += cnt->power_branches;
        t->power_gens += cnt->power_gens; t->population += cnt->population;
    }
    if (rc == 0)
        rc = write_in(outdir, "region.csv", &reg, err);
    if (rc == 0)
        rc = write_spec(cs, o->nmuni, outdir, err);
    if (rc == 0 && sum)
        *sum = *s;
out:
    if (cs)
        for (int i = 0; i < o->nmuni; i++)
            ctx_free(&cs[i]);
    free(cs);
    free(s);
    rg_buf_free(&reg);
    rg_locale_leave(&loc);
    return rc;
}
