/* comet_conn.c - see comet_conn.h. */
#include "comet_conn.h"

#include "addr.h"
#include "herald_err.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Packets up to this size (framed) are built on the stack: heartbeat replies, kicks, acks. */
#define CONN_STACK_PACKET 512
#define CONNS_SWEEP_MS 1000
#define CONNS_DRAIN_SWEEP_MS 100

/* ----------------------------------------------------------------------- the connections */

/* Closes the connections at the head of an ordered list whose time is up. */
static void sweep_list(comet_conns_t *t, list_link_t *head, uint64_t timeout, const char *what)
{
    uint32_t now = comet_conns_now(t);
    list_link_t *l;
    while ((l = list_first(head)) != NULL) {
        comet_conn_t *c = list_entry(l, comet_conn_t, link);
        if ((uint32_t)(now - c->t) < timeout)
            break;
        if (what != NULL) {
            const char *label = c->ops->label(c);
            COMET_STAT_ADD(t->stats, timeouts, 1);
            log_debug("conn %s: %s deadline passed, closing", label ? label : "-", what);
        }
        comet_conn_close(c);
    }
}

static void on_sweep(uv_timer_t *timer)
{
    comet_conns_t *t = timer->data;
    sweep_list(t, &t->pending, t->limits.auth_timeout_ms, "auth");
    sweep_list(t, &t->active, t->limits.idle_timeout_ms, "heartbeat");
    sweep_list(t, &t->closing, COMET_CONN_LINGER_MS, NULL);
}

int comet_conns_init(comet_conns_t *t, uv_loop_t *loop, const comet_conns_limits_t *limits,
                     comet_stats_t *stats)
{
    memset(t, 0, sizeof *t);
    int rc = uv_timer_init(loop, &t->sweep);
    if (rc != 0)
        return rc;
    t->loop = loop;
    t->limits = *limits;
    t->stats = stats;
    t->read_buf = xmalloc(COMET_READ_BUF_SIZE);
    t->ws = ws_codec_new(1);
    buf_init(&t->scratch);
    buf_init(&t->tls_out);
    buf_init(&t->tls_gather);
    list_init(&t->pending);
    list_init(&t->active);
    list_init(&t->closing);
    t->sweep.data = t;
    uv_timer_start(&t->sweep, on_sweep, CONNS_SWEEP_MS, CONNS_SWEEP_MS);
    return 0;
}

void comet_conns_drain(comet_conns_t *t)
{
    t->draining = 1;
    uv_timer_start(&t->sweep, on_sweep, CONNS_DRAIN_SWEEP_MS, CONNS_DRAIN_SWEEP_MS);
}

void comet_conns_when_empty(comet_conns_t *t, void (*cb)(void *arg), void *arg)
{
    if (COMET_STAT_GET(t->stats, sockets) == 0) {
        cb(arg);
        return;
    }
    t->on_empty = cb;
    t->empty_arg = arg;
}

comet_conn_t *comet_conns_first_open(const comet_conns_t *t)
{
    list_link_t *l = list_first(&t->pending);
    if (l == NULL)
        l = list_first(&t->active);
    return l ? list_entry(l, comet_conn_t, link) : NULL;
}

void comet_conns_close(comet_conns_t *t)
{
    uv_close((uv_handle_t *)&t->sweep, NULL);
}

void comet_conns_deinit(comet_conns_t *t)
{
    ws_codec_free(t->ws);
    free(t->read_buf);
    buf_deinit(&t->scratch);
    buf_deinit(&t->tls_out);
    buf_deinit(&t->tls_gather);
    free(t->tls_plain);
    if (t->tls_cipher != NULL)
        tls_record_ctx_free(t->tls_cipher);
}

/* ---------------------------------------------------------------------------- lifecycle */

void comet_conn_init(comet_conn_t *c, comet_conns_t *t, const comet_stream_t *stream,
                     const comet_conn_ops_t *ops, int ws)
{
    c->tcp.data = t;
    c->stream = stream;
    c->ops = ops;
    c->state = ws ? COMET_CONN_HANDSHAKE : COMET_CONN_OPEN;
    c->flags = ws ? COMET_CONN_F_WS : 0;
    COMET_STAT_ADD(t->stats, sockets, 1);
    if (ws)
        COMET_STAT_ADD(t->stats, ws, 1);
}

void comet_conn_start(comet_conn_t *c)
{
    comet_conns_t *t = comet_conn_conns(c);
    COMET_STAT_ADD(t->stats, accepted, 1);
    c->t = comet_conns_now(t);
    list_append(&t->pending, &c->link);
    if (c->stream->read_start(c) != 0 || t->draining)
        comet_conn_close(c);
}

void comet_conn_establish(comet_conn_t *c)
{
    comet_conns_t *t = comet_conn_conns(c);
    c->flags |= COMET_CONN_F_ESTABLISHED;
    c->t = comet_conns_now(t);
    list_unlink(&c->link);
    list_append(&t->active, &c->link);
}

/* Input keeps an established connection alive: it moves to the tail of the active list. */
static void conn_touch(comet_conn_t *c)
{
    if (!(c->flags & COMET_CONN_F_ESTABLISHED))
        return;
    comet_conns_t *t = comet_conn_conns(c);
    uint32_t now = comet_conns_now(t);
    if (c->t == now)
        return;
    c->t = now;
    list_unlink(&c->link);
    list_append(&t->active, &c->link);
}

void comet_conn_peer(const comet_conn_t *c, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        addr_format((struct sockaddr *)&ss, out, cap);
    else
        snprintf(out, cap, "?");
}

/* Logs a rate-limited warning about c, naming the peer and the layer above's label. */
#define CONN_WARN(c, fmt, ...)                                                                     \
    do {                                                                                           \
        char peer_[80];                                                                            \
        const char *label_ = (c)->ops->label(c);                                                   \
        comet_conn_peer(c, peer_, sizeof peer_);                                                   \
        log_warn_rl("conn %s key=%s: " fmt, peer_, label_ ? label_ : "-", __VA_ARGS__);            \
    } while (0)

void comet_conn_protocol_error(comet_conn_t *c, int err, const char *what)
{
    COMET_STAT_ADD(comet_conn_conns(c)->stats, protocol_errors, 1);
    CONN_WARN(c, "%s: %s, closing", what, herald_strerror(err));
    comet_conn_close(c);
}

/* ------------------------------------------------------------------------------ read path */

int comet_conn_on_input(comet_conn_t *c, size_t nread)
{
    COMET_STAT_ADD(comet_conn_conns(c)->stats, bytes_in, nread);
    if (c->state >= COMET_CONN_CLOSING)
        return 0; /* draining input until the peer closes */
    conn_touch(c);
    return 1;
}

int comet_conn_on_read(comet_conn_t *c, ssize_t nread)
{
    if (nread == 0)
        return 0;
    if (nread < 0) {
        comet_conn_on_eof(c, (int)nread);
        return 0;
    }
    return comet_conn_on_input(c, (size_t)nread);
}

int comet_conn_on_packet(void *arg, const proto_header_t *h, const uint8_t *body)
{
    comet_conn_t *c = arg;
    return c->ops->on_packet(c, h, body);
}

void comet_conn_on_packets(comet_conn_t *c, const uint8_t *data, size_t len)
{
    int rc = proto_reader_feed(&c->in.reader, data, len, comet_conn_conns(c)->limits.max_body,
                               comet_conn_on_packet, c);
    if (rc < 0 && c->state < COMET_CONN_CLOSED)
        comet_conn_protocol_error(c, rc, "bad packet");
}

void comet_conn_on_eof(comet_conn_t *c, int status)
{
    if (status != UV_EOF && status != UV_ECONNRESET)
        log_debug("conn: read: %s", uv_strerror(status));
    comet_conn_close(c);
}

void comet_conn_pause(comet_conn_t *c)
{
    c->stream->read_stop(c);
}

void comet_conn_resume(comet_conn_t *c)
{
    if (c->state == COMET_CONN_OPEN)
        c->stream->read_start(c);
}

/* ----------------------------------------------------------------------------- write path */

int comet_conn_send(comet_conn_t *c, const uv_buf_t *bufs, unsigned nbufs, buf_shared_t *shared,
                    uint32_t packets, int force)
{
    if (c->state >= COMET_CONN_CLOSING)
        return UV_ECANCELED;
    comet_conns_t *t = comet_conn_conns(c);
    size_t total = 0;
    for (unsigned i = 0; i < nbufs; i++)
        total += bufs[i].len;
    int rc = c->stream->write(c, bufs, nbufs, shared);
    if (rc != 0) {
        log_debug("conn: write: %s", uv_strerror(rc));
        comet_conn_close(c);
        return rc;
    }
    COMET_STAT_ADD(t->stats, bytes_out, total);
    COMET_STAT_ADD(t->stats, packets_out, packets);
    /* The whole packet is queued first so the stream stays well-formed for the kick after it. */
    if (!force && c->unsent > t->limits.max_pending) {
        COMET_STAT_ADD(t->stats, slow_consumers, 1);
        CONN_WARN(c, "%u bytes unsent, kicking slow consumer", c->unsent);
        comet_conn_kick_reason(c, "slow consumer");
    }
    return 0;
}

/* Writes the packet, framed for c, at dst, which has room for
 * WS_MAX_FRAME_HEADER + PROTO_HEADER_LEN + len bytes. Returns the bytes written. */
static size_t packet_into(comet_conn_t *c, uint8_t *dst, uint32_t op, uint32_t seq,
                          const void *body, size_t len)
{
    if (!comet_conn_is_ws(c)) {
        proto_header_write(dst, op, seq, (uint32_t)len);
        if (len)
            memcpy(dst + PROTO_HEADER_LEN, body, len);
        return PROTO_HEADER_LEN + len;
    }
    comet_conns_t *t = comet_conn_conns(c);
    t->scratch.len = 0;
    uint8_t *p = buf_reserve(&t->scratch, PROTO_HEADER_LEN + len);
    proto_header_write(p, op, seq, (uint32_t)len);
    if (len)
        memcpy(p + PROTO_HEADER_LEN, body, len);
    return ws_codec_encode(t->ws, WS_OP_BINARY, p, PROTO_HEADER_LEN + len, dst);
}

void comet_conn_append_packet(comet_conn_t *c, buf_t *out, uint32_t op, uint32_t seq,
                              const void *body, size_t len)
{
    uint8_t *dst = buf_reserve(out, WS_MAX_FRAME_HEADER + PROTO_HEADER_LEN + len);
    out->len += packet_into(c, dst, op, seq, body, len);
}

static int conn_send_packet(comet_conn_t *c, uint32_t op, uint32_t seq, const void *body,
                            size_t len, int force)
{
    uint8_t stack[CONN_STACK_PACKET];
    size_t need = WS_MAX_FRAME_HEADER + PROTO_HEADER_LEN + len;
    uint8_t *mem = need <= sizeof stack ? stack : xmalloc(need);
    uv_buf_t b = uv_buf_init((char *)mem, (unsigned)packet_into(c, mem, op, seq, body, len));
    int rc = comet_conn_send(c, &b, 1, NULL, 1, force);
    if (mem != stack)
        free(mem);
    return rc;
}

int comet_conn_send_packet(comet_conn_t *c, uint32_t op, uint32_t seq, const void *body, size_t len)
{
    return conn_send_packet(c, op, seq, body, len, 0);
}

int comet_conn_send_packet_shared(comet_conn_t *c, uint32_t op, uint32_t seq, buf_shared_t *body)
{
    if (comet_conn_is_ws(c))
        return conn_send_packet(c, op, seq, body->data, body->len, 0);
    uint8_t hdr[PROTO_HEADER_LEN];
    proto_header_write(hdr, op, seq, body->len);
    uv_buf_t bufs[2] = {uv_buf_init((char *)hdr, sizeof hdr),
                        uv_buf_init((char *)body->data, body->len)};
    return comet_conn_send(c, bufs, body->len ? 2 : 1, body, 1, 0);
}

void comet_conn_send_ws_control(comet_conn_t *c, uint8_t opcode, const uint8_t *payload, size_t len)
{
    int close = opcode == WS_OP_CLOSE;
    if (close) {
        if (c->flags & COMET_CONN_F_WS_CLOSE_SENT)
            return;
        c->flags |= COMET_CONN_F_WS_CLOSE_SENT;
    }
    uint8_t out[WS_MAX_FRAME_HEADER + 125];
    size_t n = ws_codec_encode(comet_conn_conns(c)->ws, opcode, payload, len, out);
    uv_buf_t b = uv_buf_init((char *)out, (unsigned)n);
    comet_conn_send(c, &b, 1, NULL, 0, close);
}

/* -------------------------------------------------------------------------------- closing */

size_t comet_conn_reason_body(char *out, size_t cap, const char *reason)
{
    int n = snprintf(out, cap, "{\"reason\":\"%s\"}", reason);
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

void comet_conn_kick(comet_conn_t *c, const char *body, size_t len)
{
    if (c->state >= COMET_CONN_CLOSING)
        return;
    COMET_STAT_ADD(comet_conn_conns(c)->stats, kicks, 1);
    if (c->state == COMET_CONN_OPEN)
        conn_send_packet(c, PROTO_OP_DISCONNECT_REPLY, 0, body, len, 1);
    comet_conn_finish(c);
}

void comet_conn_kick_reason(comet_conn_t *c, const char *reason)
{
    char body[128];
    comet_conn_kick(c, body, comet_conn_reason_body(body, sizeof body, reason));
}

void comet_conn_finish(comet_conn_t *c)
{
    if (c->state >= COMET_CONN_CLOSING)
        return;
    if (comet_conn_is_ws(c) && c->state == COMET_CONN_OPEN) {
        const uint8_t normal[2] = {1000 >> 8, 1000 & 0xff};
        comet_conn_send_ws_control(c, WS_OP_CLOSE, normal, sizeof normal);
    }
    if (c->state >= COMET_CONN_CLOSING)
        return; /* the write failed and closed it */
    comet_conns_t *t = comet_conn_conns(c);
    c->ops->on_leave(c);
    c->state = COMET_CONN_CLOSING;
    c->t = comet_conns_now(t);
    list_unlink(&c->link);
    list_append(&t->closing, &c->link);
    /* Reading may be paused (auth in flight); read on to see the peer's EOF. */
    if (c->stream->read_start(c) != 0 || c->stream->shutdown(c) != 0)
        comet_conn_close(c);
}

void comet_conn_close(comet_conn_t *c)
{
    if (c->state == COMET_CONN_CLOSED)
        return;
    if (c->state < COMET_CONN_CLOSING)
        c->ops->on_leave(c);
    list_unlink(&c->link);
    c->state = COMET_CONN_CLOSED;
    c->stream->close(c);
}

void comet_conn_on_closed(comet_conn_t *c)
{
    comet_conns_t *t = comet_conn_conns(c);
    COMET_STAT_SUB(t->stats, sockets, 1);
    if (comet_conn_is_ws(c)) {
        COMET_STAT_SUB(t->stats, ws, 1);
        free(c->in.ws.buf);
    } else {
        proto_reader_deinit(&c->in.reader);
    }
    c->ops->on_close(c); /* c may be gone from here on */
    if (t->on_empty != NULL && COMET_STAT_GET(t->stats, sockets) == 0) {
        void (*cb)(void *) = t->on_empty;
        t->on_empty = NULL;
        cb(t->empty_arg);
    }
}
