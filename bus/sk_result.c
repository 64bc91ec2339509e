/* sk_result.c - building and inspecting result tables (see sk_result.h).
 * The msgpack codec is in sk_result_mp.c, the CSV directory in
 * sk_result_dir.c. */
#include "sk_result.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static char *dupstr(const char *s)
{
    return strdup(s != NULL ? s : "");
}

sk_result *sk_result_new(const char *kernel, const char *kernel_version)
{
    sk_result *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->schema = SK_RESULT_SCHEMA;
    r->kernel = dupstr(kernel);
    r->kernel_version = dupstr(kernel_version);
    r->input_hash = dupstr("");
    if (r->kernel == NULL || r->kernel_version == NULL || r->input_hash == NULL) {
        sk_result_free(r);
        return NULL;
    }
    return r;
}

static void column_clear(sk_column *c)
{
    if (c->dtype == SK_DT_STR && c->data != NULL) {
        char **v = c->data;
        for (size_t i = 0; i < c->len; i++)
            free(v[i]);
    }
    free(c->data);
    free(c->name);
    free(c->unit);
}

static void table_clear(sk_table *t)
{
    for (size_t i = 0; i < t->ncols; i++)
        column_clear(&t->cols[i]);
    free(t->cols);
    if (t->ids_str != NULL)
        for (size_t i = 0; i < t->nelem; i++)
            free(t->ids_str[i]);
    free(t->ids_str);
    free(t->ids_int);
    free(t->period_s);
    free(t->name);
    free(t->kind);
    free(t->id_name);
}

static void meta_clear(sk_meta *m)
{
    free(m->key);
    free(m->s);
    free(m->dv);
    free(m->iv);
    memset(m, 0, sizeof *m);
}

void sk_result_free(sk_result *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->ntables; i++)
        table_clear(&r->tables[i]);
    free(r->tables);
    for (size_t i = 0; i < r->nmeta; i++)
        meta_clear(&r->meta[i]);
    free(r->meta);
    free(r->kernel);
    free(r->kernel_version);
    free(r->input_hash);
    free(r);
}

int sk_result_set_input_hash(sk_result *r, const char *hash)
{
    char *h = dupstr(hash);
    if (h == NULL)
        return SK_ENOMEM;
    free(r->input_hash);
    r->input_hash = h;
    return 0;
}

sk_table *sk_result_table(const sk_result *r, const char *name)
{
    for (size_t i = 0; i < r->ntables; i++)
        if (strcmp(r->tables[i].name, name) == 0)
            return &r->tables[i];
    return NULL;
}

sk_table *sk_result_add_table(sk_result *r, const char *name, const char *kind,
                              const char *id_name, size_t nelem)
{
    if (name == NULL || *name == '\0' || sk_result_table(r, name) != NULL)
        return NULL;
    if (r->ntables == r->captables) {
        size_t cap = r->captables ? r->captables * 2 : 4;
        sk_table *t = realloc(r->tables, cap * sizeof *t);
        if (t == NULL)
            return NULL;
        r->tables = t;
        r->captables = cap;
    }
    sk_table *t = &r->tables[r->ntables];
    memset(t, 0, sizeof *t);
    t->name = dupstr(name);
    t->kind = dupstr(kind);
    t->id_name = dupstr(id_name != NULL ? id_name : "id");
    t->ids_in_csv = true;
    t->nelem = nelem;
    if (t->name == NULL || t->kind == NULL || t->id_name == NULL) {
        table_clear(t);
        return NULL;
    }
    r->ntables++;
    return t;
}

int sk_table_set_ids_str(sk_table *t, const char *const *ids)
{
    char **v = calloc(t->nelem ? t->nelem : 1, sizeof *v);
    if (v == NULL)
        return SK_ENOMEM;
    for (size_t i = 0; i < t->nelem; i++) {
        v[i] = dupstr(ids[i]);
        if (v[i] == NULL) {
            for (size_t j = 0; j < i; j++)
                free(v[j]);
            free(v);
            return SK_ENOMEM;
        }
    }
    if (t->ids_str != NULL)
        for (size_t i = 0; i < t->nelem; i++)
            free(t->ids_str[i]);
    free(t->ids_str);
    free(t->ids_int);
    t->ids_int = NULL;
    t->ids_str = v;
    return 0;
}

int sk_table_set_ids_int(sk_table *t, const int64_t *ids)
{
    int64_t *v = malloc((t->nelem ? t->nelem : 1) * sizeof *v);
    if (v == NULL)
        return SK_ENOMEM;
    if (t->nelem)
        memcpy(v, ids, t->nelem * sizeof *v);
    if (t->ids_str != NULL)
        for (size_t i = 0; i < t->nelem; i++)
            free(t->ids_str[i]);
    free(t->ids_str);
    t->ids_str = NULL;
    free(t->ids_int);
    t->ids_int = v;
    return 0;
}

int sk_table_set_periods(sk_table *t, size_t nperiods, const int64_t *period_s)
{
    /* Changing the axis after per-period columns exist would break them. */
    for (size_t i = 0; i < t->ncols; i++)
        if (!t->cols[i].is_static)
            return SK_EINVAL;
    int64_t *v = NULL;
    if (nperiods > 0) {
        v = malloc(nperiods * sizeof *v);
        if (v == NULL)
            return SK_ENOMEM;
        memcpy(v, period_s, nperiods * sizeof *v);
    }
    free(t->period_s);
    t->period_s = v;
    t->nperiods = nperiods;
    return 0;
}

sk_column *sk_table_column(const sk_table *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return &t->cols[i];
    return NULL;
}

size_t sk_table_rows(const sk_table *t)
{
    return t->nelem * (t->nperiods > 0 ? t->nperiods : 1);
}

static size_t dtype_size(sk_dtype dt)
{
    switch (dt) {
    case SK_DT_F64: return sizeof(double);
    case SK_DT_I32: return sizeof(int32_t);
    case SK_DT_I64: return sizeof(int64_t);
    case SK_DT_STR: return sizeof(char *);
    }
    return 0;
}

sk_column *sk_table_add_column(sk_table *t, const char *name, const char *unit,
                               sk_dtype dtype, bool is_static)
{
    if (name == NULL || *name == '\0' || sk_table_column(t, name) != NULL || dtype_size(dtype) == 0)
        return NULL;
    if (t->ncols == t->capcols) {
        size_t cap = t->capcols ? t->capcols * 2 : 8;
        sk_column *c = realloc(t->cols, cap * sizeof *c);
        if (c == NULL)
            return NULL;
        t->cols = c;
        t->capcols = cap;
    }
    size_t len = is_static ? t->nelem : sk_table_rows(t);
    sk_column *c = &t->cols[t->ncols];
    memset(c, 0, sizeof *c);
    c->name = dupstr(name);
    c->unit = dupstr(unit);
    c->dtype = dtype;
    c->is_static = is_static;
    c->len = len;
    c->data = calloc(len ? len : 1, dtype_size(dtype));
    if (c->name == NULL || c->unit == NULL || c->data == NULL) {
        free(c->name);
        free(c->unit);
        free(c->data);
        return NULL;
    }
    t->ncols++;
    return c;
}

double *sk_table_add_f64(sk_table *t, const char *name, const char *unit)
{
    sk_column *c = sk_table_add_column(t, name, unit, SK_DT_F64, false);
    return c ? c->data : NULL;
}

int32_t *sk_table_add_i32(sk_table *t, const char *name, const char *unit)
{
    sk_column *c = sk_table_add_column(t, name, unit, SK_DT_I32, false);
    return c ? c->data : NULL;
}

int64_t *sk_table_add_i64(sk_table *t, const char *name, const char *unit)
{
    sk_column *c = sk_table_add_column(t, name, unit, SK_DT_I64, false);
    return c ? c->data : NULL;
}

double *sk_table_add_static_f64(sk_table *t, const char *name, const char *unit)
{
    sk_column *c = sk_table_add_column(t, name, unit, SK_DT_F64, true);
    return c ? c->data : NULL;
}

int32_t *sk_table_add_static_i32(sk_table *t, const char *name, const char *unit)
{
    sk_column *c = sk_table_add_column(t, name, unit, SK_DT_I32, true);
    return c ? c->data : NULL;
}

int sk_table_add_str(sk_table *t, const char *name, bool is_static, const char *const *vals)
{
    sk_column *c = sk_table_add_column(t, name, "", SK_DT_STR, is_static);
    if (c == NULL)
        return SK_ENOMEM;
    char **v = c->data;
    for (size_t i = 0; i < c->len; i++) {
        v[i] = dupstr(vals != NULL ? vals[i] : "");
        if (v[i] == NULL)
            return SK_ENOMEM; /* the table owns what was copied so far */
    }
    return 0;
}

double sk_column_get_f64(const sk_column *c, size_t row)
{
    if (c->is_static && c->len > 0)
        row %= c->len;
    if (row >= c->len)
        return NAN;
    switch (c->dtype) {
    case SK_DT_F64: return ((const double *)c->data)[row];
    case SK_DT_I32: return ((const int32_t *)c->data)[row];
    case SK_DT_I64: return (double)((const int64_t *)c->data)[row];
    default: return NAN;
    }
}

/* ---- metadata ---- */

static sk_meta *meta_slot(sk_result *r, const char *key)
{
    for (size_t i = 0; i < r->nmeta; i++) {
        if (strcmp(r->meta[i].key, key) == 0) {
            char *k = r->meta[i].key;
            r->meta[i].key = NULL;
            meta_clear(&r->meta[i]);
            r->meta[i].key = k;
            return &r->meta[i];
        }
    }
    if (r->nmeta == r->capmeta) {
        size_t cap = r->capmeta ? r->capmeta * 2 : 16;
        sk_meta *m = realloc(r->meta, cap * sizeof *m);
        if (m == NULL)
            return NULL;
        r->meta = m;
        r->capmeta = cap;
    }
    sk_meta *m = &r->meta[r->nmeta];
    memset(m, 0, sizeof *m);
    m->key = dupstr(key);
    if (m->key == NULL)
        return NULL;
    r->nmeta++;
    return m;
}

int sk_result_meta_str(sk_result *r, const char *key, const char *val)
{
    char *s = dupstr(val);
    sk_meta *m = s ? meta_slot(r, key) : NULL;
    if (m == NULL) {
        free(s);
        return SK_ENOMEM;
    }
    m->type = SK_META_STR;
    m->s = s;
    return 0;
}

int sk_result_meta_int(sk_result *r, const char *key, int64_t val)
{
    sk_meta *m = meta_slot(r, key);
    if (m == NULL)
        return SK_ENOMEM;
    m->type = SK_META_INT;
    m->i = val;
    return 0;
}

int sk_result_meta_f64(sk_result *r, const char *key, double val)
{
    sk_meta *m = meta_slot(r, key);
    if (m == NULL)
        return SK_ENOMEM;
    m->type = SK_META_F64;
    m->d = val;
    return 0;
}

int sk_result_meta_bool(sk_result *r, const char *key, bool val)
{
    sk_meta *m = meta_slot(r, key);
    if (m == NULL)
        return SK_ENOMEM;
    m->type = SK_META_BOOL;
    m->i = val;
    return 0;
}

int sk_result_meta_f64v(sk_result *r, const char *key, const double *v, size_t n)
{
    double *copy = malloc((n ? n : 1) * sizeof *copy);
    sk_meta *m = copy ? meta_slot(r, key) : NULL;
    if (m == NULL) {
        free(copy);
        return SK_ENOMEM;
    }
    if (n)
        memcpy(copy, v, n * sizeof *copy);
    m->type = SK_META_F64V;
    m->dv = copy;
    m->n = n;
    return 0;
}

int sk_result_meta_i64v(sk_result *r, const char *key, const int64_t *v, size_t n)
{
    int64_t *copy = malloc((n ? n : 1) * sizeof *copy);
    sk_meta *m = copy ? meta_slot(r, key) : NULL;
    if (m == NULL) {
        free(copy);
        return SK_ENOMEM;
    }
    if (n)
        memcpy(copy, v, n * sizeof *copy);
    m->type = SK_META_I64V;
    m->iv = copy;
    m->n = n;
    return 0;
}

const sk_meta *sk_result_meta_find(const sk_result *r, const char *key)
{
    for (size_t i = 0; i < r->nmeta; i++)
        if (strcmp(r->meta[i].key, key) == 0)
            return &r->meta[i];
    return NULL;
}
