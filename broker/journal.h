/* journal.h - the broker's durable record of accepted jobs (SQLite, WAL).
 *
 * The loop thread never touches SQLite or fsync: it queues records, and one
 * writer thread commits them in groups (one transaction per batch) and then
 * tells the loop, through a uv_async, which submits are now durable, so the
 * broker sends `accepted` only after the commit.  Job inputs and results are
 * files named by content hash in DIR/blobs; SQLite holds their metadata.
 * Hashes are scoped per tenant (the file name hashes the tenant with the
 * content), so no tenant can learn that another holds the same file. */
#ifndef SK_JOURNAL_H
#define SK_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <zmq.h>

#include "sk_buf.h"
#include "sk_error.h"
#include "sk_proto.h"

typedef struct sk_journal sk_journal;

/* Inputs and results up to this size are stored in the journal itself
 * (committed with their batch); larger ones as blob files. */
#define SK_JOURNAL_INLINE_MAX (64 * 1024)

/* Called on the loop thread for each committed submit, in commit order. */
typedef void (*sk_journal_committed_fn)(void *ud, const char *job_id);
/* A barrier's callback: ok when everything queued before it is committed;
 * false when that commit failed or the journal closed first. */
typedef void (*sk_journal_barrier_fn)(void *ud, bool ok);

/* Where a job's row is: sk_journal_submit and sk_journal_load hand it
 * out, and the job's later records name it, so the writer updates and
 * deletes the row directly instead of looking its id up in an index
 * (half the writer's work per job, measured).  0 when none. */
typedef int64_t sk_journal_ref;

/* A job as stored: its submit header (service, tenant, params, body names,
 * client, req, idem, deadline) and its state. */
typedef struct sk_journal_job {
    sk_header hdr;             /* decoded submit header; job = id */
    char state[16];            /* queued, running, done, failed */
    int64_t attempt;
    int64_t submitted_ms, deadline_abs_ms, finished_ms;   /* wall clock, ms */
    int64_t code;
    char reason[512];
    unsigned char client[256];         /* the submitter's routing id */
    size_t client_len;
    size_t nbodies;
    zmq_msg_t bodies[SK_MAX_BODIES];   /* inputs (queued/running jobs) */
    bool has_result;
    zmq_msg_t result;                  /* done jobs */
    bool has_result_ref;
    sk_data_ref result_ref;            /* done jobs whose result is a dataset: hash and size */
    sk_journal_ref ref;
} sk_journal_job;

int sk_journal_open(uv_loop_t *loop, const char *dir, sk_journal_committed_fn cb, void *ud,
                    sk_journal **out, sk_error *err);
/* Start the writer thread, after sk_journal_load: from then on only that
 * thread uses the database connection (opened without SQLite's mutex).
 * Records queued before it starts wait for it. */
int sk_journal_start(sk_journal *j, sk_error *err);
/* Flushes what is queued, stops the writer, closes the database. */
void sk_journal_close(sk_journal *j);

/* Queue records (loop thread).  Bodies and results are shared with the
 * caller via zmq_msg_copy, never copied. */
int sk_journal_submit(sk_journal *j, const char *job_id, const sk_header *submit, const void *client,
                      size_t client_len, int64_t submitted_ms, int64_t deadline_abs_ms, zmq_msg_t *bodies,
                      size_t nbodies, sk_journal_ref *ref);
int sk_journal_state(sk_journal *j, sk_journal_ref ref, const char *job_id, const char *state, int64_t attempt);
/* result: the result itself; or result_ref: a result by reference (a
 * dataset of the job's tenant, docs/protocol.md "Results by reference"). */
int sk_journal_finish(sk_journal *j, sk_journal_ref ref, const char *job_id, bool done, int64_t code,
                      const char *reason, zmq_msg_t *result, const sk_data_ref *result_ref, int64_t finished_ms);
int sk_journal_forget(sk_journal *j, sk_journal_ref ref, const char *job_id);
/* fn(ud, ok) on the loop thread once every record queued so far is
 * committed: an answer that promises "stored" waits for it, so a read
 * right after (history_get, data_list) sees what was written.  0, or
 * SK_ENOMEM (fn is not called). */
int sk_journal_barrier(sk_journal *j, sk_journal_barrier_fn fn, void *ud);
/* Indicator history: the rows of a scenario report (CSV: indicator, area,
 * name, variant, value, band, error) stored for tenant on date. */
int sk_journal_history_put(sk_journal *j, const char *tenant, const char *date, const char *scenario,
                           const char *csv, size_t len);
/* The tenant's rows since date (inclusive), oldest first, as CSV with a
 * header (date,scenario,indicator,area,name,variant,value,band) into *out
 * (malloc'ed).  A read on the calling thread (WAL: never blocks the writer). */
int sk_journal_history_get(sk_journal *j, const char *tenant, const char *since, char **out, size_t *len,
                           sk_error *err);

/* Datasets metadata (the files are in DIR/datasets, see datasets.h):
 * recorded when an upload completes or a result is stored for dependants
 * (created), and when a job names one (last used); name may be NULL. */
int sk_journal_dataset(sk_journal *j, const char *tenant, const char *hash, int64_t size, const char *name,
                       int64_t now_ms);
int sk_journal_dataset_forget(sk_journal *j, const char *tenant, const char *hash);
/* {"tenant": T, "datasets": [{hash, size, created_ms, last_used_ms, name}]}
 * for one tenant only, oldest first (a read on the calling thread). */
int sk_journal_datasets_json(sk_journal *j, const char *tenant, sk_buf *out, sk_error *err);
/* Every dataset, most recently used first (retention). */
int sk_journal_datasets_scan(sk_journal *j, void (*fn)(void *ud, const char *tenant, const char *hash, int64_t size,
                                                      int64_t last_used_ms),
                             void *ud, sk_error *err);

/* Startup (before the loop runs): every job not yet forgotten, oldest
 * first.  The caller takes ownership of each (close with
 * sk_journal_job_clear). */
int sk_journal_load(sk_journal *j, sk_journal_job **jobs, size_t *n, sk_error *err);
void sk_journal_job_clear(sk_journal_job *jj);

/* Called on the writer thread after each commit (for a latency histogram;
 * the callee must be thread-safe). */
void sk_journal_on_commit(sk_journal *j, void (*fn)(void *ud, double seconds, size_t records), void *ud);

/* Last commit latency and batch size, for metrics. */
void sk_journal_stats(sk_journal *j, uint64_t *commits, uint64_t *records, double *last_commit_ms);

#endif
