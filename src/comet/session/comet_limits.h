/* comet_limits.h - the limits of comet's connections that a SIGHUP reload may change
 * ([protocol] and [server] fanout_batch in conf/comet.ini).
 *
 * Each worker keeps its own copy (comet_session_t.limits) and reads only that one; a reload
 * builds a new one on the main thread and posts it to every worker's loop
 * (comet_worker_post_limits), so no worker reads what the main thread writes.
 */
#ifndef COMET_LIMITS_H
#define COMET_LIMITS_H

#include "comet_conf.h"
#include "comet_conn.h"

#include <stdint.h>

typedef struct comet_limits_s {
    comet_conns_limits_t conns; /* max_body, max_pending_bytes, auth and heartbeat deadlines */
    uint64_t max_msg;           /* OpSendMsg body bytes */
    uint32_t upstream_rate;     /* OpSendMsg per second per connection, 0 = unlimited */
    uint64_t renew_interval;    /* ms between two logic Heartbeats of a connection */
    uint32_t fanout_batch;      /* connections a fan-out writes per loop iteration */
} comet_limits_t;

/* The limits conf says. */
void comet_limits_from_conf(comet_limits_t *l, const comet_conf_t *conf);

#endif
