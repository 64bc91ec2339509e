/* traffic.c - the sim.traffic service: inputs "net" and "trips" (TNTP; an
 * optional "nodes" coordinates file is parsed and checked) through
 * kernels/traffic into an sk_result.
 *
 * Params: gap (1e-6), max_iters (1000), threads (ctx->threads), time_limit
 * (s, 0 = none), toll_factor / distance_factor (default: the net file's),
 * length_unit / time_unit (free text recorded in the result; TNTP carries
 * no units).  Table "links" (kind "link", ids 1..n in net-file order, not in
 * the CSV): from, to, flow, cost, capacity, length, fft, congested_time,
 * vc_ratio.  Iterations and convergence go in the result's own fields (a
 * meta "iterations" would repeat that key in summary.json).  Meta:
 * relative_gap, aec, tstt, beckmann, gap_history (per iteration, [0] = the
 * all-or-nothing start), solve_ms, stop, units, factors, counts.  Progress once per iteration; cancellation is
 * checked between bushes. */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_traffic.h"
#include "traffic.h"

typedef struct tr_job {
    const sk_job_ctx *ctx;
    double target;
} tr_job;

static int on_iter(void *ud, int iter, double gap, double elapsed)
{
    tr_job *j = ud;
    /* Progress as log(gap) between the start (~1) and the target. */
    double frac = -1;
    if (gap > 0 && j->target > 0 && j->target < 1)
        frac = fmin(1.0, fmax(0.0, log(gap) / log(j->target)));
    sk_job_progress(j->ctx, frac, "iteration %d: relative gap %.3e (%.2f s)", iter, gap, elapsed);
    return sk_job_cancelled(j->ctx);
}

int sk_sim_traffic_run(const sk_job_ctx *ctx, sk_result **out, sk_error *err)
{
    static const char *const known[] = {"gap", "max_iters", "threads", "time_limit", "toll_factor",
                                        "distance_factor", "length_unit", "time_unit", NULL};
    const sk_params *p = ctx->params;
    sk_traffic_net *net = NULL;
    sk_traffic_trips *trips = NULL;
    sk_traffic_nodes *nodes = NULL;
    sk_traffic_solver *s = NULL;
    sk_result *r = NULL;
    int rc;
    *out = NULL;
    if (p && (rc = sk_params_check_known(p, known, err)) < 0)
        return rc;
    double gap, tlim, tf, df;
    int64_t iters, threads;
    if ((rc = sk_params_get_f64(p, "gap", 1e-6, 0, 1, &gap, err)) < 0 ||
        (rc = sk_params_get_int(p, "max_iters", 1000, 0, 1000000, &iters, err)) < 0 ||
        (rc = sk_params_get_int(p, "threads", ctx->threads > 0 ? ctx->threads : 1, 1, 64, &threads, err)) < 0 ||
        (rc = sk_params_get_f64(p, "time_limit", 0, 0, 1e9, &tlim, err)) < 0 ||
        (rc = sk_params_get_f64(p, "toll_factor", NAN, -1e12, 1e12, &tf, err)) < 0 ||
        (rc = sk_params_get_f64(p, "distance_factor", NAN, -1e12, 1e12, &df, err)) < 0)
        return rc;
    const char *lunit = sk_params_get_str(p, "length_unit", "");
    const char *tunit = sk_params_get_str(p, "time_unit", "");

    const sk_input *in_net = sk_job_input(ctx, "net");
    const sk_input *in_trips = sk_job_input(ctx, "trips");
    const sk_input *in_nodes = NULL;
    for (size_t i = 0; i < ctx->ninputs; i++)
        if (ctx->inputs[i].name && strcmp(ctx->inputs[i].name, "nodes") == 0)
            in_nodes = &ctx->inputs[i];
    if (!in_net || !in_trips || in_net == in_trips)
        return sk_fail(err, SK_EINVAL, "sim.traffic needs two inputs named \"net\" and \"trips\" (TNTP files)");

    sk_error kerr = SK_ERROR_INIT;
    net = sk_traffic_net_read(in_net->data, in_net->len, in_net->filename ? in_net->filename : "net", &kerr);
    if (net)
        trips = sk_traffic_trips_read(in_trips->data, in_trips->len,
                                      in_trips->filename ? in_trips->filename : "trips", &kerr);
    if (net && trips && in_nodes)
        nodes = sk_traffic_nodes_read(in_nodes->data, in_nodes->len,
                                      in_nodes->filename ? in_nodes->filename : "nodes", net->nnodes, &kerr);
    if (!net || !trips || (in_nodes && !nodes)) {
        rc = sk_fail(err, kerr.code ? kerr.code : SK_EINVAL, "%s", kerr.msg);
        goto done;
    }
    tr_job job = {ctx, gap};
    sk_traffic_options o;
    sk_traffic_options_init(&o);
    o.target_gap = gap;
    o.max_iters = (int)iters;
    o.threads = (int)threads;
    o.time_limit_s = tlim;
    o.toll_factor = tf;
    o.distance_factor = df;
    o.progress = on_iter;
    o.progress_ud = &job;
    o.cancel = ctx->cancel;
    s = sk_traffic_solver_new(net, trips, &o, &kerr);
    if (!s || (rc = sk_traffic_solver_run(s, &kerr)) < 0) {
        rc = sk_fail(err, kerr.code ? kerr.code : SK_EINVAL, "%s", kerr.msg);
        goto done;
    }
    sk_traffic_stats st;
    sk_traffic_solver_stats(s, &st);
    double tfe = isnan(tf) ? net->toll_factor : tf, dfe = isnan(df) ? net->distance_factor : df;

    r = sk_result_new("traffic", SK_TRAFFIC_VERSION);
    if (!r)
        goto oom;
    r->converged = st.stop == SK_TRAFFIC_CONVERGED;
    r->iterations = st.iterations;
    r->tolerance = gap;
    size_t m = (size_t)net->nlinks;
    sk_table *t = sk_result_add_table(r, "links", "link", "link_id", m);
    if (!t)
        goto oom;
    t->ids_in_csv = false;
    int64_t *ids = malloc(m * sizeof *ids);
    if (!ids)
        goto oom;
    for (size_t a = 0; a < m; a++)
        ids[a] = (int64_t)a + 1;
    rc = sk_table_set_ids_int(t, ids);
    free(ids);
    if (rc < 0)
        goto oom;
    int32_t *cfrom = sk_table_add_static_i32(t, "from", "");
    int32_t *cto = sk_table_add_static_i32(t, "to", "");
    double *cflow = sk_table_add_f64(t, "flow", "veh/h");
    double *ccost = sk_table_add_f64(t, "cost", tunit);
    double *ccap = sk_table_add_static_f64(t, "capacity", "veh/h");
    double *clen = sk_table_add_static_f64(t, "length", lunit);
    double *cfft = sk_table_add_static_f64(t, "fft", tunit);
    double *ctime = sk_table_add_f64(t, "congested_time", tunit);
    double *cvc = sk_table_add_f64(t, "vc_ratio", "");
    if (!cfrom || !cto || !cflow || !ccost || !ccap || !clen || !cfft || !ctime || !cvc)
        goto oom;
    const double *x = sk_traffic_solver_flows(s), *c = sk_traffic_solver_costs(s);
    for (size_t a = 0; a < m; a++) {
        cfrom[a] = net->from[a];
        cto[a] = net->to[a];
        cflow[a] = x[a];
        ccost[a] = c[a];
        ccap[a] = net->capacity[a];
        clen[a] = net->length[a];
        cfft[a] = net->fft[a];
        ctime[a] = sk_traffic_link_cost(net, (int32_t)a, x[a], 0, 0);
        cvc[a] = net->capacity[a] > 0 ? x[a] / net->capacity[a] : NAN;
    }
    size_t ng;
    const double *gaps = sk_traffic_solver_gaps(s, &ng);
    static const char *const stops[] = {"running", "converged", "max_iters", "time_limit", "cancelled"};
    if (sk_result_meta_f64(r, "relative_gap", st.rel_gap) < 0 || sk_result_meta_f64(r, "aec", st.aec) < 0 ||
        sk_result_meta_f64(r, "tstt", st.tstt) < 0 || sk_result_meta_f64(r, "beckmann", st.beckmann) < 0 ||
        sk_result_meta_f64v(r, "gap_history", gaps, ng) < 0 ||
        sk_result_meta_f64(r, "solve_ms", st.solve_s * 1e3) < 0 ||
        sk_result_meta_str(r, "stop", stops[st.stop]) < 0 ||
        sk_result_meta_f64(r, "target_gap", gap) < 0 || sk_result_meta_f64(r, "total_demand", st.total_demand) < 0 ||
        sk_result_meta_f64(r, "intrazonal_demand_ignored", trips->intrazonal) < 0 ||
        sk_result_meta_int(r, "threads", threads) < 0 || sk_result_meta_f64(r, "toll_factor", tfe) < 0 ||
        sk_result_meta_f64(r, "distance_factor", dfe) < 0 || sk_result_meta_str(r, "length_unit", lunit) < 0 ||
        sk_result_meta_str(r, "time_unit", tunit) < 0 || sk_result_meta_int(r, "zones", net->nzones) < 0 ||
        sk_result_meta_int(r, "nodes", net->nnodes) < 0 || sk_result_meta_int(r, "links", net->nlinks) < 0)
        goto oom;
    *out = r;
    r = NULL;
    rc = 0;
    goto done;
oom:
    rc = sk_fail(err, SK_ENOMEM, "sim.traffic: out of memory");
done:
    sk_result_free(r);
    sk_traffic_solver_free(s);
    sk_traffic_nodes_free(nodes);
    sk_traffic_trips_free(trips);
    sk_traffic_net_free(net);
    return rc;
}
