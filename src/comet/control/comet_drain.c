/* comet_drain.c - see comet_drain.h. */
#include "comet_drain.h"

#include "buf.h"
#include "comet_channel.h"
#include "comet_conn.h"
#include "herald_assert.h"
#include "log.h"
#include "proto.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct comet_drain_s comet_drain_t;

/* One worker's share of the drain. Allocated (in an array) and freed by the main thread; between
 * the begin and the done task only the worker touches it. */
typedef struct drain_part_s {
    comet_task_t begin; /* main -> worker */
    comet_task_t done;  /* worker -> main: the last slot is closed, the timer too */
    comet_drain_t *d;
    comet_worker_t *w;
    int index;
    uv_timer_t timer;         /* on the worker's loop, from begin to done */
    comet_channel_t **chans;  /* the connections at the begin, each referenced until closed */
    size_t n, noticed, ended; /* chans[0..noticed) were told, chans[0..ended) are released */
    uint64_t start;           /* uv_now of the worker's loop at the begin */
} drain_part_t;

/* Owned by the drain itself: freed by the last done task, before the stop begins. */
struct comet_drain_s {
    comet_server_t *s;
    void (*on_closed)(void *arg); /* for comet_server_close */
    void *closed_arg;
    drain_part_t *parts;
    int pending; /* parts not done */
};

#define PART_OF(t, field) ((drain_part_t *)((char *)(t)-offsetof(drain_part_t, field)))

uint64_t comet_drain_slot_ms(uint64_t i, uint64_t n, int w, int nworkers, uint64_t drain_ms)
{
    if (n == 0 || drain_ms == 0 || nworkers < 1)
        return 0;
    /* Bounded by the configuration (drain_time <= 1 h, workers <= 256) and by the connections a
     * worker can hold: far from 2^64. */
    uint64_t slots = n * (uint64_t)nworkers;
    return (i * (uint64_t)nworkers + (uint64_t)w) * drain_ms / slots;
}

size_t comet_drain_notice_body(char *out, size_t cap, uint64_t after_ms)
{
    int len = snprintf(out, cap, "{\"reason\":\"" COMET_DRAIN_REASON "\",\"after_ms\":%" PRIu64 "}",
                       after_ms);
    HERALD_ASSERT(len > 0 && (size_t)len < cap);
    return (size_t)len;
}

static uint64_t part_slot(const drain_part_t *p, size_t i)
{
    const comet_server_t *s = p->d->s;
    return comet_drain_slot_ms(i, p->n, p->index, s->nworkers, (uint64_t)s->conf->drain_time);
}

/* A connection still open: not gone (left, replaced, closed) since the begin. */
static int still_open(const comet_channel_t *ch)
{
    return ch->state == COMET_CHANNEL_AUTHED && ch->conn.state == COMET_CONN_OPEN;
}

static void on_timer_closed(uv_handle_t *h)
{
    drain_part_t *p = h->data;
    free(p->chans);
    p->chans = NULL;
    comet_queue_push(p->w->main, &p->done);
}

/* Worker thread: tells the next batch, closes every connection whose slot has passed, and
 * waits for the next slot (or the next loop iteration while some are not told yet). */
static void on_tick(uv_timer_t *t)
{
    drain_part_t *p = t->data;
    uint64_t now = uv_now(t->loop) - p->start;
    int64_t batch = p->d->s->conf->fanout_batch;
    for (; p->noticed < p->n && batch > 0; p->noticed++, batch--) {
        comet_channel_t *ch = p->chans[p->noticed];
        if (!still_open(ch))
            continue;
        uint64_t slot = part_slot(p, p->noticed);
        char body[64];
        size_t len = comet_drain_notice_body(body, sizeof body, slot > now ? slot - now : 0);
        comet_conn_send_packet(&ch->conn, PROTO_OP_DISCONNECT_REPLY, 0, body, len);
    }
    for (; p->ended < p->noticed && part_slot(p, p->ended) <= now; p->ended++) {
        comet_channel_t *ch = p->chans[p->ended];
        if (still_open(ch))
            comet_conn_finish(&ch->conn);
        comet_channel_unref(ch);
    }
    if (p->ended == p->n) {
        log_debug("worker %d: drained %zu connections", p->index, p->n);
        uv_close((uv_handle_t *)&p->timer, on_timer_closed);
        return;
    }
    uint64_t next = p->noticed < p->n ? 0 : part_slot(p, p->ended) - now;
    uv_timer_start(&p->timer, on_tick, next, 0);
}

/* Worker thread (owner: its session): stop accepting, take the connections, start the slots. */
static void on_begin(comet_task_t *t, void *owner)
{
    drain_part_t *p = PART_OF(t, begin);
    comet_session_t *s = owner;
    comet_worker_stop_accepting(p->w);
    size_t n = 0;
    LIST_FOREACH(l, &s->all)
    {
        n++;
    }
    p->chans = xcalloc(n ? n : 1, sizeof *p->chans);
    LIST_FOREACH(l, &s->all)
    {
        comet_channel_t *ch = list_entry(l, comet_channel_t, all_link);
        comet_channel_ref(ch);
        p->chans[p->n++] = ch;
    }
    int rc = uv_timer_init(&p->w->loop, &p->timer); /* only fills the handle in */
    HERALD_ASSERT(rc == 0);
    p->timer.data = p;
    p->start = uv_now(&p->w->loop);
    uv_timer_start(&p->timer, on_tick, 0, 0);
}

/* Main thread: a worker is done; after the last one the regular stop begins. */
static void on_done(comet_task_t *t, void *owner)
{
    comet_drain_t *d = PART_OF(t, done)->d;
    if (--d->pending > 0)
        return;
    comet_server_t *s = d->s;
    void (*cb)(void *) = d->on_closed;
    void *arg = d->closed_arg;
    free(d->parts);
    free(d);
    log_info("drained: stopping");
    comet_server_close(s, cb, arg);
}

void comet_drain_start(comet_server_t *s, void (*cb)(void *arg), void *arg)
{
    HERALD_ASSERT(!s->draining && !s->stopping);
    int64_t ms = s->conf->drain_time;
    if (!s->ready || ms == 0 || s->nstarted == 0) {
        comet_server_close(s, cb, arg);
        return;
    }
    log_info("draining: clients are told to reconnect elsewhere over %" PRId64 " ms", ms);
    s->draining = 1;
    comet_renew_drain(&s->renew);
    comet_drain_t *d = xcalloc(1, sizeof *d);
    d->s = s;
    d->on_closed = cb;
    d->closed_arg = arg;
    d->pending = s->nstarted;
    d->parts = xcalloc((size_t)s->nstarted, sizeof *d->parts);
    for (int i = 0; i < s->nstarted; i++) {
        drain_part_t *p = &d->parts[i];
        p->begin.run = on_begin;
        p->done.run = on_done;
        p->d = d;
        p->w = &s->workers[i];
        p->index = i;
        comet_worker_post(p->w, &p->begin);
    }
}
