/* test_sim_water.c - the sim.water service on Net1: tables, columns, units,
 * periods, meta, params, progress and cancellation.
 * usage: test_sim_water NET1_INP */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_sim.h"
#include "water.h"
#include "water_test_util.h"

static int failures;
static int nprogress;

static void on_progress(void *ud, double f, const char *msg)
{
    (void)ud; (void)msg;
    WT_CHECK(f >= 0 && f <= 1, "progress %g", f);
    nprogress++;
}

static sk_result *run(const char *body, size_t len, sk_params *params, atomic_int *cancel, sk_error *err)
{
    sk_input in = {"network", "Net1.inp", body, len};
    sk_job_ctx ctx = {&in, 1, params, cancel, on_progress, NULL, 1, NULL};
    sk_result *r = NULL;
    int rc = sk_sim_water_run(&ctx, &r, err);
    if (rc) return NULL;
    return r;
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    size_t len;
    char *inp = wt_read_file(argv[1], &len);
    if (!inp) { fprintf(stderr, "cannot read %s\n", argv[1]); return 1; }
    sk_error err = SK_ERROR_INIT;
    sk_params *p = sk_params_new();
    sk_result *r = run(inp, len, p, NULL, &err);
    WT_CHECK(r != NULL, "run: %s", err.msg);
    if (r) {
        sk_table *n = sk_result_table(r, "nodes"), *l = sk_result_table(r, "links");
        WT_CHECK(n && l && n->nelem == 11 && l->nelem == 13, "tables");
        if (n && l) {
            WT_CHECK(n->nperiods == 25 && n->period_s[24] == 86400 && l->nperiods == 25, "periods %zu", n->nperiods);
            static const char *const ncols[] = {"type", "head", "pressure", "demand", "elevation", "demand_required",
                                                "demand_delivered", "emitter_flow", "leakage_flow", "tank_level",
                                                "tank_volume", "x", "y"};
            static const char *const lcols[] = {"type", "flow", "velocity", "headloss", "status", "length",
                                                "diameter", "setting", "pump_power", "pump_energy"};
            for (size_t c = 0; c < 13; c++) WT_CHECK(n->ncols > c && strcmp(n->cols[c].name, ncols[c]) == 0, "node column %zu", c);
            for (size_t c = 0; c < 10; c++) WT_CHECK(l->ncols > c && strcmp(l->cols[c].name, lcols[c]) == 0, "link column %zu", c);
            sk_column *h = sk_table_column(n, "head"), *st = sk_table_column(l, "status");
            WT_CHECK(strcmp(n->ids_str[0], "10") == 0 && fabs(sk_column_get_f64(h, 0) - 1004.347392) < 0.02, "head(10, t0)");
            WT_CHECK(h && strcmp(h->unit, "ft") == 0, "head unit");
            WT_CHECK(st && st->dtype == SK_DT_I32 && ((int32_t *)st->data)[12] == 1, "pump 9 open at t0");
            /* Net1: pump 9 is off at 13:00 (controls on tank 2) */
            WT_CHECK(((int32_t *)st->data)[13 * 13 + 12] == 0, "pump 9 closed at 13 h");
        }
        const sk_meta *m = sk_result_meta_find(r, "iterations_per_period");
        WT_CHECK(m && m->type == SK_META_I64V && m->n == 25, "iterations meta");
        m = sk_result_meta_find(r, "flow_units");
        WT_CHECK(m && strcmp(m->s, "GPM") == 0, "flow_units meta");
        WT_CHECK(nprogress >= 25, "progress calls %d", nprogress);
        sk_result_free(r);
    }
    sk_params_set_str(p, "periods", "first");
    sk_params_set_f64(p, "accuracy", 1e-6);
    r = run(inp, len, p, NULL, &err);
    WT_CHECK(r && sk_result_table(r, "nodes")->nperiods == 0, "periods=first: %s", err.msg);
    sk_result_free(r);
    sk_params_set_str(p, "periods", "some");
    r = run(inp, len, p, NULL, &err);
    WT_CHECK(!r && strstr(err.msg, "periods"), "bad periods accepted");
    sk_params_set_str(p, "periods", "all");
    sk_params_set_str(p, "colour", "blue");
    r = run(inp, len, p, NULL, &err);
    WT_CHECK(!r && strstr(err.msg, "colour"), "unknown param accepted: %s", err.msg);
    sk_params_free(p);
    atomic_int cancel = 1;
    r = run(inp, len, NULL, &cancel, &err);
    WT_CHECK(!r && err.code == SK_ECANCELED, "cancel: %d %s", err.code, err.msg);
    r = run("[JUNCTIONS]\nJ1 x\n", 17, NULL, NULL, &err);
    WT_CHECK(!r && strstr(err.msg, "Net1.inp:2: [JUNCTIONS] bad number 'x'"), "parse error: %s", err.msg);
    free(inp);
    if (failures) { printf("%d failure(s)\n", failures); return 1; }
    printf("OK\n");
    return 0;
}
