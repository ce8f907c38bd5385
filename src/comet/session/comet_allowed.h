/* comet_allowed.h - the rooms a protected connection may join (logic's room.join = token,
 * ConnectReply.rooms_restricted; docs/security.md "Protected rooms").
 *
 * A list is one heap allocation, "id\0id\0...\0\0" (an empty list is "\0"), so a channel pays one
 * pointer, NULL when every room is open to it. Worker thread of the channel; pure.
 */
#ifndef COMET_ALLOWED_H
#define COMET_ALLOWED_H

#include <stddef.h>

/* Packs ids[0..n) into a new list (caller frees with free()). An id that is not a valid room id
 * (proto_room_id_valid) is left out: it could never be joined anyway. */
char *comet_allowed_new(char *const *ids, size_t n);

/* 1 when allowed is NULL (open) or lists the room id (len bytes), else 0. */
int comet_allowed_has(const char *allowed, const char *id, size_t len);

#endif
