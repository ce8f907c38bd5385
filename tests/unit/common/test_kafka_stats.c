/* test_kafka_stats.c - what the Kafka adapter reads of librdkafka's statistics JSON
 * (src/common/kafka_stats.h): brokers up (bootstrap entries not counted), the consumer lag of
 * each partition of the topic (librdkafka's internal partition -1 left out), ascending; a
 * document that is not such JSON leaves the last state alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "herald_err.h"
#include "kafka_stats.h"

#include <string.h>

/* The shape of librdkafka 2.0's statistics, cut to the members read. */
static const char doc[] =
    "{\"name\":\"rdkafka#consumer-1\",\"type\":\"consumer\","
    "\"brokers\":{"
    "\"127.0.0.1:9092/bootstrap\":{\"nodeid\":-1,\"state\":\"UP\"},"
    "\"127.0.0.1:9092/1\":{\"nodeid\":1,\"state\":\"UP\"},"
    "\"127.0.0.1:9093/2\":{\"nodeid\":2,\"state\":\"DOWN\"}},"
    "\"topics\":{"
    "\"herald-push\":{\"partitions\":{"
    "\"2\":{\"partition\":2,\"consumer_lag\":5},"
    "\"0\":{\"partition\":0,\"consumer_lag\":0},"
    "\"-1\":{\"partition\":-1,\"consumer_lag\":-1},"
    "\"1\":{\"partition\":1,\"consumer_lag\":-1}}},"
    "\"other\":{\"partitions\":{\"0\":{\"partition\":0,\"consumer_lag\":99}}}}}";

static void test_brokers_and_lags(void **unused)
{
    kafka_stats_t st = {0};
    assert_int_equal(kafka_stats_update(&st, doc, strlen(doc), "herald-push"), 0);
    assert_int_equal(st.seen, 1);
    assert_int_equal(st.brokers_up, 1);
    assert_int_equal(st.nlags, 3);
    assert_int_equal(st.lags[0].partition, 0);
    assert_int_equal(st.lags[0].lag, 0);
    assert_int_equal(st.lags[1].partition, 1);
    assert_int_equal(st.lags[1].lag, -1);
    assert_int_equal(st.lags[2].partition, 2);
    assert_int_equal(st.lags[2].lag, 5);

    /* Garbage keeps what was read before. */
    assert_int_equal(kafka_stats_update(&st, "{\"brokers\":", 11, "herald-push"), HERALD_EPROTO);
    assert_int_equal(st.nlags, 3);
    assert_int_equal(kafka_stats_update(&st, "[]", 2, "herald-push"), HERALD_EPROTO);

    /* A topic the document does not mention: no partitions. */
    assert_int_equal(kafka_stats_update(&st, doc, strlen(doc), "absent"), 0);
    assert_int_equal(st.nlags, 0);
    kafka_stats_deinit(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_brokers_and_lags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
