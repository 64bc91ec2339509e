/* tr_solve.c - Algorithm B (Dial 2006): origin-based user equilibrium.
 *
 * Each origin r keeps an acyclic bush (a subset of links, inbush[r][a]) and
 * its own link flows bflow[r][a].  One outer iteration:
 *   1. per origin: drop unused links (keeping the min-path tree), add the
 *      links that shorten the max-path labels (U_i + c_ij < U_j; all old
 *      links satisfy U_i + c_ij <= U_j, so the bush stays acyclic), and
 *      shift flow from the longest used to the shortest path segments with
 *      exact Newton steps (segment costs summed at current link costs);
 *   2. up to inner_sweeps more shift-only sweeps, each over the bushes
 *      whose demand-weighted spread is at least the average;
 *   3. link flows re-summed from the bushes (no drift), then the relative
 *      gap from a full Dijkstra per origin (threads split the origins; the
 *      per-origin SPTT is summed in origin order, so results do not depend
 *      on timing).
 * Bush work is sequential (Gauss-Seidel on the link costs): for a given
 * input the result is the same for any thread count, run after run. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tr_internal.h"

struct sk_traffic_solver {
    const sk_traffic_net *net;
    const sk_traffic_trips *trips;
    sk_traffic_options opt;
    tr_graph g;
    tr_costfn cf;
    int32_t n, m;
    double *x, *cost, *der;
    /* origins: zones with demand */
    int32_t norig;
    int32_t *orig_node;
    int32_t *dst_start, *dst_node;
    double *dst_dem;
    /* bushes, [norig * m] and [norig * n] */
    double *bflow;
    uint8_t *inbush;
    int32_t *topo, *ntopo;
    /* scratch (bush phase, single thread) */
    double *L, *U, *node_dem;
    int32_t *Lpred, *Upred, *tpos, *indeg, *segmin, *segmax;
    /* gap phase */
    int nthreads;
    tr_sp *sp;
    double *sptt_orig;
    /* history */
    double *gaps;
    size_t ngaps, capgaps;
    sk_traffic_stats st;
    double shift_eps;
    double flow_eps;     /* origin flows below this are zero */
    double skip_frac;
    double *oexcess;     /* [norig] demand-weighted U - L at the last shift */
    struct timespec t0;
};

void sk_traffic_options_init(sk_traffic_options *o)
{
    memset(o, 0, sizeof *o);
    o->target_gap = 1e-6;
    o->max_iters = 1000;
    o->time_limit_s = 0;
    o->threads = 1;
    o->toll_factor = NAN;
    o->distance_factor = NAN;
    o->inner_sweeps = 10;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double sk_traffic_link_cost(const sk_traffic_net *n, int32_t a, double x, double tf, double df)
{
    double p = n->power[a], b = n->b[a];
    double t = n->fft[a];
    if (b != 0 && p != 0)
        t *= 1.0 + b * pow(x / n->capacity[a], p);
    else
        t *= 1.0 + b;
    return t + tf * n->toll[a] + df * n->length[a];
}

/* ---- bush primitives --------------------------------------------------- */

/* Topological order of origin r's bush by Kahn's algorithm from r.
 * Returns -1 if the bush has a cycle (cannot happen; checked anyway). */
static int bush_topo(sk_traffic_solver *s, int32_t r)
{
    const tr_graph *g = &s->g;
    const uint8_t *ib = s->inbush + (size_t)r * s->m;
    int32_t *topo = s->topo + (size_t)r * s->n;
    int32_t *indeg = s->indeg;
    memset(indeg, 0, (size_t)s->n * sizeof *indeg);
    for (int32_t a = 0; a < s->m; a++)
        if (ib[a])
            indeg[g->to[a]]++;
    int32_t head = 0, tail = 0;
    topo[tail++] = s->orig_node[r];
    while (head < tail) {
        int32_t u = topo[head++];
        for (int32_t k = g->out_start[u], ke = g->out_start[u + 1]; k < ke; k++) {
            int32_t a = g->out_link[k];
            if (ib[a] && --indeg[g->to[a]] == 0)
                topo[tail++] = g->to[a];
        }
    }
    s->ntopo[r] = tail;
    return 0;
}

/* Min labels over all bush links (L, Lpred) and max labels U over the links
 * with flow (used = 1) or over all bush links (used = 0), with Upred. */
static void bush_labels(sk_traffic_solver *s, int32_t r, int used)
{
    const tr_graph *g = &s->g;
    const uint8_t *ib = s->inbush + (size_t)r * s->m;
    double *bf = s->bflow + (size_t)r * s->m;
    const int32_t *topo = s->topo + (size_t)r * s->n;
    int32_t nt = s->ntopo[r];
    double *L = s->L, *U = s->U;
    int32_t *Lp = s->Lpred, *Up = s->Upred;
    int32_t o = topo[0];
    L[o] = U[o] = 0;
    Lp[o] = Up[o] = -1;
    s->tpos[o] = 0;
    for (int32_t t = 1; t < nt; t++) {
        int32_t j = topo[t];
        double lj = INFINITY, uj = -INFINITY;
        int32_t lp = -1, up = -1;
        for (int32_t k = g->in_start[j], ke = g->in_start[j + 1]; k < ke; k++) {
            int32_t a = g->in_link[k];
            if (!ib[a])
                continue;
            int32_t i = g->from[a];
            double c = s->cost[a];
            double li = L[i] + c;
            if (li < lj) {
                lj = li;
                lp = a;
            }
            if (used && bf[a] > 0 && U[i] == -INFINITY) {
                /* Flow leaving a node that receives none: rounding crumbs
                 * (see bush_shift).  Drop them so no phantom path is used. */
                s->x[a] -= bf[a];
                bf[a] = 0;
                continue;
            }
            if (!used || bf[a] > 0) {
                double ui = U[i] + c;
                if (ui > uj) {
                    uj = ui;
                    up = a;
                }
            }
        }
        L[j] = lj;
        Lp[j] = lp;
        U[j] = up >= 0 ? uj : -INFINITY;
        Up[j] = up;
        s->tpos[j] = t;
    }
}

static inline void link_set(sk_traffic_solver *s, int32_t a, double nx)
{
    if (nx < 0)
        nx = 0;
    s->x[a] = nx;
    s->cost[a] = tr_cost(&s->cf, a, nx);
    s->der[a] = tr_dcost(&s->cf, a, nx);
}

/* One sweep of flow shifts over origin r's bush (nodes from last to first
 * in topological order).  Returns the largest U - L seen. */
static double bush_shift(sk_traffic_solver *s, int32_t r)
{
    const tr_graph *g = &s->g;
    double *bf = s->bflow + (size_t)r * s->m;
    const int32_t *topo = s->topo + (size_t)r * s->n;
    int32_t nt = s->ntopo[r];
    bush_labels(s, r, 1);
    double maxdiff = 0, excess = 0;
    const double *L = s->L, *U = s->U;
    for (int32_t k = s->dst_start[r]; k < s->dst_start[r + 1]; k++) {
        int32_t d = s->dst_node[k];
        if (s->Upred[d] >= 0)
            excess += s->dst_dem[k] * (U[d] - L[d]);
    }
    s->oexcess[r] = excess;
    const int32_t *Lp = s->Lpred, *Up = s->Upred, *tpos = s->tpos;
    int32_t *smin = s->segmin, *smax = s->segmax;
    for (int32_t t = nt - 1; t > 0; t--) {
        int32_t j = topo[t];
        if (Up[j] < 0)
            continue;
        double diff = U[j] - L[j];
        if (diff > maxdiff)
            maxdiff = diff;
        if (!(diff > s->shift_eps))
            continue;
        /* Walk both paths back to where they diverge: always step back the
         * node later in topological order. */
        if (Lp[j] == Up[j])
            continue;   /* same last link: the pair is handled at its tail */
        int32_t nmin = 1, nmax = 1, ok = 1;
        smin[0] = Lp[j];
        smax[0] = Up[j];
        int32_t a = g->from[Lp[j]], b = g->from[Up[j]];
        while (a != b) {
            if (tpos[a] > tpos[b]) {
                int32_t l = Lp[a];
                smin[nmin++] = l;
                a = g->from[l];
            } else {
                int32_t l = Up[b];
                if (l < 0) { ok = 0; break; }
                smax[nmax++] = l;
                b = g->from[l];
            }
        }
        if (!ok || nmax == 0)
            continue;
        double cmin = 0, cmax = 0, dsum = 0, fmax = INFINITY;
        for (int32_t k = 0; k < nmin; k++) {
            cmin += s->cost[smin[k]];
            dsum += s->der[smin[k]];
        }
        for (int32_t k = 0; k < nmax; k++) {
            int32_t l = smax[k];
            cmax += s->cost[l];
            dsum += s->der[l];
            if (bf[l] < fmax)
                fmax = bf[l];
        }
        double dc = cmax - cmin;
        if (!(dc > 0) || !(fmax > 0))
            continue;
        double dx = dsum > 0 ? dc / dsum : fmax;
        if (!(dx < fmax))
            dx = fmax;   /* also inf/inf on overflowing high powers */
        for (int32_t k = 0; k < nmax; k++) {
            int32_t l = smax[k];
            double nb = bf[l] - dx;
            /* Rounding leaves crumbs (1e-13 veh) on the other links of a
             * segment emptied to its minimum; such crumbs would look "used"
             * with no used path behind them, never move, and block bush
             * growth.  Flows below flow_eps are zero. */
            bf[l] = nb > s->flow_eps ? nb : 0;
            link_set(s, l, s->x[l] - dx);
        }
        for (int32_t k = 0; k < nmin; k++) {
            int32_t l = smin[k];
            bf[l] += dx;
            link_set(s, l, s->x[l] + dx);
        }
    }
    return maxdiff;
}

/* One pass in topological order: min labels L (all bush links), then drop
 * the unused in-links that are not the min-path link, then max labels U
 * over what is left (so removed links do not inflate U).  U is finite
 * exactly for the nodes in the bush. */
static void bush_prune_labels(sk_traffic_solver *s, int32_t r)
{
    const tr_graph *g = &s->g;
    uint8_t *ib = s->inbush + (size_t)r * s->m;
    const double *bf = s->bflow + (size_t)r * s->m;
    const int32_t *topo = s->topo + (size_t)r * s->n;
    int32_t nt = s->ntopo[r];
    double *L = s->L, *U = s->U;
    int32_t *Lp = s->Lpred, *Up = s->Upred;
    int32_t o = topo[0];
    L[o] = U[o] = 0;
    Lp[o] = Up[o] = -1;
    s->tpos[o] = 0;
    for (int32_t t = 1; t < nt; t++) {
        int32_t j = topo[t];
        int32_t k0 = g->in_start[j], k1 = g->in_start[j + 1];
        double lj = INFINITY, uj = -INFINITY;
        int32_t lp = -1, up = -1;
        for (int32_t k = k0; k < k1; k++) {
            int32_t a = g->in_link[k];
            if (!ib[a])
                continue;
            double li = L[g->from[a]] + s->cost[a];
            if (li < lj) {
                lj = li;
                lp = a;
            }
        }
        for (int32_t k = k0; k < k1; k++) {
            int32_t a = g->in_link[k];
            if (!ib[a])
                continue;
            if (!(bf[a] > 0) && a != lp) {
                ib[a] = 0;
                continue;
            }
            double ui = U[g->from[a]] + s->cost[a];
            if (ui > uj) {
                uj = ui;
                up = a;
            }
        }
        L[j] = lj;
        Lp[j] = lp;
        U[j] = uj;
        Up[j] = up;
        s->tpos[j] = t;
    }
}

/* Drop unused links not on the min-path tree, add shortcuts against the
 * max labels over all bush links, rebuild the topological order. */
static int bush_update(sk_traffic_solver *s, int32_t r)
{
    const tr_graph *g = &s->g;
    uint8_t *ib = s->inbush + (size_t)r * s->m;
    int32_t o = s->orig_node[r];
    bush_prune_labels(s, r);
    const int32_t *topo = s->topo + (size_t)r * s->n;
    int32_t nt = s->ntopo[r];
    int added = 0;
    for (int32_t t = 0; t < nt; t++) {
        int32_t i = topo[t];
        if (i < g->ftn0 && i != o)
            continue;
        double ui = s->U[i];
        for (int32_t k = g->out_start[i], ke = g->out_start[i + 1]; k < ke; k++) {
            int32_t a = g->out_link[k];
            if (ib[a])
                continue;
            int32_t j = g->to[a];
            if (j == o)
                continue;
            int inj = s->tpos[j] < nt && topo[s->tpos[j]] == j;
            double uj = inj ? s->U[j] : INFINITY;
            /* Max-label shortcut (Dial), or a min-label shortcut between
             * nodes with increasing max labels.  Every kept link has
             * U_i + c <= U_j and every added one U_i < U_j strictly, so no
             * cycle can close. */
            if (ui + s->cost[a] < uj ||
                (inj && ui < uj && s->L[i] + s->cost[a] < s->L[j])) {
                ib[a] = 1;
                added++;
            }
        }
    }
    bush_topo(s, r);
    return added;
}

/* ---- whole-network figures -------------------------------------------- */

typedef struct gap_job {
    sk_traffic_solver *s;
    int tid;
} gap_job;

static void sptt_origin(sk_traffic_solver *s, tr_sp *sp, int32_t r)
{
    /* Stop the search once every destination of r is settled. */
    for (int32_t k = s->dst_start[r]; k < s->dst_start[r + 1]; k++)
        sp->mark[s->dst_node[k]] = 1;
    tr_sp_run_to(sp, &s->g, s->cost, s->orig_node[r], s->dst_start[r + 1] - s->dst_start[r]);
    for (int32_t k = s->dst_start[r]; k < s->dst_start[r + 1]; k++)
        sp->mark[s->dst_node[k]] = 0;
    double acc = 0;
    for (int32_t k = s->dst_start[r]; k < s->dst_start[r + 1]; k++)
        acc += s->dst_dem[k] * sp->dist[s->dst_node[k]];
    s->sptt_orig[r] = acc;
}

static void *gap_thread(void *arg)
{
    gap_job *j = arg;
    sk_traffic_solver *s = j->s;
    for (int32_t r = j->tid; r < s->norig; r += s->nthreads)
        sptt_origin(s, &s->sp[j->tid], r);
    return NULL;
}

/* Re-sum link flows from the bushes, then TSTT, Beckmann, SPTT, gap. */
static void measure(sk_traffic_solver *s)
{
    int32_t m = s->m;
    memset(s->x, 0, (size_t)m * sizeof(double));
    for (int32_t r = 0; r < s->norig; r++) {
        const double *bf = s->bflow + (size_t)r * m;
        for (int32_t a = 0; a < m; a++)
            s->x[a] += bf[a];
    }
    double tstt = 0, beck = 0;
    for (int32_t a = 0; a < m; a++) {
        link_set(s, a, s->x[a]);
        tstt += s->x[a] * s->cost[a];
        beck += tr_cost_integral(&s->cf, a, s->x[a]);
    }
    if (s->nthreads > 1) {
        pthread_t th[64];
        gap_job jobs[64];
        int started = 0;
        for (int t = 1; t < s->nthreads; t++) {
            jobs[t].s = s;
            jobs[t].tid = t;
            if (pthread_create(&th[t], NULL, gap_thread, &jobs[t]) != 0)
                break;
            started = t;
        }
        jobs[0].s = s;
        jobs[0].tid = 0;
        gap_thread(&jobs[0]);
        for (int t = 1; t <= started; t++)
            pthread_join(th[t], NULL);
        /* Origins of threads that failed to start: do them here. */
        for (int t = started + 1; t < s->nthreads; t++)
            for (int32_t r = t; r < s->norig; r += s->nthreads)
                sptt_origin(s, &s->sp[0], r);
    } else {
        for (int32_t r = 0; r < s->norig; r++)
            sptt_origin(s, &s->sp[0], r);
    }
    double sptt = 0;
    for (int32_t r = 0; r < s->norig; r++)
        sptt += s->sptt_orig[r];
    s->st.tstt = tstt;
    s->st.sptt = sptt;
    s->st.beckmann = beck;
    s->st.rel_gap = tstt > 0 ? (tstt - sptt) / tstt : 0;
    s->st.aec = s->st.total_demand > 0 ? (tstt - sptt) / s->st.total_demand : 0;
}

static int push_gap(sk_traffic_solver *s, double g)
{
    if (s->ngaps == s->capgaps) {
        size_t nc = s->capgaps ? s->capgaps * 2 : 64;
        double *p = realloc(s->gaps, nc * sizeof *p);
        if (!p)
            return SK_ENOMEM;
        s->gaps = p;
        s->capgaps = nc;
    }
    s->gaps[s->ngaps++] = g;
    return 0;
}

/* ---- construction ------------------------------------------------------ */

void sk_traffic_solver_free(sk_traffic_solver *s)
{
    if (!s)
        return;
    tr_graph_free(&s->g);
    tr_costfn_free(&s->cf);
    free(s->x); free(s->cost); free(s->der);
    free(s->orig_node); free(s->dst_start); free(s->dst_node); free(s->dst_dem);
    free(s->bflow); free(s->inbush); free(s->topo); free(s->ntopo);
    free(s->L); free(s->U); free(s->node_dem);
    free(s->Lpred); free(s->Upred); free(s->tpos); free(s->indeg); free(s->segmin); free(s->segmax);
    if (s->sp)
        for (int t = 0; t < s->nthreads; t++)
            tr_sp_free(&s->sp[t]);
    free(s->sp);
    free(s->sptt_orig);
    free(s->oexcess);
    free(s->gaps);
    free(s);
}

static int cmp_od(const void *pa, const void *pb, void *ctx);

typedef struct od_sort { const sk_traffic_trips *t; } od_sort;

static int cmp_od(const void *pa, const void *pb, void *ctx)
{
    const sk_traffic_trips *t = ((od_sort *)ctx)->t;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    if (t->orig[a] != t->orig[b])
        return t->orig[a] < t->orig[b] ? -1 : 1;
    if (t->dest[a] != t->dest[b])
        return t->dest[a] < t->dest[b] ? -1 : 1;
    return a < b ? -1 : (a > b);
}

static void *zalloc(size_t cnt, size_t sz, size_t *bytes)
{
    *bytes += cnt * sz;
    return calloc(cnt ? cnt : 1, sz);
}

#define ALLOC(p, cnt) do { (p) = zalloc((size_t)(cnt), sizeof *(p), &bytes); if (!(p)) goto oom; } while (0)

sk_traffic_solver *sk_traffic_solver_new(const sk_traffic_net *net, const sk_traffic_trips *trips,
                                         const sk_traffic_options *opts, sk_error *err)
{
    size_t bytes = 0;
    size_t *idx = NULL;
    sk_traffic_solver *s = calloc(1, sizeof *s);
    if (!s)
        goto oom;
    s->net = net;
    s->trips = trips;
    if (opts)
        s->opt = *opts;
    else
        sk_traffic_options_init(&s->opt);
    if (trips->nzones > net->nzones) {
        tr_fail(err, SK_EINVAL, "trips file has %d zones but the network only %d", trips->nzones, net->nzones);
        goto fail;
    }
    double tf = isnan(s->opt.toll_factor) ? net->toll_factor : s->opt.toll_factor;
    double df = isnan(s->opt.distance_factor) ? net->distance_factor : s->opt.distance_factor;
    s->opt.toll_factor = tf;
    s->opt.distance_factor = df;
    if (s->opt.threads < 1)
        s->opt.threads = 1;
    if (s->opt.threads > 64)
        s->opt.threads = 64;
    if (s->opt.inner_sweeps < 0)
        s->opt.inner_sweeps = 0;
    if (tr_graph_init(&s->g, net) < 0 || tr_costfn_init(&s->cf, net, tf, df) < 0)
        goto oom;
    for (int32_t a = 0; a < net->nlinks; a++)
        if (!(tr_cost(&s->cf, a, 0) >= 0)) {
            tr_fail(err, SK_EINVAL, "link %d (%d->%d): negative cost %g at zero flow (check the toll and "
                    "distance factors)", a + 1, net->from[a], net->to[a], tr_cost(&s->cf, a, 0));
            goto fail;
        }
    s->n = net->nnodes;
    s->m = net->nlinks;
    int32_t n = s->n, m = s->m;
    bytes += (size_t)m * (4 * sizeof(int32_t) + 5 * sizeof(double) + 1) + (size_t)(n + 1) * 8;
    ALLOC(s->x, m);
    ALLOC(s->cost, m);
    ALLOC(s->der, m);

    /* OD pairs sorted by origin then destination; repeated pairs summed. */
    size_t nod = trips->nod;
    ALLOC(idx, nod);
    for (size_t k = 0; k < nod; k++)
        idx[k] = k;
    od_sort ctx = {trips};
    qsort_r(idx, nod, sizeof *idx, cmp_od, &ctx);
    int32_t norig = 0;
    for (size_t k = 0; k < nod; k++)
        if (k == 0 || trips->orig[idx[k]] != trips->orig[idx[k - 1]])
            norig++;
    s->norig = norig;
    ALLOC(s->orig_node, norig);
    ALLOC(s->dst_start, norig + 1);
    ALLOC(s->dst_node, nod);
    ALLOC(s->dst_dem, nod);
    int32_t r = -1, nd = 0;
    for (size_t k = 0; k < nod; k++) {
        size_t q = idx[k];
        if (k == 0 || trips->orig[q] != trips->orig[idx[k - 1]]) {
            r++;
            s->orig_node[r] = trips->orig[q] - 1;
            s->dst_start[r] = nd;
        } else if (trips->dest[q] == trips->dest[idx[k - 1]]) {
            s->dst_dem[nd - 1] += trips->demand[q];
            continue;
        }
        s->dst_node[nd] = trips->dest[q] - 1;
        s->dst_dem[nd] = trips->demand[q];
        nd++;
    }
    s->dst_start[norig] = nd;
    free(idx);
    idx = NULL;
    s->st.total_demand = 0;
    for (int32_t k = 0; k < nd; k++)
        s->st.total_demand += s->dst_dem[k];
    s->flow_eps = 1e-13 * s->st.total_demand;
    s->skip_frac = 1.0;

    ALLOC(s->bflow, (size_t)norig * m);
    ALLOC(s->inbush, (size_t)norig * m);
    ALLOC(s->topo, (size_t)norig * n);
    ALLOC(s->ntopo, norig);
    ALLOC(s->L, n);
    ALLOC(s->U, n);
    ALLOC(s->node_dem, n);
    ALLOC(s->Lpred, n);
    ALLOC(s->Upred, n);
    ALLOC(s->tpos, n);
    ALLOC(s->indeg, n);
    ALLOC(s->segmin, n + 1);
    ALLOC(s->segmax, n + 1);
    ALLOC(s->sptt_orig, norig);
    ALLOC(s->oexcess, norig);
    s->nthreads = s->opt.threads;
    ALLOC(s->sp, s->nthreads);
    for (int t = 0; t < s->nthreads; t++) {
        if (tr_sp_init(&s->sp[t], n) < 0)
            goto oom;
        bytes += (size_t)n * 24;
    }
    s->st.bytes = bytes;

    /* Iteration 0: all-or-nothing at free flow; the bush is the tree. */
    for (int32_t a = 0; a < m; a++)
        link_set(s, a, 0);
    tr_sp *sp = &s->sp[0];
    for (r = 0; r < norig; r++) {
        tr_sp_run(sp, &s->g, s->cost, s->orig_node[r]);
        for (int32_t k = s->dst_start[r]; k < s->dst_start[r + 1]; k++) {
            int32_t d = s->dst_node[k];
            if (!isfinite(sp->dist[d])) {
                tr_fail(err, SK_EINVAL, "no path from origin %d to destination %d (demand %g)",
                        s->orig_node[r] + 1, d + 1, s->dst_dem[k]);
                goto fail;
            }
            s->node_dem[d] += s->dst_dem[k];
        }
        uint8_t *ib = s->inbush + (size_t)r * m;
        double *bf = s->bflow + (size_t)r * m;
        for (int32_t t = sp->nsettled - 1; t > 0; t--) {
            int32_t j = sp->order[t];
            int32_t a = sp->pred[j];
            if (a < 0)
                continue;
            ib[a] = 1;
            bf[a] = s->node_dem[j];
            s->node_dem[s->g.from[a]] += s->node_dem[j];
            s->node_dem[j] = 0;
        }
        s->node_dem[s->orig_node[r]] = 0;
        bush_topo(s, r);
    }
    measure(s);
    if (push_gap(s, s->st.rel_gap) < 0)
        goto oom;
    s->st.iterations = 0;
    s->st.stop = SK_TRAFFIC_RUNNING;
    return s;
oom:
    tr_fail(err, SK_ENOMEM, "traffic solver: out of memory");
fail:
    free(idx);
    sk_traffic_solver_free(s);
    return NULL;
}

/* ---- iterations --------------------------------------------------------- */

/* base: solve time of earlier run calls; tstart: start of this one. */
static int should_stop(sk_traffic_solver *s, double tstart, double base)
{
    if (s->opt.cancel && atomic_load(s->opt.cancel))
        return SK_TRAFFIC_CANCELLED;
    if (s->opt.time_limit_s > 0 && base + (now_s() - tstart) > s->opt.time_limit_s)
        return SK_TRAFFIC_TIME_LIMIT;
    return 0;
}

void sk_traffic_solver_set_target(sk_traffic_solver *s, double target_gap, int max_iters)
{
    s->opt.target_gap = target_gap;
    if (max_iters > 0)
        s->opt.max_iters = max_iters;
}

int sk_traffic_solver_run(sk_traffic_solver *s, sk_error *err)
{
    double tstart = now_s();
    double base = s->st.solve_s;
    int rc = 0;
    s->st.stop = SK_TRAFFIC_RUNNING;
    while (s->st.stop == SK_TRAFFIC_RUNNING) {
        if (s->st.rel_gap <= s->opt.target_gap) {
            s->st.stop = SK_TRAFFIC_CONVERGED;
            break;
        }
        if (s->st.iterations >= s->opt.max_iters) {
            s->st.stop = SK_TRAFFIC_MAX_ITERS;
            break;
        }
        int why = should_stop(s, tstart, base);
        if (why) {
            s->st.stop = why;
            break;
        }
        /* Shift only where the used-path spread is a visible share of the
         * current average excess cost: early iterations stay cheap, late
         * ones go down to rounding level. */
        double avgcost = s->st.total_demand > 0 ? s->st.sptt / s->st.total_demand : 1.0;
        s->shift_eps = fmax(0.01 * s->st.aec, 1e-14 * avgcost);
        for (int32_t r = 0; r < s->norig && !why; r++) {
            bush_update(s, r);
            bush_shift(s, r);
            if ((r & 15) == 15)
                why = should_stop(s, tstart, base);
        }
        /* Extra sweeps go only to the bushes whose demand-weighted spread
         * (sum of demand x (U - L) at the destinations) is at least the
         * average: most of the excess cost sits in a few bushes, and the
         * others are close to their own equilibrium already. */
        for (int sw = 0; sw < s->opt.inner_sweeps && !why; sw++) {
            double tot = 0;
            for (int32_t r = 0; r < s->norig; r++)
                tot += s->oexcess[r];
            double thr = s->skip_frac * tot / (s->norig > 0 ? s->norig : 1);
            for (int32_t r = 0; r < s->norig && !why; r++) {
                if (s->oexcess[r] < thr)
                    continue;
                bush_shift(s, r);
                if ((r & 15) == 15)
                    why = should_stop(s, tstart, base);
            }
        }
        measure(s);
        s->st.iterations++;
        if (push_gap(s, s->st.rel_gap) < 0) {
            rc = tr_fail(err, SK_ENOMEM, "traffic solver: out of memory");
            break;
        }
        s->st.solve_s = base + (now_s() - tstart);
        if (s->opt.progress &&
            s->opt.progress(s->opt.progress_ud, s->st.iterations, s->st.rel_gap, s->st.solve_s) != 0)
            why = SK_TRAFFIC_CANCELLED;
        if (why && s->st.rel_gap > s->opt.target_gap)
            s->st.stop = why;
    }
    s->st.solve_s = base + (now_s() - tstart);
    if (rc == 0 && s->st.stop == SK_TRAFFIC_CANCELLED)
        rc = tr_fail(err, SK_ECANCELED, "traffic assignment cancelled after %d iterations (gap %.3g)",
                     s->st.iterations, s->st.rel_gap);
    return rc;
}

void sk_traffic_solver_stats(const sk_traffic_solver *s, sk_traffic_stats *out)
{
    *out = s->st;
}

const double *sk_traffic_solver_flows(const sk_traffic_solver *s) { return s->x; }
const double *sk_traffic_solver_costs(const sk_traffic_solver *s) { return s->cost; }

const double *sk_traffic_solver_gaps(const sk_traffic_solver *s, size_t *n)
{
    *n = s->ngaps;
    return s->gaps;
}

/* ---- outputs ------------------------------------------------------------ */

int sk_traffic_solver_skim(sk_traffic_solver *s, double *skim, sk_error *err)
{
    (void)err;
    int32_t z = s->net->nzones;
    tr_sp *sp = &s->sp[0];
    for (int32_t o = 0; o < z; o++) {
        tr_sp_run(sp, &s->g, s->cost, o);
        for (int32_t d = 0; d < z; d++)
            skim[(size_t)o * z + d] = sp->dist[d];
    }
    return 0;
}

/* Per origin: the share of the flow through each node that has already
 * used (forward) or will use (backward) the selected link, with flows
 * split in proportion to the bush flows at each node. */
int sk_traffic_solver_select_link(const sk_traffic_solver *s, int32_t sel, double *out, sk_error *err)
{
    if (sel < 0 || sel >= s->m)
        return tr_fail(err, SK_EINVAL, "select link %d out of range 1..%d", sel + 1, s->m);
    const tr_graph *g = &s->g;
    int32_t n = s->n, m = s->m;
    double *thru = malloc((size_t)n * sizeof *thru), *h = malloc((size_t)n * sizeof *h);
    if (!thru || !h) {
        free(thru);
        free(h);
        return tr_fail(err, SK_ENOMEM, "select link: out of memory");
    }
    memset(out, 0, (size_t)m * sizeof *out);
    for (int32_t r = 0; r < s->norig; r++) {
        const double *bf = s->bflow + (size_t)r * m;
        const uint8_t *ib = s->inbush + (size_t)r * m;
        if (!ib[sel] || !(bf[sel] > 0))
            continue;
        const int32_t *topo = s->topo + (size_t)r * n;
        int32_t nt = s->ntopo[r];
        for (int32_t t = 0; t < nt; t++) {
            int32_t j = topo[t];
            double in = 0;
            for (int32_t k = g->in_start[j]; k < g->in_start[j + 1]; k++)
                if (ib[g->in_link[k]])
                    in += bf[g->in_link[k]];
            thru[j] = in;
        }
        /* Downstream of the link (forward). */
        for (int32_t t = 0; t < nt; t++) {
            int32_t j = topo[t];
            double hj = 0;
            for (int32_t k = g->in_start[j]; k < g->in_start[j + 1]; k++) {
                int32_t a = g->in_link[k];
                if (!ib[a] || !(bf[a] > 0))
                    continue;
                int32_t i = g->from[a];
                double v = a == sel ? bf[a] : (thru[i] > 0 ? bf[a] * h[i] / thru[i] : 0);
                if (a != sel)
                    out[a] += v;
                hj += v;
            }
            h[j] = hj;
        }
        /* Upstream of the link (backward): flow through j that will use sel. */
        for (int32_t t = nt - 1; t >= 0; t--) {
            int32_t j = topo[t];
            double gj = 0;
            for (int32_t k = g->out_start[j]; k < g->out_start[j + 1]; k++) {
                int32_t a = g->out_link[k];
                if (!ib[a] || !(bf[a] > 0))
                    continue;
                int32_t q = g->to[a];
                gj += a == sel ? bf[a] : (thru[q] > 0 ? bf[a] * h[q] / thru[q] : 0);
            }
            h[j] = gj;
        }
        /* h now holds the backward quantity; apply it to in-links. */
        for (int32_t t = 1; t < nt; t++) {
            int32_t j = topo[t];
            if (!(thru[j] > 0))
                continue;
            for (int32_t k = g->in_start[j]; k < g->in_start[j + 1]; k++) {
                int32_t a = g->in_link[k];
                if (ib[a] && bf[a] > 0 && a != sel)
                    out[a] += bf[a] * h[j] / thru[j];
            }
        }
        out[sel] += bf[sel];
    }
    free(thru);
    free(h);
    return 0;
}

int sk_traffic_evaluate(const sk_traffic_net *net, const sk_traffic_trips *trips, double tf, double df,
                        const double *flows, double *tstt, double *sptt, double *beckmann, sk_error *err)
{
    tr_graph g;
    tr_costfn cf;
    tr_sp sp;
    double *cost = malloc((size_t)net->nlinks * sizeof *cost);
    int rc = 0;
    memset(&g, 0, sizeof g);
    memset(&cf, 0, sizeof cf);
    memset(&sp, 0, sizeof sp);
    if (!cost || tr_graph_init(&g, net) < 0 || tr_costfn_init(&cf, net, tf, df) < 0 ||
        tr_sp_init(&sp, net->nnodes) < 0) {
        rc = tr_fail(err, SK_ENOMEM, "evaluate: out of memory");
        goto out;
    }
    double t = 0, b = 0, sp_sum = 0;
    for (int32_t a = 0; a < net->nlinks; a++) {
        cost[a] = tr_cost(&cf, a, flows[a]);
        t += flows[a] * cost[a];
        b += tr_cost_integral(&cf, a, flows[a]);
    }
    int32_t last = -1;
    for (size_t k = 0; k < trips->nod; k++) {
        if (trips->orig[k] != last) {
            tr_sp_run(&sp, &g, cost, trips->orig[k] - 1);
            last = trips->orig[k];
        }
        sp_sum += trips->demand[k] * sp.dist[trips->dest[k] - 1];
    }
    if (tstt) *tstt = t;
    if (sptt) *sptt = sp_sum;
    if (beckmann) *beckmann = b;
out:
    free(cost);
    tr_graph_free(&g);
    tr_costfn_free(&cf);
    tr_sp_free(&sp);
    return rc;
}
