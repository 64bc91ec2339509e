/* water_rules.c - rule-based controls ([RULES]) between hydraulic solves.
 *
 * As EPANET does: within a hydraulic step, time advances by the rule time
 * step, tanks are moved, and every rule's premises are evaluated on the
 * last solution (tank levels as moved).  True rules post THEN actions,
 * false ones ELSE actions; a link named by several rules takes the action
 * of the highest priority.  If any action changes a link, the hydraulic
 * step ends there, so the next solve sees the change. */
#include <math.h>
#include <stdlib.h>

#include "water_sim.h"

static int cmp_val(int op, double x, double v)
{
    const double tol = 1e-3;
    switch (op) {
    case W_OP_EQ: return fabs(x - v) <= tol;
    case W_OP_NE: return fabs(x - v) > tol;
    case W_OP_LT: return x < v;
    case W_OP_LE: return x <= v + tol;
    case W_OP_GT: return x > v;
    case W_OP_GE: return x >= v - tol;
    default: return 0;
    }
}

static int check_time(const w_premise *pr, long t1, long t2)
{
    double x = pr->value;
    switch (pr->relop) {
    case W_OP_LT: return t2 < x;
    case W_OP_LE: return t2 <= x;
    case W_OP_GT: return t2 > x;
    case W_OP_GE: return t2 >= x;
    default: {
        int in = t2 < t1 ? (x >= t1 || x <= t2) : (x > t1 && x <= t2);
        return pr->relop == W_OP_EQ ? in : !in;
    }
    }
}

static int check_premise(const sk_water_sim *s, const w_premise *pr, long dt)
{
    const sk_water_net *net = s->net;
    if (pr->var == W_RV_TIME) return check_time(pr, s->htime - dt, s->htime);
    if (pr->var == W_RV_CLOCKTIME)
        return check_time(pr, (s->htime - dt + net->tstart) % 86400, (s->htime + net->tstart) % 86400);
    double x = 0.0;
    if (pr->obj == W_R_SYSTEM) { /* total demand */
        for (int i = 0; i < net->njuncs; i++) x += s->dflow[i] + s->E[i];
        return cmp_val(pr->relop, x, pr->value);
    }
    if (pr->obj == W_R_NODE) {
        int n = pr->index;
        const w_node *nd = &net->node[n];
        switch (pr->var) {
        case W_RV_DEMAND: x = n < net->njuncs ? s->dflow[n] + s->E[n] : s->D[n]; break;
        case W_RV_HEAD: case W_RV_PRESSURE: case W_RV_LEVEL: x = s->H[n]; break;
        case W_RV_FILLTIME:
            if (nd->type != SK_WATER_TANK || s->D[n] <= W_TINY) return 0;
            x = (nd->vmax - s->V[n]) / s->D[n];
            break;
        case W_RV_DRAINTIME:
            if (nd->type != SK_WATER_TANK || s->D[n] >= -W_TINY) return 0;
            x = (nd->vmin - s->V[n]) / s->D[n];
            break;
        default: return 0;
        }
        return cmp_val(pr->relop, x, pr->value);
    }
    int k = pr->index;
    const w_link *lk = &net->link[k];
    switch (pr->var) {
    case W_RV_FLOW: x = s->S[k] <= W_CLOSED ? 0.0 : s->Q[k]; return cmp_val(pr->relop, x, pr->value);
    case W_RV_STATUS: {
        int st = s->S[k] <= W_CLOSED ? W_RS_CLOSED
                 : (s->S[k] == W_ACTIVE && lk->type >= SK_WATER_PRV) ? W_RS_ACTIVE : W_RS_OPEN;
        return pr->relop == W_OP_EQ ? st == pr->status : st != pr->status;
    }
    case W_RV_SETTING: {
        double v = s->K[k];
        if (v == W_MISSING) return 0;
        if (lk->type == SK_WATER_PRV || lk->type == SK_WATER_PSV || lk->type == SK_WATER_PBV) v *= net->ucf[U_PRESSURE];
        else if (lk->type == SK_WATER_FCV) v *= net->ucf[U_FLOW];
        return cmp_val(pr->relop, v, pr->value);
    }
    default: return 0;
    }
}

static int eval_premises(const sk_water_sim *s, const w_rule *r, long dt)
{
    const w_premise *p = s->net->prem + r->p0;
    int result = 1;
    for (int j = 0; j < r->np; j++) {
        if (p[j].logop_or) {
            if (!result) result = check_premise(s, &p[j], dt);
        } else {
            if (!result) return 0;
            result = check_premise(s, &p[j], dt);
        }
    }
    return result;
}

/* Apply the posted actions; returns the number of links changed. */
static int take_actions(sk_water_sim *s, const int *post, int npost)
{
    const sk_water_net *net = s->net;
    int changed = 0;
    for (int j = 0; j < npost; j++) {
        const w_action *a = &net->act[post[j]];
        int k = a->link, st = s->S[k];
        const w_link *lk = &net->link[k];
        if (a->status == W_RS_OPEN && st <= W_CLOSED) { w_set_link_status(s, k, 1); changed++; }
        else if (a->status == W_RS_CLOSED && st > W_CLOSED) { w_set_link_status(s, k, 0); changed++; }
        else if (a->setting != W_MISSING) {
            double x = a->setting;
            if (lk->type == SK_WATER_PRV || lk->type == SK_WATER_PSV || lk->type == SK_WATER_PBV) x /= net->ucf[U_PRESSURE];
            else if (lk->type == SK_WATER_FCV) x /= net->ucf[U_FLOW];
            if (s->K[k] == W_MISSING || fabs(x - s->K[k]) > 1e-3) { w_set_link_setting(s, k, x); changed++; }
        }
    }
    return changed;
}

static int check_rules(sk_water_sim *s, long dt)
{
    const sk_water_net *net = s->net;
    int npost = 0;
    /* one posted action per link: the highest priority wins (ties: first) */
    for (int r = 0; r < net->nrules; r++) {
        const w_rule *ru = &net->rule[r];
        int a0, na;
        if (eval_premises(s, ru, dt)) { a0 = ru->a0; na = ru->na; }
        else { a0 = ru->e0; na = ru->ne; }
        for (int j = 0; j < na; j++) {
            int ai = a0 + j, link = net->act[ai].link, found = -1;
            for (int q = 0; q < npost; q++)
                if (net->act[s->rpost[q]].link == link) { found = q; break; }
            if (found < 0) { s->rpost[npost] = ai; s->rprio[npost++] = ru->priority; }
            else if (ru->priority > s->rprio[found]) { s->rpost[found] = ai; s->rprio[found] = ru->priority; }
        }
    }
    return take_actions(s, s->rpost, npost);
}

long w_rule_timestep(sk_water_sim *s, long tstep)
{
    const sk_water_net *net = s->net;
    long tnow = s->htime, tmax = tnow + tstep, dt = net->rulestep, dt1 = net->rulestep - tnow % net->rulestep;
    if (dt > tstep) dt = tstep;
    if (dt1 > tstep) dt1 = tstep;
    if (dt1 == 0) dt1 = dt;
    do {
        s->htime += dt1;
        w_tank_levels(s, dt1);
        if (check_rules(s, dt1)) break;
        dt = dt < tmax - s->htime ? dt : tmax - s->htime;
        dt1 = dt;
    } while (dt > 0);
    long step = s->htime - tnow;
    s->htime = tnow;
    return step;
}
