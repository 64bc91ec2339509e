/* sk_lua_isolated.c - the hard backstop: run one plugin job in a
 * `samskap-plugin-worker` child (posix_spawn, so it is safe from a worker
 * thread of a multi-threaded node), with rlimits set by the worker and a
 * watchdog here that SIGKILLs it once it overruns its deadline by a margin.
 * The caller survives whatever the plugin does and gets a structured error.
 *
 * Framing on the child's stdin/stdout (one AF_UNIX stream socket): the magic
 * "SKLW1\n", then records  [tag:1][len:u64 little-endian][bytes], ending
 * with tag 'e'.  Request tags: p path, s source, l limits text, r result
 * (msgpack, sk_result_encode), a areas (msgpack), k param key, v param value
 * (first byte s/i/d/b, then text).  Reply tags: o output result (msgpack),
 * x error ("code\0kind\0plugin\0where\0message\0traceback"). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sk_lua_internal.h"
#include "sk_lua_wire.h"
#include "sk_num.h"

extern char **environ;

/* ---- framing (shared with the worker through sk_lua_wire.h) --------------- */

int sk_lua_wire_put(sk_lua_wbuf *b, char tag, const void *data, size_t len)
{
    size_t need = b->len + 9 + len;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < need)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p)
            return SK_ENOMEM;
        b->data = p;
        b->cap = cap;
    }
    b->data[b->len++] = tag;
    for (int i = 0; i < 8; i++)
        b->data[b->len++] = (char)((uint64_t)len >> (8 * i));
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

int sk_lua_wire_next(const char **p, const char *end, char *tag, const char **data, size_t *len)
{
    if (end - *p < 9)
        return -1;
    *tag = (*p)[0];
    uint64_t l = 0;
    for (int i = 0; i < 8; i++)
        l |= (uint64_t)(unsigned char)(*p)[1 + i] << (8 * i);
    if (l > (uint64_t)(end - *p - 9))
        return -1;
    *data = *p + 9;
    *len = (size_t)l;
    *p += 9 + l;
    return 0;
}

int sk_lua_wire_put_error(sk_lua_wbuf *b, const sk_lua_error *e)
{
    char buf[sizeof(sk_lua_error) + 32];
    int n = snprintf(buf, sizeof buf, "%d", e->code);
    size_t off = (size_t)n + 1;
    const char *parts[5] = {e->kind, e->plugin, e->where, e->message, e->traceback};
    for (int i = 0; i < 5; i++) {
        size_t l = strlen(parts[i]);
        memcpy(buf + off, parts[i], l + 1);
        off += l + 1;
    }
    return sk_lua_wire_put(b, 'x', buf, off);
}

void sk_lua_wire_get_error(const char *data, size_t len, sk_lua_error *e)
{
    memset(e, 0, sizeof *e);
    char *fields[6] = {0};
    char tmp[sizeof(sk_lua_error) + 64];
    if (len >= sizeof tmp)
        len = sizeof tmp - 1;
    memcpy(tmp, data, len);
    tmp[len] = 0;
    char *p = tmp;
    for (int i = 0; i < 6 && p <= tmp + len; i++) {
        fields[i] = p;
        p += strlen(p) + 1;
    }
    e->code = fields[0] ? atoi(fields[0]) : SK_EINVAL;
    if (e->code >= 0)
        e->code = SK_EINVAL;
    snprintf(e->kind, sizeof e->kind, "%s", fields[1] ? fields[1] : "host");
    snprintf(e->plugin, sizeof e->plugin, "%s", fields[2] ? fields[2] : "");
    snprintf(e->where, sizeof e->where, "%s", fields[3] ? fields[3] : "");
    snprintf(e->message, sizeof e->message, "%s", fields[4] ? fields[4] : "");
    snprintf(e->traceback, sizeof e->traceback, "%s", fields[5] ? fields[5] : "");
}

static int put_result(sk_lua_wbuf *b, char tag, const sk_result *r, sk_error *err)
{
    char *enc = NULL;
    size_t len = 0;
    int rc = sk_result_encode(r, &enc, &len, err);
    if (rc < 0)
        return rc;
    rc = sk_lua_wire_put(b, tag, enc, len);
    free(enc);
    return rc;
}

static int put_str(sk_lua_wbuf *b, char tag, const char *s)
{
    return sk_lua_wire_put(b, tag, s, strlen(s));
}

static int encode_request(const sk_lua_job *job, const sk_lua_plugin_info *pi, double deadline,
                          sk_lua_wbuf *b, sk_error *err)
{
    int rc = sk_lua_wire_put(b, 'M', SK_LUA_WIRE_MAGIC, strlen(SK_LUA_WIRE_MAGIC));
    rc = rc ? rc : put_str(b, 'p', pi->path);
    rc = rc ? rc : sk_lua_wire_put(b, 's', pi->source, pi->source_len);
    char lim[256];
    snprintf(lim, sizeof lim, "%.17g %.17g %zu %ld %d", deadline, job->limits.close_s,
             job->limits.mem_bytes, job->limits.oom_after, job->allow_nonconverged ? 1 : 0);
    rc = rc ? rc : put_str(b, 'l', lim);
    for (size_t i = 0; !rc && i < job->nresults; i++)
        rc = put_result(b, 'r', job->results[i], err);
    if (!rc && job->areas)
        rc = put_result(b, 'a', job->areas, err);
    for (size_t i = 0; !rc && job->params && i < job->params->n; i++) {
        const sk_param *p = &job->params->items[i];
        char v[512];
        switch (p->type) {
        case SK_PARAM_STR: snprintf(v, sizeof v, "s%s", p->s); break;
        case SK_PARAM_INT: snprintf(v, sizeof v, "i%lld", (long long)p->i); break;
        case SK_PARAM_BOOL: snprintf(v, sizeof v, "b%d", p->i ? 1 : 0); break;
        default: v[0] = 'd'; sk_fmt_f64(v + 1, sizeof v - 1, p->d); break;
        }
        rc = put_str(b, 'k', p->key);
        rc = rc ? rc : put_str(b, 'v', v);
    }
    rc = rc ? rc : sk_lua_wire_put(b, 'e', NULL, 0);
    return rc;
}

/* ---- locating and driving the worker -------------------------------------- */

static int find_worker(const char *given, char *out, size_t n)
{
    if (given && *given) {
        snprintf(out, n, "%s", given);
        return access(out, X_OK);
    }
    const char *env = getenv("SAMSKAP_PLUGIN_WORKER");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return access(out, X_OK);
    }
    char self[PATH_MAX];
    ssize_t l = readlink("/proc/self/exe", self, sizeof self - 1);
    if (l <= 0)
        return -1;
    self[l] = 0;
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(self, '/');
        if (!slash)
            return -1;
        *slash = 0;
        if (strlen(self) + sizeof SK_LUA_WORKER_NAME + 2 > n)
            return -1;
        memcpy(out, self, strlen(self));
        out[strlen(self)] = '/';
        memcpy(out + strlen(self) + 1, SK_LUA_WORKER_NAME, sizeof SK_LUA_WORKER_NAME);
        if (access(out, X_OK) == 0)
            return 0;
    }
    return -1;
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int grow(sk_lua_wbuf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + more)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return SK_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int sk_lua_run_isolated(const sk_lua_job *job, sk_result **out, sk_lua_error *err)
{
    *out = NULL;
    sk_lua_plugin_info *owned = NULL;
    const sk_lua_plugin_info *pi = job->plugin;
    if (!pi && !job->plugin_path) {
        sk_lua__err(err, SK_EINVAL, "host", "", "job names no plugin (plugin or plugin_path)");
        return SK_EINVAL;
    }
    if (!pi) {
        int rc = sk_lua_plugin_check(job->plugin_path, NULL, 0, &job->limits, &owned, err);
        if (rc < 0)
            return rc;
        pi = owned;
    }
    const char *pname = pi->name;
    double deadline = job->limits.deadline_s > 0 ? job->limits.deadline_s
                    : pi->deadline_s > 0 ? pi->deadline_s : SK_LUA_DEF_DEADLINE_S;
    double close_s = job->limits.close_s > 0 ? job->limits.close_s : SK_LUA_DEF_CLOSE_S;
    double margin = job->limits.kill_margin_s > 0 ? job->limits.kill_margin_s
                                                  : SK_LUA_DEF_KILL_MARGIN_S;
    sk_lua_wbuf req = {0}, rep = {0}, errtxt = {0};
    sk_error e = SK_ERROR_INIT;
    int ret = 0, sv[2] = {-1, -1}, ev[2] = {-1, -1};
    pid_t pid = -1;
    char worker[PATH_MAX];
    if (encode_request(job, pi, deadline, &req, &e) < 0) {
        sk_lua__err(err, e.code ? e.code : SK_ENOMEM, "host", pname, "encoding the job: %s",
                    e.msg[0] ? e.msg : "out of memory");
        ret = e.code ? e.code : SK_ENOMEM;
        goto done;
    }
    if (find_worker(job->worker_path, worker, sizeof worker) != 0) {
        sk_lua__err(err, SK_ENOTFOUND, "host", pname,
                    "cannot find the %s executable (set SAMSKAP_PLUGIN_WORKER or install it "
                    "next to the calling binary)", SK_LUA_WORKER_NAME);
        ret = SK_ENOTFOUND;
        goto done;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ev) < 0) {
        sk_lua__err(err, SK_EIO, "host", pname, "socketpair: %s", strerror(errno));
        ret = SK_EIO;
        goto done;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
    posix_spawn_file_actions_adddup2(&fa, ev[1], 2);
    /* The calling thread may block signals (node worker threads do); the
     * worker starts with none blocked and default dispositions, so that
     * SIGXCPU from its CPU rlimit works. */
    posix_spawnattr_t sa;
    posix_spawnattr_init(&sa);
    sigset_t none, defs;
    sigemptyset(&none);
    sigemptyset(&defs);
    sigaddset(&defs, SIGXCPU);
    sigaddset(&defs, SIGPIPE);
    sigaddset(&defs, SIGTERM);
    sigaddset(&defs, SIGINT);
    posix_spawnattr_setsigmask(&sa, &none);
    posix_spawnattr_setsigdefault(&sa, &defs);
    posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *argv[] = {worker, "--job", NULL};
    int sp = posix_spawn(&pid, worker, &fa, &sa, argv, environ);
    posix_spawnattr_destroy(&sa);
    posix_spawn_file_actions_destroy(&fa);
    close(sv[1]);
    close(ev[1]);
    sv[1] = ev[1] = -1;
    if (sp != 0) {
        pid = -1;
        sk_lua__err(err, SK_EIO, "host", pname, "spawning %s: %s", worker, strerror(sp));
        ret = SK_EIO;
        goto done;
    }
    set_nonblock(sv[0]);
    set_nonblock(ev[0]);
    double t0 = sk_lua__now();
    /* The worker's own deadlines come first; the kill only when they failed. */
    /* ... plus time to move and decode the results (>= 50 MB/s), which
     * happens before the Lua deadline starts in the worker. */
    double kill_at = t0 + deadline + close_s + margin + (double)req.len / 50e6;
    size_t sent = 0;
    int out_open = 1, err_open = 1, killed = 0, status = 0, reaped = 0;
    while (out_open || err_open || !reaped) {
        double now = sk_lua__now();
        if (now >= kill_at) {
            kill(pid, SIGKILL);
            killed = 1;
            break;
        }
        if (!out_open && !err_open) {
            pid_t w = waitpid(pid, &status, WNOHANG);
            if (w == pid) {
                reaped = 1;
                break;
            }
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        struct pollfd pf[2];
        int np = 0;
        if (out_open) {
            pf[np].fd = sv[0];
            pf[np].events = POLLIN | (sent < req.len ? POLLOUT : 0);
            pf[np++].revents = 0;
        }
        if (err_open) {
            pf[np].fd = ev[0];
            pf[np].events = POLLIN;
            pf[np++].revents = 0;
        }
        int ms = (int)((kill_at - now) * 1000) + 1;
        int pr = poll(pf, (nfds_t)np, ms);
        if (pr < 0 && errno != EINTR) {
            kill(pid, SIGKILL);
            killed = 1;
            break;
        }
        for (int i = 0; i < np && pr > 0; i++) {
            int is_out = pf[i].fd == sv[0];
            if (is_out && (pf[i].revents & POLLOUT) && sent < req.len) {
                ssize_t w = send(sv[0], req.data + sent, req.len - sent, MSG_NOSIGNAL);
                if (w > 0) {
                    sent += (size_t)w;
                    if (sent == req.len)
                        shutdown(sv[0], SHUT_WR);
                } else if (w < 0 && errno != EAGAIN && errno != EINTR)
                    sent = req.len;          /* the worker is gone; read what it said */
            }
            if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                sk_lua_wbuf *b = is_out ? &rep : &errtxt;
                if (grow(b, 65536) < 0) {
                    kill(pid, SIGKILL);
                    killed = 1;
                    break;
                }
                ssize_t r = recv(pf[i].fd, b->data + b->len, b->cap - b->len, 0);
                if (r > 0) {
                    b->len += (size_t)r;
                    if (!is_out && errtxt.len > 16384)
                        errtxt.len = 16384;   /* keep the head of a long report */
                } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                    if (is_out)
                        out_open = 0;
                    else
                        err_open = 0;
                }
            }
        }
        if (killed)
            break;
    }
    if (!reaped) {
        waitpid(pid, &status, 0);
        reaped = 1;
    }
    double took = sk_lua__now() - t0;
    if (killed) {
        sk_lua__err(err, SK_ETIMEDOUT, "killed", pname,
                    "worker killed by the watchdog after %.2f s (deadline %.2f s + close %.2f s "
                    "+ margin %.2f s)", took, deadline, close_s, margin);
        ret = SK_ETIMEDOUT;
        goto done;
    }
    /* parse the reply */
    const char *p = rep.data, *end = rep.data + rep.len;
    char tag;
    const char *data;
    size_t len;
    int got = 0;
    while (p && p < end && sk_lua_wire_next(&p, end, &tag, &data, &len) == 0) {
        if (tag == 'o') {
            *out = sk_result_decode(data, len, &e);
            if (!*out) {
                sk_lua__err(err, SK_EPROTO, "host", pname, "worker reply: %s", e.msg);
                ret = SK_EPROTO;
                goto done;
            }
            got = 1;
        } else if (tag == 'x') {
            sk_lua_wire_get_error(data, len, err ? err : &(sk_lua_error){0});
            ret = err ? err->code : SK_EINVAL;
            got = 1;
        }
    }
    if (!got) {
        if (errtxt.len && grow(&errtxt, 1) == 0)
            errtxt.data[errtxt.len] = 0;
        const char *why = WIFSIGNALED(status) ? (WTERMSIG(status) == SIGXCPU ? "CPU rlimit (SIGXCPU)"
                                                 : WTERMSIG(status) == SIGKILL ? "SIGKILL (rlimit or OOM killer)"
                                                 : strsignal(WTERMSIG(status)))
                                              : "exit without a reply";
        sk_lua__err(err, SK_EIO, "killed", pname, "worker died: %s (status %d)%s%.300s", why,
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1, errtxt.len ? "; stderr: " : "",
                    errtxt.len ? errtxt.data : "");
        ret = SK_EIO;
    }
done:
    if (sv[0] >= 0) close(sv[0]);
    if (sv[1] >= 0) close(sv[1]);
    if (ev[0] >= 0) close(ev[0]);
    if (ev[1] >= 0) close(ev[1]);
    free(req.data);
    free(rep.data);
    free(errtxt.data);
    if (ret < 0) {
        sk_result_free(*out);
        *out = NULL;
    }
    sk_lua_plugin_info_free(owned);
    return ret;
}
