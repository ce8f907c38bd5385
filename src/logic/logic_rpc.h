/* logic_rpc.h - the Logic RPC service called by comets (DESIGN.md §5; ids in rpc_methods.h).
 *
 * Refusals the comet must act on (bad auth body, unknown token, overflow, backend down) travel in
 * the reply's own `code` field (ConnectReply, ReceiveReply); RPC-level errors (rpc_reply_error)
 * are used where the reply has no code field: malformed requests (HERALD_EINVAL) and backends
 * unavailable (HERALD_EUNAVAIL, also while logic is stopping). Loop thread only.
 */
#ifndef LOGIC_RPC_H
#define LOGIC_RPC_H

#include "logic_server.h"
#include "rpc.h"

/* Creates the RPC server with every Logic method and listens on conf->rpc_listen. Returns NULL
 * with a message in err on failure. */
rpc_server_t *logic_rpc_new(logic_server_t *s, char *err, size_t errlen);

/* Handlers (arg is the logic_server_t). logic_rpc_connect.c: */
void logic_rpc_connect(rpc_call_t *call, const ProtobufCMessage *req, void *arg);
/* logic_rpc_im.c: upstream messages and acknowledgements */
void logic_rpc_im_receive(rpc_call_t *call, const ProtobufCMessage *req, void *arg);
void logic_rpc_im_ack(rpc_call_t *call, const ProtobufCMessage *req, void *arg);
/* logic_rpc_inbox.c: a range of a user's inbox (comet's gap and backlog pages) */
void logic_rpc_inbox_fetch(rpc_call_t *call, const ProtobufCMessage *req, void *arg);

#endif
