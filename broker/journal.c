/* journal.c - SQLite journal with a group-committing writer thread and
 * content-addressed blobs (see journal.h). */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "sk_buf.h"
#include "sk_csv.h"
#include "sk_hash.h"
#include "sk_log.h"
#include "sk_map.h"
#include "sk_num.h"

enum { REC_SUBMIT, REC_STATE, REC_FINISH, REC_FORGET, REC_HISTORY, REC_DATASET, REC_DATASET_DEL, REC_BARRIER };

typedef struct rec_body {
    char name[SK_ID_MAX];
    zmq_msg_t msg;
} rec_body;

typedef struct rec {
    int kind;
    char id[SK_ID_MAX];
    char tenant[SK_ID_MAX];
    char service[SK_ID_MAX];
    char state[16];
    char *header;           /* REC_SUBMIT: encoded submit header */
    size_t header_len;
    unsigned char client[256];
    size_t client_len;
    int64_t attempt, submitted_ms, deadline_ms, finished_ms, code;
    char reason[512];
    char *text;             /* REC_HISTORY: the report CSV */
    char hash[SK_HASH_MAX]; /* REC_DATASET*: content name, size, name for people */
    int64_t size;
    char name[SK_ID_MAX];
    size_t text_len;
    size_t nbodies;
    rec_body *bodies;       /* [nbodies]: a record is made per job event, so it holds only what it needs */
    bool has_result;
    bool has_result_ref;    /* REC_FINISH: the result is the dataset hash (size in `size`) */
    bool set_attempt;       /* REC_FINISH: write `attempt` too (it stands for a skipped REC_STATE) */
    size_t seq;             /* position in its commit batch */
    sk_journal_ref ref;     /* the job's row (rowid * 2 + 1 if it has rows in `inputs`) */
    sk_journal_barrier_fn barrier;   /* REC_BARRIER */
    void *barrier_ud;
    zmq_msg_t result;
    struct rec *next;
} rec;

typedef struct committed {
    char id[SK_ID_MAX];
    sk_journal_barrier_fn barrier;   /* a barrier passed, or NULL: a submit */
    void *barrier_ud;
    bool ok;
    struct committed *next;
} committed;

struct sk_journal {
    char dir[1024];
    sqlite3 *db;
    sqlite3_stmt *ins_job, *ins_input, *upd_state, *upd_finish, *del_job, *del_inputs, *ins_history, *ups_dataset,
        *del_dataset;
    uv_thread_t thread;
    bool thread_started;
    uv_mutex_t lock;
    uv_cond_t cond;
    rec *head, *tail;          /* under lock */
    int64_t last_rowid;        /* loop thread: the jobs row last handed out */
    bool quit;                 /* under lock */
    committed *done_head, *done_tail; /* under lock */
    uv_async_t async;
    bool async_ready;
    sk_journal_committed_fn cb;
    void *ud;
    uint64_t commits, records; /* under lock */
    double last_commit_ms;
    void (*on_commit)(void *ud, double seconds, size_t records);
    void *on_commit_ud;
};

static double wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tv.tv_sec * 1000.0 + tv.tv_usec / 1000.0;
}

/* Blob name: sha256(tenant NUL content), hex; a tenant's hash says nothing
 * about another tenant's files. */
static void blob_name(const char *tenant, const void *data, size_t len, char out[65])
{
    sk_sha256_state st;
    unsigned char d[32];
    sk_sha256_init(&st);
    sk_sha256_update(&st, (const unsigned char *)tenant, strlen(tenant) + 1);
    sk_sha256_update(&st, data, len);
    sk_sha256_final(&st, d);
    sk_hex(d, sizeof d, out);
}

static void blob_path(const sk_journal *j, const char *name, char *path, size_t n)
{
    snprintf(path, n, "%s/blobs/%.2s/%s", j->dir, name, name);
}

/* Write a blob once (tmp file, fdatasync, rename); an existing one is the
 * same content by construction. */
static int blob_write(sk_journal *j, const char *tenant, const void *data, size_t len, char name[65])
{
    char path[1200], tmp[1300], sub[1100];
    blob_name(tenant, data, len, name);
    blob_path(j, name, path, sizeof path);
    if (access(path, F_OK) == 0)
        return 0;
    snprintf(sub, sizeof sub, "%s/blobs/%.2s", j->dir, name);
    if (mkdir(sub, 0700) < 0 && errno != EEXIST)
        return -1;
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    if (sk_write_all(fd, data, len) < 0) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (fdatasync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int blob_read(const sk_journal *j, const char *name, zmq_msg_t *out)
{
    char path[1200];
    struct stat st;
    blob_path(j, name, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (zmq_msg_init_size(out, (size_t)st.st_size) < 0) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, (char *)zmq_msg_data(out) + got, (size_t)st.st_size - got);
        if (r <= 0) {
            close(fd);
            zmq_msg_close(out);
            return -1;
        }
        got += (size_t)r;
    }
    close(fd);
    return 0;
}

static void rec_free(rec *r)
{
    for (size_t i = 0; i < r->nbodies; i++)
        zmq_msg_close(&r->bodies[i].msg);
    free(r->bodies);
    if (r->has_result)
        zmq_msg_close(&r->result);
    free(r->header);
    free(r->text);
    free(r);
}

static int apply(sk_journal *j, rec *r)
{
    char name[65];
    int rc = SQLITE_OK;
    switch (r->kind) {
    case REC_SUBMIT:
        sqlite3_reset(j->ins_job);
        sqlite3_bind_text(j->ins_job, 1, r->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(j->ins_job, 2, r->tenant, -1, SQLITE_STATIC);
        sqlite3_bind_text(j->ins_job, 3, r->service, -1, SQLITE_STATIC);
        sqlite3_bind_int64(j->ins_job, 4, r->submitted_ms);
        sqlite3_bind_int64(j->ins_job, 5, r->deadline_ms);
        sqlite3_bind_blob(j->ins_job, 6, r->header, (int)r->header_len, SQLITE_STATIC);
        sqlite3_bind_blob(j->ins_job, 7, r->client, (int)r->client_len, SQLITE_STATIC);
        /* The common job, one small input, is one row: its input rides in
         * the job's row rather than costing an inputs row and its index. */
        bool one = r->nbodies == 1 && zmq_msg_size(&r->bodies[0].msg) <= SK_JOURNAL_INLINE_MAX;
        if (one)
            sqlite3_bind_blob(j->ins_job, 8, zmq_msg_data(&r->bodies[0].msg), (int)zmq_msg_size(&r->bodies[0].msg),
                              SQLITE_STATIC);
        else
            sqlite3_bind_null(j->ins_job, 8);
        sqlite3_bind_int64(j->ins_job, 9, r->ref >> 1);
        rc = sqlite3_step(j->ins_job);
        if (rc != SQLITE_DONE)
            return rc;
        for (size_t i = 0; i < r->nbodies && !one; i++) {
            size_t len = zmq_msg_size(&r->bodies[i].msg);
            sqlite3_reset(j->ins_input);
            sqlite3_bind_text(j->ins_input, 1, r->id, -1, SQLITE_STATIC);
            sqlite3_bind_int(j->ins_input, 2, (int)i);
            sqlite3_bind_text(j->ins_input, 3, r->bodies[i].name, -1, SQLITE_STATIC);
            /* Small inputs live in the journal itself (one fsync per batch);
             * large ones are blob files (fsynced each). */
            if (len <= SK_JOURNAL_INLINE_MAX) {
                sqlite3_bind_null(j->ins_input, 4);
                sqlite3_bind_blob(j->ins_input, 6, zmq_msg_data(&r->bodies[i].msg), (int)len, SQLITE_STATIC);
            } else {
                if (blob_write(j, r->tenant, zmq_msg_data(&r->bodies[i].msg), len, name) < 0)
                    return SQLITE_IOERR;
                sqlite3_bind_text(j->ins_input, 4, name, -1, SQLITE_TRANSIENT);
                sqlite3_bind_null(j->ins_input, 6);
            }
            sqlite3_bind_int64(j->ins_input, 5, (int64_t)len);
            if ((rc = sqlite3_step(j->ins_input)) != SQLITE_DONE)
                return rc;
        }
        return SQLITE_OK;
    case REC_STATE:
        sqlite3_reset(j->upd_state);
        sqlite3_bind_text(j->upd_state, 1, r->state, -1, SQLITE_STATIC);
        sqlite3_bind_int64(j->upd_state, 2, r->attempt);
        sqlite3_bind_int64(j->upd_state, 3, r->ref >> 1);
        rc = sqlite3_step(j->upd_state);
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
    case REC_FINISH:
        name[0] = '\0';
        if (r->has_result && zmq_msg_size(&r->result) > SK_JOURNAL_INLINE_MAX &&
            blob_write(j, r->tenant, zmq_msg_data(&r->result), zmq_msg_size(&r->result), name) < 0)
            return SQLITE_IOERR;
        sqlite3_reset(j->upd_finish);
        sqlite3_bind_text(j->upd_finish, 1, r->state, -1, SQLITE_STATIC);
        sqlite3_bind_int64(j->upd_finish, 2, r->code);
        sqlite3_bind_text(j->upd_finish, 3, r->reason, -1, SQLITE_STATIC);
        sqlite3_bind_int64(j->upd_finish, 4, r->finished_ms);
        if (name[0])
            sqlite3_bind_text(j->upd_finish, 5, name, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(j->upd_finish, 5);
        if (r->has_result && name[0] == '\0')
            sqlite3_bind_blob(j->upd_finish, 6, zmq_msg_data(&r->result), (int)zmq_msg_size(&r->result),
                              SQLITE_STATIC);
        else
            sqlite3_bind_null(j->upd_finish, 6);
        if (r->set_attempt)
            sqlite3_bind_int64(j->upd_finish, 7, r->attempt);
        else
            sqlite3_bind_null(j->upd_finish, 7);
        if (r->has_result_ref) {
            sqlite3_bind_text(j->upd_finish, 8, r->hash, -1, SQLITE_STATIC);
            sqlite3_bind_int64(j->upd_finish, 9, r->size);
        } else {
            sqlite3_bind_null(j->upd_finish, 8);
            sqlite3_bind_null(j->upd_finish, 9);
        }
        sqlite3_bind_int64(j->upd_finish, 10, r->ref >> 1);
        rc = sqlite3_step(j->upd_finish);
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
    case REC_HISTORY: {
        sk_csv c;
        sk_csv_init(&c, r->text, r->text_len, "report.csv");
        int first = 1;
        while (sk_csv_next(&c, NULL) > 0) {
            if (first) { /* header */
                first = 0;
                continue;
            }
            if (c.nfields < 6)
                continue;
            double v;
            sqlite3_reset(j->ins_history);
            sqlite3_bind_text(j->ins_history, 1, r->tenant, -1, SQLITE_STATIC);
            sqlite3_bind_text(j->ins_history, 2, r->state, -1, SQLITE_STATIC); /* the date */
            sqlite3_bind_text(j->ins_history, 3, r->reason, -1, SQLITE_STATIC); /* the scenario */
            sqlite3_bind_text(j->ins_history, 4, c.fields[0], -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(j->ins_history, 5, c.fields[1], -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(j->ins_history, 6, c.fields[2], -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(j->ins_history, 7, c.fields[3], -1, SQLITE_TRANSIENT);
            if (sk_parse_f64(c.fields[4], &v) == 0)
                sqlite3_bind_double(j->ins_history, 8, v);
            else
                sqlite3_bind_null(j->ins_history, 8);
            sqlite3_bind_text(j->ins_history, 9, c.fields[5], -1, SQLITE_TRANSIENT);
            /* Provenance (samskap run's report: error, then job .. inputs). */
            for (int k = 0; k < 6; k++) {
                if (c.nfields >= 13)
                    sqlite3_bind_text(j->ins_history, 10 + k, c.fields[7 + k], -1, SQLITE_TRANSIENT);
                else
                    sqlite3_bind_null(j->ins_history, 10 + k);
            }
            if ((rc = sqlite3_step(j->ins_history)) != SQLITE_DONE) {
                sk_csv_free(&c);
                return rc;
            }
        }
        sk_csv_free(&c);
        return SQLITE_OK;
    }
    case REC_DATASET:
        sqlite3_reset(j->ups_dataset);
        sqlite3_bind_text(j->ups_dataset, 1, r->tenant, -1, SQLITE_STATIC);
        sqlite3_bind_text(j->ups_dataset, 2, r->hash, -1, SQLITE_STATIC);
        sqlite3_bind_int64(j->ups_dataset, 3, r->size);
        sqlite3_bind_int64(j->ups_dataset, 4, r->finished_ms);
        if (r->name[0])
            sqlite3_bind_text(j->ups_dataset, 5, r->name, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(j->ups_dataset, 5);
        rc = sqlite3_step(j->ups_dataset);
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
    case REC_DATASET_DEL:
        sqlite3_reset(j->del_dataset);
        sqlite3_bind_text(j->del_dataset, 1, r->tenant, -1, SQLITE_STATIC);
        sqlite3_bind_text(j->del_dataset, 2, r->hash, -1, SQLITE_STATIC);
        rc = sqlite3_step(j->del_dataset);
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
    case REC_BARRIER:
        return SQLITE_OK;
    case REC_FORGET:
        if (r->ref & 1) {
            sqlite3_reset(j->del_inputs);
            sqlite3_bind_text(j->del_inputs, 1, r->id, -1, SQLITE_STATIC);
            if ((rc = sqlite3_step(j->del_inputs)) != SQLITE_DONE)
                return rc;
        }
        sqlite3_reset(j->del_job);
        sqlite3_bind_int64(j->del_job, 1, r->ref >> 1);
        rc = sqlite3_step(j->del_job);
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    return SQLITE_MISUSE;
}

static void writer_main(void *arg)
{
    sk_journal *j = arg;
    for (;;) {
        uv_mutex_lock(&j->lock);
        while (j->head == NULL && !j->quit)
            uv_cond_wait(&j->cond, &j->lock);
        rec *batch = j->head;
        j->head = j->tail = NULL;
        bool quit = j->quit;
        uv_mutex_unlock(&j->lock);
        if (batch == NULL && quit)
            return;
        double t0 = wall_ms();
        /* A job that ran and finished within one batch needs no separate
         * state update: its finish records the attempt. */
        sk_map finishes;
        sk_map_init(&finishes);
        size_t seq = 0;
        for (rec *r = batch; r != NULL; r = r->next) {
            r->seq = seq++;
            if (r->kind == REC_FINISH)
                (void)sk_map_put(&finishes, r->id, strlen(r->id), r); /* out of memory: no shortcut */
        }
        int rc = sqlite3_exec(j->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        size_t n = 0;
        for (rec *r = batch; r != NULL && rc == SQLITE_OK; r = r->next, n++) {
            rec *fin = r->kind == REC_STATE && finishes.len > 0 ? sk_map_get(&finishes, r->id, strlen(r->id)) : NULL;
            if (fin != NULL && fin->seq > r->seq) {
                fin->attempt = r->attempt;
                fin->set_attempt = true;
                continue;
            }
            rc = apply(j, r);
        }
        sk_map_free(&finishes);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(j->db, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            /* A failed commit must not look accepted: log loudly; the
             * submits of this batch are not acknowledged. */
            sk_error_log("msg=\"journal commit failed\" error=\"%s\" records=%zu", sqlite3_errmsg(j->db), n);
            sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
        }
        committed *ch = NULL, *ct = NULL;
        for (rec *r = batch, *next; r != NULL; r = next) {
            next = r->next;
            if ((rc == SQLITE_OK && r->kind == REC_SUBMIT) || r->kind == REC_BARRIER) {
                committed *c = calloc(1, sizeof *c);
                if (c != NULL) {
                    memcpy(c->id, r->id, SK_ID_MAX);
                    c->barrier = r->kind == REC_BARRIER ? r->barrier : NULL;
                    c->barrier_ud = r->barrier_ud;
                    c->ok = rc == SQLITE_OK;
                    if (ct)
                        ct->next = c;
                    else
                        ch = c;
                    ct = c;
                }
            }
            rec_free(r);
        }
        if (j->on_commit != NULL && rc == SQLITE_OK)
            j->on_commit(j->on_commit_ud, (wall_ms() - t0) / 1000.0, n);
        uv_mutex_lock(&j->lock);
        j->commits++;
        j->records += n;
        j->last_commit_ms = wall_ms() - t0;
        if (ch != NULL) {
            if (j->done_tail)
                j->done_tail->next = ch;
            else
                j->done_head = ch;
            j->done_tail = ct;
        }
        uv_mutex_unlock(&j->lock);
        if (ch != NULL)
            uv_async_send(&j->async);
    }
}

static void on_committed(uv_async_t *a)
{
    sk_journal *j = a->data;
    uv_mutex_lock(&j->lock);
    committed *c = j->done_head;
    j->done_head = j->done_tail = NULL;
    uv_mutex_unlock(&j->lock);
    while (c != NULL) {
        committed *next = c->next;
        if (c->barrier != NULL)
            c->barrier(c->barrier_ud, c->ok);
        else
            j->cb(j->ud, c->id);
        free(c);
        c = next;
    }
}

static int push(sk_journal *j, rec *r)
{
    uv_mutex_lock(&j->lock);
    /* Wake the writer only when it may be waiting (the queue was empty): a
     * busy writer takes everything queued meanwhile as its next batch. */
    bool was_empty = j->head == NULL;
    if (j->tail)
        j->tail->next = r;
    else
        j->head = r;
    j->tail = r;
    if (was_empty)
        uv_cond_signal(&j->cond);
    uv_mutex_unlock(&j->lock);
    return 0;
}

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    /* The writer touches the jobs of the last minutes over and over (submit,
     * running, finish, forget): keep their pages in memory rather than
     * reading them back from the OS for every statement. */
    "PRAGMA cache_size=-65536;"
    /* Rows are addressed by rowid (sk_journal_ref): no index on id, which
     * cost an index insert, seek and delete per job. */
    "CREATE TABLE IF NOT EXISTS jobs(id TEXT NOT NULL, tenant TEXT NOT NULL, service TEXT NOT NULL,"
    " state TEXT NOT NULL DEFAULT 'queued', attempt INTEGER NOT NULL DEFAULT 0, submitted_ms INTEGER,"
    " deadline_ms INTEGER, finished_ms INTEGER, code INTEGER, reason TEXT, header BLOB NOT NULL,"
    " client BLOB, result_blob TEXT, result_data BLOB, input0 BLOB, result_ref TEXT, result_size INTEGER);"
    "CREATE TABLE IF NOT EXISTS inputs(job TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT, blob TEXT,"
    " size INTEGER, data BLOB, PRIMARY KEY(job, idx));"
    /* No index on state: nothing queries by it, and keeping one cost an
     * index update at every submit, state change, finish and forget. */
    "DROP INDEX IF EXISTS jobs_state;"
    "CREATE TABLE IF NOT EXISTS history(tenant TEXT NOT NULL, date TEXT NOT NULL, scenario TEXT,"
    " indicator TEXT NOT NULL, area TEXT NOT NULL, name TEXT, variant TEXT, value REAL, band TEXT,"
    " job TEXT, plugin TEXT, plugin_hash TEXT, simulation TEXT, kernel TEXT, inputs TEXT);"
    "CREATE INDEX IF NOT EXISTS history_tenant ON history(tenant, date);"
    "CREATE TABLE IF NOT EXISTS datasets(tenant TEXT NOT NULL, hash TEXT NOT NULL, size INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL, last_used_ms INTEGER NOT NULL, name TEXT, PRIMARY KEY(tenant, hash));"
    "CREATE INDEX IF NOT EXISTS datasets_used ON datasets(last_used_ms);";

/* Journals written before a column existed get it (CREATE TABLE IF NOT
 * EXISTS leaves an old table as it is). */
static int add_column(sqlite3 *db, const char *table, const char *column, const char *type)
{
    char sql[200];
    sqlite3_stmt *probe = NULL;
    snprintf(sql, sizeof sql, "SELECT %s FROM %s LIMIT 0", column, table);
    int rc = sqlite3_prepare_v2(db, sql, -1, &probe, NULL);
    sqlite3_finalize(probe);
    if (rc == SQLITE_OK)
        return SQLITE_OK;
    snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", table, column, type);
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Journals before rows were addressed by rowid kept an index on jobs.id
 * (its PRIMARY KEY): copy their rows, rowids and all, into a table
 * without it.  Once, at the first open by this version. */
static int drop_id_index(sqlite3 *db)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='index' AND tbl_name='jobs'"
                                    " AND name LIKE 'sqlite_autoindex_jobs%'", -1, &q, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc == SQLITE_DONE)
        return SQLITE_OK; /* nothing to do */
    if (rc != SQLITE_ROW)
        return rc;
    static const char *const columns =
        "id,tenant,service,state,attempt,submitted_ms,deadline_ms,finished_ms,code,reason,header,client,"
        "result_blob,result_data,input0";
    char sql[2048];
    snprintf(sql, sizeof sql,
             "BEGIN IMMEDIATE;"
             "CREATE TABLE jobs_by_rowid(id TEXT NOT NULL, tenant TEXT NOT NULL, service TEXT NOT NULL,"
             " state TEXT NOT NULL DEFAULT 'queued', attempt INTEGER NOT NULL DEFAULT 0, submitted_ms INTEGER,"
             " deadline_ms INTEGER, finished_ms INTEGER, code INTEGER, reason TEXT, header BLOB NOT NULL,"
             " client BLOB, result_blob TEXT, result_data BLOB, input0 BLOB);"
             "INSERT INTO jobs_by_rowid(rowid,%s) SELECT rowid,%s FROM jobs;"
             "DROP TABLE jobs;"
             "ALTER TABLE jobs_by_rowid RENAME TO jobs;"
             "COMMIT;",
             columns, columns);
    rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    sk_info("msg=\"journal: jobs table rebuilt without its id index (one-time upgrade)\"");
    return SQLITE_OK;
}

static int upgrade_schema(sqlite3 *db)
{
    static const char *const provenance[] = {"job", "plugin", "plugin_hash", "simulation", "kernel", "inputs"};
    int rc = add_column(db, "jobs", "input0", "BLOB");
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof provenance / sizeof provenance[0]; i++)
        rc = add_column(db, "history", provenance[i], "TEXT");
    if (rc == SQLITE_OK)
        rc = drop_id_index(db);
    /* After the rebuild above, which copies the columns it knows. */
    if (rc == SQLITE_OK)
        rc = add_column(db, "jobs", "result_ref", "TEXT");
    if (rc == SQLITE_OK)
        rc = add_column(db, "jobs", "result_size", "INTEGER");
    return rc;
}

static int64_t max_rowid(sqlite3 *db)
{
    sqlite3_stmt *q = NULL;
    int64_t v = 0;
    if (sqlite3_prepare_v2(db, "SELECT IFNULL(MAX(rowid), 0) FROM jobs", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

int sk_journal_open(uv_loop_t *loop, const char *dir, sk_journal_committed_fn cb, void *ud, sk_journal **out,
                    sk_error *err)
{
    char path[1200];
    sk_journal *j = calloc(1, sizeof *j);
    if (j == NULL)
        return sk_fail(err, SK_ENOMEM, "out of memory");
    snprintf(j->dir, sizeof j->dir, "%s", dir);
    snprintf(path, sizeof path, "%s/blobs", dir);
    if ((mkdir(dir, 0700) < 0 && errno != EEXIST) || (mkdir(path, 0700) < 0 && errno != EEXIST)) {
        free(j);
        return sk_fail(err, SK_EIO, "%s: cannot create the data directory: %s", dir, strerror(errno));
    }
    snprintf(path, sizeof path, "%s/journal.sqlite", dir);
    if (sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_db_config(j->db, SQLITE_DBCONFIG_LOOKASIDE, NULL, 1024, 2048) != SQLITE_OK ||
        sqlite3_exec(j->db, schema, NULL, NULL, NULL) != SQLITE_OK || upgrade_schema(j->db) != SQLITE_OK ||
        sqlite3_prepare_v2(j->db,
                           "INSERT INTO jobs(id,tenant,service,submitted_ms,deadline_ms,header,client,input0,rowid)"
                           " VALUES(?,?,?,?,?,?,?,?,?)", -1, &j->ins_job, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(j->db, "INSERT OR REPLACE INTO inputs(job,idx,name,blob,size,data) VALUES(?,?,?,?,?,?)", -1,
                           &j->ins_input, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(j->db, "UPDATE jobs SET state=?, attempt=? WHERE rowid=?", -1, &j->upd_state, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(j->db, "UPDATE jobs SET state=?, code=?, reason=?, finished_ms=?, result_blob=?, result_data=?,"
                                  " attempt=coalesce(?, attempt), result_ref=?, result_size=? WHERE rowid=?",
                           -1, &j->upd_finish, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(j->db, "DELETE FROM jobs WHERE rowid=?", -1, &j->del_job, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(j->db, "DELETE FROM inputs WHERE job=?", -1, &j->del_inputs, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(j->db, "INSERT INTO history(tenant,date,scenario,indicator,area,name,variant,value,band,"
                                  "job,plugin,plugin_hash,simulation,kernel,inputs)"
                                  " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &j->ins_history, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(j->db, "INSERT INTO datasets(tenant,hash,size,created_ms,last_used_ms,name)"
                                  " VALUES(?1,?2,?3,?4,?4,?5) ON CONFLICT(tenant,hash) DO UPDATE SET"
                                  " last_used_ms=excluded.last_used_ms, size=excluded.size,"
                                  " name=COALESCE(excluded.name, datasets.name)", -1, &j->ups_dataset, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(j->db, "DELETE FROM datasets WHERE tenant=? AND hash=?", -1, &j->del_dataset, NULL) !=
            SQLITE_OK) {
        sk_fail(err, SK_EIO, "%s: %s", path, j->db ? sqlite3_errmsg(j->db) : "cannot open");
        sk_journal_close(j);
        return err ? err->code : SK_EIO;
    }
    j->cb = cb;
    j->ud = ud;
    uv_mutex_init(&j->lock);
    uv_cond_init(&j->cond);
    if (uv_async_init(loop, &j->async, on_committed) < 0) {
        sk_journal_close(j);
        return sk_fail(err, SK_EIO, "uv_async_init failed");
    }
    j->async.data = j;
    j->async_ready = true;
    j->last_rowid = max_rowid(j->db);
    *out = j;
    return 0;
}

int sk_journal_start(sk_journal *j, sk_error *err)
{
    if (uv_thread_create(&j->thread, writer_main, j) != 0)
        return sk_fail(err, SK_EIO, "cannot start the journal writer thread");
    j->thread_started = true;
    return 0;
}

static void on_async_closed(uv_handle_t *h)
{
    free(h->data);
}

void sk_journal_close(sk_journal *j)
{
    if (j == NULL)
        return;
    if (j->thread_started) {
        uv_mutex_lock(&j->lock);
        j->quit = true;
        uv_cond_signal(&j->cond);
        uv_mutex_unlock(&j->lock);
        uv_thread_join(&j->thread);
        uv_mutex_destroy(&j->lock);
        uv_cond_destroy(&j->cond);
    }
    for (committed *c = j->done_head, *n; c != NULL; c = n) {
        n = c->next;
        if (c->barrier != NULL)
            c->barrier(c->barrier_ud, false); /* their answers can still go, saying so */
        free(c);
    }
    sqlite3_finalize(j->ins_job);
    sqlite3_finalize(j->ins_input);
    sqlite3_finalize(j->upd_state);
    sqlite3_finalize(j->upd_finish);
    sqlite3_finalize(j->del_job);
    sqlite3_finalize(j->del_inputs);
    sqlite3_finalize(j->ins_history);
    sqlite3_finalize(j->ups_dataset);
    sqlite3_finalize(j->del_dataset);
    if (j->db)
        sqlite3_close(j->db);
    j->db = NULL;
    /* The async handle belongs to the loop: free j once it is closed. */
    if (j->async_ready)
        uv_close((uv_handle_t *)&j->async, on_async_closed);
    else
        free(j);
}

/* A record of one kind, for the job at ref (0: none) with id (or NULL). */
static rec *rec_new(int kind, sk_journal_ref ref, const char *id)
{
    rec *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->kind = kind;
    r->ref = ref;
    if (id != NULL)
        sk_strlcpy(r->id, id, sizeof r->id);
    return r;
}

int sk_journal_submit(sk_journal *j, const char *job_id, const sk_header *submit, const void *client,
                      size_t client_len, int64_t submitted_ms, int64_t deadline_abs_ms, zmq_msg_t *bodies,
                      size_t nbodies, sk_journal_ref *ref)
{
    /* The loop thread numbers the rows, so the ref is known before the
     * writer inserts it; one small input rides in the row (see apply). */
    bool one = nbodies == 1 && zmq_msg_size(&bodies[0]) <= SK_JOURNAL_INLINE_MAX;
    rec *r = rec_new(REC_SUBMIT, ++j->last_rowid * 2 + (nbodies > 0 && !one), job_id);
    if (r == NULL)
        return SK_ENOMEM;
    *ref = r->ref;
    sk_strlcpy(r->tenant, submit->tenant, sizeof r->tenant);
    sk_strlcpy(r->service, submit->service, sizeof r->service);
    if (sk_header_encode(submit, &r->header, &r->header_len, NULL) < 0) {
        free(r);
        return SK_ENOMEM;
    }
    r->submitted_ms = submitted_ms;
    r->deadline_ms = deadline_abs_ms;
    /* Routing ids may be binary: they travel in their own column. */
    r->client_len = client_len < sizeof r->client ? client_len : sizeof r->client;
    memcpy(r->client, client, r->client_len);
    if (nbodies > 0 && (r->bodies = calloc(nbodies, sizeof *r->bodies)) == NULL) {
        free(r->header);
        free(r);
        return SK_ENOMEM;
    }
    r->nbodies = nbodies;
    for (size_t i = 0; i < nbodies; i++) {
        zmq_msg_init(&r->bodies[i].msg);
        zmq_msg_copy(&r->bodies[i].msg, &bodies[i]);
        memcpy(r->bodies[i].name, submit->body_names[i], SK_ID_MAX);
    }
    return push(j, r);
}

int sk_journal_state(sk_journal *j, sk_journal_ref ref, const char *job_id, const char *state, int64_t attempt)
{
    if (ref == 0)
        return 0;
    rec *r = rec_new(REC_STATE, ref, job_id);
    if (r == NULL)
        return SK_ENOMEM;
    sk_strlcpy(r->state, state, sizeof r->state);
    r->attempt = attempt;
    return push(j, r);
}

int sk_journal_finish(sk_journal *j, sk_journal_ref ref, const char *job_id, bool done, int64_t code,
                      const char *reason, zmq_msg_t *result, const sk_data_ref *result_ref, int64_t finished_ms)
{
    if (ref == 0)
        return 0;
    rec *r = rec_new(REC_FINISH, ref, job_id);
    if (r == NULL)
        return SK_ENOMEM;
    sk_strlcpy(r->state, done ? "done" : "failed", sizeof r->state);
    r->code = code;
    sk_strlcpy(r->reason, reason ? reason : "", sizeof r->reason);
    r->finished_ms = finished_ms;
    if (result != NULL) {
        zmq_msg_init(&r->result);
        zmq_msg_copy(&r->result, result);
        r->has_result = true;
    }
    if (result_ref != NULL) {
        sk_strlcpy(r->hash, result_ref->hash, sizeof r->hash);
        r->size = result_ref->size;
        r->has_result_ref = true;
    }
    return push(j, r);
}

int sk_journal_history_put(sk_journal *j, const char *tenant, const char *date, const char *scenario,
                           const char *csv, size_t len)
{
    rec *r = rec_new(REC_HISTORY, 0, NULL);
    if (r == NULL || (r->text = malloc(len + 1)) == NULL) {
        free(r);
        return SK_ENOMEM;
    }
    sk_strlcpy(r->tenant, tenant, sizeof r->tenant);
    sk_strlcpy(r->state, date, sizeof r->state);
    sk_strlcpy(r->reason, scenario, sizeof r->reason);
    memcpy(r->text, csv, len);
    r->text[len] = '\0';
    r->text_len = len;
    return push(j, r);
}

int sk_journal_history_get(sk_journal *j, const char *tenant, const char *since, char **out, size_t *len,
                           sk_error *err)
{
    sqlite3_stmt *q = NULL;
    sqlite3 *db = NULL;
    char path[1200];
    /* Its own read-only connection: the writer's connection may be busy
     * committing, and a WAL reader never waits for a writer. */
    snprintf(path, sizeof path, "%s/journal.sqlite", j->dir);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT date,scenario,indicator,area,name,variant,value,band,"
                           "job,plugin,plugin_hash,simulation,kernel,inputs FROM history"
                           " WHERE tenant=? AND date>=? ORDER BY date, rowid", -1, &q, NULL) != SQLITE_OK) {
        int rc = sk_fail(err, SK_EIO, "history: %s", db ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        return rc;
    }
    sqlite3_bind_text(q, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, since, -1, SQLITE_STATIC);
    sk_buf b = SK_BUF_INIT;
    sk_buf_puts(&b, "date,scenario,indicator,area,name,variant,value,band,job,plugin,plugin_hash,simulation,"
                    "kernel,inputs\n");
    while (sqlite3_step(q) == SQLITE_ROW) {
        for (int c = 0; c < 14; c++) {
            if (c)
                sk_buf_puts(&b, ",");
            if (c == 6) {
                if (sqlite3_column_type(q, 6) != SQLITE_NULL) {
                    char num[40];
                    sk_fmt_f64(num, sizeof num, sqlite3_column_double(q, 6));
                    sk_buf_puts(&b, num);
                }
                continue;
            }
            const unsigned char *t = sqlite3_column_text(q, c);
            sk_csv_put_field(&b, t ? (const char *)t : "");
        }
        sk_buf_puts(&b, "\n");
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    if (b.oom) {
        sk_buf_free(&b);
        return sk_fail(err, SK_ENOMEM, "out of memory");
    }
    *out = sk_buf_steal(&b, len);
    return 0;
}

int sk_journal_dataset(sk_journal *j, const char *tenant, const char *hash, int64_t size, const char *name,
                       int64_t now_ms)
{
    rec *r = rec_new(REC_DATASET, 0, NULL);
    if (r == NULL)
        return SK_ENOMEM;
    sk_strlcpy(r->tenant, tenant, sizeof r->tenant);
    sk_strlcpy(r->hash, hash, sizeof r->hash);
    r->size = size;
    r->finished_ms = now_ms;
    if (name != NULL)
        sk_strlcpy(r->name, name, sizeof r->name);
    return push(j, r);
}

int sk_journal_dataset_forget(sk_journal *j, const char *tenant, const char *hash)
{
    rec *r = rec_new(REC_DATASET_DEL, 0, NULL);
    if (r == NULL)
        return SK_ENOMEM;
    sk_strlcpy(r->tenant, tenant, sizeof r->tenant);
    sk_strlcpy(r->hash, hash, sizeof r->hash);
    return push(j, r);
}

/* A read-only connection of its own (see sk_journal_history_get). */
static int open_reader(sk_journal *j, const char *sql, sqlite3 **db, sqlite3_stmt **q, sk_error *err)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/journal.sqlite", j->dir);
    *db = NULL;
    *q = NULL;
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(*db, sql, -1, q, NULL) != SQLITE_OK) {
        int rc = sk_fail(err, SK_EIO, "journal: %s", *db ? sqlite3_errmsg(*db) : "cannot open");
        sqlite3_close(*db);
        *db = NULL;
        return rc;
    }
    return 0;
}

int sk_journal_datasets_json(sk_journal *j, const char *tenant, sk_buf *out, sk_error *err)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    if (open_reader(j, "SELECT hash,size,created_ms,last_used_ms,name FROM datasets WHERE tenant=?"
                       " ORDER BY created_ms, hash", &db, &q, err) < 0)
        return err != NULL ? err->code : SK_EIO;
    sqlite3_bind_text(q, 1, tenant, -1, SQLITE_STATIC);
    sk_buf_puts(out, "{\"tenant\":");
    sk_json_str(out, tenant);
    sk_buf_puts(out, ",\"datasets\":[");
    int rc, n = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        sk_buf_puts(out, n++ ? ",{\"hash\":" : "{\"hash\":");
        sk_json_str(out, (const char *)sqlite3_column_text(q, 0));
        sk_buf_puts(out, ",\"size\":");
        sk_json_i64(out, sqlite3_column_int64(q, 1));
        sk_buf_puts(out, ",\"created_ms\":");
        sk_json_i64(out, sqlite3_column_int64(q, 2));
        sk_buf_puts(out, ",\"last_used_ms\":");
        sk_json_i64(out, sqlite3_column_int64(q, 3));
        sk_buf_puts(out, ",\"name\":");
        if (sqlite3_column_type(q, 4) == SQLITE_NULL)
            sk_buf_puts(out, "null");
        else
            sk_json_str(out, (const char *)sqlite3_column_text(q, 4));
        sk_buf_puts(out, "}");
    }
    sk_buf_puts(out, "]}");
    sqlite3_finalize(q);
    sqlite3_close(db);
    if (rc != SQLITE_DONE)
        return sk_fail(err, SK_EIO, "journal: cannot list datasets");
    return out->oom ? sk_fail(err, SK_ENOMEM, "out of memory") : 0;
}

int sk_journal_datasets_scan(sk_journal *j, void (*fn)(void *ud, const char *tenant, const char *hash, int64_t size,
                                                      int64_t last_used_ms),
                             void *ud, sk_error *err)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    if (open_reader(j, "SELECT tenant,hash,size,last_used_ms FROM datasets ORDER BY last_used_ms DESC, hash", &db,
                    &q, err) < 0)
        return err != NULL ? err->code : SK_EIO;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        fn(ud, (const char *)sqlite3_column_text(q, 0), (const char *)sqlite3_column_text(q, 1),
           sqlite3_column_int64(q, 2), sqlite3_column_int64(q, 3));
    sqlite3_finalize(q);
    sqlite3_close(db);
    return rc == SQLITE_DONE ? 0 : sk_fail(err, SK_EIO, "journal: cannot scan datasets");
}

int sk_journal_barrier(sk_journal *j, sk_journal_barrier_fn fn, void *ud)
{
    rec *r = rec_new(REC_BARRIER, 0, NULL);
    if (r == NULL)
        return SK_ENOMEM;
    r->barrier = fn;
    r->barrier_ud = ud;
    return push(j, r);
}

int sk_journal_forget(sk_journal *j, sk_journal_ref ref, const char *job_id)
{
    if (ref == 0)
        return 0;
    rec *r = rec_new(REC_FORGET, ref, job_id);
    if (r == NULL)
        return SK_ENOMEM;
    return push(j, r);
}

void sk_journal_job_clear(sk_journal_job *jj)
{
    sk_header_clear(&jj->hdr);
    for (size_t i = 0; i < jj->nbodies; i++)
        zmq_msg_close(&jj->bodies[i]);
    jj->nbodies = 0;
    if (jj->has_result)
        zmq_msg_close(&jj->result);
    jj->has_result = false;
}

int sk_journal_load(sk_journal *j, sk_journal_job **jobs, size_t *n, sk_error *err)
{
    sqlite3_stmt *q = NULL, *qi = NULL;
    size_t cap = 0, count = 0;
    sk_journal_job *arr = NULL;
    *jobs = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(j->db,
                           "SELECT id,state,attempt,submitted_ms,deadline_ms,finished_ms,code,reason,header,"
                           "result_blob,tenant,client,result_data,input0,rowid,"
                           "input0 IS NULL AND EXISTS(SELECT 1 FROM inputs WHERE inputs.job=jobs.id),"
                           "result_ref,result_size FROM jobs ORDER BY submitted_ms, rowid", -1, &q, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(j->db, "SELECT idx,name,blob,data FROM inputs WHERE job=? ORDER BY idx", -1, &qi, NULL) !=
            SQLITE_OK) {
        sqlite3_finalize(q);
        return sk_fail(err, SK_EIO, "journal: %s", sqlite3_errmsg(j->db));
    }
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 256;
            sk_journal_job *na = realloc(arr, cap * sizeof *na);
            if (na == NULL) {
                rc = SQLITE_NOMEM;
                break;
            }
            arr = na;
        }
        sk_journal_job *jj = &arr[count];
        memset(jj, 0, sizeof *jj);
        const void *hb = sqlite3_column_blob(q, 8);
        int hl = sqlite3_column_bytes(q, 8);
        sk_error herr = SK_ERROR_INIT;
        if (hb == NULL || sk_header_decode(hb, (size_t)hl, &jj->hdr, &herr) < 0) {
            sk_warn("msg=\"journal: skipping a job whose header cannot be read\" job=%s error=\"%s\"",
                    (const char *)sqlite3_column_text(q, 0), herr.msg);
            continue;
        }
        sk_strlcpy(jj->hdr.job, (const char *)sqlite3_column_text(q, 0), sizeof jj->hdr.job);
        jj->ref = sqlite3_column_int64(q, 14) * 2 + (sqlite3_column_int(q, 15) != 0);
        sk_strlcpy(jj->state, (const char *)sqlite3_column_text(q, 1), sizeof jj->state);
        jj->attempt = sqlite3_column_int64(q, 2);
        jj->submitted_ms = sqlite3_column_int64(q, 3);
        jj->deadline_abs_ms = sqlite3_column_int64(q, 4);
        jj->finished_ms = sqlite3_column_int64(q, 5);
        jj->code = sqlite3_column_int64(q, 6);
        const void *cb = sqlite3_column_blob(q, 11);
        int cl = sqlite3_column_bytes(q, 11);
        if (cb != NULL && cl > 0 && (size_t)cl <= sizeof jj->client) {
            memcpy(jj->client, cb, (size_t)cl);
            jj->client_len = (size_t)cl;
        }
        if (sqlite3_column_text(q, 7))
            sk_strlcpy(jj->reason, (const char *)sqlite3_column_text(q, 7), sizeof jj->reason);
        bool ok = true;
        if (strcmp(jj->state, "done") == 0 && sqlite3_column_text(q, 16) != NULL) {
            /* By reference: the dataset store holds it (the broker checks). */
            sk_strlcpy(jj->result_ref.input, "result", sizeof jj->result_ref.input);
            sk_strlcpy(jj->result_ref.hash, (const char *)sqlite3_column_text(q, 16), sizeof jj->result_ref.hash);
            jj->result_ref.size = sqlite3_column_int64(q, 17);
            jj->has_result_ref = true;
        } else if (strcmp(jj->state, "done") == 0 && sqlite3_column_text(q, 9) != NULL) {
            if (blob_read(j, (const char *)sqlite3_column_text(q, 9), &jj->result) == 0)
                jj->has_result = true;
            else
                ok = false;
        } else if (strcmp(jj->state, "done") == 0 && sqlite3_column_type(q, 12) == SQLITE_BLOB) {
            int rl = sqlite3_column_bytes(q, 12);
            if (zmq_msg_init_size(&jj->result, (size_t)rl) == 0) {
                memcpy(zmq_msg_data(&jj->result), sqlite3_column_blob(q, 12), (size_t)rl);
                jj->has_result = true;
            } else {
                ok = false;
            }
        }
        bool active = strcmp(jj->state, "queued") == 0 || strcmp(jj->state, "running") == 0;
        if (active && sqlite3_column_type(q, 13) == SQLITE_BLOB) {
            int bl = sqlite3_column_bytes(q, 13);
            if (zmq_msg_init_size(&jj->bodies[0], (size_t)bl) == 0) {
                if (bl > 0)
                    memcpy(zmq_msg_data(&jj->bodies[0]), sqlite3_column_blob(q, 13), (size_t)bl);
                jj->nbodies = 1;
            } else {
                ok = false;
            }
        } else if (active) {
            sqlite3_reset(qi);
            sqlite3_bind_text(qi, 1, jj->hdr.job, -1, SQLITE_TRANSIENT);
            while (ok && sqlite3_step(qi) == SQLITE_ROW && jj->nbodies < SK_MAX_BODIES) {
                zmq_msg_t *body = &jj->bodies[jj->nbodies];
                if (sqlite3_column_type(qi, 3) == SQLITE_BLOB || sqlite3_column_type(qi, 2) == SQLITE_NULL) {
                    int bl = sqlite3_column_bytes(qi, 3);
                    if (zmq_msg_init_size(body, (size_t)bl) < 0) {
                        ok = false;
                        break;
                    }
                    if (bl > 0)
                        memcpy(zmq_msg_data(body), sqlite3_column_blob(qi, 3), (size_t)bl);
                    jj->nbodies++;
                } else if (blob_read(j, (const char *)sqlite3_column_text(qi, 2), body) < 0) {
                    ok = false;
                } else {
                    jj->nbodies++;
                }
            }
        }
        if (!ok) {
            sk_warn("msg=\"journal: a blob of this job is missing; it fails\" job=%s", jj->hdr.job);
            for (size_t i = 0; i < jj->nbodies; i++)
                zmq_msg_close(&jj->bodies[i]);
            jj->nbodies = 0;
            sk_strlcpy(jj->state, "failed", sizeof jj->state);
            jj->code = SK_EIO;
            sk_strlcpy(jj->reason, "its stored input or result was lost", sizeof jj->reason);
        }
        count++;
    }
    sqlite3_finalize(q);
    sqlite3_finalize(qi);
    if (rc != SQLITE_DONE) {
        for (size_t i = 0; i < count; i++)
            sk_journal_job_clear(&arr[i]);
        free(arr);
        return sk_fail(err, SK_EIO, "journal: %s", sqlite3_errmsg(j->db));
    }
    *jobs = arr;
    *n = count;
    return 0;
}

void sk_journal_on_commit(sk_journal *j, void (*fn)(void *ud, double seconds, size_t records), void *ud)
{
    uv_mutex_lock(&j->lock);
    j->on_commit = fn;
    j->on_commit_ud = ud;
    uv_mutex_unlock(&j->lock);
}

void sk_journal_stats(sk_journal *j, uint64_t *commits, uint64_t *records, double *last_commit_ms)
{
    uv_mutex_lock(&j->lock);
    *commits = j->commits;
    *records = j->records;
    *last_commit_ms = j->last_commit_ms;
    uv_mutex_unlock(&j->lock);
}
