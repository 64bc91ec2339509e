/* rg_merge.c - stitch member networks into one region network per kernel.
 *
 * Members are read from their files (the generator's layout), so any member
 * written in the same formats can be merged.  Ids get the municipality
 * prefix "<code>_" (water), bus numbers become code*1000000 + bus (power),
 * and TNTP nodes are renumbered with per-member offsets (zones first, as
 * TNTP requires; traffic_node_map.csv records the mapping).  Ties come from
 * the merge spec; areas.csv maps every element to its municipality. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rg_internal.h"

#define MAXTOK 64

typedef struct member {
    int code;
    char name[48];
    long pop;
    char dir[4096];
    /* traffic */
    char *tnet, *ttrips, *tnode;
    size_t tnet_len, ttrips_len, tnode_len;
    long nz, nn, ftn, nl;
    long zoff, noff;              /* merged zone = zoff + z; merged node = Z + noff + (n - nz) */
    /* water ids (unprefixed), for validating ties */
    char *water;
    size_t water_len;
    char **wnode;
    long nwnode, capwnode;
    /* power */
    char *power, *prof;
    size_t power_len, prof_len;
    double pd_sum;
    int64_t *bus;
    long nbus, capbus;
    sk_region_counts cnt;
} member;

typedef struct tie {
    int kind;          /* 'r' road, 'm' main, 't' tie, 'd' demand */
    int a, b;          /* member indexes */
    char ea[64], eb[64];
    double v[5];
    long line;
} tie;

typedef struct merge {
    const char *spec_name;
    member *m;
    int nm;
    tie *t;
    long nt, capt;
    int region_code;
    char region_name[48];
    rg_buf areas;
    sk_region_counts ties;
    sk_region_counts total;
} merge;

static void member_free(member *m)
{
    free(m->tnet); free(m->ttrips); free(m->tnode); free(m->water); free(m->power); free(m->prof);
    for (long i = 0; i < m->nwnode; i++)
        free(m->wnode[i]);
    free(m->wnode);
    free(m->bus);
}

static int find_member(const merge *g, long code)
{
    for (int i = 0; i < g->nm; i++)
        if (g->m[i].code == code)
            return i;
    return -1;
}

static int write_in(const char *dir, const char *name, const rg_buf *b, sk_region_error *err)
{
    char path[4096];
    if (rg_path(path, sizeof path, dir, name) < 0)
        return rg_fail(err, SK_REGION_EINVAL, "%s/%s: path too long", dir, name);
    return rg_write_file(path, b, err);
}

static int read_in(const member *m, const char *name, char **data, size_t *len, sk_region_error *err)
{
    char path[4096];
    if (rg_path(path, sizeof path, m->dir, name) < 0)
        return rg_fail(err, SK_REGION_EINVAL, "%s/%s: path too long", m->dir, name);
    return rg_read_file(path, data, len, err);
}

/* ---- region.csv and the spec -------------------------------------------- */

static int read_region(merge *g, const char *indir, sk_region_error *err)
{
    char path[4096], *data;
    size_t len;
    if (rg_path(path, sizeof path, indir, "region.csv") < 0)
        return rg_fail(err, SK_REGION_EINVAL, "%s: path too long", indir);
    int rc = rg_read_file(path, &data, &len, err);
    if (rc < 0)
        return rc;
    rg_lines it;
    rg_lines_init(&it, data, len);
    g->m = calloc(SK_REGION_MAX_MUNI, sizeof *g->m);
    if (!g->m) {
        free(data);
        return rg_fail(err, SK_REGION_ENOMEM, "out of memory");
    }
    while (rg_lines_next(&it)) {
        if (it.ls == it.le || it.ls[0] == '#' || (it.lineno == 1 && strncmp(it.ls, "code,", 5) == 0))
            continue;
        const char *c1 = memchr(it.ls, ',', (size_t)(it.le - it.ls));
        const char *c2 = c1 ? memchr(c1 + 1, ',', (size_t)(it.le - c1 - 1)) : NULL;
        long code, pop;
        if (!c2 || memchr(c2 + 1, ',', (size_t)(it.le - c2 - 1)) || rg_parse_long(it.ls, (size_t)(c1 - it.ls), &code) ||
            rg_parse_long(c2 + 1, (size_t)(it.le - c2 - 1), &pop) || code <= 0 || code > 999999 || pop < 0 ||
            c2 - c1 - 1 >= 48) {
            free(data);
            return rg_fail(err, SK_REGION_EINVAL, "%s:%ld: expected code,name,population", path, it.lineno);
        }
        if (find_member(g, code) >= 0 || g->nm == SK_REGION_MAX_MUNI) {
            free(data);
            return rg_fail(err, SK_REGION_EINVAL, "%s:%ld: municipality %ld repeated or too many", path, it.lineno,
                           code);
        }
        member *m = &g->m[g->nm++];
        m->code = (int)code;
        m->pop = pop;
        memcpy(m->name, c1 + 1, (size_t)(c2 - c1 - 1));
        snprintf(m->dir, sizeof m->dir, "%s/%ld", indir, code);
    }
    free(data);
    if (g->nm == 0)
        return rg_fail(err, SK_REGION_EINVAL, "%s: no municipalities", path);
    return 0;
}

static int tok_str(const rg_tok *t, char *out, size_t n)
{
    if (t->n == 0 || t->n >= n)
        return -1;
    memcpy(out, t->s, t->n);
    out[t->n] = 0;
    return 0;
}

static int tok_num(const rg_tok *t, double *v)
{
    return rg_parse_double(t->s, t->n, v);
}

static int read_spec(merge *g, const char *path, sk_region_error *err)
{
    char *data;
    size_t len;
    int rc = rg_read_file(path, &data, &len, err);
    if (rc < 0)
        return rc;
    g->spec_name = path;
    rg_lines it;
    rg_lines_init(&it, data, len);
    int keep[SK_REGION_MAX_MUNI] = {0}, nkeep = 0;
    rg_tok t[MAXTOK];
#define SPECFAIL(...) do { rc = rg_fail(err, SK_REGION_EINVAL, __VA_ARGS__); goto out; } while (0)
    while (rg_lines_next(&it)) {
        const char *e = memchr(it.ls, '#', (size_t)(it.le - it.ls));
        int n = rg_tokens(it.ls, e ? e : it.le, t, MAXTOK);
        if (n == 0)
            continue;
        if (rg_tok_eq(&t[0], "region")) {
            long code;
            if (n < 3 || rg_parse_long(t[1].s, t[1].n, &code) || code <= 0)
                SPECFAIL("%s:%ld: expected 'region CODE NAME'", path, it.lineno);
            g->region_code = (int)code;
            size_t nl = (size_t)((e ? e : it.le) - t[2].s);
            while (nl > 0 && (t[2].s[nl - 1] == ' ' || t[2].s[nl - 1] == '\t'))
                nl--;
            if (nl >= sizeof g->region_name)
                SPECFAIL("%s:%ld: region name too long", path, it.lineno);
            memcpy(g->region_name, t[2].s, nl);
            g->region_name[nl] = 0;
            continue;
        }
        if (rg_tok_eq(&t[0], "member")) {
            long code;
            int k;
            if (n != 2 || rg_parse_long(t[1].s, t[1].n, &code))
                SPECFAIL("%s:%ld: expected 'member CODE'", path, it.lineno);
            if ((k = find_member(g, code)) < 0)
                SPECFAIL("%s:%ld: municipality %ld is not in region.csv", path, it.lineno, code);
            if (!keep[k])
                nkeep++;
            keep[k] = 1;
            continue;
        }
        int kind = rg_tok_eq(&t[0], "road") ? 'r' : rg_tok_eq(&t[0], "main") ? 'm' : rg_tok_eq(&t[0], "tie") ? 't'
                 : rg_tok_eq(&t[0], "demand") ? 'd' : 0;
        static const int want[128] = {['r'] = 8, ['m'] = 8, ['t'] = 9, ['d'] = 4};
        static const char *const usage[128] = {
            ['r'] = "road CODE_A NODE_A CODE_B NODE_B CAPACITY LENGTH_KM SPEED_KMH",
            ['m'] = "main CODE_A JUNCTION_A CODE_B JUNCTION_B LENGTH DIAMETER ROUGHNESS",
            ['t'] = "tie CODE_A BUS_A CODE_B BUS_B R X B RATE_A",
            ['d'] = "demand CODE_A CODE_B TRIPS",
        };
        if (!kind)
            SPECFAIL("%s:%ld: unknown statement '%.*s' (region, member, road, main, tie, demand)", path, it.lineno,
                     (int)t[0].n, t[0].s);
        if (n != want[kind])
            SPECFAIL("%s:%ld: expected '%s'", path, it.lineno, usage[kind]);
        tie x = {0};
        x.kind = kind;
        x.line = it.lineno;
        long ca, cb;
        int ib = kind == 'd' ? 2 : 3;
        if (rg_parse_long(t[1].s, t[1].n, &ca) || rg_parse_long(t[ib].s, t[ib].n, &cb))
            SPECFAIL("%s:%ld: expected '%s'", path, it.lineno, usage[kind]);
        x.a = find_member(g, ca);
        x.b = find_member(g, cb);
        if (x.a < 0 || x.b < 0)
            SPECFAIL("%s:%ld: municipality %ld is not in region.csv", path, it.lineno, x.a < 0 ? ca : cb);
        if (x.a == x.b)
            SPECFAIL("%s:%ld: a tie needs two different municipalities", path, it.lineno);
        int first = kind == 'd' ? 3 : 5;
        if (kind != 'd' && (tok_str(&t[2], x.ea, sizeof x.ea) || tok_str(&t[4], x.eb, sizeof x.eb)))
            SPECFAIL("%s:%ld: element id too long", path, it.lineno);
        for (int i = first; i < n; i++)
            if (tok_num(&t[i], &x.v[i - first]) || x.v[i - first] < 0 ||
                (x.v[i - first] == 0 && !(kind == 't' && i - first == 2)))
                SPECFAIL("%s:%ld: '%.*s' is not a positive number", path, it.lineno, (int)t[i].n, t[i].s);
        if (g->nt == g->capt) {
            long cap = g->capt ? g->capt * 2 : 32;
            tie *nt = realloc(g->t, (size_t)cap * sizeof *nt);
            if (!nt) {
                rc = rg_fail(err, SK_REGION_ENOMEM, "out of memory");
                goto out;
            }
            g->t = nt;
            g->capt = cap;
        }
        g->t[g->nt++] = x;
    }
    /* `member` lines restrict the region to those members (in region.csv
     * order); ties to others are an error. */
    if (nkeep) {
        int map[SK_REGION_MAX_MUNI], k = 0;
        for (int i = 0; i < g->nm; i++) {
            map[i] = keep[i] ? k : -1;
            if (keep[i])
                g->m[k++] = g->m[i];
        }
        g->nm = k;
        for (long i = 0; i < g->nt; i++) {
            if (map[g->t[i].a] < 0 || map[g->t[i].b] < 0)
                SPECFAIL("%s:%ld: tie to a municipality that is not a member", path, g->t[i].line);
            g->t[i].a = map[g->t[i].a];
            g->t[i].b = map[g->t[i].b];
        }
    }
out:
#undef SPECFAIL
    free(data);
    return rc;
}

/* ---- traffic ------------------------------------------------------------ */

static long tmap(const merge *g, const member *m, long n)
{
    long Z = 0;
    for (int i = 0; i < g->nm; i++)
        Z += g->m[i].nz;
    return n <= m->nz ? m->zoff + n : Z + m->noff + (n - m->nz);
}

static const char *strip_comment(const char *s, const char *e, char c)
{
    const char *p = memchr(s, c, (size_t)(e - s));
    return p ? p : e;
}

static int traffic_meta(member *m, sk_region_error *err)
{
    rg_lines it;
    rg_lines_init(&it, m->tnet, m->tnet_len);
    m->nz = m->nn = m->nl = -1;
    m->ftn = 1;
    while (rg_lines_next(&it)) {
        const char *s = it.ls, *e = it.le;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        if (s == e || *s != '<')
            continue;
        const char *gt = memchr(s, '>', (size_t)(e - s));
        if (!gt)
            return rg_fail(err, SK_REGION_EINVAL, "%s/traffic_net.tntp:%ld: unterminated <TAG>", m->dir, it.lineno);
        size_t tn = (size_t)(gt - s + 1);
        if (tn == 18 && memcmp(s, "<END OF METADATA>", 17) == 0)
            break;
        rg_tok v[2];
        int nv = rg_tokens(gt + 1, e, v, 2);
        long val;
        long *dst = tn == 17 && !memcmp(s, "<NUMBER OF ZONES>", 17)   ? &m->nz
                  : tn == 17 && !memcmp(s, "<NUMBER OF NODES>", 17)   ? &m->nn
                  : tn == 17 && !memcmp(s, "<NUMBER OF LINKS>", 17)   ? &m->nl
                  : tn == 17 && !memcmp(s, "<FIRST THRU NODE>", 17)   ? &m->ftn
                                                                      : NULL;
        if (!dst)
            continue;
        if (nv != 1 || rg_parse_long(v[0].s, v[0].n, &val) || val < 0)
            return rg_fail(err, SK_REGION_EINVAL, "%s/traffic_net.tntp:%ld: expected a count after the tag", m->dir,
                           it.lineno);
        *dst = val;
    }
    if (m->nz < 1 || m->nn < m->nz || m->nl < 0)
        return rg_fail(err, SK_REGION_EINVAL, "%s/traffic_net.tntp: missing or inconsistent zone/node/link counts",
                       m->dir);
    return 0;
}

typedef struct odent {
    int32_t o, d;
    double v;
} odent;

typedef struct odvec {
    odent *e;
    size_t n, cap;
} odvec;

static int od_push(odvec *v, long o, long d, double x)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 1024;
        odent *ne = realloc(v->e, cap * sizeof *ne);
        if (!ne)
            return -1;
        v->e = ne;
        v->cap = cap;
    }
    v->e[v->n++] = (odent){(int32_t)o, (int32_t)d, x};
    return 0;
}

/* Trips of one member (renumbered); also sums demand by origin and destination. */
static int read_trips(const merge *g, member *m, odvec *od, double *osum, double *dsum, sk_region_error *err)
{
    rg_lines it;
    rg_lines_init(&it, m->ttrips, m->ttrips_len);
    long origin = -1;
    int meta = 1;
    while (rg_lines_next(&it)) {
        const char *s = it.ls, *e = strip_comment(it.ls, it.le, '~');
        if (meta) {
            if (memmem(s, (size_t)(e - s), "<END OF METADATA>", 17))
                meta = 0;
            continue;
        }
        rg_tok t[3];
        if (rg_tokens(s, e, t, 3) == 0)
            continue;
        if (rg_tok_eq(&t[0], "Origin")) {
            if (rg_tokens(s, e, t, 3) != 2 || rg_parse_long(t[1].s, t[1].n, &origin) || origin < 1 || origin > m->nz)
                return rg_fail(err, SK_REGION_EINVAL, "%s/traffic_trips.tntp:%ld: bad Origin line", m->dir, it.lineno);
            continue;
        }
        /* "d : v ;" repeated; separators may touch the numbers. */
        const char *p = s;
        while (p < e) {
            while (p < e && (*p == ' ' || *p == '\t' || *p == ';'))
                p++;
            if (p >= e)
                break;
            const char *colon = memchr(p, ':', (size_t)(e - p));
            const char *semi = colon ? memchr(colon, ';', (size_t)(e - colon)) : NULL;
            const char *vend = semi ? semi : e;
            rg_tok a[2], b[2];
            long d;
            double v;
            if (origin < 0 || !colon || rg_tokens(p, colon, a, 2) != 1 || rg_tokens(colon + 1, vend, b, 2) != 1 ||
                rg_parse_long(a[0].s, a[0].n, &d) || tok_num(&b[0], &v) || d < 1 || d > m->nz || v < 0)
                return rg_fail(err, SK_REGION_EINVAL, "%s/traffic_trips.tntp:%ld: expected 'dest : demand ;'", m->dir,
                               it.lineno);
            if (v > 0) {
                if (od_push(od, tmap(g, m, origin), tmap(g, m, d), v) < 0)
                    return rg_fail(err, SK_REGION_ENOMEM, "out of memory");
                osum[m->zoff + origin - 1] += v;
                dsum[m->zoff + d - 1] += v;
                m->cnt.traffic_od++;
            }
            p = vend;
        }
    }
    return 0;
}

static int cmp_od(const void *a, const void *b)
{
    const odent *x = a, *y = b;
    if (x->o != y->o)
        return x->o < y->o ? -1 : 1;
    return (x->d > y->d) - (x->d < y->d);
}

static int merge_traffic(merge *g, const char *outdir, sk_region_error *err)
{
    long Z = 0, N = 0, L = 0, nroads = 0;
    int ftn_zp1 = 0, ftn_one = 0;
    int rc = 0;
    for (int i = 0; i < g->nm; i++) {
        member *m = &g->m[i];
        if ((rc = traffic_meta(m, err)) < 0)
            return rc;
        m->zoff = Z;
        Z += m->nz;
        ftn_zp1 += m->ftn == m->nz + 1;
        ftn_one += m->ftn <= 1;
    }
    if (ftn_zp1 != g->nm && ftn_one != g->nm)
        return rg_fail(err, SK_REGION_EINVAL, "traffic: every member needs <FIRST THRU NODE> 1, or every member zones+1");
    for (int i = 0; i < g->nm; i++) {
        g->m[i].noff = N;
        N += g->m[i].nn - g->m[i].nz;
        L += g->m[i].nl;
    }
    N += Z;
    for (long k = 0; k < g->nt; k++)
        if (g->t[k].kind == 'r') {
            tie *x = &g->t[k];
            const member *ma = &g->m[x->a], *mb = &g->m[x->b];
            long na, nb;
            if (rg_parse_long(x->ea, strlen(x->ea), &na) || rg_parse_long(x->eb, strlen(x->eb), &nb) ||
                na <= (ftn_zp1 ? ma->nz : 0) || na > ma->nn || nb <= (ftn_zp1 ? mb->nz : 0) || nb > mb->nn)
                return rg_fail(err, SK_REGION_EINVAL, "%s:%ld: road ends must be through nodes of the members (%s, %s)",
                               g->spec_name, x->line, x->ea, x->eb);
            nroads++;
        }
    rg_buf net = {0}, trips = {0}, nodes = {0}, map = {0};
    odvec od = {0};
    double *osum = calloc((size_t)Z, sizeof *osum), *dsum = calloc((size_t)Z, sizeof *dsum);
    if (!osum || !dsum) {
        rc = rg_fail(err, SK_REGION_ENOMEM, "out of memory");
        goto out;
    }
    rg_buf_printf(&net, "<NUMBER OF ZONES> %ld\n<NUMBER OF NODES> %ld\n<FIRST THRU NODE> %ld\n<NUMBER OF LINKS> %ld\n"
                        "<ORIGINAL HEADER> samskap region merge: %d members, %ld inter-municipal roads\n"
                        "<END OF METADATA>\n\n",
                  Z, N, ftn_zp1 ? Z + 1 : 1, L + 2 * nroads, g->nm, nroads);
    rg_buf_puts(&net, "~\tinit\tterm\tcapacity\tlength\tfree_flow_time\tb\tpower\tspeed\ttoll\tlink_type\t;\n");
    rg_buf_puts(&map, "area,member_node,merged_node\n");
    rg_buf_puts(&g->areas, "# traffic.link: 1-based link index in traffic_net.tntp; traffic.node: merged node number\n");
    long link = 0;
    for (int i = 0; i < g->nm; i++) {
        member *m = &g->m[i];
        for (long n = 1; n <= m->nn; n++) {
            rg_buf_printf(&map, "%d,%ld,%ld\n", m->code, n, tmap(g, m, n));
            rg_buf_printf(&g->areas, "map,traffic.node,%ld,%d\n", tmap(g, m, n), m->code);
        }
        rg_lines it;
        rg_lines_init(&it, m->tnet, m->tnet_len);
        int meta = 1;
        long nl = 0;
        while (rg_lines_next(&it)) {
            const char *s = it.ls, *e = strip_comment(it.ls, it.le, '~');
            if (meta) {
                if (memmem(s, (size_t)(e - s), "<END OF METADATA>", 17))
                    meta = 0;
                continue;
            }
            rg_tok t[MAXTOK];
            const char *semi = strip_comment(s, e, ';');
            int nt = rg_tokens(s, semi, t, MAXTOK);
            if (nt == 0)
                continue;
            long a, b;
            if (nt < 3 || nt > MAXTOK || rg_parse_long(t[0].s, t[0].n, &a) || rg_parse_long(t[1].s, t[1].n, &b) ||
                a < 1 || a > m->nn || b < 1 || b > m->nn) {
                rc = rg_fail(err, SK_REGION_EINVAL, "%s/traffic_net.tntp:%ld: expected 'init term ... ;'", m->dir,
                             it.lineno);
                goto out;
            }
            rg_buf_printf(&net, "\t%ld\t%ld", tmap(g, m, a), tmap(g, m, b));
            for (int k = 2; k < nt; k++) {
                rg_buf_puts(&net, "\t");
                rg_buf_put(&net, t[k].s, t[k].n);
            }
            rg_buf_puts(&net, "\t;\n");
            rg_buf_printf(&g->areas, "map,traffic.link,%ld,%d\n", ++link, m->code);
            nl++;
        }
        if (nl != m->nl) {
            rc = rg_fail(err, SK_REGION_EINVAL, "%s/traffic_net.tntp: %ld links, the metadata says %ld", m->dir, nl, m->nl);
            goto out;
        }
        m->cnt.traffic_zones = m->nz;
        m->cnt.traffic_nodes = m->nn;
        m->cnt.traffic_links = m->nl;
        if ((rc = read_trips(g, m, &od, osum, dsum, err)) < 0)
            goto out;
    }
    rg_buf_puts(&g->areas, "# inter-municipal roads belong to the municipality of their first end\n");
    for (long k = 0; k < g->nt; k++) {
        tie *x = &g->t[k];
        if (x->kind != 'r')
            continue;
        long na = tmap(g, &g->m[x->a], atol(x->ea)), nb = tmap(g, &g->m[x->b], atol(x->eb));
        double fft = x->v[1] / x->v[2] * 60.0;
        for (int rev = 0; rev < 2; rev++) {
            rg_buf_printf(&net, "\t%ld\t%ld\t%.0f\t%.4f\t%.4f\t0.15\t4\t%.0f\t0\t4\t;\n", rev ? nb : na, rev ? na : nb,
                          x->v[0], x->v[1], fft, x->v[2]);
            rg_buf_printf(&g->areas, "map,traffic.link,%ld,%d\n", ++link, g->m[rev ? x->b : x->a].code);
        }
        g->ties.traffic_links += 2;
    }
    /* Commuting between members: T each way, spread over zone pairs in
     * proportion to the origin zone's trips and the destination zone's
     * attractions within their own municipality. */
    for (long k = 0; k < g->nt; k++) {
        tie *x = &g->t[k];
        if (x->kind != 'd')
            continue;
        for (int dir = 0; dir < 2; dir++) {
            const member *ma = &g->m[dir ? x->b : x->a], *mb = &g->m[dir ? x->a : x->b];
            double so = 0, sd = 0;
            for (long z = 0; z < ma->nz; z++)
                so += osum[ma->zoff + z];
            for (long z = 0; z < mb->nz; z++)
                sd += dsum[mb->zoff + z];
            if (so <= 0 || sd <= 0) {
                rc = rg_fail(err, SK_REGION_EINVAL, "%s:%ld: demand between members without trips", g->spec_name, x->line);
                goto out;
            }
            for (long zi = 0; zi < ma->nz; zi++)
                for (long zj = 0; zj < mb->nz; zj++) {
                    double v = round(x->v[0] * osum[ma->zoff + zi] / so * dsum[mb->zoff + zj] / sd * 10000.0) / 10000.0;
                    if (v > 0) {
                        if (od_push(&od, ma->zoff + zi + 1, mb->zoff + zj + 1, v) < 0) {
                            rc = rg_fail(err, SK_REGION_ENOMEM, "out of memory");
                            goto out;
                        }
                        g->ties.traffic_od++;
                    }
                }
        }
    }
    qsort(od.e, od.n, sizeof *od.e, cmp_od);
    double tot = 0;
    for (size_t k = 0; k < od.n; k++)
        tot += od.e[k].v;
    rg_buf_printf(&trips, "<NUMBER OF ZONES> %ld\n<TOTAL OD FLOW> %.4f\n<END OF METADATA>\n\n", Z, tot);
    for (size_t k = 0; k < od.n;) {
        rg_buf_printf(&trips, "Origin %d\n", od.e[k].o);
        int col = 0;
        int32_t o = od.e[k].o;
        for (; k < od.n && od.e[k].o == o; k++) {
            rg_buf_printf(&trips, "%6d : %.10g;", od.e[k].d, od.e[k].v);
            if (++col == 5) {
                rg_buf_puts(&trips, "\n");
                col = 0;
            }
        }
        rg_buf_puts(&trips, col ? "\n\n" : "\n");
    }
    rg_buf_puts(&nodes, "Node\tX\tY\t;\n");
    for (int i = 0; i < g->nm; i++) {
        member *m = &g->m[i];
        rg_lines it;
        rg_lines_init(&it, m->tnode, m->tnode_len);
        while (rg_lines_next(&it)) {
            rg_tok t[4];
            const char *e = strip_comment(it.ls, it.le, ';');
            int nt = rg_tokens(it.ls, e, t, 4);
            long id;
            double xx, yy;
            if (nt == 0 || (it.lineno == 1 && rg_parse_long(t[0].s, t[0].n, &id)))
                continue;   /* header */
            if (nt != 3 || rg_parse_long(t[0].s, t[0].n, &id) || id < 1 || id > m->nn || tok_num(&t[1], &xx) ||
                tok_num(&t[2], &yy)) {
                rc = rg_fail(err, SK_REGION_EINVAL, "%s/traffic_node.tntp:%ld: expected 'node x y ;'", m->dir, it.lineno);
                goto out;
            }
            rg_buf_printf(&nodes, "%ld\t%.*s\t%.*s\t;\n", tmap(g, m, id), (int)t[1].n, t[1].s, (int)t[2].n, t[2].s);
        }
    }
    g->total.traffic_zones = Z;
    g->total.traffic_nodes = N;
    g->total.traffic_links = L + 2 * nroads;
    g->total.traffic_od = (long)od.n;
    if ((rc = write_in(outdir, "traffic_net.tntp", &net, err)) < 0 ||
        (rc = write_in(outdir, "traffic_trips.tntp", &trips, err)) < 0 ||
        (rc = write_in(outdir, "traffic_node.tntp", &nodes, err)) < 0 ||
        (rc = write_in(outdir, "traffic_node_map.csv", &map, err)) < 0)
        goto out;
out:
    free(osum); free(dsum); free(od.e);
    rg_buf_free(&net); rg_buf_free(&trips); rg_buf_free(&nodes); rg_buf_free(&map);
    return rc;
}

/* ---- water -------------------------------------------------------------- */

enum { W_JUNCTIONS, W_RESERVOIRS, W_TANKS, W_PIPES, W_PUMPS, W_VALVES, W_DEMANDS, W_STATUS, W_EMITTERS,
       W_PATTERNS, W_CURVES, W_CONTROLS, W_TIMES, W_OPTIONS, W_COORDINATES, W_VERTICES, W_NSEC,
       W_DROP = 100, W_RULES = 101 };

static const struct {
    const char *name;
    int sec;
    int ids[4];        /* token positions holding ids (-1 ends) */
} wsecs[] = {
    {"JUNCTIONS", W_JUNCTIONS, {0, 3, -1}},   {"RESERVOIRS", W_RESERVOIRS, {0, 2, -1}},
    {"TANKS", W_TANKS, {0, 7, -1}},           {"PIPES", W_PIPES, {0, 1, 2, -1}},
    {"PUMPS", W_PUMPS, {0, 1, 2, -1}},        {"VALVES", W_VALVES, {0, 1, 2, -1}},
    {"DEMANDS", W_DEMANDS, {0, 2, -1}},       {"STATUS", W_STATUS, {0, -1}},
    {"EMITTERS", W_EMITTERS, {0, -1}},        {"PATTERNS", W_PATTERNS, {0, -1}},
    {"CURVES", W_CURVES, {0, -1}},            {"CONTROLS", W_CONTROLS, {-1}},
    {"TIMES", W_TIMES, {-1}},                 {"OPTIONS", W_OPTIONS, {-1}},
    {"COORDINATES", W_COORDINATES, {0, -1}},  {"VERTICES", W_VERTICES, {0, -1}},
    /* Not simulated by the water kernel or per-file presentation: dropped. */
    {"TITLE", W_DROP, {-1}},    {"TAGS", W_DROP, {-1}},     {"QUALITY", W_DROP, {-1}},
    {"SOURCES", W_DROP, {-1}},  {"REACTIONS", W_DROP, {-1}}, {"MIXING", W_DROP, {-1}},
    {"ENERGY", W_DROP, {-1}},   {"REPORT", W_DROP, {-1}},   {"LABELS", W_DROP, {-1}},
    {"BACKDROP", W_DROP, {-1}}, {"END", W_DROP, {-1}},      {"LEAKAGE", W_DROP, {-1}},
    {"RULES", W_RULES, {-1}},
};

static int str_push(char ***v, long *n, long *cap, const char *s, size_t len)
{
    if (*n == *cap) {
        long c = *cap ? *cap * 2 : 256;
        char **nv = realloc(*v, (size_t)c * sizeof *nv);
        if (!nv)
            return -1;
        *v = nv;
        *cap = c;
    }
    char *d = malloc(len + 1);
    if (!d)
        return -1;
    memcpy(d, s, len);
    d[len] = 0;
    (*v)[(*n)++] = d;
    return 0;
}

static int has_wnode(const member *m, const char *id)
{
    for (long i = 0; i < m->nwnode; i++)
        if (strcmp(m->wnode[i], id) == 0)
            return 1;
    return 0;
}

/* Append id with the member's prefix; EPANET ids are at most 31 characters. */
static int put_id(rg_buf *b, const member *m, const rg_tok *t)
{
    char pre[16];
    int n = snprintf(pre, sizeof pre, "%d_", m->code);
    if ((size_t)n + t->n > 31)
        return -1;
    rg_buf_puts(b, pre);
    rg_buf_put(b, t->s, t->n);
    return 0;
}

static int merge_water(merge *g, const char *outdir, sk_region_error *err)
{
    rg_buf sec[W_NSEC];
    memset(sec, 0, sizeof sec);
    char units[32] = "", headloss[32] = "";
    int rc = 0;
    long link = 0;
    rg_buf nodes_map = {0}, links_map = {0};
    for (int i = 0; i < g->nm; i++) {
        member *m = &g->m[i];
        rg_lines it;
        rg_lines_init(&it, m->water, m->water_len);
        int cur = W_DROP;
        char m_units[32] = "GPM", m_headloss[32] = "H-W";
#define WFAIL(...) do { rc = rg_fail(err, SK_REGION_EINVAL, __VA_ARGS__); goto out; } while (0)
        while (rg_lines_next(&it)) {
            const char *e = strip_comment(it.ls, it.le, ';');
            rg_tok t[MAXTOK];
            int nt = rg_tokens(it.ls, e, t, MAXTOK);
            if (nt == 0)
                continue;
            if (t[0].s[0] == '[') {
                const char *rb = memchr(t[0].s, ']', t[0].n);
                if (!rb)
                    WFAIL("%s/water.inp:%ld: bad section header", m->dir, it.lineno);
                size_t len = (size_t)(rb - t[0].s - 1);
                cur = -1;
                for (size_t k = 0; k < sizeof wsecs / sizeof wsecs[0]; k++)
                    if (strlen(wsecs[k].name) == len && strncasecmp(wsecs[k].name, t[0].s + 1, len) == 0)
                        cur = (int)k;
                if (cur < 0)
                    WFAIL("%s/water.inp:%ld: section %.*s cannot be merged", m->dir, it.lineno, (int)t[0].n, t[0].s);
                cur = wsecs[cur].sec == W_DROP ? W_DROP : cur;
                continue;
            }
            if (cur == W_DROP)
                continue;
            int s = wsecs[cur].sec;
            if (s == W_RULES)
                WFAIL("%s/water.inp:%ld: [RULES] cannot be merged (rename their ids by hand)", m->dir, it.lineno);
            if (nt > MAXTOK)
                WFAIL("%s/water.inp:%ld: too many fields", m->dir, it.lineno);
            if (s == W_TIMES) {
                if (i == 0) {
                    rg_buf_put(&sec[s], it.ls, (size_t)(e - it.ls));
                    rg_buf_puts(&sec[s], "\n");
                }
                continue;
            }
            if (s == W_OPTIONS) {
                if (rg_tok_eq(&t[0], "Units") && nt >= 2)
                    snprintf(m_units, sizeof m_units, "%.*s", (int)t[1].n, t[1].s);
                else if (rg_tok_eq(&t[0], "Headloss") && nt >= 2)
                    snprintf(m_headloss, sizeof m_headloss, "%.*s", (int)t[1].n, t[1].s);
                if (i > 0 || rg_tok_eq(&t[0], "Hydraulics") || rg_tok_eq(&t[0], "Map"))
                    continue;
                if (rg_tok_eq(&t[0], "Pattern") && nt == 2) {
                    rg_buf_puts(&sec[s], " Pattern\t");
                    if (put_id(&sec[s], m, &t[1]) < 0)
                        WFAIL("%s/water.inp:%ld: id too long with its prefix", m->dir, it.lineno);
                    rg_buf_puts(&sec[s], "\n");
                    continue;
                }
                rg_buf_put(&sec[s], it.ls, (size_t)(e - it.ls));
                rg_buf_puts(&sec[s], "\n");
                continue;
            }
            /* Which tokens are ids. */
            unsigned long long idmask = 0;
            for (int k = 0; k < 4 && wsecs[cur].ids[k] >= 0; k++)
                if (wsecs[cur].ids[k] < nt && !(t[wsecs[cur].ids[k]].n == 1 && t[wsecs[cur].ids[k]].s[0] == '*'))
                    idmask |= 1ULL << wsecs[cur].ids[k];
            if (s == W_PUMPS)
                for (int k = 3; k + 1 < nt; k++)
                    if (rg_tok_eq(&t[k], "HEAD") || rg_tok_eq(&t[k], "PATTERN"))
                        idmask |= 1ULL << (k + 1);
            if (s == W_VALVES && nt > 5 && rg_tok_eq(&t[4], "GPV"))
                idmask |= 1ULL << 5;
            if (s == W_CONTROLS)
                for (int k = 0; k + 1 < nt; k++)
                    if (rg_tok_eq(&t[k], "LINK") || rg_tok_eq(&t[k], "NODE"))
                        idmask |= 1ULL << (k + 1);
            rg_buf *o = &sec[s];
            rg_buf_puts(o, " ");
            for (int k = 0; k < nt; k++) {
                if (k)
                    rg_buf_puts(o, "\t");
                if (idmask & (1ULL << k)) {
                    if (put_id(o, m, &t[k]) < 0)
                        WFAIL("%s/water.inp:%ld: id '%.*s' too long with its prefix", m->dir, it.lineno, (int)t[k].n,
                              t[k].s);
                } else
                    rg_buf_put(o, t[k].s, t[k].n);
            }
            rg_buf_puts(o, "\n");
            if (s == W_JUNCTIONS || s == W_RESERVOIRS || s == W_TANKS) {
                if (str_push(&m->wnode, &m->nwnode, &m->capwnode, t[0].s, t[0].n) < 0) {
                    rc = rg_fail(err, SK_REGION_ENOMEM, "out of memory");
                    goto out;
                }
                rg_buf_printf(&nodes_map, "map,water.node,%d_%.*s,%d\n", m->code, (int)t[0].n, t[0].s, m->code);
                m->cnt.water_nodes++;
            } else if (s == W_PIPES || s == W_PUMPS || s == W_VALVES) {
                rg_buf_printf(&links_map, "map,water.link,%d_%.*s,%d\n", m->code, (int)t[0].n, t[0].s, m->code);
                m->cnt.water_links++;
                link++;
            }
        }
        if (i == 0) {
            snprintf(units, sizeof units, "%s", m_units);
            snprintf(headloss, sizeof headloss, "%s", m_headloss);
        } else if (strcasecmp(units, m_units) || strcasecmp(headloss, m_headloss))
            WFAIL("%s/water.inp: units %s/%s differ from the first member's %s/%s", m->dir, m_units, m_headloss, units,
                  headloss);
        g->total.water_nodes += m->cnt.water_nodes;
        g->total.water_links += m->cnt.water_links;
    }
    rg_buf_puts(&links_map, "# inter-municipal mains belong to the municipality of their first end\n");
    long nmain = 0;
    for (long k = 0; k < g->nt; k++) {
        tie *x = &g->t[k];
        if (x->kind != 'm')
            continue;
        const member *ma = &g->m[x->a], *mb = &g->m[x->b];
        if (!has_wnode(ma, x->ea) || !has_wnode(mb, x->eb))
            WFAIL("%s:%ld: main ends %s (%d) and %s (%d) must be water nodes of the members", g->spec_name, x->line,
                  x->ea, ma->code, x->eb, mb->code);
        nmain++;
        rg_buf_printf(&sec[W_PIPES], " TIE%ld_%d_%d\t%d_%s\t%d_%s\t%.10g\t%.10g\t%.10g\t0\tOpen\n", nmain, ma->code,
                      mb->code, ma->code, x->ea, mb->code, x->eb, x->v[0], x->v[1], x->v[2]);
        rg_buf_printf(&links_map, "map,water.link,TIE%ld_%d_%d,%d\n", nmain, ma->code, mb->code, ma->code);
        g->ties.water_links++;
        g->total.water_links++;
    }
#undef WFAIL
    rg_buf out = {0};
    rg_buf_printf(&out, "[TITLE]\nsamskap region merge: %d members (%s), %ld inter-municipal mains\n", g->nm,
                  g->region_name[0] ? g->region_name : "region", nmain);
    for (int s = 0; s < W_NSEC; s++) {
        const char *name = NULL;
        for (size_t k = 0; k < sizeof wsecs / sizeof wsecs[0]; k++)
            if (wsecs[k].sec == s)
                name = wsecs[k].name;
        if (!sec[s].len)
            continue;
        rg_buf_printf(&out, "\n[%s]\n", name);
        rg_buf_put(&out, sec[s].p, sec[s].len);
        if (sec[s].oom)
            out.oom = 1;
    }
    rg_buf_puts(&out, "\n[END]\n");
    rg_buf_puts(&g->areas, "# water.node / water.link: prefixed EPANET ids\n");
    rg_buf_put(&g->areas, nodes_map.p ? nodes_map.p : "", nodes_map.len);
    rg_buf_put(&g->areas, links_map.p ? links_map.p : "", links_map.len);
    if (nodes_map.oom || links_map.oom)
        g->areas.oom = 1;
    rc = write_in(outdir, "water.inp", &out, err);
    rg_buf_free(&out);
out:
    for (int s = 0; s < W_NSEC; s++)
        rg_buf_free(&sec[s]);
    rg_buf_free(&nodes_map);
    rg_buf_free(&links_map);
    return rc;
}

/* ---- power -------------------------------------------------------------- */

#define BUS_OFFSET 1000000L   /* merged bus = code * BUS_OFFSET + member bus */

enum { P_BUS, P_GEN, P_BRANCH, P_GENCOST, P_NMAT };

/* Walk a MATPOWER case: calls row() for each matrix row of bus, gen,
 * branch and gencost (other fields are skipped). */
typedef int (*prow_fn)(void *ud, int mat, rg_tok *t, int nt, long line);

static int walk_case(const member *m, double *base_mva, prow_fn row, void *ud, sk_region_error *err)
{
    rg_lines it;
    rg_lines_init(&it, m->power, m->power_len);
    int mat = -2;     /* -2 outside a matrix, -1 inside a skipped one */
    char close = ']';
    *base_mva = NAN;
    while (rg_lines_next(&it)) {
        const char *s = it.ls, *e = strip_comment(it.ls, it.le, '%');
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        if (s == e)
            continue;
        if (mat == -2) {
            if (strncmp(s, "function", 8) == 0)
                continue;
            if (strncmp(s, "mpc.", 4) != 0)
                return rg_fail(err, SK_REGION_EINVAL, "%s/power.m:%ld: expected an mpc. field", m->dir, it.lineno);
            const char *eq = memchr(s, '=', (size_t)(e - s));
            if (!eq)
                return rg_fail(err, SK_REGION_EINVAL, "%s/power.m:%ld: expected '='", m->dir, it.lineno);
            rg_tok f[2];
            rg_tokens(s + 4, eq, f, 2);
            const char *v = eq + 1;
            while (v < e && (*v == ' ' || *v == '\t'))
                v++;
            if (rg_tok_eq(&f[0], "baseMVA")) {
                const char *ve = strip_comment(v, e, ';');
                rg_tok n[2];
                if (rg_tokens(v, ve, n, 2) != 1 || tok_num(&n[0], base_mva) || !(*base_mva > 0))
                    return rg_fail(err, SK_REGION_EINVAL, "%s/power.m:%ld: bad baseMVA", m->dir, it.lineno);
                continue;
            }
            if (rg_tok_eq(&f[0], "version")) {
                if (!memmem(v, (size_t)(e - v), "'2'", 3))
                    return rg_fail(err, SK_REGION_EINVAL, "%s/power.m:%ld: only MATPOWER case version 2", m->dir,
                                   it.lineno);
                continue;
            }
            if (v < e && (*v == '[' || *v == '{')) {
                close = *v == '[' ? ']' : '}';
                mat = rg_tok_eq(&f[0], "bus") ? P_BUS : rg_tok_eq(&f[0], "gen") ? P_GEN
                    : rg_tok_eq(&f[0], "branch") ? P_BRANCH : rg_tok_eq(&f[0], "gencost") ? P_GENCOST : -1;
                if (close == '}')
                    mat = -1;
                s = v + 1;
            } else
                continue;   /* other scalars */
        }
        /* Inside a matrix: rows end at ';' or the end of the line. */
        const char *p = s;
        while (p < e) {
            const char *cl = memchr(p, close, (size_t)(e - p));
            const char *stop = cl ? cl : e;
            const char *semi = memchr(p, ';', (size_t)(stop - p));
            const char *re = semi ? semi : stop;
            rg_tok t[MAXTOK];
            int nt = rg_tokens(p, re, t, MAXTOK);
            if (nt > MAXTOK)
                return rg_fail(err, SK_REGION_EINVAL, "%s/power.m:%ld: row too long", m->dir, it.lineno);
            if (nt > 0 && mat >= 0) {
                int rc = row(ud, mat, t, nt, it.lineno);
                if (rc < 0)
                    return rc;
            }
            p = semi ? semi + 1 : stop;
            if (!semi && cl) {
                mat = -2;
                break;
            }
            if (!semi)
                break;
        }
    }
    if (mat != -2)
        return rg_fail(err, SK_REGION_EINVAL, "%s/power.m: unterminated matrix", m->dir);
    if (isnan(*base_mva))
        return rg_fail(err, SK_REGION_EINVAL, "%s/power.m: no mpc.baseMVA", m->dir);
    return 0;
}

typedef struct pstate {
    merge *g;
    member *m;
    sk_region_error *err;
    int pass;            /* 0: collect bus numbers and counts; 1: write */
    rg_buf *out[P_NMAT];
    rg_buf *areas;
    long nrow[P_NMAT];   /* merged row counters */
    long ngencost_m;     /* this member's gencost rows */
} pstate;

static int64_t pbus(const member *m, long b)
{
    return (int64_t)m->code * BUS_OFFSET + b;
}

static int power_row(void *ud, int mat, rg_tok *t, int nt, long line)
{
    pstate *ps = ud;
    member *m = ps->m;
    static const int mincols[P_NMAT] = {13, 10, 13, 4};
    if (nt < mincols[mat])
        return rg_fail(ps->err, SK_REGION_EINVAL, "%s/power.m:%ld: %d columns, at least %d expected", m->dir, line, nt,
                       mincols[mat]);
    long a = 0, b = 0;
    if (mat != P_GENCOST &&
        (rg_parse_long(t[0].s, t[0].n, &a) || a < 1 || a >= BUS_OFFSET ||
         (mat == P_BRANCH && (rg_parse_long(t[1].s, t[1].n, &b) || b < 1 || b >= BUS_OFFSET))))
        return rg_fail(ps->err, SK_REGION_EINVAL, "%s/power.m:%ld: bus numbers must be integers 1..%ld", m->dir, line,
                       BUS_OFFSET - 1);
    if (ps->pass == 0) {
        if (mat == P_BUS) {
            if (m->nbus == m->capbus) {
                long cap = m->capbus ? m->capbus * 2 : 256;
                int64_t *nb = realloc(m->bus, (size_t)cap * sizeof *nb);
                if (!nb)
                    return rg_fail(ps->err, SK_REGION_ENOMEM, "out of memory");
                m->bus = nb;
                m->capbus = cap;
            }
            m->bus[m->nbus++] = a;
            double pd;
            if (tok_num(&t[2], &pd))
                return rg_fail(ps->err, SK_REGION_EINVAL, "%s/power.m:%ld: bad Pd", m->dir, line);
            m->pd_sum += pd;
            m->cnt.power_buses++;
        } else if (mat == P_GEN)
            m->cnt.power_gens++;
        else if (mat == P_BRANCH)
            m->cnt.power_branches++;
        else
            ps->ngencost_m++;
        return 0;
    }
    rg_buf *o = ps->out[mat];
    if (!o)
        return 0;
    int first = 0;
    if (mat == P_GENCOST)
        rg_buf_puts(o, "\t");
    else if (mat == P_BRANCH) {
        rg_buf_printf(o, "\t%lld\t%lld", (long long)pbus(m, a), (long long)pbus(m, b));
        first = 2;
    } else {
        rg_buf_printf(o, "\t%lld", (long long)pbus(m, a));
        first = 1;
    }
    for (int k = first; k < nt; k++) {
        if (k)
            rg_buf_puts(o, "\t");
        rg_buf_put(o, t[k].s, t[k].n);
    }
    rg_buf_puts(o, ";\n");
    ps->nrow[mat]++;
    if (mat == P_BUS)
        rg_buf_printf(ps->areas, "map,power.bus,%lld,%d\n", (long long)pbus(m, a), m->code);
    else if (mat == P_BRANCH)
        rg_buf_printf(ps->areas, "map,power.branch,%ld,%d\n", ps->nrow[mat], m->code);
    else if (mat == P_GEN)
        rg_buf_printf(ps->areas, "map,power.gen,%ld,%d\n", ps->nrow[mat], m->code);
    return 0;
}

static int has_bus(const member *m, long b)
{
    for (long i = 0; i < m->nbus; i++)
        if (m->bus[i] == b)
            return 1;
    return 0;
}

static int merge_power(merge *g, const char *outdir, sk_region_error *err)
{
    rg_buf mats[P_NMAT];
    memset(mats, 0, sizeof mats);
    rg_buf bus_areas = {0}, br_areas = {0}, out = {0}, prof = {0}, xy = {0};
    int rc = 0, with_gencost = 1, with_xy = 1;
    double base = NAN;
    char **pline = NULL;
    long npl = 0, nrows = -1;
    pstate ps = {.g = g, .err = err};
    /* Pass 0: bus numbers, counts, loads; gencost kept only when every
     * member has one row per generator. */
    for (int i = 0; i < g->nm; i++) {
        double b;
        ps.m = &g->m[i];
        ps.pass = 0;
        ps.ngencost_m = 0;
        if ((rc = walk_case(ps.m, &b, power_row, &ps, err)) < 0)
            goto out;
        if (i == 0)
            base = b;
        else if (b != base) {
            rc = rg_fail(err, SK_REGION_EINVAL, "%s/power.m: baseMVA %g differs from the first member's %g", ps.m->dir, b,
                         base);
            goto out;
        }
        if (ps.ngencost_m != ps.m->cnt.power_gens)
            with_gencost = 0;
        char path[4200];
        with_xy &= rg_path(path, sizeof path, ps.m->dir, "power_bus_xy.csv") == 0 && rg_file_exists(path);
    }
    for (long k = 0; k < g->nt; k++) {
        tie *x = &g->t[k];
        long ba, bb;
        if (x->kind == 't' && (rg_parse_long(x->ea, strlen(x->ea), &ba) || rg_parse_long(x->eb, strlen(x->eb), &bb) ||
                               !has_bus(&g->m[x->a], ba) || !has_bus(&g->m[x->b], bb))) {
            rc = rg_fail(err, SK_REGION_EINVAL, "%s:%ld: tie ends %s (%d) and %s (%d) must be buses of the members",
                         g->spec_name, x->line, x->ea, g->m[x->a].code, x->eb, g->m[x->b].code);
            goto out;
        }
    }
    ps.pass = 1;
    for (int i = 0; i < g->nm; i++) {
        double b;
        ps.m = &g->m[i];
        ps.out[P_BUS] = &mats[P_BUS];
        ps.out[P_GEN] = &mats[P_GEN];
        ps.out[P_BRANCH] = &mats[P_BRANCH];
        ps.out[P_GENCOST] = with_gencost ? &mats[P_GENCOST] : NULL;
        /* The map lines go to per-kind buffers so that areas.csv groups them. */
        ps.areas = &bus_areas;
        if ((rc = walk_case(ps.m, &b, power_row, &ps, err)) < 0)
            goto out;
        g->total.power_buses += ps.m->cnt.power_buses;
        g->total.power_branches += ps.m->cnt.power_branches;
        g->total.power_gens += ps.m->cnt.power_gens;
    }
    long ntie = 0;
    for (long k = 0; k < g->nt; k++) {
        tie *x = &g->t[k];
        if (x->kind != 't')
            continue;
        const member *ma = &g->m[x->a], *mb = &g->m[x->b];
        rg_buf_printf(&mats[P_BRANCH], "\t%lld\t%lld\t%.10g\t%.10g\t%.10g\t%.10g\t%.10g\t%.10g\t0\t0\t1\t-360\t360;\n",
                      (long long)pbus(ma, atol(x->ea)), (long long)pbus(mb, atol(x->eb)), x->v[0], x->v[1], x->v[2],
                      x->v[3], x->v[3], x->v[3]);
        ps.nrow[P_BRANCH]++;
        ntie++;
        rg_buf_printf(&br_areas, "map,power.branch,%ld,%d\n", ps.nrow[P_BRANCH], ma->code);
    }
    g->ties.power_branches = ntie;
    g->total.power_branches += ntie;
    rg_buf_printf(&out, "function mpc = region_%d\n%% samskap region merge: %d members, %ld inter-municipal ties.\n"
                        "%% Bus numbers are code * %ld + the member's bus number; every member's\n"
                        "%% reference bus stays a reference (each substation is fed from the transmission grid).\n"
                        "mpc.version = '2';\nmpc.baseMVA = %.10g;\n",
                  g->region_code, g->nm, ntie, BUS_OFFSET, base);
    static const char *const names[P_NMAT] = {"bus", "gen", "branch", "gencost"};
    for (int k = 0; k < P_NMAT; k++) {
        if (k == P_GENCOST && !with_gencost)
            continue;
        rg_buf_printf(&out, "\nmpc.%s = [\n", names[k]);
        rg_buf_put(&out, mats[k].p ? mats[k].p : "", mats[k].len);
        rg_buf_puts(&out, "];\n");
        if (mats[k].oom)
            out.oom = 1;
    }
    if ((rc = write_in(outdir, "power.m", &out, err)) < 0)
        goto out;
    rg_buf_puts(&g->areas, "# power.bus: merged bus number; power.branch / power.gen: 1-based row;\n"
                           "# inter-municipal ties belong to the municipality of their first end\n");
    rg_buf_put(&g->areas, bus_areas.p ? bus_areas.p : "", bus_areas.len);
    rg_buf_put(&g->areas, br_areas.p ? br_areas.p : "", br_areas.len);
    if (bus_areas.oom || br_areas.oom)
        g->areas.oom = 1;
    /* Profile: one global multiplier, the load-weighted mean of the
     * members' (exact for the total load of every hour). */
    double *acc = NULL, wsum = 0;
    for (int i = 0; i < g->nm; i++) {
        member *m = &g->m[i];
        rg_lines it;
        rg_lines_init(&it, m->prof, m->prof_len);
        long r = 0;
        wsum += m->pd_sum;
        while (rg_lines_next(&it)) {
            if (it.lineno == 1 || it.ls == it.le)
                continue;
            const char *c = memchr(it.ls, ',', (size_t)(it.le - it.ls));
            double v;
            if (!c || memchr(c + 1, ',', (size_t)(it.le - c - 1)) || rg_parse_double(c + 1, (size_t)(it.le - c - 1), &v)) {
                rc = rg_fail(err, SK_REGION_EINVAL, "%s/power_profile.csv:%ld: expected hour,multiplier", m->dir, it.lineno);
                free(acc);
                goto out;
            }
            if (i == 0) {
                double *na = realloc(acc, (size_t)(r + 1) * sizeof *na);
                char **npv = realloc(pline, (size_t)(r + 1) * sizeof *npv);
                if (npv)
                    pline = npv;
                if (!na || !npv) {
                    free(na ? na : acc);
                    rc = rg_fail(err, SK_REGION_ENOMEM, "out of memory");
                    goto out;
                }
                acc = na;
                acc[r] = 0;
                pline[r] = malloc((size_t)(c - it.ls) + 1);
                if (!pline[r]) {
                    free(acc);
                    rc = rg_fail(err, SK_REGION_ENOMEM, "out of memory");
                    goto out;
                }
                memcpy(pline[r], it.ls, (size_t)(c - it.ls));
                pline[r][c - it.ls] = 0;
                npl = r + 1;
            } else if (r >= nrows || strlen(pline[r]) != (size_t)(c - it.ls) || memcmp(pline[r], it.ls, (size_t)(c - it.ls))) {
                rc = rg_fail(err, SK_REGION_EINVAL, "%s/power_profile.csv:%ld: hours differ from the first member's", m->dir,
                             it.lineno);
                free(acc);
                goto out;
            }
            acc[r] += m->pd_sum * v;
            r++;
        }
        if (i == 0)
            nrows = r;
        else if (r != nrows) {
            rc = rg_fail(err, SK_REGION_EINVAL, "%s/power_profile.csv: %ld rows, the first member has %ld", m->dir, r, nrows);
            free(acc);
            goto out;
        }
    }
    rg_buf_puts(&prof, "hour,global\n");
    for (long r = 0; r < nrows; r++)
        rg_buf_printf(&prof, "%s,%.4f\n", pline[r], wsum > 0 ? acc[r] / wsum : 1.0);
    free(acc);
    if ((rc = write_in(outdir, "power_profile.csv", &prof, err)) < 0)
        goto out;
    if (with_xy) {
        rg_buf_puts(&xy, "bus,x,y\n");
        for (int i = 0; i < g->nm && rc == 0; i++) {
            member *m = &g->m[i];
            char *d;
            size_t len;
            if ((rc = read_in(m, "power_bus_xy.csv", &d, &len, err)) < 0)
                break;
            rg_lines it;
            rg_lines_init(&it, d, len);
            while (rg_lines_next(&it)) {
                if (it.lineno == 1 || it.ls == it.le)
                    continue;
                const char *c = memchr(it.ls, ',', (size_t)(it.le - it.ls));
                long b;
                if (!c || rg_parse_long(it.ls, (size_t)(c - it.ls), &b) || b < 1 || b >= BUS_OFFSET) {
                    rc = rg_fail(err, SK_REGION_EINVAL, "%s/power_bus_xy.csv:%ld: expected bus,x,y", m->dir, it.lineno);
                    break;
                }
                rg_buf_printf(&xy, "%lld%.*s\n", (long long)pbus(m, b), (int)(it.le - c), c);
            }
            free(d);
        }
        if (rc == 0)
            rc = write_in(outdir, "power_bus_xy.csv", &xy, err);
    }
out:
    if (pline) {
        for (long r = 0; r < npl; r++)
            free(pline[r]);
        free(pline);
    }
    for (int k = 0; k < P_NMAT; k++)
        rg_buf_free(&mats[k]);
    rg_buf_free(&bus_areas); rg_buf_free(&br_areas);
    rg_buf_free(&out); rg_buf_free(&prof); rg_buf_free(&xy);
    return rc;
}

/* ---- driver ------------------------------------------------------------- */

static int load_member(member *m, sk_region_error *err)
{
    int rc;
    if ((rc = read_in(m, "traffic_net.tntp", &m->tnet, &m->tnet_len, err)) < 0 ||
        (rc = read_in(m, "traffic_trips.tntp", &m->ttrips, &m->ttrips_len, err)) < 0 ||
        (rc = read_in(m, "traffic_node.tntp", &m->tnode, &m->tnode_len, err)) < 0 ||
        (rc = read_in(m, "water.inp", &m->water, &m->water_len, err)) < 0 ||
        (rc = read_in(m, "power.m", &m->power, &m->power_len, err)) < 0 ||
        (rc = read_in(m, "power_profile.csv", &m->prof, &m->prof_len, err)) < 0)
        return rc;
    return 0;
}

int sk_region_merge(const char *indir, const char *spec_path, const char *outdir, sk_region_summary *sum,
                    sk_region_error *err)
{
    if (!indir)
        return rg_fail(err, SK_REGION_EINVAL, "region merge: no input directory");
    merge g;
    memset(&g, 0, sizeof g);
    g.region_code = 1507;
    snprintf(g.region_name, sizeof g.region_name, "%s", "Ålesund");
    char defspec[4096], defout[4096];
    int rc = read_region(&g, indir, err);
    if (rc < 0)
        goto out;
    if (!spec_path) {
        if (rg_path(defspec, sizeof defspec, indir, "merge.spec") == 0 && rg_file_exists(defspec))
            spec_path = defspec;
    }
    if (spec_path && (rc = read_spec(&g, spec_path, err)) < 0)
        goto out;
    if (!spec_path)
        g.spec_name = "(no spec)";
    if (!outdir) {
        if (rg_path(defout, sizeof defout, indir, "merged") < 0) {
            rc = rg_fail(err, SK_REGION_EINVAL, "%s: path too long", indir);
            goto out;
        }
        outdir = defout;
    }
    for (int i = 0; i < g.nm; i++)
        if ((rc = load_member(&g.m[i], err)) < 0)
            goto out;
    if ((rc = rg_mkdirs(outdir, err)) < 0)
        goto out;
    rg_locale loc;
    if ((rc = rg_locale_enter(&loc, err)) < 0)
        goto out;
    rg_buf_printf(&g.areas, "# samskap region merge: element -> area map (docs/region.md)\n# region %d %s\n",
                  g.region_code, g.region_name);
    rg_buf reg = {0};
    rg_buf_puts(&reg, "code,name,population\n");
    for (int i = 0; i < g.nm; i++) {
        rg_buf_printf(&g.areas, "area,%d,%s,%ld\n", g.m[i].code, g.m[i].name, g.m[i].pop);
        rg_buf_printf(&reg, "%d,%s,%ld\n", g.m[i].code, g.m[i].name, g.m[i].pop);
        g.m[i].cnt.population = g.m[i].pop;
        g.total.population += g.m[i].pop;
    }
    if ((rc = merge_traffic(&g, outdir, err)) == 0 && (rc = merge_water(&g, outdir, err)) == 0 &&
        (rc = merge_power(&g, outdir, err)) == 0 && (rc = write_in(outdir, "areas.csv", &g.areas, err)) == 0)
        rc = write_in(outdir, "region.csv", &reg, err);
    rg_buf_free(&reg);
    rg_locale_leave(&loc);
    if (rc == 0 && sum) {
        memset(sum, 0, sizeof *sum);
        sum->nmuni = g.nm;
        for (int i = 0; i < g.nm; i++) {
            sum->code[i] = g.m[i].code;
            snprintf(sum->name[i], sizeof sum->name[i], "%s", g.m[i].name);
            sum->muni[i] = g.m[i].cnt;
        }
        sum->ties = g.ties;
        sum->total = g.total;
        sum->region_code = g.region_code;
        snprintf(sum->region_name, sizeof sum->region_name, "%s", g.region_name);
    }
out:
    if (g.m)
        for (int i = 0; i < SK_REGION_MAX_MUNI; i++)
            member_free(&g.m[i]);
    free(g.m);
    free(g.t);
    rg_buf_free(&g.areas);
    return rc;
}
