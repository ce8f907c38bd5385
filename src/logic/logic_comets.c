/* logic_comets.c - logic's RPC clients to the comets (see logic_comets.h): a pool whose
 * resolver is the online aggregate. */
#include "logic_comets.h"

#include "buf.h"
#include "logic_online.h"
#include "rpc_pool.h"

#include <stdlib.h>

struct logic_comets_s {
    const logic_ctx_t *ctx;
    rpc_pool_t *pool;
    void (*close_cb)(void *arg);
    void *close_arg;
};

/* The comet's RPC address in the registry; NULL when it is not there or advertises none. */
static const char *resolve(void *arg, const char *id)
{
    logic_comets_t *cs = arg;
    const logic_online_comet_t *c = logic_online_find(cs->ctx->online, id);
    return c != NULL && c->e.rpc[0] != '\0' ? c->e.rpc : NULL;
}

static const rpc_pool_ops_t comets_pool_ops = {resolve, NULL};

logic_comets_t *logic_comets_new(const logic_ctx_t *ctx)
{
    logic_comets_t *cs = xcalloc(1, sizeof(*cs));
    cs->ctx = ctx;
    cs->pool = rpc_pool_new(ctx->loop, "comet", &comets_pool_ops, cs);
    return cs;
}

int logic_comets_call(logic_comets_t *cs, const char *id, uint16_t method,
                      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *reply_desc,
                      uint32_t wait_ms, uint32_t timeout_ms, rpc_reply_cb cb, void *arg)
{
    return rpc_pool_call(cs->pool, id, method, req, reply_desc, wait_ms, timeout_ms, cb, arg);
}

static void on_pool_closed(void *arg)
{
    logic_comets_t *cs = arg;
    void (*cb)(void *) = cs->close_cb;
    void *cb_arg = cs->close_arg;
    free(cs);
    if (cb != NULL)
        cb(cb_arg);
}

void logic_comets_close(logic_comets_t *cs, void (*cb)(void *arg), void *arg)
{
    cs->close_cb = cb;
    cs->close_arg = arg;
    rpc_pool_close(cs->pool, on_pool_closed, cs);
}
