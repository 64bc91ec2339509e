/* test_sim_traffic.c - the sim.traffic service on the Sioux Falls copy and
 * on hand-made inputs: the "links" table layout, meta, progress, params,
 * cancellation and error messages.  Built only when samskap_sim exists. */
#include "tr_test.h"
#include "traffic.h"

static int nprog;
static atomic_int cancel_flag;
static int cancel_after = -1;

static void on_progress(void *ud, double frac, const char *msg)
{
    (void)ud;
    (void)msg;
    CHECK(frac <= 1.0, "fraction %g", frac);
    if (++nprog == cancel_after)
        atomic_store(&cancel_flag, 1);
}

static sk_result *run(const sk_input *in, size_t nin, sk_params *p, sk_error *err)
{
    sk_job_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.inputs = in;
    ctx.ninputs = nin;
    ctx.params = p;
    ctx.cancel = &cancel_flag;
    ctx.progress = on_progress;
    ctx.threads = 1;
    sk_result *r = NULL;
    int rc = sk_sim_traffic_run(&ctx, &r, err);
    CHECK((rc == 0) == (r != NULL), "rc %d vs result", rc);
    return r;
}

int main(void)
{
    const char *src = getenv("SAMSKAP_SOURCE");
    char pn[4096], pt[4096];
    snprintf(pn, sizeof pn, "%s/tests/data/traffic/SiouxFalls/SiouxFalls_net.tntp", src ? src : ".");
    snprintf(pt, sizeof pt, "%s/tests/data/traffic/SiouxFalls/SiouxFalls_trips.tntp", src ? src : ".");
    size_t ln, lt;
    char *net = tt_slurp(pn, &ln), *trips = tt_slurp(pt, &lt);
    if (!net || !trips) {
        fprintf(stderr, "cannot read %s\n", pn);
        return 1;
    }
    sk_input in[2] = {{"net", "SiouxFalls_net.tntp", net, ln}, {"trips", "SiouxFalls_trips.tntp", trips, lt}};
    sk_params *p = sk_params_new();
    sk_params_set_str(p, "gap", "1e-8");
    sk_params_set_str(p, "time_unit", "0.01 h");
    sk_params_set_int(p, "threads", 2);
    sk_error err = SK_ERROR_INIT;
    sk_result *r = run(in, 2, p, &err);
    CHECK(r != NULL, "%s", err.msg);
    if (r) {
        CHECK(r->converged && r->iterations > 0 && nprog == r->iterations, "converged %d it %lld progress %d",
              r->converged, (long long)r->iterations, nprog);
        sk_table *t = sk_result_table(r, "links");
        CHECK(t && t->nelem == 76 && !t->ids_in_csv && t->ids_int && t->ids_int[0] == 1 && t->ids_int[75] == 76,
              "links table");
        static const char *cols[] = {"from", "to", "flow", "cost", "capacity", "length", "fft", "congested_time",
                                     "vc_ratio"};
        for (size_t k = 0; t && k < 9; k++)
            CHECK(k < t->ncols && strcmp(t->cols[k].name, cols[k]) == 0, "column %zu is %s, want %s", k,
                  k < t->ncols ? t->cols[k].name : "(none)", cols[k]);
        if (t && t->ncols >= 9) {
            sk_column *from = sk_table_column(t, "from"), *flow = sk_table_column(t, "flow");
            sk_column *cost = sk_table_column(t, "cost"), *vc = sk_table_column(t, "vc_ratio");
            CHECK(sk_column_get_f64(from, 0) == 1 && sk_column_get_f64(sk_table_column(t, "to"), 0) == 2, "link 1");
            double tstt = 0;
            for (size_t a = 0; a < 76; a++)
                tstt += sk_column_get_f64(flow, a) * sk_column_get_f64(cost, a);
            const sk_meta *m = sk_result_meta_find(r, "tstt");
            CHECK(m && fabs(m->d - tstt) < 1e-9 * tstt, "tstt meta");
            CHECK(fabs(sk_column_get_f64(vc, 0) - sk_column_get_f64(flow, 0) / 25900.20064) < 1e-12, "vc");
            CHECK(strcmp(sk_table_column(t, "cost")->unit, "0.01 h") == 0, "time unit");
        }
        const sk_meta *g = sk_result_meta_find(r, "relative_gap");
        const sk_meta *h = sk_result_meta_find(r, "gap_history");
        CHECK(g && g->d <= 1e-8 && h && h->n == (size_t)r->iterations + 1 && h->dv[h->n - 1] == g->d, "gap meta");
        CHECK(sk_result_meta_find(r, "aec") && sk_result_meta_find(r, "beckmann") && sk_result_meta_find(r, "solve_ms"),
              "meta keys");
        sk_result_free(r);
    }
    /* Cancellation after the second iteration. */
    nprog = 0;
    cancel_after = 2;
    r = run(in, 2, p, &err);
    CHECK(r == NULL && err.code == SK_ECANCELED, "cancel: %d %s", err.code, err.msg);
    cancel_after = -1;
    atomic_store(&cancel_flag, 0);
    /* Unknown and bad params. */
    sk_params_set_str(p, "colour", "red");
    r = run(in, 2, p, &err);
    CHECK(r == NULL && strstr(err.msg, "colour"), "unknown param: %s", err.msg);
    sk_result_free(r);
    sk_params_free(p);
    p = sk_params_new();
    sk_params_set_str(p, "gap", "-1");
    r = run(in, 2, p, &err);
    CHECK(r == NULL && strstr(err.msg, "gap"), "bad gap: %s", err.msg);
    sk_result_free(r);
    /* Missing input, malformed file, no path. */
    r = run(in, 1, NULL, &err);
    CHECK(r == NULL && strstr(err.msg, "\"trips\""), "missing input: %s", err.msg);
    sk_result_free(r);
    const char *badnet = "<NUMBER OF ZONES> 2\n<NUMBER OF NODES> 2\n<END OF METADATA>\n1 2 x ;\n";
    sk_input bad[2] = {{"net", "bad_net.tntp", badnet, strlen(badnet)}, in[1]};
    r = run(bad, 2, NULL, &err);
    CHECK(r == NULL && strstr(err.msg, "bad_net.tntp:4:"), "malformed: %s", err.msg);
    sk_result_free(r);
    const char *nopath = "<NUMBER OF ZONES> 2\n<NUMBER OF NODES> 2\n<END OF METADATA>\n1 2 10 1 1 0.15 4 ;\n";
    const char *tr2 = "<NUMBER OF ZONES> 2\n<END OF METADATA>\nOrigin 2\n1 : 5;\n";
    sk_input np[2] = {{"net", "n.tntp", nopath, strlen(nopath)}, {"trips", "t.tntp", tr2, strlen(tr2)}};
    r = run(np, 2, NULL, &err);
    CHECK(r == NULL && strstr(err.msg, "no path from origin 2 to destination 1"), "no path: %s", err.msg);
    sk_result_free(r);
    sk_params_free(p);
    free(net);
    free(trips);
    if (!tr_failures)
        printf("test_sim_traffic: all checks passed\n");
    return tr_failures ? 1 : 0;
}
