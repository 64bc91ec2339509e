/* test_power_ref.c - AC power flow against MATPOWER 8.1 reference solutions.
 *
 * usage: test_power_ref DIR [DIR...]   each DIR holds case.m and ref_*.csv.
 * A DIR under $SAMSKAP_SHARED_DATA that does not exist makes the test skip
 * (exit 77).  Checks |dVm| <= 1e-6 pu, |dVa| <= 1e-5 deg, branch flows and
 * generator outputs within 1e-3 MW/MVAr, total losses within 1e-3 MW, and NR
 * iterations from case start (and flat start) equal to the reference or
 * within one. */
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_power.h"
#include "test_util.h"

/* Read a numeric CSV with a header into rows x cols (C locale numbers). */
static double *read_csv(const char *path, size_t *rows, size_t *cols)
{
    size_t len;
    char *b = t_read_file(path, &len);
    if (!b)
        return NULL;
    locale_t loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    size_t cap = 1024, n = 0, nc = 1, nr = 0;
    double *v = malloc(cap * sizeof *v);
    char *line = strtok(b, "\n");
    for (char *q = line; *q; q++)
        if (*q == ',') nc++;
    while ((line = strtok(NULL, "\n"))) {
        char *p = line;
        for (size_t k = 0; k < nc; k++) {
            if (n == cap) v = realloc(v, (cap *= 2) * sizeof *v);
            char *e;
            v[n++] = strtod_l(p, &e, loc);
            p = *e == ',' ? e + 1 : e;
        }
        nr++;
    }
    freelocale(loc);
    free(b);
    *rows = nr;
    *cols = nc;
    return v;
}

static int summary_iters(const char *dir, int *case_it, int *flat_it, double *losses)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/ref_summary.txt", dir);
    char *b = t_read_file(path, NULL);
    if (!b)
        return -1;
    char *l2 = strchr(b, '\n');
    if (!l2) { free(b); return -1; }
    l2++;
    /* case,n_bus,n_branch,n_branch_in_service,n_gen,n_gen_in_service,converged,
     * iterations_case_start,iterations_flat_start,total_losses_mw,... */
    char *f[16];
    int k = 0;
    for (char *p = strtok(l2, ",\n"); p && k < 16; p = strtok(NULL, ",\n"))
        f[k++] = p;
    int ok = k >= 10;
    if (ok) {
        *case_it = atoi(f[7]);
        *flat_it = atoi(f[8]);
        locale_t loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
        *losses = strtod_l(f[9], NULL, loc);
        freelocale(loc);
    }
    free(b);
    return ok ? 0 : -1;
}

static void check_case(const char *dir, int flat)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/case.m", dir);
    size_t len;
    char *buf = t_read_file(path, &len);
    CHECK(buf != NULL, "cannot read %s", path);
    if (!buf)
        return;
    sk_power_error err = {0, {0}};
    sk_power_case *c = NULL;
    int rc = sk_power_case_parse(buf, len, path, &c, &err);
    free(buf);
    CHECK(rc == 0, "%s", err.msg);
    if (rc)
        return;
    sk_power_net *net = sk_power_net_new(c, &err);
    CHECK(net != NULL, "%s", err.msg);
    sk_power_options o;
    sk_power_options_default(&o);
    o.flat_start = flat;
    sk_power_solver *s = net ? sk_power_solver_new(net, &o, &err) : NULL;
    CHECK(s != NULL, "%s", err.msg);
    sk_power_solution *sol = sk_power_solution_new(c, &o);
    if (!s || !sol)
        goto out;
    rc = sk_power_solve(s, NULL, NULL, sol, &err);
    CHECK(rc == 0 && sol->converged, "%s: %s", dir, err.msg);
    if (rc)
        goto out;
    int it_case = -99, it_flat = -99;
    double ref_losses = NAN;
    CHECK(summary_iters(dir, &it_case, &it_flat, &ref_losses) == 0, "%s: ref_summary.txt", dir);
    int want = flat ? it_flat : it_case;
    CHECK(abs(sol->iterations - want) <= 1, "%s%s: %d iterations, MATPOWER %d", dir,
          flat ? " (flat)" : "", sol->iterations, want);
    CHECK(fabs(sol->loss_p - ref_losses) <= 1e-3, "%s: losses %.6f vs %.6f", dir, sol->loss_p, ref_losses);
    size_t nr, nc;
    double dvm = 0, dva = 0, dbr = 0, dgen = 0;
    snprintf(path, sizeof path, "%s/ref_bus.csv", dir);
    double *b = read_csv(path, &nr, &nc);
    CHECK(b && nr == c->nbus && nc >= 4, "%s", path);
    for (size_t i = 0; b && i < nr && i < c->nbus; i++) {
        CHECK(b[i * nc] == (double)c->bus_i[i], "bus order");
        dvm = fmax(dvm, fabs(b[i * nc + 2] - sol->vm[i]));
        dva = fmax(dva, fabs(b[i * nc + 3] - sol->va[i]));
    }
    free(b);
    snprintf(path, sizeof path, "%s/ref_branch.csv", dir);
    b = read_csv(path, &nr, &nc);
    CHECK(b && nr == c->nbranch && nc >= 7, "%s", path);
    for (size_t l = 0; b && l < nr && l < c->nbranch; l++) {
        dbr = fmax(dbr, fabs(b[l * nc + 3] - sol->pf[l]));
        dbr = fmax(dbr, fabs(b[l * nc + 4] - sol->qf[l]));
        dbr = fmax(dbr, fabs(b[l * nc + 5] - sol->pt[l]));
        dbr = fmax(dbr, fabs(b[l * nc + 6] - sol->qt[l]));
    }
    free(b);
    snprintf(path, sizeof path, "%s/ref_gen.csv", dir);
    b = read_csv(path, &nr, &nc);
    CHECK(b && nr == c->ngen && nc >= 3, "%s", path);
    for (size_t g = 0; b && g < nr && g < c->ngen; g++) {
        double e = fmax(fabs(b[g * nc + 1] - sol->pg[g]), fabs(b[g * nc + 2] - sol->qg[g]));
        if (e > 1e-3)
            fprintf(stderr, "  gen %zu at bus %lld: pg %.6f/%.6f qg %.6f/%.6f\n", g + 1,
                    (long long)c->gen_bus[g], sol->pg[g], b[g * nc + 1], sol->qg[g], b[g * nc + 2]);
        dgen = fmax(dgen, e);
    }
    free(b);
    CHECK(dvm <= 1e-6, "%s: max |dVm| %.3g", dir, dvm);
    CHECK(dva <= 1e-5, "%s: max |dVa| %.3g", dir, dva);
    CHECK(dbr <= 1e-3, "%s: max branch flow diff %.3g", dir, dbr);
    CHECK(dgen <= 1e-3, "%s: max gen diff %.3g", dir, dgen);
    printf("%-40s %s its %d (ref %d) dVm %.2e dVa %.2e dflow %.2e dgen %.2e losses %.4f\n", dir,
           flat ? "flat" : "case", sol->iterations, want, dvm, dva, dbr, dgen, sol->loss_p);
out:
    sk_power_solution_free(sol);
    sk_power_solver_free(s);
    sk_power_net_free(net);
    sk_power_case_free(c);
}

int main(int argc, char **argv)
{
    /* Numbers must not depend on the process locale. */
    setlocale(LC_ALL, "nb_NO.UTF-8");
    int ran = 0;
    /* --shared NAME...: cases under $SAMSKAP_SHARED_DATA/power. */
    const char *shared = NULL;
    int first = 1;
    if (argc > 1 && strcmp(argv[1], "--shared") == 0) {
        shared = getenv("SAMSKAP_SHARED_DATA");
        first = 2;
        if (!shared || !*shared) {
            printf("skip: SAMSKAP_SHARED_DATA is not set; the large reference cases live there\n");
            return 77;
        }
    }
    for (int i = first; i < argc; i++) {
        char dirbuf[4096], path[8192];
        if (shared)
            snprintf(dirbuf, sizeof dirbuf, "%s/power/%s", shared, argv[i]);
        else
            snprintf(dirbuf, sizeof dirbuf, "%s", argv[i]);
        const char *dir = dirbuf;
        snprintf(path, sizeof path, "%s/case.m", dir);
        FILE *f = fopen(path, "rb");
        if (!f) {
            /* Project data must be there; shared data may be absent. */
            CHECK(shared != NULL, "%s not found", path);
            printf("skip: %s not found\n", path);
            continue;
        }
        fclose(f);
        check_case(dir, 0);
        check_case(dir, 1);
        ran++;
    }
    if (!ran && !t_failures) {
        printf("skip: no reference case found\n");
        return 77;
    }
    return t_failures ? 1 : 0;
}
