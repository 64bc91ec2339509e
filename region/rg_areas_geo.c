/* rg_areas_geo.c - area polygons from GeoJSON and point location.
 *
 * Polygons keep their feature order, because that order settles points
 * that two areas claim (shared borders, overlaps).  Location is an
 * even-odd crossing test over all rings of a polygon (so holes work), after
 * a boundary test with a tolerance, behind a bounding-box filter. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rg_areas_internal.h"
#include "rg_json.h"

#define GROW(ptr, n, cap, init)                                                  \
    ((n) < (cap) ? 0 : grow((void **)&(ptr), &(cap), sizeof *(ptr), (init)))

static int grow(void **p, long *cap, size_t size, long init)
{
    long nc = *cap ? *cap * 2 : init;
    void *np = realloc(*p, (size_t)nc * size);
    if (!np)
        return -1;
    *p = np;
    *cap = nc;
    return 0;
}

void sk_areas_map_free(sk_areas_map **mp)
{
    if (!mp || !*mp)
        return;
    sk_areas_map *m = *mp;
    for (int i = 0; i < m->narea; i++) {
        free(m->code[i]);
        free(m->name[i]);
    }
    free(m->code); free(m->name); free(m->pop);
    free(m->poly); free(m->ring); free(m->xy);
    rg_buf_free(&m->warn);
    free(m);
    *mp = NULL;
}

int sk_areas_map_nareas(const sk_areas_map *m)
{
    return m ? m->narea : 0;
}

const char *sk_areas_map_code(const sk_areas_map *m, int a)
{
    return m && a >= 0 && a < m->narea ? m->code[a] : SK_AREAS_UNASSIGNED;
}

const char *sk_areas_map_name(const sk_areas_map *m, int a)
{
    return m && a >= 0 && a < m->narea ? m->name[a] : SK_AREAS_UNASSIGNED;
}

long sk_areas_map_npolygons(const sk_areas_map *m)
{
    return m ? m->npoly : 0;
}

const char *sk_areas_map_warnings(const sk_areas_map *m)
{
    return m && m->warn.p ? m->warn.p : "";
}

/* ---- reading ------------------------------------------------------------ */

typedef struct geo {
    const char *text, *name;
    size_t len;
    const rg_json *j;
    sk_areas_map *m;
    sk_region_error *err;
    long feature;      /* 0-based index, for messages */
} geo;

static int gfail(geo *g, const rg_jval *v, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int gfail(geo *g, const rg_jval *v, const char *fmt, ...)
{
    long line = 0, col = 0;
    if (v)
        rg_json_where(g->text, g->len, v->off, &line, &col);
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (g->feature >= 0)
        return rg_fail(g->err, SK_REGION_EINVAL, "%s:%ld:%ld: feature %ld: %s", g->name, line, col, g->feature + 1, msg);
    return rg_fail(g->err, SK_REGION_EINVAL, "%s:%ld:%ld: %s", g->name, line, col, msg);
}

/* A text field for areas.csv: a string without control characters, or an
 * integer number (written in decimal). */
static int field_text(geo *g, const rg_jval *v, const char *what, char *out, size_t n)
{
    if (v->type == RG_JNUM) {
        double d = v->u.num;
        if (d != floor(d) || fabs(d) >= 1e15)
            return gfail(g, v, "%s must be a string or an integer, not %.17g", what, d);
        snprintf(out, n, "%.0f", d);
        return 0;
    }
    size_t len;
    const char *s = rg_json_str(g->j, v, &len);
    if (!s)
        return gfail(g, v, "%s must be a string or an integer, not %s", what, rg_json_type_name(v->type));
    if (len == 0 || len >= n)
        return gfail(g, v, "%s must have 1..%zu bytes", what, n - 1);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return gfail(g, v, "%s holds a control character", what);
    memcpy(out, s, len + 1);
    return 0;
}

static const rg_jval *first_prop(geo *g, const rg_jval *props, const char *given, const char *const *dflt)
{
    if (given)
        return rg_json_get(g->j, props, given);
    for (int k = 0; dflt[k]; k++) {
        const rg_jval *v = rg_json_get(g->j, props, dflt[k]);
        if (v && v->type != RG_JNULL)
            return v;
    }
    return NULL;
}

static int find_area(const sk_areas_map *m, const char *code)
{
    for (int i = 0; i < m->narea; i++)
        if (strcmp(m->code[i], code) == 0)
            return i;
    return -1;
}

static int add_area(geo *g, const char *code, const char *name, double pop)
{
    sk_areas_map *m = g->m;
    int a = find_area(m, code);
    if (a >= 0)
        return a;
    if (!strcmp(code, SK_AREAS_UNASSIGNED))
        return rg_fail(g->err, SK_REGION_EINVAL, "%s: feature %ld: area code '%s' is reserved", g->name, g->feature + 1,
                       code);
    if (m->narea == m->caparea) {
        int cap = m->caparea ? m->caparea * 2 : 16;
        char **nc = realloc(m->code, (size_t)cap * sizeof *nc);
        if (nc)
            m->code = nc;
        char **nn = nc ? realloc(m->name, (size_t)cap * sizeof *nn) : NULL;
        if (nn)
            m->name = nn;
        double *np = nn ? realloc(m->pop, (size_t)cap * sizeof *np) : NULL;
        if (!np)
            return rg_fail(g->err, SK_REGION_ENOMEM, "out of memory");
        m->pop = np;
        m->caparea = cap;
    }
    m->code[m->narea] = strdup(code);
    m->name[m->narea] = strdup(name);
    m->pop[m->narea] = pop;
    if (!m->code[m->narea] || !m->name[m->narea]) {
        free(m->code[m->narea]);
        free(m->name[m->narea]);
        return rg_fail(g->err, SK_REGION_ENOMEM, "out of memory");
    }
    return m->narea++;
}

/* One ring: an array of at least four positions, the last equal to the
 * first.  Extra position members (altitude) are ignored. */
static int read_ring(geo *g, const rg_jval *ring)
{
    sk_areas_map *m = g->m;
    if (ring->type != RG_JARR)
        return gfail(g, ring, "a linear ring must be an array of positions, not %s", rg_json_type_name(ring->type));
    if (ring->u.kids.n < 4)
        return gfail(g, ring, "a linear ring needs at least 4 positions, it has %u", ring->u.kids.n);
    if (GROW(m->ring, m->nring, m->capring, 64) < 0)
        return rg_fail(g->err, SK_REGION_ENOMEM, "out of memory");
    rg_ring *r = &m->ring[m->nring];
    r->pt0 = m->npt;
    r->npt = 0;
    const rg_jval *last = NULL;
    for (const rg_jval *pos = rg_json_first(g->j, ring); pos; pos = rg_json_next(g->j, pos)) {
        const rg_jval *x = rg_json_first(g->j, pos), *y = rg_json_next(g->j, x);
        if (pos->type != RG_JARR || !y || x->type != RG_JNUM || y->type != RG_JNUM)
            return gfail(g, pos, "a position must be an array of at least two numbers [x, y]");
        if (GROW(m->xy, m->npt * 2, m->cappt, 1024) < 0)
            return rg_fail(g->err, SK_REGION_ENOMEM, "out of memory");
        m->xy[2 * m->npt] = x->u.num;
        m->xy[2 * m->npt + 1] = y->u.num;
        m->npt++;
        r->npt++;
        last = pos;
    }
    const double *f = &m->xy[2 * r->pt0], *l = &m->xy[2 * (m->npt - 1)];
    if (f[0] != l[0] || f[1] != l[1])
        return gfail(g, last, "a linear ring must end at its first position (%.17g, %.17g)", f[0], f[1]);
    m->npt--;     /* the closing position is implied from here on */
    r->npt--;
    m->nring++;
    return 0;
}

static int read_polygon(geo *g, const rg_jval *rings, int area)
{
    sk_areas_map *m = g->m;
    if (rings->type != RG_JARR || rings->u.kids.n == 0)
        return gfail(g, rings, "a polygon must be a non-empty array of linear rings");
    if (GROW(m->poly, m->npoly, m->cappoly, 16) < 0)
        return rg_fail(g->err, SK_REGION_ENOMEM, "out of memory");
    long ring0 = m->nring;
    for (const rg_jval *r = rg_json_first(g->j, rings); r; r = rg_json_next(g->j, r)) {
        int rc = read_ring(g, r);
        if (rc < 0)
            return rc;
    }
    rg_poly *p = &m->poly[m->npoly++];
    p->area = area;
    p->feature = g->feature;
    p->ring0 = ring0;
    p->nring = m->nring - ring0;
    p->x0 = p->y0 = INFINITY;
    p->x1 = p->y1 = -INFINITY;
    /* The outer ring bounds the polygon (holes lie inside it). */
    const rg_ring *outer = &m->ring[ring0];
    for (long k = 0; k < outer->npt; k++) {
        double x = m->xy[2 * (outer->pt0 + k)], y = m->xy[2 * (outer->pt0 + k) + 1];
        p->x0 = fmin(p->x0, x);
        p->x1 = fmax(p->x1, x);
        p->y0 = fmin(p->y0, y);
        p->y1 = fmax(p->y1, y);
    }
    return 0;
}

static int read_feature(geo *g, const rg_jval *f, const sk_areas_geo_opts *o)
{
    static const char *const ids[] = {"kommunenummer", "code", "id", NULL};
    static const char *const names[] = {"kommunenavn", "navn", "name", NULL};
    static const char *const pops[] = {"population", "folketall", NULL};
    if (f->type != RG_JOBJ || !rg_json_is(g->j, rg_json_get(g->j, f, "type"), "Feature"))
        return gfail(g, f, "expected an object with \"type\": \"Feature\"");
    const rg_jval *geom = rg_json_get(g->j, f, "geometry");
    if (!geom)
        return gfail(g, f, "no \"geometry\" member");
    if (geom->type == RG_JNULL) {
        long line, col;
        rg_json_where(g->text, g->len, geom->off, &line, &col);
        rg_buf_printf(&g->m->warn, "%s:%ld:%ld: feature %ld has no geometry and is skipped\n", g->name, line, col,
                      g->feature + 1);
        return 0;
    }
    const rg_jval *props = rg_json_get(g->j, f, "properties");
    if (props && props->type != RG_JOBJ && props->type != RG_JNULL)
        return gfail(g, props, "\"properties\" must be an object or null");
    if (props && props->type == RG_JNULL)
        props = NULL;
    const rg_jval *idv = first_prop(g, props, o ? o->id_property : NULL, ids);
    if (!idv && !(o && o->id_property))
        idv = rg_json_get(g->j, f, "id");
    char code[64], name[128];
    if (!idv) {
        if (o && o->id_property)
            return gfail(g, f, "no property \"%s\" (the area id)", o->id_property);
        return gfail(g, f, "no area id: none of the properties kommunenummer, code, id, nor a feature \"id\"");
    }
    int rc = field_text(g, idv, "the area id", code, sizeof code);
    if (rc < 0)
        return rc;
    const rg_jval *nv = first_prop(g, props, o ? o->name_property : NULL, names);
    if (nv && nv->type == RG_JSTR) {
        if ((rc = field_text(g, nv, "the area name", name, sizeof name)) < 0)
            return rc;
    } else
        snprintf(name, sizeof name, "%s", code);
    double pop = 0;
    const rg_jval *pv = first_prop(g, props, o ? o->population_property : NULL, pops);
    if (pv && pv->type != RG_JNULL) {
        if (pv->type != RG_JNUM || !(pv->u.num >= 0))
            return gfail(g, pv, "the population must be a number >= 0");
        pop = pv->u.num;
    }
    int area = add_area(g, code, name, pop);
    if (area < 0)
        return area;
    if (geom->type != RG_JOBJ)
        return gfail(g, geom, "\"geometry\" must be an object or null");
    const rg_jval *gt = rg_json_get(g->j, geom, "type"), *coords = rg_json_get(g->j, geom, "coordinates");
    int multi = rg_json_is(g->j, gt, "MultiPolygon");
    if (!multi && !rg_json_is(g->j, gt, "Polygon")) {
        const char *t = rg_json_str(g->j, gt, NULL);
        return gfail(g, gt ? gt : geom, "geometry type %s%s%s: only Polygon and MultiPolygon bound areas",
                     t ? "\"" : "", t ? t : "missing", t ? "\"" : "");
    }
    if (!coords || coords->type != RG_JARR)
        return gfail(g, coords ? coords : geom, "\"coordinates\" must be an array");
    if (!multi)
        return read_polygon(g, coords, area);
    for (const rg_jval *p = rg_json_first(g->j, coords); p; p = rg_json_next(g->j, p))
        if ((rc = read_polygon(g, p, area)) < 0)
            return rc;
    return 0;
}

int sk_areas_map_read_geojson(const char *text, size_t len, const char *name, const sk_areas_geo_opts *o,
                              sk_areas_map **out, sk_region_error *err)
{
    *out = NULL;
    name = name ? name : "(geojson)";
    rg_json j;
    int rc = rg_json_parse(text, len, name, NULL, &j, err);
    if (rc < 0)
        return rc;
    sk_areas_map *m = calloc(1, sizeof *m);
    if (!m) {
        rg_json_free(&j);
        return rg_fail(err, SK_REGION_ENOMEM, "out of memory");
    }
    geo g = {.text = text, .name = name, .len = len, .j = &j, .m = m, .err = err, .feature = -1};
    const rg_jval *root = &j.v[0], *type = rg_json_get(&j, root, "type");
    if (root->type != RG_JOBJ)
        rc = gfail(&g, root, "expected a GeoJSON object, not %s", rg_json_type_name(root->type));
    else if (rg_json_is(&j, type, "Feature")) {
        g.feature = 0;
        rc = read_feature(&g, root, o);
    } else if (rg_json_is(&j, type, "FeatureCollection")) {
        const rg_jval *fs = rg_json_get(&j, root, "features");
        if (!fs || fs->type != RG_JARR)
            rc = gfail(&g, fs ? fs : root, "a FeatureCollection needs a \"features\" array");
        for (const rg_jval *f = rc == 0 ? rg_json_first(&j, fs) : NULL; f && rc == 0; f = rg_json_next(&j, f)) {
            g.feature++;
            rc = read_feature(&g, f, o);
        }
    } else
        rc = gfail(&g, type ? type : root, "expected \"type\": \"FeatureCollection\" or \"Feature\"");
    if (rc == 0 && m->npoly == 0) {
        g.feature = -1;
        rc = gfail(&g, root, "no polygons");
    }
    if (rc == 0 && m->warn.oom)
        rc = rg_fail(err, SK_REGION_ENOMEM, "out of memory");
    rg_json_free(&j);
    if (rc < 0) {
        sk_areas_map_free(&m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ---- location ----------------------------------------------------------- */

static double seg_dist2(double px, double py, double ax, double ay, double bx, double by)
{
    double dx = bx - ax, dy = by - ay, t = 0, l2 = dx * dx + dy * dy;
    if (l2 > 0) {
        t = ((px - ax) * dx + (py - ay) * dy) / l2;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
    }
    double ex = ax + t * dx - px, ey = ay + t * dy - py;
    return ex * ex + ey * ey;
}

/* SK_AREAS_OUTSIDE, SK_AREAS_EDGE or SK_AREAS_INSIDE. */
static int classify(const sk_areas_map *m, const rg_poly *p, double x, double y, double tol)
{
    if (x < p->x0 - tol || x > p->x1 + tol || y < p->y0 - tol || y > p->y1 + tol)
        return SK_AREAS_OUTSIDE;
    int inside = 0;
    double tol2 = tol * tol;
    for (long r = p->ring0; r < p->ring0 + p->nring; r++) {
        const rg_ring *rg = &m->ring[r];
        const double *v = &m->xy[2 * rg->pt0];
        for (long k = 0; k < rg->npt; k++) {
            long k2 = k + 1 == rg->npt ? 0 : k + 1;
            double ax = v[2 * k], ay = v[2 * k + 1], bx = v[2 * k2], by = v[2 * k2 + 1];
            if (x >= fmin(ax, bx) - tol && x <= fmax(ax, bx) + tol && y >= fmin(ay, by) - tol &&
                y <= fmax(ay, by) + tol && seg_dist2(x, y, ax, ay, bx, by) <= tol2)
                return SK_AREAS_EDGE;
            if ((ay > y) != (by > y) && x < ax + (y - ay) * (bx - ax) / (by - ay))
                inside ^= 1;
        }
    }
    return inside ? SK_AREAS_INSIDE : SK_AREAS_OUTSIDE;
}

static double poly_dist2(const sk_areas_map *m, const rg_poly *p, double x, double y)
{
    double best = INFINITY;
    for (long r = p->ring0; r < p->ring0 + p->nring; r++) {
        const rg_ring *rg = &m->ring[r];
        const double *v = &m->xy[2 * rg->pt0];
        for (long k = 0; k < rg->npt; k++) {
            long k2 = k + 1 == rg->npt ? 0 : k + 1;
            best = fmin(best, seg_dist2(x, y, v[2 * k], v[2 * k + 1], v[2 * k2], v[2 * k2 + 1]));
        }
    }
    return best;
}

int sk_areas_locate(const sk_areas_map *m, const sk_areas_opts *o, double x, double y, int *how, int *overlap)
{
    sk_areas_opts def;
    if (!o) {
        sk_areas_opts_default(&def);
        o = &def;
    }
    int area = -1, first = SK_AREAS_OUTSIDE, ov = 0;
    for (long i = 0; i < m->npoly; i++) {
        const rg_poly *p = &m->poly[i];
        if (area >= 0 && p->area == area)
            continue;
        int c = classify(m, p, x, y, o->edge_tolerance);
        if (c == SK_AREAS_OUTSIDE)
            continue;
        if (area < 0) {
            area = p->area;
            first = c;
        } else if (c == SK_AREAS_INSIDE || first == SK_AREAS_INSIDE) {
            /* Two areas sharing a border both hold a point on it; only a
             * point inside one area and in another is an overlap. */
            ov = 1;
            break;
        }
    }
    if (area < 0 && o->snap_distance > 0) {
        double best = o->snap_distance * o->snap_distance, s = o->snap_distance;
        for (long i = 0; i < m->npoly; i++) {
            const rg_poly *p = &m->poly[i];
            if (x < p->x0 - s || x > p->x1 + s || y < p->y0 - s || y > p->y1 + s)
                continue;
            double d2 = poly_dist2(m, p, x, y);
            if (d2 <= best && (area < 0 || d2 < best)) {
                best = d2;
                area = p->area;
                first = SK_AREAS_SNAPPED;
            }
        }
    }
    if (how)
        *how = area < 0 ? SK_AREAS_OUTSIDE : first;
    if (overlap)
        *overlap = ov;
    return area;
}
