/* backup.c - an online, consistent copy of a broker's data directory.
 *
 * SQLite's backup API copies the journal as one snapshot while the broker
 * keeps writing (WAL mode).  Blobs are written and synced before the rows
 * that name them commit, so every blob the snapshot names exists; those are
 * copied (hard-linked when on the same file system: blobs never change).
 * So are the datasets that hold results by reference: stored before the
 * result that names them is journaled.  Other datasets are not copied. */
#include "backup.h"

#include "sk_hash.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int copy_file(const char *from, const char *to)
{
    if (link(from, to) == 0 || errno == EEXIST)
        return 0;
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        close(in);
        return -1;
    }
    char buf[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) {
            rc = -1;
            break;
        }
    if (n < 0 || fsync(out) < 0)
        rc = -1;
    close(in);
    close(out);
    return rc;
}

int sk_broker_backup(const char *data_dir, const char *dest, size_t *nblobs, sk_error *err)
{
    char src[1200], dst[1200];
    sqlite3 *from = NULL, *to = NULL;
    *nblobs = 0;
    if (mkdir(dest, 0700) < 0)
        return sk_fail(err, SK_EIO, "%s: %s", dest, errno == EEXIST ? "exists; give a new directory" : strerror(errno));
    snprintf(dst, sizeof dst, "%s/blobs", dest);
    if (mkdir(dst, 0700) < 0)
        return sk_fail(err, SK_EIO, "%s: %s", dst, strerror(errno));
    snprintf(src, sizeof src, "%s/journal.sqlite", data_dir);
    snprintf(dst, sizeof dst, "%s/journal.sqlite", dest);
    if (access(src, R_OK) < 0)
        return sk_fail(err, SK_EIO, "%s: %s (is %s a broker's --data-dir?)", src, strerror(errno), data_dir);
    if (sqlite3_open_v2(src, &from, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_open_v2(dst, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        int rc = sk_fail(err, SK_EIO, "cannot open the journals: %s", sqlite3_errmsg(from ? to ? to : from : from));
        sqlite3_close(from);
        sqlite3_close(to);
        return rc;
    }
    sqlite3_busy_timeout(from, 5000);
    sqlite3_backup *bk = sqlite3_backup_init(to, "main", from, "main");
    int rc = SQLITE_OK;
    if (bk == NULL) {
        rc = sqlite3_errcode(to);
    } else {
        /* All pages in one step: one consistent snapshot even while the
         * broker commits (a stepwise copy would restart on each write). */
        do {
            rc = sqlite3_backup_step(bk, -1);
            if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
                sqlite3_sleep(50);
        } while (rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
        sqlite3_backup_finish(bk);
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK) {
        int r = sk_fail(err, SK_EIO, "backup of %s failed: %s", src, sqlite3_errstr(rc));
        sqlite3_close(from);
        sqlite3_close(to);
        return r;
    }
    sqlite3_close(from);
    /* Copy the blobs the snapshot names. */
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(to,
                           "SELECT blob FROM inputs WHERE blob IS NOT NULL UNION SELECT result_blob FROM jobs WHERE result_blob IS NOT NULL",
                           -1, &q, NULL) != SQLITE_OK) {
        int r = sk_fail(err, SK_EIO, "%s: %s", dst, sqlite3_errmsg(to));
        sqlite3_close(to);
        return r;
    }
    int r = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(q, 0);
        if (name == NULL || strlen(name) != 64 || strspn(name, "0123456789abcdef") != 64)
            continue;
        char sub[1200];
        snprintf(sub, sizeof sub, "%s/blobs/%.2s", dest, name);
        if (mkdir(sub, 0700) < 0 && errno != EEXIST) {
            r = sk_fail(err, SK_EIO, "%s: %s", sub, strerror(errno));
            break;
        }
        snprintf(src, sizeof src, "%s/blobs/%.2s/%s", data_dir, name, name);
        snprintf(dst, sizeof dst, "%s/blobs/%.2s/%s", dest, name, name);
        if (copy_file(src, dst) < 0) {
            r = sk_fail(err, SK_EIO, "cannot copy blob %s: %s", src, strerror(errno));
            break;
        }
        (*nblobs)++;
    }
    sqlite3_finalize(q);
    /* Results by reference: datasets of their job's tenant.  A journal of
     * a broker without them has no result_ref column: nothing to copy. */
    q = NULL;
    if (r == 0 && sqlite3_prepare_v2(to, "SELECT DISTINCT tenant, result_ref FROM jobs WHERE result_ref IS NOT NULL",
                                     -1, &q, NULL) == SQLITE_OK) {
        snprintf(dst, sizeof dst, "%s/datasets", dest);
        if (mkdir(dst, 0700) < 0 && errno != EEXIST)
            r = sk_fail(err, SK_EIO, "%s: %s", dst, strerror(errno));
        while (r == 0 && sqlite3_step(q) == SQLITE_ROW) {
            const char *tenant = (const char *)sqlite3_column_text(q, 0), *hash = (const char *)sqlite3_column_text(q, 1);
            char name[65];
            if (tenant == NULL || hash == NULL || !sk_hash_valid(hash))
                continue;
            sk_scoped_name(tenant, hash, name);
            snprintf(src, sizeof src, "%s/datasets/%s", data_dir, name);
            snprintf(dst, sizeof dst, "%s/datasets/%s", dest, name);
            if (copy_file(src, dst) < 0) {
                r = sk_fail(err, SK_EIO, "cannot copy the result dataset %s: %s", src, strerror(errno));
                break;
            }
            (*nblobs)++;
        }
    }
    sqlite3_finalize(q);
    sqlite3_close(to);
    return r;
}
