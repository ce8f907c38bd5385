/* job_room.c - see job_room.h. A room has a state only while a call is in flight, so the map
 * holds the busy rooms, never every room the comet ever saw. */
#include "job_room.h"

#include "buf.h"
#include "herald_assert.h"
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

typedef struct room_item_s {
    void *item;
    size_t bytes;
} room_item_t;

/* The batch is the first member: the batch pointer handed out is the state's address. */
typedef struct room_state_s {
    job_room_batch_t batch;
    size_t batch_cap;
    room_item_t *queue; /* ring of qcap (power of two) entries */
    size_t qhead, qlen, qcap;
} room_state_t;

struct job_room_s {
    strmap_t rooms; /* room -> room_state_t, busy rooms only */
    size_t batch_max, batch_bytes;
    size_t queued;
};

static const char *room_state_key(const void *item)
{
    return ((const room_state_t *)item)->batch.room;
}

job_room_t *job_room_new(size_t batch_max, size_t batch_bytes)
{
    job_room_t *r = xcalloc(1, sizeof(*r));
    strmap_init(&r->rooms, room_state_key);
    r->batch_max = batch_max ? batch_max : 1;
    r->batch_bytes = batch_bytes;
    return r;
}

void job_room_free(job_room_t *r)
{
    if (r == NULL)
        return;
    HERALD_ASSERT(r->rooms.count == 0); /* a batch still out would be lost */
    strmap_deinit(&r->rooms);
    free(r);
}

static void batch_add(room_state_t *s, void *item, size_t bytes)
{
    if (s->batch.n == s->batch_cap) {
        s->batch_cap = s->batch_cap ? s->batch_cap * 2 : 4;
        s->batch.items = xrealloc(s->batch.items, s->batch_cap * sizeof(*s->batch.items));
    }
    s->batch.items[s->batch.n++] = item;
    s->batch.bytes += bytes;
}

static void queue_push(room_state_t *s, void *item, size_t bytes)
{
    if (s->qlen == s->qcap) {
        size_t ncap = s->qcap ? s->qcap * 2 : 8;
        room_item_t *q = xmalloc(ncap * sizeof(*q));
        for (size_t i = 0; i < s->qlen; i++)
            q[i] = s->queue[(s->qhead + i) & (s->qcap - 1)];
        free(s->queue);
        s->queue = q;
        s->qcap = ncap;
        s->qhead = 0;
    }
    s->queue[(s->qhead + s->qlen) & (s->qcap - 1)] = (room_item_t){item, bytes};
    s->qlen++;
}

job_room_batch_t *job_room_offer(job_room_t *r, const char *room, void *item, size_t bytes)
{
    room_state_t *s = strmap_get(&r->rooms, room, strlen(room));
    if (s != NULL) {
        queue_push(s, item, bytes);
        r->queued++;
        return NULL;
    }
    s = xcalloc(1, sizeof(*s));
    s->batch.room = xstrdup(room);
    strmap_put(&r->rooms, s);
    batch_add(s, item, bytes);
    return &s->batch;
}

job_room_batch_t *job_room_next(job_room_t *r, job_room_batch_t *b)
{
    room_state_t *s = (room_state_t *)b;
    if (s->qlen == 0) {
        strmap_del(&r->rooms, s);
        free((char *)s->batch.room);
        free(s->batch.items);
        free(s->queue);
        free(s);
        return NULL;
    }
    s->batch.n = 0;
    s->batch.bytes = 0;
    while (s->qlen > 0 && s->batch.n < r->batch_max) {
        room_item_t *head = &s->queue[s->qhead];
        if (s->batch.n > 0 && s->batch.bytes + head->bytes > r->batch_bytes)
            break;
        batch_add(s, head->item, head->bytes);
        s->qhead = (s->qhead + 1) & (s->qcap - 1);
        s->qlen--;
        r->queued--;
    }
    return &s->batch;
}

size_t job_room_active(const job_room_t *r)
{
    return r->rooms.count;
}

size_t job_room_queued(const job_room_t *r)
{
    return r->queued;
}
