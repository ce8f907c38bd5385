/* logic_push.c - push requests become PushMsg envelopes on Kafka.
 *
 * One push_t per request walks its stages (sequence numbers, placements, envelopes, deliveries)
 * through callbacks; `pending` counts the replies still expected at the current stage. A request
 * is answered only once every envelope's delivery report came back, so a 200 means the envelope
 * is durably in Kafka (acks=all) and job will deliver it. */
#include "logic_push.h"

#include "buf.h"
#include "metrics.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "logic_inbox.h"
#include "logic_params.h"
#include "logic_router.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One PushMsg of type PUSH for one comet ("" = every comet). Keys and server are borrowed from
 * the request or the placements, which outlive the envelope (packed before they go away). */
typedef struct envelope_s {
    const char *server;
    const char **keys;
    uint64_t *seqs;
    size_t n, cap;
} envelope_t;

/* Owned by logic_server; freed by logic_push_free. */
struct logic_push_s {
    const logic_ctx_t *ctx;
    uint64_t accepted, failed;       /* push requests */
    uint64_t produced, kafka_failed; /* envelopes */
    int kafka_state;                 /* logic_push_kafka_state */
};

logic_push_t *logic_push_new(const logic_ctx_t *ctx)
{
    logic_push_t *m = xcalloc(1, sizeof(*m));
    m->ctx = ctx;
    return m;
}

void logic_push_free(logic_push_t *m)
{
    free(m);
}

int logic_push_kafka_state(const logic_push_t *m)
{
    return m->kafka_state;
}

void logic_push_metrics(const logic_push_t *m, json_t *out)
{
    json_object_set_new(out, "pushes_accepted", json_integer((json_int_t)m->accepted));
    json_object_set_new(out, "pushes_failed", json_integer((json_int_t)m->failed));
    json_object_set_new(out, "kafka_produced", json_integer((json_int_t)m->produced));
    json_object_set_new(out, "kafka_failed", json_integer((json_int_t)m->kafka_failed));
}

/* One push request on its way. */
typedef struct push_s {
    logic_push_t *m;
    logic_push_req_t req;
    logic_push_cb cb;
    void *arg;
    uint64_t accepted_us;  /* metrics_wall_us() when the push was accepted: PushMsg.accepted_us */
    uint64_t *seqs;        /* MIDS: seqs[i] is the sequence number of req.mids[i] */
    unsigned char *online; /* MIDS: a placement of req.mids[i] was found */
    int stored;            /* MIDS: the message is in every user's inbox */
    size_t pending;
    int status;
    char message[160];
} push_t;

static void push_fail(push_t *p, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first failure of the request; later ones add nothing for the client. */
static void push_fail(push_t *p, int status, const char *fmt, ...)
{
    if (p->status != 0)
        return;
    p->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->message, sizeof(p->message), fmt, ap);
    va_end(ap);
}

/* The MIDS reply data; live = 0 reports every user offline (nothing was delivered live). */
static json_t *mids_data(const push_t *p, int live)
{
    json_t *data = json_array();
    for (size_t i = 0; i < p->req.nmids; i++)
        json_array_append_new(data,
                              json_pack("{s:I,s:I,s:b}", "mid", (json_int_t)p->req.mids[i], "seq",
                                        (json_int_t)p->seqs[i], "online", live && p->online[i]));
    return data;
}

static void push_free(push_t *p)
{
    logic_push_req_deinit(&p->req);
    free(p->seqs);
    free(p->online);
    free(p);
}

static void push_finish(push_t *p)
{
    json_t *data = NULL;
    if (p->req.kind == LOGIC_PUSH_JOIN) {
        /* an announcement, not a push: counted by its caller (logic_rpc_room.c) */
    } else if (p->status == 0) {
        p->m->accepted++;
        if (p->req.kind == LOGIC_PUSH_MIDS)
            data = mids_data(p, 1);
    } else {
        p->m->failed++;
        log_warn_rl("push failed: %s", p->message);
        /* The inbox write is not undone: the users get the message on their next connect or at
         * the next push's gap (docs/delivery.md). A caller that retries without an idempotency
         * key sends it twice. */
        if (p->stored) {
            size_t l = strlen(p->message);
            snprintf(p->message + l, sizeof(p->message) - l, "%s",
                     "; stored: the users get it when they reconnect");
            data = mids_data(p, 0);
        }
    }
    p->cb(p->status, p->message, data, p->arg);
    push_free(p);
}

/* ---------------------------------------------------------------------------------- Kafka */

static void on_delivered(int status, void *arg)
{
    push_t *p = arg;
    if (status == 0) {
        p->m->produced++;
        p->m->kafka_state = 1;
    } else {
        p->m->kafka_failed++;
        p->m->kafka_state = -1;
        push_fail(p, HERALD_EUNAVAIL, "kafka delivery failed: %s", herald_strerror(status));
    }
    if (--p->pending == 0)
        push_finish(p);
}

/* Packs and queues one envelope; counts it in pending when queued. */
static int produce(push_t *p, Herald__PushMsg *m, const char *kafka_key)
{
    kafka_producer_t *k = logic_ctx_kafka(p->m->ctx);
    if (k == NULL) {
        push_fail(p, HERALD_EUNAVAIL, "stopping");
        return HERALD_EUNAVAIL;
    }
    m->operation = p->req.operation;
    m->msg.data = p->req.msg;
    m->msg.len = p->req.msg_len;
    m->from_mid = p->req.from_mid;
    m->created_ms = (int64_t)(p->accepted_us / 1000);
    m->accepted_us = p->accepted_us;
    size_t len = herald__push_msg__get_packed_size(m);
    uint8_t *buf = xmalloc(len ? len : 1);
    herald__push_msg__pack(m, buf);
    int rc =
        kafka_produce(k, kafka_key, kafka_key ? strlen(kafka_key) : 0, buf, len, on_delivered, p);
    free(buf);
    if (rc != 0) {
        p->m->kafka_failed++;
        p->m->kafka_state = -1;
        push_fail(p, HERALD_EUNAVAIL, "kafka unavailable (local queue full)");
        return rc;
    }
    p->pending++;
    return 0;
}

/* Queues one PUSH envelope per comet (stops at the first failure) and frees the envelopes.
 * Deliveries come back from the loop later, never from inside kafka_produce. */
static void produce_envelopes(push_t *p, envelope_t *env, size_t n)
{
    for (size_t i = 0; i < n && p->status == 0; i++) {
        Herald__PushMsg m = HERALD__PUSH_MSG__INIT;
        m.type = HERALD__PUSH_MSG__TYPE__PUSH;
        m.server = (char *)env[i].server;
        m.n_keys = env[i].n;
        m.keys = (char **)env[i].keys;
        if (p->req.kind == LOGIC_PUSH_MIDS) {
            m.n_seqs = env[i].n;
            m.seqs = env[i].seqs;
        }
        /* Order matters per connection: every envelope for one comet is keyed by that comet, so
         * all of a connection's pushes share one partition whatever other users ride along.
         * Keying by user would split a user's pushes between one-user and multi-user envelopes
         * across partitions. "" (every comet) has no key. */
        produce(p, &m, env[i].server[0] ? env[i].server : NULL);
    }
    for (size_t i = 0; i < n; i++) {
        free(env[i].keys);
        free(env[i].seqs);
    }
    free(env);
}

/* End of a callback stage: finishes the request when nothing is in flight any more. */
static void stage_done(push_t *p)
{
    if (p->pending == 0)
        push_finish(p);
}

static envelope_t *envelope_for(envelope_t **env, size_t *n, const char *server)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*env)[i].server, server) == 0)
            return &(*env)[i];
    *env = xrealloc(*env, (*n + 1) * sizeof(**env));
    envelope_t *e = &(*env)[(*n)++];
    memset(e, 0, sizeof(*e));
    e->server = server;
    return e;
}

static void envelope_add(envelope_t *e, const char *key, uint64_t seq)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 8;
        e->keys = xrealloc(e->keys, e->cap * sizeof(*e->keys));
        e->seqs = xrealloc(e->seqs, e->cap * sizeof(*e->seqs));
    }
    e->keys[e->n] = key;
    e->seqs[e->n++] = seq;
}

/* A router lookup of p came back: 1 when it succeeded; else p has failed with the reason, its
 * stage is done, and the caller returns. */
static int router_answered(push_t *p, int status)
{
    p->pending--;
    if (status == 0)
        return 1;
    push_fail(p, status, "router lookup failed: %s", herald_strerror(status));
    stage_done(p);
    return 0;
}

/* ---------------------------------------------------------------------------------- keys */

static void on_keys_placed(int status, const logic_placement_t *pl, size_t n, void *arg)
{
    push_t *p = arg;
    if (!router_answered(p, status))
        return;
    /* key -> its placement's server; jansson's object is the hash table at hand. The servers
     * are borrowed from pl, which lives until this callback returns: envelopes are packed here. */
    json_t *where = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(where, pl[i].key, json_integer((json_int_t)i));
    envelope_t *env = NULL;
    size_t nenv = 0;
    int64_t mid;
    for (size_t i = 0; i < p->req.nkeys; i++) {
        const char *key = p->req.keys[i];
        if (logic_params_key_mid(key, &mid) != 0) {
            envelope_add(envelope_for(&env, &nenv, ""), key, 0);
            continue;
        }
        json_t *at = json_object_get(where, key);
        if (at != NULL && pl[json_integer_value(at)].mid == mid)
            envelope_add(envelope_for(&env, &nenv, pl[json_integer_value(at)].server), key, 0);
        /* else: that connection is gone; goim drops such keys silently too */
    }
    json_decref(where);
    produce_envelopes(p, env, nenv);
    stage_done(p);
}

static int cmp_mid(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int start_keys(push_t *p)
{
    int64_t *mids = xcalloc(p->req.nkeys, sizeof(*mids));
    size_t n = 0;
    for (size_t i = 0; i < p->req.nkeys; i++)
        if (logic_params_key_mid(p->req.keys[i], &mids[n]) == 0)
            n++;
    qsort(mids, n, sizeof(*mids), cmp_mid);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || mids[u - 1] != mids[i])
            mids[u++] = mids[i];
    int rc = 0;
    if (u == 0) { /* only goim-style keys: one envelope for every comet, no lookup */
        envelope_t *env = NULL;
        size_t nenv = 0;
        for (size_t i = 0; i < p->req.nkeys; i++)
            envelope_add(envelope_for(&env, &nenv, ""), p->req.keys[i], 0);
        produce_envelopes(p, env, nenv);
    } else {
        logic_router_t *r = logic_ctx_router(p->m->ctx);
        rc = r ? logic_router_get(r, mids, u, on_keys_placed, p) : HERALD_EUNAVAIL;
        if (rc != 0)
            push_fail(p, rc, "router unavailable");
        else
            p->pending++;
    }
    free(mids);
    return rc;
}

/* ---------------------------------------------------------------------------------- mids */

typedef struct mid_index_s {
    int64_t mid;
    size_t i;
} mid_index_t;

static int cmp_mid_index(const void *a, const void *b)
{
    return cmp_mid(&((const mid_index_t *)a)->mid, &((const mid_index_t *)b)->mid);
}

static void on_mids_placed(int status, const logic_placement_t *pl, size_t n, void *arg)
{
    push_t *p = arg;
    if (!router_answered(p, status))
        return;
    /* mids are unique (logic_params dedupes): a sorted index finds each placement's user. */
    mid_index_t *idx = xcalloc(p->req.nmids, sizeof(*idx));
    for (size_t i = 0; i < p->req.nmids; i++)
        idx[i] = (mid_index_t){p->req.mids[i], i};
    qsort(idx, p->req.nmids, sizeof(*idx), cmp_mid_index);
    envelope_t *env = NULL;
    size_t nenv = 0;
    for (size_t i = 0; i < n; i++) {
        mid_index_t want = {pl[i].mid, 0};
        mid_index_t *hit = bsearch(&want, idx, p->req.nmids, sizeof(*idx), cmp_mid_index);
        if (hit == NULL)
            continue; /* a router answered a mid nobody asked for: ignore it */
        p->online[hit->i] = 1;
        envelope_add(envelope_for(&env, &nenv, pl[i].server), pl[i].key, p->seqs[hit->i]);
    }
    free(idx);
    produce_envelopes(p, env, nenv);
    stage_done(p);
}

static void on_stored(int status, const uint64_t *seqs, void *arg)
{
    push_t *p = arg;
    p->pending--;
    if (status != 0) {
        push_fail(p, HERALD_EUNAVAIL, "redis failed storing the message");
    } else {
        memcpy(p->seqs, seqs, p->req.nmids * sizeof(*seqs));
        p->stored = 1;
        /* From here on every user has the message: the placements only decide who gets it now.
         * A placement this Get misses was Put after it, and its Connect reads the backlog after
         * the Put (logic_rpc_connect.c), so that connection finds the message there. */
        logic_router_t *r = logic_ctx_router(p->m->ctx);
        int rc =
            r ? logic_router_get(r, p->req.mids, p->req.nmids, on_mids_placed, p) : HERALD_EUNAVAIL;
        if (rc == 0)
            p->pending++;
        else
            push_fail(p, rc, "router unavailable");
    }
    stage_done(p);
}

static int start_mids(push_t *p)
{
    size_t n = p->req.nmids;
    p->seqs = xcalloc(n, sizeof(*p->seqs));
    p->online = xcalloc(n, 1);
    int rc = logic_inbox_store(p->m->ctx, p->req.mids, n, p->req.from_mid, p->req.operation,
                               p->req.msg, p->req.msg_len, on_stored, p);
    if (rc != 0) {
        push_fail(p, HERALD_EUNAVAIL, "redis unavailable");
        return rc;
    }
    p->pending++;
    return 0;
}

/* ------------------------------------------------------------------------------ room, all */

/* The Kafka key of a room's stream: its pushes and its JOIN announcements share it, so they
 * share one partition and job sees them in the order logic produced them. */
static const char *room_stream_key(const char *room)
{
    return room;
}

static int start_single(push_t *p)
{
    Herald__PushMsg m = HERALD__PUSH_MSG__INIT;
    if (p->req.kind == LOGIC_PUSH_ROOM || p->req.kind == LOGIC_PUSH_JOIN) {
        m.type = p->req.kind == LOGIC_PUSH_ROOM ? HERALD__PUSH_MSG__TYPE__ROOM
                                                : HERALD__PUSH_MSG__TYPE__JOIN;
        m.room = p->req.room;
        m.server = p->req.server;
        m.rpc_addr = p->req.rpc_addr;
        return produce(p, &m, room_stream_key(p->req.room)); /* one order per room */
    }
    m.type = HERALD__PUSH_MSG__TYPE__BROADCAST;
    m.speed = p->req.speed;
    return produce(p, &m, NULL);
}

int logic_push_join(logic_push_t *m, const char *room, const char *server, const char *rpc_addr,
                    logic_push_cb cb, void *arg, char *err, size_t errlen)
{
    logic_push_req_t req = {0};
    req.kind = LOGIC_PUSH_JOIN;
    req.room = xstrdup(room);
    req.server = xstrdup(server);
    req.rpc_addr = xstrdup(rpc_addr);
    return logic_push_start(m, &req, cb, arg, err, errlen);
}

int logic_push_start(logic_push_t *m, logic_push_req_t *req, logic_push_cb cb, void *arg, char *err,
                     size_t errlen)
{
    if (logic_ctx_stopping(m->ctx)) {
        logic_push_req_deinit(req);
        snprintf(err, errlen, "stopping");
        return HERALD_EUNAVAIL;
    }
    push_t *p = xcalloc(1, sizeof(*p));
    p->m = m;
    p->req = *req;
    memset(req, 0, sizeof(*req));
    p->cb = cb;
    p->arg = arg;
    p->accepted_us = metrics_wall_us();
    switch (p->req.kind) {
    case LOGIC_PUSH_KEYS:
        start_keys(p);
        break;
    case LOGIC_PUSH_MIDS:
        start_mids(p);
        break;
    default:
        start_single(p);
    }
    if (p->pending == 0) { /* nothing in flight: it failed before anything went out */
        int rc = p->status ? p->status : HERALD_EINTERNAL;
        snprintf(err, errlen, "%s", p->message);
        if (p->req.kind != LOGIC_PUSH_JOIN)
            m->failed++;
        push_free(p);
        return rc;
    }
    return 0;
}
