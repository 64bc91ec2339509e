/* bench_bus.c - round trips per second and latency through the samskap
 * broker, side by side with a plain zmq_proxy(ROUTER, DEALER) in the same
 * run.  Clients are pipelined (up to `window` requests in flight each);
 * workers are in-process threads that echo the body, so the figures measure
 * the broker, not a kernel.
 *
 * usage: bench_bus [--clients N] [--workers M] [--seconds S] [--window W]
 *                  [--broker PATH-TO-samskap-broker] [--only proxy|samskap|durable]
 *                  [--bytes 100|10240] */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "sk_client.h"
#include "sk_proto.h"

extern char **environ;

typedef struct config {
    int clients, workers, window, body;
    double seconds;
    bool samskap, ack, durable;
    bool batch;       /* samskap mode: clients batch their submits (sk_client_set_batching) */
    bool sk_frames;   /* proxy mode: clients send samskap's frames (signature, submit header, body) */
    char front[64], back[64];
} config;

typedef struct client_out {
    long done;
    double *lat;   /* seconds */
    long nlat, caplat;
} client_out;

static atomic_int stop_workers;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void add_lat(client_out *o, double v)
{
    if (o->nlat == o->caplat) {
        o->caplat = o->caplat ? o->caplat * 2 : 4096;
        o->lat = realloc(o->lat, (size_t)o->caplat * sizeof *o->lat);
    }
    o->lat[o->nlat++] = v;
}

/* ---- samskap mode ---- */

typedef struct targs {
    config *cfg;
    void *ctx;
    client_out out;
    int index;
} targs;

static void *sk_worker(void *arg)
{
    targs *t = arg;
    void *s = zmq_socket(t->ctx, ZMQ_DEALER);
    int zero = 0, tmo = 100;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_connect(s, t->cfg->back);
    sk_header h;
    sk_header_init(&h, SK_MSG_READY);
    char svc[1][SK_ID_MAX] = {"bench.echo"};
    h.services = svc;
    h.nservices = 1;
    h.capacity = 4096;
    snprintf(h.node_name, sizeof h.node_name, "bench-%d", t->index);
    sk_wire_send(s, NULL, 0, &h, NULL, 0, 0);
    double last_hb = now_s();
    /* As samskap-node does: read what has arrived (batches included), then
     * send the results of all of it as one batch. */
    sk_wire_reader rd;
    sk_wire_batch out;
    sk_wire_reader_init(&rd, s, false);
    sk_wire_batch_init(&out);
    while (!atomic_load(&stop_workers)) {
        sk_wire_msg m;
        sk_error err = SK_ERROR_INIT;
        if (now_s() - last_hb > 0.5) {
            sk_header hb;
            sk_header_init(&hb, SK_MSG_HEARTBEAT);
            sk_wire_send(s, NULL, 0, &hb, NULL, 0, ZMQ_DONTWAIT);
            last_hb = now_s();
        }
        int rc = sk_wire_read(&rd, &m, 0, &err);
        while (rc > 0) {
            if (m.hdr.type == SK_MSG_JOB) {
                sk_header r;
                sk_header_init(&r, SK_MSG_RESULT);
                memcpy(r.job, m.hdr.job, SK_ID_MAX);
                memcpy(r.client, m.hdr.client, SK_ID_MAX);
                r.req = m.hdr.req;
                r.attempt = m.hdr.attempt;
                zmq_msg_t body;
                zmq_msg_init(&body);
                if (m.nbodies > 0)
                    zmq_msg_move(&body, &m.bodies[0]);
                if (sk_wire_batch_full(&out))
                    sk_wire_batch_send(s, NULL, 0, &out, 0);
                sk_wire_batch_add(&out, &r, &body, 1);
                if (m.minor < 1) /* a 1.0 broker reads no batches */
                    sk_wire_batch_send(s, NULL, 0, &out, 0);
            }
            sk_wire_msg_close(&m);
            rc = sk_wire_read(&rd, &m, ZMQ_DONTWAIT, &err);
        }
        if (rc < 0)
            sk_wire_msg_close(&m);
        sk_wire_batch_send(s, NULL, 0, &out, 0);
    }
    sk_wire_batch_free(&out);
    sk_wire_reader_free(&rd);
    zmq_close(s);
    return NULL;
}

static void *sk_client_thread(void *arg)
{
    targs *t = arg;
    config *c = t->cfg;
    sk_error err = SK_ERROR_INIT;
    sk_client *cl = sk_client_new_in(t->ctx, c->front, &err);
    sk_client_set_batching(cl, c->batch);
    char *body = calloc(1, (size_t)c->body);
    sk_submit s = {.service = "bench.echo", .tenant = "bench", .no_ack = !c->ack, .ninputs = 1};
    s.input_names[0] = "b";
    s.input_data[0] = body;
    s.input_len[0] = (size_t)c->body;
    /* req numbers are consecutive per client: a ring of send times. */
    double *sent = calloc((size_t)c->window * 4 + 16, sizeof *sent);
    long ring = c->window * 4 + 16;
    int inflight = 0;
    double end = now_s() + c->seconds;
    while (now_s() < end) {
        while (inflight < c->window) {
            int64_t req = sk_client_submit(cl, &s, &err);
            sent[req % ring] = now_s();
            inflight++;
        }
        /* Take every outcome that has arrived before refilling the window,
         * as a pipeline collecting results does. */
        sk_wire_msg m;
        int wait_ms = 1000;
        while (inflight > 0 && sk_client_recv(cl, wait_ms, &m, &err) == 1) {
            if (m.hdr.type == SK_MSG_RESULT || m.hdr.type == SK_MSG_FAILED) {
                inflight--;
                t->out.done++;
                add_lat(&t->out, now_s() - sent[m.hdr.req % ring]);
            }
            sk_wire_msg_close(&m);
            wait_ms = 0;
        }
    }
    /* Drain what is in flight so the broker is idle for the next run. */
    double drain_end = now_s() + 5;
    while (inflight > 0 && now_s() < drain_end) {
        sk_wire_msg m;
        if (sk_client_recv(cl, 500, &m, &err) != 1)
            continue;
        if (m.hdr.type == SK_MSG_RESULT || m.hdr.type == SK_MSG_FAILED)
            inflight--;
        sk_wire_msg_close(&m);
    }
    free(sent);
    free(body);
    sk_client_free(cl);
    return NULL;
}

/* ---- zmq_proxy mode ---- */

typedef struct proxy_args {
    void *ctx;
    config *cfg;
} proxy_args;

static void *proxy_thread(void *arg)
{
    proxy_args *p = arg;
    void *f = zmq_socket(p->ctx, ZMQ_ROUTER), *b = zmq_socket(p->ctx, ZMQ_DEALER);
    void *ctl = zmq_socket(p->ctx, ZMQ_PAIR);
    int hwm = 100000, zero = 0;
    /* Linger 0 everywhere: replies to clients that already left must not
     * keep zmq_ctx_term waiting. */
    zmq_setsockopt(f, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(b, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(ctl, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(f, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(f, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(b, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(b, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_bind(f, p->cfg->front);
    zmq_bind(b, p->cfg->back);
    zmq_bind(ctl, "inproc://proxy-control");
    zmq_proxy_steerable(f, b, NULL, ctl);
    zmq_close(f);
    zmq_close(b);
    zmq_close(ctl);
    return NULL;
}

static void *px_worker(void *arg)
{
    targs *t = arg;
    void *s = zmq_socket(t->ctx, ZMQ_DEALER);
    int zero = 0, tmo = 100;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_connect(s, t->cfg->back);
    while (!atomic_load(&stop_workers)) {
        zmq_msg_t parts[4];
        int n = 0, more = 1;
        while (more && n < 4) {
            zmq_msg_init(&parts[n]);
            if (zmq_msg_recv(&parts[n], s, 0) < 0) {
                zmq_msg_close(&parts[n]);
                break;
            }
            more = zmq_msg_more(&parts[n]);
            n++;
        }
        for (int i = 0; i < n; i++)
            zmq_msg_send(&parts[i], s, i + 1 < n ? ZMQ_SNDMORE : 0);
    }
    zmq_close(s);
    return NULL;
}

static void *px_client(void *arg)
{
    targs *t = arg;
    config *c = t->cfg;
    void *s = zmq_socket(t->ctx, ZMQ_DEALER);
    int zero = 0, tmo = 1000;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_connect(s, c->front);
    char *body = calloc(1, (size_t)c->body + 16);
    /* With sk_frames, the same frames a samskap client sends: what a bare
     * proxy does with samskap's message pattern. */
    static const unsigned char sig[4] = {'S', 'K', SK_PROTO_MAJOR, SK_PROTO_MINOR};
    char *hdr = NULL;
    size_t hlen = 0;
    sk_header h;
    sk_header_init(&h, SK_MSG_SUBMIT);
    snprintf(h.service, sizeof h.service, "bench.echo");
    snprintf(h.tenant, sizeof h.tenant, "bench");
    h.req = 1000000;
    h.no_ack = true;
    h.nbodies = 1;
    snprintf(h.body_names[0], SK_ID_MAX, "b");
    bool frames = c->sk_frames && sk_header_encode(&h, &hdr, &hlen, NULL) == 0;
    long seq = 0;
    long ring = c->window * 4 + 16;
    double *sent = calloc((size_t)ring, sizeof *sent);
    int inflight = 0;
    double end = now_s() + c->seconds;
    while (now_s() < end) {
        while (inflight < c->window) {
            memcpy(body, &seq, sizeof seq);
            sent[seq % ring] = now_s();
            seq++;
            if (frames) {
                zmq_send(s, sig, sizeof sig, ZMQ_SNDMORE);
                zmq_send(s, hdr, hlen, ZMQ_SNDMORE);
            } else {
                zmq_send(s, "", 0, ZMQ_SNDMORE);
            }
            zmq_send(s, body, (size_t)c->body > sizeof seq ? (size_t)c->body : sizeof seq, 0);
            inflight++;
        }
        /* Frames before the body: the delimiter, or signature and header. */
        char e[256];
        if (zmq_recv(s, e, sizeof e, 0) < 0)
            continue;
        if (frames && zmq_recv(s, e, sizeof e, 0) < 0)
            continue;
        long got;
        int n = zmq_recv(s, body, (size_t)c->body + 16, 0);
        if (n < (int)sizeof got)
            continue;
        memcpy(&got, body, sizeof got);
        inflight--;
        t->out.done++;
        add_lat(&t->out, now_s() - sent[got % ring]);
    }
    free(sent);
    free(body);
    free(hdr);
    zmq_close(s);
    return NULL;
}

/* CPU seconds (user + system) a process has used so far; 0 if unknown. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command name, which may hold spaces: utime and
     * stime are the 12th and 13th after the closing parenthesis. */
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *label, config *c, targs *cl, double elapsed, double broker_cpu)
{
    long done = 0, n = 0;
    for (int i = 0; i < c->clients; i++)
        done += cl[i].out.done, n += cl[i].out.nlat;
    double *all = malloc((size_t)(n ? n : 1) * sizeof *all);
    long k = 0;
    for (int i = 0; i < c->clients; i++)
        for (long j = 0; j < cl[i].out.nlat; j++)
            all[k++] = cl[i].out.lat[j];
    qsort(all, (size_t)n, sizeof *all, cmp_d);
    double p50 = n ? all[n / 2] : 0, p99 = n ? all[(long)(n * 0.99)] : 0;
    printf("%-28s %7d %7d %7d %10.0f %9.3f %9.3f", label, c->clients, c->workers, c->body, done / elapsed,
           p50 * 1e3, p99 * 1e3);
    if (broker_cpu > 0 && done > 0)
        printf(" %10.2f\n", broker_cpu * 1e6 / (double)done);
    else
        printf(" %10s\n", "-");
    fflush(stdout);
    free(all);
}

static double run(config *c, const char *label, const char *broker_bin, double *rate)
{
    void *ctx = zmq_ctx_new();
    /* The proxy gets its own context (its own I/O thread), as the broker,
     * a process of its own, has: otherwise it would share one I/O thread
     * with every client and worker. */
    void *pctx = c->samskap ? NULL : zmq_ctx_new();
    pthread_t proxy, workers[64], clients[64];
    proxy_args pa = {pctx, c};
    targs wa[64], ca[64];
    pid_t broker = 0;
    atomic_store(&stop_workers, 0);
    if (c->samskap) {
        char dd[64];
        snprintf(dd, sizeof dd, "/tmp/bench_bus_journal_%d", (int)getpid());
        char *argv[] = {(char *)broker_bin, "--frontend", c->front, "--backend", c->back, "--quiet",
                        "--max-queue", "10000000", "--insecure", c->durable ? "--data-dir" : NULL, dd, NULL};
        if (posix_spawn(&broker, broker_bin, NULL, NULL, argv, environ) != 0) {
            fprintf(stderr, "bench_bus: cannot start %s\n", broker_bin);
            exit(1);
        }
        usleep(300000);
    } else {
        pthread_create(&proxy, NULL, proxy_thread, &pa);
        usleep(100000);
    }
    for (int i = 0; i < c->workers; i++) {
        wa[i] = (targs){c, ctx, {0, NULL, 0, 0}, i};
        pthread_create(&workers[i], NULL, c->samskap ? sk_worker : px_worker, &wa[i]);
    }
    usleep(300000);
    double t0 = now_s(), cpu0 = broker ? proc_cpu_s(broker) : 0;
    for (int i = 0; i < c->clients; i++) {
        ca[i] = (targs){c, ctx, {0, NULL, 0, 0}, i};
        pthread_create(&clients[i], NULL, c->samskap ? sk_client_thread : px_client, &ca[i]);
    }
    for (int i = 0; i < c->clients; i++)
        pthread_join(clients[i], NULL);
    double elapsed = c->seconds;
    (void)t0;
    report(label, c, ca, elapsed, broker ? proc_cpu_s(broker) - cpu0 : 0);
    long done = 0;
    for (int i = 0; i < c->clients; i++) {
        done += ca[i].out.done;
        free(ca[i].out.lat);
    }
    *rate = done / elapsed;
    atomic_store(&stop_workers, 1);
    for (int i = 0; i < c->workers; i++)
        pthread_join(workers[i], NULL);
    if (c->samskap) {
        kill(broker, SIGTERM);
        waitpid(broker, NULL, 0);
        if (c->durable) {
            char cmd[128];
            snprintf(cmd, sizeof cmd, "rm -rf /tmp/bench_bus_journal_%d", (int)getpid());
            if (system(cmd) != 0)
                fprintf(stderr, "bench_bus: could not remove the journal\n");
        }
    } else {
        void *ctl = zmq_socket(pctx, ZMQ_PAIR);
        int zero = 0;
        zmq_setsockopt(ctl, ZMQ_LINGER, &zero, sizeof zero);
        zmq_connect(ctl, "inproc://proxy-control");
        zmq_send(ctl, "TERMINATE", 9, 0);
        pthread_join(proxy, NULL);
        zmq_close(ctl);
        zmq_ctx_term(pctx);
    }
    zmq_ctx_term(ctx);
    return *rate;
}

int main(int argc, char **argv)
{
    config base = {.clients = 8, .workers = 2, .window = 100, .body = 100, .seconds = 3};
    const char *broker_bin = getenv("SAMSKAP_BUILD") ? NULL : "./samskap-broker";
    const char *only = NULL;
    int only_bytes = 0;
    static char path[512];
    if (getenv("SAMSKAP_BUILD")) {
        snprintf(path, sizeof path, "%s/samskap-broker", getenv("SAMSKAP_BUILD"));
        broker_bin = path;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            printf("usage: bench_bus [--clients N] [--workers M] [--seconds S] [--window W] [--broker PATH]\n"
                   "                 [--only proxy|samskap|durable] [--bytes 100|10240]\n"
                   "Round trips/s and p50/p99 latency through samskap-broker and through zmq_proxy.\n"
                   "samskap rows: clients sending one submit per message (with and without accepted),\n"
                   "then clients batching their submits (sk_client_set_batching); broker and workers\n"
                   "batch in every row (protocol 1.1).\n"
                   "broker_us: CPU time (user + system, all threads) the samskap-broker process spent per\n"
                   "round trip, a figure less sensitive than rt/s to other load on the machine.\n");
            return 0;
        } else if (i + 1 < argc && strcmp(argv[i], "--clients") == 0) base.clients = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--workers") == 0) base.workers = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--seconds") == 0) base.seconds = atof(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--window") == 0) base.window = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--broker") == 0) broker_bin = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--only") == 0) only = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--bytes") == 0) only_bytes = atoi(argv[++i]);
        else {
            fprintf(stderr, "bench_bus: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (base.clients < 1 || base.clients > 64 || base.workers < 1 || base.workers > 64) {
        fprintf(stderr, "bench_bus: clients and workers must be in 1..64\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    printf("bench_bus: %d clients x %d in flight, %d workers, %.0f s per run, tcp loopback\n", base.clients,
           base.window, base.workers, base.seconds);
    printf("%-28s %7s %7s %7s %10s %9s %9s %10s\n", "path", "clients", "workers", "bytes", "rt/s", "p50_ms", "p99_ms",
           "broker_us");
    /* Below the ephemeral range (32768+), where loopback clients would collide. */
    int port = 10000 + (int)(getpid() % 20000);
    int bodies[2] = {100, 10240};
    for (int b = 0; b < 2; b++) {
        double proxy_rate, proxy_sk_rate, sk_rate, sk_ack_rate;
        config c = base;
        c.body = bodies[b];
        if (only_bytes != 0 && only_bytes != c.body)
            continue;
        snprintf(c.front, sizeof c.front, "tcp://127.0.0.1:%d", port++);
        snprintf(c.back, sizeof c.back, "tcp://127.0.0.1:%d", port++);
        proxy_rate = proxy_sk_rate = 1;
        if (only != NULL && strcmp(only, "durable") == 0)
            continue;
        if (only == NULL || strcmp(only, "proxy") == 0) {
            run(&c, "zmq_proxy(ROUTER,DEALER)", NULL, &proxy_rate);
            c.sk_frames = true;
            snprintf(c.front, sizeof c.front, "tcp://127.0.0.1:%d", port++);
            snprintf(c.back, sizeof c.back, "tcp://127.0.0.1:%d", port++);
            run(&c, "zmq_proxy, samskap frames", NULL, &proxy_sk_rate);
            c.sk_frames = false;
        }
        if (only != NULL && strcmp(only, "samskap") != 0)
            continue;
        c.samskap = true;
        c.ack = false;
        snprintf(c.front, sizeof c.front, "tcp://127.0.0.1:%d", port++);
        snprintf(c.back, sizeof c.back, "tcp://127.0.0.1:%d", port++);
        run(&c, "samskap (no accepted)", broker_bin, &sk_rate);
        if (only != NULL)
            continue;
        c.ack = true;
        snprintf(c.front, sizeof c.front, "tcp://127.0.0.1:%d", port++);
        snprintf(c.back, sizeof c.back, "tcp://127.0.0.1:%d", port++);
        run(&c, "samskap (with accepted)", broker_bin, &sk_ack_rate);
        double b_rate, b_ack_rate;
        c.batch = true;
        c.ack = false;
        snprintf(c.front, sizeof c.front, "tcp://127.0.0.1:%d", port++);
        snprintf(c.back, sizeof c.back, "tcp://127.0.0.1:%d", port++);
        run(&c, "samskap, batched submits", broker_bin, &b_rate);
        c.ack = true;
        snprintf(c.front, sizeof c.front, "tcp://127.0.0.1:%d", port++);
        snprintf(c.back, sizeof c.back, "tcp://127.0.0.1:%d", port++);
        run(&c, "  ... with accepted", broker_bin, &b_ack_rate);
        printf("  -> samskap/zmq_proxy at %d B: %.0f%% (no accepted), %.0f%% (with accepted); "
               "clients batching submits: %.0f%%, %.0f%%\n",
               c.body, 100 * sk_rate / proxy_rate, 100 * sk_ack_rate / proxy_rate, 100 * b_rate / proxy_rate,
               100 * b_ack_rate / proxy_rate);
        printf("  -> samskap/zmq_proxy with samskap frames at %d B: %.0f%% (no accepted), %.0f%% (with accepted); "
               "clients batching submits: %.0f%%, %.0f%%\n",
               c.body, 100 * sk_rate / proxy_sk_rate, 100 * sk_ack_rate / proxy_sk_rate, 100 * b_rate / proxy_sk_rate,
               100 * b_ack_rate / proxy_sk_rate);
    }
    if (only == NULL || strcmp(only, "durable") == 0) {
        /* Durable (journal, accepted after commit) against in-memory, both
         * with accepted, 100 B. */
        double mem_rate, dur_rate;
        config c = base;
        c.samskap = true;
        c.ack = true;
        snprintf(c.front, sizeof c.front, "tcp://127.0.0.1:%d", port++);
        snprintf(c.back, sizeof c.back, "tcp://127.0.0.1:%d", port++);
        run(&c, "samskap in memory", broker_bin, &mem_rate);
        c.durable = true;
        snprintf(c.front, sizeof c.front, "tcp://127.0.0.1:%d", port++);
        snprintf(c.back, sizeof c.back, "tcp://127.0.0.1:%d", port++);
        run(&c, "samskap durable (--data-dir)", broker_bin, &dur_rate);
        printf("  -> durable/in-memory: %.0f%% (target >= 50%%)\n", 100 * dur_rate / mem_rate);
    }
    return 0;
}
