/* sk_notify.h - systemd readiness, status and watchdog (sd_notify).
 *
 * Under a Type=notify unit systemd sets NOTIFY_SOCKET; the daemon says
 * READY=1 once its sockets are bound, STATUS=... lines as it runs, and, when
 * the unit sets WatchdogSec (WATCHDOG_USEC), WATCHDOG=1 from a uv_timer on
 * the daemon's loop at half the interval: a loop that hangs stops pinging
 * and systemd restarts the daemon.  Without NOTIFY_SOCKET every call is a
 * no-op that returns 0, so the same binary runs by hand or in a container.
 *
 * Loop thread only. */
#ifndef SK_NOTIFY_H
#define SK_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "sk_error.h"

typedef struct sk_notify sk_notify;

/* Read the environment and start the watchdog timer when asked for.
 * *out is set even when not under systemd (calls then do nothing). */
int sk_notify_start(uv_loop_t *loop, sk_notify **out, sk_error *err);

/* True when NOTIFY_SOCKET is set; the watchdog interval in microseconds
 * (0 when off). */
bool sk_notify_enabled(const sk_notify *n);
uint64_t sk_notify_watchdog_usec(const sk_notify *n);

/* READY=1 with an optional STATUS line (status may be NULL). */
int sk_notify_ready(sk_notify *n, const char *status);
/* STATUS=<printf text>: one line shown by `systemctl status`. */
int sk_notify_status(sk_notify *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* RELOADING=1 before re-reading config on SIGHUP; call sk_notify_ready after. */
int sk_notify_reloading(sk_notify *n);
/* STOPPING=1 when shutdown begins. */
int sk_notify_stopping(sk_notify *n);

/* Stop the timer and free (on a later loop turn).  NULL is a no-op. */
void sk_notify_stop(sk_notify *n);

#endif
