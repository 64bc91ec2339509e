/* test_http.c - sk_http on a real loopback port: routes answer on the loop
 * thread, unknown paths get 404, other methods 405, malformed bytes 400 and
 * the server keeps serving; a stalled half-request does not block others;
 * stopping closes idle keep-alive connections and every handle, so
 * uv_loop_close succeeds. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include "sk_http.h"
#include "sk_metrics.h"
#include "test_util.h"

static pthread_t loop_thread;
static int metrics_calls, handler_off_loop;
static atomic_int ready;   /* set by the client thread, read by the loop */
static sk_metrics *reg;
static sk_metric *scrapes;
static char last_query[64];

static int h_metrics(const sk_http_request *req, sk_buf *body, const char **ctype, void *data)
{
    (void)data;
    if (!pthread_equal(pthread_self(), loop_thread))
        handler_off_loop++;
    metrics_calls++;
    sk_metric_inc(scrapes, NULL);
    return sk_http_serve_metrics(req, body, ctype, reg);
}

static int h_healthz(const sk_http_request *req, sk_buf *body, const char **ctype, void *data)
{
    (void)ctype;
    (void)data;
    snprintf(last_query, sizeof last_query, "%.*s", (int)req->query_len, req->query);
    sk_buf_puts(body, "ok\n");
    return 200;
}

static int check_ready(void *ctx, sk_buf *why)
{
    if (atomic_load((atomic_int *)ctx))
        return 0;
    sk_buf_puts(why, "broker not connected");
    return 1;
}

static int h_broken(const sk_http_request *req, sk_buf *body, const char **ctype, void *data)
{
    (void)req;
    (void)body;
    (void)ctype;
    (void)data;
    return -1;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    struct timeval tv = {5, 0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0)
            return;
        p += k;
        n -= (size_t)k;
    }
}

/* Read one response: headers, then Content-Length bytes (or to EOF). */
static size_t read_response(int fd, char *buf, size_t cap, bool head)
{
    size_t len = 0;
    long want = -1;
    while (len + 1 < cap) {
        ssize_t k = recv(fd, buf + len, cap - 1 - len, 0);
        if (k <= 0)
            break;
        len += (size_t)k;
        buf[len] = '\0';
        char *eoh = strstr(buf, "\r\n\r\n");
        if (eoh != NULL) {
            char *cl = strcasestr(buf, "content-length:");
            long body = cl != NULL && cl < eoh ? strtol(cl + 15, NULL, 10) : -1;
            want = (long)(eoh + 4 - buf) + (head ? 0 : body);
            if (body >= 0 && (long)len >= want)
                break;
        }
    }
    buf[len] = '\0';
    return len;
}

static int status_of(const char *resp)
{
    int st = 0;
    if (sscanf(resp, "HTTP/1.%*d %d", &st) != 1)
        return -1;
    return st;
}

static const char *body_of(const char *resp)
{
    const char *p = strstr(resp, "\r\n\r\n");
    return p != NULL ? p + 4 : "";
}

static int request(int port, const char *raw, char *buf, size_t cap)
{
    int fd = connect_to(port);
    if (fd < 0)
        return -1;
    send_all(fd, raw, strlen(raw));
    read_response(fd, buf, cap, strncmp(raw, "HEAD", 4) == 0);
    close(fd);
    return status_of(buf);
}

typedef struct {
    int port;
    uv_async_t *done;
    int idle_fd;
} client_args;

static void *client(void *arg)
{
    client_args *ca = arg;
    static char buf[65536];
    int port = ca->port;

    CHECK(request(port, "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", buf, sizeof buf) == 200);
    CHECK(strcasestr(buf, "content-type: text/plain; version=0.0.4") != NULL);
    CHECK(strstr(body_of(buf), "# TYPE sk_test_scrapes_total counter\nsk_test_scrapes_total 1\n") != NULL);
    CHECK(request(port, "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", buf, sizeof buf) == 200);
    CHECK(strstr(body_of(buf), "sk_test_scrapes_total 2\n") != NULL);

    CHECK(request(port, "GET /healthz?verbose=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", buf,
                  sizeof buf) == 200);
    CHECK_STR(body_of(buf), "ok\n");
    CHECK_STR(last_query, "verbose=1");
    CHECK(request(port, "HEAD /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", buf, sizeof buf) == 200);
    CHECK_STR(body_of(buf), "");
    CHECK(strcasestr(buf, "content-length: 3") != NULL);

    CHECK(request(port, "GET /readyz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", buf, sizeof buf) == 503);
    CHECK_STR(body_of(buf), "not ready: broker not connected\n");
    atomic_store(&ready, 1);
    CHECK(request(port, "GET /readyz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", buf, sizeof buf) == 200);
    CHECK_STR(body_of(buf), "ok\n");
    CHECK(request(port, "GET /livez HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", buf, sizeof buf) == 200);
    CHECK(request(port, "GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", buf, sizeof buf) == 404);
    /* Exact paths: a route is not a prefix of longer paths. */
    CHECK(request(port, "GET /healthz/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", buf, sizeof buf) == 404);
    CHECK(request(port, "POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", buf,
                  sizeof buf) == 405);
    CHECK(strcasestr(buf, "allow: GET, HEAD") != NULL);
    CHECK(request(port, "GET /broken HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", buf, sizeof buf) == 500);

    /* Malformed requests: h2o's parser answers 400 and the server lives on. */
    int st = request(port, "GARBAGE\x01\x02 \r\n\r\n", buf, sizeof buf);
    CHECK(st >= 400 && st < 500);
    st = request(port, "GET /metrics HTTP/1.1\r\nHost t\r\nBad Header Line\r\n\r\n", buf, sizeof buf);
    CHECK(st >= 400 && st < 500);
    st = request(port, "GET /metrics HTTP/9.9\r\n\r\n", buf, sizeof buf);
    CHECK(st >= 400 && st < 600);

    /* A body larger than any route takes is refused, not buffered. */
    {
        int fd = connect_to(port);
        CHECK(fd >= 0);
        const char *hdr = "POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n";
        send_all(fd, hdr, strlen(hdr));
        read_response(fd, buf, sizeof buf, false);
        CHECK(status_of(buf) == 413);
        close(fd);
    }

    /* A client that stalls mid-request does not hold up anyone else. */
    int stall = connect_to(port);
    CHECK(stall >= 0);
    send_all(stall, "GET /healthz HTTP/1.1\r\nHost: t\r\n", 32);
    CHECK(request(port, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", buf, sizeof buf) == 200);
    close(stall);
    CHECK(request(port, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", buf, sizeof buf) == 200);

    /* Connections beyond the cap are closed at once; the server recovers
     * when they go. */
    {
        static int fds[256];
        int opened = 0;
        for (int i = 0; i < 256; i++)
            if ((fds[i] = connect_to(port)) >= 0)
                opened++;
        CHECK(opened == 256);
        int extra = connect_to(port);
        char c;
        CHECK(extra >= 0 && recv(extra, &c, 1, 0) == 0);
        close(extra);
        for (int i = 0; i < 256; i++)
            close(fds[i]);
        int st = 0;
        for (int tries = 0; tries < 200 && st != 200; tries++) {
            st = request(port, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", buf, sizeof buf);
            if (st != 200)
                usleep(10000);
        }
        CHECK(st == 200);
    }

    /* A keep-alive connection left idle: stop must close it. */
    int idle = connect_to(port);
    CHECK(idle >= 0);
    send_all(idle, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 34);
    read_response(idle, buf, sizeof buf, false);
    CHECK(status_of(buf) == 200);
    ca->idle_fd = idle;
    /* And one upgraded to cleartext HTTP/2 (h2c), left open as well. */
    int h2 = connect_to(port);
    CHECK(h2 >= 0);
    const char *up = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                     "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n";
    send_all(h2, up, strlen(up));
    ssize_t got = recv(h2, buf, sizeof buf - 1, 0);
    buf[got > 0 ? got : 0] = '\0';
    CHECK(status_of(buf) == 101);
    uv_async_send(ca->done);
    char c;
    ssize_t k = recv(idle, &c, 1, 0);   /* 0: closed by the server; -1 after 5 s: not closed */
    CHECK(k == 0);
    close(idle);
    /* The HTTP/2 connection is closed too (after any frames h2o sends). */
    while ((k = recv(h2, buf, sizeof buf, 0)) > 0)
        ;
    CHECK(k == 0);
    close(h2);
    return NULL;
}

static sk_http *server;

static void on_async_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_done(uv_async_t *a)
{
    CHECK(sk_http_connections_open(server) == 2);
    sk_http_stop(server);
    sk_http_stop(server);   /* twice is harmless */
    uv_close((uv_handle_t *)a, on_async_closed);
}

int main(void)
{
    uv_loop_t loop;
    sk_error err = SK_ERROR_INIT;
    sk_http *other = NULL;
    /* As in the broker and the node: a client that hangs up mid-response
     * must not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    CHECK(uv_loop_init(&loop) == 0);
    loop_thread = pthread_self();
    reg = sk_metrics_new();
    CHECK(reg != NULL);
    scrapes = sk_metrics_counter(reg, "sk_test_scrapes_total", "Scrapes answered.", NULL, 0, &err);
    CHECK(scrapes != NULL);

    sk_http_probe probe = {check_ready, &ready};
    const sk_http_route routes[] = {
        {"/metrics", h_metrics, NULL},
        {"/healthz", h_healthz, NULL},
        {"/readyz", sk_http_serve_probe, &probe},
        {"/livez", sk_http_serve_ok, NULL},
        {"/broken", h_broken, NULL},
    };
    CHECK(sk_http_start(&loop, "nonsense", routes, 5, &other, &err) == SK_EINVAL);
    CHECK(strstr(err.msg, "nonsense") != NULL);
    CHECK(sk_http_start(&loop, "127.0.0.1:99999", routes, 5, &other, &err) == SK_EINVAL);
    CHECK(sk_http_start(&loop, "example.org:80", routes, 5, &other, &err) == SK_EINVAL);
    CHECK(sk_http_start(&loop, "127.0.0.1:0", routes, 5, &server, &err) == 0);
    int port = sk_http_port(server);
    CHECK(port > 0);

    /* The same port twice fails with the address in the message. */
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    CHECK(sk_http_start(&loop, addr, routes, 5, &other, &err) == SK_EIO);
    CHECK(other == NULL);
    CHECK(strstr(err.msg, addr) != NULL);

    uv_async_t done;
    uv_async_init(&loop, &done, on_done);
    client_args ca = {port, &done, -1};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, client, &ca) == 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    pthread_join(th, NULL);

    CHECK(metrics_calls == 2);
    CHECK(handler_off_loop == 0);
    CHECK(uv_loop_close(&loop) == 0);   /* every handle closed */
    sk_metrics_free(reg);
    TEST_DONE();
}
