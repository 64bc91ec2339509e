/* cmd_sim.c - `samskap sim KERNEL FILES... --out DIR`: run a kernel locally
 * through the same service code the node runs, and write the result as a
 * CSV directory.  Flags become params: --foo-bar X is param foo_bar=X, and a
 * flag without a value is true. */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sk_csv.h"
#include "sk_proto.h"
#include "sk_sim.h"

typedef struct sim_kind {
    const char *kernel;          /* "water" */
    const char *service;         /* "sim.water" */
    const char *positional[3];   /* input names of positional files */
    const char *file_flags[3];   /* flags that name more input files */
    const char *usage;
} sim_kind;

static const sim_kind kinds[] = {
    {"water", "sim.water", {"network", NULL}, {NULL},
     "samskap sim water NETWORK.inp --out DIR [--periods first|all] [--accuracy X] [--json]"},
    {"power", "sim.power", {"case", NULL}, {"profile", NULL},
     "samskap sim power CASE.m --out DIR [--dc] [--tol X] [--max-iter N] [--flat-start]\n"
     "                         [--enforce-q-limits] [--profile FILE.csv] [--json]"},
    {"traffic", "sim.traffic", {"net", "trips", NULL}, {"nodes", NULL},
     "samskap sim traffic NET_net.tntp TRIPS_trips.tntp --out DIR [--gap 1e-6] [--max-iters N]\n"
     "                         [--threads N] [--time-limit S] [--toll-factor X] [--distance-factor X] [--json]"},
    {NULL, NULL, {NULL}, {NULL}, NULL},
};

static atomic_int sim_cancel;

static void on_sigint(int sig)
{
    (void)sig;
    atomic_store(&sim_cancel, 1);
}

static void on_progress(void *ud, double fraction, const char *msg)
{
    sk_cli_progress((const char *)ud, fraction, msg);
}

static void sim_usage(FILE *out)
{
    fprintf(out, "usage:\n");
    for (const sim_kind *k = kinds; k->kernel; k++)
        fprintf(out, "  %s\n", k->usage);
    fprintf(out, "\nRuns a kernel on this machine (no broker) and writes its result as a CSV\n"
                 "directory (see docs/results.md).  --json prints the summary on stdout.\n"
                 "Any other --name VALUE is passed to the kernel as param name.\n");
}

int sk_cli_sim(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        sim_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? SK_EXIT_USAGE : SK_EXIT_OK;
    }
    const sim_kind *kind = NULL;
    for (const sim_kind *k = kinds; k->kernel; k++)
        if (strcmp(argv[1], k->kernel) == 0)
            kind = k;
    if (kind == NULL) {
        fprintf(stderr, "samskap sim: unknown kernel '%s' (water, power, traffic)\n", argv[1]);
        return SK_EXIT_USAGE;
    }
    const sk_service_def *svc = sk_sim_find(kind->service);
    if (svc == NULL) {
        fprintf(stderr, "samskap sim: the %s kernel is not part of this build\n", kind->kernel);
        return SK_EXIT_ERROR;
    }
    sk_params *params = sk_params_new();
    sk_input inputs[SK_MAX_BODIES];
    char *data[SK_MAX_BODIES] = {0};
    size_t ninputs = 0, npos = 0;
    const char *out_dir = NULL;
    bool json = false;
    int code = SK_EXIT_USAGE;
    sk_error err = SK_ERROR_INIT;
    sk_result *r = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: %s\n", kind->usage);
            code = SK_EXIT_OK;
            goto out;
        }
        const char *input_name = NULL, *path = NULL;
        if (strcmp(a, "--out") == 0 && i + 1 < argc) {
            out_dir = argv[++i];
            continue;
        }
        if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        }
        if (strncmp(a, "--", 2) == 0) {
            char key[128];
            snprintf(key, sizeof key, "%s", a + 2);
            for (char *p = key; *p; p++)
                if (*p == '-')
                    *p = '_';
            for (size_t f = 0; kind->file_flags[f]; f++)
                if (strcmp(key, kind->file_flags[f]) == 0)
                    input_name = kind->file_flags[f];
            if (input_name != NULL) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "samskap sim: %s needs a file\n", a);
                    goto out;
                }
                path = argv[++i];
            } else {
                const char *val = "true";
                if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
                    val = argv[++i];
                sk_params_set_str(params, key, val);
                continue;
            }
        } else {
            if (kind->positional[npos] == NULL) {
                fprintf(stderr, "samskap sim %s: unexpected argument '%s'\n", kind->kernel, a);
                goto out;
            }
            input_name = kind->positional[npos++];
            path = a;
        }
        if (ninputs == SK_MAX_BODIES)
            goto out;
        size_t len;
        data[ninputs] = sk_read_file(path, &len, (size_t)1 << 31, &err);
        if (data[ninputs] == NULL) {
            fprintf(stderr, "samskap sim: %s\n", err.msg);
            code = SK_EXIT_ERROR;
            goto out;
        }
        inputs[ninputs] = (sk_input){input_name, path, data[ninputs], len};
        ninputs++;
    }
    if (kind->positional[npos] != NULL) {
        fprintf(stderr, "samskap sim %s: missing %s file\nusage: %s\n", kind->kernel, kind->positional[npos],
                kind->usage);
        goto out;
    }
    if (out_dir == NULL && !json) {
        fprintf(stderr, "samskap sim %s: give --out DIR (or --json)\nusage: %s\n", kind->kernel, kind->usage);
        goto out;
    }
    signal(SIGINT, on_sigint);
    sk_job_ctx ctx = {.inputs = inputs, .ninputs = ninputs, .params = params, .cancel = &sim_cancel,
                      .progress = on_progress, .progress_ud = (void *)kind->kernel, .threads = 2};
    int rc = sk_sim_run(svc, &ctx, &r, &err);
    sk_cli_progress_done();
    signal(SIGINT, SIG_DFL);
    if (rc < 0) {
        fprintf(stderr, "samskap sim %s: %s\n", kind->kernel, err.msg);
        code = rc == SK_ECANCELED ? SK_EXIT_FAILED : (rc == SK_ENOCONV ? SK_EXIT_FAILED : SK_EXIT_ERROR);
        goto out;
    }
    if (out_dir != NULL && sk_result_write_dir(r, out_dir, &err) < 0) {
        fprintf(stderr, "samskap sim: %s\n", err.msg);
        code = SK_EXIT_ERROR;
        goto out;
    }
    if (json) {
        char *s = sk_result_summary_json(r);
        if (s)
            fputs(s, stdout);
        free(s);
    } else {
        fprintf(stderr, "samskap sim %s: %s, result in %s/\n", kind->kernel,
                r->converged ? "converged" : "NOT converged", out_dir);
    }
    code = r->converged ? SK_EXIT_OK : SK_EXIT_FAILED;
out:
    for (size_t i = 0; i < ninputs; i++)
        free(data[i]);
    sk_params_free(params);
    sk_result_free(r);
    return code;
}
