/* main.c - samskap-broker: command line. */
#include <stdio.h>
#include <string.h>

#include "backup.h"
#include "broker.h"
#include "sk_daemon.h"
#include "sk_log.h"
#include "sk_opts.h"

int main(int argc, char **argv)
{
    sk_broker_config cfg;
    sk_daemon_args d = {0};
    int verbose = 0, quiet = 0, version = 0;
    const char *backup = NULL;
    sk_broker_config_defaults(&cfg);
    const sk_opt opts[] = {
        {"frontend", SK_OPT_STR, &cfg.frontend, 0, 0, "endpoint for clients (tcp://HOST:PORT or ipc://PATH)"},
        {"backend", SK_OPT_STR, &cfg.backend, 0, 0, "endpoint for worker nodes"},
        {"heartbeat-ms", SK_OPT_INT, &cfg.heartbeat_ms, 10, 600000, "heartbeat interval to nodes"},
        {"liveness", SK_OPT_INT, &cfg.liveness, 2, 1000, "missed heartbeat intervals before a node is dead"},
        {"max-attempts", SK_OPT_INT, &cfg.max_attempts, 1, 100, "dispatches per job before it fails"},
        {"max-queue", SK_OPT_INT, &cfg.max_queue, 1, 100000000, "queued jobs per service before submits are refused"},
        {"max-queued-bytes", SK_OPT_INT, &cfg.max_queued_bytes, 1024, (int64_t)1 << 40,
         "bytes of queued job inputs before submits are refused"},
        {"max-frame", SK_OPT_INT, &cfg.max_frame, 1024, (int64_t)1 << 31, "largest body frame in bytes"},
        {"no-service-wait-ms", SK_OPT_INT, &cfg.no_service_wait_ms, 0, 86400000,
         "how long a job waits for a node that offers its service before it fails"},
        {"result-ttl", SK_OPT_INT, &cfg.result_ttl_s, 1, 30 * 86400, "seconds a finished job is kept for `samskap wait`"},
        {"result-keep", SK_OPT_INT, &cfg.result_keep, 0, 100000000, "finished jobs kept for `samskap wait`, at most"},
        {"result-bytes", SK_OPT_INT, &cfg.result_bytes, 0, (int64_t)1 << 40, "bytes of kept results, at most"},
        {"curve-secret", SK_OPT_STR, &cfg.curve_secret, 0, 0,
         "the broker's key pair file (samskap keygen): turns on CurveZMQ on both endpoints"},
        {"access", SK_OPT_STR, &cfg.access, 0, 0, "access list: which keys may connect, as what, for which tenants"},
        {"data-dir", SK_OPT_STR, &cfg.data_dir, 0, 0,
         "journal (SQLite) and stored inputs/results: accepted jobs survive a crash (default: not durable)"},
        {"dataset-ttl", SK_OPT_INT, &cfg.dataset_ttl_s, 0, (int64_t)100 * 365 * 86400,
         "seconds a stored dataset may go unused before it is deleted (0: kept; needs --data-dir)"},
        {"dataset-bytes", SK_OPT_INT, &cfg.dataset_bytes, 0, (int64_t)1 << 50,
         "bytes of stored datasets kept, least recently used deleted first (0: no limit)"},
        {"region", SK_OPT_STR, &cfg.region, 0, 0,
         "region configuration: municipalities and merged regions with members' periods (deploy/region.lua)"},
        {"events", SK_OPT_STR, &cfg.events, 0, 0,
         "XPUB endpoint publishing job events (samskap watch); subscriptions are checked against tenants"},
        {"backup", SK_OPT_CLI_STR, &backup, 0, 0,
         "copy --data-dir (journal snapshot, its blobs and result datasets) to this new directory while a broker serves, then exit"},
        {"insecure", SK_OPT_FLAG, &cfg.insecure, 0, 0, "run without keys (loopback and ipc endpoints only)"},
        {"verbose", SK_OPT_FLAG, &verbose, 0, 0, "log every job event"},
        {"quiet", SK_OPT_FLAG, &quiet, 0, 0, "log warnings and errors only"},
        {"version", SK_OPT_CLI_FLAG, &version, 0, 0, "print the version and exit"},
        SK_DAEMON_OPTS(&d),
        {NULL, 0, NULL, 0, 0, NULL},
    };
    int rc = sk_daemon_args_parse(&d, opts, argc, argv, "samskap-broker", "samskap-broker [options]",
                                  "Routes samskap jobs from clients to worker nodes over ZeroMQ.");
    if (rc != 0) {
        sk_daemon_args_free(&d);
        return rc > 0 ? 0 : 2;
    }
    if (version) {
        printf("samskap-broker %s\n", SAMSKAP_VERSION);
        sk_daemon_args_free(&d);
        return 0;
    }
    if (backup != NULL) {
        sk_error err = SK_ERROR_INIT;
        size_t nblobs = 0;
        if (cfg.data_dir == NULL) {
            fprintf(stderr, "samskap-broker: --backup needs --data-dir (the directory to copy)\n");
            rc = 2;
        } else if (sk_broker_backup(cfg.data_dir, backup, &nblobs, &err) < 0) {
            fprintf(stderr, "samskap-broker: %s\n", err.msg);
            rc = 1;
        } else {
            printf("backup of %s written to %s (journal and %zu files)\n", cfg.data_dir, backup, nblobs);
            rc = 0;
        }
        sk_daemon_args_free(&d);
        return rc;
    }
    sk_log_init("broker", verbose ? SK_LOG_DEBUG : quiet ? SK_LOG_WARN : SK_LOG_INFO);
    cfg.http = d.http;
    rc = sk_broker_run(&cfg);
    sk_daemon_args_free(&d);
    return rc;
}
