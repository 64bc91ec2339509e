/* region.c - `samskap region generate|merge`: write a deterministic
 * synthetic region and stitch its members into one region network per
 * kernel (docs/region.md).  Data (the summary) on stdout, diagnostics on
 * stderr; --json prints the summary as one JSON object. */
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "region.h"
#include "sk_region.h"

/* Same values as cli.h's exit codes (this file needs no bus headers). */
enum { RX_OK = 0, RX_ERROR = 1, RX_USAGE = 2 };

static const char gen_usage[] =
    "usage: samskap region generate [--municipalities N] [--scale S] [--seed N] --out DIR [--json]\n"
    "\n"
    "Writes a deterministic synthetic region into DIR: per municipality DIR/<code>/ with\n"
    "traffic_net.tntp, traffic_trips.tntp, traffic_node.tntp (TNTP), water.inp (EPANET),\n"
    "power.m (MATPOWER v2), power_profile.csv (8,760 hourly multipliers) and\n"
    "power_bus_xy.csv; DIR/region.csv and DIR/merge.spec (default ties).\n"
    "\n"
    "  --municipalities N  1..64 (default 5: Ålesund, Haram, Sandøy, Skodje, Ørskog;\n"
    "                      further members are synthetic)\n"
    "  --scale S           network size factor > 0 (default 1: a few hundred elements\n"
    "                      per kernel for Ålesund; about 100 gives 100,000+ in total)\n"
    "  --seed N            PRNG seed (default 2020); the same seed gives the same bytes\n"
    "  --json              print the summary as JSON\n";

static const char merge_usage[] =
    "usage: samskap region merge --in DIR [--spec FILE] [--out OUTDIR] [--json]\n"
    "\n"
    "Merges the members of DIR/region.csv into one network per kernel in OUTDIR\n"
    "(default DIR/merged): ids get the municipality prefix, the spec's roads, mains,\n"
    "grid ties and commuter demand are added, and areas.csv maps every element to\n"
    "its municipality.  --spec defaults to DIR/merge.spec (no ties when absent).\n";

static const char top_usage[] =
    "usage: samskap region generate [--municipalities N] [--scale S] [--seed N] --out DIR [--json]\n"
    "       samskap region merge --in DIR [--spec FILE] [--out OUTDIR] [--json]\n"
    "\n"
    "Synthetic regions for tests, benchmarks and the demo (docs/region.md).\n"
    "`samskap region COMMAND --help` for details.\n";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_counts(FILE *f, const sk_region_counts *c)
{
    fprintf(f,
            "\"population\":%ld,\"traffic\":{\"zones\":%ld,\"nodes\":%ld,\"links\":%ld,\"od_pairs\":%ld},"
            "\"water\":{\"nodes\":%ld,\"links\":%ld},\"power\":{\"buses\":%ld,\"branches\":%ld,\"gens\":%ld},"
            "\"elements\":%ld",
            c->population, c->traffic_zones, c->traffic_nodes, c->traffic_links, c->traffic_od, c->water_nodes,
            c->water_links, c->power_buses, c->power_branches, c->power_gens, sk_region_counts_elements(c));
}

static void text_counts(FILE *f, const char *code, const char *name, const sk_region_counts *c)
{
    fprintf(f, "%-6s %-14s %9ld %7ld %8ld %8ld %8ld %8ld %8ld %8ld %9ld\n", code, name, c->population,
            c->traffic_nodes, c->traffic_links, c->traffic_od, c->water_nodes, c->water_links, c->power_buses,
            c->power_branches, sk_region_counts_elements(c));
}

/* Numbers in the summary are printed in the C locale too. */
static void print_summary(const char *cmd, const char *dir, const sk_region_summary *s, int merged, int json,
                          const sk_region_gen_opts *o, double secs)
{
    locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    locale_t old = c ? uselocale(c) : (locale_t)0;
    FILE *f = stdout;
    if (json) {
        fprintf(f, "{\"command\":");
        json_str(f, cmd);
        fprintf(f, ",\"out\":");
        json_str(f, dir);
        if (o)
            fprintf(f, ",\"seed\":%llu,\"scale\":%.17g", (unsigned long long)o->seed, o->scale);
        if (merged) {
            fprintf(f, ",\"region\":{\"code\":%d,\"name\":", s->region_code);
            json_str(f, s->region_name);
            fprintf(f, "},\"ties\":{");
            json_counts(f, &s->ties);
            fprintf(f, "}");
        }
        fprintf(f, ",\"municipalities\":[");
        for (int i = 0; i < s->nmuni; i++) {
            fprintf(f, "%s{\"code\":%d,\"name\":", i ? "," : "", s->code[i]);
            json_str(f, s->name[i]);
            fprintf(f, ",");
            json_counts(f, &s->muni[i]);
            fprintf(f, "}");
        }
        fprintf(f, "],\"total\":{");
        json_counts(f, &s->total);
        fprintf(f, "},\"seconds\":%.3f}\n", secs);
    } else {
        fprintf(f, "%-6s %-14s %9s %7s %8s %8s %8s %8s %8s %8s %9s\n", "code", "name", "pop", "t.nodes", "t.links",
                "t.od", "w.nodes", "w.links", "p.buses", "p.branch", "elements");
        for (int i = 0; i < s->nmuni; i++) {
            char code[16];
            snprintf(code, sizeof code, "%d", s->code[i]);
            text_counts(f, code, s->name[i], &s->muni[i]);
        }
        if (merged)
            text_counts(f, "ties", "", &s->ties);
        text_counts(f, merged ? "region" : "total", "", &s->total);
    }
    fflush(f);
    if (c) {
        uselocale(old);
        freelocale(c);
    }
}

/* Option value: "--name VALUE" or "--name=VALUE". */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != 0)
        return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "samskap region: %s needs a value\n", name);
        return "";
    }
    return argv[++*i];
}

static int parse_ull(const char *s, unsigned long long max, unsigned long long *out)
{
    if (!*s || *s == '-')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_scale(const char *s, double *out)
{
    locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (!c)
        return -1;
    char *end;
    double v = strtod_l(s, &end, c);
    freelocale(c);
    if (!*s || *end || !(v > 0) || v > 1e5)
        return -1;
    *out = v;
    return 0;
}

static int cmd_generate(int argc, char **argv)
{
    sk_region_gen_opts o;
    sk_region_gen_opts_default(&o);
    const char *out = NULL, *v;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(gen_usage, stdout);
            return RX_OK;
        } else if (!strcmp(argv[i], "--json"))
            json = 1;
        else if ((v = opt_value(argc, argv, &i, "--out")))
            out = v;
        else if ((v = opt_value(argc, argv, &i, "--municipalities"))) {
            unsigned long long n;
            if (parse_ull(v, SK_REGION_MAX_MUNI, &n) || n < 1) {
                fprintf(stderr, "samskap region generate: --municipalities must be 1..%d\n", SK_REGION_MAX_MUNI);
                return RX_USAGE;
            }
            o.nmuni = (int)n;
        } else if ((v = opt_value(argc, argv, &i, "--scale"))) {
            if (parse_scale(v, &o.scale)) {
                fprintf(stderr, "samskap region generate: --scale must be a number in (0, 100000]\n");
                return RX_USAGE;
            }
        } else if ((v = opt_value(argc, argv, &i, "--seed"))) {
            unsigned long long n;
            if (parse_ull(v, ~0ULL, &n)) {
                fprintf(stderr, "samskap region generate: --seed must be a non-negative integer\n");
                return RX_USAGE;
            }
            o.seed = n;
        } else {
            fprintf(stderr, "samskap region generate: unknown argument '%s'\n%s", argv[i], gen_usage);
            return RX_USAGE;
        }
    }
    if (!out || !*out) {
        fprintf(stderr, "samskap region generate: --out DIR is required\n%s", gen_usage);
        return RX_USAGE;
    }
    sk_region_summary *s = malloc(sizeof *s);
    if (!s) {
        fprintf(stderr, "samskap region generate: out of memory\n");
        return RX_ERROR;
    }
    sk_region_error err = {0};
    double t0 = now_s();
    int rc = sk_region_generate(&o, out, s, &err);
    double dt = now_s() - t0;
    if (rc < 0) {
        fprintf(stderr, "samskap region generate: %s\n", err.msg);
        free(s);
        return rc == SK_REGION_EINVAL ? RX_USAGE : RX_ERROR;
    }
    print_summary("generate", out, s, 0, json, &o, dt);
    fprintf(stderr, "samskap region generate: %d municipalities, %ld elements in %s (%.2f s)\n", s->nmuni,
            sk_region_counts_elements(&s->total), out, dt);
    free(s);
    return RX_OK;
}

static int cmd_merge(int argc, char **argv)
{
    const char *in = NULL, *spec = NULL, *out = NULL, *v;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(merge_usage, stdout);
            return RX_OK;
        } else if (!strcmp(argv[i], "--json"))
            json = 1;
        else if ((v = opt_value(argc, argv, &i, "--in")))
            in = v;
        else if ((v = opt_value(argc, argv, &i, "--spec")))
            spec = v;
        else if ((v = opt_value(argc, argv, &i, "--out")))
            out = v;
        else {
            fprintf(stderr, "samskap region merge: unknown argument '%s'\n%s", argv[i], merge_usage);
            return RX_USAGE;
        }
    }
    if (!in || !*in || (spec && !*spec) || (out && !*out)) {
        fprintf(stderr, "samskap region merge: --in DIR is required\n%s", merge_usage);
        return RX_USAGE;
    }
    sk_region_summary *s = malloc(sizeof *s);
    if (!s) {
        fprintf(stderr, "samskap region merge: out of memory\n");
        return RX_ERROR;
    }
    char defout[4096];
    if (!out) {
        snprintf(defout, sizeof defout, "%s/merged", in);
        out = defout;
    }
    sk_region_error err = {0};
    double t0 = now_s();
    int rc = sk_region_merge(in, spec, out, s, &err);
    double dt = now_s() - t0;
    if (rc < 0) {
        fprintf(stderr, "samskap region merge: %s\n", err.msg);
        free(s);
        return RX_ERROR;
    }
    print_summary("merge", out, s, 1, json, NULL, dt);
    fprintf(stderr, "samskap region merge: %d members, %ld elements in %s (%.2f s)\n", s->nmuni,
            sk_region_counts_elements(&s->total), out, dt);
    free(s);
    return RX_OK;
}

int sk_cli_region_main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(top_usage, stderr);
        return RX_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(top_usage, stdout);
        return RX_OK;
    }
    if (!strcmp(argv[1], "generate"))
        return cmd_generate(argc - 1, argv + 1);
    if (!strcmp(argv[1], "merge"))
        return cmd_merge(argc - 1, argv + 1);
    fprintf(stderr, "samskap region: unknown command '%s'\n%s", argv[1], top_usage);
    return RX_USAGE;
}
