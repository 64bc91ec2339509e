/* cache.c - the node's bounded dataset cache (see cache.h). */
#include "cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sk_log.h"

typedef struct found {
    char name[65];
    int64_t size;
    struct timespec mtime;
} found;

static int by_mtime(const void *a, const void *b)
{
    const found *x = a, *y = b;
    if (x->mtime.tv_sec != y->mtime.tv_sec)
        return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    if (x->mtime.tv_nsec != y->mtime.tv_nsec)
        return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    return strcmp(x->name, y->name);
}

static bool is_entry_name(const char *s)
{
    return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

void sk_cache_path(const sk_cache *c, const char *name, const char *suffix, char *out, size_t n)
{
    snprintf(out, n, "%s/%s%s", c->dir, name, suffix ? suffix : "");
}

int sk_cache_open(sk_cache *c, const char *dir, int64_t max_bytes, sk_error *err)
{
    memset(c, 0, sizeof *c);
    sk_map_init(&c->entries);
    if (strlen(dir) >= sizeof c->dir - 80)
        return sk_fail(err, SK_EINVAL, "--cache-dir: path too long");
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    c->max_bytes = max_bytes;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return sk_fail(err, SK_EIO, "--cache-dir %s: %s", dir, strerror(errno));
    DIR *d = opendir(dir);
    if (d == NULL)
        return sk_fail(err, SK_EIO, "--cache-dir %s: %s", dir, strerror(errno));
    found *list = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[1200];
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (!is_entry_name(e->d_name)) {
            /* a fetch cut short by a restart: never trusted */
            if (strstr(e->d_name, ".part") != NULL)
                unlink(path);
            continue;
        }
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            found *nl = realloc(list, cap * sizeof *nl);
            if (nl == NULL) {
                free(list);
                closedir(d);
                return sk_fail(err, SK_ENOMEM, "out of memory");
            }
            list = nl;
        }
        snprintf(list[n].name, sizeof list[n].name, "%s", e->d_name);
        list[n].size = st.st_size;
        list[n].mtime = st.st_mtim;
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(list, n, sizeof *list, by_mtime);
    for (size_t i = 0; i < n; i++)
        sk_cache_add(c, list[i].name, list[i].size);
    free(list);
    sk_cache_trim(c);
    return 0;
}

void sk_cache_close(sk_cache *c)
{
    const char *k;
    size_t kl;
    void *v;
    for (size_t it = 0; (it = sk_map_next(&c->entries, it, &k, &kl, &v)) != 0;)
        free(v);
    sk_map_free(&c->entries);
}

sk_cache_entry *sk_cache_use(sk_cache *c, const char *name)
{
    sk_cache_entry *e = sk_map_get(&c->entries, name, strlen(name));
    if (e != NULL) {
        e->last_used = ++c->clock;
        /* The file's mtime carries the order across a node restart. */
        char path[1200];
        sk_cache_path(c, name, NULL, path, sizeof path);
        utimensat(AT_FDCWD, path, NULL, 0);
    }
    return e;
}

sk_cache_entry *sk_cache_add(sk_cache *c, const char *name, int64_t size)
{
    sk_cache_entry *e = sk_map_get(&c->entries, name, strlen(name));
    if (e == NULL) {
        e = calloc(1, sizeof *e);
        if (e == NULL || sk_map_put(&c->entries, name, strlen(name), e) < 0) {
            free(e);
            return NULL;
        }
        snprintf(e->name, sizeof e->name, "%s", name);
    } else {
        c->bytes -= e->size;
    }
    e->size = size;
    e->last_used = ++c->clock;
    c->bytes += size;
    return e;
}

void sk_cache_pin(sk_cache *c, const char *name)
{
    sk_cache_entry *e = sk_map_get(&c->entries, name, strlen(name));
    if (e != NULL)
        e->pins++;
}

void sk_cache_unpin(sk_cache *c, const char *name)
{
    sk_cache_entry *e = sk_map_get(&c->entries, name, strlen(name));
    if (e != NULL && e->pins > 0)
        e->pins--;
}

void sk_cache_drop(sk_cache *c, const char *name_)
{
    char path[1200], name[65];
    snprintf(name, sizeof name, "%s", name_); /* name_ may be the entry's own */
    sk_cache_entry *e = sk_map_del(&c->entries, name, strlen(name));
    if (e != NULL) {
        c->bytes -= e->size;
        free(e);
    }
    sk_cache_path(c, name, NULL, path, sizeof path);
    unlink(path);
}

void sk_cache_trim(sk_cache *c)
{
    while (c->bytes > c->max_bytes) {
        sk_cache_entry *lru = NULL;
        const char *k;
        size_t kl;
        void *v;
        for (size_t it = 0; (it = sk_map_next(&c->entries, it, &k, &kl, &v)) != 0;) {
            sk_cache_entry *e = v;
            if (e->pins == 0 && (lru == NULL || e->last_used < lru->last_used))
                lru = e;
        }
        if (lru == NULL)
            return; /* everything left is in use */
        sk_info("msg=\"dataset evicted from cache\" file=%.16s size=%lld cache_bytes=%lld max=%lld", lru->name,
                (long long)lru->size, (long long)c->bytes, (long long)c->max_bytes);
        c->evictions++;
        sk_cache_drop(c, lru->name);
    }
}
