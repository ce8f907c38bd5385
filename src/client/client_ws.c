/* client_ws.c - see client_ws.h. One ws_codec_t per connection: the memory budget is a server
 * concern (ws.h). */
#include "client_ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_net.h"
#include "herald_err.h"

void client_ws_init(client_ws_t *w, client_io_t *io, size_t max_msg,
                    client_ws_message_cb on_message, void *arg)
{
    memset(w, 0, sizeof(*w));
    w->io = io;
    w->max_msg = max_msg;
    w->codec = ws_codec_new(0);
    buf_init(&w->in);
    buf_init(&w->msg);
    w->on_message = on_message;
    w->arg = arg;
}

void client_ws_deinit(client_ws_t *w)
{
    ws_codec_free(w->codec);
    buf_deinit(&w->in);
    buf_deinit(&w->msg);
}

int client_ws_send(client_ws_t *w, uint8_t opcode, const uint8_t *payload, size_t len)
{
    size_t hlen = ws_frame_header_len(w->codec, len);
    uint8_t *frame = xmalloc(hlen + len);
    size_t n = ws_codec_encode(w->codec, opcode, payload, len, frame);
    int rc = HERALD_EINVAL; /* n == 0: a control frame over 125 bytes, refused by the codec */
    if (n > 0)
        rc = client_io_write_all(w->io, frame, n, client_net_deadline(CLIENT_NET_SEND_TIMEOUT_MS));
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

int client_ws_handshake(client_ws_t *w, const char *host, int port, int64_t deadline, char *err,
                        size_t errlen)
{
    char req[1024];
    char key[WS_KEY_LEN + 1];
    size_t reqlen = ws_handshake_request(req, sizeof(req), host, port, "/sub", key);
    if (reqlen == 0) {
        snprintf(err, errlen, "websocket handshake: host name too long");
        return HERALD_EINVAL;
    }
    int rc = client_io_write_all(w->io, req, reqlen, deadline);
    if (rc < 0) {
        snprintf(err, errlen, "websocket handshake: send: %s", strerror(-rc));
        return rc;
    }
    char resp[WS_MAX_HANDSHAKE];
    size_t have = 0;
    size_t consumed = 0;
    for (;;) {
        ssize_t n = client_io_read(w->io, resp + have, sizeof(resp) - have, deadline);
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
    rc = client_ws_ingest(w, (const uint8_t *)resp + consumed, have - consumed);
    if (rc < 0)
        snprintf(err, errlen, "websocket: bad frame after the handshake");
    return rc;
}

static int client_ws_on_data(client_ws_t *w, const ws_frame_t *f)
{
    if (f->opcode == WS_OP_BINARY) {
        if (w->in_msg)
            return HERALD_EWSPROTO; /* a new message inside a fragmented one */
        if (f->fin)
            return w->on_message(w->arg, f->payload, f->payload_len);
        w->in_msg = 1;
        w->msg.len = 0;
    } else if (!w->in_msg) {
        return HERALD_EWSPROTO; /* a continuation with nothing to continue */
    }
    if (f->payload_len > w->max_msg - w->msg.len)
        return HERALD_ETOOBIG;
    buf_append(&w->msg, f->payload, f->payload_len);
    if (!f->fin)
        return 0;
    w->in_msg = 0;
    return w->on_message(w->arg, w->msg.data, w->msg.len);
}

static int client_ws_on_frame(client_ws_t *w, const ws_frame_t *f)
{
    switch (f->opcode) {
    case WS_OP_BINARY:
    case WS_OP_CONTINUATION:
        return client_ws_on_data(w, f);
    case WS_OP_PING:
        return client_ws_send(w, WS_OP_PONG, f->payload, f->payload_len);
    case WS_OP_PONG:
        return 0;
    case WS_OP_CLOSE:
        /* Echo the close (RFC 6455 §5.5.1); the peer may already be gone, which is fine. */
        client_ws_send(w, WS_OP_CLOSE, f->payload, f->payload_len < 2 ? 0 : 2);
        w->closed = 1;
        return 0;
    default:
        return HERALD_EWSPROTO; /* text frames are not part of the goim protocol */
    }
}

int client_ws_ingest(client_ws_t *w, const uint8_t *data, size_t len)
{
    buf_append(&w->in, data, len);
    size_t off = 0;
    int rc = 0;
    while (!w->closed && off < w->in.len) {
        size_t flen = 0;
        rc = ws_frame_peek(w->in.data + off, w->in.len - off, 0, w->max_msg, &flen);
        if (rc == 1) {
            rc = 0;
            break;
        }
        if (rc < 0)
            break;
        ws_frame_t f;
        rc = ws_codec_decode(w->codec, w->in.data + off, flen, &f);
        if (rc < 0)
            break;
        off += flen;
        rc = client_ws_on_frame(w, &f);
        if (rc < 0)
            break;
    }
    if (off > 0) {
        memmove(w->in.data, w->in.data + off, w->in.len - off);
        w->in.len -= off;
    }
    return rc;
}
