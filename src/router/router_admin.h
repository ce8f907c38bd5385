/* router_admin.h - herald-router's admin HTTP endpoint (docs/internals.md):
 *   GET /health   {"code":0,"message":"ok","data":{"users":N,"conns":N}}
 *   GET /metrics  {"code":0,"message":"ok","data":{counters}}
 * Anything else is 404 (405 for another method on a known path).
 */
#ifndef ROUTER_ADMIN_H
#define ROUTER_ADMIN_H

#include "http.h"

/* The http_handler_cb of the admin server; arg is the router_rpc_t whose table and counters
 * are shown. */
void router_admin_on_request(http_request_t *req, void *arg);

#endif
