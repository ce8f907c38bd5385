/* job_server.h - herald-job on one loop: the Kafka consumer, the comet registry and clients,
 * delivery, and the admin endpoint.
 */
#ifndef JOB_SERVER_H
#define JOB_SERVER_H

#include "http.h"
#include "job_comets.h"
#include "job_conf.h"
#include "job_deliver.h"
#include "kafka.h"
#include "redis.h"

#include <uv.h>

/* Caller's storage (main's stack); it must stay valid until the loop has ended. */
typedef struct job_server_s {
    uv_loop_t *loop;
    const job_conf_t *conf; /* borrowed */
    redis_t *redis;
    kafka_consumer_t *consumer;
    job_comets_t comets;
    job_deliver_t deliver;
    http_server_t *admin;
    uv_timer_t drain_timer;
    uint64_t drain_deadline;
    int stopping;
} job_server_t;

/* Connects to Redis, joins the consumer group (held until the comets are known) and binds the
 * admin listener. Returns 0, or a UV_E* / HERALD_E* error (logged); on error the server is
 * already closing: run the loop to let it end. */
int job_server_start(job_server_t *s, uv_loop_t *loop, const job_conf_t *conf);

/* Graceful stop: consumes nothing more, waits up to server.shutdown_timeout for the deliveries
 * in flight, then commits what is done, leaves the group and closes everything; the loop ends.
 * Call once. */
void job_server_stop(job_server_t *s);

#endif
