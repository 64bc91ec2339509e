/* broker.h - the samskap broker: routes jobs from clients to worker nodes.
 *
 * One libuv loop in one thread owns everything: two ROUTER sockets
 * (frontend for clients, backend for nodes), per-service queues, the job
 * table and the node table.  It decodes headers only; bodies are moved
 * between sockets as zmq_msg_t. */
#ifndef SK_BROKER_H
#define SK_BROKER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct sk_broker_config {
    const char *frontend;
    const char *backend;
    int64_t heartbeat_ms;        /* interval both ways */
    int64_t liveness;            /* missed intervals before a node is dead */
    int64_t max_attempts;        /* dispatches per job before it fails */
    int64_t max_queue;           /* queued jobs per service */
    int64_t max_queued_bytes;    /* bodies held for queued jobs, all services */
    int64_t max_frame;           /* ZMQ_MAXMSGSIZE and per-body limit */
    int64_t no_service_wait_ms;  /* how long a job waits for a node offering its service */
    int64_t result_ttl_s;        /* finished jobs kept for `samskap wait` */
    int64_t result_keep;         /* at most this many finished jobs kept */
    int64_t result_bytes;        /* at most this many bytes of results kept */
    int log_level;
    const char *curve_secret;    /* broker key pair file: enables CURVE + ZAP */
    const char *access;          /* access list: keys -> role, tenants, services */
    int insecure;                /* no keys; allowed on loopback/ipc only */
    const char *data_dir;        /* journal + blobs: accepted jobs survive kill -9 */
    const char *http;            /* ADDRESS:PORT for /metrics, /healthz, /readyz, or NULL */
    const char *events;          /* XPUB endpoint for job events, or NULL */
    const char *region;          /* region configuration (municipalities, merged regions) */
    int64_t dataset_ttl_s;       /* stored datasets unused this long are deleted (0: kept) */
    int64_t dataset_bytes;       /* stored datasets beyond this many bytes are deleted, least recently used first (0: no limit) */
} sk_broker_config;

/* Is this endpoint local to the machine (loopback TCP, ipc, inproc)? */
int sk_endpoint_is_local(const char *endpoint);

void sk_broker_config_defaults(sk_broker_config *c);
/* Runs until SIGINT/SIGTERM; returns the process exit code. */
int sk_broker_run(const sk_broker_config *c);

#endif
