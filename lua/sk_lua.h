/* sk_lua.h - the sandboxed Lua 5.4 indicator-plugin host (docs/plugins.md).
 *
 * An indicator plugin is a Lua file that returns a table: metadata (name,
 * title, unit, SDG/U4SSC code, needs, params, bands) and a function
 * compute(results, params, ctx).  The host runs it in a fresh lua_State per
 * job, with an allow-listed environment, a CPU deadline that pcall cannot
 * swallow, and a capped allocator.  Results reach Lua as C-backed column
 * objects over sk_column (no copying).
 *
 * Two ways to run a plugin:
 *   sk_lua_run()          in the calling process (CLI, tests);
 *   sk_lua_run_isolated() in a `samskap-plugin-worker` child process with
 *                         rlimits and a watchdog that SIGKILLs it when it
 *                         overruns its deadline by a margin (the node).
 * Both are thread-safe: no globals, no fork (posix_spawn only). */
#ifndef SK_LUA_H
#define SK_LUA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sk_error.h"
#include "sk_params.h"
#include "sk_result.h"

/* What the host offers plugins; a plugin declares `api_level = N` and is
 * refused when N > SK_LUA_API_LEVEL. */
#define SK_LUA_API_LEVEL 1
#define SK_LUA_WORKER_NAME "samskap-plugin-worker"

typedef struct sk_lua_limits {
    double deadline_s;     /* load + compute budget; 0 -> plugin's own or 5 s */
    double close_s;        /* budget for __gc/__close at lua_close; 0 -> 0.5 s */
    size_t mem_bytes;      /* allocator cap; 0 -> 256 MiB */
    double kill_margin_s;  /* isolated: SIGKILL this long after the deadline; 0 -> 2 s */
    long oom_after;        /* tests: fail the Nth growing allocation (0 = never) */
} sk_lua_limits;

/* Structured plugin error.  kind is one of: "load" (syntax, file), "metadata",
 * "params", "input" (missing or non-converged results), "runtime" (an error
 * raised by the plugin), "output" (bad return value), "timeout", "memory",
 * "killed" (the isolated worker was killed or crashed), "host". */
typedef struct sk_lua_error {
    int code;              /* SK_E* (sk_error.h) */
    char kind[16];
    char plugin[128];      /* plugin name, or file name when the name is unknown */
    char where[256];       /* "water_velocity.lua:42" when known */
    char message[1024];
    char traceback[2048];
} sk_lua_error;

/* One line for a user: "plugin X: kind: where: message". */
void sk_lua_error_to_sk(const sk_lua_error *le, sk_error *err);

enum { SK_LUA_NEEDS_WATER = 1, SK_LUA_NEEDS_POWER = 2, SK_LUA_NEEDS_TRAFFIC = 4 };

typedef struct sk_lua_param_info {
    char *name, *type, *unit, *description;  /* type: "number", "integer", "boolean", "string" */
    double def, min, max;                    /* numbers; min/max +-INF when open */
    char *def_str;                           /* string params */
} sk_lua_param_info;

typedef struct sk_lua_band_info {
    char *label;
    double min, max;       /* inclusive; -INF/+INF when open */
} sk_lua_band_info;

/* A plugin's metadata plus the exact source it was read from, so a job runs
 * the bytes whose hash was advertised (hot reload swaps whole infos). */
typedef struct sk_lua_plugin_info {
    char *path;            /* as given */
    char *name, *version, *title, *description, *unit, *formula, *source_def;
    char *sdg_code, *sdg_name, *u4ssc_code, *u4ssc_name;   /* "" when absent */
    unsigned needs;        /* SK_LUA_NEEDS_* */
    int api_level;
    double deadline_s;     /* plugin's own budget (0 = host default) */
    char hash[72];         /* "sha256:<hex>" of the source bytes */
    size_t nparams;
    sk_lua_param_info *params;
    size_t nbands;
    sk_lua_band_info *bands;
    char *source;          /* NUL-terminated */
    size_t source_len;
} sk_lua_plugin_info;

/* Load and validate a plugin from a file (src NULL) or from a buffer. */
int sk_lua_plugin_check(const char *path, const char *src, size_t len,
                        const sk_lua_limits *lim, sk_lua_plugin_info **out,
                        sk_lua_error *err);
void sk_lua_plugin_info_free(sk_lua_plugin_info *pi);

/* Every *.lua directly in dir (sorted by file name).  A plugin that fails to
 * load is listed with info NULL and its error, and the others still load. */
typedef struct sk_lua_plugin_entry {
    char *file;
    sk_lua_plugin_info *info;  /* NULL when it failed to load */
    sk_lua_error error;
} sk_lua_plugin_entry;

typedef struct sk_lua_plugin_dir {
    size_t n;
    sk_lua_plugin_entry *items;
} sk_lua_plugin_dir;

int sk_lua_plugin_dir_load(const char *dir, const sk_lua_limits *lim,
                           sk_lua_plugin_dir **out, sk_error *err);
void sk_lua_plugin_dir_free(sk_lua_plugin_dir *d);
const sk_lua_plugin_info *sk_lua_plugin_dir_find(const sk_lua_plugin_dir *d, const char *name);

/* A job: one plugin over the results it needs.  results are keyed by their
 * kernel ("water", "power", "traffic"; "sim.water" also matches "water"). */
typedef struct sk_lua_job {
    const sk_lua_plugin_info *plugin;  /* or NULL and plugin_path */
    const char *plugin_path;
    const sk_result *const *results;
    size_t nresults;
    const sk_params *params;           /* may be NULL */
    const sk_result *areas;            /* may be NULL; see sk_lua_areas_* */
    sk_lua_limits limits;
    bool allow_nonconverged;           /* else non-converged input is refused */
    const char *worker_path;           /* isolated; NULL -> env or next to the binary */
} sk_lua_job;

/* Output: an sk_result with kernel "indicator.<name>" and
 *   meta: plugin, plugin_version, plugin_hash, api_level, value, unit, band,
 *         sdg_code, u4ssc_code, inputs_converged, warnings, log, elapsed_s
 *   table "areas" (kind "area", ids = area codes): value, band, name, population
 *   table "detail" (optional, kind and ids of the element table it covers): value
 * Returns 0 or a negative SK_E* code with *err filled. */
int sk_lua_run(const sk_lua_job *job, sk_result **out, sk_lua_error *err);
int sk_lua_run_isolated(const sk_lua_job *job, sk_result **out, sk_lua_error *err);

/* Areas sidecar as an sk_result (kernel "areas"):
 *   table "areas": ids = area codes; columns name (str), population (f64)
 *   table "area_map": columns kind, element, area (str).  kind is an element
 *   kind ("node", "link", "bus") or "<kernel>.<kind>" ("traffic.link").
 * File format (CSV, '#' comments):   area,<code>,<name>,<population>
 *                                    map,<kind>,<element id>,<area code>  */
sk_result *sk_lua_areas_read(const char *path, sk_error *err);
sk_result *sk_lua_areas_parse(const char *text, size_t len, const char *name, sk_error *err);

/* Run a chunk in the sandbox and discard its results (tests, `plugin check`
 * of helper files).  Same limits and error kinds as a plugin run. */
int sk_lua_exec(const char *chunkname, const char *src, size_t len,
                const sk_lua_limits *lim, sk_lua_error *err);

/* Evaluate a declarative Lua file (a scenario) in the sandbox, with the
 * limits of a plugin run, and write the table it returns to `out` as text
 * in the data-only subset that sk_config_parse reads (records with sorted
 * keys, lists in order).  Values must be strings, finite numbers, booleans
 * or tables; a function, a mixed list/record or a cycle is an "output"
 * error naming the key path.  Returns 0 or an SK_E* code with err set. */
struct sk_buf;
int sk_lua_eval_data(const char *chunkname, const char *src, size_t len, const sk_lua_limits *lim,
                     struct sk_buf *out, sk_lua_error *err);

/* Fixture files (plugins/fixtures/<plugin>.lua, docs/plugins.md): a data-only
 * Lua table with results, areas and cases.  sk_lua_fixture_test runs every
 * case; report lines go to `report` (may be NULL).  Returns the number of
 * failed cases, or a negative code when the fixture itself is broken. */
typedef void (*sk_lua_report_fn)(void *ud, bool pass, const char *plugin,
                                 const char *case_name, const char *detail);
int sk_lua_fixture_test(const sk_lua_plugin_info *plugin, const char *fixture_path,
                        bool isolated, const char *worker_path,
                        sk_lua_report_fn report, void *ud, int *ncases, sk_error *err);

/* SHA-256 of a buffer as "sha256:<64 hex>" (out >= 72 bytes). */
void sk_lua_hash(const void *data, size_t len, char *out);

#endif
