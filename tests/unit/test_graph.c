/* test_graph.c - job graphs in one message (bus/sk_graph.h): round trip,
 * and every malformed graph refused with the job and the reason. */
#include <msgpack.h>

#include "sk_graph.h"
#include "test_util.h"

static void node(sk_header *h, const char *service, const char *tenant, const char *dep, char (*deps)[2 * SK_ID_MAX])
{
    sk_header_init(h, SK_MSG_SUBMIT);
    sk_strlcpy(h->service, service, sizeof h->service);
    sk_strlcpy(h->tenant, tenant, sizeof h->tenant);
    if (dep != NULL) {
        sk_strlcpy(deps[0], dep, sizeof deps[0]);
        h->deps = deps;
        h->ndeps = 1;
    }
}

static void test_round_trip(void)
{
    sk_header in[3];
    char d1[1][2 * SK_ID_MAX], d2[1][2 * SK_ID_MAX], ds[1][2 * SK_ID_MAX];
    node(&in[0], "sim.water", "1504", NULL, NULL);
    sk_strlcpy(ds[0], "network=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", sizeof ds[0]);
    in[0].datasets = ds;
    in[0].ndatasets = 1;
    in[0].deadline_ms = 60000;
    in[0].params = sk_params_new();
    sk_params_set_str(in[0].params, "periods", "all");
    node(&in[1], "indicator.water_pressure_adequacy", "1504", "@0=water", d1);
    node(&in[2], "diag.echo", "1504", "j-abc-7=x", d2);
    char *buf;
    size_t len;
    sk_error err = SK_ERROR_INIT;
    CHECK(sk_graph_encode(in, 3, &buf, &len, &err) == 0);
    sk_header *out = NULL;
    size_t n = 0;
    CHECK(sk_graph_decode(buf, len, &out, &n, &err) == 0);
    CHECK(n == 3);
    if (n == 3) {
        CHECK_STR(out[0].service, "sim.water");
        CHECK(out[0].ndatasets == 1 && strcmp(out[0].datasets[0], ds[0]) == 0);
        CHECK(out[0].deadline_ms == 60000);
        CHECK_STR(sk_params_get_str(out[0].params, "periods", ""), "all");
        CHECK(out[1].ndeps == 1 && strcmp(out[1].deps[0], "@0=water") == 0);
        CHECK(out[2].ndeps == 1 && strcmp(out[2].deps[0], "j-abc-7=x") == 0);
    }
    size_t k = 99;
    CHECK(sk_graph_dep_index("@12=water", &k) == 1 && k == 12);
    CHECK(sk_graph_dep_index("j-1=x", &k) == 0);
    CHECK(sk_graph_dep_index("@=x", &k) < 0 && sk_graph_dep_index("@3", &k) < 0 && sk_graph_dep_index("@3=", &k) < 0);
    sk_graph_free(out, n);
    free(buf);
    sk_params_free(in[0].params);
}

/* A graph body from raw msgpack bytes, decoded: the error must mention want. */
static void refused(const char *what, const char *data, size_t len, const char *want)
{
    sk_header *out = NULL;
    size_t n = 0;
    sk_error err = SK_ERROR_INIT;
    int rc = sk_graph_decode(data, len, &out, &n, &err);
    if (rc == 0 || strstr(err.msg, want) == NULL) {
        fprintf(stderr, "%s: rc %d, message '%s', want '%s'\n", what, rc, err.msg, want);
        test_failures++;
    }
    CHECK(out == NULL && n == 0);
}

static void test_refused(void)
{
    /* A forward reference (@1 from job 0) and a self reference. */
    sk_header in[2];
    char d0[1][2 * SK_ID_MAX], d1[1][2 * SK_ID_MAX];
    node(&in[0], "a", "1504", "@1=x", d0);
    node(&in[1], "b", "1504", "@1=x", d1);
    char *buf;
    size_t len;
    sk_error err = SK_ERROR_INIT;
    CHECK(sk_graph_encode(in, 2, &buf, &len, &err) == 0);
    refused("forward", buf, len, "graph job 0: dependency '@1=x' must name an earlier job");
    free(buf);
    node(&in[0], "a", "1504", NULL, NULL);
    CHECK(sk_graph_encode(in, 2, &buf, &len, &err) == 0);
    refused("self", buf, len, "graph job 1: dependency '@1=x' must name an earlier job");
    free(buf);
    /* Bodies are refused when encoding too. */
    in[0].nbodies = 1;
    CHECK(sk_graph_encode(in, 1, &buf, &len, &err) < 0 && strstr(err.msg, "datasets, not bodies") != NULL);
    in[0].nbodies = 0;
    CHECK(sk_graph_encode(in, 0, &buf, &len, &err) < 0);
    /* Raw shapes. */
    refused("not an array", "\x81\xa1t\x01", 4, "want a non-empty array");
    refused("empty", "\x90", 1, "want a non-empty array");
    refused("not a bin", "\x91\xa3" "abc", 5, "graph job 0: want a bin");
    refused("bin of junk", "\x91\xc4\x02\xc1\xc1", 5, "graph job 0:");
    refused("truncated", "\x92\xc4\x05" "ab", 5, "");
    /* A bin holding a non-submit header (type 3 = job). */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    sk_header j;
    sk_header_init(&j, SK_MSG_JOB);
    sk_strlcpy(j.service, "x", sizeof j.service);
    char *h;
    size_t hl;
    CHECK(sk_header_encode(&j, &h, &hl, &err) == 0);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_bin(&pk, hl);
    msgpack_pack_bin_body(&pk, h, hl);
    refused("job header", sb.data, sb.size, "want a submit without bodies");
    free(h);
    msgpack_sbuffer_destroy(&sb);
    /* More jobs than allowed: the array count alone says so. */
    char big[5] = {(char)0xdd, 0, 0, 0x10, 0x01}; /* array32 of 4097 */
    refused("too many", big, sizeof big, "");
}

int main(void)
{
    test_round_trip();
    test_refused();
    return test_failures ? 1 : 0;
}
