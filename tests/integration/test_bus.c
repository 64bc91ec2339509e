/* test_bus.c - end-to-end tests of broker, node and CLI over real sockets.
 * Usage: test_bus NAME; each NAME is its own ctest test. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../unit/test_util.h"
#include "harness.h"
#include "sk_hash.h"
#include "sk_keys.h"
#include "sk_result.h"

/* Generous heartbeats: loopback under ASan on 2 cores is slow. */
#define FAST_BROKER "--heartbeat-ms 200 --liveness 10"
#define FAST_NODE "--heartbeat-ms 200 --liveness 10"

static sk_cluster C;

static void start(const char *broker_extra, int nodes, int jobs)
{
    h_cluster_init(&C);
    h_start_broker(&C, broker_extra ? broker_extra : FAST_BROKER);
    for (int i = 0; i < nodes; i++) {
        char name[16];
        snprintf(name, sizeof name, "n%d", i + 1);
        h_start_node(&C, name, jobs, FAST_NODE);
    }
    if (nodes > 0)
        h_wait_nodes(&C, nodes, 20000);
}

/* Submit n jobs pipelined, collect outcomes; returns results seen. */
static int run_many(sk_client *cl, const char *service, const char *ms, int n, int *failed, int timeout_ms)
{
    sk_error err = SK_ERROR_INIT;
    sk_params *p = sk_params_new();
    if (ms)
        sk_params_set_str(p, "ms", ms);
    sk_submit s = {.service = service, .tenant = "1504", .params = p, .no_ack = true};
    for (int i = 0; i < n; i++)
        CHECK(sk_client_submit(cl, &s, &err) > 0);
    sk_params_free(p);
    int results = 0;
    *failed = 0;
    long end = h_now_ms() + timeout_ms;
    while (results + *failed < n && h_now_ms() < end) {
        sk_wire_msg m;
        int rc = sk_client_recv(cl, 1000, &m, &err);
        if (rc <= 0)
            continue;
        if (m.hdr.type == SK_MSG_RESULT) {
            results++;
            CHECK(m.nbodies == 1);
            sk_result *r = m.nbodies == 1 ? sk_result_decode(zmq_msg_data(&m.bodies[0]), zmq_msg_size(&m.bodies[0]), &err) : NULL;
            CHECK(r != NULL);
            sk_result_free(r);
        } else if (m.hdr.type == SK_MSG_FAILED) {
            fprintf(stderr, "job %s failed: %s\n", m.hdr.job, m.hdr.reason);
            (*failed)++;
        }
        sk_wire_msg_close(&m);
    }
    return results;
}

static void test_echo(void)
{
    char out[65536];
    start(NULL, 1, 2);
    int rc = h_cli(&C, out, sizeof out, "submit diag.echo --param colour=blå --param n=3 --tenant 1504 --json");
    CHECK(rc == 0);
    CHECK(strstr(out, "\"state\":\"done\"") != NULL);
    CHECK(strstr(out, "\"colour\",\"n\"") != NULL);
    CHECK(strstr(out, "\"blå\"") != NULL);
    /* With an input file: the echo reports its size. */
    FILE *f = fopen("/tmp/sk_echo_input.txt", "w");
    fputs("hello bus\n", f);
    fclose(f);
    rc = h_cli(&C, out, sizeof out, "submit diag.echo --input net=/tmp/sk_echo_input.txt --json");
    CHECK(rc == 0);
    CHECK(strstr(out, "\"ids\":[\"net\"]") != NULL && strstr(out, "\"bytes\":[10]") != NULL);
    /* services lists the node. */
    rc = h_cli(&C, out, sizeof out, "services --json");
    CHECK(rc == 0 && strstr(out, "diag.sleep") != NULL && strstr(out, "\"name\":\"n1\"") != NULL);
    unlink("/tmp/sk_echo_input.txt");
}

static void test_many(void)
{
    sk_error err = SK_ERROR_INIT;
    int failed;
    start(NULL, 2, 4);
    sk_client *cl = sk_client_new(C.front, &err);
    int results = run_many(cl, "diag.echo", NULL, 1000, &failed, 60000);
    CHECK(results == 1000);
    CHECK(failed == 0);
    CHECK(cl->seen.len == 1000);   /* 1000 distinct job ids */
    sk_client_free(cl);
    char *s = h_status(&C);
    CHECK(h_counter(s, "completed") == 1000);
    free(s);
}

static void test_node_kill(void)
{
    sk_error err = SK_ERROR_INIT;
    int failed;
    start(NULL, 2, 2);
    sk_client *cl = sk_client_new(C.front, &err);
    sk_params *p = sk_params_new();
    sk_params_set_str(p, "ms", "400");
    sk_submit s = {.service = "diag.sleep", .tenant = "1504", .params = p, .no_ack = true};
    const int n = 24;
    for (int i = 0; i < n; i++)
        CHECK(sk_client_submit(cl, &s, &err) > 0);
    sk_params_free(p);
    usleep(600000); /* both nodes are mid-job */
    h_kill(C.nodes[0], SIGKILL);
    int results = 0;
    failed = 0;
    long end = h_now_ms() + 60000;
    while (results + failed < n && h_now_ms() < end) {
        sk_wire_msg m;
        if (sk_client_recv(cl, 1000, &m, &err) <= 0)
            continue;
        if (m.hdr.type == SK_MSG_RESULT)
            results++;
        else if (m.hdr.type == SK_MSG_FAILED)
            failed++;
        sk_wire_msg_close(&m);
    }
    CHECK(results == n);
    CHECK(failed == 0);
    CHECK(cl->seen.len == (size_t)n);
    /* Nothing more arrives: no job is delivered twice. */
    sk_wire_msg m;
    int extra = 0;
    while (sk_client_recv(cl, 1500, &m, &err) == 1) {
        if (m.hdr.type == SK_MSG_RESULT || m.hdr.type == SK_MSG_FAILED)
            extra++;
        sk_wire_msg_close(&m);
    }
    CHECK(extra == 0);
    char *st = h_status(&C);
    CHECK(h_counter(st, "requeued") >= 1);
    CHECK(h_counter(st, "completed") == n);
    free(st);
    sk_client_free(cl);
}

static void test_broker_restart(void)
{
    start(NULL, 1, 2);
    CHECK(h_cli(&C, NULL, 0, "submit diag.echo --param a=1") == 0);
    h_kill(C.broker, SIGTERM);
    h_start_broker(&C, FAST_BROKER);
    h_wait_nodes(&C, 1, 20000);
    char out[8192];
    CHECK(h_cli(&C, out, sizeof out, "submit diag.echo --param after=restart --json") == 0);
    CHECK(strstr(out, "restart") != NULL);
}

static void test_cancel(void)
{
    char out[8192];
    sk_error err = SK_ERROR_INIT;
    start(NULL, 1, 1);
    sk_client *cl = sk_client_new(C.front, &err);
    sk_params *p = sk_params_new();
    sk_params_set_str(p, "ms", "20000");
    sk_submit s = {.service = "diag.sleep", .tenant = "1504", .params = p};
    char running[SK_ID_MAX] = "", queued[SK_ID_MAX] = "";
    sk_client_submit(cl, &s, &err);
    sk_client_submit(cl, &s, &err);
    sk_params_free(p);
    while (!queued[0]) {
        sk_wire_msg m;
        if (sk_client_recv(cl, 5000, &m, &err) != 1)
            break;
        if (m.hdr.type == SK_MSG_ACCEPTED)
            snprintf(m.hdr.req == 1 ? running : queued, SK_ID_MAX, "%s", m.hdr.job);
        sk_wire_msg_close(&m);
    }
    CHECK(running[0] && queued[0]);
    usleep(300000);
    long t0 = h_now_ms();
    CHECK(h_cli(&C, out, sizeof out, "cancel %s", queued) == 0);
    CHECK(h_cli(&C, out, sizeof out, "cancel %s", running) == 0);
    CHECK(h_now_ms() - t0 < 10000);
    /* The submitting client hears "cancelled" for both. */
    int cancelled = 0;
    for (int i = 0; i < 10 && cancelled < 2; i++) {
        sk_wire_msg m;
        if (sk_client_recv(cl, 2000, &m, &err) != 1)
            continue;
        if (m.hdr.type == SK_MSG_FAILED && m.hdr.code == SK_ECANCELED)
            cancelled++;
        sk_wire_msg_close(&m);
    }
    CHECK(cancelled == 2);
    sk_client_free(cl);
    /* The node is free again: a new job runs at once. */
    CHECK(h_cli(&C, NULL, 0, "submit diag.sleep -p ms=10 --timeout 10") == 0);
    /* Cancelling an unknown job is a clear failure. */
    CHECK(h_cli(&C, NULL, 0, "cancel j-nope-1") == 5);
}

static void test_deadline(void)
{
    start(NULL, 1, 1);
    long t0 = h_now_ms();
    int rc = h_cli(&C, NULL, 0, "submit diag.sleep -p ms=30000 --timeout 1");
    CHECK(rc == 4);
    CHECK(h_now_ms() - t0 < 8000);
    /* The node stopped the job: it takes the next one at once. */
    CHECK(h_cli(&C, NULL, 0, "submit diag.sleep -p ms=10 --timeout 5") == 0);
}

static void test_idempotency(void)
{
    char a[8192], b[8192];
    start(NULL, 1, 1);
    CHECK(h_cli(&C, a, sizeof a, "submit diag.echo -p v=1 --idempotency-key run-42 --json") == 0);
    CHECK(h_cli(&C, b, sizeof b, "submit diag.echo -p v=2 --idempotency-key run-42 --json") == 0);
    char *ja = strstr(a, "\"job\":\""), *jb = strstr(b, "\"job\":\"");
    CHECK(ja && jb && strncmp(ja, jb, 30) == 0);
    /* The second submit got the first job's result (v=1), not a new run. */
    CHECK(strstr(b, "[\"1\"]") != NULL);
    /* Another tenant with the same key gets its own job. */
    char c2[8192];
    CHECK(h_cli(&C, c2, sizeof c2, "submit diag.echo -p v=3 --idempotency-key run-42 --tenant 1534 --json") == 0);
    char *jc = strstr(c2, "\"job\":\"");
    CHECK(jc && strncmp(ja, jc, 30) != 0);
    char *st = h_status(&C);
    CHECK(h_counter(st, "submitted") == 2);
    free(st);
}

static void test_unknown_service(void)
{
    char out[4096];
    start(FAST_BROKER " --no-service-wait-ms 300", 1, 1);
    long t0 = h_now_ms();
    FILE *p;
    int rc = h_cli(&C, out, sizeof out, "submit no.such.service --json");
    CHECK(rc == 5);
    CHECK(strstr(out, "no node offers service 'no.such.service'") != NULL);
    CHECK(h_now_ms() - t0 < 5000);
    (void)p;
}

static void test_queue_full(void)
{
    char out[4096];
    start(FAST_BROKER " --max-queue 2 --no-service-wait-ms 60000", 0, 0);
    sk_error err = SK_ERROR_INIT;
    sk_client *cl = sk_client_new(C.front, &err);
    sk_submit s = {.service = "parked", .tenant = "1504"};
    for (int i = 0; i < 3; i++)
        sk_client_submit(cl, &s, &err);
    int accepted = 0, refused = 0;
    for (int i = 0; i < 10 && accepted + refused < 3; i++) {
        sk_wire_msg m;
        if (sk_client_recv(cl, 2000, &m, &err) != 1)
            continue;
        if (m.hdr.type == SK_MSG_ACCEPTED)
            accepted++;
        if (m.hdr.type == SK_MSG_FAILED && m.hdr.code == SK_EREFUSED && strstr(m.hdr.reason, "full"))
            refused++;
        sk_wire_msg_close(&m);
    }
    CHECK(accepted == 2 && refused == 1);
    sk_client_free(cl);
    (void)out;
}

/* Raw sockets speaking nonsense to both endpoints. */
static void send_frames(void *sock, const void *const *frames, const size_t *lens, int n)
{
    for (int i = 0; i < n; i++)
        zmq_send(sock, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0);
}

static void test_garbage(void)
{
    start(FAST_BROKER " --max-frame 65536", 1, 1);
    void *ctx = zmq_ctx_new();
    const char *eps[2] = {C.front, C.back};
    int errors_seen = 0, fetch_answers = 0;
    for (int e = 0; e < 2; e++) {
        void *s = zmq_socket(ctx, ZMQ_DEALER);
        int zero = 0, tmo = 1500;
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
        zmq_connect(s, eps[e]);
        unsigned char rnd[97];
        srand(7);
        for (int k = 0; k < 50; k++) {
            for (size_t i = 0; i < sizeof rnd; i++)
                rnd[i] = (unsigned char)rand();
            const void *f[] = {rnd};
            size_t l[] = {(size_t)(k % 97) + 1};
            send_frames(s, f, l, 1);
        }
        const char sig[] = {'S', 'K', 1, 0}, badver[] = {'S', 'K', 9, 0};
        const char trunc[] = {(char)0x82, (char)0xa1, 't', 1, (char)0xa3, 'j', 'o'};
        const char huge_arr[] = {(char)0xdd, (char)0x7f, (char)0xff, (char)0xff, (char)0xff};
        const char hdr_ok[] = {(char)0x81, (char)0xa1, 't', 11};   /* {t: status} */
        const char hdr_bad_type[] = {(char)0x81, (char)0xa1, 't', 99};
        const void *f1[] = {sig, trunc};
        size_t l1[] = {4, sizeof trunc};
        send_frames(s, f1, l1, 2);
        const void *f2[] = {sig, huge_arr};
        size_t l2[] = {4, sizeof huge_arr};
        send_frames(s, f2, l2, 2);
        const void *f3[] = {badver, hdr_ok};
        size_t l3[] = {4, sizeof hdr_ok};
        send_frames(s, f3, l3, 2);
        const void *f4[] = {sig, hdr_bad_type};
        size_t l4[] = {4, sizeof hdr_bad_type};
        send_frames(s, f4, l4, 2);
        const void *f5[] = {sig};
        size_t l5[] = {4};
        send_frames(s, f5, l5, 1);
        /* A dataset request (a fetch, on the backend) with nothing in it. */
        const char hdr_fetch[] = {(char)0x82, (char)0xa1, 't', 20, (char)0xa3, 'r', 'e', 'q', 9};
        const void *f7[] = {sig, hdr_fetch};
        size_t l7[] = {4, sizeof hdr_fetch};
        send_frames(s, f7, l7, 2);
        /* Answers: the broker names what was wrong. */
        char buf[1024];
        for (int k = 0; k < 400; k++) {
            int n = zmq_recv(s, buf, sizeof buf - 1, 0);
            if (n < 0)
                break;
            buf[n < (int)sizeof buf - 1 ? n : (int)sizeof buf - 1] = '\0';
            if (memmem(buf, (size_t)n, "protocol version 9", 18) != NULL)
                errors_seen++;
            if (memmem(buf, (size_t)n, "datasets need a broker with --data-dir", 38) != NULL)
                fetch_answers++;
        }
        /* An oversized frame: the socket is dropped by the broker's limit. */
        size_t big = 200000;
        char *bigbuf = calloc(1, big);
        const void *f6[] = {sig, hdr_ok, bigbuf};
        size_t l6[] = {4, sizeof hdr_ok, big};
        send_frames(s, f6, l6, 3);
        free(bigbuf);
        zmq_close(s);
    }
    zmq_ctx_term(ctx);
    CHECK(errors_seen >= 1);
    CHECK(fetch_answers == 2);
    usleep(300000);
    /* Still serving. */
    CHECK(h_cli(&C, NULL, 0, "submit diag.echo -p still=alive --timeout 20") == 0);
    char *st = h_status(&C);
    CHECK(h_counter(st, "malformed") >= 100);
    free(st);
    /* The node kept its place. */
    h_wait_nodes(&C, 1, 5000);
}

/* Submit one job and return its result body (malloc'ed) or NULL. */
static char *run_for_body(sk_client *cl, sk_submit *s, size_t *len, char *reason, size_t rlen)
{
    sk_error err = SK_ERROR_INIT;
    int64_t req = sk_client_submit(cl, s, &err);
    char job[SK_ID_MAX] = "";
    long end = h_now_ms() + 60000;
    while (req > 0 && h_now_ms() < end) {
        sk_wire_msg m;
        if (sk_client_recv(cl, 1000, &m, &err) != 1)
            continue;
        if (m.hdr.type == SK_MSG_ACCEPTED && m.hdr.req == req)
            snprintf(job, sizeof job, "%s", m.hdr.job);
        if ((m.hdr.type == SK_MSG_RESULT || m.hdr.type == SK_MSG_FAILED) && strcmp(m.hdr.job, job) == 0) {
            char *body = NULL;
            if (m.hdr.type == SK_MSG_RESULT && m.nbodies == 1) {
                *len = zmq_msg_size(&m.bodies[0]);
                body = malloc(*len);
                memcpy(body, zmq_msg_data(&m.bodies[0]), *len);
            } else {
                snprintf(reason, rlen, "%s", m.hdr.reason);
            }
            sk_wire_msg_close(&m);
            return body;
        }
        sk_wire_msg_close(&m);
    }
    return NULL;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(*len + 1);
    if (fread(buf, 1, *len, f) != *len)
        *len = 0;
    fclose(f);
    return buf;
}

/* An indicator job over the bus on the result of a sim job: sim.traffic on
 * Sioux Falls, then indicator.traffic_travel_time_index on its result. */
static void test_indicator(void)
{
    char src[512], node_args[700], path[600];
    const char *source = getenv("SAMSKAP_SOURCE");
    snprintf(src, sizeof src, "%s", source ? source : ".");
    snprintf(node_args, sizeof node_args, FAST_NODE " --plugins %s/plugins", src);
    h_cluster_init(&C);
    h_start_broker(&C, FAST_BROKER);
    h_start_node(&C, "plugins", 2, node_args);
    h_wait_nodes(&C, 1, 20000);
    char *st = h_status(&C);
    CHECK(st != NULL && strstr(st, "\"indicator.traffic_travel_time_index\":\"sha256:") != NULL);
    free(st);
    sk_error err = SK_ERROR_INIT;
    sk_client *cl = sk_client_new(C.front, &err);
    size_t netlen = 0, tripslen = 0, rlen = 0, ilen = 0;
    snprintf(path, sizeof path, "%s/tests/data/traffic/SiouxFalls/SiouxFalls_net.tntp", src);
    char *net = slurp(path, &netlen);
    snprintf(path, sizeof path, "%s/tests/data/traffic/SiouxFalls/SiouxFalls_trips.tntp", src);
    char *trips = slurp(path, &tripslen);
    CHECK(net != NULL && trips != NULL);
    sk_params *p = sk_params_new();
    sk_params_set_str(p, "gap", "1e-6");
    sk_submit s = {.service = "sim.traffic", .tenant = "1507", .params = p, .ninputs = 2};
    s.input_names[0] = "net";
    s.input_data[0] = net;
    s.input_len[0] = netlen;
    s.input_names[1] = "trips";
    s.input_data[1] = trips;
    s.input_len[1] = tripslen;
    char reason[512] = "";
    char *sim = run_for_body(cl, &s, &rlen, reason, sizeof reason);
    CHECK(sim != NULL);
    if (sim == NULL)
        fprintf(stderr, "sim.traffic failed: %s\n", reason);
    sk_submit ind = {.service = "indicator.traffic_travel_time_index", .tenant = "1507", .ninputs = 1};
    ind.input_names[0] = "traffic";
    ind.input_data[0] = sim;
    ind.input_len[0] = rlen;
    char *out = sim ? run_for_body(cl, &ind, &ilen, reason, sizeof reason) : NULL;
    CHECK(out != NULL);
    if (out == NULL)
        fprintf(stderr, "indicator failed: %s\n", reason);
    sk_result *r = out ? sk_result_decode(out, ilen, &err) : NULL;
    CHECK(r != NULL);
    if (r != NULL) {
        const sk_meta *v = sk_result_meta_find(r, "value");
        const sk_meta *h = sk_result_meta_find(r, "plugin_hash");
        CHECK(v != NULL && v->type == SK_META_F64);
        /* Congested / free-flow time on Sioux Falls at equilibrium. */
        if (v != NULL)
            CHECK_NEAR(v->d, 2.1878, 2e-3);
        CHECK(h != NULL && h->type == SK_META_STR && strncmp(h->s, "sha256:", 7) == 0);
        CHECK_STR(r->kernel, "indicator.traffic_travel_time_index");
    }
    /* Pinning a hash the node does not have is refused with the reason. */
    sk_params *pin = sk_params_new();
    sk_params_set_str(pin, "plugin_hash", "sha256:0000");
    ind.params = pin;
    char *bad = sim ? run_for_body(cl, &ind, &ilen, reason, sizeof reason) : NULL;
    CHECK(bad == NULL && strstr(reason, "the job asks for sha256:0000") != NULL);
    /* A body that is not a result is a clear error. */
    ind.params = NULL;
    ind.input_data[0] = "not msgpack";
    ind.input_len[0] = 11;
    bad = run_for_body(cl, &ind, &ilen, reason, sizeof reason);
    CHECK(bad == NULL && strstr(reason, "input 'traffic' is not a samskap result") != NULL);
    sk_result_free(r);
    sk_params_free(p);
    sk_params_free(pin);
    free(out);
    free(sim);
    free(net);
    free(trips);
    sk_client_free(cl);
    /* A second node with other code under the same plugin name: the broker
     * shows the conflict instead of mixing the two silently. */
    char dir[] = "/tmp/sk_plugins_XXXXXX", cmd[1200], args[800];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(cmd, sizeof cmd, "sed 's/^local /local  /' %s/plugins/traffic_vkt.lua > %s/traffic_vkt.lua", src, dir);
    CHECK(system(cmd) == 0);
    snprintf(args, sizeof args, FAST_NODE " --plugins %s", dir);
    h_start_node(&C, "other", 1, args);
    h_wait_nodes(&C, 2, 20000);
    st = h_status(&C);
    CHECK(st != NULL && strstr(st, "\"code_conflicts\":[{\"service\":\"indicator.traffic_vkt\"") != NULL);
    free(st);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* Keys and tenants: CURVE on both endpoints, a fail-closed ZAP handler,
 * and the access list deciding who may do what. */
static sk_client *curve_client(const char *dir, const char *name, const sk_keypair *server)
{
    char path[512];
    sk_keypair kp;
    sk_error err = SK_ERROR_INIT;
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    if (sk_key_read(path, true, &kp, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    sk_curve cv = {server->public_key, kp.public_key, kp.secret_key};
    return sk_client_new_opts(NULL, C.front, &cv, &err);
}

static int submit_and_wait(sk_client *cl, const char *service, const char *tenant, const char *ms, char *job,
                           char *reason, int timeout_ms)
{
    sk_error err = SK_ERROR_INIT;
    sk_params *p = sk_params_new();
    if (ms)
        sk_params_set_str(p, "ms", ms);
    sk_submit s = {.service = service, .tenant = tenant, .params = p};
    int64_t req = sk_client_submit(cl, &s, &err);
    sk_params_free(p);
    long end = h_now_ms() + timeout_ms;
    job[0] = '\0';
    while (h_now_ms() < end) {
        sk_wire_msg m;
        if (sk_client_recv(cl, 200, &m, &err) != 1)
            continue;
        int t = m.hdr.type;
        if (t == SK_MSG_ACCEPTED && m.hdr.req == req)
            snprintf(job, SK_ID_MAX, "%s", m.hdr.job);
        if ((t == SK_MSG_RESULT || t == SK_MSG_FAILED) && (m.hdr.req == req || (job[0] && !strcmp(m.hdr.job, job)))) {
            snprintf(reason, 512, "%s", m.hdr.reason);
            sk_wire_msg_close(&m);
            return t;
        }
        sk_wire_msg_close(&m);
    }
    return 0; /* no answer */
}

static void test_curve(void)
{
    char dir[] = "/tmp/sk_curve_XXXXXX", path[512], access[4096] = "", job[SK_ID_MAX], reason[512];
    sk_error err = SK_ERROR_INIT;
    CHECK(mkdtemp(dir) != NULL);
    const char *names[] = {"broker", "node1504", "alesund", "haram", "stranger", "ops", "region"};
    sk_keypair kp[7];
    for (int i = 0; i < 7; i++) {
        snprintf(path, sizeof path, "%s/%s.key", dir, names[i]);
        CHECK(sk_keygen(path, names[i], &kp[i], &err) == 0);
    }
    /* The node key may serve 1504 only; "stranger" is in no list. */
    snprintf(access, sizeof access,
             "# role name key tenants [services]\n"
             "node node1504 %s 1504 diag.echo,diag.sleep\n"
             "client alesund %s 1504\n"
             "client haram %s 1534\n"
             "admin ops %s *\n"
             "client region %s 1507\n",
             kp[1].public_key, kp[2].public_key, kp[3].public_key, kp[5].public_key, kp[6].public_key);
    snprintf(path, sizeof path, "%s/access.conf", dir);
    FILE *f = fopen(path, "w");
    fputs(access, f);
    fclose(f);
    char bargs[1024], nargs[1024];
    const char *source = getenv("SAMSKAP_SOURCE");
    int eport = h_free_port();
    snprintf(bargs, sizeof bargs,
             FAST_BROKER " --no-service-wait-ms 60000 --curve-secret %s/broker.key --access %s --region %s/deploy/region.lua"
                         " --events tcp://127.0.0.1:%d",
             dir, path, source ? source : ".", eport);
    snprintf(nargs, sizeof nargs, FAST_NODE " --curve-key %s/node1504.key --server-key %s/broker.key.pub", dir, dir);
    h_cluster_init(&C);
    h_start_broker(&C, bargs);
    h_start_node(&C, "node1504", 2, nargs);
    /* A client key used as a node is refused at the handshake. */
    char badnode[1024];
    snprintf(badnode, sizeof badnode, FAST_NODE " --curve-key %s/alesund.key --server-key %s/broker.key.pub", dir, dir);
    h_start_node(&C, "impostor", 1, badnode);
    sk_client *ops = curve_client(dir, "ops", &kp[0]);
    sk_client *ale = curve_client(dir, "alesund", &kp[0]);
    sk_client *har = curve_client(dir, "haram", &kp[0]);
    sk_client *str = curve_client(dir, "stranger", &kp[0]);
    CHECK(ops && ale && har && str);
    usleep(1500000);
    /* 1504's job runs. */
    CHECK(submit_and_wait(ale, "diag.echo", "1504", NULL, job, reason, 15000) == SK_MSG_RESULT);
    char ale_job[SK_ID_MAX];
    snprintf(ale_job, sizeof ale_job, "%s", job);
    /* Ålesund's key may not act for Haram. */
    CHECK(submit_and_wait(ale, "diag.echo", "1534", NULL, job, reason, 5000) == SK_MSG_FAILED);
    CHECK(strstr(reason, "may not act for tenant '1534'") != NULL);
    /* Haram's job is never given to the node whose key serves 1504 only:
     * it waits until its deadline. */
    sk_params *p = sk_params_new();
    sk_submit s = {.service = "diag.echo", .tenant = "1534", .params = p, .timeout_ms = 1500};
    int64_t req = sk_client_submit(har, &s, &err);
    sk_params_free(p);
    int failed_deadline = 0, got_result = 0;
    char har_job[SK_ID_MAX] = "";
    long end = h_now_ms() + 8000;
    while (h_now_ms() < end && !failed_deadline && !got_result) {
        sk_wire_msg m;
        if (sk_client_recv(har, 200, &m, &err) != 1)
            continue;
        if (m.hdr.type == SK_MSG_RESULT)
            got_result = 1;
        if (m.hdr.type == SK_MSG_FAILED && m.hdr.code == SK_ETIMEDOUT && m.hdr.req == req) {
            failed_deadline = 1;
            snprintf(har_job, sizeof har_job, "%s", m.hdr.job);
        }
        sk_wire_msg_close(&m);
    }
    CHECK(failed_deadline && !got_result);
    /* The merged region (1507) reads Ålesund's job (a member since 2020),
     * but not Haram's job of today: Haram left on 1 January 2024. */
    sk_client *reg = curve_client(dir, "region", &kp[0]);
    CHECK(reg != NULL);
    int reads[2] = {0, 0};
    const char *ids[2] = {ale_job, har_job};
    for (int k = 0; k < 2 && reg; k++) {
        int64_t rq = sk_client_request(reg, SK_MSG_WAIT, ids[k], NULL, &err);
        for (int i = 0; i < 25; i++) {
            sk_wire_msg m;
            if (sk_client_recv(reg, 200, &m, &err) != 1)
                continue;
            int t = m.hdr.type;
            if ((t == SK_MSG_RESULT || t == SK_MSG_FAILED) && strcmp(m.hdr.job, ids[k]) == 0)
                reads[k] = 1;  /* saw the job's outcome */
            if (t == SK_MSG_ERROR && m.hdr.req == rq)
                reads[k] = -1; /* "no such job" */
            sk_wire_msg_close(&m);
            if (reads[k] != 0)
                break;
        }
    }
    CHECK(reads[0] == 1);
    CHECK(reads[1] == -1);
    sk_client_free(reg);
    /* Haram cannot see or touch Ålesund's job: "no such job". */
    int64_t wreq = sk_client_request(har, SK_MSG_WAIT, ale_job, NULL, &err);
    int not_found = 0;
    for (int i = 0; i < 20 && !not_found; i++) {
        sk_wire_msg m;
        if (sk_client_recv(har, 200, &m, &err) != 1)
            continue;
        if (m.hdr.type == SK_MSG_ERROR && m.hdr.req == wreq && m.hdr.code == SK_ENOTFOUND &&
            strstr(m.hdr.reason, "no such job") != NULL)
            not_found = 1;
        CHECK(m.hdr.type != SK_MSG_RESULT);
        sk_wire_msg_close(&m);
    }
    CHECK(not_found);
    /* An unknown key gets no answer at all (ZAP refused the handshake). */
    CHECK(submit_and_wait(str, "diag.echo", "1504", NULL, job, reason, 2000) == 0);
    /* The admin sees one node (the impostor never joined) and the refusals. */
    int64_t sreq = sk_client_request(ops, SK_MSG_STATUS, NULL, NULL, &err);
    char *status = NULL;
    for (int i = 0; i < 20 && status == NULL; i++) {
        sk_wire_msg m;
        if (sk_client_recv(ops, 200, &m, &err) != 1)
            continue;
        if (m.hdr.type == SK_MSG_REPLY && m.hdr.req == sreq && m.nbodies == 1) {
            size_t n = zmq_msg_size(&m.bodies[0]);
            status = calloc(1, n + 1);
            memcpy(status, zmq_msg_data(&m.bodies[0]), n);
        }
        sk_wire_msg_close(&m);
    }
    CHECK(status != NULL);
    if (status != NULL) {
        CHECK(strstr(status, "\"name\":\"node1504\"") != NULL);
        CHECK(strstr(status, "impostor") == NULL);
        CHECK(strstr(status, "\"tenants\":[\"1504\"]") != NULL);
        CHECK(h_counter(status, "auth_refused") >= 2);
        CHECK(h_counter(status, "access_refused") >= 2);
        CHECK(strstr(status, "\"secure\":true") != NULL);
    }
    free(status);
    sk_client_free(ops);
    sk_client_free(ale);
    sk_client_free(har);
    sk_client_free(str);
    /* Events and job lists are scoped by key: Haram's key cannot watch
     * Ålesund's jobs; Ålesund's own key sees them. */
    char wcmd[2][1200];
    const char *who[2] = {"haram", "alesund"};
    FILE *w[2];
    for (int k = 0; k < 2; k++) {
        snprintf(wcmd[k], sizeof wcmd[k],
                 "%s watch --events tcp://127.0.0.1:%d --tenant 1504 --for 3 --json --curve-key %s/%s.key "
                 "--server-key %s/broker.key.pub 2>/dev/null",
                 h_bin("samskap"), eport, dir, who[k], dir);
        w[k] = popen(wcmd[k], "r");
    }
    usleep(1000000);
    sk_client *ale2 = curve_client(dir, "alesund", &kp[0]);
    CHECK(ale2 && submit_and_wait(ale2, "diag.echo", "1504", NULL, job, reason, 10000) == SK_MSG_RESULT);
    char wout[2][16384];
    for (int k = 0; k < 2; k++) {
        size_t wn = fread(wout[k], 1, sizeof wout[k] - 1, w[k]);
        wout[k][wn] = '\0';
        pclose(w[k]);
    }
    CHECK(strstr(wout[0], job) == NULL);
    CHECK(strstr(wout[1], job) != NULL && strstr(wout[1], "\"event\":\"done\"") != NULL);
    /* Haram's job list does not show Ålesund's running work. */
    sk_params *sp = sk_params_new();
    sk_params_set_str(sp, "ms", "3000");
    sk_submit slow = {.service = "diag.sleep", .tenant = "1504", .params = sp};
    CHECK(ale2 && sk_client_submit(ale2, &slow, &err) > 0);
    sk_params_free(sp);
    usleep(500000);
    sk_client *har2 = curve_client(dir, "haram", &kp[0]);
    int64_t jq = har2 ? sk_client_request(har2, SK_MSG_JOBS, NULL, NULL, &err) : -1;
    int listed = -1;
    for (int i = 0; i < 25 && listed < 0 && har2; i++) {
        sk_wire_msg m;
        if (sk_client_recv(har2, 200, &m, &err) != 1)
            continue;
        if (m.hdr.type == SK_MSG_REPLY && m.hdr.req == jq && m.nbodies == 1)
            listed = memmem(zmq_msg_data(&m.bodies[0]), zmq_msg_size(&m.bodies[0]), "1504", 4) != NULL;
        sk_wire_msg_close(&m);
    }
    CHECK(listed == 0);
    /* Haram's status shows none of Ålesund's nodes, queues or counters. */
    int64_t sq2 = har2 ? sk_client_request(har2, SK_MSG_STATUS, NULL, NULL, &err) : -1;
    char *hst = NULL;
    for (int i = 0; i < 25 && hst == NULL && har2; i++) {
        sk_wire_msg m;
        if (sk_client_recv(har2, 200, &m, &err) != 1)
            continue;
        if (m.hdr.type == SK_MSG_REPLY && m.hdr.req == sq2 && m.nbodies == 1) {
            hst = calloc(1, zmq_msg_size(&m.bodies[0]) + 1);
            memcpy(hst, zmq_msg_data(&m.bodies[0]), zmq_msg_size(&m.bodies[0]));
        }
        sk_wire_msg_close(&m);
    }
    CHECK(hst != NULL && strstr(hst, "node1504") == NULL && strstr(hst, "\"scoped_to\":\"1534\"") != NULL &&
          strstr(hst, "counters") == NULL);
    free(hst);
    sk_client_free(har2);
    sk_client_free(ale2);
    /* A secret key file others can read is refused, naming the fix. */
    snprintf(path, sizeof path, "%s/ops.key", dir);
    chmod(path, 0644);
    sk_keypair k;
    CHECK(sk_key_read(path, true, &k, &err) == SK_EREFUSED && strstr(err.msg, "chmod 600") != NULL);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* kill -9 of the broker with 500 accepted jobs: after the restart (same
 * data directory) every job completes and each outcome reaches the client
 * once. */
static void test_durability(void)
{
    char dir[] = "/tmp/sk_journal_XXXXXX", bargs[512];
    sk_error err = SK_ERROR_INIT;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(bargs, sizeof bargs, FAST_BROKER " --data-dir %s", dir);
    h_cluster_init(&C);
    h_start_broker(&C, bargs);
    h_start_node(&C, "n1", 4, FAST_NODE);
    h_wait_nodes(&C, 1, 20000);
    sk_client *cl = sk_client_new(C.front, &err);
    sk_params *p = sk_params_new();
    sk_params_set_str(p, "ms", "20");
    char body[200];
    memset(body, 'x', sizeof body);
    sk_submit s = {.service = "diag.sleep", .tenant = "1504", .params = p, .ninputs = 1};
    s.input_names[0] = "payload";
    s.input_data[0] = body;
    s.input_len[0] = sizeof body;
    const int n = 500;
    for (int i = 0; i < n; i++)
        CHECK(sk_client_submit(cl, &s, &err) > 0);
    sk_params_free(p);
    int accepted = 0, results = 0, failed = 0;
    char first_done[SK_ID_MAX] = "";
    long end = h_now_ms() + 60000;
    while (accepted < n && h_now_ms() < end) {
        sk_wire_msg m;
        if (sk_client_recv(cl, 500, &m, &err) != 1)
            continue;
        if (m.hdr.type == SK_MSG_ACCEPTED)
            accepted++;
        else if (m.hdr.type == SK_MSG_RESULT && results++ == 0)
            memcpy(first_done, m.hdr.job, sizeof first_done);
        else if (m.hdr.type == SK_MSG_FAILED)
            failed++;
        sk_wire_msg_close(&m);
    }
    CHECK(accepted == n);
    fprintf(stderr, "accepted %d, %d done before the crash\n", accepted, results);
    CHECK(results < n); /* the crash happens with work outstanding */
    h_kill(C.broker, SIGKILL);
    usleep(300000);
    h_start_broker(&C, bargs);
    end = h_now_ms() + 90000;
    int other = 0;
    while (results + failed < n && h_now_ms() < end) {
        sk_wire_msg m;
        int rrc = sk_client_recv(cl, 500, &m, &err);
        if (rrc < 0)
            fprintf(stderr, "recv: %s\n", err.msg);
        if (rrc != 1)
            continue;
        if (m.hdr.type != SK_MSG_RESULT && m.hdr.type != SK_MSG_FAILED && other++ < 5)
            fprintf(stderr, "after restart: %s %s\n", sk_msg_type_name(m.hdr.type), m.hdr.reason);
        if (m.hdr.type == SK_MSG_RESULT)
            results++;
        else if (m.hdr.type == SK_MSG_FAILED) {
            fprintf(stderr, "failed: %s %s\n", m.hdr.job, m.hdr.reason);
            failed++;
        }
        sk_wire_msg_close(&m);
    }
    CHECK(results == n);
    CHECK(failed == 0);
    CHECK(cl->seen.len == (size_t)n);
    /* A job finished before the crash comes back from the journal as it
     * was: done, after one attempt (the journal may record the attempt
     * with the finish rather than as a separate state change). */
    if (first_done[0] != '\0') {
        sk_client *w = sk_client_new(C.front, &err);
        int64_t attempt = -1;
        CHECK(w != NULL && sk_client_request(w, SK_MSG_WAIT, first_done, NULL, &err) > 0);
        for (int i = 0; i < 50 && w != NULL && attempt < 0; i++) {
            sk_wire_msg m;
            if (sk_client_recv(w, 200, &m, &err) != 1)
                continue;
            if (m.hdr.type == SK_MSG_RESULT && strcmp(m.hdr.job, first_done) == 0)
                attempt = m.hdr.attempt;
            sk_wire_msg_close(&m);
        }
        CHECK(attempt == 1);
        sk_client_free(w);
    }
    if (results != n) {
        fprintf(stderr, "results %d failed %d other %d\n", results, failed, other);
        char *st = h_status(&C);
        fprintf(stderr, "status after restart: %s\n", st ? st : "(none)");
        free(st);
    }
    sk_client_free(cl);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* GET path from 127.0.0.1:port; returns the HTTP status, body into out. */
static int http_get(int port, const char *path, char *out, size_t n)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        if (s >= 0)
            close(s);
        return -1;
    }
    char req[256];
    int l = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    if (write(s, req, (size_t)l) != l) {
        close(s);
        return -1;
    }
    size_t got = 0;
    ssize_t r;
    while (got + 1 < n && (r = read(s, out + got, n - 1 - got)) > 0)
        got += (size_t)r;
    out[got] = '\0';
    close(s);
    int status = -1;
    sscanf(out, "HTTP/1.%*d %d", &status);
    return status;
}


/* /metrics, /healthz, /readyz on broker and node; config files checked. */
static void test_http(void)
{
    int bport = h_free_port(), nport = h_free_port();
    char bargs[256], nargs[256], buf[65536];
    snprintf(bargs, sizeof bargs, FAST_BROKER " --http 127.0.0.1:%d", bport);
    snprintf(nargs, sizeof nargs, FAST_NODE " --http 127.0.0.1:%d", nport);
    h_cluster_init(&C);
    h_start_broker(&C, bargs);
    h_start_node(&C, "metrics", 1, nargs);
    h_wait_nodes(&C, 1, 20000);
    CHECK(h_cli(&C, NULL, 0, "submit diag.echo --tenant 1504 -p x=1") == 0);
    CHECK(http_get(bport, "/healthz", buf, sizeof buf) == 200);
    CHECK(http_get(bport, "/readyz", buf, sizeof buf) == 200);
    CHECK(http_get(bport, "/metrics", buf, sizeof buf) == 200);
    CHECK(strstr(buf, "# TYPE samskap_jobs_total counter") != NULL);
    CHECK(strstr(buf, "samskap_jobs_total{state=\"done\",service=\"diag.echo\",tenant=\"1504\"} 1") != NULL);
    CHECK(strstr(buf, "samskap_nodes 1") != NULL);
    CHECK(http_get(bport, "/nope", buf, sizeof buf) == 404);
    CHECK(http_get(nport, "/metrics", buf, sizeof buf) == 200);
    CHECK(strstr(buf, "samskap_node_jobs_total{service=\"diag.echo\",outcome=\"done\"} 1") != NULL);
    CHECK(strstr(buf, "samskap_node_connected 1") != NULL);
    CHECK(http_get(nport, "/readyz", buf, sizeof buf) == 200);
    /* Config files: a good one passes --check-config, a bad key is named
     * with its file and line. */
    const char *good = "/tmp/sk_cfg_good.lua", *bad = "/tmp/sk_cfg_bad.lua";
    FILE *f = fopen(good, "w");
    fputs("-- broker\nheartbeat_ms = 500\nliveness = 4\ninsecure = true\n", f);
    fclose(f);
    f = fopen(bad, "w");
    fputs("heartbeat_ms = 500\nheartbeat_seconds = 2\n", f);
    fclose(f);
    char cmd[600], out[4096];
    snprintf(cmd, sizeof cmd, "%s --config %s --check-config 2>&1", h_bin("samskap-broker"), good);
    FILE *p = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    CHECK(WEXITSTATUS(pclose(p)) == 0 && strstr(out, "configuration ok") != NULL);
    snprintf(cmd, sizeof cmd, "%s --config %s --print-config --liveness 9 2>&1", h_bin("samskap-broker"), good);
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    pclose(p);
    CHECK(strstr(out, "heartbeat_ms = 500") != NULL && strstr(out, "liveness = 9") != NULL);
    snprintf(cmd, sizeof cmd, "%s --config %s --check-config 2>&1", h_bin("samskap-broker"), bad);
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    CHECK(WEXITSTATUS(pclose(p)) == 2);
    CHECK(strstr(out, "sk_cfg_bad.lua:2") != NULL && strstr(out, "heartbeat_seconds") != NULL);
    unlink(good);
    unlink(bad);
}

/* An online backup while the broker serves, restored into a new broker:
 * every finished job's result and every queued job is there. */
static void test_backup(void)
{
    char dir[] = "/tmp/sk_bk_XXXXXX", data[300], dest[300], bargs[512], out[65536], cmd[1200];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(dest, sizeof dest, "%s/backup", dir);
    snprintf(bargs, sizeof bargs, FAST_BROKER " --no-service-wait-ms 600000 --data-dir %s", data);
    h_cluster_init(&C);
    h_start_broker(&C, bargs);
    h_start_node(&C, "n1", 2, FAST_NODE);
    h_wait_nodes(&C, 1, 20000);
    CHECK(h_cli(&C, out, sizeof out, "submit diag.echo --tenant 1504 -p before=backup --json") == 0);
    char done_job[SK_ID_MAX] = "";
    char *jp = strstr(out, "\"job\":\"");
    if (jp)
        sscanf(jp + 7, "%63[^\"]", done_job);
    CHECK(done_job[0] != '\0');
    /* A job nobody serves stays queued. */
    sk_error err = SK_ERROR_INIT;
    sk_client *cl = sk_client_new(C.front, &err);
    sk_submit s = {.service = "parked.service", .tenant = "1504"};
    int64_t req = sk_client_submit(cl, &s, &err);
    char queued_job[SK_ID_MAX] = "";
    for (int i = 0; i < 20 && !queued_job[0]; i++) {
        sk_wire_msg m;
        if (sk_client_recv(cl, 500, &m, &err) != 1)
            continue;
        if (m.hdr.type == SK_MSG_ACCEPTED && m.hdr.req == req)
            snprintf(queued_job, sizeof queued_job, "%s", m.hdr.job);
        sk_wire_msg_close(&m);
    }
    sk_client_free(cl);
    CHECK(queued_job[0] != '\0');
    snprintf(cmd, sizeof cmd, "%s --data-dir %s --backup %s 2>&1", h_bin("samskap-broker"), data, dest);
    FILE *p = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    CHECK(WEXITSTATUS(pclose(p)) == 0 && strstr(out, "backup of") != NULL);
    /* A second backup into the same place is refused. */
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    CHECK(WEXITSTATUS(pclose(p)) != 0 && strstr(out, "exists") != NULL);
    /* Restore: a new broker on the backup. */
    h_kill(C.broker, SIGTERM);
    snprintf(bargs, sizeof bargs, FAST_BROKER " --no-service-wait-ms 600000 --data-dir %s", dest);
    h_start_broker(&C, bargs);
    h_wait_nodes(&C, 1, 20000);
    CHECK(h_cli(&C, out, sizeof out, "wait %s --json", done_job) == 0);
    CHECK(strstr(out, "\"state\":\"done\"") != NULL && strstr(out, "\"backup\"") != NULL);
    CHECK(h_cli(&C, out, sizeof out, "jobs --json") == 0);
    CHECK(strstr(out, queued_job) != NULL);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* A fake broker of protocol 2.x, for the client side of the version test. */
static void *fake_broker(void *arg)
{
    const char *ep = arg;
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_ROUTER);
    int tmo = 8000, zero = 0;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_bind(s, ep);
    char id[256], junk[4096];
    int idl = zmq_recv(s, id, sizeof id, 0);
    if (idl > 0) {
        int more = 1;
        size_t sz = sizeof more;
        while (zmq_getsockopt(s, ZMQ_RCVMORE, &more, &sz) == 0 && more)
            zmq_recv(s, junk, sizeof junk, 0);
        const char sig[] = {'S', 'K', 2, 0};
        const char hdr[] = {(char)0x81, (char)0xa1, 't', 13};
        zmq_send(s, id, (size_t)idl, ZMQ_SNDMORE);
        zmq_send(s, sig, 4, ZMQ_SNDMORE);
        zmq_send(s, hdr, sizeof hdr, 0);
        usleep(500000);
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    return NULL;
}

/* Peers of other versions: a newer minor works (unknown keys ignored);
 * another major is refused with a message naming both versions, on the
 * broker's side and on the client's. */
static void test_versions(void)
{
    start(NULL, 1, 1);
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int tmo = 5000, zero = 0;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(s, C.front);
    /* 1.7 with a field this broker has never heard of: it works. */
    const char newer[] = {'S', 'K', 1, 7};
    const char submit[] = "\x85\xa1t\x01\xa3svc\xa9" "diag.echo\xa6tenant\xa4" "1504\xa3req\x05\xa6" "future\xc3";
    zmq_send(s, newer, 4, ZMQ_SNDMORE);
    zmq_send(s, submit, sizeof submit - 1, 0);
    int got_result = 0;
    for (int i = 0; i < 20 && !got_result; i++) {
        char f0[8], f1[4096];
        if (zmq_recv(s, f0, sizeof f0, 0) < 0)
            break;
        int n = zmq_recv(s, f1, sizeof f1, 0);
        int more = 1;
        size_t sz = sizeof more;
        char junk[65536];
        while (zmq_getsockopt(s, ZMQ_RCVMORE, &more, &sz) == 0 && more)
            zmq_recv(s, junk, sizeof junk, 0);
        /* header map's first key is "t": type 5 is a result */
        if (n > 4 && f1[1] == (char)0xa1 && f1[2] == 't' && f1[3] == 5)
            got_result = 1;
    }
    CHECK(got_result);
    /* 0.9: refused, and told why. */
    const char older[] = {'S', 'K', 0, 9};
    const char status[] = {(char)0x81, (char)0xa1, 't', 11};
    zmq_send(s, older, 4, ZMQ_SNDMORE);
    zmq_send(s, status, sizeof status, 0);
    char f0[8], f1[1024] = "";
    CHECK(zmq_recv(s, f0, sizeof f0, 0) == 4);
    int n = zmq_recv(s, f1, sizeof f1 - 1, 0);
    CHECK(n > 0 && memmem(f1, (size_t)n, "protocol version 0.9, this side speaks 1.x", 42) != NULL);
    zmq_close(s);
    /* An old node is refused too and never listed. */
    s = zmq_socket(ctx, ZMQ_DEALER);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(s, C.back);
    const char ready[] = "\x83\xa1t\x08\xa8services\x91\xa9" "diag.echo\xa8" "capacity\x01";
    zmq_send(s, older, 4, ZMQ_SNDMORE);
    zmq_send(s, ready, sizeof ready - 1, 0);
    n = zmq_recv(s, f0, sizeof f0, 0);
    CHECK(n == 4);
    n = zmq_recv(s, f1, sizeof f1 - 1, 0);
    CHECK(n > 0 && memmem(f1, (size_t)n, "protocol version 0.9", 20) != NULL);
    zmq_close(s);
    zmq_ctx_term(ctx);
    char *st = h_status(&C);
    int nodes = 0;
    for (const char *p = st ? strstr(st, "\"capacity\":") : NULL; p; p = strstr(p + 1, "\"capacity\":"))
        nodes++;
    CHECK(nodes == 1);
    free(st);
    /* The client side: a broker speaking 2.x is named, not misparsed. */
    char ep[64], out[4096] = "", cmd[512];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", h_free_port());
    pthread_t t;
    pthread_create(&t, NULL, fake_broker, ep);
    usleep(200000);
    snprintf(cmd, sizeof cmd, "%s services --broker %s --connect-timeout 5 2>&1", h_bin("samskap"), ep);
    FILE *p = popen(cmd, "r");
    size_t len = fread(out, 1, sizeof out - 1, p);
    out[len] = '\0';
    int rc = pclose(p);
    pthread_join(t, NULL);
    CHECK(WEXITSTATUS(rc) != 0);
    CHECK(strstr(out, "protocol version 2.0, this side speaks 1.x") != NULL);
}

/* A message as a protocol 1.0 peer sends it: signature SK 1 0. */
static void send_v10(void *s, const sk_header *h, const void *body, size_t len)
{
    static const char sig[4] = {'S', 'K', 1, 0};
    char *hdr;
    size_t hl;
    CHECK(sk_header_encode(h, &hdr, &hl, NULL) == 0);
    zmq_send(s, sig, 4, ZMQ_SNDMORE);
    zmq_send(s, hdr, hl, body != NULL ? ZMQ_SNDMORE : 0);
    if (body != NULL)
        zmq_send(s, body, len, 0);
    free(hdr);
}

/* Protocol 1.1 batches: a client that batches its submits gets every
 * outcome once; the broker batches to 1.1 nodes and clients and never to a
 * 1.0 node or client (mixed versions during an upgrade); a malformed batch
 * is refused and counted, and the broker goes on. */
static void test_batches(void)
{
    sk_error err = SK_ERROR_INIT;
    int failed;
    start(NULL, 2, 4);
    sk_client *cl = sk_client_new(C.front, &err);
    sk_client_set_batching(cl, true);
    int results = run_many(cl, "diag.echo", NULL, 2000, &failed, 90000);
    CHECK(results == 2000 && failed == 0);
    CHECK(cl->seen.len == 2000);
    char *st = h_status(&C);
    CHECK(h_counter(st, "completed") == 2000);
    /* 2000 submits in batches of up to 256 went as at most a few dozen
     * ZeroMQ messages; jobs and outcomes went in batches too. */
    CHECK(h_counter(st, "batches_in") >= 2000 / SK_BATCH_MAX);
    CHECK(h_counter(st, "batches_out") > 0 && h_counter(st, "batched_out") >= 2 * h_counter(st, "batches_out"));
    CHECK(h_counter(st, "malformed") == 0);
    free(st);

    /* A 1.0 node: every job reaches it as a plain message (sk_wire_recv
     * refuses a batch), and its plain results reach a batching client. */
    void *ctx = zmq_ctx_new();
    void *old_node = zmq_socket(ctx, ZMQ_DEALER);
    int tmo = 10000, zero = 0;
    zmq_setsockopt(old_node, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_setsockopt(old_node, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(old_node, C.back);
    sk_header r;
    sk_header_init(&r, SK_MSG_READY);
    char svc[1][SK_ID_MAX] = {"old.echo"};
    r.services = svc;
    r.nservices = 1;
    r.capacity = 500;
    snprintf(r.node_name, sizeof r.node_name, "old-node");
    send_v10(old_node, &r, NULL, 0);
    h_wait_nodes(&C, 3, 20000);
    enum { OLD_JOBS = 300 };
    sk_params *p = sk_params_new();
    sk_submit sub = {.service = "old.echo", .tenant = "1504", .params = p, .no_ack = true};
    for (int i = 0; i < OLD_JOBS; i++)
        CHECK(sk_client_submit(cl, &sub, &err) > 0);
    CHECK(sk_client_flush(cl, &err) == 0);
    sk_params_free(p);
    int plain = 0, refused = 0;
    while (plain < OLD_JOBS) {
        sk_wire_msg m;
        int rc = sk_wire_recv(old_node, false, &m, 0, &err);
        if (rc == 0 || rc == SK_EIO)
            break; /* timed out */
        if (rc < 0) {
            refused++;
            fprintf(stderr, "old node: %s\n", err.msg);
            continue;
        }
        if (m.hdr.type == SK_MSG_JOB) {
            plain++;
            sk_header res;
            sk_header_init(&res, SK_MSG_RESULT);
            memcpy(res.job, m.hdr.job, SK_ID_MAX);
            memcpy(res.client, m.hdr.client, SK_ID_MAX);
            res.req = m.hdr.req;
            res.attempt = m.hdr.attempt;
            res.nbodies = 1;
            send_v10(old_node, &res, "r", 1);
        }
        sk_wire_msg_close(&m);
    }
    CHECK(plain == OLD_JOBS && refused == 0);
    int got = 0;
    long end = h_now_ms() + 30000;
    while (got < OLD_JOBS && h_now_ms() < end) {
        sk_wire_msg m;
        if (sk_client_recv(cl, 1000, &m, &err) == 1) {
            got += m.hdr.type == SK_MSG_RESULT;
            sk_wire_msg_close(&m);
        }
    }
    CHECK(got == OLD_JOBS);
    zmq_close(old_node);

    /* A 1.0 client: its outcomes come plain, even while the broker
     * batches to others. */
    void *old_client = zmq_socket(ctx, ZMQ_DEALER);
    zmq_setsockopt(old_client, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_setsockopt(old_client, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(old_client, C.front);
    for (int i = 0; i < 200; i++) {
        sk_header h;
        sk_header_init(&h, SK_MSG_SUBMIT);
        snprintf(h.service, sizeof h.service, "diag.echo");
        snprintf(h.tenant, sizeof h.tenant, "1504");
        h.req = i + 1;
        h.no_ack = true;
        send_v10(old_client, &h, NULL, 0);
    }
    int old_results = 0;
    refused = 0;
    while (old_results < 200) {
        sk_wire_msg m;
        int rc = sk_wire_recv(old_client, false, &m, 0, &err);
        if (rc == 0 || rc == SK_EIO)
            break;
        if (rc < 0) {
            refused++;
            continue;
        }
        old_results += m.hdr.type == SK_MSG_RESULT;
        sk_wire_msg_close(&m);
    }
    CHECK(old_results == 200 && refused == 0);

    /* A malformed batch: its first header names a body that is not
     * there.  Refused with the reason, counted, and the broker serves on. */
    static const char sig11[4] = {'S', 'K', 1, 1};
    static const char bad[] = "\x92\x82\xa1t\x01\xa6" "bodies\x91\xa1x\x81\xa1t\x0b";
    zmq_send(old_client, sig11, 4, ZMQ_SNDMORE);
    zmq_send(old_client, bad, sizeof bad - 1, 0);
    sk_wire_msg m;
    CHECK(sk_wire_recv(old_client, false, &m, 0, &err) == 1 && m.hdr.type == SK_MSG_ERROR &&
          strstr(m.hdr.reason, "batch") != NULL);
    sk_wire_msg_close(&m);
    zmq_close(old_client);
    zmq_ctx_term(ctx);
    st = h_status(&C);
    CHECK(h_counter(st, "malformed") == 1);
    free(st);
    CHECK(run_many(cl, "diag.echo", NULL, 50, &failed, 30000) == 50);
    sk_client_free(cl);
}

/* A journal written by the previous version (jobs keyed by an indexed id)
 * is upgraded in place at the first start: its queued job runs, its
 * finished job's result can still be collected, the id index is gone, and
 * new jobs are journaled after the old rows. */
static void test_journal_upgrade(void)
{
    char dir[] = "/tmp/sk_journal_up_XXXXXX", path[256], bargs[512], out[65536];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/journal.sqlite", dir);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db,
                       "PRAGMA journal_mode=WAL;"
                       "CREATE TABLE jobs(id TEXT PRIMARY KEY, tenant TEXT NOT NULL, service TEXT NOT NULL,"
                       " state TEXT NOT NULL DEFAULT 'queued', attempt INTEGER NOT NULL DEFAULT 0, submitted_ms INTEGER,"
                       " deadline_ms INTEGER, finished_ms INTEGER, code INTEGER, reason TEXT, header BLOB NOT NULL,"
                       " client BLOB, result_blob TEXT, result_data BLOB, input0 BLOB);"
                       "CREATE TABLE inputs(job TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT, blob TEXT,"
                       " size INTEGER, data BLOB, PRIMARY KEY(job, idx));",
                       NULL, NULL, NULL) == SQLITE_OK);
    sk_header h;
    sk_header_init(&h, SK_MSG_SUBMIT);
    snprintf(h.service, sizeof h.service, "diag.echo");
    snprintf(h.tenant, sizeof h.tenant, "1504");
    h.nbodies = 1;
    snprintf(h.body_names[0], SK_ID_MAX, "net");
    char *hdr;
    size_t hl;
    CHECK(sk_header_encode(&h, &hdr, &hl, NULL) == 0);
    sqlite3_stmt *ins = NULL;
    CHECK(sqlite3_prepare_v2(db,
                             "INSERT INTO jobs(id,tenant,service,state,submitted_ms,header,client,input0,finished_ms,"
                             "result_data) VALUES(?,?,?,?,?,?,?,?,?,?)",
                             -1, &ins, NULL) == SQLITE_OK);
    long long now = (long long)time(NULL) * 1000;
    sk_result *res = sk_result_new("old.kernel", "0.9");
    char *rbytes = NULL;
    size_t rlen = 0;
    CHECK(res != NULL && sk_result_encode(res, &rbytes, &rlen, NULL) == 0);
    sk_result_free(res);
    /* j-old-1: queued, with its input in the row; j-old-2: done, result kept. */
    for (int k = 0; k < 2; k++) {
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, k == 0 ? "j-old-1" : "j-old-2", -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, "1504", -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, "diag.echo", -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, k == 0 ? "queued" : "done", -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 5, now - 1000 + k);
        sqlite3_bind_blob(ins, 6, hdr, (int)hl, SQLITE_STATIC);
        sqlite3_bind_blob(ins, 7, "c-gone", 6, SQLITE_STATIC);
        if (k == 0) {
            sqlite3_bind_blob(ins, 8, "old input", 9, SQLITE_STATIC);
        } else {
            sqlite3_bind_int64(ins, 9, now - 500);
            sqlite3_bind_blob(ins, 10, rbytes, (int)rlen, SQLITE_STATIC);
        }
        CHECK(sqlite3_step(ins) == SQLITE_DONE);
    }
    sqlite3_finalize(ins);
    free(hdr);
    free(rbytes);
    CHECK(sqlite3_close(db) == SQLITE_OK);

    snprintf(bargs, sizeof bargs, FAST_BROKER " --data-dir %s", dir);
    h_cluster_init(&C);
    h_start_broker(&C, bargs);
    h_start_node(&C, "n1", 2, FAST_NODE);
    h_wait_nodes(&C, 1, 20000);
    /* The queued job ran on its stored input. */
    CHECK(h_cli(&C, out, sizeof out, "wait j-old-1 --tenant 1504 --timeout 30 --json") == 0);
    CHECK(strstr(out, "\"state\":\"done\"") != NULL && strstr(out, "\"bytes\":[9]") != NULL);
    /* The finished one's result is still there. */
    CHECK(h_cli(&C, out, sizeof out, "wait j-old-2 --tenant 1504 --timeout 10 --json") == 0);
    CHECK(strstr(out, "old.kernel") != NULL);
    /* New jobs after the old rows, and across a kill -9. */
    CHECK(h_cli(&C, out, sizeof out, "submit diag.echo --tenant 1504 --param k=1 --json") == 0);
    h_kill(C.broker, SIGKILL);
    usleep(300000);
    h_start_broker(&C, bargs);
    h_wait_nodes(&C, 1, 20000);
    CHECK(h_cli(&C, out, sizeof out, "wait j-old-1 --tenant 1504 --timeout 10 --json") == 0);
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    sqlite3_stmt *q = NULL;
    CHECK(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'sqlite_autoindex_jobs%'", -1, &q,
                             NULL) == SQLITE_OK);
    CHECK(sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 0);
    sqlite3_finalize(q);
    CHECK(sqlite3_prepare_v2(db, "SELECT count(*), count(DISTINCT rowid) FROM jobs", -1, &q, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 3 && sqlite3_column_int(q, 1) == 3);
    sqlite3_finalize(q);
    sqlite3_close(db);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* Fair queuing: a small tenant's job finishes promptly while another
 * tenant has hundreds queued for the same service. */
static void test_fairness(void)
{
    sk_error err = SK_ERROR_INIT;
    start(NULL, 1, 2);
    sk_client *big = sk_client_new(C.front, &err), *small = sk_client_new(C.front, &err);
    sk_params *p = sk_params_new();
    sk_params_set_str(p, "ms", "40");
    sk_submit s = {.service = "diag.sleep", .tenant = "1504", .params = p, .no_ack = true};
    const int n = 300; /* 300 x 40 ms on 2 slots: 6 s in FIFO order */
    for (int i = 0; i < n; i++)
        CHECK(sk_client_submit(big, &s, &err) > 0);
    usleep(300000);
    s.tenant = "1546";
    long t0 = h_now_ms();
    CHECK(sk_client_submit(small, &s, &err) > 0);
    int got = 0;
    long waited = -1;
    while (!got && h_now_ms() - t0 < 20000) {
        sk_wire_msg m;
        if (sk_client_recv(small, 200, &m, &err) != 1)
            continue;
        if (m.hdr.type == SK_MSG_RESULT) {
            got = 1;
            waited = h_now_ms() - t0;
        }
        sk_wire_msg_close(&m);
    }
    sk_params_free(p);
    CHECK(got);
    fprintf(stderr, "small tenant's job done after %ld ms with %d queued ahead of it\n", waited, n);
    CHECK(waited >= 0 && waited < 2000);
    /* The big tenant still had work queued when the small one finished. */
    char *st = h_status(&C);
    CHECK(st != NULL && h_counter(st, "completed") < n);
    free(st);
    sk_client_free(big);
    sk_client_free(small);
}

/* Job events on the XPUB endpoint, filtered by tenant. */
static void test_events(void)
{
    int eport = h_free_port();
    char bargs[256], cmd[600], out[65536];
    snprintf(bargs, sizeof bargs, FAST_BROKER " --events tcp://127.0.0.1:%d", eport);
    h_cluster_init(&C);
    h_start_broker(&C, bargs);
    h_start_node(&C, "n1", 2, FAST_NODE);
    h_wait_nodes(&C, 1, 20000);
    snprintf(cmd, sizeof cmd, "%s watch --events tcp://127.0.0.1:%d --tenant 1504 --for 4 --json", h_bin("samskap"),
             eport);
    FILE *w = popen(cmd, "r");
    usleep(800000); /* let the subscription reach the broker */
    char job[SK_ID_MAX] = "";
    CHECK(h_cli(&C, out, sizeof out, "submit diag.echo --tenant 1504 -p e=1 --json") == 0);
    char *jp = strstr(out, "\"job\":\"");
    if (jp)
        sscanf(jp + 7, "%63[^\"]", job);
    CHECK(h_cli(&C, out, sizeof out, "submit diag.echo --tenant 1534 -p e=2 --json") == 0);
    size_t n = fread(out, 1, sizeof out - 1, w);
    out[n] = '\0';
    CHECK(WEXITSTATUS(pclose(w)) == 0);
    char want[128];
    snprintf(want, sizeof want, "{\"event\":\"accepted\",\"job\":\"%s\"", job);
    CHECK(job[0] && strstr(out, want) != NULL);
    snprintf(want, sizeof want, "{\"event\":\"done\",\"job\":\"%s\"", job);
    CHECK(strstr(out, want) != NULL);
    CHECK(strstr(out, "\"running\"") != NULL && strstr(out, "\"node\":\"n1\"") != NULL);
    CHECK(strstr(out, "\"tenant\":\"1534\"") == NULL);
}

/* A job graph: a job waits for another's result, which arrives as one of
 * its inputs; a failed dependency fails its dependants with the reason. */
static void test_graph(void)
{
    char out[65536], first[SK_ID_MAX] = "", bad[SK_ID_MAX] = "";
    start(NULL, 1, 2);
    sk_error err = SK_ERROR_INIT;
    sk_client *cl = sk_client_new(C.front, &err);
    sk_params *p = sk_params_new();
    sk_params_set_str(p, "ms", "500");
    sk_submit s = {.service = "diag.sleep", .tenant = "1504", .params = p};
    int64_t r1 = sk_client_submit(cl, &s, &err);
    sk_params_set_str(p, "fail", "true");
    int64_t r2 = sk_client_submit(cl, &s, &err);
    sk_params_free(p);
    for (int i = 0; i < 20 && (!first[0] || !bad[0]); i++) {
        sk_wire_msg m;
        if (sk_client_recv(cl, 500, &m, &err) != 1)
            continue;
        if (m.hdr.type == SK_MSG_ACCEPTED && m.hdr.req == r1)
            snprintf(first, sizeof first, "%s", m.hdr.job);
        if (m.hdr.type == SK_MSG_ACCEPTED && m.hdr.req == r2)
            snprintf(bad, sizeof bad, "%s", m.hdr.job);
        sk_wire_msg_close(&m);
    }
    sk_client_free(cl);
    CHECK(first[0] && bad[0]);
    long t0 = h_now_ms();
    CHECK(h_cli(&C, out, sizeof out, "submit diag.echo --tenant 1504 --after %s=upstream --json", first) == 0);
    /* It waited for its dependency and got its result as an input. */
    CHECK(h_now_ms() - t0 >= 300);
    CHECK(strstr(out, "\"ids\":[\"upstream\"]") != NULL);
    CHECK(strstr(out, "\"bytes\":[0]") == NULL);
    /* With an input of its own as well (kept in the job record until the
     * dependency's result joins it). */
    FILE *f = fopen("/tmp/sk_graph_input.txt", "w");
    fputs("own input\n", f);
    fclose(f);
    CHECK(h_cli(&C, out, sizeof out, "submit diag.echo --tenant 1504 --input net=/tmp/sk_graph_input.txt --after %s=upstream --json",
                first) == 0);
    CHECK(strstr(out, "\"ids\":[\"net\",\"upstream\"]") != NULL && strstr(out, "\"bytes\":[10,") != NULL);
    unlink("/tmp/sk_graph_input.txt");
    CHECK(h_cli(&C, out, sizeof out, "submit diag.echo --tenant 1504 --after %s=x --json", bad) == 5);
    CHECK(strstr(out, "dependency") != NULL && strstr(out, "failing as asked") != NULL);
    /* Another tenant's job is not a dependency it may use. */
    CHECK(h_cli(&C, out, sizeof out, "submit diag.echo --tenant 1534 --after %s=x --json", first) == 5);
    CHECK(strstr(out, "no such job") != NULL);
    /* Files and dependencies together beyond a job's 16 inputs: refused at
     * once, saying so (not failed later, when a dependency ends). */
    cl = sk_client_new(C.front, &err);
    sk_submit many = {.service = "diag.echo", .tenant = "1504", .no_ack = true, .ninputs = 10, .ndeps = 7};
    char depbuf[7][2 * SK_ID_MAX];
    for (int i = 0; i < 10; i++) {
        many.input_names[i] = i == 0 ? "a" : i == 1 ? "b" : i == 2 ? "c" : i == 3 ? "d" : i == 4 ? "e"
                            : i == 5 ? "f" : i == 6 ? "g" : i == 7 ? "h" : i == 8 ? "i" : "j";
        many.input_data[i] = "x";
        many.input_len[i] = 1;
    }
    for (int i = 0; i < 7; i++) {
        snprintf(depbuf[i], sizeof depbuf[i], "%s=up%d", first, i);
        many.deps[i] = depbuf[i];
    }
    int64_t rq = sk_client_submit(cl, &many, &err);
    CHECK(rq > 0);
    bool refused = false;
    for (int i = 0; i < 20 && !refused; i++) {
        sk_wire_msg m;
        if (sk_client_recv(cl, 500, &m, &err) != 1)
            continue;
        if (m.hdr.req == rq && m.hdr.type == SK_MSG_FAILED)
            refused = m.hdr.code == SK_ETOOBIG && strstr(m.hdr.reason, "at most 16 inputs; this one names 17") != NULL;
        sk_wire_msg_close(&m);
    }
    CHECK(refused);
    sk_client_free(cl);
}

/* Send a graph and wait for its answer: the REPLY's body (JSON) or the
 * error's reason, in out. 1 reply, 0 error, -1 nothing. */
static int graph_call(sk_client *cl, const sk_submit *subs, size_t n, char *out, size_t outlen)
{
    sk_error err = SK_ERROR_INIT;
    int64_t req = sk_client_submit_graph(cl, subs, n, "1504", NULL, &err);
    if (req < 0) {
        snprintf(out, outlen, "%s", err.msg);
        return -1;
    }
    for (int i = 0; i < 40; i++) {
        sk_wire_msg m;
        if (sk_client_recv(cl, 250, &m, &err) != 1)
            continue;
        int rc = -1;
        if (m.hdr.req == req && m.hdr.job[0] == '\0') {
            rc = m.hdr.type == SK_MSG_REPLY && m.nbodies == 1;
            if (rc)
                snprintf(out, outlen, "%.*s", (int)zmq_msg_size(&m.bodies[0]), (char *)zmq_msg_data(&m.bodies[0]));
            else
                snprintf(out, outlen, "%s", m.hdr.reason);
        }
        sk_wire_msg_close(&m);
        if (rc >= 0)
            return rc;
    }
    return -1;
}

/* A job graph in one message (sk_graph.h): ids in node order, "@K"
 * dependencies wired, results by reference; a graph with one bad job
 * creates none; a dependency across tenants is refused. */
static void test_graph_msg(void)
{
    char dir[] = "/tmp/sk_gmsg_XXXXXX", bargs[400], file[300], hash[SK_HASH_NAME_LEN], ds[200], dep[64];
    static char out[65536];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(bargs, sizeof bargs, FAST_BROKER " --data-dir %s/data", dir);
    start(bargs, 1, 2);
    snprintf(file, sizeof file, "%s/in.txt", dir);
    FILE *f = fopen(file, "w");
    fputs("a network, stored once\n", f);
    fclose(f);
    CHECK(h_cli(&C, out, sizeof out, "dataset put %s --tenant 1504", file) == 0);
    snprintf(hash, sizeof hash, "%.71s", out);
    snprintf(ds, sizeof ds, "net=%s", hash);
    sk_error err = SK_ERROR_INIT;
    sk_client *cl = sk_client_new(C.front, &err);
    sk_submit subs[3] = {
        {.service = "diag.digest", .tenant = "1504", .ndatasets = 1},
        {.service = "diag.digest", .tenant = "1504", .ndeps = 1},
        {.service = "diag.echo", .tenant = "1504"},
    };
    subs[0].datasets[0] = ds;
    subs[1].deps[0] = "@0=upstream";
    CHECK(graph_call(cl, subs, 3, out, sizeof out) == 1);
    char ids[3][SK_ID_MAX] = {"", "", ""};
    CHECK(sscanf(out, "{\"jobs\":[\"%63[^\"]\",\"%63[^\"]\",\"%63[^\"]\"]}", ids[0], ids[1], ids[2]) == 3);
    /* Every job's result reaches the graph's submitter. */
    int results = 0;
    bool digest_ok = false;
    for (int i = 0; i < 80 && results < 3; i++) {
        sk_wire_msg m;
        if (sk_client_recv(cl, 250, &m, &err) != 1)
            continue;
        if (m.hdr.type == SK_MSG_RESULT) {
            results++;
            if (strcmp(m.hdr.job, ids[0]) == 0 && m.nbodies == 1)
                digest_ok = memmem(zmq_msg_data(&m.bodies[0]), zmq_msg_size(&m.bodies[0]), hash + 7, 64) != NULL;
        }
        sk_wire_msg_close(&m);
    }
    CHECK(results == 3 && digest_ok);
    /* The second job got the first one's result as its input "upstream". */
    CHECK(h_cli(&C, out, sizeof out, "result %s --json", ids[1]) == 0);
    CHECK(strstr(out, "upstream") != NULL);
    /* One bad job (a dataset never stored): the graph makes nothing. */
    char *st = h_status(&C);
    long before = h_counter(st, "submitted");
    CHECK(before == 3);
    free(st);
    char missing[200];
    snprintf(missing, sizeof missing, "net=sha256:%064d", 7);
    subs[2].ndatasets = 1;
    subs[2].datasets[0] = missing;
    CHECK(graph_call(cl, subs, 3, out, sizeof out) == 0);
    CHECK(strstr(out, "graph job 2: input 'net'") != NULL);
    st = h_status(&C);
    CHECK(h_counter(st, "submitted") == before);
    free(st);
    /* A dependency on another tenant's node of the graph is refused. */
    subs[2].ndatasets = 0;
    subs[1].tenant = "1534";
    CHECK(graph_call(cl, subs, 3, out, sizeof out) == 0);
    CHECK(strstr(out, "graph job 1: depends on job 0 of another tenant") != NULL);
    /* A job id from an earlier graph works as a dependency too. */
    subs[1].tenant = "1504";
    snprintf(dep, sizeof dep, "%s=upstream", ids[0]);
    subs[1].deps[0] = dep;
    CHECK(graph_call(cl, subs, 2, out, sizeof out) == 1);
    /* A malformed graph body is refused and counted; the broker lives on. */
    void *zctx = zmq_ctx_new(), *raw = zmq_socket(zctx, ZMQ_DEALER);
    CHECK(raw != NULL && zmq_connect(raw, C.front) == 0);
    sk_header h;
    sk_header_init(&h, SK_MSG_GRAPH);
    sk_strlcpy(h.tenant, "1504", sizeof h.tenant);
    h.req = 5;
    h.nbodies = 1;
    zmq_msg_t body;
    zmq_msg_init_size(&body, 5);
    memcpy(zmq_msg_data(&body), "\xdd\xff\xff\xff\xff", 5);
    CHECK(sk_wire_send(raw, NULL, 0, &h, &body, 1, 0) == 0);
    zmq_setsockopt(raw, ZMQ_RCVTIMEO, &(int){5000}, sizeof(int));
    sk_wire_msg m;
    CHECK(sk_wire_recv(raw, false, &m, 0, &err) == 1 && m.hdr.type == SK_MSG_ERROR &&
          strstr(m.hdr.reason, "graph:") != NULL);
    sk_wire_msg_close(&m);
    /* A graph key too long to stay distinct as "KEY#INDEX": refused. */
    memset(h.idem, 'k', 110);
    h.idem[110] = '\0';
    h.req = 6;
    zmq_msg_init_size(&body, 1);
    memcpy(zmq_msg_data(&body), "\x90", 1);
    CHECK(sk_wire_send(raw, NULL, 0, &h, &body, 1, 0) == 0);
    CHECK(sk_wire_recv(raw, false, &m, 0, &err) == 1 && m.hdr.type == SK_MSG_ERROR && m.hdr.req == 6 &&
          strstr(m.hdr.reason, "idempotency key of 110 bytes; at most 100") != NULL);
    sk_wire_msg_close(&m);
    zmq_close(raw);
    zmq_ctx_term(zctx);
    sk_client_free(cl);
    char rm[200];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    CHECK(system(rm) == 0);
}

/* A dependant that was running when the broker died (kill -9), and whose
 * node died too, runs again on another node after the restart, with its
 * dependency's result as input again (from the journal). */
static void test_restart_deps(void)
{
    char dir[] = "/tmp/sk_rdeps_XXXXXX", bargs[400], nargs[400], up_hash[SK_HASH_NAME_LEN] = "", out[65536];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(bargs, sizeof bargs, FAST_BROKER " --data-dir %s/data", dir);
    snprintf(nargs, sizeof nargs, FAST_NODE " --cache-dir %s/cache1", dir);
    h_cluster_init(&C);
    h_start_broker(&C, bargs);
    pid_t n1 = h_start_node(&C, "n1", 1, nargs);
    h_wait_nodes(&C, 1, 20000);
    sk_error err = SK_ERROR_INIT;
    sk_client *cl = sk_client_new(C.front, &err);
    sk_submit up = {.service = "diag.echo", .tenant = "1504"};
    sk_params *p = sk_params_new();
    sk_params_set_str(p, "ms", "4000");
    sk_submit digest = {.service = "diag.digest", .tenant = "1504", .params = p, .ndeps = 1};
    digest.deps[0] = "@0=upstream";
    sk_submit subs[2] = {up, digest};
    int64_t req = sk_client_submit_graph(cl, subs, 2, "1504", NULL, &err);
    sk_params_free(p);
    CHECK(req > 0);
    char ids[2][SK_ID_MAX] = {"", ""};
    for (int i = 0; i < 40 && !up_hash[0]; i++) {
        sk_wire_msg m;
        if (sk_client_recv(cl, 250, &m, &err) != 1)
            continue;
        if (m.hdr.type == SK_MSG_REPLY && m.nbodies == 1)
            sscanf(zmq_msg_data(&m.bodies[0]), "{\"jobs\":[\"%63[^\"]\",\"%63[^\"]\"", ids[0], ids[1]);
        if (m.hdr.type == SK_MSG_RESULT && m.nbodies == 1 && strcmp(m.hdr.job, ids[0]) == 0)
            sk_sha256_name(zmq_msg_data(&m.bodies[0]), zmq_msg_size(&m.bodies[0]), up_hash);
        sk_wire_msg_close(&m);
    }
    sk_client_free(cl);
    CHECK(ids[1][0] && up_hash[0]);
    /* The digest runs (4 s); broker and node die under it. */
    usleep(800 * 1000);
    h_kill(C.broker, SIGKILL);
    h_kill(n1, SIGKILL);
    h_start_broker(&C, bargs);
    snprintf(nargs, sizeof nargs, FAST_NODE " --cache-dir %s/cache2", dir);
    h_start_node(&C, "n2", 1, nargs);
    h_wait_nodes(&C, 1, 20000);
    CHECK(h_cli(&C, out, sizeof out, "wait %s --tenant 1504 --json --timeout 30", ids[1]) == 0);
    CHECK(strstr(out, "\"ids\":[\"upstream\"]") != NULL && strstr(out, up_hash) != NULL);
    char rm[200];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    CHECK(system(rm) == 0);
}

/* A result bigger than a frame fails its job at once, saying why (libzmq
 * would otherwise drop the node's connection and the job would wait for
 * its deadline). */
static void test_result_too_big(void)
{
    char out[8192], nargs[400], input[300];
    const char *source = getenv("SAMSKAP_SOURCE");
    snprintf(input, sizeof input, "%s/tests/data/power/case14/case.m", source ? source : ".");
    snprintf(nargs, sizeof nargs, FAST_NODE " --max-frame 2048");
    h_cluster_init(&C);
    h_start_broker(&C, FAST_BROKER);
    h_start_node(&C, "small", 1, nargs);
    h_wait_nodes(&C, 1, 20000);
    long t0 = h_now_ms();
    CHECK(h_cli(&C, out, sizeof out, "submit sim.power --input case=%s --timeout 60 --json", input) == 5);
    CHECK(strstr(out, "the bus carries at most 2048 bytes per frame") != NULL);
    CHECK(h_now_ms() - t0 < 20000);
    /* The node is still there for the next job. */
    CHECK(h_cli(&C, out, sizeof out, "submit diag.echo --json") == 0);
    /* The node learns the broker's limit from each job: a broker with a
     * small --max-frame and a node with the default agree. */
    h_kill(C.broker, SIGTERM);
    for (int i = 0; i < C.nnodes; i++)
        h_kill(C.nodes[i], SIGTERM);
    h_cluster_init(&C);
    h_start_broker(&C, FAST_BROKER " --max-frame 5000");
    h_start_node(&C, "default", 1, FAST_NODE);
    h_wait_nodes(&C, 1, 20000);
    CHECK(h_cli(&C, out, sizeof out, "submit sim.power --input case=%s --timeout 60 --json", input) == 5);
    CHECK(strstr(out, "the bus carries at most 5000 bytes per frame") != NULL);
    /* Without --data-dir a large result is not taken by reference: the job
     * fails at once, and the reason says which broker would take it. */
    t0 = h_now_ms();
    CHECK(h_cli(&C, out, sizeof out, "submit diag.echo --param pad=400000 --timeout 60 --json") == 5);
    CHECK(strstr(out, "the bus carries at most 5000 bytes per frame") != NULL);
    CHECK(strstr(out, "a broker with --data-dir, which takes larger results by reference") != NULL);
    CHECK(h_now_ms() - t0 < 20000);
    char *st = h_status(&C);
    CHECK(h_counter(st, "results_by_ref") == 0 && h_counter(st, "upload_chunks") == 0);
    free(st);
}

/* A scenario end to end on the bundled region: all three kernels, an
 * indicator per kernel, the before/after table; and a scenario with a
 * failing step, whose dependants fail while the rest finish. */
static void test_scenario(void)
{
    char src[512], nargs[800], cmd[1400];
    static char out[1 << 20];
    const char *source = getenv("SAMSKAP_SOURCE");
    snprintf(src, sizeof src, "%s", source ? source : ".");
    snprintf(nargs, sizeof nargs, FAST_NODE " --plugins %s/plugins", src);
    char hdir[] = "/tmp/sk_hist_XXXXXX", bargs[400];
    CHECK(mkdtemp(hdir) != NULL);
    snprintf(bargs, sizeof bargs, FAST_BROKER " --no-service-wait-ms 1000 --data-dir %s", hdir);
    h_cluster_init(&C);
    h_start_broker(&C, bargs);
    h_start_node(&C, "a", 2, nargs);
    h_start_node(&C, "b", 2, nargs);
    h_wait_nodes(&C, 2, 20000);
    /* Inputs with every job, then as datasets (the default with --data-dir). */
    CHECK(h_cli(&C, out, sizeof out, "run %s/deploy/region/scenario.lua --inputs frames", src) == 0);
    CHECK(strstr(out, "| traffic_travel_time_index |") != NULL && strstr(out, "failed") == NULL);
    CHECK(h_cli(&C, out, sizeof out, "run %s/deploy/region/scenario.lua --json", src) == 0);
    CHECK(strstr(out, "\"scenario\":\"Ålesund 2020: before and after the merger\"") != NULL);
    const char *inds[] = {"water_pressure_adequacy", "power_voltage_compliance", "traffic_travel_time_index"};
    for (int i = 0; i < 3; i++) {
        char want[200];
        snprintf(want, sizeof want, "{\"indicator\":\"%s\",\"region\":{\"value\":", inds[i]);
        char *p = strstr(out, want);
        CHECK(p != NULL);
        /* region value is a number, and Haram has before and after values */
        CHECK(p && strncmp(p + strlen(want), "null", 4) != 0);
        char *h = p ? strstr(p, "\"1534\":{\"name\":\"Haram\",\"before\":{\"value\":") : NULL;
        CHECK(h != NULL && strncmp(h + strlen("\"1534\":{\"name\":\"Haram\",\"before\":{\"value\":"), "null", 4) != 0);
        char *after = h ? strstr(h, "\"after\":{\"value\":") : NULL;
        CHECK(after != NULL && strncmp(after + strlen("\"after\":{\"value\":"), "null", 4) != 0);
    }
    /* Indicator history across the two runs. */
    static char hist[1 << 20];
    CHECK(h_cli(&C, hist, sizeof hist, "indicators --tenant 1507 --csv") == 0);
    int rows = 0;
    for (const char *p = hist; (p = strstr(p, ",traffic_travel_time_index,1507,region,after,")) != NULL; p++)
        rows++;
    CHECK(rows == 2);
    CHECK(strstr(hist, ",traffic_travel_time_index,1507,region,skodje_road,") != NULL);
    CHECK(strstr(hist, "date,scenario,indicator,area,name,variant,value,band,job,plugin,plugin_hash,simulation,"
                       "kernel,inputs\n") == hist);
    /* Each value keeps its provenance: plugin version and hash, kernel. */
    CHECK(strstr(hist, ",traffic_travel_time_index 1.0.0,sha256:") != NULL && strstr(hist, ",traffic 0.1.0,") != NULL);
    /* The table for people lines up by characters: "Ålesund" (7 letters,
     * 8 bytes) and "Haram" both fill the 12-character name column. */
    CHECK(h_cli(&C, hist, sizeof hist, "indicators --tenant 1507") == 0);
    CHECK(strstr(hist, " Ålesund      before ") != NULL && strstr(hist, " Haram        before ") != NULL);
    CHECK(strstr(hist, " skodje_road ") != NULL);
    /* A member's key-less read of another tenant's history is still scoped
     * by tenant: 1534 has none of its own. */
    CHECK(h_cli(&C, hist, sizeof hist, "indicators --tenant 1534 --csv") == 0);
    CHECK(strstr(hist, "traffic_travel_time_index") == NULL);
    /* --no-wait prints the run's manifest and returns; --collect later
     * waits for those jobs and gives the same table. */
    CHECK(h_cli(&C, out, sizeof out, "run %s/deploy/region/scenario.lua --no-wait --out %s/nw", src, hdir) == 0);
    CHECK(strstr(out, "\"simulations\":21,\"indicators\":42,\"jobs\":[\"j-") != NULL);
    CHECK(h_cli(&C, out, sizeof out, "run --collect %s/nw/run.json --json", hdir) == 0);
    {
        const char *want = "{\"indicator\":\"water_pressure_adequacy\",\"region\":{\"value\":";
        const char *p = strstr(out, want);
        CHECK(p != NULL && strncmp(p + strlen(want), "null", 4) != 0);
    }
    CHECK(h_cli(&C, out, sizeof out, "run --collect %s/deploy/region/scenario.lua", src) == 2);
    /* A step that fails: an indicator no node offers. */
    const char *bad = "/tmp/sk_scenario_fail.lua";
    FILE *f = fopen(bad, "w");
    fprintf(f, "return { name = \"failing step\", region = \"1507\", base = \"%s/deploy/region\",\n"
               "  municipalities = { \"1534\" },\n"
               "  simulations = { power = { case = \"power.m\" } },\n"
               "  indicators = { \"power_voltage_compliance\", \"power_no_such_indicator\" } }\n", src);
    fclose(f);
    CHECK(h_cli(&C, out, sizeof out, "run %s", bad) == 0);
    CHECK(strstr(out, "| power_voltage_compliance | 100 (good)") != NULL);
    CHECK(strstr(out, "| power_no_such_indicator | failed") != NULL);
    CHECK(strstr(out, "no node offers service 'indicator.power_no_such_indicator'") != NULL);
    /* Variants, computed by the scenario's own Lua (run in the sandbox): a
     * traffic-only change re-runs traffic and reuses the baseline's power
     * jobs, which the provenance shows. */
    f = fopen(bad, "w");
    fprintf(f, "local v = {}\n"
               "for i, gap in ipairs { 1e-3 } do\n"
               "  v[#v + 1] = { name = 'gap_' .. i, simulations = { traffic = { params = { gap = gap } } } }\n"
               "end\n"
               "return { name = 'variants', region = '1507', base = '%s/deploy/region',\n"
               "  municipalities = { '1534' }, variants = v,\n"
               "  simulations = { power = { case = 'power.m' },\n"
               "    traffic = { net = 'traffic_net.tntp', trips = 'traffic_trips.tntp', params = { gap = 1e-5 } } },\n"
               "  indicators = { 'power_network_losses', 'traffic_travel_time_index' } }\n", src);
    fclose(f);
    CHECK(h_cli(&C, out, sizeof out, "run %s --json", bad) == 0);
    for (int i = 0; i < 2; i++) {
        char want[200], after_job[64] = "", variant_job[64] = "";
        snprintf(want, sizeof want, "{\"indicator\":\"%s\",\"region\":{\"value\":",
                 i == 0 ? "power_network_losses" : "traffic_travel_time_index");
        char *p = strstr(out, want), *pj = p ? strstr(p, "\"provenance\":{\"job\":\"") : NULL;
        char *v = p ? strstr(p, "\"region_variants\":{\"gap_1\":{\"value\":") : NULL;
        char *vj = v ? strstr(v, "\"provenance\":{\"job\":\"") : NULL;
        const char *pk = "\"provenance\":{\"job\":\"", *vk = "\"region_variants\":{\"gap_1\":{\"value\":";
        CHECK(pj != NULL && vj != NULL && strncmp(v + strlen(vk), "null", 4) != 0);
        if (pj && vj) {
            sscanf(pj + strlen(pk), "%63[^\"]", after_job);
            sscanf(vj + strlen(pk), "%63[^\"]", variant_job);
        }
        CHECK(after_job[0] != '\0' && variant_job[0] != '\0');
        /* power: the same job (reused); traffic: its own */
        CHECK((strcmp(after_job, variant_job) == 0) == (i == 0));
    }
    CHECK(strstr(out, "\"simulations\":[") != NULL && strstr(out, "\"kernel\":\"traffic ") != NULL);
    /* A scenario that does not return data is refused with the key path. */
    f = fopen(bad, "w");
    fputs("return { name = 'x', region = '1507', municipalities = {}, indicators = {},\n"
          "  simulations = { water = { params = { f = print } } } }\n", f);
    fclose(f);
    CHECK(h_cli(&C, out, sizeof out, "run %s", bad) == 2);
    /* A malformed scenario is refused with file and line. */
    f = fopen(bad, "w");
    fputs("return {\n  name = \"x\",\n  region = os.getenv('X'),\n}\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "run %s", bad);
    CHECK(h_cli(&C, out, sizeof out, "%s", cmd) == 2);
    unlink(bad);
    char rm[200];
    snprintf(rm, sizeof rm, "rm -rf %s", hdir);
    CHECK(system(rm) == 0);
}

/* Datasets: a file bigger than the frame limit goes up and down in chunks,
 * verified; a corrupted chunk is refused; jobs name datasets by hash; other
 * tenants cannot see them. */
static void test_datasets(void)
{
    char dir[] = "/tmp/sk_ds_XXXXXX", bargs[400], big[300], small[300], back[300], out[65536], hash[80] = "",
         shash[80] = "";
    CHECK(mkdtemp(dir) != NULL);
    snprintf(bargs, sizeof bargs, FAST_BROKER " --max-frame 65536 --data-dir %s/data", dir);
    h_cluster_init(&C);
    h_start_broker(&C, bargs);
    char nargs[400];
    snprintf(nargs, sizeof nargs, FAST_NODE " --cache-dir %s/cache", dir);
    h_start_node(&C, "n1", 1, nargs);
    h_wait_nodes(&C, 1, 20000);
    snprintf(big, sizeof big, "%s/big.bin", dir);
    snprintf(small, sizeof small, "%s/small.bin", dir);
    snprintf(back, sizeof back, "%s/back.bin", dir);
    FILE *f = fopen(big, "wb");
    uint64_t x = 99;
    for (int i = 0; i < 300000; i++) {
        x = x * 6364136223846793005ULL + 1;
        fputc((int)(x >> 56), f);
    }
    fclose(f);
    f = fopen(small, "wb");
    for (int i = 0; i < 1000; i++)
        fputc('a' + i % 26, f);
    fclose(f);
    CHECK(h_cli(&C, out, sizeof out, "dataset put %s --tenant 1504 --chunk 50000", big) == 0);
    sscanf(out, "%79s", hash);
    CHECK(strncmp(hash, "sha256:", 7) == 0 && strlen(hash) == 71);
    CHECK(h_cli(&C, out, sizeof out, "dataset get %s --tenant 1504 --out %s --chunk 40000", hash, back) == 0);
    char cmd[1000];
    snprintf(cmd, sizeof cmd, "cmp -s %s %s", big, back);
    CHECK(system(cmd) == 0);
    /* Another tenant cannot see it. */
    CHECK(h_cli(&C, out, sizeof out, "dataset get %s --tenant 1534 --out %s", hash, back) != 0);
    /* A job names a dataset by hash; one bigger than a frame is refused. */
    CHECK(h_cli(&C, out, sizeof out, "dataset put %s --tenant 1504", small) == 0);
    sscanf(out, "%79s", shash);
    CHECK(h_cli(&C, out, sizeof out, "submit diag.echo --tenant 1504 --input payload=@%s --json", shash) == 0);
    CHECK(strstr(out, "\"ids\":[\"payload\"]") != NULL && strstr(out, "\"bytes\":[1000]") != NULL);
    /* One bigger than a frame travels too: the node fetches it in chunks. */
    CHECK(h_cli(&C, out, sizeof out, "submit diag.digest --tenant 1504 --input payload=@%s --json", hash) == 0);
    CHECK(strstr(out, hash) != NULL && strstr(out, "\"bytes\":[300000]") != NULL);
    /* A corrupted chunk: the bytes do not hash to the announced name. */
    sk_error err = SK_ERROR_INIT;
    sk_client *cl = sk_client_new(C.front, &err);
    char *data = calloc(1, 100000);
    int refused = 0;
    for (int64_t off = 0; off < 100000 && cl; off += 50000) {
        sk_header h;
        sk_header_init(&h, SK_MSG_DATA_PUT);
        strcpy(h.tenant, "1504");
        snprintf(h.text, sizeof h.text, "sha256:%064d", 0); /* the zero bytes hash to something else */
        h.offset = off;
        h.total = 100000;
        h.req = ++cl->next_req;
        h.nbodies = 1;
        strcpy(h.body_names[0], "chunk");
        zmq_msg_t body;
        zmq_msg_init_size(&body, 50000);
        memcpy(zmq_msg_data(&body), data + off, 50000);
        sk_wire_send(cl->sock, NULL, 0, &h, &body, 1, 0);
        sk_wire_msg m;
        if (sk_client_recv(cl, 5000, &m, &err) == 1) {
            if (m.hdr.type == SK_MSG_ERROR && strstr(m.hdr.reason, "corrupted chunk"))
                refused = 1;
            sk_wire_msg_close(&m);
        }
    }
    CHECK(refused);
    free(data);
    sk_client_free(cl);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* A file of n pseudo-random bytes (seeded). */
static void write_random(const char *path, int n, uint64_t seed)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    for (int i = 0; f && i < n; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        fputc((int)(seed >> 56), f);
    }
    if (f)
        fclose(f);
}

/* How many lines of a log contain what. */
static int log_count(const char *path, const char *what)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, what) != NULL;
    if (f)
        fclose(f);
    return n;
}

static long fetch_chunks(void)
{
    char *st = h_status(&C);
    long v = h_counter(st, "fetch_chunks");
    free(st);
    return v;
}

/* Node-side fetch: a dataset bigger than the frame limit is a job input;
 * the node fetches it in chunks and its job sees the right bytes; a second
 * job hits the node's cache; a corrupted cached copy is fetched again; a
 * small cache evicts the least recently used dataset; `dataset list` shows
 * one tenant's datasets only. */
static void test_fetch(void)
{
    char dir[] = "/tmp/sk_fetch_XXXXXX", bargs[400], nargs[400], a[300], bfile[300], hash_a[80] = "",
         hash_b[80] = "", nlog[400], cached_a[400], cached_b[400], name[65];
    static char out[65536];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(bargs, sizeof bargs, FAST_BROKER " --max-frame 65536 --data-dir %s/data", dir);
    snprintf(nargs, sizeof nargs, FAST_NODE " --cache-dir %s/cache --cache-max-bytes 400000", dir);
    h_cluster_init(&C);
    h_start_broker(&C, bargs);
    h_start_node(&C, "n1", 1, nargs);
    h_wait_nodes(&C, 1, 20000);
    snprintf(nlog, sizeof nlog, "%s/fetch.node-n1.log", C.logdir);
    snprintf(a, sizeof a, "%s/a.bin", dir);
    snprintf(bfile, sizeof bfile, "%s/b.bin", dir);
    write_random(a, 300000, 1);
    write_random(bfile, 200000, 2);
    CHECK(h_cli(&C, out, sizeof out, "dataset put %s --tenant 1504 --chunk 60000 --name network-a", a) == 0);
    sscanf(out, "%79s", hash_a);
    CHECK(h_cli(&C, out, sizeof out, "dataset put %s --tenant 1504 --chunk 60000", bfile) == 0);
    sscanf(out, "%79s", hash_b);
    CHECK(strlen(hash_a) == 71 && strlen(hash_b) == 71);
    sk_scoped_name("1504", hash_a, name);
    snprintf(cached_a, sizeof cached_a, "%s/cache/%s", dir, name);
    sk_scoped_name("1504", hash_b, name);
    snprintf(cached_b, sizeof cached_b, "%s/cache/%s", dir, name);

    /* 1: fetched in chunks of at most one frame; the job saw the bytes. */
    long c0 = fetch_chunks();
    CHECK(h_cli(&C, out, sizeof out, "submit diag.digest --tenant 1504 --input net=@%s --json", hash_a) == 0);
    CHECK(strstr(out, hash_a) != NULL && strstr(out, "\"bytes\":[300000]") != NULL);
    long c1 = fetch_chunks();
    CHECK(c1 - c0 >= 5); /* 300000 bytes in chunks of <= 65536 */
    CHECK(access(cached_a, F_OK) == 0);
    /* 2: the same dataset again comes from the node's cache. */
    CHECK(h_cli(&C, out, sizeof out, "submit diag.digest --tenant 1504 --input net=@%s --json", hash_a) == 0);
    CHECK(strstr(out, hash_a) != NULL);
    CHECK(fetch_chunks() == c1);
    CHECK(log_count(nlog, "msg=\"dataset from cache\"") == 1);
    /* 3: a cached copy corrupted on disk is detected and fetched again. */
    FILE *f = fopen(cached_a, "r+b");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 1000, SEEK_SET);
        fputc(0x5a ^ 0xff, f);
        fseek(f, 1001, SEEK_SET);
        fputc(0x00, f);
        fclose(f);
    }
    CHECK(h_cli(&C, out, sizeof out, "submit diag.digest --tenant 1504 --input net=@%s --json", hash_a) == 0);
    CHECK(strstr(out, hash_a) != NULL);
    CHECK(log_count(nlog, "failed verification") == 1);
    long c3 = fetch_chunks();
    CHECK(c3 - c1 >= 5);
    /* 4: a second dataset overflows the 400,000-byte cache: the least
     * recently used one (a) is evicted. */
    CHECK(h_cli(&C, out, sizeof out, "submit diag.digest --tenant 1504 --input other=@%s --json", hash_b) == 0);
    CHECK(strstr(out, hash_b) != NULL && strstr(out, "\"bytes\":[200000]") != NULL);
    CHECK(access(cached_b, F_OK) == 0);
    CHECK(access(cached_a, F_OK) != 0);
    CHECK(log_count(nlog, "dataset evicted from cache") == 1);
    long c4 = fetch_chunks();
    CHECK(h_cli(&C, out, sizeof out, "submit diag.digest --tenant 1504 --input net=@%s --json", hash_a) == 0);
    CHECK(fetch_chunks() - c4 >= 5);
    /* dataset list: the tenant's datasets, and nobody else's. */
    int found = 0;
    for (int i = 0; i < 50 && !found; i++) {
        CHECK(h_cli(&C, out, sizeof out, "dataset list --tenant 1504 --json") == 0);
        found = strstr(out, hash_a) != NULL && strstr(out, hash_b) != NULL;
        if (!found)
            usleep(100000);
    }
    CHECK(found);
    CHECK(strstr(out, "\"name\":\"network-a\"") != NULL && strstr(out, "\"size\":300000") != NULL);
    CHECK(h_cli(&C, out, sizeof out, "dataset list --tenant 1504") == 0);
    CHECK(strstr(out, hash_a) != NULL && strstr(out, "network-a") != NULL);
    CHECK(h_cli(&C, out, sizeof out, "dataset list --tenant 1534 --json") == 0);
    CHECK(strstr(out, "\"datasets\":[]") != NULL && strstr(out, hash_a) == NULL);
    /* Another tenant cannot name 1504's dataset as an input. */
    CHECK(h_cli(&C, out, sizeof out, "submit diag.digest --tenant 1534 --input net=@%s", hash_a) != 0);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* One request on a raw backend socket; the answer's type, reason into why. */
static int backend_ask(void *s, sk_header *h, char *why, size_t n)
{
    sk_error err = SK_ERROR_INIT;
    CHECK(sk_wire_send(s, NULL, 0, h, NULL, 0, 0) == 0);
    for (int i = 0; i < 20; i++) {
        sk_wire_msg m;
        int rc = sk_wire_recv(s, false, &m, 0, &err);
        if (rc != 1)
            return -1;
        int type = m.hdr.type;
        bool mine = m.hdr.req == h->req;
        snprintf(why, n, "%s", m.hdr.reason);
        sk_wire_msg_close(&m);
        if (mine)
            return type;
    }
    return -1;
}

/* A node fetches only what a job assigned to it names, for a tenant it
 * serves; malformed fetches get clear errors and the broker carries on. */
static void test_fetch_refused(void)
{
    char dir[] = "/tmp/sk_fref_XXXXXX", bargs[400], nargs[400], file[300], hash[80] = "", why[600];
    static char out[65536];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(bargs, sizeof bargs, FAST_BROKER " --data-dir %s/data", dir);
    snprintf(nargs, sizeof nargs, FAST_NODE " --cache-dir %s/cache --tenants 1504", dir);
    h_cluster_init(&C);
    h_start_broker(&C, bargs);
    h_start_node(&C, "n1", 1, nargs);
    h_wait_nodes(&C, 1, 20000);
    snprintf(file, sizeof file, "%s/d.bin", dir);
    write_random(file, 5000, 3);
    CHECK(h_cli(&C, out, sizeof out, "dataset put %s --tenant 1504", file) == 0);
    sscanf(out, "%79s", hash);
    /* A job that holds its node for a while, naming the dataset. */
    sk_error err = SK_ERROR_INIT;
    sk_client *cl = sk_client_new(C.front, &err);
    sk_params *p = sk_params_new();
    sk_params_set_str(p, "ms", "4000");
    char ref[200], job[SK_ID_MAX] = "";
    snprintf(ref, sizeof ref, "payload=%s", hash);
    sk_submit sub = {.service = "diag.sleep", .tenant = "1504", .params = p, .ndatasets = 1};
    sub.datasets[0] = ref;
    int64_t req = sk_client_submit(cl, &sub, &err);
    sk_params_free(p);
    for (int i = 0; i < 20 && !job[0]; i++) {
        sk_wire_msg m;
        if (sk_client_recv(cl, 500, &m, &err) == 1) {
            if (m.hdr.type == SK_MSG_ACCEPTED && m.hdr.req == req)
                snprintf(job, sizeof job, "%s", m.hdr.job);
            sk_wire_msg_close(&m);
        }
    }
    CHECK(job[0] != '\0');
    usleep(500000); /* running on n1 */
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, tmo = 3000;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_setsockopt(s, ZMQ_ROUTING_ID, "n-intruder", 10);
    CHECK(zmq_connect(s, C.back) == 0);
    sk_header h;
    /* Not a node yet: refused. */
    sk_header_init(&h, SK_MSG_DATA_GET);
    snprintf(h.job, sizeof h.job, "%s", job);
    snprintf(h.text, sizeof h.text, "%s", hash);
    h.total = 1000;
    h.req = (int64_t)1 << 33;
    CHECK(backend_ask(s, &h, why, sizeof why) == SK_MSG_ERROR);
    CHECK(strstr(why, "not available") != NULL);
    /* A node for another tenant: refused, and told nothing more. */
    sk_header r;
    sk_header_init(&r, SK_MSG_READY);
    char svc[1][SK_ID_MAX] = {"diag.sleep"}, ten[1][SK_ID_MAX] = {"1534"};
    r.services = svc;
    r.nservices = 1;
    r.tenants = ten;
    r.ntenants = 1;
    r.capacity = 1;
    snprintf(r.node_name, sizeof r.node_name, "intruder");
    CHECK(sk_wire_send(s, NULL, 0, &r, NULL, 0, 0) == 0);
    usleep(200000);
    h.req++;
    CHECK(backend_ask(s, &h, why, sizeof why) == SK_MSG_ERROR);
    CHECK(strstr(why, "not available") != NULL && strstr(why, "1504") == NULL);
    /* A node for the right tenant, but the job is not assigned to it. */
    snprintf(ten[0], sizeof ten[0], "1504");
    CHECK(sk_wire_send(s, NULL, 0, &r, NULL, 0, 0) == 0);
    usleep(200000);
    h.req++;
    CHECK(backend_ask(s, &h, why, sizeof why) == SK_MSG_ERROR);
    CHECK(strstr(why, "not available") != NULL);
    /* Malformed: a bad hash, a negative offset, no job. */
    const char *bad_hash[] = {"sha256:xyz", "md5:00", ""};
    for (int i = 0; i < 3; i++) {
        snprintf(h.text, sizeof h.text, "%s", bad_hash[i]);
        h.req++;
        CHECK(backend_ask(s, &h, why, sizeof why) == SK_MSG_ERROR);
        CHECK(strstr(why, "sha256:<64 hex>") != NULL);
    }
    snprintf(h.text, sizeof h.text, "%s", hash);
    h.offset = -5;
    h.req++;
    CHECK(backend_ask(s, &h, why, sizeof why) == SK_MSG_ERROR && strstr(why, "offset >= 0") != NULL);
    h.offset = 0;
    h.job[0] = '\0';
    h.req++;
    CHECK(backend_ask(s, &h, why, sizeof why) == SK_MSG_ERROR && strstr(why, "needs job") != NULL);
    sk_header d;
    sk_header_init(&d, SK_MSG_DISCONNECT);
    sk_wire_send(s, NULL, 0, &d, NULL, 0, 0);
    zmq_close(s);
    zmq_ctx_term(ctx);
    /* The real node fetched and ran its job meanwhile. */
    int done = 0;
    for (int i = 0; i < 30 && !done; i++) {
        sk_wire_msg m;
        if (sk_client_recv(cl, 500, &m, &err) == 1) {
            done = m.hdr.type == SK_MSG_RESULT ? 1 : m.hdr.type == SK_MSG_FAILED ? -1 : 0;
            if (done < 0)
                fprintf(stderr, "job failed: %s\n", m.hdr.reason);
            sk_wire_msg_close(&m);
        }
    }
    CHECK(done == 1);
    sk_client_free(cl);
    char *st = h_status(&C);
    CHECK(h_counter(st, "fetch_refused") >= 3);
    CHECK(h_counter(st, "fetch_chunks") >= 1);
    free(st);
    /* A dataset the broker lost fails the job with input, hash and why. */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -f %s/data/datasets/* && rm -rf %s/cache/*", dir, dir);
    CHECK(system(cmd) == 0);
    CHECK(h_cli(&C, out, sizeof out, "submit diag.digest --tenant 1504 --input net=@%s", hash) == 5);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* With a data directory, a dependency's result reaches its dependant by
 * reference: stored by hash, fetched by the node, listed for the tenant. */
static void test_graph_ref(void)
{
    char dir[] = "/tmp/sk_gref_XXXXXX", bargs[400], nargs[400], first[SK_ID_MAX] = "", hash[SK_HASH_NAME_LEN];
    static char out[65536];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(bargs, sizeof bargs, FAST_BROKER " --data-dir %s/data", dir);
    snprintf(nargs, sizeof nargs, FAST_NODE " --cache-dir %s/cache", dir);
    h_cluster_init(&C);
    h_start_broker(&C, bargs);
    h_start_node(&C, "n1", 2, nargs);
    h_wait_nodes(&C, 1, 20000);
    sk_error err = SK_ERROR_INIT;
    sk_client *cl = sk_client_new(C.front, &err);
    sk_params *p = sk_params_new();
    sk_params_set_str(p, "colour", "blå");
    sk_submit s = {.service = "diag.echo", .tenant = "1504", .params = p};
    int64_t r1 = sk_client_submit(cl, &s, &err);
    sk_params_free(p);
    hash[0] = '\0';
    for (int i = 0; i < 40 && !hash[0]; i++) {
        sk_wire_msg m;
        if (sk_client_recv(cl, 500, &m, &err) != 1)
            continue;
        if (m.hdr.type == SK_MSG_ACCEPTED && m.hdr.req == r1)
            snprintf(first, sizeof first, "%s", m.hdr.job);
        if (m.hdr.type == SK_MSG_RESULT && m.nbodies == 1)
            sk_sha256_name(zmq_msg_data(&m.bodies[0]), zmq_msg_size(&m.bodies[0]), hash);
        sk_wire_msg_close(&m);
    }
    sk_client_free(cl);
    CHECK(first[0] && hash[0]);
    long c0 = fetch_chunks();
    CHECK(h_cli(&C, out, sizeof out, "submit diag.digest --tenant 1504 --after %s=upstream --json", first) == 0);
    /* The dependant saw exactly the dependency's result bytes, fetched. */
    CHECK(strstr(out, "\"ids\":[\"upstream\"]") != NULL && strstr(out, hash) != NULL);
    CHECK(fetch_chunks() > c0);
    int listed = 0;
    for (int i = 0; i < 50 && !listed; i++) {
        CHECK(h_cli(&C, out, sizeof out, "dataset list --tenant 1504 --json") == 0);
        listed = strstr(out, hash) != NULL;
        if (!listed)
            usleep(100000);
    }
    CHECK(listed && strstr(out, "result of") != NULL);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* Retention: a stored dataset unused for --dataset-ttl is deleted, one a
 * running job names is kept. */
static void test_dataset_retention(void)
{
    char dir[] = "/tmp/sk_dret_XXXXXX", bargs[400], nargs[400], fx[300], fy[300], hx[80] = "", hy[80] = "";
    static char out[65536];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(bargs, sizeof bargs, FAST_BROKER " --data-dir %s/data --dataset-ttl 2", dir);
    snprintf(nargs, sizeof nargs, FAST_NODE " --cache-dir %s/cache", dir);
    h_cluster_init(&C);
    h_start_broker(&C, bargs);
    h_start_node(&C, "n1", 1, nargs);
    h_wait_nodes(&C, 1, 20000);
    snprintf(fx, sizeof fx, "%s/x.bin", dir);
    snprintf(fy, sizeof fy, "%s/y.bin", dir);
    write_random(fx, 3000, 4);
    write_random(fy, 4000, 5);
    CHECK(h_cli(&C, out, sizeof out, "dataset put %s --tenant 1504", fx) == 0);
    sscanf(out, "%79s", hx);
    CHECK(h_cli(&C, out, sizeof out, "dataset put %s --tenant 1504", fy) == 0);
    sscanf(out, "%79s", hy);
    /* y is an input of a job that runs for 6 s. */
    char cmd[600], ref[200];
    sk_error err = SK_ERROR_INIT;
    sk_client *cl = sk_client_new(C.front, &err);
    sk_params *p = sk_params_new();
    sk_params_set_str(p, "ms", "6000");
    snprintf(ref, sizeof ref, "held=%s", hy);
    sk_submit sub = {.service = "diag.sleep", .tenant = "1504", .params = p, .ndatasets = 1};
    sub.datasets[0] = ref;
    CHECK(sk_client_submit(cl, &sub, &err) > 0);
    sk_params_free(p);
    usleep(4500000);
    CHECK(h_cli(&C, out, sizeof out, "dataset list --tenant 1504 --json") == 0);
    CHECK(strstr(out, hx) == NULL && strstr(out, hy) != NULL);
    sk_client_free(cl);
    snprintf(cmd, sizeof cmd, "%s/x.back", dir);
    CHECK(h_cli(&C, out, sizeof out, "dataset get %s --tenant 1504 --out %s", hx, cmd) != 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* ---- results by reference ---- */

/* Submit diag.echo with pad bytes; the accepted job id into job, and the
 * RESULT message into *res (the caller closes it).  0, or -1. */
static int echo_pad(sk_client *cl, long pad, char *job, sk_wire_msg *res)
{
    sk_error err = SK_ERROR_INIT;
    sk_params *p = sk_params_new();
    sk_params_set_int(p, "pad", pad);
    sk_submit s = {.service = "diag.echo", .tenant = "1504", .params = p};
    int64_t req = sk_client_submit(cl, &s, &err);
    sk_params_free(p);
    for (int i = 0; i < 240 && req > 0; i++) {
        sk_wire_msg m;
        if (sk_client_recv(cl, 250, &m, &err) != 1)
            continue;
        if (m.hdr.type == SK_MSG_ACCEPTED && m.hdr.req == req)
            snprintf(job, SK_ID_MAX, "%s", m.hdr.job);
        if ((m.hdr.type == SK_MSG_RESULT || m.hdr.type == SK_MSG_FAILED) && m.hdr.req == req) {
            if (m.hdr.type == SK_MSG_FAILED)
                fprintf(stderr, "job %s failed: %s\n", m.hdr.job, m.hdr.reason);
            *res = m;
            return m.hdr.type == SK_MSG_RESULT ? 0 : -1;
        }
        sk_wire_msg_close(&m);
    }
    return -1;
}

/* A by-reference result, downloaded and checked: its bytes hash to the
 * reference, decode, and carry the pad table diag.echo was asked for. */
static void check_pad_result(sk_client *cl, sk_wire_msg *m, long pad, char *hash_out)
{
    sk_error err = SK_ERROR_INIT;
    const sk_data_ref *ref = sk_client_result_ref(m);
    CHECK(ref != NULL && m->nbodies == 0);
    if (ref == NULL)
        return;
    CHECK(strcmp(ref->input, "result") == 0);
    CHECK(ref->size > pad && ref->size < pad + 4096);
    char *data = NULL;
    size_t len = 0;
    CHECK(sk_client_fetch_result(cl, m, NULL, &data, &len, &err) == 1);
    CHECK(len == (size_t)ref->size);
    char got[SK_HASH_NAME_LEN] = "";
    if (data != NULL)
        sk_sha256_name(data, len, got);
    CHECK(strcmp(got, ref->hash) == 0);
    sk_result *r = data != NULL ? sk_result_decode(data, len, &err) : NULL;
    CHECK(r != NULL);
    const sk_table *t = r != NULL ? sk_result_table(r, "pad") : NULL;
    CHECK(t != NULL && t->nelem == (size_t)(pad + 15) / 16);
    const sk_meta *pm = r != NULL ? sk_result_meta_find(r, "pad_bytes") : NULL;
    CHECK(pm != NULL && pm->i == pad);
    sk_result_free(r);
    free(data);
    if (hash_out != NULL)
        sk_strlcpy(hash_out, ref->hash, SK_HASH_NAME_LEN);
}

static long lines_of(const char *path)
{
    FILE *f = fopen(path, "r");
    long n = 0;
    int ch;
    while (f && (ch = fgetc(f)) != EOF)
        n += ch == '\n';
    if (f)
        fclose(f);
    return f ? n : -1;
}

/* A result larger than the frame limit travels by reference: the node
 * uploads it in chunks, the client downloads it, `samskap wait` prints it
 * and writes it as with an inline result, also after the broker is killed
 * and restarted; a dependant gets it as an input; retention keeps it while
 * the job is kept. */
static void test_large_result(void)
{
    char dir[] = "/tmp/sk_lres_XXXXXX", bargs[400], nargs[400], job[SK_ID_MAX] = "", hash[SK_HASH_NAME_LEN] = "",
         cmd[1200], other[300], ohash[80] = "";
    static char out[1 << 20];
    const long pad = 400000;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(bargs, sizeof bargs, FAST_BROKER " --max-frame 65536 --data-dir %s/data", dir);
    snprintf(nargs, sizeof nargs, FAST_NODE " --cache-dir %s/cache", dir);
    h_cluster_init(&C);
    h_start_broker(&C, bargs);
    h_start_node(&C, "n1", 1, nargs);
    h_wait_nodes(&C, 1, 20000);
    sk_error err = SK_ERROR_INIT;
    sk_client *cl = sk_client_new(C.front, &err);
    sk_wire_msg m;
    CHECK(echo_pad(cl, pad, job, &m) == 0);
    CHECK(job[0] != '\0');
    check_pad_result(cl, &m, pad, hash);
    long size = 0;
    if (sk_client_result_ref(&m) != NULL)
        size = (long)sk_client_result_ref(&m)->size;
    sk_wire_msg_close(&m);
    sk_client_free(cl);
    /* The node uploaded it in chunks of at most a frame. */
    char *st = h_status(&C);
    CHECK(h_counter(st, "results_by_ref") == 1);
    CHECK(h_counter(st, "upload_chunks") >= (size + 65535) / 65536);
    CHECK(h_counter(st, "upload_bytes") == size);
    CHECK(h_counter(st, "upload_refused") == 0);
    free(st);
    /* A client's upload in 1 MiB chunks (the default) to this broker of
     * 64 KiB frames: told the limit, it sends smaller chunks, and the whole
     * arrives (it used to hang: libzmq dropped the connection). */
    snprintf(cmd, sizeof cmd, "%s/upload.bin", dir);
    FILE *uf = fopen(cmd, "wb");
    for (int i = 0; i < 300000; i++)
        fputc((int)(((unsigned)i * 7919u) & 0xffu), uf);
    fclose(uf);
    CHECK(h_cli(&C, out, sizeof out, "dataset put %s --tenant 1504 --json", cmd) == 0);
    CHECK(strstr(out, "\"size\":300000") != NULL);
    CHECK(h_cli(&C, out, sizeof out, "wait %s --tenant 1504 --out %s/out1", job, dir) == 0);
    CHECK(strstr(out, "pad: 25000 row rows") != NULL && strstr(out, "pad_bytes") != NULL);
    snprintf(cmd, sizeof cmd, "%s/out1/pad.csv", dir);
    CHECK(lines_of(cmd) == pad / 16 + 1);
    CHECK(h_cli(&C, out, sizeof out, "result %s --tenant 1504 --json", job) == 0);
    CHECK(strstr(out, "\"state\":\"done\"") != NULL && strstr(out, "\"pad_bytes\":400000") != NULL);
    /* The tenant's datasets list it; the broker holds no partial upload. */
    int listed = 0;
    for (int i = 0; i < 50 && !listed; i++) {
        CHECK(h_cli(&C, out, sizeof out, "dataset list --tenant 1504 --json") == 0);
        listed = strstr(out, hash) != NULL && strstr(out, "result of") != NULL;
        if (!listed)
            usleep(100000);
    }
    CHECK(listed);
    /* kill -9 and a restart (with retention on): wait still returns it. */
    h_kill(C.broker, SIGKILL);
    snprintf(bargs, sizeof bargs, FAST_BROKER " --max-frame 65536 --data-dir %s/data --dataset-ttl 1", dir);
    h_start_broker(&C, bargs);
    h_wait_nodes(&C, 1, 20000);
    snprintf(other, sizeof other, "%s/other.bin", dir);
    write_random(other, 3000, 11);
    CHECK(h_cli(&C, out, sizeof out, "dataset put %s --tenant 1504", other) == 0);
    sscanf(out, "%79s", ohash);
    usleep(3500 * 1000); /* retention deletes the unused dataset, not the kept job's result */
    CHECK(h_cli(&C, out, sizeof out, "dataset list --tenant 1504 --json") == 0);
    CHECK(strstr(out, ohash) == NULL && strstr(out, hash) != NULL);
    CHECK(h_cli(&C, out, sizeof out, "wait %s --tenant 1504 --out %s/out2", job, dir) == 0);
    CHECK(strstr(out, "pad: 25000 row rows") != NULL);
    snprintf(cmd, sizeof cmd, "diff -r %s/out1 %s/out2", dir, dir);
    CHECK(system(cmd) == 0);
    /* A dependant gets it as an input, by reference: the node fetches it. */
    long c0 = fetch_chunks();
    CHECK(h_cli(&C, out, sizeof out, "submit diag.digest --tenant 1504 --after %s=big --json", job) == 0);
    char bytes[64];
    snprintf(bytes, sizeof bytes, "\"bytes\":[%ld]", size);
    CHECK(strstr(out, "\"ids\":[\"big\"]") != NULL && strstr(out, hash) != NULL && strstr(out, bytes) != NULL);
    CHECK(fetch_chunks() - c0 >= (size + 65535) / 65536);
    /* Another tenant does not read it. */
    CHECK(h_cli(&C, out, sizeof out, "wait %s --tenant 1534", job) != 0);
    /* A backup carries the result: a broker on the copy returns it. */
    snprintf(cmd, sizeof cmd, "%s --data-dir %s/data --backup %s/bk 2>&1", h_bin("samskap-broker"), dir, dir);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = '\0';
    CHECK(p != NULL && WEXITSTATUS(pclose(p)) == 0 && strstr(out, "backup of") != NULL);
    h_kill(C.broker, SIGTERM);
    snprintf(bargs, sizeof bargs, FAST_BROKER " --max-frame 65536 --data-dir %s/bk", dir);
    h_start_broker(&C, bargs);
    h_wait_nodes(&C, 1, 20000);
    CHECK(h_cli(&C, out, sizeof out, "wait %s --tenant 1504 --out %s/out3", job, dir) == 0);
    snprintf(cmd, sizeof cmd, "diff -r %s/out1 %s/out3", dir, dir);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* The part files of result uploads in a data directory. */
static int upload_parts(const char *data_dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s/uploads 2>/dev/null | grep -c '^result-.*\\.part$'", data_dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p != NULL) {
        if (fscanf(p, "%d", &n) != 1)
            n = -1;
        pclose(p);
    }
    return n;
}

/* A raw backend socket that announces itself as a node for 1504. */
static void *raw_node(void *ctx, const char *id, const char *name)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, tmo = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_setsockopt(s, ZMQ_ROUTING_ID, id, strlen(id));
    CHECK(zmq_connect(s, C.back) == 0);
    sk_header r;
    sk_header_init(&r, SK_MSG_READY);
    char svc[1][SK_ID_MAX] = {"diag.echo"}, ten[1][SK_ID_MAX] = {"1504"};
    r.services = svc;
    r.nservices = 1;
    r.tenants = ten;
    r.ntenants = 1;
    r.capacity = 1;
    snprintf(r.node_name, sizeof r.node_name, "%s", name);
    CHECK(sk_wire_send(s, NULL, 0, &r, NULL, 0, 0) == 0);
    return s;
}

/* One result chunk on a raw backend socket; the answer's type (why: its
 * reason, at: its offset). */
static int put_chunk(void *s, const char *job, int64_t attempt, const char *hash, int64_t off, int64_t total,
                     const char *data, size_t n, int64_t req, char *why, size_t whylen, int64_t *at)
{
    sk_error err = SK_ERROR_INIT;
    sk_header h;
    sk_header_init(&h, SK_MSG_DATA_PUT);
    snprintf(h.job, sizeof h.job, "%s", job);
    h.attempt = attempt;
    snprintf(h.text, sizeof h.text, "%s", hash);
    h.offset = off;
    h.total = total;
    h.req = req;
    h.nbodies = 1;
    strcpy(h.body_names[0], "chunk");
    zmq_msg_t body;
    zmq_msg_init_size(&body, n);
    memcpy(zmq_msg_data(&body), data, n);
    CHECK(sk_wire_send(s, NULL, 0, &h, &body, 1, 0) == 0);
    for (int i = 0; i < 20; i++) {
        sk_wire_msg m;
        if (sk_wire_recv(s, false, &m, 0, &err) != 1)
            return -1;
        int type = m.hdr.type;
        bool mine = m.hdr.req == req;
        if (mine) {
            snprintf(why, whylen, "%s", m.hdr.reason);
            if (at != NULL)
                *at = m.hdr.offset;
        }
        sk_wire_msg_close(&m);
        if (mine)
            return type;
    }
    return -1;
}

/* Result chunks are taken only from the node that runs the job, for its
 * attempt; anything else is refused and counted.  A node that leaves in
 * the middle of an upload: its job is requeued and what it uploaded is
 * deleted; the next node's upload completes it. */
static void test_result_upload_refused(void)
{
    char dir[] = "/tmp/sk_lrup_XXXXXX", bargs[400], nargs[400], data_dir[300], job[SK_ID_MAX] = "", why[600],
         hash[SK_HASH_NAME_LEN];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(data_dir, sizeof data_dir, "%s/data", dir);
    snprintf(bargs, sizeof bargs, FAST_BROKER " --max-frame 65536 --data-dir %s", data_dir);
    h_cluster_init(&C);
    h_start_broker(&C, bargs);
    void *ctx = zmq_ctx_new();
    void *fake = raw_node(ctx, "n-fake", "fake");
    h_wait_nodes(&C, 1, 20000);
    /* The job goes to the fake node, which is told it may send a large
     * result by reference. */
    sk_error err = SK_ERROR_INIT;
    sk_client *cl = sk_client_new(C.front, &err);
    sk_params *p = sk_params_new();
    sk_params_set_int(p, "pad", 300000);
    sk_submit sub = {.service = "diag.echo", .tenant = "1504", .params = p};
    int64_t req = sk_client_submit(cl, &sub, &err);
    sk_params_free(p);
    CHECK(req > 0);
    int64_t attempt = 0;
    bool offered = false;
    int64_t limit = 0;
    for (int i = 0; i < 20 && !job[0]; i++) {
        sk_wire_msg m;
        if (sk_wire_recv(fake, false, &m, 0, &err) != 1)
            break;
        if (m.hdr.type == SK_MSG_JOB) {
            snprintf(job, sizeof job, "%s", m.hdr.job);
            attempt = m.hdr.attempt;
            offered = m.hdr.result_ref;
            limit = m.hdr.total;
        }
        sk_wire_msg_close(&m);
    }
    CHECK(job[0] != '\0' && attempt == 1 && offered && limit == 65536);
    /* 200,000 bytes the fake node claims as its result. */
    char *bytes = malloc(200000);
    for (int i = 0; i < 200000; i++)
        bytes[i] = (char)(i * 7 + i / 251);
    sk_sha256_name(bytes, 200000, hash);
    int64_t at = -1;
    /* Not registered as a node: refused. */
    void *stranger = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, tmo = 5000;
    zmq_setsockopt(stranger, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(stranger, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_setsockopt(stranger, ZMQ_ROUTING_ID, "n-stranger", 10);
    CHECK(zmq_connect(stranger, C.back) == 0);
    CHECK(put_chunk(stranger, job, attempt, hash, 0, 200000, bytes, 65536, 11, why, sizeof why, NULL) ==
          SK_MSG_ERROR);
    CHECK(strstr(why, "takes no result from this node") != NULL);
    /* A node of the right tenant and service, but the job does not run there. */
    void *intruder = raw_node(ctx, "n-intruder", "intruder");
    usleep(200000);
    CHECK(put_chunk(intruder, job, attempt, hash, 0, 200000, bytes, 65536, 12, why, sizeof why, NULL) ==
          SK_MSG_ERROR);
    CHECK(strstr(why, "takes no result from this node") != NULL);
    /* The job's node, for another attempt. */
    CHECK(put_chunk(fake, job, attempt + 1, hash, 0, 200000, bytes, 65536, 13, why, sizeof why, NULL) ==
          SK_MSG_ERROR);
    CHECK(strstr(why, "takes no result from this node") != NULL);
    CHECK(upload_parts(data_dir) == 0);
    char *st = h_status(&C);
    CHECK(h_counter(st, "upload_refused") == 3);
    CHECK(h_counter(st, "upload_chunks") == 0);
    free(st);
    /* The job's node, for its attempt: taken, in order only; a chunk out
     * of order ends the upload (the node starts over from byte 0). */
    CHECK(put_chunk(fake, job, attempt, hash, 0, 200000, bytes, 65536, 14, why, sizeof why, &at) == SK_MSG_REPLY);
    CHECK(at == 65536);
    CHECK(upload_parts(data_dir) == 1);
    CHECK(put_chunk(fake, job, attempt, hash, 100000, 200000, bytes + 100000, 1000, 15, why, sizeof why, NULL) ==
          SK_MSG_ERROR);
    CHECK(strstr(why, "expected the chunk at offset 65536") != NULL);
    CHECK(upload_parts(data_dir) == 0);
    CHECK(put_chunk(fake, job, attempt, hash, 65536, 200000, bytes + 65536, 1000, 16, why, sizeof why, NULL) ==
          SK_MSG_ERROR);
    CHECK(strstr(why, "start at offset 0") != NULL);
    /* A chunk without its attempt is malformed. */
    CHECK(put_chunk(fake, job, 0, hash, 0, 200000, bytes, 1000, 17, why, sizeof why, NULL) == SK_MSG_ERROR);
    CHECK(strstr(why, "needs job, attempt") != NULL);
    CHECK(put_chunk(fake, job, attempt, hash, 0, 200000, bytes, 65536, 18, why, sizeof why, &at) == SK_MSG_REPLY);
    CHECK(put_chunk(fake, job, attempt, hash, 65536, 200000, bytes + 65536, 65536, 19, why, sizeof why, &at) ==
          SK_MSG_REPLY);
    CHECK(at == 131072);
    CHECK(upload_parts(data_dir) == 1);
    /* The fake node leaves mid-upload: requeued, the partial upload deleted. */
    sk_header d;
    sk_header_init(&d, SK_MSG_DISCONNECT);
    CHECK(sk_wire_send(intruder, NULL, 0, &d, NULL, 0, 0) == 0);
    usleep(200000);
    CHECK(sk_wire_send(fake, NULL, 0, &d, NULL, 0, 0) == 0);
    usleep(300000);
    CHECK(upload_parts(data_dir) == 0);
    st = h_status(&C);
    CHECK(h_counter(st, "requeued") == 1);
    CHECK(h_counter(st, "upload_refused") == 3);
    CHECK(h_counter(st, "upload_chunks") == 3);
    CHECK(h_counter(st, "results_by_ref") == 0);
    free(st);
    zmq_close(fake);
    zmq_close(intruder);
    zmq_close(stranger);
    zmq_ctx_term(ctx);
    free(bytes);
    char log[400];
    snprintf(log, sizeof log, "%s/result_upload_refused.broker.log", C.logdir);
    CHECK(log_count(log, "msg=\"partial result upload discarded\"") == 2);
    CHECK(log_count(log, "msg=\"result upload refused\"") == 3);
    /* A real node takes the job over; its upload completes it. */
    snprintf(nargs, sizeof nargs, FAST_NODE " --cache-dir %s/cache", dir);
    h_start_node(&C, "n1", 1, nargs);
    sk_wire_msg m;
    int got = 0;
    for (int i = 0; i < 160 && !got; i++) {
        if (sk_client_recv(cl, 250, &m, &err) != 1)
            continue;
        if (m.hdr.type == SK_MSG_RESULT && strcmp(m.hdr.job, job) == 0) {
            CHECK(m.hdr.attempt == 2);
            check_pad_result(cl, &m, 300000, NULL);
            got = 1;
        } else if (m.hdr.type == SK_MSG_FAILED) {
            fprintf(stderr, "job %s failed: %s\n", m.hdr.job, m.hdr.reason);
            got = -1;
        }
        sk_wire_msg_close(&m);
    }
    CHECK(got == 1);
    sk_client_free(cl);
    CHECK(upload_parts(data_dir) == 0);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* The broker is killed (-9) while a node uploads a result: the node
 * announces the job to the restarted broker and starts its upload over;
 * the job completes there, and the partial file of the first try is gone. */
static void test_result_upload_restart(void)
{
    char dir[] = "/tmp/sk_lrrs_XXXXXX", bargs[400], nargs[400], data_dir[300], nlog[400], job[SK_ID_MAX] = "",
         cmd[600];
    static char out[1 << 16];
    const long pad = 40L << 20;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(data_dir, sizeof data_dir, "%s/data", dir);
    snprintf(bargs, sizeof bargs, FAST_BROKER " --max-frame 65536 --data-dir %s", data_dir);
    snprintf(nargs, sizeof nargs, FAST_NODE " --cache-dir %s/cache", dir);
    h_cluster_init(&C);
    h_start_broker(&C, bargs);
    pid_t n1 = h_start_node(&C, "n1", 1, nargs);
    h_wait_nodes(&C, 1, 20000);
    snprintf(nlog, sizeof nlog, "%s/result_upload_restart.node-n1.log", C.logdir);
    sk_error err = SK_ERROR_INIT;
    sk_client *cl = sk_client_new(C.front, &err);
    sk_params *p = sk_params_new();
    sk_params_set_int(p, "pad", pad);
    sk_submit s = {.service = "diag.echo", .tenant = "1504", .params = p};
    int64_t req = sk_client_submit(cl, &s, &err);
    sk_params_free(p);
    for (int i = 0; i < 40 && !job[0] && req > 0; i++) {
        sk_wire_msg m;
        if (sk_client_recv(cl, 250, &m, &err) != 1)
            continue;
        if (m.hdr.type == SK_MSG_ACCEPTED && m.hdr.req == req)
            snprintf(job, sizeof job, "%s", m.hdr.job);
        sk_wire_msg_close(&m);
    }
    sk_client_free(cl);
    CHECK(job[0] != '\0');
    /* Freeze the node as soon as its upload starts (40 MB in 64 KiB
     * chunks take a while), then replace the broker under it. */
    int started = 0;
    for (int i = 0; i < 6000 && !started; i++) {
        started = log_count(nlog, "msg=\"result larger than a frame; uploading it\"");
        if (!started)
            usleep(5000);
    }
    CHECK(started == 1);
    kill(n1, SIGSTOP);
    usleep(100000);
    CHECK(upload_parts(data_dir) == 1);
    h_kill(C.broker, SIGKILL);
    h_start_broker(&C, bargs);
    usleep(500000);
    CHECK(upload_parts(data_dir) == 0); /* the restarted broker deleted the cut-short upload */
    kill(n1, SIGCONT);
    CHECK(h_cli(&C, out, sizeof out, "wait %s --tenant 1504 --timeout 60", job) == 0);
    char rows[64];
    snprintf(rows, sizeof rows, "pad: %ld row rows", (pad + 15) / 16);
    CHECK(strstr(out, rows) != NULL);
    CHECK(log_count(nlog, "msg=\"result upload interrupted; starting over\"") >= 1);
    CHECK(log_count(nlog, "msg=\"result uploaded\"") == 1);
    char *st = h_status(&C);
    CHECK(h_counter(st, "results_by_ref") == 1);
    free(st);
    CHECK(upload_parts(data_dir) == 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* The broker refuses to run open to the network without keys. */
static void test_insecure_rules(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s --frontend tcp://0.0.0.0:%d --backend tcp://127.0.0.1:%d --insecure 2>&1",
             h_bin("samskap-broker"), 20000 + (int)(getpid() % 10000), 30000 + (int)(getpid() % 10000));
    FILE *p = popen(cmd, "r");
    char out[4096] = "";
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    CHECK(strstr(out, "loopback and ipc endpoints only") != NULL);
    snprintf(cmd, sizeof cmd, "%s --frontend tcp://127.0.0.1:%d --backend tcp://127.0.0.1:%d 2>&1",
             h_bin("samskap-broker"), 20000 + (int)(getpid() % 10000), 30000 + (int)(getpid() % 10000));
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    st = pclose(p);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    CHECK(strstr(out, "--insecure") != NULL);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
        int seconds;
    } tests[] = {
        {"echo", test_echo, 60},
        {"many", test_many, 120},
        {"node_kill", test_node_kill, 120},
        {"broker_restart", test_broker_restart, 90},
        {"cancel", test_cancel, 90},
        {"deadline", test_deadline, 60},
        {"idempotency", test_idempotency, 60},
        {"unknown_service", test_unknown_service, 60},
        {"queue_full", test_queue_full, 60},
        {"garbage", test_garbage, 90},
        {"indicator", test_indicator, 120},
        {"curve", test_curve, 120},
        {"insecure_rules", test_insecure_rules, 60},
        {"durability", test_durability, 170},
        {"http", test_http, 60},
        {"backup", test_backup, 90},
        {"versions", test_versions, 60},
        {"batches", test_batches, 150},
        {"fairness", test_fairness, 90},
        {"events", test_events, 60},
        {"graph", test_graph, 60},
        {"graph_msg", test_graph_msg, 60},
        {"restart_deps", test_restart_deps, 90},
        {"result_too_big", test_result_too_big, 60},
        {"scenario", test_scenario, 170},
        {"datasets", test_datasets, 90},
        {"fetch", test_fetch, 120},
        {"fetch_refused", test_fetch_refused, 90},
        {"graph_ref", test_graph_ref, 60},
        {"dataset_retention", test_dataset_retention, 60},
        {"large_result", test_large_result, 150},
        {"result_upload_refused", test_result_upload_refused, 120},
        {"result_upload_restart", test_result_upload_restart, 150},
        {"journal_upgrade", test_journal_upgrade, 90},
    };
    if (argc != 2) {
        fprintf(stderr, "usage: test_bus NAME\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (strcmp(argv[1], tests[i].name) == 0) {
            h_init(tests[i].name, tests[i].seconds);
            tests[i].fn();
            TEST_DONE();
        }
    }
    fprintf(stderr, "test_bus: no test named %s\n", argv[1]);
    return 2;
}
