/* test_lua_kernels.c - shipped plugins on real kernel results: sim.power on
 * MATPOWER case14 and sim.traffic on Sioux Falls (SAMSKAP_SHARED_DATA),
 * checked against the reference solutions shipped with the data (not
 * against the plugins' own arithmetic).  Skips (77) without the data or
 * when a kernel is not in the build. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_csv.h"
#include "sk_lua.h"
#include "sk_sim.h"

static int fails;
static char plugins_dir[2048];

#define CHECK(cond, ...) do {                                                   \
        if (!(cond)) {                                                          \
            fails++;                                                            \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                         \
        } else {                                                                \
            printf("ok   ");                                                    \
        }                                                                       \
        printf(__VA_ARGS__);                                                    \
        printf("\n");                                                           \
    } while (0)

static sk_result *sim(const char *service, const sk_input *in, size_t nin, sk_params *params)
{
    const sk_service_def *def = sk_sim_find(service);
    if (!def)
        return NULL;
    sk_job_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.inputs = in;
    ctx.ninputs = nin;
    ctx.params = params;
    ctx.threads = 1;
    sk_result *r = NULL;
    sk_error err = SK_ERROR_INIT;
    if (def->run(&ctx, &r, &err) < 0) {
        printf("%s failed: %s\n", service, err.msg);
        return NULL;
    }
    return r;
}

/* Run plugins/<name>.lua on r; value or NAN with the error in le. */
static double plugin(const char *name, const sk_result *r, sk_params *params, sk_lua_error *le)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.lua", plugins_dir, name);
    const sk_result *rs[1] = {r};
    sk_lua_job job;
    memset(&job, 0, sizeof job);
    job.plugin_path = path;
    job.results = rs;
    job.nresults = 1;
    job.params = params;
    sk_result *out = NULL;
    memset(le, 0, sizeof *le);
    double v = NAN;
    if (sk_lua_run(&job, &out, le) == 0)
        v = sk_result_meta_find(out, "value")->d;
    sk_result_free(out);
    return v;
}

static int rel_close(double a, double b, double tol)
{
    return fabs(a - b) <= tol * fmax(1.0, fabs(b));
}

static void power_case14(const char *data)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/power/case14/case.m", data);
    size_t len;
    sk_error err = SK_ERROR_INIT;
    char *src = sk_read_file(path, &len, 1 << 24, &err);
    if (!src) {
        printf("skip power: %s\n", err.msg);
        return;
    }
    sk_input in = {"case", "case.m", src, len};
    sk_params *params = sk_params_new();
    sk_result *r = sim("sim.power", &in, 1, params);
    free(src);
    if (!r) {
        printf("skip power: sim.power not available\n");
        sk_params_free(params);
        return;
    }
    sk_lua_error le;
    /* reference: ref_summary.txt total_losses_mw 13.3932723574 of total_pd_mw 259 */
    double v = plugin("power_network_losses", r, params, &le);
    CHECK(rel_close(v, 100.0 * 13.3932723574 / 259.0, 1e-6), "case14 losses %.6f %% (reference 5.171148) %s",
          v, le.message);
    /* reference: vm_pu column of ref_bus.csv, counted in [0.95, 1.05] */
    snprintf(path, sizeof path, "%s/power/case14/ref_bus.csv", data);
    char *csv = sk_read_file(path, &len, 1 << 20, &err);
    int in_band = 0, nbus = 0;
    if (csv) {
        sk_csv c;
        sk_csv_init(&c, csv, len, "ref_bus.csv");
        int first = 1;
        while (sk_csv_next(&c, &err) > 0) {
            if (first || c.nfields < 3) {
                first = 0;
                continue;
            }
            double vm = atof(c.fields[2]);
            nbus++;
            in_band += vm >= 0.95 && vm <= 1.05;
        }
        sk_csv_free(&c);
        free(csv);
    }
    v = plugin("power_voltage_compliance", r, params, &le);
    CHECK(nbus == 14 && rel_close(v, 100.0 * in_band / nbus, 1e-9),
          "case14 voltage compliance %.4f %% (reference %d of %d buses)", v, in_band, nbus);
    v = plugin("power_branch_loading", r, params, &le);
    CHECK(isnan(v) && strstr(le.message, "no rated in-service branches"),
          "case14 branch loading refused: rate_a is 0 (unlimited) on every branch: %s", le.message);
    sk_params_set_f64(params, "population", 1000);
    v = plugin("power_consumption_per_capita", r, params, &le);
    CHECK(rel_close(v, 259.0 * 8760 * 1000 / 1000, 1e-9), "case14 consumption %.1f kWh/capita/year (259 MW x 8760 h / 1000)",
          v);
    sk_result_free(r);
    sk_params_free(params);
}

/* fft of (from, to) from a TNTP net file: columns init, term, capacity,
 * length, fft, ... after <END OF METADATA>. */
static int tntp_rows(const char *text, double (*rows)[5], int max)
{
    const char *p = strstr(text, "<END OF METADATA>");
    int n = 0;
    if (!p)
        return 0;
    while ((p = strchr(p, '\n')) && n < max) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '~' || *p == '\n' || *p == '\r' || !*p)
            continue;
        char *end;
        for (int k = 0; k < 5; k++) {
            rows[n][k] = strtod(p, &end);
            if (end == p)
                break;
            p = end;
        }
        n++;
    }
    return n;
}

static void traffic_sioux_falls(const char *data)
{
    char pn[4096], pt[4096], pf[4096];
    snprintf(pn, sizeof pn, "%s/traffic/SiouxFalls/SiouxFalls_net.tntp", data);
    snprintf(pt, sizeof pt, "%s/traffic/SiouxFalls/SiouxFalls_trips.tntp", data);
    snprintf(pf, sizeof pf, "%s/traffic/SiouxFalls/SiouxFalls_flow.tntp", data);
    size_t ln, lt, lf;
    sk_error err = SK_ERROR_INIT;
    char *net = sk_read_file(pn, &ln, 1 << 24, &err);
    char *trips = net ? sk_read_file(pt, &lt, 1 << 24, &err) : NULL;
    char *flow = trips ? sk_read_file(pf, &lf, 1 << 24, &err) : NULL;
    if (!flow) {
        printf("skip traffic: %s\n", err.msg);
        free(net);
        free(trips);
        return;
    }
    sk_input in[2] = {{"net", "SiouxFalls_net.tntp", net, ln}, {"trips", "SiouxFalls_trips.tntp", trips, lt}};
    sk_params *params = sk_params_new();
    sk_params_set_f64(params, "gap", 1e-10);
    sk_result *r = sim("sim.traffic", in, 2, params);
    sk_params_free(params);
    params = sk_params_new();
    if (r) {
        /* reference equilibrium: TTI = sum v c / sum v fft over the flow file */
        static double nrows[100][5];
        int nl = tntp_rows(net, nrows, 100);
        double num = 0, den = 0;
        const char *p = strchr(flow, '\n');
        int matched = 0;
        while (p && *++p) {
            double f, t, v, c;
            if (sscanf(p, "%lf %lf %lf %lf", &f, &t, &v, &c) == 4) {
                for (int k = 0; k < nl; k++)
                    if (nrows[k][0] == f && nrows[k][1] == t) {
                        num += v * c;
                        den += v * nrows[k][4];
                        matched++;
                        break;
                    }
            }
            p = strchr(p, '\n');
        }
        sk_lua_error le;
        double v = plugin("traffic_travel_time_index", r, params, &le);
        CHECK(matched == 76 && rel_close(v, num / den, 1e-5), "Sioux Falls TTI %.6f (reference flows %.6f) %s",
              v, num / den, le.message);
        const sk_meta *td = sk_result_meta_find(r, "total_demand");
        v = plugin("traffic_average_trip_time", r, params, &le);
        CHECK(td && rel_close(v, num / td->d, 1e-5), "Sioux Falls average trip time %.4f (reference %.4f)",
              v, td ? num / td->d : NAN);
        v = plugin("traffic_congested_links", r, params, &le);
        CHECK(v >= 0 && v <= 100, "Sioux Falls congested links %.2f %%", v);
        sk_result_free(r);
    } else
        printf("skip traffic: sim.traffic not available\n");
    sk_params_free(params);
    free(net);
    free(trips);
    free(flow);
}

int main(void)
{
    const char *data = getenv("SAMSKAP_SHARED_DATA");
    const char *srcdir = getenv("SAMSKAP_SOURCE");
    if (!data || !srcdir) {
        printf("SAMSKAP_SHARED_DATA/SAMSKAP_SOURCE not set: skipped\n");
        return 77;
    }
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/power/case14/case.m", data);
    FILE *f = fopen(probe, "r");
    if (!f) {
        printf("%s absent: skipped\n", probe);
        return 77;
    }
    fclose(f);
    snprintf(plugins_dir, sizeof plugins_dir, "%s/plugins", srcdir);
    power_case14(data);
    traffic_sioux_falls(data);
    printf("%s\n", fails ? "FAILED" : "kernel results checks passed");
    return fails ? 1 : 0;
}
