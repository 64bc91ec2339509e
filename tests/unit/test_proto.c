/* test_proto.c - header frames: every field round-trips, and malformed
 * headers (truncated, wrong types, oversized, hostile counts) are refused
 * with a message that says what is wrong; batches (several messages in one
 * ZeroMQ message) read back in order, and malformed ones are refused. */
#include <stdbool.h>
#include <stdint.h>
#include <zmq.h>

#include "sk_hash.h"
#include "sk_mp.h"
#include "sk_proto.h"
#include "test_util.h"

static void test_roundtrip(void)
{
    sk_header h, back;
    sk_error err = SK_ERROR_INIT;
    char *buf;
    size_t len;
    sk_header_init(&h, SK_MSG_READY);
    strcpy(h.job, "j-1-2");
    strcpy(h.service, "sim.water");
    strcpy(h.tenant, "1504");
    strcpy(h.idem, "nightly-2024-01-01");
    strcpy(h.client, "c-abc");
    h.req = 42;
    h.attempt = 3;
    h.deadline_ms = 1500;
    h.no_ack = true;
    h.code = SK_ETIMEDOUT;
    strcpy(h.reason, "deadline passed");
    h.progress = 0.25;
    strcpy(h.text, "step 3 of 12");
    h.params = sk_params_new();
    sk_params_set_str(h.params, "periods", "all");
    sk_params_set_f64(h.params, "accuracy", 1e-6);
    sk_params_set_int(h.params, "max_iters", 100);
    sk_params_set_bool(h.params, "dc", true);
    h.nbodies = 2;
    strcpy(h.body_names[0], "net");
    strcpy(h.body_names[1], "trips");
    h.capacity = 8;
    char services[2][SK_ID_MAX] = {"diag.echo", "sim.power"};
    char tenants[1][SK_ID_MAX] = {"*"};
    sk_held_job held = {"j-9-9", 2, "c-x", 7, "diag.sleep", "1534"};
    h.services = services;
    h.nservices = 2;
    h.tenants = tenants;
    h.ntenants = 1;
    h.held = &held;
    h.nheld = 1;
    strcpy(h.node_name, "haram-1");
    CHECK(sk_header_encode(&h, &buf, &len, &err) == 0);
    CHECK(sk_header_decode(buf, len, &back, &err) == 0);
    CHECK(back.type == SK_MSG_READY);
    CHECK_STR(back.job, "j-1-2");
    CHECK_STR(back.service, "sim.water");
    CHECK_STR(back.tenant, "1504");
    CHECK_STR(back.idem, "nightly-2024-01-01");
    CHECK_STR(back.client, "c-abc");
    CHECK(back.req == 42 && back.attempt == 3 && back.deadline_ms == 1500 && back.no_ack);
    CHECK(back.code == SK_ETIMEDOUT);
    CHECK_STR(back.reason, "deadline passed");
    CHECK(back.progress == 0.25);
    CHECK_STR(back.text, "step 3 of 12");
    CHECK(back.params != NULL && back.params->n == 4);
    CHECK_STR(sk_params_get_str(back.params, "periods", NULL), "all");
    double acc = 0;
    CHECK(sk_params_get_f64(back.params, "accuracy", 0, 0, 1, &acc, &err) == 0 && acc == 1e-6);
    bool dc = false;
    CHECK(sk_params_get_bool(back.params, "dc", false, &dc, &err) == 0 && dc);
    CHECK(back.nbodies == 2);
    CHECK_STR(back.body_names[1], "trips");
    CHECK(back.capacity == 8 && back.nservices == 2 && back.ntenants == 1 && back.nheld == 1);
    CHECK_STR(back.services[1], "sim.power");
    CHECK_STR(back.held[0].job, "j-9-9");
    CHECK(back.held[0].attempt == 2 && back.held[0].req == 7);
    CHECK_STR(back.held[0].tenant, "1534");
    CHECK_STR(back.node_name, "haram-1");
    /* Every truncation of a valid header is refused. */
    for (size_t cut = 0; cut < len; cut++) {
        sk_header t;
        sk_error e = SK_ERROR_INIT;
        CHECK(sk_header_decode(buf, cut, &t, &e) < 0);
        CHECK(e.msg[0] != '\0');
    }
    /* Flipped bytes never crash (and whatever decodes is well-formed). */
    for (size_t i = 0; i < len; i++) {
        sk_header t;
        buf[i] ^= 0xff;
        if (sk_header_decode(buf, len, &t, NULL) == 0)
            sk_header_clear(&t);
        buf[i] ^= 0xff;
    }
    free(buf);
    sk_header_clear(&back);
    sk_params_free(h.params);
}

static void expect_refused(const char *bytes, size_t n, const char *needle)
{
    sk_header h;
    sk_error err = SK_ERROR_INIT;
    int rc = sk_header_decode(bytes, n, &h, &err);
    CHECK(rc < 0);
    if (rc < 0 && strstr(err.msg, needle) == NULL) {
        fprintf(stderr, "expected '%s' in '%s'\n", needle, err.msg);
        test_failures++;
    }
    if (rc == 0)
        sk_header_clear(&h);
}

static void test_malformed(void)
{
    expect_refused("", 0, "empty");
    expect_refused("\x01", 1, "not a msgpack map");
    expect_refused("\x80", 1, "message type");                       /* {} */
    expect_refused("\x81\xa1t\x63", 4, "message type");              /* {t: 99} */
    expect_refused("\x81\xa1t\xa1x", 5, "message type");             /* {t: "x"} */
    expect_refused("\x82\xa1t\x01\xa3job\x05", 9, "'job' must be a string");
    expect_refused("\x82\xa1t\x01\xa3req\xa1x", 10, "'req' must be an integer");
    expect_refused("\x82\xa1t\x01\xa6params\x01", 12, "'params' must be a map");
    expect_refused("\x82\xa1t\x01\xa6no_ack\x01", 12, "'no_ack' must be a boolean");
    expect_refused("\x82\xa1t\x03\xaaresult_ref\xa1y", 17, "'result_ref' must be a boolean");
    expect_refused("\xdf\xff\xff\xff\xff", 5, "elements");           /* map32 of 4e9 pairs */
    expect_refused("\x81\xa1t\xdb\x7f\xff\xff\xff", 8, "exceeds limit"); /* str32 of 2 GB */
    expect_refused("\x81\xa1t\xd9\x20" "ab", 7, "truncated");     /* str8 of 32, 2 present */
    expect_refused("\x81\xa1t\xc7\x01\x00\x00", 7, "unsupported type"); /* ext */
    expect_refused("\x81\xa1t\x01\x00", 5, "trailing");
    /* A job id of 64 bytes does not fit the 63-byte limit. */
    char big[80] = "\x82\xa1t\x01\xa3job\xd9\x40";
    memset(big + 10, 'a', 64);
    expect_refused(big, 74, "'job' must be a string shorter than 64");
    /* 17 body names is one too many. */
    char bodies[64] = "\x82\xa1t\x01\xa6" "bodies" "\xdc\x00\x11";
    size_t n = 14;
    for (int i = 0; i < 17; i++)
        bodies[n++] = (char)0xa0;
    expect_refused(bodies, n, "at most 16");
    /* Deep nesting. */
    char deep[64] = "\x82\xa1t\x01\xa1x";
    memset(deep + 6, (char)0x91, 40);
    deep[46] = (char)0xc0;
    expect_refused(deep, 47, "nesting");
}

/* Job inputs by reference: [name, hash, size] each, checked. */
static void test_refs(void)
{
    sk_header h, back;
    sk_error err = SK_ERROR_INIT;
    sk_data_ref refs[2] = {{"network", "", 300000}, {"upstream", "", 0}};
    snprintf(refs[0].hash, sizeof refs[0].hash, "sha256:%064d", 7);
    snprintf(refs[1].hash, sizeof refs[1].hash, "sha256:%064d", 8);
    sk_header_init(&h, SK_MSG_JOB);
    snprintf(h.job, sizeof h.job, "j-1-1");
    snprintf(h.name, sizeof h.name, "roads 2024");
    h.refs = refs;
    h.nrefs = 2;
    char *buf;
    size_t len;
    CHECK(sk_header_encode(&h, &buf, &len, &err) == 0);
    CHECK(sk_header_decode(buf, len, &back, &err) == 0);
    CHECK(back.nrefs == 2);
    CHECK_STR(back.refs[0].input, "network");
    CHECK_STR(back.refs[1].hash, refs[1].hash);
    CHECK(back.refs[0].size == 300000 && back.refs[1].size == 0);
    CHECK_STR(back.name, "roads 2024");
    CHECK(!back.result_ref);
    sk_header_clear(&back);
    free(buf);
    /* A job message that offers to take a big result by reference. */
    h.result_ref = true;
    h.total = 65536;
    CHECK(sk_header_encode(&h, &buf, &len, &err) == 0);
    CHECK(memmem(buf, len, "result_ref", 10) != NULL);
    CHECK(sk_header_decode(buf, len, &back, &err) == 0);
    CHECK(back.result_ref && back.total == 65536 && back.nrefs == 2);
    sk_header_clear(&back);
    free(buf);
    CHECK_STR(sk_msg_type_name(SK_MSG_DATA_LIST), "data_list");
    CHECK_STR(sk_msg_type_name(SK_MSG_DATA_GET), "data_get");
    /* {t: 3, refs: [["a", "sha256:xyz", 1]]}: not a content name. */
    expect_refused("\x82\xa1t\x03\xa4refs\x91\x93\xa1" "a" "\xaa" "sha256:xyz" "\x01", 25, "'refs'[0]");
    /* {t: 3, refs: [["a"]]}: not three fields. */
    expect_refused("\x82\xa1t\x03\xa4refs\x91\x91\xa1" "a", 13, "'refs'[0]");
    /* {t: 3, refs: 5} */
    expect_refused("\x82\xa1t\x03\xa4refs\x05", 10, "'refs' must be an array");
}

/* The fast path for flat headers and the general decoder agree. */
static void expect_same(const char *bytes, size_t n, int type)
{
    sk_header a, b;
    CHECK(sk_header_decode(bytes, n, &a, NULL) == 0);
    CHECK(sk_header_decode_general(bytes, n, &b, NULL) == 0);
    CHECK(a.type == type && b.type == type);
    char *ea = NULL, *eb = NULL;
    size_t la = 0, lb = 0;
    CHECK(sk_header_encode(&a, &ea, &la, NULL) == 0 && sk_header_encode(&b, &eb, &lb, NULL) == 0);
    CHECK(la == lb && memcmp(ea, eb, la) == 0);
    free(ea);
    free(eb);
    sk_header_clear(&a);
    sk_header_clear(&b);
}

static void test_fast_path(void)
{
    /* {t: 1, t: 2}: the first 't' counts. */
    expect_same("\x82\xa1t\x01\xa1t\x02", 7, SK_MSG_SUBMIT);
    /* {t: 8, "svc\0x": 5}: a key with a NUL is unknown to both paths (the
     * general one once read it as "svc"; found by fuzz_wire_header). */
    expect_same("\x82\xa1t\x08\xa5svc\0x\x05", 11, SK_MSG_READY);
    /* signed encodings, float32 progress, an unknown key holding a uint64
     * beyond int64, nil and a bool */
    expect_same("\x86\xa1t\x04\xa3req\xd0\x80\xa4" "code\xd1\xff\x00\xa8progress\xca\x3e\x80\x00\x00"
                "\xa3zzz\xcf\xff\xff\xff\xff\xff\xff\xff\xff\xa2nn\xc0",
                49, SK_MSG_PROGRESS);
    /* params of every scalar kind, body names */
    expect_same("\x83\xa1t\x01\xa6params\x84\xa1s\xa2hi\xa1i\xd3\x80\x00\x00\x00\x00\x00\x00\x00"
                "\xa1" "b\xc3\xa1" "f\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00\xa6" "bodies\x92\xa1" "a\xa0",
                53, SK_MSG_SUBMIT);
    /* {t: 3, result_ref: true, total: 65536, job: "j-1"}: a job that may
     * send its result by reference; and false, which encodes as absent. */
    expect_same("\x84\xa1t\x03\xaaresult_ref\xc3\xa5total\xce\x00\x01\x00\x00\xa3job\xa3j-1", 35, SK_MSG_JOB);
    expect_same("\x82\xa1t\x03\xaaresult_ref\xc2", 16, SK_MSG_JOB);
    {
        sk_header a;
        CHECK(sk_header_decode("\x82\xa1t\x03\xaaresult_ref\xc3", 16, &a, NULL) == 0 && a.result_ref);
        sk_header_clear(&a);
    }
    /* Integers at every encoding boundary survive the writer and msgpack-c. */
    static const int64_t ints[] = {0, 127, 128, 255, 256, 65535, 65536, 4294967295LL, 4294967296LL, INT64_MAX,
                                   -1, -32, -33, -128, -129, -32768, -32769, -2147483648LL, -2147483649LL, INT64_MIN};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        sk_header h, back;
        char *buf;
        size_t len;
        sk_header_init(&h, SK_MSG_DATA_GET);
        h.req = h.offset = h.total = ints[i];
        CHECK(sk_header_encode(&h, &buf, &len, NULL) == 0);
        CHECK(sk_header_decode_general(buf, len, &back, NULL) == 0);
        CHECK(back.req == ints[i] && back.offset == ints[i] && back.total == ints[i]);
        sk_header_clear(&back);
        CHECK(sk_header_decode(buf, len, &back, NULL) == 0);
        CHECK(back.req == ints[i] && back.offset == ints[i] && back.total == ints[i]);
        sk_header_clear(&back);
        free(buf);
    }
}

static void test_signature(void)
{
    sk_error err = SK_ERROR_INIT;
    CHECK(sk_sig_check("SK\x01\x00", 4, &err) == 0);
    CHECK(sk_sig_check("SK\x01\x07", 4, &err) == 0);         /* newer minor: compatible */
    CHECK(sk_sig_check("SK\x02\x00", 4, &err) == SK_EUNSUPPORTED);
    CHECK(strstr(err.msg, "protocol version 2.0") != NULL);
    CHECK(sk_sig_check("SK\x01", 3, &err) == SK_EPROTO);
    CHECK(sk_sig_check("MDPC", 4, &err) == SK_EPROTO);
}

/* ---- batches ---- */

static void send_frames(void *s, const void *const *data, const size_t *len, size_t n)
{
    for (size_t i = 0; i < n; i++)
        zmq_send(s, data[i], len[i], i + 1 < n ? ZMQ_SNDMORE : 0);
}

static void add_msg(sk_wire_batch *b, int type, const char *job, size_t nbodies, const char *tag)
{
    sk_header h;
    zmq_msg_t bodies[4];
    sk_header_init(&h, type);
    snprintf(h.job, sizeof h.job, "%s", job);
    for (size_t i = 0; i < nbodies; i++) {
        char text[64];
        int n = snprintf(text, sizeof text, "%s-%zu", tag, i);
        zmq_msg_init_size(&bodies[i], (size_t)n);
        memcpy(zmq_msg_data(&bodies[i]), text, (size_t)n);
    }
    CHECK(sk_wire_batch_add(b, &h, bodies, nbodies) == 0);
}

static bool body_is(sk_wire_msg *m, size_t i, const char *text)
{
    return i < m->nbodies && zmq_msg_size(&m->bodies[i]) == strlen(text) &&
           memcmp(zmq_msg_data(&m->bodies[i]), text, strlen(text)) == 0;
}

static void test_batches(void)
{
    void *ctx = zmq_ctx_new();
    void *rt = zmq_socket(ctx, ZMQ_ROUTER), *dl = zmq_socket(ctx, ZMQ_DEALER);
    CHECK(zmq_bind(rt, "inproc://batch") == 0);
    CHECK(zmq_setsockopt(dl, ZMQ_ROUTING_ID, "peer-1", 6) == 0);
    CHECK(zmq_connect(dl, "inproc://batch") == 0);
    sk_wire_reader rd;
    sk_wire_reader_init(&rd, rt, true);
    sk_error err = SK_ERROR_INIT;
    sk_wire_msg m;

    /* Three messages with 0, 2 and 1 bodies in one ZeroMQ message: the
     * reader hands them out in order, each with the route. */
    sk_wire_batch b;
    sk_wire_batch_init(&b);
    add_msg(&b, SK_MSG_RESULT, "j-1", 0, "a");
    add_msg(&b, SK_MSG_RESULT, "j-2", 2, "b");
    add_msg(&b, SK_MSG_FAILED, "j-3", 1, "c");
    CHECK(b.count == 3 && !sk_wire_batch_full(&b));
    CHECK(sk_wire_batch_send(dl, NULL, 0, &b, 0) == 0);
    CHECK(b.count == 0 && b.nbodies == 0);
    CHECK(sk_wire_read(&rd, &m, 0, &err) == 1);
    CHECK(strcmp(m.hdr.job, "j-1") == 0 && m.nbodies == 0 && m.minor == SK_PROTO_MINOR);
    CHECK(m.has_route && zmq_msg_size(&m.route) == 6 && memcmp(zmq_msg_data(&m.route), "peer-1", 6) == 0);
    sk_wire_msg_close(&m);
    CHECK(rd.left == 2);
    /* The rest of a batch is handed out even when the socket is empty. */
    CHECK(sk_wire_read(&rd, &m, ZMQ_DONTWAIT, &err) == 1);
    CHECK(strcmp(m.hdr.job, "j-2") == 0 && m.nbodies == 2 && body_is(&m, 0, "b-0") && body_is(&m, 1, "b-1"));
    CHECK(m.has_route && memcmp(zmq_msg_data(&m.route), "peer-1", 6) == 0);
    sk_wire_msg_close(&m);
    CHECK(sk_wire_read(&rd, &m, ZMQ_DONTWAIT, &err) == 1);
    CHECK(m.hdr.type == SK_MSG_FAILED && strcmp(m.hdr.job, "j-3") == 0 && m.nbodies == 1 && body_is(&m, 0, "c-0"));
    sk_wire_msg_close(&m);
    CHECK(sk_wire_read(&rd, &m, ZMQ_DONTWAIT, &err) == 0);

    /* A batch of one goes plain: a reader of protocol 1.0 (sk_wire_recv) reads it. */
    add_msg(&b, SK_MSG_RESULT, "j-4", 1, "d");
    CHECK(sk_wire_batch_send(dl, NULL, 0, &b, 0) == 0);
    CHECK(sk_wire_recv(rt, true, &m, 0, &err) == 1 && strcmp(m.hdr.job, "j-4") == 0 && body_is(&m, 0, "d-0"));
    sk_wire_msg_close(&m);

    /* A reader that expects single messages refuses a batch, and says so. */
    add_msg(&b, SK_MSG_RESULT, "j-5", 0, "e");
    add_msg(&b, SK_MSG_RESULT, "j-6", 0, "e");
    CHECK(sk_wire_batch_send(dl, NULL, 0, &b, 0) == 0);
    CHECK(sk_wire_recv(rt, true, &m, 0, &err) == SK_EPROTO && strstr(err.msg, "batch") != NULL);
    sk_wire_msg_close(&m);

    /* Full: SK_BATCH_MAX messages, or SK_BATCH_BYTES of bodies. */
    for (int i = 0; i < SK_BATCH_MAX; i++)
        add_msg(&b, SK_MSG_HEARTBEAT, "", 0, "");
    CHECK(sk_wire_batch_full(&b));
    sk_header hb;
    sk_header_init(&hb, SK_MSG_HEARTBEAT);
    CHECK(sk_wire_batch_add(&b, &hb, NULL, 0) < 0);
    sk_wire_batch_free(&b);
    sk_wire_batch_init(&b);
    zmq_msg_t big;
    zmq_msg_init_size(&big, SK_BATCH_BYTES);
    memset(zmq_msg_data(&big), 'x', SK_BATCH_BYTES);
    CHECK(sk_wire_batch_add(&b, &hb, &big, 1) == 0 && sk_wire_batch_full(&b));
    sk_wire_batch_free(&b);

    /* Malformed batches, written frame by frame.  Each is an error that
     * says what is wrong; the reader then reads the next message. */
    static const unsigned char sig[4] = {'S', 'K', 1, 1};
    /* [map{t:5,bodies:[a,b]}, map{t:5}] with one body frame: the first
     * header names more bodies than there are; the second is dropped. */
    static const unsigned char two[] = {0x92, 0x82, 0xa1, 't', 0x05, 0xa6, 'b', 'o', 'd', 'i', 'e', 's',
                                        0x92, 0xa1, 'a', 0xa1, 'b', 0x81, 0xa1, 't', 0x05};
    const void *f1[] = {sig, two, "x"};
    size_t l1[] = {4, sizeof two, 1};
    send_frames(dl, f1, l1, 3);
    CHECK(sk_wire_read(&rd, &m, 0, &err) == SK_EPROTO && strstr(err.msg, "more bodies") != NULL &&
          strstr(err.msg, "1 later messages of the batch dropped") != NULL);
    CHECK(m.has_route); /* the broker can answer the sender */
    sk_wire_msg_close(&m);
    CHECK(rd.left == 0);
    /* Body frames after the last header. */
    static const unsigned char one2[] = {0x92, 0x81, 0xa1, 't', 0x05, 0x81, 0xa1, 't', 0x05};
    const void *f2[] = {sig, one2, "x"};
    size_t l2[] = {4, sizeof one2, 1};
    send_frames(dl, f2, l2, 3);
    CHECK(sk_wire_read(&rd, &m, 0, &err) == 1 && m.hdr.type == SK_MSG_RESULT);
    sk_wire_msg_close(&m);
    CHECK(sk_wire_read(&rd, &m, 0, &err) == SK_EPROTO && strstr(err.msg, "body frames follow") != NULL);
    sk_wire_msg_close(&m);
    /* Bytes after the last header in the header frame. */
    static const unsigned char tail[] = {0x91, 0x81, 0xa1, 't', 0x05, 0xc0};
    const void *f3[] = {sig, tail};
    size_t l3[] = {4, sizeof tail};
    send_frames(dl, f3, l3, 2);
    CHECK(sk_wire_read(&rd, &m, 0, &err) == SK_EPROTO && strstr(err.msg, "bytes follow") != NULL);
    sk_wire_msg_close(&m);
    /* An array that announces more headers than it has bytes, an empty
     * one, one over the limit, and a header that is not a map. */
    static const unsigned char lie[] = {0xdd, 0x7f, 0xff, 0xff, 0xff, 0x81, 0xa1, 't', 0x05};
    static const unsigned char empty[] = {0x90};
    unsigned char over[3 + 2 * (SK_BATCH_MAX + 1)];
    over[0] = 0xdc;
    over[1] = (unsigned char)((SK_BATCH_MAX + 1) >> 8);
    over[2] = (unsigned char)(SK_BATCH_MAX + 1);
    for (int i = 0; i < 2 * (SK_BATCH_MAX + 1); i++)
        over[3 + i] = 0xc0;
    static const unsigned char notmap[] = {0x92, 0x05, 0x81, 0xa1, 't', 0x05};
    const void *bad[] = {lie, empty, over, notmap};
    size_t badlen[] = {sizeof lie, sizeof empty, sizeof over, sizeof notmap};
    for (int i = 0; i < 4; i++) {
        const void *f[] = {sig, bad[i], "body"};
        size_t l[] = {4, badlen[i], 4};
        send_frames(dl, f, l, 3);
        int rc = sk_wire_read(&rd, &m, 0, &err);
        CHECK(rc < 0);
        sk_wire_msg_close(&m);
        CHECK(rd.left == 0);
    }
    /* And the reader still reads a good message afterwards. */
    sk_wire_batch_init(&b);
    add_msg(&b, SK_MSG_RESULT, "j-7", 1, "g");
    add_msg(&b, SK_MSG_RESULT, "j-8", 1, "h");
    CHECK(sk_wire_batch_send(dl, NULL, 0, &b, 0) == 0);
    CHECK(sk_wire_read(&rd, &m, 0, &err) == 1 && strcmp(m.hdr.job, "j-7") == 0 && body_is(&m, 0, "g-0"));
    sk_wire_msg_close(&m);
    CHECK(sk_wire_read(&rd, &m, 0, &err) == 1 && strcmp(m.hdr.job, "j-8") == 0 && body_is(&m, 0, "h-0"));
    sk_wire_msg_close(&m);
    sk_wire_batch_free(&b);
    sk_wire_reader_free(&rd);
    zmq_close(dl);
    zmq_close(rt);
    zmq_ctx_term(ctx);
}

/* Pure decoding of a batch's header frame. */
static void test_batch_decode(void)
{
    sk_error err = SK_ERROR_INIT;
    size_t count, off;
    static const unsigned char two[] = {0x92, 0x81, 0xa1, 't', 0x05, 0x82, 0xa1, 't', 0x03, 0xa3, 'j', 'o', 'b',
                                        0xa1, 'x'};
    CHECK(sk_header_is_batch(two, sizeof two) && !sk_header_is_batch(two + 1, sizeof two - 1));
    CHECK(sk_header_batch_open(two, sizeof two, &count, &off, &err) == 0 && count == 2 && off == 1);
    sk_header h;
    CHECK(sk_header_batch_next(two, sizeof two, &off, &h, &err) == 0 && h.type == SK_MSG_RESULT && off == 5);
    sk_header_clear(&h);
    CHECK(sk_header_batch_next(two, sizeof two, &off, &h, &err) == 0 && h.type == SK_MSG_JOB &&
          strcmp(h.job, "x") == 0 && off == sizeof two);
    sk_header_clear(&h);
    /* Past the end: an error, not a read beyond the frame. */
    CHECK(sk_header_batch_next(two, sizeof two, &off, &h, &err) < 0);
    /* Truncated in the middle of the second header. */
    off = 5;
    CHECK(sk_header_batch_next(two, sizeof two - 3, &off, &h, &err) < 0 && off == 5);
    CHECK(sk_header_batch_open(two + 1, sizeof two - 1, &count, &off, &err) == SK_EPROTO);
}

/* SHA-256 (sk_hash.h): known digests, and a stream in odd pieces equals
 * the whole at once. */
static void test_sha256(void)
{
    char name[SK_HASH_NAME_LEN];
    sk_sha256_name("", 0, name);
    CHECK(strcmp(name, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    sk_sha256_name("abc", 3, name);
    CHECK(strcmp(name, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    static unsigned char big[100003];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 31 + 7);
    unsigned char whole[32], parts[32];
    sk_sha256(big, sizeof big, whole);
    sk_sha256_state st;
    sk_sha256_init(&st);
    for (size_t off = 0, n = 1; off < sizeof big; off += n, n = n * 3 + 1)
        sk_sha256_update(&st, big + off, off + n <= sizeof big ? n : sizeof big - off);
    sk_sha256_final(&st, parts);
    CHECK(memcmp(whole, parts, 32) == 0);
    /* million 'a's: the FIPS 180 long message */
    sk_sha256_init(&st);
    unsigned char a[1000];
    memset(a, 'a', sizeof a);
    for (int i = 0; i < 1000; i++)
        sk_sha256_update(&st, a, sizeof a);
    sk_sha256_final(&st, parts);
    sk_sha256_format(parts, name);
    CHECK(strcmp(name, "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
}

int main(void)
{
    test_roundtrip();
    test_malformed();
    test_refs();
    test_fast_path();
    test_signature();
    test_batches();
    test_batch_decode();
    test_sha256();
    TEST_DONE();
}
