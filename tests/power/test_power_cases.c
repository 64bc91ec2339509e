/* test_power_cases.c - hand-made cases: DC against hand-computed answers,
 * islands, missing reference bus, a PV bus whose generator is off, a
 * divergent case, Q-limit enforcement, reader features, malformed files and
 * locale independence.  Data: $SAMSKAP_SOURCE/tests/data/power. */
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_power.h"
#include "test_util.h"

static char data_dir[4096];

static char *load(const char *rel, size_t *len)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", data_dir, rel);
    char *b = t_read_file(path, len);
    if (!b) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    return b;
}

/* Replace the first occurrence of `from` (must exist). */
static char *edit(char *text, const char *from, const char *to)
{
    char *p = strstr(text, from);
    if (!p) {
        fprintf(stderr, "edit: '%s' not found\n", from);
        exit(1);
    }
    size_t a = (size_t)(p - text), fl = strlen(from), tl = strlen(to), n = strlen(text);
    char *o = malloc(n - fl + tl + 1);
    memcpy(o, text, a);
    memcpy(o + a, to, tl);
    memcpy(o + a + tl, p + fl, n - a - fl + 1);
    free(text);
    return o;
}

typedef struct run {
    sk_power_case *c;
    sk_power_net *net;
    sk_power_solver *s;
    sk_power_solution *sol;
    int rc;        /* of the last stage reached */
    int stage;     /* 0 parse, 1 net, 2 solver, 3 solve */
    sk_power_error err;
} run;

static void run_text(run *r, const char *text, const char *name, const sk_power_options *o)
{
    memset(r, 0, sizeof *r);
    sk_power_options def;
    sk_power_options_default(&def);
    if (!o) o = &def;
    r->rc = sk_power_case_parse(text, strlen(text), name, &r->c, &r->err);
    if (r->rc) return;
    r->stage = 1;
    r->net = sk_power_net_new(r->c, &r->err);
    if (!r->net) { r->rc = r->err.code; return; }
    r->stage = 2;
    r->s = sk_power_solver_new(r->net, o, &r->err);
    if (!r->s) { r->rc = r->err.code; return; }
    r->stage = 3;
    r->sol = sk_power_solution_new(r->c, o);
    r->rc = sk_power_solve(r->s, NULL, NULL, r->sol, &r->err);
}

static void run_file(run *r, const char *rel, const sk_power_options *o)
{
    char *t = load(rel, NULL);
    run_text(r, t, rel, o);
    free(t);
}

static void run_free(run *r)
{
    sk_power_solution_free(r->sol);
    sk_power_solver_free(r->s);
    sk_power_net_free(r->net);
    sk_power_case_free(r->c);
}

#define NEAR(a, b, tol) (fabs((a) - (b)) <= (tol))

static void test_dc(void)
{
    sk_power_options o;
    sk_power_options_default(&o);
    o.dc = 1;
    run r;
    run_file(&r, "small/dc3.m", &o);
    CHECK(r.rc == 0, "dc3: %s", r.err.msg);
    if (!r.rc) {
        CHECK(NEAR(r.sol->va[1], -25.0 / 300 * 180 / M_PI, 1e-9), "Va2 %.9f", r.sol->va[1]);
        CHECK(NEAR(r.sol->va[2], -20.0 / 300 * 180 / M_PI, 1e-9), "Va3 %.9f", r.sol->va[2]);
        CHECK(NEAR(r.sol->pf[0], 250.0 / 3, 1e-9), "P12 %.9f", r.sol->pf[0]);
        CHECK(NEAR(r.sol->pf[1], 200.0 / 3, 1e-9), "P13 %.9f", r.sol->pf[1]);
        CHECK(NEAR(r.sol->pf[2], -50.0 / 3, 1e-9), "P23 %.9f", r.sol->pf[2]);
        CHECK(NEAR(r.sol->pt[2], 50.0 / 3, 1e-9), "P32 %.9f", r.sol->pt[2]);
        CHECK(NEAR(r.sol->pg[0], 150, 1e-9), "slack %.9f", r.sol->pg[0]);
        CHECK(r.sol->vm[1] == 1.0 && r.sol->loss_p == 0, "DC: Vm 1, no losses");
    }
    run_free(&r);

    run_file(&r, "small/dc_shift.m", &o);
    CHECK(r.rc == 0, "dc_shift: %s", r.err.msg);
    if (!r.rc) {
        double sh = 10 * 5 * M_PI / 180;
        double va2 = (-1 - sh) / 20;
        CHECK(NEAR(r.sol->va[1], va2 * 180 / M_PI, 1e-9), "Va2 %.9f", r.sol->va[1]);
        CHECK(NEAR(r.sol->pf[0], -10 * va2 * 100, 1e-9), "Pf1 %.9f", r.sol->pf[0]);
        CHECK(NEAR(r.sol->pf[1], (-10 * va2 - sh) * 100, 1e-9), "Pf2 %.9f", r.sol->pf[1]);
        CHECK(NEAR(r.sol->pg[0], 100, 1e-9), "slack %.9f", r.sol->pg[0]);
    }
    run_free(&r);

    /* DC on case9: every flow balances the loads; slack covers the rest. */
    run_file(&r, "case9/case.m", &o);
    CHECK(r.rc == 0, "case9 DC: %s", r.err.msg);
    if (!r.rc)
        CHECK(NEAR(r.sol->total_pg, 315, 1e-9), "DC total Pg %.9f", r.sol->total_pg);
    run_free(&r);
}

static void test_islands(void)
{
    run a, b;
    run_file(&a, "small/islands.m", NULL);
    run_file(&b, "small/feeder3.m", NULL);
    CHECK(a.rc == 0, "islands: %s", a.err.msg);
    CHECK(b.rc == 0, "feeder3: %s", b.err.msg);
    if (!a.rc && !b.rc) {
        for (int i = 0; i < 3; i++) {
            CHECK(a.sol->energised[i], "bus %d energised", i);
            CHECK(NEAR(a.sol->vm[i], b.sol->vm[i], 1e-12) && NEAR(a.sol->va[i], b.sol->va[i], 1e-10),
                  "island bus %d differs from the feeder alone", i);
        }
        CHECK(!a.sol->energised[3] && !a.sol->energised[4], "island without ref de-energised");
        CHECK(!a.sol->energised[5], "type-4 bus de-energised");
        CHECK(a.sol->vm[3] == 0 && a.sol->pf[3] == 0 && a.sol->pf[4] == 0, "dead island has no flows");
        CHECK(a.sol->energised[6] && a.sol->energised[7], "second island with its own slack solved");
        CHECK(a.sol->n_energised == 5, "%d energised", a.sol->n_energised);
        /* Second island balances on its own: Pg(70) = Pd(80) + losses(70-80). */
        double loss = a.sol->pf[5] + a.sol->pt[5];
        CHECK(NEAR(a.sol->pg[1], 8 + loss, 1e-6), "island 2 slack %.6f", a.sol->pg[1]);
        CHECK(NEAR(a.sol->pg[0], b.sol->pg[0], 1e-9), "island 1 slack");
        CHECK(NEAR(a.sol->total_pd, 20 + 15 + 8, 1e-12), "energised load %.3f", a.sol->total_pd);
    }
    run_free(&a);
    run_free(&b);
}

static void test_refs(void)
{
    run base, r;
    run_file(&base, "case9/case.m", NULL);
    CHECK(base.rc == 0, "case9");
    /* No type-3 bus: the first PV bus with a generator (bus 1) becomes the
     * reference, as MATPOWER's bustypes does: same answer as case9. */
    char *t = load("case9/case.m", NULL);
    t = edit(t, "\t1\t3\t0\t0\t0\t0\t1\t1\t0\t345", "\t1\t2\t0\t0\t0\t0\t1\t1\t0\t345");
    run_text(&r, t, "noref.m", NULL);
    CHECK(r.rc == 0, "no type-3 bus: %s", r.err.msg);
    if (!r.rc && !base.rc) {
        CHECK(r.sol->type_used[0] == SK_POWER_REF, "bus 1 promoted to ref");
        for (int i = 0; i < 9; i++)
            CHECK(NEAR(r.sol->vm[i], base.sol->vm[i], 1e-12), "promoted ref: Vm %d", i);
    }
    run_free(&r);
    /* No type-3 and no PV bus: nothing can be solved. */
    t = edit(t, "\t1\t2\t0\t0\t0\t0\t1\t1\t0\t345", "\t1\t1\t0\t0\t0\t0\t1\t1\t0\t345");
    t = edit(t, "\t2\t2\t0\t0\t0\t0\t1\t1\t0\t345", "\t2\t1\t0\t0\t0\t0\t1\t1\t0\t345");
    t = edit(t, "\t3\t2\t0\t0\t0\t0\t1\t1\t0\t345", "\t3\t1\t0\t0\t0\t0\t1\t1\t0\t345");
    run_text(&r, t, "allpq.m", NULL);
    CHECK(r.stage == 2 && r.rc == SK_POWER_EINVAL && strstr(r.err.msg, "no reference bus"),
          "all-PQ case: stage %d rc %d '%s'", r.stage, r.rc, r.err.msg);
    run_free(&r);
    free(t);

    /* PV bus whose generator is off: bus 2 becomes PQ, gen 2 outputs 0. */
    t = load("case9/case.m", NULL);
    t = edit(t, "\t2\t163\t6.54\t300\t-300\t1.025\t100\t1\t", "\t2\t163\t6.54\t300\t-300\t1.025\t100\t0\t");
    run_text(&r, t, "pvoff.m", NULL);
    CHECK(r.rc == 0, "PV gen off: %s", r.err.msg);
    if (!r.rc) {
        CHECK(r.sol->type_used[1] == SK_POWER_PQ, "bus 2 is PQ");
        CHECK(r.sol->pg[1] == 0 && r.sol->qg[1] == 0, "gen off outputs zero");
        CHECK(fabs(r.sol->vm[1] - 1.025) > 1e-4, "bus 2 no longer held at VG: %.6f", r.sol->vm[1]);
        CHECK(NEAR(r.sol->total_pg, 315 + r.sol->loss_p, 1e-6), "balance %.6f", r.sol->total_pg);
        CHECK(r.sol->pg[0] > 200, "slack picks up gen 2's 163 MW: %.3f", r.sol->pg[0]);
    }
    run_free(&r);
    free(t);
    run_free(&base);
}

static void test_divergence(void)
{
    run r;
    run_file(&r, "case9/case.m", NULL);
    CHECK(r.rc == 0, "case9");
    if (r.rc) { run_free(&r); return; }
    double pd[9], qd[9];
    for (int i = 0; i < 9; i++) {
        pd[i] = r.c->pd[i] * 12;
        qd[i] = r.c->qd[i] * 12;
    }
    sk_power_error e = {0, {0}};
    int rc = sk_power_solve(r.s, pd, qd, r.sol, &e);
    CHECK(rc == SK_POWER_ENOCONV && !r.sol->converged, "12x load must not converge (rc %d)", rc);
    CHECK(r.sol->nhist >= 2 && r.sol->reason[0], "mismatch history %zu, reason '%s'", r.sol->nhist, r.sol->reason);
    CHECK(isnan(r.sol->vm[4]) && isnan(r.sol->pf[0]), "no garbage numbers after divergence");
    CHECK(strstr(e.msg, "case9") != NULL, "message names the case: %s", e.msg);
    /* The solver recovers: the next solve starts from the case start. */
    rc = sk_power_solve(r.s, NULL, NULL, r.sol, &e);
    CHECK(rc == 0 && r.sol->converged && r.sol->iterations == 4, "recovery: rc %d its %d", rc, r.sol->iterations);
    run_free(&r);
}

static void test_qlim(void)
{
    char *t = load("case9/case.m", NULL);
    t = edit(t, "\t3\t85\t-10.95\t300\t-300\t", "\t3\t85\t-10.95\t300\t-5\t");
    run r;
    run_text(&r, t, "qlim.m", NULL);
    CHECK(r.rc == 0, "qlim no enforcement: %s", r.err.msg);
    if (!r.rc)
        CHECK(r.sol->qg[2] < -10, "without enforcement Qg3 = %.4f violates Qmin", r.sol->qg[2]);
    run_free(&r);
    sk_power_options o;
    sk_power_options_default(&o);
    o.enforce_q_limits = 1;
    run_text(&r, t, "qlim.m", &o);
    CHECK(r.rc == 0, "qlim: %s", r.err.msg);
    if (!r.rc) {
        CHECK(NEAR(r.sol->qg[2], -5, 1e-9), "Qg3 held at Qmin: %.6f", r.sol->qg[2]);
        CHECK(r.sol->q_limited[2] && r.sol->q_rounds == 1, "gen 3 limited, rounds %d", r.sol->q_rounds);
        CHECK(r.sol->type_used[2] == SK_POWER_PQ, "bus 3 switched to PQ");
        CHECK(r.sol->vm[2] > 1.025 + 1e-4, "bus 3 voltage rises above VG: %.6f", r.sol->vm[2]);
        /* Bus 3 balance: the injection equals Pg - Pd, Qg = -5. */
        double q_out = r.sol->qf[3];  /* branch 3-6 from end */
        CHECK(NEAR(q_out, -5, 1e-6), "Q into branch 3-6 %.6f", q_out);
        /* Solving again (warm) switches the bus back first and ends the same. */
        sk_power_error e = {0, {0}};
        double v = r.sol->vm[2];
        CHECK(sk_power_solve(r.s, NULL, NULL, r.sol, &e) == 0 && NEAR(r.sol->vm[2], v, 1e-9),
              "repeat solve: %s", e.msg);
    }
    run_free(&r);
    free(t);
}

static void test_features(void)
{
    run r;
    run_file(&r, "small/features.m", NULL);
    CHECK(r.rc == 0, "features: %s", r.err.msg);
    if (r.c) {
        sk_power_case *c = r.c;
        CHECK(c->nbus == 4 && c->ngen == 3 && c->nbranch == 4, "sizes %zu %zu %zu", c->nbus, c->ngen, c->nbranch);
        CHECK(c->bus_i[0] == 1001 && c->bus_i[3] == 9999, "bus numbers");
        CHECK(sk_power_case_bus_index(c, 42) == 2 && sk_power_case_bus_index(c, 43) == -1, "bus lookup");
        CHECK(c->pd[2] == 60 && c->gs[2] == 0.5 && c->bs[1] == 19, "comma row / values");
        CHECK(isinf(c->qmax[0]) && c->qmax[0] > 0 && isinf(c->qmin[0]) && c->qmin[0] < 0, "Inf");
        CHECK(c->gen_status[2] == 0 && c->br_status[2] == 0, "status 0");
        CHECK(c->tap[1] == 0.95 && c->f_idx[3] == 2 && c->t_idx[3] == 3, "continuation row");
        CHECK(c->ngencost == 3 && c->gencost_cols == 7 && c->gencost[4] == 0.01, "gencost");
        CHECK(c->bus_name && strcmp(c->bus_name[0], "Slack 'A'") == 0, "bus_name '%s'",
              c->bus_name ? c->bus_name[0] : "");
        CHECK(c->genfuel && strcmp(c->genfuel[1], "wind") == 0, "genfuel");
        CHECK(c->gentype && strcmp(c->gentype[2], "GT") == 0, "gentype");
        CHECK(c->bus_line[0] == 11 && c->gen_line[1] == 18 && c->br_line[3] == 25, "row lines %d %d %d",
              c->bus_line[0], c->gen_line[1], c->br_line[3]);
    }
    if (!r.rc) {
        CHECK(r.sol->converged, "features solves");
        CHECK(!r.sol->energised[3], "type 4 bus off");
        CHECK(r.sol->pf[3] == 0 && r.sol->pf[2] == 0, "branches to the isolated bus / out of service carry nothing");
        CHECK(NEAR(r.sol->vm[1], 1.01, 1e-12), "PV bus at VG of its in-service gen");
    }
    run_free(&r);
}

static void test_malformed(void)
{
    static const char head[] = "mpc.version = '2';\nmpc.baseMVA = 100;\n";
    static const char bus[] = "mpc.bus = [\n1 3 0 0 0 0 1 1 0 345 1 1.1 0.9;\n2 1 10 5 0 0 1 1 0 345 1 1.1 0.9;\n];\n";
    static const char gen[] = "mpc.gen = [\n1 0 0 100 -100 1 100 1 100 0;\n];\n";
    static const char br[] = "mpc.branch = [\n1 2 0.01 0.1 0 0 0 0 0 0 1 -360 360;\n];\n";
    struct { const char *text; const char *want; int line; int stage; } cases[] = {
        {"mpc.bus = [\n1 3 0 0 0 0 1 1 0 345 1 1.1 0.9;\n];\n", "missing mpc.baseMVA", 0, 0},
        {"mpc.baseMVA = 100;\nmpc.bus = [\n1 3 0 0 0 0 1 1 0 345 1 1.1;\n];\nmpc.gen=[];\nmpc.branch=[];\n", "need 13", 2, 0},
        {"mpc.baseMVA = 100;\nmpc.bus = [\n1 3 0 0 0 0 1 1 0 345 1 1.1 0.9;\n2 1 0 0 0 0 1 1 0 345 1 1.1;\n];\n", "columns", 4, 0},
        {"mpc.baseMVA = 100;\nmpc.bus = [\n1 3 0 0 1.2.3 0 1 1 0 345 1 1.1 0.9;\n];\n", "expected a number", 3, 0},
        {"mpc.baseMVA = 100;\nmpc.bus = [\n1 3 0 0 0 0 1 1 0 345 1 1.1 0.9;\n", "missing ']'", 4, 0},
        {"mpc.baseMVA = 100;\nmpc.bus = [\n1 3 0 0 0 0 1 1 0 345 1 1.1 0.9;\n1 1 0 0 0 0 1 1 0 345 1 1.1 0.9;\n];\nmpc.gen=[];\nmpc.branch=[];\n", "appears twice", 4, 0},
        {"mpc.baseMVA = 100;\nmpc.bus = [\n1 5 0 0 0 0 1 1 0 345 1 1.1 0.9;\n];\nmpc.gen=[];\nmpc.branch=[];\n", "type 5", 3, 0},
        {"mpc.baseMVA = 100;\nmpc.bus = [\n1 3 NaN 0 0 0 1 1 0 345 1 1.1 0.9;\n];\nmpc.gen=[];\nmpc.branch=[];\n", "not finite", 3, 0},
        {"mpc.version = '1';\n", "version", 1, 0},
        {"x = 3;\n", "unsupported statement", 1, 0},
        {"mpc.baseMVA = -1;\n", "positive", 1, 0},
        {"mpc.baseMVA = 100 200;\n", "after value", 1, 0},
        {"mpc.bus_name = {\n'a;\n};\n", "unterminated string", 2, 0},
        {"mpc.bus = {\n'a';\n};\n", "must be a matrix", 3, 0},
        {"", "missing mpc.baseMVA", 0, 0},
        {"mpc.baseMVA = 100;\nmpc.bus = [\n1 3 0 0 0 0 1 1 0 345 1 1.1 0.9;\n];\nmpc.gen = [\n9 0 0 100 -100 1 100 1 100 0;\n];\nmpc.branch=[];\n", "bus 9 does not exist", 6, 0},
        {"mpc.baseMVA = 100;\nmpc.bus = [\n1 3 0 0 0 0 1 1 0 345 1 1.1 0.9;\n2 1 0 0 0 0 1 1 0 345 1 1.1 0.9;\n];\nmpc.gen=[];\nmpc.branch = [\n1 2 0 0 0 0 0 0 0 0 1 -360 360;\n];\n", "zero impedance", 8, 1},
        {"mpc.baseMVA = 100;\nmpc.bus = [\n1 3 0 0 0 0 1 1 0 345 1 1.1 0.9;\n];\nmpc.gen=[];\nmpc.branch=[];\nmpc.bus_name = {\n'a';\n'b';\n};\n", "expected 1 x 1", 7, 0},
        {"mpc.baseMVA = 1e;\n", "exponent", 1, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        run r;
        run_text(&r, cases[k].text, "bad.m", NULL);
        char want_loc[64];
        if (cases[k].line) snprintf(want_loc, sizeof want_loc, "bad.m:%d:", cases[k].line);
        else snprintf(want_loc, sizeof want_loc, "bad.m");
        CHECK(r.rc < 0 && r.stage == cases[k].stage && strstr(r.err.msg, cases[k].want) &&
                  strncmp(r.err.msg, want_loc, strlen(want_loc)) == 0,
              "malformed #%zu: rc %d stage %d msg '%s' (want '%s' at '%s')", k, r.rc, r.stage, r.err.msg,
              cases[k].want, want_loc);
        run_free(&r);
    }
    /* A well-formed mini case built from the same pieces solves. */
    char ok[1024];
    snprintf(ok, sizeof ok, "%s%s%s%s", head, bus, gen, br);
    run r;
    run_text(&r, ok, "ok.m", NULL);
    CHECK(r.rc == 0 && r.sol->converged, "mini case: %s", r.err.msg);
    run_free(&r);
    /* Truncations of case9 never crash and fail cleanly or parse. */
    size_t len;
    char *t = load("case9/case.m", &len);
    for (size_t cut = 0; cut < len; cut += 97) {
        sk_power_case *c = NULL;
        sk_power_error e = {0, {0}};
        int rc = sk_power_case_parse(t, cut, "cut.m", &c, &e);
        CHECK(rc == 0 ? c != NULL : (c == NULL && strncmp(e.msg, "cut.m", 5) == 0), "cut %zu", cut);
        sk_power_case_free(c);
    }
    free(t);
}

static void test_locale(void)
{
    /* Under nb_NO.UTF-8 strtod would stop at '.'; the reader must not. */
    if (!setlocale(LC_ALL, "nb_NO.UTF-8")) {
        fprintf(stderr, "note: nb_NO.UTF-8 not installed; locale test uses C only\n");
        return;
    }
    run r;
    run_file(&r, "small/features.m", NULL);
    CHECK(r.c && r.c->pd[1] == 10.5 && r.c->tap[1] == 0.95 && r.c->base_mva == 100.0,
          "numbers under nb_NO: %s", r.err.msg);
    run_free(&r);
    setlocale(LC_ALL, "C");
}

int main(int argc, char **argv)
{
    if (argc > 1)
        snprintf(data_dir, sizeof data_dir, "%s", argv[1]);
    else
        snprintf(data_dir, sizeof data_dir, "%s/tests/data/power", t_env("SAMSKAP_SOURCE", "."));
    test_dc();
    test_islands();
    test_refs();
    test_divergence();
    test_qlim();
    test_features();
    test_malformed();
    test_locale();
    printf("%d checks, %d failed\n", t_checks, t_failures);
    return t_failures ? 1 : 0;
}
