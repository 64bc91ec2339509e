/* main.c - `samskap`: the command line for pipelines and people. */
#include <stdio.h>
#include <stdlib.h>
#include <locale.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sk_buf.h"
#ifdef SK_HAVE_PLUGIN_CLI
#include "plugin.h"
#endif
#ifdef SK_HAVE_REGION_CLI
#include "region.h"
#endif
#ifdef SK_HAVE_AREAS_CLI
#include "areas.h"
#endif

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} command;

static const command commands[] = {
    {"submit", sk_cli_submit, "submit a job to the broker and wait for its result"},
    {"wait", sk_cli_wait, "wait for a job submitted earlier and print its result"},
    {"result", sk_cli_result, "fetch a job's result (--out DIR for a CSV directory)"},
    {"cancel", sk_cli_cancel, "cancel a queued or running job"},
    {"services", sk_cli_services, "list live nodes, their services, load and tenants"},
    {"jobs", sk_cli_jobs, "list queued and running jobs"},
    {"status", sk_cli_status, "the broker's nodes, queues and counters"},
    {"watch", sk_cli_watch, "show job events live"},
    {"run", sk_cli_run, "run a scenario: indicators before and after a merger, as a table"},
    {"indicators", sk_cli_indicators, "a tenant's indicator history (from scenario runs)"},
    {"sim", sk_cli_sim, "run a simulation kernel locally, without a broker"},
    {"dataset", sk_cli_dataset, "store or fetch a file by content hash, in chunks"},
    {"keygen", sk_cli_keygen, "write a CurveZMQ key pair for a client, node or broker"},
#ifdef SK_HAVE_PLUGIN_CLI
    {"plugin", sk_cli_plugin_main, "run, test, check and list indicator plugins"},
#endif
#ifdef SK_HAVE_REGION_CLI
    {"region", sk_cli_region_main, "generate and merge synthetic regions (docs/region.md)"},
#endif
#ifdef SK_HAVE_AREAS_CLI
    {"areas", sk_cli_areas_main, "element -> area maps from boundary polygons (GeoJSON)"},
#endif
    {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: samskap COMMAND [options]   (samskap COMMAND --help for details)\n\n"
                 "Samskap runs water, power and traffic simulations and indicator plugins\n"
                 "for merged municipalities over a ZeroMQ bus.\n\ncommands:\n");
    for (const command *c = commands; c->name != NULL; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->help);
    fprintf(out, "  %-10s %s\n", "version", "print the version");
    fprintf(out, "\nThe broker defaults to %s (or $SAMSKAP_BROKER).\n", sk_cli_default_broker());
    fprintf(out, "Exit codes: 0 ok, 1 error, 2 usage, 3 broker unreachable, 4 timeout, 5 job failed.\n");
}

const char *sk_cli_default_broker(void)
{
    const char *e = getenv("SAMSKAP_BROKER");
    return e != NULL && *e != '\0' ? e : "tcp://127.0.0.1:5570";
}

void sk_cli_print_result(FILE *out, const sk_result *r, size_t max_rows)
{
    fprintf(out, "kernel      %s %s\n", r->kernel, r->kernel_version);
    fprintf(out, "converged   %s\n", r->converged ? "yes" : "no");
    if (r->iterations)
        fprintf(out, "iterations  %lld\n", (long long)r->iterations);
    for (size_t i = 0; i < r->nmeta; i++) {
        const sk_meta *m = &r->meta[i];
        sk_buf b = SK_BUF_INIT;
        switch (m->type) {
        case SK_META_STR: sk_buf_puts(&b, m->s); break;
        case SK_META_INT: sk_json_i64(&b, m->i); break;
        case SK_META_F64: sk_json_f64(&b, m->d); break;
        case SK_META_BOOL: sk_buf_puts(&b, m->i ? "true" : "false"); break;
        case SK_META_F64V:
        case SK_META_I64V:
            sk_buf_printf(&b, "[%zu values]", m->n);
            break;
        }
        fprintf(out, "%-11s %s\n", m->key, b.data ? b.data : "");
        sk_buf_free(&b);
    }
    for (size_t t = 0; t < r->ntables; t++) {
        const sk_table *tb = &r->tables[t];
        size_t rows = sk_table_rows(tb);
        /* A terminal-friendly view: 6 significant digits, at most 9
         * columns; --out DIR and --json carry everything at full precision. */
        size_t ncols = tb->ncols < 9 ? tb->ncols : 9;
        fprintf(out, "\n%s: %zu %s rows", tb->name, tb->nelem, tb->kind);
        if (tb->nperiods)
            fprintf(out, " x %zu periods", tb->nperiods);
        if (ncols < tb->ncols)
            fprintf(out, " (%zu of %zu columns shown)", ncols, tb->ncols);
        fprintf(out, "\n%-12s", tb->id_name);
        for (size_t c = 0; c < ncols; c++)
            fprintf(out, " %12.12s", tb->cols[c].name);
        fputc('\n', out);
        for (size_t row = 0; row < rows && row < max_rows; row++) {
            size_t e = row % (tb->nelem ? tb->nelem : 1);
            if (tb->ids_str)
                fprintf(out, "%-12.12s", tb->ids_str[e]);
            else if (tb->ids_int)
                fprintf(out, "%-12lld", (long long)tb->ids_int[e]);
            for (size_t c = 0; c < ncols; c++) {
                const sk_column *col = &tb->cols[c];
                size_t i = col->is_static ? e : row;
                if (col->dtype == SK_DT_STR)
                    fprintf(out, " %12.12s", ((char **)col->data)[i]);
                else if (col->dtype == SK_DT_F64)
                    fprintf(out, " %12.6g", ((double *)col->data)[i]);
                else
                    fprintf(out, " %12lld", (long long)sk_column_get_f64(col, i));
            }
            fputc('\n', out);
        }
        if (rows > max_rows)
            fprintf(out, "... %zu more rows (use --out DIR or --json for all)\n", rows - max_rows);
    }
}

static bool progress_shown;

void sk_cli_progress(const char *what, double fraction, const char *text)
{
    if (!isatty(STDERR_FILENO))
        return;
    char bar[21];
    int filled = fraction >= 0 ? (int)(fraction * 20 + 0.5) : 0;
    for (int i = 0; i < 20; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[20] = '\0';
    fprintf(stderr, "\r\033[K%s [%s] %3.0f%% %.60s", what, bar, fraction >= 0 ? fraction * 100 : 0, text);
    progress_shown = true;
}

void sk_cli_progress_done(void)
{
    if (progress_shown && isatty(STDERR_FILENO))
        fprintf(stderr, "\r\033[K");
    progress_shown = false;
}

int main(int argc, char **argv)
{
    /* Text output uses the C locale (decimal points) whatever LANG says. */
    setlocale(LC_ALL, "C");
    if (argc < 2) {
        usage(stderr);
        return SK_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return SK_EXIT_OK;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("samskap %s (protocol %d.%d, results schema %d)\n", SAMSKAP_VERSION, 1, 0, SK_RESULT_SCHEMA);
        return SK_EXIT_OK;
    }
    for (const command *c = commands; c->name != NULL; c++)
        if (strcmp(argv[1], c->name) == 0)
            return c->run(argc - 1, argv + 1);
    fprintf(stderr, "samskap: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return SK_EXIT_USAGE;
}
