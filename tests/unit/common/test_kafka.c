/* Unit tests of the Kafka adapter (kafka_producer.c, kafka_consumer.c, kafka_loop.c) against
 * librdkafka's mock cluster, created in this process (the same cluster herald-kafka-dev runs):
 * delivery reports, consumer group delivery in partition order, at-least-once redelivery after
 * a restart, brokers down and up, pause and resume, undelivered messages at free. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "herald_err.h"
#include "kafka.h"
#include "test_support.h"

#define PARTITIONS 4
#define MAX_MSGS 512
#define KEYS 16

static rd_kafka_t *mock_rk;
static rd_kafka_mock_cluster_t *mock;
static const char *brokers;

static int group_setup(void **state)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
    mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!mock_rk)
        return -1;
    mock = rd_kafka_mock_cluster_new(mock_rk, 1);
    if (!mock)
        return -1;
    brokers = rd_kafka_mock_cluster_bootstraps(mock);
    return 0;
}

static int group_teardown(void **state)
{
    rd_kafka_mock_cluster_destroy(mock);
    rd_kafka_destroy(mock_rk);
    return 0;
}

static void make_topic(const char *topic)
{
    assert_int_equal(rd_kafka_mock_topic_create(mock, topic, PARTITIONS, 1), 0);
}

/* ------------------------------------------------------------------------------ producing */

typedef struct deliveries_s {
    int calls[MAX_MSGS];
    int status[MAX_MSGS];
    int total;
    int failed;
    int want;
} deliveries_t;

typedef struct delivery_arg_s {
    deliveries_t *d;
    int i;
} delivery_arg_t;

static delivery_arg_t delivery_args[MAX_MSGS];

static void on_delivery(int status, void *arg)
{
    delivery_arg_t *a = arg;

    a->d->calls[a->i]++;
    a->d->status[a->i] = status;
    a->d->total++;
    if (status != 0)
        a->d->failed++;
}

static int all_delivered(void *ctx)
{
    deliveries_t *d = ctx;

    return d->total >= d->want;
}

/* Produces messages first..first+n-1 with key "user-<i % KEYS>" and value "m-<i>". */
static void produce_range(kafka_producer_t *p, deliveries_t *d, int first, int n)
{
    for (int i = first; i < first + n; i++) {
        char key[32], value[32];
        int klen = snprintf(key, sizeof(key), "user-%d", i % KEYS);
        int vlen = snprintf(value, sizeof(value), "m-%d", i);

        delivery_args[i].d = d;
        delivery_args[i].i = i;
        assert_int_equal(kafka_produce(p, key, (size_t)klen, value, (size_t)vlen, on_delivery,
                                       &delivery_args[i]),
                         0);
    }
    d->want = first + n;
}

static kafka_producer_t *producer(uv_loop_t *loop, const char *topic)
{
    char err[256] = "";
    kafka_producer_t *p = kafka_producer_new(loop, brokers, NULL, topic, err, sizeof(err));

    if (!p)
        fail_msg("kafka_producer_new: %s", err);
    return p;
}

/* Produces messages first..first+n-1 on a loop of its own and waits for their delivery. */
static void produce_all(const char *topic, int first, int n)
{
    uv_loop_t loop;
    deliveries_t *d = calloc(1, sizeof(*d));
    kafka_producer_t *p;

    uv_loop_init(&loop);
    p = producer(&loop, topic);
    produce_range(p, d, first, n);
    d->want = n;
    assert_true(test_run_until(&loop, all_delivered, d, 10000));
    assert_int_equal(d->failed, 0);
    kafka_producer_free(p, 1000);
    test_finish_loop(&loop);
    free(d);
}

/* ------------------------------------------------------------------------------ consuming */

typedef struct seen_s {
    int32_t partition;
    int64_t offset;
    int key;
    int value;
} seen_t;

typedef struct sink_s {
    seen_t msgs[MAX_MSGS];
    int n;
    int want;
    int auto_done;
    kafka_consumer_t *c;
} sink_t;

static void on_message(const kafka_msg_t *m, void *arg)
{
    sink_t *s = arg;
    char buf[32];
    seen_t *e;

    assert_true(s->n < MAX_MSGS);
    e = &s->msgs[s->n++];
    e->partition = m->partition;
    e->offset = m->offset;
    assert_true(m->key_len > 5 && m->key_len < sizeof(buf));
    memcpy(buf, m->key, m->key_len);
    buf[m->key_len] = '\0';
    e->key = atoi(buf + 5); /* "user-" */
    assert_true(m->value_len > 2 && m->value_len < sizeof(buf));
    memcpy(buf, m->value, m->value_len);
    buf[m->value_len] = '\0';
    e->value = atoi(buf + 2); /* "m-" */
    if (s->auto_done)
        kafka_consumer_done(s->c, m->partition, m->offset);
}

static int got_all(void *ctx)
{
    sink_t *s = ctx;

    return s->n >= s->want;
}

static kafka_consumer_t *consumer(uv_loop_t *loop, const char *group, const char *topic, sink_t *s)
{
    char err[256] = "";
    kafka_group_t g = {group, topic, 10, 6000};

    s->c = kafka_consumer_new(loop, brokers, NULL, &g, on_message, s, err, sizeof(err));
    if (!s->c)
        fail_msg("kafka_consumer_new: %s", err);
    return s->c;
}

/* Offsets grow within each partition, and each key's values grow (one key, one partition). */
static void check_order(const sink_t *s)
{
    int64_t last_offset[PARTITIONS];
    int last_value[KEYS];

    for (int p = 0; p < PARTITIONS; p++)
        last_offset[p] = -1;
    for (int k = 0; k < KEYS; k++)
        last_value[k] = -1;
    for (int i = 0; i < s->n; i++) {
        const seen_t *e = &s->msgs[i];

        assert_true(e->partition >= 0 && e->partition < PARTITIONS);
        assert_true(e->offset > last_offset[e->partition]);
        last_offset[e->partition] = e->offset;
        assert_true(e->key >= 0 && e->key < KEYS);
        assert_true(e->value > last_value[e->key]);
        last_value[e->key] = e->value;
    }
}

/* --------------------------------------------------------------------------------- tests */

static void test_produce_consume(void **state)
{
    enum { N = 200 };
    uv_loop_t loop;
    deliveries_t *d = calloc(1, sizeof(*d));
    sink_t *s = calloc(1, sizeof(*s));
    kafka_producer_t *p;
    int seen[N] = {0};

    make_topic("t-basic");
    uv_loop_init(&loop);
    p = producer(&loop, "t-basic");
    produce_range(p, d, 0, N);
    assert_true(test_run_until(&loop, all_delivered, d, 10000));
    for (int i = 0; i < N; i++) {
        assert_int_equal(d->calls[i], 1);
        assert_int_equal(d->status[i], 0);
    }

    s->want = N;
    s->auto_done = 1;
    consumer(&loop, "g-basic", "t-basic", s);
    assert_true(test_run_until(&loop, got_all, s, 20000));
    test_run_until(&loop, test_never, NULL, 200); /* nothing more comes */
    assert_int_equal(s->n, N);
    check_order(s);
    for (int i = 0; i < N; i++) {
        assert_true(s->msgs[i].value >= 0 && s->msgs[i].value < N);
        seen[s->msgs[i].value]++;
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);

    kafka_consumer_free(s->c);
    kafka_producer_free(p, 1000);
    for (int i = 0; i < N; i++)
        assert_int_equal(d->calls[i], 1); /* free called nobody twice */
    test_finish_loop(&loop);
    free(d);
    free(s);
}

typedef struct pair_s {
    sink_t *a, *b;
} pair_t;

static int shared(void *ctx)
{
    const pair_t *g = ctx;
    int na = kafka_consumer_assigned(g->a->c), nb = kafka_consumer_assigned(g->b->c);

    return na > 0 && nb > 0 && na + nb == PARTITIONS;
}

static int b_has_all(void *ctx)
{
    return kafka_consumer_assigned(((const pair_t *)ctx)->b->c) == PARTITIONS;
}

/* Two consumers of one group with a 3.5 s session (the shortest herald-kafka-dev forms a group
 * with, docs/delivery.md): they share the partitions, and when one leaves, the other holds them
 * all. kafka_consumer_assigned follows each assignment. */
static void test_group_shared(void **state)
{
    uv_loop_t loop;
    sink_t *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    kafka_group_t g = {"g-shared", "t-shared", 10, 3500};
    char err[256] = "";
    pair_t pair = {a, b};

    make_topic("t-shared");
    uv_loop_init(&loop);
    a->c = kafka_consumer_new(&loop, brokers, NULL, &g, on_message, a, err, sizeof(err));
    b->c = kafka_consumer_new(&loop, brokers, NULL, &g, on_message, b, err, sizeof(err));
    assert_non_null(a->c);
    assert_non_null(b->c);
    assert_int_equal(kafka_consumer_assigned(a->c), 0);
    assert_true(test_run_until(&loop, shared, &pair, 20000));
    kafka_consumer_free(a->c);
    assert_true(test_run_until(&loop, b_has_all, &pair, 20000));
    kafka_consumer_free(b->c);
    test_finish_loop(&loop);
    free(a);
    free(b);
}

static void test_at_least_once(void **state)
{
    enum { N = 80 };
    uv_loop_t loop;
    sink_t *first = calloc(1, sizeof(*first)), *second = calloc(1, sizeof(*second));
    int64_t count[PARTITIONS] = {0}, resume_at[PARTITIONS];
    int expected = 0;

    make_topic("t-alo");
    produce_all("t-alo", 0, N);

    uv_loop_init(&loop);
    first->want = N;
    consumer(&loop, "g-alo", "t-alo", first);
    assert_true(test_run_until(&loop, got_all, first, 20000));
    check_order(first);
    for (int i = 0; i < first->n; i++)
        count[first->msgs[i].partition]++;

    /* Partition by partition, out of order: done for the first half of each partition, except
     * that partition 0 leaves a hole at offset 2 (offsets 0, 1, 3 done). The committed offset
     * must stop at the lowest message not done. */
    for (int p = 0; p < PARTITIONS; p++) {
        assert_true(count[p] >= 8); /* 80 messages over 16 keys fill every partition */
        resume_at[p] = count[p] / 2;
    }
    resume_at[0] = 2;
    for (int i = first->n - 1; i >= 0; i--) {
        const seen_t *e = &first->msgs[i];

        if (e->offset < count[e->partition] / 2 && !(e->partition == 0 && e->offset == 2))
            kafka_consumer_done(first->c, e->partition, e->offset);
    }
    kafka_consumer_done(first->c, 0, 3);   /* done twice: no effect */
    kafka_consumer_done(first->c, 9, 0);   /* not assigned: ignored */
    kafka_consumer_done(first->c, 1, 999); /* test_never delivered: ignored */
    kafka_consumer_free(first->c);

    for (int p = 0; p < PARTITIONS; p++)
        expected += (int)(count[p] - resume_at[p]);
    second->want = expected;
    consumer(&loop, "g-alo", "t-alo", second);
    assert_true(test_run_until(&loop, got_all, second, 20000));
    test_run_until(&loop, test_never, NULL, 500);
    assert_int_equal(second->n, expected);
    check_order(second);
    for (int i = 0; i < second->n; i++)
        assert_true(second->msgs[i].offset >= resume_at[second->msgs[i].partition]);
    kafka_consumer_free(second->c);
    test_finish_loop(&loop);
    free(first);
    free(second);
}

static void test_brokers_down(void **state)
{
    enum { N = 40 };
    uv_loop_t loop;
    deliveries_t *d = calloc(1, sizeof(*d));
    kafka_producer_t *p;

    make_topic("t-down");
    uv_loop_init(&loop);
    p = producer(&loop, "t-down");
    produce_range(p, d, 0, N / 2);
    assert_true(test_run_until(&loop, all_delivered, d, 10000));

    assert_int_equal(rd_kafka_mock_broker_set_down(mock, -1), 0);
    produce_range(p, d, N / 2, N / 2);
    test_run_until(&loop, test_never, NULL, 1500);
    assert_true(d->total < N); /* held back while the brokers are down */
    assert_int_equal(d->failed, 0);
    assert_int_equal(rd_kafka_mock_broker_set_up(mock, -1), 0);
    assert_true(test_run_until(&loop, all_delivered, d, 20000));
    assert_int_equal(d->failed, 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(d->calls[i], 1);
    kafka_producer_free(p, 1000);
    test_finish_loop(&loop);
    free(d);
}

static void test_pause_resume(void **state)
{
    enum { N = 12 };
    uv_loop_t loop;
    sink_t *s = calloc(1, sizeof(*s));

    make_topic("t-pause");
    uv_loop_init(&loop);
    s->auto_done = 1;
    consumer(&loop, "g-pause", "t-pause", s);
    kafka_consumer_pause(s->c); /* before the assignment: applies to it */
    produce_all("t-pause", 0, N);
    test_run_until(&loop, test_never, NULL, 4000);
    assert_int_equal(s->n, 0);
    s->want = N;
    kafka_consumer_resume(s->c);
    assert_true(test_run_until(&loop, got_all, s, 10000));

    /* Paused while assigned. */
    kafka_consumer_pause(s->c);
    produce_all("t-pause", N, N);
    test_run_until(&loop, test_never, NULL, 1000);
    assert_int_equal(s->n, N);
    s->want = 2 * N;
    kafka_consumer_resume(s->c);
    assert_true(test_run_until(&loop, got_all, s, 10000));
    check_order(s);
    kafka_consumer_free(s->c);
    test_finish_loop(&loop);
    free(s);
}

/* Brokers down for good: kafka_producer_free answers every message once. */
static void test_free_undelivered(void **state)
{
    enum { N = 5 };
    uv_loop_t loop;
    deliveries_t *d = calloc(1, sizeof(*d));
    kafka_producer_t *p;

    make_topic("t-undelivered");
    uv_loop_init(&loop);
    p = producer(&loop, "t-undelivered");
    assert_int_equal(rd_kafka_mock_broker_set_down(mock, -1), 0);
    produce_range(p, d, 0, N);
    test_run_until(&loop, test_never, NULL, 300);
    kafka_producer_free(p, 200);
    assert_int_equal(rd_kafka_mock_broker_set_up(mock, -1), 0);
    assert_int_equal(d->total, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(d->calls[i], 1);
        assert_true(d->status[i] == HERALD_EUNAVAIL || d->status[i] == HERALD_ETIMEDOUT);
    }
    test_finish_loop(&loop);
    free(d);
}

static void test_config_error(void **state)
{
    uv_loop_t loop;
    char err[256] = "";
    sink_t *s = calloc(1, sizeof(*s));

    uv_loop_init(&loop);
    kafka_group_t g = {"", "t-basic", 10, 6000};

    assert_null(kafka_consumer_new(&loop, brokers, NULL, &g, on_message, s, err, sizeof(err)));
    assert_true(err[0] != '\0');
    test_finish_loop(&loop);
    free(s);
}

/* Operator properties reach librdkafka: with property.message.timeout.ms = 1500 a message to
 * brokers that are down fails within seconds, where the adapter's own 30 s would hold it. */
static void test_properties_applied(void **state)
{
    enum { N = 3 };
    uv_loop_t loop;
    deliveries_t *d = calloc(1, sizeof(*d));
    conf_prop_t v[] = {{"message.timeout.ms", "1500", "test:1"}};
    conf_props_t props = {v, 1};
    char err[256] = "";

    make_topic("t-props");
    uv_loop_init(&loop);
    kafka_producer_t *p = kafka_producer_new(&loop, brokers, &props, "t-props", err, sizeof(err));
    if (p == NULL)
        fail_msg("kafka_producer_new: %s", err);
    assert_int_equal(rd_kafka_mock_broker_set_down(mock, -1), 0);
    d->want = N;
    produce_range(p, d, 0, N);
    assert_true(test_run_until(&loop, all_delivered, d, 8000));
    assert_int_equal(d->failed, N);
    assert_int_equal(rd_kafka_mock_broker_set_up(mock, -1), 0);
    kafka_producer_free(p, 1000);
    test_finish_loop(&loop);
    free(d);
}

/* Refused at creation, naming the property and where it was set, never showing its value:
 * an unknown name, a bad value, and the settings the adapters' guarantees rest on. */
static void test_properties_refused(void **state)
{
    uv_loop_t loop;
    char err[256];
    sink_t *s = calloc(1, sizeof(*s));
    static const struct {
        const char *name, *value, *want;
        int consumer;
    } cases[] = {
        {"no.such.property", "v-secret-1", "no such librdkafka property", 0},
        {"linger.ms", "v-secret-2", "invalid value (not shown)", 0},
        {"sasl.password", "v-secret-3", NULL, -1}, /* accepted: a string */
        {"acks", "1", "set by herald", 0},
        {"enable.idempotence", "false", "set by herald", 0},
        {"enable.auto.commit", "false", "set by herald", 1},
        {"enable.auto.offset.store", "true", "set by herald", 1},
        {"group.id", "other", "set by herald", 1},
        {"bootstrap.servers", "elsewhere:9092", "set by herald", 1},
        /* Aliases and synonyms, refused by their effect on an owned property. */
        {"request.required.acks", "1", "changes acks, set by herald", 0},
        {"metadata.broker.list", "elsewhere:9092", "changes bootstrap.servers", 1},
        {"partition.assignment.strategy", "cooperative-sticky", "set by herald", 1},
        {"statistics.interval.ms", "0", "set by herald", 1},
        {"session.timeout.ms", "1000", "set by herald", 1},
    };

    uv_loop_init(&loop);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        conf_prop_t v[] = {{(char *)cases[i].name, (char *)cases[i].value, "f.ini:7"}};
        conf_props_t props = {v, 1};
        err[0] = '\0';
        if (cases[i].consumer == 1) {
            kafka_group_t g = {"g-props", "t-props", 10, 6000};
            kafka_consumer_t *c =
                kafka_consumer_new(&loop, brokers, &props, &g, on_message, s, err, sizeof(err));
            assert_null(c);
        } else {
            kafka_producer_t *p =
                kafka_producer_new(&loop, brokers, &props, "t-props", err, sizeof(err));
            if (cases[i].want == NULL) {
                assert_non_null(p);
                kafka_producer_free(p, 100);
                continue;
            }
            assert_null(p);
        }
        if (strstr(err, cases[i].want) == NULL || strstr(err, "f.ini:7") == NULL ||
            strstr(err, cases[i].name) == NULL)
            fail_msg("%s: %s", cases[i].name, err);
        assert_null(strstr(err, cases[i].value));
    }
    test_finish_loop(&loop);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_produce_consume),    cmocka_unit_test(test_group_shared),
        cmocka_unit_test(test_at_least_once),      cmocka_unit_test(test_brokers_down),
        cmocka_unit_test(test_pause_resume),       cmocka_unit_test(test_free_undelivered),
        cmocka_unit_test(test_config_error),       cmocka_unit_test(test_properties_applied),
        cmocka_unit_test(test_properties_refused),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
