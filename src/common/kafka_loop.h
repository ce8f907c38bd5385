/* kafka_loop.h - internal to the Kafka adapter (kafka_producer.c, kafka_consumer.c): one
 * librdkafka handle served from a libuv loop.
 *
 * librdkafka writes a byte into a pipe whenever the handle's final event queue goes from empty to
 * non-empty (rd_kafka_queue_io_event_enable); a uv_poll_t watches the pipe and calls the owner's
 * serve callback on the loop thread, which drains the queue. The configuration every handle
 * shares (brokers, logging into log.h, error_cb with once-per-outage logging) is made here too.
 * Loop thread only.
 */
#ifndef HERALD_KAFKA_LOOP_H
#define HERALD_KAFKA_LOOP_H

#include "conf.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <uv.h>

/* Serves the queue (rd_kafka_poll / rd_kafka_consumer_poll, timeout 0). Returns nonzero when it
 * stopped on its budget with events left, so that it is called again on a later loop iteration;
 * 0 once it found the queue empty. */
typedef int (*kafka_loop_serve_cb)(void *owner);

/* Owned by the producer or consumer; freed by kafka_loop_free (at once, or once its poll handle
 * has closed). */
typedef struct kafka_loop_s {
    uv_loop_t *loop;
    uv_poll_t poll;          /* initialised by kafka_loop_start */
    int fds[2];              /* pipe: librdkafka writes fds[1], the poll reads fds[0]; -1 unset */
    rd_kafka_queue_t *queue; /* owned reference, NULL before kafka_loop_start */
    kafka_loop_serve_cb serve;
    void *owner;      /* the producer or consumer its librdkafka callbacks work for */
    const char *role; /* "producer" / "consumer" in log lines (static string) */
    int outage;       /* brokers reported down and no sign of life since */
} kafka_loop_t;

kafka_loop_t *kafka_loop_new(uv_loop_t *loop, const char *role, void *owner);

/* A configuration with bootstrap.servers, logging and error_cb set, and `kl` as the handle's
 * opaque (every librdkafka callback gets it; kl->owner is the producer or consumer). Returns
 * NULL with a message in err. */
rd_kafka_conf_t *kafka_loop_conf_new(kafka_loop_t *kl, const char *brokers, char *err,
                                     size_t errlen);

/* rd_kafka_conf_set in herald's convention: 0, or HERALD_ECONF with a message in err that names
 * the key and never shows the value (librdkafka's own reason quotes it; a value may be a
 * password). */
int kafka_loop_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
                        size_t errlen);

/* Applies the operator's [kafka] property.* pairs (props may be NULL) after the adapter's own
 * settings, so that they override its tunables. A name in `owned` (NULL-terminated; the settings
 * a role's guarantees rest on) is refused, and so is a property that changes the value of one of
 * them on a copy of conf (an alias: request.required.acks, metadata.broker.list), as is any name
 * or value librdkafka refuses: 0, or
 * HERALD_ECONF with a message naming the property and where it was set, never its value. */
int kafka_loop_conf_props(rd_kafka_conf_t *conf, const conf_props_t *props,
                          const char *const *owned, char *err, size_t errlen);

/* Takes ownership of `queue` (its handle's final queue: the main queue of a producer, the
 * consumer queue of a consumer), enables its io event and starts serving it with `serve`.
 * Returns 0, or a UV_E* code with a message in err (the queue is then released by
 * kafka_loop_free all the same). */
int kafka_loop_start(kafka_loop_t *kl, rd_kafka_queue_t *queue, kafka_loop_serve_cb serve,
                     char *err, size_t errlen);

/* A sign that the brokers are reachable (a delivery, a message, an assignment): logs the end
 * of an outage that error_cb logged. */
void kafka_loop_alive(kafka_loop_t *kl);

/* Stops serving and releases the queue; call before rd_kafka_destroy. Once started, the memory
 * goes when the poll handle has closed, so the loop must run once more. NULL is a no-op. */
void kafka_loop_free(kafka_loop_t *kl);

#endif
