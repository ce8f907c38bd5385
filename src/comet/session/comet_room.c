/* comet_room.c - see comet_room.h. */
#include "comet_room.h"

#include "buf.h"

#include <stdlib.h>
#include <string.h>

static const char *room_key(const void *item)
{
    return ((const comet_room_t *)item)->id;
}

void comet_rooms_init(comet_rooms_t *rs)
{
    strmap_init(&rs->map, room_key);
}

void comet_rooms_deinit(comet_rooms_t *rs)
{
    uint32_t pos = 0;
    comet_room_t *room;
    while ((room = strmap_next(&rs->map, &pos)) != NULL)
        free(room);
    strmap_deinit(&rs->map);
}

comet_room_t *comet_rooms_find(const comet_rooms_t *rs, const char *id, size_t len)
{
    return strmap_get(&rs->map, id, len);
}

size_t comet_rooms_count(const comet_rooms_t *rs)
{
    return rs->map.count;
}

comet_room_t *comet_rooms_next(const comet_rooms_t *rs, uint32_t *pos)
{
    return strmap_next(&rs->map, pos);
}

comet_room_t *comet_rooms_intern(comet_rooms_t *rs, const char *id, size_t len)
{
    comet_room_t *room = strmap_get(&rs->map, id, len);
    if (room == NULL) {
        room = xmalloc(sizeof *room + len + 1);
        list_init(&room->members);
        list_init(&room->waiters);
        room->count = 0;
        room->holds = 0;
        room->state = COMET_ROOM_NEW;
        memcpy(room->id, id, len);
        room->id[len] = '\0';
        strmap_put(&rs->map, room);
    }
    return room;
}

comet_room_t *comet_room_join(comet_rooms_t *rs, const char *id, size_t len, list_link_t *member)
{
    comet_room_t *room = comet_rooms_intern(rs, id, len);
    list_append(&room->members, member);
    room->count++;
    return room;
}

static void room_free_if_unused(comet_rooms_t *rs, comet_room_t *room)
{
    if (room->count == 0 && room->holds == 0) {
        strmap_del(&rs->map, room);
        free(room);
    }
}

void comet_room_leave(comet_rooms_t *rs, comet_room_t *room, list_link_t *member)
{
    list_unlink(member);
    if (--room->count == 0 && room->state == COMET_ROOM_ANNOUNCED)
        room->state = COMET_ROOM_NEW;
    room_free_if_unused(rs, room);
}

void comet_room_hold(comet_room_t *room)
{
    room->holds++;
}

void comet_room_release(comet_rooms_t *rs, comet_room_t *room)
{
    room->holds--;
    room_free_if_unused(rs, room);
}
