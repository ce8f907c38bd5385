/* rpc_methods.h - method ids of the internal RPC services (DESIGN.md §5).
 * Request/reply message types are in proto/herald.proto, named <Method>Req / <Method>Reply.
 * Ids are wire contract: never renumber. */
#ifndef HERALD_RPC_METHODS_H
#define HERALD_RPC_METHODS_H

#include <stddef.h>

enum rpc_method {
    /* Logic service, called by comet */
    RPC_LOGIC_CONNECT = 101,      /* ConnectReq -> ConnectReply */
    RPC_LOGIC_DISCONNECT = 102,   /* DisconnectReq -> DisconnectReply */
    RPC_LOGIC_HEARTBEAT = 103,    /* HeartbeatReq -> HeartbeatReply */
    RPC_LOGIC_RENEW_ONLINE = 104, /* RenewOnlineReq -> RenewOnlineReply */
    RPC_LOGIC_RECEIVE = 105,      /* ReceiveReq -> ReceiveReply */
    RPC_LOGIC_ACK = 106,          /* AckReq -> AckReply */
    RPC_LOGIC_SERVER_DOWN = 107,  /* ServerDownReq -> ServerDownReply */
    RPC_LOGIC_FETCH = 108,        /* FetchReq -> FetchReply (a range of a user's inbox) */
    RPC_LOGIC_JOIN_ROOM = 109,    /* JoinRoomReq -> JoinRoomReply (a room's first member here) */
    RPC_LOGIC_REPLAY = 110,       /* ReplayReq -> ReplayReply (a comet's placements after a
                                   * router's new epoch) */

    /* Comet service, called by job (and logic for kicks and room members) */
    RPC_COMET_PUSH_KEYS = 201,      /* PushKeysReq -> PushKeysReply */
    RPC_COMET_BROADCAST_ROOM = 202, /* BroadcastRoomReq -> BroadcastRoomReply */
    RPC_COMET_BROADCAST = 203,      /* BroadcastReq -> BroadcastReply */
    RPC_COMET_ROOMS = 204,          /* RoomsReq -> RoomsReply */
    RPC_COMET_KICK = 205,           /* KickReq -> KickReply */
    RPC_COMET_ROOM_MEMBERS = 206,   /* RoomMembersReq -> RoomMembersReply (logic's members route) */
    RPC_COMET_REPLAY_ROUTER = 207,  /* ReplayRouterReq -> ReplayRouterReply (logic: a router's
                                     * new epoch; the comet answers with Replay calls) */

    /* Router service, called by logic */
    RPC_ROUTER_PUT = 301,        /* PutReq -> PutReply */
    RPC_ROUTER_DEL = 302,        /* DelReq -> DelReply */
    RPC_ROUTER_RENEW = 303,      /* RenewReq -> RenewReply */
    RPC_ROUTER_GET = 304,        /* GetReq -> GetReply */
    RPC_ROUTER_COUNT = 305,      /* CountReq -> CountReply */
    RPC_ROUTER_DEL_SERVER = 306, /* DelServerReq -> DelServerReply */
    RPC_ROUTER_LIST = 307,       /* ListReq -> ListReply */
    RPC_ROUTER_PUT_BATCH = 308,  /* PutBatchReq -> PutBatchReply (a comet's replay) */
    RPC_ROUTER_INFO = 309,       /* RouterInfoReq -> RouterInfoReply (the router's epoch) */
};

/* The method's name as proto/herald.proto's service spells it ("PushKeys"), for logs and metric
 * labels; "unknown" for an id not listed above. */
const char *rpc_method_name(int method);

/* The methods above as a dense index (for per-method tables): 0 <= rpc_method_index(id) <
 * RPC_METHODS for a listed id, -1 for another; rpc_method_at(i) is the id at index i. */
#define RPC_METHODS 26
int rpc_method_index(int method);
int rpc_method_at(size_t i);

/* Placements in one ReplayReq (comet -> logic) and one PutBatchReq (logic -> router). */
#define RPC_REPLAY_BATCH_MAX 4096

#endif
