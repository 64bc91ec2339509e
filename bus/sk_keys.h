/* sk_keys.h - CurveZMQ key files and the broker's access list.
 *
 * A key pair file (written by `samskap keygen`, mode 0600):
 *     # samskap key pair "alesund-node-1"
 *     public = <40 Z85 characters>
 *     secret = <40 Z85 characters>
 * A public key file has only the `public` line.  A file holding a secret
 * key must not be readable by group or others; reading one that is fails.
 *
 * The access list (one line per key; '#' starts a comment line):
 *     ROLE  NAME  PUBLIC-KEY  TENANTS  [SERVICES]
 *     node    haram-1   <Z85>  1534,1507  sim.water,sim.power
 *     client  pipeline  <Z85>  1504
 *     admin   ops       <Z85>  *
 * ROLE is client, node or admin; TENANTS and SERVICES are comma lists or
 * `*`.  It maps each key to what it may do; the broker decides, not the
 * peer's own announcement. */
#ifndef SK_KEYS_H
#define SK_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "sk_error.h"

#define SK_KEY_Z85 41   /* 40 characters + NUL */

typedef struct sk_keypair {
    char public_key[SK_KEY_Z85];
    char secret_key[SK_KEY_Z85];   /* "" for a public-only file */
} sk_keypair;

/* Generate a pair; write it (0600) to PATH and the public half to
 * PATH.pub.  Refuses to overwrite. */
int sk_keygen(const char *path, const char *name, sk_keypair *out, sk_error *err);
/* Read a key pair (need_secret) or a public key file. */
int sk_key_read(const char *path, bool need_secret, sk_keypair *out, sk_error *err);

typedef enum { SK_ROLE_CLIENT = 1, SK_ROLE_NODE = 2, SK_ROLE_ADMIN = 3 } sk_role;

typedef struct sk_access_entry {
    sk_role role;
    char name[64];
    char public_key[SK_KEY_Z85];
    char tenants[1024];    /* comma list or "*" */
    char services[1024];   /* comma list or "*" */
} sk_access_entry;

typedef struct sk_access {
    size_t n;
    sk_access_entry *items;
} sk_access;

int sk_access_read(const char *path, sk_access **out, sk_error *err);
int sk_access_parse(const char *text, size_t len, const char *filename, sk_access **out, sk_error *err);
void sk_access_free(sk_access *a);
const sk_access_entry *sk_access_by_key(const sk_access *a, const char *z85);
const sk_access_entry *sk_access_by_name(const sk_access *a, const char *name);
/* Is item in the comma list (or is the list "*")? */
bool sk_list_allows(const char *list, const char *item);
const char *sk_role_name(sk_role r);

#endif
