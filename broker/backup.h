/* backup.h - `samskap-broker --backup DEST --data-dir DIR`. */
#ifndef SK_BROKER_BACKUP_H
#define SK_BROKER_BACKUP_H

#include <stddef.h>

#include "sk_error.h"

/* Copy DIR's journal (one consistent snapshot, while a broker may be
 * writing), the blobs it names and the datasets that hold results by
 * reference into the new directory DEST, which is then a valid --data-dir.
 * *nblobs counts the files copied besides the journal. */
int sk_broker_backup(const char *data_dir, const char *dest, size_t *nblobs, sk_error *err);

#endif
