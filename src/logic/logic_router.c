/* logic_router.c - router clients, shard choice and the batched Get fan-out. */
#include "logic_router.h"

#include "addr.h"
#include "buf.h"
#include "conf.h"
#include "herald_err.h"
#include "logic_ring.h"
#include "rpc.h"
#include "rpc_methods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Owned by logic_server; freed when the last client finished closing (logic_router_close). */
/* One router: its ring name (address) and client. Owned by the router set; freed when its client
 * has closed (removed from the ring, or at logic_router_close). */
typedef struct node_s {
    struct logic_router_s *r;
    char *addr;
    rpc_client_t *client;
} node_t;

/* Owned by logic_server; freed when the last client finished closing (logic_router_close). */
struct logic_router_s {
    uv_loop_t *loop;
    node_t **nodes; /* the ring's routers, in the order given to logic_router_new / _set */
    size_t n;
    logic_ring_t ring; /* valid when n > 0 */
    uint64_t ring_id;
    uint32_t timeout_ms;
    logic_router_up_cb on_up;
    void *on_up_arg;
    size_t closing; /* clients still closing (removed ones, and all of them at close) */
    int close_requested;
    void (*close_cb)(void *arg);
    void *close_arg;
};

static int translate(int status)
{
    switch (status) {
    case 0:
        return 0;
    case UV_ETIMEDOUT:
        return HERALD_ETIMEDOUT;
    case UV_ECONNRESET:
    case UV_ECANCELED:
    case UV_ENOTCONN:
        return HERALD_EUNAVAIL;
    default:
        /* The router's own herald code from rpc_reply_error (HERALD_E* span -1000..-1499);
         * anything else is about the link. */
        return status <= HERALD_EPROTO && status > HERALD_ECONF - 100 ? status : HERALD_EUNAVAIL;
    }
}

static void on_client_up(void *arg)
{
    node_t *node = arg;
    logic_router_t *r = node->r;
    for (size_t i = 0; i < r->n; i++)
        if (r->nodes[i] == node && r->on_up != NULL)
            r->on_up(i, r->on_up_arg);
}

static node_t *node_new(logic_router_t *r, const char *addr)
{
    char host[ADDR_HOST_MAX], name[300];
    int port;
    addr_split(addr, host, &port); /* checked by the caller */
    node_t *node = xcalloc(1, sizeof(*node));
    node->r = r;
    node->addr = xstrdup(addr);
    snprintf(name, sizeof(name), "router %s", addr);
    node->client = rpc_client_new(r->loop, name, host, port);
    rpc_client_set_backoff_max(node->client, LOGIC_ROUTER_BACKOFF_MAX_MS);
    rpc_client_set_on_connected(node->client, on_client_up, node);
    return node;
}

static void router_free(logic_router_t *r)
{
    void (*cb)(void *) = r->close_cb;
    void *cb_arg = r->close_arg;
    free(r->nodes);
    if (r->n > 0)
        logic_ring_deinit(&r->ring);
    free(r);
    if (cb != NULL)
        cb(cb_arg);
}

static void on_node_closed(void *arg)
{
    node_t *node = arg;
    logic_router_t *r = node->r;
    free(node->addr);
    free(node);
    if (--r->closing == 0 && r->close_requested)
        router_free(r);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The ring's identity: a hash of its sorted names (every logic with the same set agrees). */
static uint64_t ring_id_of(const char *const *names, size_t n)
{
    const char **sorted = xcalloc(n + 1, sizeof(*sorted));
    if (n > 0) /* names may be NULL for an empty set */
        memcpy(sorted, names, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), name_cmp);
    uint64_t h = 0x84222325cbf29ce4ULL;
    for (size_t i = 0; i < n; i++)
        h = logic_ring_hash_str(sorted[i], strlen(sorted[i])) ^ (h * 0x100000001b3ULL);
    free(sorted);
    return h;
}

/* Checks names[0..n): host:port each, none twice. 0, or HERALD_EINVAL with a message in err. */
static int names_check(const char *const *names, size_t n, char *err, size_t errlen)
{
    char host[ADDR_HOST_MAX];
    int port;
    for (size_t i = 0; i < n; i++) {
        if (addr_split(names[i], host, &port) != 0) {
            snprintf(err, errlen, "router.addrs: bad address \"%s\"", names[i]);
            return HERALD_EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(names[i], names[j]) == 0) {
                snprintf(err, errlen, "router.addrs: a router is listed twice");
                return HERALD_EINVAL;
            }
        }
    }
    return 0;
}

logic_router_t *logic_router_new(uv_loop_t *loop, const char *const *addrs, size_t n,
                                 uint32_t timeout_ms, char *err, size_t errlen)
{
    /* Check every address before connecting anything, so a bad list leaves nothing to close. */
    if (names_check(addrs, n, err, errlen) != 0)
        return NULL;
    logic_router_t *r = xcalloc(1, sizeof(*r));
    r->loop = loop;
    r->timeout_ms = timeout_ms;
    if (logic_router_set(r, addrs, n) < 0) {
        snprintf(err, errlen, "router.addrs: too many routers");
        free(r);
        return NULL;
    }
    return r;
}

int logic_router_set(logic_router_t *r, const char *const *names, size_t n)
{
    char err[128];
    if (names_check(names, n, err, sizeof(err)) != 0)
        return HERALD_EINVAL;
    uint64_t id = ring_id_of(names, n);
    if (r->nodes != NULL && id == r->ring_id && n == r->n)
        return 0;
    logic_ring_t ring;
    if (n > 0 && logic_ring_init(&ring, names, n, LOGIC_RING_VNODES) != 0)
        return HERALD_EINVAL;
    node_t **nodes = xcalloc(n + 1, sizeof(*nodes));
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < r->n && nodes[i] == NULL; k++) {
            if (r->nodes[k] != NULL && strcmp(r->nodes[k]->addr, names[i]) == 0) {
                nodes[i] = r->nodes[k];
                r->nodes[k] = NULL; /* kept */
            }
        }
        if (nodes[i] == NULL)
            nodes[i] = node_new(r, names[i]);
    }
    for (size_t k = 0; k < r->n; k++) { /* left the ring: calls in flight fail */
        if (r->nodes[k] != NULL) {
            r->closing++;
            rpc_client_close(r->nodes[k]->client, on_node_closed, r->nodes[k]);
        }
    }
    free(r->nodes);
    if (r->n > 0)
        logic_ring_deinit(&r->ring);
    r->nodes = nodes;
    r->n = n;
    if (n > 0)
        r->ring = ring;
    r->ring_id = id;
    return 1;
}

uint64_t logic_router_ring_id(const logic_router_t *r)
{
    return r->ring_id;
}

void logic_router_watch(logic_router_t *r, logic_router_up_cb on_up, void *arg)
{
    r->on_up = on_up;
    r->on_up_arg = arg;
}

size_t logic_router_owner(const logic_router_t *r, int64_t mid)
{
    return logic_ring_node(&r->ring, mid);
}

long logic_router_find(const logic_router_t *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->nodes[i]->addr, name) == 0)
            return (long)i;
    return -1;
}

typedef struct call_ctx_s {
    logic_router_reply_cb cb;
    void *arg;
} call_ctx_t;

static void on_call_reply(int status, const ProtobufCMessage *reply, void *arg)
{
    call_ctx_t c = *(call_ctx_t *)arg;
    free(arg);
    c.cb(translate(status), reply, c.arg);
}

int logic_router_call(logic_router_t *r, int64_t mid, uint16_t method, const ProtobufCMessage *req,
                      const ProtobufCMessageDescriptor *reply_desc, logic_router_reply_cb cb,
                      void *arg)
{
    if (r->n == 0)
        return HERALD_EUNAVAIL;
    return logic_router_call_at(r, logic_ring_node(&r->ring, mid), method, req, reply_desc, cb,
                                arg);
}

int logic_router_call_at(logic_router_t *r, size_t i, uint16_t method, const ProtobufCMessage *req,
                         const ProtobufCMessageDescriptor *reply_desc, logic_router_reply_cb cb,
                         void *arg)
{
    if (i >= r->n)
        return HERALD_EUNAVAIL;
    rpc_client_t *c = r->nodes[i]->client;
    call_ctx_t *ctx = xmalloc(sizeof(*ctx));
    *ctx = (call_ctx_t){cb, arg};
    if (rpc_client_call(c, method, req, reply_desc, r->timeout_ms, on_call_reply, ctx) != 0) {
        free(ctx);
        return HERALD_EUNAVAIL;
    }
    return 0;
}

size_t logic_router_count(const logic_router_t *r)
{
    return r->n;
}

const char *logic_router_addr(const logic_router_t *r, size_t i)
{
    return r->nodes[i]->addr;
}

int logic_router_connected(const logic_router_t *r, size_t i)
{
    return rpc_client_connected(r->nodes[i]->client);
}

size_t logic_router_in_flight(const logic_router_t *r, size_t i)
{
    return rpc_client_in_flight(r->nodes[i]->client);
}

/* ------------------------------------------------------------------------------------ Get */

typedef struct get_ctx_s {
    size_t pending;
    int status;
    logic_placement_t *found; /* key and server strings are heap copies */
    size_t nfound, capfound;
    logic_router_get_cb cb;
    void *arg;
} get_ctx_t;

static void get_ctx_finish(get_ctx_t *g)
{
    g->cb(g->status, g->status == 0 ? g->found : NULL, g->status == 0 ? g->nfound : 0, g->arg);
    for (size_t i = 0; i < g->nfound; i++) {
        free((char *)g->found[i].key);
        free((char *)g->found[i].server);
    }
    free(g->found);
    free(g);
}

static void on_get_reply(int status, const ProtobufCMessage *msg, void *arg)
{
    get_ctx_t *g = arg;
    status = translate(status);
    if (status != 0 && g->status == 0)
        g->status = status;
    if (status == 0) {
        const Herald__GetReply *reply = (const Herald__GetReply *)msg;
        for (size_t i = 0; i < reply->n_placements; i++) {
            const Herald__Placement *p = reply->placements[i];
            if (p == NULL || p->key == NULL || p->server == NULL)
                continue;
            if (g->nfound == g->capfound) {
                g->capfound = g->capfound ? g->capfound * 2 : 16;
                g->found = xrealloc(g->found, g->capfound * sizeof(*g->found));
            }
            g->found[g->nfound++] =
                (logic_placement_t){p->mid, xstrdup(p->key), xstrdup(p->server)};
        }
    }
    if (--g->pending == 0)
        get_ctx_finish(g);
}

int logic_router_get(logic_router_t *r, const int64_t *mids, size_t n, logic_router_get_cb cb,
                     void *arg)
{
    if (n == 0)
        return HERALD_EINVAL;
    if (r->n == 0)
        return HERALD_EUNAVAIL;
    /* Bucket the mids by shard: shard[i] is the node of mids[i]; per[node] the bucket size. */
    size_t *shard = xcalloc(n, sizeof(*shard));
    size_t *per = xcalloc(r->n, sizeof(*per));
    for (size_t i = 0; i < n; i++)
        per[shard[i] = logic_ring_node(&r->ring, mids[i])]++;
    int rc = 0;
    for (size_t node = 0; node < r->n; node++)
        if (per[node] > 0 && !rpc_client_connected(r->nodes[node]->client))
            rc = HERALD_EUNAVAIL;
    if (rc != 0) {
        free(per);
        free(shard);
        return rc;
    }
    get_ctx_t *g = xcalloc(1, sizeof(*g));
    g->cb = cb;
    g->arg = arg;
    g->pending = 1; /* held until every shard's call is out, so no early finish */
    int64_t *bucket = xcalloc(n, sizeof(*bucket));
    for (size_t node = 0; node < r->n; node++) {
        if (per[node] == 0)
            continue;
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (shard[i] == node)
                bucket[m++] = mids[i];
        Herald__GetReq req = HERALD__GET_REQ__INIT;
        req.n_mids = m;
        req.mids = bucket;
        if (rpc_client_call(r->nodes[node]->client, RPC_ROUTER_GET, (const ProtobufCMessage *)&req,
                            &herald__get_reply__descriptor, r->timeout_ms, on_get_reply, g) == 0)
            g->pending++;
        else if (g->status == 0)
            g->status = HERALD_EUNAVAIL;
    }
    free(bucket);
    free(per);
    free(shard);
    if (g->pending == 1 && g->status != 0) { /* nothing went out: no callback */
        free(g);
        return HERALD_EUNAVAIL;
    }
    g->pending--; /* drop the hold: at least one call is out, its reply finishes the fan-out */
    return 0;
}

/* ------------------------------------------------------------------------------ DelServer */

typedef struct del_ctx_s {
    size_t pending;
    int status;
    int64_t removed;
    logic_router_del_server_cb cb;
    void *arg;
} del_ctx_t;

static void on_del_server_reply(int status, const ProtobufCMessage *msg, void *arg)
{
    del_ctx_t *d = arg;
    status = translate(status);
    if (status == 0)
        d->removed += ((const Herald__DelServerReply *)msg)->removed;
    else if (d->status == 0)
        d->status = status;
    if (--d->pending == 0) {
        d->cb(d->status, d->removed, d->arg);
        free(d);
    }
}

int logic_router_del_server(logic_router_t *r, const char *server, logic_router_del_server_cb cb,
                            void *arg)
{
    del_ctx_t *d = xcalloc(1, sizeof(*d));
    d->cb = cb;
    d->arg = arg;
    d->pending = 1; /* hold, as in logic_router_get */
    Herald__DelServerReq req = HERALD__DEL_SERVER_REQ__INIT;
    req.server = (char *)server;
    for (size_t i = 0; i < r->n; i++) {
        if (rpc_client_call(r->nodes[i]->client, RPC_ROUTER_DEL_SERVER,
                            (const ProtobufCMessage *)&req, &herald__del_server_reply__descriptor,
                            r->timeout_ms, on_del_server_reply, d) == 0)
            d->pending++;
        else if (d->status == 0)
            d->status = HERALD_EUNAVAIL;
    }
    if (d->pending == 1) {
        free(d);
        return HERALD_EUNAVAIL;
    }
    d->pending--;
    return 0;
}

/* ---------------------------------------------------------------------------------- close */

void logic_router_close(logic_router_t *r, void (*cb)(void *arg), void *arg)
{
    r->close_cb = cb;
    r->close_arg = arg;
    r->close_requested = 1;
    r->closing += r->n + 1; /* hold: a client might finish closing synchronously */
    for (size_t i = 0; i < r->n; i++)
        rpc_client_close(r->nodes[i]->client, on_node_closed, r->nodes[i]);
    if (--r->closing == 0)
        router_free(r);
}
