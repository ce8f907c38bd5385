/* comet_fanout.c - see comet_fanout.h. */
#include "comet_fanout.h"

#include "comet_channel.h"

#include <stdlib.h>
#include <string.h>

struct comet_fanout_job_s {
    comet_fanout_job_t *next;
    list_link_t *cursor; /* next link to visit, NULL when done */
    list_link_t *end;    /* last link to visit */
    comet_room_t *room;  /* held while walking its members; NULL when walking the all list */
    buf_shared_t *tcp;
    buf_shared_t *ws;
    uint32_t packets;
    int started;           /* visited a connection: no later message may join it */
    int32_t op;            /* accepts filter, or -1 for none (room pushes) */
    uint32_t rate;         /* paced: connections per second */
    uint64_t credit_milli; /* paced: thousandths of a write earned and not spent */
    uint64_t accepted_us;  /* the oldest message's accept time at logic, 0 unknown */
    uint64_t start_ns;     /* uv_hrtime() when it was queued */
};

static void on_idle(uv_idle_t *idle);
static void on_tick(uv_timer_t *t);

void comet_fanout_set_batch(comet_fanout_t *f, uint32_t batch)
{
    f->batch = batch ? batch : 1;
}

int comet_fanout_init(comet_fanout_t *f, uv_loop_t *loop, uint32_t batch, comet_rooms_t *rooms,
                      comet_stats_t *stats)
{
    f->batch = batch ? batch : 1;
    f->rooms = rooms;
    f->stats = stats;
    f->now_head = f->now_tail = NULL;
    f->paced_head = f->paced_tail = NULL;
    int rc = uv_idle_init(loop, &f->idle);
    if (rc == 0)
        rc = uv_timer_init(loop, &f->tick);
    f->idle.data = f;
    f->tick.data = f;
    return rc;
}

static void job_free(comet_fanout_t *f, comet_fanout_job_t *job)
{
    if (job->room)
        comet_room_release(f->rooms, job->room);
    buf_shared_unref(job->tcp);
    buf_shared_unref(job->ws);
    free(job);
}

void comet_fanout_push_latency(comet_stats_t *stats, uint64_t accepted_us)
{
    if (accepted_us == 0)
        return;
    uint64_t now = metrics_wall_us();
    metrics_hist_observe_ns(&stats->push_latency,
                            now > accepted_us ? (now - accepted_us) * 1000u : 0);
}

/* A fan-out that visited its last connection. */
static void job_done(comet_fanout_t *f, comet_fanout_job_t *job)
{
    metrics_hist_observe_since(&f->stats->fanout_time, job->start_ns);
    comet_fanout_push_latency(f->stats, job->accepted_us);
    job_free(f, job);
}

/* Visits up to max_visits connections, writing to at most max_writes; returns the writes. */
static uint32_t job_step(comet_fanout_job_t *job, uint32_t max_visits, uint32_t max_writes,
                         uint32_t *visits)
{
    uint32_t writes = 0;
    *visits = 0;
    while (job->cursor != NULL && *visits < max_visits && writes < max_writes) {
        list_link_t *link = job->cursor;
        job->started = 1;
        /* Advance first: the write may close the connection and unlink it. */
        job->cursor = link == job->end ? NULL : link->next;
        (*visits)++;
        comet_channel_t *ch = job->room ? list_entry(link, comet_channel_t, room_link)
                                        : list_entry(link, comet_channel_t, all_link);
        if (ch->state != COMET_CHANNEL_AUTHED)
            continue;
        if (job->op >= 0 && !comet_accepts_has(&ch->accepts, job->op))
            continue;
        buf_shared_t *b = comet_conn_is_ws(&ch->conn) ? job->ws : job->tcp;
        uv_buf_t ub = uv_buf_init((char *)b->data, b->len);
        comet_conn_send(&ch->conn, &ub, 1, b, job->packets, 0);
        writes++;
    }
    return writes;
}

static void run_now(comet_fanout_t *f)
{
    uint32_t budget = f->batch;
    while (f->now_head != NULL && budget > 0) {
        comet_fanout_job_t *job = f->now_head;
        uint32_t visits;
        job_step(job, budget, UINT32_MAX, &visits);
        budget -= visits;
        if (job->cursor != NULL)
            break;
        f->now_head = job->next;
        if (f->now_head == NULL)
            f->now_tail = NULL;
        job_done(f, job);
    }
    if (f->now_head != NULL && !uv_is_active((uv_handle_t *)&f->idle))
        uv_idle_start(&f->idle, on_idle);
    else if (f->now_head == NULL && uv_is_active((uv_handle_t *)&f->idle))
        uv_idle_stop(&f->idle);
}

static void on_idle(uv_idle_t *idle)
{
    run_now(idle->data);
}

static void on_tick(uv_timer_t *t)
{
    comet_fanout_t *f = t->data;
    comet_fanout_job_t *job = f->paced_head;
    if (job == NULL) {
        uv_timer_stop(&f->tick);
        return;
    }
    job->credit_milli += (uint64_t)job->rate * COMET_FANOUT_TICK_MS;
    uint32_t allowed = (uint32_t)(job->credit_milli / 1000);
    uint32_t visits;
    uint32_t writes = job_step(job, f->batch, allowed, &visits);
    job->credit_milli -= (uint64_t)writes * 1000;
    /* Credit not spent because the walk ended or ran out of matching connections is not saved
     * up for a burst later. */
    if (job->credit_milli > (uint64_t)job->rate * 1000)
        job->credit_milli = (uint64_t)job->rate * 1000;
    if (job->cursor == NULL) {
        f->paced_head = job->next;
        if (f->paced_head == NULL) {
            f->paced_tail = NULL;
            uv_timer_stop(&f->tick);
        }
        job_done(f, job);
    }
}

static comet_fanout_job_t *job_new(list_link_t *list, buf_shared_t *tcp, buf_shared_t *ws,
                                   uint32_t packets, int32_t op, uint64_t accepted_us)
{
    comet_fanout_job_t *job = xcalloc(1, sizeof *job);
    job->accepted_us = accepted_us;
    job->start_ns = uv_hrtime();
    job->cursor = list_first(list);
    job->end = list->prev;
    job->tcp = buf_shared_ref(tcp);
    job->ws = buf_shared_ref(ws);
    job->packets = packets;
    job->op = op;
    return job;
}

static void enqueue_now(comet_fanout_t *f, comet_fanout_job_t *job)
{
    if (f->now_tail)
        f->now_tail->next = job;
    else
        f->now_head = job;
    f->now_tail = job;
    /* The first batch goes out at once when nothing is queued ahead of it: a room push to a
     * few thousand members completes within the task that brought it. */
    if (f->now_head == job)
        run_now(f);
}

/* *dst followed by add, in a new buffer (others may hold *dst). */
static void shared_append(buf_shared_t **dst, const buf_shared_t *add)
{
    buf_shared_t *b = buf_shared_new((*dst)->len + add->len);
    memcpy(b->data, (*dst)->data, (*dst)->len);
    memcpy(b->data + (*dst)->len, add->data, add->len);
    buf_shared_unref(*dst);
    *dst = b;
}

uint32_t comet_fanout_room(comet_fanout_t *f, comet_room_t *room, buf_shared_t *tcp,
                           buf_shared_t *ws, uint32_t packets, uint64_t accepted_us)
{
    if (room->count == 0)
        return 0;
    comet_fanout_job_t *tail = f->now_tail;
    if (tail != NULL && tail->room == room && !tail->started && tail->cursor != NULL &&
        tail->tcp->len + tcp->len <= COMET_FANOUT_MERGE_MAX &&
        tail->ws->len + ws->len <= COMET_FANOUT_MERGE_MAX) {
        /* The worker is behind: the last fan-out queued for this room has not begun, so this
         * message rides along and every member gets both in one write. Members who joined
         * since it was queued get both as well (its end moves to the room's last member). */
        shared_append(&tail->tcp, tcp);
        shared_append(&tail->ws, ws);
        tail->packets += packets;
        tail->end = room->members.prev;
        if (tail->accepted_us == 0 || (accepted_us != 0 && accepted_us < tail->accepted_us))
            tail->accepted_us = accepted_us;
        COMET_STAT_ADD(f->stats, fanouts_merged, 1);
        return room->count;
    }
    comet_fanout_job_t *job = job_new(&room->members, tcp, ws, packets, -1, accepted_us);
    job->room = room;
    comet_room_hold(room);
    uint32_t n = room->count;
    enqueue_now(f, job);
    return n;
}

uint32_t comet_fanout_all(comet_fanout_t *f, list_link_t *all, uint32_t count, int32_t op,
                          buf_shared_t *tcp, buf_shared_t *ws, uint32_t rate, uint64_t accepted_us)
{
    if (list_empty(all))
        return 0;
    comet_fanout_job_t *job = job_new(all, tcp, ws, 1, op, accepted_us);
    if (rate == 0) {
        enqueue_now(f, job);
        return count;
    }
    job->rate = rate;
    if (f->paced_tail)
        f->paced_tail->next = job;
    else
        f->paced_head = job;
    f->paced_tail = job;
    if (!uv_is_active((uv_handle_t *)&f->tick))
        uv_timer_start(&f->tick, on_tick, COMET_FANOUT_TICK_MS, COMET_FANOUT_TICK_MS);
    return count;
}

static void job_unlink(comet_fanout_job_t *job, list_link_t *link)
{
    if (job->cursor == NULL)
        return;
    if (link == job->cursor) {
        job->cursor = link == job->end ? NULL : link->next;
    } else if (link == job->end) {
        /* cursor precedes end, so end's predecessor is still at or after the cursor */
        job->end = link->prev;
    }
}

void comet_fanout_unlink(comet_fanout_t *f, list_link_t *link)
{
    for (comet_fanout_job_t *j = f->now_head; j != NULL; j = j->next)
        job_unlink(j, link);
    for (comet_fanout_job_t *j = f->paced_head; j != NULL; j = j->next)
        job_unlink(j, link);
}

static void drop_all(comet_fanout_t *f, comet_fanout_job_t **head, comet_fanout_job_t **tail)
{
    while (*head != NULL) {
        comet_fanout_job_t *job = *head;
        *head = job->next;
        job_free(f, job);
    }
    *tail = NULL;
}

void comet_fanout_cancel(comet_fanout_t *f)
{
    drop_all(f, &f->now_head, &f->now_tail);
    drop_all(f, &f->paced_head, &f->paced_tail);
    uv_idle_stop(&f->idle);
    uv_timer_stop(&f->tick);
}

void comet_fanout_close(comet_fanout_t *f)
{
    comet_fanout_cancel(f);
    uv_close((uv_handle_t *)&f->idle, NULL);
    uv_close((uv_handle_t *)&f->tick, NULL);
}
