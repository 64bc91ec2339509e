/* sk_lua_areas.c - the element -> area sidecar (a scenario names it, the
 * indicator job receives it) read from its CSV form into an sk_result with
 * tables "areas" and "area_map" (layout in sk_lua.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_csv.h"
#include "sk_lua.h"
#include "sk_num.h"

#define SK_AREAS_MAX_FILE (256u << 20)

typedef struct strvec {
    size_t n, cap;
    char **v;
} strvec;

static int sv_push(strvec *s, const char *x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return SK_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    if (!(s->v[s->n] = strdup(x)))
        return SK_ENOMEM;
    s->n++;
    return 0;
}

static void sv_free(strvec *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

sk_result *sk_lua_areas_parse(const char *text, size_t len, const char *name, sk_error *err)
{
    strvec codes = {0}, names = {0}, kinds = {0}, elems = {0}, areas = {0};
    double *pop = NULL;
    size_t popcap = 0;
    sk_result *r = NULL;
    sk_csv c;
    sk_csv_init(&c, text, len, name);
    int rc = 0, st;
    while ((st = sk_csv_next(&c, err)) > 0) {
        if (c.nfields == 0 || (c.nfields == 1 && c.fields[0][0] == 0) || c.fields[0][0] == '#')
            continue;
        const char *tag = c.fields[0];
        if (strcmp(tag, "area") == 0) {
            double p;
            if (c.nfields != 4 || sk_parse_f64(c.fields[3], &p) < 0 || p < 0) {
                rc = sk_fail(err, SK_EINVAL, "%s:%zu: expected area,<code>,<name>,<population>",
                             name, c.line);
                goto out;
            }
            for (size_t i = 0; i < codes.n; i++)
                if (strcmp(codes.v[i], c.fields[1]) == 0) {
                    rc = sk_fail(err, SK_EINVAL, "%s:%zu: area '%s' defined twice", name, c.line,
                                 c.fields[1]);
                    goto out;
                }
            if (codes.n == popcap) {
                popcap = popcap ? popcap * 2 : 16;
                double *np = realloc(pop, popcap * sizeof *np);
                if (!np) {
                    rc = sk_fail(err, SK_ENOMEM, "%s: out of memory", name);
                    goto out;
                }
                pop = np;
            }
            pop[codes.n] = p;
            if (sv_push(&codes, c.fields[1]) || sv_push(&names, c.fields[2])) {
                rc = sk_fail(err, SK_ENOMEM, "%s: out of memory", name);
                goto out;
            }
        } else if (strcmp(tag, "map") == 0) {
            if (c.nfields != 4 || !c.fields[1][0] || !c.fields[2][0]) {
                rc = sk_fail(err, SK_EINVAL, "%s:%zu: expected map,<kind>,<element id>,<area code>",
                             name, c.line);
                goto out;
            }
            if (sv_push(&kinds, c.fields[1]) || sv_push(&elems, c.fields[2]) ||
                sv_push(&areas, c.fields[3])) {
                rc = sk_fail(err, SK_ENOMEM, "%s: out of memory", name);
                goto out;
            }
        } else {
            rc = sk_fail(err, SK_EINVAL, "%s:%zu: unknown record '%s' (expected area or map)",
                         name, c.line, tag);
            goto out;
        }
    }
    if (st < 0) {
        rc = st;
        goto out;
    }
    for (size_t i = 0; i < areas.n; i++) {
        int found = 0;
        for (size_t k = 0; k < codes.n && !found; k++)
            found = strcmp(codes.v[k], areas.v[i]) == 0;
        if (!found) {
            rc = sk_fail(err, SK_EINVAL, "%s: map row %zu names area '%s', which has no area record",
                         name, i + 1, areas.v[i]);
            goto out;
        }
    }
    r = sk_result_new("areas", "1");
    sk_table *ta = r ? sk_result_add_table(r, "areas", "area", "area", codes.n) : NULL;
    double *pv = ta ? sk_table_add_f64(ta, "population", "") : NULL;
    if (!pv || sk_table_set_ids_str(ta, (const char *const *)codes.v) ||
        sk_table_add_str(ta, "name", false, (const char *const *)names.v)) {
        rc = sk_fail(err, SK_ENOMEM, "%s: out of memory", name);
        goto out;
    }
    for (size_t i = 0; i < codes.n; i++)
        pv[i] = pop[i];
    sk_table *tm = sk_result_add_table(r, "area_map", "map", "row", kinds.n);
    if (!tm || (tm->ids_in_csv = false) ||
        sk_table_add_str(tm, "kind", false, (const char *const *)kinds.v) ||
        sk_table_add_str(tm, "element", false, (const char *const *)elems.v) ||
        sk_table_add_str(tm, "area", false, (const char *const *)areas.v)) {
        rc = sk_fail(err, SK_ENOMEM, "%s: out of memory", name);
        goto out;
    }
    {
        int64_t *rows = malloc((kinds.n ? kinds.n : 1) * sizeof *rows);
        if (!rows) {
            rc = sk_fail(err, SK_ENOMEM, "%s: out of memory", name);
            goto out;
        }
        for (size_t i = 0; i < kinds.n; i++)
            rows[i] = (int64_t)i + 1;
        rc = sk_table_set_ids_int(tm, rows);
        free(rows);
        if (rc)
            sk_fail(err, SK_ENOMEM, "%s: out of memory", name);
    }
out:
    sk_csv_free(&c);
    sv_free(&codes);
    sv_free(&names);
    sv_free(&kinds);
    sv_free(&elems);
    sv_free(&areas);
    free(pop);
    if (rc < 0) {
        sk_result_free(r);
        return NULL;
    }
    return r;
}

sk_result *sk_lua_areas_read(const char *path, sk_error *err)
{
    size_t len;
    char *s = sk_read_file(path, &len, SK_AREAS_MAX_FILE, err);
    if (!s)
        return NULL;
    sk_result *r = sk_lua_areas_parse(s, len, path, err);
    free(s);
    return r;
}
