/* water.c - the sim.water service: the job's .inp (input "network", or the
 * only input) through kernels/water into an sk_result.
 *
 * Params: periods ("first" | "all", default all) and accuracy (ACCURACY
 * override).  Tables "nodes" (node_id) and "links" (link_id), columns in the
 * order of docs/kernels/water.md, values in the network's own units; with
 * periods=all both tables carry the reporting times as their period axis.
 * Meta: counts, iterations per reported period, final relative flow change,
 * warnings, solve_ms, flow units and headloss formula.  Progress is reported
 * after every hydraulic step and cancellation is honoured between steps. */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sk_water.h"
#include "water.h"

#define WATER_VERSION "1.0.0"
/* Refuse results beyond this many values (periods x elements x columns). */
#define WATER_MAX_VALUES ((size_t)200 * 1000 * 1000)

enum { NV = 9, LV = 7 };
static const sk_water_node_var node_vars[NV] = {
    SK_WATER_HEAD, SK_WATER_PRESSURE, SK_WATER_DEMAND, SK_WATER_DEMAND_REQUIRED,
    SK_WATER_DEMAND_DELIVERED, SK_WATER_EMITTER_FLOW, SK_WATER_LEAKAGE_FLOW,
    SK_WATER_TANK_LEVEL, SK_WATER_TANK_VOLUME};
static const char *const node_names[NV] = {"head", "pressure", "demand", "demand_required",
                                           "demand_delivered", "emitter_flow", "leakage_flow",
                                           "tank_level", "tank_volume"};
static const sk_water_link_var link_vars[LV] = {SK_WATER_FLOW, SK_WATER_VELOCITY, SK_WATER_HEADLOSS,
                                                SK_WATER_STATUS, SK_WATER_SETTING, SK_WATER_PUMP_POWER,
                                                SK_WATER_PUMP_ENERGY};
static const char *const link_names[LV] = {"flow", "velocity", "headloss", "status", "setting",
                                           "pump_power", "pump_energy"};

typedef struct run_state {
    const sk_job_ctx *ctx;
    const sk_water_net *net;
    size_t nn, nl, nper, cap;
    double *nodev[NV], *linkv[LV];   /* [cap * nn] / [cap * nl], period-major */
    int64_t *times, *iters;
    double relerr;
    atomic_int cancel;
    int oom;
} run_state;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int grow(run_state *st)
{
    size_t nc = st->cap ? st->cap * 2 : 8;
    if (nc * (st->nn * NV + st->nl * LV) > WATER_MAX_VALUES) return -1;
    for (int v = 0; v < NV; v++) {
        double *p = realloc(st->nodev[v], nc * (st->nn ? st->nn : 1) * sizeof *p);
        if (!p) return -1;
        st->nodev[v] = p;
    }
    for (int v = 0; v < LV; v++) {
        double *p = realloc(st->linkv[v], nc * (st->nl ? st->nl : 1) * sizeof *p);
        if (!p) return -1;
        st->linkv[v] = p;
    }
    int64_t *t = realloc(st->times, nc * sizeof *t);
    if (!t) return -1;
    st->times = t;
    t = realloc(st->iters, nc * sizeof *t);
    if (!t) return -1;
    st->iters = t;
    st->cap = nc;
    return 0;
}

static int on_report(void *ud, const sk_water_sim *sim, long t)
{
    run_state *st = ud;
    if (st->nper == st->cap && grow(st) < 0) { st->oom = 1; return SK_WATER_ENOMEM; }
    size_t p = st->nper++;
    for (int v = 0; v < NV; v++) sk_water_node_values(sim, node_vars[v], st->nodev[v] + p * st->nn);
    for (int v = 0; v < LV; v++) sk_water_link_values(sim, link_vars[v], st->linkv[v] + p * st->nl);
    st->times[p] = t;
    st->iters[p] = sk_water_iterations(sim);
    st->relerr = sk_water_relerr(sim);
    return 0;
}

static void on_progress(void *ud, double fraction, long t)
{
    run_state *st = ud;
    sk_job_progress(st->ctx, fraction, "water: t=%ld s", t);
    if (sk_job_cancelled(st->ctx)) atomic_store(&st->cancel, 1);
}

static void free_state(run_state *st)
{
    for (int v = 0; v < NV; v++) free(st->nodev[v]);
    for (int v = 0; v < LV; v++) free(st->linkv[v]);
    free(st->times);
    free(st->iters);
}

/* Copy collected values into per-period columns (or the only period). */
static int fill_f64(sk_table *t, const char *name, const char *unit, const double *src, size_t n)
{
    double *c = sk_table_add_f64(t, name, unit);
    if (!c) return -1;
    memcpy(c, src, n * sizeof *c);
    return 0;
}

static int build_nodes(sk_result *r, run_state *st, int periods, const sk_water_sim *sim)
{
    const sk_water_net *net = st->net;
    size_t nn = st->nn, np = st->nper;
    sk_table *t = sk_result_add_table(r, "nodes", "node", "node_id", nn);
    if (!t) return -1;
    const char **ids = malloc((nn + 1) * sizeof *ids), **types = malloc((nn + 1) * sizeof *types);
    int rc = -1;
    if (!ids || !types) goto out;
    for (size_t i = 0; i < nn; i++) {
        ids[i] = sk_water_node_id(net, (int)i);
        types[i] = sk_water_node_type_name(sk_water_node_kind(net, (int)i));
    }
    if (sk_table_set_ids_str(t, ids) < 0) goto out;
    if (periods && sk_table_set_periods(t, np, st->times) < 0) goto out;
    size_t n = nn * (periods ? np : 1);
    if (sk_table_add_str(t, "type", true, types) < 0) goto out;
    for (int v = 0; v < 3; v++)
        if (fill_f64(t, node_names[v], sk_water_node_unit(net, node_vars[v]), st->nodev[v], n) < 0) goto out;
    double *el = sk_table_add_static_f64(t, "elevation", sk_water_node_unit(net, SK_WATER_ELEVATION));
    if (!el) goto out;
    sk_water_node_values(sim, SK_WATER_ELEVATION, el);
    for (int v = 3; v < NV; v++)
        if (fill_f64(t, node_names[v], sk_water_node_unit(net, node_vars[v]), st->nodev[v], n) < 0) goto out;
    double *x = sk_table_add_static_f64(t, "x", ""), *y = sk_table_add_static_f64(t, "y", "");
    if (!x || !y) goto out;
    for (size_t i = 0; i < nn; i++)
        if (sk_water_node_xy(net, (int)i, &x[i], &y[i]) < 0) x[i] = y[i] = NAN;
    rc = 0;
out:
    free(ids);
    free(types);
    return rc;
}

static int build_links(sk_result *r, run_state *st, int periods, const sk_water_sim *sim)
{
    const sk_water_net *net = st->net;
    size_t nl = st->nl, np = st->nper;
    sk_table *t = sk_result_add_table(r, "links", "link", "link_id", nl);
    if (!t) return -1;
    const char **ids = malloc((nl + 1) * sizeof *ids), **types = malloc((nl + 1) * sizeof *types);
    int rc = -1;
    if (!ids || !types) goto out;
    for (size_t k = 0; k < nl; k++) {
        ids[k] = sk_water_link_id(net, (int)k);
        types[k] = sk_water_link_type_name(sk_water_link_kind(net, (int)k));
    }
    if (sk_table_set_ids_str(t, ids) < 0) goto out;
    if (periods && sk_table_set_periods(t, np, st->times) < 0) goto out;
    size_t n = nl * (periods ? np : 1);
    if (sk_table_add_str(t, "type", true, types) < 0) goto out;
    for (int v = 0; v < 3; v++)
        if (fill_f64(t, link_names[v], sk_water_link_unit(net, link_vars[v]), st->linkv[v], n) < 0) goto out;
    int32_t *status = sk_table_add_i32(t, "status", "");
    if (!status) goto out;
    for (size_t i = 0; i < n; i++) status[i] = (int32_t)st->linkv[3][i];
    double *len = sk_table_add_static_f64(t, "length", sk_water_link_unit(net, SK_WATER_LENGTH));
    double *dia = sk_table_add_static_f64(t, "diameter", sk_water_link_unit(net, SK_WATER_DIAMETER));
    if (!len || !dia) goto out;
    sk_water_link_values(sim, SK_WATER_LENGTH, len);
    sk_water_link_values(sim, SK_WATER_DIAMETER, dia);
    for (int v = 4; v < LV; v++)
        if (fill_f64(t, link_names[v], sk_water_link_unit(net, link_vars[v]), st->linkv[v], n) < 0) goto out;
    rc = 0;
out:
    free(ids);
    free(types);
    return rc;
}

int sk_sim_water_run(const sk_job_ctx *ctx, sk_result **out, sk_error *err)
{
    *out = NULL;
    static const char *const known[] = {"periods", "accuracy", NULL};
    if (ctx->params && sk_params_check_known(ctx->params, known, err) < 0) return err ? err->code : SK_EINVAL;
    const char *periods = ctx->params ? sk_params_get_str(ctx->params, "periods", "all") : "all";
    int all;
    if (strcmp(periods, "all") == 0) all = 1;
    else if (strcmp(periods, "first") == 0) all = 0;
    else return sk_fail(err, SK_EINVAL, "param 'periods': want \"first\" or \"all\", got \"%s\"", periods);
    double accuracy = 0;
    if (ctx->params && sk_params_get_f64(ctx->params, "accuracy", 0, 0, 0.1, &accuracy, err) < 0)
        return err ? err->code : SK_EINVAL;
    const sk_input *in = sk_job_input(ctx, "network");
    if (!in) return sk_fail(err, SK_EINVAL, "sim.water: need the .inp as input \"network\" (or the only input)");

    double t0 = now_ms();
    sk_water_error we = {0, {0}};
    sk_water_net *net = NULL;
    sk_water_sim *sim = NULL;
    sk_result *r = NULL;
    run_state st;
    memset(&st, 0, sizeof st);
    int rc = sk_water_parse(in->data, in->len, in->filename ? in->filename : "network.inp", &net, &we);
    if (rc) return sk_fail(err, rc, "%s", we.msg);
    if (accuracy > 0) sk_water_set_accuracy(net, accuracy, 0);
    rc = sk_water_sim_new(net, &sim, &we);
    if (rc) { sk_water_net_free(net); return sk_fail(err, rc, "%s", we.msg); }
    st.ctx = ctx;
    st.net = net;
    st.nn = (size_t)sk_water_nnodes(net);
    st.nl = (size_t)sk_water_nlinks(net);
    atomic_init(&st.cancel, sk_job_cancelled(ctx) ? 1 : 0);
    sk_water_run_opts o = {.first_only = !all, .report = on_report, .progress = on_progress, .ud = &st,
                           .cancel = &st.cancel};
    double ts = now_ms();
    rc = sk_water_run(sim, &o, &we);
    double solve_ms = now_ms() - ts;
    if (rc) {
        rc = sk_fail(err, st.oom ? SK_ETOOBIG : rc, "%s", st.oom ? "sim.water: result too large or out of memory" : we.msg);
        goto done;
    }
    sk_job_progress(ctx, 1.0, "water: done, %zu period(s)", st.nper);
    r = sk_result_new("water", WATER_VERSION);
    if (!r) { rc = sk_fail(err, SK_ENOMEM, "sim.water: out of memory"); goto done; }
    r->converged = true;
    r->iterations = st.nper ? st.iters[st.nper - 1] : 0;
    r->tolerance = sk_water_accuracy(net);
    if (build_nodes(r, &st, all, sim) < 0 || build_links(r, &st, all, sim) < 0) {
        rc = sk_fail(err, SK_ENOMEM, "sim.water: out of memory building the result");
        goto done;
    }
    const char *w1 = sk_water_net_warnings(net), *w2 = sk_water_sim_warnings(sim);
    size_t wl = strlen(w1) + strlen(w2) + 1;
    char *warn = malloc(wl);
    if (!warn) { rc = sk_fail(err, SK_ENOMEM, "sim.water: out of memory"); goto done; }
    snprintf(warn, wl, "%s%s", w1, w2);
    int bad = 0;
    bad |= sk_result_meta_int(r, "nodes", (int64_t)st.nn) < 0;
    bad |= sk_result_meta_int(r, "links", (int64_t)st.nl) < 0;
    bad |= sk_result_meta_int(r, "junctions", sk_water_njuncs(net)) < 0;
    bad |= sk_result_meta_int(r, "periods", (int64_t)st.nper) < 0;
    bad |= sk_result_meta_i64v(r, "iterations_per_period", st.iters, st.nper) < 0;
    bad |= sk_result_meta_f64(r, "relative_flow_change", st.relerr) < 0;
    bad |= sk_result_meta_str(r, "warnings", warn) < 0;
    bad |= sk_result_meta_f64(r, "solve_ms", solve_ms) < 0;
    bad |= sk_result_meta_f64(r, "total_ms", now_ms() - t0) < 0;
    bad |= sk_result_meta_str(r, "flow_units", sk_water_flow_units(net)) < 0;
    bad |= sk_result_meta_str(r, "headloss", sk_water_headloss_formula(net)) < 0;
    bad |= sk_result_meta_str(r, "periods_param", all ? "all" : "first") < 0;
    free(warn);
    if (bad) { rc = sk_fail(err, SK_ENOMEM, "sim.water: out of memory"); goto done; }
    *out = r;
    r = NULL;
    rc = 0;
done:
    sk_result_free(r);
    free_state(&st);
    sk_water_sim_free(sim);
    sk_water_net_free(net);
    return rc;
}
