/* libFuzzer target: every RPC request message of proto/herald.proto, as rpc_server.c unpacks a
 * request frame's payload, then through the validation its handler does where that is a callable
 * function (logic's body and id checks, common's room id check; router's placement_valid and the
 * comet handlers' inline checks are static or inline and are reached only by the integration
 * tests). Input: byte 0 picks the request type, the rest is the packed message.
 * Also checks protobuf-c round-trips: packing the unpacked message and unpacking that again must
 * give the same bytes (see below for the one case protobuf-c itself breaks). Linked with logic_core
 * (the fuzz_<daemon>_ name prefix). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "herald.pb-c.h"
#include "logic_body.h"
#include "logic_params.h"
#include "registry.h"
#include "proto.h"

typedef void (*fuzz_check_fn)(const ProtobufCMessage *msg);

static void check_connect(const ProtobufCMessage *msg)
{
    const Herald__ConnectReq *req = (const Herald__ConnectReq *)msg;
    char err[200];
    logic_body_auth_t auth;
    (void)registry_id_ok(req->server);
    if (logic_body_auth(req->body.data, req->body.len, &auth, err, sizeof(err)) == 0)
        logic_body_auth_deinit(&auth);
}

/* logic_rpc.c placement_ok (static) is these two checks and mid >= 0. */
static void check_placement(const char *key, const char *server)
{
    if (key != NULL)
        (void)logic_params_key_ok(key, strlen(key));
    (void)registry_id_ok(server);
}

static void check_disconnect(const ProtobufCMessage *msg)
{
    const Herald__DisconnectReq *req = (const Herald__DisconnectReq *)msg;
    check_placement(req->key, req->server);
}

static void check_heartbeat(const ProtobufCMessage *msg)
{
    const Herald__HeartbeatReq *req = (const Herald__HeartbeatReq *)msg;
    check_placement(req->key, req->server);
}

/* logic_registry.c renew_valid (static) starts with the server id (registry.h). */
static void check_renew_online(const ProtobufCMessage *msg)
{
    const Herald__RenewOnlineReq *req = (const Herald__RenewOnlineReq *)msg;
    (void)registry_id_ok(req->server);
}

static void check_receive(const ProtobufCMessage *msg)
{
    const Herald__ReceiveReq *req = (const Herald__ReceiveReq *)msg;
    char err[200];
    logic_push_req_t preq;
    if (req->mid < 0 || req->proto == NULL)
        return;
    if (logic_body_upstream(req->proto->body.data, req->proto->body.len, req->mid, req->room_id,
                            &preq, err, sizeof(err)) != 0)
        return;
    if (preq.from_mid != req->mid || preq.operation < 1000 ||
        (preq.kind != LOGIC_PUSH_MIDS && preq.kind != LOGIC_PUSH_ROOM) ||
        (preq.kind == LOGIC_PUSH_MIDS && preq.nmids != 1))
        abort();
    logic_push_req_deinit(&preq);
}

static void check_ack(const ProtobufCMessage *msg)
{
    const Herald__AckReq *req = (const Herald__AckReq *)msg;
    for (size_t i = 0; i < req->n_acks; i++) {
        const Herald__AckEntry *e = req->acks[i];
        const char *who = e->device && e->device[0] ? e->device : e->key;
        if (who != NULL)
            (void)logic_params_key_ok(who, strlen(who));
    }
}

static void check_server_down(const ProtobufCMessage *msg)
{
    (void)registry_id_ok(((const Herald__ServerDownReq *)msg)->server);
}

static void check_replay(const ProtobufCMessage *msg)
{
    const Herald__ReplayReq *req = (const Herald__ReplayReq *)msg;
    (void)registry_id_ok(req->server);
    for (size_t i = 0; i < req->n_placements; i++)
        if (req->placements[i] != NULL)
            check_placement(req->placements[i]->key, req->placements[i]->server);
}

static void check_room(const char *room)
{
    if (room != NULL)
        (void)proto_room_id_valid(room, strlen(room));
}

static void check_broadcast_room(const ProtobufCMessage *msg)
{
    check_room(((const Herald__BroadcastRoomReq *)msg)->room_id);
}

static void check_room_members(const ProtobufCMessage *msg)
{
    check_room(((const Herald__RoomMembersReq *)msg)->room);
}

static void check_join_room(const ProtobufCMessage *msg)
{
    const Herald__JoinRoomReq *req = (const Herald__JoinRoomReq *)msg;
    check_room(req->room);
    (void)registry_id_ok(req->server);
    if (req->rpc_addr != NULL)
        (void)addr_port_of(req->rpc_addr);
}

static const struct {
    const ProtobufCMessageDescriptor *desc;
    fuzz_check_fn check;
} requests[] = {
    /* logic service */
    {&herald__connect_req__descriptor, check_connect},
    {&herald__disconnect_req__descriptor, check_disconnect},
    {&herald__heartbeat_req__descriptor, check_heartbeat},
    {&herald__renew_online_req__descriptor, check_renew_online},
    {&herald__receive_req__descriptor, check_receive},
    {&herald__ack_req__descriptor, check_ack},
    {&herald__fetch_req__descriptor, NULL},
    {&herald__server_down_req__descriptor, check_server_down},
    /* comet service */
    {&herald__push_keys_req__descriptor, NULL},
    {&herald__broadcast_room_req__descriptor, check_broadcast_room},
    {&herald__broadcast_req__descriptor, NULL},
    {&herald__rooms_req__descriptor, NULL},
    {&herald__kick_req__descriptor, NULL},
    {&herald__room_members_req__descriptor, check_room_members},
    /* router service */
    {&herald__put_req__descriptor, NULL},
    {&herald__del_req__descriptor, NULL},
    {&herald__renew_req__descriptor, NULL},
    {&herald__get_req__descriptor, NULL},
    {&herald__count_req__descriptor, NULL},
    {&herald__del_server_req__descriptor, NULL},
    {&herald__list_req__descriptor, NULL},
    /* logic service, added later: appended so that the corpus' first bytes keep their meaning */
    {&herald__join_room_req__descriptor, check_join_room},
    {&herald__replay_req__descriptor, check_replay},
    {&herald__replay_router_req__descriptor, NULL},
    {&herald__put_batch_req__descriptor, NULL},
    {&herald__router_info_req__descriptor, NULL},
};

/* Packs msg into a new buffer (free() it), checking the size protobuf-c announced. */
static uint8_t *pack(const ProtobufCMessage *msg, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(msg);
    uint8_t *out = malloc(*len ? *len : 1);
    if (out == NULL || protobuf_c_message_pack(msg, out) != *len)
        abort();
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t n = sizeof(requests) / sizeof(requests[0]);
    const ProtobufCMessageDescriptor *desc = requests[data[0] % n].desc;
    ProtobufCMessage *msg = protobuf_c_message_unpack(desc, NULL, size - 1, data + 1);
    if (msg == NULL)
        return 0;
    if (!protobuf_c_message_check(msg))
        abort(); /* unpack returned a message that breaks its own descriptor */
    if (requests[data[0] % n].check != NULL)
        requests[data[0] % n].check(msg);

    /* Packing what was unpacked and unpacking that again gives the same message. protobuf-c
     * 1.4 keeps a field numbered 0 as an unknown field when its tag is an overlong varint
     * ("81 00") and packs it back as "01", which it then refuses: such a repack does not read
     * back, and herald never repacks a received message, so only a repack that reads back is
     * compared. */
    size_t len1, len2;
    uint8_t *once = pack(msg, &len1);
    ProtobufCMessage *again = protobuf_c_message_unpack(desc, NULL, len1, once);
    if (again != NULL) {
        uint8_t *twice = pack(again, &len2);
        if (len1 != len2 || memcmp(once, twice, len1) != 0)
            abort();
        free(twice);
        protobuf_c_message_free_unpacked(again, NULL);
    }
    free(once);
    protobuf_c_message_free_unpacked(msg, NULL);
    return 0;
}
