/* sk_sim.h - the services that run a kernel on a job's inputs.
 *
 * This is where a kernel meets the bus: a service takes the job's named
 * inputs (file bodies) and params, runs one kernel, and returns an
 * sk_result.  The node calls it on a worker thread; the CLI (`samskap sim`)
 * calls it directly.  A service owns no global state and never touches a
 * socket. */
#ifndef SK_SIM_H
#define SK_SIM_H

#include <stdatomic.h>
#include <stddef.h>

#include "sk_error.h"
#include "sk_params.h"
#include "sk_result.h"

typedef struct sk_input {
    const char *name;     /* "network", "net", "trips", "profile", ... */
    const char *filename; /* for error messages: "Net1.inp" */
    const char *data;     /* the body; not NUL-terminated */
    size_t len;
} sk_input;

typedef struct sk_job_ctx {
    const sk_input *inputs;
    size_t ninputs;
    const sk_params *params;
    /* Set by the node or by Ctrl-C; services check it between steps. */
    atomic_int *cancel;
    /* Called from the service's thread; throttling is the caller's job.
     * fraction in [0,1] or < 0 if unknown; msg a short line. */
    void (*progress)(void *ud, double fraction, const char *msg);
    void *progress_ud;
    int threads;          /* cores the service may use (>= 1) */
    const void *service_data;  /* the service definition's data (a plugin) */
} sk_job_ctx;

/* Find input by name; if name is NULL or absent and there is exactly one
 * input, that one. */
const sk_input *sk_job_input(const sk_job_ctx *ctx, const char *name);
int sk_job_cancelled(const sk_job_ctx *ctx);
void sk_job_progress(const sk_job_ctx *ctx, double fraction, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef int (*sk_service_fn)(const sk_job_ctx *ctx, sk_result **out, sk_error *err);

typedef struct sk_service_def {
    const char *name;          /* "sim.water" */
    const char *summary;       /* one line for `samskap services` */
    sk_service_fn run;
    const void *data;          /* handed to run as ctx->service_data */
    const char *hash;          /* content hash of the code (plugins), or NULL */
} sk_service_def;

/* Run a service and stamp provenance on its result: the content hash of
 * the inputs ("sha256:<hex>" over each input's name, length and bytes, in
 * order) and every param as meta "param.<key>".  The node and the CLI call
 * services through this. */
int sk_sim_run(const sk_service_def *svc, const sk_job_ctx *ctx, sk_result **out, sk_error *err);
/* The hash above, into buf (at least 72 bytes). */
void sk_inputs_hash(const sk_input *inputs, size_t n, char *buf, size_t len);

/* The built-in services, NULL-terminated. */
extern const sk_service_def *const sk_sim_services[];
const sk_service_def *sk_sim_find(const char *name);

#endif
