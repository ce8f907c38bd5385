/* job_admin.h - herald-job's admin pages (admin.h), on its own port (admin.listen):
 *   GET /health   {"code":0,"message":"ok","data":{"comets":N,"comets_connected":N,
 *                  "in_flight":N,"paused":bool}}
 *   GET /ready    200 once Redis is connected and the comets are known (job_comets_ready), else
 *                 503; data as /health
 *   GET /metrics  /health's data plus the counters of job_stats_t
 * Loop thread only.
 */
#ifndef JOB_ADMIN_H
#define JOB_ADMIN_H

#include "admin.h"
#include "job_comets.h"
#include "job_deliver.h"
#include "redis.h"

/* What the pages read. Caller's storage (the server's); every pointer borrowed. */
typedef struct job_admin_s {
    redis_t *redis;
    const job_comets_t *comets;
    const job_deliver_t *deliver;
} job_admin_t;

/* The ops; their arg is a job_admin_t. */
extern const admin_ops_t job_admin_ops;

#endif
