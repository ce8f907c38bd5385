/* job_server.c - wiring and shutdown order of herald-job. */
#include "job_server.h"

#include "herald_err.h"
#include "job_admin.h"
#include "log.h"

#include <stdlib.h>

#define JOB_DRAIN_POLL_MS 20

static void on_comets_ready(void *arg)
{
    job_server_t *s = arg;
    job_deliver_hold(&s->deliver, 0);
}

/* Closes what start created. The consumer goes first and blocks briefly: it commits the offsets
 * that are done and leaves the group while the comets are still there. Then the retries waiting
 * are given up and the comet clients closed, which fails the calls still in flight (their
 * messages stay uncommitted: redelivered to the next member of the group). */
static void server_close(job_server_t *s)
{
    if (s->consumer != NULL) {
        job_deliver_attach(&s->deliver, NULL);
        kafka_consumer_free(s->consumer);
        s->consumer = NULL;
    }
    job_deliver_close(&s->deliver);
    job_comets_close(&s->comets, NULL, NULL);
    redis_close(s->redis, NULL, NULL);
    http_server_close(s->admin, NULL, NULL);
    uv_close((uv_handle_t *)&s->drain_timer, NULL);
}

int job_server_start(job_server_t *s, uv_loop_t *loop, const job_conf_t *conf)
{
    char err[512];
    char *host = NULL;
    int port, rc;
    s->loop = loop;
    s->conf = conf;
    uv_timer_init(loop, &s->drain_timer);
    s->drain_timer.data = s;

    rc = conf_parse_addr(conf->redis_addr, &host, &port);
    if (rc < 0) {
        log_error("redis addr '%s': %s", conf->redis_addr, herald_strerror(rc));
        uv_close((uv_handle_t *)&s->drain_timer, NULL);
        return rc;
    }
    s->redis = redis_new(loop, host, port, conf->redis_password, (int)conf->redis_db);
    free(host);
    job_comets_init(&s->comets, loop, s->redis, conf);
    job_deliver_init(&s->deliver, loop, &s->comets, conf);
    s->admin = http_server_new(loop, job_admin_on_request, &s->deliver, 4096);

    rc = conf_parse_addr(conf->admin_listen, &host, &port);
    if (rc == 0)
        rc = http_server_listen(s->admin, host, port);
    free(host);
    if (rc < 0) {
        log_error("admin listen %s: %s", conf->admin_listen, herald_strerror(rc));
        server_close(s);
        return rc;
    }
    s->consumer = kafka_consumer_new(loop, conf->kafka_brokers, conf->kafka_group,
                                     conf->kafka_topic, (uint32_t)conf->kafka_fetch_wait_ms,
                                     job_deliver_on_message, &s->deliver, err, sizeof(err));
    if (s->consumer == NULL) {
        log_error("kafka consumer: %s", err);
        server_close(s);
        return HERALD_ECONF;
    }
    job_deliver_hold(&s->deliver, 1);
    job_deliver_attach(&s->deliver, s->consumer);
    job_comets_start(&s->comets, on_comets_ready, s);
    log_info("consuming %s as group %s from %s; registry %scomets at %s; admin on %s",
             conf->kafka_topic, conf->kafka_group, conf->kafka_brokers, conf->redis_prefix,
             conf->redis_addr, conf->admin_listen);
    return 0;
}

static void on_drain_timer(uv_timer_t *t)
{
    job_server_t *s = t->data;
    if (s->deliver.in_flight > 0 && uv_now(s->loop) < s->drain_deadline)
        return;
    if (s->deliver.in_flight > 0)
        log_warn("shutdown: %zu messages still in flight, left uncommitted", s->deliver.in_flight);
    uv_timer_stop(t);
    server_close(s);
}

void job_server_stop(job_server_t *s)
{
    s->stopping = 1;
    job_deliver_stop(&s->deliver);
    s->drain_deadline = uv_now(s->loop) + (uint64_t)s->conf->shutdown_timeout_ms;
    uv_timer_start(&s->drain_timer, on_drain_timer, 0, JOB_DRAIN_POLL_MS);
}
