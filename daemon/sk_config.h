/* sk_config.h - daemon config files: a Lua table, read as data only.
 *
 * Operators write the same language as plugins and scenarios:
 *
 *     -- /etc/samskap/broker.lua
 *     frontend = "tcp://0.0.0.0:5570"
 *     heartbeat_ms = 1000
 *     insecure = false
 *
 * or the same as `return { frontend = "...", heartbeat_ms = 1000 }`.  The
 * broker must never run Lua, so this is a small parser for a data subset:
 * strings ("..." and '...' with Lua escapes, [[long]] strings), integers
 * and floats (decimal or hex, optional unary minus), true/false/nil, tables
 * as lists { "a", "b" } or records { k = v, ["k-2"] = v } nested up to 32
 * deep, `--` and `--[[ ]]` comments.  Anything else (a variable, a call, an
 * operator, a keyword such as `function`) is a syntax error naming
 * file:line; nothing is ever executed.
 *
 * The option table (sk_opts.h) is the schema.  A top-level key is an option
 * name with '-' spelled '_' (heartbeat_ms for --heartbeat-ms; the dashed
 * spelling works as ["heartbeat-ms"]).  INT options take integers (or
 * floats with an integral value) in their range, FLAG options take
 * booleans, STR options take a string or a list of strings (joined with
 * ',', for comma lists such as tenants); nil leaves the default.  Unknown
 * keys, command-line-only options (SK_OPT_CLI_*), wrong types and values
 * out of range are errors "FILE:LINE: key 'k': reason".
 *
 * Precedence: defaults < config file < command-line flags.  Strings set
 * from the file point into the sk_config, which must outlive their use. */
#ifndef SK_CONFIG_H
#define SK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sk_buf.h"
#include "sk_error.h"
#include "sk_opts.h"

typedef enum { SK_CVAL_NIL, SK_CVAL_BOOL, SK_CVAL_INT, SK_CVAL_NUM, SK_CVAL_STR, SK_CVAL_TABLE } sk_cval_type;

typedef struct sk_cval sk_cval;
typedef struct sk_centry sk_centry;

/* One parsed value; tables keep their entries in file order. */
struct sk_cval {
    sk_cval_type type;
    int line;               /* where the value starts */
    bool b;
    int64_t i;
    double d;
    char *s;                /* NUL-terminated; embedded NULs are refused */
    size_t slen;
    sk_centry *items;       /* table entries */
    size_t n, cap;
};

struct sk_centry {
    char *key;              /* NULL for a list element */
    int line;
    sk_cval val;
};

typedef struct sk_config sk_config;

/* Parse text (len bytes) into a table of top-level keys; filename names
 * the file in errors. */
int sk_config_parse(const char *text, size_t len, const char *filename, sk_config **out, sk_error *err);
/* Read and parse a file (at most 1 MiB). */
int sk_config_read(const char *path, sk_config **out, sk_error *err);
void sk_config_free(sk_config *c);

const char *sk_config_filename(const sk_config *c);
/* The top-level table. */
const sk_cval *sk_config_root(const sk_config *c);
/* Entry of a record by key, or NULL. */
const sk_cval *sk_cval_get(const sk_cval *table, const char *key);
const char *sk_cval_type_name(sk_cval_type t);

/* Set the targets of opts (a {NULL}-terminated table) from c's top-level
 * keys, validating as described above.  The first error wins. */
int sk_config_apply(sk_config *c, const sk_opt *opts, sk_error *err);

/* For a daemon's main, before sk_opts_parse(argv) so that flags override
 * the file: find `--config FILE` (or --config=FILE; the option named
 * "config" in opts, normally SK_OPT_CLI_STR) in argv, read and apply the
 * file.  *out is NULL when no config was given or --help is in argv.
 * Returns 0 or a negative code with err naming file:line and key. */
int sk_config_load_args(const sk_opt *opts, int argc, char **argv, sk_config **out, sk_error *err);

/* --print-config: the effective values of every configuration option (not
 * the SK_OPT_CLI_* ones) as a Lua table that sk_config_parse reads back,
 * each preceded by its help line.  title goes into the first comment. */
int sk_config_render(const sk_opt *opts, const char *title, sk_buf *out);

/* docs/operations.md: a Markdown table of every option (flag, config key,
 * type, default, range, help), from the values the targets hold now, so
 * call it before parsing anything. */
int sk_config_markdown(const sk_opt *opts, sk_buf *out);

#endif
