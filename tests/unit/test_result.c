/* test_result.c - the result format: build, msgpack round trip, CSV
 * directory round trip (also under a decimal-comma locale), and malformed
 * msgpack, truncated at every length, which must be refused without a
 * crash. */
#include <locale.h>
#include <stdint.h>
#include <unistd.h>

#include "sk_result.h"
#include "test_util.h"

static sk_result *make_result(void)
{
    sk_result *r = sk_result_new("water", "0.1.0");
    const char *ids[] = {"J1", "J,2", "T\"3"};
    int64_t periods[] = {0, 3600};
    sk_table *t = sk_result_add_table(r, "nodes", "node", "node_id", 3);
    sk_table_set_ids_str(t, ids);
    sk_table_set_periods(t, 2, periods);
    const char *types[] = {"JUNCTION", "JUNCTION", "TANK", "JUNCTION", "JUNCTION", "TANK"};
    sk_table_add_str(t, "type", false, types);
    double *head = sk_table_add_f64(t, "head", "ft");
    for (int i = 0; i < 6; i++)
        head[i] = 100.0 + i * 0.1;
    double *elev = sk_table_add_static_f64(t, "elevation", "ft");
    elev[0] = 1.5; elev[1] = -2.25; elev[2] = 1e-300;
    int32_t *status = sk_table_add_i32(t, "status", "");
    status[5] = 2;
    sk_table *b = sk_result_add_table(r, "bus", "bus", "bus_i", 2);
    int64_t bus_ids[] = {1, 1000000000000LL};
    sk_table_set_ids_int(b, bus_ids);
    int64_t *big = sk_table_add_i64(b, "count", "");
    big[1] = -5;
    b->ids_in_csv = true;
    r->converged = true;
    r->iterations = 7;
    r->tolerance = 1e-3;
    sk_result_set_input_hash(r, "sha256:abc");
    sk_result_meta_str(r, "warnings", "negative pressure, at J1");
    sk_result_meta_int(r, "nodes", 3);
    sk_result_meta_f64(r, "solve_ms", 0.125);
    sk_result_meta_bool(r, "pda", false);
    double gaps[] = {1e-2, 1e-4, 0.5};
    sk_result_meta_f64v(r, "gap_history", gaps, 3);
    int64_t its[] = {3, 4};
    sk_result_meta_i64v(r, "iterations_per_period", its, 2);
    return r;
}

static void check_same(const sk_result *a, const sk_result *b)
{
    CHECK_STR(a->kernel, b->kernel);
    CHECK_STR(a->kernel_version, b->kernel_version);
    CHECK_STR(a->input_hash, b->input_hash);
    CHECK(a->converged == b->converged);
    CHECK(a->iterations == b->iterations);
    CHECK(a->tolerance == b->tolerance);
    CHECK(a->ntables == b->ntables);
    CHECK(a->nmeta == b->nmeta);
    for (size_t i = 0; i < a->ntables && i < b->ntables; i++) {
        const sk_table *x = &a->tables[i], *y = &b->tables[i];
        CHECK_STR(x->name, y->name);
        CHECK_STR(x->kind, y->kind);
        CHECK_STR(x->id_name, y->id_name);
        CHECK(x->nelem == y->nelem);
        CHECK(x->nperiods == y->nperiods);
        CHECK(x->ncols == y->ncols);
        for (size_t e = 0; e < x->nelem; e++) {
            if (x->ids_str)
                CHECK(y->ids_str && strcmp(x->ids_str[e], y->ids_str[e]) == 0);
            else
                CHECK(y->ids_int && x->ids_int[e] == y->ids_int[e]);
        }
        for (size_t p = 0; p < x->nperiods; p++)
            CHECK(x->period_s[p] == y->period_s[p]);
        for (size_t c = 0; c < x->ncols && c < y->ncols; c++) {
            const sk_column *cx = &x->cols[c], *cy = &y->cols[c];
            CHECK_STR(cx->name, cy->name);
            CHECK_STR(cx->unit, cy->unit);
            CHECK(cx->dtype == cy->dtype);
            CHECK(cx->is_static == cy->is_static);
            CHECK(cx->len == cy->len);
            for (size_t k = 0; k < cx->len && k < cy->len; k++) {
                if (cx->dtype == SK_DT_STR)
                    CHECK_STR(((char **)cx->data)[k], ((char **)cy->data)[k]);
                else
                    CHECK(sk_column_get_f64(cx, k) == sk_column_get_f64(cy, k));
            }
        }
    }
    for (size_t i = 0; i < a->nmeta && i < b->nmeta; i++) {
        CHECK_STR(a->meta[i].key, b->meta[i].key);
        CHECK(a->meta[i].type == b->meta[i].type);
        CHECK(a->meta[i].n == b->meta[i].n);
    }
    const sk_meta *m = sk_result_meta_find(b, "gap_history");
    CHECK(m != NULL && m->type == SK_META_F64V && m->n == 3 && m->dv[1] == 1e-4);
    m = sk_result_meta_find(b, "warnings");
    CHECK(m != NULL && m->type == SK_META_STR && strcmp(m->s, "negative pressure, at J1") == 0);
}

static void test_msgpack_roundtrip(void)
{
    sk_result *r = make_result();
    char *buf;
    size_t len;
    sk_error err = SK_ERROR_INIT;
    CHECK(sk_result_encode(r, &buf, &len, &err) == 0);
    sk_result *back = sk_result_decode(buf, len, &err);
    CHECK(back != NULL);
    if (back)
        check_same(r, back);
    sk_result_free(back);

    /* Every truncation is refused, never crashes. */
    for (size_t cut = 0; cut < len; cut++) {
        sk_error e = SK_ERROR_INIT;
        sk_result *t = sk_result_decode(buf, cut, &e);
        CHECK(t == NULL);
        CHECK(e.msg[0] != '\0');
        sk_result_free(t);
    }
    /* Flipped bytes: decode may succeed or fail, but must not crash. */
    for (size_t i = 0; i < len; i++) {
        char saved = buf[i];
        buf[i] ^= 0x5a;
        sk_result_free(sk_result_decode(buf, len, NULL));
        buf[i] = saved;
    }
    free(buf);
    sk_result_free(r);
}

/* Braces and brackets balance outside strings, and the text ends where
 * the top-level object closes: the shape a JSON reader needs. */
static int json_balanced(const char *s)
{
    int depth = 0, in_str = 0;
    for (const char *p = s; *p; p++) {
        if (in_str) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                in_str = 0;
            continue;
        }
        if (*p == '"')
            in_str = 1;
        else if (*p == '{' || *p == '[')
            depth++;
        else if (*p == '}' || *p == ']') {
            if (--depth < 0)
                return 0;
            if (depth == 0 && p[1] != '\0' && p[1] != '\n')
                return 0;
        }
    }
    return depth == 0 && !in_str;
}

static void test_json(void)
{
    sk_result *r = make_result();
    char *summary = sk_result_summary_json(r), *full = sk_result_to_json(r, 0), *cut = sk_result_to_json(r, 1);
    CHECK(summary && json_balanced(summary));
    CHECK(full && json_balanced(full));
    CHECK(full && strstr(full, "\"data\":{\"nodes\":{\"ids\":[\"J1\",\"J,2\",\"T\\\"3\"]") != NULL);
    CHECK(cut && json_balanced(cut) && strstr(cut, "\"data_omitted\":[\"nodes\",\"bus\"]") != NULL);
    free(summary);
    free(full);
    free(cut);
    sk_result_free(r);
}

static void test_hostile_msgpack(void)
{
    sk_error err = SK_ERROR_INIT;
    /* array32 announcing 4 billion elements in 5 bytes */
    const char huge_array[] = {(char)0xdd, (char)0xff, (char)0xff, (char)0xff, (char)0xff};
    CHECK(sk_result_decode(huge_array, sizeof huge_array, &err) == NULL);
    CHECK(strstr(err.msg, "elements") != NULL);
    /* bin32 announcing 4 GB */
    const char huge_bin[] = {(char)0xc6, (char)0xff, (char)0xff, (char)0xff, (char)0xf0, 1, 2};
    CHECK(sk_result_decode(huge_bin, sizeof huge_bin, &err) == NULL);
    /* deep nesting */
    char deep[64];
    memset(deep, (char)0x91, sizeof deep);
    deep[63] = (char)0xc0;
    CHECK(sk_result_decode(deep, sizeof deep, &err) == NULL);
    /* not a map, and wrong schema */
    CHECK(sk_result_decode("\x01", 1, &err) == NULL);
    const char wrong_schema[] = "\x81\xa6schema\x63";
    CHECK(sk_result_decode(wrong_schema, sizeof wrong_schema - 1, &err) == NULL);
    CHECK(strstr(err.msg, "schema 99") != NULL);
}

static void test_dir_roundtrip(const char *locale)
{
    char dir[] = "/tmp/sk_result_test_XXXXXX";
    sk_error err = SK_ERROR_INIT;
    CHECK(mkdtemp(dir) != NULL);
    if (locale != NULL && setlocale(LC_ALL, locale) == NULL) {
        fprintf(stderr, "note: locale %s not installed; testing in C only\n", locale);
        locale = NULL;
    }
    sk_result *r = make_result();
    CHECK(sk_result_write_dir(r, dir, &err) == 0);
    sk_result *back = sk_result_read_dir(dir, &err);
    if (back == NULL)
        fprintf(stderr, "read_dir: %s\n", err.msg);
    CHECK(back != NULL);
    if (back)
        check_same(r, back);
    /* The CSV uses dots whatever the locale says. */
    char path[256];
    snprintf(path, sizeof path, "%s/nodes.csv", dir);
    FILE *f = fopen(path, "r");
    char line[256] = "";
    CHECK(f != NULL && fgets(line, sizeof line, f) != NULL);
    CHECK_STR(line, "time_s,node_id,type,head,elevation,status\n");
    CHECK(fgets(line, sizeof line, f) != NULL);
    CHECK_STR(line, "0,J1,JUNCTION,100,1.5,0\n");
    CHECK(fgets(line, sizeof line, f) != NULL);
    CHECK_STR(line, "0,\"J,2\",JUNCTION,100.1,-2.25,0\n");
    if (f)
        fclose(f);
    /* A damaged file is an error naming file and line. */
    f = fopen(path, "w");
    fputs("time_s,node_id,type,head,elevation,status\n0,J1,JUNCTION,abc,1,0\n", f);
    fclose(f);
    sk_result *bad = sk_result_read_dir(dir, &err);
    CHECK(bad == NULL);
    CHECK(strstr(err.msg, "nodes.csv:2") != NULL && strstr(err.msg, "abc") != NULL);
    sk_result_free(bad);
    sk_result_free(back);
    sk_result_free(r);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    setlocale(LC_ALL, "C");
}

int main(void)
{
    test_msgpack_roundtrip();
    test_hostile_msgpack();
    test_json();
    test_dir_roundtrip(NULL);
    test_dir_roundtrip("nb_NO.UTF-8");
    TEST_DONE();
}
