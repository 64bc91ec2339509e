/* harness.h - integration tests drive real samskap-broker and samskap-node
 * processes on loopback, like Neovim's functional tests drive nvim.
 *
 * Every process a test starts is killed when the test exits (normally, on
 * a failed check, or on its alarm), so one test cannot leak into another. */
#ifndef SK_HARNESS_H
#define SK_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "sk_client.h"

typedef struct sk_cluster {
    int front_port, back_port;
    char front[64], back[64];
    pid_t broker;
    pid_t nodes[8];
    int nnodes;
    char logdir[128];
    const char *broker_args;  /* extra args, space separated */
} sk_cluster;

/* Exit the test after `seconds` (SIGALRM), killing children. */
void h_init(const char *name, int seconds);
void h_cluster_init(sk_cluster *c);
pid_t h_start_broker(sk_cluster *c, const char *extra);
pid_t h_start_node(sk_cluster *c, const char *name, int jobs, const char *extra);
void h_kill(pid_t pid, int sig);
/* Wait until `samskap services` shows n nodes (or fail the test). */
void h_wait_nodes(sk_cluster *c, int n, int timeout_ms);
/* Status JSON from the broker (malloc'ed) or NULL. */
char *h_status(sk_cluster *c);
/* Counter value from the status JSON (or -1). */
long h_counter(const char *status_json, const char *name);
/* Run `samskap ARGS...` with the cluster's broker; returns exit code and
 * captures stdout into out (if not NULL). */
int h_cli(sk_cluster *c, char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
const char *h_bin(const char *name);
/* A TCP port on 127.0.0.1 that is free now. */
int h_free_port(void);
long h_now_ms(void);

#endif
