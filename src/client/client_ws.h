/* client_ws.h - the WebSocket side of the client library, below client.c: the upgrade
 * handshake, masked frames out, and whole-frame decoding in (fragmented messages reassembled,
 * pings answered, a close frame echoed). It knows nothing of goim packets: every whole binary
 * message goes up through the caller's client_ws_message_cb. Internal to src/client; one thread.
 */
#ifndef HERALD_CLIENT_WS_H
#define HERALD_CLIENT_WS_H

#include "buf.h"
#include "client_io.h"
#include "ws.h"

#include <stddef.h>
#include <stdint.h>

/* A whole binary message (borrowed for the call). Returns 0, or a negative code that stops the
 * decoding and is returned by client_ws_ingest. */
typedef int (*client_ws_message_cb)(void *arg, const uint8_t *data, size_t len);

/* One connection's WebSocket state; caller's storage (embedded in client_t). */
typedef struct client_ws_s {
    client_io_t *io; /* borrowed: the connection's stream (plain or TLS) */
    size_t max_msg;  /* largest message accepted */
    ws_codec_t *codec;
    buf_t in;   /* bytes received that do not form a whole frame yet */
    buf_t msg;  /* payload of a fragmented message being reassembled */
    int in_msg; /* a fragmented data message is in progress */
    int closed; /* a close frame was received (and echoed) */
    client_ws_message_cb on_message;
    void *arg;
} client_ws_t;

void client_ws_init(client_ws_t *w, client_io_t *io, size_t max_msg,
                    client_ws_message_cb on_message, void *arg);
void client_ws_deinit(client_ws_t *w);

/* Sends the upgrade request for /sub and reads the 101 reply before deadline. Bytes after the
 * reply are decoded (their messages go to on_message). Returns 0 or a negative code with a
 * message in err. */
int client_ws_handshake(client_ws_t *w, const char *host, int port, int64_t deadline, char *err,
                        size_t errlen);

/* Takes len bytes read from the socket and handles every whole frame; stops at a close frame.
 * Returns 0 or a negative code (HERALD_EWSPROTO, HERALD_ETOOBIG, a send error, or what
 * on_message returned). */
int client_ws_ingest(client_ws_t *w, const uint8_t *data, size_t len);

/* Sends one final frame of opcode with payload. Returns 0 or a negative code. */
int client_ws_send(client_ws_t *w, uint8_t opcode, const uint8_t *payload, size_t len);

#endif
