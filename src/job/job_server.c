/* job_server.c - wiring and shutdown order of herald-job. */
#include "job_server.h"

#include "addr.h"
#include "admin.h"
#include "buf.h"
#include "herald_err.h"
#include "job_admin.h"
#include "job_comets.h"
#include "job_deliver.h"
#include "kafka.h"
#include "log.h"
#include "redis.h"
#include "redis_conf.h"
#include "redis_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOB_DRAIN_POLL_MS 20

/* Owned by main (or a test); freed by job_server_close once everything in it is closed. */
struct job_server_s {
    uv_loop_t *loop;
    const job_conf_t *conf; /* borrowed */
    redis_t *redis;
    kafka_consumer_t *consumer;
    job_comets_t comets;
    job_deliver_t deliver;
    job_admin_t admin_src; /* what the admin pages read */
    admin_t *admin;
    uv_timer_t drain_timer;
    uint64_t drain_deadline;
    int open; /* parts still closing */
    void (*close_cb)(void *arg);
    void *close_arg;
};

static void on_comets_ready(void *arg)
{
    job_server_t *s = arg;
    job_deliver_hold(&s->deliver, 0);
}

static void on_part_closed(void *arg)
{
    job_server_t *s = arg;
    if (--s->open > 0)
        return;
    void (*cb)(void *) = s->close_cb;
    void *cb_arg = s->close_arg;
    free(s);
    if (cb != NULL)
        cb(cb_arg);
}

static void on_drain_timer_closed(uv_handle_t *h)
{
    on_part_closed(h->data);
}

/* Closes everything. The consumer goes first and blocks briefly: it commits the offsets that are
 * done and leaves the group while the comets are still there. Then the retries waiting are given
 * up and the comet clients closed, which fails the calls still in flight (their messages stay
 * uncommitted: redelivered to the next member of the group). */
static void close_parts(job_server_t *s)
{
    s->open = 1; /* hold until every close below has been started */
    if (s->consumer != NULL) {
        job_deliver_attach(&s->deliver, NULL);
        s->admin_src.consumer = NULL;
        kafka_consumer_free(s->consumer);
        s->consumer = NULL;
    }
    s->open += 4;
    job_deliver_close(&s->deliver, on_part_closed, s);
    job_comets_close(&s->comets, on_part_closed, s);
    redis_close(s->redis, on_part_closed, s);
    uv_close((uv_handle_t *)&s->drain_timer, on_drain_timer_closed);
    if (s->admin != NULL) {
        s->open++;
        admin_close(s->admin, on_part_closed, s);
        s->admin = NULL;
    }
    on_part_closed(s);
}

/* The addresses and the prefix, before anything is opened. */
static int conf_check(const job_conf_t *conf, char *err, size_t errlen)
{
    char host[ADDR_HOST_MAX];
    int port;
    if (redis_conf_check(&conf->redis, err, errlen) != 0)
        return HERALD_ECONF;
    if (addr_split(conf->admin_listen, host, &port) != 0) {
        snprintf(err, errlen, "admin.listen: bad address \"%s\"", conf->admin_listen);
        return HERALD_ECONF;
    }
    return 0;
}

job_server_t *job_server_new(uv_loop_t *loop, const job_conf_t *conf, char *err, size_t errlen)
{
    if (conf_check(conf, err, errlen) != 0)
        return NULL;
    char host[ADDR_HOST_MAX], kerr[512];
    int port;
    /* Checked above: this fails only when the password file went away meanwhile. */
    redis_t *redis = redis_conf_connect(loop, &conf->redis, err, errlen);
    if (redis == NULL)
        return NULL;
    job_server_t *s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->conf = conf;
    uv_timer_init(loop, &s->drain_timer);
    s->drain_timer.data = s;
    s->redis = redis;
    job_comets_init(&s->comets, loop, s->redis, conf);
    job_deliver_init(&s->deliver, loop, &s->comets, conf);
    s->admin_src = (job_admin_t){s->redis, &s->comets, &s->deliver, NULL, 0};

    addr_split(conf->admin_listen, host, &port);
    s->admin =
        admin_new(loop, &job_admin_ops, &s->admin_src, host, port, &conf->admin_tls, err, errlen);
    if (s->admin == NULL) {
        close_parts(s);
        return NULL;
    }
    kafka_group_t group = {
        .group = conf->kafka_group,
        .topic = conf->kafka_topic,
        .fetch_wait_ms = (uint32_t)conf->kafka_fetch_wait_ms,
        .session_timeout_ms = (uint32_t)conf->kafka_session_timeout_ms,
    };
    s->consumer = kafka_consumer_new(loop, conf->kafka_brokers, &conf->kafka_props, &group,
                                     job_deliver_on_message, &s->deliver, kerr, sizeof(kerr));
    if (s->consumer == NULL) {
        snprintf(err, errlen, "kafka consumer: %s", kerr);
        close_parts(s);
        return NULL;
    }
    s->admin_src.consumer = s->consumer;
    job_deliver_hold(&s->deliver, 1);
    job_deliver_attach(&s->deliver, s->consumer);
    job_comets_start(&s->comets, on_comets_ready, s);
    log_info("consuming %s as group %s (session %lld ms) from %s; registry %s at %s; admin on %s",
             conf->kafka_topic, conf->kafka_group, (long long)conf->kafka_session_timeout_ms,
             conf->kafka_brokers, s->comets.registry_key, conf->redis.addr, conf->admin_listen);
    return s;
}

int job_server_admin_port(const job_server_t *s)
{
    return admin_port(s->admin);
}

static void on_drain_timer(uv_timer_t *t)
{
    job_server_t *s = t->data;
    size_t in_flight = job_deliver_in_flight(&s->deliver);
    if (in_flight > 0 && uv_now(s->loop) < s->drain_deadline)
        return;
    if (in_flight > 0)
        log_warn("shutdown: %zu messages still in flight, left uncommitted", in_flight);
    uv_timer_stop(t);
    close_parts(s);
}

void job_server_close(job_server_t *s, void (*cb)(void *arg), void *arg)
{
    s->close_cb = cb;
    s->close_arg = arg;
    s->admin_src.draining = 1;
    job_deliver_stop(&s->deliver);
    s->drain_deadline = uv_now(s->loop) + (uint64_t)s->conf->shutdown_timeout_ms;
    uv_timer_start(&s->drain_timer, on_drain_timer, 0, JOB_DRAIN_POLL_MS);
}
