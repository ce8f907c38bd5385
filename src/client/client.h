/* client.h - herald client library: one blocking connection to a comet over TCP or WebSocket,
 * either of them plain or inside TLS, speaking the goim v2 protocol (proto.h). Used by herald-cli
 * and by the integration tests as a real client. Not thread-safe: one thread per client_t.
 *
 * Received op 9 (raw batch) packets are unpacked: client_recv() returns the inner packets one by
 * one, in order, never the wrapper (on TCP goim writes batches back to back; on WebSocket wrapped
 * in one op 9 packet: both are handled).
 */
#ifndef HERALD_CLIENT_H
#define HERALD_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "client_tls_opts.h"

typedef struct client_s client_t;

/* CLIENT_TLS is the TCP protocol inside TLS (comet's [tls] listen), CLIENT_WSS WebSocket inside
 * TLS, wss://host:port/sub (comet's [tls] wss_listen). */
typedef enum { CLIENT_TCP = 0, CLIENT_WS = 1, CLIENT_TLS = 2, CLIENT_WSS = 3 } client_transport_t;

/* One received packet. body is heap-owned by the packet: free with client_packet_free(). The body
 * is NUL-terminated for convenience (body_len excludes the NUL). */
typedef struct client_packet_s {
    uint32_t op;
    uint32_t seq;
    uint16_t ver;
    uint8_t *body;
    uint32_t body_len;
} client_packet_t;

/* Connects to host:port (TCP) or ws://host:port/sub (WebSocket: HTTP upgrade, masked client
 * frames, binary messages), for CLIENT_TLS / CLIENT_WSS inside TLS with the default options
 * (system store, host as the server name). timeout_ms bounds the connect, the TLS handshake and
 * the WebSocket handshake together. Returns NULL and writes a message into err on failure (a
 * refused certificate: "... certificate verify failed: <reason>" or "... host name mismatch:
 * ..."). */
client_t *client_connect(client_transport_t transport, const char *host, int port, int timeout_ms,
                         char *err, size_t errlen);

/* client_connect with TLS options for CLIENT_TLS and CLIENT_WSS (tls NULL: the defaults); the
 * plain transports ignore tls. CLIENT_WSS sends tls->server_name, when set, as the Host of its
 * upgrade request. */
client_t *client_connect_tls(client_transport_t transport, const char *host, int port,
                             const client_tls_t *tls, int timeout_ms, char *err, size_t errlen);

/* Sends one packet (op, seq, body). Returns 0 or a negative errno-style code (-EPIPE, ...). */
int client_send(client_t *c, uint32_t op, uint32_t seq, const void *body, size_t len);

/* Sends raw bytes as they are (TCP: straight to the socket; WebSocket: as one binary message).
 * For tests of malformed input. */
int client_send_raw(client_t *c, const void *data, size_t len);

/* Waits up to timeout_ms for the next packet (0: only what is already readable, negative: no
 * limit). Returns 1 and fills *p, 0 on timeout, or a negative code when the connection is closed
 * (-ECONNRESET) or the server sent a malformed packet (HERALD_EPROTO, HERALD_ETOOBIG: bodies up
 * to 1 MiB are accepted; HERALD_EWSPROTO: bad WebSocket frame). Packets that arrived before the
 * close or the malformed input are returned first. */
int client_recv(client_t *c, client_packet_t *p, int timeout_ms);

void client_packet_free(client_packet_t *p);

/* Sends OpAuth with `auth_json` and waits for OpAuthReply (skipping nothing: the first packet must
 * be the reply). Returns 0 and the reply packet in *reply (caller frees), HERALD_EAUTH when the
 * server refused, or another negative code. A refusal is op 6 instead of op 8 (herald:
 * {"reason":"auth","code":N,"message":"..."}, docs/protocol.md; or a kick for another reason,
 * such as {"reason":"shutdown"}), with that packet in *reply (caller frees), or the connection
 * closed without a reply (goim). An op 8 whose JSON body has a nonzero "code" (herald before op 6
 * refusals) is a refusal too; an empty or non-JSON op 8 body is success (goim servers). No reply
 * within timeout_ms gives -ETIMEDOUT (== UV_ETIMEDOUT); a first packet other than op 8 or op 6
 * gives HERALD_EPROTO. *reply is zeroed on every other failure; reply may be NULL. */
int client_auth(client_t *c, const char *auth_json, client_packet_t *reply, int timeout_ms);

/* Sends a heartbeat (op 2). The reply (op 3, body int32 room count) comes through client_recv. */
int client_heartbeat(client_t *c);

/* The socket fd, for poll() in interactive programs. One read can bring several packets (and TLS
 * may hold decrypted bytes poll() cannot see): drain with client_recv(c, p, 0) until it returns
 * 0 before waiting on the fd again. */
int client_fd(const client_t *c);

/* Nonzero if the peer has closed the connection (EOF seen by the last read). */
int client_closed(const client_t *c);

/* Closes and frees. NULL is a no-op. */
void client_free(client_t *c);

#endif
