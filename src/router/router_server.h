/* router_server.h - herald-router on one loop: the Router RPC service, the admin endpoint and the
 * expiry sweep over one placement table.
 */
#ifndef ROUTER_SERVER_H
#define ROUTER_SERVER_H

#include "http.h"
#include "router_conf.h"
#include "router_rpc.h"
#include "router_table.h"
#include "rpc.h"

#include <uv.h>

/* Caller's storage (main's stack); it must stay valid until the loop has ended. */
typedef struct router_server_s {
    uv_loop_t *loop;
    const router_conf_t *conf; /* borrowed */
    router_table_t *table;
    router_rpc_t rpc;
    rpc_server_t *rpc_server;
    http_server_t *admin;
    uv_timer_t sweep_timer;
    int open; /* handles and servers not yet closed; the table is freed at 0 */
} router_server_t;

/* Creates the table and binds the RPC and admin listeners from conf. Returns 0, or a UV_E* /
 * HERALD_E* error (logged); on error the server is already closing: run the loop to let it end. */
int router_server_start(router_server_t *s, uv_loop_t *loop, const router_conf_t *conf);

/* Stops listening, drops connections, stops the sweep; the loop ends once everything is closed.
 * Call once. */
void router_server_close(router_server_t *s);

#endif
