/* comet_channel.h - a client connection as the session sees it (DESIGN.md §3): its key, user,
 * room, accepts and place in the user's stream, its place in the worker's tables once
 * authenticated (key tables, room, broadcast list), and what it does with the packets it sends
 * after auth.
 *
 * A channel embeds its transport connection as first member; it is allocated by comet_client.h
 * and freed once its socket is closed and the last reference (an RPC in flight,
 * comet_channel_ref) is dropped. Worker thread only.
 */
#ifndef COMET_CHANNEL_H
#define COMET_CHANNEL_H

#include "buf.h"
#include "comet_accepts.h"
#include "comet_conn.h"
#include "comet_keys.h"
#include "comet_room.h"
#include "comet_session.h"
#include "herald.pb-c.h"
#include "list.h"
#include "proto.h"

#include <stddef.h>
#include <stdint.h>

/* Calls to logic a channel may have in flight (refs); more OpSendMsg are refused at once with
 * HERALD_ERATE, so a client cannot pile up calls. */
#define COMET_CHANNEL_MAX_CALLS 64

/* The op 13 body that refuses a join (code HERALD_EFORBIDDEN); a granted join echoes the room. */
#define COMET_CHANNEL_ROOM_REFUSED "{\"code\":-1102,\"message\":\"room not allowed\"}"

typedef struct comet_auth_s comet_auth_t;

typedef enum {
    COMET_CHANNEL_WAIT_AUTH = 0, /* the first packet must be OpAuth */
    COMET_CHANNEL_AUTHING,       /* Connect in flight; reading paused, later packets deferred */
    COMET_CHANNEL_AUTHED,
    COMET_CHANNEL_GONE, /* the connection left (finishing or closed): nothing more is done */
} comet_channel_state_t;

enum {
    COMET_CHANNEL_F_REGISTERED = 1, /* in the key tables, a room and the broadcast list */
    COMET_CHANNEL_F_REPLACED = 2,   /* kicked by a newer connection with its key: no Disconnect */
    COMET_CHANNEL_F_CLOSED = 4,     /* the socket is closed: freed at the last unref */
    COMET_CHANNEL_F_JOINING = 8,    /* its op 12 waits on the room's announcement (comet_join.h):
                                     * in no room, reading paused, later packets deferred */
};

struct comet_channel_s {
    comet_conn_t conn;     /* first member: the transport's part */
    comet_key_t id;        /* id.key: heap, sized exactly, NULL before auth; the device name
                            * follows the NUL in the same allocation (comet_channel_device) */
    list_link_t all_link;  /* the session's broadcast list */
    list_link_t room_link; /* member of room */
    comet_room_t *room;    /* NULL when in no room */
    union {
        comet_auth_t *auth; /* Connect in flight (AUTHING), else NULL */
        void *upper;        /* AUTHED: the layer above's state for this channel (delivery: the
                             * Fetch in flight, comet_sync.h), else NULL */
    };
    int64_t mid;
    uint64_t last_seq; /* the user's seq this channel is at: backlog and pushes written (or
                        * skipped as not accepted) up to here, in order (comet_sync.h) */
    comet_accepts_t accepts;
    char *allowed_rooms; /* heap: the rooms it may join (comet_allowed.h); NULL = any room */
    uint32_t last_renew; /* ms: last logic Heartbeat */
    uint32_t rate_tat;   /* ms: upstream rate limiter state */
    uint16_t refs;
    uint8_t state; /* comet_channel_state_t */
    uint8_t flags;
    uint32_t ip_hash; /* comet_ips_hash of the peer while registered (0: not counted) */
};

static inline comet_channel_t *comet_channel_of(comet_conn_t *c)
{
    return (comet_channel_t *)c;
}

/* The session of ch's worker (its connections are the session's). */
static inline comet_session_t *comet_channel_session(const comet_channel_t *ch)
{
    return list_entry(comet_conn_conns(&ch->conn), comet_session_t, conns);
}

/* This worker's registered channel with key, or NULL. */
comet_channel_t *comet_channel_find(comet_session_t *s, const char *key);

/* The name of an authenticated channel's delivery position (ConnectReply.device: the client's
 * device, "" when none), for acks and Disconnect. */
const char *comet_channel_device(const comet_channel_t *ch);

/* Keeps ch's memory (not its socket) alive while an asynchronous call refers to it. */
void comet_channel_ref(comet_channel_t *ch);
void comet_channel_unref(comet_channel_t *ch);

/* Enters an authenticated channel (key, mid set) into the key tables and the broadcast list,
 * kicking any older connection with the same key on this comet, and establishes its
 * connection. */
void comet_channel_register(comet_channel_t *ch);

/* Moves ch to room id (len bytes, a valid room id) or out of any room when len is 0. */
void comet_channel_set_room(comet_channel_t *ch, const char *id, size_t len);

/* Appends the packets of protos[0..n) (seq order) with seq above ch->last_seq to out, framed for
 * ch, skipping ops ch does not accept, and moves ch->last_seq to the last one. Returns the
 * packets appended. */
uint32_t comet_channel_append_protos(comet_channel_t *ch, buf_t *out, Herald__Proto *const *protos,
                                     size_t n);

/* proto_packet_cb for an authenticated channel (arg = comet_channel_t): heartbeat (2), send (4),
 * change room (12), sub/unsub (14/16) and ack (18) are handled, other ops are ignored. A change
 * to a room not in ch->allowed_rooms is answered op 13 with COMET_CHANNEL_ROOM_REFUSED as body
 * and the channel stays where it was. A change to a room this worker has not announced yet
 * leaves the old room at once and answers op 13 once the new room is announced (comet_join.h),
 * with the channel in it; until then reading is paused and packets already read are kept and
 * handled afterwards, in order (COMET_CHANNEL_F_JOINING). Returns nonzero when the connection is
 * closing, to stop the reader. */
int comet_channel_on_packet(void *arg, const proto_header_t *h, const uint8_t *body);

/* Appends a copy of packet h (body borrowed) to out, header included: what comet_channel_replay
 * reads back. */
void comet_channel_keep_packet(buf_t *out, const proto_header_t *h, const uint8_t *body);

/* Handles packets (whole ones, back to back, as kept while ch waited: its auth, or an op 12's
 * announcement) through comet_channel_on_packet, then resumes reading unless ch is closing or
 * waits again. */
void comet_channel_replay(comet_channel_t *ch, const buf_t *packets);

/* Kicks this worker's authenticated channel with key (op 6 body, len bytes); with before_seq
 * != 0 only if it registered before that (comet_keys_before), and then as replaced (no
 * Disconnect). Returns 1 when it kicked. */
int comet_channel_kick_key(comet_session_t *s, const char *key, uint32_t before_seq,
                           const char *body, size_t len);

/* Same, with body {"reason":"<reason>"} (a plain word), on worker `worker` of this comet: here
 * at once, elsewhere through that worker's queue. */
void comet_channel_kick_on(comet_session_t *s, int worker, const char *key, uint32_t before_seq,
                           const char *reason);

/* The connection stops being open (comet_conn_ops_t.on_leave): leaves every table (room
 * included) and tells logic (Disconnect) unless the worker is draining or ch was replaced. */
void comet_channel_leave(comet_channel_t *ch);

/* The socket is closed (comet_conn_ops_t.on_close): ch is freed now or at its last unref. */
void comet_channel_closed(comet_channel_t *ch);

#endif
