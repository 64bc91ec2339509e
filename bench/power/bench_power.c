/* bench_power.c - in-process timings of the power-flow kernel on the shared
 * MATPOWER cases: reading, Ybus, AC solve (analysed solver, case start, with
 * post-processing) and analysis + solve, as medians; then an 8,760-hour load
 * profile on case118.  Data: $SAMSKAP_SHARED_DATA/power (default
 * <source>/../shared/data/power).  No arguments needed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sk_power.h"

#ifndef SAMSKAP_SOURCE_DIR
#define SAMSKAP_SOURCE_DIR "."
#endif

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define MAXREP 400

/* Repeat until 0.3 s have passed (at least 5, at most MAXREP runs). */
#define TIME_MEDIAN(out, stmt)                                           \
    do {                                                                 \
        double t_[MAXREP];                                               \
        int n_ = 0;                                                      \
        double start_ = now_ms();                                        \
        while (n_ < MAXREP && (n_ < 5 || now_ms() - start_ < 300)) {     \
            double t0_ = now_ms();                                       \
            stmt;                                                        \
            t_[n_++] = now_ms() - t0_;                                   \
        }                                                                \
        qsort(t_, (size_t)n_, sizeof *t_, cmp_d);                        \
        (out) = t_[n_ / 2];                                              \
    } while (0)

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); b = NULL; }
    fclose(f);
    if (b) { b[n] = 0; *len = (size_t)n; }
    return b;
}

static const char *ref_matpower(const char *name)
{
    if (!strcmp(name, "case118")) return "MATPOWER/Octave 7.6 ms, lightsim2grid 0.15 ms";
    if (!strcmp(name, "case1354pegase")) return "MATPOWER/Octave 41 ms, lightsim2grid 3.0 ms";
    return "";
}

static void profile_run(const char *dir)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/power/case118/case.m", dir);
    size_t len;
    char *buf = read_file(path, &len);
    if (!buf) { printf("profile: %s not found\n", path); return; }
    sk_power_error e = {0, {0}};
    sk_power_case *c = NULL;
    if (sk_power_case_parse(buf, len, "case118.m", &c, &e)) { printf("%s\n", e.msg); free(buf); return; }
    free(buf);
    /* A synthetic year (8,760 h): daily and weekly shapes and a winter peak,
     * written as CSV and read back as a user's profile would be. */
    size_t cap = 8760 * 32 + 64, n = 0;
    char *csv = malloc(cap);
    n += (size_t)snprintf(csv + n, cap - n, "hour,load\n");
    for (int h = 0; h < 8760; h++) {
        double day = 0.8 + 0.2 * sin((h % 24 - 6) * M_PI / 12);
        double week = (h / 24) % 7 >= 5 ? 0.9 : 1.0;
        double season = 0.85 + 0.15 * cos(h * 2 * M_PI / 8760);
        double m = day * week * season;
        int milli = (int)lround(m * 1000);
        n += (size_t)snprintf(csv + n, cap - n, "%d,%d.%03d\n", h, milli / 1000, milli % 1000);
    }
    double t0 = now_ms();
    sk_power_profile *p = NULL;
    if (sk_power_profile_parse(csv, n, "year.csv", &p, &e)) { printf("%s\n", e.msg); free(csv); sk_power_case_free(c); return; }
    double t_read = now_ms() - t0;
    free(csv);
    sk_power_net *net = sk_power_net_new(c, &e);
    sk_power_options o;
    sk_power_options_default(&o);
    sk_power_solver *s = sk_power_solver_new(net, &o, &e);
    sk_power_solution *sol = sk_power_solution_new(c, &o);
    sk_power_hour *hours = calloc(p->nhours, sizeof *hours);
    t0 = now_ms();
    int rc = sk_power_run_profile(s, p, hours, sol, NULL, NULL, NULL, &e);
    double t_run = now_ms() - t0;
    long its = 0, conv = 0;
    double emax = 0;
    for (size_t h = 0; h < p->nhours; h++) {
        its += hours[h].iterations;
        conv += hours[h].converged;
        emax = fmax(emax, hours[h].loss_p);
    }
    sk_power_stats st;
    sk_power_solver_stats(s, &st);
    printf("\n8,760-hour profile on case118 (warm start, one symbolic analysis):\n");
    printf("  rc %d, %ld/%zu hours converged, %ld NR iterations (%.2f per hour), max losses %.2f MW\n", rc, conv,
           p->nhours, its, (double)its / p->nhours, emax);
    printf("  KLU: %ld analyses, %ld factors, %ld refactors, %ld fallbacks\n", st.analyses, st.factors,
           st.refactors, st.fallbacks);
    printf("  profile read %.2f ms; run %.1f ms total, %.3f ms per hour\n", t_read, t_run, t_run / p->nhours);
    free(hours);
    sk_power_solution_free(sol);
    sk_power_solver_free(s);
    sk_power_net_free(net);
    sk_power_profile_free(p);
    sk_power_case_free(c);
}

int main(void)
{
    char dir[4096];
    const char *env = getenv("SAMSKAP_SHARED_DATA");
    if (env && *env) snprintf(dir, sizeof dir, "%s", env);
    else snprintf(dir, sizeof dir, "%s/../shared/data", SAMSKAP_SOURCE_DIR);
    static const char *cases[] = {"case9", "case14", "case30", "case57", "case118", "case300", "case1354pegase"};
    printf("power-flow kernel, in-process medians (ms); data %s/power\n", dir);
    printf("%-15s %6s %8s %8s %9s %11s %4s  %s\n", "case", "buses", "read", "Ybus", "AC solve", "analyse+AC", "its",
           "reference per AC solve");
    int found = 0;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/power/%s/case.m", dir, cases[k]);
        size_t len;
        char *buf = read_file(path, &len);
        if (!buf) { printf("%-15s missing (%s)\n", cases[k], path); continue; }
        found++;
        sk_power_error e = {0, {0}};
        sk_power_case *c = NULL;
        double t_read, t_ybus, t_solve, t_full;
        TIME_MEDIAN(t_read, { sk_power_case_free(c); c = NULL; sk_power_case_parse(buf, len, cases[k], &c, &e); });
        if (!c) { printf("%-15s %s\n", cases[k], e.msg); free(buf); continue; }
        sk_power_net *net = NULL;
        TIME_MEDIAN(t_ybus, { sk_power_net_free(net); net = sk_power_net_new(c, &e); });
        sk_power_options o;
        sk_power_options_default(&o);
        sk_power_solver *s = sk_power_solver_new(net, &o, &e);
        sk_power_solution *sol = sk_power_solution_new(c, &o);
        int rc = 0;
        TIME_MEDIAN(t_solve, { sk_power_solver_reset(s); rc |= sk_power_solve(s, NULL, NULL, sol, &e); });
        TIME_MEDIAN(t_full, {
            sk_power_solver *s2 = sk_power_solver_new(net, &o, &e);
            rc |= sk_power_solve(s2, NULL, NULL, sol, &e);
            sk_power_solver_free(s2);
        });
        printf("%-15s %6zu %8.3f %8.3f %9.3f %11.3f %4d  %s%s\n", cases[k], c->nbus, t_read, t_ybus, t_solve, t_full,
               sol->iterations, ref_matpower(cases[k]), rc ? "  (FAILED)" : "");
        sk_power_solution_free(sol);
        sk_power_solver_free(s);
        sk_power_net_free(net);
        sk_power_case_free(c);
        free(buf);
    }
    if (!found) {
        printf("no shared cases found; set SAMSKAP_SHARED_DATA\n");
        return 0;
    }
    printf("AC solve = Newton-Raphson from the case start on an analysed solver (KLU symbolic reused),\n"
           "incl. pfsoln post-processing; analyse+AC adds bus types, Jacobian pattern and klu_analyze.\n");
    profile_run(dir);
    return 0;
}
