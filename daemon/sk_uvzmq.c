/* sk_uvzmq.c - draining ZeroMQ sockets from a libuv loop (see sk_uvzmq.h). */
#include "sk_uvzmq.h"

#include <zmq.h>

#include "sk_log.h"

static void on_idle(uv_idle_t *h);

static int readable(sk_uvzmq *z)
{
    int events = 0;
    size_t sz = sizeof events;
    if (zmq_getsockopt(z->sock, ZMQ_EVENTS, &events, &sz) < 0)
        return 0;
    return (events & ZMQ_POLLIN) != 0;
}

static void pump(sk_uvzmq *z)
{
    int n = 0;
    while (!z->closing) {
        if (n >= z->budget) {
            sk_uvzmq_kick(z);
            return;
        }
        /* Receive until EAGAIN: cheaper than asking ZMQ_EVENTS (a poll
         * system call) before every message.  Then ask once, which also
         * re-arms the edge-triggered fd. */
        if (z->on_readable(z)) {
            n++;
            continue;
        }
        if (!readable(z))
            return;
    }
}

static void on_idle(uv_idle_t *h)
{
    sk_uvzmq *z = h->data;
    z->idle_active = false;
    uv_idle_stop(h);
    pump(z);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    (void)events;
    sk_uvzmq *z = h->data;
    if (status < 0)
        sk_warn("msg=\"poll error\" error=\"%s\"", uv_strerror(status));
    pump(z);
}

int sk_uvzmq_start(uv_loop_t *loop, sk_uvzmq *z, void *sock, sk_uvzmq_cb cb, void *data)
{
    int fd, rc;
    size_t sz = sizeof fd;
    z->sock = sock;
    z->on_readable = cb;
    z->data = data;
    z->budget = 128;
    z->idle_active = false;
    z->closing = false;
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &sz) < 0)
        return -1;
    if ((rc = uv_poll_init(loop, &z->poll, fd)) < 0)
        return rc;
    if ((rc = uv_idle_init(loop, &z->idle)) < 0)
        return rc;
    z->poll.data = z;
    z->idle.data = z;
    if ((rc = uv_poll_start(&z->poll, UV_READABLE, on_poll)) < 0)
        return rc;
    /* Messages may have arrived before the poll started: look once now. */
    sk_uvzmq_kick(z);
    return 0;
}

void sk_uvzmq_kick(sk_uvzmq *z)
{
    if (!z->idle_active && !z->closing) {
        z->idle_active = true;
        uv_idle_start(&z->idle, on_idle);
    }
}

void sk_uvzmq_close(sk_uvzmq *z)
{
    z->closing = true;
    if (!uv_is_closing((uv_handle_t *)&z->poll))
        uv_close((uv_handle_t *)&z->poll, NULL);
    if (!uv_is_closing((uv_handle_t *)&z->idle))
        uv_close((uv_handle_t *)&z->idle, NULL);
}
