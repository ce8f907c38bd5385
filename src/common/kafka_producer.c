/* kafka_producer.c - the producer half of the Kafka adapter (see kafka.h). Delivery reports
 * come on the handle's main queue, served from the loop by kafka_loop. */
#include "herald_err.h"
#include "kafka.h"
#include "kafka_loop.h"
#include "buf.h"
#include "list.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>

/* One message that has a callback, from kafka_produce to its delivery report (librdkafka's
 * per-message opaque). Linked into its producer so that kafka_producer_free can answer the ones
 * librdkafka never reports. */
typedef struct kafka_delivery_s {
    list_link_t link; /* in the producer's pending list */
    kafka_delivery_cb cb;
    void *arg;
    uint64_t start_ns; /* uv_hrtime() at kafka_produce */
} kafka_delivery_t;

/* Owned by the caller from kafka_producer_new to kafka_producer_free. */
struct kafka_producer_s {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    kafka_loop_t *kl;
    list_link_t pending;    /* kafka_delivery_t, the messages whose report has not come */
    metrics_hist_t latency; /* produce to acknowledged delivery report */
};

static int kafka_producer_status(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return 0;
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
        return HERALD_ETIMEDOUT;
    default:
        return HERALD_EUNAVAIL;
    }
}

static kafka_producer_t *kl_producer(kafka_loop_t *kl)
{
    return kl->owner;
}

static void kafka_producer_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    kafka_loop_t *kl = opaque;
    kafka_delivery_t *d = m->_private;

    if (m->err)
        log_debug("kafka producer: message not delivered: %s", rd_kafka_err2str(m->err));
    else
        kafka_loop_alive(kl);
    if (!d)
        return;
    list_unlink(&d->link);
    if (!m->err)
        metrics_hist_observe_since(&kl_producer(kl)->latency, d->start_ns);
    d->cb(kafka_producer_status(m->err), d->arg);
    free(d);
}

/* The main queue carries delivery reports and errors; rd_kafka_poll serves all it holds. */
static int kafka_producer_serve(void *owner)
{
    kafka_producer_t *p = owner;

    rd_kafka_poll(p->rk, 0);
    return 0;
}

/* The settings the producer's contract rests on (kafka.h): never from property.* */
static const char *const kafka_producer_owned[] = {"bootstrap.servers", "enable.idempotence",
                                                   "acks", NULL};

kafka_producer_t *kafka_producer_new(uv_loop_t *loop, const char *brokers,
                                     const conf_props_t *props, const char *topic, char *err,
                                     size_t errlen)
{
    kafka_producer_t *p = xcalloc(1, sizeof(*p));
    rd_kafka_conf_t *conf;

    list_init(&p->pending);
    p->kl = kafka_loop_new(loop, "producer", p);
    conf = kafka_loop_conf_new(p->kl, brokers, err, errlen);
    /* Idempotence implies acks=all and ordered retries; linger 1 ms adds no delay when idle. */
    if (!conf || kafka_loop_conf_set(conf, "enable.idempotence", "true", err, errlen) < 0 ||
        kafka_loop_conf_set(conf, "acks", "all", err, errlen) < 0 ||
        kafka_loop_conf_set(conf, "linger.ms", "1", err, errlen) < 0 ||
        kafka_loop_conf_set(conf, "message.timeout.ms", "30000", err, errlen) < 0 ||
        kafka_loop_conf_props(conf, props, kafka_producer_owned, err, errlen) < 0)
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, kafka_producer_on_delivery);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
    if (!p->rk)
        goto fail; /* conf is still ours */
    conf = NULL;
    p->rkt = rd_kafka_topic_new(p->rk, topic, NULL);
    if (!p->rkt) {
        snprintf(err, errlen, "kafka topic %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
        goto fail;
    }
    if (kafka_loop_start(p->kl, rd_kafka_queue_get_main(p->rk), kafka_producer_serve, err, errlen) <
        0)
        goto fail;
    return p;

fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (p->rkt)
        rd_kafka_topic_destroy(p->rkt);
    kafka_loop_free(p->kl);
    if (p->rk)
        rd_kafka_destroy(p->rk);
    free(p);
    return NULL;
}

int kafka_produce(kafka_producer_t *p, const void *key, size_t key_len, const void *value,
                  size_t value_len, kafka_delivery_cb cb, void *arg)
{
    kafka_delivery_t *d = NULL;
    rd_kafka_resp_err_t err;

    if (cb) {
        d = xmalloc(sizeof(*d));
        d->cb = cb;
        d->arg = arg;
        d->start_ns = uv_hrtime();
        list_append(&p->pending, &d->link);
    }
    if (rd_kafka_produce(p->rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)value,
                         value_len, key, key_len, d) == 0)
        return 0;
    err = rd_kafka_last_error();
    if (d) {
        list_unlink(&d->link);
        free(d);
    }
    log_debug("kafka producer: message refused: %s", rd_kafka_err2str(err));
    return err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ? HERALD_EINVAL : HERALD_EUNAVAIL;
}

const metrics_hist_t *kafka_producer_latency(const kafka_producer_t *p)
{
    return &p->latency;
}

void kafka_producer_free(kafka_producer_t *p, int timeout_ms)
{
    list_link_t *l;

    if (!p)
        return;
    /* flush serves delivery reports, so callbacks run from here. */
    rd_kafka_flush(p->rk, timeout_ms);
    if (rd_kafka_outq_len(p->rk) > 0) {
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(p->rk, 0); /* reports of the purged messages: HERALD_EUNAVAIL */
    }
    /* rd_kafka_destroy drops unserved reports without calling back: answer them here. */
    while ((l = list_first(&p->pending))) {
        kafka_delivery_t *d = list_entry(l, kafka_delivery_t, link);

        list_unlink(l);
        d->cb(HERALD_EUNAVAIL, d->arg);
        free(d);
    }
    rd_kafka_topic_destroy(p->rkt);
    kafka_loop_free(p->kl);
    rd_kafka_destroy(p->rk);
    free(p);
}
