/* router_rpc.c - Router service handlers: unpacked request -> table -> reply. */
#include "router_rpc.h"

#include "buf.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "rpc_methods.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

uint64_t router_rpc_epoch_new(void)
{
    uint64_t e = 0;
    while (e == 0)
        randombytes_buf(&e, sizeof(e));
    return e;
}

/* A placement from the request must name a key and a server within the table's bounds (Del and
 * Renew accept an empty server: "any"). */
static int placement_valid(const Herald__Placement *p, int need_server)
{
    if (p == NULL || p->key == NULL || p->key[0] == '\0' ||
        strnlen(p->key, ROUTER_KEY_MAX + 1) > ROUTER_KEY_MAX)
        return 0;
    if (p->server == NULL || strnlen(p->server, ROUTER_SERVER_MAX + 1) > ROUTER_SERVER_MAX)
        return 0;
    return !need_server || p->server[0] != '\0';
}

static void on_put(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    router_rpc_t *r = arg;
    const Herald__PutReq *req = (const Herald__PutReq *)msg;
    const Herald__Placement *p = req->placement;
    if (!placement_valid(p, 1)) {
        rpc_reply_error(call, HERALD_EINVAL, "put: placement needs a key and a server");
        return;
    }
    router_evicted_t ev;
    int rc = router_table_put(r->table, p->mid, p->key, p->server, r->now_ms(), &ev);
    Herald__PutReply reply = HERALD__PUT_REPLY__INIT;
    Herald__Placement evicted = HERALD__PLACEMENT__INIT;
    Herald__Placement *evicted_list[1] = {&evicted};
    r->stats.puts++;
    if (rc == HERALD_EOVERFLOW) {
        r->stats.rejected++;
        reply.code = rc;
    } else if (rc < 0) {
        rpc_reply_error(call, rc, herald_strerror(rc));
        return;
    }
    if (ev.has) {
        r->stats.evicted++;
        evicted.mid = p->mid;
        evicted.key = ev.key;
        evicted.server = ev.server;
        reply.evicted = evicted_list;
        reply.n_evicted = 1;
    }
    rpc_reply(call, (const ProtobufCMessage *)&reply);
}

static void on_put_batch(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    router_rpc_t *r = arg;
    const Herald__PutBatchReq *req = (const Herald__PutBatchReq *)msg;
    if (req->n_placements > RPC_REPLAY_BATCH_MAX) {
        rpc_reply_error(call, HERALD_EINVAL, "put_batch: too many placements in one call");
        return;
    }
    for (size_t i = 0; i < req->n_placements; i++) {
        if (!placement_valid(req->placements[i], 1)) {
            rpc_reply_error(call, HERALD_EINVAL, "put_batch: placement needs a key and a server");
            return;
        }
    }
    /* The comets replay what they hold: an eviction here would drop a live connection that a
     * Connect had admitted, so evictions are not returned (the overflow policy still bounds the
     * table; a connection pushed out is put again by its next renewal, if it is still up). */
    uint64_t now = r->now_ms();
    Herald__PutBatchReply reply = HERALD__PUT_BATCH_REPLY__INIT;
    for (size_t i = 0; i < req->n_placements; i++) {
        const Herald__Placement *p = req->placements[i];
        router_evicted_t ev;
        if (router_table_put(r->table, p->mid, p->key, p->server, now, &ev) == 0)
            reply.put++;
        if (ev.has)
            r->stats.evicted++;
    }
    r->stats.put_batches++;
    r->stats.batch_puts += (uint64_t)reply.put;
    reply.epoch = r->epoch;
    rpc_reply(call, (const ProtobufCMessage *)&reply);
}

static void on_info(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    (void)msg;
    router_rpc_t *r = arg;
    Herald__RouterInfoReply reply = HERALD__ROUTER_INFO_REPLY__INIT;
    reply.epoch = r->epoch;
    rpc_reply(call, (const ProtobufCMessage *)&reply);
}

static void on_del(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    router_rpc_t *r = arg;
    const Herald__Placement *p = ((const Herald__DelReq *)msg)->placement;
    if (!placement_valid(p, 0)) {
        rpc_reply_error(call, HERALD_EINVAL, "del: placement needs a key");
        return;
    }
    Herald__DelReply reply = HERALD__DEL_REPLY__INIT;
    reply.has = router_table_del(r->table, p->mid, p->key, p->server);
    r->stats.dels++;
    rpc_reply(call, (const ProtobufCMessage *)&reply);
}

static void on_renew(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    router_rpc_t *r = arg;
    const Herald__Placement *p = ((const Herald__RenewReq *)msg)->placement;
    if (!placement_valid(p, 0)) {
        rpc_reply_error(call, HERALD_EINVAL, "renew: placement needs a key");
        return;
    }
    Herald__RenewReply reply = HERALD__RENEW_REPLY__INIT;
    reply.has = router_table_renew(r->table, p->mid, p->key, p->server, r->now_ms());
    r->stats.renews++;
    rpc_reply(call, (const ProtobufCMessage *)&reply);
}

/* Placements collected for a Get reply; strings borrowed from the table, which does not change
 * before the reply is packed. */
typedef struct get_acc_s {
    Herald__Placement *items;
    size_t n, cap;
} get_acc_t;

static void on_get_visit(int64_t mid, const char *key, const char *server, void *arg)
{
    get_acc_t *acc = arg;
    if (acc->n == acc->cap) {
        acc->cap = acc->cap ? acc->cap * 2 : 16;
        acc->items = xrealloc(acc->items, acc->cap * sizeof(*acc->items));
    }
    Herald__Placement *p = &acc->items[acc->n++];
    herald__placement__init(p);
    p->mid = mid;
    p->key = (char *)key; /* protobuf-c strings are not const; packing only reads them */
    p->server = (char *)server;
}

static void on_get(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    router_rpc_t *r = arg;
    const Herald__GetReq *req = (const Herald__GetReq *)msg;
    if (req->n_mids > ROUTER_RPC_GET_MAX) {
        rpc_reply_error(call, HERALD_EINVAL, "get: too many mids in one call");
        return;
    }
    uint64_t now = r->now_ms();
    get_acc_t acc = {0};
    for (size_t i = 0; i < req->n_mids; i++)
        router_table_get(r->table, req->mids[i], now, on_get_visit, &acc);
    Herald__Placement **ptrs = xmalloc((acc.n ? acc.n : 1) * sizeof(*ptrs));
    for (size_t i = 0; i < acc.n; i++)
        ptrs[i] = &acc.items[i];
    Herald__GetReply reply = HERALD__GET_REPLY__INIT;
    reply.placements = ptrs;
    reply.n_placements = acc.n;
    r->stats.gets++;
    if (protobuf_c_message_get_packed_size((const ProtobufCMessage *)&reply) >
        RPC_MAX_FRAME - RPC_FRAME_HEADER)
        rpc_reply_error(call, HERALD_EINVAL, "get: reply too large, ask for fewer mids");
    else
        rpc_reply(call, (const ProtobufCMessage *)&reply);
    free(ptrs);
    free(acc.items);
}

static void on_count(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    router_rpc_t *r = arg;
    Herald__CountReply reply = HERALD__COUNT_REPLY__INIT;
    reply.users = (int64_t)router_table_users(r->table);
    reply.conns = (int64_t)router_table_conns(r->table);
    rpc_reply(call, (const ProtobufCMessage *)&reply);
}

static void on_del_server(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    router_rpc_t *r = arg;
    const Herald__DelServerReq *req = (const Herald__DelServerReq *)msg;
    if (req->server == NULL || req->server[0] == '\0') {
        rpc_reply_error(call, HERALD_EINVAL, "del_server: server is empty");
        return;
    }
    Herald__DelServerReply reply = HERALD__DEL_SERVER_REPLY__INIT;
    reply.removed = (int64_t)router_table_del_server(r->table, req->server);
    log_info("del_server %.128s: %lld placements removed (from %s)", req->server,
             (long long)reply.removed, rpc_call_peer(call));
    rpc_reply(call, (const ProtobufCMessage *)&reply);
}

static void on_list(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    router_rpc_t *r = arg;
    const Herald__ListReq *req = (const Herald__ListReq *)msg;
    size_t limit = req->limit <= 0 ? ROUTER_RPC_LIST_DEFAULT : (size_t)req->limit;
    if (limit > ROUTER_RPC_LIST_MAX)
        limit = ROUTER_RPC_LIST_MAX;
    int64_t *mids = xmalloc(limit * sizeof(*mids));
    int more;
    size_t n = router_table_list(r->table, req->cursor, r->now_ms(), mids, limit, &more);
    Herald__ListReply reply = HERALD__LIST_REPLY__INIT;
    reply.mids = mids;
    reply.n_mids = n;
    reply.next_cursor = more && n > 0 ? mids[n - 1] : 0;
    r->stats.lists++;
    rpc_reply(call, (const ProtobufCMessage *)&reply);
    free(mids);
}

static const rpc_method_t router_rpc_table[] = {
    {RPC_ROUTER_PUT, &herald__put_req__descriptor, on_put},
    {RPC_ROUTER_DEL, &herald__del_req__descriptor, on_del},
    {RPC_ROUTER_RENEW, &herald__renew_req__descriptor, on_renew},
    {RPC_ROUTER_GET, &herald__get_req__descriptor, on_get},
    {RPC_ROUTER_COUNT, &herald__count_req__descriptor, on_count},
    {RPC_ROUTER_DEL_SERVER, &herald__del_server_req__descriptor, on_del_server},
    {RPC_ROUTER_LIST, &herald__list_req__descriptor, on_list},
    {RPC_ROUTER_PUT_BATCH, &herald__put_batch_req__descriptor, on_put_batch},
    {RPC_ROUTER_INFO, &herald__router_info_req__descriptor, on_info},
};

const rpc_method_t *router_rpc_methods(size_t *n)
{
    *n = sizeof(router_rpc_table) / sizeof(router_rpc_table[0]);
    return router_rpc_table;
}
