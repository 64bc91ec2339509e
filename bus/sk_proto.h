/* sk_proto.h - the samskap wire protocol (docs/protocol.md).
 *
 * A message is a multipart ZeroMQ message:
 *
 *   [routing id]   added/removed by ROUTER sockets only
 *   frame 0        signature: "SK" + major + minor (4 bytes)
 *   frame 1        header: a msgpack map (type, job, service, tenant, ...)
 *   frame 2..      bodies: input files, results; opaque to the broker
 *
 * Since 1.1 a message may carry a batch: frame 1 is then a msgpack array
 * of header maps, and each header's bodies follow in order, as many frames
 * as its "bodies" key names.  A batch is N messages that share one route,
 * one signature and one ZeroMQ message; peers send batches only to peers
 * that spoke 1.1 first (docs/protocol.md, "Batches").
 *
 * The broker decodes frame 0 and 1 only; bodies are moved or reference-
 * counted (zmq_msg_copy), never copied or decoded. */
#ifndef SK_PROTO_H
#define SK_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "sk_error.h"
#include "sk_params.h"

#define SK_PROTO_MAJOR 1
#define SK_PROTO_MINOR 1

/* Defaults documented in docs/protocol.md. */
#define SK_DEFAULT_FRONTEND "tcp://127.0.0.1:5570"
#define SK_DEFAULT_BACKEND "tcp://127.0.0.1:5571"
#define SK_DEFAULT_EVENTS "tcp://127.0.0.1:5572"
#define SK_MAX_FRAME ((int64_t)64 << 20)     /* largest body frame */
#define SK_MAX_BODIES 16
#define SK_BATCH_MAX 256                     /* messages in one batch */
#define SK_BATCH_BYTES ((size_t)256 << 10)   /* a sender closes a batch past this many body bytes */
#define SK_FETCH_CHUNK ((int64_t)1 << 20)    /* largest dataset chunk served to a node, or uploaded by one */
#define SK_ID_MAX 64                         /* job ids, tenants, services */
#define SK_HASH_MAX 80                       /* "sha256:<64 hex>" */

typedef enum sk_msg_type {
    SK_MSG_SUBMIT = 1,      /* client -> broker: run a job */
    SK_MSG_ACCEPTED = 2,    /* broker -> client: job queued, here is its id */
    SK_MSG_JOB = 3,         /* broker -> node: run this attempt */
    SK_MSG_PROGRESS = 4,    /* node -> broker -> client */
    SK_MSG_RESULT = 5,      /* node -> broker -> client; body 0 is the result, or, for a result larger
                               than a frame, no body and refs ["result", hash, size] name it */
    SK_MSG_FAILED = 6,      /* node/broker -> client: code + reason */
    SK_MSG_CANCEL = 7,      /* client -> broker, broker -> node */
    SK_MSG_READY = 8,       /* node -> broker: services, tenants, capacity, held jobs */
    SK_MSG_HEARTBEAT = 9,   /* both ways */
    SK_MSG_DISCONNECT = 10, /* both ways: forget me / re-announce yourself */
    SK_MSG_STATUS = 11,     /* client -> broker: nodes and services */
    SK_MSG_JOBS = 12,       /* client -> broker: queued and running jobs */
    SK_MSG_REPLY = 13,      /* broker -> client: body 0 is JSON */
    SK_MSG_WAIT = 14,       /* client -> broker: send me job's outcome */
    SK_MSG_ERROR = 15,      /* broker -> peer: your message was refused */
    SK_MSG_EVENT = 16,      /* broker -> subscribers (events endpoint): a job's state changed */
    SK_MSG_HISTORY_PUT = 17,/* client -> broker: body 0 is a scenario report (CSV); text = scenario name */
    SK_MSG_HISTORY_GET = 18,/* client -> broker: tenant's indicator history since text (YYYY-MM-DD) */
    SK_MSG_DATA_PUT = 19,   /* client -> broker: a dataset chunk (text = sha256 of the whole, offset, total);
                               node -> broker: a chunk of a job's result (also job + attempt) */
    SK_MSG_DATA_GET = 20,   /* client or node -> broker: a dataset chunk (text = hash, offset, total = max bytes;
                               from a node also job + attempt: the job that needs it) */
    SK_MSG_DATA_LIST = 21,  /* client -> broker: a tenant's stored datasets (reply: JSON) */
    SK_MSG_GRAPH = 22,      /* client -> broker: a job graph in body 0 (sk_graph.h; reply: JSON job ids) */
    SK_MSG_TYPE_MAX = 22
} sk_msg_type;

const char *sk_msg_type_name(int type);

typedef struct sk_held_job {
    char job[SK_ID_MAX];
    int64_t attempt;
    char client[SK_ID_MAX];   /* routing id of the submitting client */
    int64_t req;
    char service[SK_ID_MAX];
    char tenant[SK_ID_MAX];
} sk_held_job;

/* An input the node fetches by content hash instead of receiving it as a
 * frame (job: a stored dataset, or a dependency's stored result); in a
 * result, the result itself stored as a dataset ("result"). */
typedef struct sk_data_ref {
    char input[SK_ID_MAX];
    char hash[SK_HASH_MAX];
    int64_t size;
} sk_data_ref;

/* A decoded header.  Strings are NUL-terminated and bounded; absent fields
 * are empty / zero. */
typedef struct sk_header {
    int type;
    char job[SK_ID_MAX];
    char service[SK_ID_MAX];
    char tenant[SK_ID_MAX];
    char idem[128];          /* idempotency key (submit) */
    char client[SK_ID_MAX];  /* submitting client's routing id (job, ready) */
    int64_t req;             /* client's request number, echoed back */
    int64_t attempt;
    int64_t deadline_ms;     /* submit: timeout; job: time left */
    bool no_ack;             /* submit: do not send ACCEPTED */
    bool result_ref;         /* job: the broker takes a result larger than `total` by reference
                                (the node uploads it in chunks, then names it in `refs`) */
    int64_t code;            /* failed/error: sk_errcode */
    char reason[512];
    double progress;         /* [0,1] or -1 */
    char text[256];          /* progress line, or a query's filter */
    sk_params *params;       /* submit/job; owned */
    size_t nbodies;          /* names of body frames */
    char body_names[SK_MAX_BODIES][SK_ID_MAX];
    /* ready */
    int64_t capacity;
    size_t nservices, ntenants, nheld;
    char (*services)[SK_ID_MAX];
    char (*tenants)[SK_ID_MAX];
    char (*hashes)[SK_HASH_MAX];  /* ready: code hash per service ("" if none) */
    size_t nhashes;
    /* submit: jobs whose results this job needs, "JOB=INPUT": the broker
     * holds the job until they are done and adds each result as the named
     * input (a job graph; a failed dependency fails the job). */
    char (*deps)[2 * SK_ID_MAX];
    size_t ndeps;
    /* submit: inputs named by stored dataset, "INPUT=sha256:HEX" */
    char (*datasets)[2 * SK_ID_MAX];
    size_t ndatasets;
    int64_t offset, total;   /* data_put/data_get chunks */
    char name[SK_ID_MAX];    /* data_put: a name for people (dataset list) */
    /* job: inputs named by content hash, after the body frames in input
     * order; the node fetches the ones its cache lacks */
    sk_data_ref *refs;
    size_t nrefs;
    sk_held_job *held;
    char node_name[SK_ID_MAX];
} sk_header;

void sk_header_init(sk_header *h, int type);
void sk_header_clear(sk_header *h);   /* frees params, services, held */

/* Header frame <-> msgpack.  encode: *out malloc'ed. decode: bounded and
 * type-checked; unknown keys are ignored (forward compatibility). */
int sk_header_encode(const sk_header *h, char **out, size_t *len, sk_error *err);
int sk_header_decode(const void *data, size_t len, sk_header *h, sk_error *err);
/* The general decoder alone.  sk_header_decode reads flat headers (the
 * common case) in a faster single pass and falls back to this one; exposed
 * so that the fuzzer can check that both agree. */
int sk_header_decode_general(const void *data, size_t len, sk_header *h, sk_error *err);

/* A batch's header frame: a msgpack array of header maps.  open: the
 * number of headers and the offset of the first; next: decode the header
 * at *off and move *off past it.  Pure functions on bytes, bounded like
 * sk_header_decode, so the fuzzer reaches them without sockets. */
int sk_header_batch_open(const void *data, size_t len, size_t *count, size_t *off, sk_error *err);
int sk_header_batch_next(const void *data, size_t len, size_t *off, sk_header *h, sk_error *err);
/* The frame's first byte tells a batch (array) from one header (map). */
bool sk_header_is_batch(const void *data, size_t len);

/* Signature frame check: 0 ok; SK_EPROTO for a non-samskap frame;
 * SK_EUNSUPPORTED for another major version (message says which). */
int sk_sig_check(const void *data, size_t len, sk_error *err);

/* A whole received message: optional routing id, header, body frames.
 * Body frames stay zmq_msg_t, so forwarding them costs no copy. */
typedef struct sk_wire_msg {
    zmq_msg_t route;
    bool has_route;
    int minor;           /* the sender's protocol minor version (signature frame) */
    char user[64];       /* ZAP User-Id of the connection ("" without CURVE) */
    sk_header hdr;
    size_t nbodies;
    zmq_msg_t bodies[SK_MAX_BODIES];
} sk_wire_msg;

void sk_wire_msg_close(sk_wire_msg *m);
/* Move everything src holds into dst (uninitialised); src is left empty
 * (closing it is harmless). */
void sk_wire_msg_move(sk_wire_msg *dst, sk_wire_msg *src);

/* Receive one multipart message (non-blocking when flags has ZMQ_DONTWAIT).
 * Returns 1 with *m filled; 0 when nothing is waiting (EAGAIN); <0 when the
 * message was malformed (it has been fully drained, err says why, and
 * m->route holds the sender when has_route, so the caller can answer). */
int sk_wire_recv(void *sock, bool router, sk_wire_msg *m, int flags, sk_error *err);

/* Receiving from a peer that may send batches: a reader hands out one
 * message at a time and keeps the rest of a batch for the next call.  One
 * reader per socket, used by the socket's thread only. */
typedef struct sk_wire_reader {
    void *sock;
    bool router;
    size_t left;               /* headers of the current batch not yet handed out */
    zmq_msg_t route, hdrs;     /* the batch's routing id and header frame */
    bool has_route, has_hdrs;
    int minor;
    char user[64];
    size_t off;                /* next header in hdrs */
    zmq_msg_t *frames;         /* the batch's body frames; [next, nframes) not yet handed out */
    size_t next, nframes, cap;
    uint64_t batches;          /* batches read so far (a count for status) */
} sk_wire_reader;

void sk_wire_reader_init(sk_wire_reader *r, void *sock, bool router);
void sk_wire_reader_free(sk_wire_reader *r);
/* As sk_wire_recv, one message at a time, batches included.  A malformed
 * message in a batch ends the batch: the rest is dropped (the error says
 * how many), since the frames after it can no longer be told apart. */
int sk_wire_read(sk_wire_reader *r, sk_wire_msg *m, int flags, sk_error *err);

/* Send: [route] sig header bodies...  Bodies are sent with zmq_msg_send,
 * which empties them; pass copies (zmq_msg_copy) to keep the originals.
 * Returns 0, or -1 with errno (EAGAIN, EHOSTUNREACH) for the caller. */
int sk_wire_send(void *sock, const void *route, size_t route_len, const sk_header *h,
                 zmq_msg_t *bodies, size_t nbodies, int flags);

/* Sending a batch: messages for one peer collected and sent as one ZeroMQ
 * message.  add moves the bodies in (they are empty afterwards) and sets
 * the header's body count from nbodies.  send empties the batch whatever
 * the outcome; a batch of one goes as a plain message, which any 1.x peer
 * reads. */
typedef struct sk_wire_batch {
    unsigned char *hdrs;       /* array16 header (3 bytes) + header maps */
    size_t hlen, hcap;
    zmq_msg_t *bodies;
    size_t nbodies, bcap;
    size_t count;              /* messages */
    size_t body_bytes;
    size_t first_len;          /* bytes of the first header map (a batch of one) */
} sk_wire_batch;

void sk_wire_batch_init(sk_wire_batch *b);
void sk_wire_batch_free(sk_wire_batch *b);
/* 0, or -1 (ENOMEM; the bodies are closed).  Full: count == SK_BATCH_MAX
 * or body_bytes >= SK_BATCH_BYTES; the caller sends before adding more. */
int sk_wire_batch_add(sk_wire_batch *b, const sk_header *h, zmq_msg_t *bodies, size_t nbodies);
bool sk_wire_batch_full(const sk_wire_batch *b);
int sk_wire_batch_send(void *sock, const void *route, size_t route_len, sk_wire_batch *b, int flags);

#endif
