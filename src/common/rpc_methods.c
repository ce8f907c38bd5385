/* rpc_methods.c - see rpc_methods.h. */
#include "rpc_methods.h"

#include <stddef.h>

static const struct {
    int id;
    const char *name;
} names[] = {
    {RPC_LOGIC_CONNECT, "Connect"},
    {RPC_LOGIC_DISCONNECT, "Disconnect"},
    {RPC_LOGIC_HEARTBEAT, "Heartbeat"},
    {RPC_LOGIC_RENEW_ONLINE, "RenewOnline"},
    {RPC_LOGIC_RECEIVE, "Receive"},
    {RPC_LOGIC_ACK, "Ack"},
    {RPC_LOGIC_SERVER_DOWN, "ServerDown"},
    {RPC_LOGIC_FETCH, "Fetch"},
    {RPC_LOGIC_JOIN_ROOM, "JoinRoom"},
    {RPC_LOGIC_REPLAY, "Replay"},
    {RPC_COMET_PUSH_KEYS, "PushKeys"},
    {RPC_COMET_BROADCAST_ROOM, "BroadcastRoom"},
    {RPC_COMET_BROADCAST, "Broadcast"},
    {RPC_COMET_ROOMS, "Rooms"},
    {RPC_COMET_KICK, "Kick"},
    {RPC_COMET_ROOM_MEMBERS, "RoomMembers"},
    {RPC_COMET_REPLAY_ROUTER, "ReplayRouter"},
    {RPC_ROUTER_PUT, "Put"},
    {RPC_ROUTER_DEL, "Del"},
    {RPC_ROUTER_RENEW, "Renew"},
    {RPC_ROUTER_GET, "Get"},
    {RPC_ROUTER_COUNT, "Count"},
    {RPC_ROUTER_DEL_SERVER, "DelServer"},
    {RPC_ROUTER_LIST, "List"},
    {RPC_ROUTER_PUT_BATCH, "PutBatch"},
    {RPC_ROUTER_INFO, "RouterInfo"},
};

#define NAMES (sizeof names / sizeof names[0])
_Static_assert(NAMES == RPC_METHODS, "every method of rpc_methods.h is named here");

int rpc_method_index(int method)
{
    for (size_t i = 0; i < NAMES; i++)
        if (names[i].id == method)
            return (int)i;
    return -1;
}

int rpc_method_at(size_t i)
{
    return names[i].id;
}

const char *rpc_method_name(int method)
{
    int i = rpc_method_index(method);
    return i >= 0 ? names[i].name : "unknown";
}
