/* job_deliver.c - envelopes to Comet RPCs, retries and done tracking (job_deliver.h). */
#include "job_deliver.h"

#include "buf.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "proto.h"
#include "registry.h"
#include "rpc_methods.h"

#include <stdlib.h>
#include <string.h>

/* One consumed envelope. `pending` counts the deliveries not yet over, plus one held while the
 * envelope is being dispatched; at zero the offset is marked done and the record freed. */
typedef struct job_msg_s {
    job_deliver_t *d;
    int32_t partition;
    int64_t offset;
    Herald__PushMsg *pm;
    Herald__Proto proto; /* what the comet writes; body borrows pm->msg */
    uint32_t pending;
} job_msg_t;

/* One Comet RPC with its retries: either one message (PushKeys, Broadcast) or a room batch
 * (BroadcastRoom), which on completion may carry on with the room's next batch. Holds a
 * reference to its comet. A room call whose batch is over before room.linger has passed since
 * it was sent lingers in the wait list (its messages released, the room still busy in
 * job_room, so newer messages queue) and takes the room's next batch when the linger ends. */
typedef struct job_call_s {
    job_deliver_t *d;
    job_comet_t *comet;
    uint16_t method;
    job_msg_t *msg;
    job_room_batch_t *batch;
    int32_t speed;
    int attempt;      /* retries scheduled so far */
    int lingering;    /* room call: batch over, waiting for the linger to end */
    uint64_t sent_ms; /* room call: when its batch was first sent (uv_now) */
    uint64_t due_ms;  /* in the wait list: when to send again, or to end the linger */
    list_link_t link; /* in the wait list */
} job_call_t;

static const char *method_name(uint16_t method)
{
    switch (method) {
    case RPC_COMET_PUSH_KEYS:
        return "PushKeys";
    case RPC_COMET_BROADCAST_ROOM:
        return "BroadcastRoom";
    default:
        return "Broadcast";
    }
}

/* Pauses or resumes the consumer to match what the flags ask for. */
static void flow_update(job_deliver_t *d)
{
    int pause = d->over_limit || d->held || d->stopping;
    if (pause == d->paused || d->consumer == NULL)
        return;
    d->paused = pause;
    if (pause)
        kafka_consumer_pause(d->consumer);
    else
        kafka_consumer_resume(d->consumer);
}

static void msg_unref(job_msg_t *m)
{
    if (--m->pending > 0)
        return;
    job_deliver_t *d = m->d;
    if (d->consumer != NULL)
        kafka_consumer_done(d->consumer, m->partition, m->offset);
    herald__push_msg__free_unpacked(m->pm, NULL);
    free(m);
    d->in_flight--;
    if (d->over_limit && d->in_flight < (size_t)d->conf->max_in_flight / 2) {
        d->over_limit = 0;
        log_info("back-pressure over: %zu messages in flight", d->in_flight);
        flow_update(d);
    }
}

static int call_issue(job_call_t *c);
static void on_call_reply(int status, const ProtobufCMessage *reply, void *arg);

/* ------------------------------------------------------------ the wait list: retries, lingers */

static void on_wait_timer(uv_timer_t *t);

static void wait_arm(job_deliver_t *d, uint64_t due)
{
    if (uv_is_active((uv_handle_t *)&d->wait_timer) && d->wait_due <= due)
        return;
    uint64_t now = uv_now(d->loop);
    d->wait_due = due;
    uv_timer_start(&d->wait_timer, on_wait_timer, due > now ? due - now : 0, 0);
}

/* Puts c on the wait list until due (uv_now). */
static void wait_add(job_call_t *c, uint64_t due)
{
    job_deliver_t *d = c->d;
    c->due_ms = due;
    list_append(&d->waiting, &c->link);
    wait_arm(d, c->due_ms);
}

uint64_t job_deliver_backoff_ms(uint64_t first_ms, int attempt)
{
    /* comet.retries goes up to 100, and a shift by 64 or more is undefined: the delay stops
     * doubling at the cap, which 2^16 times the largest comet.retry_backoff already exceeds. */
    if (first_ms >= JOB_DELIVER_BACKOFF_MAX_MS)
        return JOB_DELIVER_BACKOFF_MAX_MS;
    int shift = attempt > 1 ? attempt - 1 : 0;
    if (shift > 16)
        shift = 16;
    uint64_t delay = first_ms << shift;
    return delay < JOB_DELIVER_BACKOFF_MAX_MS ? delay : JOB_DELIVER_BACKOFF_MAX_MS;
}

static void retry_schedule(job_call_t *c)
{
    uint64_t first = (uint64_t)c->d->conf->comet_retry_backoff_ms;
    wait_add(c, uv_now(c->d->loop) + job_deliver_backoff_ms(first, c->attempt));
}

/* ------------------------------------------------------------------------------- calls */

/* Accounts for the outcome of one attempt. Returns 1 when the call was queued for a retry (the
 * caller leaves it alone), 0 when the call is over. */
static int call_outcome(job_call_t *c, int status)
{
    job_deliver_t *d = c->d;
    if (status == 0) {
        d->stats.delivered++;
        return 0;
    }
    /* not connected at a retry: the connection was lost and is still being re-established; not
     * connected yet: a comet just added (a JOIN from a comet that just started) is still being
     * dialled, and the member it announced waits for this push */
    int retryable = status == UV_ETIMEDOUT || status == UV_ECONNRESET ||
                    (status == UV_ENOTCONN && (c->attempt > 0 || job_comet_connecting(c->comet)));
    if (retryable && c->attempt < d->conf->comet_retries && !job_comet_gone(c->comet) &&
        !d->closing) {
        c->attempt++;
        d->stats.retries++;
        retry_schedule(c);
        return 1;
    }
    if (status == UV_ENOTCONN) {
        d->stats.skipped++;
        log_warn_rl("comet %s not connected: %s dropped", job_comet_id(c->comet),
                    method_name(c->method));
    } else {
        d->stats.failed++;
        if (status != UV_ECANCELED)
            log_warn_rl("comet %s: %s failed after %d retries: %s", job_comet_id(c->comet),
                        method_name(c->method), c->attempt, herald_strerror(status));
    }
    return 0;
}

/* c carries room batch b from now on (sent next). */
static void call_take_batch(job_call_t *c, job_room_batch_t *b)
{
    job_deliver_t *d = c->d;
    c->batch = b;
    c->attempt = 0;
    c->sent_ms = uv_now(d->loop);
    d->stats.batches++;
    d->stats.batched_messages += b->n;
}

/* Starts the room's next batch on c, or frees c when the room has nothing queued. Returns 1
 * when c carries a batch to send, 0 when it was freed. */
static int call_next_batch(job_call_t *c)
{
    c->lingering = 0;
    job_room_batch_t *b = job_room_next(c->comet->batches, c->batch);
    if (b == NULL) {
        job_comet_unref(c->comet);
        free(c);
        return 0;
    }
    call_take_batch(c, b);
    return 1;
}

/* The call is over: releases its messages. Returns 1 when the same call now carries the room's
 * next batch (send it), 0 when it was freed or lingers (the caller leaves it alone). */
static int call_complete(job_call_t *c)
{
    job_deliver_t *d = c->d;
    if (c->batch == NULL) {
        msg_unref(c->msg);
        job_comet_unref(c->comet);
        free(c);
        return 0;
    }
    for (size_t i = 0; i < c->batch->n; i++)
        msg_unref(c->batch->items[i]);
    uint64_t linger_end = c->sent_ms + (uint64_t)d->conf->room_linger_ms;
    if (linger_end > uv_now(d->loop) && !d->closing && !job_comet_gone(c->comet)) {
        c->lingering = 1;
        wait_add(c, linger_end);
        return 0;
    }
    return call_next_batch(c);
}

/* Sends the call; an attempt that fails at once is accounted and, for a room, the batches behind
 * it are taken in turn (a loop, not recursion: a long queue to a dead comet drains flat). */
static void call_send(job_call_t *c)
{
    for (;;) {
        int rc = job_comet_gone(c->comet) || c->d->closing ? UV_ECANCELED : call_issue(c);
        if (rc == 0 || call_outcome(c, rc))
            return;
        if (!call_complete(c))
            return;
    }
}

static void on_call_reply(int status, const ProtobufCMessage *reply, void *arg)
{
    job_call_t *c = arg;
    if (call_outcome(c, status))
        return;
    if (call_complete(c))
        call_send(c);
}

static int call_issue(job_call_t *c)
{
    job_deliver_t *d = c->d;
    uint32_t timeout = (uint32_t)d->conf->comet_rpc_timeout_ms;
    rpc_peer_t *peer = c->comet->peer;
    if (c->method == RPC_COMET_PUSH_KEYS) {
        const Herald__PushMsg *pm = c->msg->pm;
        Herald__PushKeysReq req = HERALD__PUSH_KEYS_REQ__INIT;
        req.keys = pm->keys;
        req.n_keys = pm->n_keys;
        req.seqs = pm->seqs;
        req.n_seqs = pm->n_seqs;
        req.proto = &c->msg->proto;
        return rpc_peer_call(peer, c->method, (const ProtobufCMessage *)&req,
                             &herald__push_keys_reply__descriptor, timeout, on_call_reply, c);
    }
    if (c->method == RPC_COMET_BROADCAST) {
        Herald__BroadcastReq req = HERALD__BROADCAST_REQ__INIT;
        req.proto = &c->msg->proto;
        req.speed = c->speed;
        return rpc_peer_call(peer, c->method, (const ProtobufCMessage *)&req,
                             &herald__broadcast_reply__descriptor, timeout, on_call_reply, c);
    }
    Herald__BroadcastRoomReq req = HERALD__BROADCAST_ROOM_REQ__INIT;
    Herald__Proto **protos = xmalloc(c->batch->n * sizeof(*protos));
    for (size_t i = 0; i < c->batch->n; i++)
        protos[i] = &((job_msg_t *)c->batch->items[i])->proto;
    req.room_id = (char *)c->batch->room; /* packed before return, never written */
    req.protos = protos;
    req.n_protos = c->batch->n;
    int rc = rpc_peer_call(peer, c->method, (const ProtobufCMessage *)&req,
                           &herald__broadcast_room_reply__descriptor, timeout, on_call_reply, c);
    free(protos);
    return rc;
}

static job_call_t *call_new(job_deliver_t *d, job_comet_t *comet, uint16_t method)
{
    job_call_t *c = xcalloc(1, sizeof(*c));
    c->d = d;
    c->comet = comet;
    c->method = method;
    job_comet_ref(comet);
    return c;
}

/* One message call (PushKeys, Broadcast) to one comet. */
static void deliver_to(job_msg_t *m, job_comet_t *comet, uint16_t method, int32_t speed)
{
    job_call_t *c = call_new(m->d, comet, method);
    c->msg = m;
    c->speed = speed;
    m->pending++;
    call_send(c);
}

static void deliver_room(job_msg_t *m)
{
    job_deliver_t *d = m->d;
    const char *room = m->pm->room;
    for (size_t i = 0; i < job_comets_count(d->comets); i++) {
        job_comet_t *comet = job_comets_at(d->comets, i);
        if (!job_comet_has_room(comet, room))
            continue;
        m->pending++;
        job_room_batch_t *b = job_room_offer(comet->batches, room, m, m->pm->msg.len);
        if (b == NULL)
            continue; /* queued behind the call in flight for this room */
        job_call_t *c = call_new(d, comet, RPC_COMET_BROADCAST_ROOM);
        call_take_batch(c, b);
        call_send(c);
    }
}

/* ------------------------------------------------------------------------------ messages */

/* Returns why the envelope cannot be delivered, or NULL. */
static const char *envelope_check(const Herald__PushMsg *pm)
{
    switch (pm->type) {
    case HERALD__PUSH_MSG__TYPE__PUSH:
        if (pm->n_keys == 0)
            return "push without keys";
        if (pm->n_seqs != 0 && pm->n_seqs != pm->n_keys)
            return "seqs do not match keys";
        return NULL;
    case HERALD__PUSH_MSG__TYPE__ROOM:
        return pm->room == NULL || pm->room[0] == '\0' ? "room push without room" : NULL;
    case HERALD__PUSH_MSG__TYPE__BROADCAST:
        return NULL;
    case HERALD__PUSH_MSG__TYPE__JOIN:
        if (pm->room == NULL || !proto_room_id_valid(pm->room, strlen(pm->room)))
            return "join without a valid room";
        return registry_id_ok(pm->server) != 0 ? "join without a valid comet id" : NULL;
    default:
        return "unknown type";
    }
}

/* A comet announced a room: from the next message of the room's stream on, its pushes go there
 * too. Nothing to deliver, so the envelope is done at once. */
static void on_join(job_deliver_t *d, const Herald__PushMsg *pm)
{
    int rc = job_comets_join(d->comets, pm->server, pm->rpc_addr, pm->room);
    if (rc == 0) {
        d->stats.joins++;
    } else if (rc != UV_ECANCELED) {
        d->stats.joins_dropped++;
        log_warn_rl("comet %.128s announced room %.64s without a usable rpc address, and the "
                    "registry does not list it: ignored",
                    pm->server, pm->room);
    }
}

void job_deliver_on_message(const kafka_msg_t *km, void *arg)
{
    job_deliver_t *d = arg;
    d->stats.consumed++;
    if (d->stopping)
        return; /* left undone: the next consumer of the partition gets it again */
    Herald__PushMsg *pm = herald__push_msg__unpack(NULL, km->value_len, km->value);
    const char *why = pm == NULL ? "not a PushMsg" : envelope_check(pm);
    if (why != NULL) {
        d->stats.malformed++;
        log_warn_rl("partition %d offset %lld: %s, skipped", (int)km->partition,
                    (long long)km->offset, why);
        if (pm != NULL)
            herald__push_msg__free_unpacked(pm, NULL);
        if (d->consumer != NULL)
            kafka_consumer_done(d->consumer, km->partition, km->offset);
        return;
    }
    if (pm->type == HERALD__PUSH_MSG__TYPE__JOIN) {
        on_join(d, pm);
        herald__push_msg__free_unpacked(pm, NULL);
        if (d->consumer != NULL)
            kafka_consumer_done(d->consumer, km->partition, km->offset);
        return;
    }
    job_msg_t *m = xcalloc(1, sizeof(*m));
    m->d = d;
    m->partition = km->partition;
    m->offset = km->offset;
    m->pm = pm;
    herald__proto__init(&m->proto);
    m->proto.ver = PROTO_VERSION;
    m->proto.op = pm->operation;
    m->proto.seq = 0;
    m->proto.body = pm->msg;
    m->proto.accepted_us = pm->accepted_us; /* the comet measures the push latency from it */
    m->pending = 1;                         /* the dispatch below */
    d->in_flight++;
    if (!d->over_limit && d->in_flight > (size_t)d->conf->max_in_flight) {
        d->over_limit = 1;
        log_info("back-pressure: %zu messages in flight, consumer paused", d->in_flight);
        flow_update(d);
    }

    size_t n = job_comets_count(d->comets);
    if (pm->type == HERALD__PUSH_MSG__TYPE__ROOM) {
        deliver_room(m);
    } else if (pm->type == HERALD__PUSH_MSG__TYPE__BROADCAST) {
        int32_t speed = pm->speed > 0 && n > 0 ? pm->speed / (int32_t)n : 0;
        if (pm->speed > 0 && speed == 0)
            speed = 1; /* 0 would mean "no limit" */
        for (size_t i = 0; i < n; i++)
            deliver_to(m, job_comets_at(d->comets, i), RPC_COMET_BROADCAST, speed);
    } else if (pm->server != NULL && pm->server[0] != '\0') {
        job_comet_t *comet = job_comets_find(d->comets, pm->server);
        if (comet != NULL) {
            deliver_to(m, comet, RPC_COMET_PUSH_KEYS, 0);
        } else {
            d->stats.skipped++;
            log_warn_rl("comet %.128s not registered: push dropped", pm->server);
        }
    } else {
        for (size_t i = 0; i < n; i++)
            deliver_to(m, job_comets_at(d->comets, i), RPC_COMET_PUSH_KEYS, 0);
    }
    msg_unref(m);
}

/* ---------------------------------------------------------------------------- lifecycle */

static void on_wait_timer(uv_timer_t *t)
{
    job_deliver_t *d = t->data;
    uint64_t now = uv_now(d->loop), next_due = UINT64_MAX;
    list_link_t due;
    list_init(&due);
    /* split first: sending may queue retries again */
    LIST_FOREACH_SAFE(l, next, &d->waiting)
    {
        job_call_t *c = list_entry(l, job_call_t, link);
        if (c->due_ms <= now) {
            list_unlink(l);
            list_append(&due, l);
        } else if (c->due_ms < next_due) {
            next_due = c->due_ms;
        }
    }
    if (!list_empty(&d->waiting))
        wait_arm(d, next_due);
    list_link_t *l;
    while ((l = list_first(&due)) != NULL) {
        job_call_t *c = list_entry(l, job_call_t, link);
        list_unlink(l);
        if (!c->lingering || call_next_batch(c))
            call_send(c);
    }
}

void job_deliver_init(job_deliver_t *d, uv_loop_t *loop, job_comets_t *comets,
                      const job_conf_t *conf)
{
    memset(d, 0, sizeof(*d));
    d->loop = loop;
    d->comets = comets;
    d->conf = conf;
    list_init(&d->waiting);
    uv_timer_init(loop, &d->wait_timer);
    d->wait_timer.data = d;
}

void job_deliver_attach(job_deliver_t *d, kafka_consumer_t *consumer)
{
    d->consumer = consumer;
    d->paused = 0; /* a new consumer starts consuming */
    flow_update(d);
}

void job_deliver_hold(job_deliver_t *d, int hold)
{
    d->held = hold;
    flow_update(d);
}

size_t job_deliver_in_flight(const job_deliver_t *d)
{
    return d->in_flight;
}

void job_deliver_health(const job_deliver_t *d, json_t *out)
{
    json_object_set_new(out, "in_flight", json_integer((json_int_t)d->in_flight));
    json_object_set_new(out, "paused", json_boolean(d->paused));
    json_object_set_new(
        out, "partitions",
        json_integer(d->consumer != NULL ? (json_int_t)kafka_consumer_assigned(d->consumer) : 0));
}

void job_deliver_metrics(const job_deliver_t *d, json_t *out)
{
    const job_stats_t *s = &d->stats;
    json_object_set_new(out, "consumed", json_integer((json_int_t)s->consumed));
    json_object_set_new(out, "malformed", json_integer((json_int_t)s->malformed));
    json_object_set_new(out, "delivered", json_integer((json_int_t)s->delivered));
    json_object_set_new(out, "failed", json_integer((json_int_t)s->failed));
    json_object_set_new(out, "skipped", json_integer((json_int_t)s->skipped));
    json_object_set_new(out, "retries", json_integer((json_int_t)s->retries));
    json_object_set_new(out, "batches", json_integer((json_int_t)s->batches));
    json_object_set_new(out, "batched_messages", json_integer((json_int_t)s->batched_messages));
    json_object_set_new(out, "room_joins", json_integer((json_int_t)s->joins));
    json_object_set_new(out, "room_joins_dropped", json_integer((json_int_t)s->joins_dropped));
}

void job_deliver_prometheus(const job_deliver_t *d, buf_t *out)
{
    const job_stats_t *s = &d->stats;
#define C(n, v, h) METRICS_COUNTER_ROW("herald_job_" n, v, h)
    const metrics_row_t rows[] = {
        C("consumed", s->consumed, "Kafka envelopes received"),
        C("malformed", s->malformed, "Envelopes that did not parse or made no sense"),
        C("delivered", s->delivered, "Comet RPCs answered with success"),
        C("failed", s->failed, "Comet RPCs given up (retries spent, errors)"),
        C("skipped", s->skipped, "Deliveries to comets not registered or not connected"),
        C("retries", s->retries, "Comet RPC retries"),
        C("room_batches", s->batches, "BroadcastRoom calls"),
        C("room_batched_messages", s->batched_messages,
          "Room messages carried by BroadcastRoom calls"),
        C("room_joins", s->joins, "JOIN envelopes applied: a comet's room announcement"),
        C("room_joins_dropped", s->joins_dropped,
          "JOIN envelopes of a comet job does not know and cannot reach"),
        {"herald_job_messages_in_flight", METRICS_GAUGE, (double)d->in_flight,
         "Kafka messages consumed whose delivery has not ended"},
        {"herald_job_consumer_paused", METRICS_GAUGE, d->paused ? 1 : 0,
         "1 while the Kafka consumer is paused"},
    };
#undef C
    metrics_rows(out, rows, sizeof rows / sizeof rows[0]);
}

void job_deliver_stop(job_deliver_t *d)
{
    d->stopping = 1;
    flow_update(d);
}

static void on_wait_timer_closed(uv_handle_t *h)
{
    job_deliver_t *d = h->data;
    if (d->close_cb != NULL)
        d->close_cb(d->close_arg);
}

void job_deliver_close(job_deliver_t *d, void (*cb)(void *arg), void *arg)
{
    d->closing = 1; /* from here on nothing goes back on the wait list */
    d->close_cb = cb;
    d->close_arg = arg;
    list_link_t *l;
    while ((l = list_first(&d->waiting)) != NULL) {
        job_call_t *c = list_entry(l, job_call_t, link);
        list_unlink(l);
        int more;
        if (c->lingering) {
            more = call_next_batch(c);
        } else {
            d->stats.failed++; /* a retry given up */
            more = call_complete(c);
        }
        if (more)
            call_send(c); /* closing: the room's queued batches drain as cancelled */
    }
    uv_close((uv_handle_t *)&d->wait_timer, on_wait_timer_closed);
}
