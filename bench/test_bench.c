/* test_bench.c - unit tests of herald-bench's own parsers and histogram (label unit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bench.h"
#include "bench_mqtt.h"

static void test_hist_quantiles(void **state)
{
    static bench_hist_t h;
    memset(&h, 0, sizeof(h));
    assert_int_equal(bench_hist_quantile(&h, 0.5), 0);
    for (uint64_t v = 1; v <= 100000; v++)
        bench_hist_add(&h, v);
    assert_int_equal(h.count, 100000);
    assert_int_equal(h.max, 100000);
    /* 32 sub-buckets per power of two: within 3.2 % of the exact quantile. */
    uint64_t p50 = bench_hist_quantile(&h, 0.5), p99 = bench_hist_quantile(&h, 0.99);
    assert_true(p50 > 50000 * 0.968 && p50 < 50000 * 1.032);
    assert_true(p99 > 99000 * 0.968 && p99 < 99000 * 1.032);
    assert_true(bench_hist_quantile(&h, 1.0) <= 100000);
    /* Exact below 64. */
    static bench_hist_t small;
    memset(&small, 0, sizeof(small));
    for (int i = 0; i < 10; i++)
        bench_hist_add(&small, 7);
    assert_int_equal(bench_hist_quantile(&small, 0.5), 7);
    /* Extremes do not overflow the buckets. */
    bench_hist_add(&small, UINT64_MAX);
    assert_int_equal(small.max, UINT64_MAX);
    static bench_hist_t sum;
    memset(&sum, 0, sizeof(sum));
    bench_hist_merge(&sum, &h);
    bench_hist_merge(&sum, &small);
    assert_int_equal(sum.count, 100011);
}

static void test_body_stamp(void **state)
{
    uint8_t body[32];
    uint64_t before = bench_now_us(), us;
    bench_body_fill(body, sizeof(body));
    assert_int_equal(bench_body_stamp(body, sizeof(body), &us), 0);
    assert_true(us >= before && us <= bench_now_us());
    assert_int_equal(body[31], ' ');
    assert_int_equal(bench_body_stamp((const uint8_t *)"hello", 5, &us), -1);
    assert_int_equal(bench_body_stamp((const uint8_t *)"123", 3, &us), -1);
    assert_int_equal(bench_body_stamp(body, 10, &us), -1); /* truncated stamp */
}

static void test_mqtt_roundtrip(void **state)
{
    uint8_t out[512], payload[200];
    memset(payload, 'x', sizeof(payload));
    size_t n = bench_mqtt_publish(out, sizeof(out), "bench/room", payload, sizeof(payload));
    assert_true(n > sizeof(payload));
    int type;
    size_t body, total, pay;
    /* Every prefix is incomplete; the whole packet parses. */
    for (size_t i = 0; i < n; i++)
        assert_int_equal(bench_mqtt_peek(out, i, &type, &body, &total), 1);
    assert_int_equal(bench_mqtt_peek(out, n, &type, &body, &total), 0);
    assert_int_equal(type, BENCH_MQTT_PUBLISH);
    assert_int_equal(total, n);
    assert_int_equal(body, 3); /* 212 bytes remaining: a 2-byte length */
    assert_int_equal(bench_mqtt_publish_payload(out + body, total - body, 0, &pay), 0);
    assert_int_equal(total - body - pay, sizeof(payload));
    assert_memory_equal(out + body + pay, payload, sizeof(payload));
    /* Too small an output buffer writes nothing. */
    assert_int_equal(bench_mqtt_publish(out, 10, "bench/room", payload, sizeof(payload)), 0);
    assert_true(bench_mqtt_connect(out, sizeof(out), "id", 60) > 0);
    assert_int_equal(bench_mqtt_connect(out, 5, "id", 60), 0);
    assert_true(bench_mqtt_subscribe(out, sizeof(out), 1, "t") > 0);
    assert_int_equal(bench_mqtt_pingreq(out, 1), 0);
}

static void test_mqtt_malformed(void **state)
{
    int type;
    size_t body, total, pay;
    /* Remaining length with five continuation bytes. */
    const uint8_t bad_len[] = {0x30, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(bench_mqtt_peek(bad_len, sizeof(bad_len), &type, &body, &total), -1);
    /* Over BENCH_MQTT_MAX_PACKET. */
    const uint8_t big[] = {0x30, 0xff, 0xff, 0x7f};
    assert_int_equal(bench_mqtt_peek(big, sizeof(big), &type, &body, &total), -1);
    /* A topic length past the end of the packet. */
    const uint8_t topic[] = {0x00, 0x09, 'a'};
    assert_int_equal(bench_mqtt_publish_payload(topic, sizeof(topic), 0, &pay), -1);
    assert_int_equal(bench_mqtt_publish_payload(topic, 1, 0, &pay), -1);
    /* QoS 1 adds a packet identifier. */
    const uint8_t q1[] = {0x00, 0x01, 't', 0x00, 0x05, 'p'};
    assert_int_equal(bench_mqtt_publish_payload(q1, sizeof(q1), 1, &pay), 0);
    assert_int_equal(pay, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_quantiles),
        cmocka_unit_test(test_body_stamp),
        cmocka_unit_test(test_mqtt_roundtrip),
        cmocka_unit_test(test_mqtt_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
