/* sk_graph.h - a job graph in one message (docs/protocol.md, "Job graphs").
 *
 * A `graph` message carries one body: a msgpack array of submit headers,
 * each packed as a bin holding exactly what a `submit` header frame would
 * hold (so the one bounded, fuzzed header decoder reads them).  A node's
 * dependency may name an earlier node of the same graph as "@K=INPUT"
 * (K: its 0-based index) instead of a job id.  Nodes carry no bodies:
 * their inputs are stored datasets and the results of their dependencies.
 * The broker checks the whole graph before it creates any job, and answers
 * with the job ids in node order. */
#ifndef SK_GRAPH_H
#define SK_GRAPH_H

#include <stddef.h>

#include "sk_error.h"
#include "sk_proto.h"

#define SK_GRAPH_MAX_NODES 4096
#define SK_GRAPH_MAX_NODE_BYTES (64 * 1024)
/* A graph's idempotency key: each job's key is "KEY#INDEX", which must
 * fit an idempotency key (127 bytes) and stay distinct. */
#define SK_GRAPH_IDEM_MAX 100

/* nodes[i] are submit headers (type, service, tenant, params, deps,
 * datasets, deadline_ms); *out malloc'ed. */
int sk_graph_encode(const sk_header *nodes, size_t n, char **out, size_t *len, sk_error *err);
/* Bounded: at most SK_GRAPH_MAX_NODES nodes of at most
 * SK_GRAPH_MAX_NODE_BYTES each; every node must decode as a submit without
 * bodies, and every "@K" dependency must name an earlier node.  *nodes is
 * malloc'ed; free with sk_graph_free. */
int sk_graph_decode(const void *data, size_t len, sk_header **nodes, size_t *n, sk_error *err);
void sk_graph_free(sk_header *nodes, size_t n);

/* "@K=INPUT" -> K (and 1), a job id -> 0, malformed "@..." -> -1. */
int sk_graph_dep_index(const char *dep, size_t *k);

#endif
