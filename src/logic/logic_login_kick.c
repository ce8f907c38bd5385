/* logic_login_kick.c - Comet Kick calls from logic (see logic_login_kick.h). */
#include "logic_login_kick.h"

#include "buf.h"
#include "conf.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "logic_online.h"
#include "rpc.h"
#include "rpc_methods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_MS 100
#define GIVE_UP_MS 3000
#define CALL_TIMEOUT_MS 3000

typedef struct kick_comet_s {
    char *id, *addr;
    rpc_client_t *client;
} kick_comet_t;

/* A kick waiting for its comet's client to connect. Heap, owned by the pending list. */
typedef struct kick_pending_s {
    struct kick_pending_s *next;
    char *server, *reason;
    char **keys;
    size_t n;
    uint64_t give_up; /* uv_now() */
} kick_pending_t;

struct logic_login_kick_s {
    logic_server_t *s;
    kick_comet_t *comets; /* grows; entries whose client was closed have client NULL */
    size_t n, cap;
    kick_pending_t *pending;
    uv_timer_t timer;
    int closing; /* handles still closing */
    void (*close_cb)(void *arg);
    void *close_arg;
};

logic_login_kick_t *logic_login_kick_new(logic_server_t *s)
{
    logic_login_kick_t *k = xcalloc(1, sizeof(*k));
    k->s = s;
    uv_timer_init(s->loop, &k->timer);
    k->timer.data = k;
    return k;
}

static void pending_free(kick_pending_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->keys[i]);
    free(p->keys);
    free(p->server);
    free(p->reason);
    free(p);
}

static const logic_online_comet_t *registry_find(logic_server_t *s, const char *id)
{
    const logic_online_t *o = s->online;
    for (size_t i = 0; o != NULL && i < o->n; i++)
        if (strcmp(o->comets[i]->id, id) == 0)
            return o->comets[i];
    return NULL;
}

/* The client for comet id, (re)created when its registry address is new; NULL when the comet
 * is not in the registry or its address is unusable. */
static rpc_client_t *client_for(logic_login_kick_t *k, const char *id)
{
    const logic_online_comet_t *oc = registry_find(k->s, id);
    if (oc == NULL || oc->rpc[0] == '\0')
        return NULL;
    kick_comet_t *kc = NULL;
    for (size_t i = 0; i < k->n && kc == NULL; i++)
        if (strcmp(k->comets[i].id, id) == 0)
            kc = &k->comets[i];
    if (kc != NULL && strcmp(kc->addr, oc->rpc) == 0)
        return kc->client;
    char *host = NULL;
    int port;
    if (conf_parse_addr(oc->rpc, &host, &port) != 0)
        return NULL;
    if (kc == NULL) {
        if (k->n == k->cap) {
            k->cap = k->cap ? 2 * k->cap : 4;
            k->comets = xrealloc(k->comets, k->cap * sizeof(*k->comets));
        }
        kc = &k->comets[k->n++];
        kc->id = xstrdup(id);
    } else {
        rpc_client_close(kc->client, NULL, NULL); /* the comet moved: its old address is dead */
        free(kc->addr);
    }
    char name[300];
    snprintf(name, sizeof(name), "comet %s", id);
    kc->addr = xstrdup(oc->rpc);
    kc->client = rpc_client_new(k->s->loop, name, host, port);
    free(host);
    return kc->client;
}

static void on_kicked(int status, const ProtobufCMessage *reply, void *arg)
{
    (void)arg;
    if (status != 0)
        log_warn_rl("kick: comet call failed: %s", herald_strerror(status));
    else
        log_debug("kick: %d connection(s) kicked", ((const Herald__KickReply *)reply)->kicked);
}

/* 0 when sent, else the kick stays pending. */
static int try_send(logic_login_kick_t *k, const kick_pending_t *p)
{
    rpc_client_t *c = client_for(k, p->server);
    if (c == NULL || !rpc_client_connected(c))
        return -1;
    Herald__KickReq req = HERALD__KICK_REQ__INIT;
    req.keys = p->keys;
    req.n_keys = p->n;
    req.reason = p->reason;
    return rpc_client_call(c, RPC_COMET_KICK, (const ProtobufCMessage *)&req,
                           &herald__kick_reply__descriptor, CALL_TIMEOUT_MS, on_kicked, NULL);
}

static void on_retry(uv_timer_t *t)
{
    logic_login_kick_t *k = t->data;
    uint64_t now = uv_now(k->s->loop);
    for (kick_pending_t **pp = &k->pending; *pp != NULL;) {
        kick_pending_t *p = *pp;
        int sent = try_send(k, p) == 0;
        if (!sent && now < p->give_up) {
            pp = &p->next;
            continue;
        }
        if (!sent)
            log_warn("kick: comet %.128s unreachable, %zu connection(s) not kicked", p->server,
                     p->n);
        *pp = p->next;
        pending_free(p);
    }
    if (k->pending == NULL)
        uv_timer_stop(&k->timer);
}

void logic_login_kick(logic_login_kick_t *k, const char *server, const char *const *keys, size_t n,
                      const char *reason)
{
    if (n == 0 || k->closing)
        return;
    kick_pending_t *p = xcalloc(1, sizeof(*p));
    p->server = xstrdup(server);
    p->reason = xstrdup(reason);
    p->keys = xcalloc(n, sizeof(*p->keys));
    for (size_t i = 0; i < n; i++)
        p->keys[p->n++] = xstrdup(keys[i]);
    if (try_send(k, p) == 0) {
        pending_free(p);
        return;
    }
    p->give_up = uv_now(k->s->loop) + GIVE_UP_MS;
    p->next = k->pending;
    k->pending = p;
    if (!uv_is_active((uv_handle_t *)&k->timer))
        uv_timer_start(&k->timer, on_retry, RETRY_MS, RETRY_MS);
}

static void on_one_closed(void *arg)
{
    logic_login_kick_t *k = arg;
    if (--k->closing > 0)
        return;
    void (*cb)(void *) = k->close_cb;
    void *cb_arg = k->close_arg;
    for (size_t i = 0; i < k->n; i++) {
        free(k->comets[i].id);
        free(k->comets[i].addr);
    }
    free(k->comets);
    free(k);
    if (cb != NULL)
        cb(cb_arg);
}

static void on_timer_closed(uv_handle_t *h)
{
    on_one_closed(h->data);
}

void logic_login_kick_close(logic_login_kick_t *k, void (*cb)(void *arg), void *arg)
{
    k->close_cb = cb;
    k->close_arg = arg;
    while (k->pending != NULL) {
        kick_pending_t *p = k->pending;
        k->pending = p->next;
        pending_free(p);
    }
    k->closing = 1 + (int)k->n;
    for (size_t i = 0; i < k->n; i++)
        rpc_client_close(k->comets[i].client, on_one_closed, k);
    uv_close((uv_handle_t *)&k->timer, on_timer_closed);
}
