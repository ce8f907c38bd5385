/* comet_ws.c - see comet_ws.h. */
#include "comet_ws.h"

#include "herald_err.h"
#include "log.h"
#include "ws.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t ws_max_message(const comet_conn_t *c)
{
    return (uint64_t)comet_conn_conns(c)->limits.max_body + PROTO_HEADER_LEN;
}

static void pending_reserve(comet_conn_t *c, size_t need)
{
    comet_ws_in_t *in = &c->in.ws;
    if (in->cap >= need)
        return;
    in->buf = xrealloc(in->buf, need);
    in->cap = (uint32_t)need;
}

/* Keeps the first keep bytes; frees the buffer when nothing is left. */
static void pending_truncate(comet_conn_t *c, size_t keep)
{
    comet_ws_in_t *in = &c->in.ws;
    in->len = (uint32_t)keep;
    if (keep == 0) {
        free(in->buf);
        in->buf = NULL;
        in->cap = 0;
    }
}

static void pending_append(comet_conn_t *c, const uint8_t *data, size_t len, size_t reserve)
{
    comet_ws_in_t *in = &c->in.ws;
    pending_reserve(c, reserve > in->len + len ? reserve : in->len + len);
    memcpy(in->buf + in->len, data, len);
    in->len += (uint32_t)len;
}

static void ws_send_raw(comet_conn_t *c, const char *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    comet_conn_send(c, &b, 1, NULL, 0, 1);
}

static void ws_refuse(comet_conn_t *c, int status, const char *reason)
{
    char out[512];
    size_t n = ws_handshake_refusal(out, sizeof out, status, reason);
    if (status == 400) {
        char peer[80];
        comet_conn_peer(c, peer, sizeof peer);
        COMET_STAT_ADD(comet_conn_conns(c)->stats, protocol_errors, 1);
        log_warn_rl("conn %s: bad WebSocket handshake, closing", peer);
    }
    if (n > 0)
        ws_send_raw(c, out, n);
    comet_conn_finish(c);
}

/* Feeds handshake bytes. Returns how many bytes of data belonged to the request once it is
 * complete and accepted, or SIZE_MAX when more are needed or the connection was refused. */
static size_t ws_handshake(comet_conn_t *c, uint8_t *data, size_t len)
{
    comet_ws_in_t *in = &c->in.ws;
    char path[64];
    char accept[WS_ACCEPT_LEN + 1];
    size_t consumed = 0;
    size_t used;
    int rc;
    if (in->len == 0) {
        rc = ws_handshake_parse_request((const char *)data, len, &consumed, path, sizeof path,
                                        accept);
        if (rc == 1) {
            pending_append(c, data, len, 0);
            return SIZE_MAX;
        }
        used = consumed;
    } else {
        /* Earlier bytes were all part of the request, so any bytes after it are in this read. */
        size_t take = len < WS_MAX_HANDSHAKE - in->len ? len : WS_MAX_HANDSHAKE - in->len;
        pending_append(c, data, take, 0);
        rc = ws_handshake_parse_request((const char *)in->buf, in->len, &consumed, path,
                                        sizeof path, accept);
        if (rc == 1)
            return SIZE_MAX;
        used = take - (in->len - consumed);
    }
    pending_truncate(c, 0);
    if (rc != 0) {
        ws_refuse(c, 400, "Bad Request");
        return SIZE_MAX;
    }
    if (strcmp(path, COMET_WS_PATH) != 0) {
        ws_refuse(c, 404, "Not Found");
        return SIZE_MAX;
    }
    char out[512];
    size_t n = ws_handshake_response(out, sizeof out, accept);
    c->state = COMET_CONN_OPEN;
    ws_send_raw(c, out, n);
    return used;
}

/* One whole binary message: one or more whole packets. */
static void ws_message(comet_conn_t *c, const uint8_t *p, size_t len)
{
    proto_reader_t r;
    proto_reader_init(&r);
    int rc = proto_reader_feed(&r, p, len, comet_conn_conns(c)->limits.max_body,
                               comet_conn_on_packet, c);
    int partial = r.pending != NULL;
    proto_reader_deinit(&r);
    if (c->state == COMET_CONN_CLOSED || rc > 0)
        return;
    if (rc < 0)
        comet_conn_protocol_error(c, rc, "bad packet");
    else if (partial)
        comet_conn_protocol_error(c, HERALD_EPROTO, "partial packet in WebSocket message");
}

/* Adds a fragment's payload to the message being assembled at the front of the pending bytes.
 * from_pending: the frame itself sits in the pending bytes, right after the message. */
static int ws_fragment(comet_conn_t *c, const uint8_t *payload, size_t len, int from_pending)
{
    if ((uint64_t)c->frag_len + len > ws_max_message(c))
        return HERALD_ETOOBIG;
    if (from_pending) {
        memmove(c->in.ws.buf + c->frag_len, payload, len);
    } else {
        pending_reserve(c, c->frag_len + len);
        memcpy(c->in.ws.buf + c->frag_len, payload, len);
    }
    c->frag_len += (uint32_t)len;
    c->in.ws.len = c->frag_len;
    return 0;
}

/* Handles one whole frame at frame (flen bytes), in the read buffer or (from_pending) right after
 * the fragments in the pending bytes. Returns 0 or a protocol error. */
static int ws_frame(comet_conn_t *c, uint8_t *frame, size_t flen, int from_pending)
{
    ws_frame_t f;
    int rc = ws_codec_decode(comet_conn_conns(c)->ws, frame, flen, &f);
    if (rc != 0)
        return rc;
    int frag = (c->flags & COMET_CONN_F_WS_FRAG) != 0;
    switch (f.opcode) {
    case WS_OP_PING:
        comet_conn_send_ws_control(c, WS_OP_PONG, f.payload, f.payload_len);
        break;
    case WS_OP_PONG:
        break;
    case WS_OP_CLOSE: {
        /* Echo the peer's status code (1000 when it gave none). */
        const uint8_t normal[2] = {1000 >> 8, 1000 & 0xff};
        comet_conn_send_ws_control(c, WS_OP_CLOSE, f.payload_len >= 2 ? f.payload : normal, 2);
        comet_conn_finish(c);
        break;
    }
    case WS_OP_BINARY:
        if (frag)
            return HERALD_EWSPROTO;
        if (f.fin) {
            ws_message(c, f.payload, f.payload_len);
            break;
        }
        c->flags |= COMET_CONN_F_WS_FRAG;
        return ws_fragment(c, f.payload, f.payload_len, from_pending);
    case WS_OP_CONTINUATION:
        if (!frag)
            return HERALD_EWSPROTO;
        rc = ws_fragment(c, f.payload, f.payload_len, from_pending);
        if (rc != 0 || !f.fin)
            return rc;
        c->flags &= ~COMET_CONN_F_WS_FRAG;
        ws_message(c, c->in.ws.buf, c->frag_len);
        c->frag_len = 0;
        pending_truncate(c, 0);
        return 0;
    default: /* text frames are not goim's protocol */
        return HERALD_EWSPROTO;
    }
    if (from_pending)
        pending_truncate(c, c->frag_len);
    return 0;
}

void comet_ws_on_read(comet_conn_t *c, uint8_t *data, size_t len)
{
    if (c->state == COMET_CONN_HANDSHAKE) {
        size_t used = ws_handshake(c, data, len);
        if (used == SIZE_MAX)
            return;
        data += used;
        len -= used;
    }
    uint64_t max = ws_max_message(c);
    while (len > 0 && c->state < COMET_CONN_CLOSING) {
        comet_ws_in_t *in = &c->in.ws;
        size_t flen = 0;
        int rc;
        if (in->len > c->frag_len) {
            /* Complete the frame held in the pending bytes: byte by byte until its header is
             * known (at most 14), then exactly up to its end. */
            size_t raw = in->len - c->frag_len;
            rc = ws_frame_peek(in->buf + c->frag_len, raw, 1, max, &flen);
            if (rc < 0)
                goto error;
            size_t want = flen ? flen - raw : 1;
            size_t take = len < want ? len : want;
            pending_append(c, data, take, c->frag_len + (flen ? flen : WS_MAX_FRAME_HEADER));
            data += take;
            len -= take;
            if (flen == 0 || in->len - c->frag_len < flen)
                continue;
            rc = ws_frame(c, in->buf + c->frag_len, flen, 1);
            if (rc != 0)
                goto error;
            continue;
        }
        rc = ws_frame_peek(data, len, 1, max, &flen);
        if (rc < 0)
            goto error;
        if (rc == 1) {
            pending_append(c, data, len, c->frag_len + (flen ? flen : WS_MAX_FRAME_HEADER));
            return;
        }
        rc = ws_frame(c, data, flen, 0);
        if (rc != 0)
            goto error;
        data += flen;
        len -= flen;
        continue;
    error:
        if (c->state < COMET_CONN_CLOSED)
            comet_conn_protocol_error(c, rc, "bad WebSocket frame");
        return;
    }
}
