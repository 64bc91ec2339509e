/* cli.h - pieces shared by the `samskap` subcommands. */
#ifndef SK_CLI_H
#define SK_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "sk_result.h"

/* Exit codes (README, "Using it"): scripts tell failures apart by these. */
enum {
    SK_EXIT_OK = 0,
    SK_EXIT_ERROR = 1,        /* anything else: bad input file, I/O */
    SK_EXIT_USAGE = 2,
    SK_EXIT_UNREACHABLE = 3,  /* no answer from the broker */
    SK_EXIT_TIMEOUT = 4,
    SK_EXIT_FAILED = 5,       /* the job ran and failed (or was cancelled) */
};

const char *sk_cli_default_broker(void);
/* Store data at the broker as a dataset of tenant (by SHA-256, in chunks
 * of `chunk` bytes; one round trip when it is already there).  hash gets
 * "sha256:<hex>" (SK_HASH_NAME_LEN bytes).  0 uploaded, 1 the broker held it
 * already, or <0 with err: the broker's
 * code and reason (SK_EUNSUPPORTED without --data-dir), SK_ETIMEDOUT.
 * Messages that answer other requests go to `other` (may be NULL). */
struct sk_client;
struct sk_wire_msg;
/* Receives a message that arrived while waiting for a reply but answers
 * something else (an outcome of an earlier job); the caller closes it. */
typedef void (*sk_cli_other_fn)(void *ud, struct sk_wire_msg *m);
int sk_cli_dataset_upload(struct sk_client *c, const char *tenant, const char *name, const void *data, size_t len,
                          size_t chunk, char *hash, bool progress, sk_cli_other_fn other, void *ud, sk_error *err);
/* A client for the broker: plain, or CurveZMQ when key files are given
 * (both or neither; NULL picks $SAMSKAP_CURVE_KEY / $SAMSKAP_SERVER_KEY in
 * the callers that read the environment). */
struct sk_client *sk_cli_open_client(const char *broker, const char *curve_key, const char *server_key,
                                     sk_error *err);
/* Human-readable result: summary lines and the first rows of each table. */
void sk_cli_print_result(FILE *out, const sk_result *r, size_t max_rows);
/* Progress line on stderr when it is a terminal. */
void sk_cli_progress(const char *what, double fraction, const char *text);
void sk_cli_progress_done(void);

int sk_cli_submit(int argc, char **argv);
int sk_cli_wait(int argc, char **argv);
int sk_cli_result(int argc, char **argv);
int sk_cli_cancel(int argc, char **argv);
int sk_cli_services(int argc, char **argv);
int sk_cli_jobs(int argc, char **argv);
int sk_cli_status(int argc, char **argv);
int sk_cli_watch(int argc, char **argv);
int sk_cli_run(int argc, char **argv);
int sk_cli_dataset(int argc, char **argv);
int sk_cli_indicators(int argc, char **argv);
int sk_cli_sim(int argc, char **argv);
int sk_cli_keygen(int argc, char **argv);

#endif
