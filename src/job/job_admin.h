/* job_admin.h - herald-job's admin HTTP endpoint (docs/internals.md):
 *   GET /health   {"code":0,"message":"ok","data":{"comets":N,"in_flight":N,"paused":bool}}
 *   GET /metrics  {"code":0,"message":"ok","data":{counters of job_stats_t, in_flight, comets,
 *                  comets_connected, paused}}
 * Anything else is 404 (405 for another method on a known path).
 */
#ifndef JOB_ADMIN_H
#define JOB_ADMIN_H

#include "http.h"

/* The http_handler_cb of the admin server; arg is the job_deliver_t whose counters and comets
 * are shown. */
void job_admin_on_request(http_request_t *req, void *arg);

#endif
