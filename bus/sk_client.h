/* sk_client.h - the client side of the bus, for the CLI, pipelines and
 * benchmarks.  Blocking, single-threaded, one DEALER socket.
 *
 * Results and failures are de-duplicated by job id: a job's outcome is
 * handed to the caller once, even if the broker sends it again (after a
 * retry, a `wait`, or a broker restart). */
#ifndef SK_CLIENT_H
#define SK_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sk_error.h"
#include "sk_map.h"
#include "sk_params.h"
#include "sk_proto.h"

typedef struct sk_client {
    void *ctx, *sock;
    bool own_ctx;
    char endpoint[256];
    char id[SK_ID_MAX];
    int64_t next_req;
    int64_t max_frame;
    sk_map seen;           /* job ids whose outcome was delivered ... */
    char **seen_ring;      /* ... the last SK_CLIENT_SEEN of them, oldest first */
    size_t seen_pos;
    sk_wire_reader rd;     /* the broker sends outcomes in batches */
    bool batching;         /* sk_client_set_batching */
    sk_wire_batch out;     /* submits not yet sent */
} sk_client;

/* De-duplication window: outcomes of this many most recent jobs. */
#define SK_CLIENT_SEEN 65536

typedef struct sk_submit {
    const char *service;
    const char *tenant;
    const char *idem;      /* may be NULL */
    const sk_params *params;
    int64_t timeout_ms;    /* deadline for the job; 0 = none */
    bool no_ack;
    size_t ndatasets;          /* inputs from stored datasets: "INPUT=sha256:HEX" */
    const char *datasets[SK_MAX_BODIES];
    size_t ndeps;              /* results of other jobs this one needs: "JOB=INPUT" */
    const char *deps[SK_MAX_BODIES];
    size_t ninputs;
    const char *input_names[SK_MAX_BODIES];
    const void *input_data[SK_MAX_BODIES];
    size_t input_len[SK_MAX_BODIES];
} sk_submit;

sk_client *sk_client_new(const char *endpoint, sk_error *err);
/* The same on a ZeroMQ context the caller owns and shares between clients
 * (one I/O thread for many clients in one process). */
sk_client *sk_client_new_in(void *zmq_ctx, const char *endpoint, sk_error *err);

/* CurveZMQ: the broker's public key and this client's key pair (Z85). */
typedef struct sk_curve {
    const char *server_key;
    const char *public_key;
    const char *secret_key;
} sk_curve;

/* Full form: shared context (or NULL) and CURVE (or NULL for plain TCP). */
sk_client *sk_client_new_opts(void *zmq_ctx, const char *endpoint, const sk_curve *curve, sk_error *err);
/* Set CURVE client options on any socket (before connect). */
int sk_curve_apply(void *sock, const sk_curve *curve, sk_error *err);
void sk_client_free(sk_client *c);
/* Returns the request number (> 0) echoed in ACCEPTED/RESULT/FAILED. */
int64_t sk_client_submit(sk_client *c, const sk_submit *s, sk_error *err);
/* Batching (needs a broker of protocol 1.1 or later): submits wait in the
 * client and go as one message, when SK_BATCH_MAX of them wait, on
 * sk_client_flush, or before any other send or receive.  A pipeline that
 * submits many jobs and then collects them saves a message per job. */
void sk_client_set_batching(sk_client *c, bool on);
int sk_client_flush(sk_client *c, sk_error *err);
/* A job graph in one message (sk_graph.h): subs[i] may depend on an
 * earlier one with deps "@K=INPUT"; inputs must be datasets.  The broker
 * checks the whole graph, creates every job or none, and answers with a
 * REPLY (same request number) whose JSON body lists the job ids in order:
 * {"jobs":["j-...", ...]}; then each job's outcome follows as usual.
 * tenant: whom the graph is for (replies and errors); idem: optional key
 * that makes a retried graph the same jobs.  Returns the request number. */
int64_t sk_client_submit_graph(sk_client *c, const sk_submit *subs, size_t n, const char *tenant, const char *idem,
                               sk_error *err);
/* Send a request for an existing job (CANCEL, WAIT) or a query (STATUS,
 * JOBS); returns the request number. */
int64_t sk_client_request(sk_client *c, int type, const char *job, const char *tenant, sk_error *err);
/* A request with a text field and an optional body (history). */
int64_t sk_client_request_text(sk_client *c, int type, const char *tenant, const char *text, const void *body,
                               size_t len, sk_error *err);
/* Send a request and wait for its reply body (REPLY); *out malloc'ed.
 * 0, or <0 with err set (the broker's error reason, or a timeout). */
int sk_client_call(sk_client *c, int type, const char *tenant, const char *text, const void *body, size_t len,
                   int timeout_ms, char **out, size_t *outlen, sk_error *err);
/* Next message within timeout_ms (-1: forever).  1: *m filled (close with
 * sk_wire_msg_close); 0: timeout; <0: error.  Duplicate outcomes are
 * skipped. */
int sk_client_recv(sk_client *c, int timeout_ms, sk_wire_msg *m, sk_error *err);

/* Results by reference (docs/protocol.md): a broker with a dataset store
 * sends a result larger than a frame as a RESULT without a body, whose
 * refs name it: ["result", "sha256:HEX", size].  The reference, or NULL
 * when m is not such a result. */
const sk_data_ref *sk_client_result_ref(const sk_wire_msg *m);

typedef struct sk_fetch_opts {
    int timeout_ms;                                  /* no answer for this long: give up (0: 30 s) */
    void (*other)(void *ud, sk_wire_msg *m);         /* messages that arrive meanwhile (NULL: dropped) */
    void (*progress)(void *ud, int64_t got, int64_t total); /* may be NULL */
    void *ud;
} sk_fetch_opts;

/* Download the result m names by reference, in chunks (data_get naming the
 * job, a few in flight), hashed as it comes: *out (malloc'ed, *len bytes)
 * is exactly what an inline result's body would have been.  1: done; 0: m
 * has no result by reference (nothing done); <0: err says why (the broker
 * refused, no answer, the bytes do not hash to the name).  Outcomes of
 * other jobs that arrive meanwhile are handed to opts->other: with NULL
 * they are lost to the caller. */
int sk_client_fetch_result(sk_client *c, const sk_wire_msg *m, const sk_fetch_opts *opts, char **out, size_t *len,
                           sk_error *err);

#endif
