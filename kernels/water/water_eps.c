/* water_eps.c - solver lifecycle and the extended-period time stepper.
 *
 * sk_water_solve is EPANET's runH (demands and patterns for the period,
 * simple controls, one GGA solve, warnings); sk_water_next is nextH (step
 * length cut at pattern, report, tank fill/empty and control times; Euler
 * update of tank levels; pump energy).  sk_water_run drives both. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "water_sim.h"

static int fail(sk_water_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(sk_water_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

static int cmp_pair(const void *a, const void *b)
{
    const int *x = a, *y = b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    if (x[1] != y[1]) return x[1] < y[1] ? -1 : 1;
    return 0;
}

void sk_water_sim_free(sk_water_sim *s)
{
    if (!s) return;
    w_ldl_free(s->ldl);
    free(s->ndx); free(s->aii); free(s->aij); free(s->F);
    free(s->H); free(s->Q); free(s->P); free(s->Y); free(s->X); free(s->E);
    free(s->dfull); free(s->dflow); free(s->D); free(s->V); free(s->S); free(s->K);
    free(s->kw); free(s->kwh); free(s->qfa); free(s->qva); free(s->R); free(s->dmark); free(s->queue); free(s->adjp); free(s->adjl); free(s->rpost); free(s->rprio); free(s->cvalves);
    free(s->warnings);
    free(s);
}

int sk_water_sim_new(const sk_water_net *net, sk_water_sim **out, sk_water_error *err)
{
    *out = NULL;
    sk_water_sim *s = calloc(1, sizeof *s);
    if (!s) return fail(err, SK_WATER_ENOMEM, "out of memory");
    s->net = net;
    size_t nn = (size_t)net->nnodes + 1, nl = (size_t)net->nlinks + 1;
    s->ndx = malloc(nl * sizeof *s->ndx);
    s->aii = calloc(nn, sizeof(double));
    s->F = calloc(nn, sizeof(double));
    s->H = calloc(nn, sizeof(double));
    s->Q = calloc(nl, sizeof(double));
    s->P = calloc(nl, sizeof(double));
    s->Y = calloc(nl, sizeof(double));
    s->X = calloc(nn, sizeof(double));
    s->E = calloc(nn, sizeof(double));
    s->dfull = calloc(nn, sizeof(double));
    s->dflow = calloc(nn, sizeof(double));
    s->D = calloc(nn, sizeof(double));
    s->V = calloc(nn, sizeof(double));
    s->S = calloc(nl, sizeof(int));
    s->K = calloc(nl, sizeof(double));
    s->kw = calloc(nl, sizeof(double));
    s->kwh = calloc(nl, sizeof(double));
    s->qfa = calloc(nn, sizeof(double));
    s->qva = calloc(nn, sizeof(double));
    s->R = calloc(nl, sizeof(double));
    s->dmark = calloc(nn, sizeof(int));
    s->queue = calloc(nn, sizeof(int));
    s->rpost = calloc((size_t)net->nactions + 1, sizeof(int));
    s->cvalves = calloc(nl, sizeof(int));
    s->adjp = calloc(nn + 1, sizeof(int));
    s->adjl = calloc(2 * nl, sizeof(int));
    s->rprio = calloc((size_t)net->nactions + 1, sizeof(double));
    int *pairs = malloc(nl * 3 * sizeof *pairs);
    if (!s->ndx || !s->aii || !s->F || !s->H || !s->Q || !s->P || !s->Y || !s->X || !s->E ||
        !s->dfull || !s->dflow || !s->D || !s->V || !s->S || !s->K || !s->kw || !s->kwh || !s->qfa || !s->qva ||
        !s->R || !s->dmark || !s->queue || !s->rpost || !s->rprio || !s->cvalves || !s->adjp || !s->adjl || !pairs) {
        free(pairs);
        sk_water_sim_free(s);
        return fail(err, SK_WATER_ENOMEM, "out of memory");
    }
    /* node -> links adjacency (CSR), for the connectivity check */
    for (int k = 0; k < net->nlinks; k++) { s->adjp[net->link[k].n1 + 1]++; s->adjp[net->link[k].n2 + 1]++; }
    for (int i = 0; i < net->nnodes; i++) s->adjp[i + 1] += s->adjp[i];
    for (int k = 0; k < net->nlinks; k++) {
        s->adjl[s->adjp[net->link[k].n1] + s->dmark[net->link[k].n1]++] = k;
        s->adjl[s->adjp[net->link[k].n2] + s->dmark[net->link[k].n2]++] = k;
    }
    for (int k = 0; k < net->nlinks; k++) {
        int t = net->link[k].type;
        if (t == SK_WATER_PRV || t == SK_WATER_PSV || t == SK_WATER_FCV) s->cvalves[s->ncvalves++] = k;
    }
    /* one off-diagonal coefficient per junction pair; parallel links share it */
    int np = 0, nj = net->njuncs;
    for (int k = 0; k < net->nlinks; k++) {
        int a = net->link[k].n1, b = net->link[k].n2;
        s->ndx[k] = -1;
        if (a >= nj || b >= nj) continue;
        pairs[3 * np] = a < b ? a : b;
        pairs[3 * np + 1] = a < b ? b : a;
        pairs[3 * np + 2] = k;
        np++;
    }
    qsort(pairs, (size_t)np, 3 * sizeof *pairs, cmp_pair);
    int *ci = malloc(((size_t)np + 1) * sizeof *ci), *cj = malloc(((size_t)np + 1) * sizeof *cj);
    if (!ci || !cj) {
        free(pairs); free(ci); free(cj);
        sk_water_sim_free(s);
        return fail(err, SK_WATER_ENOMEM, "out of memory");
    }
    int nc = 0;
    for (int p = 0; p < np; p++) {
        if (p == 0 || pairs[3 * p] != pairs[3 * p - 3] || pairs[3 * p + 1] != pairs[3 * p - 2]) {
            ci[nc] = pairs[3 * p];
            cj[nc] = pairs[3 * p + 1];
            nc++;
        }
        s->ndx[pairs[3 * p + 2]] = nc - 1;
    }
    s->ncoef = nc;
    s->aij = calloc((size_t)nc + 1, sizeof(double));
    s->ldl = w_ldl_new(nj, nc, ci, cj);
    free(pairs); free(ci); free(cj);
    if (!s->aij || !s->ldl) {
        sk_water_sim_free(s);
        return fail(err, SK_WATER_ENOMEM, "out of memory in the symbolic factorisation");
    }
    *out = s;
    return sk_water_init(s, err);
}

static void warn(sk_water_sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(sk_water_sim *s, const char *fmt, ...)
{
    char tmp[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    long t = s->htime;
    /* best effort: a warning lost to OOM is not worth failing the run */
    (void)w_add_warning(&s->warnings, &s->warnlen, "%ld:%02ld:%02ld: %s", t / 3600, (t / 60) % 60, t % 60, tmp);
}

static void init_link_flow(sk_water_sim *s, int k)
{
    const w_link *lk = &s->net->link[k];
    if (s->S[k] == W_CLOSED) s->Q[k] = W_QZERO;
    else if (lk->type == SK_WATER_PUMP) s->Q[k] = s->K[k] * lk->q0;
    else s->Q[k] = W_PI * lk->diam * lk->diam / 4.0;
}

int sk_water_init(sk_water_sim *s, sk_water_error *err)
{
    const sk_water_net *net = s->net;
    (void)err;
    for (int i = net->njuncs; i < net->nnodes; i++) {
        const w_node *nd = &net->node[i];
        if (nd->type == SK_WATER_TANK) { s->V[i] = nd->v0; s->H[i] = nd->h0; }
        else s->H[i] = nd->el;
        s->D[i] = 0.0;
    }
    for (int i = 0; i < net->njuncs; i++) {
        s->E[i] = net->node[i].ke > 0.0 ? 1.0 : 0.0;
        s->qfa[i] = net->node[i].cfa > 0.0 ? 0.001 : 0.0;
        s->qva[i] = net->node[i].cva > 0.0 ? 0.001 : 0.0;
        s->H[i] = net->node[i].el;
    }
    for (int k = 0; k < net->nlinks; k++) {
        const w_link *lk = &net->link[k];
        s->S[k] = lk->status;
        s->K[k] = lk->kc;
        if ((lk->type == SK_WATER_PRV || lk->type == SK_WATER_PSV || lk->type == SK_WATER_FCV) &&
            lk->kc != W_MISSING)
            s->S[k] = W_ACTIVE;
        if (lk->type == SK_WATER_PUMP && s->K[k] == 0.0) s->S[k] = W_CLOSED;
        w_resistance(s, k);
        if (s->S[k] <= W_CLOSED) s->Q[k] = W_QZERO;
        else init_link_flow(s, k);
        s->kw[k] = s->kwh[k] = 0.0;
    }
    s->htime = 0;
    s->rtime = net->rstep;
    s->haltflag = 0;
    s->iter = 0;
    s->relerr = 0;
    s->solved = 0;
    free(s->warnings);
    s->warnings = NULL;
    s->warnlen = 0;
    s->initialised = 1;
    return 0;
}

static double pattern_factor(const sk_water_sim *s, int pat)
{
    const sk_water_net *net = s->net;
    if (pat < 0) return 1.0;
    const w_pattern *p = &net->pat[pat];
    long per = (s->htime + net->pstart) / net->pstep;
    return p->f[per % p->n];
}

/* EPANET's setlinksetting: a pump's speed opens or closes it, an FCV
 * becomes active, a fixed-status valve opens with its new setting. */
void w_set_link_setting(sk_water_sim *s, int k, double v)
{
    const w_link *lk = &s->net->link[k];
    if (lk->type == SK_WATER_PUMP) {
        s->K[k] = v;
        if (v > 0 && s->S[k] <= W_CLOSED) s->S[k] = W_OPEN;
        if (v == 0 && s->S[k] > W_CLOSED) s->S[k] = W_CLOSED;
    } else if (lk->type == SK_WATER_FCV) {
        s->K[k] = v;
        s->S[k] = W_ACTIVE;
    } else if (lk->type > SK_WATER_PUMP) {
        if (s->K[k] == W_MISSING && s->S[k] <= W_CLOSED) s->S[k] = W_OPEN;
        s->K[k] = v;
        if (lk->type == SK_WATER_PRV || lk->type == SK_WATER_PSV) s->S[k] = W_ACTIVE;
        if (lk->type == SK_WATER_PCV) w_resistance(s, k);
    }
}

/* EPANET's setlinkstatus: open or close, resetting pump speed and valve
 * settings to their fixed-status meaning. */
void w_set_link_status(sk_water_sim *s, int k, int open)
{
    const w_link *lk = &s->net->link[k];
    if (lk->type == SK_WATER_PUMP) s->K[k] = open ? 1.0 : 0.0;
    if (lk->type > SK_WATER_PUMP && lk->type != SK_WATER_GPV) s->K[k] = W_MISSING;
    s->S[k] = open ? W_OPEN : W_CLOSED;
    if (lk->type == SK_WATER_PCV) w_resistance(s, k);
}

static void demands(sk_water_sim *s)
{
    const sk_water_net *net = s->net;
    for (int i = 0; i < net->njuncs; i++) {
        const w_node *nd = &net->node[i];
        double sum = 0.0;
        for (int d = 0; d < nd->ndem; d++) {
            const w_demand *dm = &net->dem[nd->dem0 + d];
            int pat = dm->pat >= 0 ? dm->pat : net->defpat;
            sum += dm->base * pattern_factor(s, pat) * net->dmult;
        }
        s->dfull[i] = sum;
        s->dflow[i] = sum;
    }
    for (int i = net->njuncs; i < net->nnodes; i++) {
        const w_node *nd = &net->node[i];
        if (nd->type == SK_WATER_RESERVOIR && nd->pat >= 0) s->H[i] = nd->el * pattern_factor(s, nd->pat);
    }
    for (int k = 0; k < net->nlinks; k++) {
        const w_link *lk = &net->link[k];
        if (lk->type == SK_WATER_PUMP && lk->upat >= 0) w_set_link_setting(s, k, pattern_factor(s, lk->upat));
    }
}

static int controls(sk_water_sim *s)
{
    const sk_water_net *net = s->net;
    int n_changed = 0;
    for (int i = 0; i < net->nctrls; i++) {
        const w_control *c = &net->ctrl[i];
        int reset = 0, n = c->node, k = c->link;
        if (n >= net->njuncs) {
            const w_node *nd = &net->node[n];
            if (nd->type == SK_WATER_TANK) {
                double vplus = fabs(s->D[n]);
                double v1 = w_tank_volume(net, n, s->H[n]), v2 = w_tank_volume(net, n, c->grade);
                if (c->type == W_CTL_LOW && v1 <= v2 + vplus) reset = 1;
                if (c->type == W_CTL_HI && v1 >= v2 - vplus) reset = 1;
            } else {
                if (c->type == W_CTL_LOW && s->H[n] <= c->grade) reset = 1;
                if (c->type == W_CTL_HI && s->H[n] >= c->grade) reset = 1;
            }
        }
        if (c->type == W_CTL_TIMER && c->time == s->htime) reset = 1;
        if (c->type == W_CTL_TOD && (s->htime + net->tstart) % 86400 == c->time) reset = 1;
        if (!reset) continue;
        const w_link *lk = &net->link[k];
        int change;
        if (lk->type <= SK_WATER_PIPE) change = s->S[k] != c->status;
        else change = s->S[k] != c->status || s->K[k] != c->setting;
        if (change) {
            s->S[k] = c->status;
            if (lk->type > SK_WATER_PIPE) s->K[k] = c->setting;
            if (lk->type == SK_WATER_PCV) w_resistance(s, k);
            n_changed++;
        }
    }
    return n_changed;
}

/* Junctions that no open path joins to a tank or reservoir (EPANET warns):
 * breadth-first search over open links from every fixed-grade node. */
static int disconnected(sk_water_sim *s)
{
    const sk_water_net *net = s->net;
    int nn = net->nnodes, head = 0, tail = 0, count = 0;
    memset(s->dmark, 0, (size_t)nn * sizeof *s->dmark);
    for (int i = net->njuncs; i < nn; i++) { s->dmark[i] = 1; s->queue[tail++] = i; }
    while (head < tail) {
        int i = s->queue[head++];
        for (int p = s->adjp[i]; p < s->adjp[i + 1]; p++) {
            int k = s->adjl[p];
            if (s->S[k] <= W_CLOSED) continue;
            int j = net->link[k].n1 == i ? net->link[k].n2 : net->link[k].n1;
            if (!s->dmark[j]) { s->dmark[j] = 1; s->queue[tail++] = j; }
        }
    }
    for (int i = 0; i < net->njuncs; i++)
        if (!s->dmark[i]) {
            if (count < 5) warn(s, "node %s is disconnected", net->node[i].id);
            count++;
        }
    if (count > 5) warn(s, "%d nodes are disconnected in all", count);
    return count;
}

static void hyd_warnings(sk_water_sim *s)
{
    const sk_water_net *net = s->net;
    if (s->relerr > net->hacc) warn(s, "system unbalanced (relative flow change %.3g)", s->relerr);
    int neg = 0;
    for (int i = 0; i < net->njuncs; i++)
        if (s->H[i] < net->node[i].el && s->dfull[i] > 0.0) neg++;
    for (int k = 0; k < net->nlinks; k++) {
        const w_link *lk = &net->link[k];
        if (lk->type == SK_WATER_PUMP) {
            if (s->S[k] == W_XHEAD) warn(s, "pump %s cannot deliver head", lk->id);
            else if (s->S[k] > W_CLOSED && lk->ptype != W_PUMP_CONST_HP && s->K[k] > 0 &&
                     s->Q[k] > s->K[k] * lk->qmax + W_QTOL)
                warn(s, "pump %s cannot deliver flow", lk->id);
        }
        if (s->S[k] == W_XPRESSURE) warn(s, "valve %s cannot deliver pressure", lk->id);
        if (s->S[k] == W_XFCV) warn(s, "valve %s cannot deliver flow", lk->id);
    }
    if (neg > 0) {
        warn(s, "negative pressures at %d junctions", neg);
        disconnected(s);
    }
}

int sk_water_solve(sk_water_sim *s, long *t, sk_water_error *err)
{
    const sk_water_net *net = s->net;
    *t = s->htime;
    demands(s);
    controls(s);
    int iter;
    double relerr;
    int bad = w_hydsolve(s, &iter, &relerr);
    if (bad > 0) {
        warn(s, "singular system at node %s", net->node[bad - 1].id);
        return fail(err, SK_WATER_ENOCONV, "%s: t=%lds: hydraulic equations could not be solved (ill-conditioned at node %s)",
                    net->filename, s->htime, net->node[bad - 1].id);
    }
    s->solved = 1;
    if (relerr > net->hacc && net->extraiter == -1) s->haltflag = 1;
    hyd_warnings(s);
    return 0;
}

static long tank_timestep(sk_water_sim *s, long tstep)
{
    const sk_water_net *net = s->net;
    for (int i = net->njuncs; i < net->nnodes; i++) {
        const w_node *nd = &net->node[i];
        if (nd->type != SK_WATER_TANK) continue;
        double h = s->H[i], q = s->D[i], v;
        if (fabs(q) <= W_QZERO) continue;
        if (q > 0.0 && h < nd->hmax) v = nd->vmax - s->V[i];
        else if (q < 0.0 && h > nd->hmin) v = nd->vmin - s->V[i];
        else continue;
        long t = (long)floor(v / q + 0.5);
        if (t > 0 && t < tstep) tstep = t;
    }
    return tstep;
}

static long control_timestep(sk_water_sim *s, long tstep)
{
    const sk_water_net *net = s->net;
    for (int i = 0; i < net->nctrls; i++) {
        const w_control *c = &net->ctrl[i];
        long t = 0;
        int n = c->node;
        if (n >= 0) {
            if (n < net->njuncs || net->node[n].type != SK_WATER_TANK) continue;
            double h = s->H[n], q = s->D[n];
            if (fabs(q) <= W_QZERO) continue;
            if ((h < c->grade && c->type == W_CTL_HI && q > 0.0) ||
                (h > c->grade && c->type == W_CTL_LOW && q < 0.0)) {
                double v = w_tank_volume(net, n, c->grade) - s->V[n];
                t = (long)floor(v / q + 0.5);
            }
        }
        if (c->type == W_CTL_TIMER && c->time > s->htime) t = c->time - s->htime;
        if (c->type == W_CTL_TOD) {
            long t1 = (s->htime + net->tstart) % 86400, t2 = c->time;
            t = t2 >= t1 ? t2 - t1 : 86400 - t1 + t2;
        }
        if (t > 0 && t < tstep) {
            int k = c->link;
            if ((net->link[k].type > SK_WATER_PIPE && s->K[k] != c->setting) || s->S[k] != c->status)
                tstep = t;
        }
    }
    return tstep;
}

void w_tank_levels(sk_water_sim *s, long tstep)
{
    const sk_water_net *net = s->net;
    for (int i = net->njuncs; i < net->nnodes; i++) {
        const w_node *nd = &net->node[i];
        if (nd->type != SK_WATER_TANK) continue;
        s->V[i] += s->D[i] * (double)tstep;
        if (s->V[i] + W_QZERO >= nd->vmax) s->V[i] = nd->vmax;
        if (s->V[i] - W_QZERO <= nd->vmin) s->V[i] = nd->vmin;
        s->H[i] = w_tank_grade(net, i, s->V[i]);
    }
}

int sk_water_next(sk_water_sim *s, long *tstep, sk_water_error *err)
{
    const sk_water_net *net = s->net;
    (void)err;
    long hydstep = 0;
    if (s->haltflag) s->htime = net->dur;
    if (s->htime < net->dur) {
        long t = net->hstep;
        long n = (s->htime + net->pstart) / net->pstep + 1;
        long tp = n * net->pstep - (s->htime + net->pstart);
        if (tp > 0 && tp < t) t = tp;
        long tr = s->rtime - s->htime;
        if (tr > 0 && tr < t) t = tr;
        t = tank_timestep(s, t);
        t = control_timestep(s, t);
        if (s->htime + t > net->dur) t = net->dur - s->htime;
        /* rules are checked at rule time steps inside the step and may cut
         * it short; without rules the tanks move by the whole step */
        if (net->nrules > 0) t = w_rule_timestep(s, t);
        else w_tank_levels(s, t);
        hydstep = t;
    }
    if (net->dur == 0) w_pump_energy(s, 0);
    else if (s->htime < net->dur) w_pump_energy(s, hydstep);
    if (s->htime < net->dur) {
        s->htime += hydstep;
        if (s->htime >= s->rtime) s->rtime += net->rstep;
    } else {
        s->htime++;
    }
    *tstep = hydstep;
    return 0;
}

int sk_water_run(sk_water_sim *s, const sk_water_run_opts *o, sk_water_error *err)
{
    const sk_water_net *net = s->net;
    int rc = sk_water_init(s, err);
    if (rc) return rc;
    long t = 0, tstep = 0;
    do {
        if (o && o->cancel && atomic_load(o->cancel))
            return fail(err, SK_WATER_ECANCELED, "%s: cancelled at t=%lds", net->filename, s->htime);
        if ((rc = sk_water_solve(s, &t, err))) return rc;
        if (s->haltflag)
            return fail(err, SK_WATER_ENOCONV, "%s: t=%lds: system unbalanced after %d trials (relative flow change %.3g) and UNBALANCED STOP",
                        net->filename, t, s->iter, s->relerr);
        int is_report = t >= net->rstart && (t - net->rstart) % net->rstep == 0;
        if (o && o->first_only) is_report = 1;
        if (is_report && o && o->report) {
            rc = o->report(o->ud, s, t);
            if (rc) return fail(err, rc, "%s: report callback failed at t=%lds", net->filename, t);
        }
        if (o && o->first_only) {
            w_pump_energy(s, 0);
            break;
        }
        if ((rc = sk_water_next(s, &tstep, err))) return rc;
        if (o && o->progress)
            o->progress(o->ud, net->dur > 0 ? (double)(s->htime > net->dur ? net->dur : s->htime) / (double)net->dur : 1.0, s->htime);
    } while (tstep > 0);
    return 0;
}

/* ---------- results ---------- */

int sk_water_iterations(const sk_water_sim *s) { return s->iter; }
double sk_water_relerr(const sk_water_sim *s) { return s->relerr; }
const char *sk_water_sim_warnings(const sk_water_sim *s) { return s->warnings ? s->warnings : ""; }

void sk_water_node_values(const sk_water_sim *s, sk_water_node_var v, double *out)
{
    const sk_water_net *net = s->net;
    const double *u = net->ucf;
    for (int i = 0; i < net->nnodes; i++) {
        const w_node *nd = &net->node[i];
        int junc = i < net->njuncs, tank = nd->type == SK_WATER_TANK;
        double x = 0.0;
        switch (v) {
        case SK_WATER_HEAD: x = s->H[i] * u[U_ELEV]; break;
        case SK_WATER_PRESSURE: x = (s->H[i] - nd->el) * u[U_PRESSURE]; break;
        case SK_WATER_DEMAND: x = (junc ? s->dflow[i] + s->E[i] + s->qfa[i] + s->qva[i] : s->D[i]) * u[U_FLOW]; break;
        case SK_WATER_ELEVATION: x = nd->el * u[U_ELEV]; break;
        case SK_WATER_DEMAND_REQUIRED: x = junc ? s->dfull[i] * u[U_FLOW] : 0.0; break;
        case SK_WATER_DEMAND_DELIVERED: x = junc ? s->dflow[i] * u[U_FLOW] : 0.0; break;
        case SK_WATER_EMITTER_FLOW: x = junc ? s->E[i] * u[U_FLOW] : 0.0; break;
        case SK_WATER_LEAKAGE_FLOW: x = junc ? (s->qfa[i] + s->qva[i]) * u[U_FLOW] : 0.0; break;
        case SK_WATER_TANK_LEVEL: x = tank ? (s->H[i] - nd->el) * u[U_ELEV] : 0.0; break;
        case SK_WATER_TANK_VOLUME: x = tank ? s->V[i] * u[U_VOLUME] : 0.0; break;
        }
        out[i] = x;
    }
}

void sk_water_link_values(const sk_water_sim *s, sk_water_link_var v, double *out)
{
    const sk_water_net *net = s->net;
    const double *u = net->ucf;
    for (int k = 0; k < net->nlinks; k++) {
        const w_link *lk = &net->link[k];
        int closed = s->S[k] <= W_CLOSED;
        double x = 0.0;
        switch (v) {
        case SK_WATER_FLOW: x = closed ? 0.0 : s->Q[k] * u[U_FLOW]; break;
        case SK_WATER_VELOCITY:
            if (!closed && lk->type != SK_WATER_PUMP && lk->diam > 0)
                x = fabs(s->Q[k]) / (W_PI * lk->diam * lk->diam / 4.0) * u[U_VELOCITY];
            break;
        case SK_WATER_HEADLOSS:
            if (!closed) {
                x = (s->H[lk->n1] - s->H[lk->n2]) * u[U_ELEV];
                if (lk->type != SK_WATER_PUMP) x = fabs(x);
            }
            break;
        case SK_WATER_STATUS:
            x = closed ? 0.0 : (s->S[k] == W_ACTIVE && lk->type >= SK_WATER_PRV) ? 2.0 : 1.0;
            break;
        case SK_WATER_LENGTH: x = lk->len * u[U_ELEV]; break;
        case SK_WATER_DIAMETER: x = lk->diam * u[U_DIAM]; break;
        case SK_WATER_SETTING:
            /* pipes: roughness in the file's terms (D-W back to mm or 1e-3 ft) */
            if (lk->type <= SK_WATER_PIPE) x = net->formflag == W_DW ? lk->kc * 1000.0 * u[U_ELEV] : lk->kc;
            else if (s->K[k] == W_MISSING) x = NAN;
            else if (lk->type == SK_WATER_PRV || lk->type == SK_WATER_PSV || lk->type == SK_WATER_PBV) x = s->K[k] * u[U_PRESSURE];
            else if (lk->type == SK_WATER_FCV) x = s->K[k] * u[U_FLOW];
            else x = s->K[k];
            break;
        case SK_WATER_PUMP_POWER: x = lk->type == SK_WATER_PUMP ? s->kw[k] : 0.0; break;
        case SK_WATER_PUMP_ENERGY: x = lk->type == SK_WATER_PUMP ? s->kwh[k] : 0.0; break;
        }
        out[k] = x;
    }
}

const char *sk_water_node_unit(const sk_water_net *net, sk_water_node_var v)
{
    static const char *const pu[] = {"psi", "kPa", "m", "bar"};
    switch (v) {
    case SK_WATER_HEAD: case SK_WATER_ELEVATION: case SK_WATER_TANK_LEVEL: return net->si ? "m" : "ft";
    case SK_WATER_PRESSURE: return pu[net->pressure_units & 3];
    case SK_WATER_TANK_VOLUME: return net->si ? "m3" : "ft3";
    default: return sk_water_flow_units(net);
    }
}

const char *sk_water_link_unit(const sk_water_net *net, sk_water_link_var v)
{
    switch (v) {
    case SK_WATER_FLOW: return sk_water_flow_units(net);
    case SK_WATER_VELOCITY: return net->si ? "m/s" : "ft/s";
    case SK_WATER_HEADLOSS: case SK_WATER_LENGTH: return net->si ? "m" : "ft";
    case SK_WATER_DIAMETER: return net->si ? "mm" : "in";
    case SK_WATER_PUMP_POWER: return "kW";
    case SK_WATER_PUMP_ENERGY: return "kWh";
    default: return "";
    }
}
