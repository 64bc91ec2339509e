/* sk_areas.h - element -> area maps for real data (docs/region.md, "Area
 * maps for real data").
 *
 * Three stages, each usable alone:
 *   sk_areas_map_read_geojson()  reads municipal boundary polygons (a GeoJSON
 *                                FeatureCollection of Polygon/MultiPolygon
 *                                features, holes allowed);
 *   sk_areas_elems_*()           collects the elements to map: nodes with
 *                                optional planar coordinates, links between
 *                                two nodes, and elements hanging off one node
 *                                (generators);
 *   sk_areas_assign()            locates every node, applies the rules for
 *                                edges, gaps, missing coordinates and border
 *                                links, and sk_areas_csv() writes the same
 *                                areas.csv format as `samskap region merge`.
 * Coordinates are planar and must be in the polygons' CRS: nothing is
 * reprojected.  Plain C (libc); numbers are read and written in the C locale. */
#ifndef SK_AREAS_H
#define SK_AREAS_H

#include <stddef.h>

#include "sk_region.h"

/* The reserved area of elements that no rule places (absent with --strict). */
#define SK_AREAS_UNASSIGNED "unassigned"

typedef struct sk_areas_map sk_areas_map;
typedef struct sk_areas_elems sk_areas_elems;

typedef struct sk_areas_geo_opts {
    const char *id_property;          /* NULL: kommunenummer, then code, then id, then the feature's "id" */
    const char *name_property;        /* NULL: kommunenavn, then navn, then name; else the id */
    const char *population_property;  /* NULL: population, then folketall; else 0 */
} sk_areas_geo_opts;

/* Parse polygons; name is used in messages ("name:line:col: reason"). */
int sk_areas_map_read_geojson(const char *text, size_t len, const char *name, const sk_areas_geo_opts *o,
                              sk_areas_map **out, sk_region_error *err);
void sk_areas_map_free(sk_areas_map **m);
int sk_areas_map_nareas(const sk_areas_map *m);
const char *sk_areas_map_code(const sk_areas_map *m, int area);
const char *sk_areas_map_name(const sk_areas_map *m, int area);
long sk_areas_map_npolygons(const sk_areas_map *m);
/* Warnings found while reading (one per line; "" when none). */
const char *sk_areas_map_warnings(const sk_areas_map *m);

/* How a point was placed. */
enum {
    SK_AREAS_OUTSIDE = 0,   /* in no polygon (and not snapped) */
    SK_AREAS_INSIDE,        /* in a polygon's interior */
    SK_AREAS_EDGE,          /* on a polygon's boundary (within the tolerance) */
    SK_AREAS_SNAPPED,       /* outside, within the snap distance of a polygon */
    SK_AREAS_INHERITED,     /* no coordinates: from its neighbours */
    SK_AREAS_FROM_END,      /* link or attached element: from its first end */
    SK_AREAS_TO_END,        /* link whose first end is unplaced: from its second end */
};

typedef struct sk_areas_opts {
    double snap_distance;   /* CRS units (metres); 0 = off (default) */
    double edge_tolerance;  /* a point this close to an edge is on it (default 1e-6) */
} sk_areas_opts;

void sk_areas_opts_default(sk_areas_opts *o);

/* Area of one point: returns the area index or -1; *how gets the SK_AREAS_
 * value, *overlap 1 when another area's polygon also holds the point. */
int sk_areas_locate(const sk_areas_map *m, const sk_areas_opts *o, double x, double y, int *how, int *overlap);

/* ---- elements ----------------------------------------------------------- */

sk_areas_elems *sk_areas_elems_new(void);
void sk_areas_elems_free(sk_areas_elems **e);
/* kind is a areas.csv kind ("water.node"); ids are unique within a kind.
 * Return the element index, or a negative SK_REGION_ code. */
long sk_areas_add_node(sk_areas_elems *e, const char *kind, const char *id, sk_region_error *err);
int sk_areas_set_xy(sk_areas_elems *e, long node, double x, double y);
/* to = -1: an element attached to one node (a generator at its bus). */
long sk_areas_add_link(sk_areas_elems *e, const char *kind, const char *id, long from, long to, sk_region_error *err);
long sk_areas_find(const sk_areas_elems *e, const char *kind, const char *id);
long sk_areas_count(const sk_areas_elems *e);

/* A coordinate sidecar "id,x,y" with a header line (power_bus_xy.csv, as
 * `samskap region generate` writes it), matched to the nodes of `kind` by
 * id.  An id that is not such a node is an error (the files do not belong
 * together); *nread gets the number of rows. */
int sk_areas_read_xy_csv(sk_areas_elems *e, const char *kind, const char *text, size_t len, const char *name,
                         long *nread, sk_region_error *err);

/* Place every element (rules in docs/region.md).  Returns 0, or an error
 * (out of memory); unassigned elements are not an error here. */
int sk_areas_assign(const sk_areas_map *m, sk_areas_elems *e, const sk_areas_opts *o, sk_region_error *err);
/* Warnings of the last sk_areas_assign (one per line; "" when none). */
const char *sk_areas_elems_warnings(const sk_areas_elems *e);
/* After sk_areas_assign: area index (-1 unassigned) and how (SK_AREAS_*). */
int sk_areas_elem_area(const sk_areas_elems *e, long i, int *how);

typedef struct sk_areas_stats {
    long nodes, links, inside, edge, snapped, inherited, no_xy, unassigned, border_links, overlaps;
} sk_areas_stats;
void sk_areas_get_stats(const sk_areas_elems *e, sk_areas_stats *s);

/* areas.csv text (malloc'ed, NUL-terminated): area rows for every area of
 * the map (and `unassigned` when used), then one map row per element in
 * the order they were added. */
char *sk_areas_csv(const sk_areas_map *m, const sk_areas_elems *e, size_t *len);
/* The summary as one JSON object (counts per area and kind, unassigned
 * elements, border links, overlaps, warnings), or as a text table. */
char *sk_areas_summary(const sk_areas_map *m, const sk_areas_elems *e, int json, size_t *len);

#endif
