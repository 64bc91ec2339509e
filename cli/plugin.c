/* plugin.c - `samskap plugin run|test|check|list` over the Lua plugin host
 * (lua/sk_lua.h).  One entry point, sk_cli_plugin_main; each subcommand
 * has --help, prints data on stdout and diagnostics on stderr, and --json
 * for programs. */
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plugin.h"
#include "sk_csv.h"
#include "sk_lua.h"
#include "sk_num.h"

#define MAX_INPUTS 8

static const char *default_dir(void)
{
    const char *d = getenv("SAMSKAP_PLUGINS");
    return d && *d ? d : "plugins";
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v)
{
    if (v != v || isinf(v)) {
        fputs("null", f);
        return;
    }
    char b[40];
    sk_fmt_f64(b, sizeof b, v);
    fputs(b, f);
}

static void needs_text(unsigned needs, char *buf, size_t n)
{
    snprintf(buf, n, "%s%s%s%s%s", needs & SK_LUA_NEEDS_WATER ? "water" : "",
             (needs & SK_LUA_NEEDS_WATER) && (needs & ~1u) ? "," : "",
             needs & SK_LUA_NEEDS_POWER ? "power" : "",
             (needs & SK_LUA_NEEDS_POWER) && (needs & SK_LUA_NEEDS_TRAFFIC) ? "," : "",
             needs & SK_LUA_NEEDS_TRAFFIC ? "traffic" : "");
}

static void print_lerr(const sk_lua_error *e)
{
    fprintf(stderr, "samskap plugin: %s: %s error: %s%s%s\n", e->plugin[0] ? e->plugin : "?",
            e->kind, e->where, e->where[0] ? ": " : "", e->message);
    if (e->traceback[0])
        fprintf(stderr, "%s\n", e->traceback);
}

static void json_lerr(FILE *f, const sk_lua_error *e)
{
    fputs("{\"ok\":false,\"error\":{\"kind\":", f);
    json_str(f, e->kind);
    fputs(",\"plugin\":", f);
    json_str(f, e->plugin);
    fputs(",\"where\":", f);
    json_str(f, e->where);
    fputs(",\"message\":", f);
    json_str(f, e->message);
    fputs(",\"traceback\":", f);
    json_str(f, e->traceback);
    fputs("}}\n", f);
}

/* ---- run ---------------------------------------------------------------- */

static const char run_help[] =
    "usage: samskap plugin run PLUGIN.lua --input RESULT [--input RESULT ...]\n"
    "                          [--areas FILE] [--param k=v ...] [--json] [--out DIR]\n"
    "                          [--isolated] [--allow-nonconverged] [--deadline S] [--mem MB]\n"
    "Run one indicator plugin on simulation results.  RESULT is a result directory\n"
    "(samskap sim ... --out DIR) or a msgpack result file.  --areas names the\n"
    "element->area sidecar (area,<code>,<name>,<population> / map,<kind>,<id>,<area>).\n"
    "--isolated runs the plugin in a samskap-plugin-worker process with a watchdog.\n"
    "--out writes the indicator result as a result directory.\n";

static sk_result *read_result(const char *path, sk_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        sk_fail(err, SK_EIO, "%s: no such file or directory", path);
        return NULL;
    }
    if (S_ISDIR(st.st_mode))
        return sk_result_read_dir(path, err);
    size_t len;
    char *data = sk_read_file(path, &len, (size_t)4 << 30, err);
    if (!data)
        return NULL;
    sk_result *r = sk_result_decode(data, len, err);
    free(data);
    return r;
}

static void print_output(const sk_result *out, int json)
{
    const sk_meta *v = sk_result_meta_find(out, "value"), *u = sk_result_meta_find(out, "unit");
    const sk_meta *b = sk_result_meta_find(out, "band"), *w = sk_result_meta_find(out, "warnings");
    const sk_meta *pn = sk_result_meta_find(out, "plugin"), *ph = sk_result_meta_find(out, "plugin_hash");
    const sk_meta *pv = sk_result_meta_find(out, "plugin_version"), *lg = sk_result_meta_find(out, "log");
    const sk_table *at = sk_result_table(out, "areas");
    const sk_column *av = at ? sk_table_column(at, "value") : NULL;
    const sk_column *ab = at ? sk_table_column(at, "band") : NULL;
    const sk_column *an = at ? sk_table_column(at, "name") : NULL;
    if (lg && lg->s && lg->s[0])
        fprintf(stderr, "%s", lg->s);
    if (json) {
        fputs("{\"ok\":true,\"plugin\":", stdout);
        json_str(stdout, pn ? pn->s : "");
        fputs(",\"version\":", stdout);
        json_str(stdout, pv ? pv->s : "");
        fputs(",\"hash\":", stdout);
        json_str(stdout, ph ? ph->s : "");
        fputs(",\"value\":", stdout);
        json_num(stdout, v ? v->d : NAN);
        fputs(",\"unit\":", stdout);
        json_str(stdout, u ? u->s : "");
        fputs(",\"band\":", stdout);
        json_str(stdout, b ? b->s : "");
        fputs(",\"converged\":", stdout);
        fputs(out->converged ? "true" : "false", stdout);
        fputs(",\"warnings\":", stdout);
        json_str(stdout, w ? w->s : "");
        fputs(",\"per_area\":[", stdout);
        for (size_t i = 0; at && i < at->nelem; i++) {
            fputs(i ? ",{\"area\":" : "{\"area\":", stdout);
            json_str(stdout, at->ids_str ? at->ids_str[i] : "");
            if (an && an->dtype == SK_DT_STR) {
                fputs(",\"name\":", stdout);
                json_str(stdout, ((char **)an->data)[i]);
            }
            fputs(",\"value\":", stdout);
            json_num(stdout, av ? sk_column_get_f64(av, i) : NAN);
            fputs(",\"band\":", stdout);
            json_str(stdout, ab && ab->dtype == SK_DT_STR ? ((char **)ab->data)[i] : "");
            fputs("}", stdout);
        }
        fputs("]}\n", stdout);
        return;
    }
    printf("%s %s (%s)\n", pn ? pn->s : "?", pv ? pv->s : "", ph ? ph->s : "");
    printf("value: %.6g %s%s%s\n", v ? v->d : NAN, u ? u->s : "", b && b->s[0] ? "  band: " : "",
           b ? b->s : "");
    if (!out->converged)
        printf("WARNING: computed from results that did not converge\n");
    if (w && w->s[0])
        printf("warnings: %s\n", w->s);
    for (size_t i = 0; at && i < at->nelem; i++)
        printf("  %-12s %-24s %12.6g %s\n", at->ids_str ? at->ids_str[i] : "",
               an && an->dtype == SK_DT_STR ? ((char **)an->data)[i] : "",
               av ? sk_column_get_f64(av, i) : NAN,
               ab && ab->dtype == SK_DT_STR ? ((char **)ab->data)[i] : "");
}

static int cmd_run(int argc, char **argv)
{
    const char *plugin = NULL, *areas_path = NULL, *out_dir = NULL;
    const char *inputs[MAX_INPUTS];
    int ninputs = 0, json = 0, isolated = 0, allow_nc = 0, rc = 1;
    sk_lua_job job;
    memset(&job, 0, sizeof job);
    sk_params *params = sk_params_new();
    sk_error err = SK_ERROR_INIT;
    if (!params) {
        fprintf(stderr, "samskap plugin run: out of memory\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(run_help, stdout);
            sk_params_free(params);
            return 0;
        } else if (strcmp(a, "--input") == 0 && more) {
            if (ninputs == MAX_INPUTS) {
                fprintf(stderr, "samskap plugin run: at most %d --input\n", MAX_INPUTS);
                goto out;
            }
            inputs[ninputs++] = argv[++i];
        } else if (strcmp(a, "--areas") == 0 && more)
            areas_path = argv[++i];
        else if (strcmp(a, "--out") == 0 && more)
            out_dir = argv[++i];
        else if (strcmp(a, "--param") == 0 && more) {
            if (sk_params_parse_kv(params, argv[++i], &err) < 0) {
                fprintf(stderr, "samskap plugin run: %s\n", err.msg);
                rc = 2;
                goto out;
            }
        } else if (strcmp(a, "--deadline") == 0 && more) {
            if (sk_parse_f64(argv[++i], &job.limits.deadline_s) < 0 || job.limits.deadline_s <= 0) {
                fprintf(stderr, "samskap plugin run: --deadline needs seconds > 0\n");
                rc = 2;
                goto out;
            }
        } else if (strcmp(a, "--mem") == 0 && more) {
            double mb;
            if (sk_parse_f64(argv[++i], &mb) < 0 || mb < 1) {
                fprintf(stderr, "samskap plugin run: --mem needs megabytes >= 1\n");
                rc = 2;
                goto out;
            }
            job.limits.mem_bytes = (size_t)(mb * 1048576.0);
        } else if (strcmp(a, "--json") == 0)
            json = 1;
        else if (strcmp(a, "--isolated") == 0)
            isolated = 1;
        else if (strcmp(a, "--allow-nonconverged") == 0)
            allow_nc = 1;
        else if (a[0] != '-' && !plugin)
            plugin = a;
        else {
            fprintf(stderr, "samskap plugin run: unexpected argument '%s'\n%s", a, run_help);
            rc = 2;
            goto out;
        }
    }
    if (!plugin || ninputs == 0) {
        fprintf(stderr, "%s", run_help);
        rc = 2;
        goto out;
    }
    sk_result *res[MAX_INPUTS] = {0};
    const sk_result *cres[MAX_INPUTS];
    sk_result *areas = NULL, *result = NULL;
    int ok = 1;
    for (int i = 0; i < ninputs && ok; i++) {
        res[i] = read_result(inputs[i], &err);
        cres[i] = res[i];
        if (!res[i]) {
            fprintf(stderr, "samskap plugin run: %s\n", err.msg);
            ok = 0;
        }
    }
    if (ok && areas_path && !(areas = sk_lua_areas_read(areas_path, &err))) {
        fprintf(stderr, "samskap plugin run: %s\n", err.msg);
        ok = 0;
    }
    if (ok) {
        sk_lua_error le;
        memset(&le, 0, sizeof le);
        job.plugin_path = plugin;
        job.results = cres;
        job.nresults = (size_t)ninputs;
        job.params = params;
        job.areas = areas;
        job.allow_nonconverged = allow_nc;
        int r = isolated ? sk_lua_run_isolated(&job, &result, &le) : sk_lua_run(&job, &result, &le);
        if (r < 0) {
            print_lerr(&le);
            if (json)
                json_lerr(stdout, &le);
        } else {
            print_output(result, json);
            rc = 0;
            if (out_dir && sk_result_write_dir(result, out_dir, &err) < 0) {
                fprintf(stderr, "samskap plugin run: %s\n", err.msg);
                rc = 1;
            }
        }
    }
    for (int i = 0; i < ninputs; i++)
        sk_result_free(res[i]);
    sk_result_free(areas);
    sk_result_free(result);
out:
    sk_params_free(params);
    return rc;
}

/* ---- test --------------------------------------------------------------- */

static const char test_help[] =
    "usage: samskap plugin test [DIR] [--json] [--isolated] [--only NAME]\n"
    "Run every plugin's fixtures: DIR/<plugin>.lua with DIR/fixtures/<plugin>.lua\n"
    "(default DIR: $SAMSKAP_PLUGINS or ./plugins).  One line per case; exit 1 when\n"
    "any case fails or a plugin has no fixtures.\n";

typedef struct test_state {
    int json, first, pass, fail;
} test_state;

static void test_report(void *ud, bool pass, const char *plugin, const char *case_name,
                        const char *detail)
{
    test_state *ts = ud;
    if (pass)
        ts->pass++;
    else
        ts->fail++;
    if (ts->json) {
        fputs(ts->first ? "{\"plugin\":" : ",{\"plugin\":", stdout);
        ts->first = 0;
        json_str(stdout, plugin);
        fputs(",\"case\":", stdout);
        json_str(stdout, case_name);
        fputs(pass ? ",\"pass\":true,\"detail\":" : ",\"pass\":false,\"detail\":", stdout);
        json_str(stdout, detail);
        fputs("}", stdout);
    } else {
        printf("%s %s: %s: %s\n", pass ? "PASS" : "FAIL", plugin, case_name, detail);
    }
}

static int cmd_test(int argc, char **argv)
{
    const char *dir = NULL, *only = NULL;
    test_state ts = {0, 1, 0, 0};
    int isolated = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(test_help, stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0)
            ts.json = 1;
        else if (strcmp(argv[i], "--isolated") == 0)
            isolated = 1;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else {
            fprintf(stderr, "samskap plugin test: unexpected argument '%s'\n%s", argv[i], test_help);
            return 2;
        }
    }
    if (!dir)
        dir = default_dir();
    sk_lua_plugin_dir *pd = NULL;
    sk_error err = SK_ERROR_INIT;
    if (sk_lua_plugin_dir_load(dir, NULL, &pd, &err) < 0) {
        fprintf(stderr, "samskap plugin test: %s\n", err.msg);
        return 1;
    }
    if (ts.json)
        fputs("{\"cases\":[", stdout);
    int broken = 0, nplugins = 0;
    for (size_t i = 0; i < pd->n; i++) {
        sk_lua_plugin_entry *e = &pd->items[i];
        if (only && (!e->info || strcmp(e->info->name, only) != 0))
            continue;
        nplugins++;
        if (!e->info) {
            print_lerr(&e->error);
            test_report(&ts, false, e->file, "load", e->error.message);
            broken++;
            continue;
        }
        char fx[4096];
        snprintf(fx, sizeof fx, "%s/fixtures/%s", dir, e->file);
        struct stat st;
        if (stat(fx, &st) != 0) {
            test_report(&ts, false, e->info->name, "fixtures", "no fixture file (fixtures/<plugin>.lua)");
            continue;
        }
        int ncases = 0;
        int r = sk_lua_fixture_test(e->info, fx, isolated, NULL, test_report, &ts, &ncases, &err);
        if (r < 0) {
            fprintf(stderr, "samskap plugin test: %s\n", err.msg);
            test_report(&ts, false, e->info->name, "fixtures", err.msg);
        }
    }
    if (ts.json)
        printf("],\"plugins\":%d,\"passed\":%d,\"failed\":%d}\n", nplugins, ts.pass, ts.fail);
    else
        printf("%d plugins, %d cases passed, %d failed\n", nplugins, ts.pass, ts.fail);
    sk_lua_plugin_dir_free(pd);
    return ts.fail || broken || nplugins == 0 ? 1 : 0;
}

/* ---- check -------------------------------------------------------------- */

static const char check_help[] =
    "usage: samskap plugin check FILE [--json]\n"
    "Load a plugin in the sandbox and validate its metadata; print it, or the\n"
    "error with file:line.\n";

static void print_info(const sk_lua_plugin_info *pi, int json)
{
    char needs[64];
    needs_text(pi->needs, needs, sizeof needs);
    if (json) {
        fputs("{\"ok\":true,\"name\":", stdout);
        json_str(stdout, pi->name);
        fputs(",\"version\":", stdout);
        json_str(stdout, pi->version);
        fputs(",\"hash\":", stdout);
        json_str(stdout, pi->hash);
        fputs(",\"title\":", stdout);
        json_str(stdout, pi->title);
        fputs(",\"unit\":", stdout);
        json_str(stdout, pi->unit);
        fputs(",\"needs\":", stdout);
        json_str(stdout, needs);
        fputs(",\"api_level\":", stdout);
        printf("%d", pi->api_level);
        fputs(",\"sdg\":", stdout);
        json_str(stdout, pi->sdg_code);
        fputs(",\"u4ssc\":", stdout);
        json_str(stdout, pi->u4ssc_code);
        fputs(",\"formula\":", stdout);
        json_str(stdout, pi->formula);
        fputs(",\"params\":[", stdout);
        for (size_t i = 0; i < pi->nparams; i++) {
            fputs(i ? ",{\"name\":" : "{\"name\":", stdout);
            json_str(stdout, pi->params[i].name);
            fputs(",\"type\":", stdout);
            json_str(stdout, pi->params[i].type);
            fputs(",\"default\":", stdout);
            if (strcmp(pi->params[i].type, "string") == 0)
                json_str(stdout, pi->params[i].def_str);
            else
                json_num(stdout, pi->params[i].def);
            fputs(",\"min\":", stdout);
            json_num(stdout, pi->params[i].min);
            fputs(",\"max\":", stdout);
            json_num(stdout, pi->params[i].max);
            fputs(",\"unit\":", stdout);
            json_str(stdout, pi->params[i].unit);
            fputs("}", stdout);
        }
        fputs("],\"bands\":[", stdout);
        for (size_t i = 0; i < pi->nbands; i++) {
            fputs(i ? ",{\"label\":" : "{\"label\":", stdout);
            json_str(stdout, pi->bands[i].label);
            fputs(",\"min\":", stdout);
            json_num(stdout, pi->bands[i].min);
            fputs(",\"max\":", stdout);
            json_num(stdout, pi->bands[i].max);
            fputs("}", stdout);
        }
        fputs("]}\n", stdout);
        return;
    }
    printf("%s %s  %s\n  %s\n  unit: %s   needs: %s   api_level: %d\n", pi->name, pi->version,
           pi->hash, pi->title, pi->unit[0] ? pi->unit : "-", needs, pi->api_level);
    if (pi->sdg_code[0])
        printf("  SDG %s: %s\n", pi->sdg_code, pi->sdg_name);
    if (pi->u4ssc_code[0])
        printf("  U4SSC %s: %s\n", pi->u4ssc_code, pi->u4ssc_name);
    printf("  formula: %s\n  source: %s\n", pi->formula, pi->source_def);
    for (size_t i = 0; i < pi->nparams; i++) {
        const sk_lua_param_info *p = &pi->params[i];
        if (strcmp(p->type, "string") == 0)
            printf("  param %s (string) = \"%s\"  %s\n", p->name, p->def_str, p->description);
        else
            printf("  param %s (%s) = %g in [%g, %g] %s  %s\n", p->name, p->type, p->def, p->min,
                   p->max, p->unit, p->description);
    }
    for (size_t i = 0; i < pi->nbands; i++)
        printf("  band %-10s [%g, %g]\n", pi->bands[i].label, pi->bands[i].min, pi->bands[i].max);
}

/* The arguments of `check` and `list`: one optional path, --json, --help.
 * -1 to go on, else the exit code (0 after --help, 2 on a stray argument). */
static int path_and_json(int argc, char **argv, const char *cmd, const char *help, const char **path, int *json)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(help, stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            *json = 1;
        } else if (argv[i][0] != '-' && *path == NULL) {
            *path = argv[i];
        } else {
            fprintf(stderr, "samskap plugin %s: unexpected argument '%s'\n%s", cmd, argv[i], help);
            return 2;
        }
    }
    return -1;
}

static int cmd_check(int argc, char **argv)
{
    const char *file = NULL;
    int json = 0;
    int rc = path_and_json(argc, argv, "check", check_help, &file, &json);
    if (rc >= 0)
        return rc;
    if (!file) {
        fputs(check_help, stderr);
        return 2;
    }
    sk_lua_plugin_info *pi = NULL;
    sk_lua_error le;
    memset(&le, 0, sizeof le);
    if (sk_lua_plugin_check(file, NULL, 0, NULL, &pi, &le) < 0) {
        print_lerr(&le);
        if (json)
            json_lerr(stdout, &le);
        return 1;
    }
    print_info(pi, json);
    sk_lua_plugin_info_free(pi);
    return 0;
}

/* ---- list --------------------------------------------------------------- */

static const char list_help[] =
    "usage: samskap plugin list [DIR] [--json]\n"
    "List the plugins in DIR (default $SAMSKAP_PLUGINS or ./plugins): name,\n"
    "version, needs, content hash, title.  Plugins that fail to load are listed\n"
    "with their error, on stderr.\n";

static int cmd_list(int argc, char **argv)
{
    const char *dir = NULL;
    int json = 0;
    int rc = path_and_json(argc, argv, "list", list_help, &dir, &json);
    if (rc >= 0)
        return rc;
    if (!dir)
        dir = default_dir();
    sk_lua_plugin_dir *pd = NULL;
    sk_error err = SK_ERROR_INIT;
    if (sk_lua_plugin_dir_load(dir, NULL, &pd, &err) < 0) {
        fprintf(stderr, "samskap plugin list: %s\n", err.msg);
        return 1;
    }
    int bad = 0;
    if (json)
        fputs("[", stdout);
    for (size_t i = 0; i < pd->n; i++) {
        const sk_lua_plugin_entry *e = &pd->items[i];
        if (!e->info) {
            bad++;
            print_lerr(&e->error);
            if (json) {
                fputs(i ? ",{\"file\":" : "{\"file\":", stdout);
                json_str(stdout, e->file);
                fputs(",\"error\":", stdout);
                json_str(stdout, e->error.message);
                fputs("}", stdout);
            }
            continue;
        }
        char needs[64];
        needs_text(e->info->needs, needs, sizeof needs);
        if (json) {
            fputs(i ? ",{\"file\":" : "{\"file\":", stdout);
            json_str(stdout, e->file);
            fputs(",\"name\":", stdout);
            json_str(stdout, e->info->name);
            fputs(",\"version\":", stdout);
            json_str(stdout, e->info->version);
            fputs(",\"needs\":", stdout);
            json_str(stdout, needs);
            fputs(",\"hash\":", stdout);
            json_str(stdout, e->info->hash);
            fputs(",\"title\":", stdout);
            json_str(stdout, e->info->title);
            fputs(",\"unit\":", stdout);
            json_str(stdout, e->info->unit);
            fputs("}", stdout);
        } else
            printf("%-28s %-7s %-14s %.19s  %s\n", e->info->name, e->info->version, needs,
                   e->info->hash, e->info->title);
    }
    if (json)
        fputs("]\n", stdout);
    sk_lua_plugin_dir_free(pd);
    return bad ? 1 : 0;
}

static const char main_help[] =
    "usage: samskap plugin <command> [options]   (each command has --help)\n"
    "  run PLUGIN.lua --input RESULT   run one indicator plugin on results\n"
    "  test [DIR]                      run every plugin's fixtures\n"
    "  check FILE                      validate a plugin's metadata in the sandbox\n"
    "  list [DIR]                      list the plugins in a directory\n";

static int plugin_main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(main_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "test") == 0)
        return cmd_test(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (strcmp(cmd, "list") == 0)
        return cmd_list(argc - 1, argv + 1);
    fprintf(stderr, "samskap plugin: unknown command '%s'\n%s", cmd, main_help);
    return 2;
}

/* Data on stdout is C-locale whatever LANG says (this thread only). */
int sk_cli_plugin_main(int argc, char **argv)
{
    locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    locale_t old = c ? uselocale(c) : (locale_t)0;
    int rc = plugin_main(argc, argv);
    if (c) {
        uselocale(old);
        freelocale(c);
    }
    return rc;
}
