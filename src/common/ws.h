/* ws.h - WebSocket adapter (RFC 6455): handshake and framing, the only file that sees wslay.
 *
 * Built so that an idle connection holds no WebSocket state at all (DESIGN.md §9: a wslay event
 * context is ~8.7 KiB, a frame context ~4.2 KiB). The caller keeps raw bytes; ws_frame_peek()
 * tells from the 2..14 header bytes whether a whole frame is buffered, and only whole frames are
 * handed to the per-thread ws_codec_t (one wslay frame context per thread, always left at a frame
 * boundary). A partial frame stays in the connection's own pending bytes, like proto_reader_t.
 *
 * Server frames are unmasked, so one encoded frame (header + payload) can be shared by every
 * WebSocket connection of a room broadcast.
 */
#ifndef HERALD_WS_H
#define HERALD_WS_H

#include <stddef.h>
#include <stdint.h>

#define WS_KEY_LEN 24    /* base64 of 16 random bytes */
#define WS_ACCEPT_LEN 28 /* base64 of a SHA-1 */
#define WS_MAX_HANDSHAKE 4096
#define WS_MAX_FRAME_HEADER 14

enum ws_opcode {
    WS_OP_CONTINUATION = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

/* ---------------------------------------------------------------------------------- handshake */

/* Server side. Parses an HTTP/1.1 upgrade request at buf (len bytes). Returns 1 when the request
 * is not complete yet (no CRLFCRLF and len < WS_MAX_HANDSHAKE), HERALD_EWSPROTO when it is not a
 * valid WebSocket upgrade (method, Upgrade/Connection headers, version 13, key) or is larger than
 * WS_MAX_HANDSHAKE, else 0 with *consumed = request length, the request path (without query,
 * NUL-terminated, truncated to path_cap - 1) and accept = the Sec-WebSocket-Accept value. */
int ws_handshake_parse_request(const char *buf, size_t len, size_t *consumed, char *path,
                               size_t path_cap, char accept[WS_ACCEPT_LEN + 1]);

/* Writes the "101 Switching Protocols" response into out. Returns its length (< cap), or 0 if
 * cap is too small (512 is always enough). */
size_t ws_handshake_response(char *out, size_t cap, const char accept[WS_ACCEPT_LEN + 1]);

/* Writes a "400 Bad Request" / "404 Not Found" style refusal with `status` and reason. */
size_t ws_handshake_refusal(char *out, size_t cap, int status, const char *reason);

/* Client side. Writes a GET upgrade request for host:port path with a fresh random key (returned
 * in key). Returns its length, or 0 if cap is too small (1024 is enough for a short path). */
size_t ws_handshake_request(char *out, size_t cap, const char *host, int port, const char *path,
                            char key[WS_KEY_LEN + 1]);

/* Client side. Parses the server's response; like ws_handshake_parse_request: 1 = need more,
 * 0 = a valid 101 whose Sec-WebSocket-Accept matches key (*consumed set), HERALD_EWSPROTO
 * otherwise. */
int ws_handshake_parse_response(const char *buf, size_t len, size_t *consumed,
                                const char key[WS_KEY_LEN + 1]);

/* Sec-WebSocket-Accept for a client key: base64(SHA-1(key + RFC 6455 GUID)). */
void ws_accept_key(const char *key, size_t key_len, char accept[WS_ACCEPT_LEN + 1]);

/* ------------------------------------------------------------------------------------- frames */

typedef struct ws_frame_s {
    uint8_t opcode;   /* enum ws_opcode */
    uint8_t fin;      /* 1 on the last frame of a message */
    uint8_t *payload; /* points into the caller's buffer (unmasked in place) */
    size_t payload_len;
} ws_frame_t;

/* Looks at the frame starting at buf. Returns 0 and *frame_len (header + payload) when the whole
 * frame is in buf, 1 when more bytes are needed (*frame_len is then the total needed if the header
 * is complete, else 0), HERALD_EWSPROTO when the frame is invalid for this side (`from_client`:
 * client frames must be masked, server frames must not be; reserved bits set; control frame
 * longer than 125 or fragmented) and HERALD_ETOOBIG when the payload exceeds max_payload. */
int ws_frame_peek(const uint8_t *buf, size_t len, int from_client, uint64_t max_payload,
                  size_t *frame_len);

typedef struct ws_codec_s ws_codec_t;

/* One per thread. `server` nonzero: decodes masked client frames and encodes unmasked ones;
 * zero: the client side (encodes masked frames). Aborts on OOM. */
ws_codec_t *ws_codec_new(int server);
void ws_codec_free(ws_codec_t *c);

/* Decodes one whole frame (as measured by ws_frame_peek) in place: unmasks the payload and fills
 * *out pointing into frame. Returns 0 or HERALD_EWSPROTO. */
int ws_codec_decode(ws_codec_t *c, uint8_t *frame, size_t frame_len, ws_frame_t *out);

/* Size of the frame header for a payload of len bytes on this side (2..14). */
size_t ws_frame_header_len(const ws_codec_t *c, size_t payload_len);

/* Encodes one final frame (fin = 1) of opcode with payload into out, which must have room for
 * ws_frame_header_len(c, len) + len bytes. Client frames are masked with a fresh key. Returns
 * the number of bytes written, or 0 (nothing written) for a control opcode with len > 125. */
size_t ws_codec_encode(ws_codec_t *c, uint8_t opcode, const uint8_t *payload, size_t len,
                       uint8_t *out);

#endif
