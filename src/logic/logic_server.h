/* logic_server.h - one herald-logic instance: it builds the context (logic_ctx.h) with the
 * backends and services, binds the HTTP and RPC listeners, and takes everything down in order.
 *
 * Everything runs on one uv loop (single-threaded). Only this module writes the context; every
 * other module reads it and keeps its own state.
 */
#ifndef LOGIC_SERVER_H
#define LOGIC_SERVER_H

#include "logic_conf.h"

#include <stddef.h>
#include <uv.h>

typedef struct logic_server_s logic_server_t;

/* Creates the backends (Redis, Kafka producer, router clients: they connect in the background)
 * and binds the HTTP and RPC listeners. conf is borrowed and must outlive the server. Returns the
 * server, or NULL with a message in err when the configuration is unusable (bad address, port in
 * use, Kafka config refused); then whatever was opened is closing and goes away as the loop
 * runs. */
logic_server_t *logic_server_new(uv_loop_t *loop, const logic_conf_t *conf, char *err,
                                 size_t errlen);

/* Bound ports (for tests started with port 0). */
int logic_server_http_port(const logic_server_t *s);
int logic_server_rpc_port(const logic_server_t *s);

/* Graceful stop: stops the HTTP listener (requests in flight are dropped), refuses new RPC calls
 * with HERALD_EUNAVAIL, waits up to 5 s for Kafka deliveries in flight, closes the router clients
 * and Redis (work waiting on them fails), then the registry reload, the comet clients and the RPC
 * server, frees the server and calls cb (may be NULL). Call once. */
void logic_server_close(logic_server_t *s, void (*cb)(void *arg), void *arg);

#endif
