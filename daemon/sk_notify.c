/* sk_notify.c - sd_notify from a libuv loop (see sk_notify.h). */
#include "sk_notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "sk_log.h"

struct sk_notify {
    uv_timer_t timer;
    bool enabled, timer_on;
    uint64_t watchdog_usec;
};

static int send_state(sk_notify *n, const char *state)
{
    if (n == NULL || !n->enabled)
        return 0;
    /* unset_environment = 0: the node's worker processes are forked, not
     * exec'd, so nothing inherits NOTIFY_SOCKET that should not. */
    int rc = sd_notify(0, state);
    if (rc < 0) {
        sk_warn("msg=\"sd_notify failed\" error=\"%s\"", strerror(-rc));
        return SK_EIO;
    }
    return 0;
}

static void on_watchdog(uv_timer_t *t)
{
    send_state(t->data, "WATCHDOG=1");
}

int sk_notify_start(uv_loop_t *loop, sk_notify **out, sk_error *err)
{
    uint64_t usec = 0;
    *out = NULL;
    sk_notify *n = calloc(1, sizeof *n);
    if (n == NULL)
        return sk_fail(err, SK_ENOMEM, "notify: out of memory");
    const char *sock = getenv("NOTIFY_SOCKET");
    n->enabled = sock != NULL && *sock != '\0';
    int rc = uv_timer_init(loop, &n->timer);
    if (rc < 0) {
        free(n);
        return sk_fail(err, SK_EIO, "notify: %s", uv_strerror(rc));
    }
    n->timer.data = n;
    if (n->enabled) {
        /* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID (if set) is us. */
        rc = sd_watchdog_enabled(0, &usec);
        if (rc < 0)
            sk_warn("msg=\"bad systemd watchdog settings\" error=\"%s\"", strerror(-rc));
        if (rc > 0 && usec > 0) {
            n->watchdog_usec = usec;
            /* Half the interval, as sd_watchdog_enabled(3) advises; at least 1 ms. */
            uint64_t ms = usec / 2000;
            if (ms == 0)
                ms = 1;
            uv_timer_start(&n->timer, on_watchdog, ms, ms);
            n->timer_on = true;
        }
    }
    *out = n;
    return 0;
}

bool sk_notify_enabled(const sk_notify *n)
{
    return n != NULL && n->enabled;
}

uint64_t sk_notify_watchdog_usec(const sk_notify *n)
{
    return n != NULL ? n->watchdog_usec : 0;
}

int sk_notify_ready(sk_notify *n, const char *status)
{
    char buf[512];
    if (status == NULL)
        return send_state(n, "READY=1");
    int off = snprintf(buf, sizeof buf, "READY=1\nSTATUS=");
    snprintf(buf + off, sizeof buf - (size_t)off, "%s", status);
    for (char *p = buf + off; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return send_state(n, buf);
}

int sk_notify_status(sk_notify *n, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    if (n == NULL || !n->enabled)
        return 0;
    int off = snprintf(buf, sizeof buf, "STATUS=");
    va_start(ap, fmt);
    vsnprintf(buf + off, sizeof buf - (size_t)off, fmt, ap);
    va_end(ap);
    /* A newline would start another assignment: keep STATUS one line. */
    for (char *p = buf; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return send_state(n, buf);
}

int sk_notify_reloading(sk_notify *n)
{
    return send_state(n, "RELOADING=1");
}

int sk_notify_stopping(sk_notify *n)
{
    return send_state(n, "STOPPING=1");
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

void sk_notify_stop(sk_notify *n)
{
    if (n == NULL)
        return;
    uv_close((uv_handle_t *)&n->timer, on_closed);
}
