/* comet_replay.c - see comet_replay.h. */
#include "comet_replay.h"

#include "buf.h"
#include "comet_channel.h"
#include "comet_sync.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "rpc_methods.h"

#include <stdlib.h>
#include <string.h>

/* main -> worker: replay to router `router` at `epoch`. */
typedef struct replay_task_s {
    comet_task_t task;
    comet_replay_t *rp;
    uint64_t epoch;
    char router[COMET_REPLAY_ROUTER_MAX + 1];
} replay_task_t;

/* One Replay call of a worker; the keys are copies (a channel may leave meanwhile). */
typedef struct replay_batch_s {
    comet_session_t *s;
    replay_task_t *origin;    /* copied: router, epoch, rp (the task itself is freed) */
    Herald__Placement *items; /* n of cap; server borrowed from the conf, key a copy */
    Herald__Placement **ptrs; /* filled when sent */
    size_t n, cap;
    int tries;
} replay_batch_t;

static void on_forget(comet_task_t *t, void *owner)
{
    (void)owner;
    replay_task_t *f = (replay_task_t *)t;
    for (size_t i = 0; i < f->rp->n; i++)
        if (strcmp(f->rp->routers[i].name, f->router) == 0 && f->rp->routers[i].epoch == f->epoch)
            f->rp->routers[i].epoch = 0;
    free(f);
}

static void batch_free(replay_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->items[i].key);
    free(b->items);
    free(b->ptrs);
    free(b->origin);
    free(b);
}

/* Every attempt failed: the main thread forgets the epoch, so the next request replays again. */
static void batch_give_up(replay_batch_t *b, int status)
{
    log_warn_rl("replay to router %s: %zu placements not taken: %s", b->origin->router, b->n,
                herald_strerror(status));
    replay_task_t *f = b->origin;
    b->origin = NULL;
    f->task.run = on_forget;
    comet_queue_push(f->rp->main, &f->task);
    batch_free(b);
}

static void batch_send(replay_batch_t *b);

static void on_replayed(int status, const ProtobufCMessage *msg, void *arg)
{
    replay_batch_t *b = arg;
    const Herald__ReplayReply *r = (const Herald__ReplayReply *)msg;
    if (status == 0 && r->n_newest_seqs != b->n)
        status = HERALD_EPROTO;
    if (status == UV_ECANCELED || b->s->stopping) {
        batch_free(b); /* the worker is stopping: its connections go anyway */
        return;
    }
    if (status != 0) {
        if (++b->tries < COMET_REPLAY_TRIES)
            batch_send(b);
        else
            batch_give_up(b, status);
        return;
    }
    uint64_t behind = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (r->newest_seqs[i] == 0)
            continue;
        comet_channel_t *ch = comet_channel_find(b->s, b->items[i].key);
        if (ch != NULL && ch->mid == b->items[i].mid && ch->state == COMET_CHANNEL_AUTHED)
            behind += (uint64_t)comet_sync_catch_up(ch, r->newest_seqs[i]);
    }
    COMET_STAT_ADD(b->s->stats, replay_catchups, behind);
    batch_free(b);
}

static void batch_send(replay_batch_t *b)
{
    if (b->ptrs == NULL) {
        b->ptrs = xcalloc(b->n, sizeof(*b->ptrs));
        for (size_t i = 0; i < b->n; i++)
            b->ptrs[i] = &b->items[i];
    }
    Herald__ReplayReq req = HERALD__REPLAY_REQ__INIT;
    req.server = (char *)b->s->conf->server_id;
    req.router = b->origin->router;
    req.epoch = b->origin->epoch;
    req.placements = b->ptrs;
    req.n_placements = b->n;
    int rc = comet_logic_call(&b->s->logic, RPC_LOGIC_REPLAY, &req.base,
                              &herald__replay_reply__descriptor, 0, on_replayed, b);
    if (rc != 0)
        batch_give_up(b, rc);
}

static replay_batch_t *batch_new(comet_session_t *s, const replay_task_t *t)
{
    replay_batch_t *b = xcalloc(1, sizeof(*b));
    b->s = s;
    b->origin = xmalloc(sizeof(*b->origin));
    *b->origin = *t;
    return b;
}

/* Worker: every registered channel's placement, in batches. */
static void on_replay_task(comet_task_t *t, void *owner)
{
    comet_session_t *s = owner;
    replay_task_t *task = (replay_task_t *)t;
    replay_batch_t *b = NULL;
    size_t total = 0;
    if (!s->stopping) {
        LIST_FOREACH(link, &s->all)
        {
            comet_channel_t *ch = list_entry(link, comet_channel_t, all_link);
            if (ch->state != COMET_CHANNEL_AUTHED || ch->id.key == NULL)
                continue;
            if (b == NULL)
                b = batch_new(s, task);
            if (b->n == b->cap) {
                b->cap = b->cap ? b->cap * 2 : 64;
                b->items = xrealloc(b->items, b->cap * sizeof(*b->items));
            }
            Herald__Placement *p = &b->items[b->n++];
            herald__placement__init(p);
            p->mid = ch->mid;
            p->key = xstrdup(ch->id.key);
            p->server = (char *)s->conf->server_id;
            total++;
            if (b->n == RPC_REPLAY_BATCH_MAX) {
                batch_send(b); /* replies come later: the walk is not disturbed */
                b = NULL;
            }
        }
    }
    if (b != NULL)
        batch_send(b);
    COMET_STAT_ADD(s->stats, replayed, total);
    free(task);
}

void comet_replay_init(comet_replay_t *rp, comet_worker_t *workers, int n, comet_queue_t *main)
{
    memset(rp, 0, sizeof(*rp));
    rp->workers = workers;
    rp->nworkers = n;
    rp->main = main;
}

void comet_replay_deinit(comet_replay_t *rp)
{
    free(rp->routers);
    rp->routers = NULL;
    rp->n = 0;
}

static int router_name_ok(const char *s)
{
    size_t len = s != NULL ? strnlen(s, COMET_REPLAY_ROUTER_MAX + 1) : 0;
    if (len == 0 || len > COMET_REPLAY_ROUTER_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return 0;
    return 1;
}

int comet_replay_request(comet_replay_t *rp, const char *router, uint64_t epoch)
{
    if (!router_name_ok(router) || epoch == 0)
        return HERALD_EINVAL;
    comet_replay_router_t *r = NULL;
    for (size_t i = 0; i < rp->n && r == NULL; i++)
        if (strcmp(rp->routers[i].name, router) == 0)
            r = &rp->routers[i];
    if (r == NULL) {
        rp->routers = xrealloc(rp->routers, (rp->n + 1) * sizeof(*rp->routers));
        r = &rp->routers[rp->n++];
        memset(r, 0, sizeof(*r));
        strcpy(r->name, router); /* length checked above */
    }
    if (r->epoch == epoch)
        return 0;
    r->epoch = epoch;
    rp->started++;
    for (int w = 0; w < rp->nworkers; w++) {
        replay_task_t *t = xcalloc(1, sizeof(*t));
        t->task.run = on_replay_task;
        t->rp = rp;
        t->epoch = epoch;
        strcpy(t->router, router);
        comet_worker_post(&rp->workers[w], &t->task);
    }
    log_info("router %s: epoch %016llx: replaying this comet's placements", router,
             (unsigned long long)epoch);
    return 1;
}
