/* fuzz_geojson.c - libFuzzer target for the bounded JSON reader and the
 * GeoJSON area polygons (region/).  The first byte picks the reader; a map
 * that parses is also asked to locate a few points and to map a tiny
 * network, so the geometry code sees every polygon the reader accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "rg_json.h"
#include "sk_areas.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    sk_region_error err = {0};
    if (data[0] & 1) {
        rg_json j;
        rg_json_limits lim;
        rg_json_limits_default(&lim);
        lim.max_values = 100000;
        lim.max_string = 4096;
        if (rg_json_parse(p, n, "fuzz.json", &lim, &j, &err) == 0)
            rg_json_free(&j);
        return 0;
    }
    sk_areas_map *m = NULL;
    sk_areas_geo_opts go = {0};
    if (data[0] & 2)
        go.id_property = "id";
    if (sk_areas_map_read_geojson(p, n, "fuzz.geojson", &go, &m, &err) < 0)
        return 0;
    sk_areas_opts o;
    sk_areas_opts_default(&o);
    o.snap_distance = (data[0] & 4) ? 10 : 0;
    static const double pts[][2] = {{0, 0}, {0.5, 0.5}, {1, 1}, {-1, 2}, {10, 10}, {1e300, -1e300}};
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        int how, ov;
        sk_areas_locate(m, &o, pts[i][0], pts[i][1], &how, &ov);
    }
    sk_areas_elems *e = sk_areas_elems_new();
    if (e) {
        long a = sk_areas_add_node(e, "water.node", "a", &err), b = sk_areas_add_node(e, "water.node", "b", &err);
        long c = sk_areas_add_node(e, "water.node", "c", &err);
        if (a >= 0 && b >= 0 && c >= 0) {
            sk_areas_set_xy(e, a, 0.5, 0.5);
            sk_areas_set_xy(e, b, 10, 10);
            sk_areas_add_link(e, "water.link", "ab", a, b, &err);
            sk_areas_add_link(e, "water.link", "bc", b, c, &err);
            if (sk_areas_assign(m, e, &o, &err) == 0) {
                free(sk_areas_csv(m, e, NULL));
                free(sk_areas_summary(m, e, 1, NULL));
            }
        }
        sk_areas_elems_free(&e);
    }
    sk_areas_map_free(&m);
    return 0;
}
