/* test_areas.c - `samskap areas assign` and its library (sk_areas.h): point
 * location on hand-made polygons (edges, holes, MultiPolygons, a concave
 * polygon, overlaps, snapping), the rules for links, generators and nodes
 * without coordinates, malformed GeoJSON named by line:column, numbers under
 * nb_NO.UTF-8, and a generated region whose municipalities get boxes around
 * their elements: the map must reproduce the merger's areas.csv.
 * Usage: test_areas TEST (see main). */
#include <ftw.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "areas.h"
#include "rg_json.h"
#include "sk_areas.h"
#include "sk_region.h"

static int failures;
#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);      \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fprintf(stderr, "\n");                                                        \
            failures++;                                                                   \
        }                                                                                 \
    } while (0)

static char tmproot[256];

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    if (!p || fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        fclose(f);
        return NULL;
    }
    fclose(f);
    p[n] = 0;
    if (len)
        *len = (size_t)n;
    return p;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st; (void)flag; (void)f;
    return remove(p);
}

static sk_areas_map *read_map(const char *text, sk_region_error *err)
{
    sk_areas_map *m = NULL;
    sk_areas_map_read_geojson(text, strlen(text), "t.geojson", NULL, &m, err);
    return m;
}

/* ---- hand-made polygons ------------------------------------------------- */

/* A [0,10]², B [10,20]x[0,10] (shares A's east edge), C [0,20]x[20,40] with
 * the hole [5,15]x[25,35], F the enclave [8,12]x[28,32] in that hole, D two
 * squares, E a U open to the north (the notch is [10,20]x[60,80]), and G a
 * later square that overlaps A.  Numbers in several JSON spellings. */
static const char shapes[] =
    "{\"type\": \"FeatureCollection\", \"name\": \"test\", \"features\": [\n"
    " {\"type\": \"Feature\", \"properties\": {\"kommunenummer\": \"A\", \"kommunenavn\": \"Aa, \\\"quoted\\\"\", "
    "\"population\": 100},\n"
    "  \"geometry\": {\"type\": \"Polygon\", \"coordinates\": [[[0,0],[10,0],[1e1,10.0],[0,10],[-0,0]]]}},\n"
    " {\"type\": \"Feature\", \"properties\": {\"code\": 1234},\n"
    "  \"geometry\": {\"type\": \"Polygon\", \"coordinates\": [[[10,0],[20,0,99],[20,10],[10,10],[10,0]]]}},\n"
    " {\"type\": \"Feature\", \"id\": \"C\", \"properties\": null,\n"
    "  \"geometry\": {\"type\": \"Polygon\", \"coordinates\": [[[0,20],[20,20],[20,40],[0,40],[0,20]],\n"
    "                                                [[5,25],[5,35],[15,35],[15,25],[5,25]]]}},\n"
    " {\"type\": \"Feature\", \"properties\": {\"id\": \"F\"},\n"
    "  \"geometry\": {\"type\": \"Polygon\", \"coordinates\": [[[8,28],[12,28],[12,32],[8,32],[8,28]]]}},\n"
    " {\"type\": \"Feature\", \"properties\": {\"id\": \"D\"},\n"
    "  \"geometry\": {\"type\": \"MultiPolygon\", \"coordinates\": [[[[30,0],[40,0],[40,10],[30,10],[30,0]]],\n"
    "                                                     [[[50,0],[60,0],[60,10],[50,10],[50,0]]]]}},\n"
    " {\"type\": \"Feature\", \"properties\": {\"id\": \"E\"},\n"
    "  \"geometry\": {\"type\": \"Polygon\", \"coordinates\": [[[0,50],[30,50],[30,80],[20,80],[20,60],[10,60],"
    "[10,80],[0,80],[0,50]]]}},\n"
    " {\"type\": \"Feature\", \"properties\": {\"id\": \"nowhere\"}, \"geometry\": null},\n"
    " {\"type\": \"Feature\", \"properties\": {\"id\": \"G\"},\n"
    "  \"geometry\": {\"type\": \"Polygon\", \"coordinates\": [[[2,2],[4,2],[4,4],[2,4],[2,2]]]}}\n"
    "]}\n";

static const char *code_at(const sk_areas_map *m, double snap, double x, double y, int *how, int *ov)
{
    sk_areas_opts o;
    sk_areas_opts_default(&o);
    o.snap_distance = snap;
    int a = sk_areas_locate(m, &o, x, y, how, ov);
    return a < 0 ? "-" : sk_areas_map_code(m, a);
}

static void test_polygons(void)
{
    sk_region_error err = {0};
    sk_areas_map *m = read_map(shapes, &err);
    CHECK(m != NULL, "%s", err.msg);
    if (!m)
        return;
    CHECK(sk_areas_map_nareas(m) == 7 && sk_areas_map_npolygons(m) == 8, "%d areas, %ld polygons",
          sk_areas_map_nareas(m), sk_areas_map_npolygons(m));
    CHECK(strstr(sk_areas_map_warnings(m), "t.geojson:16:67:") && strstr(sk_areas_map_warnings(m), "feature 7 has no"),
          "null geometry warning: '%s'", sk_areas_map_warnings(m));
    CHECK(!strcmp(sk_areas_map_name(m, 0), "Aa, \"quoted\"") && !strcmp(sk_areas_map_code(m, 1), "1234") &&
              !strcmp(sk_areas_map_name(m, 1), "1234") && !strcmp(sk_areas_map_code(m, 2), "C"),
          "names/codes: '%s' '%s' '%s'", sk_areas_map_name(m, 0), sk_areas_map_code(m, 1), sk_areas_map_code(m, 2));
    static const struct {
        double x, y, snap;
        const char *code;
        int how, overlap;
    } pts[] = {
        {5, 5, 0, "A", SK_AREAS_INSIDE, 0},
        {15, 5, 0, "1234", SK_AREAS_INSIDE, 0},
        {10, 5, 0, "A", SK_AREAS_EDGE, 0},          /* shared edge: the first feature */
        {0, 0, 0, "A", SK_AREAS_EDGE, 0},           /* a corner */
        {20, 10, 0, "1234", SK_AREAS_EDGE, 0},
        {20.0000001, 5, 0, "1234", SK_AREAS_EDGE, 0}, /* within the tolerance (1e-6) */
        {20.001, 5, 0, "-", SK_AREAS_OUTSIDE, 0},
        {10, 22, 0, "C", SK_AREAS_INSIDE, 0},
        {10, 25, 0, "C", SK_AREAS_EDGE, 0},         /* on the hole's edge */
        {6, 26, 0, "-", SK_AREAS_OUTSIDE, 0},       /* in the hole */
        {6, 26, 2, "C", SK_AREAS_SNAPPED, 0},       /* 1 from C, 2.8 from F */
        {10.5, 30, 0, "F", SK_AREAS_INSIDE, 0},     /* the enclave */
        {35, 5, 0, "D", SK_AREAS_INSIDE, 0},
        {55, 5, 0, "D", SK_AREAS_INSIDE, 0},
        {45, 5, 0, "-", SK_AREAS_OUTSIDE, 0},       /* between D's parts */
        {45, 5, 4, "-", SK_AREAS_OUTSIDE, 0},       /* 5 from both: beyond the snap distance */
        {45.5, 5, 5, "D", SK_AREAS_SNAPPED, 0},
        {5, 70, 0, "E", SK_AREAS_INSIDE, 0},
        {25, 70, 0, "E", SK_AREAS_INSIDE, 0},
        {15, 70, 0, "-", SK_AREAS_OUTSIDE, 0},      /* in the notch of the U */
        {15, 60, 0, "E", SK_AREAS_EDGE, 0},
        {15, 55, 0, "E", SK_AREAS_INSIDE, 0},
        {3, 3, 0, "A", SK_AREAS_INSIDE, 1},         /* G overlaps A: A wins, flagged */
        {4, 4, 0, "A", SK_AREAS_INSIDE, 1},         /* on G's corner, inside A */
        {100, 100, 1000, "E", SK_AREAS_SNAPPED, 0}, /* nearest polygon: E's corner (30, 80), 72.8 away */
    };
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        int how = -1, ov = -1;
        const char *c = code_at(m, pts[i].snap, pts[i].x, pts[i].y, &how, &ov);
        CHECK(!strcmp(c, pts[i].code) && how == pts[i].how && ov == pts[i].overlap,
              "(%g, %g) snap %g: area %s how %d overlap %d, expected %s %d %d", pts[i].x, pts[i].y, pts[i].snap, c, how,
              ov, pts[i].code, pts[i].how, pts[i].overlap);
    }
    /* Tolerance 0: exactly on the edge is still the edge, 1e-7 off is not. */
    sk_areas_opts o;
    sk_areas_opts_default(&o);
    o.edge_tolerance = 0;
    int how;
    CHECK(sk_areas_locate(m, &o, 10, 5, &how, NULL) == 0 && how == SK_AREAS_EDGE, "exact edge");
    CHECK(sk_areas_locate(m, &o, 20.0000001, 5, &how, NULL) < 0, "tolerance 0");
    sk_areas_map_free(&m);
    CHECK(m == NULL, "free clears the pointer");
}

/* ---- the rules for elements --------------------------------------------- */

static void test_rules(void)
{
    sk_region_error err = {0};
    sk_areas_map *m = read_map(shapes, &err);
    sk_areas_elems *e = sk_areas_elems_new();
    CHECK(m && e, "%s", err.msg);
    if (!m || !e)
        return;
    long n1 = sk_areas_add_node(e, "water.node", "n1", &err), n2 = sk_areas_add_node(e, "water.node", "n2", &err);
    long n3 = sk_areas_add_node(e, "water.node", "n3", &err), n4 = sk_areas_add_node(e, "water.node", "n4", &err);
    long n5 = sk_areas_add_node(e, "water.node", "n5", &err), n6 = sk_areas_add_node(e, "water.node", "n6", &err);
    long n7 = sk_areas_add_node(e, "water.node", "n7", &err);
    long b1 = sk_areas_add_node(e, "power.bus", "1", &err), b2 = sk_areas_add_node(e, "power.bus", "2", &err);
    CHECK(n1 == 0 && b2 == 8, "indexes %ld %ld", n1, b2);
    sk_areas_set_xy(e, n1, 5, 5);        /* A */
    sk_areas_set_xy(e, n2, 15, 5);       /* 1234 */
    sk_areas_set_xy(e, n4, 5, 6);        /* A */
    sk_areas_set_xy(e, n6, 100, 100);    /* outside */
    /* n3 (no xy): neighbours n1, n4 (A) and n2 (1234): A.  n5: only n3,
     * one layer further: A.  n7: isolated: unassigned. */
    long l[8];
    l[0] = sk_areas_add_link(e, "water.link", "P1", n1, n2, &err);   /* border, A */
    l[1] = sk_areas_add_link(e, "water.link", "P2", n2, n1, &err);   /* border, 1234 */
    l[2] = sk_areas_add_link(e, "water.link", "P3", n6, n1, &err);   /* from its second end: A */
    l[3] = sk_areas_add_link(e, "water.link", "P4", n6, n7, &err);   /* unassigned */
    l[4] = sk_areas_add_link(e, "water.link", "P5", n3, n1, &err);
    l[5] = sk_areas_add_link(e, "water.link", "P6", n2, n3, &err);
    l[6] = sk_areas_add_link(e, "water.link", "P7", n4, n3, &err);
    l[7] = sk_areas_add_link(e, "water.link", "P8", n5, n3, &err);
    for (int k = 0; k < 8; k++)
        CHECK(l[k] >= 0, "link %d: %s", k, err.msg);
    long g = sk_areas_add_link(e, "power.gen", "1", b2, -1, &err);
    long br = sk_areas_add_link(e, "power.branch", "1", b1, b2, &err);
    CHECK(g >= 0 && br >= 0, "%s", err.msg);
    /* The bus sidecar: b1 in F, b2 in D. */
    const char xy[] = "bus,x,y\n1,10.5,30\n2,55.25,5\n";
    long nr = 0;
    CHECK(sk_areas_read_xy_csv(e, "power.bus", xy, strlen(xy), "xy.csv", &nr, &err) == 0 && nr == 2, "xy: %s", err.msg);
    /* Bad input is refused with a reason. */
    CHECK(sk_areas_add_node(e, "water.node", "n1", &err) == SK_REGION_EINVAL && strstr(err.msg, "twice"), "dup: %s",
          err.msg);
    CHECK(sk_areas_add_link(e, "water.link", "P9", n1, 999, &err) == SK_REGION_EINVAL, "bad end");
    CHECK(sk_areas_add_link(e, "water.link", "P9", l[0], n1, &err) == SK_REGION_EINVAL, "a link as an end");
    const char bad1[] = "bus,x,y\n1,1,1\n3,2,2\n", bad2[] = "bus,x,y\n1,1;5,2\n";
    CHECK(sk_areas_read_xy_csv(e, "power.bus", bad1, strlen(bad1), "xy.csv", NULL, &err) == SK_REGION_EINVAL &&
              strstr(err.msg, "xy.csv:3: '3' is not a power.bus"),
          "unknown bus: %s", err.msg);
    CHECK(sk_areas_read_xy_csv(e, "power.bus", bad2, strlen(bad2), "xy.csv", NULL, &err) == SK_REGION_EINVAL &&
              strstr(err.msg, "xy.csv:2: expected id,x,y"),
          "bad row: %s", err.msg);
    CHECK(sk_areas_find(e, "water.link", "P4") == l[3] && sk_areas_find(e, "water.node", "P4") < 0, "find");
    CHECK(sk_areas_assign(m, e, NULL, &err) == 0, "%s", err.msg);
    static const struct {
        const char *kind, *id, *area;
        int how;
    } want[] = {
        {"water.node", "n1", "A", SK_AREAS_INSIDE},     {"water.node", "n2", "1234", SK_AREAS_INSIDE},
        {"water.node", "n3", "A", SK_AREAS_INHERITED},  {"water.node", "n5", "A", SK_AREAS_INHERITED},
        {"water.node", "n6", NULL, SK_AREAS_OUTSIDE},   {"water.node", "n7", NULL, SK_AREAS_OUTSIDE},
        {"water.link", "P1", "A", SK_AREAS_FROM_END},   {"water.link", "P2", "1234", SK_AREAS_FROM_END},
        {"water.link", "P3", "A", SK_AREAS_TO_END},     {"water.link", "P4", NULL, SK_AREAS_OUTSIDE},
        {"water.link", "P6", "1234", SK_AREAS_FROM_END}, {"power.bus", "1", "F", SK_AREAS_INSIDE},
        {"power.gen", "1", "D", SK_AREAS_FROM_END},     {"power.branch", "1", "F", SK_AREAS_FROM_END},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        int how;
        int a = sk_areas_elem_area(e, sk_areas_find(e, want[k].kind, want[k].id), &how);
        const char *c = a < 0 ? NULL : sk_areas_map_code(m, a);
        CHECK((c ? want[k].area && !strcmp(c, want[k].area) : !want[k].area) && how == want[k].how,
              "%s %s: area %s how %d, expected %s %d", want[k].kind, want[k].id, c ? c : "-", how,
              want[k].area ? want[k].area : "-", want[k].how);
    }
    sk_areas_stats st;
    sk_areas_get_stats(e, &st);
    /* Border links: P1, P2, P6 (1234 -> A) and the branch (F -> D). */
    CHECK(st.nodes == 9 && st.links == 10 && st.unassigned == 3 && st.border_links == 4 && st.inherited == 2 &&
              st.no_xy == 3 && st.overlaps == 0,
          "stats: %ld nodes %ld links %ld unassigned %ld border %ld inherited %ld no_xy", st.nodes, st.links,
          st.unassigned, st.border_links, st.inherited, st.no_xy);
    size_t len;
    char *csv = sk_areas_csv(m, e, &len);
    CHECK(csv && strstr(csv, "\narea,A,\"Aa, \"\"quoted\"\"\",100\n") && strstr(csv, "\narea,1234,1234,0\n") &&
              strstr(csv, "\narea,unassigned,unassigned,0\n") && strstr(csv, "\nmap,water.node,n3,A\n") &&
              strstr(csv, "\nmap,water.link,P4,unassigned\n") && strstr(csv, "\nmap,power.gen,1,D\n") &&
              strlen(csv) == len,
          "csv:\n%s", csv ? csv : "(null)");
    /* Every element once, in the order added. */
    long maps = 0;
    for (const char *p = csv; p && (p = strstr(p, "\nmap,")); p++)
        maps++;
    CHECK(maps == sk_areas_count(e), "%ld map rows for %ld elements", maps, sk_areas_count(e));
    CHECK(csv && strstr(csv, "map,water.node,n1,A\nmap,water.node,n2,1234\n"), "order");
    char *js = sk_areas_summary(m, e, 1, &len);
    rg_json j;
    CHECK(js && rg_json_parse(js, len, "summary", NULL, &j, &err) == 0, "summary is not JSON: %s\n%s", err.msg, js ? js : "(null)");
    if (js && j.v) {
        const rg_jval *bl = rg_json_get(&j, &j.v[0], "border_links"), *un = rg_json_get(&j, &j.v[0], "unassigned");
        const rg_jval *bc = rg_json_get(&j, bl, "count"), *uc = rg_json_get(&j, un, "count");
        CHECK(bc && bc->type == RG_JNUM && bc->u.num == 4 && uc && uc->u.num == 3, "summary counts");
        CHECK(strstr(js, "{\"kind\":\"water.link\",\"id\":\"P2\",\"area\":\"1234\",\"to_area\":\"A\"}") &&
                  strstr(js, "{\"kind\":\"water.node\",\"id\":\"n7\",\"has_xy\":false}"),
              "summary lists: %s", js);
        rg_json_free(&j);
    }
    free(js);
    free(csv);
    /* Overlaps are reported as a warning; coordinates in another CRS too. */
    sk_areas_elems *e2 = sk_areas_elems_new();
    long o1 = sk_areas_add_node(e2, "traffic.node", "1", &err);
    sk_areas_set_xy(e2, o1, 3, 3);
    CHECK(sk_areas_assign(m, e2, NULL, &err) == 0 && strstr(sk_areas_elems_warnings(e2), "more than one area") &&
              strstr(sk_areas_elems_warnings(e2), "traffic.node 1"),
          "overlap warning: '%s'", sk_areas_elems_warnings(e2));
    sk_areas_set_xy(e2, o1, 500000, 6900000);   /* another CRS */
    sk_areas_opts o;
    sk_areas_opts_default(&o);
    CHECK(sk_areas_assign(m, e2, &o, &err) == 0 && strstr(sk_areas_elems_warnings(e2), "CRS"), "CRS warning: '%s'",
          sk_areas_elems_warnings(e2));
    sk_areas_elems_free(&e2);
    sk_areas_elems_free(&e);
    sk_areas_map_free(&m);
}

/* ---- malformed input ---------------------------------------------------- */

static const char ring_ok[] = "[[[0,0],[1,0],[1,1],[0,0]]]";
#define POLY "{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,0]]]}"

static void bad_case(const char *text, const char *expect)
{
    sk_region_error err = {0};
    sk_areas_map *m = NULL;
    int rc = sk_areas_map_read_geojson(text, strlen(text), "t.geojson", NULL, &m, &err);
    CHECK(rc == SK_REGION_EINVAL && m == NULL && strstr(err.msg, expect), "'%s': rc %d, '%s' (expected '%s')", text,
          rc, err.msg, expect);
    sk_areas_map_free(&m);
}

static char *feature(const char *props, const char *geom)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "{\"type\":\"FeatureCollection\",\"features\":[\n{\"type\":\"Feature\",\"properties\":%s,"
             "\n\"geometry\":%s}]}", props, geom);
    return buf;
}

static void test_malformed(void)
{
    /* JSON syntax, with line:column (columns count characters). */
    bad_case("", "t.geojson:1:1: expected a value, found end of input");
    bad_case("{\"type\": \"FeatureCollection\", \"features\": [", "t.geojson:1:44: expected a value, found end of input");
    bad_case("{\n  \"type\": \"FeatureCollection\",\n  \"features\": [1,]\n}", "t.geojson:3:18: expected a value, found ']'");
    bad_case("{\"navn\": \"Ørskog\", x}", "t.geojson:1:20: expected a member name in quotes, found 'x'");
    bad_case("{\"a\" 1}", "1:6: expected ':' after the member name");
    bad_case("{\"a\": 1 \"b\": 2}", "1:9: expected ',' or '}'");
    bad_case("[1 2]", "1:4: expected ',' or ']'");
    bad_case("{} x", "1:4: expected the end of the document");
    bad_case("{\"a\": \"x\\q\"}", "1:9: invalid escape '\\q'");
    bad_case("{\"a\": \"\\u12G4\"}", "\\u needs four hex digits");
    bad_case("{\"a\": \"\\ud800\"}", "high surrogate \\uD800 without its low half");
    bad_case("{\"a\": \"\\udc00\"}", "lone low surrogate");
    bad_case("{\"a\": \"\xff\"}", "1:8: invalid UTF-8");
    bad_case("{\"a\": \"\xc0\xaf\"}", "invalid UTF-8");          /* overlong '/' */
    bad_case("{\"a\": \"\xed\xa0\x80\"}", "invalid UTF-8");      /* a surrogate in UTF-8 */
    bad_case("{\"a\": \"line\nbreak\"}", "1:12: control character 0x0a");
    bad_case("{\"a\": \"open", "1:7: unterminated string");
    bad_case("{\"a\": 01}", "1:7: invalid number (no leading zeros)");
    bad_case("{\"a\": 1.}", "a digit must follow '.'");
    bad_case("{\"a\": -}", "a digit must follow '-'");
    bad_case("{\"a\": 1e}", "a digit must follow the exponent");
    bad_case("{\"a\": 1e999}", "out of range");
    bad_case("{\"a\": +1}", "expected a value, found '+'");
    bad_case("{\"a\": tru}", "invalid literal");
    bad_case("{\"a\": NaN}", "expected a value, found 'N'");
    bad_case("{\"a\": 1,}", "expected a member name");
    char deep[300];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    deep[200] = 0;
    bad_case(deep, "1:65: nested deeper than 64 levels");
    /* GeoJSON structure, with the feature's number. */
    bad_case("[]", "1:1: expected a GeoJSON object, not an array");
    bad_case("{\"type\": \"Topology\"}", "1:10: expected \"type\": \"FeatureCollection\" or \"Feature\"");
    bad_case("{\"type\": \"FeatureCollection\"}", "needs a \"features\" array");
    bad_case("{\"type\": \"FeatureCollection\", \"features\": []}", "no polygons");
    bad_case(feature("{\"kommunenummer\":\"1\"}", "{\"type\":\"Point\",\"coordinates\":[1,2]}"),
             "t.geojson:3:20: feature 1: geometry type \"Point\": only Polygon and MultiPolygon");
    bad_case(feature("{\"name\":\"x\"}", "{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,0]]]}"),
             "t.geojson:2:1: feature 1: no area id");
    bad_case(feature("{\"kommunenummer\":1.5}", POLY), "2:49: feature 1: the area id must be a string or an integer");
    bad_case(feature("{\"kommunenummer\":\"\"}", POLY), "the area id must have 1..63 bytes");
    bad_case(feature("{\"kommunenummer\":\"unassigned\"}", "{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,0]]]}"),
             "reserved");
    bad_case(feature("{\"kommunenummer\":\"1\",\"population\":-3}", POLY), "population must be a number >= 0");
    bad_case(feature("{\"kommunenummer\":\"1\"}", "{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[0,0]]]}"),
             "3:45: feature 1: a linear ring needs at least 4 positions, it has 3");
    bad_case(feature("{\"kommunenummer\":\"1\"}", "{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,1]]]}"),
             "3:64: feature 1: a linear ring must end at its first position");
    bad_case(feature("{\"kommunenummer\":\"1\"}", "{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,\"0\"],[1,1],[0,0]]]}"),
             "3:52: feature 1: a position must be an array of at least two numbers");
    bad_case(feature("{\"kommunenummer\":\"1\"}", "{\"type\":\"Polygon\",\"coordinates\":[]}"),
             "a polygon must be a non-empty array");
    bad_case(feature("{\"kommunenummer\":\"1\"}", "{\"type\":\"MultiPolygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,0]]]}"),
             "3:51: feature 1: a linear ring needs at least 4 positions, it has 2");
    bad_case(feature("{\"kommunenummer\":\"1\"}", "{\"type\":\"MultiPolygon\",\"coordinates\":[[1]]}"),
             "a linear ring must be an array of positions, not a number");
    bad_case(feature("{\"kommunenummer\":\"1\"}", "{\"type\":\"Polygon\"}"), "\"coordinates\" must be an array");
    bad_case(feature("[]", POLY), "\"properties\" must be an object or null");
    bad_case("{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":{\"id\":\"1\"},"
             "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,0]]]}},\n 7]}",
             "t.geojson:2:2: feature 2: expected an object with \"type\": \"Feature\"");
    /* Valid corner cases: a BOM, escapes and surrogate pairs decode to
     * UTF-8, a single Feature, a chosen id property, extra members. */
    char text[1024];
    snprintf(text, sizeof text,
             "\xEF\xBB\xBF {\"type\":\"Feature\",\"bbox\":[0,0,1,1],\"properties\":{\"nr\":\"0301\",\"code\":\"x\","
             "\"navn\":\"tab\\there\"},\"geometry\":{\"type\":\"Polygon\",\"coordinates\":%s}}\r\n",
             ring_ok);
    sk_areas_geo_opts go = {.id_property = "nr"};
    sk_areas_map *m = NULL;
    sk_region_error err = {0};
    int rc = sk_areas_map_read_geojson(text, strlen(text), "t.geojson", &go, &m, &err);
    CHECK(rc == SK_REGION_EINVAL && strstr(err.msg, "t.geojson:1:81: feature 1: the area name holds a control"),
          "a tab in a name: %s", err.msg);
    snprintf(text, sizeof text,
             "{\"type\":\"Feature\",\"properties\":{\"nr\":\"0301\",\"navn\":\"\\u00d8s\\/t \\ud83d\\ude00 \\\"q\\\"\"},"
             "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":%s}}",
             ring_ok);
    rc = sk_areas_map_read_geojson(text, strlen(text), "t.geojson", &go, &m, &err);
    CHECK(rc == 0 && m && !strcmp(sk_areas_map_name(m, 0), "\xc3\x98s/t \xf0\x9f\x98\x80 \"q\""), "decoded name: %s",
          rc ? err.msg : sk_areas_map_name(m, 0));
    sk_areas_map_free(&m);
    go.id_property = "missing";
    rc = sk_areas_map_read_geojson(text, strlen(text), "t.geojson", &go, &m, &err);
    CHECK(rc == SK_REGION_EINVAL && strstr(err.msg, "no property \"missing\""), "given id property: %s", err.msg);
    /* Limits: a tight value limit is reported, not exceeded. */
    rg_json j;
    rg_json_limits lim;
    rg_json_limits_default(&lim);
    lim.max_values = 3;
    rc = rg_json_parse("[1,2,3]", 7, "lim", &lim, &j, &err);
    CHECK(rc == SK_REGION_EINVAL && strstr(err.msg, "lim:1:6: more than 3 values"), "value limit: %s", err.msg);
    lim.max_values = 100;
    lim.max_string = 4;
    rc = rg_json_parse("[\"abcdefgh\"]", 12, "lim", &lim, &j, &err);
    CHECK(rc == SK_REGION_EINVAL && strstr(err.msg, "longer than 4 bytes"), "string limit: %s", err.msg);
    lim.max_bytes = 5;
    rc = rg_json_parse("[1,2,3]", 7, "lim", &lim, &j, &err);
    CHECK(rc == SK_REGION_EINVAL && strstr(err.msg, "more than the limit"), "byte limit: %s", err.msg);
    /* Numbers round correctly; "\u0000" is kept with its length. */
    const char nums[] = "[0.1, -0, 5e-324, 1.7976931348623157e308, \"a\\u0000b\"]";
    rc = rg_json_parse(nums, strlen(nums), "n", NULL, &j, &err);
    CHECK(rc == 0, "numbers: %s", err.msg);
    if (rc == 0) {
        const rg_jval *v = rg_json_first(&j, &j.v[0]);
        CHECK(v->u.num == 0.1, "0.1 -> %.17g", v->u.num);
        v = rg_json_next(&j, v);
        CHECK(v->u.num == 0 && signbit(v->u.num), "-0");
        v = rg_json_next(&j, v);
        CHECK(v->u.num > 0, "denormal");
        v = rg_json_next(&j, v);
        CHECK(v->u.num == 1.7976931348623157e308, "max double");
        size_t sl;
        const char *s = rg_json_str(&j, rg_json_next(&j, v), &sl);
        CHECK(s && sl == 3 && s[1] == 0 && s[2] == 'b', "embedded NUL");
        rg_json_free(&j);
    }
}

/* ---- numbers under nb_NO.UTF-8 ------------------------------------------ */

static void test_locale(void)
{
    if (!setlocale(LC_ALL, "nb_NO.UTF-8")) {
        printf("  SKIP (part): nb_NO.UTF-8 is not installed; the locale test runs in the C locale only\n");
        setlocale(LC_ALL, "C");
    } else
        printf("  running under nb_NO.UTF-8 (decimal comma)\n");
    const char text[] = "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":"
                        "{\"kommunenummer\":\"1\",\"population\":1234.5},\"geometry\":{\"type\":\"Polygon\","
                        "\"coordinates\":[[[0.5,0.5],[1.5,0.5],[1.5,1.5],[0.5,1.5],[0.5,0.5]]]}}]}";
    sk_region_error err = {0};
    sk_areas_map *m = read_map(text, &err);
    CHECK(m != NULL, "%s", err.msg);
    if (!m)
        return;
    sk_areas_elems *e = sk_areas_elems_new();
    long b = sk_areas_add_node(e, "power.bus", "7", &err), c = sk_areas_add_node(e, "power.bus", "8", &err);
    const char xy[] = "bus,x,y\n7,1.25,0.75\n8,0.25,0.75\n";
    CHECK(sk_areas_read_xy_csv(e, "power.bus", xy, strlen(xy), "xy.csv", NULL, &err) == 0, "%s", err.msg);
    sk_areas_opts o;
    sk_areas_opts_default(&o);
    o.snap_distance = 0.2;   /* bus 8 is 0.25 away */
    CHECK(sk_areas_assign(m, e, &o, &err) == 0, "%s", err.msg);
    int how;
    CHECK(sk_areas_elem_area(e, b, &how) == 0 && how == SK_AREAS_INSIDE, "bus 7 how %d", how);
    CHECK(sk_areas_elem_area(e, c, &how) < 0, "bus 8 is beyond the snap distance");
    o.snap_distance = 0.3;
    CHECK(sk_areas_assign(m, e, &o, &err) == 0 && sk_areas_elem_area(e, c, &how) == 0 && how == SK_AREAS_SNAPPED,
          "bus 8 snapped");
    char *csv = sk_areas_csv(m, e, NULL);
    CHECK(csv && strstr(csv, "area,1,1,1234.5\n"), "population printed in the C locale: %s", csv);
    free(csv);
    sk_areas_elems_free(&e);
    sk_areas_map_free(&m);
    setlocale(LC_ALL, "C");
}

/* ---- a generated region ------------------------------------------------- */

/* The generator lays each member out in its own square around its centre
 * (docs/region.md), so the bounding boxes of the members' elements, read
 * from the merged files and the merger's map, do not overlap.  Each box,
 * grown by 1 m, becomes a feature with the region.csv name and population;
 * skip >= 0 leaves that member out, and member `multi` is split into two
 * halves that share an edge (a MultiPolygon).  Returns -1 when boxes overlap
 * (the test would be void). */
static int write_boxes(const char *path, const char *merged, int skip, int multi)
{
    char p[600];
    snprintf(p, sizeof p, "%s/areas.csv", merged);
    char *areas = slurp(p, NULL);
    sk_areas_elems *e = sk_areas_elems_new();
    sk_region_error err = {0};
    int nm = 0, code[SK_REGION_MAX_MUNI], *area_of = NULL;
    char name[SK_REGION_MAX_MUNI][64];
    long pop[SK_REGION_MAX_MUNI], cap = 0;
    double bx[SK_REGION_MAX_MUNI][4];
    if (!areas || !e)
        return -1;
    for (char *line = strtok(areas, "\n"); line; line = strtok(NULL, "\n")) {
        char kind[32], id[64];
        int c;
        if (nm < SK_REGION_MAX_MUNI && sscanf(line, "area,%d,%63[^,],%ld", &code[nm], name[nm], &pop[nm]) == 3) {
            bx[nm][0] = bx[nm][1] = INFINITY;
            bx[nm][2] = bx[nm][3] = -INFINITY;
            nm++;
        } else if (sscanf(line, "map,%31[^,],%63[^,],%d", kind, id, &c) == 3 &&
                   (!strcmp(kind, "traffic.node") || !strcmp(kind, "water.node") || !strcmp(kind, "power.bus"))) {
            long i = sk_areas_add_node(e, kind, id, &err);
            if (i >= cap) {
                cap = cap ? cap * 2 : 4096;
                area_of = realloc(area_of, (size_t)cap * sizeof *area_of);
            }
            int a = 0;
            while (a < nm && code[a] != c)
                a++;
            area_of[i] = a;
        }
    }
    free(areas);
    /* Coordinates of every node, by kind and id. */
    static const char *const files[] = {"traffic_node.tntp", "water.inp", "power_bus_xy.csv"};
    static const char *const kinds[] = {"traffic.node", "water.node", "power.bus"};
    for (int f = 0; f < 3; f++) {
        snprintf(p, sizeof p, "%s/%s", merged, files[f]);
        char *text = slurp(p, NULL);
        int on = f != 1;
        for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n")) {
            char id[64];
            double x, y;
            if (line[0] == '[') {
                on = f != 1 || !strncmp(line, "[COORDINATES]", 13);
                continue;
            }
            if (!on || sscanf(line, f == 2 ? "%63[^,],%lf,%lf" : "%63s %lf %lf", id, &x, &y) != 3)
                continue;
            long i = sk_areas_find(e, kinds[f], id);
            if (i < 0)
                continue;
            int a = area_of[i];
            bx[a][0] = fmin(bx[a][0], x); bx[a][1] = fmin(bx[a][1], y);
            bx[a][2] = fmax(bx[a][2], x); bx[a][3] = fmax(bx[a][3], y);
        }
        free(text);
    }
    free(area_of);
    sk_areas_elems_free(&e);
    for (int a = 0; a < nm; a++)
        for (int b = a + 1; b < nm; b++)
            if (bx[a][0] <= bx[b][2] + 2 && bx[b][0] <= bx[a][2] + 2 && bx[a][1] <= bx[b][3] + 2 &&
                bx[b][1] <= bx[a][3] + 2)
                return -1;
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "{\"type\": \"FeatureCollection\", \"features\": [");
    int first = 1;
    for (int a = 0; a < nm; a++) {
        if (a == skip)
            continue;
        double x0 = bx[a][0] - 1, y0 = bx[a][1] - 1, x1 = bx[a][2] + 1, y1 = bx[a][3] + 1, ym = (y0 + y1) / 2;
        fprintf(f, "%s\n {\"type\": \"Feature\", \"properties\": {\"kommunenummer\": \"%d\", \"kommunenavn\": \"%s\", "
                   "\"population\": %ld},\n  \"geometry\": ",
                first ? "" : ",", code[a], name[a], pop[a]);
        first = 0;
        if (a == multi)
            fprintf(f, "{\"type\": \"MultiPolygon\", \"coordinates\": [[[[%.3f, %.3f], [%.3f, %.3f], [%.3f, %.3f], "
                       "[%.3f, %.3f], [%.3f, %.3f]]], [[[%.3f, %.3f], [%.3f, %.3f], [%.3f, %.3f], [%.3f, %.3f], "
                       "[%.3f, %.3f]]]]}}",
                    x0, y0, x1, y0, x1, ym, x0, ym, x0, y0, x0, ym, x1, ym, x1, y1, x0, y1, x0, ym);
        else
            fprintf(f, "{\"type\": \"Polygon\", \"coordinates\": [[[%.3f, %.3f], [%.3f, %.3f], [%.3f, %.3f], "
                       "[%.3f, %.3f], [%.3f, %.3f]]]}}",
                    x0, y0, x1, y0, x1, y1, x0, y1, x0, y0);
    }
    fprintf(f, "\n]}\n");
    fclose(f);
    return 0;
}

/* Run the CLI with stdout to a file; returns the exit code. */
static int run_cli(const char *outpath, int n, char **argv)
{
    fflush(stdout);
    int saved = dup(1);
    FILE *f = fopen(outpath, "w");
    if (saved < 0 || !f)
        abort();
    dup2(fileno(f), 1);
    int rc = sk_cli_areas_main(n, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fclose(f);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The rows of areas.csv that start with prefix, sorted (one string). */
static char *rows(const char *path, const char *prefix)
{
    char *text = slurp(path, NULL);
    if (!text)
        return NULL;
    size_t n = 0, cap = 1024;
    char **v = malloc(cap * sizeof *v);
    size_t pl = strlen(prefix), total = 1;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        if (!strncmp(line, prefix, pl)) {
            if (n == cap)
                v = realloc(v, (cap *= 2) * sizeof *v);
            v[n++] = line;
            total += strlen(line) + 1;
        }
    qsort(v, n, sizeof *v, cmp_str);
    char *out = malloc(total), *p = out;
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s\n", v[i]);
    *p = 0;
    free(v);
    free(text);
    return out;
}

static void test_region(void)
{
    char dir[400], merged[450], geo[450], csv[450], sum[450], geo2[450], csv2[450];
    snprintf(dir, sizeof dir, "%s/r", tmproot);
    snprintf(merged, sizeof merged, "%s/merged", dir);
    snprintf(geo, sizeof geo, "%s/cells.geojson", tmproot);
    snprintf(geo2, sizeof geo2, "%s/cells4.geojson", tmproot);
    snprintf(csv, sizeof csv, "%s/areas.csv", tmproot);
    snprintf(csv2, sizeof csv2, "%s/areas4.csv", tmproot);
    snprintf(sum, sizeof sum, "%s/summary.json", tmproot);
    sk_region_gen_opts go;
    sk_region_gen_opts_default(&go);
    go.scale = 2;
    go.seed = 11;
    sk_region_error err = {0};
    sk_region_summary *s = malloc(sizeof *s);
    CHECK(s && sk_region_generate(&go, dir, NULL, &err) == 0 && sk_region_merge(dir, NULL, NULL, s, &err) == 0, "%s",
          err.msg);
    if (failures) {
        free(s);
        return;
    }
    /* Ålesund (member 0) gets a MultiPolygon. */
    CHECK(write_boxes(geo, merged, -1, 0) == 0, "the members' boxes overlap");
    char *argv[] = {"areas", "assign", "--polygons", geo, "--dir", merged, "--out", csv, "--json", NULL};
    int rc = run_cli(sum, 9, argv);
    CHECK(rc == 0, "areas assign: rc %d", rc);
    char *want = rows(csv, "map,"), *got = NULL;
    snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/merged/areas.csv");
    char *merger = rows(dir, "map,");
    got = want;
    CHECK(merger && got && strlen(merger) > 1000 && strcmp(merger, got) == 0,
          "areas assign does not reproduce the merger's map rows (%zu vs %zu bytes)", merger ? strlen(merger) : 0,
          got ? strlen(got) : 0);
    if (merger && got && strcmp(merger, got)) {
        /* Show the first difference. */
        size_t k = 0;
        while (merger[k] && merger[k] == got[k])
            k++;
        while (k > 0 && merger[k - 1] != '\n')
            k--;
        fprintf(stderr, "  merger: %.60s\n  assign: %.60s\n", merger + k, got + k);
    }
    char *ma = rows(dir, "area,"), *ga = rows(csv, "area,");
    CHECK(ma && ga && !strcmp(ma, ga), "area rows differ:\n%s---\n%s", ma, ga);
    free(ma); free(ga); free(merger); free(want);
    /* The summary: every inter-municipal road, main and tie is a border
     * link, and nothing else is. */
    size_t len;
    char *js = slurp(sum, &len);
    rg_json j;
    long ties = s->ties.traffic_links + s->ties.water_links + s->ties.power_branches;
    CHECK(js && rg_json_parse(js, len, "summary", NULL, &j, &err) == 0, "summary: %s", err.msg);
    if (js && j.v) {
        const rg_jval *bc = rg_json_get(&j, rg_json_get(&j, &j.v[0], "border_links"), "count");
        const rg_jval *uc = rg_json_get(&j, rg_json_get(&j, &j.v[0], "unassigned"), "count");
        const rg_jval *el = rg_json_get(&j, &j.v[0], "elements");
        CHECK(bc && bc->u.num == (double)ties && ties > 0, "border links %g, ties %ld", bc ? bc->u.num : -1, ties);
        CHECK(uc && uc->u.num == 0, "unassigned %g", uc ? uc->u.num : -1);
        CHECK(el && el->u.num == (double)sk_region_counts_elements(&s->total), "elements %g, merged %ld",
              el ? el->u.num : -1, sk_region_counts_elements(&s->total));
        rg_json_free(&j);
    }
    free(js);
    /* Without Sandøy's polygon its elements are unassigned: --strict fails
     * and writes nothing; otherwise they are mapped to `unassigned`, and a
     * snap distance larger than the gap places them in a neighbour. */
    CHECK(write_boxes(geo2, merged, 2, -1) == 0, "the members' boxes overlap");
    char *argv2[] = {"areas", "assign", "--polygons", geo2, "--dir", merged, "--out", csv2, "--strict", NULL};
    remove(csv2);
    rc = run_cli(sum, 9, argv2);
    CHECK(rc == 1 && access(csv2, F_OK) != 0, "--strict: rc %d", rc);
    rc = run_cli(sum, 8, argv2);
    char *un = rows(csv2, "map,");
    CHECK(rc == 0 && un && strstr(un, ",unassigned\n") && strstr(un, "map,water.node,1546_J1,unassigned\n"),
          "unassigned rows: rc %d", rc);
    free(un);
    char *argv3[] = {"areas", "assign", "--polygons", geo2, "--dir", merged, "--out", csv2, "--strict",
                     "--snap-distance", "100000", "--json", NULL};
    rc = run_cli(sum, 12, argv3);
    js = slurp(sum, &len);
    CHECK(rc == 0 && js && strstr(js, "\"unassigned\":{\"count\":0") && !strstr(js, "\"snapped\":0,"),
          "snap: rc %d %s", rc, js ? js : "");
    free(js);
    /* Usage errors. */
    char *u1[] = {"areas", "assign", "--dir", merged, NULL};
    char *u2[] = {"areas", "assign", "--polygons", geo, NULL};
    char *u3[] = {"areas", "assign", "--polygons", geo, "--water", merged, "--snap-distance", "1,5", NULL};
    char *u4[] = {"areas", "assign", "--help", NULL};
    char *u5[] = {"areas", "frobnicate", NULL};
    char *u6[] = {"areas", "assign", "--polygons", "/nonexistent.geojson", "--dir", merged, NULL};
    char *u7[] = {"areas", "assign", "--polygons", geo, "--power-xy", csv, NULL};
    CHECK(run_cli(sum, 4, u1) == 2, "no --polygons");
    CHECK(run_cli(sum, 4, u2) == 2, "no network");
    CHECK(run_cli(sum, 8, u3) == 2, "decimal comma");
    CHECK(run_cli(sum, 3, u4) == 0, "--help");
    char *help = slurp(sum, NULL);
    CHECK(help && strstr(help, "--snap-distance") && strstr(help, "--id-property"), "help text");
    free(help);
    CHECK(run_cli(sum, 2, u5) == 2, "unknown command");
    CHECK(run_cli(sum, 6, u6) == 1, "missing polygons file");
    CHECK(run_cli(sum, 6, u7) == 2, "--power-xy without --power");
    free(s);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_areas polygons|rules|malformed|locale|region\n");
        return 2;
    }
    setlocale(LC_ALL, "C");
    snprintf(tmproot, sizeof tmproot, "/tmp/sk_areas_test_XXXXXX");
    if (!mkdtemp(tmproot)) {
        perror("mkdtemp");
        return 1;
    }
    if (!strcmp(argv[1], "polygons"))
        test_polygons();
    else if (!strcmp(argv[1], "rules"))
        test_rules();
    else if (!strcmp(argv[1], "malformed"))
        test_malformed();
    else if (!strcmp(argv[1], "locale"))
        test_locale();
    else if (!strcmp(argv[1], "region"))
        test_region();
    else {
        fprintf(stderr, "unknown test %s\n", argv[1]);
        failures++;
    }
    nftw(tmproot, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
