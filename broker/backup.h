/* backup.h - `samskap-broker --backup DEST --data-dir DIR`. */
#ifndef SK_BROKER_BACKUP_H
#define SK_BROKER_BACKUP_H

#include <stddef.h>

#include "sk_error.h"

/* Copy DIR's journal (one consistent snapshot, while a broker may be
 * writing) and the blobs it names into the new directory DEST, which is
 * then a valid --data-dir. */
int sk_broker_backup(const char *data_dir, const char *dest, size_t *nblobs, sk_error *err);

#endif
