/* areas.c - `samskap areas assign`: build the element -> area map of real
 * networks from municipal boundary polygons (docs/region.md, "Area maps for
 * real data").  The networks are read by the kernels' own parsers, so the
 * element ids and link numbers are the ones their results carry; the
 * placement rules live in region/ (sk_areas.h).  areas.csv goes to stdout
 * or --out; the summary to stderr, or to stdout when --out is given. */
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "areas.h"
#include "sk_areas.h"
#include "sk_power.h"
#include "sk_traffic.h"
#include "sk_water.h"

/* Same values as cli.h's exit codes (this file needs no bus headers). */
enum { AX_OK = 0, AX_ERROR = 1, AX_USAGE = 2 };

static const char assign_usage[] =
    "usage: samskap areas assign --polygons FILE.geojson NETWORKS... [options]\n"
    "\n"
    "Maps every element of the networks to the area whose polygon holds it and\n"
    "writes areas.csv (the format of `samskap region merge`; docs/region.md).\n"
    "Coordinates must be planar, in the polygons' CRS: nothing is reprojected.\n"
    "\n"
    "networks (at least one):\n"
    "  --dir DIR               the files below that exist in DIR (traffic_net.tntp,\n"
    "                          traffic_node.tntp, water.inp, power.m, power_bus_xy.csv)\n"
    "  --water FILE.inp        EPANET network; node coordinates from [COORDINATES]\n"
    "  --traffic-net FILE      TNTP network; --traffic-nodes FILE: its node file\n"
    "  --power FILE.m          MATPOWER case; --power-xy FILE.csv: bus,x,y coordinates\n"
    "options:\n"
    "  --id-property NAME      feature property with the area code (default:\n"
    "                          kommunenummer, then code, then id, then the feature id)\n"
    "  --name-property NAME    area name (default: kommunenavn, navn, name; else the code)\n"
    "  --population-property NAME  (default: population, folketall; else 0)\n"
    "  --snap-distance D       place a point outside every polygon in the nearest one\n"
    "                          within D (CRS units, metres; default 0 = off)\n"
    "  --edge-tolerance D      a point this close to an edge is on it (default 1e-6)\n"
    "  --strict                exit 1 and write no map when an element is unassigned\n"
    "  --out FILE              write areas.csv to FILE (default: stdout)\n"
    "  --json                  the summary as JSON (stderr, or stdout with --out)\n"
    "\n"
    "Rules: on an edge counts as inside; a point in two areas goes to the first\n"
    "feature (a warning); nodes without coordinates take their neighbours' most\n"
    "common area; links and generators take the area of their first end, and links\n"
    "whose ends lie in different areas are listed as border links; the rest go to\n"
    "the area `unassigned`.\n";

static const char top_usage[] =
    "usage: samskap areas assign --polygons FILE.geojson NETWORKS... [options]\n"
    "\n"
    "Element -> area maps for real data (docs/region.md).\n"
    "`samskap areas assign --help` for details.\n";

typedef struct inputs {
    const char *polygons, *water, *tnet, *tnodes, *power, *pxy;
} inputs;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "samskap areas assign: %s: cannot read: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, n = 0, k;
    char *p = malloc(cap);
    while (p && (k = fread(p + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (n + 1 == cap) {
            char *np = realloc(p, cap * 2);
            if (!np) {
                free(p);
                p = NULL;
                break;
            }
            p = np;
            cap *= 2;
        }
    }
    int bad = !p || ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "samskap areas assign: %s: read error\n", path);
        free(p);
        return NULL;
    }
    p[n] = 0;
    *len = n;
    return p;
}

static int fail_region(const sk_region_error *err)
{
    fprintf(stderr, "samskap areas assign: %s\n", err->msg);
    return AX_ERROR;
}

static int add_traffic(sk_areas_elems *e, const char *netf, const char *nodef)
{
    size_t len, nlen;
    char *s = slurp(netf, &len), *ns = NULL;
    if (!s)
        return AX_ERROR;
    sk_error terr = {0};
    sk_region_error err = {0};
    sk_traffic_net *net = sk_traffic_net_read(s, len, netf, &terr);
    sk_traffic_nodes *nodes = NULL;
    int rc = AX_ERROR;
    if (!net) {
        fprintf(stderr, "samskap areas assign: %s\n", terr.msg);
        goto out;
    }
    if (nodef) {
        if (!(ns = slurp(nodef, &nlen)))
            goto out;
        if (!(nodes = sk_traffic_nodes_read(ns, nlen, nodef, net->nnodes, &terr))) {
            fprintf(stderr, "samskap areas assign: %s\n", terr.msg);
            goto out;
        }
    }
    long base = sk_areas_count(e);
    char id[32];
    for (int32_t i = 0; i < net->nnodes; i++) {
        snprintf(id, sizeof id, "%d", i + 1);
        long k = sk_areas_add_node(e, "traffic.node", id, &err);
        if (k < 0) {
            rc = fail_region(&err);
            goto out;
        }
        if (nodes && i < nodes->nnodes && nodes->has[i])
            sk_areas_set_xy(e, k, nodes->x[i], nodes->y[i]);
    }
    for (int32_t k = 0; k < net->nlinks; k++) {
        snprintf(id, sizeof id, "%d", k + 1);
        if (sk_areas_add_link(e, "traffic.link", id, base + net->from[k] - 1, base + net->to[k] - 1, &err) < 0) {
            rc = fail_region(&err);
            goto out;
        }
    }
    rc = AX_OK;
out:
    sk_traffic_nodes_free(nodes);
    sk_traffic_net_free(net);
    free(s);
    free(ns);
    return rc;
}

static int add_water(sk_areas_elems *e, const char *path)
{
    size_t len;
    char *s = slurp(path, &len);
    if (!s)
        return AX_ERROR;
    sk_water_error werr = {0};
    sk_region_error err = {0};
    sk_water_net *net = NULL;
    int rc = AX_ERROR;
    if (sk_water_parse(s, len, path, &net, &werr) != 0) {
        fprintf(stderr, "samskap areas assign: %s\n", werr.msg);
        goto out;
    }
    long base = sk_areas_count(e);
    for (int i = 0; i < sk_water_nnodes(net); i++) {
        long k = sk_areas_add_node(e, "water.node", sk_water_node_id(net, i), &err);
        if (k < 0) {
            rc = fail_region(&err);
            goto out;
        }
        double x, y;
        if (sk_water_node_xy(net, i, &x, &y) == 0)
            sk_areas_set_xy(e, k, x, y);
    }
    for (int k = 0; k < sk_water_nlinks(net); k++) {
        int n1, n2;
        sk_water_link_nodes(net, k, &n1, &n2);
        if (sk_areas_add_link(e, "water.link", sk_water_link_id(net, k), base + n1, base + n2, &err) < 0) {
            rc = fail_region(&err);
            goto out;
        }
    }
    rc = AX_OK;
out:
    sk_water_net_free(net);
    free(s);
    return rc;
}

static int add_power(sk_areas_elems *e, const char *casef, const char *xyf)
{
    size_t len, xlen;
    char *s = slurp(casef, &len), *xs = NULL;
    if (!s)
        return AX_ERROR;
    sk_power_error perr = {0};
    sk_region_error err = {0};
    sk_power_case *c = NULL;
    int rc = AX_ERROR;
    if (sk_power_case_parse(s, len, casef, &c, &perr) != 0) {
        fprintf(stderr, "samskap areas assign: %s\n", perr.msg);
        goto out;
    }
    long base = sk_areas_count(e);
    char id[32];
    for (size_t i = 0; i < c->nbus; i++) {
        snprintf(id, sizeof id, "%lld", (long long)c->bus_i[i]);
        if (sk_areas_add_node(e, "power.bus", id, &err) < 0) {
            rc = fail_region(&err);
            goto out;
        }
    }
    for (size_t k = 0; k < c->ngen; k++) {
        snprintf(id, sizeof id, "%zu", k + 1);
        if (sk_areas_add_link(e, "power.gen", id, base + (long)c->gen_idx[k], -1, &err) < 0) {
            rc = fail_region(&err);
            goto out;
        }
    }
    for (size_t k = 0; k < c->nbranch; k++) {
        snprintf(id, sizeof id, "%zu", k + 1);
        if (sk_areas_add_link(e, "power.branch", id, base + (long)c->f_idx[k], base + (long)c->t_idx[k], &err) < 0) {
            rc = fail_region(&err);
            goto out;
        }
    }
    if (xyf) {
        if (!(xs = slurp(xyf, &xlen)))
            goto out;
        if (sk_areas_read_xy_csv(e, "power.bus", xs, xlen, xyf, NULL, &err) < 0) {
            rc = fail_region(&err);
            goto out;
        }
    }
    rc = AX_OK;
out:
    sk_power_case_free(c);
    free(s);
    free(xs);
    return rc;
}

/* Option value: "--name VALUE" or "--name=VALUE"; "" when missing. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != 0)
        return NULL;
    if (*i + 1 >= argc)
        return "";
    return argv[++*i];
}

static int parse_distance(const char *s, double *out)
{
    locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (!c)
        return -1;
    char *end;
    double v = strtod_l(s, &end, c);
    freelocale(c);
    if (!*s || *end || !(v >= 0) || v > 1e12)
        return -1;
    *out = v;
    return 0;
}

static int bad_number(const char *opt)
{
    fprintf(stderr, "samskap areas assign: %s needs a number >= 0 (with a decimal point)\n", opt);
    return AX_USAGE;
}

static const char *in_dir(char *buf, size_t n, const char *dir, const char *name)
{
    struct stat st;
    int k = snprintf(buf, n, "%s/%s", dir, name);
    return k > 0 && (size_t)k < n && stat(buf, &st) == 0 && S_ISREG(st.st_mode) ? buf : NULL;
}

static int cmd_assign(int argc, char **argv)
{
    inputs in = {0};
    sk_areas_geo_opts go = {0};
    sk_areas_opts o;
    sk_areas_opts_default(&o);
    const char *out = NULL, *dir = NULL, *v;
    int json = 0, strict = 0;
    static char dbuf[5][4200];
    for (int i = 1; i < argc; i++) {
        const char **dst = NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(assign_usage, stdout);
            return AX_OK;
        } else if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--strict"))
            strict = 1;
        else if ((v = opt_value(argc, argv, &i, "--polygons")))
            dst = &in.polygons;
        else if ((v = opt_value(argc, argv, &i, "--dir")))
            dst = &dir;
        else if ((v = opt_value(argc, argv, &i, "--water")))
            dst = &in.water;
        else if ((v = opt_value(argc, argv, &i, "--traffic-net")))
            dst = &in.tnet;
        else if ((v = opt_value(argc, argv, &i, "--traffic-nodes")))
            dst = &in.tnodes;
        else if ((v = opt_value(argc, argv, &i, "--power-xy")))
            dst = &in.pxy;
        else if ((v = opt_value(argc, argv, &i, "--power")))
            dst = &in.power;
        else if ((v = opt_value(argc, argv, &i, "--out")))
            dst = &out;
        else if ((v = opt_value(argc, argv, &i, "--id-property")))
            dst = &go.id_property;
        else if ((v = opt_value(argc, argv, &i, "--name-property")))
            dst = &go.name_property;
        else if ((v = opt_value(argc, argv, &i, "--population-property")))
            dst = &go.population_property;
        else if ((v = opt_value(argc, argv, &i, "--snap-distance"))) {
            if (parse_distance(v, &o.snap_distance))
                return bad_number("--snap-distance");
        } else if ((v = opt_value(argc, argv, &i, "--edge-tolerance"))) {
            if (parse_distance(v, &o.edge_tolerance))
                return bad_number("--edge-tolerance");
        } else {
            fprintf(stderr, "samskap areas assign: unknown argument '%s'\n%s", argv[i], assign_usage);
            return AX_USAGE;
        }
        if (dst) {
            if (!*v) {
                fprintf(stderr, "samskap areas assign: %s needs a value\n", argv[i]);
                return AX_USAGE;
            }
            *dst = v;
        }
    }
    if (dir) {
        in.tnet = in.tnet ? in.tnet : in_dir(dbuf[0], sizeof dbuf[0], dir, "traffic_net.tntp");
        in.tnodes = in.tnodes ? in.tnodes : in_dir(dbuf[1], sizeof dbuf[1], dir, "traffic_node.tntp");
        in.water = in.water ? in.water : in_dir(dbuf[2], sizeof dbuf[2], dir, "water.inp");
        in.power = in.power ? in.power : in_dir(dbuf[3], sizeof dbuf[3], dir, "power.m");
        in.pxy = in.pxy ? in.pxy : in_dir(dbuf[4], sizeof dbuf[4], dir, "power_bus_xy.csv");
    }
    if (!in.polygons) {
        fprintf(stderr, "samskap areas assign: --polygons FILE is required\n%s", assign_usage);
        return AX_USAGE;
    }
    if (!in.tnet && !in.water && !in.power) {
        fprintf(stderr, "samskap areas assign: no network (--dir, --water, --traffic-net or --power)\n");
        return AX_USAGE;
    }
    if ((in.tnodes && !in.tnet) || (in.pxy && !in.power)) {
        fprintf(stderr, "samskap areas assign: %s without %s\n", in.tnodes && !in.tnet ? "--traffic-nodes" : "--power-xy",
                in.tnodes && !in.tnet ? "--traffic-net" : "--power");
        return AX_USAGE;
    }
    size_t glen;
    char *gtext = slurp(in.polygons, &glen);
    if (!gtext)
        return AX_ERROR;
    sk_region_error err = {0};
    sk_areas_map *map = NULL;
    sk_areas_elems *e = NULL;
    char *csv = NULL, *sum = NULL;
    int rc = AX_ERROR;
    if (sk_areas_map_read_geojson(gtext, glen, in.polygons, &go, &map, &err) < 0) {
        rc = fail_region(&err);
        goto out;
    }
    if (!(e = sk_areas_elems_new())) {
        fprintf(stderr, "samskap areas assign: out of memory\n");
        goto out;
    }
    if ((in.tnet && add_traffic(e, in.tnet, in.tnodes) != AX_OK) || (in.water && add_water(e, in.water) != AX_OK) ||
        (in.power && add_power(e, in.power, in.pxy) != AX_OK))
        goto out;
    if (sk_areas_assign(map, e, &o, &err) < 0) {
        rc = fail_region(&err);
        goto out;
    }
    size_t clen, slen;
    csv = sk_areas_csv(map, e, &clen);
    sum = sk_areas_summary(map, e, json, &slen);
    if (!csv || !sum) {
        fprintf(stderr, "samskap areas assign: out of memory\n");
        goto out;
    }
    /* Warnings once, as diagnostics (the JSON summary carries them too). */
    const char *w[2] = {sk_areas_map_warnings(map), sk_areas_elems_warnings(e)};
    sk_areas_stats st;
    sk_areas_get_stats(e, &st);
    for (int k = 0; k < 2; k++)
        for (const char *p = w[k], *nl; p && (nl = strchr(p, '\n')); p = nl + 1)
            fprintf(stderr, "samskap areas assign: warning: %.*s\n", (int)(nl - p), p);
    if (st.overlaps || st.unassigned)
        fprintf(stderr, "samskap areas assign: %s: %ld unassigned, %ld in overlapping polygons (see the summary)\n",
                strict && st.unassigned ? "error" : "warning", st.unassigned, st.overlaps);
    FILE *sf = out ? stdout : stderr;
    if (strict && st.unassigned) {
        fwrite(sum, 1, slen, sf);
        fprintf(stderr, "samskap areas assign: --strict: %ld element(s) in no area; no map written\n", st.unassigned);
        goto out;
    }
    if (out) {
        FILE *f = fopen(out, "wb");
        int bad = !f || fwrite(csv, 1, clen, f) != clen;
        if (f && fclose(f) != 0)
            bad = 1;
        if (bad) {
            fprintf(stderr, "samskap areas assign: %s: cannot write: %s\n", out, strerror(errno));
            goto out;
        }
    } else if (fwrite(csv, 1, clen, stdout) != clen || fflush(stdout) != 0) {
        fprintf(stderr, "samskap areas assign: cannot write to stdout\n");
        goto out;
    }
    fwrite(sum, 1, slen, sf);
    fflush(sf);
    rc = AX_OK;
out:
    free(csv);
    free(sum);
    sk_areas_elems_free(&e);
    sk_areas_map_free(&map);
    free(gtext);
    return rc;
}

int sk_cli_areas_main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(top_usage, stderr);
        return AX_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(top_usage, stdout);
        return AX_OK;
    }
    if (!strcmp(argv[1], "assign"))
        return cmd_assign(argc - 1, argv + 1);
    fprintf(stderr, "samskap areas: unknown command '%s'\n%s", argv[1], top_usage);
    return AX_USAGE;
}
