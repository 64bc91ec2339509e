/* sk_result_mp.c - the result table as msgpack (docs/results.md).
 *
 * Numeric columns travel as `bin` of little-endian values.  The decoder
 * copies them into fresh, aligned arrays (memcpy), never casting into the
 * frame, because a bin inside a msgpack buffer has no alignment. */
#include "sk_result.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "sk_mp.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "sk_result_mp.c assumes a little-endian host; add byte swapping for this target"
#endif

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

static int dtype_parse(const msgpack_object *o, sk_dtype *out)
{
    if (sk_mp_streq(o, "f64")) *out = SK_DT_F64;
    else if (sk_mp_streq(o, "i32")) *out = SK_DT_I32;
    else if (sk_mp_streq(o, "i64")) *out = SK_DT_I64;
    else if (sk_mp_streq(o, "str")) *out = SK_DT_STR;
    else return -1;
    return 0;
}

static size_t dtype_size(sk_dtype dt)
{
    return dt == SK_DT_I32 ? 4 : 8;
}

static int pack_meta_value(msgpack_packer *pk, const sk_meta *m)
{
    int rc = 0;
    switch (m->type) {
    case SK_META_STR: return sk_mp_pack_cstr(pk, m->s);
    case SK_META_INT: return msgpack_pack_int64(pk, m->i);
    case SK_META_F64: return msgpack_pack_double(pk, m->d);
    case SK_META_BOOL: return m->i ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    case SK_META_F64V:
        rc |= msgpack_pack_array(pk, m->n);
        for (size_t i = 0; i < m->n; i++)
            rc |= msgpack_pack_double(pk, m->dv[i]);
        return rc;
    case SK_META_I64V:
        rc |= msgpack_pack_array(pk, m->n);
        for (size_t i = 0; i < m->n; i++)
            rc |= msgpack_pack_int64(pk, m->iv[i]);
        return rc;
    }
    return -1;
}

static int pack_table(msgpack_packer *pk, const sk_table *t)
{
    int rc = 0;
    rc |= msgpack_pack_map(pk, t->nperiods > 0 ? 9 : 8);
    rc |= sk_mp_pack_kstr(pk, "name", t->name);
    rc |= sk_mp_pack_kstr(pk, "kind", t->kind);
    rc |= sk_mp_pack_kstr(pk, "id_name", t->id_name);
    rc |= sk_mp_pack_kbool(pk, "ids_in_csv", t->ids_in_csv);
    rc |= sk_mp_pack_ki64(pk, "n", (int64_t)t->nelem);
    rc |= sk_mp_pack_cstr(pk, "ids");
    if (t->ids_str != NULL) {
        rc |= msgpack_pack_array(pk, t->nelem);
        for (size_t i = 0; i < t->nelem; i++)
            rc |= sk_mp_pack_cstr(pk, t->ids_str[i]);
    } else if (t->ids_int != NULL) {
        rc |= msgpack_pack_bin_with_body(pk, t->ids_int, t->nelem * sizeof(int64_t));
    } else {
        /* No ids set: the row numbers 1..n, so the table still decodes. */
        rc |= msgpack_pack_bin(pk, t->nelem * sizeof(int64_t));
        for (size_t i = 0; i < t->nelem; i++) {
            int64_t id = (int64_t)i + 1;
            rc |= msgpack_pack_bin_body(pk, &id, sizeof id);
        }
    }
    rc |= sk_mp_pack_cstr(pk, "ids_dtype");
    rc |= sk_mp_pack_cstr(pk, t->ids_str != NULL ? "str" : "i64");
    if (t->nperiods > 0) {
        rc |= sk_mp_pack_cstr(pk, "periods");
        rc |= msgpack_pack_bin_with_body(pk, t->period_s, t->nperiods * sizeof(int64_t));
    }
    rc |= sk_mp_pack_cstr(pk, "columns");
    rc |= msgpack_pack_array(pk, t->ncols);
    for (size_t i = 0; i < t->ncols; i++) {
        const sk_column *c = &t->cols[i];
        rc |= msgpack_pack_map(pk, 6);
        rc |= sk_mp_pack_kstr(pk, "name", c->name);
        rc |= sk_mp_pack_kstr(pk, "unit", c->unit);
        rc |= sk_mp_pack_kstr(pk, "dtype", dtype_name(c->dtype));
        rc |= sk_mp_pack_kbool(pk, "static", c->is_static);
        rc |= sk_mp_pack_ki64(pk, "len", (int64_t)c->len);
        rc |= sk_mp_pack_cstr(pk, "data");
        if (c->dtype == SK_DT_STR) {
            char *const *v = c->data;
            rc |= msgpack_pack_array(pk, c->len);
            for (size_t k = 0; k < c->len; k++)
                rc |= sk_mp_pack_cstr(pk, v[k]);
        } else {
            rc |= msgpack_pack_bin_with_body(pk, c->data, c->len * dtype_size(c->dtype));
        }
    }
    return rc;
}

int sk_result_encode(const sk_result *r, char **out, size_t *outlen, sk_error *err)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rc = 0;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    rc |= msgpack_pack_map(&pk, 9);
    rc |= sk_mp_pack_ki64(&pk, "schema", r->schema);
    rc |= sk_mp_pack_kstr(&pk, "kernel", r->kernel);
    rc |= sk_mp_pack_kstr(&pk, "kernel_version", r->kernel_version);
    rc |= sk_mp_pack_kstr(&pk, "input_hash", r->input_hash);
    rc |= sk_mp_pack_kbool(&pk, "converged", r->converged);
    rc |= sk_mp_pack_ki64(&pk, "iterations", r->iterations);
    rc |= sk_mp_pack_kf64(&pk, "tolerance", r->tolerance);
    rc |= sk_mp_pack_cstr(&pk, "meta");
    rc |= msgpack_pack_map(&pk, r->nmeta);
    for (size_t i = 0; i < r->nmeta; i++) {
        rc |= sk_mp_pack_cstr(&pk, r->meta[i].key);
        rc |= pack_meta_value(&pk, &r->meta[i]);
    }
    rc |= sk_mp_pack_cstr(&pk, "tables");
    rc |= msgpack_pack_array(&pk, r->ntables);
    for (size_t i = 0; i < r->ntables; i++)
        rc |= pack_table(&pk, &r->tables[i]);
    if (rc != 0) {
        msgpack_sbuffer_destroy(&sb);
        return sk_fail(err, SK_ENOMEM, "result: out of memory while encoding");
    }
    *out = sb.data;   /* sbuffer memory is malloc'ed: the caller frees it */
    *outlen = sb.size;
    return 0;
}

/* ---- decoding ---- */

static int decode_meta(sk_result *r, const msgpack_object *meta, sk_error *err)
{
    if (meta == NULL)
        return 0;
    if (meta->type != MSGPACK_OBJECT_MAP)
        return sk_fail(err, SK_EPROTO, "result: 'meta' is not a map");
    for (uint32_t i = 0; i < meta->via.map.size; i++) {
        const msgpack_object *k = &meta->via.map.ptr[i].key, *v = &meta->via.map.ptr[i].val;
        char key[128];
        int rc = 0;
        if (sk_mp_strcpy(k, key, sizeof key) < 0)
            return sk_fail(err, SK_EPROTO, "result: meta key %u is not a short string", i);
        int64_t iv;
        double dv;
        bool bv;
        if (v->type == MSGPACK_OBJECT_STR) {
            char *s = sk_mp_strdup(v);
            if (s == NULL)
                return sk_fail(err, SK_EPROTO, "result: meta '%s' has a NUL byte", key);
            rc = sk_result_meta_str(r, key, s);
            free(s);
        } else if (sk_mp_bool(v, &bv) == 0) {
            rc = sk_result_meta_bool(r, key, bv);
        } else if (sk_mp_i64(v, &iv) == 0) {
            rc = sk_result_meta_int(r, key, iv);
        } else if (sk_mp_f64(v, &dv) == 0) {
            rc = sk_result_meta_f64(r, key, dv);
        } else if (v->type == MSGPACK_OBJECT_ARRAY) {
            uint32_t n = v->via.array.size;
            bool all_int = n > 0;
            for (uint32_t j = 0; j < n; j++) {
                if (sk_mp_i64(&v->via.array.ptr[j], &iv) < 0)
                    all_int = false;
                if (sk_mp_f64(&v->via.array.ptr[j], &dv) < 0)
                    return sk_fail(err, SK_EPROTO, "result: meta '%s'[%u] is not a number", key, j);
            }
            if (all_int) {
                int64_t *vals = malloc((n ? n : 1) * sizeof *vals);
                if (vals == NULL)
                    return sk_fail(err, SK_ENOMEM, "out of memory");
                for (uint32_t j = 0; j < n; j++)
                    sk_mp_i64(&v->via.array.ptr[j], &vals[j]);
                rc = sk_result_meta_i64v(r, key, vals, n);
                free(vals);
            } else {
                double *vals = malloc((n ? n : 1) * sizeof *vals);
                if (vals == NULL)
                    return sk_fail(err, SK_ENOMEM, "out of memory");
                for (uint32_t j = 0; j < n; j++)
                    sk_mp_f64(&v->via.array.ptr[j], &vals[j]);
                rc = sk_result_meta_f64v(r, key, vals, n);
                free(vals);
            }
        } else {
            return sk_fail(err, SK_EPROTO, "result: meta '%s' has an unsupported type", key);
        }
        if (rc < 0)
            return sk_fail(err, SK_ENOMEM, "out of memory");
    }
    return 0;
}

static int decode_column(sk_table *t, const msgpack_object *co, size_t ci, sk_error *err)
{
    char name[256], unit[64];
    sk_dtype dt;
    bool is_static = false;
    int64_t len;
    const msgpack_object *data = sk_mp_get(co, "data");
    if (sk_mp_strcpy(sk_mp_get(co, "name"), name, sizeof name) < 0 || name[0] == '\0')
        return sk_fail(err, SK_EPROTO, "result: table '%s' column %zu: bad 'name'", t->name, ci);
    if (sk_mp_strcpy(sk_mp_get(co, "unit"), unit, sizeof unit) < 0)
        return sk_fail(err, SK_EPROTO, "result: column '%s.%s': bad 'unit'", t->name, name);
    if (dtype_parse(sk_mp_get(co, "dtype"), &dt) < 0)
        return sk_fail(err, SK_EPROTO, "result: column '%s.%s': bad 'dtype'", t->name, name);
    if (sk_mp_get(co, "static") != NULL && sk_mp_bool(sk_mp_get(co, "static"), &is_static) < 0)
        return sk_fail(err, SK_EPROTO, "result: column '%s.%s': 'static' is not a bool", t->name, name);
    if (sk_mp_i64(sk_mp_get(co, "len"), &len) < 0)
        return sk_fail(err, SK_EPROTO, "result: column '%s.%s': bad 'len'", t->name, name);
    size_t expect = is_static ? t->nelem : sk_table_rows(t);
    if ((uint64_t)len != expect)
        return sk_fail(err, SK_EPROTO, "result: column '%s.%s': len %lld, table has %zu rows",
                       t->name, name, (long long)len, expect);
    if (dt == SK_DT_STR) {
        if (data == NULL || data->type != MSGPACK_OBJECT_ARRAY || data->via.array.size != expect)
            return sk_fail(err, SK_EPROTO, "result: column '%s.%s': data is not an array of %zu strings",
                           t->name, name, expect);
    } else if (data == NULL || data->type != MSGPACK_OBJECT_BIN ||
               data->via.bin.size != expect * dtype_size(dt)) {
        return sk_fail(err, SK_EPROTO, "result: column '%s.%s': data is not a bin of %zu bytes",
                       t->name, name, expect * dtype_size(dt));
    }
    sk_column *c = sk_table_add_column(t, name, unit, dt, is_static);
    if (c == NULL)
        return sk_fail(err, SK_EPROTO, "result: column '%s.%s': duplicate or out of memory", t->name, name);
    if (dt == SK_DT_STR) {
        char **v = c->data;
        for (size_t i = 0; i < expect; i++) {
            v[i] = sk_mp_strdup(&data->via.array.ptr[i]);
            if (v[i] == NULL)
                return sk_fail(err, SK_EPROTO, "result: column '%s.%s' row %zu: not a string",
                               t->name, name, i);
        }
    } else if (expect > 0) {
        memcpy(c->data, data->via.bin.ptr, expect * dtype_size(dt));
    }
    return 0;
}

static int decode_table(sk_result *r, const msgpack_object *to, size_t ti, sk_error *err)
{
    char name[128], kind[64], id_name[64];
    int64_t n;
    bool ids_in_csv = true;
    if (to->type != MSGPACK_OBJECT_MAP)
        return sk_fail(err, SK_EPROTO, "result: table %zu is not a map", ti);
    if (sk_mp_strcpy(sk_mp_get(to, "name"), name, sizeof name) < 0 || name[0] == '\0')
        return sk_fail(err, SK_EPROTO, "result: table %zu: bad 'name'", ti);
    if (sk_mp_strcpy(sk_mp_get(to, "kind"), kind, sizeof kind) < 0)
        return sk_fail(err, SK_EPROTO, "result: table '%s': bad 'kind'", name);
    if (sk_mp_strcpy(sk_mp_get(to, "id_name"), id_name, sizeof id_name) < 0)
        return sk_fail(err, SK_EPROTO, "result: table '%s': bad 'id_name'", name);
    if (sk_mp_get(to, "ids_in_csv") != NULL && sk_mp_bool(sk_mp_get(to, "ids_in_csv"), &ids_in_csv) < 0)
        return sk_fail(err, SK_EPROTO, "result: table '%s': 'ids_in_csv' is not a bool", name);
    /* n is bounded by the ids that must follow, so a huge n fails below. */
    if (sk_mp_i64(sk_mp_get(to, "n"), &n) < 0 || n < 0 || n > (int64_t)1 << 40)
        return sk_fail(err, SK_EPROTO, "result: table '%s': bad 'n'", name);
    const msgpack_object *ids = sk_mp_get(to, "ids");
    const msgpack_object *per = sk_mp_get(to, "periods");
    const msgpack_object *cols = sk_mp_get(to, "columns");
    if (ids == NULL)
        return sk_fail(err, SK_EPROTO, "result: table '%s': no 'ids'", name);
    if (ids->type == MSGPACK_OBJECT_ARRAY) {
        if (ids->via.array.size != (uint64_t)n)
            return sk_fail(err, SK_EPROTO, "result: table '%s': %u ids for n=%lld", name,
                           ids->via.array.size, (long long)n);
    } else if (ids->type == MSGPACK_OBJECT_BIN) {
        if (ids->via.bin.size != (uint64_t)n * 8)
            return sk_fail(err, SK_EPROTO, "result: table '%s': ids bin of %u bytes for n=%lld",
                           name, ids->via.bin.size, (long long)n);
    } else {
        return sk_fail(err, SK_EPROTO, "result: table '%s': 'ids' is neither an array nor a bin", name);
    }
    if (per != NULL && per->type != MSGPACK_OBJECT_NIL &&
        (per->type != MSGPACK_OBJECT_BIN || per->via.bin.size % 8 != 0))
        return sk_fail(err, SK_EPROTO, "result: table '%s': 'periods' is not a bin of int64", name);
    if (cols == NULL || cols->type != MSGPACK_OBJECT_ARRAY)
        return sk_fail(err, SK_EPROTO, "result: table '%s': 'columns' is not an array", name);
    sk_table *t = sk_result_add_table(r, name, kind, id_name, (size_t)n);
    if (t == NULL)
        return sk_fail(err, SK_EPROTO, "result: table '%s': duplicate name or out of memory", name);
    t->ids_in_csv = ids_in_csv;
    if (ids->type == MSGPACK_OBJECT_ARRAY) {
        t->ids_str = calloc(n ? (size_t)n : 1, sizeof *t->ids_str);
        if (t->ids_str == NULL)
            return sk_fail(err, SK_ENOMEM, "out of memory");
        for (int64_t i = 0; i < n; i++) {
            t->ids_str[i] = sk_mp_strdup(&ids->via.array.ptr[i]);
            if (t->ids_str[i] == NULL)
                return sk_fail(err, SK_EPROTO, "result: table '%s': id %lld is not a string", name, (long long)i);
        }
    } else {
        t->ids_int = malloc(n ? (size_t)n * 8 : 1);
        if (t->ids_int == NULL)
            return sk_fail(err, SK_ENOMEM, "out of memory");
        if (n > 0)
            memcpy(t->ids_int, ids->via.bin.ptr, (size_t)n * 8);
    }
    if (per != NULL && per->type == MSGPACK_OBJECT_BIN && per->via.bin.size > 0) {
        size_t np = per->via.bin.size / 8;
        int64_t *ps = malloc(np * 8);
        if (ps == NULL)
            return sk_fail(err, SK_ENOMEM, "out of memory");
        memcpy(ps, per->via.bin.ptr, np * 8);
        int rc = sk_table_set_periods(t, np, ps);
        free(ps);
        if (rc < 0)
            return sk_fail(err, SK_ENOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < cols->via.array.size; i++) {
        const msgpack_object *co = &cols->via.array.ptr[i];
        if (co->type != MSGPACK_OBJECT_MAP)
            return sk_fail(err, SK_EPROTO, "result: table '%s' column %u is not a map", name, i);
        if (decode_column(t, co, i, err) < 0)
            return -1;
    }
    return 0;
}

sk_result *sk_result_decode(const void *data, size_t len, sk_error *err)
{
    msgpack_unpacked u;
    sk_result *r = NULL;
    int64_t schema = 0, iterations = 0;
    double tol = 0;
    bool converged = false;
    msgpack_unpacked_init(&u);
    if (sk_mp_unpack(data, len, &sk_mp_result_limits, &u, err) < 0)
        goto fail;
    const msgpack_object *root = &u.data;
    if (root->type != MSGPACK_OBJECT_MAP) {
        sk_fail(err, SK_EPROTO, "result: not a msgpack map");
        goto fail;
    }
    if (sk_mp_i64(sk_mp_get(root, "schema"), &schema) < 0) {
        sk_fail(err, SK_EPROTO, "result: no 'schema' version");
        goto fail;
    }
    if (schema != SK_RESULT_SCHEMA) {
        sk_fail(err, SK_EUNSUPPORTED, "result: schema %lld, this build reads %d", (long long)schema,
                SK_RESULT_SCHEMA);
        goto fail;
    }
    char kernel[128], version[64], hash[128];
    if (sk_mp_strcpy(sk_mp_get(root, "kernel"), kernel, sizeof kernel) < 0 ||
        sk_mp_strcpy(sk_mp_get(root, "kernel_version"), version, sizeof version) < 0) {
        sk_fail(err, SK_EPROTO, "result: bad 'kernel' or 'kernel_version'");
        goto fail;
    }
    if (sk_mp_get(root, "input_hash") != NULL &&
        sk_mp_strcpy(sk_mp_get(root, "input_hash"), hash, sizeof hash) < 0) {
        sk_fail(err, SK_EPROTO, "result: bad 'input_hash'");
        goto fail;
    }
    if ((sk_mp_get(root, "converged") && sk_mp_bool(sk_mp_get(root, "converged"), &converged) < 0) ||
        (sk_mp_get(root, "iterations") && sk_mp_i64(sk_mp_get(root, "iterations"), &iterations) < 0) ||
        (sk_mp_get(root, "tolerance") && sk_mp_f64(sk_mp_get(root, "tolerance"), &tol) < 0)) {
        sk_fail(err, SK_EPROTO, "result: bad 'converged', 'iterations' or 'tolerance'");
        goto fail;
    }
    r = sk_result_new(kernel, version);
    if (r == NULL) {
        sk_fail(err, SK_ENOMEM, "out of memory");
        goto fail;
    }
    if (sk_mp_get(root, "input_hash") != NULL && sk_result_set_input_hash(r, hash) < 0) {
        sk_fail(err, SK_ENOMEM, "out of memory");
        goto fail;
    }
    r->converged = converged;
    r->iterations = iterations;
    r->tolerance = tol;
    if (decode_meta(r, sk_mp_get(root, "meta"), err) < 0)
        goto fail;
    const msgpack_object *tables = sk_mp_get(root, "tables");
    if (tables == NULL || tables->type != MSGPACK_OBJECT_ARRAY) {
        sk_fail(err, SK_EPROTO, "result: 'tables' is not an array");
        goto fail;
    }
    for (uint32_t i = 0; i < tables->via.array.size; i++)
        if (decode_table(r, &tables->via.array.ptr[i], i, err) < 0)
            goto fail;
    msgpack_unpacked_destroy(&u);
    return r;
fail:
    msgpack_unpacked_destroy(&u);
    sk_result_free(r);
    return NULL;
}
