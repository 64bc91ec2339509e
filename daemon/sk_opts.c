/* sk_opts.c - table-driven option parsing (see sk_opts.h). */
#include "sk_opts.h"

#include <inttypes.h>
#include <string.h>

#include "sk_num.h"

void sk_opts_help(const sk_opt *opts, FILE *out, const char *usage, const char *about)
{
    fprintf(out, "usage: %s\n\n%s\n\noptions:\n", usage, about);
    for (const sk_opt *o = opts; o->name != NULL; o++) {
        char left[64];
        if (SK_OPT_IS_FLAG(o))
            snprintf(left, sizeof left, "--%s", o->name);
        else
            snprintf(left, sizeof left, "--%s %s", o->name, o->type == SK_OPT_INT ? "N" : "VALUE");
        fprintf(out, "  %-28s %s", left, o->help);
        if (o->type == SK_OPT_INT)
            fprintf(out, " (default %" PRId64 ", range %" PRId64 "..%" PRId64 ")", *(int64_t *)o->target, o->min,
                    o->max);
        else if (SK_OPT_IS_STR(o) && *(const char **)o->target != NULL)
            fprintf(out, " (default %s)", *(const char **)o->target);
        fputc('\n', out);
    }
    fprintf(out, "  %-28s %s\n", "--help", "show this help");
}

int sk_opts_parse(const sk_opt *opts, int argc, char **argv, const char *usage, const char *about)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            sk_opts_help(opts, stdout, usage, about);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", argv[0], arg);
            return -1;
        }
        const char *name = arg + 2, *val = NULL;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const sk_opt *o = opts;
        for (; o->name != NULL; o++)
            if (strlen(o->name) == nlen && strncmp(o->name, name, nlen) == 0)
                break;
        if (o->name == NULL) {
            fprintf(stderr, "%s: unknown option '%s' (see --help)\n", argv[0], arg);
            return -1;
        }
        if (SK_OPT_IS_FLAG(o)) {
            if (eq != NULL) {
                fprintf(stderr, "%s: option --%s takes no value\n", argv[0], o->name);
                return -1;
            }
            *(int *)o->target = 1;
            continue;
        }
        if (eq != NULL) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            fprintf(stderr, "%s: option --%s needs a value\n", argv[0], o->name);
            return -1;
        }
        if (SK_OPT_IS_STR(o)) {
            *(const char **)o->target = val;
        } else {
            int64_t v;
            if (sk_parse_i64(val, &v) < 0 || v < o->min || v > o->max) {
                fprintf(stderr, "%s: option --%s: '%s' is not an integer in %" PRId64 "..%" PRId64 "\n", argv[0],
                        o->name, val, o->min, o->max);
                return -1;
            }
            *(int64_t *)o->target = v;
        }
    }
    return 0;
}
