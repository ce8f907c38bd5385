/* logic_admin.h - logic's admin pages (admin.h), served on its API port through admin_route:
 *   /health   {"redis":"up|down","kafka":"up|failing|unknown","routers":[{"addr","up"}],
 *              "comets":N}: liveness plus the state of each backend, so a probe can tell
 *              "logic is up" from "logic can push"
 *   /ready    200 while Redis is connected, the last Kafka delivery did not fail and every
 *             router is connected, and logic is not stopping; else 503. data
 *             {"ready","draining","missing":["redis"|"kafka"|"routers"...]}
 *   /metrics  every module's counters (logic_http, logic_push, logic_rpc, logic_events); in
 *             the Prometheus format (admin_wants_prometheus) the same as herald_logic_*_total
 *             plus the latency histograms and gauges (docs/operations.md)
 * and the same under /herald/v1/. Loop thread only.
 */
#ifndef LOGIC_ADMIN_H
#define LOGIC_ADMIN_H

#include "admin.h"
#include "logic_ctx.h"
#include "logic_http.h"
#include "logic_rpc.h"

/* What the pages read. Caller's storage (the server's), filled while it starts: the listeners
 * are set once they exist, before the loop runs. */
typedef struct logic_admin_s {
    const logic_ctx_t *ctx;
    const logic_http_t *http;
    const logic_rpc_t *rpc;
} logic_admin_t;

/* The ops; their arg is a logic_admin_t. */
extern const admin_ops_t logic_admin_ops;

#endif
