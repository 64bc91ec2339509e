/* sk_daemon.c - shared start-up of the daemons (see sk_daemon.h). */
#include "sk_daemon.h"

#include <stdio.h>
#include <string.h>

#include "sk_buf.h"

int sk_daemon_args_parse(sk_daemon_args *d, const sk_opt *opts, int argc, char **argv, const char *name,
                         const char *usage, const char *about)
{
    sk_error err = SK_ERROR_INIT;
    /* The Markdown table shows defaults: render it before anything is read. */
    for (int i = 1; i < argc; i++) {
        if (argc == 2 && strcmp(argv[i], "--options-markdown") == 0) {
            sk_buf b = SK_BUF_INIT;
            sk_config_markdown(opts, &b);
            fputs(b.data ? b.data : "", stdout);
            sk_buf_free(&b);
            return 1;
        }
    }
    if (sk_config_load_args(opts, argc, argv, &d->conf, &err) < 0) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        return -1;
    }
    int rc = sk_opts_parse(opts, argc, argv, usage, about);
    if (rc != 0)
        return rc > 0 ? 1 : -1;
    if (d->print) {
        sk_buf b = SK_BUF_INIT;
        sk_config_render(opts, name, &b);
        fputs(b.data ? b.data : "", stdout);
        sk_buf_free(&b);
        return 1;
    }
    if (d->check) {
        if (d->config)
            printf("%s: configuration ok (%s)\n", name, d->config);
        else
            printf("%s: configuration ok\n", name);
        return 1;
    }
    if (d->markdown) {
        fprintf(stderr, "%s: --options-markdown takes no other options\n", name);
        return -1;
    }
    return 0;
}

void sk_daemon_args_free(sk_daemon_args *d)
{
    sk_config_free(d->conf);
    d->conf = NULL;
}
