/* sk_uvzmq.h - a ZeroMQ socket on a libuv loop.
 *
 * ZMQ_FD is edge-triggered and only says "look at ZMQ_EVENTS": after every
 * wake-up, and after every send on the socket, the socket must be drained
 * while ZMQ_EVENTS has ZMQ_POLLIN, or messages sit unread with no further
 * wake-up.  sk_uvzmq does that: it reads at most `budget` messages per loop
 * turn (so one busy socket cannot starve the loop) and re-arms itself with
 * an idle handle when more remain. */
#ifndef SK_UVZMQ_H
#define SK_UVZMQ_H

#include <stdbool.h>
#include <uv.h>

typedef struct sk_uvzmq sk_uvzmq;
/* Read one message from z->sock without blocking: 1 if one was handled,
 * 0 if none was waiting (EAGAIN). */
typedef int (*sk_uvzmq_cb)(sk_uvzmq *z);

struct sk_uvzmq {
    uv_poll_t poll;
    uv_idle_t idle;
    void *sock;
    sk_uvzmq_cb on_readable;
    void *data;
    int budget;
    bool idle_active;
    bool closing;
};

int sk_uvzmq_start(uv_loop_t *loop, sk_uvzmq *z, void *sock, sk_uvzmq_cb cb, void *data);
/* Call after sending on the socket: the send may have eaten the edge. */
void sk_uvzmq_kick(sk_uvzmq *z);
/* Stops the handles (uv_close); the zmq socket stays the caller's. */
void sk_uvzmq_close(sk_uvzmq *z);

#endif
