/* logic_replay.c - see logic_replay.h. */
#include "logic_replay.h"

#include "buf.h"
#include "herald_err.h"
#include "log.h"
#include "logic_comets.h"
#include "logic_inbox.h"
#include "logic_online.h"
#include "logic_router.h"
#include "rpc_methods.h"

#include <stdlib.h>
#include <string.h>

#include "logic_ring.h"

/* A router's own epoch (RouterInfo), by name: kept while logic runs (a handful of routers). */
typedef struct known_s {
    char *name;
    uint64_t epoch;
} known_t;

/* Owned by logic_server; freed by logic_replay_free. */
struct logic_replay_s {
    const logic_ctx_t *ctx;
    known_t *known;
    size_t nknown;
    uint64_t router_epochs, replays_asked, replayed;
};

static known_t *known_find(logic_replay_t *rp, const char *name, int add)
{
    for (size_t i = 0; i < rp->nknown; i++)
        if (strcmp(rp->known[i].name, name) == 0)
            return &rp->known[i];
    if (!add)
        return NULL;
    rp->known = xrealloc(rp->known, (rp->nknown + 1) * sizeof(*rp->known));
    rp->known[rp->nknown] = (known_t){xstrdup(name), 0};
    return &rp->known[rp->nknown++];
}

/* ------------------------------------------------------------------- a router came up */

/* What a comet replays to: the router's own epoch mixed with the ring's identity, never 0. */
static uint64_t effective_epoch(uint64_t epoch, uint64_t ring_id)
{
    uint64_t e = logic_ring_hash_mid((int64_t)(epoch ^ ring_id));
    return e != 0 ? e : 1;
}

uint64_t logic_replay_epoch(const logic_replay_t *rp, size_t i)
{
    logic_router_t *r = logic_ctx_router(rp->ctx);
    if (r == NULL || i >= logic_router_count(r))
        return 0;
    const known_t *k = known_find((logic_replay_t *)rp, logic_router_addr(r, i), 0);
    return k != NULL && k->epoch != 0 ? effective_epoch(k->epoch, logic_router_ring_id(r)) : 0;
}

typedef struct info_ctx_s {
    logic_replay_t *rp;
    char *name;
} info_ctx_t;

static void on_asked(int status, const ProtobufCMessage *reply, void *arg)
{
    (void)reply;
    (void)arg;
    if (status != 0 && status != UV_ECANCELED) /* ECANCELED: logic is stopping */
        log_warn_rl("replay: a comet did not take ReplayRouter: %s", herald_strerror(status));
}

/* Asks every live comet to replay its placements to router i, now at epoch. */
static void ask_comets(logic_replay_t *rp, size_t i, uint64_t epoch)
{
    const logic_ctx_t *ctx = rp->ctx;
    if (logic_ctx_stopping(ctx) || ctx->comets == NULL)
        return;
    Herald__ReplayRouterReq req = HERALD__REPLAY_ROUTER_REQ__INIT;
    req.router = (char *)logic_router_addr(ctx->router, i);
    req.epoch = epoch;
    size_t n = logic_online_count(ctx->online);
    for (size_t k = 0; k < n; k++) {
        const char *id = logic_online_at(ctx->online, k)->e.id;
        if (logic_comets_call(ctx->comets, id, RPC_COMET_REPLAY_ROUTER,
                              (const ProtobufCMessage *)&req,
                              &herald__replay_router_reply__descriptor, LOGIC_REPLAY_ASK_WAIT_MS,
                              (uint32_t)ctx->conf->rpc_timeout_ms, on_asked, NULL) == 0)
            rp->replays_asked++;
    }
    log_info("router %s: epoch %016llx: %zu comet(s) asked to replay", req.router,
             (unsigned long long)epoch, n);
}

static void on_info(int status, const ProtobufCMessage *reply, void *arg)
{
    info_ctx_t c = *(info_ctx_t *)arg;
    free(arg);
    logic_router_t *r = logic_ctx_router(c.rp->ctx);
    long i = r != NULL ? logic_router_find(r, c.name) : -1;
    uint64_t epoch = status == 0 ? ((const Herald__RouterInfoReply *)reply)->epoch : 0;
    if (status != 0 && r != NULL)
        log_warn_rl("router %s: RouterInfo failed: %s", c.name, herald_strerror(status));
    known_t *k = epoch != 0 && i >= 0 ? known_find(c.rp, c.name, 1) : NULL;
    free(c.name);
    if (k == NULL || k->epoch == epoch)
        return; /* the link came back to the same router: its table is intact */
    k->epoch = epoch;
    c.rp->router_epochs++;
    ask_comets(c.rp, (size_t)i, logic_replay_epoch(c.rp, (size_t)i));
}

void logic_replay_ring_changed(logic_replay_t *rp)
{
    logic_router_t *r = logic_ctx_router(rp->ctx);
    size_t n = r != NULL ? logic_router_count(r) : 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t e = logic_replay_epoch(rp, i);
        if (e != 0) /* a router not asked yet is, when its link comes up */
            ask_comets(rp, i, e);
    }
}

static void on_router_up(size_t i, void *arg)
{
    logic_replay_t *rp = arg;
    logic_router_t *r = logic_ctx_router(rp->ctx);
    if (r == NULL)
        return;
    info_ctx_t *c = xmalloc(sizeof(*c));
    *c = (info_ctx_t){rp, xstrdup(logic_router_addr(r, i))};
    Herald__RouterInfoReq req = HERALD__ROUTER_INFO_REQ__INIT;
    if (logic_router_call_at(r, i, RPC_ROUTER_INFO, (const ProtobufCMessage *)&req,
                             &herald__router_info_reply__descriptor, on_info, c) != 0) {
        free(c->name);
        free(c);
    }
}

logic_replay_t *logic_replay_new(const logic_ctx_t *ctx)
{
    logic_replay_t *rp = xcalloc(1, sizeof(*rp));
    rp->ctx = ctx;
    logic_router_watch(ctx->router, on_router_up, rp);
    return rp;
}

void logic_replay_free(logic_replay_t *rp)
{
    if (rp == NULL)
        return;
    for (size_t i = 0; i < rp->nknown; i++)
        free(rp->known[i].name);
    free(rp->known);
    free(rp);
}

void logic_replay_metrics(const logic_replay_t *rp, json_t *out)
{
    json_object_set_new(out, "router_epochs", json_integer((json_int_t)rp->router_epochs));
    json_object_set_new(out, "replays_asked", json_integer((json_int_t)rp->replays_asked));
    json_object_set_new(out, "replayed", json_integer((json_int_t)rp->replayed));
}

/* ------------------------------------------------------------------------ a comet replays */

/* One Replay call: PutBatch per owner, then the newest seqs. Owned by itself until cb ran. */
typedef struct apply_s {
    logic_replay_t *rp;
    size_t n;      /* placements of the call */
    int64_t *mids; /* of the placements put (m of them) */
    size_t *index; /* their index in the call */
    size_t m;
    size_t pending; /* PutBatch calls out */
    int status;
    logic_replay_cb cb;
    void *arg;
} apply_t;

static void apply_end(apply_t *a, int status, const uint64_t *newest)
{
    a->cb(status, newest, a->arg);
    free(a->mids);
    free(a->index);
    free(a);
}

static void on_newest(int status, const uint64_t *seqs, void *arg)
{
    apply_t *a = arg;
    if (status != 0) {
        apply_end(a, status, NULL);
        return;
    }
    uint64_t *newest = xcalloc(a->n, sizeof(*newest));
    for (size_t k = 0; k < a->m; k++)
        newest[a->index[k]] = seqs[k];
    a->rp->replayed += a->m;
    apply_end(a, 0, newest);
    free(newest);
}

static void on_put_batch(int status, const ProtobufCMessage *reply, void *arg)
{
    (void)reply;
    apply_t *a = arg;
    if (status != 0 && a->status == 0)
        a->status = status;
    if (--a->pending > 0)
        return;
    /* Every owner has the placements: only now read the seqs (a push stores, then looks up). */
    int rc = a->status;
    if (rc == 0)
        rc = logic_inbox_newest(a->rp->ctx, a->mids, a->m, on_newest, a);
    if (rc != 0)
        apply_end(a, rc, NULL);
}

int logic_replay_apply(logic_replay_t *rp, const char *router, uint64_t epoch,
                       const Herald__Placement *const *placements, size_t n, logic_replay_cb cb,
                       void *arg)
{
    logic_router_t *r = logic_ctx_router(rp->ctx);
    if (r == NULL || logic_router_count(r) == 0)
        return HERALD_EUNAVAIL;
    long only = -1;
    if (router != NULL && router[0] != '\0' && (only = logic_router_find(r, router)) < 0)
        return HERALD_EINVAL;
    /* A replay for another ring than this logic's (one of the two has not seen the change yet)
     * could leave the router's new share out: refused, the comet asks again later. */
    if (only >= 0 && epoch != 0 && epoch != logic_replay_epoch(rp, (size_t)only))
        return HERALD_EUNAVAIL;
    size_t nr = logic_router_count(r);
    size_t *owner = xcalloc(n + 1, sizeof(*owner));
    size_t *per = xcalloc(nr, sizeof(*per));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        owner[i] = logic_router_owner(r, placements[i]->mid);
        if (only < 0 || owner[i] == (size_t)only) {
            per[owner[i]]++;
            m++;
        } else {
            owner[i] = nr; /* not put */
        }
    }
    int rc = m == 0 ? 1 : 0;
    for (size_t k = 0; rc == 0 && k < nr; k++)
        if (per[k] > 0 && !logic_router_connected(r, k))
            rc = HERALD_EUNAVAIL;
    if (rc != 0) {
        free(per);
        free(owner);
        return rc;
    }
    apply_t *a = xcalloc(1, sizeof(*a));
    *a = (apply_t){.rp = rp, .n = n, .cb = cb, .arg = arg};
    a->mids = xcalloc(m, sizeof(*a->mids));
    a->index = xcalloc(m, sizeof(*a->index));
    for (size_t i = 0; i < n; i++) {
        if (owner[i] < nr) {
            a->mids[a->m] = placements[i]->mid;
            a->index[a->m++] = i;
        }
    }
    Herald__Placement **batch = xcalloc(m, sizeof(*batch));
    a->pending = 1; /* held until every PutBatch is out */
    for (size_t k = 0; k < nr; k++) {
        if (per[k] == 0)
            continue;
        size_t b = 0;
        for (size_t i = 0; i < n; i++)
            if (owner[i] == k)
                batch[b++] = (Herald__Placement *)placements[i]; /* packing only reads */
        Herald__PutBatchReq req = HERALD__PUT_BATCH_REQ__INIT;
        req.placements = batch;
        req.n_placements = b;
        if (logic_router_call_at(r, k, RPC_ROUTER_PUT_BATCH, (const ProtobufCMessage *)&req,
                                 &herald__put_batch_reply__descriptor, on_put_batch, a) == 0)
            a->pending++;
        else if (a->status == 0)
            a->status = HERALD_EUNAVAIL;
    }
    free(batch);
    free(per);
    free(owner);
    if (a->pending == 1 && a->status != 0) { /* nothing went out: no callback */
        free(a->mids);
        free(a->index);
        free(a);
        return HERALD_EUNAVAIL;
    }
    on_put_batch(0, NULL, a); /* drops the hold; the last reply goes on */
    return 0;
}
