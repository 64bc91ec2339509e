/* sk_result.h - the one result format of samskap (docs/results.md).
 *
 * A result is a set of named tables, one per element kind (nodes, links,
 * bus, branch, gen, ...), plus metadata.  Each table is columnar: element
 * ids (strings or integers), an optional period axis, and typed columns
 * (float64, int32, int64, or strings) with units.  Kernels fill it, the node
 * sends it as msgpack, plugins read it as C-backed columns, and the CLI
 * writes it as a CSV directory.  The sk_result owns every byte inside it.
 *
 * Layout of a column with periods: row = period * nelem + element
 * ("period-major"), so one period is one contiguous slice.  A column may
 * instead hold one value per element (static attributes such as length):
 * its len is nelem and it is marked static. */
#ifndef SK_RESULT_H
#define SK_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sk_error.h"

#define SK_RESULT_SCHEMA 1

typedef enum {
    SK_DT_F64 = 1,
    SK_DT_I32 = 2,
    SK_DT_I64 = 3,
    SK_DT_STR = 4,   /* char *[len]; on the wire a msgpack array of str */
} sk_dtype;

typedef struct sk_column {
    char *name;
    char *unit;        /* "" when dimensionless or unknown */
    sk_dtype dtype;
    bool is_static;    /* one value per element, not per (period, element) */
    size_t len;
    void *data;        /* double*, int32_t*, int64_t* or char** (owned) */
} sk_column;

typedef struct sk_table {
    char *name;        /* file stem and lookup key: "nodes", "links", "bus" */
    char *kind;        /* element kind: "node", "link", "bus", "branch", "gen" */
    char *id_name;     /* CSV header of the id column: "node_id", "bus_i" */
    bool ids_in_csv;   /* false: ids are row numbers, not written to CSV */
    size_t nelem;
    char **ids_str;    /* either string ids ... */
    int64_t *ids_int;  /* ... or integer ids (exactly one is set) */
    size_t nperiods;   /* 0: no period axis */
    int64_t *period_s; /* [nperiods] seconds from the start */
    size_t ncols, capcols;
    sk_column *cols;
} sk_table;

typedef enum { SK_META_STR, SK_META_INT, SK_META_F64, SK_META_BOOL, SK_META_F64V, SK_META_I64V } sk_meta_type;

typedef struct sk_meta {
    char *key;
    sk_meta_type type;
    char *s;
    int64_t i;         /* INT, BOOL */
    double d;
    size_t n;          /* F64V, I64V */
    double *dv;
    int64_t *iv;
} sk_meta;

typedef struct sk_result {
    int schema;                /* SK_RESULT_SCHEMA */
    char *kernel;              /* "water", "power", "traffic", "indicator.x" */
    char *kernel_version;
    char *input_hash;          /* content hash of the input(s), "" if unknown */
    bool converged;
    int64_t iterations;
    double tolerance;
    size_t ntables, captables;
    sk_table *tables;
    size_t nmeta, capmeta;
    sk_meta *meta;             /* summary figures and params, in order */
} sk_result;

sk_result *sk_result_new(const char *kernel, const char *kernel_version);
void sk_result_free(sk_result *r);

int sk_result_set_input_hash(sk_result *r, const char *hash);

/* Tables.  Name must be unique within the result. */
sk_table *sk_result_add_table(sk_result *r, const char *name, const char *kind,
                              const char *id_name, size_t nelem);
sk_table *sk_result_table(const sk_result *r, const char *name);
/* ids are copied. */
int sk_table_set_ids_str(sk_table *t, const char *const *ids);
int sk_table_set_ids_int(sk_table *t, const int64_t *ids);
int sk_table_set_periods(sk_table *t, size_t nperiods, const int64_t *period_s);

/* Add a column and return its zeroed storage to fill (NULL on OOM or a
 * duplicate name).  Per-period columns have nelem * max(1, nperiods) rows,
 * so call sk_table_set_periods first. */
double *sk_table_add_f64(sk_table *t, const char *name, const char *unit);
int32_t *sk_table_add_i32(sk_table *t, const char *name, const char *unit);
int64_t *sk_table_add_i64(sk_table *t, const char *name, const char *unit);
double *sk_table_add_static_f64(sk_table *t, const char *name, const char *unit);
int32_t *sk_table_add_static_i32(sk_table *t, const char *name, const char *unit);
/* String column: values copied; NULL entries become "". */
int sk_table_add_str(sk_table *t, const char *name, bool is_static, const char *const *vals);
sk_column *sk_table_column(const sk_table *t, const char *name);
/* Generic form of the adders above (for decoders). */
sk_column *sk_table_add_column(sk_table *t, const char *name, const char *unit,
                               sk_dtype dtype, bool is_static);
/* nelem * max(1, nperiods): the length of a per-period column. */
size_t sk_table_rows(const sk_table *t);
/* Value of a numeric column at row as double (static columns index by element). */
double sk_column_get_f64(const sk_column *c, size_t row);

/* Metadata (summary figures, params).  Setting a key again replaces it. */
int sk_result_meta_str(sk_result *r, const char *key, const char *val);
int sk_result_meta_int(sk_result *r, const char *key, int64_t val);
int sk_result_meta_f64(sk_result *r, const char *key, double val);
int sk_result_meta_bool(sk_result *r, const char *key, bool val);
int sk_result_meta_f64v(sk_result *r, const char *key, const double *v, size_t n);
int sk_result_meta_i64v(sk_result *r, const char *key, const int64_t *v, size_t n);
const sk_meta *sk_result_meta_find(const sk_result *r, const char *key);

/* msgpack.  encode: *out is malloc'ed, caller frees.  decode bounds every
 * size and count by the input length and checks every type; it never trusts
 * the data to be aligned. */
int sk_result_encode(const sk_result *r, char **out, size_t *outlen, sk_error *err);
sk_result *sk_result_decode(const void *data, size_t len, sk_error *err);

/* CSV directory: <table>.csv per table (ids first when ids_in_csv; time_s
 * first when the table has periods), columns.csv (table,column,dtype,unit,
 * static), and summary.json (result fields and meta).  The reader takes back
 * what the writer wrote. */
int sk_result_write_dir(const sk_result *r, const char *dir, sk_error *err);
sk_result *sk_result_read_dir(const char *dir, sk_error *err);
/* summary.json alone, as text (malloc'ed). */
char *sk_result_summary_json(const sk_result *r);
/* The whole result as JSON (malloc'ed): the summary fields plus
 * "data": {table: {"ids": [...], "periods": [...], "columns": {name: [...]}}}.
 * Tables with more than max_rows rows are left out of "data" (and named in
 * "data_omitted") so a pipeline never chokes by surprise; 0 = no limit. */
char *sk_result_to_json(const sk_result *r, size_t max_rows);

#endif
