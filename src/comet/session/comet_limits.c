/* comet_limits.c - see comet_limits.h. */
#include "comet_limits.h"

void comet_limits_from_conf(comet_limits_t *l, const comet_conf_t *conf)
{
    *l = (comet_limits_t){
        .conns =
            {
                .max_body = (uint32_t)conf->max_body,
                .max_pending = (uint64_t)conf->max_pending_bytes,
                .auth_timeout_ms = (uint32_t)conf->auth_timeout,
                .idle_timeout_ms = (uint32_t)conf->heartbeat_timeout,
            },
        .max_msg = (uint64_t)conf->max_msg,
        .upstream_rate = (uint32_t)conf->upstream_rate,
        .renew_interval = (uint64_t)conf->renew_interval,
        .fanout_batch = (uint32_t)conf->fanout_batch,
    };
}
