/* comet_push.h - the delivery layer of one worker: its fan-outs and ack batches, the session ops
 * it hands the session (a channel authenticated, acked, leaving a list), and the worker's side
 * of the Comet RPC service's pushes.
 *
 * A push request (comet_service.h) is split over workers: the requester embeds a
 * comet_push_call_t, hands each worker a comet_push_part_t through the worker's queue, and is
 * posted call->done on its own queue once every part was taken: written to the sockets, or for
 * room pushes and broadcasts, started as a fan-out ("taken" for job's at-least-once commit).
 *
 * delivered counts: KEYS - connections written to (a user push the connection has already, or
 * that a Fetch of its gap covers, counts as delivered: comet_sync.h); ROOM - room members on the
 * worker; ALL - authenticated connections considered (the accepts filter is applied while
 * writing); KICK - connections kicked.
 *
 * Worker thread only, but for comet_push_call_init and comet_push_part_new (any thread).
 */
#ifndef COMET_PUSH_H
#define COMET_PUSH_H

#include "buf.h"
#include "comet_ack.h"
#include "comet_fanout.h"
#include "comet_queue.h"
#include "comet_session.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct comet_push_s {
    comet_session_t *session; /* the same worker's, borrowed */
    comet_fanout_t fanout;
    comet_ack_t acks;
} comet_push_t;

/* The session's ops (comet_session_init) with arg = the worker's comet_push_t: an authenticated
 * channel takes its place in the user's stream (comet_sync.h), acks are batched, a channel
 * leaving a list is skipped by the fan-outs. */
extern const comet_session_ops_t comet_push_session_ops;

/* Sets p up on s's loop (s set up with comet_push_session_ops and arg p). Returns 0 or UV_E*
 * (the worker's teardown closes what was opened). */
int comet_push_init(comet_push_t *p, comet_session_t *s, uv_loop_t *loop);

/* Shutdown: drops every fan-out and sends the acks queued so far. */
void comet_push_drain(comet_push_t *p);

/* Drops what is left and closes the handles (before the session's logic clients close). */
void comet_push_close(comet_push_t *p);

typedef enum {
    COMET_PUSH_KEYS, /* a packet to keys */
    COMET_PUSH_KICK, /* op 6 to keys */
    COMET_PUSH_ROOM, /* packets to a room's members */
    COMET_PUSH_ALL,  /* a packet to every authenticated connection */
} comet_push_kind_t;

/* One request split over workers. Embedded at the start of the requester's struct; the last
 * part posts `done` to reply_to, whose task then owns the call (reads `delivered`, frees it). */
typedef struct comet_push_call_s {
    comet_task_t done;
    comet_queue_t *reply_to; /* borrowed */
    atomic_int pending;      /* parts not yet taken */
    atomic_int delivered;    /* summed over the parts (see above) */
} comet_push_call_t;

/* parts: how many comet_push_part_t will be posted for call (at least 1); done runs on
 * reply_to's thread after the last. */
void comet_push_call_init(comet_push_call_t *call, comet_queue_t *reply_to, int parts,
                          comet_task_cb done);

/* One worker's part. Owns its keys, seqs and room (heap copies) and a reference on each buffer;
 * freed by the worker. */
typedef struct comet_push_part_s {
    comet_task_t task;
    comet_push_call_t *call;
    comet_push_kind_t kind;
    char **keys;            /* KEYS, KICK */
    uint64_t *seqs;         /* KEYS: parallel to keys (user seqs, 0 = none), or NULL */
    size_t n;               /* keys */
    int32_t opcode;         /* KEYS, ALL: the packet's op */
    uint32_t seq;           /* KEYS without seqs: the packet's seq */
    buf_shared_t *body;     /* KEYS: packet body; KICK: op 6 body */
    char *room;             /* ROOM */
    buf_shared_t *tcp, *ws; /* ROOM, ALL: the packets encoded once for each framing */
    uint32_t packets;       /* ROOM, ALL: packets in tcp */
    uint32_t rate;          /* ALL: connections per second, 0 = no limit */
    uint64_t accepted_us;   /* when logic accepted the push (the oldest of a batch), 0 unknown */
} comet_push_part_t;

/* A zeroed part of call; the caller fills its fields and posts it to a worker's queue, where it
 * runs with owner = that worker's comet_session_t (whose ops_arg is the worker's comet_push_t). */
comet_push_part_t *comet_push_part_new(comet_push_call_t *call, comet_push_kind_t kind);

#endif
