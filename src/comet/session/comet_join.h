/* comet_join.h - announcing a room's first member on this worker to job, before the client is
 * told it is in (docs/delivery.md "Rooms: no window after a join").
 *
 * A channel that enters a room (op 8 with a room, op 12) goes through comet_join_enter. When
 * the room is ANNOUNCED (comet_room.h) it enters at once. Otherwise the room becomes JOINING and
 * the worker calls logic JoinRoom{room, server, rpc_addr}: logic answers once the JOIN envelope
 * is in the room's own Kafka stream, ahead of any push to the room accepted after it, so job
 * sends those pushes here. Channels that enter the room meanwhile wait on the same call: one call
 * per room per worker, never per channel. The caller holds its answer (op 8 / op 13) until the
 * wait is over, and enters the channel then.
 *
 * When the call fails (logic unreachable, Kafka failing, timeout) the waiters are let in all the
 * same: waiting longer would block the client for a delivery the census repairs anyway (job
 * asks every comet for its rooms every room.refresh, and a JOINING or populated room is listed).
 * The room stays NEW, so the next channel that enters it tries again. Counted in
 * room_announce_failures, logged rate-limited. Worker thread only.
 */
#ifndef COMET_JOIN_H
#define COMET_JOIN_H

#include "comet_room.h"
#include "comet_session.h"
#include "list.h"

#include <stddef.h>

typedef struct comet_join_wait_s comet_join_wait_t;

/* The wait is over: status 0 (job knows), or the call's failure (see above). room is held until
 * the callback returns; the callee enters its channel (comet_room_join) or drops the wait. */
typedef void (*comet_join_cb)(comet_join_wait_t *w, comet_room_t *room, int status);

/* Caller's storage (embedded in the waiting party's own state), valid until its callback. */
struct comet_join_wait_s {
    list_link_t link; /* in room->waiters */
    comet_join_cb cb;
};

/* Whether room id (len bytes, a valid room id) can be entered now. Returns 0: it is announced,
 * or its announcement could not even be sent (no logic connected: counted as a failure); enter
 * at once, w is not used. Returns 1: w (its cb set by the caller) waits on the room's
 * announcement, and w->cb runs exactly once, later, from the loop. */
int comet_join_enter(comet_session_t *s, const char *id, size_t len, comet_join_wait_t *w);

#endif
