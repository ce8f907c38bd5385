/* comet_conn.h - client connections as the transport sees them: bytes and packets (goim v2, on
 * TCP or inside WebSocket binary messages), never what the packets mean.
 *
 * Per loop thread a comet_conns_t holds what all its connections share: the 64 KiB read buffer
 * lent to every read, the WebSocket codec, the deadline lists and their sweep. Per connection a
 * comet_conn_t holds the socket, incomplete input and the count of unsent bytes.
 *
 * Upward the transport talks only through the comet_conn_ops_t a connection is given when it is
 * accepted (the session layer's); downward it reaches the socket only through the connection's
 * comet_stream_t (plain TCP: comet_tcp.h), so that TLS can be a second implementation of the same
 * interface.
 *
 * Memory (DESIGN.md §10): an idle connection holds this struct (embedded in the session's
 * channel), no timer (one sweep per loop walks ordered lists), no read buffer, and partial input
 * only while a packet, frame or handshake is incomplete. Writes go out at once where the socket
 * takes them; only what it does not take is copied into (or referenced by) a write request.
 *
 * Deadlines: from accept until the layer above establishes it (comet_conn_establish) a connection
 * is pending and is closed after auth_timeout_ms; established, it is closed after idle_timeout_ms
 * without input; finishing (comet_conn_finish), it is closed COMET_CONN_LINGER_MS after its last
 * bytes were queued unless the peer closes first.
 *
 * Everything here runs on the connections' loop thread.
 */
#ifndef COMET_CONN_H
#define COMET_CONN_H

#include "buf.h"
#include "comet_stats.h"
#include "list.h"
#include "proto.h"
#include "tls_record.h"
#include "ws.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define COMET_READ_BUF_SIZE (64 * 1024)
/* Plaintext a TLS read yields at most: one record. */
#define COMET_TLS_PLAIN_SIZE (16 * 1024)

/* After its last bytes are queued (kick, refused auth, close frame), a connection waits this long
 * for the peer to close before it is closed anyway. */
#define COMET_CONN_LINGER_MS 2000

typedef struct comet_conn_s comet_conn_t;
struct comet_tls_s;

/* What a connection tells the layer above; given at accept, borrowed for the connection's life.
 * Calls come from inside the transport's own functions as well (a write that fails closes the
 * connection, which calls on_leave): the layer above must expect them there. */
typedef struct comet_conn_ops_s {
    /* A whole packet arrived; body (h->pack_len - PROTO_HEADER_LEN bytes) is borrowed. Returns
     * nonzero when c is closing, which stops the rest of this read. */
    int (*on_packet)(comet_conn_t *c, const proto_header_t *h, const uint8_t *body);
    /* c stops being open (it begins finishing, or closes): once per connection, before anything
     * of c is released. */
    void (*on_leave)(comet_conn_t *c);
    /* c's socket is closed and the transport is done with it: the owner may free c now. Called
     * once, after on_leave. */
    void (*on_close)(comet_conn_t *c);
    /* A short name of c for log lines (the session's key), or NULL when it has none. */
    const char *(*label)(const comet_conn_t *c);
} comet_conn_ops_t;

/* The byte stream under a connection. Implementations call back into comet_conn (the functions
 * "for stream implementations" below). */
typedef struct comet_stream_s {
    /* Starts (or keeps) delivering input. Returns 0 or UV_E*. */
    int (*read_start)(comet_conn_t *c);
    void (*read_stop)(comet_conn_t *c);
    /* Writes bufs[0..nbufs) in order: what the socket does not take at once is queued, bytes lying
     * inside shared (may be NULL) by reference, other bytes copied, and counted in c->unsent until
     * written. Returns 0, or a UV_E* error when nothing could be written or queued (the caller
     * closes c). A queued write that fails later closes c. */
    int (*write)(comet_conn_t *c, const uv_buf_t *bufs, unsigned nbufs, buf_shared_t *shared);
    /* Half-closes after what is queued. Returns 0 or UV_E*; c is closed when it later fails. */
    int (*shutdown)(comet_conn_t *c);
    /* Closes the socket (queued writes are dropped); comet_conn_on_closed follows. */
    void (*close)(comet_conn_t *c);
} comet_stream_t;

/* What comet_conns_init takes from the configuration. */
typedef struct comet_conns_limits_s {
    uint32_t max_body;        /* largest packet body accepted (protocol.max_body) */
    uint64_t max_pending;     /* unsent bytes past which a connection is a slow consumer */
    uint32_t auth_timeout_ms; /* pending deadline */
    uint32_t idle_timeout_ms; /* established deadline (protocol.heartbeat_timeout) */
} comet_conns_limits_t;

/* The connections of one loop. Embedded in its owner (the session of a worker). */
typedef struct comet_conns_s {
    uv_loop_t *loop; /* borrowed */
    comet_conns_limits_t limits;
    comet_stats_t *stats; /* borrowed: the worker's counters */
    uint8_t *read_buf;    /* COMET_READ_BUF_SIZE bytes, lent to every read */
    ws_codec_t *ws;       /* frames WebSocket output; decodes input in place */
    buf_t scratch;        /* a packet before it is framed for WebSocket */
    /* TLS (comet_tls.c), shared by the loop's TLS connections: decrypted input (allocated at the
     * first TLS accept), the ciphertext of one SSL call on its way to the socket, gathered
     * plaintext of one write, and the ciphertext of the read being processed (of tls_in_conn). */
    uint8_t *tls_plain;
    TLS_CIPHER_CTX *tls_cipher; /* records of connections detached from OpenSSL */
    buf_t tls_out;
    buf_t tls_gather;
    const uint8_t *tls_in;
    size_t tls_in_len;
    const comet_conn_t *tls_in_conn;
    list_link_t pending; /* not yet established, by accept time */
    list_link_t active;  /* established, by last input */
    list_link_t closing; /* finishing, by the time their last bytes were queued */
    uv_timer_t sweep;
    int draining;                /* no new connection is kept */
    void (*on_empty)(void *arg); /* comet_conns_when_empty */
    void *empty_arg;
} comet_conns_t;

typedef enum {
    COMET_CONN_HANDSHAKE = 0, /* WebSocket: waiting for the HTTP upgrade; no packet yet */
    COMET_CONN_OPEN,          /* packets flow */
    COMET_CONN_CLOSING,       /* last bytes queued, FIN sent; input discarded until EOF or linger */
    COMET_CONN_CLOSED,        /* the stream is closing; ops->on_close follows */
} comet_conn_state_t;

enum {
    COMET_CONN_F_WS = 1,      /* WebSocket framing */
    COMET_CONN_F_WS_FRAG = 2, /* a fragmented message is being assembled */
    COMET_CONN_F_WS_CLOSE_SENT = 4,
    COMET_CONN_F_ESTABLISHED = 8, /* comet_conn_establish: in the active list */
};

/* Partial WebSocket input: [frag_len bytes of an unfinished fragmented message][raw bytes of an
 * incomplete frame]; before the upgrade, the incomplete handshake request. */
typedef struct comet_ws_in_s {
    uint8_t *buf; /* NULL when nothing is pending */
    uint32_t len;
    uint32_t cap;
} comet_ws_in_t;

/* One connection. Caller's storage (the first member of the session's channel), zeroed before
 * accept, valid until ops->on_close. */
struct comet_conn_s {
    uv_tcp_t tcp;                 /* first member; tcp.data is the comet_conns_t */
    const comet_stream_t *stream; /* borrowed */
    const comet_conn_ops_t *ops;  /* borrowed */
    struct comet_tls_s *tls;      /* TLS streams: the connection's TLS state; else NULL */
    list_link_t link;             /* in pending, active or closing (ordered by t) */
    union {
        proto_reader_t reader; /* TCP */
        comet_ws_in_t ws;      /* WebSocket */
    } in;
    uint32_t frag_len; /* WebSocket: assembled message bytes at the front of in.ws.buf */
    uint32_t unsent;   /* bytes queued in write requests */
    uint32_t t;        /* ms (uv_now, truncated): accept, last input or finish time */
    uint8_t state;     /* comet_conn_state_t */
    uint8_t flags;
};

/* ------------------------------------------------------------------------- the connections */

/* Creates the read buffer, codec and sweep timer of loop's connections and starts the sweep.
 * limits is copied, stats borrowed. Returns 0 or UV_E* (then nothing is left to release). */
int comet_conns_init(comet_conns_t *t, uv_loop_t *loop, const comet_conns_limits_t *limits,
                     comet_stats_t *stats);

/* From now on accepted connections are closed at once and the sweep runs every 100 ms, so that
 * connections whose peer does not close go right after their linger. */
void comet_conns_drain(comet_conns_t *t);

/* Calls cb(arg) once no socket is left: at once when there is none, else when the last one has
 * closed. One waiter at a time. */
void comet_conns_when_empty(comet_conns_t *t, void (*cb)(void *arg), void *arg);

/* The first connection still pending or established (for kicking them all), or NULL. */
comet_conn_t *comet_conns_first_open(const comet_conns_t *t);

/* Closes the sweep timer (every connection must be closed by then). */
void comet_conns_close(comet_conns_t *t);

/* After the loop has run the close: frees the buffers. */
void comet_conns_deinit(comet_conns_t *t);

/* Loop time in ms, truncated to 32 bits (compare with (uint32_t)(a - b)). */
static inline uint32_t comet_conns_now(const comet_conns_t *t)
{
    return (uint32_t)uv_now(t->loop);
}

/* ------------------------------------------------------------------------- one connection */

static inline comet_conns_t *comet_conn_conns(const comet_conn_t *c)
{
    return (comet_conns_t *)c->tcp.data;
}

static inline int comet_conn_is_ws(const comet_conn_t *c)
{
    return (c->flags & COMET_CONN_F_WS) != 0;
}

/* The layer above took c on (authenticated): it leaves the pending list for the established
 * one, where input keeps it alive. */
void comet_conn_establish(comet_conn_t *c);

/* Writes bufs[0..nbufs) as is (any nbufs): bytes inside shared (may be NULL) are referenced if
 * they cannot be written now, other bytes are copied. `packets` is only counted. Unless force, a
 * connection whose unsent bytes then exceed max_pending is kicked as a slow consumer. Returns 0,
 * or a negative code when c is (or became) closing or closed and nothing was queued. */
int comet_conn_send(comet_conn_t *c, const uv_buf_t *bufs, unsigned nbufs, buf_shared_t *shared,
                    uint32_t packets, int force);

/* Appends one packet, framed for c (a binary WebSocket frame on WebSocket), to out. */
void comet_conn_append_packet(comet_conn_t *c, buf_t *out, uint32_t op, uint32_t seq,
                              const void *body, size_t len);

/* Sends one packet framed for c. Returns as comet_conn_send. */
int comet_conn_send_packet(comet_conn_t *c, uint32_t op, uint32_t seq, const void *body,
                           size_t len);

/* Sends one packet whose body is a shared buffer: zero-copy on TCP. */
int comet_conn_send_packet_shared(comet_conn_t *c, uint32_t op, uint32_t seq, buf_shared_t *body);

/* WebSocket only: sends a control frame (payload at most 125 bytes); a close frame goes out at
 * most once per connection, past max_pending. */
void comet_conn_send_ws_control(comet_conn_t *c, uint8_t opcode, const uint8_t *payload,
                                size_t len);

/* {"reason":"<reason>"} into out (cap >= 128); reason is a plain word without characters to
 * escape. Returns the length. */
size_t comet_conn_reason_body(char *out, size_t cap, const char *reason);

/* Sends op 6 with the JSON body (len bytes), past max_pending, then finishes c. Nothing is sent
 * before the WebSocket upgrade. */
void comet_conn_kick(comet_conn_t *c, const char *body, size_t len);
/* Same with the body comet_conn_reason_body(reason). */
void comet_conn_kick_reason(comet_conn_t *c, const char *reason);

/* Graceful close: leaves the open state now (ops->on_leave), lets queued bytes go out, sends FIN
 * and discards input until the peer closes or COMET_CONN_LINGER_MS pass. */
void comet_conn_finish(comet_conn_t *c);

/* Closes now (queued writes are dropped). Safe in any state, more than once. */
void comet_conn_close(comet_conn_t *c);

/* Pauses reading / resumes it (only while open). */
void comet_conn_pause(comet_conn_t *c);
void comet_conn_resume(comet_conn_t *c);

/* Closes c for a client protocol error err (HERALD_E*), with a rate-limited warning naming the
 * peer and `what`. */
void comet_conn_protocol_error(comet_conn_t *c, int err, const char *what);

/* "ip:port" of the peer into out (cap >= 64), "?" when unknown. */
void comet_conn_peer(const comet_conn_t *c, char *out, size_t cap);

/* -------------------------------------------------------------- for stream implementations */

/* A stream accepted a socket into c (its stream part is set up): c starts in t, with ops and
 * (ws) WebSocket framing. */
void comet_conn_init(comet_conn_t *c, comet_conns_t *t, const comet_stream_t *stream,
                     const comet_conn_ops_t *ops, int ws);

/* The socket is connected: c joins the pending list and reads (or is closed while draining). */
void comet_conn_start(comet_conn_t *c);

/* A stream's read callback got nread (libuv's): 0 is nothing, an error or EOF closes c. Returns 1
 * when nread bytes are to be handled (as comet_conn_on_input), else 0. */
int comet_conn_on_read(comet_conn_t *c, ssize_t nread);

/* nread bytes arrived in the loop's read buffer (comet_conns_t.read_buf). Returns 1 when the
 * caller hands them to the framing (comet_conn_on_packets, or comet_ws_on_read on WebSocket), 0
 * when they are to be dropped (c is finishing). */
int comet_conn_on_input(comet_conn_t *c, size_t nread);

/* Plain TCP framing: feeds input bytes to c's packet reader. */
void comet_conn_on_packets(comet_conn_t *c, const uint8_t *data, size_t len);

/* proto_packet_cb handing a packet of c (arg) to its ops. */
int comet_conn_on_packet(void *arg, const proto_header_t *h, const uint8_t *body);

/* The peer closed (UV_EOF) or reading failed (UV_E*): closes c. */
void comet_conn_on_eof(comet_conn_t *c, int status);

/* The stream's socket is closed: counts it and hands c back to its owner (ops->on_close). */
void comet_conn_on_closed(comet_conn_t *c);

#endif
