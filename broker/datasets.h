/* datasets.h - datasets stored by content hash under the broker's data
 * directory, uploaded and downloaded in chunks (files larger than a frame).
 *
 * A dataset is named by the SHA-256 of its content ("sha256:<hex>"); the
 * file name also hashes the tenant, so no tenant learns whether another
 * holds the same file.  Chunks arrive in order; the last one completes the
 * upload only if the whole file hashes to the name it was announced under. */
#ifndef SK_DATASETS_H
#define SK_DATASETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "sk_error.h"
#include "sk_hash.h"

#define SK_DATASET_MAX ((int64_t)16 << 30)

int sk_dataset_put(const char *dir, const char *tenant, const char *hash, int64_t offset, int64_t total,
                   const void *data, size_t len, int64_t *next, bool *complete, sk_error *err);
/* Up to maxlen bytes from offset into *out (zmq_msg_init'ed here); *size is
 * the dataset's size. */
int sk_dataset_get(const char *dir, const char *tenant, const char *hash, int64_t offset, size_t maxlen,
                   zmq_msg_t *out, int64_t *size, sk_error *err);

/* The stored dataset's size, or SK_ENOTFOUND. */
int sk_dataset_stat(const char *dir, const char *tenant, const char *hash, int64_t *size, sk_error *err);
/* Store a whole buffer (a dependency's result) under its content name,
 * written into *hash; *created is false when it was stored already. */
int sk_dataset_store(const char *dir, const char *tenant, const void *data, size_t len, char hash[SK_HASH_NAME_LEN],
                     bool *created, sk_error *err);
/* Delete a stored dataset (retention); 0 or -1 with errno. */
int sk_dataset_remove(const char *dir, const char *tenant, const char *hash);

/* A job's result uploaded by its node in chunks (docs/protocol.md,
 * "Results by reference").  Unlike a client's upload it belongs to one
 * owner (a job's attempt): its partial file is its own, the bytes are
 * hashed as they arrive (the last chunk costs no second read of the file),
 * and freeing an unfinished upload deletes what it had.  It ends like any
 * upload: the whole must hash to the announced name before it becomes the
 * tenant's dataset; a dataset stored already completes it at once. */
typedef struct sk_dataset_upload sk_dataset_upload;

sk_dataset_upload *sk_dataset_upload_new(const char *dir, const char *tenant, const char *hash, int64_t total,
                                         const char *owner, sk_error *err);
/* The chunk at offset (it must be where the upload stands); *next: where
 * it stands after; *complete: stored and verified. */
int sk_dataset_upload_put(sk_dataset_upload *u, int64_t offset, const void *data, size_t len, int64_t *next,
                          bool *complete, sk_error *err);
bool sk_dataset_upload_complete(const sk_dataset_upload *u);
const char *sk_dataset_upload_hash(const sk_dataset_upload *u);
int64_t sk_dataset_upload_total(const sk_dataset_upload *u);
void sk_dataset_upload_free(sk_dataset_upload *u);
/* Delete the partial files of result uploads (a broker starting: no upload
 * of before survives a restart; nodes start theirs again). */
void sk_dataset_upload_sweep(const char *dir);

#endif
