/* logic_events.c - business events on Kafka (see logic_events.h). */
#include "logic_events.h"

#include "buf.h"
#include "kafka.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct logic_events_s {
    logic_server_t *s;
    kafka_producer_t *producer; /* its own producer: a second topic, and a failure here must not
                                   mark the push path's Kafka as failing */
};

logic_events_t *logic_events_new(logic_server_t *s, char *err, size_t errlen)
{
    err[0] = '\0';
    if (s->conf->kafka_events_topic[0] == '\0')
        return NULL;
    char kerr[256] = "";
    kafka_producer_t *p = kafka_producer_new(s->loop, s->conf->kafka_brokers,
                                             s->conf->kafka_events_topic, kerr, sizeof(kerr));
    if (p == NULL) {
        snprintf(err, errlen, "kafka events: %s", kerr);
        return NULL;
    }
    logic_events_t *e = xcalloc(1, sizeof(*e));
    e->s = s;
    e->producer = p;
    return e;
}

void logic_events_free(logic_events_t *e, int timeout_ms)
{
    if (e == NULL)
        return;
    kafka_producer_free(e->producer, timeout_ms);
    free(e);
}

static void on_delivered(int status, void *arg)
{
    logic_events_t *e = arg;
    if (status != 0) {
        e->s->metrics.kafka_failed++;
        log_warn_rl("events: an event was not delivered to kafka");
    }
}

void logic_events_publish(logic_events_t *e, int64_t mid, json_t *event)
{
    if (e == NULL || e->s->stopping) {
        json_decref(event);
        return;
    }
    uv_timeval64_t now;
    uv_gettimeofday(&now);
    json_object_set_new(event, "ts",
                        json_integer((json_int_t)now.tv_sec * 1000 + now.tv_usec / 1000));
    char *text = json_dumps(event, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(event);
    char key[24];
    int klen = snprintf(key, sizeof(key), "%lld", (long long)mid);
    if (text == NULL ||
        kafka_produce(e->producer, key, (size_t)klen, text, strlen(text), on_delivered, e) != 0) {
        e->s->metrics.kafka_failed++;
        log_warn_rl("events: kafka queue full, an event was dropped");
    }
    free(text);
}
