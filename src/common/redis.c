/* redis.c - the hiredis adapter (see redis.h): hiredis 0.14 async, attached to the loop with
 * hiredis's own libuv adapter. The only file that includes hiredis.
 *
 * A redis_t has one node (a single Redis) or, as a cluster client, one node per server it has
 * heard of (the seeds, then every master and replica of CLUSTER SLOTS; commands go to masters,
 * replicas are connected so that a promoted one is ready at once). Each node is one connection with
 * the states down (node->ac NULL, node->timer waits out the backoff), handshaking (node->ac set,
 * AUTH / SELECT / PING sent, node->timer is the connect deadline) and ready (commands accepted).
 * hiredis frees a context itself when its connection fails; the adapter learns it from the
 * connect or disconnect callback and only forgets its pointer there, never freeing from inside a
 * hiredis callback. The one place that frees a live context is a timer callback (deadline,
 * close).
 *
 * Cluster: every command is formatted first (its RESP bytes are kept for a redirect) and sent
 * to the master of its key's slot (redis_route.h, redis_slot.h); a keyless one to any ready
 * node. -MOVED updates that slot, asks for a new map and resends; -ASK sends ASKING and the
 * command to the node named, once. r->tick reloads the slot map (CLUSTER SLOTS from a ready
 * node) every REDIS_MAP_REFRESH_MS, and every REDIS_MAP_RETRY_MS while something is wrong with
 * it (a node lost, a redirect, a mapped master not ready): so after a failover the promoted
 * replica gets the slots once the cluster has promoted it. Nodes are never forgotten (a dead
 * one keeps reconnecting with backoff) until redis_close.
 */
#include "redis.h"

#include "buf.h"
#include "herald_err.h"
#include "log.h"
#include "redis_route.h"
#include "redis_slot.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REDIS_BACKOFF_MIN_MS 100
#define REDIS_BACKOFF_MAX_MS 5000
/* TCP connect plus the handshake replies. Also covers a host that drops SYNs, where the kernel
 * would otherwise take minutes to give up. */
#define REDIS_CONNECT_TIMEOUT_MS 3000
#define REDIS_MAP_REFRESH_MS 5000 /* cluster: slot map reload when all is well */
#define REDIS_MAP_RETRY_MS 250    /* cluster: and while it is not */
#define REDIS_MAP_ASK_MS 1000     /* cluster: a CLUSTER SLOTS unanswered this long is given up */
#define REDIS_REDIRECTS_MAX 5     /* MOVED / ASK hops of one command */
#define REDIS_NODES_MAX 1024

typedef struct redis_cmd_s redis_cmd_t;

/* One connection. Owned by its redis_t; freed in its timer's close callback. */
typedef struct redis_node_s {
    redis_t *r;
    uv_timer_t timer;      /* backoff while down, deadline while handshaking */
    redisAsyncContext *ac; /* NULL while down; freed by hiredis or by a timer callback */
    char *host;
    int port;
    int handshake_left;   /* handshake replies still expected on ac */
    uint64_t backoff_ms;  /* wait before the next attempt */
    unsigned ready : 1;   /* handshake done: commands are accepted */
    unsigned outage : 1;  /* a failure was logged and no recovery yet */
    unsigned master : 1;  /* cluster: serves slots in the last map */
    redis_cmd_t *waiting; /* redirected here before the connection was ready (a list, in order) */
    uint32_t map_gen;     /* cluster: the map request last sent here (redis_t.map_gen) */
} redis_node_t;

enum txn_state { TXN_NONE, TXN_DEFERRED, TXN_PINNED, TXN_BROKEN };

/* Owned by the caller from redis_new to redis_close; freed when its last handle has closed. */
struct redis_s {
    uv_loop_t *loop;
    uv_timer_t tick; /* cluster: map refresh and failing refused commands; both: deferred close */
    char *user;      /* ACL user, NULL for AUTH <password> alone */
    char *password;  /* NULL when none (then no AUTH) */
    int db;
    redis_node_t **nodes;
    size_t n_nodes;
    int16_t *slots;      /* cluster: the node index of each slot, -1 unknown; NULL for one Redis */
    uint64_t map_at_ms;  /* when the last map was asked for */
    unsigned map_ok : 1; /* a map has been loaded */
    unsigned map_stale : 1; /* reload it at the next retry tick */
    unsigned map_asked : 1; /* a CLUSTER SLOTS is in flight */
    uint32_t map_gen;       /* counts map requests: a reply to a superseded one is ignored */
    int txn;                /* enum txn_state: MULTI ... EXEC in cluster mode */
    redis_node_t *txn_node; /* TXN_PINNED: where the transaction runs */
    redis_cmd_t *txn_multi; /* TXN_DEFERRED: the MULTI, sent before the first keyed command */
    redis_cmd_t *failing;   /* accepted commands to fail from the next tick (a list) */
    unsigned closing : 1;
    size_t handles_open; /* while closing: node timers and tick not closed yet */
    void (*close_cb)(void *arg);
    void *close_arg;
};

/* One command in flight: hiredis's privdata, freed when its reply callback has run. */
struct redis_cmd_s {
    redis_t *r;
    redis_node_t *node; /* where it was sent */
    redis_reply_cb cb;
    void *arg;
    char *wire; /* cluster: the formatted command, for a redirect (hiredis's allocation) */
    size_t wire_len;
    int redirects;
    unsigned in_txn : 1; /* part of MULTI ... EXEC: an error reply is the transaction's */
    redis_cmd_t *next;   /* on r->failing or a node's waiting list */
};

/* redis_reply_t is redisReply under another name; the public type numbers are hiredis's. */
_Static_assert(REDIS_REPLY_T_STRING == REDIS_REPLY_STRING, "reply type");
_Static_assert(REDIS_REPLY_T_ARRAY == REDIS_REPLY_ARRAY, "reply type");
_Static_assert(REDIS_REPLY_T_INTEGER == REDIS_REPLY_INTEGER, "reply type");
_Static_assert(REDIS_REPLY_T_NIL == REDIS_REPLY_NIL, "reply type");
_Static_assert(REDIS_REPLY_T_STATUS == REDIS_REPLY_STATUS, "reply type");
_Static_assert(REDIS_REPLY_T_ERROR == REDIS_REPLY_ERROR, "reply type");

static void node_connect(redis_node_t *n);
static void node_flush_waiting(redis_node_t *n, int ready);

/* ------------------------------------------------------------------- libuv adapter fix-up */

/* hiredis 0.14.1's redisLibuvPoll returns without a word when libuv reports a poll error, and
 * libuv reports a refused connect or a reset connection exactly that way (POLLERR -> UV_EBADF):
 * the context would then wait forever. Every hook of the adapter (re)starts the poll with its
 * own callback, so each hook is wrapped to restart it with redis_on_poll, which passes errors on
 * as readiness; hiredis then reads the socket error itself. (Upstream fixed the adapter the same
 * way after 0.14.1.) */
static void redis_on_poll(uv_poll_t *handle, int status, int events)
{
    redisLibuvEvents *p = handle->data;

    redisLibuvPoll(handle, 0, status < 0 ? p->events : events);
}

static void redis_poll_restart(void *privdata)
{
    redisLibuvEvents *p = privdata;

    if (p->events)
        uv_poll_start(&p->handle, p->events, redis_on_poll);
}

static void redis_add_read(void *privdata)
{
    redisLibuvAddRead(privdata);
    redis_poll_restart(privdata);
}

static void redis_del_read(void *privdata)
{
    redisLibuvDelRead(privdata);
    redis_poll_restart(privdata);
}

static void redis_add_write(void *privdata)
{
    redisLibuvAddWrite(privdata);
    redis_poll_restart(privdata);
}

static void redis_del_write(void *privdata)
{
    redisLibuvDelWrite(privdata);
    redis_poll_restart(privdata);
}

/* -------------------------------------------------------------------------- connection */

static void node_on_retry(uv_timer_t *timer)
{
    node_connect(timer->data);
}

/* The connection is gone (hiredis frees or has freed the context): log the first failure of an
 * outage and try again after the backoff. A cluster client also reloads its map: the node may
 * have been a master that is being replaced. */
static void node_down(redis_node_t *n, const char *why)
{
    n->ac = NULL;
    n->ready = 0;
    if (n->r->closing)
        return;
    node_flush_waiting(n, 0);
    n->r->map_stale = 1;
    if (!n->outage) {
        log_warn("redis %s:%d: %s", n->host, n->port, why);
        n->outage = 1;
    }
    uv_timer_start(&n->timer, node_on_retry, n->backoff_ms, 0);
    n->backoff_ms *= 2;
    if (n->backoff_ms > REDIS_BACKOFF_MAX_MS)
        n->backoff_ms = REDIS_BACKOFF_MAX_MS;
}

static void node_on_connect(const redisAsyncContext *ac, int status)
{
    redis_node_t *n = ac->data;

    /* On success the handshake replies decide; on failure hiredis frees ac right after. */
    if (status != REDIS_OK && n->ac == ac)
        node_down(n, ac->errstr);
}

static void node_on_disconnect(const redisAsyncContext *ac, int status)
{
    redis_node_t *n = ac->data;

    if (n->ac == ac)
        node_down(n, status == REDIS_OK ? "connection closed" : ac->errstr);
}

static void node_on_deadline(uv_timer_t *timer)
{
    redis_node_t *n = timer->data;
    redisAsyncContext *ac = n->ac;

    node_down(n, "connect timed out");
    redisAsyncFree(ac); /* a timer callback: no hiredis frame on the stack */
}

static void map_request(redis_t *r);

/* Reply to AUTH, SELECT or PING. A NULL reply means the connection failed, which the connect
 * or disconnect callback reports. */
static void node_on_handshake(redisAsyncContext *ac, void *reply, void *privdata)
{
    redis_node_t *n = privdata;
    const redisReply *rep = reply;

    if (!rep || n->ac != ac)
        return;
    if (rep->type == REDIS_REPLY_ERROR) {
        if (!n->outage) {
            log_warn("redis %s:%d: %s", n->host, n->port, rep->str);
            n->outage = 1;
        }
        n->handshake_left = -1;   /* never ready on this connection */
        redisAsyncDisconnect(ac); /* deferred by hiredis until this callback returns */
        return;
    }
    if (n->handshake_left <= 0 || --n->handshake_left > 0)
        return;
    uv_timer_stop(&n->timer);
    n->ready = 1;
    n->backoff_ms = REDIS_BACKOFF_MIN_MS;
    log_info("redis %s:%d: connected%s", n->host, n->port, n->outage ? " again" : "");
    n->outage = 0;
    node_flush_waiting(n, 1);
    if (n->r->slots && !n->r->map_ok)
        map_request(n->r); /* the first node up brings the first map */
}

static void node_connect(redis_node_t *n)
{
    redis_t *r = n->r;
    redisAsyncContext *ac = redisAsyncConnect(n->host, n->port);

    if (!ac) {
        log_error("redis: out of memory");
        abort();
    }
    if (ac->err) {
        node_down(n, ac->errstr);
        redisAsyncFree(ac);
        return;
    }
    ac->data = n;
    if (redisLibuvAttach(ac, r->loop) != REDIS_OK) {
        /* 0.14.1 installs its cleanup hook before it can fail, with no data for it. */
        if (!ac->ev.data)
            ac->ev.cleanup = NULL;
        node_down(n, "cannot poll the socket");
        redisAsyncFree(ac);
        return;
    }
    ac->ev.addRead = redis_add_read;
    ac->ev.delRead = redis_del_read;
    ac->ev.addWrite = redis_add_write;
    ac->ev.delWrite = redis_del_write;
    redisAsyncSetConnectCallback(ac, node_on_connect);
    redisAsyncSetDisconnectCallback(ac, node_on_disconnect);
    n->ac = ac;

    /* Always one command at least: hiredis only notices the connect on a write event. */
    n->handshake_left = 0;
    if (r->password && r->user) {
        redisAsyncCommand(ac, node_on_handshake, n, "AUTH %s %s", r->user, r->password);
        n->handshake_left++;
    } else if (r->password) {
        redisAsyncCommand(ac, node_on_handshake, n, "AUTH %s", r->password);
        n->handshake_left++;
    }
    if (r->db) {
        redisAsyncCommand(ac, node_on_handshake, n, "SELECT %d", r->db);
        n->handshake_left++;
    }
    if (!n->handshake_left) {
        redisAsyncCommand(ac, node_on_handshake, n, "PING");
        n->handshake_left++;
    }
    uv_timer_start(&n->timer, node_on_deadline, REDIS_CONNECT_TIMEOUT_MS, 0);
}

/* The node at host:port, added (and connecting) when new; NULL when REDIS_NODES_MAX are known. */
static redis_node_t *node_get(redis_t *r, const char *host, size_t host_len, int port)
{
    for (size_t i = 0; i < r->n_nodes; i++)
        if (r->nodes[i]->port == port && strlen(r->nodes[i]->host) == host_len &&
            memcmp(r->nodes[i]->host, host, host_len) == 0)
            return r->nodes[i];
    if (r->n_nodes == REDIS_NODES_MAX)
        return NULL;
    redis_node_t *n = xcalloc(1, sizeof(*n));
    n->r = r;
    n->host = xmalloc(host_len + 1);
    memcpy(n->host, host, host_len);
    n->host[host_len] = '\0';
    n->port = port;
    n->backoff_ms = REDIS_BACKOFF_MIN_MS;
    uv_timer_init(r->loop, &n->timer);
    n->timer.data = n;
    r->nodes = xrealloc(r->nodes, (r->n_nodes + 1) * sizeof(*r->nodes));
    r->nodes[r->n_nodes++] = n;
    node_connect(n);
    return n;
}

static int node_index(const redis_t *r, const redis_node_t *n)
{
    for (size_t i = 0; i < r->n_nodes; i++)
        if (r->nodes[i] == n)
            return (int)i;
    return -1;
}

/* A ready node for a keyless command: a master when one is ready. */
static redis_node_t *any_ready(const redis_t *r)
{
    for (int masters = 1; masters >= 0; masters--)
        for (size_t i = 0; i < r->n_nodes; i++)
            if (r->nodes[i]->ready && (r->nodes[i]->master || !masters))
                return r->nodes[i];
    return NULL;
}

/* ------------------------------------------------------------------------ cluster slot map */

/* A node of a CLUSTER SLOTS entry ([host, port, id...]); an empty host means the node that
 * answered. NULL when unreadable or REDIS_NODES_MAX are known. */
static redis_node_t *map_node(redis_t *r, const redisReply *n, const redis_node_t *from)
{
    if (n->type != REDIS_REPLY_ARRAY || n->elements < 2)
        return NULL;
    const redisReply *host = n->element[0], *port = n->element[1];
    if (host->type != REDIS_REPLY_STRING || port->type != REDIS_REPLY_INTEGER ||
        port->integer <= 0 || port->integer > 65535)
        return NULL;
    return host->len ? node_get(r, host->str, host->len, (int)port->integer)
                     : node_get(r, from->host, strlen(from->host), (int)port->integer);
}

/* One CLUSTER SLOTS entry: [start, end, master, replicas...]. The replicas are connected too
 * (nothing is sent to them), so that a promoted one takes commands at once. */
static void map_entry(redis_t *r, const redisReply *e, const redis_node_t *from)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
        e->element[0]->type != REDIS_REPLY_INTEGER || e->element[1]->type != REDIS_REPLY_INTEGER)
        return;
    long long lo = e->element[0]->integer, hi = e->element[1]->integer;
    redis_node_t *n = map_node(r, e->element[2], from);
    if (n == NULL || lo < 0 || hi >= REDIS_SLOTS || lo > hi)
        return;
    n->master = 1;
    int16_t idx = (int16_t)node_index(r, n);
    for (long long s = lo; s <= hi; s++)
        r->slots[s] = idx;
    for (size_t i = 3; i < e->elements; i++)
        map_node(r, e->element[i], from);
}

/* The map is stale while a slot has no master or its master's connection is not ready. */
static int map_healthy(const redis_t *r)
{
    for (size_t s = 0; s < REDIS_SLOTS; s++)
        if (r->slots[s] < 0 || !r->nodes[r->slots[s]]->ready)
            return 0;
    return 1;
}

static void map_on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    redis_node_t *from = privdata;
    redis_t *r = from->r;
    const redisReply *rep = reply;

    (void)ac;
    /* A node that answered only after the request was given up (REDIS_MAP_ASK_MS) and asked
     * elsewhere may hold an older view: its answer is dropped. */
    if (from->map_gen != r->map_gen)
        return;
    r->map_asked = 0;
    if (r->closing)
        return;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements == 0) {
        if (rep && rep->type == REDIS_REPLY_ERROR)
            log_warn("redis %s:%d: CLUSTER SLOTS: %s", from->host, from->port, rep->str);
        r->map_stale = 1;
        return;
    }
    for (size_t s = 0; s < REDIS_SLOTS; s++)
        r->slots[s] = -1;
    for (size_t i = 0; i < r->n_nodes; i++)
        r->nodes[i]->master = 0;
    for (size_t i = 0; i < rep->elements; i++)
        map_entry(r, rep->element[i], from);
    if (!r->map_ok)
        log_info("redis cluster: slot map loaded from %s:%d", from->host, from->port);
    r->map_ok = 1;
    r->map_stale = !map_healthy(r);
}

/* Sends CLUSTER SLOTS to a ready node (a different one each time, so one that lags behind the
 * cluster's view does not keep answering). */
static void map_request(redis_t *r)
{
    static const char cmd[] = "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";

    if (r->map_asked || r->closing)
        return;
    r->map_at_ms = uv_now(r->loop);
    for (size_t k = 0; k < r->n_nodes; k++) {
        redis_node_t *n = r->nodes[(r->map_at_ms / REDIS_MAP_RETRY_MS + k) % r->n_nodes];
        if (n->ready &&
            redisAsyncFormattedCommand(n->ac, map_on_reply, n, cmd, sizeof(cmd) - 1) == REDIS_OK) {
            r->map_asked = 1;
            n->map_gen = ++r->map_gen;
            return;
        }
    }
}

static void cmd_free(redis_cmd_t *cmd)
{
    if (cmd->wire)
        redisFreeCommand(cmd->wire);
    free(cmd);
}

/* Runs the callback of every command on r->failing with status, and frees them. */
static void fail_pending(redis_t *r, int status)
{
    while (r->failing) {
        redis_cmd_t *cmd = r->failing;
        r->failing = cmd->next;
        if (cmd->cb)
            cmd->cb(status, NULL, cmd->arg);
        cmd_free(cmd);
    }
}

/* The tick: fails the commands accepted for a broken transaction, then reloads the map when
 * it is due. */
static void on_tick(uv_timer_t *timer)
{
    redis_t *r = timer->data;

    fail_pending(r, UV_ECONNRESET);
    uint64_t since = uv_now(r->loop) - r->map_at_ms;
    /* A node that stopped answering without closing (a partition, SIGSTOP) must not hold the
     * map back until the kernel gives up on it: ask another one. */
    if (r->map_asked && since >= REDIS_MAP_ASK_MS) {
        r->map_asked = 0;
        r->map_stale = 1;
    }
    if (!r->map_ok || since >= REDIS_MAP_REFRESH_MS ||
        (r->map_stale && since >= REDIS_MAP_RETRY_MS))
        map_request(r);
}

/* ---------------------------------------------------------------------------- commands */

static int node_send(redis_node_t *n, redis_cmd_t *cmd, const char *wire, size_t len);

/* -MOVED <slot> <host>:<port> or -ASK <slot> <host>:<port>: the node named, or NULL. */
static redis_node_t *redirect_node(redis_t *r, const redisReply *rep, int *slot)
{
    const char *sp = memchr(rep->str, ' ', rep->len);
    if (sp == NULL)
        return NULL;
    char *after;
    long s = strtol(sp + 1, &after, 10);
    const char *addr = after + 1, *end = rep->str + rep->len;
    const char *colon = NULL;
    for (const char *p = addr; p < end; p++)
        if (*p == ':')
            colon = p; /* the last one: an IPv6 host holds colons too */
    if (*after != ' ' || s < 0 || s >= REDIS_SLOTS || colon == NULL || colon == addr)
        return NULL;
    int port = atoi(colon + 1);
    if (port <= 0 || port > 65535)
        return NULL;
    *slot = (int)s;
    return node_get(r, addr, (size_t)(colon - addr), port);
}

/* Follows a redirect when the reply is one (cluster mode, not inside a transaction, under the
 * hop limit, to a ready node). Returns 1 when the command was sent again. */
static int follow_redirect(redis_cmd_t *cmd, const redisReply *rep)
{
    redis_t *r = cmd->r;
    int moved = rep->len > 6 && strncmp(rep->str, "MOVED ", 6) == 0;
    int ask = rep->len > 4 && strncmp(rep->str, "ASK ", 4) == 0;
    int slot;

    if (!r->slots || r->closing || (!moved && !ask))
        return 0;
    r->map_stale = 1;
    redis_node_t *n = redirect_node(r, rep, &slot);
    if (n == NULL)
        return 0;
    if (moved)
        r->slots[slot] = (int16_t)node_index(r, n);
    /* A transaction stays on its node (it fails there, EXECABORT); the map is fixed for the
     * caller's next one. */
    if (cmd->in_txn || cmd->redirects++ >= REDIS_REDIRECTS_MAX)
        return 0;
    if (!n->ready && moved && n->ac) {  /* connecting (a node just learnt): send once ready */
        redis_cmd_t **at = &n->waiting; /* at the tail: sent in the order they were redirected */
        while (*at)
            at = &(*at)->next;
        cmd->next = NULL;
        *at = cmd;
        return 1;
    }
    if (!n->ready)
        return 0;
    if (ask && redisAsyncCommand(n->ac, NULL, NULL, "ASKING") != REDIS_OK)
        return 0;
    return node_send(n, cmd, cmd->wire, cmd->wire_len) == 0;
}

static void redis_on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    redis_cmd_t *cmd = privdata;
    const redisReply *rep = reply;
    int status = 0;

    /* hiredis answers NULL to every pending command when the context goes away. */
    if (!rep) {
        status = cmd->r->closing ? UV_ECANCELED : UV_ECONNRESET;
        if (cmd->node->ac == ac)
            cmd->node->ready = 0;
    } else if (rep->type == REDIS_REPLY_ERROR && follow_redirect(cmd, rep)) {
        return;
    }
    if (cmd->cb)
        cmd->cb(status, reply, cmd->arg);
    cmd_free(cmd);
}

static int node_send(redis_node_t *n, redis_cmd_t *cmd, const char *wire, size_t len)
{
    if (!n->ready || redisAsyncFormattedCommand(n->ac, redis_on_reply, cmd, wire, len) != REDIS_OK)
        return UV_ENOTCONN;
    cmd->node = n;
    return 0;
}

/* Accepted for a transaction that cannot run: fails from the next tick (the contract: once
 * accepted, cb runs later, never inside the call). */
static void fail_later(redis_t *r, redis_cmd_t *cmd)
{
    redis_cmd_t **at = &r->failing;
    while (*at)
        at = &(*at)->next;
    cmd->next = NULL;
    *at = cmd;
    uv_timer_start(&r->tick, on_tick, 0, REDIS_MAP_RETRY_MS);
}

/* The commands redirected to n while it was connecting: sent now that it is ready, or failed
 * (from the next tick) when its connection failed. */
static void node_flush_waiting(redis_node_t *n, int ready)
{
    while (n->waiting) {
        redis_cmd_t *cmd = n->waiting;
        n->waiting = cmd->next;
        if (!ready || node_send(n, cmd, cmd->wire, cmd->wire_len) != 0)
            fail_later(n->r, cmd);
    }
}

/* Cluster: where cmd goes; MULTI is held until the transaction's first keyed command, which
 * pins the rest up to EXEC / DISCARD to its node. Returns 0 or UV_ENOTCONN (cmd not taken). */
static int cluster_send(redis_t *r, redis_cmd_t *cmd)
{
    redis_route_t rt;
    redis_node_t *n = NULL;

    if (redis_route(cmd->wire, cmd->wire_len, &rt) != 0)
        return HERALD_EINVAL;
    if (rt.kind == REDIS_ROUTE_MULTI && r->txn == TXN_NONE) {
        cmd->in_txn = 1;
        r->txn_multi = cmd;
        r->txn = TXN_DEFERRED;
        return 0;
    }
    if (r->txn == TXN_BROKEN) {
        cmd->in_txn = 1;
        fail_later(r, cmd);
        if (rt.kind == REDIS_ROUTE_END_TXN)
            r->txn = TXN_NONE;
        return 0;
    }
    if (r->txn == TXN_PINNED) {
        n = r->txn_node;
    } else if (rt.key) {
        int idx = r->slots[redis_slot(rt.key, rt.key_len)];
        n = idx >= 0 ? r->nodes[idx] : NULL;
    } else {
        n = any_ready(r);
    }
    if (r->txn == TXN_DEFERRED) {
        cmd->in_txn = 1;
        r->txn = TXN_PINNED;
        r->txn_node = n;
        if (n == NULL || node_send(n, r->txn_multi, r->txn_multi->wire, r->txn_multi->wire_len)) {
            r->txn = TXN_BROKEN;
            fail_later(r, r->txn_multi);
            r->txn_multi = NULL;
            return cluster_send(r, cmd);
        }
        r->txn_multi = NULL;
    }
    if (r->txn == TXN_PINNED) {
        cmd->in_txn = 1;
        if (rt.kind == REDIS_ROUTE_END_TXN)
            r->txn = TXN_NONE;
        if (node_send(n, cmd, cmd->wire, cmd->wire_len) != 0) {
            r->txn = rt.kind == REDIS_ROUTE_END_TXN ? TXN_NONE : TXN_BROKEN;
            fail_later(r, cmd);
        }
        return 0;
    }
    if (n == NULL) {
        r->map_stale = 1;
        return UV_ENOTCONN;
    }
    return node_send(n, cmd, cmd->wire, cmd->wire_len);
}

/* Sends the formatted command (taking wire) or frees it. */
static int send_wire(redis_t *r, redis_reply_cb cb, void *arg, char *wire, size_t len)
{
    redis_cmd_t *cmd = xcalloc(1, sizeof(*cmd));
    int rc;

    cmd->r = r;
    cmd->cb = cb;
    cmd->arg = arg;
    if (r->slots) {
        cmd->wire = wire;
        cmd->wire_len = len;
        rc = cluster_send(r, cmd);
    } else {
        rc = node_send(r->nodes[0], cmd, wire, len);
        redisFreeCommand(wire); /* hiredis copied it */
    }
    if (rc != 0)
        cmd_free(cmd);
    return rc;
}

int redis_command_argv(redis_t *r, redis_reply_cb cb, void *arg, int argc, const char **argv,
                       const size_t *argvlen)
{
    char *wire;

    if (argc < 1) /* hiredis asserts on an empty command */
        return HERALD_EINVAL;
    if (!redis_connected(r))
        return UV_ENOTCONN;
    long long len = redisFormatCommandArgv(&wire, argc, argv, argvlen);
    if (len < 0) {
        log_error("redis: out of memory");
        abort();
    }
    return send_wire(r, cb, arg, wire, (size_t)len);
}

int redis_command(redis_t *r, redis_reply_cb cb, void *arg, const char *fmt, ...)
{
    char *wire;
    va_list ap;

    if (!redis_connected(r))
        return UV_ENOTCONN;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&wire, fmt, ap);
    va_end(ap);
    if (len < 0)
        return HERALD_EINVAL;
    return send_wire(r, cb, arg, wire, (size_t)len);
}

int redis_wait(redis_t *r, const char *key, size_t key_len, int replicas, int timeout_ms,
               redis_reply_cb cb, void *arg)
{
    char *wire;
    redis_node_t *n = NULL;

    if (!redis_connected(r))
        return UV_ENOTCONN;
    if (!r->slots) {
        n = r->nodes[0];
    } else {
        int idx = r->slots[redis_slot(key, key_len)];
        n = idx >= 0 ? r->nodes[idx] : NULL;
    }
    if (n == NULL)
        return UV_ENOTCONN;
    int len = redisFormatCommand(&wire, "WAIT %d %d", replicas, timeout_ms);
    if (len < 0) {
        log_error("redis: out of memory");
        abort();
    }
    redis_cmd_t *cmd = xcalloc(1, sizeof(*cmd));
    cmd->r = r;
    cmd->cb = cb;
    cmd->arg = arg;
    int rc = node_send(n, cmd, wire, (size_t)len);
    redisFreeCommand(wire); /* hiredis copied it; a WAIT is never redirected */
    if (rc != 0)
        free(cmd);
    return rc;
}

/* ----------------------------------------------------------------------------- lifecycle */

static redis_t *redis_alloc(uv_loop_t *loop, const char *user, const char *password, int db)
{
    redis_t *r = xcalloc(1, sizeof(*r));

    r->loop = loop;
    r->user = user && *user ? xstrdup(user) : NULL;
    r->password = password && *password ? xstrdup(password) : NULL;
    r->db = db;
    uv_timer_init(loop, &r->tick);
    r->tick.data = r;
    return r;
}

redis_t *redis_new(uv_loop_t *loop, const char *host, int port, const char *user,
                   const char *password, int db)
{
    redis_t *r = redis_alloc(loop, user, password, db);

    node_get(r, host, strlen(host), port);
    return r;
}

redis_t *redis_new_cluster(uv_loop_t *loop, const char *const *hosts, const int *ports, size_t n,
                           const char *user, const char *password)
{
    redis_t *r = redis_alloc(loop, user, password, 0);

    r->slots = xmalloc(REDIS_SLOTS * sizeof(*r->slots));
    for (size_t s = 0; s < REDIS_SLOTS; s++)
        r->slots[s] = -1;
    for (size_t i = 0; i < n; i++)
        node_get(r, hosts[i], strlen(hosts[i]), ports[i]);
    uv_timer_start(&r->tick, on_tick, REDIS_MAP_RETRY_MS, REDIS_MAP_RETRY_MS);
    return r;
}

int redis_connected(const redis_t *r)
{
    if (r->closing)
        return 0;
    if (!r->slots)
        return r->nodes[0]->ready;
    return r->map_ok && any_ready(r) != NULL;
}

int redis_is_cluster(const redis_t *r)
{
    return r->slots != NULL;
}

/* ------------------------------------------------------------------------------- close */

/* The last handle of a closing client has closed: free it and tell the caller. */
static void redis_free(redis_t *r)
{
    void (*cb)(void *) = r->close_cb;
    void *arg = r->close_arg;

    free(r->nodes);
    free(r->slots);
    free(r->user);
    if (r->password)
        memset(r->password, 0, strlen(r->password));
    free(r->password);
    free(r);
    if (cb)
        cb(arg);
}

static void redis_on_node_closed(uv_handle_t *handle)
{
    redis_node_t *n = handle->data;
    redis_t *r = n->r;

    free(n->host);
    free(n);
    if (--r->handles_open == 0)
        redis_free(r);
}

static void redis_on_tick_closed(uv_handle_t *handle)
{
    redis_t *r = handle->data;

    if (--r->handles_open == 0)
        redis_free(r);
}

static void redis_on_close_tick(uv_timer_t *timer)
{
    redis_t *r = timer->data;

    for (size_t i = 0; i < r->n_nodes; i++)
        while (r->nodes[i]->waiting) {
            redis_cmd_t *cmd = r->nodes[i]->waiting;
            r->nodes[i]->waiting = cmd->next;
            cmd->next = r->failing;
            r->failing = cmd;
        }
    if (r->txn_multi) { /* a MULTI still held back: fails with the others */
        r->txn_multi->next = r->failing;
        r->failing = r->txn_multi;
        r->txn_multi = NULL;
    }
    fail_pending(r, UV_ECANCELED);
    r->handles_open = r->n_nodes + 1;
    for (size_t i = 0; i < r->n_nodes; i++) {
        redis_node_t *n = r->nodes[i];
        redisAsyncContext *ac = n->ac;
        n->ac = NULL;
        if (ac)
            redisAsyncFree(ac); /* pending commands get UV_ECANCELED; closes hiredis's poll */
        uv_close((uv_handle_t *)&n->timer, redis_on_node_closed);
    }
    uv_close((uv_handle_t *)&r->tick, redis_on_tick_closed);
}

void redis_close(redis_t *r, void (*cb)(void *arg), void *arg)
{
    /* Deferred to a timer callback: redis_close may be called from a reply callback, where
     * freeing the context would pull it from under hiredis. */
    r->closing = 1;
    r->close_cb = cb;
    r->close_arg = arg;
    uv_timer_start(&r->tick, redis_on_close_tick, 0, 0);
}

/* ----------------------------------------------------------------------------- replies */

int redis_reply_type(const redis_reply_t *reply)
{
    return ((const redisReply *)reply)->type;
}

long long redis_reply_integer(const redis_reply_t *reply)
{
    const redisReply *rep = (const redisReply *)reply;

    return rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
}

const char *redis_reply_str(const redis_reply_t *reply, size_t *len)
{
    const redisReply *rep = (const redisReply *)reply;

    if (rep->type != REDIS_REPLY_STRING && rep->type != REDIS_REPLY_STATUS &&
        rep->type != REDIS_REPLY_ERROR) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = rep->len;
    return rep->str;
}

size_t redis_reply_count(const redis_reply_t *reply)
{
    const redisReply *rep = (const redisReply *)reply;

    return rep->type == REDIS_REPLY_ARRAY ? rep->elements : 0;
}

const redis_reply_t *redis_reply_element(const redis_reply_t *reply, size_t i)
{
    const redisReply *rep = (const redisReply *)reply;

    if (rep->type != REDIS_REPLY_ARRAY || i >= rep->elements)
        return NULL;
    return (const redis_reply_t *)rep->element[i];
}
