/* sk_lua_column.c - result tables and columns as Lua userdata over the C
 * arrays of an sk_result (no copy), with C loops for the common reductions
 * (sum, mean, min, max, quantile, count), comparison masks, where/filter,
 * arithmetic, and group-by-area.
 *
 * A column is `len` rows; when it comes from a table with periods its row is
 * period * nelem + element.  A column whose length equals another's nelem
 * (a static attribute, or a mask built from one) broadcasts over periods.
 * Every loop checks the job's deadline every SK_COL_CHUNK rows, since the
 * count hook does not fire inside C functions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_lua_internal.h"

#define COL_MT "samskap.column"
#define TAB_MT "samskap.table"
#define AREAS_MT "samskap.areas"
#define SK_COL_CHUNK 65536

enum { K_F64 = 1, K_I32, K_I64, K_STR, K_BOOL };

typedef struct lcol {
    int kind;
    size_t len, nelem, nperiods;
    const void *data;
    const sk_table *table;   /* source table (ids, areas), NULL when unknown */
    const char *kernel;      /* "water", ... for area lookups */
    const char *name, *unit;
    double payload_align[];  /* owned data follows */
} lcol;

typedef struct ltab {
    const sk_table *t;
    const char *kernel;
} ltab;

/* ---- helpers ------------------------------------------------------------- */

static size_t kind_size(int k)
{
    switch (k) {
    case K_F64: return sizeof(double);
    case K_I32: return sizeof(int32_t);
    case K_I64: return sizeof(int64_t);
    case K_STR: return sizeof(char *);
    default: return 1;
    }
}

static const char *kind_name(int k)
{
    static const char *const names[] = {"?", "f64", "i32", "i64", "str", "bool"};
    return k >= K_F64 && k <= K_BOOL ? names[k] : "?";
}

static lcol *col_check(lua_State *L, int idx)
{
    return luaL_checkudata(L, idx, COL_MT);
}

static lcol *col_test(lua_State *L, int idx)
{
    return luaL_testudata(L, idx, COL_MT);
}

/* New owned column of n rows (zeroed); parent at parent_idx kept alive. */
static lcol *col_new(lua_State *L, int kind, size_t n, const lcol *like)
{
    size_t es = kind_size(kind);
    if (n > ((size_t)1 << 40) / es)
        sk_lua__errorf(L, "column of %zu rows is too large", n);
    lcol *c = lua_newuserdatauv(L, sizeof(lcol) + n * es, 1);
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->len = n;
    c->data = c->payload_align;
    if (n)
        memset(c->payload_align, 0, n * es);
    if (like && like->len == n) {
        c->nelem = like->nelem;
        c->nperiods = like->nperiods;
        c->table = like->table;
        c->kernel = like->kernel;
    } else {
        c->nelem = n;
    }
    luaL_setmetatable(L, COL_MT);
    return c;
}

static inline double col_getd(const lcol *c, size_t i)
{
    switch (c->kind) {
    case K_F64: return ((const double *)c->data)[i];
    case K_I32: return ((const int32_t *)c->data)[i];
    case K_I64: return (double)((const int64_t *)c->data)[i];
    case K_BOOL: return ((const unsigned char *)c->data)[i];
    default: return NAN;
    }
}

static void col_need_numeric(lua_State *L, const lcol *c, const char *op)
{
    if (c->kind == K_STR)
        sk_lua__errorf(L, "%s: column '%s' holds strings, not numbers", op, c->name ? c->name : "?");
}

/* Can b be indexed alongside a (same length, or b broadcasts per element)? */
static void col_check_shape(lua_State *L, const lcol *a, const lcol *b, const char *op)
{
    if (b->len == a->len)
        return;
    if (b->len > 0 && a->len % b->len == 0 && (b->len == a->nelem || a->nperiods > 0))
        return;
    sk_lua__errorf(L, "%s: columns of %zu and %zu rows do not line up", op, a->len, b->len);
}

static const unsigned char *mask_arg(lua_State *L, int idx, const lcol *a, size_t *mlen)
{
    if (lua_isnoneornil(L, idx))
        return NULL;
    lcol *m = col_check(L, idx);
    if (m->kind != K_BOOL)
        sk_lua__errorf(L, "argument #%d must be a mask (from lt/gt/eq/...), got a %s column",
                   idx - 1, kind_name(m->kind));
    col_check_shape(L, a, m, "mask");
    *mlen = m->len;
    return m->data;
}

/* ---- reductions ------------------------------------------------------------ */

typedef struct red {
    double sum, min, max;
    size_t n;
} red;

/* Fold all non-NaN (and masked-in) values. */
static red col_reduce(lua_State *L, const lcol *c, const unsigned char *mask, size_t mlen)
{
    red r = {0.0, INFINITY, -INFINITY, 0};
    size_t mi = 0;
    for (size_t start = 0; start < c->len; start += SK_COL_CHUNK) {
        sk_lua__check_deadline(L);
        size_t end = start + SK_COL_CHUNK < c->len ? start + SK_COL_CHUNK : c->len;
        if (c->kind == K_F64 && !mask) {
            const double *d = c->data;
            double s = 0, mn = r.min, mx = r.max;
            size_t n = 0;
            for (size_t i = start; i < end; i++) {
                double v = d[i];
                if (v == v) {
                    s += v;
                    n++;
                    mn = v < mn ? v : mn;
                    mx = v > mx ? v : mx;
                }
            }
            r.sum += s;
            r.n += n;
            r.min = mn;
            r.max = mx;
            continue;
        }
        if (c->kind == K_F64 && mask && mlen == c->len) {   /* same-shape mask */
            const double *d = c->data;
            double s = 0, mn = r.min, mx = r.max;
            size_t n = 0;
            for (size_t i = start; i < end; i++) {
                double v = d[i];
                if (mask[i] && v == v) {
                    s += v;
                    n++;
                    mn = v < mn ? v : mn;
                    mx = v > mx ? v : mx;
                }
            }
            r.sum += s;
            r.n += n;
            r.min = mn;
            r.max = mx;
            continue;
        }
        for (size_t i = start; i < end; i++) {
            if (mask) {
                int take = mask[mi];
                if (++mi == mlen)
                    mi = 0;
                if (!take)
                    continue;
            }
            double v = col_getd(c, i);
            if (v != v)
                continue;
            r.sum += v;
            r.n++;
            if (v < r.min)
                r.min = v;
            if (v > r.max)
                r.max = v;
        }
    }
    return r;
}

static int col_sum(lua_State *L)
{
    lcol *c = col_check(L, 1);
    col_need_numeric(L, c, "sum");
    size_t ml = 0;
    const unsigned char *m = mask_arg(L, 2, c, &ml);
    lua_pushnumber(L, col_reduce(L, c, m, ml).sum);
    return 1;
}

static int col_mean(lua_State *L)
{
    lcol *c = col_check(L, 1);
    col_need_numeric(L, c, "mean");
    size_t ml = 0;
    const unsigned char *m = mask_arg(L, 2, c, &ml);
    red r = col_reduce(L, c, m, ml);
    lua_pushnumber(L, r.n ? r.sum / (double)r.n : NAN);
    return 1;
}

static int col_min(lua_State *L)
{
    lcol *c = col_check(L, 1);
    col_need_numeric(L, c, "min");
    size_t ml = 0;
    const unsigned char *m = mask_arg(L, 2, c, &ml);
    red r = col_reduce(L, c, m, ml);
    if (r.n)
        lua_pushnumber(L, r.min);
    else
        lua_pushnil(L);
    return 1;
}

static int col_max(lua_State *L)
{
    lcol *c = col_check(L, 1);
    col_need_numeric(L, c, "max");
    size_t ml = 0;
    const unsigned char *m = mask_arg(L, 2, c, &ml);
    red r = col_reduce(L, c, m, ml);
    if (r.n)
        lua_pushnumber(L, r.max);
    else
        lua_pushnil(L);
    return 1;
}

/* count(): rows that are true (mask) or not NaN (numbers); count(mask) rows
 * where the mask is true and the value is not NaN. */
static int col_count(lua_State *L)
{
    lcol *c = col_check(L, 1);
    size_t ml = 0;
    const unsigned char *m = mask_arg(L, 2, c, &ml);
    if (c->kind == K_BOOL && !m) {
        const unsigned char *d = c->data;
        size_t n = 0;
        for (size_t start = 0; start < c->len; start += SK_COL_CHUNK) {
            sk_lua__check_deadline(L);
            size_t end = start + SK_COL_CHUNK < c->len ? start + SK_COL_CHUNK : c->len;
            for (size_t i = start; i < end; i++)
                n += d[i];
        }
        lua_pushinteger(L, (lua_Integer)n);
        return 1;
    }
    if (c->kind == K_STR) {
        size_t n = 0, mi = 0;
        for (size_t i = 0; i < c->len; i++) {
            if ((i & (SK_COL_CHUNK - 1)) == 0)
                sk_lua__check_deadline(L);
            int take = m ? m[mi] : 1;
            if (m && ++mi == ml)
                mi = 0;
            n += take;
        }
        lua_pushinteger(L, (lua_Integer)n);
        return 1;
    }
    lua_pushinteger(L, (lua_Integer)col_reduce(L, c, m, ml).n);
    return 1;
}

static void dswap(double *a, double *b)
{
    double t = *a;
    *a = *b;
    *b = t;
}

/* k-th smallest of x[0..n) (partially reorders x).  Median-of-three
 * quickselect; checks the deadline per partition pass. */
static double select_kth(lua_State *L, double *x, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (hi > lo) {
        sk_lua__check_deadline(L);
        size_t mid = lo + (hi - lo) / 2;
        if (x[mid] < x[lo]) dswap(&x[mid], &x[lo]);
        if (x[hi] < x[lo]) dswap(&x[hi], &x[lo]);
        if (x[hi] < x[mid]) dswap(&x[hi], &x[mid]);
        double pivot = x[mid];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (x[i] < pivot) i++;
            while (x[j] > pivot) j--;
            if (i <= j) {
                dswap(&x[i], &x[j]);
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    return x[k];
}

/* quantile(q [, mask]): linear interpolation between order statistics
 * (type 7, as R and NumPy's default). */
static int col_quantile(lua_State *L)
{
    lcol *c = col_check(L, 1);
    col_need_numeric(L, c, "quantile");
    double q = luaL_checknumber(L, 2);
    luaL_argcheck(L, q >= 0 && q <= 1, 2, "quantile must be in [0, 1]");
    size_t ml = 0;
    const unsigned char *m = mask_arg(L, 3, c, &ml);
    double *x = lua_newuserdatauv(L, (c->len ? c->len : 1) * sizeof(double), 0);
    size_t n = 0, mi = 0;
    for (size_t i = 0; i < c->len; i++) {
        if ((i & (SK_COL_CHUNK - 1)) == 0)
            sk_lua__check_deadline(L);
        if (m) {
            int take = m[mi];
            if (++mi == ml)
                mi = 0;
            if (!take)
                continue;
        }
        double v = col_getd(c, i);
        if (v == v)
            x[n++] = v;
    }
    if (n == 0) {
        lua_pushnil(L);
        return 1;
    }
    double h = (double)(n - 1) * q;
    size_t k = (size_t)floor(h);
    double v = select_kth(L, x, n, k);
    if (k + 1 < n && h > (double)k) {
        double up = INFINITY;   /* smallest of the upper part */
        for (size_t i = k + 1; i < n; i++)
            if (x[i] < up)
                up = x[i];
        v += (h - (double)k) * (up - v);
    }
    lua_pushnumber(L, v);
    return 1;
}

/* ---- comparisons and masks ------------------------------------------------- */

enum { OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE };

static inline int cmp_num(int op, double a, double b)
{
    switch (op) {
    case OP_LT: return a < b;
    case OP_LE: return a <= b;
    case OP_GT: return a > b;
    case OP_GE: return a >= b;
    case OP_EQ: return a == b;
    default: return a != b;
    }
}

static int ascii_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

static int col_compare_ci(lua_State *L, int op, const char *opname, int ci)
{
    lcol *a = col_check(L, 1);
    lcol *b = col_test(L, 2);
    lcol *out = col_new(L, K_BOOL, a->len, a);
    unsigned char *o = (unsigned char *)out->data;
    if (a->kind == K_STR) {
        if (op != OP_EQ && op != OP_NE)
            return sk_lua__errorf(L, "%s: strings compare with eq/ne only", opname);
        const char *s = luaL_checkstring(L, 2);
        const char *const *d = a->data;
        for (size_t i = 0; i < a->len; i++) {
            if ((i & (SK_COL_CHUNK - 1)) == 0)
                sk_lua__check_deadline(L);
            int eq = d[i] && (ci ? ascii_ieq(d[i], s) : strcmp(d[i], s) == 0);
            o[i] = (unsigned char)(op == OP_EQ ? eq : !eq);
        }
        return 1;
    }
    if (b) {
        col_need_numeric(L, b, opname);
        col_check_shape(L, a, b, opname);
        size_t bi = 0;
        for (size_t i = 0; i < a->len; i++) {
            if ((i & (SK_COL_CHUNK - 1)) == 0)
                sk_lua__check_deadline(L);
            o[i] = (unsigned char)cmp_num(op, col_getd(a, i), col_getd(b, bi));
            if (++bi == b->len)
                bi = 0;
        }
        return 1;
    }
    double x = luaL_checknumber(L, 2);
    for (size_t start = 0; start < a->len; start += SK_COL_CHUNK) {
        sk_lua__check_deadline(L);
        size_t end = start + SK_COL_CHUNK < a->len ? start + SK_COL_CHUNK : a->len;
        if (a->kind == K_F64) {
            const double *d = a->data;
            switch (op) {
            case OP_LT: for (size_t i = start; i < end; i++) o[i] = d[i] < x; break;
            case OP_LE: for (size_t i = start; i < end; i++) o[i] = d[i] <= x; break;
            case OP_GT: for (size_t i = start; i < end; i++) o[i] = d[i] > x; break;
            case OP_GE: for (size_t i = start; i < end; i++) o[i] = d[i] >= x; break;
            case OP_EQ: for (size_t i = start; i < end; i++) o[i] = d[i] == x; break;
            default: for (size_t i = start; i < end; i++) o[i] = d[i] != x; break;
            }
        } else {
            for (size_t i = start; i < end; i++)
                o[i] = (unsigned char)cmp_num(op, col_getd(a, i), x);
        }
    }
    return 1;
}

static int col_compare(lua_State *L, int op, const char *opname)
{
    return col_compare_ci(L, op, opname, 0);
}

/* ieq(s): ASCII case-insensitive string equality ("JUNCTION" = "junction"),
 * for categorical tags whose case differs between kernels and sources. */
static int col_ieq(lua_State *L)
{
    if (col_check(L, 1)->kind != K_STR)
        return sk_lua__errorf(L, "ieq: only for string columns");
    return col_compare_ci(L, OP_EQ, "ieq", 1);
}

static int col_lt(lua_State *L) { return col_compare(L, OP_LT, "lt"); }
static int col_le(lua_State *L) { return col_compare(L, OP_LE, "le"); }
static int col_gt(lua_State *L) { return col_compare(L, OP_GT, "gt"); }
static int col_ge(lua_State *L) { return col_compare(L, OP_GE, "ge"); }
static int col_eq(lua_State *L) { return col_compare(L, OP_EQ, "eq"); }
static int col_ne(lua_State *L) { return col_compare(L, OP_NE, "ne"); }

/* between(lo, hi): lo <= v <= hi (NaN is outside). */
static int col_between(lua_State *L)
{
    lcol *a = col_check(L, 1);
    col_need_numeric(L, a, "between");
    double lo = luaL_checknumber(L, 2), hi = luaL_checknumber(L, 3);
    lcol *out = col_new(L, K_BOOL, a->len, a);
    unsigned char *o = (unsigned char *)out->data;
    for (size_t start = 0; start < a->len; start += SK_COL_CHUNK) {
        sk_lua__check_deadline(L);
        size_t end = start + SK_COL_CHUNK < a->len ? start + SK_COL_CHUNK : a->len;
        for (size_t i = start; i < end; i++) {
            double v = col_getd(a, i);
            o[i] = v >= lo && v <= hi;
        }
    }
    return 1;
}

/* and/or of two masks (broadcasting), not of one. */
static int mask_binop(lua_State *L, int is_and)
{
    lcol *a = col_check(L, 1), *b = col_check(L, 2);
    if (a->kind != K_BOOL || b->kind != K_BOOL)
        return sk_lua__errorf(L, "%s: both operands must be masks", is_and ? "and" : "or");
    if (b->len > a->len) {
        lcol *t = a;
        a = b;
        b = t;
    }
    col_check_shape(L, a, b, is_and ? "and" : "or");
    lcol *out = col_new(L, K_BOOL, a->len, a);
    unsigned char *o = (unsigned char *)out->data;
    const unsigned char *x = a->data, *y = b->data;
    size_t bi = 0;
    for (size_t i = 0; i < a->len; i++) {
        if ((i & (SK_COL_CHUNK - 1)) == 0)
            sk_lua__check_deadline(L);
        o[i] = is_and ? (x[i] & y[bi]) : (x[i] | y[bi]);
        if (++bi == b->len)
            bi = 0;
    }
    return 1;
}

static int col_band(lua_State *L) { return mask_binop(L, 1); }
static int col_bor(lua_State *L) { return mask_binop(L, 0); }

static int col_bnot(lua_State *L)
{
    lcol *a = col_check(L, 1);
    if (a->kind != K_BOOL)
        return sk_lua__errorf(L, "not: operand must be a mask");
    lcol *out = col_new(L, K_BOOL, a->len, a);
    unsigned char *o = (unsigned char *)out->data;
    const unsigned char *x = a->data;
    for (size_t i = 0; i < a->len; i++)
        o[i] = !x[i];
    return 1;
}

/* where(mask): the rows where mask is true, as a new compact column. */
static int col_where(lua_State *L)
{
    lcol *a = col_check(L, 1);
    size_t ml = 0;
    const unsigned char *m = mask_arg(L, 2, a, &ml);
    if (!m)
        return sk_lua__errorf(L, "where: a mask is required");
    size_t n = 0, mi = 0;
    for (size_t i = 0; i < a->len; i++) {
        n += m[mi];
        if (++mi == ml)
            mi = 0;
    }
    lcol *out = col_new(L, a->kind, n, NULL);
    out->name = a->name;
    out->unit = a->unit;
    size_t es = kind_size(a->kind), k = 0;
    mi = 0;
    for (size_t i = 0; i < a->len; i++) {
        if ((i & (SK_COL_CHUNK - 1)) == 0)
            sk_lua__check_deadline(L);
        if (m[mi])
            memcpy((char *)out->data + k++ * es, (const char *)a->data + i * es, es);
        if (++mi == ml)
            mi = 0;
    }
    if (a->kind == K_STR) {       /* strings point into the parent */
        lua_pushvalue(L, 1);
        lua_setiuservalue(L, -2, 1);
    }
    return 1;
}

/* masked(mask): a copy (f64) with NaN where the mask is false, keeping the
 * rows in place (for per-element detail of a subset). */
static int col_masked(lua_State *L)
{
    lcol *a = col_check(L, 1);
    col_need_numeric(L, a, "masked");
    size_t ml = 0;
    const unsigned char *m = mask_arg(L, 2, a, &ml);
    if (!m)
        return sk_lua__errorf(L, "masked: a mask is required");
    lcol *out = col_new(L, K_F64, a->len, a);
    double *o = (double *)out->data;
    size_t mi = 0;
    for (size_t i = 0; i < a->len; i++) {
        if ((i & (SK_COL_CHUNK - 1)) == 0)
            sk_lua__check_deadline(L);
        o[i] = m[mi] ? col_getd(a, i) : NAN;
        if (++mi == ml)
            mi = 0;
    }
    return 1;
}

/* ---- arithmetic ------------------------------------------------------------ */

enum { AR_ADD, AR_SUB, AR_MUL, AR_DIV };

static int col_arith(lua_State *L, int op)
{
    lcol *a = col_test(L, 1), *b = col_test(L, 2);
    int swapped = 0;
    if (!a) {                       /* number op column */
        a = b;
        b = NULL;
        swapped = 1;
    }
    col_need_numeric(L, a, "arithmetic");
    if (b) {
        col_need_numeric(L, b, "arithmetic");
        if (b->len > a->len) {
            lcol *t = a;
            a = b;
            b = t;
            swapped = 1;
        }
        col_check_shape(L, a, b, "arithmetic");
    }
    double x = 0;
    if (!b)
        x = luaL_checknumber(L, swapped ? 1 : 2);
    lcol *out = col_new(L, K_F64, a->len, a);
    double *o = (double *)out->data;
    size_t bi = 0;
    for (size_t start = 0; start < a->len; start += SK_COL_CHUNK) {
        sk_lua__check_deadline(L);
        size_t end = start + SK_COL_CHUNK < a->len ? start + SK_COL_CHUNK : a->len;
        for (size_t i = start; i < end; i++) {
            double u = col_getd(a, i), v;
            if (b) {
                v = col_getd(b, bi);
                if (++bi == b->len)
                    bi = 0;
            } else
                v = x;
            if (swapped) {
                double t = u;
                u = v;
                v = t;
            }
            switch (op) {
            case AR_ADD: o[i] = u + v; break;
            case AR_SUB: o[i] = u - v; break;
            case AR_MUL: o[i] = u * v; break;
            default: o[i] = u / v; break;
            }
        }
    }
    return 1;
}

static int col_add(lua_State *L) { return col_arith(L, AR_ADD); }
static int col_sub(lua_State *L) { return col_arith(L, AR_SUB); }
static int col_mul(lua_State *L) { return col_arith(L, AR_MUL); }
static int col_div(lua_State *L) { return col_arith(L, AR_DIV); }

static int col_unm(lua_State *L)
{
    lcol *a = col_check(L, 1);
    col_need_numeric(L, a, "negation");
    lcol *out = col_new(L, K_F64, a->len, a);
    double *o = (double *)out->data;
    for (size_t i = 0; i < a->len; i++)
        o[i] = -col_getd(a, i);
    return 1;
}

static int col_abs(lua_State *L)
{
    lcol *a = col_check(L, 1);
    col_need_numeric(L, a, "abs");
    lcol *out = col_new(L, K_F64, a->len, a);
    double *o = (double *)out->data;
    for (size_t start = 0; start < a->len; start += SK_COL_CHUNK) {
        sk_lua__check_deadline(L);
        size_t end = start + SK_COL_CHUNK < a->len ? start + SK_COL_CHUNK : a->len;
        for (size_t i = start; i < end; i++)
            o[i] = fabs(col_getd(a, i));
    }
    return 1;
}

/* ---- periods ------------------------------------------------------------- */

/* period(p): rows of period p (1-based) as a view; static columns return
 * themselves. */
static int col_period(lua_State *L)
{
    lcol *a = col_check(L, 1);
    lua_Integer p = luaL_checkinteger(L, 2);
    if (a->nperiods == 0 || a->len != a->nelem * a->nperiods) {
        lua_settop(L, 1);
        return 1;
    }
    luaL_argcheck(L, p >= 1 && (size_t)p <= a->nperiods, 2, "period out of range");
    lcol *v = lua_newuserdatauv(L, sizeof(lcol), 1);
    *v = *a;
    v->len = a->nelem;
    v->nperiods = 0;
    v->data = (const char *)a->data + (size_t)(p - 1) * a->nelem * kind_size(a->kind);
    luaL_setmetatable(L, COL_MT);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    return 1;
}

/* scale_periods({w1, ..., wP}): row of period p times w_p (period lengths
 * as weights before a group_by_area or sum).  Static columns: unchanged
 * copy scaled by w1. */
static int col_scale_periods(lua_State *L)
{
    lcol *a = col_check(L, 1);
    col_need_numeric(L, a, "scale_periods");
    luaL_checktype(L, 2, LUA_TTABLE);
    size_t np = a->nperiods && a->len == a->nelem * a->nperiods ? a->nperiods : 1;
    if ((size_t)lua_rawlen(L, 2) < np)
        return sk_lua__errorf(L, "scale_periods: %zu weights for %zu periods", (size_t)lua_rawlen(L, 2), np);
    lcol *out = col_new(L, K_F64, a->len, a);
    double *o = (double *)out->data;
    size_t ne = a->len / np;
    for (size_t p = 0; p < np; p++) {
        sk_lua__check_deadline(L);
        lua_rawgeti(L, 2, (lua_Integer)p + 1);
        double w = lua_tonumber(L, -1);
        lua_pop(L, 1);
        for (size_t e = 0; e < ne; e++)
            o[p * ne + e] = col_getd(a, p * ne + e) * w;
    }
    return 1;
}

enum { HOW_SUM, HOW_MEAN, HOW_MIN, HOW_MAX, HOW_COUNT };

static int how_arg(lua_State *L, int idx)
{
    static const char *const hows[] = {"sum", "mean", "min", "max", "count", NULL};
    return luaL_checkoption(L, idx, "sum", hows);
}

static double how_finish(int how, const red *r)
{
    switch (how) {
    case HOW_SUM: return r->sum;
    case HOW_MEAN: return r->n ? r->sum / (double)r->n : NAN;
    case HOW_MIN: return r->n ? r->min : NAN;
    case HOW_MAX: return r->n ? r->max : NAN;
    default: return (double)r->n;
    }
}

static void red_add(red *r, double v)
{
    if (v != v)
        return;
    r->sum += v;
    r->n++;
    if (v < r->min) r->min = v;
    if (v > r->max) r->max = v;
}

/* per_period(how [, mask]) -> column of nperiods; per_element(how [, mask])
 * -> column of nelem (over the periods). */
static int col_per_axis(lua_State *L, int by_period)
{
    lcol *a = col_check(L, 1);
    col_need_numeric(L, a, by_period ? "per_period" : "per_element");
    int how = how_arg(L, 2);
    size_t ml = 0;
    const unsigned char *m = mask_arg(L, 3, a, &ml);
    size_t np = a->nperiods && a->len == a->nelem * a->nperiods ? a->nperiods : 1;
    size_t ne = a->len / np;
    size_t nout = by_period ? np : ne;
    red *acc = lua_newuserdatauv(L, (nout ? nout : 1) * sizeof(red), 0);
    for (size_t k = 0; k < nout; k++)
        acc[k] = (red){0.0, INFINITY, -INFINITY, 0};
    size_t mi = 0;
    for (size_t p = 0; p < np; p++) {
        sk_lua__check_deadline(L);
        for (size_t e = 0; e < ne; e++) {
            size_t i = p * ne + e;
            int take = 1;
            if (m) {
                take = m[mi];
                if (++mi == ml)
                    mi = 0;
            }
            if (take)
                red_add(&acc[by_period ? p : e], col_getd(a, i));
        }
    }
    lcol *out = col_new(L, K_F64, nout, NULL);
    if (!by_period) {
        out->table = a->table;
        out->kernel = a->kernel;
        out->nelem = ne;
    }
    double *o = (double *)out->data;
    for (size_t k = 0; k < nout; k++)
        o[k] = how_finish(how, &acc[k]);
    return 1;
}

static int col_per_period(lua_State *L) { return col_per_axis(L, 1); }
static int col_per_element(lua_State *L) { return col_per_axis(L, 0); }

/* ---- areas ----------------------------------------------------------------- */

typedef struct lareas_cache {
    const sk_table *t;
    int32_t *idx;          /* element -> area index, -1 when unmapped */
} lareas_cache;

typedef struct lareas {
    size_t narea;
    const char *const *codes;
    size_t nmap;
    const char *const *mkind, *const *melem, *const *marea;
    int32_t *marea_idx;     /* malloc'ed */
    size_t hcap;
    uint32_t *slots;        /* malloc'ed: map row + 1, 0 empty */
    lareas_cache cache[16];
    int ncache;
} lareas;

static uint64_t fnv(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)a; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    h = (h ^ 0x1f) * 1099511628211ull;
    for (const unsigned char *p = (const unsigned char *)b; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

static int areas_gc(lua_State *L)
{
    lareas *a = luaL_checkudata(L, 1, AREAS_MT);
    free(a->marea_idx);
    free(a->slots);
    for (int i = 0; i < a->ncache; i++)
        free(a->cache[i].idx);
    a->marea_idx = NULL;
    a->slots = NULL;
    a->ncache = 0;
    return 0;
}

static long areas_lookup(const lareas *a, const char *kind, const char *elem)
{
    if (!a->hcap)
        return -1;
    uint64_t h = fnv(kind, elem);
    for (size_t s = h & (a->hcap - 1);; s = (s + 1) & (a->hcap - 1)) {
        uint32_t r = a->slots[s];
        if (!r)
            return -1;
        r--;
        if (strcmp(a->mkind[r], kind) == 0 && strcmp(a->melem[r], elem) == 0)
            return a->marea_idx[r];
    }
}

static const char *const *str_col(const sk_table *t, const char *name)
{
    sk_column *c = t ? sk_table_column(t, name) : NULL;
    return c && c->dtype == SK_DT_STR && c->len >= t->nelem ? (const char *const *)c->data : NULL;
}

void sk_lua__push_areas(lua_State *L, const sk_result *r)
{
    const sk_table *ta = r ? sk_result_table(r, "areas") : NULL;
    if (!ta || !ta->ids_str) {
        lua_pushnil(L);
        return;
    }
    lareas *a = lua_newuserdatauv(L, sizeof *a, 0);
    memset(a, 0, sizeof *a);
    luaL_setmetatable(L, AREAS_MT);
    a->narea = ta->nelem;
    a->codes = (const char *const *)ta->ids_str;
    const sk_table *tm = sk_result_table(r, "area_map");
    a->mkind = str_col(tm, "kind");
    a->melem = str_col(tm, "element");
    a->marea = str_col(tm, "area");
    if (!tm || !a->mkind || !a->melem || !a->marea || tm->nelem == 0)
        return;
    a->nmap = tm->nelem;
    a->marea_idx = malloc(a->nmap * sizeof(int32_t));
    size_t cap = 16;
    while (cap < a->nmap * 2)
        cap <<= 1;
    a->slots = calloc(cap, sizeof(uint32_t));
    if (!a->marea_idx || !a->slots) {
        sk_lua__errorf(L, "out of memory building the area map");
        return;
    }
    a->hcap = cap;
    for (size_t i = 0; i < a->nmap; i++) {
        a->marea_idx[i] = -1;
        for (size_t k = 0; k < a->narea; k++)
            if (strcmp(a->codes[k], a->marea[i]) == 0) {
                a->marea_idx[i] = (int32_t)k;
                break;
            }
        uint64_t h = fnv(a->mkind[i], a->melem[i]);
        size_t s = h & (cap - 1);
        while (a->slots[s])
            s = (s + 1) & (cap - 1);
        a->slots[s] = (uint32_t)i + 1;
    }
}

/* element -> area index for table t, built once per table. */
static const int32_t *areas_index(lua_State *L, lareas *a, const sk_table *t, const char *kernel)
{
    for (int i = 0; i < a->ncache; i++)
        if (a->cache[i].t == t)
            return a->cache[i].idx;
    if (a->ncache == (int)(sizeof a->cache / sizeof a->cache[0]))
        sk_lua__errorf(L, "group_by_area: too many distinct tables");
    int32_t *idx = malloc((t->nelem ? t->nelem : 1) * sizeof(int32_t));
    if (!idx)
        sk_lua__errorf(L, "out of memory building the area index");
    a->cache[a->ncache].t = t;
    a->cache[a->ncache].idx = idx;
    a->ncache++;
    char qkind[128], buf[32];
    snprintf(qkind, sizeof qkind, "%s.%s", kernel ? kernel : "", t->kind ? t->kind : "");
    const char *kind = t->kind ? t->kind : "";
    for (size_t e = 0; e < t->nelem; e++) {
        const char *id;
        if (t->ids_str)
            id = t->ids_str[e];
        else if (t->ids_int) {
            snprintf(buf, sizeof buf, "%lld", (long long)t->ids_int[e]);
            id = buf;
        } else {
            snprintf(buf, sizeof buf, "%zu", e + 1);
            id = buf;
        }
        long k = areas_lookup(a, qkind, id);
        if (k < 0)
            k = areas_lookup(a, kind, id);
        idx[e] = (int32_t)k;
    }
    return idx;
}

/* group_by_area(areas, how [, mask]) -> {code = value} over areas with at
 * least one mapped (and masked-in, non-NaN) row. */
static int col_group_by_area(lua_State *L)
{
    lcol *c = col_check(L, 1);
    col_need_numeric(L, c, "group_by_area");
    if (lua_isnil(L, 2))
        return sk_lua__errorf(L, "group_by_area: no areas in this job (ctx.areas is nil)");
    lareas *a = luaL_checkudata(L, 2, AREAS_MT);
    int how = how_arg(L, 3);
    size_t ml = 0;
    const unsigned char *m = mask_arg(L, 4, c, &ml);
    if (!c->table || !c->nelem || c->len % c->nelem != 0)
        return sk_lua__errorf(L, "group_by_area: column has no element table (after where()?)");
    const int32_t *idx = areas_index(L, a, c->table, c->kernel);
    red *acc = lua_newuserdatauv(L, (a->narea ? a->narea : 1) * sizeof(red), 0);
    for (size_t k = 0; k < a->narea; k++)
        acc[k] = (red){0.0, INFINITY, -INFINITY, 0};
    size_t e = 0, mi = 0;
    for (size_t i = 0; i < c->len; i++) {
        if ((i & (SK_COL_CHUNK - 1)) == 0)
            sk_lua__check_deadline(L);
        int take = 1;
        if (m) {
            take = m[mi];
            if (++mi == ml)
                mi = 0;
        }
        if (take && idx[e] >= 0)
            red_add(&acc[idx[e]], col_getd(c, i));
        if (++e == c->nelem)
            e = 0;
    }
    lua_createtable(L, 0, (int)a->narea);
    for (size_t k = 0; k < a->narea; k++) {
        if (!acc[k].n)
            continue;
        lua_pushnumber(L, how_finish(how, &acc[k]));
        lua_setfield(L, -2, a->codes[k]);
    }
    return 1;
}

/* areas:codes() -> {code, ...} in region order. */
static int areas_codes(lua_State *L)
{
    lareas *a = luaL_checkudata(L, 1, AREAS_MT);
    lua_createtable(L, (int)a->narea, 0);
    for (size_t k = 0; k < a->narea; k++) {
        lua_pushstring(L, a->codes[k]);
        lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
    return 1;
}

/* ---- element access and misc --------------------------------------------- */

static void push_elem(lua_State *L, const lcol *c, size_t i)
{
    switch (c->kind) {
    case K_F64: lua_pushnumber(L, ((const double *)c->data)[i]); break;
    case K_I32: lua_pushinteger(L, ((const int32_t *)c->data)[i]); break;
    case K_I64: lua_pushinteger(L, ((const int64_t *)c->data)[i]); break;
    case K_STR: {
        const char *s = ((const char *const *)c->data)[i];
        lua_pushstring(L, s ? s : "");
        break;
    }
    default: lua_pushboolean(L, ((const unsigned char *)c->data)[i]); break;
    }
}

static int col_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)col_check(L, 1)->len);
    return 1;
}

static int col_info(lua_State *L)
{
    lcol *c = col_check(L, 1);
    const char *what = lua_tostring(L, lua_upvalueindex(1));
    if (strcmp(what, "name") == 0)
        lua_pushstring(L, c->name ? c->name : "");
    else if (strcmp(what, "unit") == 0)
        lua_pushstring(L, c->unit ? c->unit : "");
    else if (strcmp(what, "dtype") == 0)
        lua_pushstring(L, kind_name(c->kind));
    else if (strcmp(what, "nelem") == 0)
        lua_pushinteger(L, (lua_Integer)c->nelem);
    else
        lua_pushinteger(L, (lua_Integer)c->nperiods);
    return 1;
}

/* totable(): a plain Lua array copy (for small columns). */
static int col_totable(lua_State *L)
{
    lcol *c = col_check(L, 1);
    lua_createtable(L, c->len > 1 << 24 ? 0 : (int)c->len, 0);
    for (size_t i = 0; i < c->len; i++) {
        if ((i & (SK_COL_CHUNK - 1)) == 0)
            sk_lua__check_deadline(L);
        push_elem(L, c, i);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int col_index(lua_State *L)
{
    lcol *c = col_check(L, 1);
    if (lua_type(L, 2) == LUA_TNUMBER) {
        lua_Integer i = lua_tointeger(L, 2);
        if (i >= 1 && (size_t)i <= c->len)
            push_elem(L, c, (size_t)i - 1);
        else
            lua_pushnil(L);
        return 1;
    }
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "methods");
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

static int col_newindex(lua_State *L)
{
    return sk_lua__errorf(L, "columns are read-only (use arithmetic or where() for new ones)");
}

static int col_tostring(lua_State *L)
{
    lcol *c = col_check(L, 1);
    lua_pushfstring(L, "column<%s %s, %d rows>", c->name ? c->name : "derived",
                    kind_name(c->kind), (int)c->len);
    return 1;
}

int sk_lua__column_from_array(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    luaL_argcheck(L, n >= 0 && n <= ((lua_Integer)1 << 28), 1, "array too large");
    lcol *out = col_new(L, K_F64, (size_t)n, NULL);
    double *o = (double *)out->data;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        int ok;
        double v = lua_tonumberx(L, -1, &ok);
        o[i - 1] = ok ? v : NAN;
        lua_pop(L, 1);
    }
    return 1;
}

/* ---- table objects --------------------------------------------------------- */

static void push_col(lua_State *L, const sk_column *c, const sk_table *t, const char *kernel)
{
    lcol *u = lua_newuserdatauv(L, sizeof(lcol), 1);
    memset(u, 0, sizeof *u);
    switch (c->dtype) {
    case SK_DT_F64: u->kind = K_F64; break;
    case SK_DT_I32: u->kind = K_I32; break;
    case SK_DT_I64: u->kind = K_I64; break;
    default: u->kind = K_STR; break;
    }
    u->len = c->len;
    u->data = c->data;
    u->table = t;
    u->kernel = kernel;
    u->name = c->name;
    u->unit = c->unit;
    u->nelem = t ? t->nelem : c->len;
    u->nperiods = t && !c->is_static ? t->nperiods : 0;
    if (u->nelem == 0)
        u->nelem = c->len;
    luaL_setmetatable(L, COL_MT);
}

void sk_lua__push_column(lua_State *L, const sk_column *c, const sk_table *t, const char *kernel)
{
    push_col(L, c, t, kernel);
}

static int tab_index(lua_State *L)
{
    ltab *t = luaL_checkudata(L, 1, TAB_MT);
    if (lua_type(L, 2) == LUA_TSTRING) {
        const char *k = lua_tostring(L, 2);
        lua_getiuservalue(L, 1, 1);          /* cache */
        lua_pushvalue(L, 2);
        if (lua_rawget(L, -2) != LUA_TNIL)
            return 1;
        lua_pop(L, 1);
        sk_column *c = sk_table_column(t->t, k);
        if (c) {
            push_col(L, c, t->t, t->kernel);
            lua_pushvalue(L, 2);
            lua_pushvalue(L, -2);
            lua_rawset(L, -4);
            return 1;
        }
    }
    lua_getmetatable(L, 1);
    lua_getfield(L, -1, "methods");
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

static int tab_column(lua_State *L)
{
    ltab *t = luaL_checkudata(L, 1, TAB_MT);
    const char *k = luaL_checkstring(L, 2);
    if (!sk_table_column(t->t, k))
        return sk_lua__errorf(L, "table '%s' has no column '%s'", t->t->name, k);
    lua_settop(L, 2);
    return tab_index(L);
}

static int tab_has(lua_State *L)
{
    ltab *t = luaL_checkudata(L, 1, TAB_MT);
    lua_pushboolean(L, sk_table_column(t->t, luaL_checkstring(L, 2)) != NULL);
    return 1;
}

static int tab_info(lua_State *L)
{
    ltab *t = luaL_checkudata(L, 1, TAB_MT);
    const char *what = lua_tostring(L, lua_upvalueindex(1));
    if (strcmp(what, "nelem") == 0)
        lua_pushinteger(L, (lua_Integer)t->t->nelem);
    else if (strcmp(what, "nperiods") == 0)
        lua_pushinteger(L, (lua_Integer)t->t->nperiods);
    else if (strcmp(what, "name") == 0)
        lua_pushstring(L, t->t->name ? t->t->name : "");
    else
        lua_pushstring(L, t->t->kind ? t->t->kind : "");
    return 1;
}

static int tab_columns(lua_State *L)
{
    ltab *t = luaL_checkudata(L, 1, TAB_MT);
    lua_createtable(L, (int)t->t->ncols, 0);
    for (size_t i = 0; i < t->t->ncols; i++) {
        lua_pushstring(L, t->t->cols[i].name);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* id(i): element id (string or integer), 1-based. */
static int tab_id(lua_State *L)
{
    ltab *t = luaL_checkudata(L, 1, TAB_MT);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (i < 1 || (size_t)i > t->t->nelem)
        lua_pushnil(L);
    else if (t->t->ids_str)
        lua_pushstring(L, t->t->ids_str[i - 1]);
    else if (t->t->ids_int)
        lua_pushinteger(L, t->t->ids_int[i - 1]);
    else
        lua_pushinteger(L, i);
    return 1;
}

/* periods(): column of period start times (s). */
static int tab_periods(lua_State *L)
{
    ltab *t = luaL_checkudata(L, 1, TAB_MT);
    lcol *u = lua_newuserdatauv(L, sizeof(lcol), 1);
    memset(u, 0, sizeof *u);
    u->kind = K_I64;
    u->len = t->t->period_s ? t->t->nperiods : 0;
    u->nelem = u->len;
    u->data = t->t->period_s;
    u->name = "time_s";
    u->unit = "s";
    luaL_setmetatable(L, COL_MT);
    return 1;
}

static int tab_tostring(lua_State *L)
{
    ltab *t = luaL_checkudata(L, 1, TAB_MT);
    lua_pushfstring(L, "table<%s: %d elements, %d periods>", t->t->name,
                    (int)t->t->nelem, (int)t->t->nperiods);
    return 1;
}

void sk_lua__push_table(lua_State *L, const sk_table *t, const char *kernel)
{
    ltab *u = lua_newuserdatauv(L, sizeof *u, 1);
    u->t = t;
    u->kernel = kernel;
    lua_newtable(L);
    lua_setiuservalue(L, -2, 1);
    luaL_setmetatable(L, TAB_MT);
}

static void push_meta_value(lua_State *L, const sk_meta *m)
{
    switch (m->type) {
    case SK_META_STR: lua_pushstring(L, m->s ? m->s : ""); break;
    case SK_META_INT: lua_pushinteger(L, m->i); break;
    case SK_META_F64: lua_pushnumber(L, m->d); break;
    case SK_META_BOOL: lua_pushboolean(L, m->i != 0); break;
    case SK_META_F64V:
        lua_createtable(L, (int)m->n, 0);
        for (size_t i = 0; i < m->n; i++) {
            lua_pushnumber(L, m->dv[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    default:
        lua_createtable(L, (int)m->n, 0);
        for (size_t i = 0; i < m->n; i++) {
            lua_pushinteger(L, m->iv[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
}

void sk_lua__push_result(lua_State *L, const sk_result *r, const char *key)
{
    lua_newtable(L);
    lua_pushstring(L, r->kernel ? r->kernel : "");
    lua_setfield(L, -2, "kernel");
    lua_pushstring(L, r->kernel_version ? r->kernel_version : "");
    lua_setfield(L, -2, "kernel_version");
    lua_pushstring(L, r->input_hash ? r->input_hash : "");
    lua_setfield(L, -2, "input_hash");
    lua_pushboolean(L, r->converged);
    lua_setfield(L, -2, "converged");
    lua_pushinteger(L, r->iterations);
    lua_setfield(L, -2, "iterations");
    lua_pushnumber(L, r->tolerance);
    lua_setfield(L, -2, "tolerance");
    lua_newtable(L);
    for (size_t i = 0; i < r->nmeta; i++) {
        push_meta_value(L, &r->meta[i]);
        lua_setfield(L, -2, r->meta[i].key);
    }
    lua_setfield(L, -2, "meta");
    lua_newtable(L);
    for (size_t i = 0; i < r->ntables; i++) {
        sk_lua__push_table(L, &r->tables[i], key);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, r->tables[i].name);
        /* shortcut results.water.nodes unless it shadows a field */
        lua_getfield(L, -3, r->tables[i].name);
        int taken = !lua_isnil(L, -1);
        lua_pop(L, 1);
        if (!taken)
            lua_setfield(L, -3, r->tables[i].name);
        else
            lua_pop(L, 1);
    }
    lua_setfield(L, -2, "tables");
}

/* ---- registration ----------------------------------------------------------- */

bool sk_lua__column_view(lua_State *L, int idx, sk_lua_colview *v)
{
    lcol *c = col_test(L, idx);
    if (!c)
        return false;
    v->len = c->len;
    v->nelem = c->nelem;
    v->nperiods = c->nperiods;
    v->table = c->table;
    v->kernel = c->kernel;
    v->kind = c->kind;
    v->data = c->data;
    return true;
}

double sk_lua__colview_get(const sk_lua_colview *v, size_t i)
{
    lcol c;
    memset(&c, 0, sizeof c);
    c.kind = v->kind;
    c.data = v->data;
    return col_getd(&c, i);
}

static const luaL_Reg col_methods[] = {
    {"sum", col_sum},           {"mean", col_mean},
    {"min", col_min},           {"max", col_max},
    {"count", col_count},       {"quantile", col_quantile},
    {"lt", col_lt},             {"le", col_le},
    {"gt", col_gt},             {"ge", col_ge},
    {"eq", col_eq},             {"ne", col_ne},
    {"ieq", col_ieq},
    {"between", col_between},   {"where", col_where},
    {"filter", col_where},      {"masked", col_masked},
    {"land", col_band},
    {"lor", col_bor},           {"lnot", col_bnot},
    {"abs", col_abs},           {"period", col_period},
    {"per_period", col_per_period}, {"per_element", col_per_element},
    {"scale_periods", col_scale_periods},
    {"group_by_area", col_group_by_area},
    {"totable", col_totable},   {"len", col_len},
    {NULL, NULL},
};

static const luaL_Reg col_meta[] = {
    {"__index", col_index},     {"__newindex", col_newindex},
    {"__len", col_len},         {"__tostring", col_tostring},
    {"__add", col_add},         {"__sub", col_sub},
    {"__mul", col_mul},         {"__div", col_div},
    {"__unm", col_unm},         {"__band", col_band},
    {"__bor", col_bor},         {"__bnot", col_bnot},
    {NULL, NULL},
};

static const luaL_Reg tab_methods[] = {
    {"column", tab_column},     {"has", tab_has},
    {"columns", tab_columns},   {"id", tab_id},
    {"periods", tab_periods},
    {NULL, NULL},
};

static void add_info(lua_State *L, const char *name, lua_CFunction f)
{
    lua_pushstring(L, name);
    lua_pushcclosure(L, f, 1);
    lua_setfield(L, -2, name);
}

void sk_lua__column_open(lua_State *L)
{
    luaL_newmetatable(L, COL_MT);
    luaL_setfuncs(L, col_meta, 0);
    luaL_newlib(L, col_methods);
    add_info(L, "name", col_info);
    add_info(L, "unit", col_info);
    add_info(L, "dtype", col_info);
    add_info(L, "nelem", col_info);
    add_info(L, "nperiods", col_info);
    lua_setfield(L, -2, "methods");
    lua_pushliteral(L, COL_MT);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);

    luaL_newmetatable(L, TAB_MT);
    lua_pushcfunction(L, tab_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, col_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, tab_tostring);
    lua_setfield(L, -2, "__tostring");
    luaL_newlib(L, tab_methods);
    add_info(L, "nelem", tab_info);
    add_info(L, "nperiods", tab_info);
    add_info(L, "name", tab_info);
    add_info(L, "kind", tab_info);
    lua_setfield(L, -2, "methods");
    lua_pushliteral(L, TAB_MT);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);

    luaL_newmetatable(L, AREAS_MT);
    lua_pushcfunction(L, areas_gc);
    lua_setfield(L, -2, "__gc");
    lua_newtable(L);
    lua_pushcfunction(L, areas_codes);
    lua_setfield(L, -2, "codes");
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, col_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, AREAS_MT);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}
