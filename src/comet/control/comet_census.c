/* comet_census.c - see comet_census.h. */
#include "comet_census.h"

#include "buf.h"
#include "comet_session.h"
#include "strmap.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct census_room_s {
    int64_t count;
    char id[];
} census_room_t;

typedef struct census_part_s {
    comet_task_t task;
    comet_census_t *census;
} census_part_t;

struct comet_census_s {
    comet_task_t done;   /* posted to main by the last worker */
    comet_queue_t *main; /* borrowed */
    uv_mutex_t lock;
    strmap_t rooms; /* id -> census_room_t, under lock while workers add */
    atomic_int pending;
    comet_census_cb cb;
    void *arg;
    census_part_t parts[];
};

static const char *census_key(const void *item)
{
    return ((const census_room_t *)item)->id;
}

static void on_part(comet_task_t *t, void *owner)
{
    comet_session_t *s = owner;
    comet_census_t *c = ((census_part_t *)t)->census;
    uv_mutex_lock(&c->lock);
    uint32_t pos = 0;
    comet_room_t *room;
    while ((room = comet_rooms_next(&s->rooms, &pos)) != NULL) {
        /* a room being announced is listed too: job may have applied its JOIN already */
        if (room->count == 0 && room->state != COMET_ROOM_JOINING)
            continue;
        size_t len = strlen(room->id);
        census_room_t *e = strmap_get(&c->rooms, room->id, len);
        if (e == NULL) {
            e = xmalloc(sizeof *e + len + 1);
            e->count = 0;
            memcpy(e->id, room->id, len + 1);
            strmap_put(&c->rooms, e);
        }
        e->count += room->count;
    }
    uv_mutex_unlock(&c->lock);
    if (atomic_fetch_sub(&c->pending, 1) == 1)
        comet_queue_push(c->main, &c->done);
}

static void on_done(comet_task_t *t, void *owner)
{
    comet_census_t *c = (comet_census_t *)t;
    c->cb(c, c->arg);
    uint32_t pos = 0;
    census_room_t *e;
    while ((e = strmap_next(&c->rooms, &pos)) != NULL)
        free(e);
    strmap_deinit(&c->rooms);
    uv_mutex_destroy(&c->lock);
    free(c);
}

int comet_census_start(comet_worker_t *workers, int n, comet_queue_t *main, comet_census_cb cb,
                       void *arg)
{
    comet_census_t *c = xcalloc(1, sizeof *c + (size_t)n * sizeof c->parts[0]);
    int rc = uv_mutex_init(&c->lock);
    if (rc != 0) {
        free(c);
        return rc;
    }
    c->done.run = on_done;
    c->main = main;
    strmap_init(&c->rooms, census_key);
    atomic_init(&c->pending, n);
    c->cb = cb;
    c->arg = arg;
    for (int i = 0; i < n; i++) {
        c->parts[i].task.run = on_part;
        c->parts[i].census = c;
        comet_worker_post(&workers[i], &c->parts[i].task);
    }
    return 0;
}

size_t comet_census_count(const comet_census_t *c)
{
    return c->rooms.count;
}

const char *comet_census_next(const comet_census_t *c, uint32_t *pos, int64_t *count)
{
    const census_room_t *e = strmap_next(&c->rooms, pos);
    if (e == NULL)
        return NULL;
    *count = e->count;
    return e->id;
}
