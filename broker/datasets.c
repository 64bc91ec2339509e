/* datasets.c - chunked, verified, tenant-scoped dataset storage (see
 * datasets.h). */
#include "datasets.h"

#include "sk_csv.h"
#include "sk_hash.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int file_sha256(const char *path, char out[72])
{
    crypto_hash_sha256_state st;
    unsigned char d[32], buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;
    if (fd < 0)
        return -1;
    crypto_hash_sha256_init(&st);
    while ((n = read(fd, buf, sizeof buf)) > 0)
        crypto_hash_sha256_update(&st, buf, (size_t)n);
    close(fd);
    if (n < 0)
        return -1;
    crypto_hash_sha256_final(&st, d);
    sk_sha256_format(d, out);
    return 0;
}

int sk_dataset_put(const char *dir, const char *tenant, const char *hash, int64_t offset, int64_t total,
                   const void *data, size_t len, int64_t *next, bool *complete, sk_error *err)
{
    char name[65], final[1400], part[1400], sub[1200];
    struct stat st;
    *complete = false;
    *next = 0;
    if (!sk_hash_valid(hash))
        return sk_fail(err, SK_EINVAL, "dataset name must be sha256:<64 lowercase hex>");
    if (total < 0 || total > SK_DATASET_MAX || offset < 0 || offset > total || (int64_t)len > total - offset)
        return sk_fail(err, SK_EINVAL, "chunk [%lld, +%zu) does not fit a dataset of %lld bytes (limit %lld)",
                       (long long)offset, len, (long long)total, (long long)SK_DATASET_MAX);
    sk_scoped_name(tenant, hash, name);
    snprintf(sub, sizeof sub, "%s/datasets", dir);
    mkdir(sub, 0700);
    snprintf(sub, sizeof sub, "%s/uploads", dir);
    mkdir(sub, 0700);
    snprintf(final, sizeof final, "%s/datasets/%s", dir, name);
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
    if (strcmp(got, hash) != 0) {
        unlink(part);
        *next = 0;
        return sk_fail(err, SK_EINVAL, "the uploaded bytes hash to %s, not %s (a corrupted chunk?): refused, upload again",
                       got, hash);
    }
    if (rename(part, final) < 0)
        return sk_fail(err, SK_EIO, "dataset store: %s", strerror(errno));
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
