/* node.h - samskap-node: runs jobs for the broker on worker threads.
 *
 * The loop thread owns the one DEALER socket and does all ZeroMQ I/O;
 * worker threads run services and hand progress and outcomes back through a
 * locked queue that a uv_async wakes.  Each job has an atomic cancel flag
 * that the loop sets on CANCEL or when the job's deadline passes. */
#ifndef SK_NODE_H
#define SK_NODE_H

#include <stdint.h>

typedef struct sk_node_config {
    const char *broker;
    const char *name;
    const char *tenants;     /* comma list, "*" for all */
    const char *services;    /* comma list filter, NULL for every built-in */
    int64_t jobs;            /* worker threads = capacity */
    int64_t heartbeat_ms;
    int64_t liveness;
    int64_t progress_ms;     /* minimum gap between progress messages per job */
    const char *plugins;     /* directory of indicator plugins, or NULL */
    const char *curve_key;   /* this node's key pair file (CURVE), or NULL */
    const char *server_key;  /* the broker's public key file */
    const char *http;        /* ADDRESS:PORT for /metrics, /healthz, /readyz, or NULL */
    int64_t plugin_reload_ms;/* how often to look for changed plugins (0: never) */
    const char *cache_dir;   /* fetched datasets; NULL: $TMPDIR/samskap-node-NAME.cache */
    int64_t cache_max_bytes; /* least recently used datasets are evicted beyond this */
    int64_t max_frame;       /* largest result frame the broker takes (its --max-frame) */
    int log_level;
} sk_node_config;

void sk_node_config_defaults(sk_node_config *c);
int sk_node_run(const sk_node_config *c);

#endif
