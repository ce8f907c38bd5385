/* comet_room.h - the rooms of one worker: room id -> intrusive member list.
 *
 * Owned by one worker thread (comet_worker.h); nothing here is thread-safe. Room ids are interned:
 * a room exists while it has members or is held by a fan-out in progress, and every member points
 * at the same comet_room_t. Members are list_link_t embedded in the caller's objects (a
 * connection's room_link); the rooms never allocate per member.
 */
#ifndef COMET_ROOM_H
#define COMET_ROOM_H

#include "list.h"
#include "strmap.h"

#include <stddef.h>
#include <stdint.h>

/* Whether job knows that this worker has members of the room (comet_join.h). A room's first
 * member makes it JOINING until logic has put the announcement into the room's Kafka stream;
 * then it is ANNOUNCED while it has members. When its last member leaves it is NEW again: job's
 * census may drop it from then on, so the next first member announces it again. */
typedef enum {
    COMET_ROOM_NEW = 0, /* not announced (or the announcement failed) */
    COMET_ROOM_JOINING, /* announcement in flight; channels wait in `waiters` */
    COMET_ROOM_ANNOUNCED,
} comet_room_state_t;

typedef struct comet_room_s {
    list_link_t members; /* list of members' links, in join order */
    list_link_t waiters; /* JOINING: channels waiting to enter (comet_join.c owns the entries) */
    uint32_t count;      /* members */
    uint32_t holds;      /* fan-outs iterating the member list, an announcement in flight */
    uint8_t state;       /* comet_room_state_t */
    char id[];           /* NUL-terminated */
} comet_room_t;

typedef struct comet_rooms_s {
    strmap_t map; /* id -> comet_room_t, owned */
} comet_rooms_t;

void comet_rooms_init(comet_rooms_t *rs);
/* Frees every room. Members' links are left dangling: call only when no member remains linked. */
void comet_rooms_deinit(comet_rooms_t *rs);

/* The room with this id, or NULL. */
comet_room_t *comet_rooms_find(const comet_rooms_t *rs, const char *id, size_t len);

/* Number of rooms with at least one member or a hold. */
size_t comet_rooms_count(const comet_rooms_t *rs);

/* Iteration over rooms (the table must not change meanwhile): *pos = 0 first, NULL at the end. */
comet_room_t *comet_rooms_next(const comet_rooms_t *rs, uint32_t *pos);

/* The room `id` (valid, see proto_room_id_valid), created empty (NEW) when there is none: the
 * caller joins or holds it before anything can free it. Aborts on OOM. */
comet_room_t *comet_rooms_intern(comet_rooms_t *rs, const char *id, size_t len);

/* Appends member (in no list) to the room `id` (valid, see proto_room_id_valid), creating it.
 * Returns the room. Aborts on OOM. */
comet_room_t *comet_room_join(comet_rooms_t *rs, const char *id, size_t len, list_link_t *member);

/* Unlinks member from room; the room is NEW again when that was its last member, and freed
 * when it has no hold left either. */
void comet_room_leave(comet_rooms_t *rs, comet_room_t *room, list_link_t *member);

/* Keeps room alive while a fan-out iterates its members, even if they all leave. */
void comet_room_hold(comet_room_t *room);
/* Drops a hold; frees the room if it is then empty. */
void comet_room_release(comet_rooms_t *rs, comet_room_t *room);

#endif
