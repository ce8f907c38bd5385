/* router_admin.h - what herald-router's admin endpoint (src/common/admin.h) shows:
 *   GET /health   {"code":0,"message":"ok","data":{"users":N,"conns":N,"epoch":"<16 hex>",
 *                 "log_level":"info"}}
 *   GET /ready    200 while serving; 503 {"code":-503,"message":"not ready","data":{"ready":false,
 *                 "draining":true,"missing":[]}} once stopping (a router needs no peer)
 *   GET /metrics  {"code":0,"message":"ok","data":{"users","conns","puts","gets","dels","renews",
 *                 "lists","evicted","rejected","expired","put_batches","batch_puts"}}; in the
 *                 Prometheus format (admin_wants_prometheus) herald_router_* (docs/operations.md)
 * Loop thread only.
 */
#ifndef ROUTER_ADMIN_H
#define ROUTER_ADMIN_H

#include "admin.h"
#include "router_rpc.h"

/* The arg of router_admin_ops. Owned by router_server_t, which sets stopping when it closes. */
typedef struct router_admin_s {
    const router_rpc_t *rpc;        /* borrowed: its table and counters are shown */
    const rpc_server_t *rpc_server; /* borrowed: its connection counters are shown */
    int stopping;
} router_admin_t;

/* Static storage; pass with a router_admin_t * to admin_new. */
extern const admin_ops_t router_admin_ops;

#endif
