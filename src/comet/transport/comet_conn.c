/* comet_conn.c - see comet_conn.h. */
#include "comet_conn.h"

#include "comet_channel.h"
#include "comet_worker.h"
#include "comet_ws.h"
#include "herald_err.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Packets up to this size (framed) are built on the stack: heartbeat replies, kicks, acks. */
#define CONN_STACK_PACKET 512
#define CONN_MAX_BUFS 4

/* A write the socket did not take at once: the unsent tail of the caller's buffers, either
 * referenced in `shared` or copied into data. Freed in on_write_done. */
typedef struct conn_wreq_s {
    uv_write_t req;
    buf_shared_t *shared;
    uint32_t len;
    uv_buf_t bufs[CONN_MAX_BUFS];
    uint8_t data[];
} conn_wreq_t;

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_close(uv_handle_t *h);

void comet_conn_accept(comet_worker_t *w, uv_stream_t *listener, int ws)
{
    comet_conn_t *c = xcalloc(1, sizeof *c);
    uv_tcp_init(&w->loop, &c->tcp);
    c->state = ws ? COMET_CONN_HANDSHAKE : COMET_CONN_WAIT_AUTH;
    c->flags = ws ? COMET_CONN_F_WS : 0;
    comet_accepts_init(&c->accepts);
    COMET_STAT_ADD(&w->stats, sockets, 1);
    if (ws)
        COMET_STAT_ADD(&w->stats, ws, 1);
    int rc = uv_accept(listener, (uv_stream_t *)&c->tcp);
    if (rc != 0) {
        log_warn_rl("worker %d: accept: %s", w->index, uv_strerror(rc));
        comet_conn_close(c);
        return;
    }
    COMET_STAT_ADD(&w->stats, accepted, 1);
    c->t = comet_worker_now(w);
    list_append(&w->pending, &c->link);
    uv_tcp_nodelay(&c->tcp, 1);
    rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc != 0 || w->stopping)
        comet_conn_close(c);
}

static void conn_free(comet_conn_t *c)
{
    if (comet_conn_is_ws(c))
        free(c->in.ws.buf);
    else
        proto_reader_deinit(&c->in.reader);
    free(c->key);
    comet_accepts_deinit(&c->accepts);
    free(c);
}

void comet_conn_ref(comet_conn_t *c)
{
    c->refs++;
}

void comet_conn_unref(comet_conn_t *c)
{
    if (--c->refs == 0 && (c->flags & COMET_CONN_F_HANDLE_CLOSED))
        conn_free(c);
}

void comet_conn_peer(const comet_conn_t *c, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[64];
    snprintf(out, cap, "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, ip, sizeof ip);
        snprintf(out, cap, "[%s]:%d", ip, ntohs(a->sin6_port));
    } else if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        uv_ip4_name(a, ip, sizeof ip);
        snprintf(out, cap, "%s:%d", ip, ntohs(a->sin_port));
    }
}

void comet_conn_protocol_error(comet_conn_t *c, int err, const char *what)
{
    comet_worker_t *w = comet_conn_worker(c);
    char peer[80];
    comet_conn_peer(c, peer, sizeof peer);
    COMET_STAT_ADD(&w->stats, protocol_errors, 1);
    log_warn_rl("conn %s key=%s: %s: %s, closing", peer, c->key ? c->key : "-", what,
                herald_strerror(err));
    comet_conn_close(c);
}

/* ------------------------------------------------------------------------------- read path */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    /* One buffer per worker: a read callback consumes all of it before the next read starts,
     * and leftovers are copied into the connection only while a packet is incomplete. */
    comet_worker_t *w = h->loop->data;
    buf->base = (char *)w->read_buf;
    buf->len = COMET_READ_BUF_SIZE;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    comet_conn_t *c = (comet_conn_t *)s;
    comet_worker_t *w = comet_conn_worker(c);
    if (nread == 0)
        return;
    if (nread < 0) {
        if (nread != UV_EOF && nread != UV_ECONNRESET)
            log_debug("worker %d: read: %s", w->index, uv_strerror((int)nread));
        comet_conn_close(c);
        return;
    }
    COMET_STAT_ADD(&w->stats, bytes_in, nread);
    if (c->state >= COMET_CONN_CLOSING)
        return; /* draining input until the peer closes */
    comet_conn_touch(c);
    if (comet_conn_is_ws(c)) {
        comet_ws_on_read(c, (uint8_t *)buf->base, (size_t)nread);
        return;
    }
    int rc = proto_reader_feed(&c->in.reader, (const uint8_t *)buf->base, (size_t)nread,
                               (uint32_t)w->conf->max_body, comet_channel_on_packet, c);
    if (rc < 0 && c->state < COMET_CONN_CLOSED)
        comet_conn_protocol_error(c, rc, "bad packet");
}

void comet_conn_touch(comet_conn_t *c)
{
    if (c->state != COMET_CONN_AUTHED)
        return;
    comet_worker_t *w = comet_conn_worker(c);
    uint32_t now = comet_worker_now(w);
    if (c->t == now)
        return;
    c->t = now;
    list_unlink(&c->link);
    list_append(&w->active, &c->link);
}

/* ------------------------------------------------------------------------------ write path */

static void on_write_done(uv_write_t *req, int status)
{
    conn_wreq_t *wr = (conn_wreq_t *)req;
    comet_conn_t *c = (comet_conn_t *)req->handle;
    c->unsent -= wr->len;
    buf_shared_unref(wr->shared);
    free(wr);
    if (status < 0 && status != UV_ECANCELED) {
        log_debug("worker %d: write: %s", comet_conn_worker(c)->index, uv_strerror(status));
        comet_conn_close(c);
    }
}

static int in_shared(const buf_shared_t *shared, const uv_buf_t *b)
{
    return shared != NULL && (const uint8_t *)b->base >= shared->data &&
           (const uint8_t *)b->base + b->len <= shared->data + shared->len;
}

/* Queues the bytes of bufs after the first `done` ones. */
static int conn_queue(comet_conn_t *c, const uv_buf_t *bufs, unsigned nbufs, buf_shared_t *shared,
                      size_t done)
{
    size_t copy = 0;
    size_t skip = done;
    for (unsigned i = 0; i < nbufs; i++) {
        size_t len = bufs[i].len;
        size_t off = skip < len ? skip : len;
        skip -= off;
        if (!in_shared(shared, &bufs[i]))
            copy += len - off;
    }
    conn_wreq_t *wr = xmalloc(sizeof *wr + copy);
    wr->shared = NULL;
    wr->len = 0;
    unsigned nb = 0;
    uint8_t *p = wr->data;
    skip = done;
    for (unsigned i = 0; i < nbufs; i++) {
        size_t len = bufs[i].len;
        size_t off = skip < len ? skip : len;
        skip -= off;
        if (off == len)
            continue;
        if (in_shared(shared, &bufs[i])) {
            wr->bufs[nb++] = uv_buf_init(bufs[i].base + off, (unsigned)(len - off));
            if (wr->shared == NULL)
                wr->shared = buf_shared_ref(shared);
        } else {
            memcpy(p, bufs[i].base + off, len - off);
            wr->bufs[nb++] = uv_buf_init((char *)p, (unsigned)(len - off));
            p += len - off;
        }
        wr->len += (uint32_t)(len - off);
    }
    int rc = uv_write(&wr->req, (uv_stream_t *)&c->tcp, wr->bufs, nb, on_write_done);
    if (rc != 0) {
        buf_shared_unref(wr->shared);
        free(wr);
        return rc;
    }
    c->unsent += wr->len;
    return 0;
}

int comet_conn_send(comet_conn_t *c, const uv_buf_t *bufs, unsigned nbufs, buf_shared_t *shared,
                    uint32_t packets, int force)
{
    if (c->state >= COMET_CONN_CLOSING)
        return UV_ECANCELED;
    comet_worker_t *w = comet_conn_worker(c);
    size_t total = 0;
    for (unsigned i = 0; i < nbufs; i++)
        total += bufs[i].len;
    size_t done = 0;
    if (c->unsent == 0) {
        int r = uv_try_write((uv_stream_t *)&c->tcp, bufs, nbufs);
        if (r >= 0) {
            done = (size_t)r;
        } else if (r != UV_EAGAIN) {
            log_debug("worker %d: write: %s", w->index, uv_strerror(r));
            comet_conn_close(c);
            return r;
        }
    }
    COMET_STAT_ADD(&w->stats, bytes_out, total);
    COMET_STAT_ADD(&w->stats, packets_out, packets);
    if (done == total)
        return 0;
    int rc = conn_queue(c, bufs, nbufs, shared, done);
    if (rc != 0) {
        comet_conn_close(c);
        return rc;
    }
    /* The whole packet is queued first so the stream stays well-formed for the kick after it. */
    if (!force && c->unsent > (uint64_t)w->conf->max_pending_bytes) {
        char peer[80];
        comet_conn_peer(c, peer, sizeof peer);
        COMET_STAT_ADD(&w->stats, slow_consumers, 1);
        log_warn_rl("conn %s key=%s: %u bytes unsent, kicking slow consumer", peer,
                    c->key ? c->key : "-", c->unsent);
        comet_conn_kick_reason(c, "slow consumer");
    }
    return 0;
}

/* Writes the packet, framed for c's transport, at dst, which has room for
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
    comet_worker_t *w = comet_conn_worker(c);
    w->scratch.len = 0;
    uint8_t *p = buf_reserve(&w->scratch, PROTO_HEADER_LEN + len);
    proto_header_write(p, op, seq, (uint32_t)len);
    if (len)
        memcpy(p + PROTO_HEADER_LEN, body, len);
    return ws_codec_encode(w->ws, WS_OP_BINARY, p, PROTO_HEADER_LEN + len, dst);
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

/* --------------------------------------------------------------------------------- closing */

void comet_conn_kick(comet_conn_t *c, const char *body, size_t len)
{
    if (c->state >= COMET_CONN_CLOSING)
        return;
    COMET_STAT_ADD(&comet_conn_worker(c)->stats, kicks, 1);
    if (c->state != COMET_CONN_HANDSHAKE)
        conn_send_packet(c, PROTO_OP_DISCONNECT_REPLY, 0, body, len, 1);
    comet_conn_finish(c);
}

void comet_conn_kick_reason(comet_conn_t *c, const char *reason)
{
    char body[128];
    int n = snprintf(body, sizeof body, "{\"reason\":\"%s\"}", reason);
    comet_conn_kick(c, body, (size_t)n < sizeof body ? (size_t)n : sizeof body - 1);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    comet_conn_t *c = (comet_conn_t *)req->handle;
    free(req);
    /* On success the peer has our FIN; we close when it closes too (EOF) or the linger ends. */
    if (status < 0 && c->state == COMET_CONN_CLOSING)
        comet_conn_close(c);
}

void comet_conn_finish(comet_conn_t *c)
{
    if (c->state >= COMET_CONN_CLOSING)
        return;
    if (comet_conn_is_ws(c) && c->state != COMET_CONN_HANDSHAKE)
        comet_ws_send_close(c, 1000);
    if (c->state >= COMET_CONN_CLOSING)
        return; /* the write failed and closed it */
    comet_worker_t *w = comet_conn_worker(c);
    if (c->flags & COMET_CONN_F_REGISTERED)
        comet_channel_unregister(c);
    c->state = COMET_CONN_CLOSING;
    c->t = comet_worker_now(w);
    list_unlink(&c->link);
    list_append(&w->closing, &c->link);
    /* Reading may be paused (auth in flight); read on to see the peer's EOF. */
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    uv_shutdown_t *req = xmalloc(sizeof *req);
    if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        free(req);
        comet_conn_close(c);
    }
}

void comet_conn_close(comet_conn_t *c)
{
    if (c->state == COMET_CONN_CLOSED)
        return;
    if (c->flags & COMET_CONN_F_REGISTERED)
        comet_channel_unregister(c);
    list_unlink(&c->link);
    c->state = COMET_CONN_CLOSED;
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_close(uv_handle_t *h)
{
    comet_conn_t *c = (comet_conn_t *)h;
    comet_worker_t *w = h->loop->data;
    COMET_STAT_SUB(&w->stats, sockets, 1);
    if (comet_conn_is_ws(c))
        COMET_STAT_SUB(&w->stats, ws, 1);
    c->flags |= COMET_CONN_F_HANDLE_CLOSED;
    if (c->refs == 0)
        conn_free(c);
    comet_worker_on_socket_closed(w);
}

void comet_conn_resume(comet_conn_t *c)
{
    if (c->state == COMET_CONN_AUTHED)
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

void comet_conn_pause(comet_conn_t *c)
{
    uv_read_stop((uv_stream_t *)&c->tcp);
}
