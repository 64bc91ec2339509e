/* cmd_run.c - `samskap run SCENARIO.lua`: a scenario over a region, before
 * and after a merger (docs/scenarios.md).
 *
 * The scenario is a declarative Lua table read as data (no code runs).  The
 * CLI turns it into an explicit job graph: one sim.<kernel> job per network
 * and variant, and one indicator job per indicator that needs that kernel,
 * submitted with --after so the broker holds it until the simulation is
 * done and hands it the result.  The answer is a table: rows are
 * indicators, columns are the municipalities (before: each on its own
 * networks; after: the merged networks broken down by the area map) and
 * the region. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "sk_buf.h"
#include "sk_client.h"
#include "sk_config.h"
#include "sk_csv.h"
#include "sk_num.h"

#define MAX_AREAS 64
#define MAX_IND 32
#define MAX_KERNELS 3

static const char *const kernels[MAX_KERNELS] = {"water", "power", "traffic"};

typedef struct cell {
    bool have;
    double value;
    char band[32];
    char error[256];
} cell;

typedef struct area {
    char code[SK_ID_MAX];
    char name[128];
} area;

typedef struct ind_job {
    char job[SK_ID_MAX];
    int indicator;          /* row */
    int area;               /* before: the municipality; after: -1 (per-area table) */
    bool after;
    bool done;
} ind_job;

typedef struct run {
    char dir[1024];                 /* scenario's directory */
    char name[256], region[SK_ID_MAX];
    area areas[MAX_AREAS];
    size_t nareas;
    char indicators[MAX_IND][96];
    size_t nind;
    const sk_cval *sims;            /* simulations table */
    cell before[MAX_IND][MAX_AREAS], after[MAX_IND][MAX_AREAS], region_cell[MAX_IND];
    ind_job *jobs;
    size_t njobs, capjobs;
    sk_client *cl;
    const char *tenant_override;
} run;

static char *slurp_rel(const run *r, const char *rel, size_t *len, sk_error *err)
{
    char path[4096];
    if (rel[0] == '/')
        snprintf(path, sizeof path, "%s", rel);
    else
        snprintf(path, sizeof path, "%s/%s", r->dir, rel);
    return sk_read_file(path, len, (size_t)SK_MAX_FRAME, err);
}

static bool handle_outcome(run *r, sk_wire_msg *m);

/* Submit and wait for ACCEPTED; returns 0 with the job id.  Outcomes of
 * earlier jobs that arrive meanwhile are taken, not dropped: the client
 * library hands each outcome over once. */
static int submit_one(run *r, sk_submit *s, char *job, sk_error *err)
{
    int64_t req = sk_client_submit(r->cl, s, err);
    if (req < 0)
        return -1;
    for (int i = 0; i < 100; i++) {
        sk_wire_msg m;
        int rc = sk_client_recv(r->cl, 200, &m, err);
        if (rc < 0)
            return -1;
        if (rc == 0)
            continue;
        if (m.hdr.req == req && m.hdr.type == SK_MSG_ACCEPTED) {
            sk_strlcpy(job, m.hdr.job, SK_ID_MAX);
            sk_wire_msg_close(&m);
            return 0;
        }
        if (m.hdr.req == req && m.hdr.job[0] == '\0' && (m.hdr.type == SK_MSG_FAILED || m.hdr.type == SK_MSG_ERROR)) {
            sk_fail(err, SK_EREFUSED, "%s", m.hdr.reason);
            sk_wire_msg_close(&m);
            return -1;
        }
        handle_outcome(r, &m);
        sk_wire_msg_close(&m);
    }
    return sk_fail(err, SK_ETIMEDOUT, "no answer from the broker");
}

static const char *kernel_of_indicator(const char *ind)
{
    for (int k = 0; k < MAX_KERNELS; k++)
        if (strncmp(ind, kernels[k], strlen(kernels[k])) == 0 && ind[strlen(kernels[k])] == '_')
            return kernels[k];
    return NULL;
}

/* One variant's simulations and indicators on the networks in `sub`
 * (a folder under the scenario's directory) for `tenant`. */
static int submit_variant(run *r, const char *tenant, const char *sub, int area_index, bool after, sk_error *err)
{
    for (int k = 0; k < MAX_KERNELS; k++) {
        const sk_cval *sim = sk_cval_get(r->sims, kernels[k]);
        if (sim == NULL || sim->type != SK_CVAL_TABLE)
            continue;
        sk_submit s = {.service = NULL, .tenant = tenant};
        char service[64], files[SK_MAX_BODIES][1100];
        char *data[SK_MAX_BODIES] = {0};
        sk_params *params = sk_params_new();
        snprintf(service, sizeof service, "sim.%s", kernels[k]);
        s.service = service;
        s.params = params;
        s.timeout_ms = 600000;
        int rc = 0;
        for (size_t e = 0; e < sim->n && rc == 0; e++) {
            const sk_centry *ce = &sim->items[e];
            if (ce->key == NULL)
                continue;
            if (strcmp(ce->key, "params") == 0 && ce->val.type == SK_CVAL_TABLE) {
                for (size_t p = 0; p < ce->val.n; p++) {
                    const sk_centry *pe = &ce->val.items[p];
                    char num[64];
                    if (pe->key == NULL)
                        continue;
                    if (pe->val.type == SK_CVAL_STR)
                        sk_params_set_str(params, pe->key, pe->val.s);
                    else if (pe->val.type == SK_CVAL_INT)
                        sk_params_set_int(params, pe->key, pe->val.i);
                    else if (pe->val.type == SK_CVAL_NUM) {
                        sk_fmt_f64(num, sizeof num, pe->val.d);
                        sk_params_set_str(params, pe->key, num);
                    } else if (pe->val.type == SK_CVAL_BOOL)
                        sk_params_set_bool(params, pe->key, pe->val.b);
                }
                continue;
            }
            if (ce->val.type != SK_CVAL_STR || s.ninputs == SK_MAX_BODIES)
                continue;
            snprintf(files[s.ninputs], sizeof files[0], "%s/%s", sub, ce->val.s);
            size_t len;
            data[s.ninputs] = slurp_rel(r, files[s.ninputs], &len, err);
            if (data[s.ninputs] == NULL) {
                rc = -1;
                break;
            }
            s.input_names[s.ninputs] = ce->key;
            s.input_data[s.ninputs] = data[s.ninputs];
            s.input_len[s.ninputs] = len;
            s.ninputs++;
        }
        char simjob[SK_ID_MAX] = "";
        if (rc == 0)
            rc = submit_one(r, &s, simjob, err);
        for (size_t i = 0; i < SK_MAX_BODIES; i++)
            free(data[i]);
        sk_params_free(params);
        if (rc < 0)
            return -1;
        fprintf(stderr, "samskap run: %-7s %-6s %-24s %s\n", after ? "after" : "before", tenant, service, simjob);
        /* Indicators of this kernel, after the simulation. */
        char areas_path[1100];
        char *areas = NULL;
        size_t areas_len = 0;
        if (after) {
            snprintf(areas_path, sizeof areas_path, "%s/areas.csv", sub);
            areas = slurp_rel(r, areas_path, &areas_len, err);
            if (areas == NULL)
                return -1;
        }
        for (size_t i = 0; i < r->nind; i++) {
            const char *kk = kernel_of_indicator(r->indicators[i]);
            if (kk == NULL || strcmp(kk, kernels[k]) != 0)
                continue;
            char isvc[128], dep[2 * SK_ID_MAX];
            snprintf(isvc, sizeof isvc, "indicator.%s", r->indicators[i]);
            snprintf(dep, sizeof dep, "%s=%s", simjob, kernels[k]);
            sk_submit is = {.service = isvc, .tenant = tenant, .ndeps = 1, .timeout_ms = 900000};
            is.deps[0] = dep;
            if (areas != NULL) {
                is.ninputs = 1;
                is.input_names[0] = "areas";
                is.input_data[0] = areas;
                is.input_len[0] = areas_len;
            }
            if (r->njobs == r->capjobs) {
                r->capjobs = r->capjobs ? r->capjobs * 2 : 32;
                r->jobs = realloc(r->jobs, r->capjobs * sizeof *r->jobs);
                if (r->jobs == NULL) {
                    free(areas);
                    return sk_fail(err, SK_ENOMEM, "out of memory");
                }
            }
            ind_job *ij = &r->jobs[r->njobs];
            memset(ij, 0, sizeof *ij);
            ij->indicator = (int)i;
            ij->area = area_index;
            ij->after = after;
            if (submit_one(r, &is, ij->job, err) < 0) {
                free(areas);
                return -1;
            }
            r->njobs++;
        }
        free(areas);
    }
    return 0;
}

static int area_index(const run *r, const char *code)
{
    for (size_t i = 0; i < r->nareas; i++)
        if (strcmp(r->areas[i].code, code) == 0)
            return (int)i;
    return -1;
}

static void take_result(run *r, ind_job *ij, const sk_result *res)
{
    const sk_meta *v = sk_result_meta_find(res, "value"), *band = sk_result_meta_find(res, "band");
    cell c = {0};
    c.have = v != NULL && (v->type == SK_META_F64 || v->type == SK_META_INT);
    c.value = v == NULL ? 0 : v->type == SK_META_F64 ? v->d : (double)v->i;
    if (band && band->type == SK_META_STR)
        sk_strlcpy(c.band, band->s, sizeof c.band);
    if (!ij->after) {
        r->before[ij->indicator][ij->area] = c;
        return;
    }
    r->region_cell[ij->indicator] = c;
    const sk_table *t = sk_result_table(res, "areas");
    const sk_column *val = t ? sk_table_column(t, "value") : NULL, *bcol = t ? sk_table_column(t, "band") : NULL;
    for (size_t e = 0; t && val && t->ids_str && e < t->nelem; e++) {
        int a = area_index(r, t->ids_str[e]);
        if (a < 0)
            continue;
        cell *ac = &r->after[ij->indicator][a];
        ac->value = sk_column_get_f64(val, e);
        ac->have = ac->value == ac->value; /* NaN: no elements of this area */
        if (bcol && bcol->dtype == SK_DT_STR)
            sk_strlcpy(ac->band, ((char **)bcol->data)[e], sizeof ac->band);
    }
}

static void take_failure(run *r, ind_job *ij, const char *reason)
{
    cell *c = !ij->after ? &r->before[ij->indicator][ij->area] : &r->region_cell[ij->indicator];
    sk_strlcpy(c->error, reason, sizeof c->error);
    if (ij->after)
        for (size_t a = 0; a < r->nareas; a++)
            sk_strlcpy(r->after[ij->indicator][a].error, reason, sizeof c->error);
}

/* An indicator job's outcome, if m is one. */
static bool handle_outcome(run *r, sk_wire_msg *m)
{
    sk_error err = SK_ERROR_INIT;
    for (size_t i = 0; i < r->njobs; i++) {
        ind_job *ij = &r->jobs[i];
        if (ij->done || strcmp(ij->job, m->hdr.job) != 0)
            continue;
        if (m->hdr.type == SK_MSG_RESULT && m->nbodies == 1) {
            sk_result *res = sk_result_decode(zmq_msg_data(&m->bodies[0]), zmq_msg_size(&m->bodies[0]), &err);
            if (res)
                take_result(r, ij, res);
            else
                take_failure(r, ij, err.msg);
            sk_result_free(res);
        } else if (m->hdr.type == SK_MSG_FAILED) {
            take_failure(r, ij, m->hdr.reason);
        } else {
            return false;
        }
        ij->done = true;
        size_t done = 0;
        for (size_t k = 0; k < r->njobs; k++)
            done += r->jobs[k].done;
        fprintf(stderr, "samskap run: %zu of %zu indicators done\n", done, r->njobs);
        return true;
    }
    return false;
}

static void fmt_cell(const cell *c, char *buf, size_t n)
{
    if (c->error[0])
        snprintf(buf, n, "failed");
    else if (!c->have)
        snprintf(buf, n, "-");
    else {
        char num[40];
        snprintf(num, sizeof num, "%.4g", c->value);
        snprintf(buf, n, "%s%s%s%s", num, c->band[0] ? " (" : "", c->band, c->band[0] ? ")" : "");
    }
}

static void report_md(const run *r, sk_buf *b)
{
    sk_buf_printf(b, "# %s\n\nRegion %s.  Before: each municipality simulated on its own networks.  After: the "
                     "merged region simulated once, broken down per municipality by the area map.\n\n",
                  r->name, r->region);
    sk_buf_puts(b, "| indicator |");
    for (size_t a = 0; a < r->nareas; a++)
        sk_buf_printf(b, " %s before | %s after |", r->areas[a].name, r->areas[a].name);
    sk_buf_printf(b, " region %s |\n|---|", r->region);
    for (size_t a = 0; a < r->nareas; a++)
        sk_buf_puts(b, "---|---|");
    sk_buf_puts(b, "---|\n");
    for (size_t i = 0; i < r->nind; i++) {
        char x[96];
        sk_buf_printf(b, "| %s |", r->indicators[i]);
        for (size_t a = 0; a < r->nareas; a++) {
            fmt_cell(&r->before[i][a], x, sizeof x);
            sk_buf_printf(b, " %s |", x);
            fmt_cell(&r->after[i][a], x, sizeof x);
            sk_buf_printf(b, " %s |", x);
        }
        fmt_cell(&r->region_cell[i], x, sizeof x);
        sk_buf_printf(b, " %s |\n", x);
    }
    bool any = false;
    for (size_t i = 0; i < r->nind; i++)
        for (size_t a = 0; a <= r->nareas; a++) {
            const cell *c = a < r->nareas ? &r->before[i][a] : &r->region_cell[i];
            if (c->error[0]) {
                if (!any)
                    sk_buf_puts(b, "\nFailed steps:\n\n");
                any = true;
                sk_buf_printf(b, "- %s, %s: %s\n", r->indicators[i], a < r->nareas ? r->areas[a].name : "region",
                              c->error);
            }
        }
}

static void json_cell(sk_buf *b, const cell *c)
{
    sk_buf_puts(b, "{\"value\":");
    if (c->have && !c->error[0])
        sk_json_f64(b, c->value);
    else
        sk_buf_puts(b, "null");
    sk_buf_puts(b, ",\"band\":");
    sk_json_str(b, c->band);
    if (c->error[0]) {
        sk_buf_puts(b, ",\"error\":");
        sk_json_str(b, c->error);
    }
    sk_buf_puts(b, "}");
}

static void report_json(const run *r, sk_buf *b)
{
    sk_buf_puts(b, "{\"scenario\":");
    sk_json_str(b, r->name);
    sk_buf_puts(b, ",\"region\":");
    sk_json_str(b, r->region);
    sk_buf_puts(b, ",\"indicators\":[");
    for (size_t i = 0; i < r->nind; i++) {
        sk_buf_puts(b, i ? ",{" : "{");
        sk_json_key(b, "indicator", true);
        sk_json_str(b, r->indicators[i]);
        sk_json_key(b, "region", false);
        json_cell(b, &r->region_cell[i]);
        sk_json_key(b, "municipalities", false);
        sk_buf_puts(b, "{");
        for (size_t a = 0; a < r->nareas; a++) {
            sk_json_key(b, r->areas[a].code, a == 0);
            sk_buf_puts(b, "{\"name\":");
            sk_json_str(b, r->areas[a].name);
            sk_buf_puts(b, ",\"before\":");
            json_cell(b, &r->before[i][a]);
            sk_buf_puts(b, ",\"after\":");
            json_cell(b, &r->after[i][a]);
            sk_buf_puts(b, "}");
        }
        sk_buf_puts(b, "}}");
    }
    sk_buf_puts(b, "]}\n");
}

static void report_csv(const run *r, sk_buf *b)
{
    sk_buf_puts(b, "indicator,area,name,variant,value,band,error\n");
    for (size_t i = 0; i < r->nind; i++) {
        for (size_t a = 0; a <= r->nareas; a++) {
            for (int v = 0; v < 2; v++) {
                const cell *c = a < r->nareas ? (v ? &r->after[i][a] : &r->before[i][a]) : &r->region_cell[i];
                if (a == r->nareas && v == 0)
                    continue;
                char num[40] = "";
                if (c->have && !c->error[0])
                    sk_fmt_f64(num, sizeof num, c->value);
                sk_buf_printf(b, "%s,%s,\"%s\",%s,%s,%s,\"%s\"\n", r->indicators[i],
                              a < r->nareas ? r->areas[a].code : r->region,
                              a < r->nareas ? r->areas[a].name : "region", v ? "after" : "before", num, c->band,
                              c->error);
            }
        }
    }
}

static int write_out(const char *dir, const char *name, const sk_buf *b)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fwrite(b->data, 1, b->len, f);
    return fclose(f);
}

int sk_cli_run(int argc, char **argv)
{
    const char *file = NULL, *out_dir = NULL, *broker = sk_cli_default_broker(), *format = "md";
    double timeout_s = 900;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: samskap run SCENARIO.lua [--out DIR] [--json|--csv] [--broker ENDPOINT] [--timeout S]\n\n"
                   "Runs a scenario (docs/scenarios.md): each municipality's networks on their own\n"
                   "(before) and the merged region's networks once (after), with the scenario's\n"
                   "indicators, and prints the indicator table (Markdown by default).  --out DIR\n"
                   "also writes report.md, report.json and report.csv.  A failed step fails the\n"
                   "steps that depend on it; the rest still finish.\n");
            return SK_EXIT_OK;
        } else if (strcmp(a, "--out") == 0 && i + 1 < argc) {
            out_dir = argv[++i];
        } else if (strcmp(a, "--broker") == 0 && i + 1 < argc) {
            broker = argv[++i];
        } else if (strcmp(a, "--timeout") == 0 && i + 1 < argc) {
            if (sk_parse_f64(argv[++i], &timeout_s) < 0 || timeout_s <= 0) {
                fprintf(stderr, "samskap run: --timeout needs seconds\n");
                return SK_EXIT_USAGE;
            }
        } else if (strcmp(a, "--json") == 0) {
            format = "json";
        } else if (strcmp(a, "--csv") == 0) {
            format = "csv";
        } else if (a[0] != '-' && file == NULL) {
            file = a;
        } else {
            fprintf(stderr, "samskap run: unexpected argument '%s' (see --help)\n", a);
            return SK_EXIT_USAGE;
        }
    }
    if (file == NULL) {
        fprintf(stderr, "usage: samskap run SCENARIO.lua [--out DIR] [--json|--csv]\n");
        return SK_EXIT_USAGE;
    }
    sk_error err = SK_ERROR_INIT;
    sk_config *conf = NULL;
    if (sk_config_read(file, &conf, &err) < 0) {
        fprintf(stderr, "samskap run: %s\n", err.msg);
        return SK_EXIT_USAGE;
    }
    run *r = calloc(1, sizeof *r);
    int code = SK_EXIT_ERROR;
    if (r == NULL)
        goto done;
    const char *slash = strrchr(file, '/');
    snprintf(r->dir, sizeof r->dir, "%.*s", slash ? (int)(slash - file) : 1, slash ? file : ".");
    const sk_cval *root = sk_config_root(conf);
    /* base: where the networks are, relative to the scenario file. */
    const sk_cval *base = sk_cval_get(root, "base");
    if (base != NULL && base->type == SK_CVAL_STR) {
        char joined[1024];
        if (base->s[0] == '/')
            snprintf(joined, sizeof joined, "%s", base->s);
        else
            snprintf(joined, sizeof joined, "%.500s/%.500s", r->dir, base->s);
        sk_strlcpy(r->dir, joined, sizeof r->dir);
    }
    const sk_cval *name = sk_cval_get(root, "name"), *region = sk_cval_get(root, "region"),
                  *munis = sk_cval_get(root, "municipalities"), *inds = sk_cval_get(root, "indicators");
    r->sims = sk_cval_get(root, "simulations");
    if (region == NULL || region->type != SK_CVAL_STR || munis == NULL || munis->type != SK_CVAL_TABLE ||
        inds == NULL || inds->type != SK_CVAL_TABLE || r->sims == NULL || r->sims->type != SK_CVAL_TABLE) {
        fprintf(stderr, "samskap run: %s: needs region (string), municipalities, simulations and indicators "
                        "(tables); see docs/scenarios.md\n", file);
        code = SK_EXIT_USAGE;
        goto done;
    }
    sk_strlcpy(r->name, name && name->type == SK_CVAL_STR ? name->s : file, sizeof r->name);
    sk_strlcpy(r->region, region->s, sizeof r->region);
    /* Municipality names come from region.csv beside the scenario. */
    size_t rlen;
    char *rcsv = slurp_rel(r, "region.csv", &rlen, &err);
    for (size_t i = 0; i < munis->n && r->nareas < MAX_AREAS; i++) {
        const sk_cval *m = &munis->items[i].val;
        if (m->type != SK_CVAL_STR)
            continue;
        area *a = &r->areas[r->nareas++];
        sk_strlcpy(a->code, m->s, sizeof a->code);
        sk_strlcpy(a->name, m->s, sizeof a->name);
        if (rcsv != NULL) {
            sk_csv c;
            sk_csv_init(&c, rcsv, rlen, "region.csv");
            while (sk_csv_next(&c, NULL) > 0)
                if (c.nfields >= 2 && strcmp(c.fields[0], a->code) == 0)
                    sk_strlcpy(a->name, c.fields[1], sizeof a->name);
            sk_csv_free(&c);
        }
    }
    free(rcsv);
    for (size_t i = 0; i < inds->n && r->nind < MAX_IND; i++) {
        const sk_cval *v = &inds->items[i].val;
        if (v->type == SK_CVAL_STR && kernel_of_indicator(v->s) != NULL)
            sk_strlcpy(r->indicators[r->nind++], v->s, sizeof r->indicators[0]);
        else if (v->type == SK_CVAL_STR)
            fprintf(stderr, "samskap run: %s:%d: indicator '%s' does not start with water_, power_ or traffic_\n",
                    file, inds->items[i].line, v->s);
    }
    r->cl = sk_client_new(broker, &err);
    if (r->cl == NULL) {
        fprintf(stderr, "samskap run: %s\n", err.msg);
        code = SK_EXIT_UNREACHABLE;
        goto done;
    }
    /* Before: each municipality on its own networks.  After: the region. */
    for (size_t a = 0; a < r->nareas; a++)
        if (submit_variant(r, r->areas[a].code, r->areas[a].code, (int)a, false, &err) < 0) {
            fprintf(stderr, "samskap run: %s: %s\n", r->areas[a].code, err.msg);
            code = err.code == SK_ETIMEDOUT ? SK_EXIT_UNREACHABLE : SK_EXIT_ERROR;
            goto done;
        }
    if (submit_variant(r, r->region, "merged", -1, true, &err) < 0) {
        fprintf(stderr, "samskap run: merged: %s\n", err.msg);
        goto done;
    }
    /* Collect every indicator's outcome. */
    size_t left = r->njobs;
    double waited = 0;
    while (left > 0 && waited < timeout_s) {
        sk_wire_msg m;
        int rc = sk_client_recv(r->cl, 500, &m, &err);
        if (rc < 0)
            break;
        if (rc == 0) {
            waited += 0.5;
            continue;
        }
        handle_outcome(r, &m);
        sk_wire_msg_close(&m);
        left = 0;
        for (size_t i = 0; i < r->njobs; i++)
            left += !r->jobs[i].done;
    }
    left = 0;
    for (size_t i = 0; i < r->njobs; i++)
        left += !r->jobs[i].done;
    sk_buf md = SK_BUF_INIT, js = SK_BUF_INIT, csv = SK_BUF_INIT;
    report_md(r, &md);
    report_json(r, &js);
    report_csv(r, &csv);
    const sk_buf *shown = strcmp(format, "json") == 0 ? &js : strcmp(format, "csv") == 0 ? &csv : &md;
    fputs(shown->data, stdout);
    if (out_dir != NULL) {
        if ((mkdir(out_dir, 0777) < 0 && errno != EEXIST) || write_out(out_dir, "report.md", &md) < 0 ||
            write_out(out_dir, "report.json", &js) < 0 || write_out(out_dir, "report.csv", &csv) < 0)
            fprintf(stderr, "samskap run: cannot write to %s: %s\n", out_dir, strerror(errno));
        else
            fprintf(stderr, "samskap run: report.md, report.json, report.csv in %s/\n", out_dir);
    }
    /* The platform keeps the history: the report goes to the broker,
     * stored for the region and today's date. */
    {
        char *reply = NULL;
        size_t rl = 0;
        sk_error herr = SK_ERROR_INIT;
        if (sk_client_call(r->cl, SK_MSG_HISTORY_PUT, r->region, r->name, csv.data, csv.len, 10000, &reply, &rl,
                           &herr) == 0)
            fprintf(stderr, "samskap run: indicator values stored in the history of %s\n", r->region);
        else
            fprintf(stderr, "samskap run: history not stored: %s\n", herr.msg);
        free(reply);
    }
    sk_buf_free(&md);
    sk_buf_free(&js);
    sk_buf_free(&csv);
    code = left == 0 ? SK_EXIT_OK : SK_EXIT_TIMEOUT;
    if (left > 0)
        fprintf(stderr, "samskap run: %zu indicators did not finish within %.0f s\n", left, timeout_s);
done:
    if (r != NULL) {
        sk_client_free(r->cl);
        free(r->jobs);
        free(r);
    }
    sk_config_free(conf);
    return code;
}

int sk_cli_indicators(int argc, char **argv)
{
    const char *broker = sk_cli_default_broker(), *tenant = NULL, *since = "", *format = "table";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: samskap indicators --tenant T [--since YYYY-MM-DD] [--json|--csv] [--broker ENDPOINT]\n\n"
                   "The tenant's indicator history: every scenario run's values (samskap run),\n"
                   "by date, for SDG and U4SSC reporting.  Needs a broker with --data-dir.\n");
            return SK_EXIT_OK;
        } else if (strcmp(a, "--tenant") == 0 && i + 1 < argc) {
            tenant = argv[++i];
        } else if (strcmp(a, "--since") == 0 && i + 1 < argc) {
            since = argv[++i];
        } else if (strcmp(a, "--broker") == 0 && i + 1 < argc) {
            broker = argv[++i];
        } else if (strcmp(a, "--json") == 0) {
            format = "json";
        } else if (strcmp(a, "--csv") == 0) {
            format = "csv";
        } else {
            fprintf(stderr, "samskap indicators: unexpected argument '%s' (see --help)\n", a);
            return SK_EXIT_USAGE;
        }
    }
    if (tenant == NULL) {
        fprintf(stderr, "usage: samskap indicators --tenant T [--since YYYY-MM-DD] [--json|--csv]\n");
        return SK_EXIT_USAGE;
    }
    sk_error err = SK_ERROR_INIT;
    sk_client *cl = sk_client_new(broker, &err);
    char *csv = NULL;
    size_t len = 0;
    if (cl == NULL || sk_client_call(cl, SK_MSG_HISTORY_GET, tenant, since, NULL, 0, 10000, &csv, &len, &err) < 0) {
        fprintf(stderr, "samskap indicators: %s\n", err.msg);
        sk_client_free(cl);
        return err.code == SK_ETIMEDOUT ? SK_EXIT_UNREACHABLE : SK_EXIT_ERROR;
    }
    sk_client_free(cl);
    if (strcmp(format, "csv") == 0) {
        fputs(csv, stdout);
    } else {
        sk_csv c;
        sk_csv_init(&c, csv, len, "history");
        sk_buf b = SK_BUF_INIT;
        int row = 0;
        if (strcmp(format, "json") == 0)
            sk_buf_puts(&b, "[");
        while (sk_csv_next(&c, NULL) > 0) {
            if (row++ == 0 || c.nfields < 8)
                continue;
            if (strcmp(format, "json") == 0) {
                static const char *const keys[] = {"date", "scenario", "indicator", "area", "name", "variant", "value", "band"};
                sk_buf_puts(&b, row > 2 ? ",{" : "{");
                for (int k = 0; k < 8; k++) {
                    sk_json_key(&b, keys[k], k == 0);
                    double v;
                    if (k == 6)
                        c.fields[k][0] && sk_parse_f64(c.fields[k], &v) == 0 ? sk_json_f64(&b, v) : (void)sk_buf_puts(&b, "null");
                    else
                        sk_json_str(&b, c.fields[k]);
                }
                sk_buf_puts(&b, "}");
            } else {
                sk_buf_printf(&b, "%-10s %-30.30s %-8s %-12.12s %-7s %12s %s\n", c.fields[0], c.fields[2], c.fields[3],
                              c.fields[4], c.fields[5], c.fields[6], c.fields[7]);
            }
        }
        if (strcmp(format, "json") == 0)
            sk_buf_puts(&b, "]\n");
        if (b.data)
            fputs(b.data, stdout);
        sk_buf_free(&b);
        sk_csv_free(&c);
    }
    free(csv);
    return SK_EXIT_OK;
}
