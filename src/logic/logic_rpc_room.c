/* logic_rpc_room.c - JoinRoom: a comet announces that a room got its first member there. The
 * announcement rides the room's own ordered Kafka stream (logic_push_join), and the comet holds
 * the client's op 8 / op 13 until this call answers, so job learns of the member before any push
 * to the room that logic accepts after the client was told it is in (docs/delivery.md "Rooms: no
 * window after a join"). */
#include "addr.h"
#include "buf.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "logic_push.h"
#include "logic_rpc.h"
#include "proto.h"
#include "registry.h"

#include <stdlib.h>
#include <string.h>

/* Longest rpc_addr taken: a host (ADDR_HOST_MAX with its NUL) and ":port". */
#define JOIN_RPC_ADDR_MAX (ADDR_HOST_MAX + 6)

typedef struct join_s {
    rpc_call_t *call;
    logic_rpc_t *r;
} join_t;

static void on_joined(int status, const char *message, json_t *data, void *arg)
{
    join_t *j = arg;
    json_decref(data);
    if (status != 0) {
        logic_rpc_count(j->r, LOGIC_RPC_ROOM_JOIN_FAILURES);
        rpc_reply_error(j->call, status, message);
    } else {
        logic_rpc_count(j->r, LOGIC_RPC_ROOM_JOINS);
        Herald__JoinRoomReply out = HERALD__JOIN_ROOM_REPLY__INIT;
        rpc_reply(j->call, (const ProtobufCMessage *)&out);
    }
    free(j);
}

/* rpc_addr is "" (job then waits for the registry) or a host:port job can dial. */
static int rpc_addr_ok(const char *a)
{
    if (a == NULL)
        return 0;
    size_t len = strlen(a);
    return len == 0 || (len < JOIN_RPC_ADDR_MAX && addr_port_of(a) > 0);
}

void logic_rpc_room_join(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    logic_rpc_t *r = arg;
    const Herald__JoinRoomReq *req = (const Herald__JoinRoomReq *)msg;
    if (req->room == NULL || !proto_room_id_valid(req->room, strlen(req->room)) ||
        registry_id_ok(req->server) != 0 || !rpc_addr_ok(req->rpc_addr)) {
        logic_rpc_count(r, LOGIC_RPC_ROOM_JOIN_FAILURES);
        rpc_reply_error(call, HERALD_EINVAL, "bad JoinRoom");
        return;
    }
    join_t *j = xmalloc(sizeof(*j));
    j->call = call;
    j->r = r;
    char err[160];
    int rc = logic_push_join(logic_rpc_ctx(r)->push, req->room, req->server, req->rpc_addr,
                             on_joined, j, err, sizeof(err));
    if (rc != 0) {
        log_warn_rl("JoinRoom %.64s from comet %s: %s", req->room, req->server, err);
        logic_rpc_count(r, LOGIC_RPC_ROOM_JOIN_FAILURES);
        rpc_reply_error(call, rc, err);
        free(j);
    }
}
