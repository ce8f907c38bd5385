/* rpc_pool.c - see rpc_pool.h. */
#include "rpc_pool.h"

#include "addr.h"
#include "buf.h"
#include "herald_assert.h"
#include "list.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEER_ID_MAX 255

struct rpc_peer_s {
    rpc_pool_t *pool;
    char *id;
    char *addr;           /* "" once gone */
    rpc_client_t *client; /* NULL once gone */
    void *data;
    int refs;
};

/* A call waiting for its peer: the request is kept packed, since the caller's message is only
 * borrowed. Heap, owned by the pool's waiting list. */
typedef struct pool_wait_s {
    list_link_t link;
    char *id;
    uint16_t method;
    const ProtobufCMessageDescriptor *req_desc, *reply_desc;
    uint8_t *packed;
    size_t len;
    uint32_t timeout_ms;
    uint64_t give_up; /* uv_now() */
    rpc_reply_cb cb;
    void *arg;
} pool_wait_t;

struct rpc_pool_s {
    uv_loop_t *loop;
    char *kind;
    const rpc_pool_ops_t *ops;
    void *arg;
    rpc_peer_t **peers; /* held: each holds the pool's reference */
    size_t n, cap;
    size_t alive; /* peers not yet freed, held or gone */
    list_link_t waiting;
    uv_timer_t timer; /* retries the waiting calls while there are any */
    int open;         /* clients still closing, plus the timer */
    int closing;
    void (*close_cb)(void *arg);
    void *close_arg;
};

rpc_pool_t *rpc_pool_new(uv_loop_t *loop, const char *kind, const rpc_pool_ops_t *ops, void *arg)
{
    rpc_pool_t *p = xcalloc(1, sizeof(*p));
    p->loop = loop;
    p->kind = xstrdup(kind);
    p->ops = ops;
    p->arg = arg;
    list_init(&p->waiting);
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    p->open = 1;
    return p;
}

/* The pool goes once it is closing and nothing of it is left. */
static void pool_maybe_free(rpc_pool_t *p)
{
    if (!p->closing || p->open > 0 || p->alive > 0)
        return;
    void (*cb)(void *) = p->close_cb;
    void *arg = p->close_arg;
    free(p->peers);
    free(p->kind);
    free(p);
    if (cb != NULL)
        cb(arg);
}

static void on_client_closed(void *arg)
{
    rpc_pool_t *p = arg;
    p->open--;
    pool_maybe_free(p);
}

static void on_timer_closed(uv_handle_t *h)
{
    rpc_pool_t *p = h->data;
    p->open--;
    pool_maybe_free(p);
}

/* A new client for peer at its address (valid: checked by put). */
static void peer_dial(rpc_peer_t *peer)
{
    char host[ADDR_HOST_MAX], name[PEER_ID_MAX + 64];
    int port;
    HERALD_ASSERT(addr_split(peer->addr, host, &port) == 0);
    snprintf(name, sizeof(name), "%s %s", peer->pool->kind, peer->id);
    peer->client = rpc_client_new(peer->pool->loop, name, host, port);
    peer->pool->open++;
}

static void peer_hangup(rpc_peer_t *peer)
{
    if (peer->client == NULL)
        return;
    rpc_client_close(peer->client, on_client_closed, peer->pool);
    peer->client = NULL;
}

void rpc_peer_ref(rpc_peer_t *peer)
{
    peer->refs++;
}

void rpc_peer_unref(rpc_peer_t *peer)
{
    HERALD_ASSERT(peer->refs > 0);
    if (--peer->refs > 0)
        return;
    rpc_pool_t *p = peer->pool;
    if (peer->data != NULL && p->ops->peer_free != NULL)
        p->ops->peer_free(p->arg, peer->data);
    free(peer->id);
    free(peer->addr);
    free(peer);
    p->alive--;
    pool_maybe_free(p);
}

static size_t peer_index(const rpc_pool_t *p, const char *id)
{
    size_t i;
    for (i = 0; i < p->n; i++)
        if (strcmp(p->peers[i]->id, id) == 0)
            break;
    return i;
}

rpc_peer_t *rpc_pool_find(const rpc_pool_t *p, const char *id)
{
    size_t i = peer_index(p, id);
    return i < p->n ? p->peers[i] : NULL;
}

size_t rpc_pool_count(const rpc_pool_t *p)
{
    return p->n;
}

rpc_peer_t *rpc_pool_at(const rpc_pool_t *p, size_t i)
{
    HERALD_ASSERT(i < p->n);
    return p->peers[i];
}

void rpc_pool_remove(rpc_pool_t *p, const char *id)
{
    size_t i = peer_index(p, id);
    if (i == p->n)
        return;
    rpc_peer_t *peer = p->peers[i];
    p->peers[i] = p->peers[--p->n];
    peer_hangup(peer); /* its calls in flight end later, from the client's close */
    peer->addr[0] = '\0';
    rpc_peer_unref(peer); /* the pool's reference */
}

static int addr_usable(const char *addr)
{
    return addr != NULL && addr_port_of(addr) > 0;
}

rpc_peer_t *rpc_pool_put(rpc_pool_t *p, const char *id, const char *addr)
{
    rpc_peer_t *peer = rpc_pool_find(p, id);
    if (p->closing || !addr_usable(addr) || strlen(id) == 0 || strlen(id) > PEER_ID_MAX) {
        if (peer != NULL)
            rpc_pool_remove(p, id);
        return NULL;
    }
    if (peer != NULL) {
        if (strcmp(peer->addr, addr) != 0) { /* moved: its old address is dead */
            peer_hangup(peer);
            free(peer->addr);
            peer->addr = xstrdup(addr);
            peer_dial(peer);
        }
        return peer;
    }
    peer = xcalloc(1, sizeof(*peer));
    peer->pool = p;
    peer->id = xstrdup(id);
    peer->addr = xstrdup(addr);
    peer->refs = 1; /* the pool's */
    peer_dial(peer);
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 8;
        p->peers = xrealloc(p->peers, p->cap * sizeof(*p->peers));
    }
    p->peers[p->n++] = peer;
    p->alive++;
    return peer;
}

/* The peer a call to id goes to: asked of the resolver when there is one. */
static rpc_peer_t *peer_for(rpc_pool_t *p, const char *id)
{
    if (p->ops->resolve == NULL)
        return rpc_pool_find(p, id);
    return rpc_pool_put(p, id, p->ops->resolve(p->arg, id));
}

const char *rpc_peer_id(const rpc_peer_t *peer)
{
    return peer->id;
}

const char *rpc_peer_addr(const rpc_peer_t *peer)
{
    return peer->addr;
}

int rpc_peer_gone(const rpc_peer_t *peer)
{
    return peer->client == NULL;
}

int rpc_peer_connected(const rpc_peer_t *peer)
{
    return peer->client != NULL && rpc_client_connected(peer->client);
}

void rpc_peer_redial(rpc_peer_t *peer)
{
    if (peer->client != NULL)
        rpc_client_redial(peer->client);
}

void *rpc_peer_data(const rpc_peer_t *peer)
{
    return peer->data;
}

void rpc_peer_set_data(rpc_peer_t *peer, void *data)
{
    peer->data = data;
}

int rpc_peer_call(rpc_peer_t *peer, uint16_t method, const ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *reply_desc, uint32_t timeout_ms,
                  rpc_reply_cb cb, void *arg)
{
    if (peer->client == NULL)
        return UV_ECANCELED;
    return rpc_client_call(peer->client, method, req, reply_desc, timeout_ms, cb, arg);
}

/* ---------------------------------------------------------------------------- waiting calls */

static void wait_free(pool_wait_t *w)
{
    free(w->id);
    free(w->packed);
    free(w);
}

/* Sends w if its peer is connected now: 0 when sent, UV_ENOTCONN to keep waiting, or another
 * rpc_client_call error that ends the call. */
static int wait_try(rpc_pool_t *p, const pool_wait_t *w)
{
    rpc_peer_t *peer = peer_for(p, w->id);
    if (peer == NULL || !rpc_peer_connected(peer))
        return UV_ENOTCONN;
    ProtobufCMessage *req = protobuf_c_message_unpack(w->req_desc, NULL, w->len, w->packed);
    if (req == NULL) {
        fprintf(stderr, "rpc_pool: out of memory unpacking a waiting request\n");
        abort(); /* it was packed here: only memory can be missing */
    }
    int rc =
        rpc_client_call(peer->client, w->method, req, w->reply_desc, w->timeout_ms, w->cb, w->arg);
    protobuf_c_message_free_unpacked(req, NULL);
    return rc;
}

static void on_retry(uv_timer_t *t)
{
    rpc_pool_t *p = t->data;
    uint64_t now = uv_now(p->loop);
    LIST_FOREACH_SAFE(l, next, &p->waiting)
    {
        pool_wait_t *w = list_entry(l, pool_wait_t, link);
        int rc = wait_try(p, w);
        if (rc == UV_ENOTCONN && now < w->give_up)
            continue;
        list_unlink(l); /* before cb, which may start new calls */
        if (rc != 0)
            w->cb(rc, NULL, w->arg);
        wait_free(w);
        /* cb may have queued calls at the tail, which leaves `next` valid, or closed the pool,
         * which emptied the list and closed the timer */
        if (p->closing)
            return;
    }
    if (list_empty(&p->waiting))
        uv_timer_stop(&p->timer);
}

int rpc_pool_call(rpc_pool_t *p, const char *id, uint16_t method, const ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *reply_desc, uint32_t wait_ms,
                  uint32_t timeout_ms, rpc_reply_cb cb, void *arg)
{
    if (p->closing)
        return UV_ECANCELED;
    rpc_peer_t *peer = peer_for(p, id);
    if (peer != NULL && rpc_peer_connected(peer)) {
        int rc = rpc_client_call(peer->client, method, req, reply_desc, timeout_ms, cb, arg);
        if (rc != UV_ENOTCONN)
            return rc;
    }
    size_t len = protobuf_c_message_get_packed_size(req);
    if (len > RPC_MAX_FRAME - RPC_FRAME_HEADER)
        return UV_EMSGSIZE;
    pool_wait_t *w = xcalloc(1, sizeof(*w));
    w->id = xstrdup(id);
    w->method = method;
    w->req_desc = req->descriptor;
    w->reply_desc = reply_desc;
    w->packed = xmalloc(len ? len : 1);
    w->len = protobuf_c_message_pack(req, w->packed);
    w->timeout_ms = timeout_ms;
    w->give_up = uv_now(p->loop) + wait_ms;
    w->cb = cb;
    w->arg = arg;
    list_append(&p->waiting, &w->link);
    if (!uv_is_active((uv_handle_t *)&p->timer))
        uv_timer_start(&p->timer, on_retry, RPC_POOL_RETRY_MS, RPC_POOL_RETRY_MS);
    return 0;
}

void rpc_pool_close(rpc_pool_t *p, void (*cb)(void *arg), void *arg)
{
    HERALD_ASSERT(!p->closing);
    p->closing = 1; /* from here on no new call, no new peer */
    p->close_cb = cb;
    p->close_arg = arg;
    p->open++; /* hold: a callback below must not free the pool under this loop */
    list_link_t *l;
    while ((l = list_first(&p->waiting)) != NULL) {
        pool_wait_t *w = list_entry(l, pool_wait_t, link);
        list_unlink(l);
        w->cb(UV_ECANCELED, NULL, w->arg);
        wait_free(w);
    }
    while (p->n > 0)
        rpc_pool_remove(p, p->peers[p->n - 1]->id);
    uv_close((uv_handle_t *)&p->timer, on_timer_closed);
    p->open--;
    pool_maybe_free(p);
}
