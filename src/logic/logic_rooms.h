/* logic_rooms.h - the rooms a client may join or post to when room.join = token (docs/security.md
 * "Protected rooms"): the list a JWT's `rooms` claim or an opaque token carries. Pure, no I/O.
 */
#ifndef LOGIC_ROOMS_H
#define LOGIC_ROOMS_H

#include <stddef.h>
#include <stdint.h>

#define LOGIC_ROOMS_MAX 64 /* rooms one token may list */

/* Caller's storage, zero-initialised = no rooms. ids are heap-owned (logic_rooms_deinit). */
typedef struct logic_rooms_s {
    char **ids;
    size_t n;
} logic_rooms_t;

/* Appends room id (len bytes, need not be NUL-terminated). Returns 0, or HERALD_EINVAL when it
 * is not a valid room id (proto_room_id_valid) or the list already holds LOGIC_ROOMS_MAX.
 * A duplicate is accepted and kept once. */
int logic_rooms_add(logic_rooms_t *r, const char *id, size_t len);

/* 1 when id (NUL-terminated) is in the list, else 0. */
int logic_rooms_has(const logic_rooms_t *r, const char *id);

/* Moves src's ids into dst (dst's own are released first); src is left empty. */
void logic_rooms_move(logic_rooms_t *dst, logic_rooms_t *src);

void logic_rooms_deinit(logic_rooms_t *r);

#endif
