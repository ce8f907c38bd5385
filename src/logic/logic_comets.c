/* logic_comets.c - logic's RPC clients to the comets (see logic_comets.h). */
#include "logic_comets.h"

#include "buf.h"
#include "conf.h"
#include "logic_online.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_MS 100

typedef struct comet_client_s {
    char *id, *addr;
    rpc_client_t *client;
} comet_client_t;

/* A call waiting for its comet's client to connect: the request is kept packed, since the
 * caller's message is only borrowed. Heap, owned by the waiting list. */
typedef struct comets_wait_s {
    struct comets_wait_s *next;
    char *id;
    uint16_t method;
    const ProtobufCMessageDescriptor *req_desc, *reply_desc;
    uint8_t *packed;
    size_t len;
    uint32_t timeout_ms;
    uint64_t give_up; /* uv_now() */
    rpc_reply_cb cb;
    void *arg;
} comets_wait_t;

struct logic_comets_s {
    logic_server_t *s;
    comet_client_t *comets; /* grows; one per comet id ever called */
    size_t n, cap;
    comets_wait_t *waiting;
    uv_timer_t timer; /* retries the waiting calls while there are any */
    int closing;      /* handles still closing; nonzero from logic_comets_close on */
    void (*close_cb)(void *arg);
    void *close_arg;
};

logic_comets_t *logic_comets_new(logic_server_t *s)
{
    logic_comets_t *cs = xcalloc(1, sizeof(*cs));
    cs->s = s;
    uv_timer_init(s->loop, &cs->timer);
    cs->timer.data = cs;
    return cs;
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
static rpc_client_t *client_for(logic_comets_t *cs, const char *id)
{
    const logic_online_comet_t *oc = registry_find(cs->s, id);
    if (oc == NULL || oc->rpc[0] == '\0')
        return NULL;
    comet_client_t *cc = NULL;
    for (size_t i = 0; i < cs->n && cc == NULL; i++)
        if (strcmp(cs->comets[i].id, id) == 0)
            cc = &cs->comets[i];
    if (cc != NULL && strcmp(cc->addr, oc->rpc) == 0)
        return cc->client;
    char *host = NULL;
    int port;
    if (conf_parse_addr(oc->rpc, &host, &port) != 0)
        return NULL;
    if (cc == NULL) {
        if (cs->n == cs->cap) {
            cs->cap = cs->cap ? 2 * cs->cap : 4;
            cs->comets = xrealloc(cs->comets, cs->cap * sizeof(*cs->comets));
        }
        cc = &cs->comets[cs->n++];
        cc->id = xstrdup(id);
    } else {
        rpc_client_close(cc->client, NULL, NULL); /* the comet moved: its old address is dead */
        free(cc->addr);
    }
    char name[300];
    snprintf(name, sizeof(name), "comet %s", id);
    cc->addr = xstrdup(oc->rpc);
    cc->client = rpc_client_new(cs->s->loop, name, host, port);
    free(host);
    return cc->client;
}

static void wait_free(comets_wait_t *w)
{
    free(w->id);
    free(w->packed);
    free(w);
}

/* Sends w if its comet is connected now: 0 when sent, UV_ENOTCONN to keep waiting, or another
 * rpc_client_call error that ends the call. */
static int wait_try(logic_comets_t *cs, const comets_wait_t *w)
{
    rpc_client_t *c = client_for(cs, w->id);
    if (c == NULL || !rpc_client_connected(c))
        return UV_ENOTCONN;
    ProtobufCMessage *req = protobuf_c_message_unpack(w->req_desc, NULL, w->len, w->packed);
    if (req == NULL) {
        fprintf(stderr, "logic: out of memory unpacking a comet request\n");
        abort(); /* it was packed here: only memory can be missing */
    }
    int rc = rpc_client_call(c, w->method, req, w->reply_desc, w->timeout_ms, w->cb, w->arg);
    protobuf_c_message_free_unpacked(req, NULL);
    return rc;
}

static void on_retry(uv_timer_t *t)
{
    logic_comets_t *cs = t->data;
    uint64_t now = uv_now(cs->s->loop);
    for (comets_wait_t **pp = &cs->waiting; *pp != NULL;) {
        comets_wait_t *w = *pp;
        int rc = wait_try(cs, w);
        if (rc == UV_ENOTCONN && now < w->give_up) {
            pp = &w->next;
            continue;
        }
        *pp = w->next; /* unlinked before cb, which may start new calls */
        if (rc != 0)
            w->cb(rc, NULL, w->arg);
        wait_free(w);
    }
    if (cs->waiting == NULL)
        uv_timer_stop(&cs->timer);
}

int logic_comets_call(logic_comets_t *cs, const char *id, uint16_t method,
                      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *reply_desc,
                      uint32_t wait_ms, uint32_t timeout_ms, rpc_reply_cb cb, void *arg)
{
    if (cs->closing)
        return UV_ECANCELED;
    rpc_client_t *c = client_for(cs, id);
    if (c != NULL && rpc_client_connected(c)) {
        int rc = rpc_client_call(c, method, req, reply_desc, timeout_ms, cb, arg);
        if (rc != UV_ENOTCONN)
            return rc;
    }
    size_t len = protobuf_c_message_get_packed_size(req);
    if (len > RPC_MAX_FRAME - RPC_FRAME_HEADER)
        return UV_EMSGSIZE;
    comets_wait_t *w = xcalloc(1, sizeof(*w));
    w->id = xstrdup(id);
    w->method = method;
    w->req_desc = req->descriptor;
    w->reply_desc = reply_desc;
    w->packed = xmalloc(len ? len : 1);
    w->len = protobuf_c_message_pack(req, w->packed);
    w->timeout_ms = timeout_ms;
    w->give_up = uv_now(cs->s->loop) + wait_ms;
    w->cb = cb;
    w->arg = arg;
    w->next = cs->waiting;
    cs->waiting = w;
    if (!uv_is_active((uv_handle_t *)&cs->timer))
        uv_timer_start(&cs->timer, on_retry, RETRY_MS, RETRY_MS);
    return 0;
}

static void on_one_closed(void *arg)
{
    logic_comets_t *cs = arg;
    if (--cs->closing > 0)
        return;
    void (*cb)(void *) = cs->close_cb;
    void *cb_arg = cs->close_arg;
    for (size_t i = 0; i < cs->n; i++) {
        free(cs->comets[i].id);
        free(cs->comets[i].addr);
    }
    free(cs->comets);
    free(cs);
    if (cb != NULL)
        cb(cb_arg);
}

static void on_timer_closed(uv_handle_t *h)
{
    on_one_closed(h->data);
}

void logic_comets_close(logic_comets_t *cs, void (*cb)(void *arg), void *arg)
{
    cs->close_cb = cb;
    cs->close_arg = arg;
    cs->closing = 1 + (int)cs->n; /* from here on no new call is accepted */
    while (cs->waiting != NULL) {
        comets_wait_t *w = cs->waiting;
        cs->waiting = w->next;
        w->cb(UV_ECANCELED, NULL, w->arg);
        wait_free(w);
    }
    for (size_t i = 0; i < cs->n; i++)
        rpc_client_close(cs->comets[i].client, on_one_closed, cs);
    uv_close((uv_handle_t *)&cs->timer, on_timer_closed);
}
