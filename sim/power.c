/* power.c - the sim.power service: a MATPOWER case (input "case", or the only
 * input) and an optional load profile (input "profile") through the power
 * kernel into an sk_result.
 *
 * Params: dc, tol, max_iter, flat_start, enforce_q_limits (as the kernel's
 * options) and full_tables (with a profile: per-hour bus/branch/gen tables as
 * well as the "hours" totals).  Without a profile the result holds the tables
 * "bus", "branch" and "gen" (columns in the order of docs/kernels/power.md);
 * with one, the table "hours".  A Newton-Raphson failure is not an error of
 * the service: the result says converged = false, carries the reason and the
 * mismatch history, and its solved columns are NaN (never stale numbers). */
#include "power.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sk_power.h"
#include "sk_sim.h"

#define POWER_VERSION "1.0.0"
/* Per-hour tables are nhours x elements; refuse beyond this many values. */
#define FULL_TABLES_MAX ((size_t)50 * 1000 * 1000)

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Map a kernel failure onto sk_error (codes are the same numbers). */
static int kfail(sk_error *err, const sk_power_error *pe)
{
    return sk_fail(err, pe->code ? pe->code : SK_EINVAL, "%s", pe->msg[0] ? pe->msg : "power kernel failed");
}

typedef struct params {
    sk_power_options o;
    bool full_tables;
} params;

static int read_params(const sk_job_ctx *ctx, params *p, sk_error *err)
{
    static const char *const known[] = {"dc", "tol", "max_iter", "flat_start", "enforce_q_limits",
                                        "full_tables", NULL};
    sk_power_options_default(&p->o);
    bool dc, flat, qlim;
    int64_t mi;
    if (ctx->params && sk_params_check_known(ctx->params, known, err) < 0)
        return err ? err->code : SK_EINVAL;
    if (sk_params_get_bool(ctx->params, "dc", false, &dc, err) < 0 ||
        sk_params_get_f64(ctx->params, "tol", 1e-8, 1e-14, 1.0, &p->o.tol, err) < 0 ||
        sk_params_get_int(ctx->params, "max_iter", 10, 1, 1000, &mi, err) < 0 ||
        sk_params_get_bool(ctx->params, "flat_start", false, &flat, err) < 0 ||
        sk_params_get_bool(ctx->params, "enforce_q_limits", false, &qlim, err) < 0 ||
        sk_params_get_bool(ctx->params, "full_tables", false, &p->full_tables, err) < 0)
        return err ? err->code : SK_EINVAL;
    p->o.dc = dc;
    p->o.max_iter = (int)mi;
    p->o.flat_start = flat;
    p->o.enforce_q_limits = qlim;
    return 0;
}

static const sk_input *find_case(const sk_job_ctx *ctx)
{
    const sk_input *in = sk_job_input(ctx, "case");
    if (in)
        return in;
    if (ctx->ninputs == 1)
        return &ctx->inputs[0];
    const sk_input *other = NULL;
    for (size_t i = 0; i < ctx->ninputs; i++) {
        if (ctx->inputs[i].name && strcmp(ctx->inputs[i].name, "profile") == 0)
            continue;
        if (other)
            return NULL; /* ambiguous */
        other = &ctx->inputs[i];
    }
    return other;
}

static const char *in_name(const sk_input *in, const char *def)
{
    if (in->filename && *in->filename) return in->filename;
    if (in->name && *in->name) return in->name;
    return def;
}

/* Element tables.  With np > 0 the solved columns are per period (filled by
 * the caller per hour); static attributes are static columns. */
typedef struct tabs {
    sk_table *bus, *branch, *gen;
    double *vm, *va, *pd, *qd;
    double *pf, *qf, *pt, *qt, *sf, *st, *load, *lp, *lq;
    double *pg, *qg;
} tabs;

static int add_tables(sk_result *r, const sk_power_case *c, size_t np, const int64_t *period_s, tabs *t)
{
    size_t nb = c->nbus, nl = c->nbranch, ng = c->ngen;
    int64_t *ids = malloc(((nb > nl ? (nb > ng ? nb : ng) : (nl > ng ? nl : ng)) + 1) * sizeof *ids);
    if (!ids)
        return SK_ENOMEM;
    int rc = SK_ENOMEM;
    bool per = np > 0;
    /* bus */
    t->bus = sk_result_add_table(r, "bus", "bus", "bus_i", nb);
    if (!t->bus || sk_table_set_ids_int(t->bus, c->bus_i) < 0 ||
        (per && sk_table_set_periods(t->bus, np, period_s) < 0))
        goto out;
    int32_t *ty = sk_table_add_static_i32(t->bus, "type", "");
    t->vm = sk_table_add_f64(t->bus, "vm_pu", "pu");
    t->va = sk_table_add_f64(t->bus, "va_deg", "deg");
    t->pd = sk_table_add_f64(t->bus, "pd_mw", "MW");
    t->qd = sk_table_add_f64(t->bus, "qd_mvar", "MVAr");
    double *kv = sk_table_add_static_f64(t->bus, "base_kv", "kV");
    int32_t *area = sk_table_add_static_i32(t->bus, "area", "");
    int32_t *zone = sk_table_add_static_i32(t->bus, "zone", "");
    double *vmax = sk_table_add_static_f64(t->bus, "vmax", "pu");
    double *vmin = sk_table_add_static_f64(t->bus, "vmin", "pu");
    if (!ty || !t->vm || !t->va || !t->pd || !t->qd || !kv || !area || !zone || !vmax || !vmin)
        goto out;
    for (size_t i = 0; i < nb; i++) {
        ty[i] = c->bus_type[i]; kv[i] = c->base_kv[i]; area[i] = c->area[i]; zone[i] = c->zone[i];
        vmax[i] = c->vmax[i]; vmin[i] = c->vmin[i];
    }
    if (c->bus_name && sk_table_add_str(t->bus, "name", true, (const char *const *)c->bus_name) < 0)
        goto out;
    /* branch */
    t->branch = sk_result_add_table(r, "branch", "branch", "index", nl);
    for (size_t l = 0; l < nl; l++)
        ids[l] = (int64_t)l + 1;
    if (!t->branch || sk_table_set_ids_int(t->branch, ids) < 0 ||
        (per && sk_table_set_periods(t->branch, np, period_s) < 0))
        goto out;
    /* Bus numbers fit int32 in every case we know; static columns exist
     * only as f64/i32, and per-element i64 is fine without periods. */
    double *fb_d = NULL, *tb_d = NULL;
    int64_t *fb = NULL, *tb = NULL;
    if (per) {
        fb_d = sk_table_add_static_f64(t->branch, "f_bus", "");
        tb_d = sk_table_add_static_f64(t->branch, "t_bus", "");
    } else {
        fb = sk_table_add_i64(t->branch, "f_bus", "");
        tb = sk_table_add_i64(t->branch, "t_bus", "");
    }
    t->pf = sk_table_add_f64(t->branch, "pf_mw", "MW");
    t->qf = sk_table_add_f64(t->branch, "qf_mvar", "MVAr");
    t->pt = sk_table_add_f64(t->branch, "pt_mw", "MW");
    t->qt = sk_table_add_f64(t->branch, "qt_mvar", "MVAr");
    int32_t *st = sk_table_add_static_i32(t->branch, "status", "");
    double *ra = sk_table_add_static_f64(t->branch, "rate_a", "MVA");
    t->sf = sk_table_add_f64(t->branch, "sf_mva", "MVA");
    t->st = sk_table_add_f64(t->branch, "st_mva", "MVA");
    t->load = sk_table_add_f64(t->branch, "loading_pct", "%");
    t->lp = sk_table_add_f64(t->branch, "loss_mw", "MW");
    t->lq = sk_table_add_f64(t->branch, "loss_mvar", "MVAr");
    if ((per ? (!fb_d || !tb_d) : (!fb || !tb)) || !t->pf || !t->qf || !t->pt || !t->qt || !st || !ra ||
        !t->sf || !t->st || !t->load || !t->lp || !t->lq)
        goto out;
    for (size_t l = 0; l < nl; l++) {
        if (per) { fb_d[l] = (double)c->f_bus[l]; tb_d[l] = (double)c->t_bus[l]; }
        else { fb[l] = c->f_bus[l]; tb[l] = c->t_bus[l]; }
        st[l] = c->br_status[l];
        ra[l] = c->rate_a[l];
    }
    /* gen */
    t->gen = sk_result_add_table(r, "gen", "gen", "index", ng);
    for (size_t g = 0; g < ng; g++)
        ids[g] = (int64_t)g + 1;
    if (!t->gen || sk_table_set_ids_int(t->gen, ids) < 0 ||
        (per && sk_table_set_periods(t->gen, np, period_s) < 0))
        goto out;
    t->gen->ids_in_csv = false;
    double *gb_d = NULL;
    int64_t *gb = NULL;
    if (per) gb_d = sk_table_add_static_f64(t->gen, "bus", "");
    else gb = sk_table_add_i64(t->gen, "bus", "");
    t->pg = sk_table_add_f64(t->gen, "pg_mw", "MW");
    t->qg = sk_table_add_f64(t->gen, "qg_mvar", "MVAr");
    int32_t *gs = sk_table_add_static_i32(t->gen, "status", "");
    double *pmax = sk_table_add_static_f64(t->gen, "pmax", "MW");
    if ((per ? !gb_d : !gb) || !t->pg || !t->qg || !gs || !pmax)
        goto out;
    for (size_t g = 0; g < ng; g++) {
        if (per) gb_d[g] = (double)c->gen_bus[g];
        else gb[g] = c->gen_bus[g];
        gs[g] = c->gen_status[g];
        pmax[g] = c->pmax[g];
    }
    if (c->genfuel && sk_table_add_str(t->gen, "fuel", true, (const char *const *)c->genfuel) < 0)
        goto out;
    if (c->gentype && sk_table_add_str(t->gen, "type", true, (const char *const *)c->gentype) < 0)
        goto out;
    double *qmax = sk_table_add_static_f64(t->gen, "qmax", "MVAr");
    double *qmin = sk_table_add_static_f64(t->gen, "qmin", "MVAr");
    if (!qmax || !qmin)
        goto out;
    for (size_t g = 0; g < ng; g++) {
        qmax[g] = c->qmax[g];
        qmin[g] = c->qmin[g];
    }
    rc = 0;
out:
    free(ids);
    return rc;
}

/* Solved values of one period (row offset k * n). */
static void fill_period(const sk_power_case *c, const sk_power_solution *s, tabs *t, size_t k)
{
    size_t nb = c->nbus, nl = c->nbranch, ng = c->ngen;
    for (size_t i = 0; i < nb; i++) {
        size_t r = k * nb + i;
        t->vm[r] = s->vm[i]; t->va[r] = s->va[i]; t->pd[r] = s->pd[i]; t->qd[r] = s->qd[i];
    }
    for (size_t l = 0; l < nl; l++) {
        size_t r = k * nl + l;
        t->pf[r] = s->pf[l]; t->qf[r] = s->qf[l]; t->pt[r] = s->pt[l]; t->qt[r] = s->qt[l];
        t->sf[r] = hypot(s->pf[l], s->qf[l]);
        t->st[r] = hypot(s->pt[l], s->qt[l]);
        /* rate A of 0 means unlimited: no loading figure (NaN). */
        t->load[r] = c->rate_a[l] > 0 ? fmax(t->sf[r], t->st[r]) / c->rate_a[l] * 100.0 : NAN;
        t->lp[r] = s->pf[l] + s->pt[l];
        t->lq[r] = s->qf[l] + s->qt[l];
    }
    for (size_t g = 0; g < ng; g++) {
        t->pg[k * ng + g] = s->pg[g];
        t->qg[k * ng + g] = s->qg[g];
    }
}

static int add_options_meta(sk_result *r, const sk_power_options *o)
{
    return (sk_result_meta_bool(r, "dc", o->dc) < 0 || sk_result_meta_f64(r, "tol", o->tol) < 0 ||
            sk_result_meta_int(r, "max_iter", o->max_iter) < 0 ||
            sk_result_meta_bool(r, "flat_start", o->flat_start) < 0 ||
            sk_result_meta_bool(r, "enforce_q_limits", o->enforce_q_limits) < 0)
               ? SK_ENOMEM : 0;
}

typedef struct hour_ctx {
    const sk_job_ctx *ctx;
    const sk_power_case *c;
    tabs *t;           /* NULL unless full tables */
} hour_ctx;

static int on_hour(void *ud, size_t hour, size_t nhours, const sk_power_solution *sol)
{
    hour_ctx *h = ud;
    if (h->t)
        fill_period(h->c, sol, h->t, hour);
    sk_job_progress(h->ctx, (double)(hour + 1) / (double)nhours, "hour %zu of %zu", hour + 1, nhours);
    return sk_job_cancelled(h->ctx);
}

static int run_profile(const sk_job_ctx *ctx, const sk_input *pin, const params *p, const sk_power_case *c,
                       sk_power_solver *s, sk_power_solution *sol, sk_result *r, sk_error *err)
{
    sk_power_error pe = {0, {0}};
    sk_power_profile *prof = NULL;
    if (sk_power_profile_parse(pin->data, pin->len, in_name(pin, "profile"), &prof, &pe) < 0)
        return kfail(err, &pe);
    size_t nh = prof->nhours;
    int rc = 0;
    tabs t;
    memset(&t, 0, sizeof t);
    sk_power_hour *hours = calloc(nh, sizeof *hours);
    if (!hours) {
        rc = sk_fail(err, SK_ENOMEM, "out of memory");
        goto out;
    }
    if (p->full_tables) {
        size_t per = c->nbus * 4 + c->nbranch * 11 + c->ngen * 2;
        if (per && nh > FULL_TABLES_MAX / per) {
            rc = sk_fail(err, SK_ETOOBIG, "full_tables: %zu hours x %zu values per hour is too large", nh, per);
            goto out;
        }
        if (add_tables(r, c, nh, prof->period_s, &t) < 0) {
            rc = sk_fail(err, SK_ENOMEM, "out of memory");
            goto out;
        }
    }
    hour_ctx hc = {ctx, c, p->full_tables ? &t : NULL};
    double t0 = now_ms();
    rc = sk_power_run_profile(s, prof, hours, sol, on_hour, &hc, ctx->cancel, &pe);
    double ms = now_ms() - t0;
    if (rc < 0) {
        rc = kfail(err, &pe);
        goto out;
    }
    sk_table *ht = sk_result_add_table(r, "hours", "hour", "hour", nh);
    int64_t *ids = malloc(nh * sizeof *ids);
    if (!ht || !ids) {
        free(ids);
        rc = sk_fail(err, SK_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t h = 0; h < nh; h++)
        ids[h] = (int64_t)h + 1;
    rc = sk_table_set_ids_int(ht, ids);
    free(ids);
    int64_t *ts = sk_table_add_i64(ht, "time_s", "s");
    int32_t *cv = sk_table_add_i32(ht, "converged", "");
    int32_t *it = sk_table_add_i32(ht, "iterations", "");
    double *lp = sk_table_add_f64(ht, "losses_mw", "MW");
    double *lq = sk_table_add_f64(ht, "losses_mvar", "MVAr");
    double *vmin = sk_table_add_f64(ht, "vm_min_pu", "pu");
    double *vmax = sk_table_add_f64(ht, "vm_max_pu", "pu");
    double *pd = sk_table_add_f64(ht, "load_mw", "MW");
    double *pg = sk_table_add_f64(ht, "gen_mw", "MW");
    double *ml = sk_table_add_f64(ht, "max_loading_pct", "%");
    int32_t *ov = sk_table_add_i32(ht, "overloads", "");
    if (rc < 0 || !ts || !cv || !it || !lp || !lq || !vmin || !vmax || !pd || !pg || !ml || !ov) {
        rc = sk_fail(err, SK_ENOMEM, "out of memory");
        goto out;
    }
    size_t nconv = 0;
    int64_t its = 0;
    double e_loss = 0, vlo = INFINITY, vhi = -INFINITY, worst = 0;
    int64_t over_hours = 0;
    for (size_t h = 0; h < nh; h++) {
        const sk_power_hour *o = &hours[h];
        ts[h] = prof->period_s[h];
        cv[h] = o->converged; it[h] = o->iterations;
        lp[h] = o->loss_p; lq[h] = o->loss_q; vmin[h] = o->vm_min; vmax[h] = o->vm_max;
        pd[h] = o->total_pd; pg[h] = o->total_pg; ml[h] = o->max_loading_pct; ov[h] = o->n_overloaded;
        its += o->iterations;
        if (o->converged) {
            nconv++;
            e_loss += o->loss_p;
            vlo = fmin(vlo, o->vm_min);
            vhi = fmax(vhi, o->vm_max);
            worst = fmax(worst, o->max_loading_pct);
            over_hours += o->n_overloaded > 0;
        }
    }
    r->converged = nconv == nh;
    r->iterations = its;
    if (sk_result_meta_int(r, "hours", (int64_t)nh) < 0 ||
        sk_result_meta_int(r, "hours_converged", (int64_t)nconv) < 0 ||
        sk_result_meta_f64(r, "losses_mwh", e_loss) < 0 ||
        sk_result_meta_f64(r, "vm_min_pu", nconv ? vlo : NAN) < 0 ||
        sk_result_meta_f64(r, "vm_max_pu", nconv ? vhi : NAN) < 0 ||
        sk_result_meta_f64(r, "max_loading_pct", worst) < 0 ||
        sk_result_meta_int(r, "overloaded_hours", over_hours) < 0 ||
        sk_result_meta_f64(r, "solve_ms", ms) < 0)
        rc = sk_fail(err, SK_ENOMEM, "out of memory");
out:
    free(hours);
    sk_power_profile_free(prof);
    return rc;
}

int sk_sim_power_run(const sk_job_ctx *ctx, sk_result **out, sk_error *err)
{
    *out = NULL;
    params p;
    int rc = read_params(ctx, &p, err);
    if (rc < 0)
        return rc;
    const sk_input *cin = find_case(ctx);
    if (!cin)
        return sk_fail(err, SK_EINVAL, "sim.power: need the case as input \"case\" (or the only input)");
    const sk_input *pin = sk_job_input(ctx, "profile");
    if (pin == cin)
        pin = NULL;
    sk_power_error pe = {0, {0}};
    sk_power_case *c = NULL;
    sk_power_net *net = NULL;
    sk_power_solver *s = NULL;
    sk_power_solution *sol = NULL;
    sk_result *r = NULL;
    if (sk_power_case_parse(cin->data, cin->len, in_name(cin, "case"), &c, &pe) < 0)
        return kfail(err, &pe);
    double t0 = now_ms();
    if (!(net = sk_power_net_new(c, &pe)) || !(s = sk_power_solver_new(net, &p.o, &pe))) {
        rc = kfail(err, &pe);
        goto done;
    }
    sol = sk_power_solution_new(c, &p.o);
    r = sk_result_new("power", POWER_VERSION);
    if (!sol || !r || add_options_meta(r, &p.o) < 0) {
        rc = sk_fail(err, SK_ENOMEM, "out of memory");
        goto done;
    }
    r->tolerance = p.o.tol;
    if (pin) {
        rc = run_profile(ctx, pin, &p, c, s, sol, r, err);
        goto done;
    }
    if (sk_job_cancelled(ctx)) {
        rc = sk_fail(err, SK_ECANCELED, "cancelled");
        goto done;
    }
    int src = sk_power_solve(s, NULL, NULL, sol, &pe);
    double ms = now_ms() - t0;
    sk_job_progress(ctx, 1.0, "%s in %d iterations", sol->converged ? "converged" : "not converged",
                    sol->iterations_total);
    if (src < 0 && src != SK_POWER_ENOCONV) {
        rc = kfail(err, &pe);
        goto done;
    }
    tabs t;
    memset(&t, 0, sizeof t);
    if (add_tables(r, c, 0, NULL, &t) < 0) {
        rc = sk_fail(err, SK_ENOMEM, "out of memory");
        goto done;
    }
    fill_period(c, sol, &t, 0);
    int32_t *en = sk_table_add_i32(t.bus, "energised", "");
    int32_t *lim = sk_table_add_i32(t.gen, "q_limited", "");
    if (!en || !lim) {
        rc = sk_fail(err, SK_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < c->nbus; i++)
        en[i] = sol->energised[i];
    for (size_t g = 0; g < c->ngen; g++)
        lim[g] = sol->q_limited[g];
    r->converged = sol->converged;
    r->iterations = sol->iterations_total;
    /* converged and iterations are result fields (summary.json top level). */
    if (sk_result_meta_f64(r, "max_mismatch", sol->max_mismatch) < 0 ||
        sk_result_meta_f64(r, "losses_mw", sol->loss_p) < 0 ||
        sk_result_meta_f64(r, "losses_mvar", sol->loss_q) < 0 ||
        sk_result_meta_f64(r, "vm_min_pu", sol->vm_min) < 0 ||
        sk_result_meta_f64(r, "vm_max_pu", sol->vm_max) < 0 ||
        sk_result_meta_f64(r, "total_pg_mw", sol->total_pg) < 0 ||
        sk_result_meta_f64(r, "total_pd_mw", sol->total_pd) < 0 ||
        sk_result_meta_int(r, "buses_energised", sol->n_energised) < 0 ||
        sk_result_meta_int(r, "q_limit_rounds", sol->q_rounds) < 0 ||
        sk_result_meta_int(r, "overloaded_branches", sol->n_overloaded) < 0 ||
        sk_result_meta_f64v(r, "mismatch_history", sol->mismatch_hist, sol->nhist) < 0 ||
        sk_result_meta_f64(r, "solve_ms", ms) < 0 ||
        (!sol->converged && sk_result_meta_str(r, "failure", sol->reason) < 0)) {
        rc = sk_fail(err, SK_ENOMEM, "out of memory");
        goto done;
    }
    rc = 0;
done:
    if (rc < 0) {
        sk_result_free(r);
        r = NULL;
    }
    sk_power_solution_free(sol);
    sk_power_solver_free(s);
    sk_power_net_free(net);
    sk_power_case_free(c);
    *out = r;
    return rc;
}
