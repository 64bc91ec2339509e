/* sk_keys.c - key files and the access list (see sk_keys.h). */
#include "sk_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "sk_csv.h"

static bool z85_key_ok(const char *s)
{
    uint8_t bin[32];
    return strlen(s) == 40 && zmq_z85_decode(bin, s) != NULL;
}

int sk_keygen(const char *path, const char *name, sk_keypair *out, sk_error *err)
{
    char pubpath[4096];
    if (snprintf(pubpath, sizeof pubpath, "%s.pub", path) >= (int)sizeof pubpath)
        return sk_fail(err, SK_EINVAL, "%s: path too long", path);
    if (zmq_curve_keypair(out->public_key, out->secret_key) != 0)
        return sk_fail(err, SK_EUNSUPPORTED, "this libzmq cannot make CURVE keys: %s", zmq_strerror(errno));
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return sk_fail(err, SK_EIO, "%s: %s", path, errno == EEXIST ? "exists; not overwriting a key" : strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        return sk_fail(err, SK_EIO, "%s: %s", path, strerror(errno));
    }
    fprintf(f, "# samskap key pair \"%s\" (secret: keep this file mode 0600)\npublic = %s\nsecret = %s\n",
            name ? name : "", out->public_key, out->secret_key);
    if (fclose(f) != 0)
        return sk_fail(err, SK_EIO, "%s: write failed", path);
    f = fopen(pubpath, "wx");
    if (f == NULL)
        return sk_fail(err, SK_EIO, "%s: %s", pubpath, errno == EEXIST ? "exists; not overwriting" : strerror(errno));
    fprintf(f, "# samskap public key \"%s\"\npublic = %s\n", name ? name : "", out->public_key);
    if (fclose(f) != 0)
        return sk_fail(err, SK_EIO, "%s: write failed", pubpath);
    return 0;
}

int sk_key_read(const char *path, bool need_secret, sk_keypair *out, sk_error *err)
{
    size_t len;
    memset(out, 0, sizeof *out);
    char *text = sk_read_file(path, &len, 65536, err);
    if (text == NULL)
        return err ? err->code : SK_EIO;
    int lineno = 0, rc = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        while (*line == ' ' || *line == '\t')
            line++;
        if (*line == '#' || *line == '\0' || *line == '\r')
            continue;
        char key[16], val[64];
        if (sscanf(line, "%15s = %63s", key, val) != 2) {
            rc = sk_fail(err, SK_EINVAL, "%s:%d: expected 'public = KEY' or 'secret = KEY'", path, lineno);
            break;
        }
        if (!z85_key_ok(val)) {
            rc = sk_fail(err, SK_EINVAL, "%s:%d: '%s' is not a 40-character Z85 CURVE key", path, lineno, key);
            break;
        }
        if (strcmp(key, "public") == 0)
            memcpy(out->public_key, val, SK_KEY_Z85);
        else if (strcmp(key, "secret") == 0)
            memcpy(out->secret_key, val, SK_KEY_Z85);
        else {
            rc = sk_fail(err, SK_EINVAL, "%s:%d: unknown key '%s' (public, secret)", path, lineno, key);
            break;
        }
    }
    free(text);
    if (rc < 0)
        return rc;
    if (out->public_key[0] == '\0')
        return sk_fail(err, SK_EINVAL, "%s: no 'public = ...' line", path);
    if (need_secret && out->secret_key[0] == '\0')
        return sk_fail(err, SK_EINVAL, "%s: no 'secret = ...' line (this is a public key file)", path);
    if (out->secret_key[0] != '\0') {
        struct stat st;
        if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
            return sk_fail(err, SK_EREFUSED,
                           "%s: holds a secret key but is readable by group or others (mode %03o); chmod 600 it",
                           path, (unsigned)(st.st_mode & 0777));
        uint8_t pub[32], sec[32], derived[32];
        char z[41];
        zmq_z85_decode(pub, out->public_key);
        zmq_z85_decode(sec, out->secret_key);
        if (zmq_curve_public(z, out->secret_key) != 0 || (zmq_z85_decode(derived, z), memcmp(derived, pub, 32) != 0))
            return sk_fail(err, SK_EINVAL, "%s: the public key does not belong to the secret key", path);
        (void)sec;
    }
    return 0;
}

const char *sk_role_name(sk_role r)
{
    return r == SK_ROLE_CLIENT ? "client" : r == SK_ROLE_NODE ? "node" : r == SK_ROLE_ADMIN ? "admin" : "?";
}

bool sk_list_allows(const char *list, const char *item)
{
    size_t n = strlen(item);
    if (strcmp(list, "*") == 0)
        return true;
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        if (l == n && strncmp(p, item, n) == 0)
            return true;
        if (l == 1 && *p == '*')
            return true;
        p += l + (comma != NULL);
    }
    return false;
}

void sk_access_free(sk_access *a)
{
    if (a == NULL)
        return;
    free(a->items);
    free(a);
}

int sk_access_parse(const char *text, size_t len, const char *filename, sk_access **out, sk_error *err)
{
    sk_access *a = calloc(1, sizeof *a);
    size_t cap = 0;
    int lineno = 0;
    if (a == NULL)
        return sk_fail(err, SK_ENOMEM, "out of memory");
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char line[4096];
        lineno++;
        if (l >= sizeof line) {
            sk_access_free(a);
            return sk_fail(err, SK_EINVAL, "%s:%d: line longer than %zu bytes", filename, lineno, sizeof line - 1);
        }
        memcpy(line, p, l);
        line[l] = '\0';
        p += l + (nl != NULL);
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '#' || *s == '\0' || *s == '\r')
            continue;
        char role[16] = "", name[64] = "", key[64] = "", tenants[1024] = "", services[1024] = "*", extra[8] = "";
        int nf = sscanf(s, "%15s %63s %63s %1023s %1023s %7s", role, name, key, tenants, services, extra);
        if (nf < 4 || nf > 5) {
            sk_access_free(a);
            return sk_fail(err, SK_EINVAL, "%s:%d: expected ROLE NAME PUBLIC-KEY TENANTS [SERVICES]", filename, lineno);
        }
        sk_role r = strcmp(role, "client") == 0 ? SK_ROLE_CLIENT
                  : strcmp(role, "node") == 0   ? SK_ROLE_NODE
                  : strcmp(role, "admin") == 0  ? SK_ROLE_ADMIN
                                                : 0;
        if (r == 0) {
            sk_access_free(a);
            return sk_fail(err, SK_EINVAL, "%s:%d: role '%s' is not client, node or admin", filename, lineno, role);
        }
        if (!z85_key_ok(key)) {
            sk_access_free(a);
            return sk_fail(err, SK_EINVAL, "%s:%d: key of '%s' is not a 40-character Z85 CURVE public key",
                           filename, lineno, name);
        }
        for (size_t i = 0; i < a->n; i++) {
            if (strcmp(a->items[i].name, name) == 0 || strcmp(a->items[i].public_key, key) == 0) {
                sk_access_free(a);
                return sk_fail(err, SK_EINVAL, "%s:%d: name '%s' or its key is listed twice", filename, lineno, name);
            }
        }
        if (a->n == cap) {
            cap = cap ? cap * 2 : 16;
            sk_access_entry *it = realloc(a->items, cap * sizeof *it);
            if (it == NULL) {
                sk_access_free(a);
                return sk_fail(err, SK_ENOMEM, "out of memory");
            }
            a->items = it;
        }
        sk_access_entry *e = &a->items[a->n++];
        memset(e, 0, sizeof *e);
        e->role = r;
        sk_strlcpy(e->name, name, sizeof e->name);
        sk_strlcpy(e->public_key, key, sizeof e->public_key);
        sk_strlcpy(e->tenants, tenants, sizeof e->tenants);
        sk_strlcpy(e->services, services, sizeof e->services);
    }
    *out = a;
    return 0;
}

int sk_access_read(const char *path, sk_access **out, sk_error *err)
{
    size_t len;
    char *text = sk_read_file(path, &len, 16 << 20, err);
    if (text == NULL)
        return err ? err->code : SK_EIO;
    int rc = sk_access_parse(text, len, path, out, err);
    free(text);
    return rc;
}

const sk_access_entry *sk_access_by_key(const sk_access *a, const char *z85)
{
    for (size_t i = 0; a != NULL && i < a->n; i++)
        if (strcmp(a->items[i].public_key, z85) == 0)
            return &a->items[i];
    return NULL;
}

const sk_access_entry *sk_access_by_name(const sk_access *a, const char *name)
{
    for (size_t i = 0; a != NULL && i < a->n; i++)
        if (strcmp(a->items[i].name, name) == 0)
            return &a->items[i];
    return NULL;
}
