/* comet_join.c - see comet_join.h. */
#include "comet_join.h"

#include "buf.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "rpc_methods.h"

#include <stdlib.h>

/* One JoinRoom call in flight; the room is held until it is over. */
typedef struct announce_s {
    comet_session_t *s;
    comet_room_t *room;
} announce_t;

static void on_announced(int status, const ProtobufCMessage *reply, void *arg)
{
    (void)reply;
    announce_t *a = arg;
    comet_session_t *s = a->s;
    comet_room_t *room = a->room;
    free(a);
    if (status == 0) {
        COMET_STAT_ADD(s->stats, room_announces, 1);
        room->state = COMET_ROOM_ANNOUNCED;
    } else {
        COMET_STAT_ADD(s->stats, room_announce_failures, 1);
        room->state = COMET_ROOM_NEW;
        if (status != UV_ECANCELED)
            log_warn_rl("room %.64s: JoinRoom failed (%s): its new members are let in, job finds "
                        "them at its next room census",
                        room->id, herald_strerror(comet_logic_code(status)));
    }
    /* The callbacks may enter other rooms, or this one again (deferred packets): detach first. */
    list_link_t waiting;
    list_init(&waiting);
    list_link_t *l;
    while ((l = list_first(&room->waiters)) != NULL) {
        list_unlink(l);
        list_append(&waiting, l);
    }
    while ((l = list_first(&waiting)) != NULL) {
        list_unlink(l);
        comet_join_wait_t *w = list_entry(l, comet_join_wait_t, link);
        w->cb(w, room, status);
    }
    /* Every waiter left already (closed, or moved on): job's census may drop the room now, so
     * the next first member must announce it again. */
    if (room->count == 0 && room->state == COMET_ROOM_ANNOUNCED)
        room->state = COMET_ROOM_NEW;
    comet_room_release(&s->rooms, room);
}

/* Sends the room's JoinRoom; 0 or the reason it could not be sent. */
static int announce(comet_session_t *s, comet_room_t *room)
{
    Herald__JoinRoomReq req = HERALD__JOIN_ROOM_REQ__INIT;
    req.room = room->id;
    req.server = s->conf->server_id;
    req.rpc_addr = (char *)(s->rpc_addr != NULL ? s->rpc_addr : "");
    announce_t *a = xmalloc(sizeof *a);
    a->s = s;
    a->room = room;
    int rc = comet_logic_call(&s->logic, RPC_LOGIC_JOIN_ROOM, &req.base,
                              &herald__join_room_reply__descriptor, 0, on_announced, a);
    if (rc != 0) {
        free(a);
        return rc;
    }
    comet_room_hold(room);
    room->state = COMET_ROOM_JOINING;
    return 0;
}

int comet_join_enter(comet_session_t *s, const char *id, size_t len, comet_join_wait_t *w)
{
    comet_room_t *room = comet_rooms_intern(&s->rooms, id, len);
    if (room->state == COMET_ROOM_ANNOUNCED)
        return 0;
    if (room->state == COMET_ROOM_NEW) {
        int rc = announce(s, room);
        if (rc != 0) {
            COMET_STAT_ADD(s->stats, room_announce_failures, 1);
            log_warn_rl("room %.64s: cannot send JoinRoom (%s): its new members are let in, job "
                        "finds them at its next room census",
                        room->id, herald_strerror(comet_logic_code(rc)));
            comet_room_hold(room); /* frees it again if intern just made it */
            comet_room_release(&s->rooms, room);
            return 0;
        }
    }
    list_append(&room->waiters, &w->link);
    return 1;
}
