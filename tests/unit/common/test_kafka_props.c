/* Unit tests of [kafka] property.<name> (kafka_props.c) through the adapter's constructors and
 * the conf layer: a property reaches librdkafka and wins over the adapter's tunable defaults;
 * an unknown property, a bad value and a property the adapter owns (by name or alias) are
 * refused with the file and line, never the value. No broker is needed: a property's effect is
 * seen locally (message.max.bytes) or against a closed port (message.timeout.ms). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "herald_err.h"
#include "kafka.h"
#include "kafka_loop.h"
#include "test_support.h"

#define CLOSED_BROKER "127.0.0.1:1"

typedef struct pconf_s {
    conf_props_t props;
} pconf_t;

static const conf_item_t items[] = {
    {"kafka", "property", CONF_PROPS, offsetof(pconf_t, props), NULL, 0, 0, NULL},
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};

static char ini[] = "/tmp/herald-test-kprops-XXXXXX";

/* Loads text as an INI file into c (the test fails on a conf error). */
static void load(pconf_t *c, const char *text)
{
    char err[512];
    int fd = mkstemp(ini);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    if (conf_load(items, c, ini, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    unlink(ini);
    strcpy(ini + strlen(ini) - 6, "XXXXXX");
}

/* Expects kafka_producer_new (consumer: kafka_consumer_new) to refuse the properties in text
 * with an error holding every needle and not `secret`. */
static void expect_refused(int consumer, const char *text, const char *secret, const char *n1,
                           const char *n2)
{
    pconf_t c;
    uv_loop_t loop;
    char err[512] = "";

    load(&c, text);
    uv_loop_init(&loop);
    void *made = consumer ? (void *)kafka_consumer_new(&loop, CLOSED_BROKER, "g", "t", 10, &c.props,
                                                       NULL, NULL, err, sizeof(err))
                          : (void *)kafka_producer_new(&loop, CLOSED_BROKER, "t", &c.props, err,
                                                       sizeof(err));
    if (made != NULL)
        fail_msg("accepted: %s", text);
    if (strstr(err, n1) == NULL || (n2 && strstr(err, n2) == NULL) ||
        (secret && strstr(err, secret) != NULL))
        fail_msg("got \"%s\": want \"%s\" and \"%s\", not \"%s\"", err, n1, n2 ? n2 : "",
                 secret ? secret : "");
    if (strncmp(err, ini, strlen(ini) - 6) != 0 || strstr(err, ":2: ") == NULL)
        fail_msg("\"%s\" does not start with the file and line 2", err);
    test_finish_loop(&loop);
    conf_free(items, &c);
}

static void test_unknown_and_bad(void **state)
{
    expect_refused(0, "[kafka]\nproperty.no.such.thing = hunter2\n", "hunter2",
                   "[kafka] property.no.such.thing: unknown librdkafka property", NULL);
    expect_refused(0, "[kafka]\nproperty.socket.timeout.ms = sekrit-42\n", "sekrit-42",
                   "[kafka] property.socket.timeout.ms: invalid value", NULL);
    /* librdkafka's reason quotes an enum's bad value: it is cut out. */
    expect_refused(1, "[kafka]\nproperty.security.protocol = TOPSECRET\n", "TOPSECRET",
                   "property.security.protocol: invalid value", NULL);
}

/* The adapter's own settings, by name or by alias, for the producer and the consumer. */
static void test_owned(void **state)
{
    expect_refused(1, "[kafka]\nproperty.enable.auto.commit = false\n", NULL,
                   "herald sets enable.auto.commit itself", "at-least-once");
    expect_refused(1, "[kafka]\nproperty.group.id = other\n", NULL, "herald sets group.id",
                   "[kafka] group");
    expect_refused(1, "[kafka]\nproperty.auto.offset.reset = latest\n", NULL,
                   "herald sets auto.offset.reset", NULL);
    expect_refused(1, "[kafka]\nproperty.partition.assignment.strategy = cooperative-sticky\n",
                   NULL, "herald sets partition.assignment.strategy", NULL);
    expect_refused(0, "[kafka]\nproperty.request.required.acks = 1\n", NULL, "herald sets acks",
                   NULL);
    expect_refused(0, "[kafka]\nproperty.enable.idempotence = false\n", NULL,
                   "herald sets enable.idempotence", NULL);
    expect_refused(0, "[kafka]\nproperty.metadata.broker.list = 10.0.0.1:9092\n", NULL,
                   "herald sets bootstrap.servers", "[kafka] brokers");
    /* A property the adapter does not own is not mistaken for one (a topic property). */
    pconf_t c;
    uv_loop_t loop;
    char err[512];
    load(&c, "[kafka]\nproperty.compression.codec = lz4\nproperty.client.id = herald-t\n");
    uv_loop_init(&loop);
    kafka_producer_t *p = kafka_producer_new(&loop, CLOSED_BROKER, "t", &c.props, err, sizeof(err));
    if (p == NULL)
        fail_msg("%s", err);
    kafka_producer_free(p, 0);
    test_finish_loop(&loop);
    conf_free(items, &c);
}

/* The credentials properties of a SASL_SSL cluster are taken (no broker here speaks SASL). */
static void test_sasl_accepted(void **state)
{
    pconf_t c;
    uv_loop_t loop;
    char err[512];

    load(&c, "[kafka]\nproperty.security.protocol = SASL_SSL\nproperty.sasl.mechanism = PLAIN\n"
             "property.sasl.username = herald\nproperty.sasl.password = pw\n");
    uv_loop_init(&loop);
    kafka_consumer_t *k = kafka_consumer_new(&loop, CLOSED_BROKER, "g", "t", 10, &c.props, NULL,
                                             NULL, err, sizeof(err));
    if (k == NULL)
        fail_msg("%s", err);
    kafka_consumer_free(k);
    test_finish_loop(&loop);
    conf_free(items, &c);
}

/* A property reaches librdkafka: message.max.bytes makes a larger message refused at once. */
static void test_reaches_librdkafka(void **state)
{
    pconf_t c;
    uv_loop_t loop;
    char err[512], big[4000];

    memset(big, 'x', sizeof(big));
    load(&c, "[kafka]\nproperty.message.max.bytes = 2000\n");
    uv_loop_init(&loop);
    kafka_producer_t *p = kafka_producer_new(&loop, CLOSED_BROKER, "t", &c.props, err, sizeof(err));
    if (p == NULL)
        fail_msg("%s", err);
    assert_int_equal(kafka_produce(p, "k", 1, big, sizeof(big), NULL, NULL), HERALD_EINVAL);
    assert_int_equal(kafka_produce(p, "k", 1, big, 100, NULL, NULL), 0);
    kafka_producer_free(p, 0);
    test_finish_loop(&loop);
    conf_free(items, &c);
}

typedef struct report_s {
    int calls, status;
} report_t;

static void on_report(int status, void *arg)
{
    report_t *r = arg;
    r->calls++;
    r->status = status;
}

static int reported(void *ctx)
{
    return ((report_t *)ctx)->calls > 0;
}

/* The user's message.timeout.ms wins over the adapter's 30 s: with no broker, the report comes
 * within a second or two. */
static void test_wins_over_tunable(void **state)
{
    pconf_t c;
    uv_loop_t loop;
    char err[512];
    report_t r = {0};

    load(&c, "[kafka]\nproperty.message.timeout.ms = 300\n");
    uv_loop_init(&loop);
    kafka_producer_t *p = kafka_producer_new(&loop, CLOSED_BROKER, "t", &c.props, err, sizeof(err));
    if (p == NULL)
        fail_msg("%s", err);
    test_stderr_begin(); /* librdkafka complains about the closed port */
    assert_int_equal(kafka_produce(p, "k", 1, "v", 1, on_report, &r), 0);
    int got = test_run_until(&loop, reported, &r, 5000);
    free(test_stderr_end());
    assert_true(got);
    assert_int_equal(r.status, HERALD_ETIMEDOUT);
    kafka_producer_free(p, 0);
    test_finish_loop(&loop);
    conf_free(items, &c);
}

/* kafka_loop_conf_set, for the adapter's own settings: the key, never the value. */
static void test_conf_set_hides_value(void **state)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256];

    assert_int_equal(kafka_loop_conf_set(conf, "security.protocol", "HIDDEN-VAL", err, sizeof(err)),
                     HERALD_ECONF);
    assert_non_null(strstr(err, "kafka security.protocol: refused: Invalid value"));
    assert_null(strstr(err, "HIDDEN-VAL"));
    assert_int_equal(kafka_loop_conf_set(conf, "ssl.key.password", "x", err, sizeof(err)), 0);
    rd_kafka_conf_destroy(conf);
    assert_true(kafka_props_secret("sasl.oauthbearer.client.secret"));
    assert_true(kafka_props_secret("ssl.key.password"));
    assert_false(kafka_props_secret("client.id"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_and_bad),   cmocka_unit_test(test_owned),
        cmocka_unit_test(test_sasl_accepted),     cmocka_unit_test(test_reaches_librdkafka),
        cmocka_unit_test(test_wins_over_tunable), cmocka_unit_test(test_conf_set_hides_value),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
