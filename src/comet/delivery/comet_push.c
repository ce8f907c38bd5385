/* comet_push.c - see comet_push.h. */
#include "comet_push.h"

#include "comet_channel.h"
#include "comet_sync.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ session ops */

static void on_authed(void *arg, comet_channel_t *ch, uint64_t newest, int missed)
{
    comet_sync_begin(ch, newest, missed);
}

static void on_ack(void *arg, comet_channel_t *ch, uint64_t seq)
{
    comet_push_t *p = arg;
    comet_ack_add(&p->acks, ch->mid, ch->id.key, comet_channel_device(ch), seq);
}

static void on_unlink(void *arg, list_link_t *link)
{
    comet_push_t *p = arg;
    comet_fanout_unlink(&p->fanout, link);
}

const comet_session_ops_t comet_push_session_ops = {on_authed, on_ack, on_unlink};

int comet_push_init(comet_push_t *p, comet_session_t *s, uv_loop_t *loop)
{
    p->session = s;
    int rc = comet_fanout_init(&p->fanout, loop, s->limits.fanout_batch, &s->rooms, s->stats);
    if (rc == 0)
        rc = comet_ack_init(&p->acks, loop, &s->logic);
    return rc;
}

void comet_push_drain(comet_push_t *p)
{
    comet_fanout_cancel(&p->fanout);
    comet_ack_flush(&p->acks);
}

void comet_push_close(comet_push_t *p)
{
    comet_fanout_close(&p->fanout);
    comet_ack_close(&p->acks);
}

/* ----------------------------------------------------------------------------- parts */

void comet_push_call_init(comet_push_call_t *call, comet_queue_t *reply_to, int parts,
                          comet_task_cb done)
{
    call->done.run = done;
    call->reply_to = reply_to;
    atomic_init(&call->pending, parts);
    atomic_init(&call->delivered, 0);
}

static int deliver_key(comet_session_t *s, comet_push_part_t *t, size_t i)
{
    if (t->kind == COMET_PUSH_KICK)
        return comet_channel_kick_key(s, t->keys[i], 0, (const char *)t->body->data, t->body->len);
    comet_channel_t *ch = comet_channel_find(s, t->keys[i]);
    if (ch == NULL || ch->state != COMET_CHANNEL_AUTHED)
        return 0;
    uint64_t seq = t->seqs ? t->seqs[i] : t->seq;
    /* A user push takes its place in the user's stream first, accepted op or not: a duplicate
     * or one a Fetch covers counts as taken (comet_sync.h). */
    if (t->seqs && seq != 0 && !comet_sync_push(ch, seq))
        return 1;
    if (!comet_accepts_has(&ch->accepts, t->opcode))
        return 0;
    comet_conn_send_packet_shared(&ch->conn, (uint32_t)t->opcode, (uint32_t)seq, t->body);
    return 1;
}

static int deliver(comet_push_t *p, comet_push_part_t *t)
{
    comet_session_t *s = p->session;
    int delivered = 0;
    switch (t->kind) {
    case COMET_PUSH_KEYS:
    case COMET_PUSH_KICK:
        for (size_t i = 0; i < t->n; i++)
            delivered += deliver_key(s, t, i);
        /* Written (or queued behind earlier bytes) to every connection of this worker. */
        if (delivered > 0)
            comet_fanout_push_latency(s->stats, t->accepted_us);
        break;
    case COMET_PUSH_ROOM: {
        comet_room_t *room = comet_rooms_find(&s->rooms, t->room, strlen(t->room));
        if (room)
            delivered =
                (int)comet_fanout_room(&p->fanout, room, t->tcp, t->ws, t->packets, t->accepted_us);
        break;
    }
    case COMET_PUSH_ALL:
        delivered =
            (int)comet_fanout_all(&p->fanout, &s->all, (uint32_t)COMET_STAT_GET(s->stats, conns),
                                  t->opcode, t->tcp, t->ws, t->rate, t->accepted_us);
        break;
    }
    if (t->kind != COMET_PUSH_KICK)
        COMET_STAT_ADD(s->stats, pushes, 1);
    return delivered;
}

static void part_free(comet_push_part_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->keys[i]);
    free(t->keys);
    free(t->seqs);
    free(t->room);
    buf_shared_unref(t->body);
    buf_shared_unref(t->tcp);
    buf_shared_unref(t->ws);
    free(t);
}

static void on_part(comet_task_t *task, void *owner)
{
    comet_session_t *s = owner;
    comet_push_part_t *t = (comet_push_part_t *)task;
    int delivered = s->stopping ? 0 : deliver(s->ops_arg, t);
    comet_push_call_t *call = t->call;
    atomic_fetch_add(&call->delivered, delivered);
    if (atomic_fetch_sub(&call->pending, 1) == 1)
        comet_queue_push(call->reply_to, &call->done);
    part_free(t);
}

comet_push_part_t *comet_push_part_new(comet_push_call_t *call, comet_push_kind_t kind)
{
    comet_push_part_t *t = xcalloc(1, sizeof *t);
    t->task.run = on_part;
    t->call = call;
    t->kind = kind;
    return t;
}
