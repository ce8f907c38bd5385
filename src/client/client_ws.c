/* client_ws.c - the WebSocket side of the client library: the upgrade handshake, masked frames
 * out, and whole-frame decoding in: fragmented messages are reassembled, pings answered, and a
 * close frame ends the connection. One ws_codec_t per client_t: the memory budget is a server
 * concern (ws.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"
#include "client_net.h"
#include "herald_err.h"

/* A whole packet of the largest accepted body: the most one message may carry. */
#define CLIENT_WS_MAX_MSG (CLIENT_MAX_BODY + PROTO_HEADER_LEN)

int client_ws_send(client_t *c, uint8_t opcode, const uint8_t *payload, size_t len)
{
    size_t hlen = ws_frame_header_len(c->ws, len);
    uint8_t *frame = xmalloc(hlen + len);
    size_t n = ws_codec_encode(c->ws, opcode, payload, len, frame);
    int rc = HERALD_EINVAL; /* n == 0: a control frame over 125 bytes, refused by the codec */
    if (n > 0)
        rc = client_net_write_all(c->fd, frame, n, client_net_deadline(CLIENT_SEND_TIMEOUT_MS));
    free(frame);
    return rc;
}

/* Copies the status line of a refused handshake into err, so the user sees "404 Not Found". */
static void client_ws_refusal(const char *resp, size_t len, char *err, size_t errlen)
{
    size_t line = 0;
    while (line < len && line < 200 && resp[line] != '\r' && resp[line] != '\n')
        line++;
    snprintf(err, errlen, "websocket handshake refused: %.*s", (int)line, resp);
}

int client_ws_handshake(client_t *c, const char *host, int port, int64_t deadline, char *err,
                        size_t errlen)
{
    char req[1024];
    char key[WS_KEY_LEN + 1];
    size_t reqlen = ws_handshake_request(req, sizeof(req), host, port, "/sub", key);
    if (reqlen == 0) {
        snprintf(err, errlen, "websocket handshake: host name too long");
        return HERALD_EINVAL;
    }
    int rc = client_net_write_all(c->fd, req, reqlen, deadline);
    if (rc < 0) {
        snprintf(err, errlen, "websocket handshake: send: %s", strerror(-rc));
        return rc;
    }
    char resp[WS_MAX_HANDSHAKE];
    size_t have = 0;
    size_t consumed = 0;
    for (;;) {
        ssize_t n = client_net_read(c->fd, resp + have, sizeof(resp) - have, deadline);
        if (n <= 0) {
            snprintf(err, errlen, "websocket handshake: %s",
                     n == 0 ? "connection closed" : strerror((int)-n));
            return n == 0 ? -ECONNRESET : (int)n;
        }
        have += (size_t)n;
        rc = ws_handshake_parse_response(resp, have, &consumed, key);
        if (rc == 0)
            break;
        if (rc < 0 || have == sizeof(resp)) {
            client_ws_refusal(resp, have, err, errlen);
            return HERALD_EWSPROTO;
        }
    }
    /* The server may have written frames right behind its 101. */
    rc = client_ws_ingest(c, (const uint8_t *)resp + consumed, have - consumed);
    if (rc < 0)
        snprintf(err, errlen, "websocket: bad frame after the handshake");
    return rc;
}

static int client_ws_on_data(client_t *c, const ws_frame_t *f)
{
    if (f->opcode == WS_OP_BINARY) {
        if (c->ws_in_msg)
            return HERALD_EWSPROTO; /* a new message inside a fragmented one */
        if (f->fin)
            return client_unpack(c, f->payload, f->payload_len, 0);
        c->ws_in_msg = 1;
        c->ws_msg.len = 0;
    } else if (!c->ws_in_msg) {
        return HERALD_EWSPROTO; /* a continuation with nothing to continue */
    }
    if (f->payload_len > CLIENT_WS_MAX_MSG - c->ws_msg.len)
        return HERALD_ETOOBIG;
    buf_append(&c->ws_msg, f->payload, f->payload_len);
    if (!f->fin)
        return 0;
    c->ws_in_msg = 0;
    return client_unpack(c, c->ws_msg.data, c->ws_msg.len, 0);
}

static int client_ws_on_frame(client_t *c, const ws_frame_t *f)
{
    switch (f->opcode) {
    case WS_OP_BINARY:
    case WS_OP_CONTINUATION:
        return client_ws_on_data(c, f);
    case WS_OP_PING:
        return client_ws_send(c, WS_OP_PONG, f->payload, f->payload_len);
    case WS_OP_PONG:
        return 0;
    case WS_OP_CLOSE:
        /* Echo the close (RFC 6455 §5.5.1); the peer may already be gone, which is fine. */
        client_ws_send(c, WS_OP_CLOSE, f->payload, f->payload_len < 2 ? 0 : 2);
        c->closed = 1;
        return 0;
    default:
        return HERALD_EWSPROTO; /* text frames are not part of the goim protocol */
    }
}

int client_ws_ingest(client_t *c, const uint8_t *data, size_t len)
{
    buf_append(&c->ws_in, data, len);
    size_t off = 0;
    int rc = 0;
    while (!c->closed && off < c->ws_in.len) {
        size_t flen = 0;
        rc = ws_frame_peek(c->ws_in.data + off, c->ws_in.len - off, 0, CLIENT_WS_MAX_MSG, &flen);
        if (rc == 1) {
            rc = 0;
            break;
        }
        if (rc < 0)
            break;
        ws_frame_t f;
        rc = ws_codec_decode(c->ws, c->ws_in.data + off, flen, &f);
        if (rc < 0)
            break;
        off += flen;
        rc = client_ws_on_frame(c, &f);
        if (rc < 0)
            break;
    }
    if (off > 0) {
        memmove(c->ws_in.data, c->ws_in.data + off, c->ws_in.len - off);
        c->ws_in.len -= off;
    }
    return rc;
}
