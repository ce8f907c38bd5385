/* test_events.c - business events with real processes (docs/im.md, "Events for business
 * systems"): a user connects, sends a private message upstream and disconnects; a consumer of
 * herald-events (the common Kafka adapter on the test's own loop) must see the connect event,
 * the message event with the right sender, recipient and text, and the disconnect event; and
 * the HTTP receiver logic POSTs them to ([events] callback_url) must get the same three, in order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cluster.h"
#include "kafka.h"
#include "proc.h"
#include "test_http_sink.h"

#define OP_CHAT 1000
#define WAIT_MS 5000
#define EVENTS_WAIT_MS 15000 /* the mock cluster's group join alone takes ~3 s */
#define FETCH_WAIT_MS 100

static cluster_t *g_c;
static test_http_sink_t *g_sink;

static int group_setup(void **state)
{
    (void)state;
    g_sink = test_http_sink_start(0);
    char url[128], env_url[160];
    snprintf(env_url, sizeof(env_url), "HERALD_EVENTS_CALLBACK_URL=%s",
             test_http_sink_url(g_sink, url, sizeof(url)));
    const char *const logic_env[] = {env_url, NULL};
    cluster_opts_t o = {.n_comets = 1, .n_routers = 1};
    o.env[CLUSTER_LOGIC] = logic_env;
    g_c = cluster_start(&o);
    return g_c ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    int rc = cluster_stop(g_c, false);
    test_http_sink_stop(g_sink);
    return rc == 0 ? 0 : -1;
}

/* What the consumer has seen of the sender's events. */
typedef struct seen_s {
    int64_t from, to;
    const char *from_key, *text;
    int connect, message, disconnect;
    int bad_order; /* an event of the sender's arrived out of connect < message < disconnect */
    kafka_consumer_t *consumer;
    uv_loop_t *loop;
} seen_t;

/* True when event j is about the sender's connection (mid and key). */
static bool is_from_conn(json_t *j, const seen_t *s)
{
    const char *key = json_string_value(json_object_get(j, "key"));
    return json_integer_value(json_object_get(j, "mid")) == s->from && key != NULL &&
           strcmp(key, s->from_key) == 0;
}

static void on_event(const kafka_msg_t *msg, void *arg)
{
    seen_t *s = arg;
    json_t *j = json_loadb(msg->value, msg->value_len, 0, NULL);
    const char *type = json_string_value(json_object_get(j, "type"));
    if (type == NULL) {
        json_decref(j);
        kafka_consumer_done(s->consumer, msg->partition, msg->offset);
        return;
    }
    if (strcmp(type, "connect") == 0 && is_from_conn(j, s)) {
        assert_non_null(json_string_value(json_object_get(j, "server")));
        s->connect++;
    } else if (strcmp(type, "message") == 0 &&
               json_integer_value(json_object_get(j, "from")) == s->from) {
        assert_int_equal(json_integer_value(json_object_get(j, "to_mid")), s->to);
        assert_int_equal(json_integer_value(json_object_get(j, "op")), OP_CHAT);
        const char *text = json_string_value(json_object_get(j, "msg"));
        assert_non_null(text);
        assert_string_equal(text, s->text);
        s->bad_order |= s->connect == 0;
        s->message++;
    } else if (strcmp(type, "disconnect") == 0 && is_from_conn(j, s)) {
        s->bad_order |= s->message == 0;
        s->disconnect++;
    }
    if (json_integer_value(json_object_get(j, "ts")) <= 0)
        fail_msg("event without a ts: %.*s", (int)msg->value_len, (const char *)msg->value);
    json_decref(j);
    kafka_consumer_done(s->consumer, msg->partition, msg->offset);
    if (s->connect && s->message && s->disconnect)
        uv_stop(s->loop);
}

/* The callback's view: the types of the sender's events, in the order they were POSTed. */
typedef struct posted_s {
    int64_t from;
    char types[64];
} posted_t;

static int sender_events_posted(json_t *items, void *arg)
{
    posted_t *p = arg;
    p->types[0] = '\0';
    size_t i;
    json_t *ev;
    json_array_foreach(items, i, ev)
    {
        const char *type = json_string_value(json_object_get(ev, "type"));
        int64_t mid = json_integer_value(
            json_object_get(ev, type && strcmp(type, "message") == 0 ? "from" : "mid"));
        if (type != NULL && mid == p->from &&
            strlen(p->types) + strlen(type) + 2 < sizeof(p->types))
            strcat(strcat(p->types, p->types[0] ? "," : ""), type);
    }
    return strcmp(p->types, "connect,message,disconnect") == 0;
}

static void on_deadline(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static void test_events(void **state)
{
    (void)state;
    const int64_t from = 7101, to = 7102;
    char *from_key = NULL;
    client_t *a = cluster_user(g_c, 0, CLIENT_TCP, from, NULL, 0, &from_key);
    client_t *b = cluster_user(g_c, 0, CLIENT_TCP, to, NULL, OP_CHAT, NULL);
    char body[128];
    snprintf(body, sizeof(body), "{\"to_mid\":%lld,\"op\":%d,\"msg\":\"event hi\"}", (long long)to,
             OP_CHAT);
    assert_int_equal(cluster_send_msg(a, 1, body, WAIT_MS), 0);
    cluster_expect_packet(b, "recipient", OP_CHAT, CLUSTER_ANY_SEQ, NULL, WAIT_MS);
    client_free(a);

    /* Consumed afterwards: a new group starts from the earliest offset, so nothing is missed, and
     * the disconnect (reported by comet asynchronously) is waited for below. */
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    seen_t s = {.from = from, .to = to, .from_key = from_key, .text = "event hi", .loop = &loop};
    char err[256] = "";
    kafka_group_t group = {"test-events", "herald-events", FETCH_WAIT_MS, 6000};
    s.consumer = kafka_consumer_new(&loop, cluster_kafka_brokers(g_c), NULL, &group, on_event, &s,
                                    err, sizeof(err));
    if (s.consumer == NULL)
        fail_msg("kafka_consumer_new: %s", err);
    uv_timer_t deadline;
    assert_int_equal(uv_timer_init(&loop, &deadline), 0);
    assert_int_equal(uv_timer_start(&deadline, on_deadline, EVENTS_WAIT_MS, 0), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    kafka_consumer_free(s.consumer);
    uv_close((uv_handle_t *)&deadline, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);

    if (!s.connect || !s.message || !s.disconnect)
        fail_msg("events seen for mid %lld: connect %d, message %d, disconnect %d", (long long)from,
                 s.connect, s.message, s.disconnect);
    assert_int_equal(s.connect, 1);
    assert_int_equal(s.message, 1);
    assert_int_equal(s.disconnect, 1);
    assert_false(s.bad_order);

    /* the same three through the callback, in order */
    posted_t p = {.from = from};
    if (!test_http_sink_wait(g_sink, sender_events_posted, &p, EVENTS_WAIT_MS))
        fail_msg("callback got these events of mid %lld: '%s'", (long long)from, p.types);
    client_free(b);
    free(from_key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_events)};
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
