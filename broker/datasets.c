/* datasets.c - chunked, verified, tenant-scoped dataset storage (see
 * datasets.h). */
#include "datasets.h"

#include "sk_csv.h"
#include "sk_hash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int file_sha256(const char *path, char out[72])
{
    sk_sha256_state st;
    unsigned char d[32], buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;
    if (fd < 0)
        return -1;
    sk_sha256_init(&st);
    while ((n = read(fd, buf, sizeof buf)) > 0)
        sk_sha256_update(&st, buf, (size_t)n);
    close(fd);
    if (n < 0)
        return -1;
    sk_sha256_final(&st, d);
    sk_sha256_format(d, out);
    return 0;
}

/* Where a tenant's dataset lives (name: its file name); the directories
 * for datasets and uploads are made if missing. */
static void dataset_paths(const char *dir, const char *tenant, const char *hash, char name[65], char final[1400])
{
    char sub[1200];
    sk_scoped_name(tenant, hash, name);
    snprintf(sub, sizeof sub, "%s/datasets", dir);
    mkdir(sub, 0700);
    snprintf(sub, sizeof sub, "%s/uploads", dir);
    mkdir(sub, 0700);
    snprintf(final, 1400, "%s/datasets/%s", dir, name);
}

static int check_chunk(const char *hash, int64_t offset, int64_t total, size_t len, sk_error *err)
{
    if (!sk_hash_valid(hash))
        return sk_fail(err, SK_EINVAL, "dataset name must be sha256:<64 lowercase hex>");
    if (total < 0 || total > SK_DATASET_MAX || offset < 0 || offset > total || (int64_t)len > total - offset)
        return sk_fail(err, SK_EINVAL, "chunk [%lld, +%zu) does not fit a dataset of %lld bytes (limit %lld)",
                       (long long)offset, len, (long long)total, (long long)SK_DATASET_MAX);
    return 0;
}

/* The last step of every upload: the bytes (hashing to got) become the
 * dataset only if they hash to its name. */
static int complete_part(const char *part, const char *final, const char *got, const char *hash, int64_t *next,
                         sk_error *err)
{
    if (strcmp(got, hash) != 0) {
        unlink(part);
        *next = 0;
        return sk_fail(err, SK_EINVAL, "the uploaded bytes hash to %s, not %s (a corrupted chunk?): refused, upload again",
                       got, hash);
    }
    if (rename(part, final) < 0)
        return sk_fail(err, SK_EIO, "dataset store: %s", strerror(errno));
    return 0;
}

int sk_dataset_put(const char *dir, const char *tenant, const char *hash, int64_t offset, int64_t total,
                   const void *data, size_t len, int64_t *next, bool *complete, sk_error *err)
{
    char name[65], final[1400], part[1400];
    struct stat st;
    *complete = false;
    *next = 0;
    if (check_chunk(hash, offset, total, len, err) < 0)
        return err != NULL ? err->code : SK_EINVAL;
    dataset_paths(dir, tenant, hash, name, final);
    snprintf(part, sizeof part, "%s/uploads/%s.part", dir, name);
    if (stat(final, &st) == 0) {
        *next = st.st_size;
        *complete = true;
        return 0; /* already stored: uploads are idempotent */
    }
    int64_t have = stat(part, &st) == 0 ? st.st_size : 0;
    if (offset != have) {
        *next = have;
        return sk_fail(err, SK_EINVAL, "expected the chunk at offset %lld, got %lld (resume from there)",
                       (long long)have, (long long)offset);
    }
    int fd = open(part, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return sk_fail(err, SK_EIO, "dataset store: %s", strerror(errno));
    if (sk_write_all(fd, data, len) < 0) {
        close(fd);
        return sk_fail(err, SK_EIO, "dataset store: %s", errno ? strerror(errno) : "short write");
    }
    *next = offset + (int64_t)len;
    if (*next < total) {
        close(fd);
        return 0;
    }
    int sync_rc = fsync(fd);
    close(fd);
    char got[72];
    if (sync_rc < 0 || file_sha256(part, got) < 0) {
        unlink(part);
        return sk_fail(err, SK_EIO, "dataset store: cannot verify the upload");
    }
    if (complete_part(part, final, got, hash, next, err) < 0)
        return err != NULL ? err->code : SK_EIO;
    *complete = true;
    return 0;
}

int sk_dataset_get(const char *dir, const char *tenant, const char *hash, int64_t offset, size_t maxlen,
                   zmq_msg_t *out, int64_t *size, sk_error *err)
{
    char name[65], path[1400];
    struct stat st;
    if (!sk_hash_valid(hash))
        return sk_fail(err, SK_EINVAL, "dataset name must be sha256:<64 lowercase hex>");
    sk_scoped_name(tenant, hash, name);
    snprintf(path, sizeof path, "%s/datasets/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0)
            close(fd);
        return sk_fail(err, SK_ENOTFOUND, "no such dataset: %s", hash);
    }
    *size = st.st_size;
    if (offset < 0 || offset > st.st_size) {
        close(fd);
        return sk_fail(err, SK_EINVAL, "offset %lld is outside the dataset (%lld bytes)", (long long)offset,
                       (long long)st.st_size);
    }
    size_t n = (size_t)(st.st_size - offset) < maxlen ? (size_t)(st.st_size - offset) : maxlen;
    if (zmq_msg_init_size(out, n) < 0) {
        close(fd);
        return sk_fail(err, SK_ENOMEM, "out of memory");
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)zmq_msg_data(out) + got, n - got, offset + (off_t)got);
        if (r <= 0) {
            close(fd);
            zmq_msg_close(out);
            return sk_fail(err, SK_EIO, "dataset read failed");
        }
        got += (size_t)r;
    }
    close(fd);
    return 0;
}

int sk_dataset_stat(const char *dir, const char *tenant, const char *hash, int64_t *size, sk_error *err)
{
    char name[65], path[1400];
    struct stat st;
    if (!sk_hash_valid(hash))
        return sk_fail(err, SK_EINVAL, "dataset name must be sha256:<64 lowercase hex>");
    sk_scoped_name(tenant, hash, name);
    snprintf(path, sizeof path, "%s/datasets/%s", dir, name);
    if (stat(path, &st) < 0)
        return sk_fail(err, SK_ENOTFOUND, "no such dataset: %s", hash);
    *size = st.st_size;
    return 0;
}

int sk_dataset_store(const char *dir, const char *tenant, const void *data, size_t len, char hash[SK_HASH_NAME_LEN],
                     bool *created, sk_error *err)
{
    char name[65], final[1400], tmp[1400], sub[1200];
    struct stat st;
    *created = false;
    sk_sha256_name(data, len, hash);
    sk_scoped_name(tenant, hash, name);
    snprintf(final, sizeof final, "%s/datasets/%s", dir, name);
    if (stat(final, &st) == 0 && st.st_size == (off_t)len)
        return 0;
    snprintf(sub, sizeof sub, "%s/datasets", dir);
    mkdir(sub, 0700);
    snprintf(sub, sizeof sub, "%s/uploads", dir);
    mkdir(sub, 0700);
    snprintf(tmp, sizeof tmp, "%s/uploads/%s.store", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return sk_fail(err, SK_EIO, "dataset store: %s", strerror(errno));
    if (sk_write_all(fd, data, len) < 0) {
        close(fd);
        unlink(tmp);
        return sk_fail(err, SK_EIO, "dataset store: %s", errno ? strerror(errno) : "short write");
    }
    /* No fsync: the journal holds the result itself; this copy can be made
     * again from it. */
    if (close(fd) < 0 || rename(tmp, final) < 0) {
        unlink(tmp);
        return sk_fail(err, SK_EIO, "dataset store: %s", strerror(errno));
    }
    *created = true;
    return 0;
}

int sk_dataset_remove(const char *dir, const char *tenant, const char *hash)
{
    char name[65], path[1400];
    if (!sk_hash_valid(hash))
        return -1;
    sk_scoped_name(tenant, hash, name);
    snprintf(path, sizeof path, "%s/datasets/%s", dir, name);
    return unlink(path);
}

/* ---- result uploads ---- */

struct sk_dataset_upload {
    char hash[SK_HASH_NAME_LEN];
    char part[1400], final[1400];
    int64_t total, next;
    int fd;
    bool complete;
    sk_sha256_state st;
};

sk_dataset_upload *sk_dataset_upload_new(const char *dir, const char *tenant, const char *hash, int64_t total,
                                         const char *owner, sk_error *err)
{
    char name[65], oname[65];
    struct stat st;
    if (check_chunk(hash, 0, total, 0, err) < 0)
        return NULL;
    sk_dataset_upload *u = calloc(1, sizeof *u);
    if (u == NULL) {
        sk_fail(err, SK_ENOMEM, "out of memory");
        return NULL;
    }
    sk_strlcpy(u->hash, hash, sizeof u->hash);
    u->total = total;
    u->fd = -1;
    dataset_paths(dir, tenant, hash, name, u->final);
    /* The owner's name is hashed too: job ids of jobs adopted from nodes
     * are not trusted as file names. */
    sk_scoped_name(tenant, owner, oname);
    snprintf(u->part, sizeof u->part, "%s/uploads/result-%s.part", dir, oname);
    if (stat(u->final, &st) == 0 && st.st_size == total) {
        u->complete = true; /* the same bytes are stored already */
        u->next = total;
        return u;
    }
    u->fd = open(u->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (u->fd < 0) {
        sk_fail(err, SK_EIO, "dataset store: %s", strerror(errno));
        free(u);
        return NULL;
    }
    sk_sha256_init(&u->st);
    return u;
}

int sk_dataset_upload_put(sk_dataset_upload *u, int64_t offset, const void *data, size_t len, int64_t *next,
                          bool *complete, sk_error *err)
{
    *next = u->next;
    *complete = u->complete;
    if (u->complete)
        return 0; /* a late chunk of a finished upload changes nothing */
    if (offset != u->next)
        return sk_fail(err, SK_EINVAL, "expected the chunk at offset %lld, got %lld", (long long)u->next,
                       (long long)offset);
    if (check_chunk(u->hash, offset, u->total, len, err) < 0)
        return err != NULL ? err->code : SK_EINVAL;
    if (sk_write_all(u->fd, data, len) < 0)
        return sk_fail(err, SK_EIO, "dataset store: %s", errno ? strerror(errno) : "short write");
    sk_sha256_update(&u->st, data, len);
    u->next += (int64_t)len;
    *next = u->next;
    if (u->next < u->total)
        return 0;
    int sync_rc = fsync(u->fd);
    int close_rc = close(u->fd);
    u->fd = -1;
    if (sync_rc < 0 || close_rc < 0) {
        unlink(u->part);
        return sk_fail(err, SK_EIO, "dataset store: cannot write the upload: %s", strerror(errno));
    }
    unsigned char d[32];
    char got[SK_HASH_NAME_LEN];
    sk_sha256_final(&u->st, d);
    sk_sha256_format(d, got);
    if (complete_part(u->part, u->final, got, u->hash, next, err) < 0)
        return err != NULL ? err->code : SK_EIO;
    u->complete = *complete = true;
    return 0;
}

bool sk_dataset_upload_complete(const sk_dataset_upload *u)
{
    return u->complete;
}

const char *sk_dataset_upload_hash(const sk_dataset_upload *u)
{
    return u->hash;
}

int64_t sk_dataset_upload_total(const sk_dataset_upload *u)
{
    return u->total;
}

void sk_dataset_upload_free(sk_dataset_upload *u)
{
    if (u == NULL)
        return;
    if (u->fd >= 0)
        close(u->fd);
    if (!u->complete)
        unlink(u->part);
    free(u);
}

void sk_dataset_upload_sweep(const char *dir)
{
    char sub[1200], path[1500];
    snprintf(sub, sizeof sub, "%s/uploads", dir);
    DIR *d = opendir(sub);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "result-", 7) == 0 && l > 5 && strcmp(e->d_name + l - 5, ".part") == 0) {
            snprintf(path, sizeof path, "%s/%s", sub, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}
