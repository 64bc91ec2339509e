/* sk_http.c - exact-path routes served by h2o on a libuv loop (see sk_http.h).
 *
 * Life cycle of the handles, because h2o and libuv both close lazily:
 *   start: uv_tcp listener -> h2o_context (its timers and async handle live
 *          inside the context, which lives inside sk_http);
 *   each accepted connection is an sk_http_conn (uv_tcp_t first) on a list;
 *   h2o closes it through the close callback we hand to h2o_uv_socket_create;
 *   stop:  close the listener, shut down every open socket (h2o sees EOF and
 *          tears its connection down), and once the list is empty dispose the
 *          h2o context, which uv_close()s its timers with no callback.  libuv
 *          finishes closes in LIFO order within one loop turn, so the memory
 *          is freed only from the close callback of a second sentinel handle,
 *          closed from the first one's callback: by then every handle closed
 *          in the earlier turn is finished. */
#include "sk_http.h"

#include <h2o.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sk_log.h"
#include "sk_metrics.h"

#define SK_HTTP_MAX_ROUTES 64
/* Scrapers and probes open a few connections; more is a misbehaving
 * client, and each costs buffers on the daemon's loop. */
#define SK_HTTP_MAX_CONNS 256
/* No route takes a body: refuse big ones (h2o answers 413) instead of
 * buffering h2o's default of 1 GiB. */
#define SK_HTTP_MAX_BODY (64 * 1024)

typedef struct sk_http_conn {
    uv_tcp_t tcp;   /* first: h2o hands our close callback the uv_handle_t */
    sk_http *srv;
    struct sk_http_conn *prev, *next;
} sk_http_conn;

typedef struct sk_http_h2o_handler {
    h2o_handler_t super;
    sk_http *srv;
} sk_http_h2o_handler;

struct sk_http {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_idle_t fin_a, fin_b;     /* sentinels for the final free (see top) */
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    bool h2o_ready, stopping, listener_closed, disposed;
    bool *done_flag;        /* set when every handle is closed and the server freed */
    sk_http_route routes[SK_HTTP_MAX_ROUTES];
    size_t nroutes;
    sk_http_conn *conns;
    size_t nopen;
    uint64_t total;
    int port;
};

static const char *reason_of(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    sk_http *srv = ((sk_http_h2o_handler *)self)->srv;
    const sk_http_route *route = NULL;
    for (size_t i = 0; i < srv->nroutes; i++) {
        const char *p = srv->routes[i].path;
        if (h2o_memis(req->path_normalized.base, req->path_normalized.len, p, strlen(p))) {
            route = &srv->routes[i];
            break;
        }
    }
    if (route == NULL) {
        h2o_send_error_404(req, "Not Found", "not found\n", 0);
        return 0;
    }
    bool head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    if (!head && !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        h2o_send_error_405(req, "Method Not Allowed", "method not allowed\n", H2O_SEND_ERROR_KEEP_HEADERS);
        return 0;
    }
    sk_http_request r = {req->method.base, req->method.len, req->path_normalized.base, req->path_normalized.len, "", 0};
    if (req->query_at != SIZE_MAX) {
        r.query = req->path.base + req->query_at + 1;
        r.query_len = req->path.len - req->query_at - 1;
    }
    sk_buf body = SK_BUF_INIT;
    const char *ctype = "text/plain; charset=utf-8";
    int status = route->handler(&r, &body, &ctype, route->data);
    if (status < 100 || status > 599 || body.oom) {
        if (status >= 0)
            sk_warn("msg=\"http handler failed\" path=%s status=%d oom=%d", route->path, status, (int)body.oom);
        sk_buf_free(&body);
        h2o_send_error_500(req, "Internal Server Error", "internal error\n", 0);
        return 0;
    }
    req->res.status = status;
    req->res.reason = reason_of(status);
    req->res.content_length = body.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype, strlen(ctype));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    /* h2o_send_inline copies the body into the request's pool and leaves
     * it out for HEAD. */
    h2o_send_inline(req, body.data != NULL ? body.data : "", body.len);
    sk_buf_free(&body);
    return 0;
}

static void on_fin_b(uv_handle_t *h)
{
    sk_http *srv = h->data;
    if (srv->done_flag != NULL)
        *srv->done_flag = true;
    free(srv);
}

static void on_fin_a(uv_handle_t *h)
{
    sk_http *srv = h->data;
    uv_close((uv_handle_t *)&srv->fin_b, on_fin_b);
}

static void maybe_finish(sk_http *srv)
{
    if (!srv->stopping || !srv->listener_closed || srv->conns != NULL || srv->disposed)
        return;
    srv->disposed = true;
    if (srv->h2o_ready) {
        h2o_context_dispose(&srv->ctx);
        h2o_config_dispose(&srv->config);
    }
    uv_close((uv_handle_t *)&srv->fin_a, on_fin_a);
}

static void on_listener_closed(uv_handle_t *h)
{
    sk_http *srv = h->data;
    srv->listener_closed = true;
    maybe_finish(srv);
}

static void on_conn_closed(uv_handle_t *h)
{
    sk_http_conn *c = (sk_http_conn *)h;
    sk_http *srv = c->srv;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    srv->nopen--;
    free(c);
    maybe_finish(srv);
}

static void on_conn_closed_unaccepted(uv_handle_t *h)
{
    free(h);
}

static void on_accept(uv_stream_t *listener, int status)
{
    sk_http *srv = listener->data;
    if (status < 0) {
        sk_warn("msg=\"http accept failed\" error=\"%s\"", uv_strerror(status));
        return;
    }
    if (srv->stopping)
        return;
    sk_http_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        sk_warn("msg=\"http accept: out of memory\"");
        return;
    }
    c->srv = srv;
    int rc = uv_tcp_init(srv->loop, &c->tcp);
    if (rc < 0) {
        free(c);
        return;
    }
    if ((rc = uv_accept(listener, (uv_stream_t *)&c->tcp)) < 0 || srv->nopen >= SK_HTTP_MAX_CONNS) {
        if (rc == 0)
            sk_warn("msg=\"http: too many connections, refusing one\" open=%zu", srv->nopen);
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed_unaccepted);
        return;
    }
    c->next = srv->conns;
    if (srv->conns != NULL)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nopen++;
    srv->total++;
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, on_conn_closed);
    h2o_accept(&srv->accept_ctx, sock);
}

static int parse_addr(const char *addr_port, struct sockaddr_storage *ss, sk_error *err)
{
    char host[128];
    const char *colon, *hs = addr_port;
    size_t hlen;
    if (addr_port == NULL || *addr_port == '\0')
        return sk_fail(err, SK_EINVAL, "http: empty listen address (expected ADDRESS:PORT)");
    if (addr_port[0] == '[') {
        const char *close = strchr(addr_port, ']');
        if (close == NULL || close[1] != ':')
            return sk_fail(err, SK_EINVAL, "http: bad listen address '%s' (expected [IPV6]:PORT)", addr_port);
        hs = addr_port + 1;
        hlen = (size_t)(close - hs);
        colon = close + 1;
    } else {
        colon = strrchr(addr_port, ':');
        if (colon == NULL)
            return sk_fail(err, SK_EINVAL, "http: bad listen address '%s' (expected ADDRESS:PORT)", addr_port);
        hlen = (size_t)(colon - addr_port);
    }
    if (hlen >= sizeof host)
        return sk_fail(err, SK_EINVAL, "http: listen address '%s' is too long", addr_port);
    memcpy(host, hs, hlen);
    host[hlen] = '\0';
    char *end;
    const char *ps = colon + 1;
    long port = strtol(ps, &end, 10);
    if (*ps == '\0' || *end != '\0' || port < 0 || port > 65535)
        return sk_fail(err, SK_EINVAL, "http: bad port in listen address '%s' (0..65535)", addr_port);
    if (hlen == 0 || strcmp(host, "*") == 0)
        strcpy(host, "0.0.0.0");
    else if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0)
        return 0;
    if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    return sk_fail(err, SK_EINVAL, "http: '%s' in '%s' is not a numeric IPv4/IPv6 address", host, addr_port);
}

static void on_failed_listener_closed(uv_handle_t *h)
{
    free(h->data);
}

int sk_http_start(uv_loop_t *loop, const char *addr_port, const sk_http_route *routes, size_t n, sk_http **out,
                  sk_error *err)
{
    struct sockaddr_storage ss;
    int rc;
    *out = NULL;
    if (n > SK_HTTP_MAX_ROUTES)
        return sk_fail(err, SK_EINVAL, "http: %zu routes, at most %d", n, SK_HTTP_MAX_ROUTES);
    for (size_t i = 0; i < n; i++)
        if (routes[i].path == NULL || routes[i].path[0] != '/' || routes[i].handler == NULL)
            return sk_fail(err, SK_EINVAL, "http: route %zu needs a path starting with '/' and a handler", i);
    if ((rc = parse_addr(addr_port, &ss, err)) < 0)
        return rc;
    sk_http *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return sk_fail(err, SK_ENOMEM, "http: out of memory");
    srv->loop = loop;
    memcpy(srv->routes, routes, n * sizeof *routes);
    srv->nroutes = n;
    if ((rc = uv_tcp_init(loop, &srv->listener)) < 0) {
        free(srv);
        return sk_fail(err, SK_EIO, "http: %s", uv_strerror(rc));
    }
    srv->listener.data = srv;
    if ((rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&ss, 0)) < 0 ||
        (rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_accept)) < 0) {
        uv_close((uv_handle_t *)&srv->listener, on_failed_listener_closed);
        return sk_fail(err, SK_EIO, "http: cannot listen on %s: %s", addr_port, uv_strerror(rc));
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &blen) == 0)
        srv->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                      : ((struct sockaddr_in *)&bound)->sin_port);
    uv_idle_init(loop, &srv->fin_a);
    uv_idle_init(loop, &srv->fin_b);
    srv->fin_a.data = srv;
    srv->fin_b.data = srv;

    /* One host, one path "/": h2o's own path matching is by prefix, and we
     * want exact paths and our own 404. */
    h2o_config_init(&srv->config);
    srv->config.server_name = h2o_iovec_init(H2O_STRLIT("samskap"));
    srv->config.max_request_entity_size = SK_HTTP_MAX_BODY;
    h2o_hostconf_t *host = h2o_config_register_host(&srv->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
    sk_http_h2o_handler *hd = (sk_http_h2o_handler *)h2o_create_handler(pc, sizeof *hd);
    hd->super.on_req = on_req;
    hd->srv = srv;
    h2o_context_init(&srv->ctx, loop, &srv->config);
    srv->accept_ctx.ctx = &srv->ctx;
    srv->accept_ctx.hosts = srv->config.hosts;
    srv->h2o_ready = true;
    *out = srv;
    return 0;
}

int sk_http_port(const sk_http *h)
{
    return h != NULL ? h->port : 0;
}

uint64_t sk_http_connections_total(const sk_http *h)
{
    return h != NULL ? h->total : 0;
}

size_t sk_http_connections_open(const sk_http *h)
{
    return h != NULL ? h->nopen : 0;
}

void sk_http_stop_flag(sk_http *h, bool *done)
{
    if (h == NULL) {
        *done = true;
        return;
    }
    h->done_flag = done;
    sk_http_stop(h);
}

void sk_http_stop(sk_http *h)
{
    if (h == NULL || h->stopping)
        return;
    h->stopping = true;
    uv_close((uv_handle_t *)&h->listener, on_listener_closed);
    /* Shutting the socket down makes the next read return EOF, so h2o closes
     * its connection through its own path (an idle keep-alive connection
     * would otherwise wait for h2o's request timeout). */
    for (sk_http_conn *c = h->conns; c != NULL; c = c->next) {
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
            shutdown(fd, SHUT_RDWR);
    }
    /* No h2o_context_request_shutdown: its HTTP/2 part arms a GOAWAY timer
     * in the context, and every response here is complete when its handler
     * returns, so there is nothing in flight to let finish. */
}

int sk_http_serve_metrics(const sk_http_request *req, sk_buf *body, const char **content_type, void *data)
{
    (void)req;
    *content_type = SK_METRICS_CONTENT_TYPE;
    return sk_metrics_render(data, body) < 0 ? -1 : 200;
}

int sk_http_serve_ok(const sk_http_request *req, sk_buf *body, const char **content_type, void *data)
{
    (void)req;
    (void)content_type;
    (void)data;
    sk_buf_puts(body, "ok\n");
    return 200;
}

int sk_http_serve_probe(const sk_http_request *req, sk_buf *body, const char **content_type, void *data)
{
    const sk_http_probe *p = data;
    (void)req;
    (void)content_type;
    sk_buf why = SK_BUF_INIT;
    int rc = p != NULL && p->check != NULL ? p->check(p->ctx, &why) : 0;
    if (rc == 0) {
        sk_buf_free(&why);
        sk_buf_puts(body, "ok\n");
        return 200;
    }
    sk_buf_printf(body, "not ready: %s\n", why.len > 0 ? why.data : "unknown reason");
    sk_buf_free(&why);
    return 503;
}
