/* proto.h - the client wire protocol, goim v2 compatible (DESIGN.md §3).
 *
 * Every packet is a 16-byte big-endian header followed by the body:
 *   packLen u32 (16 + body length) | headerLen u16 (always 16) | ver u16 (1) | op u32 | seq u32
 * Used by comet (server side), the client library and the bench.
 */
#ifndef HERALD_PROTO_H
#define HERALD_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_HEADER_LEN 16
#define PROTO_VERSION 1
#define PROTO_DEFAULT_MAX_BODY 4096
/* Longest room id (bytes), in OpAuth's room_id and OpChangeRoom's body. */
#define PROTO_ROOM_ID_MAX 255

enum proto_op {
    PROTO_OP_HANDSHAKE = 0,
    PROTO_OP_HANDSHAKE_REPLY = 1,
    PROTO_OP_HEARTBEAT = 2,
    PROTO_OP_HEARTBEAT_REPLY = 3, /* body: int32 big-endian online count of the room */
    PROTO_OP_SEND_MSG = 4,
    PROTO_OP_SEND_MSG_REPLY = 5,
    PROTO_OP_DISCONNECT_REPLY = 6, /* "kick": body JSON {"reason": "..."} */
    PROTO_OP_AUTH = 7,
    PROTO_OP_AUTH_REPLY = 8,
    PROTO_OP_RAW = 9, /* batch of packets */
    PROTO_OP_PROTO_READY = 10,
    PROTO_OP_PROTO_FINISH = 11,
    PROTO_OP_CHANGE_ROOM = 12,
    PROTO_OP_CHANGE_ROOM_REPLY = 13,
    PROTO_OP_SUB = 14,
    PROTO_OP_SUB_REPLY = 15,
    PROTO_OP_UNSUB = 16,
    PROTO_OP_UNSUB_REPLY = 17,
    PROTO_OP_ACK = 18, /* herald: header seq = highest per-user seq received in order */
    PROTO_OP_BUSINESS_MIN = 1000,
};

typedef struct proto_header_s {
    uint32_t pack_len;
    uint16_t header_len;
    uint16_t ver;
    uint32_t op;
    uint32_t seq;
} proto_header_t;

/* Writes a 16-byte header for a packet with `body_len` bytes of body into out. */
void proto_header_write(uint8_t out[PROTO_HEADER_LEN], uint32_t op, uint32_t seq,
                        uint32_t body_len);

/* Parses the header at `in` (len bytes available) and checks every bound: packLen >= 16,
 * headerLen == 16, body (packLen - 16) <= max_body. ver is not checked (goim does not).
 * Returns 0 when a whole header was parsed (h filled; the body may still be incomplete),
 * 1 when fewer than 16 bytes are available, HERALD_EPROTO or HERALD_ETOOBIG on a bad header. */
int proto_header_read(const uint8_t *in, size_t len, uint32_t max_body, proto_header_t *h);

/* Called once per complete packet. body is borrowed, valid only during the call, and has
 * h->pack_len - 16 bytes. Returning nonzero stops proto_reader_feed, which returns that value. */
typedef int (*proto_packet_cb)(void *arg, const proto_header_t *h, const uint8_t *body);

/* Streaming decoder for one connection. 16 bytes when idle: the partial packet (if any) is held
 * in a heap buffer sized to that packet and freed as soon as it completes, so idle connections
 * hold no buffer. Zero-initialise (or proto_reader_init) before use. */
typedef struct proto_reader_s {
    uint8_t *pending;     /* bytes of an incomplete packet, NULL when none */
    uint32_t pending_len; /* bytes held */
    uint32_t pending_cap; /* bytes allocated (whole packet once its header is known) */
} proto_reader_t;

void proto_reader_init(proto_reader_t *r);

/* Feeds `len` bytes read from the connection: calls cb for every complete packet, in order, and
 * keeps a trailing partial packet. Handles any split (one byte at a time included).
 * Returns 0, HERALD_EPROTO / HERALD_ETOOBIG on a malformed packet (the caller closes the
 * connection; the reader must then only be deinit'ed), or the callback's nonzero return. */
int proto_reader_feed(proto_reader_t *r, const uint8_t *data, size_t len, uint32_t max_body,
                      proto_packet_cb cb, void *arg);

/* Frees a pending partial packet. The reader may be fed again afterwards. */
void proto_reader_deinit(proto_reader_t *r);

/* Nonzero when the len bytes at id are a valid room id: 1..PROTO_ROOM_ID_MAX bytes, no NUL and
 * no control characters (any other byte, UTF-8 included, is fine). Comet applies it to what
 * clients send and to room ids in RPCs; logic to room ids in its HTTP API. */
int proto_room_id_valid(const char *id, size_t len);

#endif
