/* profile.c - load profiles (CSV of hourly multipliers) and the time-series
 * run: one network, one analysed solver, many load states, each hour
 * warm-started from the previous one.
 *
 * Timestamps: ISO 8601 "YYYY-MM-DD[T ]HH:MM[:SS]" with an optional "Z" or
 * "+hh[:mm]" offset.  With offsets on every row the period axis is true
 * elapsed time (a spring DST day has 23 rows, an autumn one 25, and rows must
 * increase); without, rows are consecutive hours (so local-time files with a
 * repeated autumn hour are still read row by row). */
#include <ctype.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "power_internal.h"

#define PROFILE_MAX_ROWS 1000000
#define PROFILE_MAX_COLS 100000

void sk_power_profile_free(sk_power_profile *p)
{
    if (!p)
        return;
    free(p->period_s); free(p->global); free(p->bus_num); free(p->bus_mult);
    free(p);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Parse a timestamp field [s, s+n).  *has_off tells whether it had Z/offset. */
static int parse_iso(const char *s, size_t n, int64_t *t, int *has_off)
{
    int y, mo, d, h, mi, sec = 0;
    if (n < 16 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':')
        return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi))
        return -1;
    size_t k = 16;
    if (k < n && s[k] == ':') {
        if (k + 3 > n || digits(s + k + 1, 2, &sec))
            return -1;
        k += 3;
        if (k < n && s[k] == '.') { /* fractional seconds: ignored */
            k++;
            while (k < n && isdigit((unsigned char)s[k])) k++;
        }
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || sec > 60)
        return -1;
    int64_t off = 0;
    *has_off = 0;
    if (k < n && (s[k] == 'Z' || s[k] == 'z')) {
        *has_off = 1;
        k++;
    } else if (k < n && (s[k] == '+' || s[k] == '-')) {
        int sign = s[k] == '-' ? -1 : 1, oh, om = 0;
        k++;
        if (k + 2 > n || digits(s + k, 2, &oh))
            return -1;
        k += 2;
        if (k < n && s[k] == ':') k++;
        if (k + 2 <= n && digits(s + k, 2, &om) == 0) k += 2;
        off = sign * (oh * 3600 + om * 60);
        *has_off = 1;
    }
    if (k != n)
        return -1;
    *t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    return 0;
}

/* Trim blanks and one pair of double quotes. */
static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) { (*s)++; (*n)--; }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r')) (*n)--;
    if (*n >= 2 && (*s)[0] == '"' && (*s)[*n - 1] == '"') { (*s)++; *n -= 2; }
}

/* Split one line into fields; returns the count (capped at max). */
static size_t split(const char *s, size_t n, const char **f, size_t *fl, size_t max)
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == ',') {
            if (k < max) {
                f[k] = s + start;
                fl[k] = i - start;
                trim(&f[k], &fl[k]);
            }
            k++;
            start = i + 1;
        }
    }
    return k;
}

int sk_power_profile_parse(const char *buf, size_t len, const char *filename,
                           sk_power_profile **out, sk_power_error *err)
{
    *out = NULL;
    if (!filename)
        filename = "profile";
    locale_t loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (!loc)
        return pw_fail(err, SK_POWER_ENOMEM, "%s: cannot create the C locale", filename);
    sk_power_profile *p = calloc(1, sizeof *p);
    const char **f = NULL;
    size_t *fl = NULL;
    int *colbus = NULL;
    int rc = 0, line = 0;
    size_t ncols = 0, cap = 0, globalcol = 0;
    int any_naive = 0;
    int64_t *abs_t = NULL;
    if (!p) { rc = pw_fail(err, SK_POWER_ENOMEM, "out of memory"); goto done; }
    const char *s = buf, *end = buf ? buf + len : buf;
    while (s < end) {
        const char *e = memchr(s, '\n', (size_t)(end - s));
        if (!e) e = end;
        size_t n = (size_t)(e - s);
        line++;
        const char *ls = s;
        s = e < end ? e + 1 : end;
        size_t tn = n;
        const char *ts = ls;
        trim(&ts, &tn);
        if (tn == 0)
            continue;
        if (!f) {
            /* Header. */
            ncols = split(ls, n, NULL, NULL, 0);
            if (ncols < 2 || ncols > PROFILE_MAX_COLS) {
                rc = pw_fail(err, SK_POWER_EINVAL, "%s:%d: header needs a time column and at least one multiplier column",
                             filename, line);
                goto done;
            }
            f = malloc(ncols * sizeof *f);
            fl = malloc(ncols * sizeof *fl);
            colbus = malloc(ncols * sizeof *colbus);
            p->bus_num = malloc(ncols * sizeof *p->bus_num);
            if (!f || !fl || !colbus || !p->bus_num) { rc = pw_fail(err, SK_POWER_ENOMEM, "out of memory"); goto done; }
            split(ls, n, f, fl, ncols);
            for (size_t k = 1; k < ncols; k++) {
                int isnum = fl[k] > 0 && fl[k] < 19;
                int64_t v = 0;
                for (size_t q = 0; q < fl[k] && isnum; q++) {
                    if (f[k][q] < '0' || f[k][q] > '9') isnum = 0;
                    else v = v * 10 + (f[k][q] - '0');
                }
                if (isnum && v > 0) {
                    colbus[k] = (int)p->nbuscols;
                    p->bus_num[p->nbuscols++] = v;
                } else {
                    if (globalcol) {
                        rc = pw_fail(err, SK_POWER_EINVAL, "%s:%d: two global multiplier columns ('%.*s' and column %zu)",
                                     filename, line, (int)(fl[k] > 40 ? 40 : fl[k]), f[k], globalcol + 1);
                        goto done;
                    }
                    globalcol = k;
                    colbus[k] = -1;
                }
            }
            for (size_t a = 0; a < p->nbuscols; a++)
                for (size_t b = a + 1; b < p->nbuscols && b < a + 1 + 4096; b++)
                    if (p->bus_num[a] == p->bus_num[b]) {
                        rc = pw_fail(err, SK_POWER_EINVAL, "%s:%d: bus %lld has two columns", filename, line,
                                     (long long)p->bus_num[a]);
                        goto done;
                    }
            continue;
        }
        size_t got = split(ls, n, f, fl, ncols);
        if (got != ncols) {
            rc = pw_fail(err, SK_POWER_EINVAL, "%s:%d: %zu fields, header has %zu", filename, line, got, ncols);
            goto done;
        }
        if (p->nhours == PROFILE_MAX_ROWS) {
            rc = pw_fail(err, SK_POWER_ETOOBIG, "%s:%d: more than %d rows", filename, line, PROFILE_MAX_ROWS);
            goto done;
        }
        if (p->nhours == cap) {
            size_t nc = cap ? 2 * cap : 1024;
            int64_t *np = realloc(p->period_s, nc * sizeof *np);
            if (np) p->period_s = np;
            int64_t *nt = realloc(abs_t, nc * sizeof *nt);
            if (nt) abs_t = nt;
            double *ng = realloc(p->global, nc * sizeof *ng);
            if (ng) p->global = ng;
            double *nm = p->nbuscols ? realloc(p->bus_mult, nc * p->nbuscols * sizeof *nm) : p->bus_mult;
            if (nm) p->bus_mult = nm;
            if (!np || !nt || !ng || (p->nbuscols && !nm)) { rc = pw_fail(err, SK_POWER_ENOMEM, "out of memory"); goto done; }
            cap = nc;
        }
        size_t h = p->nhours;
        /* Time column: an integer hour index or an ISO timestamp. */
        int isint = fl[0] > 0 && fl[0] < 12;
        for (size_t q = 0; q < fl[0] && isint; q++)
            if (f[0][q] < '0' || f[0][q] > '9') isint = 0;
        int has_off = 0;
        if (isint) {
            any_naive = 1;
            abs_t[h] = 0;
        } else {
            if (parse_iso(f[0], fl[0], &abs_t[h], &has_off)) {
                rc = pw_fail(err, SK_POWER_EINVAL, "%s:%d: '%.*s' is neither an hour index nor an ISO timestamp",
                             filename, line, (int)(fl[0] > 40 ? 40 : fl[0]), f[0]);
                goto done;
            }
            p->has_timestamps = 1;
            if (!has_off) any_naive = 1;
        }
        p->global[h] = 1.0;
        for (size_t k = 1; k < ncols; k++) {
            char tmp[64];
            if (fl[k] == 0 || fl[k] >= sizeof tmp) {
                rc = pw_fail(err, SK_POWER_EINVAL, "%s:%d: column %zu: missing or overlong value", filename, line, k + 1);
                goto done;
            }
            memcpy(tmp, f[k], fl[k]);
            tmp[fl[k]] = 0;
            char *ep;
            double v = strtod_l(tmp, &ep, loc);
            if (*ep || !isfinite(v)) {
                rc = pw_fail(err, SK_POWER_EINVAL, "%s:%d: column %zu: '%s' is not a finite number", filename, line, k + 1, tmp);
                goto done;
            }
            if (colbus[k] < 0) p->global[h] = v;
            else p->bus_mult[h * p->nbuscols + (size_t)colbus[k]] = v;
        }
        p->nhours++;
    }
    if (!f || p->nhours == 0) {
        rc = pw_fail(err, SK_POWER_EINVAL, "%s: no %s", filename, f ? "data rows" : "header");
        goto done;
    }
    for (size_t h = 0; h < p->nhours; h++) {
        if (any_naive) {
            p->period_s[h] = (int64_t)h * 3600;
        } else {
            p->period_s[h] = abs_t[h] - abs_t[0];
            if (h && abs_t[h] <= abs_t[h - 1]) {
                rc = pw_fail(err, SK_POWER_EINVAL, "%s: row %zu: timestamp does not increase", filename, h + 1);
                goto done;
            }
        }
    }
done:
    free(f); free(fl); free(colbus); free(abs_t);
    freelocale(loc);
    if (rc) {
        sk_power_profile_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int sk_power_run_profile(sk_power_solver *s, const sk_power_profile *p,
                         sk_power_hour *hours, sk_power_solution *sol,
                         sk_power_hour_fn cb, void *ud, atomic_int *cancel,
                         sk_power_error *err)
{
    size_t nb = sol->nbus;
    double *pd = malloc(nb * sizeof *pd), *qd = malloc(nb * sizeof *qd), *mult = malloc(nb * sizeof *mult);
    long *col_row = malloc((p->nbuscols ? p->nbuscols : 1) * sizeof *col_row);
    int rc = 0;
    if (!pd || !qd || !mult || !col_row) {
        rc = pw_fail(err, SK_POWER_ENOMEM, "out of memory");
        goto done;
    }
    const sk_power_case *cs = sk_power_solver_case(s);
    for (size_t k = 0; k < p->nbuscols; k++) {
        col_row[k] = sk_power_case_bus_index(cs, p->bus_num[k]);
        if (col_row[k] < 0) {
            rc = pw_fail(err, SK_POWER_EINVAL, "profile column '%lld' is not a bus of %s",
                         (long long)p->bus_num[k], cs->filename);
            goto done;
        }
    }
    sk_power_solver_reset(s);
    for (size_t h = 0; h < p->nhours; h++) {
        if (cancel && atomic_load(cancel)) {
            rc = pw_fail(err, SK_POWER_ECANCELED, "cancelled at hour %zu of %zu", h, p->nhours);
            goto done;
        }
        for (size_t i = 0; i < nb; i++)
            mult[i] = p->global[h];
        for (size_t k = 0; k < p->nbuscols; k++)
            mult[col_row[k]] *= p->bus_mult[h * p->nbuscols + k];
        for (size_t i = 0; i < nb; i++) {
            pd[i] = cs->pd[i] * mult[i];
            qd[i] = cs->qd[i] * mult[i];
        }
        sk_power_error e2 = {0, {0}};
        int r = sk_power_solve(s, pd, qd, sol, &e2);
        if (r && r != SK_POWER_ENOCONV) {
            rc = pw_fail(err, r, "hour %zu: %s", h + 1, e2.msg);
            goto done;
        }
        sk_power_hour *o = &hours[h];
        o->converged = sol->converged;
        o->iterations = sol->iterations_total;
        o->loss_p = sol->loss_p;
        o->loss_q = sol->loss_q;
        o->vm_min = sol->vm_min;
        o->vm_max = sol->vm_max;
        o->total_pd = sol->total_pd;
        o->total_pg = sol->total_pg;
        o->max_loading_pct = sol->max_loading_pct;
        o->n_overloaded = sol->n_overloaded;
        if (cb && cb(ud, h, p->nhours, sol)) {
            rc = pw_fail(err, SK_POWER_ECANCELED, "stopped by the callback after hour %zu", h + 1);
            goto done;
        }
    }
done:
    free(pd); free(qd); free(mult); free(col_row);
    return rc;
}
