/* main.c - samskap-node: command line. */
#include <stdio.h>

#include "node.h"
#include "sk_daemon.h"
#include "sk_log.h"
#include "sk_opts.h"
#include "sk_sim.h"

int main(int argc, char **argv)
{
    sk_node_config cfg;
    sk_daemon_args d = {0};
    int verbose = 0, quiet = 0, version = 0, list = 0;
    sk_node_config_defaults(&cfg);
    const sk_opt opts[] = {
        {"broker", SK_OPT_STR, &cfg.broker, 0, 0, "the broker's backend endpoint"},
        {"jobs", SK_OPT_INT, &cfg.jobs, 1, 256, "jobs run at once (worker threads)"},
        {"name", SK_OPT_STR, &cfg.name, 0, 0, "node name in logs and `samskap services` (default host-pid)"},
        {"tenants", SK_OPT_STR, &cfg.tenants, 0, 0, "comma list of tenants served, * for all"},
        {"services", SK_OPT_STR, &cfg.services, 0, 0, "comma list of services to offer (default all built-in)"},
        {"heartbeat-ms", SK_OPT_INT, &cfg.heartbeat_ms, 10, 600000, "heartbeat interval to the broker"},
        {"liveness", SK_OPT_INT, &cfg.liveness, 2, 1000, "silent heartbeat intervals before re-announcing"},
        {"progress-ms", SK_OPT_INT, &cfg.progress_ms, 0, 60000, "minimum gap between progress messages per job"},
        {"curve-key", SK_OPT_STR, &cfg.curve_key, 0, 0, "this node's key pair file (samskap keygen); turns on CURVE"},
        {"server-key", SK_OPT_STR, &cfg.server_key, 0, 0, "the broker's public key file (with --curve-key)"},
        {"plugins", SK_OPT_STR, &cfg.plugins, 0, 0, "directory of indicator plugins, offered as indicator.<name>"},
        {"plugin-reload-ms", SK_OPT_INT, &cfg.plugin_reload_ms, 0, 3600000,
         "how often to look for edited plugins and swap them in (0: never)"},
        {"cache-dir", SK_OPT_STR, &cfg.cache_dir, 0, 0,
         "directory for datasets fetched from the broker (default $TMPDIR/samskap-node-NAME.cache)"},
        {"cache-max-bytes", SK_OPT_INT, &cfg.cache_max_bytes, 0, (int64_t)1 << 50,
         "dataset cache budget; least recently used datasets not in use are evicted beyond it"},
        {"max-frame", SK_OPT_INT, &cfg.max_frame, 1024, (int64_t)1 << 31,
         "largest result in bytes, as the broker's --max-frame: a bigger one fails its job with a clear reason"},
        {"list-services", SK_OPT_CLI_FLAG, &list, 0, 0, "print the built-in services and exit"},
        {"verbose", SK_OPT_FLAG, &verbose, 0, 0, "log every job event"},
        {"quiet", SK_OPT_FLAG, &quiet, 0, 0, "log warnings and errors only"},
        {"version", SK_OPT_CLI_FLAG, &version, 0, 0, "print the version and exit"},
        SK_DAEMON_OPTS(&d),
        {NULL, 0, NULL, 0, 0, NULL},
    };
    int rc = sk_daemon_args_parse(&d, opts, argc, argv, "samskap-node", "samskap-node [options]",
                                  "Runs samskap jobs (simulation kernels, indicator plugins, diagnostics) for a broker.");
    if (rc != 0) {
        sk_daemon_args_free(&d);
        return rc > 0 ? 0 : 2;
    }
    cfg.http = d.http;
    if (version) {
        printf("samskap-node %s\n", SAMSKAP_VERSION);
        return 0;
    }
    if (list) {
        for (const sk_service_def *const *s = sk_sim_services; *s != NULL; s++)
            printf("%-16s %s\n", (*s)->name, (*s)->summary);
        return 0;
    }
    sk_log_init("node", verbose ? SK_LOG_DEBUG : quiet ? SK_LOG_WARN : SK_LOG_INFO);
    rc = sk_node_run(&cfg);
    sk_daemon_args_free(&d);
    return rc;
}
