/* kafka_loop.c - a librdkafka handle served from a libuv loop (see kafka_loop.h). */
#define _GNU_SOURCE /* pipe2 */
#include "kafka_loop.h"

#include "buf.h"
#include "herald_err.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

kafka_loop_t *kafka_loop_new(uv_loop_t *loop, const char *role, void *owner)
{
    kafka_loop_t *kl = xcalloc(1, sizeof(*kl));

    kl->loop = loop;
    kl->fds[0] = kl->fds[1] = -1;
    kl->owner = owner;
    kl->role = role;
    return kl;
}

/* Runs on librdkafka's own threads (log.queue is off), so it must only touch thread-safe state:
 * log_write is. Broker connection failures come through error_cb as well, where they are logged
 * once per outage; here they would repeat at every reconnect, so lines of level 3 (LOG_ERR,
 * which is what those are) stay at debug. */
static void kafka_loop_on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    if (level <= 2)
        log_error("kafka %s: %s", fac, buf);
    else if (level == 4)
        log_warn_rl("kafka %s: %s", fac, buf);
    else
        log_debug("kafka %s: %s", fac, buf);
}

/* Served from the handle's queue on the loop thread. */
static void kafka_loop_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    kafka_loop_t *kl = opaque;
    char fatal[512];

    switch (err) {
    case RD_KAFKA_RESP_ERR__FATAL:
        err = rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
        log_error("kafka %s: fatal error %s: %s", kl->role, rd_kafka_err2name(err), fatal);
        break;
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
        if (!kl->outage)
            log_warn("kafka %s: %s", kl->role, reason);
        kl->outage = 1;
        break;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__RESOLVE:
        /* One broker of several lost, or the first symptom of an outage. */
        if (kl->outage)
            log_debug("kafka %s: %s", kl->role, reason);
        else
            log_warn_rl("kafka %s: %s", kl->role, reason);
        break;
    default:
        log_warn_rl("kafka %s: %s: %s", kl->role, rd_kafka_err2name(err), reason);
    }
}

/* rd_kafka_conf_set: NULL when set, else why not, without the value (librdkafka's own reason
 * quotes it, and a value may be a password). */
static const char *kafka_loop_conf_try(rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char why[256];

    switch (rd_kafka_conf_set(conf, key, value, why, sizeof(why))) {
    case RD_KAFKA_CONF_OK:
        return NULL;
    case RD_KAFKA_CONF_UNKNOWN:
        return "no such librdkafka property";
    default:
        return "invalid value (not shown)";
    }
}

int kafka_loop_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
                        size_t errlen)
{
    const char *why = kafka_loop_conf_try(conf, key, value);

    if (why == NULL)
        return 0;
    snprintf(err, errlen, "kafka %s: %s", key, why);
    return HERALD_ECONF;
}

/* The value of name in conf as text. A topic property (acks, auto.offset.reset) lives in the
 * conf's default topic configuration, made by the first topic property set; before that it
 * reads as librdkafka's default. */
static void kafka_loop_conf_value(rd_kafka_conf_t *conf, const char *name, char *buf, size_t cap)
{
    rd_kafka_topic_conf_t *tconf = rd_kafka_conf_get_default_topic_conf(conf), *fresh = NULL;
    size_t n = cap;

    if (rd_kafka_conf_get(conf, name, buf, &n) == RD_KAFKA_CONF_OK)
        return;
    if (tconf == NULL)
        tconf = fresh = rd_kafka_topic_conf_new();
    n = cap;
    if (rd_kafka_topic_conf_get(tconf, name, buf, &n) != RD_KAFKA_CONF_OK)
        snprintf(buf, cap, "(unset)");
    if (fresh != NULL)
        rd_kafka_topic_conf_destroy(fresh);
}

/* The owned property whose value `probe` (a copy of conf with one more property set) changed:
 * an alias (request.required.acks for acks, metadata.broker.list for bootstrap.servers) is
 * caught by its effect, and repeating herald's own value is harmless. NULL when none. */
static const char *kafka_loop_conf_changed(rd_kafka_conf_t *conf, rd_kafka_conf_t *probe,
                                           const char *const *owned)
{
    char want[512], got[512];

    for (; *owned != NULL; owned++) {
        kafka_loop_conf_value(conf, *owned, want, sizeof(want));
        kafka_loop_conf_value(probe, *owned, got, sizeof(got));
        if (strcmp(want, got) != 0)
            return *owned;
    }
    return NULL;
}

int kafka_loop_conf_props(rd_kafka_conf_t *conf, const conf_props_t *props,
                          const char *const *owned, char *err, size_t errlen)
{
    for (size_t i = 0; props != NULL && i < props->n; i++) {
        const conf_prop_t *pr = &props->v[i];
        const char *why = NULL, *changed = NULL;

        for (const char *const *o = owned; why == NULL && *o != NULL; o++)
            if (strcmp(pr->name, *o) == 0)
                why = "set by herald: its delivery guarantees rest on it";
        if (why == NULL) {
            rd_kafka_conf_t *probe = rd_kafka_conf_dup(conf);
            why = kafka_loop_conf_try(probe, pr->name, pr->value);
            if (why == NULL)
                changed = kafka_loop_conf_changed(conf, probe, owned);
            rd_kafka_conf_destroy(probe);
        }
        if (changed != NULL) {
            snprintf(err, errlen,
                     "%s: [kafka] property.%s: changes %s, set by herald: its delivery "
                     "guarantees rest on it",
                     pr->origin, pr->name, changed);
            return HERALD_ECONF;
        }
        if (why == NULL)
            why = kafka_loop_conf_try(conf, pr->name, pr->value);
        if (why != NULL) {
            snprintf(err, errlen, "%s: [kafka] property.%s: %s", pr->origin, pr->name, why);
            return HERALD_ECONF;
        }
    }
    return 0;
}

rd_kafka_conf_t *kafka_loop_conf_new(kafka_loop_t *kl, const char *brokers, char *err,
                                     size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    /* Idle connections closed by the broker are routine: not worth a line. Reconnects back off
     * from 50 ms to at most 1 s (librdkafka: 100 ms to 10 s), so that a broker that comes back
     * is found within about a second: at 10 s, a short outage stalled delivery for 15 s. */
    if (kafka_loop_conf_set(conf, "bootstrap.servers", brokers, err, errlen) < 0 ||
        kafka_loop_conf_set(conf, "log.connection.close", "false", err, errlen) < 0 ||
        kafka_loop_conf_set(conf, "reconnect.backoff.ms", "50", err, errlen) < 0 ||
        kafka_loop_conf_set(conf, "reconnect.backoff.max.ms", "1000", err, errlen) < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, kl);
    rd_kafka_conf_set_log_cb(conf, kafka_loop_on_log);
    rd_kafka_conf_set_error_cb(conf, kafka_loop_on_error);
    return conf;
}

static void kafka_loop_kick(kafka_loop_t *kl)
{
    ssize_t n;

    do
        n = write(kl->fds[1], "1", 1);
    while (n < 0 && errno == EINTR);
    /* EAGAIN: the pipe is full of wake-ups already. */
}

static void kafka_loop_on_readable(uv_poll_t *handle, int status, int events)
{
    kafka_loop_t *kl = handle->data;
    char drain[64];
    ssize_t n;

    /* Empty the pipe first: librdkafka writes again only once the queue was read, so a write
     * that lands after this drain is never lost. */
    do
        n = read(kl->fds[0], drain, sizeof(drain));
    while (n > 0 || (n < 0 && errno == EINTR));
    /* librdkafka signals only an empty queue turning non-empty: if serve left events behind,
     * nothing else would wake us for them. */
    if (kl->serve(kl->owner))
        kafka_loop_kick(kl);
}

int kafka_loop_start(kafka_loop_t *kl, rd_kafka_queue_t *queue, kafka_loop_serve_cb serve,
                     char *err, size_t errlen)
{
    int rc;

    kl->queue = queue;
    kl->serve = serve;
    if (pipe2(kl->fds, O_NONBLOCK | O_CLOEXEC) < 0) {
        rc = -errno;
        kl->fds[0] = kl->fds[1] = -1;
        snprintf(err, errlen, "kafka %s: pipe: %s", kl->role, uv_strerror(rc));
        return rc;
    }
    rc = uv_poll_init(kl->loop, &kl->poll, kl->fds[0]);
    if (rc < 0) {
        snprintf(err, errlen, "kafka %s: uv_poll_init: %s", kl->role, uv_strerror(rc));
        close(kl->fds[0]);
        close(kl->fds[1]);
        kl->fds[0] = kl->fds[1] = -1;
        return rc;
    }
    kl->poll.data = kl;
    rd_kafka_queue_io_event_enable(queue, kl->fds[1], "1", 1);
    uv_poll_start(&kl->poll, UV_READABLE, kafka_loop_on_readable);
    kafka_loop_kick(kl); /* events queued before the io event was enabled */
    return 0;
}

void kafka_loop_alive(kafka_loop_t *kl)
{
    if (kl->outage)
        log_info("kafka %s: brokers reachable again", kl->role);
    kl->outage = 0;
}

static void kafka_loop_on_closed(uv_handle_t *handle)
{
    kafka_loop_t *kl = handle->data;

    close(kl->fds[0]);
    close(kl->fds[1]);
    free(kl);
}

void kafka_loop_free(kafka_loop_t *kl)
{
    if (!kl)
        return;
    if (kl->queue) {
        rd_kafka_queue_io_event_enable(kl->queue, -1, NULL, 0);
        rd_kafka_queue_destroy(kl->queue);
        kl->queue = NULL;
    }
    if (kl->fds[0] < 0) {
        free(kl);
        return;
    }
    /* The fds stay open until the poll handle is closed (libuv's rule for uv_poll). */
    uv_close((uv_handle_t *)&kl->poll, kafka_loop_on_closed);
}
