/* rg_areas.c - elements to map, the placement rules, and the writers of
 * areas.csv and its summary (docs/region.md, "Area maps for real data").
 *
 * Rules, in order: a node with coordinates goes to the polygon that holds
 * it (first by feature order; on an edge counts as inside), else to the
 * nearest polygon within the snap distance; a node without coordinates
 * takes the most common area among its placed neighbours, layer by layer
 * outwards (ties to the earlier area); a link goes to the area of its first
 * end, or of its second when the first is unplaced, and is a border link
 * when its ends lie in different areas.  What no rule places is
 * `unassigned`. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rg_areas_internal.h"

#define MAX_KINDS 16
#define LIST_MAX 1000    /* elements listed by name in the summary, per list */

typedef struct elem {
    char *id;
    long a, b;            /* links: node indexes (b = -1: attached to a) */
    double x, y;
    int area;
    uint8_t kind, is_link, has_xy, how, overlap, border;
} elem;

struct sk_areas_elems {
    elem *e;
    long n, cap;
    char *kind[MAX_KINDS];
    int nkinds;
    long *hash;           /* open addressing: element index + 1, 0 = empty */
    size_t hcap;
    int assigned;
    rg_buf warn;
};

void sk_areas_opts_default(sk_areas_opts *o)
{
    o->snap_distance = 0;
    o->edge_tolerance = 1e-6;
}

sk_areas_elems *sk_areas_elems_new(void)
{
    return calloc(1, sizeof(sk_areas_elems));
}

void sk_areas_elems_free(sk_areas_elems **ep)
{
    if (!ep || !*ep)
        return;
    sk_areas_elems *e = *ep;
    for (long i = 0; i < e->n; i++)
        free(e->e[i].id);
    for (int k = 0; k < e->nkinds; k++)
        free(e->kind[k]);
    free(e->e);
    free(e->hash);
    rg_buf_free(&e->warn);
    free(e);
    *ep = NULL;
}

long sk_areas_count(const sk_areas_elems *e)
{
    return e ? e->n : 0;
}

static size_t hash_key(int kind, const char *id)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)h;
}

static int kind_index(const sk_areas_elems *e, const char *kind)
{
    for (int k = 0; k < e->nkinds; k++)
        if (strcmp(e->kind[k], kind) == 0)
            return k;
    return -1;
}

static long lookup(const sk_areas_elems *e, int kind, const char *id)
{
    if (!e->hcap)
        return -1;
    for (size_t h = hash_key(kind, id) & (e->hcap - 1);; h = (h + 1) & (e->hcap - 1)) {
        long v = e->hash[h];
        if (v == 0)
            return -1;
        const elem *x = &e->e[v - 1];
        if (x->kind == kind && strcmp(x->id, id) == 0)
            return v - 1;
    }
}

long sk_areas_find(const sk_areas_elems *e, const char *kind, const char *id)
{
    int k = e ? kind_index(e, kind) : -1;
    return k < 0 ? -1 : lookup(e, k, id);
}

static int rehash(sk_areas_elems *e)
{
    size_t cap = e->hcap ? e->hcap * 2 : 1024;
    long *h = calloc(cap, sizeof *h);
    if (!h)
        return -1;
    for (long i = 0; i < e->n; i++) {
        size_t s = hash_key(e->e[i].kind, e->e[i].id) & (cap - 1);
        while (h[s])
            s = (s + 1) & (cap - 1);
        h[s] = i + 1;
    }
    free(e->hash);
    e->hash = h;
    e->hcap = cap;
    return 0;
}

static long add(sk_areas_elems *e, const char *kind, const char *id, int is_link, sk_region_error *err)
{
    if (!kind || !*kind || !id || !*id)
        return rg_fail(err, SK_REGION_EINVAL, "an element needs a kind and an id");
    for (const char *p = id; *p; p++)
        if ((unsigned char)*p < 0x20)
            return rg_fail(err, SK_REGION_EINVAL, "%s id '%s' holds a control character", kind, id);
    int k = kind_index(e, kind);
    if (k < 0) {
        if (e->nkinds == MAX_KINDS)
            return rg_fail(err, SK_REGION_EINVAL, "more than %d element kinds", MAX_KINDS);
        if (!(e->kind[e->nkinds] = strdup(kind)))
            return rg_fail(err, SK_REGION_ENOMEM, "out of memory");
        k = e->nkinds++;
    }
    if (lookup(e, k, id) >= 0)
        return rg_fail(err, SK_REGION_EINVAL, "%s '%s' appears twice", kind, id);
    if ((size_t)(e->n + 1) * 2 > e->hcap && rehash(e) < 0)
        return rg_fail(err, SK_REGION_ENOMEM, "out of memory");
    if (e->n == e->cap) {
        long cap = e->cap ? e->cap * 2 : 1024;
        elem *ne = realloc(e->e, (size_t)cap * sizeof *ne);
        if (!ne)
            return rg_fail(err, SK_REGION_ENOMEM, "out of memory");
        e->e = ne;
        e->cap = cap;
    }
    elem *x = &e->e[e->n];
    memset(x, 0, sizeof *x);
    if (!(x->id = strdup(id)))
        return rg_fail(err, SK_REGION_ENOMEM, "out of memory");
    x->kind = (uint8_t)k;
    x->is_link = (uint8_t)is_link;
    x->a = x->b = -1;
    x->area = -1;
    size_t s = hash_key(k, id) & (e->hcap - 1);
    while (e->hash[s])
        s = (s + 1) & (e->hcap - 1);
    e->hash[s] = e->n + 1;
    e->assigned = 0;
    return e->n++;
}

long sk_areas_add_node(sk_areas_elems *e, const char *kind, const char *id, sk_region_error *err)
{
    return add(e, kind, id, 0, err);
}

int sk_areas_set_xy(sk_areas_elems *e, long node, double x, double y)
{
    if (!e || node < 0 || node >= e->n || e->e[node].is_link || !isfinite(x) || !isfinite(y))
        return SK_REGION_EINVAL;
    e->e[node].x = x;
    e->e[node].y = y;
    e->e[node].has_xy = 1;
    return 0;
}

long sk_areas_add_link(sk_areas_elems *e, const char *kind, const char *id, long from, long to, sk_region_error *err)
{
    if (from < 0 || from >= e->n || e->e[from].is_link || to < -1 || to >= e->n || (to >= 0 && e->e[to].is_link))
        return rg_fail(err, SK_REGION_EINVAL, "%s '%s': its ends must be nodes added before it", kind, id);
    long i = add(e, kind, id, 1, err);
    if (i >= 0) {
        e->e[i].a = from;
        e->e[i].b = to;
    }
    return i;
}

/* Two passes, so that a file with a bad row changes nothing. */
int sk_areas_read_xy_csv(sk_areas_elems *e, const char *kind, const char *text, size_t len, const char *name,
                         long *nread, sk_region_error *err)
{
    int k = kind_index(e, kind);
    long n = 0;
    for (int pass = 0; pass < 2; pass++) {
        rg_lines it;
        rg_lines_init(&it, text, len);
        n = 0;
        while (rg_lines_next(&it)) {
            if (it.lineno == 1 || it.ls == it.le || it.ls[0] == '#')
                continue;   /* header */
            const char *c1 = memchr(it.ls, ',', (size_t)(it.le - it.ls));
            const char *c2 = c1 ? memchr(c1 + 1, ',', (size_t)(it.le - c1 - 1)) : NULL;
            double x, y;
            if (!c2 || memchr(c2 + 1, ',', (size_t)(it.le - c2 - 1)) || c1 == it.ls || c1 - it.ls >= 64 ||
                rg_parse_double(c1 + 1, (size_t)(c2 - c1 - 1), &x) ||
                rg_parse_double(c2 + 1, (size_t)(it.le - c2 - 1), &y))
                return rg_fail(err, SK_REGION_EINVAL, "%s:%ld: expected id,x,y (numbers with a decimal point)", name,
                               it.lineno);
            char id[64];
            memcpy(id, it.ls, (size_t)(c1 - it.ls));
            id[c1 - it.ls] = 0;
            long i = k < 0 ? -1 : lookup(e, k, id);
            if (i < 0 || e->e[i].is_link)
                return rg_fail(err, SK_REGION_EINVAL, "%s:%ld: '%s' is not a %s of the network", name, it.lineno, id,
                               kind);
            if (pass)
                sk_areas_set_xy(e, i, x, y);
            n++;
        }
    }
    if (nread)
        *nread = n;
    return 0;
}

/* ---- assignment --------------------------------------------------------- */

/* Nodes without coordinates, layer by layer from the placed ones: each
 * takes the most common area among the neighbours placed before its layer
 * (ties: the earlier area), so the result does not depend on link order. */
static int inherit(sk_areas_elems *e, int narea)
{
    long n = e->n, *deg = calloc((size_t)n + 1, sizeof *deg), *adj = NULL, *frontier = NULL;
    int *next_area = NULL, *count = calloc((size_t)narea + 1, sizeof *count);
    int rc = -1;
    if (!deg || !count)
        goto out;
    for (long i = 0; i < n; i++)
        if (e->e[i].is_link && e->e[i].b >= 0 && e->e[i].a != e->e[i].b) {
            deg[e->e[i].a + 1]++;
            deg[e->e[i].b + 1]++;
        }
    for (long i = 0; i < n; i++)
        deg[i + 1] += deg[i];
    adj = malloc(((size_t)deg[n] + 1) * sizeof *adj);
    frontier = malloc(((size_t)n + 1) * sizeof *frontier);
    next_area = malloc(((size_t)n + 1) * sizeof *next_area);
    long *fill = calloc((size_t)n + 1, sizeof *fill);
    if (!adj || !frontier || !next_area || !fill) {
        free(fill);
        goto out;
    }
    for (long i = 0; i < n; i++)
        if (e->e[i].is_link && e->e[i].b >= 0 && e->e[i].a != e->e[i].b) {
            long a = e->e[i].a, b = e->e[i].b;
            adj[deg[a] + fill[a]++] = b;
            adj[deg[b] + fill[b]++] = a;
        }
    free(fill);
    for (;;) {
        long nf = 0;
        for (long i = 0; i < n; i++) {
            const elem *x = &e->e[i];
            if (x->is_link || x->has_xy || x->area >= 0)
                continue;
            int best = -1;
            for (long k = deg[i]; k < deg[i + 1]; k++) {
                int a = e->e[adj[k]].area;
                if (a >= 0)
                    count[a]++;
            }
            for (long k = deg[i]; k < deg[i + 1]; k++) {
                int a = e->e[adj[k]].area;
                if (a >= 0 && (best < 0 || count[a] > count[best] || (count[a] == count[best] && a < best)))
                    best = a;
            }
            for (long k = deg[i]; k < deg[i + 1]; k++) {
                int a = e->e[adj[k]].area;
                if (a >= 0)
                    count[a] = 0;
            }
            if (best >= 0) {
                frontier[nf] = i;
                next_area[nf++] = best;
            }
        }
        if (nf == 0)
            break;
        for (long f = 0; f < nf; f++) {
            e->e[frontier[f]].area = next_area[f];
            e->e[frontier[f]].how = SK_AREAS_INHERITED;
        }
    }
    rc = 0;
out:
    free(deg); free(adj); free(frontier); free(next_area); free(count);
    return rc;
}

int sk_areas_assign(const sk_areas_map *m, sk_areas_elems *e, const sk_areas_opts *o, sk_region_error *err)
{
    sk_areas_opts def;
    if (!o) {
        sk_areas_opts_default(&def);
        o = &def;
    }
    if (!m || !e)
        return rg_fail(err, SK_REGION_EINVAL, "areas assign: no polygons or no elements");
    e->warn.len = 0;
    if (e->warn.p)
        e->warn.p[0] = 0;
    long with_xy = 0, placed_xy = 0, overlaps = 0;
    const elem *first_overlap = NULL;
    for (long i = 0; i < e->n; i++) {
        elem *x = &e->e[i];
        x->area = -1;
        x->how = SK_AREAS_OUTSIDE;
        x->overlap = x->border = 0;
        if (x->is_link || !x->has_xy)
            continue;
        int how, ov;
        x->area = sk_areas_locate(m, o, x->x, x->y, &how, &ov);
        x->how = (uint8_t)how;
        x->overlap = (uint8_t)ov;
        with_xy++;
        placed_xy += x->area >= 0;
        if (ov && !overlaps++)
            first_overlap = x;
    }
    if (inherit(e, m->narea) < 0)
        return rg_fail(err, SK_REGION_ENOMEM, "out of memory");
    for (long i = 0; i < e->n; i++) {
        elem *x = &e->e[i];
        if (!x->is_link)
            continue;
        int aa = e->e[x->a].area, ab = x->b >= 0 ? e->e[x->b].area : -1;
        x->area = aa >= 0 ? aa : ab;
        x->how = aa >= 0 ? SK_AREAS_FROM_END : ab >= 0 ? SK_AREAS_TO_END : SK_AREAS_OUTSIDE;
        x->border = aa >= 0 && ab >= 0 && aa != ab;
    }
    if (overlaps)
        rg_buf_printf(&e->warn,
                      "%ld element(s) lie in the polygons of more than one area (overlapping features; the first "
                      "feature wins), e.g. %s %s\n",
                      overlaps, e->kind[first_overlap->kind], first_overlap->id);
    if (with_xy > 0 && placed_xy == 0)
        rg_buf_printf(&e->warn,
                      "none of the %ld elements with coordinates lies in a polygon: are the coordinates in the "
                      "polygons' CRS? (nothing is reprojected)\n",
                      with_xy);
    if (e->warn.oom)
        return rg_fail(err, SK_REGION_ENOMEM, "out of memory");
    e->assigned = 1;
    return 0;
}

const char *sk_areas_elems_warnings(const sk_areas_elems *e)
{
    return e && e->warn.p ? e->warn.p : "";
}

int sk_areas_elem_area(const sk_areas_elems *e, long i, int *how)
{
    if (!e || i < 0 || i >= e->n) {
        if (how)
            *how = SK_AREAS_OUTSIDE;
        return -1;
    }
    if (how)
        *how = e->e[i].how;
    return e->e[i].area;
}

void sk_areas_get_stats(const sk_areas_elems *e, sk_areas_stats *s)
{
    memset(s, 0, sizeof *s);
    for (long i = 0; e && i < e->n; i++) {
        const elem *x = &e->e[i];
        if (x->is_link)
            s->links++;
        else
            s->nodes++;
        s->inside += x->how == SK_AREAS_INSIDE;
        s->edge += x->how == SK_AREAS_EDGE;
        s->snapped += x->how == SK_AREAS_SNAPPED;
        s->inherited += x->how == SK_AREAS_INHERITED;
        s->no_xy += !x->is_link && !x->has_xy;
        s->unassigned += x->area < 0;
        s->border_links += x->border;
        s->overlaps += x->overlap;
    }
}

/* ---- writers ------------------------------------------------------------ */

/* RFC 4180: quoted when it holds a comma, quote or line break. */
static void csv_field(rg_buf *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        rg_buf_puts(b, s);
        return;
    }
    rg_buf_puts(b, "\"");
    for (; *s; s++) {
        if (*s == '"')
            rg_buf_puts(b, "\"");
        rg_buf_put(b, s, 1);
    }
    rg_buf_puts(b, "\"");
}

static const char *area_code(const sk_areas_map *m, int a)
{
    return a >= 0 ? m->code[a] : SK_AREAS_UNASSIGNED;
}

char *sk_areas_csv(const sk_areas_map *m, const sk_areas_elems *e, size_t *len)
{
    rg_buf b = {0};
    rg_locale loc;
    if (rg_locale_enter(&loc, NULL) < 0)
        return NULL;
    long unassigned = 0;
    for (long i = 0; i < e->n; i++)
        unassigned += e->e[i].area < 0;
    rg_buf_puts(&b, "# samskap areas assign: element -> area map (docs/region.md)\n"
                    "# links belong to the area of their first end; border links are listed in the summary\n");
    for (int a = 0; a < m->narea; a++) {
        rg_buf_puts(&b, "area,");
        csv_field(&b, m->code[a]);
        rg_buf_puts(&b, ",");
        csv_field(&b, m->name[a]);
        rg_buf_printf(&b, ",%.15g\n", m->pop[a]);
    }
    if (unassigned)
        rg_buf_printf(&b, "area,%s,%s,0\n", SK_AREAS_UNASSIGNED, SK_AREAS_UNASSIGNED);
    for (long i = 0; i < e->n; i++) {
        const elem *x = &e->e[i];
        rg_buf_printf(&b, "map,%s,", e->kind[x->kind]);
        csv_field(&b, x->id);
        rg_buf_puts(&b, ",");
        csv_field(&b, area_code(m, x->area));
        rg_buf_puts(&b, "\n");
    }
    rg_locale_leave(&loc);
    if (b.oom) {
        rg_buf_free(&b);
        return NULL;
    }
    if (len)
        *len = b.len;
    return b.p ? b.p : calloc(1, 1);
}

static void json_str(rg_buf *b, const char *s)
{
    rg_buf_puts(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            rg_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            rg_buf_printf(b, "\\u%04x", c);
        else
            rg_buf_put(b, s, 1);
    }
    rg_buf_puts(b, "\"");
}

static const char *how_name(int how)
{
    static const char *const names[] = {"outside", "inside", "edge", "snapped", "inherited", "from_end", "to_end"};
    return how >= 0 && how <= SK_AREAS_TO_END ? names[how] : "?";
}

/* Elements listed in the summary: unassigned, border links, overlaps. */
static void json_list(rg_buf *b, const sk_areas_map *m, const sk_areas_elems *e, int which)
{
    long n = 0, shown = 0;
    rg_buf_puts(b, "[");
    for (long i = 0; i < e->n; i++) {
        const elem *x = &e->e[i];
        int take = which == 0 ? x->area < 0 : which == 1 ? x->border : x->overlap;
        if (!take)
            continue;
        n++;
        if (shown == LIST_MAX)
            continue;
        rg_buf_printf(b, "%s{\"kind\":", shown++ ? "," : "");
        json_str(b, e->kind[x->kind]);
        rg_buf_puts(b, ",\"id\":");
        json_str(b, x->id);
        if (which == 1) {
            rg_buf_puts(b, ",\"area\":");
            json_str(b, area_code(m, e->e[x->a].area));
            rg_buf_puts(b, ",\"to_area\":");
            json_str(b, area_code(m, e->e[x->b].area));
        } else if (which == 0 && !x->is_link)
            rg_buf_printf(b, ",\"has_xy\":%s", x->has_xy ? "true" : "false");
        rg_buf_puts(b, "}");
    }
    rg_buf_printf(b, "],\"listed\":%ld", shown);
}

char *sk_areas_summary(const sk_areas_map *m, const sk_areas_elems *e, int json, size_t *len)
{
    int na = m->narea + 1;   /* the last row counts unassigned elements */
    long *cnt = calloc((size_t)na * MAX_KINDS, sizeof *cnt), how[SK_AREAS_TO_END + 1] = {0};
    if (!cnt)
        return NULL;
    for (long i = 0; i < e->n; i++) {
        const elem *x = &e->e[i];
        cnt[(size_t)(x->area >= 0 ? x->area : m->narea) * MAX_KINDS + x->kind]++;
        how[x->how]++;
    }
    sk_areas_stats st;
    sk_areas_get_stats(e, &st);
    rg_buf b = {0};
    rg_locale loc;
    if (rg_locale_enter(&loc, NULL) < 0) {
        free(cnt);
        return NULL;
    }
    if (json) {
        rg_buf_printf(&b, "{\"command\":\"areas assign\",\"polygons\":%ld,\"elements\":%ld,\"nodes\":%ld,\"links\":%ld,"
                          "\"areas\":[",
                      m->npoly, e->n, st.nodes, st.links);
        for (int a = 0; a < na; a++) {
            long tot = 0;
            for (int k = 0; k < e->nkinds; k++)
                tot += cnt[(size_t)a * MAX_KINDS + k];
            if (a == m->narea && tot == 0)
                break;
            rg_buf_printf(&b, "%s{\"code\":", a ? "," : "");
            json_str(&b, a < m->narea ? m->code[a] : SK_AREAS_UNASSIGNED);
            rg_buf_puts(&b, ",\"name\":");
            json_str(&b, a < m->narea ? m->name[a] : SK_AREAS_UNASSIGNED);
            rg_buf_printf(&b, ",\"elements\":%ld,\"kinds\":{", tot);
            for (int k = 0; k < e->nkinds; k++) {
                json_str(&b, e->kind[k]);
                rg_buf_printf(&b, ":%ld%s", cnt[(size_t)a * MAX_KINDS + k], k + 1 < e->nkinds ? "," : "");
            }
            rg_buf_puts(&b, "}}");
        }
        rg_buf_puts(&b, "],\"placed\":{");
        for (int h = 0; h <= SK_AREAS_TO_END; h++)
            rg_buf_printf(&b, "%s\"%s\":%ld", h ? "," : "", how_name(h), how[h]);
        rg_buf_printf(&b, "},\"no_coordinates\":%ld,\"unassigned\":{\"count\":%ld,\"elements\":", st.no_xy,
                      st.unassigned);
        json_list(&b, m, e, 0);
        rg_buf_printf(&b, "},\"border_links\":{\"count\":%ld,\"links\":", st.border_links);
        json_list(&b, m, e, 1);
        rg_buf_printf(&b, "},\"overlaps\":{\"count\":%ld,\"elements\":", st.overlaps);
        json_list(&b, m, e, 2);
        rg_buf_puts(&b, "},\"warnings\":[");
        int nw = 0;
        for (int src = 0; src < 2; src++) {
            const char *w = src ? sk_areas_elems_warnings(e) : sk_areas_map_warnings(m);
            for (const char *nl; (nl = strchr(w, '\n')); w = nl + 1) {
                char line[600];
                snprintf(line, sizeof line, "%.*s", (int)(nl - w), w);
                if (nw++)
                    rg_buf_puts(&b, ",");
                json_str(&b, line);
            }
        }
        rg_buf_puts(&b, "]}\n");
    } else {
        rg_buf_printf(&b, "%-12s %-24s %9s", "area", "name", "elements");
        for (int k = 0; k < e->nkinds; k++)
            rg_buf_printf(&b, " %12s", e->kind[k]);
        rg_buf_puts(&b, "\n");
        for (int a = 0; a < na; a++) {
            long tot = 0;
            for (int k = 0; k < e->nkinds; k++)
                tot += cnt[(size_t)a * MAX_KINDS + k];
            if (a == m->narea && tot == 0)
                break;
            rg_buf_printf(&b, "%-12s %-24s %9ld", a < m->narea ? m->code[a] : SK_AREAS_UNASSIGNED,
                          a < m->narea ? m->name[a] : "", tot);
            for (int k = 0; k < e->nkinds; k++)
                rg_buf_printf(&b, " %12ld", cnt[(size_t)a * MAX_KINDS + k]);
            rg_buf_puts(&b, "\n");
        }
        rg_buf_printf(&b, "%ld elements: %ld inside, %ld on an edge, %ld snapped, %ld inherited (of %ld without "
                          "coordinates), %ld unassigned; %ld border links; %ld in overlapping polygons\n",
                      e->n, st.inside, st.edge, st.snapped, st.inherited, st.no_xy, st.unassigned, st.border_links,
                      st.overlaps);
    }
    rg_locale_leave(&loc);
    free(cnt);
    if (b.oom) {
        rg_buf_free(&b);
        return NULL;
    }
    if (len)
        *len = b.len;
    return b.p;
}
