/* test_metrics.c - the Prometheus registry renders exposition format 0.0.4
 * byte for byte: HELP/TYPE once per family, label escaping, histogram
 * buckets cumulative with +Inf, _sum and _count; bad names and updates are
 * refused; updates from several threads are all counted. */
#include <locale.h>
#include <math.h>
#include <pthread.h>

#include "sk_metrics.h"
#include "test_util.h"

static void test_exact_text(void)
{
    sk_error err = SK_ERROR_INIT;
    sk_metrics *m = sk_metrics_new();
    CHECK(m != NULL);
    sk_metric *jobs = sk_metrics_counter(m, "samskap_jobs_total", "Jobs by final state.\nCounted at the broker.",
                                         SK_LABELS("state", "service", "tenant"), 3, &err);
    sk_metric *depth = sk_metrics_gauge(m, "samskap_queue_depth", "Queued jobs per service.", SK_LABELS("service"),
                                        1, &err);
    sk_metric *nodes = sk_metrics_gauge(m, "samskap_nodes", "Live nodes.", NULL, 0, &err);
    const double bounds[] = {0.001, 0.01, 0.1, 1};
    sk_metric *lat = sk_metrics_histogram(m, "samskap_journal_commit_seconds", "Journal commit latency.", NULL, 0,
                                          bounds, 4, &err);
    sk_metric *kt = sk_metrics_histogram(m, "samskap_kernel_seconds", "Kernel time.", SK_LABELS("service"), 1,
                                         bounds, 2, &err);
    CHECK(jobs && depth && nodes && lat && kt);

    CHECK(sk_metric_inc(jobs, SK_LABELS("done", "sim.water", "1504")) == 0);
    CHECK(sk_metric_add(jobs, SK_LABELS("done", "sim.water", "1504"), 2) == 0);
    CHECK(sk_metric_inc(jobs, SK_LABELS("failed", "sim.power", "Ålesund \"sentrum\"\\\nx")) == 0);
    CHECK(sk_metric_set(depth, SK_LABELS("sim.water"), 12) == 0);
    CHECK(sk_metric_set(depth, SK_LABELS("sim.power"), 0.5) == 0);
    CHECK(sk_metric_add(depth, SK_LABELS("sim.power"), -1) == 0);
    CHECK(sk_metric_set(nodes, NULL, 3) == 0);
    /* 0.001 lands in le="0.001" (bounds are inclusive), 2 only in +Inf. */
    CHECK(sk_metric_observe(lat, NULL, 0.001) == 0);
    CHECK(sk_metric_observe(lat, NULL, 0.05) == 0);
    CHECK(sk_metric_observe(lat, NULL, 0.05) == 0);
    CHECK(sk_metric_observe(lat, NULL, 2) == 0);
    CHECK(sk_metric_observe(kt, SK_LABELS("sim.traffic"), 0.5) == 0);

    CHECK(sk_metric_value(jobs, SK_LABELS("done", "sim.water", "1504")) == 3);
    CHECK(sk_metric_value(jobs, SK_LABELS("done", "sim.water", "1507")) == 0);
    CHECK(sk_metric_value(lat, NULL) == 4);

    sk_buf out = SK_BUF_INIT;
    CHECK(sk_metrics_render(m, &out) == 0);
    const char *expect =
        "# HELP samskap_jobs_total Jobs by final state.\\nCounted at the broker.\n"
        "# TYPE samskap_jobs_total counter\n"
        "samskap_jobs_total{state=\"done\",service=\"sim.water\",tenant=\"1504\"} 3\n"
        "samskap_jobs_total{state=\"failed\",service=\"sim.power\",tenant=\"Ålesund \\\"sentrum\\\"\\\\\\nx\"} 1\n"
        "# HELP samskap_queue_depth Queued jobs per service.\n"
        "# TYPE samskap_queue_depth gauge\n"
        "samskap_queue_depth{service=\"sim.water\"} 12\n"
        "samskap_queue_depth{service=\"sim.power\"} -0.5\n"
        "# HELP samskap_nodes Live nodes.\n"
        "# TYPE samskap_nodes gauge\n"
        "samskap_nodes 3\n"
        "# HELP samskap_journal_commit_seconds Journal commit latency.\n"
        "# TYPE samskap_journal_commit_seconds histogram\n"
        "samskap_journal_commit_seconds_bucket{le=\"0.001\"} 1\n"
        "samskap_journal_commit_seconds_bucket{le=\"0.01\"} 1\n"
        "samskap_journal_commit_seconds_bucket{le=\"0.1\"} 3\n"
        "samskap_journal_commit_seconds_bucket{le=\"1\"} 3\n"
        "samskap_journal_commit_seconds_bucket{le=\"+Inf\"} 4\n"
        "samskap_journal_commit_seconds_sum 2.101\n"
        "samskap_journal_commit_seconds_count 4\n"
        "# HELP samskap_kernel_seconds Kernel time.\n"
        "# TYPE samskap_kernel_seconds histogram\n"
        "samskap_kernel_seconds_bucket{service=\"sim.traffic\",le=\"0.001\"} 0\n"
        "samskap_kernel_seconds_bucket{service=\"sim.traffic\",le=\"0.01\"} 0\n"
        "samskap_kernel_seconds_bucket{service=\"sim.traffic\",le=\"+Inf\"} 1\n"
        "samskap_kernel_seconds_sum{service=\"sim.traffic\"} 0.5\n"
        "samskap_kernel_seconds_count{service=\"sim.traffic\"} 1\n";
    CHECK_STR(out.data, expect);

    /* A gauge cleared at collect time loses its old series. */
    sk_metric_clear(depth);
    CHECK(sk_metric_set(depth, SK_LABELS("diag.sleep"), 1) == 0);
    sk_buf_reset(&out);
    CHECK(sk_metrics_render(m, &out) == 0);
    CHECK(strstr(out.data, "samskap_queue_depth{service=\"diag.sleep\"} 1\n# HELP samskap_nodes") != NULL);
    CHECK(strstr(out.data, "sim.water\"} 12") == NULL);
    sk_buf_free(&out);
    sk_metrics_free(m);
}

static void test_special_values(void)
{
    sk_error err = SK_ERROR_INIT;
    sk_metrics *m = sk_metrics_new();
    sk_metric *g = sk_metrics_gauge(m, "g", "", SK_LABELS("k"), 1, &err);
    CHECK(sk_metric_set(g, SK_LABELS("a"), INFINITY) == 0);
    CHECK(sk_metric_set(g, SK_LABELS("b"), -INFINITY) == 0);
    CHECK(sk_metric_set(g, SK_LABELS("c"), 1e21) == 0);
    CHECK(sk_metric_set(g, SK_LABELS(""), 0.1) == 0);
    sk_buf out = SK_BUF_INIT;
    /* Decimal points stay dots whatever the locale. */
    setlocale(LC_ALL, "nb_NO.UTF-8");
    CHECK(sk_metrics_render(m, &out) == 0);
    setlocale(LC_ALL, "C");
    CHECK_STR(out.data, "# HELP g \n# TYPE g gauge\ng{k=\"a\"} +Inf\ng{k=\"b\"} -Inf\ng{k=\"c\"} 1e+21\n"
                        "g{k=\"\"} 0.1\n");
    sk_buf_free(&out);
    sk_metrics_free(m);
}

static void test_refusals(void)
{
    sk_error err = SK_ERROR_INIT;
    sk_metrics *m = sk_metrics_new();
    sk_metric *c = sk_metrics_counter(m, "c_total", "c", SK_LABELS("a"), 1, &err);
    sk_metric *g = sk_metrics_gauge(m, "g", "g", NULL, 0, &err);
    sk_metric *h = sk_metrics_histogram(m, "h", "h", NULL, 0, sk_metrics_default_buckets, 11, &err);
    CHECK(c && g && h);
    CHECK(sk_metrics_counter(m, "c_total", "again", NULL, 0, &err) == NULL);
    CHECK(strstr(err.msg, "twice") != NULL);
    CHECK(sk_metrics_counter(m, "9bad", "", NULL, 0, &err) == NULL);
    CHECK(sk_metrics_counter(m, "bad-name", "", NULL, 0, &err) == NULL);
    CHECK(sk_metrics_counter(m, "x", "", SK_LABELS("__reserved"), 1, &err) == NULL);
    CHECK(sk_metrics_counter(m, "x", "", SK_LABELS("a:b"), 1, &err) == NULL);
    CHECK(sk_metrics_counter(m, "x", "", SK_LABELS("a", "a"), 2, &err) == NULL);
    CHECK(sk_metrics_histogram(m, "x", "", SK_LABELS("le"), 1, sk_metrics_default_buckets, 11, &err) == NULL);
    const double bad[] = {1, 1};
    CHECK(sk_metrics_histogram(m, "x", "", NULL, 0, bad, 2, &err) == NULL);
    CHECK(sk_metrics_histogram(m, "x", "", NULL, 0, bad, 0, &err) == NULL);
    CHECK(sk_metric_add(c, SK_LABELS("v"), -1) == SK_EINVAL);
    CHECK(sk_metric_add(c, SK_LABELS("v"), NAN) == SK_EINVAL);
    CHECK(sk_metric_set(c, SK_LABELS("v"), 1) == SK_EINVAL);
    CHECK(sk_metric_observe(g, NULL, 1) == SK_EINVAL);
    CHECK(sk_metric_inc(h, NULL) == SK_EINVAL);
    CHECK(sk_metric_inc(c, NULL) == SK_EINVAL);
    CHECK(sk_metric_inc(c, SK_LABELS(NULL)) == SK_EINVAL);
    sk_buf out = SK_BUF_INIT;
    CHECK(sk_metrics_render(m, &out) == 0);
    /* Nothing above created a series. */
    CHECK(strstr(out.data, "c_total{") == NULL);
    CHECK(strstr(out.data, "h_bucket{le=\"0.005\"}") == NULL);
    sk_buf_free(&out);
    sk_metrics_free(m);
}

/* Many series: the index grows and finds every one again. */
static void test_many_series(void)
{
    sk_error err = SK_ERROR_INIT;
    sk_metrics *m = sk_metrics_new();
    sk_metric *c = sk_metrics_counter(m, "many_total", "", SK_LABELS("tenant", "service"), 2, &err);
    char t[32], s[32];
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 2000; i++) {
            snprintf(t, sizeof t, "%d", 1000 + i);
            snprintf(s, sizeof s, "svc.%d", i % 7);
            CHECK(sk_metric_add(c, SK_LABELS(t, s), i) == 0);
        }
    int bad = 0;
    for (int i = 0; i < 2000; i++) {
        snprintf(t, sizeof t, "%d", 1000 + i);
        snprintf(s, sizeof s, "svc.%d", i % 7);
        bad += sk_metric_value(c, SK_LABELS(t, s)) != 2.0 * i;
    }
    CHECK(bad == 0);
    sk_metrics_free(m);
}

typedef struct {
    sk_metric *c, *h;
} thread_args;

static void *worker(void *arg)
{
    thread_args *a = arg;
    for (int i = 0; i < 10000; i++) {
        sk_metric_inc(a->c, SK_LABELS(i % 2 ? "odd" : "even"));
        sk_metric_observe(a->h, NULL, 0.02);
    }
    return NULL;
}

static int collects;
static void on_collect(sk_metrics *m, void *data)
{
    (void)m;
    collects++;
    sk_metric_set(data, NULL, collects);
}

static void test_threads_and_collect(void)
{
    sk_error err = SK_ERROR_INIT;
    sk_metrics *m = sk_metrics_new();
    thread_args a;
    a.c = sk_metrics_counter(m, "t_total", "", SK_LABELS("k"), 1, &err);
    a.h = sk_metrics_histogram(m, "t_seconds", "", NULL, 0, sk_metrics_default_buckets, 11, &err);
    sk_metric *g = sk_metrics_gauge(m, "collected", "", NULL, 0, &err);
    CHECK(sk_metrics_on_collect(m, on_collect, g) == 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, worker, &a);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    CHECK(sk_metric_value(a.c, SK_LABELS("odd")) == 20000);
    CHECK(sk_metric_value(a.c, SK_LABELS("even")) == 20000);
    CHECK(sk_metric_value(a.h, NULL) == 40000);
    sk_buf out = SK_BUF_INIT;
    CHECK(sk_metrics_render(m, &out) == 0);
    CHECK(sk_metrics_render(m, &out) == 0);
    CHECK(collects == 2);
    CHECK(strstr(out.data, "t_seconds_bucket{le=\"0.01\"} 0\nt_seconds_bucket{le=\"0.025\"} 40000\n") != NULL);
    CHECK(strstr(out.data, "collected 2\n") != NULL);
    sk_buf_free(&out);
    sk_metrics_free(m);
}

int main(void)
{
    test_exact_text();
    test_special_values();
    test_refusals();
    test_many_series();
    test_threads_and_collect();
    TEST_DONE();
}
