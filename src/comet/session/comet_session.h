/* comet_session.h - the session state of one worker: its client connections (the transport's
 * comet_conns_t), which of them holds which key, the rooms, the broadcast list, the worker's
 * logic clients and the online counts its heartbeat replies read.
 *
 * Owned by its worker (comet_worker.h) and touched only on the worker's thread, except `keys`
 * (comet-wide, locked, comet_keys.h) and `peers` (read-only after start). What the session has
 * to tell the layer above goes through the comet_session_ops_t it is given (delivery's,
 * comet_push.h). The channels (comet_channel.h) and the auth (comet_auth.h) work on this state;
 * comet_client.h takes connections in.
 */
#ifndef COMET_SESSION_H
#define COMET_SESSION_H

#include "buf.h"
#include "comet_conf.h"
#include "comet_conn.h"
#include "comet_ips.h"
#include "comet_keys.h"
#include "comet_limits.h"
#include "comet_logic.h"
#include "comet_online.h"
#include "comet_queue.h"
#include "comet_room.h"
#include "comet_stats.h"
#include "list.h"
#include "strmap.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct comet_channel_s comet_channel_t;

/* What the session tells the layer above; every call on the worker's thread with the arg given
 * to comet_session_init. */
typedef struct comet_session_ops_s {
    /* ch was authenticated: registered, its op 8 and first backlog page written. newest is the
     * user's newest seq (ConnectReply.last_seq); missed: a user push may have been sent to ch's
     * key before it registered (comet_keys_missed). ch may be closed by the callee. */
    void (*on_authed)(void *arg, comet_channel_t *ch, uint64_t newest, int missed);
    /* ch sent op 18: seq is the highest user seq it received in order. */
    void (*on_ack)(void *arg, comet_channel_t *ch, uint64_t seq);
    /* link (a channel's room_link or all_link) is about to leave its list. */
    void (*on_unlink)(void *arg, list_link_t *link);
} comet_session_ops_t;

typedef struct comet_session_s {
    comet_conns_t conns;         /* this worker's client connections */
    const comet_conf_t *conf;    /* what a reload never changes: read the limits from `limits` */
    comet_limits_t limits;       /* this worker's copy (comet_limits.h) */
    int index;                   /* this worker: what comet_keys routes to */
    comet_keys_t *keys;          /* comet-wide, borrowed */
    comet_ips_t *ips;            /* comet-wide distinct client addresses, borrowed */
    comet_queue_t *const *peers; /* every worker's queue by index (kicks elsewhere), borrowed */
    comet_stats_t *stats;        /* the worker's counters, borrowed */
    const comet_session_ops_t *ops;
    void *ops_arg;
    strmap_t local; /* key -> comet_key_t of this worker's registered channels */
    comet_rooms_t rooms;
    list_link_t all; /* registered channels (all_link), by registration: broadcast order */
    comet_logic_t logic;
    comet_online_t *online; /* room counts over all comets; NULL until the first RenewOnline */
    buf_t out;              /* building multi-packet writes (auth reply + backlog, fetched pages) */
    const char *rpc_addr;   /* this comet's advertised RPC address, as registered (borrowed, set
                             * before the worker starts; NULL: none), for JoinRoom */
    list_link_t room_changes; /* channels whose op 13 waits on a room announcement
                               * (comet_channel.c) */
    int stopping;             /* draining: no Disconnect calls (ServerDown covers them) */
} comet_session_t;

/* Sets s up on the worker's loop: its connections (limits from conf, counters in stats), logic
 * clients ("worker <index>" in their log names) and tables. keys, ips, peers, stats, ops and arg
 * are borrowed and must outlive s. Returns 0, or an error with the reason in err (errlen bytes):
 * then what was opened is closing (the loop finishes it) and nothing else is left to release.
 * Before the worker's thread starts. */
int comet_session_init(comet_session_t *s, uv_loop_t *loop, const comet_conf_t *conf, int index,
                       comet_keys_t *keys, comet_ips_t *ips, comet_queue_t *const *peers,
                       comet_stats_t *stats, const comet_session_ops_t *ops, void *arg, char *err,
                       size_t errlen);

/* Worker thread: from now on the session and its connections work with l (copied): a reload's
 * new limits, posted by the main thread (comet_worker_post_limits). Deadlines apply to every
 * connection at the next sweep; the fan-out batch is the delivery layer's (comet_push). */
void comet_session_set_limits(comet_session_t *s, const comet_limits_t *l);

/* Takes over the reference on o (may be NULL) as the online counts; the previous table is
 * released. */
void comet_session_set_online(comet_session_t *s, comet_online_t *o);

/* After the drain, once no connection is left: closes the sweep timer and the logic clients
 * (calls in flight fail) and drops the online counts. The loop then ends with the worker's
 * other handles. */
void comet_session_close(comet_session_t *s);

/* After the loop has ended: frees the tables and buffers. */
void comet_session_deinit(comet_session_t *s);

#endif
