/* test_metrics.c - the Prometheus text exposition writer (src/common/metrics.h): HELP and TYPE
 * lines, label value and help escaping, histogram buckets cumulative with +Inf last and _count
 * equal to it, _sum in seconds, observations from several threads at once, merging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* out's bytes as a NUL-terminated string (owned by out). */
static const char *text(buf_t *out)
{
    buf_append(out, "", 1);
    out->len--;
    return (const char *)out->data;
}

static void test_counter_and_gauge(void **unused)
{
    buf_t out;
    buf_init(&out);
    metrics_counter(&out, "herald_x_pushes_total", "Pushes accepted", 7);
    metrics_gauge(&out, "herald_x_rooms", "Rooms", 2.5);
    assert_string_equal(text(&out), "# HELP herald_x_pushes_total Pushes accepted\n"
                                    "# TYPE herald_x_pushes_total counter\n"
                                    "herald_x_pushes_total 7\n"
                                    "# HELP herald_x_rooms Rooms\n"
                                    "# TYPE herald_x_rooms gauge\n"
                                    "herald_x_rooms 2.5\n");
    buf_deinit(&out);
}

/* Label values escape backslash, double quote and newline; help text backslash and newline
 * (a double quote stays as it is there). */
static void test_escaping(void **unused)
{
    buf_t out;
    buf_init(&out);
    metrics_family(&out, "herald_x_up", METRICS_GAUGE, "a \"b\" c\\d\ne");
    metrics_label_t labels[2] = {{"router", "a\"b\\c\nd"}, {"route", "/goim/push/mids"}};
    metrics_sample(&out, "herald_x_up", labels, 2, 1);
    assert_string_equal(text(&out),
                        "# HELP herald_x_up a \"b\" c\\\\d\\ne\n"
                        "# TYPE herald_x_up gauge\n"
                        "herald_x_up{router=\"a\\\"b\\\\c\\nd\",route=\"/goim/push/mids\"} 1\n");
    buf_deinit(&out);
}

/* The value of the line that starts with prefix, or -1 when there is none. */
static double line_value(const char *s, const char *prefix)
{
    const char *p = s;
    size_t n = strlen(prefix);
    while (p != NULL && *p) {
        if (strncmp(p, prefix, n) == 0)
            return strtod(p + n, NULL);
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return -1;
}

static void test_histogram_cumulative(void **unused)
{
    metrics_hist_t h = {0};
    metrics_hist_observe_ns(&h, 50000);       /* 50 us: first bucket (le 0.0001) */
    metrics_hist_observe_ns(&h, 100000);      /* exactly 100 us: le is inclusive */
    metrics_hist_observe_ns(&h, 3000000);     /* 3 ms: le 0.005 */
    metrics_hist_observe_ns(&h, 20000000000); /* 20 s: only +Inf */
    assert_int_equal(metrics_hist_count(&h), 4);

    buf_t out;
    buf_init(&out);
    metrics_family(&out, "herald_x_latency_seconds", METRICS_HISTOGRAM, "Latency");
    metrics_label_t label = {"method", "Put"};
    metrics_hist(&out, "herald_x_latency_seconds", &label, 1, &h);
    const char *s = text(&out);

    assert_non_null(strstr(s, "# TYPE herald_x_latency_seconds histogram\n"));
    assert_true(line_value(s, "herald_x_latency_seconds_bucket{method=\"Put\",le=\"0.0001\"}") ==
                2);
    assert_true(line_value(s, "herald_x_latency_seconds_bucket{method=\"Put\",le=\"0.0025\"}") ==
                2);
    assert_true(line_value(s, "herald_x_latency_seconds_bucket{method=\"Put\",le=\"0.005\"}") == 3);
    assert_true(line_value(s, "herald_x_latency_seconds_bucket{method=\"Put\",le=\"10\"}") == 3);
    assert_true(line_value(s, "herald_x_latency_seconds_bucket{method=\"Put\",le=\"+Inf\"}") == 4);
    assert_true(line_value(s, "herald_x_latency_seconds_count{method=\"Put\"}") == 4);
    assert_non_null(strstr(s, "herald_x_latency_seconds_sum{method=\"Put\"} 20.003150000\n"));

    /* Every bucket line, in order: cumulative counts never go down, and +Inf comes last. */
    double prev = 0;
    int buckets = 0;
    const char *le_inf = NULL;
    for (const char *p = strstr(s, "_bucket{"); p != NULL; p = strstr(p + 1, "_bucket{")) {
        double v = strtod(strchr(p, '}') + 1, NULL);
        assert_true(v >= prev);
        prev = v;
        buckets++;
        if (strstr(p, "le=\"+Inf\"") == strchr(p, '{') + strlen("{method=\"Put\","))
            le_inf = p;
    }
    assert_int_equal(buckets, METRICS_BUCKETS + 1);
    assert_non_null(le_inf);
    assert_null(strstr(le_inf + 1, "_bucket{"));
    buf_deinit(&out);
}

static void test_histogram_without_labels(void **unused)
{
    metrics_hist_t h = {0};
    buf_t out;
    buf_init(&out);
    metrics_hist(&out, "herald_x_seconds", NULL, 0, &h);
    const char *s = text(&out);
    assert_non_null(strstr(s, "herald_x_seconds_bucket{le=\"0.0001\"} 0\n"));
    assert_non_null(strstr(s, "herald_x_seconds_bucket{le=\"+Inf\"} 0\n"));
    assert_non_null(strstr(s, "herald_x_seconds_sum 0.000000000\nherald_x_seconds_count 0\n"));
    buf_deinit(&out);
}

#define THREADS 4
#define PER_THREAD 100000

static void *observe_main(void *arg)
{
    metrics_hist_t *h = arg;
    for (int i = 0; i < PER_THREAD; i++)
        metrics_hist_observe_ns(h, (uint64_t)(i % 7) * 1000000u);
    return NULL;
}

/* Concurrent observations are all counted (comet's workers share histograms this way), and
 * merging adds one histogram into another. */
static void test_threads_and_merge(void **unused)
{
    metrics_hist_t h = {0};
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, observe_main, &h), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(metrics_hist_count(&h), THREADS * PER_THREAD);

    metrics_hist_t sum = {0};
    metrics_hist_merge(&sum, &h);
    metrics_hist_merge(&sum, &h);
    assert_int_equal(metrics_hist_count(&sum), 2 * THREADS * PER_THREAD);
    assert_int_equal(atomic_load(&sum.sum_ns), 2 * atomic_load(&h.sum_ns));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_and_gauge),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_histogram_cumulative),
        cmocka_unit_test(test_histogram_without_labels),
        cmocka_unit_test(test_threads_and_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
