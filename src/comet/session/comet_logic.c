/* comet_logic.c - see comet_logic.h. */
#include "comet_logic.h"

#include "addr.h"
#include "buf.h"
#include "herald_err.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int comet_logic_init(comet_logic_t *l, uv_loop_t *loop, const comet_conf_t *conf, const char *owner,
                     char *err, size_t errlen)
{
    memset(l, 0, sizeof *l);
    l->timeout_ms = (uint32_t)conf->logic_rpc_timeout;
    size_t n = 0;
    char **addrs = conf_list_split(conf->logic_addrs, &n);
    char host[ADDR_HOST_MAX];
    int port;
    int rc = n == 0 ? HERALD_ECONF : 0;
    if (n == 0)
        snprintf(err, errlen, "logic.addrs is empty");
    /* Validate every address before creating any client, so a bad list leaves nothing open. */
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (addr_split(addrs[i], host, &port) != 0) {
            snprintf(err, errlen, "logic.addrs: bad address '%s'", addrs[i]);
            rc = HERALD_ECONF;
        }
    }
    if (rc == 0) {
        l->clients = xcalloc(n, sizeof *l->clients);
        for (size_t i = 0; i < n; i++) {
            char name[300];
            snprintf(name, sizeof name, "logic %s (%s)", addrs[i], owner);
            addr_split(addrs[i], host, &port);
            l->clients[l->n++] = rpc_client_new(loop, name, host, port);
        }
    }
    conf_list_free(addrs);
    return rc;
}

int comet_logic_connected(const comet_logic_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (rpc_client_connected(l->clients[i]))
            return 1;
    return 0;
}

/* A call in flight, counted in l->in_flight until its callback ran. */
typedef struct logic_call_s {
    comet_logic_t *l;
    rpc_reply_cb cb;
    void *arg;
} logic_call_t;

static void on_call_reply(int status, const ProtobufCMessage *reply, void *arg)
{
    logic_call_t *lc = arg;
    atomic_fetch_sub_explicit(&lc->l->in_flight, 1, memory_order_relaxed);
    lc->cb(status, reply, lc->arg);
    free(lc);
}

int comet_logic_call(comet_logic_t *l, uint16_t method, const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *reply_desc, uint32_t timeout_ms,
                     rpc_reply_cb cb, void *arg)
{
    logic_call_t *lc = xmalloc(sizeof *lc);
    *lc = (logic_call_t){l, cb, arg};
    for (size_t tries = 0; tries < l->n; tries++) {
        rpc_client_t *c = l->clients[l->next];
        l->next = (l->next + 1) % l->n;
        if (!rpc_client_connected(c))
            continue;
        atomic_fetch_add_explicit(&l->in_flight, 1, memory_order_relaxed);
        int rc = rpc_client_call(c, method, req, reply_desc,
                                 timeout_ms ? timeout_ms : l->timeout_ms, on_call_reply, lc);
        if (rc == 0)
            return 0;
        atomic_fetch_sub_explicit(&l->in_flight, 1, memory_order_relaxed);
        if (rc != UV_ENOTCONN) {
            free(lc);
            return rc;
        }
    }
    free(lc);
    return UV_ENOTCONN;
}

uint64_t comet_logic_in_flight(const comet_logic_t *l)
{
    return atomic_load_explicit(&l->in_flight, memory_order_relaxed);
}

static void on_notify_reply(int status, const ProtobufCMessage *reply, void *arg)
{
    if (status != 0)
        log_debug("logic method %d: %s", (int)(intptr_t)arg, herald_strerror(status));
}

void comet_logic_notify(comet_logic_t *l, uint16_t method, const ProtobufCMessage *req,
                        const ProtobufCMessageDescriptor *reply_desc)
{
    int rc =
        comet_logic_call(l, method, req, reply_desc, 0, on_notify_reply, (void *)(intptr_t)method);
    if (rc != 0)
        log_debug("logic method %d not sent: %s", method, herald_strerror(rc));
}

int comet_logic_code(int status)
{
    if (status == 0)
        return 0;
    if (status == UV_ETIMEDOUT)
        return HERALD_ETIMEDOUT;
    if (status <= HERALD_EPROTO)
        return status;
    return HERALD_EUNAVAIL;
}

static void on_client_closed(void *arg)
{
    comet_logic_t *l = arg;
    if (--l->closing > 0)
        return;
    free(l->clients);
    l->clients = NULL;
    l->n = 0;
    if (l->on_closed)
        l->on_closed(l->closed_arg);
}

void comet_logic_close(comet_logic_t *l, void (*on_closed)(void *arg), void *arg)
{
    l->on_closed = on_closed;
    l->closed_arg = arg;
    l->closing = l->n;
    if (l->n == 0) {
        free(l->clients);
        l->clients = NULL;
        if (on_closed)
            on_closed(arg);
        return;
    }
    size_t n = l->n;
    for (size_t i = 0; i < n; i++)
        rpc_client_close(l->clients[i], on_client_closed, l);
}
