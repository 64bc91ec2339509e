/* sk_region.h - public API of the synthetic region generator and merger.
 *
 * Two stages, each usable alone (docs/region.md has the file layout):
 *   sk_region_generate()  writes a deterministic synthetic region: per
 *                         municipality a TNTP road network with gravity
 *                         trips and node coordinates, an EPANET .inp water
 *                         network, a MATPOWER v2 distribution grid with an
 *                         hourly load profile, plus region.csv and a default
 *                         merge spec (ties along a spanning tree of centres);
 *   sk_region_merge()     reads such a directory (or any member files in the
 *                         same formats) and a merge spec, and writes one
 *                         network per kernel with municipality-prefixed ids,
 *                         the inter-municipal ties and the element->area map.
 * Plain C (libc, libm); no globals; numbers are written in the C locale
 * whatever the process locale, so the same seed gives the same bytes. */
#ifndef SK_REGION_H
#define SK_REGION_H

#include <stddef.h>
#include <stdint.h>

enum {
    SK_REGION_OK = 0,
    SK_REGION_EINVAL = -1,   /* bad argument or malformed input (file:line in msg) */
    SK_REGION_ENOMEM = -2,
    SK_REGION_EIO = -3,      /* file could not be read or written */
};

#define SK_REGION_MAX_MUNI 64

typedef struct sk_region_error {
    int code;
    char msg[512];
} sk_region_error;

/* One municipality of the built-in table (the first five are the 2020
 * Ålesund merger; further ones are synthetic "Kommune N"). */
typedef struct sk_region_muni {
    int code;             /* municipality number, e.g. 1504 */
    char name[48];        /* UTF-8 */
    long population;
    double cx, cy;        /* centre, metres (UTM 32N-like, synthetic) */
} sk_region_muni;

/* Fill *m with table entry i (0-based); returns 0, or -1 when i is out of
 * range [0, SK_REGION_MAX_MUNI). */
int sk_region_muni_get(int i, sk_region_muni *m);

typedef struct sk_region_gen_opts {
    int nmuni;            /* 1..SK_REGION_MAX_MUNI, default 5 */
    double scale;         /* > 0, default 1: networks grow linearly with it */
    uint64_t seed;        /* default 2020 */
} sk_region_gen_opts;

void sk_region_gen_opts_default(sk_region_gen_opts *o);

/* Element counts of one network set (a member, the ties, or a total). */
typedef struct sk_region_counts {
    long traffic_zones, traffic_nodes, traffic_links, traffic_od;
    long water_nodes, water_links;
    long power_buses, power_branches, power_gens;
    long population;
} sk_region_counts;

long sk_region_counts_elements(const sk_region_counts *c); /* nodes + links + ... */

typedef struct sk_region_summary {
    int nmuni;
    int code[SK_REGION_MAX_MUNI];
    char name[SK_REGION_MAX_MUNI][48];
    sk_region_counts muni[SK_REGION_MAX_MUNI];
    sk_region_counts ties;    /* merge: what the spec added */
    sk_region_counts total;   /* generate: sum of members; merge: merged network */
    int region_code;          /* merge only */
    char region_name[48];
} sk_region_summary;

/* Write the region into outdir (created if missing; existing files are
 * overwritten).  sum may be NULL. */
int sk_region_generate(const sk_region_gen_opts *o, const char *outdir, sk_region_summary *sum,
                       sk_region_error *err);

/* Merge the members listed in indir/region.csv (or the spec's `member`
 * lines) into outdir.  spec_path NULL uses indir/merge.spec when it exists,
 * and no ties otherwise. */
int sk_region_merge(const char *indir, const char *spec_path, const char *outdir,
                    sk_region_summary *sum, sk_region_error *err);

#endif
