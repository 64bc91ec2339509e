/* test_traffic_small.c - readers and solver on hand-made networks:
 * TNTP quirks, malformed files (file:line messages), locale independence
 * (run under nb_NO.UTF-8), two-route analytic equilibrium, first-thru-node
 * rule, duplicate links, an OD pair with no path, zero demand, options
 * (iteration limit, cancellation), select-link and skims. */
#include <locale.h>

#include "tr_test.h"

static const char *src;

static sk_traffic_net *load_net(const char *name, sk_error *err)
{
    char p[4096];
    size_t n;
    snprintf(p, sizeof p, "%s/tests/data/traffic/small/%s", src, name);
    char *b = tt_slurp(p, &n);
    if (!b) {
        fprintf(stderr, "cannot read %s\n", p);
        exit(1);
    }
    sk_traffic_net *r = sk_traffic_net_read(b, n, name, err);
    free(b);
    return r;
}

static sk_traffic_trips *load_trips(const char *name, sk_error *err)
{
    char p[4096];
    size_t n;
    snprintf(p, sizeof p, "%s/tests/data/traffic/small/%s", src, name);
    char *b = tt_slurp(p, &n);
    if (!b) {
        fprintf(stderr, "cannot read %s\n", p);
        exit(1);
    }
    sk_traffic_trips *r = sk_traffic_trips_read(b, n, name, err);
    free(b);
    return r;
}

static sk_traffic_solver *solve(const sk_traffic_net *n, const sk_traffic_trips *t, double gap, sk_error *err)
{
    sk_traffic_options o;
    sk_traffic_options_init(&o);
    o.target_gap = gap;
    o.max_iters = 200;
    sk_traffic_solver *s = sk_traffic_solver_new(n, t, &o, err);
    if (s && sk_traffic_solver_run(s, err) < 0) {
        sk_traffic_solver_free(s);
        return NULL;
    }
    return s;
}

/* Malformed input must fail with the expected fragment in the message. */
static void bad_net(const char *text, const char *want)
{
    sk_error err = SK_ERROR_INIT;
    sk_traffic_net *n = sk_traffic_net_read(text, strlen(text), "bad.tntp", &err);
    CHECK(n == NULL, "accepted malformed net expecting '%s'", want);
    CHECK(err.code == SK_EINVAL, "code %d", err.code);
    CHECK(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
    sk_traffic_net_free(n);
}

static void bad_trips(const char *text, const char *want)
{
    sk_error err = SK_ERROR_INIT;
    sk_traffic_trips *t = sk_traffic_trips_read(text, strlen(text), "bad_trips.tntp", &err);
    CHECK(t == NULL, "accepted malformed trips expecting '%s'", want);
    CHECK(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
    sk_traffic_trips_free(t);
}

#define META "<NUMBER OF ZONES> 1\n<NUMBER OF NODES> 2\n<FIRST THRU NODE> 1\n<NUMBER OF LINKS> 1\n<END OF METADATA>\n"

static void test_readers(void)
{
    sk_error err = SK_ERROR_INIT;
    /* Quirks: tabs between tag and value, trailing tabs, CRLF, ';' glued,
     * tiny b, non-integer power, factors, comments, optional fields. */
    const char *q = "~ comment\r\n<NUMBER OF ZONES>\t\t2\t\t\r\n<NUMBER OF NODES>\t3\t\r\n"
                    "<FIRST THRU NODE>\t3\t\r\n<NUMBER OF LINKS> 3\r\n<TOLL FACTOR> 0.5\r\n"
                    "<DISTANCE FACTOR> 2\r\n<ORIGINAL HEADER>~ a b c ;\r\n<END OF METADATA>\t\t\r\n\r\n"
                    "~\tinit\tterm ;\r\n\t1\t3\t1\t2.5\t1.0833333333333\t1.5E-71\t16.83\t0\t3\t9\t;\r\n"
                    "1 3 1 2.5 1.0833 0.15 4 0 3 9;\r\n"
                    "3 2 100 1 1 0.15 4.5 ; ~ only seven fields\r\n";
    sk_traffic_net *n = sk_traffic_net_read(q, strlen(q), "q.tntp", &err);
    CHECK(n != NULL, "%s", err.msg);
    if (n) {
        CHECK(n->nzones == 2 && n->nnodes == 3 && n->first_thru == 3 && n->nlinks == 3, "counts");
        CHECK(n->b[0] == 1.5e-71, "tiny b %g", n->b[0]);
        CHECK(n->power[0] == 16.83 && n->power[2] == 4.5, "powers");
        CHECK(n->toll_factor == 0.5 && n->distance_factor == 2, "factors");
        CHECK(n->fft[0] == 1.0833333333333, "fft");
        CHECK(n->from[1] == 1 && n->to[1] == 3 && n->toll[1] == 3 && n->type[1] == 9, "duplicate kept");
        CHECK(n->toll[2] == 0 && n->type[2] == 0, "defaults");
        /* cost = fft(1 + b (x/cap)^p) + 0.5 toll + 2 length */
        double c = sk_traffic_link_cost(n, 2, 50, n->toll_factor, n->distance_factor);
        CHECK(fabs(c - (1 + 0.15 * pow(0.5, 4.5) + 2)) < 1e-12, "cost %g", c);
    }
    sk_traffic_net_free(n);

    const char *tq = "<NUMBER OF ZONES> 3\n<TOTAL OD FLOW> 15.5\n<END OF METADATA>\n\nOrigin \t1 \n"
                     "    1 :      2.0;     2 :    10.5;  3:5;\n\nOrigin 2\n 1 : 0.0 ;\n";
    sk_traffic_trips *t = sk_traffic_trips_read(tq, strlen(tq), "t.tntp", &err);
    CHECK(t != NULL, "%s", err.msg);
    if (t) {
        CHECK(t->nod == 2, "nod %zu (zero and intrazonal dropped)", t->nod);
        CHECK(t->total == 15.5 && t->intrazonal == 2.0 && t->total_declared == 15.5, "totals");
        CHECK(t->orig[1] == 1 && t->dest[1] == 3 && t->demand[1] == 5, "entry");
    }
    sk_traffic_trips_free(t);

    const char *nq = "Node\tX\tY\t;\n1\t-96.77\t43.61\t;\n3 1.5 -2 ;\n";
    sk_traffic_nodes *nd = sk_traffic_nodes_read(nq, strlen(nq), "n.tntp", 3, &err);
    CHECK(nd != NULL, "%s", err.msg);
    if (nd) {
        CHECK(nd->has[0] && !nd->has[1] && nd->has[2], "has");
        CHECK(nd->x[0] == -96.77 && nd->y[2] == -2, "coords");
    }
    sk_traffic_nodes_free(nd);
    nd = sk_traffic_nodes_read("Node X Y\n4 1 x\n", 15, "n2.tntp", 0, &err);
    CHECK(!nd && strstr(err.msg, "n2.tntp:2:"), "%s", err.msg);
    sk_traffic_nodes_free(nd);

    bad_net("<NUMBER OF ZONES> 1\n<NUMBER OF NODES> 2\n1 2 3 4 5 6 7 ;\n", "bad.tntp:3: expected a <TAG>");
    bad_net(META "1 2 3 4 5 6 ;\n", "bad.tntp:6: link line has 6 fields");
    bad_net(META "1 9 3 4 5 6 7 ;\n", "bad.tntp:6: term node 9 out of range");
    bad_net(META "1 2 3,5 4 5 6 7 ;\n", "bad.tntp:6: field 3");
    bad_net(META "1 2 0 4 5 0.15 4 ;\n", "capacity 0 must be > 0");
    bad_net(META "1 2 3 4 -5 0.15 4 ;\n", "negative free-flow time");
    bad_net(META "1 2 3 4 5 0.15 4 0 0 1 ; junk\n", "text after ';'");
    bad_net(META "1 2 3 4 5 0.15 4 ;\n1 2 3 4 5 0.15 4 ;\n", "<NUMBER OF LINKS> says 1 but the file has 2");
    bad_net("<NUMBER OF ZONES> 1\n<NUMBER OF NODES> x\n<END OF METADATA>\n", "bad.tntp:2: <NUMBER OF NODES>");
    bad_net("<NUMBER OF ZONES> 1\n<NUMBER OF NODES> 2\n", "no <END OF METADATA>");
    bad_net(META "1.5 2 3 4 5 6 7 ;\n", "expected an integer node number");
    bad_net(META "1 2 nan 4 5 6 7 ;\n", "field 3");
    bad_net(META "1 2 1e999 4 5 6 7 ;\n", "field 3");
    bad_trips("<NUMBER OF ZONES> 2\n<END OF METADATA>\n2 : 5;\n", "bad_trips.tntp:3: demand entry before any 'Origin'");
    bad_trips("<NUMBER OF ZONES> 2\n<END OF METADATA>\nOrigin 1\n 3 : 5;\n", "bad_trips.tntp:4: destination 3 out of range");
    bad_trips("<NUMBER OF ZONES> 2\n<END OF METADATA>\nOrigin 1\n 2 : -5;\n", "negative demand");
    bad_trips("<NUMBER OF ZONES> 2\n<END OF METADATA>\nOrigin 1\n 2 5;\n", "expected ':'");
    bad_trips("<NUMBER OF ZONES> 2\n<END OF METADATA>\nOrigin 7\n", "origin 7 out of range");
    bad_trips("<NUMBER OF ZONES> 2\n<END OF METADATA>\nOrigin 1\n 2 : 5 x\n", "expected ';'");
}

static void test_two_route(void)
{
    sk_error err = SK_ERROR_INIT;
    sk_traffic_net *n = load_net("two_route_net.tntp", &err);
    sk_traffic_trips *t = load_trips("two_route_trips.tntp", &err);
    CHECK(n && t, "%s", err.msg);
    if (!n || !t)
        return;
    CHECK(t->intrazonal == 5 && t->total == 100, "intrazonal ignored");
    sk_traffic_solver *s = solve(n, t, 1e-12, &err);
    CHECK(s != NULL, "%s", err.msg);
    if (s) {
        const double *x = sk_traffic_solver_flows(s);
        const double *c = sk_traffic_solver_costs(s);
        CHECK(fabs(x[0] - 500.0 / 7) < 1e-6 && fabs(x[2] - 200.0 / 7) < 1e-6, "x %.9g %.9g", x[0], x[2]);
        CHECK(fabs(c[0] + c[1] - c[2] - c[3]) < 1e-8, "route costs differ");
        sk_traffic_stats st;
        sk_traffic_solver_stats(s, &st);
        CHECK(st.stop == SK_TRAFFIC_CONVERGED && st.rel_gap <= 1e-12, "gap %g", st.rel_gap);
        double tstt = x[0] * c[0] + x[2] * c[2];
        CHECK(fabs(st.tstt - tstt) < 1e-9 * tstt, "tstt");
        /* Beckmann: integral of 10 + 0.1x and 12 + 0.18x */
        double bk = 10 * x[0] + 0.05 * x[0] * x[0] + 12 * x[2] + 0.09 * x[2] * x[2];
        CHECK(fabs(st.beckmann - bk) < 1e-9 * bk, "beckmann %.12g vs %.12g", st.beckmann, bk);
        double sk[4];
        sk_traffic_solver_skim(s, sk, &err);
        CHECK(fabs(sk[1] - (c[0] + c[1])) < 1e-9 && sk[0] == 0 && isinf(sk[2]), "skim %g %g %g", sk[0], sk[1], sk[2]);
        double sel[4];
        CHECK(sk_traffic_solver_select_link(s, 0, sel, &err) == 0, "%s", err.msg);
        CHECK(fabs(sel[0] - x[0]) < 1e-9 && fabs(sel[1] - x[0]) < 1e-9 && sel[2] == 0 && sel[3] == 0,
              "select link %g %g %g %g", sel[0], sel[1], sel[2], sel[3]);
        size_t ng;
        const double *g = sk_traffic_solver_gaps(s, &ng);
        CHECK(ng == (size_t)st.iterations + 1 && g[ng - 1] == st.rel_gap, "gap history");
    }
    sk_traffic_solver_free(s);

    /* Iteration limit and cancellation. */
    sk_traffic_options o;
    sk_traffic_options_init(&o);
    o.target_gap = -1;   /* unreachable: only the limit stops it */
    o.max_iters = 1;
    s = sk_traffic_solver_new(n, t, &o, &err);
    CHECK(s && sk_traffic_solver_run(s, &err) == 0, "%s", err.msg);
    sk_traffic_stats st;
    sk_traffic_solver_stats(s, &st);
    CHECK(st.iterations == 1 && st.stop == SK_TRAFFIC_MAX_ITERS, "stop %d it %d", st.stop, st.iterations);
    sk_traffic_solver_free(s);
    o.max_iters = 100;
    o.time_limit_s = 1e-9;
    s = sk_traffic_solver_new(n, t, &o, &err);
    CHECK(s && sk_traffic_solver_run(s, &err) == 0, "%s", err.msg);
    sk_traffic_solver_stats(s, &st);
    CHECK(st.stop == SK_TRAFFIC_TIME_LIMIT && st.iterations <= 1, "time limit: stop %d it %d", st.stop, st.iterations);
    sk_traffic_solver_free(s);
    o.time_limit_s = 0;
    atomic_int cancel = 1;
    o.max_iters = 100;
    o.cancel = &cancel;
    s = sk_traffic_solver_new(n, t, &o, &err);
    CHECK(s && sk_traffic_solver_run(s, &err) == SK_ECANCELED, "cancel: %s", err.msg);
    sk_traffic_solver_free(s);
    sk_traffic_trips_free(t);
    sk_traffic_net_free(n);
}

static void test_ftn_dup_nopath_zero(void)
{
    sk_error err = SK_ERROR_INIT;
    sk_traffic_net *n = load_net("ftn_net.tntp", &err);
    sk_traffic_trips *t = load_trips("ftn_trips.tntp", &err);
    CHECK(n && t, "%s", err.msg);
    sk_traffic_solver *s = n && t ? solve(n, t, 1e-10, &err) : NULL;
    CHECK(s != NULL, "%s", err.msg);
    if (s) {
        const double *x = sk_traffic_solver_flows(s);
        /* The cheap path 1->2->3 passes through zone 2: never used. */
        CHECK(x[0] == 10 && x[1] == 0 && x[2] == 500 && x[3] == 500, "ftn flows %g %g %g %g", x[0], x[1], x[2], x[3]);
    }
    sk_traffic_solver_free(s);
    sk_traffic_trips_free(t);
    sk_traffic_net_free(n);

    n = load_net("dup_net.tntp", &err);
    t = load_trips("dup_trips.tntp", &err);
    s = n && t ? solve(n, t, 1e-12, &err) : NULL;
    CHECK(s != NULL, "%s", err.msg);
    if (s) {
        const double *x = sk_traffic_solver_flows(s);
        CHECK(n->nlinks == 2 && fabs(x[0] - 40) < 1e-6 && fabs(x[1] - 40) < 1e-6, "dup %g %g", x[0], x[1]);
    }
    sk_traffic_solver_free(s);
    sk_traffic_trips_free(t);
    sk_traffic_net_free(n);

    n = load_net("nopath_net.tntp", &err);
    t = load_trips("nopath_trips.tntp", &err);
    memset(&err, 0, sizeof err);
    s = n && t ? solve(n, t, 1e-6, &err) : NULL;
    CHECK(s == NULL && err.code == SK_EINVAL, "no-path accepted");
    CHECK(strstr(err.msg, "no path from origin 1 to destination 3") != NULL, "message: %s", err.msg);
    sk_traffic_solver_free(s);
    sk_traffic_trips_free(t);

    t = load_trips("zero_trips.tntp", &err);
    s = n && t ? solve(n, t, 1e-6, &err) : NULL;
    CHECK(s != NULL, "zero demand: %s", err.msg);
    if (s) {
        sk_traffic_stats st;
        sk_traffic_solver_stats(s, &st);
        const double *x = sk_traffic_solver_flows(s);
        CHECK(st.tstt == 0 && st.rel_gap == 0 && st.stop == SK_TRAFFIC_CONVERGED && x[0] == 0 && x[1] == 0,
              "zero demand run");
    }
    sk_traffic_solver_free(s);
    sk_traffic_trips_free(t);
    sk_traffic_net_free(n);
}

int main(void)
{
    src = getenv("SAMSKAP_SOURCE");
    if (!src)
        src = ".";
    /* Decimal comma locale: parsing must not change. */
    if (!setlocale(LC_ALL, "nb_NO.UTF-8"))
        fprintf(stderr, "note: nb_NO.UTF-8 not installed; locale check is weaker\n");
    else {
        char buf[32];
        snprintf(buf, sizeof buf, "%.1f", 1.5);
        CHECK(strcmp(buf, "1,5") == 0, "nb_NO printf gives %s", buf);
    }
    test_readers();
    test_two_route();
    test_ftn_dup_nopath_zero();
    if (tr_failures)
        fprintf(stderr, "%d check(s) failed\n", tr_failures);
    else
        printf("test_traffic_small: all checks passed\n");
    return tr_failures ? 1 : 0;
}
