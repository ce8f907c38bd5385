/* router_server.h - herald-router on one loop: the Router RPC service, the admin endpoint and the
 * expiry sweep over one placement table. Loop thread only.
 */
#ifndef ROUTER_SERVER_H
#define ROUTER_SERVER_H

#include "router_conf.h"

#include <stddef.h>
#include <uv.h>

typedef struct router_server_s router_server_t;

/* Creates the table and binds the RPC and admin listeners from conf (borrowed: it must outlive
 * the server). Returns the running server, or NULL with the reason in err (then nothing is left
 * open: the loop may be closed after one more uv_run). Aborts on OOM. */
router_server_t *router_server_new(uv_loop_t *loop, const router_conf_t *conf, char *err,
                                   size_t errlen);

/* Bound ports (useful with port 0 in conf). */
int router_server_rpc_port(const router_server_t *s);
int router_server_admin_port(const router_server_t *s);

/* Graceful stop: /ready turns 503, the listeners stop, connections are dropped, the sweep stops.
 * cb (may be NULL) runs once everything is closed and s and its table are freed. Call once. */
void router_server_close(router_server_t *s, void (*cb)(void *arg), void *arg);

#endif
