/* comet_admin.h - what comet's admin endpoint (admin.h: /health, /ready, /metrics, in goim's
 * reply envelope) carries as data, from the workers' counters.
 *
 * /health data: {"server","workers","conns","logic_connected","stopping"}. /metrics data: a flat
 * object of counters summed over the workers: server, workers, conns, sockets, ws_conns, rooms,
 * accepted, auth_ok, auth_failed, packets_in, packets_out, bytes_in, bytes_out, kicks, pushes,
 * protocol_errors, timeouts, slow_consumers, renewals, duplicates, fetches, fanouts_merged,
 * rooms_refused, replayed, replay_catchups (tests, tests/integration and bench read these names).
 * Main thread; the workers' counters are read while they run.
 */
#ifndef COMET_ADMIN_H
#define COMET_ADMIN_H

#include "comet_renew.h"
#include "comet_worker.h"

#include <jansson.h>

/* A new object (the caller owns the reference). */
json_t *comet_admin_health(const char *server_id, const comet_worker_t *workers, int n,
                           int logic_connected, int stopping);
json_t *comet_admin_metrics(const char *server_id, const comet_worker_t *workers, int n,
                            const comet_renew_t *renew);

/* /metrics in the Prometheus format (metrics.h): the counters and gauges above as
 * herald_comet_*, connections by transport, queued bytes, logic calls in flight (main_logic's
 * and every worker's), the push latency and fan-out histograms summed over the workers, and
 * the RPC server's metrics (rpc may be NULL). */
void comet_admin_prometheus(buf_t *out, const char *server_id, const comet_worker_t *workers, int n,
                            const comet_renew_t *renew, const rpc_server_t *rpc,
                            const comet_logic_t *main_logic);

#endif
