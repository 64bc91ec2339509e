/* sk_result_dir.c - a result as a CSV directory (docs/results.md).
 *
 * <table>.csv holds the data in the column order of the table, with
 * time_s and the id column first where they apply; tables.csv, columns.csv
 * and meta.csv hold what CSV cannot (kinds, dtypes, units, metadata), so the
 * reader rebuilds exactly what the writer was given.  summary.json is for
 * people and scripts and is not read back. */
#include "sk_result.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sk_buf.h"
#include "sk_csv.h"
#include "sk_num.h"

#define MAX_CSV_FILE ((size_t)4 << 30)

static const char *dtype_name(sk_dtype dt)
{
    switch (dt) {
    case SK_DT_F64: return "f64";
    case SK_DT_I32: return "i32";
    case SK_DT_I64: return "i64";
    case SK_DT_STR: return "str";
    }
    return "?";
}

static int dtype_from(const char *s, sk_dtype *dt)
{
    if (strcmp(s, "f64") == 0) *dt = SK_DT_F64;
    else if (strcmp(s, "i32") == 0) *dt = SK_DT_I32;
    else if (strcmp(s, "i64") == 0) *dt = SK_DT_I64;
    else if (strcmp(s, "str") == 0) *dt = SK_DT_STR;
    else return -1;
    return 0;
}

static void csv_f64(sk_buf *b, double v)
{
    char tmp[40];
    sk_fmt_f64(tmp, sizeof tmp, v);
    sk_buf_puts(b, tmp);
}

static void csv_cell(sk_buf *b, const sk_column *c, size_t row, size_t elem)
{
    size_t i = c->is_static ? elem : row;
    switch (c->dtype) {
    case SK_DT_F64: csv_f64(b, ((const double *)c->data)[i]); break;
    case SK_DT_I32: sk_buf_printf(b, "%d", ((const int32_t *)c->data)[i]); break;
    case SK_DT_I64: sk_buf_printf(b, "%lld", (long long)((const int64_t *)c->data)[i]); break;
    case SK_DT_STR: sk_csv_put_field(b, ((char *const *)c->data)[i]); break;
    }
}

static int write_buf(const char *dir, const char *name, sk_buf *b, sk_error *err)
{
    char path[PATH_MAX];
    if (b->oom)
        return sk_fail(err, SK_ENOMEM, "%s/%s: out of memory", dir, name);
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return sk_fail(err, SK_EINVAL, "%s/%s: path too long", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return sk_fail(err, SK_EIO, "%s: %s", path, strerror(errno));
    size_t n = b->len ? fwrite(b->data, 1, b->len, f) : 0;
    int bad = (n != b->len) | (fclose(f) != 0);
    if (bad)
        return sk_fail(err, SK_EIO, "%s: write failed", path);
    return 0;
}

static int write_table(const sk_table *t, const char *dir, sk_error *err)
{
    sk_buf b = SK_BUF_INIT;
    bool first = true;
    if (t->nperiods > 0) {
        sk_buf_puts(&b, "time_s");
        first = false;
    }
    if (t->ids_in_csv) {
        if (!first)
            sk_buf_puts(&b, ",");
        sk_csv_put_field(&b, t->id_name);
        first = false;
    }
    for (size_t c = 0; c < t->ncols; c++) {
        if (!first)
            sk_buf_puts(&b, ",");
        sk_csv_put_field(&b, t->cols[c].name);
        first = false;
    }
    sk_buf_puts(&b, "\n");
    size_t np = t->nperiods > 0 ? t->nperiods : 1;
    for (size_t p = 0; p < np; p++) {
        for (size_t e = 0; e < t->nelem; e++) {
            size_t row = p * t->nelem + e;
            first = true;
            if (t->nperiods > 0) {
                sk_buf_printf(&b, "%lld", (long long)t->period_s[p]);
                first = false;
            }
            if (t->ids_in_csv) {
                if (!first)
                    sk_buf_puts(&b, ",");
                if (t->ids_str != NULL)
                    sk_csv_put_field(&b, t->ids_str[e]);
                else if (t->ids_int != NULL)
                    sk_buf_printf(&b, "%lld", (long long)t->ids_int[e]);
                else
                    sk_buf_printf(&b, "%zu", e + 1);
                first = false;
            }
            for (size_t c = 0; c < t->ncols; c++) {
                if (!first)
                    sk_buf_puts(&b, ",");
                csv_cell(&b, &t->cols[c], row, e);
                first = false;
            }
            sk_buf_puts(&b, "\n");
        }
    }
    char name[160];
    snprintf(name, sizeof name, "%s.csv", t->name);
    int rc = write_buf(dir, name, &b, err);
    sk_buf_free(&b);
    return rc;
}

static void json_meta_value(sk_buf *b, const sk_meta *m)
{
    switch (m->type) {
    case SK_META_STR: sk_json_str(b, m->s); break;
    case SK_META_INT: sk_json_i64(b, m->i); break;
    case SK_META_F64: sk_json_f64(b, m->d); break;
    case SK_META_BOOL: sk_buf_puts(b, m->i ? "true" : "false"); break;
    case SK_META_F64V:
    case SK_META_I64V:
        sk_buf_puts(b, "[");
        for (size_t i = 0; i < m->n; i++) {
            if (i)
                sk_buf_puts(b, ",");
            if (m->type == SK_META_F64V)
                sk_json_f64(b, m->dv[i]);
            else
                sk_json_i64(b, m->iv[i]);
        }
        sk_buf_puts(b, "]");
        break;
    }
}

char *sk_result_summary_json(const sk_result *r)
{
    sk_buf b = SK_BUF_INIT;
    sk_buf_puts(&b, "{");
    sk_json_key(&b, "schema", true);
    sk_json_i64(&b, r->schema);
    sk_json_key(&b, "kernel", false);
    sk_json_str(&b, r->kernel);
    sk_json_key(&b, "kernel_version", false);
    sk_json_str(&b, r->kernel_version);
    sk_json_key(&b, "input_hash", false);
    sk_json_str(&b, r->input_hash);
    sk_json_key(&b, "converged", false);
    sk_buf_puts(&b, r->converged ? "true" : "false");
    sk_json_key(&b, "iterations", false);
    sk_json_i64(&b, r->iterations);
    sk_json_key(&b, "tolerance", false);
    sk_json_f64(&b, r->tolerance);
    for (size_t i = 0; i < r->nmeta; i++) {
        /* A meta key that shadows a top-level field keeps its value under
         * "meta.<key>", so the JSON never has duplicate keys. */
        static const char *const reserved[] = {"schema", "kernel", "kernel_version", "input_hash", "converged",
                                               "iterations", "tolerance", "tables", "data", "data_omitted", NULL};
        bool clash = false;
        for (const char *const *k = reserved; *k; k++)
            clash |= strcmp(*k, r->meta[i].key) == 0;
        if (clash) {
            char key[160];
            snprintf(key, sizeof key, "meta.%s", r->meta[i].key);
            sk_json_key(&b, key, false);
        } else {
            sk_json_key(&b, r->meta[i].key, false);
        }
        json_meta_value(&b, &r->meta[i]);
    }
    sk_json_key(&b, "tables", false);
    sk_buf_puts(&b, "{");
    for (size_t i = 0; i < r->ntables; i++) {
        const sk_table *t = &r->tables[i];
        sk_json_key(&b, t->name, i == 0);
        sk_buf_puts(&b, "{");
        sk_json_key(&b, "kind", true);
        sk_json_str(&b, t->kind);
        sk_json_key(&b, "elements", false);
        sk_json_i64(&b, (int64_t)t->nelem);
        sk_json_key(&b, "periods", false);
        sk_json_i64(&b, (int64_t)t->nperiods);
        sk_buf_puts(&b, "}");
    }
    sk_buf_puts(&b, "}}\n");
    if (b.oom) {
        sk_buf_free(&b);
        return NULL;
    }
    return sk_buf_steal(&b, NULL);
}

int sk_result_write_dir(const sk_result *r, const char *dir, sk_error *err)
{
    if (mkdir(dir, 0777) < 0 && errno != EEXIST)
        return sk_fail(err, SK_EIO, "%s: cannot create directory: %s", dir, strerror(errno));
    sk_buf b = SK_BUF_INIT;
    int rc;
    for (size_t i = 0; i < r->ntables; i++)
        if ((rc = write_table(&r->tables[i], dir, err)) < 0)
            return rc;

    sk_buf_puts(&b, "table,kind,id_name,ids_in_csv,ids_dtype,elements,periods\n");
    for (size_t i = 0; i < r->ntables; i++) {
        const sk_table *t = &r->tables[i];
        sk_csv_put_field(&b, t->name);
        sk_buf_puts(&b, ",");
        sk_csv_put_field(&b, t->kind);
        sk_buf_puts(&b, ",");
        sk_csv_put_field(&b, t->id_name);
        sk_buf_printf(&b, ",%d,%s,%zu,%zu\n", t->ids_in_csv ? 1 : 0,
                      t->ids_str != NULL ? "str" : "i64", t->nelem, t->nperiods);
    }
    if ((rc = write_buf(dir, "tables.csv", &b, err)) < 0)
        goto out;
    sk_buf_reset(&b);
    sk_buf_puts(&b, "table,column,dtype,unit,static\n");
    for (size_t i = 0; i < r->ntables; i++) {
        const sk_table *t = &r->tables[i];
        for (size_t c = 0; c < t->ncols; c++) {
            sk_csv_put_field(&b, t->name);
            sk_buf_puts(&b, ",");
            sk_csv_put_field(&b, t->cols[c].name);
            sk_buf_printf(&b, ",%s,", dtype_name(t->cols[c].dtype));
            sk_csv_put_field(&b, t->cols[c].unit);
            sk_buf_printf(&b, ",%d\n", t->cols[c].is_static ? 1 : 0);
        }
    }
    if ((rc = write_buf(dir, "columns.csv", &b, err)) < 0)
        goto out;
    sk_buf_reset(&b);
    sk_buf_puts(&b, "key,type,value\n");
    sk_buf_puts(&b, "kernel,str,");
    sk_csv_put_field(&b, r->kernel);
    sk_buf_puts(&b, "\nkernel_version,str,");
    sk_csv_put_field(&b, r->kernel_version);
    sk_buf_puts(&b, "\ninput_hash,str,");
    sk_csv_put_field(&b, r->input_hash);
    sk_buf_printf(&b, "\nconverged,bool,%d\niterations,int,%lld\ntolerance,f64,", r->converged ? 1 : 0,
                  (long long)r->iterations);
    csv_f64(&b, r->tolerance);
    sk_buf_puts(&b, "\n");
    for (size_t i = 0; i < r->nmeta; i++) {
        const sk_meta *m = &r->meta[i];
        sk_buf_puts(&b, "meta.");
        sk_csv_put_field(&b, m->key);
        switch (m->type) {
        case SK_META_STR: sk_buf_puts(&b, ",str,"); sk_csv_put_field(&b, m->s); break;
        case SK_META_INT: sk_buf_printf(&b, ",int,%lld", (long long)m->i); break;
        case SK_META_BOOL: sk_buf_printf(&b, ",bool,%d", m->i ? 1 : 0); break;
        case SK_META_F64: sk_buf_puts(&b, ",f64,"); csv_f64(&b, m->d); break;
        case SK_META_F64V:
            sk_buf_puts(&b, ",f64v,");
            for (size_t k = 0; k < m->n; k++) {
                if (k)
                    sk_buf_puts(&b, " ");
                csv_f64(&b, m->dv[k]);
            }
            break;
        case SK_META_I64V:
            sk_buf_puts(&b, ",i64v,");
            for (size_t k = 0; k < m->n; k++)
                sk_buf_printf(&b, k ? " %lld" : "%lld", (long long)m->iv[k]);
            break;
        }
        sk_buf_puts(&b, "\n");
    }
    if ((rc = write_buf(dir, "meta.csv", &b, err)) < 0)
        goto out;
    sk_buf_free(&b);
    char *json = sk_result_summary_json(r);
    if (json == NULL)
        return sk_fail(err, SK_ENOMEM, "out of memory");
    b.data = json;
    b.len = strlen(json);
    rc = write_buf(dir, "summary.json", &b, err);
out:
    sk_buf_free(&b);
    return rc;
}

/* ---- reading ---- */

typedef struct dir_reader {
    const char *dir;
    char path[PATH_MAX];
    char *text;
    size_t len;
    sk_csv csv;
} dir_reader;

static int open_csv(dir_reader *d, const char *name, sk_error *err)
{
    free(d->text);
    sk_csv_free(&d->csv);
    d->text = NULL;
    if (snprintf(d->path, sizeof d->path, "%s/%s", d->dir, name) >= (int)sizeof d->path)
        return sk_fail(err, SK_EINVAL, "%s/%s: path too long", d->dir, name);
    d->text = sk_read_file(d->path, &d->len, MAX_CSV_FILE, err);
    if (d->text == NULL)
        return -1;
    sk_csv_init(&d->csv, d->text, d->len, d->path);
    return 0;
}

static int parse_meta_vector(sk_result *r, const char *key, const char *type, const char *val)
{
    size_t n = 0, cap = 16;
    double *dv = NULL;
    int64_t *iv = NULL;
    bool is_f = strcmp(type, "f64v") == 0;
    void *arr = malloc(cap * 8);
    if (arr == NULL)
        return SK_ENOMEM;
    char *copy = strdup(val), *save = NULL;
    if (copy == NULL) {
        free(arr);
        return SK_ENOMEM;
    }
    for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (n == cap) {
            void *na = realloc(arr, cap * 2 * 8);
            if (na == NULL) {
                free(arr);
                free(copy);
                return SK_ENOMEM;
            }
            arr = na;
            cap *= 2;
        }
        int bad = is_f ? sk_parse_f64(tok, (double *)arr + n) : sk_parse_i64(tok, (int64_t *)arr + n);
        if (bad) {
            free(arr);
            free(copy);
            return SK_EINVAL;
        }
        n++;
    }
    dv = is_f ? arr : NULL;
    iv = is_f ? NULL : arr;
    int rc = is_f ? sk_result_meta_f64v(r, key, dv, n) : sk_result_meta_i64v(r, key, iv, n);
    free(arr);
    free(copy);
    return rc;
}

static int read_meta(dir_reader *d, sk_result **out, sk_error *err)
{
    int rc;
    if (open_csv(d, "meta.csv", err) < 0)
        return -1;
    if ((rc = sk_csv_next(&d->csv, err)) <= 0)
        return rc < 0 ? rc : sk_fail(err, SK_EINVAL, "%s: empty", d->path);
    sk_result *r = sk_result_new("", "");
    if (r == NULL)
        return sk_fail(err, SK_ENOMEM, "out of memory");
    *out = r;
    while ((rc = sk_csv_next(&d->csv, err)) > 0) {
        if (d->csv.nfields != 3)
            return sk_fail(err, SK_EINVAL, "%s:%zu: expected 3 fields", d->path, d->csv.line);
        const char *key = d->csv.fields[0], *type = d->csv.fields[1], *val = d->csv.fields[2];
        double f;
        int64_t i;
        int bad = 0;
        if (strcmp(key, "kernel") == 0) {
            free(r->kernel);
            r->kernel = strdup(val);
            bad = r->kernel == NULL;
        } else if (strcmp(key, "kernel_version") == 0) {
            free(r->kernel_version);
            r->kernel_version = strdup(val);
            bad = r->kernel_version == NULL;
        } else if (strcmp(key, "input_hash") == 0) {
            bad = sk_result_set_input_hash(r, val) < 0;
        } else if (strcmp(key, "converged") == 0) {
            r->converged = strcmp(val, "1") == 0;
        } else if (strcmp(key, "iterations") == 0) {
            bad = sk_parse_i64(val, &r->iterations) < 0;
        } else if (strcmp(key, "tolerance") == 0) {
            bad = sk_parse_f64(val, &r->tolerance) < 0;
        } else if (strncmp(key, "meta.", 5) == 0) {
            key += 5;
            if (strcmp(type, "str") == 0)
                bad = sk_result_meta_str(r, key, val) < 0;
            else if (strcmp(type, "int") == 0)
                bad = sk_parse_i64(val, &i) < 0 || sk_result_meta_int(r, key, i) < 0;
            else if (strcmp(type, "bool") == 0)
                bad = sk_result_meta_bool(r, key, strcmp(val, "1") == 0) < 0;
            else if (strcmp(type, "f64") == 0)
                bad = sk_parse_f64(val, &f) < 0 || sk_result_meta_f64(r, key, f) < 0;
            else if (strcmp(type, "f64v") == 0 || strcmp(type, "i64v") == 0)
                bad = parse_meta_vector(r, key, type, val) < 0;
            else
                bad = 1;
        } else {
            return sk_fail(err, SK_EINVAL, "%s:%zu: unknown key '%s'", d->path, d->csv.line, key);
        }
        if (bad)
            return sk_fail(err, SK_EINVAL, "%s:%zu: bad value for '%s'", d->path, d->csv.line, key);
    }
    return rc;
}

static int read_table_data(dir_reader *d, sk_table *t, sk_error *err)
{
    char name[160];
    int rc;
    snprintf(name, sizeof name, "%s.csv", t->name);
    if (open_csv(d, name, err) < 0)
        return -1;
    if ((rc = sk_csv_next(&d->csv, err)) <= 0)
        return rc < 0 ? rc : sk_fail(err, SK_EINVAL, "%s: empty", d->path);
    size_t lead = (t->nperiods > 0) + (t->ids_in_csv ? 1 : 0);
    size_t ncolumns = lead + t->ncols;
    if (d->csv.nfields != ncolumns)
        return sk_fail(err, SK_EINVAL, "%s:1: %zu columns in the header, columns.csv lists %zu",
                       d->path, d->csv.nfields, ncolumns);
    for (size_t c = 0; c < t->ncols; c++)
        if (strcmp(d->csv.fields[lead + c], t->cols[c].name) != 0)
            return sk_fail(err, SK_EINVAL, "%s:1: column %zu is '%s', expected '%s'", d->path,
                           lead + c + 1, d->csv.fields[lead + c], t->cols[c].name);
    size_t rows = sk_table_rows(t);
    if (t->ids_in_csv && t->ids_str == NULL && t->ids_int == NULL)
        return sk_fail(err, SK_EINVAL, "%s: table has no id storage", d->path);
    for (size_t row = 0; row < rows; row++) {
        if ((rc = sk_csv_next(&d->csv, err)) < 0)
            return rc;
        if (rc == 0)
            return sk_fail(err, SK_EINVAL, "%s: %zu rows, expected %zu", d->path, row, rows);
        if (d->csv.nfields != ncolumns)
            return sk_fail(err, SK_EINVAL, "%s:%zu: %zu fields, expected %zu", d->path, d->csv.line,
                           d->csv.nfields, ncolumns);
        size_t p = row / (t->nelem ? t->nelem : 1), e = row % (t->nelem ? t->nelem : 1);
        size_t f = 0;
        if (t->nperiods > 0) {
            int64_t ts;
            if (sk_parse_i64(d->csv.fields[f], &ts) < 0)
                return sk_fail(err, SK_EINVAL, "%s:%zu: time_s '%s' is not an integer", d->path,
                               d->csv.line, d->csv.fields[f]);
            if (e == 0)
                t->period_s[p] = ts;
            f++;
        }
        if (t->ids_in_csv) {
            if (p == 0) {
                if (t->ids_str != NULL) {
                    t->ids_str[e] = strdup(d->csv.fields[f]);
                    if (t->ids_str[e] == NULL)
                        return sk_fail(err, SK_ENOMEM, "out of memory");
                } else if (sk_parse_i64(d->csv.fields[f], &t->ids_int[e]) < 0) {
                    return sk_fail(err, SK_EINVAL, "%s:%zu: id '%s' is not an integer", d->path,
                                   d->csv.line, d->csv.fields[f]);
                }
            }
            f++;
        }
        for (size_t c = 0; c < t->ncols; c++, f++) {
            sk_column *col = &t->cols[c];
            const char *s = d->csv.fields[f];
            if (col->is_static && p > 0)
                continue;
            size_t i = col->is_static ? e : row;
            double v;
            int64_t iv;
            switch (col->dtype) {
            case SK_DT_F64:
                if (sk_parse_f64(s, &v) < 0)
                    return sk_fail(err, SK_EINVAL, "%s:%zu: column '%s': '%s' is not a number",
                                   d->path, d->csv.line, col->name, s);
                ((double *)col->data)[i] = v;
                break;
            case SK_DT_I32:
            case SK_DT_I64:
                if (sk_parse_i64(s, &iv) < 0 ||
                    (col->dtype == SK_DT_I32 && (iv < INT32_MIN || iv > INT32_MAX)))
                    return sk_fail(err, SK_EINVAL, "%s:%zu: column '%s': '%s' is not an integer",
                                   d->path, d->csv.line, col->name, s);
                if (col->dtype == SK_DT_I32)
                    ((int32_t *)col->data)[i] = (int32_t)iv;
                else
                    ((int64_t *)col->data)[i] = iv;
                break;
            case SK_DT_STR: {
                char **sv = col->data;
                sv[i] = strdup(s);
                if (sv[i] == NULL)
                    return sk_fail(err, SK_ENOMEM, "out of memory");
                break;
            }
            }
        }
    }
    if ((rc = sk_csv_next(&d->csv, err)) != 0)
        return rc < 0 ? rc : sk_fail(err, SK_EINVAL, "%s:%zu: more rows than the %zu expected", d->path,
                                     d->csv.line, rows);
    if (!t->ids_in_csv && t->ids_int != NULL)
        for (size_t e = 0; e < t->nelem; e++)
            t->ids_int[e] = (int64_t)e + 1;
    return 0;
}

static int read_tables(dir_reader *d, sk_result *r, sk_error *err)
{
    int rc;
    if (open_csv(d, "tables.csv", err) < 0)
        return -1;
    if ((rc = sk_csv_next(&d->csv, err)) <= 0)
        return rc < 0 ? rc : sk_fail(err, SK_EINVAL, "%s: empty", d->path);
    while ((rc = sk_csv_next(&d->csv, err)) > 0) {
        char **f = d->csv.fields;
        int64_t nelem, nper;
        if (d->csv.nfields != 7 || sk_parse_i64(f[5], &nelem) < 0 || sk_parse_i64(f[6], &nper) < 0 ||
            nelem < 0 || nper < 0 || nelem > ((int64_t)1 << 34) || nper > ((int64_t)1 << 24))
            return sk_fail(err, SK_EINVAL, "%s:%zu: expected table,kind,id_name,ids_in_csv,ids_dtype,elements,periods",
                           d->path, d->csv.line);
        if (strchr(f[0], '/') != NULL || f[0][0] == '.')
            return sk_fail(err, SK_EINVAL, "%s:%zu: bad table name '%s'", d->path, d->csv.line, f[0]);
        sk_table *t = sk_result_add_table(r, f[0], f[1], f[2], (size_t)nelem);
        if (t == NULL)
            return sk_fail(err, SK_EINVAL, "%s:%zu: duplicate table '%s'", d->path, d->csv.line, f[0]);
        t->ids_in_csv = strcmp(f[3], "1") == 0;
        size_t n = (size_t)nelem ? (size_t)nelem : 1;
        if (strcmp(f[4], "str") == 0)
            t->ids_str = calloc(n, sizeof *t->ids_str);
        else
            t->ids_int = calloc(n, sizeof *t->ids_int);
        if (t->ids_str == NULL && t->ids_int == NULL)
            return sk_fail(err, SK_ENOMEM, "out of memory");
        if (t->ids_str != NULL && !t->ids_in_csv)
            for (size_t e = 0; e < (size_t)nelem; e++)
                if ((t->ids_str[e] = strdup("")) == NULL)
                    return sk_fail(err, SK_ENOMEM, "out of memory");
        if (nper > 0) {
            t->period_s = calloc((size_t)nper, sizeof *t->period_s);
            if (t->period_s == NULL)
                return sk_fail(err, SK_ENOMEM, "out of memory");
            t->nperiods = (size_t)nper;
        }
    }
    if (rc < 0)
        return rc;
    if (open_csv(d, "columns.csv", err) < 0)
        return -1;
    if ((rc = sk_csv_next(&d->csv, err)) <= 0)
        return rc < 0 ? rc : sk_fail(err, SK_EINVAL, "%s: empty", d->path);
    while ((rc = sk_csv_next(&d->csv, err)) > 0) {
        char **f = d->csv.fields;
        sk_dtype dt;
        if (d->csv.nfields != 5 || dtype_from(f[2], &dt) < 0)
            return sk_fail(err, SK_EINVAL, "%s:%zu: expected table,column,dtype(f64|i32|i64|str),unit,static",
                           d->path, d->csv.line);
        sk_table *t = sk_result_table(r, f[0]);
        if (t == NULL)
            return sk_fail(err, SK_EINVAL, "%s:%zu: unknown table '%s'", d->path, d->csv.line, f[0]);
        if (sk_table_add_column(t, f[1], f[3], dt, strcmp(f[4], "1") == 0) == NULL)
            return sk_fail(err, SK_EINVAL, "%s:%zu: duplicate column '%s' (or out of memory)", d->path,
                           d->csv.line, f[1]);
    }
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < r->ntables; i++)
        if ((rc = read_table_data(d, &r->tables[i], err)) < 0)
            return rc;
    return 0;
}

sk_result *sk_result_read_dir(const char *dir, sk_error *err)
{
    dir_reader d;
    sk_result *r = NULL;
    memset(&d, 0, sizeof d);
    d.dir = dir;
    int rc = read_meta(&d, &r, err);
    if (rc >= 0)
        rc = read_tables(&d, r, err);
    free(d.text);
    sk_csv_free(&d.csv);
    if (rc < 0) {
        sk_result_free(r);
        return NULL;
    }
    return r;
}
