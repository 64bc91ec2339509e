/* tr_read.c - TNTP readers: net, trips and node-coordinate files.
 *
 * Each reader walks a buffer (not NUL-terminated) line by line and fills a
 * struct of arrays.  Errors name "file:line: reason".  Quirks handled (see
 * ../shared/data/traffic/README.md): tabs or spaces anywhere, trailing tabs
 * after metadata values, tabs between tag and value, `~` comments, `;`
 * glued to the last number, b as small as 1e-71 (denormal-safe parsing),
 * non-integer powers, zero and intrazonal trips (dropped, intrazonal total
 * kept), duplicate links (kept), CRLF line ends. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tr_internal.h"

typedef struct lineit {
    const char *p, *end;
    const char *ls, *le;   /* current line, comment and CR stripped */
    long lineno;
} lineit;

static int next_line(lineit *it)
{
    if (it->p >= it->end)
        return 0;
    const char *s = it->p;
    const char *nl = memchr(s, '\n', (size_t)(it->end - s));
    const char *e = nl ? nl : it->end;
    it->p = nl ? nl + 1 : it->end;
    it->lineno++;
    it->ls = s;
    it->le = e;
    return 1;
}

static int is_sp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

static void trim(const char **s, const char **e)
{
    while (*s < *e && (is_sp(**s) || **s == '\0'))
        (*s)++;
    while (*e > *s && (is_sp((*e)[-1]) || (*e)[-1] == '\0'))
        (*e)--;
}

/* Strip a `~` comment (outside metadata tags). */
static const char *comment_cut(const char *s, const char *e)
{
    const char *t = memchr(s, '~', (size_t)(e - s));
    return t ? t : e;
}

/* Compare a metadata tag (between < and >) case-insensitively, ignoring
 * repeated blanks. */
static int tag_is(const char *t, size_t tl, const char *want)
{
    size_t i = 0, j = 0, wl = strlen(want);
    while (i < tl && j < wl) {
        if (is_sp(t[i]) && want[j] == ' ') {
            while (i < tl && is_sp(t[i]))
                i++;
            j++;
            continue;
        }
        if (toupper((unsigned char)t[i]) != want[j])
            return 0;
        i++;
        j++;
    }
    while (i < tl && is_sp(t[i]))
        i++;
    return i == tl && j == wl;
}

/* Parse a metadata line "<TAG> value": returns 1 and sets tag/value spans,
 * 0 when the line is not a tag. */
static int meta_split(const char *s, const char *e, const char **tag, size_t *taglen,
                      const char **vs, const char **ve)
{
    if (s >= e || *s != '<')
        return 0;
    const char *gt = memchr(s, '>', (size_t)(e - s));
    if (!gt)
        return 0;
    *tag = s + 1;
    *taglen = (size_t)(gt - s - 1);
    *vs = gt + 1;
    *ve = e;
    trim(vs, ve);
    return 1;
}

static int meta_number(tr_numparser *np, const char *vs, const char *ve, double *out)
{
    const char *c = comment_cut(vs, ve);
    trim(&vs, &c);
    if (vs >= c)
        return -1;
    size_t k = tr_parse_double(np, vs, c, out);
    if (k == 0 || !isfinite(*out))
        return -1;
    vs += k;
    trim(&vs, &c);
    return vs == c ? 0 : -1;
}

static int meta_int(tr_numparser *np, const char *vs, const char *ve, int32_t lo, int32_t hi, int32_t *out)
{
    double d;
    if (meta_number(np, vs, ve, &d) < 0 || d != floor(d) || d < lo || d > hi)
        return -1;
    *out = (int32_t)d;
    return 0;
}

/* ---- net file ---------------------------------------------------------- */

void sk_traffic_net_free(sk_traffic_net *n)
{
    if (!n)
        return;
    free(n->from); free(n->to); free(n->capacity); free(n->length); free(n->fft);
    free(n->b); free(n->power); free(n->speed); free(n->toll); free(n->type);
    free(n);
}

static int net_alloc(sk_traffic_net *n, size_t cap)
{
    n->from = malloc(cap * sizeof(int32_t));
    n->to = malloc(cap * sizeof(int32_t));
    n->type = malloc(cap * sizeof(int32_t));
    n->capacity = malloc(cap * sizeof(double));
    n->length = malloc(cap * sizeof(double));
    n->fft = malloc(cap * sizeof(double));
    n->b = malloc(cap * sizeof(double));
    n->power = malloc(cap * sizeof(double));
    n->speed = malloc(cap * sizeof(double));
    n->toll = malloc(cap * sizeof(double));
    return n->from && n->to && n->type && n->capacity && n->length && n->fft && n->b &&
                   n->power && n->speed && n->toll ? 0 : -1;
}

#define NET_MAX_NODES 50000000
#define NET_MAX_LINKS 200000000

sk_traffic_net *sk_traffic_net_read(const char *data, size_t len, const char *fname, sk_error *err)
{
    if (!fname)
        fname = "net";
    sk_traffic_net *n = calloc(1, sizeof *n);
    tr_numparser *np = tr_num_new();
    if (!n || !np) {
        free(n);
        tr_num_free(np);
        tr_fail(err, SK_ENOMEM, "%s: out of memory", fname);
        return NULL;
    }
    n->first_thru = 1;
    n->nzones = n->nnodes = n->nlinks = -1;
    int32_t declared_links = -1;
    lineit it = {data, data + len, NULL, NULL, 0};
    int in_meta = 1, rc = 0;
    size_t cap = 0;

#define FAIL(...) do { rc = tr_fail(err, SK_EINVAL, __VA_ARGS__); goto out; } while (0)
    while (next_line(&it)) {
        const char *s = it.ls, *e = it.le;
        trim(&s, &e);
        if (in_meta) {
            const char *tag, *vs, *ve;
            size_t tl;
            if (s == e || *s == '~')
                continue;
            if (!meta_split(s, e, &tag, &tl, &vs, &ve))
                FAIL("%s:%ld: expected a <TAG> metadata line or <END OF METADATA>", fname, it.lineno);
            if (tag_is(tag, tl, "END OF METADATA")) {
                in_meta = 0;
                if (n->nnodes < 0)
                    FAIL("%s:%ld: <NUMBER OF NODES> missing before <END OF METADATA>", fname, it.lineno);
                if (n->nzones < 0)
                    FAIL("%s:%ld: <NUMBER OF ZONES> missing before <END OF METADATA>", fname, it.lineno);
                if (n->nzones > n->nnodes)
                    FAIL("%s:%ld: %d zones but only %d nodes", fname, it.lineno, n->nzones, n->nnodes);
                if (n->first_thru > n->nnodes + 1)
                    FAIL("%s:%ld: <FIRST THRU NODE> %d beyond %d nodes", fname, it.lineno, n->first_thru, n->nnodes);
                cap = declared_links > 0 ? (size_t)declared_links : 64;
                if (net_alloc(n, cap) < 0) {
                    rc = tr_fail(err, SK_ENOMEM, "%s: out of memory", fname);
                    goto out;
                }
                n->nlinks = 0;
            } else if (tag_is(tag, tl, "NUMBER OF ZONES")) {
                if (meta_int(np, vs, ve, 0, NET_MAX_NODES, &n->nzones) < 0)
                    FAIL("%s:%ld: <NUMBER OF ZONES>: expected a count", fname, it.lineno);
            } else if (tag_is(tag, tl, "NUMBER OF NODES")) {
                if (meta_int(np, vs, ve, 1, NET_MAX_NODES, &n->nnodes) < 0)
                    FAIL("%s:%ld: <NUMBER OF NODES>: expected a count >= 1", fname, it.lineno);
            } else if (tag_is(tag, tl, "FIRST THRU NODE")) {
                if (meta_int(np, vs, ve, 0, NET_MAX_NODES, &n->first_thru) < 0)
                    FAIL("%s:%ld: <FIRST THRU NODE>: expected a node number", fname, it.lineno);
                if (n->first_thru < 1)
                    n->first_thru = 1;
            } else if (tag_is(tag, tl, "NUMBER OF LINKS")) {
                if (meta_int(np, vs, ve, 0, NET_MAX_LINKS, &declared_links) < 0)
                    FAIL("%s:%ld: <NUMBER OF LINKS>: expected a count", fname, it.lineno);
            } else if (tag_is(tag, tl, "TOLL FACTOR")) {
                if (meta_number(np, vs, ve, &n->toll_factor) < 0)
                    FAIL("%s:%ld: <TOLL FACTOR>: expected a number", fname, it.lineno);
            } else if (tag_is(tag, tl, "DISTANCE FACTOR")) {
                if (meta_number(np, vs, ve, &n->distance_factor) < 0)
                    FAIL("%s:%ld: <DISTANCE FACTOR>: expected a number", fname, it.lineno);
            }
            /* Other tags (<ORIGINAL HEADER>, ...) carry nothing we use. */
            continue;
        }
        e = comment_cut(s, e);
        trim(&s, &e);
        if (s == e)
            continue;
        /* Fields up to ';' (which may be glued to the last number). */
        double f[10];
        int nf = 0, semi = 0;
        const char *p = s;
        int64_t ids[2];
        while (p < e) {
            while (p < e && is_sp(*p))
                p++;
            if (p >= e)
                break;
            if (*p == ';') {
                semi = 1;
                p++;
                while (p < e && is_sp(*p))
                    p++;
                if (p < e)
                    FAIL("%s:%ld: text after ';'", fname, it.lineno);
                break;
            }
            if (nf >= 10)
                FAIL("%s:%ld: more than 10 fields on a link line", fname, it.lineno);
            size_t k;
            if (nf < 2) {
                k = tr_parse_int(p, e, &ids[nf]);
                if (k && p + k < e && !is_sp(p[k]) && p[k] != ';')
                    k = 0;
                if (!k)
                    FAIL("%s:%ld: field %d (%s node): expected an integer node number", fname, it.lineno,
                         nf + 1, nf == 0 ? "init" : "term");
                f[nf] = 0;
            } else {
                k = tr_parse_double(np, p, e, &f[nf]);
                if (k && p + k < e && !is_sp(p[k]) && p[k] != ';')
                    k = 0;
                if (!k || !isfinite(f[nf]))
                    FAIL("%s:%ld: field %d: expected a number", fname, it.lineno, nf + 1);
            }
            p += k;
            nf++;
        }
        (void)semi;
        if (nf < 7)
            FAIL("%s:%ld: link line has %d fields, expected init term capacity length fft b power "
                 "[speed toll type] ;", fname, it.lineno, nf);
        for (int i = nf; i < 10; i++)
            f[i] = 0;
        for (int i = 0; i < 2; i++)
            if (ids[i] < 1 || ids[i] > n->nnodes)
                FAIL("%s:%ld: %s node %lld out of range 1..%d", fname, it.lineno, i ? "term" : "init",
                     (long long)ids[i], n->nnodes);
        double capv = f[2], lenv = f[3], fftv = f[4], bv = f[5], pw = f[6];
        if (fftv < 0)
            FAIL("%s:%ld: negative free-flow time %g", fname, it.lineno, fftv);
        if (bv < 0)
            FAIL("%s:%ld: negative b %g", fname, it.lineno, bv);
        if (pw < 0 || pw > 100)
            FAIL("%s:%ld: power %g outside 0..100", fname, it.lineno, pw);
        if (bv > 0 && pw > 0 && !(capv > 0))
            FAIL("%s:%ld: capacity %g must be > 0 when b > 0 and power > 0", fname, it.lineno, capv);
        if (f[9] != floor(f[9]) || fabs(f[9]) > 2e9)
            FAIL("%s:%ld: link type %g is not an integer", fname, it.lineno, f[9]);
        if ((size_t)n->nlinks == cap) {
            if (cap >= NET_MAX_LINKS)
                FAIL("%s:%ld: too many links", fname, it.lineno);
            size_t nc = cap * 2;
            int32_t **ip[] = {&n->from, &n->to, &n->type};
            double **dp[] = {&n->capacity, &n->length, &n->fft, &n->b, &n->power, &n->speed, &n->toll};
            for (size_t i = 0; i < 3; i++) {
                void *q = realloc(*ip[i], nc * sizeof(int32_t));
                if (!q) { rc = tr_fail(err, SK_ENOMEM, "%s: out of memory", fname); goto out; }
                *ip[i] = q;
            }
            for (size_t i = 0; i < 7; i++) {
                void *q = realloc(*dp[i], nc * sizeof(double));
                if (!q) { rc = tr_fail(err, SK_ENOMEM, "%s: out of memory", fname); goto out; }
                *dp[i] = q;
            }
            cap = nc;
        }
        int32_t a = n->nlinks++;
        n->from[a] = (int32_t)ids[0];
        n->to[a] = (int32_t)ids[1];
        n->capacity[a] = capv;
        n->length[a] = lenv;
        n->fft[a] = fftv;
        n->b[a] = bv;
        n->power[a] = pw;
        n->speed[a] = f[7];
        n->toll[a] = f[8];
        n->type[a] = (int32_t)f[9];
    }
    if (in_meta)
        FAIL("%s:%ld: no <END OF METADATA>", fname, it.lineno);
    if (declared_links >= 0 && declared_links != n->nlinks)
        FAIL("%s:%ld: <NUMBER OF LINKS> says %d but the file has %d link lines", fname, it.lineno,
             declared_links, n->nlinks);
    if (n->nlinks == 0)
        FAIL("%s:%ld: no links", fname, it.lineno);
#undef FAIL
out:
    tr_num_free(np);
    if (rc < 0) {
        sk_traffic_net_free(n);
        return NULL;
    }
    return n;
}

/* ---- trips file -------------------------------------------------------- */

void sk_traffic_trips_free(sk_traffic_trips *t)
{
    if (!t)
        return;
    free(t->orig);
    free(t->dest);
    free(t->demand);
    free(t);
}

static int trips_push(sk_traffic_trips *t, int32_t o, int32_t d, double v)
{
    if (t->nod == t->capod) {
        size_t nc = t->capod ? t->capod * 2 : 256;
        int32_t *a = realloc(t->orig, nc * sizeof *a);
        if (!a) return -1;
        t->orig = a;
        int32_t *b = realloc(t->dest, nc * sizeof *b);
        if (!b) return -1;
        t->dest = b;
        double *c = realloc(t->demand, nc * sizeof *c);
        if (!c) return -1;
        t->demand = c;
        t->capod = nc;
    }
    t->orig[t->nod] = o;
    t->dest[t->nod] = d;
    t->demand[t->nod] = v;
    t->nod++;
    return 0;
}

sk_traffic_trips *sk_traffic_trips_read(const char *data, size_t len, const char *fname, sk_error *err)
{
    if (!fname)
        fname = "trips";
    sk_traffic_trips *t = calloc(1, sizeof *t);
    tr_numparser *np = tr_num_new();
    if (!t || !np) {
        free(t);
        tr_num_free(np);
        tr_fail(err, SK_ENOMEM, "%s: out of memory", fname);
        return NULL;
    }
    t->nzones = -1;
    t->total_declared = NAN;
    lineit it = {data, data + len, NULL, NULL, 0};
    int in_meta = 1, rc = 0;
    int32_t origin = -1;
#define FAIL(...) do { rc = tr_fail(err, SK_EINVAL, __VA_ARGS__); goto out; } while (0)
    while (next_line(&it)) {
        const char *s = it.ls, *e = it.le;
        trim(&s, &e);
        if (in_meta) {
            const char *tag, *vs, *ve;
            size_t tl;
            if (s == e || *s == '~')
                continue;
            if (!meta_split(s, e, &tag, &tl, &vs, &ve))
                FAIL("%s:%ld: expected a <TAG> metadata line or <END OF METADATA>", fname, it.lineno);
            if (tag_is(tag, tl, "END OF METADATA")) {
                if (t->nzones < 0)
                    FAIL("%s:%ld: <NUMBER OF ZONES> missing before <END OF METADATA>", fname, it.lineno);
                in_meta = 0;
            } else if (tag_is(tag, tl, "NUMBER OF ZONES")) {
                if (meta_int(np, vs, ve, 1, NET_MAX_NODES, &t->nzones) < 0)
                    FAIL("%s:%ld: <NUMBER OF ZONES>: expected a count >= 1", fname, it.lineno);
            } else if (tag_is(tag, tl, "TOTAL OD FLOW")) {
                if (meta_number(np, vs, ve, &t->total_declared) < 0)
                    FAIL("%s:%ld: <TOTAL OD FLOW>: expected a number", fname, it.lineno);
            }
            continue;
        }
        e = comment_cut(s, e);
        const char *p = s;
        while (p < e) {
            while (p < e && is_sp(*p))
                p++;
            if (p >= e)
                break;
            if ((size_t)(e - p) >= 6 && strncasecmp(p, "origin", 6) == 0) {
                p += 6;
                while (p < e && is_sp(*p))
                    p++;
                int64_t o;
                size_t k = tr_parse_int(p, e, &o);
                if (!k)
                    FAIL("%s:%ld: 'Origin' must be followed by a zone number", fname, it.lineno);
                if (o < 1 || o > t->nzones)
                    FAIL("%s:%ld: origin %lld out of range 1..%d", fname, it.lineno, (long long)o, t->nzones);
                origin = (int32_t)o;
                p += k;
                continue;
            }
            int64_t d;
            size_t k = tr_parse_int(p, e, &d);
            if (!k)
                FAIL("%s:%ld: expected 'Origin o' or 'd : demand;'", fname, it.lineno);
            if (origin < 0)
                FAIL("%s:%ld: demand entry before any 'Origin' line", fname, it.lineno);
            if (d < 1 || d > t->nzones)
                FAIL("%s:%ld: destination %lld out of range 1..%d", fname, it.lineno, (long long)d, t->nzones);
            p += k;
            while (p < e && is_sp(*p))
                p++;
            if (p >= e || *p != ':')
                FAIL("%s:%ld: expected ':' after destination %lld", fname, it.lineno, (long long)d);
            p++;
            while (p < e && is_sp(*p))
                p++;
            double v;
            k = tr_parse_double(np, p, e, &v);
            if (!k || !isfinite(v))
                FAIL("%s:%ld: expected a demand after '%lld :'", fname, it.lineno, (long long)d);
            if (v < 0)
                FAIL("%s:%ld: negative demand %g from %d to %lld", fname, it.lineno, v, origin, (long long)d);
            p += k;
            while (p < e && is_sp(*p))
                p++;
            if (p < e) {
                if (*p != ';')
                    FAIL("%s:%ld: expected ';' after the demand from %d to %lld", fname, it.lineno, origin,
                         (long long)d);
                p++;
            }
            if (d == origin) {
                t->intrazonal += v;
                continue;
            }
            if (v == 0)
                continue;
            if (trips_push(t, origin, (int32_t)d, v) < 0) {
                rc = tr_fail(err, SK_ENOMEM, "%s: out of memory", fname);
                goto out;
            }
            t->total += v;
        }
    }
    if (in_meta)
        FAIL("%s:%ld: no <END OF METADATA>", fname, it.lineno);
#undef FAIL
out:
    tr_num_free(np);
    if (rc < 0) {
        sk_traffic_trips_free(t);
        return NULL;
    }
    return t;
}

/* ---- node coordinates ------------------------------------------------- */

void sk_traffic_nodes_free(sk_traffic_nodes *nd)
{
    if (!nd)
        return;
    free(nd->x);
    free(nd->y);
    free(nd->has);
    free(nd);
}

static int nodes_grow(sk_traffic_nodes *nd, int32_t need)
{
    if (need <= nd->nnodes)
        return 0;
    int32_t nc = nd->nnodes ? nd->nnodes : 64;
    while (nc < need)
        nc = nc > NET_MAX_NODES / 2 ? NET_MAX_NODES : nc * 2;
    double *x = realloc(nd->x, (size_t)nc * sizeof *x);
    if (!x) return -1;
    nd->x = x;
    double *y = realloc(nd->y, (size_t)nc * sizeof *y);
    if (!y) return -1;
    nd->y = y;
    uint8_t *h = realloc(nd->has, (size_t)nc);
    if (!h) return -1;
    nd->has = h;
    memset(nd->has + nd->nnodes, 0, (size_t)(nc - nd->nnodes));
    for (int32_t i = nd->nnodes; i < nc; i++)
        nd->x[i] = nd->y[i] = NAN;
    nd->nnodes = nc;
    return 0;
}

sk_traffic_nodes *sk_traffic_nodes_read(const char *data, size_t len, const char *fname, int32_t nnodes,
                                        sk_error *err)
{
    if (!fname)
        fname = "nodes";
    sk_traffic_nodes *nd = calloc(1, sizeof *nd);
    tr_numparser *np = tr_num_new();
    int rc = 0;
    int32_t maxid = 0;
    if (!nd || !np || (nnodes > 0 && nodes_grow(nd, nnodes) < 0)) {
        rc = tr_fail(err, SK_ENOMEM, "%s: out of memory", fname);
        goto out;
    }
    lineit it = {data, data + len, NULL, NULL, 0};
    int seen_header = 0;
#define FAIL(...) do { rc = tr_fail(err, SK_EINVAL, __VA_ARGS__); goto out; } while (0)
    while (next_line(&it)) {
        const char *s = it.ls, *e = it.le;
        e = comment_cut(s, e);
        trim(&s, &e);
        if (s == e)
            continue;
        if (!seen_header && !(isdigit((unsigned char)*s))) {
            seen_header = 1;   /* "Node X Y ;" */
            continue;
        }
        seen_header = 1;
        int64_t id;
        size_t k = tr_parse_int(s, e, &id);
        if (!k || (s + k < e && !is_sp(s[k])))
            FAIL("%s:%ld: expected 'node x y ;'", fname, it.lineno);
        if (id < 1 || id > NET_MAX_NODES || (nnodes > 0 && id > nnodes))
            FAIL("%s:%ld: node %lld out of range", fname, it.lineno, (long long)id);
        const char *p = s + k;
        double xy[2];
        for (int i = 0; i < 2; i++) {
            while (p < e && is_sp(*p))
                p++;
            k = tr_parse_double(np, p, e, &xy[i]);
            if (!k || !isfinite(xy[i]))
                FAIL("%s:%ld: expected coordinate %c of node %lld", fname, it.lineno, i ? 'y' : 'x', (long long)id);
            p += k;
        }
        while (p < e && is_sp(*p))
            p++;
        if (p < e && *p == ';')
            p++;
        while (p < e && is_sp(*p))
            p++;
        if (p < e)
            FAIL("%s:%ld: unexpected text after the coordinates", fname, it.lineno);
        if (nodes_grow(nd, (int32_t)id) < 0) {
            rc = tr_fail(err, SK_ENOMEM, "%s: out of memory", fname);
            goto out;
        }
        nd->x[id - 1] = xy[0];
        nd->y[id - 1] = xy[1];
        nd->has[id - 1] = 1;
        if (id > maxid)
            maxid = (int32_t)id;
    }
    if (nnodes <= 0)
        nd->nnodes = maxid;
#undef FAIL
out:
    tr_num_free(np);
    if (rc < 0) {
        sk_traffic_nodes_free(nd);
        return NULL;
    }
    return nd;
}
