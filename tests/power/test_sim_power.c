/* test_sim_power.c - the sim.power service adapter: inputs and params in,
 * bus/branch/gen tables and summary meta out (checked against the case9
 * reference), profiles with progress and cancellation, a divergent case
 * reported as converged = false, bad params, and the CSV directory headers. */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sk_params.h"
#include "sk_result.h"
#include "sk_sim.h"
#include "test_util.h"

int sk_sim_power_run(const sk_job_ctx *ctx, sk_result **out, sk_error *err);

static char data_dir[4096];

typedef struct prog {
    int calls;
    double last;
    atomic_int *cancel;
    int cancel_at;
} prog;

static void on_progress(void *ud, double f, const char *msg)
{
    prog *p = ud;
    (void)msg;
    p->calls++;
    p->last = f;
    if (p->cancel && p->calls == p->cancel_at)
        atomic_store(p->cancel, 1);
}

static double meta_f(const sk_result *r, const char *k)
{
    const sk_meta *m = sk_result_meta_find(r, k);
    if (!m) return NAN;
    return m->type == SK_META_F64 ? m->d : (double)m->i;
}

int main(int argc, char **argv)
{
    snprintf(data_dir, sizeof data_dir, "%s", argc > 1 ? argv[1] : "tests/data/power");
    char path[8192];
    snprintf(path, sizeof path, "%s/case9/case.m", data_dir);
    size_t len;
    char *body = t_read_file(path, &len);
    if (!body) { fprintf(stderr, "cannot read %s\n", path); return 1; }

    sk_input in[2] = {{"case", "case9.m", body, len}, {0}};
    sk_params *pp = sk_params_new();
    atomic_int cancel = 0;
    prog pr = {0, 0, NULL, 0};
    sk_job_ctx ctx = {in, 1, pp, &cancel, on_progress, &pr, 1, NULL};
    sk_result *r = NULL;
    sk_error err = SK_ERROR_INIT;
    int rc = sk_sim_power_run(&ctx, &r, &err);
    CHECK(rc == 0 && r, "case9: %s", err.msg);
    if (r) {
        CHECK(r->converged && r->iterations == 4, "converged %d its %lld", r->converged, (long long)r->iterations);
        CHECK(fabs(meta_f(r, "losses_mw") - 4.64102147448) < 1e-6, "losses %.9f", meta_f(r, "losses_mw"));
        CHECK(fabs(meta_f(r, "vm_min_pu") - 0.995630858048) < 1e-9, "vm_min");
        CHECK(sk_result_meta_find(r, "mismatch_history") && sk_result_meta_find(r, "solve_ms"), "meta");
        sk_table *b = sk_result_table(r, "bus"), *l = sk_result_table(r, "branch"), *g = sk_result_table(r, "gen");
        CHECK(b && l && g, "tables");
        if (b && l && g) {
            static const char *bcols[] = {"type", "vm_pu", "va_deg", "pd_mw", "qd_mvar", "base_kv", "area", "zone", "vmax", "vmin"};
            for (size_t k = 0; k < sizeof bcols / sizeof *bcols; k++)
                CHECK(b->ncols > k && strcmp(b->cols[k].name, bcols[k]) == 0, "bus col %zu", k);
            static const char *lcols[] = {"f_bus", "t_bus", "pf_mw", "qf_mvar", "pt_mw", "qt_mvar", "status",
                                          "rate_a", "sf_mva", "st_mva", "loading_pct", "loss_mw", "loss_mvar"};
            for (size_t k = 0; k < sizeof lcols / sizeof *lcols; k++)
                CHECK(l->ncols > k && strcmp(l->cols[k].name, lcols[k]) == 0, "branch col %zu", k);
            CHECK(strcmp(b->kind, "bus") == 0 && strcmp(b->id_name, "bus_i") == 0 && b->ids_int && b->ids_int[8] == 9, "bus ids");
            CHECK(l->ids_int && l->ids_int[0] == 1 && strcmp(l->id_name, "index") == 0, "branch ids");
            CHECK(!g->ids_in_csv && strcmp(g->cols[0].name, "bus") == 0 && strcmp(g->cols[1].name, "pg_mw") == 0, "gen table");
            double va2 = sk_column_get_f64(sk_table_column(b, "va_deg"), 1);
            CHECK(fabs(va2 - 9.28000548164) < 1e-5, "Va bus 2 %.9f", va2);
            double pf1 = sk_column_get_f64(sk_table_column(l, "pf_mw"), 0);
            CHECK(fabs(pf1 - 71.6410214745) < 1e-3, "pf branch 1 %.6f", pf1);
            double ld = sk_column_get_f64(sk_table_column(l, "loading_pct"), 0);
            double sf = hypot(71.6410214745, 27.0459235335);
            CHECK(fabs(ld - sf / 250 * 100) < 1e-3, "loading %.4f", ld);
            double pg1 = sk_column_get_f64(sk_table_column(g, "pg_mw"), 0);
            CHECK(fabs(pg1 - 71.6410214745) < 1e-3, "slack pg %.6f", pg1);
        }
        char dir[] = "/tmp/sk_power_simXXXXXX";
        if (mkdtemp(dir)) {
            CHECK(sk_result_write_dir(r, dir, &err) == 0, "write_dir: %s", err.msg);
            char f[512];
            snprintf(f, sizeof f, "%s/bus.csv", dir);
            char *csv = t_read_file(f, NULL);
            CHECK(csv && strncmp(csv, "bus_i,type,vm_pu,va_deg,pd_mw,qd_mvar", 37) == 0, "bus.csv header");
            free(csv);
            snprintf(f, sizeof f, "%s/branch.csv", dir);
            csv = t_read_file(f, NULL);
            CHECK(csv && strncmp(csv, "index,f_bus,t_bus,pf_mw,qf_mvar,pt_mw,qt_mvar,status", 52) == 0, "branch.csv header");
            free(csv);
            snprintf(f, sizeof f, "%s/gen.csv", dir);
            csv = t_read_file(f, NULL);
            CHECK(csv && strncmp(csv, "bus,pg_mw,qg_mvar,status", 24) == 0, "gen.csv header: %.40s", csv ? csv : "");
            free(csv);
            char cmd[600];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
            CHECK(system(cmd) == 0, "cleanup");
        }
        sk_result_free(r);
    }

    /* DC via params, as strings from a command line. */
    sk_params_parse_kv(pp, "dc=true", &err);
    r = NULL;
    rc = sk_sim_power_run(&ctx, &r, &err);
    CHECK(rc == 0 && r && r->converged && fabs(meta_f(r, "losses_mw")) < 1e-12, "dc: %s", err.msg);
    sk_result_free(r);
    sk_params_set_bool(pp, "dc", false);

    /* Unknown param. */
    sk_params_set_int(pp, "bogus", 1);
    r = NULL;
    rc = sk_sim_power_run(&ctx, &r, &err);
    CHECK(rc == SK_EINVAL && !r && strstr(err.msg, "bogus"), "unknown param: %s", err.msg);
    sk_params_free(pp);
    pp = sk_params_new();
    ctx.params = pp;

    /* Profile: 30 hours, progress per hour; the third hour diverges. */
    char prof[2048];
    size_t n = (size_t)snprintf(prof, sizeof prof, "hour,global\n");
    for (int h = 0; h < 30; h++)
        n += (size_t)snprintf(prof + n, sizeof prof - n, "%d,%s\n", h, h == 2 ? "15" : h % 2 ? "1.1" : "0.9");
    in[1] = (sk_input){"profile", "prof.csv", prof, n};
    ctx.ninputs = 2;
    pr.calls = 0;
    r = NULL;
    rc = sk_sim_power_run(&ctx, &r, &err);
    CHECK(rc == 0 && r, "profile: %s", err.msg);
    if (r) {
        sk_table *h = sk_result_table(r, "hours");
        CHECK(h && h->nelem == 30 && !sk_result_table(r, "bus"), "hours table only");
        CHECK(pr.calls == 30 && pr.last == 1.0, "progress per hour: %d", pr.calls);
        CHECK(meta_f(r, "hours_converged") == 29 && !r->converged, "one divergent hour");
        if (h) {
            CHECK(sk_column_get_f64(sk_table_column(h, "converged"), 2) == 0, "hour 3 flagged");
            CHECK(fabs(sk_column_get_f64(sk_table_column(h, "load_mw"), 0) - 315 * 0.9) < 1e-9, "hour 1 load");
        }
        sk_result_free(r);
    }
    /* Full tables on request. */
    sk_params_set_bool(pp, "full_tables", true);
    r = NULL;
    rc = sk_sim_power_run(&ctx, &r, &err);
    CHECK(rc == 0 && r, "full tables: %s", err.msg);
    if (r) {
        sk_table *b = sk_result_table(r, "bus");
        CHECK(b && b->nperiods == 30, "bus per hour");
        if (b) {
            sk_column *vm = sk_table_column(b, "vm_pu");
            CHECK(vm && vm->len == 270 && isnan(sk_column_get_f64(vm, 2 * 9 + 4)) &&
                      fabs(sk_column_get_f64(vm, 0) - 1.04) < 1e-12, "period-major values");
        }
        sk_result_free(r);
    }
    /* Cancellation from the progress callback after hour 4. */
    pr = (prog){0, 0, &cancel, 4};
    r = NULL;
    rc = sk_sim_power_run(&ctx, &r, &err);
    CHECK(rc == SK_ECANCELED && !r, "cancel: rc %d %s", rc, err.msg);
    atomic_store(&cancel, 0);

    /* Divergent single solve: a result that says so, with NaN numbers. */
    char *big = malloc(len + 64);
    char *q = strstr(body, "\t5\t1\t90\t30\t");
    if (q)
        snprintf(big, len + 64, "%.*s\t5\t1\t9000\t30\t%s", (int)(q - body), body, q + 11);
    else
        snprintf(big, len + 64, "%s", body);
    in[0] = (sk_input){"case", "big.m", big, strlen(big)};
    ctx.ninputs = 1;
    pr = (prog){0, 0, NULL, 0};
    r = NULL;
    rc = sk_sim_power_run(&ctx, &r, &err);
    CHECK(q && rc == 0 && r && !r->converged && sk_result_meta_find(r, "failure"), "divergent: %s", err.msg);
    if (r) {
        const sk_meta *mh = sk_result_meta_find(r, "mismatch_history");
        CHECK(mh && mh->n >= 2, "mismatch history");
        CHECK(isnan(sk_column_get_f64(sk_table_column(sk_result_table(r, "bus"), "vm_pu"), 4)), "NaN, not garbage");
        sk_result_free(r);
    }
    /* Malformed case: error names file and line. */
    in[0] = (sk_input){"case", "bad.m", "mpc.baseMVA = 100;\nmpc.bus = [\n1 3 x\n];\n", 39};
    r = NULL;
    rc = sk_sim_power_run(&ctx, &r, &err);
    CHECK(rc == SK_EINVAL && !r && strncmp(err.msg, "bad.m:3:", 8) == 0, "malformed: %s", err.msg);
    free(big);
    free(body);
    sk_params_free(pp);
    printf("%d checks, %d failed\n", t_checks, t_failures);
    return t_failures ? 1 : 0;
}
