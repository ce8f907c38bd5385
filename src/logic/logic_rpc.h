/* logic_rpc.h - the Logic RPC service called by comets (DESIGN.md §5; ids in rpc_methods.h).
 *
 * Refusals the comet must act on (bad auth body, unknown token, overflow, backend down) travel in
 * the reply's own `code` field (ConnectReply, ReceiveReply); RPC-level errors (rpc_reply_error)
 * are used where the reply has no code field: malformed requests (HERALD_EINVAL) and backends
 * unavailable (HERALD_EUNAVAIL, also while logic is stopping). The handlers live in
 * logic_rpc*.c; this module owns the server and the service's counters. Loop thread only.
 */
#ifndef LOGIC_RPC_H
#define LOGIC_RPC_H

#include "logic_ctx.h"
#include "rpc.h"

#include <jansson.h>

typedef struct logic_rpc_s logic_rpc_t;

/* The service's counters, monotonic since start (logic_rpc_metrics names them). */
typedef enum {
    LOGIC_RPC_CONNECTS,         /* successful Connect calls */
    LOGIC_RPC_CONNECT_FAILURES, /* refused or failed Connect calls */
    LOGIC_RPC_DISCONNECTS,
    LOGIC_RPC_HEARTBEATS,
    LOGIC_RPC_RENEW_ONLINES,
    LOGIC_RPC_RECEIVES, /* upstream messages accepted */
    LOGIC_RPC_RECEIVE_FAILURES,
    LOGIC_RPC_ACKS, /* ack entries stored */
    LOGIC_RPC_SERVER_DOWNS,
    LOGIC_RPC_FETCHES,    /* comet Fetch calls (gaps in a connection's stream, backlog pages) */
    LOGIC_RPC_ROOM_JOINS, /* JoinRoom announcements acknowledged by Kafka */
    LOGIC_RPC_ROOM_JOIN_FAILURES, /* JoinRoom refused (bad request) or not produced */
    LOGIC_RPC_REPLAYS, /* comet Replay calls (placements put back after a router's new epoch) */
    LOGIC_RPC_COUNTERS
} logic_rpc_counter_t;

/* Creates the RPC server with every Logic method and listens on ctx->conf->rpc_listen (ctx is
 * borrowed and must outlive the service). Returns NULL with a message in err on failure. */
logic_rpc_t *logic_rpc_new(const logic_ctx_t *ctx, char *err, size_t errlen);
int logic_rpc_port(const logic_rpc_t *r);

/* Closes the server (calls in flight are answered into the void), frees r, then cb (may be
 * NULL). */
void logic_rpc_close(logic_rpc_t *r, void (*cb)(void *arg), void *arg);

/* For the handlers: the context, and one more of a counter. */
const logic_ctx_t *logic_rpc_ctx(const logic_rpc_t *r);
void logic_rpc_count(logic_rpc_t *r, logic_rpc_counter_t which);

/* The counters into the metrics object out (connects, connect_failures, disconnects,
 * heartbeats, renew_onlines, receives, receive_failures, acks, server_downs, fetches,
 * room_joins, room_join_failures). */
void logic_rpc_metrics(const logic_rpc_t *r, json_t *out);

/* The RPC server, for its Prometheus metrics (admin_prom_rpc_server). */
const rpc_server_t *logic_rpc_server(const logic_rpc_t *r);

/* Handlers (arg is the logic_rpc_t). logic_rpc_connect.c: */
void logic_rpc_connect(rpc_call_t *call, const ProtobufCMessage *req, void *arg);
/* logic_rpc_im.c: upstream messages and acknowledgements */
void logic_rpc_im_receive(rpc_call_t *call, const ProtobufCMessage *req, void *arg);
void logic_rpc_im_ack(rpc_call_t *call, const ProtobufCMessage *req, void *arg);
/* logic_rpc_inbox.c: a range of a user's inbox (comet's gap and backlog pages) */
void logic_rpc_inbox_fetch(rpc_call_t *call, const ProtobufCMessage *req, void *arg);
/* logic_rpc_room.c: a comet's first member of a room (the JOIN announcement) */
void logic_rpc_room_join(rpc_call_t *call, const ProtobufCMessage *req, void *arg);

#endif
