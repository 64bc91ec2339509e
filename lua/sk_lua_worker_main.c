/* sk_lua_worker_main.c - samskap-plugin-worker: runs one plugin job read
 * from stdin (framing in sk_lua_isolated.c) and writes the indicator result
 * or a structured error to stdout.  It limits itself first (RLIMIT_CPU, and
 * RLIMIT_AS outside sanitizer builds), so a plugin that defeats the Lua
 * deadline still dies; the parent's watchdog is the last line. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sk_csv.h"
#include "sk_lua.h"
#include "sk_lua_wire.h"
#include "sk_num.h"

#if defined(__SANITIZE_ADDRESS__)
#define SK_WORKER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SK_WORKER_ASAN 1
#endif
#endif

#define SK_WORKER_MAX_REQUEST ((size_t)4 << 30)

static char *read_all(int fd, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    while (b) {
        if (n == cap) {
            if (cap >= SK_WORKER_MAX_REQUEST) {
                free(b);
                return NULL;
            }
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                return NULL;
            }
            b = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(b);
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *len = n;
    return b;
}

static void limit_self(double deadline, double close_s, size_t mem)
{
    struct rlimit rl;
    /* CPU seconds: the Lua deadline is wall time, so this only fires when
     * the host's own checks failed; SIGXCPU at soft, SIGKILL at hard. */
    rl.rlim_cur = (rlim_t)ceil(deadline + close_s) + 2;
    rl.rlim_max = rl.rlim_cur + 1;
    setrlimit(RLIMIT_CPU, &rl);
#ifndef SK_WORKER_ASAN
    /* Address space: what we use now plus the Lua cap plus room for the
     * output.  (ASan reserves terabytes of shadow, so not under ASan.) */
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    size_t now = (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
    rl.rlim_cur = rl.rlim_max = (rlim_t)(now + (mem ? mem : (size_t)256 << 20) + ((size_t)512 << 20));
    setrlimit(RLIMIT_AS, &rl);
#else
    (void)mem;
#endif
}

static int reply_error(const sk_lua_error *e)
{
    sk_lua_wbuf b = {0};
    int rc = sk_lua_wire_put(&b, 'M', SK_LUA_WIRE_MAGIC, strlen(SK_LUA_WIRE_MAGIC));
    rc = rc ? rc : sk_lua_wire_put_error(&b, e);
    rc = rc ? rc : sk_lua_wire_put(&b, 'e', NULL, 0);
    if (!rc)
        rc = sk_write_all(1, b.data, b.len);
    free(b.data);
    return rc ? 1 : 0;
}

static int reply_proto(const char *what)
{
    sk_lua_error e;
    memset(&e, 0, sizeof e);
    e.code = SK_EPROTO;
    snprintf(e.kind, sizeof e.kind, "host");
    snprintf(e.message, sizeof e.message, "worker: %s", what);
    return reply_error(&e);
}

int main(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "--job") != 0) {
        fprintf(stderr, "usage: %s --job   (a job on stdin; started by the samskap node/CLI)\n",
                argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    size_t len = 0;
    char *req = read_all(0, &len);
    if (!req)
        return reply_proto("cannot read the job");
    const char *p = req, *end = req + len, *data;
    char tag;
    size_t dl;
    sk_result *results[8] = {0};
    const sk_result *cres[8];
    size_t nres = 0;
    sk_result *areas = NULL;
    sk_params *params = sk_params_new();
    char *path = NULL, *src = NULL, *key = NULL;
    size_t srclen = 0;
    sk_lua_job job;
    memset(&job, 0, sizeof job);
    int rc = 0, ended = 0, magic = 0;
    sk_error e = SK_ERROR_INIT;
    while (!rc && !ended && sk_lua_wire_next(&p, end, &tag, &data, &dl) == 0) {
        switch (tag) {
        case 'M':
            magic = dl == strlen(SK_LUA_WIRE_MAGIC) && memcmp(data, SK_LUA_WIRE_MAGIC, dl) == 0;
            break;
        case 'p':
            free(path);
            path = strndup(data, dl);
            break;
        case 's':
            free(src);
            src = malloc(dl + 1);
            if (src) {
                memcpy(src, data, dl);
                src[dl] = 0;
                srclen = dl;
            }
            break;
        case 'l': {
            char lim[256];
            snprintf(lim, sizeof lim, "%.*s", (int)(dl < 255 ? dl : 255), data);
            int anc = 0;
            if (sscanf(lim, "%lf %lf %zu %ld %d", &job.limits.deadline_s, &job.limits.close_s,
                       &job.limits.mem_bytes, &job.limits.oom_after, &anc) != 5)
                rc = reply_proto("bad limits record") - 10;
            job.allow_nonconverged = anc != 0;
            break;
        }
        case 'r':
        case 'a': {
            sk_result *r = sk_result_decode(data, dl, &e);
            if (!r) {
                rc = reply_proto(e.msg) - 10;
                break;
            }
            if (tag == 'a') {
                sk_result_free(areas);
                areas = r;
            } else if (nres < 8) {
                results[nres++] = r;
            } else {
                sk_result_free(r);
                rc = reply_proto("too many results") - 10;
            }
            break;
        }
        case 'k':
            free(key);
            key = strndup(data, dl);
            break;
        case 'v': {
            char *v = strndup(data, dl);
            if (!v || !key || !params || dl < 1) {
                free(v);
                rc = reply_proto("bad param record") - 10;
                break;
            }
            double d;
            int64_t i;
            int prc;
            if (v[0] == 'i' && sk_parse_i64(v + 1, &i) == 0)
                prc = sk_params_set_int(params, key, i);
            else if (v[0] == 'd' && sk_parse_f64(v + 1, &d) == 0)
                prc = sk_params_set_f64(params, key, d);
            else if (v[0] == 'b')
                prc = sk_params_set_bool(params, key, v[1] == '1');
            else
                prc = sk_params_set_str(params, key, v + 1);
            free(v);
            if (prc < 0)
                rc = reply_proto("out of memory storing a param") - 10;
            break;
        }
        case 'e':
            ended = 1;
            break;
        default:
            rc = reply_proto("unknown record") - 10;
        }
    }
    if (!rc && (!magic || !ended || !path || !src || !params))
        rc = reply_proto("incomplete job") - 10;
    if (!rc) {
        limit_self(job.limits.deadline_s, job.limits.close_s > 0 ? job.limits.close_s : 0.5,
                   job.limits.mem_bytes);
        /* Tests of the watchdog need a worker that defeats every Lua-side limit. */
        const char *fault = getenv("SAMSKAP_PLUGIN_WORKER_FAULT");
        if (!rc && fault && strcmp(fault, "spin") == 0) {
            volatile unsigned long spin = 0;
            for (;;)
                spin++;
        }
        if (!rc && fault && strcmp(fault, "sleep") == 0)
            for (;;)
                pause();
        if (!rc && fault && strcmp(fault, "crash") == 0)
            abort();

        sk_lua_plugin_info *pi = NULL;
        sk_lua_error le;
        memset(&le, 0, sizeof le);
        if (sk_lua_plugin_check(path, src, srclen, &job.limits, &pi, &le) < 0) {
            rc = reply_error(&le);
        } else {
            for (size_t i = 0; i < nres; i++)
                cres[i] = results[i];
            job.plugin = pi;
            job.results = cres;
            job.nresults = nres;
            job.params = params;
            job.areas = areas;
            sk_result *out = NULL;
            if (sk_lua_run(&job, &out, &le) < 0)
                rc = reply_error(&le);
            else {
                sk_lua_wbuf b = {0};
                char *enc = NULL;
                size_t elen = 0;
                int r = sk_lua_wire_put(&b, 'M', SK_LUA_WIRE_MAGIC, strlen(SK_LUA_WIRE_MAGIC));
                r = r ? r : sk_result_encode(out, &enc, &elen, &e);
                r = r ? r : sk_lua_wire_put(&b, 'o', enc, elen);
                r = r ? r : sk_lua_wire_put(&b, 'e', NULL, 0);
                rc = r ? reply_proto("encoding the result") : (sk_write_all(1, b.data, b.len) ? 1 : 0);
                free(enc);
                free(b.data);
            }
            sk_result_free(out);
            sk_lua_plugin_info_free(pi);
        }
    }
    for (size_t i = 0; i < nres; i++)
        sk_result_free(results[i]);
    sk_result_free(areas);
    sk_params_free(params);
    free(path);
    free(src);
    free(key);
    free(req);
    return rc < 0 ? 1 : rc;
}
