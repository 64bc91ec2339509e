/* sk_daemon.h - what every samskap daemon's main does the same way:
 * options from a config file (a Lua table, read as data) overridden by
 * flags, --check-config, --print-config and --options-markdown. */
#ifndef SK_DAEMON_H
#define SK_DAEMON_H

#include "sk_config.h"
#include "sk_opts.h"

typedef struct sk_daemon_args {
    const char *config;
    const char *http;        /* ADDRESS:PORT for /metrics, /healthz, /readyz */
    int check, print, markdown;
    sk_config *conf;         /* owns strings that came from the file */
} sk_daemon_args;

/* Rows to put at the end of a daemon's option table (before {NULL}). */
#define SK_DAEMON_OPTS(d)                                                                                  \
    {"http", SK_OPT_STR, &(d)->http, 0, 0, "serve /metrics, /healthz and /readyz on ADDRESS:PORT"},         \
    {"config", SK_OPT_CLI_STR, &(d)->config, 0, 0, "config file (a Lua table of these options); flags override it"}, \
    {"check-config", SK_OPT_CLI_FLAG, &(d)->check, 0, 0, "validate the configuration and exit"},            \
    {"print-config", SK_OPT_CLI_FLAG, &(d)->print, 0, 0, "print the effective configuration and exit"},      \
    {"options-markdown", SK_OPT_CLI_FLAG, &(d)->markdown, 0, 0, "print the options as a Markdown table and exit"}

/* Returns 0 to run, 1 when the process should exit 0 (help, check, print),
 * -1 when it should exit 2 (the error is printed). */
int sk_daemon_args_parse(sk_daemon_args *d, const sk_opt *opts, int argc, char **argv, const char *name,
                         const char *usage, const char *about);
void sk_daemon_args_free(sk_daemon_args *d);

#endif
