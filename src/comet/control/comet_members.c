/* comet_members.c - see comet_members.h. */
#include "comet_members.h"

#include "buf.h"
#include "comet_channel.h"
#include "comet_session.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct members_s members_t;

/* One worker's part, written by that worker only, read by the main thread after the last part
 * (the queue's mutex orders the two). */
typedef struct members_part_s {
    comet_task_t task;
    members_t *m;
    mid_top_t top; /* zeroed when the worker has no such room: nothing allocated */
    int64_t conns;
} members_part_t;

/* One RoomMembers call. Heap, freed on the main thread after cb. */
struct members_s {
    comet_task_t done;   /* posted to main by the last worker */
    comet_queue_t *main; /* borrowed */
    int nparts;
    atomic_int pending;
    size_t limit;
    comet_members_cb cb;
    void *arg;
    size_t len;
    char *room;
    members_part_t parts[];
};

static void on_part(comet_task_t *t, void *owner)
{
    comet_session_t *s = owner;
    members_part_t *part = (members_part_t *)t;
    members_t *m = part->m;
    comet_room_t *room = comet_rooms_find(&s->rooms, m->room, m->len);
    if (room != NULL) {
        mid_top_init(&part->top, m->limit);
        LIST_FOREACH(l, &room->members)
        {
            const comet_channel_t *ch = list_entry(l, comet_channel_t, room_link);
            if (ch->state != COMET_CHANNEL_AUTHED)
                continue;
            mid_top_add(&part->top, ch->mid, 1);
            part->conns++;
        }
        mid_top_finish(&part->top);
    }
    if (atomic_fetch_sub(&m->pending, 1) == 1)
        comet_queue_push(m->main, &m->done);
}

static void on_done(comet_task_t *t, void *owner)
{
    (void)owner;
    members_t *m = (members_t *)t;
    mid_top_t all;
    mid_top_init(&all, m->limit);
    int64_t conns = 0;
    for (int i = 0; i < m->nparts; i++) {
        const members_part_t *part = &m->parts[i];
        for (size_t j = 0; j < part->top.n; j++)
            mid_top_add(&all, part->top.v[j].mid, part->top.v[j].count);
        if (part->top.more)
            mid_top_more(&all);
        conns += part->conns;
    }
    mid_top_finish(&all);
    m->cb(&all, conns, m->arg);
    mid_top_deinit(&all);
    for (int i = 0; i < m->nparts; i++)
        mid_top_deinit(&m->parts[i].top);
    free(m->room);
    free(m);
}

void comet_members_start(comet_worker_t *workers, int n, comet_queue_t *main, const char *room,
                         size_t len, size_t limit, comet_members_cb cb, void *arg)
{
    members_t *m = xcalloc(1, sizeof(*m) + (size_t)n * sizeof(m->parts[0]));
    m->done.run = on_done;
    m->main = main;
    m->nparts = n;
    atomic_init(&m->pending, n);
    m->limit = limit;
    m->cb = cb;
    m->arg = arg;
    m->len = len;
    m->room = xmalloc(len + 1);
    memcpy(m->room, room, len);
    m->room[len] = '\0';
    for (int i = 0; i < n; i++) {
        m->parts[i].task.run = on_part;
        m->parts[i].m = m;
        comet_worker_post(&workers[i], &m->parts[i].task);
    }
}
