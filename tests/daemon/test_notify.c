/* test_notify.c - sk_notify against a fake systemd: the test binds a unix
 * datagram socket, points NOTIFY_SOCKET at it and reads what the daemon
 * side sends: READY=1 with STATUS, STATUS lines, and WATCHDOG=1 pings from
 * the loop's timer at about half of WATCHDOG_USEC.  Without NOTIFY_SOCKET
 * every call is a silent no-op. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "sk_notify.h"
#include "test_util.h"

static int fake_fd = -1;

/* Read every datagram now waiting (waiting up to ms for the first). */
static int drain(char *all, size_t cap, int ms)
{
    int n = 0;
    size_t len = strlen(all);
    struct pollfd p = {fake_fd, POLLIN, 0};
    while (poll(&p, 1, n == 0 ? ms : 0) > 0) {
        char d[512];
        ssize_t k = recv(fake_fd, d, sizeof d - 1, 0);
        if (k <= 0)
            break;
        d[k] = '\0';
        len += (size_t)snprintf(all + len, cap - len, "%s|", d);
        if (len >= cap)
            len = cap - 1;
        n++;
    }
    return n;
}

static uv_timer_t stopper;
static sk_notify *notifier;
static void on_stop(uv_timer_t *t)
{
    sk_notify_stopping(notifier);
    sk_notify_stop(notifier);
    uv_close((uv_handle_t *)t, NULL);
}

int main(void)
{
    uv_loop_t loop;
    sk_error err = SK_ERROR_INIT;
    char all[8192] = "";
    CHECK(uv_loop_init(&loop) == 0);

    /* Not under systemd: no socket, nothing sent, no timer left running. */
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    sk_notify *off = NULL;
    CHECK(sk_notify_start(&loop, &off, &err) == 0);
    CHECK(off != NULL && !sk_notify_enabled(off) && sk_notify_watchdog_usec(off) == 0);
    CHECK(sk_notify_ready(off, "serving") == 0);
    CHECK(sk_notify_status(off, "x=%d", 1) == 0);
    sk_notify_stop(off);
    CHECK(uv_run(&loop, UV_RUN_NOWAIT) == 0);

    /* The fake systemd. */
    char path[108];
    snprintf(path, sizeof path, "/tmp/sk-notify-test-%d.sock", (int)getpid());
    unlink(path);
    fake_fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un sa = {0};
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (fake_fd < 0 || bind(fake_fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        TEST_SKIP("cannot bind a unix datagram socket at %s: %s", path, strerror(errno));
    setenv("NOTIFY_SOCKET", path, 1);
    setenv("WATCHDOG_USEC", "100000", 1);   /* 100 ms: pings every 50 ms */
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    setenv("WATCHDOG_PID", pid, 1);

    CHECK(sk_notify_start(&loop, &notifier, &err) == 0);
    CHECK(sk_notify_enabled(notifier));
    CHECK(sk_notify_watchdog_usec(notifier) == 100000);
    CHECK(sk_notify_ready(notifier, "bound tcp://127.0.0.1:5570") == 0);
    CHECK(sk_notify_status(notifier, "%d nodes, %d queued\nsecond line", 3, 7) == 0);
    CHECK(drain(all, sizeof all, 1000) == 2);
    CHECK_STR(all, "READY=1\nSTATUS=bound tcp://127.0.0.1:5570|STATUS=3 nodes, 7 queued second line|");

    /* Run the loop for ~300 ms: the watchdog timer pings several times. */
    all[0] = '\0';
    uv_timer_init(&loop, &stopper);
    uv_timer_start(&stopper, on_stop, 300, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    drain(all, sizeof all, 200);
    int pings = 0;
    for (const char *p = all; (p = strstr(p, "WATCHDOG=1|")) != NULL; p++)
        pings++;
    CHECK(pings >= 3 && pings <= 8);
    CHECK(strstr(all, "STOPPING=1|") != NULL);
    /* After stop the loop has nothing left (the timer is closed). */
    CHECK(uv_loop_close(&loop) == 0);

    /* WATCHDOG_PID of another process: the watchdog is not ours. */
    CHECK(uv_loop_init(&loop) == 0);
    setenv("WATCHDOG_PID", "1", 1);
    CHECK(sk_notify_start(&loop, &notifier, &err) == 0);
    CHECK(sk_notify_enabled(notifier) && sk_notify_watchdog_usec(notifier) == 0);
    sk_notify_stop(notifier);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);

    close(fake_fd);
    unlink(path);
    TEST_DONE();
}
