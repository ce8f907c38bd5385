/* kafka.h - Kafka adapter: librdkafka producer and consumer served from a libuv loop (the only
 * file that sees librdkafka). Both work the same against herald-kafka-dev and a real cluster:
 * only the bootstrap `brokers` string differs.
 *
 * librdkafka's callbacks are served on the loop: its queue event fd
 * (rd_kafka_queue_io_event_enable) is watched by a uv_poll_t, so there is no polling timer and no
 * callback on librdkafka's threads. A broker that is down is not an error here: librdkafka retries;
 * the adapter logs the outage once.
 */
#ifndef HERALD_KAFKA_H
#define HERALD_KAFKA_H

#include "conf.h"
#include "metrics.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* ------------------------------------------------------------------------------------ producer */

typedef struct kafka_producer_s kafka_producer_t;

/* Delivery report: status 0 when the broker acknowledged the message (acks=all), else a
 * HERALD_EUNAVAIL / HERALD_ETIMEDOUT after librdkafka gave up (message.timeout.ms). */
typedef void (*kafka_delivery_cb)(int status, void *arg);

/* Creates an idempotent producer for `topic` (linger 1 ms: herald adds no batching delay when
 * idle). props (may be NULL): the operator's [kafka] property.* pairs, applied last (they may
 * tune linger.ms, message.timeout.ms, security.protocol, sasl.*, ssl.* ...), except
 * bootstrap.servers, enable.idempotence and acks, which the delivery contract rests on and are
 * refused. Returns NULL and writes a message into err on a configuration error (never a
 * property's value). */
kafka_producer_t *kafka_producer_new(uv_loop_t *loop, const char *brokers,
                                     const conf_props_t *props, const char *topic, char *err,
                                     size_t errlen);

/* Queues one message (key and value copied). Returns 0 and calls cb exactly once later (cb may
 * be NULL), or HERALD_EUNAVAIL when the local queue is full (HERALD_EINVAL when the message is
 * over message.max.bytes), and then never calls cb. */
int kafka_produce(kafka_producer_t *p, const void *key, size_t key_len, const void *value,
                  size_t value_len, kafka_delivery_cb cb, void *arg);

/* The time from kafka_produce to the broker's acknowledgement, over the messages produced with a
 * callback and delivered. Borrowed from p. */
const metrics_hist_t *kafka_producer_latency(const kafka_producer_t *p);

/* Flushes outstanding messages for up to timeout_ms (blocking the loop: shutdown only), then
 * destroys the producer. Undelivered messages get their callback with HERALD_EUNAVAIL. Not from
 * inside a delivery callback. Like uv_close, the loop must run once more to release the
 * adapter's poll handle (before uv_loop_close). */
void kafka_producer_free(kafka_producer_t *p, int timeout_ms);

/* ------------------------------------------------------------------------------------ consumer */

typedef struct kafka_consumer_s kafka_consumer_t;

typedef struct kafka_msg_s {
    int32_t partition;
    int64_t offset;
    const void *key; /* borrowed, valid during the callback */
    size_t key_len;
    const void *value; /* borrowed, valid during the callback */
    size_t value_len;
} kafka_msg_t;

/* One message, in partition order. The consumer does not store offsets by itself: call
 * kafka_consumer_done() when the message has been handled (possibly after the callback returned);
 * the adapter commits, per partition, the highest offset below which every message is done
 * (at-least-once: nothing is committed past a message still in flight). */
typedef void (*kafka_message_cb)(const kafka_msg_t *msg, void *arg);

/* A consumer group membership: what kafka_consumer_new joins and how. Borrowed by
 * kafka_consumer_new (the strings are copied). */
typedef struct kafka_group_s {
    const char *group; /* group.id */
    const char *topic; /* the one topic subscribed to */
    /* How long a broker may hold a fetch that finds nothing (librdkafka's fetch.wait.max.ms): a
     * real broker answers as soon as a message arrives, but herald-kafka-dev (the mock cluster)
     * holds the fetch for the whole wait, so against it this is added latency. */
    uint32_t fetch_wait_ms;
    /* session.timeout.ms: a member that sends no heartbeat for this long is dropped and its
     * partitions go to the others, so it bounds how long a killed member's partitions wait. The
     * heartbeat interval is a sixth of it. A real broker refuses a value outside its
     * group.min.session.timeout.ms .. group.max.session.timeout.ms (6 s .. 30 min by default):
     * the consumer then logs the broker's error and gets no partitions. */
    uint32_t session_timeout_ms;
} kafka_group_t;

/* Joins consumer group g->group on g->topic, starting from the committed offsets (earliest when
 * none). props as for kafka_producer_new; refused here: bootstrap.servers, group.id,
 * session.timeout.ms (set from g), enable.auto.commit, enable.auto.offset.store,
 * auto.offset.reset and partition.assignment.strategy (the at-least-once tracking and the eager
 * rebalance callback above rest on them), statistics.interval.ms (job's readiness and consumer
 * lag read the statistics), and any alias that changes one of them. Returns NULL with a message
 * in err on a configuration error. */
kafka_consumer_t *kafka_consumer_new(uv_loop_t *loop, const char *brokers,
                                     const conf_props_t *props, const kafka_group_t *g,
                                     kafka_message_cb cb, void *arg, char *err, size_t errlen);

/* Marks (partition, offset) handled. Offsets of a revoked partition are ignored. */
void kafka_consumer_done(kafka_consumer_t *c, int32_t partition, int64_t offset);

/* How many partitions the group has assigned to this consumer now (0 before the first
 * assignment, and between a revoke and the next assignment). */
int kafka_consumer_assigned(const kafka_consumer_t *c);

/* Pauses delivery of new messages (back-pressure) / resumes it. */
void kafka_consumer_pause(kafka_consumer_t *c);
void kafka_consumer_resume(kafka_consumer_t *c);

/* From librdkafka's statistics (kafka_stats.h, every second): the consumer lag of each partition
 * of the topic (high watermark minus committed offset; -1 unknown), ascending, borrowed until the
 * next loop iteration; and the number of brokers up, or -1 before the first statistics. */
typedef struct kafka_partition_lag_s {
    int32_t partition;
    int64_t lag;
} kafka_partition_lag_t;
size_t kafka_consumer_lag(const kafka_consumer_t *c, const kafka_partition_lag_t **out);
int kafka_consumer_brokers_up(const kafka_consumer_t *c);

/* Commits what is done, leaves the group and frees (blocks the loop briefly: shutdown only).
 * Not from inside the message callback. The loop must run once more afterwards, as for
 * kafka_producer_free. */
void kafka_consumer_free(kafka_consumer_t *c);

#endif
