/* test_power_profile.c - load profiles and the time-series run: header and
 * timestamp forms, leap year (8,784 rows), DST days, per-bus columns, warm
 * start with one symbolic analysis, agreement with independent solves,
 * progress callback and cancellation, malformed profiles. */
#include <locale.h>
#include <stdarg.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_power.h"
#include "test_util.h"

static char data_dir[4096];

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static void bprintf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(buf *b, const char *fmt, ...)
{
    /* Written in the C locale: the files we generate are what users ship. */
    locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    locale_t old = uselocale(c);
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = b->p ? vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap) : -1;
        va_end(ap);
        if (k >= 0 && (size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            uselocale(old);
            freelocale(c);
            return;
        }
        if (k < 0) k = 256;
        b->cap = b->cap * 2 + (size_t)k + 64;
        b->p = realloc(b->p, b->cap);
    }
}

static sk_power_profile *parse(const char *text, sk_power_error *e)
{
    sk_power_profile *p = NULL;
    sk_power_profile_parse(text, strlen(text), "prof.csv", &p, e);
    return p;
}

static void test_parse(void)
{
    sk_power_error e = {0, {0}};
    /* Leap year: 8,784 hourly rows, hour index, one global column. */
    buf b = {0};
    bprintf(&b, "hour,load\n");
    for (int h = 0; h < 8784; h++)
        bprintf(&b, "%d,%.3f\n", h, 0.5 + 0.5 * (h % 24) / 24.0);
    sk_power_profile *p = parse(b.p, &e);
    CHECK(p && p->nhours == 8784 && p->nbuscols == 0, "leap year: %s", e.msg);
    if (p) CHECK(p->period_s[8783] == 8783 * 3600 && fabs(p->global[23] - 0.979) < 1e-12, "values");
    sk_power_profile_free(p);
    free(b.p);

    /* Spring DST in Oslo: 2024-03-31 has 23 hours; offsets make it exact. */
    memset(&b, 0, sizeof b);
    bprintf(&b, "time,global\n");
    for (int h = 0; h < 24; h++) {
        if (h == 2) continue;
        bprintf(&b, "2024-03-31T%02d:00:00%s,1\n", h, h < 2 ? "+01:00" : "+02:00");
    }
    p = parse(b.p, &e);
    CHECK(p && p->nhours == 23 && p->has_timestamps, "spring DST: %s", e.msg);
    if (p)
        for (size_t h = 0; h < p->nhours; h++)
            CHECK(p->period_s[h] == (int64_t)h * 3600, "spring period %zu = %lld", h, (long long)p->period_s[h]);
    sk_power_profile_free(p);
    free(b.p);

    /* Autumn DST: 2024-10-27 has 25 hours, 02:00 twice with two offsets. */
    memset(&b, 0, sizeof b);
    bprintf(&b, "time,global\n");
    for (int h = 0; h < 25; h++) {
        int local = h <= 2 ? h : h - 1;
        const char *off = h <= 2 ? "+02:00" : "+01:00";
        bprintf(&b, "2024-10-27 %02d:00%s,%d\n", local, off, h);
    }
    p = parse(b.p, &e);
    CHECK(p && p->nhours == 25, "autumn DST: %s", e.msg);
    if (p) CHECK(p->period_s[24] == 24 * 3600 && p->global[24] == 24, "autumn periods");
    sk_power_profile_free(p);
    free(b.p);

    /* Local timestamps without offsets: rows are consecutive hours. */
    p = parse("ts,g\n2024-10-27T01:00,1\n2024-10-27T02:00,1\n2024-10-27T02:00,1\n", &e);
    CHECK(p && p->nhours == 3 && p->period_s[2] == 7200, "naive local: %s", e.msg);
    sk_power_profile_free(p);

    /* UTC 'Z', per-bus columns, CRLF, quotes, blank line at the end. */
    p = parse("\"time\",\"5\",mult,9\r\n2024-01-01T00:00Z,0.5,2,1.5\r\n2024-01-01T01:00Z,1,1,1\r\n\r\n", &e);
    CHECK(p && p->nhours == 2 && p->nbuscols == 2 && p->bus_num[0] == 5 && p->bus_num[1] == 9, "bus columns: %s", e.msg);
    if (p) CHECK(p->global[0] == 2 && p->bus_mult[0] == 0.5 && p->bus_mult[1] == 1.5, "bus multipliers");
    sk_power_profile_free(p);

    struct { const char *text, *want; } bad[] = {
        {"hour\n0\n", "at least one multiplier"},
        {"hour,a,b\n0,1,1\n", "two global"},
        {"hour,g\n0,1\n1,abc\n", "prof.csv:3:"},
        {"hour,g\n0,1,2\n", "fields"},
        {"hour,g\nyesterday,1\n", "neither an hour"},
        {"time,g\n2024-01-01T01:00Z,1\n2024-01-01T00:00Z,1\n", "does not increase"},
        {"hour,5,5\n0,1,1\n", "two columns"},
        {"hour,g\n", "no data rows"},
        {"hour,g\n0,inf\n", "finite"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        e.msg[0] = 0;
        p = parse(bad[k].text, &e);
        CHECK(!p && strstr(e.msg, bad[k].want), "bad profile %zu: '%s' (want '%s')", k, e.msg, bad[k].want);
        sk_power_profile_free(p);
    }
}

typedef struct cbdata {
    size_t calls;
    size_t cancel_at;
    atomic_int *flag;
} cbdata;

static int on_hour(void *ud, size_t hour, size_t nhours, const sk_power_solution *sol)
{
    cbdata *d = ud;
    (void)nhours;
    (void)sol;
    d->calls++;
    if (d->flag && hour + 1 == d->cancel_at)
        atomic_store(d->flag, 1);
    return 0;
}

static void test_run(void)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/case14/case.m", data_dir);
    size_t len;
    char *t = t_read_file(path, &len);
    CHECK(t != NULL, "read %s", path);
    if (!t) return;
    sk_power_error e = {0, {0}};
    sk_power_case *c = NULL;
    CHECK(sk_power_case_parse(t, len, "case14.m", &c, &e) == 0, "%s", e.msg);
    free(t);
    sk_power_net *net = sk_power_net_new(c, &e);
    sk_power_options o;
    sk_power_options_default(&o);
    sk_power_solver *s = sk_power_solver_new(net, &o, &e);
    sk_power_solution *sol = sk_power_solution_new(c, &o);
    /* 48 hours: a daily shape on everything plus a per-bus column for bus 9. */
    buf b = {0};
    bprintf(&b, "hour,global,9\n");
    for (int h = 0; h < 48; h++)
        bprintf(&b, "%d,%.4f,%.4f\n", h, 0.6 + 0.5 * sin(h * M_PI / 12) * 0.5 + 0.3, 1 + 0.2 * (h % 3));
    sk_power_profile *p = parse(b.p, &e);
    free(b.p);
    CHECK(p != NULL, "%s", e.msg);
    if (!p) {
        sk_power_solution_free(sol); sk_power_solver_free(s); sk_power_net_free(net); sk_power_case_free(c);
        return;
    }
    sk_power_hour *hours = calloc(p->nhours, sizeof *hours);
    cbdata d = {0, 0, NULL};
    int rc = p ? sk_power_run_profile(s, p, hours, sol, on_hour, &d, NULL, &e) : -1;
    CHECK(rc == 0 && d.calls == 48, "run: rc %d calls %zu %s", rc, d.calls, e.msg);
    sk_power_stats st;
    sk_power_solver_stats(s, &st);
    CHECK(st.analyses == 1, "symbolic analysis once: %ld", st.analyses);
    CHECK(st.refactors > st.factors, "numeric refactorisation reused: %ld refactors, %ld factors",
          st.refactors, st.factors);
    /* Each hour equals an independent cold solve with the same loads. */
    sk_power_solver *s2 = sk_power_solver_new(net, &o, &e);
    sk_power_solution *sol2 = sk_power_solution_new(c, &o);
    double *pd = malloc(c->nbus * sizeof *pd), *qd = malloc(c->nbus * sizeof *qd);
    long b9 = sk_power_case_bus_index(c, 9);
    int warm_its = 0, cold_its = 0;
    for (size_t h = 0; p && h < p->nhours; h += 7) {
        for (size_t i = 0; i < c->nbus; i++) {
            double m = p->global[h] * ((long)i == b9 ? p->bus_mult[h] : 1);
            pd[i] = c->pd[i] * m;
            qd[i] = c->qd[i] * m;
        }
        sk_power_solver_reset(s2);
        CHECK(sk_power_solve(s2, pd, qd, sol2, &e) == 0, "%s", e.msg);
        CHECK(fabs(sol2->loss_p - hours[h].loss_p) < 1e-6 && fabs(sol2->vm_min - hours[h].vm_min) < 1e-9,
              "hour %zu: losses %.9f vs %.9f", h, hours[h].loss_p, sol2->loss_p);
        CHECK(fabs(hours[h].total_pd - sol2->total_pd) < 1e-9, "hour %zu load", h);
        warm_its += hours[h].iterations;
        cold_its += sol2->iterations;
    }
    CHECK(warm_its <= cold_its, "warm start needs no more iterations: %d vs %d", warm_its, cold_its);
    /* Cancellation through the flag, set from the callback after hour 5. */
    atomic_int flag = 0;
    cbdata d2 = {0, 5, &flag};
    rc = sk_power_run_profile(s, p, hours, sol, on_hour, &d2, &flag, &e);
    CHECK(rc == SK_POWER_ECANCELED && d2.calls == 5, "cancel: rc %d after %zu hours", rc, d2.calls);
    /* A profile naming a bus the case lacks. */
    sk_power_profile *p2 = parse("hour,77\n0,1\n", &e);
    rc = p2 ? sk_power_run_profile(s, p2, hours, sol, NULL, NULL, NULL, &e) : -1;
    CHECK(rc == SK_POWER_EINVAL && strstr(e.msg, "77"), "unknown bus column: %s", e.msg);
    sk_power_profile_free(p2);
    /* A divergent hour is recorded and the run goes on. */
    sk_power_profile *p3 = parse("hour,g\n0,1\n1,15\n2,1.1\n", &e);
    rc = p3 ? sk_power_run_profile(s, p3, hours, sol, NULL, NULL, NULL, &e) : -1;
    CHECK(rc == 0 && hours[0].converged && !hours[1].converged && isnan(hours[1].loss_p) && hours[2].converged,
          "divergent hour: rc %d conv %d %d %d", rc, hours[0].converged, hours[1].converged, hours[2].converged);
    sk_power_profile_free(p3);
    free(pd); free(qd); free(hours);
    sk_power_profile_free(p);
    sk_power_solution_free(sol2);
    sk_power_solver_free(s2);
    sk_power_solution_free(sol);
    sk_power_solver_free(s);
    sk_power_net_free(net);
    sk_power_case_free(c);
}

/* Two threads, each with its own solver (and so its own klu_common), run
 * the same profile on one shared read-only network: identical answers. */
typedef struct thr {
    const sk_power_net *net;
    const sk_power_profile *p;
    sk_power_hour *hours;
    int rc;
} thr;

static void *thread_run(void *arg)
{
    thr *t = arg;
    sk_power_error e = {0, {0}};
    sk_power_options o;
    sk_power_options_default(&o);
    sk_power_solver *s = sk_power_solver_new(t->net, &o, &e);
    sk_power_solution *sol = sk_power_solution_new(t->net->c, &o);
    t->rc = s && sol ? sk_power_run_profile(s, t->p, t->hours, sol, NULL, NULL, NULL, &e) : -1;
    sk_power_solution_free(sol);
    sk_power_solver_free(s);
    return NULL;
}

static void test_threads(void)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/case30/case.m", data_dir);
    size_t len;
    char *t = t_read_file(path, &len);
    sk_power_error e = {0, {0}};
    sk_power_case *c = NULL;
    CHECK(t && sk_power_case_parse(t, len, "case30.m", &c, &e) == 0, "%s", e.msg);
    free(t);
    if (!c) return;
    sk_power_net *net = sk_power_net_new(c, &e);
    buf b = {0};
    bprintf(&b, "hour,g\n");
    for (int h = 0; h < 200; h++)
        bprintf(&b, "%d,%.3f\n", h, 0.7 + 0.004 * (h % 100));
    sk_power_profile *p = parse(b.p, &e);
    free(b.p);
    thr a = {net, p, calloc(200, sizeof(sk_power_hour)), -1}, d = a;
    d.hours = calloc(200, sizeof(sk_power_hour));
    pthread_t ta, td;
    int started = net && p && pthread_create(&ta, NULL, thread_run, &a) == 0;
    int started2 = started && pthread_create(&td, NULL, thread_run, &d) == 0;
    CHECK(started && started2, "threads");
    if (started) pthread_join(ta, NULL);
    if (started2) pthread_join(td, NULL);
    CHECK(a.rc == 0 && d.rc == 0, "thread runs %d %d", a.rc, d.rc);
    int same = 1;
    for (int h = 0; h < 200; h++)
        same &= a.hours[h].loss_p == d.hours[h].loss_p && a.hours[h].converged;
    CHECK(same, "threads agree hour by hour");
    free(a.hours);
    free(d.hours);
    sk_power_profile_free(p);
    sk_power_net_free(net);
    sk_power_case_free(c);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        snprintf(data_dir, sizeof data_dir, "%s", argv[1]);
    else
        snprintf(data_dir, sizeof data_dir, "%s/tests/data/power", t_env("SAMSKAP_SOURCE", "."));
    setlocale(LC_ALL, "nb_NO.UTF-8"); /* profiles are read in the C locale anyway */
    test_parse();
    test_run();
    test_threads();
    printf("%d checks, %d failed\n", t_checks, t_failures);
    return t_failures ? 1 : 0;
}
