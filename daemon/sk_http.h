/* sk_http.h - a small HTTP server on the daemon's own libuv loop (h2o).
 *
 * The broker and the node answer /metrics, /healthz and /readyz from the
 * loop that runs their ZeroMQ sockets, so a scrape sees the same state the
 * daemon acts on and needs no lock.  h2o (Debian's libh2o, built for libuv)
 * parses HTTP/1.x and answers malformed requests with 400 itself; this file
 * only routes exact paths to callbacks.
 *
 * Handlers run on the loop thread and must not block: they format text that
 * is already in memory.  Only GET and HEAD are served (405 otherwise, with an
 * Allow header); a path with no route gets 404.
 *
 * The process must ignore SIGPIPE (the broker and the node do): libuv
 * writes to sockets without MSG_NOSIGNAL, and a scraper may hang up. */
#ifndef SK_HTTP_H
#define SK_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sk_buf.h"
#include "sk_error.h"

typedef struct sk_http sk_http;

typedef struct sk_http_request {
    const char *method;     /* "GET" or "HEAD"; not NUL-terminated */
    size_t method_len;
    const char *path;       /* normalized path without the query ("/metrics") */
    size_t path_len;
    const char *query;      /* text after '?', empty when none */
    size_t query_len;
} sk_http_request;

/* Fill body (and *content_type, default "text/plain; charset=utf-8") and
 * return the HTTP status (200, 503, ...).  A negative return or a body that
 * ran out of memory becomes 500. */
typedef int (*sk_http_handler)(const sk_http_request *req, sk_buf *body, const char **content_type, void *data);

typedef struct sk_http_route {
    const char *path;       /* matched exactly; the string must outlive the server */
    sk_http_handler handler;
    void *data;
} sk_http_route;

/* Ready-made handlers for the usual daemon routes:
 *   {"/metrics", sk_http_serve_metrics, registry}     data: sk_metrics *
 *   {"/healthz", sk_http_serve_ok, NULL}              200 "ok" while the loop turns
 *   {"/readyz", sk_http_serve_probe, &probe}          data: sk_http_probe *
 * A probe's check returns 0 when ready, or non-zero after writing the
 * reason ("broker not connected") into why; the route then answers 503. */
typedef struct sk_http_probe {
    int (*check)(void *ctx, sk_buf *why);
    void *ctx;
} sk_http_probe;

int sk_http_serve_metrics(const sk_http_request *req, sk_buf *body, const char **content_type, void *data);
int sk_http_serve_ok(const sk_http_request *req, sk_buf *body, const char **content_type, void *data);
int sk_http_serve_probe(const sk_http_request *req, sk_buf *body, const char **content_type, void *data);

/* Listen on addr_port ("127.0.0.1:9100", "[::1]:9100", ":9100" for every
 * IPv4 address, "localhost:9100"; port 0 picks a free port, see
 * sk_http_port) and serve routes (copied; n at most 64) on loop.  No name
 * lookup is done, so the call never blocks.  On error returns a negative
 * sk_errcode with err naming the address and the reason; nothing is left
 * running (a half-made listener is closed on the next loop turn). */
int sk_http_start(uv_loop_t *loop, const char *addr_port, const sk_http_route *routes, size_t n, sk_http **out,
                  sk_error *err);

/* The port actually bound (useful with port 0), or 0. */
int sk_http_port(const sk_http *h);

/* Connections served and currently open, for the daemon's own metrics. */
uint64_t sk_http_connections_total(const sk_http *h);
size_t sk_http_connections_open(const sk_http *h);

/* Stop listening, end open connections (idle keep-alive ones at once) and
 * release every handle; the memory is freed on a later loop turn, once libuv
 * has finished closing.  The loop may be run until it has no handles left
 * (uv_loop_close then returns 0).  NULL is a no-op. */
void sk_http_stop(sk_http *h);
/* The same, and *done becomes true once the server's last handle is closed
 * (run the loop until then before closing the loop's other handles). */
void sk_http_stop_flag(sk_http *h, bool *done);

#endif
