/* sk_opts.h - command-line options declared once, in one table.
 *
 * Each daemon lists its options as a static table (name, type, target,
 * range, help); the same table parses argv, validates ranges and prints
 * --help, so what a daemon accepts is read in one place. */
#ifndef SK_OPTS_H
#define SK_OPTS_H

#include <stdint.h>
#include <stdio.h>

/* SK_OPT_CLI_STR and SK_OPT_CLI_FLAG parse like STR and FLAG but are
 * command-line actions, not configuration (--config FILE, --print-config,
 * --version): a config file may not set them, --print-config leaves them
 * out and the docs table (sk_config.h) marks them "command line only". */
typedef enum { SK_OPT_STR, SK_OPT_INT, SK_OPT_FLAG, SK_OPT_CLI_STR, SK_OPT_CLI_FLAG } sk_opt_type;

#define SK_OPT_IS_FLAG(o) ((o)->type == SK_OPT_FLAG || (o)->type == SK_OPT_CLI_FLAG)
#define SK_OPT_IS_STR(o) ((o)->type == SK_OPT_STR || (o)->type == SK_OPT_CLI_STR)

typedef struct sk_opt {
    const char *name;       /* without the leading "--" */
    sk_opt_type type;
    void *target;           /* const char ** (STR), int64_t * (INT), or int * (FLAG) */
    int64_t min, max;       /* SK_OPT_INT only */
    const char *help;
} sk_opt;

/* Parse argv against opts (terminated by a {NULL} entry).  Returns 0, 1 when
 * --help was printed, or -1 after printing an error naming the option. */
int sk_opts_parse(const sk_opt *opts, int argc, char **argv, const char *usage, const char *about);
void sk_opts_help(const sk_opt *opts, FILE *out, const char *usage, const char *about);

#endif
