/* case_read.c - reader for MATPOWER case files (format version 2).
 *
 * A case file is a MATLAB function assigning fields of `mpc`: scalars
 * (baseMVA, version), numeric matrices in [ ... ] with rows ended by `;` or a
 * newline, and cell arrays in { ... } of quoted strings.  We read exactly that
 * subset, with `%` comments and `...` continuations, and nothing else (no
 * expressions): anything unexpected is an error naming file:line.  Numbers go
 * through strtod_l with a private C locale so that a process running under
 * nb_NO.UTF-8 (decimal comma) reads the same values. */
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "power_internal.h"

/* A cap on any one matrix or cell array, so hostile input cannot make us
 * allocate without bound (case1354pegase's branch matrix has ~26k values). */
#define RD_MAX_ELEMS ((size_t)1 << 24)

typedef struct rd {
    const char *p, *end;
    int line;
    const char *fname;
    locale_t loc;
    sk_power_error *err;
} rd;

/* A matrix or cell array as read: row-major, ncols fixed by the first row. */
typedef struct mat {
    size_t rows, cols, n, cap;
    double *v;       /* numeric matrices */
    char **s;        /* cell arrays */
    int *row_line;   /* [rows] source line of each row */
    size_t rcap;
    int line;        /* line of the assignment */
} mat;

static void mat_free(mat *m)
{
    if (m->s)
        for (size_t i = 0; i < m->n; i++)
            free(m->s[i]);
    free(m->v);
    free(m->s);
    free(m->row_line);
    memset(m, 0, sizeof *m);
}

static int rd_fail(rd *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int rd_fail(rd *r, int code, const char *fmt, ...)
{
    if (r->err) {
        char buf[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        pw_fail(r->err, code, "%s:%d: %s", r->fname, r->line, buf);
    }
    return code;
}

static void skip_to_eol(rd *r)
{
    while (r->p < r->end && *r->p != '\n')
        r->p++;
}

/* Blanks within a line (not newlines). */
static void skip_blanks(rd *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\r'))
        r->p++;
}

/* `...` continues a statement on the next line. */
static int at_continuation(const rd *r)
{
    return r->end - r->p >= 3 && r->p[0] == '.' && r->p[1] == '.' && r->p[2] == '.';
}

static int is_delim(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == ';' ||
           c == ']' || c == '}' || c == '%';
}

/* One number: [+-]digits[.digits][e[+-]digits], or [+-]Inf / NaN. */
static int read_number(rd *r, double *out)
{
    const char *s = r->p;
    char buf[80];
    size_t k = 0;
    int sign = 1;
    if (s < r->end && (*s == '+' || *s == '-')) {
        sign = *s == '-' ? -1 : 1;
        s++;
    }
    size_t rem = (size_t)(r->end - s);
    if (rem >= 3 && (memcmp(s, "Inf", 3) == 0 || memcmp(s, "inf", 3) == 0) &&
        (rem == 3 || is_delim(s[3]))) {
        *out = sign * INFINITY;
        r->p = s + 3;
        return 0;
    }
    if (rem >= 3 && (memcmp(s, "NaN", 3) == 0 || memcmp(s, "nan", 3) == 0) &&
        (rem == 3 || is_delim(s[3]))) {
        *out = NAN;
        r->p = s + 3;
        return 0;
    }
    s = r->p;
    const char *q = s;
    if (q < r->end && (*q == '+' || *q == '-'))
        q++;
    int digits = 0;
    while (q < r->end && *q >= '0' && *q <= '9') { q++; digits++; }
    if (q < r->end && *q == '.') {
        q++;
        while (q < r->end && *q >= '0' && *q <= '9') { q++; digits++; }
    }
    if (digits && q < r->end && (*q == 'e' || *q == 'E')) {
        const char *e = q + 1;
        if (e < r->end && (*e == '+' || *e == '-'))
            e++;
        int ed = 0;
        while (e < r->end && *e >= '0' && *e <= '9') { e++; ed++; }
        if (!ed)
            return rd_fail(r, SK_POWER_EINVAL, "malformed exponent in number");
        q = e;
    }
    if (!digits || (q < r->end && !is_delim(*q))) {
        const char *t = r->p;
        while (t < r->end && !is_delim(*t) && t - r->p < 20)
            t++;
        return rd_fail(r, SK_POWER_EINVAL, "expected a number, found '%.*s'",
                       (int)(t - r->p), r->p);
    }
    if ((size_t)(q - s) >= sizeof buf)
        return rd_fail(r, SK_POWER_EINVAL, "number too long");
    for (const char *t = s; t < q; t++)
        buf[k++] = *t;
    buf[k] = 0;
    char *endp;
    *out = strtod_l(buf, &endp, r->loc);
    if (*endp)
        return rd_fail(r, SK_POWER_EINVAL, "malformed number '%s'", buf);
    r->p = q;
    return 0;
}

/* A quoted string, 'it''s' (MATLAB) or "double". */
static int read_string(rd *r, char **out)
{
    char q = *r->p++;
    const char *start = r->p;
    size_t n = 0;
    /* First pass: find the end and the length after unescaping. */
    const char *s = start;
    for (;;) {
        if (s >= r->end || *s == '\n')
            return rd_fail(r, SK_POWER_EINVAL, "unterminated string");
        if (*s == q) {
            if (s + 1 < r->end && s[1] == q) { s += 2; n++; continue; }
            break;
        }
        s++;
        n++;
    }
    char *o = malloc(n + 1);
    if (!o)
        return rd_fail(r, SK_POWER_ENOMEM, "out of memory");
    size_t k = 0;
    for (const char *t = start; t < s; t++) {
        o[k++] = *t;
        if (*t == q)
            t++;
    }
    o[k] = 0;
    r->p = s + 1;
    *out = o;
    return 0;
}

static int mat_push_row(rd *r, mat *m, size_t ncols_row)
{
    if (ncols_row == 0)
        return 0;
    if (m->rows == 0)
        m->cols = ncols_row;
    else if (ncols_row != m->cols)
        return rd_fail(r, SK_POWER_EINVAL, "row has %zu columns, previous rows %zu",
                       ncols_row, m->cols);
    if (m->rows == m->rcap) {
        size_t nc = m->rcap ? 2 * m->rcap : 64;
        int *nl = realloc(m->row_line, nc * sizeof *nl);
        if (!nl)
            return rd_fail(r, SK_POWER_ENOMEM, "out of memory");
        m->row_line = nl;
        m->rcap = nc;
    }
    m->row_line[m->rows++] = r->line;
    return 0;
}

static int mat_push_val(rd *r, mat *m, double v, char *s)
{
    if (m->n == m->cap) {
        if (m->cap >= RD_MAX_ELEMS) {
            free(s);
            return rd_fail(r, SK_POWER_ETOOBIG, "matrix larger than %zu values", RD_MAX_ELEMS);
        }
        size_t nc = m->cap ? 2 * m->cap : 256;
        if (s || m->s) {
            char **ns = realloc(m->s, nc * sizeof *ns);
            if (!ns) { free(s); return rd_fail(r, SK_POWER_ENOMEM, "out of memory"); }
            m->s = ns;
        } else {
            double *nv = realloc(m->v, nc * sizeof *nv);
            if (!nv)
                return rd_fail(r, SK_POWER_ENOMEM, "out of memory");
            m->v = nv;
        }
        m->cap = nc;
    }
    if (m->s)
        m->s[m->n++] = s;
    else
        m->v[m->n++] = v;
    return 0;
}

/* [ ... ] or { ... } after the opening bracket.  Row line = line where the
 * row's first value sits. */
static int read_matrix(rd *r, mat *m, int cell)
{
    char close = cell ? '}' : ']';
    size_t inrow = 0;
    int row_line = r->line;
    m->line = r->line;
    if (cell) {
        m->s = calloc(1, sizeof *m->s); /* marks a cell array even when empty */
        if (!m->s)
            return rd_fail(r, SK_POWER_ENOMEM, "out of memory");
        m->cap = 0;
    }
    for (;;) {
        if (r->p >= r->end)
            return rd_fail(r, SK_POWER_EINVAL, "missing '%c' (matrix opened on line %d)", close, m->line);
        char ch = *r->p;
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == ',') { r->p++; continue; }
        if (ch == '%') { skip_to_eol(r); continue; }
        if (at_continuation(r)) { skip_to_eol(r); if (r->p < r->end) { r->p++; r->line++; } continue; }
        if (ch == '\n' || ch == ';') {
            int save = r->line;
            r->line = row_line;
            int rc = mat_push_row(r, m, inrow);
            r->line = save;
            if (rc) return rc;
            inrow = 0;
            if (ch == '\n') r->line++;
            r->p++;
            continue;
        }
        if (ch == close) {
            r->p++;
            int save = r->line;
            r->line = row_line;
            int rc = mat_push_row(r, m, inrow);
            r->line = save;
            return rc;
        }
        if (inrow == 0)
            row_line = r->line;
        int rc;
        if (cell) {
            char *s = NULL;
            if (ch == '\'' || ch == '"') {
                if ((rc = read_string(r, &s)))
                    return rc;
            } else {
                /* A bare number in a cell: keep its text. */
                const char *t = r->p;
                double dummy;
                if ((rc = read_number(r, &dummy)))
                    return rc;
                s = strndup(t, (size_t)(r->p - t));
                if (!s)
                    return rd_fail(r, SK_POWER_ENOMEM, "out of memory");
            }
            if ((rc = mat_push_val(r, m, 0, s)))
                return rc;
        } else {
            double v;
            if ((rc = read_number(r, &v)) || (rc = mat_push_val(r, m, v, NULL)))
                return rc;
        }
        inrow++;
    }
}

/* After a value: optional ';', blanks, optional comment, then end of line. */
static int end_statement(rd *r)
{
    skip_blanks(r);
    if (r->p < r->end && (*r->p == ';' || *r->p == ','))
        r->p++;
    skip_blanks(r);
    if (r->p < r->end && *r->p == '%')
        skip_to_eol(r);
    if (r->p < r->end && *r->p != '\n')
        return rd_fail(r, SK_POWER_EINVAL, "unexpected '%c' after value", *r->p);
    return 0;
}

static int is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.';
}

enum { F_BUS, F_GEN, F_BRANCH, F_GENCOST, F_BUSNAME, F_GENFUEL, F_GENTYPE, F_N };

typedef struct parsed {
    mat m[F_N];
    int have[F_N];
    double base_mva;
    int have_base;
} parsed;

static int parse_file(rd *r, parsed *ps)
{
    static const char *const fields[F_N] = {"bus", "gen", "branch", "gencost",
                                            "bus_name", "genfuel", "gentype"};
    for (;;) {
        /* Skip blank lines and comments between statements. */
        while (r->p < r->end) {
            char c = *r->p;
            if (c == '\n') { r->line++; r->p++; }
            else if (c == ' ' || c == '\t' || c == '\r' || c == ';') r->p++;
            else if (c == '%') skip_to_eol(r);
            else break;
        }
        if (r->p >= r->end)
            return 0;
        const char *id = r->p;
        while (r->p < r->end && is_ident_char(*r->p))
            r->p++;
        size_t idn = (size_t)(r->p - id);
        if (idn == 0)
            return rd_fail(r, SK_POWER_EINVAL, "unexpected '%c' at start of statement", *id);
        if ((idn == 8 && memcmp(id, "function", 8) == 0) ||
            (idn == 3 && memcmp(id, "end", 3) == 0) ||
            (idn == 6 && memcmp(id, "return", 6) == 0)) {
            skip_to_eol(r);
            continue;
        }
        if (idn < 5 || memcmp(id, "mpc.", 4) != 0)
            return rd_fail(r, SK_POWER_EINVAL, "unsupported statement '%.*s' (expected mpc.<field> = ...)",
                           (int)(idn > 40 ? 40 : idn), id);
        const char *name = id + 4;
        size_t nn = idn - 4;
        skip_blanks(r);
        if (r->p >= r->end || *r->p != '=')
            return rd_fail(r, SK_POWER_EINVAL, "expected '=' after mpc.%.*s", (int)(nn > 40 ? 40 : nn), name);
        r->p++;
        skip_blanks(r);
        if (r->p >= r->end)
            return rd_fail(r, SK_POWER_EINVAL, "missing value for mpc.%.*s", (int)(nn > 40 ? 40 : nn), name);
        int fi = -1;
        for (int k = 0; k < F_N; k++)
            if (strlen(fields[k]) == nn && memcmp(fields[k], name, nn) == 0)
                fi = k;
        char c = *r->p;
        int rc;
        if (c == '[' || c == '{') {
            int cell = c == '{';
            r->p++;
            mat m = {0};
            if ((rc = read_matrix(r, &m, cell))) { mat_free(&m); return rc; }
            if (fi >= 0) {
                int want_cell = fi >= F_BUSNAME;
                if (want_cell != cell) {
                    mat_free(&m);
                    return rd_fail(r, SK_POWER_EINVAL, "mpc.%s must be a %s", fields[fi],
                                   want_cell ? "cell array { }" : "matrix [ ]");
                }
                mat_free(&ps->m[fi]);
                ps->m[fi] = m;
                ps->have[fi] = 1;
            } else {
                mat_free(&m);   /* a field we do not use (areas, dcline, ...) */
            }
        } else if (c == '\'' || c == '"') {
            char *s = NULL;
            if ((rc = read_string(r, &s)))
                return rc;
            int isver = nn == 7 && memcmp(name, "version", 7) == 0;
            if (isver && strcmp(s, "2") != 0) {
                rc = rd_fail(r, SK_POWER_EINVAL, "unsupported case format version '%.20s' (need '2')", s);
                free(s);
                return rc;
            }
            free(s);
        } else {
            double v;
            if ((rc = read_number(r, &v)))
                return rc;
            if (nn == 7 && memcmp(name, "baseMVA", 7) == 0) {
                if (!(v > 0) || !isfinite(v))
                    return rd_fail(r, SK_POWER_EINVAL, "mpc.baseMVA must be positive and finite");
                ps->base_mva = v;
                ps->have_base = 1;
            } else if (nn == 7 && memcmp(name, "version", 7) == 0 && v != 2) {
                return rd_fail(r, SK_POWER_EINVAL, "unsupported case format version %g (need 2)", v);
            }
        }
        if ((rc = end_statement(r)))
            return rc;
    }
}

static int cmp_num(const void *a, const void *b, void *ctx)
{
    const int64_t *num = ctx;
    int64_t x = num[*(const size_t *)a], y = num[*(const size_t *)b];
    return (x > y) - (x < y);
}

long sk_power_case_bus_index(const sk_power_case *c, int64_t num)
{
    size_t lo = 0, hi = c->nbus;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->sorted_num[mid] < num) lo = mid + 1;
        else hi = mid;
    }
    if (lo < c->nbus && c->sorted_num[lo] == num)
        return (long)c->sorted_row[lo];
    return -1;
}

void sk_power_case_free(sk_power_case *c)
{
    if (!c)
        return;
    free(c->filename);
    free(c->bus_i); free(c->bus_type); free(c->pd); free(c->qd); free(c->gs); free(c->bs);
    free(c->area); free(c->zone); free(c->vm); free(c->va); free(c->base_kv);
    free(c->vmax); free(c->vmin); free(c->bus_line);
    free(c->gen_bus); free(c->gen_idx); free(c->pg); free(c->qg); free(c->qmax); free(c->qmin);
    free(c->vg); free(c->mbase); free(c->pmax); free(c->pmin); free(c->gen_status); free(c->gen_line);
    free(c->f_bus); free(c->t_bus); free(c->f_idx); free(c->t_idx); free(c->br_r); free(c->br_x);
    free(c->br_b); free(c->rate_a); free(c->rate_b); free(c->rate_c); free(c->tap); free(c->shift);
    free(c->br_status); free(c->angmin); free(c->angmax); free(c->br_line);
    free(c->gencost);
    char **cells[3] = {c->bus_name, c->genfuel, c->gentype};
    size_t ns[3] = {c->nbus, c->ngen, c->ngen};
    for (int k = 0; k < 3; k++) {
        if (cells[k])
            for (size_t i = 0; i < ns[k]; i++)
                free(cells[k][i]);
        free(cells[k]);
    }
    free(c->sorted_num);
    free(c->sorted_row);
    free(c);
}

/* An integer-valued double in [1, 2^53]. */
static int as_busnum(double v, int64_t *out)
{
    if (!(v >= 1 && v <= 9007199254740992.0) || v != floor(v))
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int as_int(double v, int *out)
{
    if (!(v >= -2147483647.0 && v <= 2147483647.0) || v != floor(v))
        return -1;
    *out = (int)v;
    return 0;
}

#define ALLOC(p, n) ((p) = calloc((n) ? (n) : 1, sizeof *(p)))

static int build_case(rd *r, parsed *ps, sk_power_case *c)
{
    if (!ps->have_base)
        return pw_fail(r->err, SK_POWER_EINVAL, "%s:%d: missing mpc.baseMVA", r->fname, r->line);
    if (!ps->have[F_BUS] || ps->m[F_BUS].rows == 0)
        return pw_fail(r->err, SK_POWER_EINVAL, "%s:%d: missing or empty mpc.bus", r->fname, r->line);
    if (!ps->have[F_GEN])
        return pw_fail(r->err, SK_POWER_EINVAL, "%s:%d: missing mpc.gen", r->fname, r->line);
    if (!ps->have[F_BRANCH])
        return pw_fail(r->err, SK_POWER_EINVAL, "%s:%d: missing mpc.branch", r->fname, r->line);
    mat *mb = &ps->m[F_BUS], *mg = &ps->m[F_GEN], *ml = &ps->m[F_BRANCH];
    if (mb->cols < 13)
        return pw_fail(r->err, SK_POWER_EINVAL, "%s:%d: mpc.bus has %zu columns, need 13",
                       r->fname, mb->line, mb->cols);
    if (mg->rows && mg->cols < 10)
        return pw_fail(r->err, SK_POWER_EINVAL, "%s:%d: mpc.gen has %zu columns, need at least 10",
                       r->fname, mg->line, mg->cols);
    if (ml->rows && ml->cols < 11)
        return pw_fail(r->err, SK_POWER_EINVAL, "%s:%d: mpc.branch has %zu columns, need at least 11",
                       r->fname, ml->line, ml->cols);
    c->base_mva = ps->base_mva;
    size_t nb = c->nbus = mb->rows, ng = c->ngen = mg->rows, nl = c->nbranch = ml->rows;

    if (!ALLOC(c->bus_i, nb) || !ALLOC(c->bus_type, nb) || !ALLOC(c->pd, nb) || !ALLOC(c->qd, nb) ||
        !ALLOC(c->gs, nb) || !ALLOC(c->bs, nb) || !ALLOC(c->area, nb) || !ALLOC(c->zone, nb) ||
        !ALLOC(c->vm, nb) || !ALLOC(c->va, nb) || !ALLOC(c->base_kv, nb) || !ALLOC(c->vmax, nb) ||
        !ALLOC(c->vmin, nb) || !ALLOC(c->bus_line, nb) || !ALLOC(c->sorted_num, nb) ||
        !ALLOC(c->sorted_row, nb) ||
        !ALLOC(c->gen_bus, ng) || !ALLOC(c->gen_idx, ng) || !ALLOC(c->pg, ng) || !ALLOC(c->qg, ng) ||
        !ALLOC(c->qmax, ng) || !ALLOC(c->qmin, ng) || !ALLOC(c->vg, ng) || !ALLOC(c->mbase, ng) ||
        !ALLOC(c->pmax, ng) || !ALLOC(c->pmin, ng) || !ALLOC(c->gen_status, ng) || !ALLOC(c->gen_line, ng) ||
        !ALLOC(c->f_bus, nl) || !ALLOC(c->t_bus, nl) || !ALLOC(c->f_idx, nl) || !ALLOC(c->t_idx, nl) ||
        !ALLOC(c->br_r, nl) || !ALLOC(c->br_x, nl) || !ALLOC(c->br_b, nl) || !ALLOC(c->rate_a, nl) ||
        !ALLOC(c->rate_b, nl) || !ALLOC(c->rate_c, nl) || !ALLOC(c->tap, nl) || !ALLOC(c->shift, nl) ||
        !ALLOC(c->br_status, nl) || !ALLOC(c->angmin, nl) || !ALLOC(c->angmax, nl) || !ALLOC(c->br_line, nl))
        return pw_fail(r->err, SK_POWER_ENOMEM, "out of memory reading %s", r->fname);

    for (size_t i = 0; i < nb; i++) {
        const double *row = mb->v + i * mb->cols;
        int line = c->bus_line[i] = mb->row_line[i];
        if (as_busnum(row[0], &c->bus_i[i]))
            return pw_fail(r->err, SK_POWER_EINVAL, "%s:%d: bus number %g is not a positive integer",
                           r->fname, line, row[0]);
        if (as_int(row[1], &c->bus_type[i]) || c->bus_type[i] < 1 || c->bus_type[i] > 4)
            return pw_fail(r->err, SK_POWER_EINVAL, "%s:%d: bus %lld: type %g is not 1, 2, 3 or 4",
                           r->fname, line, (long long)c->bus_i[i], row[1]);
        for (int k = 2; k < 13; k++)
            if (!isfinite(row[k]))
                return pw_fail(r->err, SK_POWER_EINVAL, "%s:%d: bus %lld: column %d is not finite",
                               r->fname, line, (long long)c->bus_i[i], k + 1);
        if (as_int(row[6], &c->area[i]) || as_int(row[10], &c->zone[i]))
            return pw_fail(r->err, SK_POWER_EINVAL, "%s:%d: bus %lld: area/zone must be integers",
                           r->fname, line, (long long)c->bus_i[i]);
        c->pd[i] = row[2]; c->qd[i] = row[3]; c->gs[i] = row[4]; c->bs[i] = row[5];
        c->vm[i] = row[7]; c->va[i] = row[8]; c->base_kv[i] = row[9];
        c->vmax[i] = row[11]; c->vmin[i] = row[12];
        c->sorted_row[i] = i;
    }
    qsort_r(c->sorted_row, nb, sizeof *c->sorted_row, cmp_num, c->bus_i);
    for (size_t i = 0; i < nb; i++) {
        c->sorted_num[i] = c->bus_i[c->sorted_row[i]];
        if (i && c->sorted_num[i] == c->sorted_num[i - 1])
            return pw_fail(r->err, SK_POWER_EINVAL, "%s:%d: bus number %lld appears twice (also line %d)",
                           r->fname, c->bus_line[c->sorted_row[i]], (long long)c->sorted_num[i],
                           c->bus_line[c->sorted_row[i - 1]]);
    }

    for (size_t g = 0; g < ng; g++) {
        const double *row = mg->v + g * mg->cols;
        int line = c->gen_line[g] = mg->row_line[g];
        long bi;
        if (as_busnum(row[0], &c->gen_bus[g]) || (bi = sk_power_case_bus_index(c, c->gen_bus[g])) < 0)
            return pw_fail(r->err, SK_POWER_EINVAL, "%s:%d: generator %zu: bus %g does not exist",
                           r->fname, line, g + 1, row[0]);
        c->gen_idx[g] = (size_t)bi;
        static const int finite_cols[] = {1, 2, 5, 6, 7};
        for (size_t k = 0; k < sizeof finite_cols / sizeof *finite_cols; k++)
            if (!isfinite(row[finite_cols[k]]))
                return pw_fail(r->err, SK_POWER_EINVAL, "%s:%d: generator %zu: column %d is not finite",
                               r->fname, line, g + 1, finite_cols[k] + 1);
        for (int k = 3; k < 10; k++)
            if (isnan(row[k]))
                return pw_fail(r->err, SK_POWER_EINVAL, "%s:%d: generator %zu: column %d is NaN",
                               r->fname, line, g + 1, k + 1);
        c->pg[g] = row[1]; c->qg[g] = row[2]; c->qmax[g] = row[3]; c->qmin[g] = row[4];
        c->vg[g] = row[5]; c->mbase[g] = row[6];
        c->gen_status[g] = row[7] > 0;
        c->pmax[g] = row[8]; c->pmin[g] = row[9];
    }

    for (size_t l = 0; l < nl; l++) {
        const double *row = ml->v + l * ml->cols;
        int line = c->br_line[l] = ml->row_line[l];
        long fi, ti;
        if (as_busnum(row[0], &c->f_bus[l]) || (fi = sk_power_case_bus_index(c, c->f_bus[l])) < 0)
            return pw_fail(r->err, SK_POWER_EINVAL, "%s:%d: branch %zu: from bus %g does not exist",
                           r->fname, line, l + 1, row[0]);
        if (as_busnum(row[1], &c->t_bus[l]) || (ti = sk_power_case_bus_index(c, c->t_bus[l])) < 0)
            return pw_fail(r->err, SK_POWER_EINVAL, "%s:%d: branch %zu: to bus %g does not exist",
                           r->fname, line, l + 1, row[1]);
        c->f_idx[l] = (size_t)fi;
        c->t_idx[l] = (size_t)ti;
        static const int finite_cols[] = {2, 3, 4, 8, 9, 10};
        for (size_t k = 0; k < sizeof finite_cols / sizeof *finite_cols; k++)
            if (!isfinite(row[finite_cols[k]]))
                return pw_fail(r->err, SK_POWER_EINVAL, "%s:%d: branch %zu: column %d is not finite",
                               r->fname, line, l + 1, finite_cols[k] + 1);
        for (size_t k = 5; k < ml->cols; k++)
            if (isnan(row[k]))
                return pw_fail(r->err, SK_POWER_EINVAL, "%s:%d: branch %zu: column %zu is NaN",
                               r->fname, line, l + 1, k + 1);
        c->br_r[l] = row[2]; c->br_x[l] = row[3]; c->br_b[l] = row[4];
        c->rate_a[l] = row[5]; c->rate_b[l] = row[6]; c->rate_c[l] = row[7];
        c->tap[l] = row[8]; c->shift[l] = row[9];
        c->br_status[l] = row[10] > 0;
        c->angmin[l] = ml->cols > 11 ? row[11] : -360;
        c->angmax[l] = ml->cols > 12 ? row[12] : 360;
    }

    if (ps->have[F_GENCOST] && ps->m[F_GENCOST].rows) {
        mat *m = &ps->m[F_GENCOST];
        c->ngencost = m->rows;
        c->gencost_cols = m->cols;
        c->gencost = m->v;
        m->v = NULL;
    }
    static const int cellf[3] = {F_BUSNAME, F_GENFUEL, F_GENTYPE};
    char ***dst[3] = {&c->bus_name, &c->genfuel, &c->gentype};
    for (int k = 0; k < 3; k++) {
        mat *m = &ps->m[cellf[k]];
        if (!ps->have[cellf[k]])
            continue;
        size_t want = k == 0 ? nb : ng;
        if (m->rows != want || (m->rows && m->cols != 1))
            return pw_fail(r->err, SK_POWER_EINVAL, "%s:%d: %s has %zu x %zu entries, expected %zu x 1",
                           r->fname, m->line, k == 0 ? "mpc.bus_name" : k == 1 ? "mpc.genfuel" : "mpc.gentype",
                           m->rows, m->cols, want);
        if (want == 0)
            continue;
        *dst[k] = m->s;
        m->s = NULL;
        m->n = 0;
    }
    return 0;
}

int sk_power_case_parse(const char *buf, size_t len, const char *filename,
                        sk_power_case **out, sk_power_error *err)
{
    *out = NULL;
    if (!filename)
        filename = "case";
    if (!buf && len)
        return pw_fail(err, SK_POWER_EINVAL, "%s: no data", filename);
    rd r = {buf, buf + len, 1, filename, (locale_t)0, err};
    r.loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (!r.loc)
        return pw_fail(err, SK_POWER_ENOMEM, "%s: cannot create the C locale", filename);
    parsed ps;
    memset(&ps, 0, sizeof ps);
    int rc = len ? parse_file(&r, &ps) : 0;
    sk_power_case *c = NULL;
    if (rc == 0) {
        c = calloc(1, sizeof *c);
        if (!c || !(c->filename = strdup(filename)))
            rc = pw_fail(err, SK_POWER_ENOMEM, "out of memory");
        else
            rc = build_case(&r, &ps, c);
    }
    for (int k = 0; k < F_N; k++)
        mat_free(&ps.m[k]);
    freelocale(r.loc);
    if (rc) {
        sk_power_case_free(c);
        return rc;
    }
    *out = c;
    return 0;
}
