/* comet_tcp.c - see comet_tcp.h. */
#include "comet_tcp.h"

#include "comet_ws.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

/* A write the socket did not take at once: the unsent tail of the caller's buffers, each piece
 * either referenced in `shared` or copied behind bufs[nbufs]. Freed in on_write_done. */
typedef struct tcp_wreq_s {
    uv_write_t req;
    buf_shared_t *shared;
    uint32_t len;
    uv_buf_t bufs[]; /* as many as the caller's buffers at most; the copied bytes follow */
} tcp_wreq_t;

void comet_tcp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    /* One buffer per loop: a read callback consumes all of it before the next read starts, and
     * leftovers are copied into the connection only while a packet is incomplete. */
    comet_conns_t *t = h->data;
    buf->base = (char *)t->read_buf;
    buf->len = COMET_READ_BUF_SIZE;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    comet_conn_t *c = (comet_conn_t *)s;
    if (!comet_conn_on_read(c, nread))
        return;
    if (comet_conn_is_ws(c))
        comet_ws_on_read(c, (uint8_t *)buf->base, (size_t)nread);
    else
        comet_conn_on_packets(c, (const uint8_t *)buf->base, (size_t)nread);
}

static int tcp_read_start(comet_conn_t *c)
{
    int rc = uv_read_start((uv_stream_t *)&c->tcp, comet_tcp_alloc, on_read);
    return rc == UV_EALREADY ? 0 : rc;
}

static void tcp_read_stop(comet_conn_t *c)
{
    uv_read_stop((uv_stream_t *)&c->tcp);
}

static void on_write_done(uv_write_t *req, int status)
{
    tcp_wreq_t *wr = (tcp_wreq_t *)req;
    comet_conn_t *c = (comet_conn_t *)req->handle;
    c->unsent -= wr->len;
    COMET_STAT_SUB(comet_conn_conns(c)->stats, unsent_bytes, wr->len);
    buf_shared_unref(wr->shared);
    free(wr);
    if (status < 0 && status != UV_ECANCELED) {
        log_debug("conn: write: %s", uv_strerror(status));
        comet_conn_close(c);
    }
}

static int in_shared(const buf_shared_t *shared, const uv_buf_t *b)
{
    return shared != NULL && (const uint8_t *)b->base >= shared->data &&
           (const uint8_t *)b->base + b->len <= shared->data + shared->len;
}

/* Queues the bytes of bufs after the first `done` ones. */
static int tcp_queue(comet_conn_t *c, const uv_buf_t *bufs, unsigned nbufs, buf_shared_t *shared,
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
    /* Sized for every buffer of the caller: the request never holds more pieces than that. */
    tcp_wreq_t *wr = xmalloc(sizeof *wr + nbufs * sizeof wr->bufs[0] + copy);
    wr->shared = NULL;
    wr->len = 0;
    unsigned nb = 0;
    uint8_t *p = (uint8_t *)(wr->bufs + nbufs);
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
    COMET_STAT_ADD(comet_conn_conns(c)->stats, unsent_bytes, wr->len);
    return 0;
}

int comet_tcp_write(comet_conn_t *c, const uv_buf_t *bufs, unsigned nbufs, buf_shared_t *shared)
{
    size_t total = 0;
    for (unsigned i = 0; i < nbufs; i++)
        total += bufs[i].len;
    size_t done = 0;
    /* Behind a queued write, bytes must wait their turn. */
    if (c->unsent == 0) {
        int r = uv_try_write((uv_stream_t *)&c->tcp, bufs, nbufs);
        if (r >= 0)
            done = (size_t)r;
        else if (r != UV_EAGAIN)
            return r;
    }
    return done == total ? 0 : tcp_queue(c, bufs, nbufs, shared, done);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    comet_conn_t *c = (comet_conn_t *)req->handle;
    free(req);
    /* On success the peer has our FIN; we close when it closes too (EOF) or the linger ends. */
    if (status < 0 && c->state == COMET_CONN_CLOSING)
        comet_conn_close(c);
}

int comet_tcp_shutdown(comet_conn_t *c)
{
    uv_shutdown_t *req = xmalloc(sizeof *req);
    int rc = uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown);
    if (rc != 0)
        free(req);
    return rc;
}

static void on_close(uv_handle_t *h)
{
    comet_conn_on_closed((comet_conn_t *)h);
}

static void tcp_close(comet_conn_t *c)
{
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

static const comet_stream_t tcp_stream = {
    tcp_read_start, tcp_read_stop, comet_tcp_write, comet_tcp_shutdown, tcp_close,
};

int comet_tcp_take(comet_conns_t *t, comet_conn_t *c, uv_stream_t *listener,
                   const comet_stream_t *stream, int ws, const comet_conn_ops_t *ops)
{
    uv_tcp_init(t->loop, &c->tcp);
    comet_conn_init(c, t, stream, ops, ws);
    int rc = uv_accept(listener, (uv_stream_t *)&c->tcp);
    if (rc != 0) {
        log_warn_rl("accept: %s", uv_strerror(rc));
        comet_conn_close(c);
        return rc;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    return 0;
}

void comet_tcp_accept(comet_conns_t *t, comet_conn_t *c, uv_stream_t *listener, int ws,
                      const comet_conn_ops_t *ops)
{
    if (comet_tcp_take(t, c, listener, &tcp_stream, ws, ops) == 0)
        comet_conn_start(c);
}
