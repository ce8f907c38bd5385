/* job_admin.h - herald-job's admin pages (admin.h), on its own port (admin.listen):
 *   GET /health   {"code":0,"message":"ok","data":{"comets":N,"comets_connected":N,
 *                  "in_flight":N,"paused":bool}}
 *   GET /ready    200 once Redis is connected, a Kafka broker is up (librdkafka's statistics)
 *                 and the comets are known (job_comets_ready), while not draining; else 503.
 *                 data {"ready","draining","missing":["redis"|"kafka"|"comets"...]}
 *   GET /metrics  /health's data plus the counters of job_stats_t; in the Prometheus format
 *                 (admin_wants_prometheus) herald_job_*, consumer lag per partition included
 * Loop thread only.
 */
#ifndef JOB_ADMIN_H
#define JOB_ADMIN_H

#include "admin.h"
#include "job_comets.h"
#include "job_deliver.h"
#include "kafka.h"
#include "redis.h"

/* What the pages read. Caller's storage (the server's); every pointer borrowed. */
typedef struct job_admin_s {
    redis_t *redis;
    const job_comets_t *comets;
    const job_deliver_t *deliver;
    const kafka_consumer_t *consumer; /* NULL until it exists and once it is freed */
    int draining;                     /* set when the server starts closing */
} job_admin_t;

/* The ops; their arg is a job_admin_t. */
extern const admin_ops_t job_admin_ops;

#endif
