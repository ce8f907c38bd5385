/* logic_events.c - business events on Kafka (see logic_events.h). */
#include "logic_events.h"

#include "buf.h"
#include "kafka.h"
#include "log.h"
#include "logic_callback.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct logic_events_s {
    const logic_ctx_t *ctx;
    kafka_producer_t *producer; /* its own producer: a second topic, and a failure here must not
                                   mark the push path's Kafka as failing; NULL: no topic */
    logic_callback_t *callback; /* NULL: no callback_url */
    uint64_t kafka_failed;      /* events Kafka refused or did not deliver */
};

logic_events_t *logic_events_new(const logic_ctx_t *ctx, char *err, size_t errlen)
{
    err[0] = '\0';
    const logic_conf_t *conf = ctx->conf;
    if (conf->kafka_events_topic[0] == '\0' && conf->events_callback_url[0] == '\0')
        return NULL;
    logic_events_t *e = xcalloc(1, sizeof(*e));
    e->ctx = ctx;
    if (conf->kafka_events_topic[0] != '\0') {
        char kerr[256] = "";
        e->producer = kafka_producer_new(ctx->loop, conf->kafka_brokers, &conf->kafka_props,
                                         conf->kafka_events_topic, kerr, sizeof(kerr));
        if (e->producer == NULL) {
            snprintf(err, errlen, "kafka events: %s", kerr);
            free(e);
            return NULL;
        }
    }
    if (conf->events_callback_url[0] != '\0') {
        e->callback = logic_callback_new(conf->events_callback_url, conf->events_callback_ca,
                                         conf->events_callback_timeout_ms,
                                         (size_t)conf->events_callback_queue, err, errlen);
        if (e->callback == NULL) {
            logic_events_free(e, 0);
            return NULL;
        }
    }
    return e;
}

void logic_events_free(logic_events_t *e, int timeout_ms)
{
    if (e == NULL)
        return;
    if (e->producer != NULL)
        kafka_producer_free(e->producer, timeout_ms);
    logic_callback_free(e->callback);
    free(e);
}

void logic_events_metrics(logic_events_t *e, json_t *out)
{
    logic_callback_stats_t st = {0, 0, 0};
    if (e != NULL && e->callback != NULL)
        logic_callback_stats(e->callback, &st);
    json_object_set_new(out, "events_posted", json_integer((json_int_t)st.posted));
    json_object_set_new(out, "events_post_failures", json_integer((json_int_t)st.failed_posts));
    json_object_set_new(out, "events_dropped", json_integer((json_int_t)st.dropped));
    json_int_t failed = json_integer_value(json_object_get(out, "kafka_failed"));
    json_object_set_new(out, "kafka_failed",
                        json_integer(failed + (json_int_t)(e != NULL ? e->kafka_failed : 0)));
}

static void on_delivered(int status, void *arg)
{
    logic_events_t *e = arg;
    if (status != 0) {
        e->kafka_failed++;
        log_warn_rl("events: an event was not delivered to kafka");
    }
}

void logic_events_publish(logic_events_t *e, int64_t mid, json_t *event)
{
    if (e == NULL || event == NULL || logic_ctx_stopping(e->ctx)) {
        json_decref(event);
        return;
    }
    uv_timeval64_t now;
    uv_gettimeofday(&now);
    json_object_set_new(event, "ts",
                        json_integer((json_int_t)now.tv_sec * 1000 + now.tv_usec / 1000));
    char *text = json_dumps(event, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(event);
    if (text == NULL) {
        log_warn_rl("events: an event could not be encoded");
        return;
    }
    if (e->callback != NULL)
        logic_callback_post(e->callback, text, strlen(text));
    char key[24];
    int klen = snprintf(key, sizeof(key), "%lld", (long long)mid);
    if (e->producer != NULL &&
        kafka_produce(e->producer, key, (size_t)klen, text, strlen(text), on_delivered, e) != 0) {
        e->kafka_failed++;
        log_warn_rl("events: kafka queue full, an event was dropped");
    }
    free(text);
}
