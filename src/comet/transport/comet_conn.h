/* comet_conn.h - one client connection (TCP or WebSocket) on a worker: socket lifecycle, read
 * path and write path.
 *
 * Memory (DESIGN.md §9): the struct below is everything an idle authenticated connection holds,
 * besides its key string, its slot in two key tables and, for business ops, a few bytes of
 * accepts. There is no per-connection timer (the worker sweeps ordered lists once a second), no
 * read buffer (the worker's 64 KiB buffer is lent to every read), and partial input lives in a
 * heap buffer that exists only while a packet, frame or handshake is incomplete. Writes go out
 * with uv_try_write; only what the socket does not take is copied into a write request.
 *
 * Owned by its worker thread; everything here runs on that thread. A connection is freed after
 * its handle is closed and the last reference (an RPC in flight, comet_conn_ref) is dropped.
 */
#ifndef COMET_CONN_H
#define COMET_CONN_H

#include "buf.h"
#include "comet_accepts.h"
#include "list.h"
#include "proto.h"

#include <stdint.h>
#include <uv.h>

typedef struct comet_worker_s comet_worker_t;
typedef struct comet_room_s comet_room_t;
typedef struct comet_auth_s comet_auth_t;
typedef struct comet_sync_s comet_sync_t;

typedef enum {
    COMET_CONN_HANDSHAKE = 0, /* WebSocket: waiting for the HTTP upgrade */
    COMET_CONN_WAIT_AUTH,     /* first packet must be OpAuth */
    COMET_CONN_AUTHING,       /* Connect in flight; reading paused, later packets deferred */
    COMET_CONN_AUTHED,
    COMET_CONN_CLOSING, /* last bytes queued, FIN sent; input discarded until EOF or linger */
    COMET_CONN_CLOSED,  /* uv_close called */
} comet_conn_state_t;

enum {
    COMET_CONN_F_WS = 1,      /* WebSocket transport */
    COMET_CONN_F_WS_FRAG = 2, /* a fragmented message is being assembled */
    COMET_CONN_F_WS_CLOSE_SENT = 4,
    COMET_CONN_F_REGISTERED = 8, /* in the key tables, room and broadcast list */
    COMET_CONN_F_HANDLE_CLOSED = 16,
    COMET_CONN_F_REPLACED = 32, /* kicked by a newer connection with its key: no Disconnect */
};

/* Partial WebSocket input: [frag_len bytes of an unfinished fragmented message][raw bytes of an
 * incomplete frame]; before the upgrade, the incomplete handshake request. */
typedef struct comet_ws_in_s {
    uint8_t *buf; /* NULL when nothing is pending */
    uint32_t len;
    uint32_t cap;
} comet_ws_in_t;

typedef struct comet_conn_s {
    uv_tcp_t tcp;          /* first member; tcp.loop->data is the worker */
    list_link_t link;      /* worker's pending, active or closing list (ordered by t) */
    list_link_t all_link;  /* worker's list of authenticated connections (broadcasts) */
    list_link_t room_link; /* member of room */
    comet_room_t *room;    /* NULL when in no room */
    char *key;             /* heap, sized exactly; NULL before auth; its device follows the NUL
                            * in the same allocation (comet_auth_device) */
    union {
        comet_auth_t *auth; /* Connect in flight (state AUTHING), else NULL */
        comet_sync_t *sync; /* Fetch in flight (state AUTHED, comet_sync.h), else NULL */
    };
    int64_t mid;
    uint64_t last_seq; /* the user's seq this connection is at: backlog and pushes written (or
                        * skipped as not accepted) up to here, in order (comet_sync.h) */
    comet_accepts_t accepts;
    union {
        proto_reader_t reader; /* TCP */
        comet_ws_in_t ws;      /* WebSocket */
    } in;
    uint32_t frag_len;   /* WebSocket: assembled message bytes at the front of in.ws.buf */
    uint32_t unsent;     /* bytes queued in write requests */
    uint32_t t;          /* ms (uv_now, truncated): accept, last activity or close time */
    uint32_t last_renew; /* ms: last logic Heartbeat */
    uint32_t rate_tat;   /* ms: upstream rate limiter state (comet_channel.c) */
    uint32_t reg_seq;    /* registration order (comet_keys.h), for duplicate kicks */
    uint16_t refs;
    uint8_t state; /* comet_conn_state_t */
    uint8_t flags;
} comet_conn_t;

/* After its last bytes are queued (kick, refused auth, close frame), a connection waits this long
 * for the peer to close before it is closed anyway. */
#define COMET_CONN_LINGER_MS 2000

/* Calls to logic a connection may have in flight (refs); more OpSendMsg are refused at once
 * with HERALD_ERATE, so a client cannot pile up calls. */
#define COMET_CONN_MAX_CALLS 64

static inline comet_worker_t *comet_conn_worker(const comet_conn_t *c)
{
    return (comet_worker_t *)c->tcp.loop->data;
}

static inline int comet_conn_is_ws(const comet_conn_t *c)
{
    return (c->flags & COMET_CONN_F_WS) != 0;
}

/* Accepts a pending connection on listener (a worker's TCP or WebSocket listener). */
void comet_conn_accept(comet_worker_t *w, uv_stream_t *listener, int ws);

/* Writes bufs (nbufs <= 4) as is: bytes of shared (may be NULL) are referenced if they cannot be
 * written now, other bytes are copied. `packets` is only counted. Unless force, a connection whose
 * unsent bytes then exceed protocol.max_pending_bytes is kicked as a slow consumer. Returns 0, or
 * a negative code when the connection is (or became) closing or closed and nothing was queued. */
int comet_conn_send(comet_conn_t *c, const uv_buf_t *bufs, unsigned nbufs, buf_shared_t *shared,
                    uint32_t packets, int force);

/* Appends one packet, framed for c's transport (a binary WebSocket frame on WebSocket), to out. */
void comet_conn_append_packet(comet_conn_t *c, buf_t *out, uint32_t op, uint32_t seq,
                              const void *body, size_t len);

/* Sends one packet framed for c's transport. */
int comet_conn_send_packet(comet_conn_t *c, uint32_t op, uint32_t seq, const void *body,
                           size_t len);

/* Sends one packet whose body is a shared buffer: zero-copy on TCP. */
int comet_conn_send_packet_shared(comet_conn_t *c, uint32_t op, uint32_t seq, buf_shared_t *body);

/* Marks activity: an authenticated connection moves to the tail of the idle list. */
void comet_conn_touch(comet_conn_t *c);

/* Sends op 6 with the JSON body (len bytes) and then closes after the write (comet_conn_finish). */
void comet_conn_kick(comet_conn_t *c, const char *body, size_t len);
/* Same, body {"reason":"<reason>"}; reason is a plain word without characters to escape. */
void comet_conn_kick_reason(comet_conn_t *c, const char *reason);

/* Graceful close: leaves every table now, lets queued bytes go out, sends FIN and discards input
 * until the peer closes or COMET_CONN_LINGER_MS pass. */
void comet_conn_finish(comet_conn_t *c);

/* Closes now (queued writes are dropped). Safe to call in any state, more than once. */
void comet_conn_close(comet_conn_t *c);

/* Keeps the struct alive (not the socket) while an asynchronous call refers to it. */
void comet_conn_ref(comet_conn_t *c);
void comet_conn_unref(comet_conn_t *c);

/* Pauses reading (auth in flight) / resumes it once authenticated. */
void comet_conn_pause(comet_conn_t *c);
void comet_conn_resume(comet_conn_t *c);

/* Closes c for a client protocol error err (HERALD_E*), with a rate-limited warning naming the
 * peer and `what`. */
void comet_conn_protocol_error(comet_conn_t *c, int err, const char *what);

/* "ip:port" of the peer into out (cap >= 64), "?" when unknown. */
void comet_conn_peer(const comet_conn_t *c, char *out, size_t cap);

#endif
