/* cmd_run.c - `samskap run SCENARIO.lua`: a scenario over a region, before
 * and after a merger, with variants (docs/scenarios.md).
 *
 * The scenario file is declarative Lua, evaluated in the plugin sandbox
 * (CPU deadline, memory cap, no I/O) and turned into plain data; the CLI
 * then builds an explicit job graph from it: one sim.<kernel> job per
 * network set, and one indicator job per indicator of that kernel, each
 * submitted with `deps` so that the broker holds it until the simulation
 * is done and hands it the result.  The answer is a table: rows are
 * indicators, columns are the municipalities (before: each on its own
 * networks; after and each variant: the merged networks broken down by the
 * area map) and the region, and every cell carries its band and
 * provenance (indicator job, plugin version and hash, simulation job,
 * kernel version, input hashes). */
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
#include "sk_hash.h"
#include "sk_num.h"
#ifdef SK_HAVE_PLUGIN_CLI
#include "sk_lua.h"
#endif

#define MAX_AREAS 64
#define MAX_IND 32
#define MAX_KERNELS 3
#define MAX_VARIANTS 8              /* besides the baseline */
#define MAX_PARAMS 32
#define SCENARIO_MAX_BYTES (1u << 20)

static const char *const kernels[MAX_KERNELS] = {"water", "power", "traffic"};

/* Where a value came from: enough to reproduce or audit it. */
typedef struct prov {
    char job[SK_ID_MAX];            /* the indicator job */
    char plugin[160];               /* "name version" */
    char plugin_hash[SK_HASH_MAX];
    char inputs[512];               /* the indicator's input hashes: "water=sha256:..." */
    int sim;                        /* r->sims index, -1 when unknown */
} prov;

typedef struct cell {
    bool have;
    double value;
    char band[32];
    char error[256];
    prov p;
} cell;

typedef struct area {
    char code[SK_ID_MAX];
    char name[128];
} area;

/* One simulation job and what its result says about itself. */
typedef struct sim_job {
    char job[SK_ID_MAX];
    char tenant[SK_ID_MAX];
    int kernel;                     /* index into kernels[] */
    int variant;                    /* -1 before, 0 after, 1.. variants */
    size_t pending;                 /* its node in the graph */
    char kernel_version[96];        /* "water 1.0.0", from the result */
    char input_hash[SK_HASH_MAX];
    bool done, converged;
    int64_t iterations;
    char error[256];
} sim_job;

/* The state "after": the baseline (index 0) or a variant of it. */
typedef struct variant {
    char name[SK_ID_MAX];
    char title[160];
    char networks[512];             /* folder under the base: "merged" for the baseline */
    char areas[512];                /* area map, relative to the base */
    const sk_cval *sims;            /* per-kernel overrides; NULL for the baseline */
    int sim_of[MAX_KERNELS];        /* r->sims index; the baseline's when reused */
    bool reused[MAX_KERNELS];       /* same inputs, params and areas as the baseline */
    char sig[MAX_KERNELS][SK_HASH_NAME_LEN];
} variant;

typedef struct ind_job {
    char job[SK_ID_MAX];
    int indicator;                  /* row */
    int area;                       /* before: the municipality; after: -1 (per-area table) */
    int variant;                    /* -1 before, 0 after, 1.. variants */
    int sim;
    bool done;
} ind_job;

typedef struct run {
    const char *file;               /* the scenario, for messages */
    char dir[1024];                 /* the base folder */
    char name[256], region[SK_ID_MAX];
    area areas[MAX_AREAS];
    size_t nareas;
    char indicators[MAX_IND][96];
    size_t nind;
    const sk_cval *sims;            /* simulations table */
    variant variants[1 + MAX_VARIANTS];
    size_t nvariants;               /* the baseline included */
    cell *cells;                    /* nind x ncols, see cell_at() */
    size_t ncols;
    sim_job *simjobs;
    size_t nsim, capsim;
    ind_job *jobs;
    size_t njobs, capjobs;
    sk_client *cl;
    enum { INPUTS_AUTO, INPUTS_FRAMES, INPUTS_DATASETS } inputs;
    char (*stored)[SK_ID_MAX + SK_HASH_NAME_LEN];  /* "tenant hash" this run has stored */
    size_t nstored, capstored;
    size_t uploaded_bytes, held_bytes, sent_bytes;  /* inputs: stored now, stored before, with jobs */
    struct pending *pending;        /* the job graph, sent in one message when inputs are datasets */
    size_t npending, cappending;
    struct made { bool sim; size_t index; int64_t wait_req; } *made;  /* every job, in creation order */
    size_t nmade, capmade;
    char (*collect)[SK_ID_MAX];     /* --collect: the ids of an earlier submission, in creation order */
    size_t ncollect;
} run;

/* A job of the graph, until the broker names it: its submit, owning what
 * the submit points at, and where its id goes. */
typedef struct pending {
    sk_submit s;
    char service[128], tenant[SK_ID_MAX];
    sk_params *params;
    char refs[SK_MAX_BODIES][SK_ID_MAX + SK_HASH_NAME_LEN + 2];
    char dep[2 * SK_ID_MAX];
    bool sim;                       /* the id goes to r->simjobs[index], else r->jobs[index] */
    size_t index;
} pending;

/* Columns: per municipality "before" then one per state after (baseline
 * and variants), then the region's states after. */
static cell *cell_at(const run *r, int variant, size_t ind, size_t area)
{
    size_t per = 1 + r->nvariants;
    size_t col = area < r->nareas ? area * per + (size_t)(variant + 1) : r->nareas * per + (size_t)variant;
    return &r->cells[ind * r->ncols + col];
}

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

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return p;
    size_t nc = *cap ? *cap * 2 : 32;
    void *np = realloc(p, nc * size);
    if (np != NULL)
        *cap = nc;
    return np;
}

/* A simulation's inputs and params: the baseline's entry for the kernel,
 * with a variant's overrides on top (files replace files, params replace
 * params key by key).  File names are relative to the state's networks
 * folder.  sig digests everything that decides the result, so a variant
 * that changes nothing for a kernel reuses the baseline's jobs. */
typedef struct sim_spec {
    size_t ninputs;
    const char *names[SK_MAX_BODIES];
    char *data[SK_MAX_BODIES];
    size_t len[SK_MAX_BODIES];
    size_t nparams;
    const sk_centry *params[MAX_PARAMS];
    char sig[SK_HASH_NAME_LEN];
} sim_spec;

static void spec_free(sim_spec *sp)
{
    for (size_t i = 0; i < sp->ninputs; i++)
        free(sp->data[i]);
    memset(sp, 0, sizeof *sp);
}

static int param_cmp(const void *a, const void *b)
{
    return strcmp((*(const sk_centry *const *)a)->key, (*(const sk_centry *const *)b)->key);
}

static int spec_take(const run *r, sim_spec *sp, const sk_cval *entry, const char *folder, const char *kernel,
                     sk_error *err)
{
    for (size_t e = 0; entry != NULL && e < entry->n; e++) {
        const sk_centry *ce = &entry->items[e];
        if (ce->key == NULL)
            return sk_fail(err, SK_EINVAL, "%s: simulations.%s: entries are named inputs or params, not a list",
                           r->file, kernel);
        if (strcmp(ce->key, "params") == 0) {
            if (ce->val.type != SK_CVAL_TABLE)
                return sk_fail(err, SK_EINVAL, "%s: simulations.%s.params: want a table", r->file, kernel);
            for (size_t p = 0; p < ce->val.n; p++) {
                const sk_centry *pe = &ce->val.items[p];
                if (pe->key == NULL || pe->val.type == SK_CVAL_TABLE || pe->val.type == SK_CVAL_NIL)
                    return sk_fail(err, SK_EINVAL, "%s: simulations.%s.params: want name = string, number or "
                                   "boolean", r->file, kernel);
                size_t k = 0;
                while (k < sp->nparams && strcmp(sp->params[k]->key, pe->key) != 0)
                    k++;
                if (k == MAX_PARAMS)
                    return sk_fail(err, SK_EINVAL, "%s: simulations.%s.params: more than %d params", r->file,
                                   kernel, MAX_PARAMS);
                sp->params[k] = pe;
                if (k == sp->nparams)
                    sp->nparams++;
            }
            continue;
        }
        if (ce->val.type != SK_CVAL_STR)
            return sk_fail(err, SK_EINVAL, "%s: simulations.%s.%s: want a file name (string)", r->file, kernel,
                           ce->key);
        size_t i = 0;
        while (i < sp->ninputs && strcmp(sp->names[i], ce->key) != 0)
            i++;
        if (i == SK_MAX_BODIES)
            return sk_fail(err, SK_EINVAL, "%s: simulations.%s: more than %d inputs", r->file, kernel,
                           SK_MAX_BODIES);
        char rel[1100];
        snprintf(rel, sizeof rel, "%s/%s", folder, ce->val.s);
        size_t len;
        char *data = slurp_rel(r, rel, &len, err);
        if (data == NULL)
            return -1;
        if (i == sp->ninputs)
            sp->ninputs++;
        free(sp->data[i]);
        sp->names[i] = ce->key;
        sp->data[i] = data;
        sp->len[i] = len;
    }
    return 0;
}

static void spec_sign(sim_spec *sp, const char *areas, size_t areas_len)
{
    qsort(sp->params, sp->nparams, sizeof sp->params[0], param_cmp);
    sk_buf b = SK_BUF_INIT;
    char h[SK_HASH_NAME_LEN];
    for (size_t i = 0; i < sp->ninputs; i++) {
        sk_sha256_name(sp->data[i], sp->len[i], h);
        sk_buf_printf(&b, "input %s %s\n", sp->names[i], h);
    }
    for (size_t p = 0; p < sp->nparams; p++) {
        const sk_cval *v = &sp->params[p]->val;
        char num[64] = "";
        if (v->type == SK_CVAL_NUM)
            sk_fmt_f64(num, sizeof num, v->d);
        sk_buf_printf(&b, "param %s %d %s%lld%s\n", sp->params[p]->key, (int)v->type,
                      v->type == SK_CVAL_STR ? v->s : "", (long long)(v->type == SK_CVAL_BOOL ? v->b : v->i), num);
    }
    if (areas != NULL) {
        sk_sha256_name(areas, areas_len, h);
        sk_buf_printf(&b, "areas %s\n", h);
    }
    sk_sha256_name(b.data ? b.data : "", b.len, sp->sig);
    sk_buf_free(&b);
}

static sk_params *spec_params(const sim_spec *sp)
{
    sk_params *params = sk_params_new();
    for (size_t p = 0; params != NULL && p < sp->nparams; p++) {
        const sk_centry *pe = sp->params[p];
        char num[64];
        int rc = 0;
        if (pe->val.type == SK_CVAL_STR)
            rc = sk_params_set_str(params, pe->key, pe->val.s);
        else if (pe->val.type == SK_CVAL_INT)
            rc = sk_params_set_int(params, pe->key, pe->val.i);
        else if (pe->val.type == SK_CVAL_NUM) {
            sk_fmt_f64(num, sizeof num, pe->val.d);
            rc = sk_params_set_str(params, pe->key, num);
        } else if (pe->val.type == SK_CVAL_BOOL)
            rc = sk_params_set_bool(params, pe->key, pe->val.b);
        if (rc < 0) {
            sk_params_free(params);
            return NULL;
        }
    }
    return params;
}

/* An outcome that arrived while an upload waited for its reply. */
static void take_other(void *ud, sk_wire_msg *m)
{
    handle_outcome(ud, m);
}

/* An input as a dataset of tenant, stored at the broker by its hash: each
 * file travels once per tenant, and not at all when the broker holds it
 * from an earlier run.  1: use `hash`; 0: send the bytes with the job (the
 * broker keeps no datasets, or --inputs frames); <0: error. */
static int as_dataset(run *r, const char *tenant, const void *data, size_t len, char *hash, sk_error *err)
{
    if (r->inputs == INPUTS_FRAMES || r->collect != NULL)
        return 0;
    char key[SK_ID_MAX + SK_HASH_NAME_LEN];
    sk_sha256_name(data, len, hash);
    snprintf(key, sizeof key, "%s %s", tenant, hash);
    for (size_t i = 0; i < r->nstored; i++)
        if (strcmp(r->stored[i], key) == 0)
            return 1;
    sk_error uerr = SK_ERROR_INIT;
    int up = sk_cli_dataset_upload(r->cl, tenant, NULL, data, len, (size_t)1 << 20, hash, false, take_other, r,
                                   &uerr);
    if (up < 0) {
        if (uerr.code == SK_EUNSUPPORTED && r->inputs == INPUTS_AUTO) {
            fprintf(stderr, "samskap run: the broker keeps no datasets (no --data-dir): inputs travel with "
                            "each job\n");
            r->inputs = INPUTS_FRAMES;
            return 0;
        }
        return sk_fail(err, uerr.code, "storing an input of %zu bytes for %s: %s", len, tenant, uerr.msg);
    }
    void *grown = grow(r->stored, &r->capstored, r->nstored, sizeof *r->stored);
    if (grown == NULL)
        return sk_fail(err, SK_ENOMEM, "out of memory");
    r->stored = grown;
    sk_strlcpy(r->stored[r->nstored++], key, sizeof r->stored[0]);
    if (up == 0)
        r->uploaded_bytes += len;
    else
        r->held_bytes += len;
    return 1;
}

/* Attach input `name` to s: by dataset reference or as a frame. */
static int add_input(run *r, sk_submit *s, char (*refs)[SK_ID_MAX + SK_HASH_NAME_LEN + 2], const char *tenant,
                     const char *name, const void *data, size_t len, sk_error *err)
{
    char hash[SK_HASH_NAME_LEN];
    int rc = as_dataset(r, tenant, data, len, hash, err);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        snprintf(refs[s->ndatasets], sizeof refs[0], "%s=%s", name, hash);
        s->datasets[s->ndatasets] = refs[s->ndatasets];
        s->ndatasets++;
        return 0;
    }
    s->input_names[s->ninputs] = name;
    s->input_data[s->ninputs] = data;
    s->input_len[s->ninputs] = len;
    s->ninputs++;
    r->sent_bytes += len;
    return 0;
}

/* Submit now (inputs travel as frames: one message per job), or add the
 * job to the graph (inputs are datasets: the whole graph goes in one
 * message, every job or none).  Takes params. */
static int submit_or_queue(run *r, sk_submit *s, char (*refs)[SK_ID_MAX + SK_HASH_NAME_LEN + 2], sk_params *params,
                           bool sim, size_t index, sk_error *err)
{
    struct made *mk = grow(r->made, &r->capmade, r->nmade, sizeof *r->made);
    if (mk == NULL) {
        sk_params_free(params);
        return sk_fail(err, SK_ENOMEM, "out of memory");
    }
    r->made = mk;
    r->made[r->nmade++] = (struct made){.sim = sim, .index = index};
    char *slot = sim ? r->simjobs[index].job : r->jobs[index].job;
    if (r->collect != NULL) {
        /* --collect: the same jobs in the same order, submitted earlier */
        sk_params_free(params);
        if (r->nmade > r->ncollect)
            return sk_fail(err, SK_EINVAL, "%s makes more jobs than the run it is collecting (%zu): the scenario "
                           "changed since it was submitted", r->file, r->ncollect);
        sk_strlcpy(slot, r->collect[r->nmade - 1], SK_ID_MAX);
        return 0;
    }
    if (r->inputs == INPUTS_FRAMES || s->ninputs > 0) {
        int rc = submit_one(r, s, slot, err);
        sk_params_free(params);
        return rc;
    }
    pending *p = grow(r->pending, &r->cappending, r->npending, sizeof *r->pending);
    if (p == NULL) {
        sk_params_free(params);
        return sk_fail(err, SK_ENOMEM, "out of memory");
    }
    r->pending = p;
    p = &r->pending[r->npending];
    memset(p, 0, sizeof *p);
    sk_strlcpy(p->service, s->service, sizeof p->service);
    sk_strlcpy(p->tenant, s->tenant, sizeof p->tenant);
    p->params = params;
    for (size_t i = 0; i < s->ndatasets; i++)
        sk_strlcpy(p->refs[i], refs[i], sizeof p->refs[i]);
    if (s->ndeps == 1)
        sk_strlcpy(p->dep, s->deps[0], sizeof p->dep);
    p->s = (sk_submit){.timeout_ms = s->timeout_ms, .ndatasets = s->ndatasets, .ndeps = s->ndeps};
    p->sim = sim;
    p->index = index;
    if (sim)
        r->simjobs[index].pending = r->npending;
    r->npending++;
    return 0;
}

/* The graph in one message; the broker answers with the ids in order. */
static int submit_graph(run *r, sk_error *err)
{
    sk_submit *subs = calloc(r->npending ? r->npending : 1, sizeof *subs);
    if (subs == NULL)
        return sk_fail(err, SK_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->npending; i++) {
        pending *p = &r->pending[i];
        subs[i] = p->s; /* the array moved as it grew: point into it afresh */
        subs[i].service = p->service;
        subs[i].tenant = p->tenant;
        subs[i].params = p->params;
        for (size_t d = 0; d < p->s.ndatasets; d++)
            subs[i].datasets[d] = p->refs[d];
        if (p->s.ndeps == 1)
            subs[i].deps[0] = p->dep;
    }
    int64_t req = sk_client_submit_graph(r->cl, subs, r->npending, r->region, NULL, err);
    free(subs);
    if (req < 0)
        return -1;
    /* With a journal the answer waits for the graph's last commit, so the
     * outcomes of jobs committed earlier can come first: keep them until
     * the answer says which job is which. */
    sk_wire_msg *early = NULL;
    size_t nearly = 0, capearly = 0;
    int rc = sk_fail(err, SK_ETIMEDOUT, "no answer from the broker to the job graph");
    for (int idle = 0; idle < 150;) {
        sk_wire_msg m;
        int got = sk_client_recv(r->cl, 200, &m, err);
        if (got < 0) {
            rc = -1;
            break;
        }
        if (got == 0) {
            idle++;
            continue;
        }
        if (m.hdr.req != req || m.hdr.job[0] != '\0') {
            sk_wire_msg *grown = grow(early, &capearly, nearly, sizeof *early);
            if (grown != NULL) {
                early = grown;
                sk_wire_msg_move(&early[nearly++], &m);
            }
            sk_wire_msg_close(&m);
            continue;
        }
        if (m.hdr.type != SK_MSG_REPLY || m.nbodies != 1) {
            rc = sk_fail(err, m.hdr.code ? m.hdr.code : SK_EREFUSED, "the broker refused the job graph: %s",
                         m.hdr.reason);
            sk_wire_msg_close(&m);
            break;
        }
        /* {"jobs":["j-...", ...]}: ids in node order */
        const char *p = zmq_msg_data(&m.bodies[0]), *end = p + zmq_msg_size(&m.bodies[0]);
        size_t i = 0;
        while (i < r->npending && (p = memchr(p, '"', (size_t)(end - p))) != NULL) {
            const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
            if (q == NULL)
                break;
            if (q - p - 1 > 0 && q - p - 1 < SK_ID_MAX && strncmp(p + 1, "jobs", 4) != 0) {
                pending *pd = &r->pending[i++];
                char *slot = pd->sim ? r->simjobs[pd->index].job : r->jobs[pd->index].job;
                memcpy(slot, p + 1, (size_t)(q - p - 1));
                slot[q - p - 1] = '\0';
            }
            p = q + 1;
        }
        sk_wire_msg_close(&m);
        if (i != r->npending) {
            rc = sk_fail(err, SK_EPROTO, "the broker's answer names %zu jobs, not %zu", i, r->npending);
            break;
        }
        for (size_t k = 0; k < r->nsim; k++) {
            const sim_job *sj = &r->simjobs[k];
            fprintf(stderr, "samskap run: %-12.12s %-6s sim.%-9s %s\n", sj->variant < 0 ? "before" :
                    r->variants[sj->variant].name, sj->tenant, kernels[sj->kernel], sj->job);
        }
        fprintf(stderr, "samskap run: job graph of %zu jobs accepted in one message\n", r->npending);
        rc = 0;
        break;
    }
    for (size_t k = 0; k < nearly; k++) {
        if (rc == 0)
            handle_outcome(r, &early[k]);
        sk_wire_msg_close(&early[k]);
    }
    free(early);
    return rc;
}

static int submit_sim(run *r, const char *tenant, int kernel, int variant, const sim_spec *sp, sk_error *err)
{
    char service[64];
    snprintf(service, sizeof service, "sim.%s", kernels[kernel]);
    sk_params *params = spec_params(sp);
    if (params == NULL)
        return sk_fail(err, SK_ENOMEM, "out of memory");
    sk_submit s = {.service = service, .tenant = tenant, .params = params, .timeout_ms = 600000};
    char refs[SK_MAX_BODIES][SK_ID_MAX + SK_HASH_NAME_LEN + 2];
    for (size_t i = 0; i < sp->ninputs; i++)
        if (add_input(r, &s, refs, tenant, sp->names[i], sp->data[i], sp->len[i], err) < 0) {
            sk_params_free(params);
            return -1;
        }
    sim_job *sj = grow(r->simjobs, &r->capsim, r->nsim, sizeof *r->simjobs);
    if (sj == NULL) {
        sk_params_free(params);
        return sk_fail(err, SK_ENOMEM, "out of memory");
    }
    r->simjobs = sj;
    sj = &r->simjobs[r->nsim];
    memset(sj, 0, sizeof *sj);
    sj->kernel = kernel;
    sj->variant = variant;
    sk_strlcpy(sj->tenant, tenant, sizeof sj->tenant);
    size_t index = r->nsim++;
    if (submit_or_queue(r, &s, refs, params, true, index, err) < 0)
        return -1;
    if (sj->job[0] != '\0')
        fprintf(stderr, "samskap run: %-12.12s %-6s %-13s %s\n",
                variant < 0 ? "before" : r->variants[variant].name, tenant, service, sj->job);
    return (int)index;
}

/* The indicators of one kernel on one simulation; areas (the area map)
 * only after the merger. */
static int submit_indicators(run *r, const char *tenant, int kernel, int sim, int area, int variant,
                             const char *areas, size_t areas_len, sk_error *err)
{
    for (size_t i = 0; i < r->nind; i++) {
        const char *kk = kernel_of_indicator(r->indicators[i]);
        if (kk == NULL || strcmp(kk, kernels[kernel]) != 0)
            continue;
        char isvc[128], dep[2 * SK_ID_MAX];
        snprintf(isvc, sizeof isvc, "indicator.%s", r->indicators[i]);
        snprintf(dep, sizeof dep, "%s=%s", r->simjobs[sim].job, kernels[kernel]);
        sk_submit is = {.service = isvc, .tenant = tenant, .ndeps = 1, .timeout_ms = 900000};
        char refs[1][SK_ID_MAX + SK_HASH_NAME_LEN + 2];
        is.deps[0] = dep;
        if (areas != NULL && add_input(r, &is, refs, tenant, "areas", areas, areas_len, err) < 0)
            return -1;
        ind_job *jobs = grow(r->jobs, &r->capjobs, r->njobs, sizeof *r->jobs);
        if (jobs == NULL)
            return sk_fail(err, SK_ENOMEM, "out of memory");
        r->jobs = jobs;
        ind_job *ij = &r->jobs[r->njobs];
        memset(ij, 0, sizeof *ij);
        ij->indicator = (int)i;
        ij->area = area;
        ij->variant = variant;
        ij->sim = sim;
        char dep_local[2 * SK_ID_MAX];
        if (r->inputs != INPUTS_FRAMES && is.ninputs == 0) {
            /* in the graph: depend on the simulation's node, not an id */
            snprintf(dep_local, sizeof dep_local, "@%zu=%s", r->simjobs[sim].pending, kernels[kernel]);
            is.deps[0] = dep_local;
        }
        size_t index = r->njobs++;
        if (submit_or_queue(r, &is, refs, NULL, false, index, err) < 0)
            return -1;
    }
    return 0;
}

/* Before: one municipality's own networks, as that municipality's jobs. */
static int submit_before(run *r, size_t a, sk_error *err)
{
    for (int k = 0; k < MAX_KERNELS; k++) {
        const sk_cval *entry = sk_cval_get(r->sims, kernels[k]);
        if (entry == NULL)
            continue;
        sim_spec sp = {0};
        int sim = spec_take(r, &sp, entry, r->areas[a].code, kernels[k], err);
        if (sim == 0)
            sim = submit_sim(r, r->areas[a].code, k, -1, &sp, err);
        spec_free(&sp);
        if (sim < 0 || submit_indicators(r, r->areas[a].code, k, sim, (int)a, -1, NULL, 0, err) < 0)
            return -1;
    }
    return 0;
}

/* After: the merged networks (or a variant's) once, as the region's jobs.
 * A variant that changes nothing for a kernel reuses the baseline's. */
static int submit_after(run *r, int v, sk_error *err)
{
    variant *va = &r->variants[v];
    size_t areas_len = 0;
    char *areas = slurp_rel(r, va->areas, &areas_len, err);
    if (areas == NULL)
        return -1;
    int rc = 0;
    for (int k = 0; k < MAX_KERNELS && rc == 0; k++) {
        const sk_cval *entry = sk_cval_get(r->sims, kernels[k]);
        va->sim_of[k] = -1;
        if (entry == NULL)
            continue;
        sim_spec sp = {0};
        rc = spec_take(r, &sp, entry, va->networks, kernels[k], err);
        if (rc == 0 && va->sims != NULL)
            rc = spec_take(r, &sp, sk_cval_get(va->sims, kernels[k]), va->networks, kernels[k], err);
        if (rc == 0) {
            spec_sign(&sp, areas, areas_len);
            memcpy(va->sig[k], sp.sig, sizeof sp.sig);
            if (v > 0 && r->variants[0].sim_of[k] >= 0 && strcmp(sp.sig, r->variants[0].sig[k]) == 0) {
                va->reused[k] = true;
                va->sim_of[k] = r->variants[0].sim_of[k];
                fprintf(stderr, "samskap run: %-12.12s %-6s sim.%-9s same as after (reused)\n", va->name,
                        r->region, kernels[k]);
            } else {
                va->sim_of[k] = submit_sim(r, r->region, k, v, &sp, err);
                rc = va->sim_of[k] < 0 ? -1
                                       : submit_indicators(r, r->region, k, va->sim_of[k], -1, v, areas, areas_len,
                                                           err);
            }
        }
        spec_free(&sp);
    }
    free(areas);
    return rc;
}

static int area_index(const run *r, const char *code)
{
    for (size_t i = 0; i < r->nareas; i++)
        if (strcmp(r->areas[i].code, code) == 0)
            return (int)i;
    return -1;
}

static void meta_copy(const sk_result *res, const char *key, char *out, size_t n)
{
    const sk_meta *m = sk_result_meta_find(res, key);
    if (m != NULL && m->type == SK_META_STR)
        sk_strlcpy(out, m->s, n);
}

static void take_result(run *r, ind_job *ij, const sk_result *res)
{
    const sk_meta *v = sk_result_meta_find(res, "value"), *band = sk_result_meta_find(res, "band");
    cell c;
    memset(&c, 0, sizeof c);
    c.have = v != NULL && (v->type == SK_META_F64 || v->type == SK_META_INT);
    c.value = v == NULL ? 0 : v->type == SK_META_F64 ? v->d : (double)v->i;
    if (band && band->type == SK_META_STR)
        sk_strlcpy(c.band, band->s, sizeof c.band);
    sk_strlcpy(c.p.job, ij->job, sizeof c.p.job);
    char name[96] = "", version[48] = "";
    meta_copy(res, "plugin", name, sizeof name);
    meta_copy(res, "plugin_version", version, sizeof version);
    snprintf(c.p.plugin, sizeof c.p.plugin, "%s %s", name, version);
    meta_copy(res, "plugin_hash", c.p.plugin_hash, sizeof c.p.plugin_hash);
    sk_strlcpy(c.p.inputs, res->input_hash ? res->input_hash : "", sizeof c.p.inputs);
    c.p.sim = ij->sim;
    if (ij->variant < 0) {
        *cell_at(r, -1, (size_t)ij->indicator, (size_t)ij->area) = c;
        return;
    }
    *cell_at(r, ij->variant, (size_t)ij->indicator, r->nareas) = c;
    const sk_table *t = sk_result_table(res, "areas");
    const sk_column *val = t ? sk_table_column(t, "value") : NULL, *bcol = t ? sk_table_column(t, "band") : NULL;
    for (size_t e = 0; t && val && t->ids_str && e < t->nelem; e++) {
        int a = area_index(r, t->ids_str[e]);
        if (a < 0)
            continue;
        cell *ac = cell_at(r, ij->variant, (size_t)ij->indicator, (size_t)a);
        ac->p = c.p;
        ac->value = sk_column_get_f64(val, e);
        ac->have = ac->value == ac->value; /* NaN: no elements of this area */
        if (bcol && bcol->dtype == SK_DT_STR)
            sk_strlcpy(ac->band, ((char **)bcol->data)[e], sizeof ac->band);
    }
}

static void take_failure(run *r, ind_job *ij, const char *reason)
{
    size_t from = ij->variant < 0 ? (size_t)ij->area : 0, to = ij->variant < 0 ? (size_t)ij->area : r->nareas;
    for (size_t a = from; a <= to; a++) {
        cell *c = cell_at(r, ij->variant, (size_t)ij->indicator, a);
        sk_strlcpy(c->error, reason, sizeof c->error);
        sk_strlcpy(c->p.job, ij->job, sizeof c->p.job);
        c->p.sim = ij->sim;
    }
}

static void report_progress(const run *r)
{
    size_t sims = 0, inds = 0;
    for (size_t k = 0; k < r->nsim; k++)
        sims += r->simjobs[k].done;
    for (size_t k = 0; k < r->njobs; k++)
        inds += r->jobs[k].done;
    fprintf(stderr, "samskap run: %zu of %zu simulations, %zu of %zu indicators done\n", sims, r->nsim, inds,
            r->njobs);
}

/* A result message's result: its body, or, for a result larger than a
 * frame, the dataset it names, downloaded (outcomes that arrive meanwhile
 * are taken as they come). */
static sk_result *decode_outcome(run *r, sk_wire_msg *m, sk_error *err)
{
    if (sk_client_result_ref(m) == NULL)
        return sk_result_decode(zmq_msg_data(&m->bodies[0]), zmq_msg_size(&m->bodies[0]), err);
    char *data = NULL;
    size_t len = 0;
    sk_fetch_opts fo = {.other = take_other, .ud = r};
    if (sk_client_fetch_result(r->cl, m, &fo, &data, &len, err) < 0)
        return NULL;
    sk_result *res = sk_result_decode(data, len, err);
    free(data);
    return res;
}

/* A simulation's or an indicator job's outcome, if m is one. */
static bool handle_outcome(run *r, sk_wire_msg *m)
{
    sk_error err = SK_ERROR_INIT;
    bool result = m->hdr.type == SK_MSG_RESULT && (m->nbodies == 1 || sk_client_result_ref(m) != NULL);
    if (!result && m->hdr.type != SK_MSG_FAILED)
        return false;
    for (size_t i = 0; i < r->nsim; i++) {
        sim_job *sj = &r->simjobs[i];
        if (sj->done || strcmp(sj->job, m->hdr.job) != 0)
            continue;
        sj->done = true;
        if (!result) {
            sk_strlcpy(sj->error, m->hdr.reason, sizeof sj->error);
        } else {
            sk_result *res = decode_outcome(r, m, &err);
            if (res == NULL) {
                sk_strlcpy(sj->error, err.msg, sizeof sj->error);
            } else {
                snprintf(sj->kernel_version, sizeof sj->kernel_version, "%s %s", res->kernel ? res->kernel : "",
                         res->kernel_version ? res->kernel_version : "");
                sk_strlcpy(sj->input_hash, res->input_hash ? res->input_hash : "", sizeof sj->input_hash);
                sj->converged = res->converged;
                sj->iterations = res->iterations;
            }
            sk_result_free(res);
        }
        report_progress(r);
        return true;
    }
    for (size_t i = 0; i < r->njobs; i++) {
        ind_job *ij = &r->jobs[i];
        if (ij->done || strcmp(ij->job, m->hdr.job) != 0)
            continue;
        if (result) {
            sk_result *res = decode_outcome(r, m, &err);
            if (res)
                take_result(r, ij, res);
            else
                take_failure(r, ij, err.msg);
            sk_result_free(res);
        } else {
            take_failure(r, ij, m->hdr.reason);
        }
        ij->done = true;
        report_progress(r);
        return true;
    }
    return false;
}

/* Cells of kernels a variant did not change are the baseline's. */
static void copy_reused(run *r)
{
    for (size_t v = 1; v < r->nvariants; v++)
        for (size_t i = 0; i < r->nind; i++) {
            const char *kk = kernel_of_indicator(r->indicators[i]);
            for (int k = 0; k < MAX_KERNELS; k++)
                if (r->variants[v].reused[k] && strcmp(kk, kernels[k]) == 0)
                    for (size_t a = 0; a <= r->nareas; a++)
                        *cell_at(r, (int)v, i, a) = *cell_at(r, 0, i, a);
        }
}

static const char *variant_label(const run *r, int v)
{
    return v < 0 ? "before" : r->variants[v].name;
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
                     "merged region simulated once, broken down per municipality by the area map.\n",
                  r->name, r->region);
    for (size_t v = 1; v < r->nvariants; v++)
        sk_buf_printf(b, "%s%s: %s.\n", v == 1 ? "\nVariants of the merged region:\n\n- " : "- ",
                      r->variants[v].name, r->variants[v].title[0] ? r->variants[v].title : r->variants[v].networks);
    sk_buf_puts(b, "\n| indicator |");
    for (size_t a = 0; a < r->nareas; a++)
        for (int v = -1; v < (int)r->nvariants; v++)
            sk_buf_printf(b, " %s %s |", r->areas[a].name, variant_label(r, v));
    for (size_t v = 0; v < r->nvariants; v++)
        sk_buf_printf(b, " region %s %s |", r->region, variant_label(r, (int)v));
    sk_buf_puts(b, "\n|---|");
    for (size_t c = 0; c < r->ncols; c++)
        sk_buf_puts(b, "---|");
    sk_buf_puts(b, "\n");
    for (size_t i = 0; i < r->nind; i++) {
        char x[96];
        sk_buf_printf(b, "| %s |", r->indicators[i]);
        for (size_t a = 0; a <= r->nareas; a++)
            for (int v = a < r->nareas ? -1 : 0; v < (int)r->nvariants; v++) {
                fmt_cell(cell_at(r, v, i, a), x, sizeof x);
                sk_buf_printf(b, " %s |", x);
            }
        sk_buf_puts(b, "\n");
    }
    bool any = false;
    for (size_t i = 0; i < r->nind; i++)
        for (size_t a = 0; a <= r->nareas; a++)
            for (int v = a < r->nareas ? -1 : 0; v < (int)r->nvariants; v++) {
                const cell *c = cell_at(r, v, i, a);
                /* an "after" failure shows once, at the region */
                if (!c->error[0] || (v >= 0 && a < r->nareas))
                    continue;
                if (!any)
                    sk_buf_puts(b, "\nFailed steps:\n\n");
                any = true;
                sk_buf_printf(b, "- %s, %s %s: %s\n", r->indicators[i], a < r->nareas ? r->areas[a].name : "region",
                              variant_label(r, v), c->error);
            }
    sk_buf_puts(b, "\nProvenance (every cell's plugin, simulation and input hashes are in report.json and "
                   "report.csv):\n\n| simulation | state | tenant | kernel | input | converged | iterations |\n"
                   "|---|---|---|---|---|---|---|\n");
    for (size_t k = 0; k < r->nsim; k++) {
        const sim_job *sj = &r->simjobs[k];
        sk_buf_printf(b, "| %s | %s | %s | %s | %.19s | %s | %lld |\n", sj->job, variant_label(r, sj->variant),
                      sj->tenant, sj->error[0] ? "failed" : sj->kernel_version, sj->input_hash,
                      sj->error[0] ? "-" : sj->converged ? "yes" : "no", (long long)sj->iterations);
    }
}

static void json_cell(const run *r, sk_buf *b, const cell *c)
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
    sk_buf_puts(b, ",\"provenance\":{\"job\":");
    sk_json_str(b, c->p.job);
    sk_buf_puts(b, ",\"plugin\":");
    sk_json_str(b, c->p.plugin);
    sk_buf_puts(b, ",\"plugin_hash\":");
    sk_json_str(b, c->p.plugin_hash);
    sk_buf_puts(b, ",\"inputs\":");
    sk_json_str(b, c->p.inputs);
    const sim_job *sj = c->p.job[0] && c->p.sim >= 0 && (size_t)c->p.sim < r->nsim ? &r->simjobs[c->p.sim] : NULL;
    sk_buf_puts(b, ",\"simulation\":");
    sk_json_str(b, sj ? sj->job : "");
    sk_buf_puts(b, ",\"kernel\":");
    sk_json_str(b, sj ? sj->kernel_version : "");
    sk_buf_puts(b, ",\"converged\":");
    sk_buf_puts(b, sj && sj->converged ? "true" : "false");
    sk_buf_puts(b, "}}");
}

static void report_json(const run *r, sk_buf *b)
{
    sk_buf_puts(b, "{\"scenario\":");
    sk_json_str(b, r->name);
    sk_buf_puts(b, ",\"region\":");
    sk_json_str(b, r->region);
    sk_buf_puts(b, ",\"variants\":[");
    for (size_t v = 0; v < r->nvariants; v++) {
        sk_buf_puts(b, v ? ",{\"name\":" : "{\"name\":");
        sk_json_str(b, r->variants[v].name);
        sk_buf_puts(b, ",\"title\":");
        sk_json_str(b, r->variants[v].title);
        sk_buf_puts(b, ",\"networks\":");
        sk_json_str(b, r->variants[v].networks);
        sk_buf_puts(b, "}");
    }
    sk_buf_puts(b, "],\"indicators\":[");
    for (size_t i = 0; i < r->nind; i++) {
        sk_buf_puts(b, i ? ",{" : "{");
        sk_json_key(b, "indicator", true);
        sk_json_str(b, r->indicators[i]);
        sk_json_key(b, "region", false);
        json_cell(r, b, cell_at(r, 0, i, r->nareas));
        sk_json_key(b, "region_variants", false);
        sk_buf_puts(b, "{");
        for (size_t v = 1; v < r->nvariants; v++) {
            sk_json_key(b, r->variants[v].name, v == 1);
            json_cell(r, b, cell_at(r, (int)v, i, r->nareas));
        }
        sk_buf_puts(b, "}");
        sk_json_key(b, "municipalities", false);
        sk_buf_puts(b, "{");
        for (size_t a = 0; a < r->nareas; a++) {
            sk_json_key(b, r->areas[a].code, a == 0);
            sk_buf_puts(b, "{\"name\":");
            sk_json_str(b, r->areas[a].name);
            sk_buf_puts(b, ",\"before\":");
            json_cell(r, b, cell_at(r, -1, i, a));
            sk_buf_puts(b, ",\"after\":");
            json_cell(r, b, cell_at(r, 0, i, a));
            sk_buf_puts(b, ",\"variants\":{");
            for (size_t v = 1; v < r->nvariants; v++) {
                sk_json_key(b, r->variants[v].name, v == 1);
                json_cell(r, b, cell_at(r, (int)v, i, a));
            }
            sk_buf_puts(b, "}}");
        }
        sk_buf_puts(b, "}}");
    }
    sk_buf_puts(b, "],\"simulations\":[");
    for (size_t k = 0; k < r->nsim; k++) {
        const sim_job *sj = &r->simjobs[k];
        sk_buf_puts(b, k ? ",{" : "{");
        sk_json_key(b, "job", true);
        sk_json_str(b, sj->job);
        sk_json_key(b, "state", false);
        sk_json_str(b, variant_label(r, sj->variant));
        sk_json_key(b, "tenant", false);
        sk_json_str(b, sj->tenant);
        sk_json_key(b, "service", false);
        sk_buf_printf(b, "\"sim.%s\"", kernels[sj->kernel]);
        sk_json_key(b, "kernel", false);
        sk_json_str(b, sj->kernel_version);
        sk_json_key(b, "input_hash", false);
        sk_json_str(b, sj->input_hash);
        sk_json_key(b, "converged", false);
        sk_buf_puts(b, sj->converged ? "true" : "false");
        sk_json_key(b, "iterations", false);
        sk_json_i64(b, sj->iterations);
        if (sj->error[0]) {
            sk_json_key(b, "error", false);
            sk_json_str(b, sj->error);
        }
        sk_buf_puts(b, "}");
    }
    sk_buf_puts(b, "]}\n");
}

static void report_csv(const run *r, sk_buf *b)
{
    sk_buf_puts(b, "indicator,area,name,variant,value,band,error,job,plugin,plugin_hash,simulation,kernel,inputs\n");
    for (size_t i = 0; i < r->nind; i++)
        for (size_t a = 0; a <= r->nareas; a++)
            for (int v = a < r->nareas ? -1 : 0; v < (int)r->nvariants; v++) {
                const cell *c = cell_at(r, v, i, a);
                const sim_job *sj = c->p.job[0] && c->p.sim >= 0 && (size_t)c->p.sim < r->nsim
                                        ? &r->simjobs[c->p.sim] : NULL;
                char num[40] = "";
                if (c->have && !c->error[0])
                    sk_fmt_f64(num, sizeof num, c->value);
                const char *fields[] = {r->indicators[i],
                                        a < r->nareas ? r->areas[a].code : r->region,
                                        a < r->nareas ? r->areas[a].name : "region",
                                        v < 0 ? "before" : v == 0 ? "after" : r->variants[v].name,
                                        num, c->band, c->error, c->p.job, c->p.plugin, c->p.plugin_hash,
                                        sj ? sj->job : "", sj ? sj->kernel_version : "", c->p.inputs};
                for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
                    if (f)
                        sk_buf_puts(b, ",");
                    sk_csv_put_field(b, fields[f]);
                }
                sk_buf_puts(b, "\n");
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

/* Evaluate the scenario in the plugin sandbox (when the Lua host is built
 * in; otherwise it must be plain data) and read the result as data. */
static int read_scenario(const char *file, sk_config **conf, sk_error *err)
{
#ifdef SK_HAVE_PLUGIN_CLI
    size_t len;
    char *src = sk_read_file(file, &len, SCENARIO_MAX_BYTES, err);
    if (src == NULL)
        return -1;
    sk_lua_limits lim = {.deadline_s = 5, .mem_bytes = (size_t)64 << 20};
    sk_buf text = SK_BUF_INIT;
    sk_lua_error le;
    int rc = sk_lua_eval_data(file, src, len, &lim, &text, &le);
    free(src);
    if (rc != 0) {
        const char *where = le.where[0] && strstr(le.message, le.where) == NULL ? le.where : NULL;
        sk_fail(err, rc, "%s: %s error: %s%s%s", file, le.kind, where ? where : "", where ? ": " : "", le.message);
        sk_buf_free(&text);
        return -1;
    }
    rc = sk_config_parse(text.data, text.len, file, conf, err);
    sk_buf_free(&text);
    return rc;
#else
    return sk_config_read(file, conf, err);
#endif
}

static bool valid_name(const char *s)
{
    return s[0] != '\0' && strlen(s) < SK_ID_MAX && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                             "0123456789_.-") == strlen(s);
}

static const char *str_field(const sk_cval *t, const char *key, const char *def)
{
    const sk_cval *v = sk_cval_get(t, key);
    return v != NULL && v->type == SK_CVAL_STR ? v->s : def;
}

/* Checks the shape of the scenario; fills r.  Errors name the key. */
static int load_scenario(run *r, const sk_cval *root, sk_error *err)
{
    static const char *const known[] = {"name",      "description", "region", "base",     "municipalities",
                                        "simulations", "indicators", "areas", "variants", NULL};
    for (size_t e = 0; e < root->n; e++) {
        const char *k = root->items[e].key;
        size_t i = 0;
        while (k != NULL && known[i] != NULL && strcmp(known[i], k) != 0)
            i++;
        if (k == NULL || known[i] == NULL)
            return sk_fail(err, SK_EINVAL, "%s: unknown key '%s' (known: name, description, region, base, "
                           "municipalities, simulations, indicators, areas, variants)", r->file, k ? k : "[list]");
        const sk_cval *v = &root->items[e].val;
        bool table = strcmp(k, "municipalities") == 0 || strcmp(k, "simulations") == 0 ||
                     strcmp(k, "indicators") == 0 || strcmp(k, "variants") == 0;
        if (v->type != (table ? SK_CVAL_TABLE : SK_CVAL_STR))
            return sk_fail(err, SK_EINVAL, "%s: '%s' must be a %s, not %s", r->file, k, table ? "table" : "string",
                           sk_cval_type_name(v->type));
    }
    const sk_cval *region = sk_cval_get(root, "region"), *munis = sk_cval_get(root, "municipalities"),
                  *inds = sk_cval_get(root, "indicators"), *variants = sk_cval_get(root, "variants");
    r->sims = sk_cval_get(root, "simulations");
    if (region == NULL || munis == NULL || inds == NULL || r->sims == NULL)
        return sk_fail(err, SK_EINVAL, "%s: needs region, municipalities, simulations and indicators; see "
                       "docs/scenarios.md", r->file);
    sk_strlcpy(r->name, str_field(root, "name", r->file), sizeof r->name);
    sk_strlcpy(r->region, region->s, sizeof r->region);
    for (size_t e = 0; e < r->sims->n; e++) {
        const sk_centry *ce = &r->sims->items[e];
        int k = 0;
        while (k < MAX_KERNELS && (ce->key == NULL || strcmp(ce->key, kernels[k]) != 0))
            k++;
        if (k == MAX_KERNELS || ce->val.type != SK_CVAL_TABLE)
            return sk_fail(err, SK_EINVAL, "%s: simulations.%s: want water, power or traffic = { inputs..., "
                           "params = {...} }", r->file, ce->key ? ce->key : "[list]");
    }
    /* Municipality names come from region.csv in the base folder. */
    size_t rlen;
    sk_error ignore = SK_ERROR_INIT;
    char *rcsv = slurp_rel(r, "region.csv", &rlen, &ignore);
    for (size_t i = 0; i < munis->n; i++) {
        const sk_cval *m = &munis->items[i].val;
        if (m->type != SK_CVAL_STR || !valid_name(m->s) || r->nareas == MAX_AREAS) {
            free(rcsv);
            return sk_fail(err, SK_EINVAL, "%s: municipalities[%zu]: want a tenant code (at most %d)", r->file,
                           i + 1, MAX_AREAS);
        }
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
    for (size_t i = 0; i < inds->n; i++) {
        const sk_cval *v = &inds->items[i].val;
        if (v->type != SK_CVAL_STR || kernel_of_indicator(v->s) == NULL || strlen(v->s) >= sizeof r->indicators[0])
            return sk_fail(err, SK_EINVAL, "%s: indicators[%zu]: want the name of a water_, power_ or traffic_ "
                           "indicator plugin", r->file, i + 1);
        if (r->nind == MAX_IND)
            return sk_fail(err, SK_EINVAL, "%s: more than %d indicators", r->file, MAX_IND);
        sk_strlcpy(r->indicators[r->nind++], v->s, sizeof r->indicators[0]);
    }
    variant *base = &r->variants[0];
    sk_strlcpy(base->name, "after", sizeof base->name);
    sk_strlcpy(base->title, "the merged region", sizeof base->title);
    sk_strlcpy(base->networks, "merged", sizeof base->networks);
    sk_strlcpy(base->areas, str_field(root, "areas", "merged/areas.csv"), sizeof base->areas);
    r->nvariants = 1;
    for (size_t i = 0; variants != NULL && i < variants->n; i++) {
        const sk_cval *v = &variants->items[i].val;
        const char *name = v->type == SK_CVAL_TABLE ? str_field(v, "name", "") : "";
        if (!valid_name(name) || strcmp(name, "before") == 0 || strcmp(name, "after") == 0)
            return sk_fail(err, SK_EINVAL, "%s: variants[%zu]: needs name = \"...\" (letters, digits, _ . -; not "
                           "before or after)", r->file, i + 1);
        for (size_t w = 1; w < r->nvariants; w++)
            if (strcmp(r->variants[w].name, name) == 0)
                return sk_fail(err, SK_EINVAL, "%s: variants[%zu]: name '%s' is used twice", r->file, i + 1, name);
        if (r->nvariants == 1 + MAX_VARIANTS)
            return sk_fail(err, SK_EINVAL, "%s: more than %d variants", r->file, MAX_VARIANTS);
        for (size_t e = 0; e < v->n; e++) {
            const char *k = v->items[e].key;
            bool ok = k != NULL && (strcmp(k, "name") == 0 || strcmp(k, "title") == 0 || strcmp(k, "networks") == 0 ||
                                    strcmp(k, "areas") == 0 || strcmp(k, "simulations") == 0);
            if (!ok)
                return sk_fail(err, SK_EINVAL, "%s: variants[%zu] (%s): unknown key '%s' (known: name, title, "
                               "networks, areas, simulations)", r->file, i + 1, name, k ? k : "[list]");
        }
        variant *va = &r->variants[r->nvariants++];
        sk_strlcpy(va->name, name, sizeof va->name);
        sk_strlcpy(va->title, str_field(v, "title", ""), sizeof va->title);
        sk_strlcpy(va->networks, str_field(v, "networks", "merged"), sizeof va->networks);
        char def_areas[600];
        snprintf(def_areas, sizeof def_areas, "%s/areas.csv", va->networks);
        sk_strlcpy(va->areas, str_field(v, "areas", strcmp(va->networks, "merged") == 0 ? base->areas : def_areas),
                   sizeof va->areas);
        va->sims = sk_cval_get(v, "simulations");
        if (va->sims != NULL && va->sims->type != SK_CVAL_TABLE)
            return sk_fail(err, SK_EINVAL, "%s: variants[%zu].simulations: want a table", r->file, i + 1);
        for (size_t e = 0; va->sims != NULL && e < va->sims->n; e++) {
            const char *k = va->sims->items[e].key;
            if (k == NULL || sk_cval_get(r->sims, k) == NULL || va->sims->items[e].val.type != SK_CVAL_TABLE)
                return sk_fail(err, SK_EINVAL, "%s: variants[%zu].simulations.%s: only kernels the baseline "
                               "simulates can be changed, with a table", r->file, i + 1, k ? k : "[list]");
        }
    }
    r->ncols = r->nareas * (1 + r->nvariants) + r->nvariants;
    r->cells = calloc(r->nind * r->ncols + 1, sizeof *r->cells);
    if (r->cells == NULL)
        return sk_fail(err, SK_ENOMEM, "out of memory");
    for (size_t c = 0; c < r->nind * r->ncols; c++)
        r->cells[c].p.sim = -1;
    return 0;
}

/* The manifest of a run submitted with --no-wait: enough for --collect to
 * rebuild the table later (the scenario, its hash, every job id in the
 * order the scenario makes them). */
static void manifest_json(const run *r, const char *abs, const char *sha, sk_buf *b)
{
    sk_buf_puts(b, "{\"scenario\":");
    sk_json_str(b, abs);
    sk_buf_puts(b, ",\"sha256\":");
    sk_json_str(b, sha);
    sk_buf_puts(b, ",\"region\":");
    sk_json_str(b, r->region);
    sk_buf_printf(b, ",\"simulations\":%zu,\"indicators\":%zu,\"jobs\":[", r->nsim, r->njobs);
    for (size_t i = 0; i < r->nmade; i++) {
        const struct made *mk = &r->made[i];
        sk_buf_puts(b, i ? "," : "");
        sk_json_str(b, mk->sim ? r->simjobs[mk->index].job : r->jobs[mk->index].job);
    }
    sk_buf_puts(b, "]}\n");
}

/* A JSON string value after "key": into out (\" and \\ unescaped). */
static int manifest_str(const char *text, const char *key, char *out, size_t n)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(text, pat);
    if (p == NULL)
        return -1;
    p += strlen(pat);
    size_t k = 0;
    for (; *p && *p != '"' && k + 1 < n; p++) {
        if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
            p++;
        out[k++] = *p;
    }
    out[k] = '\0';
    return *p == '"' ? 0 : -1;
}

static int read_manifest(run *r, const char *path, char *scenario, size_t slen, char *sha, size_t shalen,
                         sk_error *err)
{
    size_t len;
    char *text = sk_read_file(path, &len, (size_t)64 << 20, err);
    if (text == NULL)
        return -1;
    const char *jobs = strstr(text, "\"jobs\":[");
    if (manifest_str(text, "scenario", scenario, slen) < 0 || manifest_str(text, "sha256", sha, shalen) < 0 ||
        jobs == NULL) {
        free(text);
        return sk_fail(err, SK_EINVAL, "%s: not a run manifest of `samskap run --no-wait` (scenario, sha256, jobs)",
                       path);
    }
    for (const char *p = jobs + 8; *p && *p != ']';) {
        const char *q = *p == '"' ? strchr(p + 1, '"') : NULL;
        if (q == NULL) {
            p++;
            continue;
        }
        if (q - p - 1 <= 0 || q - p - 1 >= SK_ID_MAX) {
            free(text);
            return sk_fail(err, SK_EINVAL, "%s: a job id is empty or too long", path);
        }
        char (*grown)[SK_ID_MAX] = realloc(r->collect, (r->ncollect + 1) * sizeof *r->collect);
        if (grown == NULL) {
            free(text);
            return sk_fail(err, SK_ENOMEM, "out of memory");
        }
        r->collect = grown;
        snprintf(r->collect[r->ncollect++], SK_ID_MAX, "%.*s", (int)(q - p - 1), p + 1);
        p = q + 1;
    }
    free(text);
    if (r->ncollect == 0)
        return sk_fail(err, SK_EINVAL, "%s: the manifest lists no jobs", path);
    return 0;
}

/* --collect: ask the broker for every job's outcome (WAIT). */
static int wait_for_all(run *r, sk_error *err)
{
    for (size_t i = 0; i < r->nmade; i++) {
        struct made *mk = &r->made[i];
        const char *job = mk->sim ? r->simjobs[mk->index].job : r->jobs[mk->index].job;
        const char *tenant = mk->sim ? r->simjobs[mk->index].tenant : NULL;
        if (!mk->sim) {
            const ind_job *ij = &r->jobs[mk->index];
            tenant = ij->variant < 0 ? r->areas[ij->area].code : r->region;
        }
        mk->wait_req = sk_client_request(r->cl, SK_MSG_WAIT, job, tenant, err);
        if (mk->wait_req < 0)
            return -1;
    }
    return 0;
}

/* An error answering a WAIT of --collect: that job's outcome is unknown. */
static void take_wait_error(run *r, const sk_wire_msg *m)
{
    for (size_t i = 0; i < r->nmade; i++) {
        struct made *mk = &r->made[i];
        if (mk->wait_req != m->hdr.req)
            continue;
        if (mk->sim) {
            sim_job *sj = &r->simjobs[mk->index];
            if (!sj->done) {
                sj->done = true;
                sk_strlcpy(sj->error, m->hdr.reason, sizeof sj->error);
            }
        } else if (!r->jobs[mk->index].done) {
            take_failure(r, &r->jobs[mk->index], m->hdr.reason);
            r->jobs[mk->index].done = true;
        }
        report_progress(r);
        return;
    }
}

/* Where the broker is and how to reach it: --broker, --curve-key,
 * --server-key, with $SAMSKAP_CURVE_KEY / $SAMSKAP_SERVER_KEY as defaults
 * (an empty variable counts as unset). */
typedef struct conn_opts {
    const char *broker, *curve_key, *server_key;
} conn_opts;

static conn_opts conn_defaults(void)
{
    const char *ck = getenv("SAMSKAP_CURVE_KEY"), *sk = getenv("SAMSKAP_SERVER_KEY");
    return (conn_opts){sk_cli_default_broker(), ck && *ck ? ck : NULL, sk && *sk ? sk : NULL};
}

/* 1 if argv[*i] (and its value) was one of ours, else 0. */
static int conn_arg(conn_opts *c, int argc, char **argv, int *i)
{
    const char **slot = strcmp(argv[*i], "--broker") == 0       ? &c->broker
                        : strcmp(argv[*i], "--curve-key") == 0  ? &c->curve_key
                        : strcmp(argv[*i], "--server-key") == 0 ? &c->server_key
                                                                : NULL;
    if (slot == NULL || *i + 1 >= argc)
        return 0;
    *slot = argv[++*i];
    return 1;
}

static sk_client *conn_open(const conn_opts *c, sk_error *err)
{
    return sk_cli_open_client(c->broker, c->curve_key, c->server_key, err);
}

static const char run_usage[] =
    "usage: samskap run SCENARIO.lua [--wait|--no-wait] [--out DIR] [--json|--csv] [--broker ENDPOINT]\n"
    "                   [--timeout S] [--inputs auto|frames|datasets] [--curve-key FILE --server-key FILE]\n"
    "       samskap run --collect RUN.json [--out DIR] [--json|--csv] [--broker ENDPOINT] [--timeout S]\n\n"
    "Runs a scenario (docs/scenarios.md): each municipality's networks on their own\n"
    "(before), the merged region's networks once (after), and each variant of the\n"
    "merged region, with the scenario's indicators, and prints the indicator table\n"
    "(Markdown by default, with the provenance of the simulations).  --out DIR also\n"
    "writes report.md, report.json and report.csv (per-cell provenance).  A failed\n"
    "step fails the steps that depend on it; the rest still finish.  The values are\n"
    "stored in the region's indicator history (samskap indicators).\n\n"
    "--wait (default): wait for every step and print the table.  --no-wait: submit,\n"
    "print the run's manifest (JSON: scenario, its hash, every job id; also\n"
    "DIR/run.json with --out) and exit; `samskap run --collect RUN.json` later\n"
    "waits for those jobs and prints the table (within the broker's --result-ttl).\n\n"
    "--inputs: how network files reach the nodes.  datasets: stored at the broker by\n"
    "content hash, once per tenant (a file the broker already holds is not sent\n"
    "again) and fetched by the nodes; frames: with every job; auto (default):\n"
    "datasets when the broker has --data-dir, else frames.\n\n"
    "Exit: 0 every step finished (failed cells are in the table), 2 bad scenario,\n"
    "3 broker unreachable, 4 steps did not finish within --timeout (default 900 s).\n";

int sk_cli_run(int argc, char **argv)
{
    const char *file = NULL, *out_dir = NULL, *format = "md";
    conn_opts conn = conn_defaults();
    double timeout_s = 900;
    int inputs = INPUTS_AUTO;
    bool no_wait = false;
    const char *collect = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(run_usage, stdout);
            return SK_EXIT_OK;
        } else if (conn_arg(&conn, argc, argv, &i)) {
            continue;
        } else if (strcmp(a, "--out") == 0 && i + 1 < argc) {
            out_dir = argv[++i];
        } else if (strcmp(a, "--timeout") == 0 && i + 1 < argc) {
            if (sk_parse_f64(argv[++i], &timeout_s) < 0 || timeout_s <= 0) {
                fprintf(stderr, "samskap run: --timeout needs seconds\n");
                return SK_EXIT_USAGE;
            }
        } else if (strcmp(a, "--wait") == 0) {
            no_wait = false;
        } else if (strcmp(a, "--no-wait") == 0) {
            no_wait = true;
        } else if (strcmp(a, "--collect") == 0 && i + 1 < argc) {
            collect = argv[++i];
        } else if (strcmp(a, "--inputs") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "auto") != 0 && strcmp(v, "frames") != 0 && strcmp(v, "datasets") != 0) {
                fprintf(stderr, "samskap run: --inputs wants auto, frames or datasets\n");
                return SK_EXIT_USAGE;
            }
            inputs = v[0] == 'a' ? INPUTS_AUTO : v[0] == 'f' ? INPUTS_FRAMES : INPUTS_DATASETS;
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
    char collect_file[4096] = "", collect_sha[SK_HASH_NAME_LEN] = "";
    run *r = calloc(1, sizeof *r);
    if (r == NULL) {
        fprintf(stderr, "samskap run: out of memory\n");
        return SK_EXIT_ERROR;
    }
    sk_error err = SK_ERROR_INIT;
    if (collect != NULL) {
        if (no_wait || file != NULL) {
            fprintf(stderr, "samskap run: --collect takes the scenario from the manifest, and waits\n");
            free(r);
            return SK_EXIT_USAGE;
        }
        if (read_manifest(r, collect, collect_file, sizeof collect_file, collect_sha, sizeof collect_sha, &err) < 0) {
            fprintf(stderr, "samskap run: %s\n", err.msg);
            free(r->collect);
            free(r);
            return SK_EXIT_USAGE;
        }
        file = collect_file;
    }
    if (file == NULL) {
        fprintf(stderr, "usage: samskap run SCENARIO.lua [--out DIR] [--json|--csv] (see --help)\n");
        free(r);
        return SK_EXIT_USAGE;
    }
    /* The scenario's bytes name the run: --collect refuses a changed file. */
    char abs[4096], sha[SK_HASH_NAME_LEN];
    {
        size_t slen;
        char *src = sk_read_file(file, &slen, SCENARIO_MAX_BYTES, &err);
        if (src == NULL) {
            fprintf(stderr, "samskap run: %s\n", err.msg);
            free(r->collect);
            free(r);
            return SK_EXIT_ERROR;
        }
        sk_sha256_name(src, slen, sha);
        free(src);
        if (realpath(file, abs) == NULL)
            sk_strlcpy(abs, file, sizeof abs);
        if (collect != NULL && strcmp(sha, collect_sha) != 0) {
            fprintf(stderr, "samskap run: %s changed since the run in %s was submitted (%s, was %s)\n", file,
                    collect, sha, collect_sha);
            free(r->collect);
            free(r);
            return SK_EXIT_USAGE;
        }
    }
    sk_config *conf = NULL;
    int code = SK_EXIT_ERROR;
    r->file = file;
    r->inputs = inputs;
    if (read_scenario(file, &conf, &err) < 0) {
        fprintf(stderr, "samskap run: %s\n", err.msg);
        code = err.code == SK_ENOTFOUND || err.code == SK_EIO ? SK_EXIT_ERROR : SK_EXIT_USAGE;
        goto done;
    }
    const sk_cval *root = sk_config_root(conf);
    const char *slash = strrchr(file, '/');
    snprintf(r->dir, sizeof r->dir, "%.*s", slash ? (int)(slash - file) : 1, slash ? file : ".");
    const char *base = str_field(root, "base", NULL);
    if (base != NULL) {
        char joined[1024];
        if (base[0] == '/')
            snprintf(joined, sizeof joined, "%s", base);
        else
            snprintf(joined, sizeof joined, "%.500s/%.500s", r->dir, base);
        sk_strlcpy(r->dir, joined, sizeof r->dir);
    }
    if (load_scenario(r, root, &err) < 0) {
        fprintf(stderr, "samskap run: %s\n", err.msg);
        code = err.code == SK_ENOMEM ? SK_EXIT_ERROR : SK_EXIT_USAGE;
        goto done;
    }
    r->cl = conn_open(&conn, &err);
    if (r->cl == NULL) {
        fprintf(stderr, "samskap run: %s\n", err.msg);
        code = SK_EXIT_UNREACHABLE;
        goto done;
    }
    /* Before: each municipality on its own networks.  After: the region,
     * then each variant of it. */
    for (size_t a = 0; a < r->nareas; a++)
        if (submit_before(r, a, &err) < 0) {
            fprintf(stderr, "samskap run: before, %s: %s\n", r->areas[a].code, err.msg);
            code = err.code == SK_ETIMEDOUT ? SK_EXIT_UNREACHABLE : SK_EXIT_ERROR;
            goto done;
        }
    for (size_t v = 0; v < r->nvariants; v++)
        if (submit_after(r, (int)v, &err) < 0) {
            fprintf(stderr, "samskap run: %s: %s\n", r->variants[v].name, err.msg);
            code = err.code == SK_ETIMEDOUT ? SK_EXIT_UNREACHABLE : SK_EXIT_ERROR;
            goto done;
        }
    if (r->npending > 0 && submit_graph(r, &err) < 0) {
        fprintf(stderr, "samskap run: %s\n", err.msg);
        code = err.code == SK_ETIMEDOUT ? SK_EXIT_UNREACHABLE : SK_EXIT_ERROR;
        goto done;
    }
    if (r->collect != NULL) {
        if (r->nmade != r->ncollect) {
            fprintf(stderr, "samskap run: %s makes %zu jobs, the manifest lists %zu: not the same run\n", file,
                    r->nmade, r->ncollect);
            code = SK_EXIT_USAGE;
            goto done;
        }
        if (wait_for_all(r, &err) < 0) {
            fprintf(stderr, "samskap run: %s\n", err.msg);
            code = SK_EXIT_UNREACHABLE;
            goto done;
        }
        fprintf(stderr, "samskap run: collecting %zu simulations and %zu indicator jobs\n", r->nsim, r->njobs);
    } else {
        fprintf(stderr, "samskap run: %zu simulations and %zu indicator jobs submitted (inputs: %zu bytes uploaded "
                        "as datasets, %zu bytes the broker held already, %zu bytes sent with jobs)\n", r->nsim,
                r->njobs, r->uploaded_bytes, r->held_bytes, r->sent_bytes);
    }
    if (no_wait) {
        sk_buf man = SK_BUF_INIT;
        manifest_json(r, abs, sha, &man);
        fputs(man.data, stdout);
        if (out_dir != NULL && ((mkdir(out_dir, 0777) < 0 && errno != EEXIST) || write_out(out_dir, "run.json", &man) < 0))
            fprintf(stderr, "samskap run: cannot write %s/run.json: %s\n", out_dir, strerror(errno));
        else if (out_dir != NULL)
            fprintf(stderr, "samskap run: manifest in %s/run.json; `samskap run --collect %s/run.json` waits for "
                            "the table\n", out_dir, out_dir);
        sk_buf_free(&man);
        code = SK_EXIT_OK;
        goto done;
    }
    /* Collect every outcome: indicators for the table, simulations for the
     * provenance. */
    size_t left = 0;
    double waited = 0;
    for (;;) {
        left = 0;
        for (size_t i = 0; i < r->njobs; i++)
            left += !r->jobs[i].done;
        for (size_t i = 0; i < r->nsim; i++)
            left += !r->simjobs[i].done;
        if (left == 0 || waited >= timeout_s)
            break;
        sk_wire_msg m;
        int rc = sk_client_recv(r->cl, 500, &m, &err);
        if (rc < 0)
            break;
        if (rc == 0) {
            waited += 0.5;
            continue;
        }
        if (!handle_outcome(r, &m) && m.hdr.type == SK_MSG_ERROR && r->collect != NULL)
            take_wait_error(r, &m);
        sk_wire_msg_close(&m);
    }
    copy_reused(r);
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
        fprintf(stderr, "samskap run: %zu steps did not finish within %.0f s\n", left, timeout_s);
done:
    if (r != NULL) {
        sk_client_free(r->cl);
        free(r->jobs);
        free(r->simjobs);
        free(r->cells);
        free(r->stored);
        for (size_t i = 0; i < r->npending; i++)
            sk_params_free(r->pending[i].params);
        free(r->pending);
        free(r->made);
        free(r->collect);
        free(r);
    }
    sk_config_free(conf);
    return code;
}

/* s in a column of width characters (UTF-8 code points), then a space:
 * cut at a character boundary if longer, padded if shorter. */
static void put_column(sk_buf *b, const char *s, int width)
{
    int chars = 0;
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        if (((unsigned char)s[n] & 0xc0) == 0x80)
            continue; /* a continuation byte: part of the character before */
        if (chars == width)
            break;
        chars++;
    }
    sk_buf_append(b, s, n);
    for (; chars < width; chars++)
        sk_buf_puts(b, " ");
    sk_buf_puts(b, " ");
}

int sk_cli_indicators(int argc, char **argv)
{
    const char *tenant = NULL, *since = "", *format = "table";
    conn_opts conn = conn_defaults();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: samskap indicators --tenant T [--since YYYY-MM-DD] [--json|--csv] [--broker ENDPOINT]\n"
                   "                          [--curve-key FILE --server-key FILE]\n\n"
                   "The tenant's indicator history: every scenario run's values (samskap run),\n"
                   "by date, for SDG and U4SSC reporting.  Needs a broker with --data-dir.\n");
            return SK_EXIT_OK;
        } else if (conn_arg(&conn, argc, argv, &i)) {
            continue;
        } else if (strcmp(a, "--tenant") == 0 && i + 1 < argc) {
            tenant = argv[++i];
        } else if (strcmp(a, "--since") == 0 && i + 1 < argc) {
            since = argv[++i];
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
    sk_client *cl = conn_open(&conn, &err);
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
                static const char *const keys[] = {"date",   "scenario", "indicator",   "area",       "name",
                                                   "variant", "value",   "band",        "job",        "plugin",
                                                   "plugin_hash", "simulation", "kernel", "inputs"};
                sk_buf_puts(&b, row > 2 ? ",{" : "{");
                for (int k = 0; k < (int)c.nfields && k < 14; k++) {
                    sk_json_key(&b, keys[k], k == 0);
                    double v;
                    if (k == 6)
                        c.fields[k][0] && sk_parse_f64(c.fields[k], &v) == 0 ? sk_json_f64(&b, v) : (void)sk_buf_puts(&b, "null");
                    else
                        sk_json_str(&b, c.fields[k]);
                }
                sk_buf_puts(&b, "}");
            } else {
                /* Columns by characters, not bytes: "Ålesund" is 8 bytes, 7 letters. */
                sk_buf_printf(&b, "%-10s ", c.fields[0]);
                put_column(&b, c.fields[2], 30);
                put_column(&b, c.fields[3], 8);
                put_column(&b, c.fields[4], 12);
                put_column(&b, c.fields[5], 11);
                sk_buf_printf(&b, "%12s %s\n", c.fields[6], c.fields[7]);
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
