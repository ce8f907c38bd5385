/* rpc_frame.c - frame header codec, frame reader and batching writer of the internal RPC. */
#include "rpc_frame.h"

#include "buf.h"
#include "herald_err.h"

#include <stdlib.h>
#include <string.h>

/* The len field counts what follows it: method, flags, call id, payload. */
#define RPC_FRAME_LEN_FIXED 8

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

void rpc_frame_header_write(uint8_t out[RPC_FRAME_HEADER], uint16_t method, uint16_t flags,
                            uint32_t call_id, uint32_t payload_len)
{
    put_u32(out, RPC_FRAME_LEN_FIXED + payload_len);
    put_u16(out + 4, method);
    put_u16(out + 6, flags);
    put_u32(out + 8, call_id);
}

int rpc_frame_header_read(const uint8_t in[RPC_FRAME_HEADER], rpc_frame_t *f)
{
    uint32_t len = get_u32(in);

    if (len > RPC_MAX_FRAME)
        return HERALD_ETOOBIG;
    if (len < RPC_FRAME_LEN_FIXED)
        return HERALD_EPROTO;
    f->method = get_u16(in + 4);
    f->flags = get_u16(in + 6);
    if (f->flags != RPC_FLAG_REQUEST && f->flags != RPC_FLAG_REPLY && f->flags != RPC_FLAG_ERROR)
        return HERALD_EPROTO;
    f->call_id = get_u32(in + 8);
    f->len = len - RPC_FRAME_LEN_FIXED;
    f->payload = NULL;
    return 0;
}

int rpc_frame_error_read(const rpc_frame_t *f, const char **text, size_t *text_len)
{
    int32_t code;

    if (f->len < 4) {
        *text = "";
        *text_len = 0;
        return HERALD_EPROTO;
    }
    code = (int32_t)get_u32(f->payload);
    *text = (const char *)f->payload + 4;
    *text_len = f->len - 4;
    /* A non-negative code would read as success to the caller of the failed call. */
    return code < 0 ? code : HERALD_EPROTO;
}

/* An unlinked frame of `size` bytes of data (header included). */
static rpc_frame_out_t *frame_out_alloc(size_t size)
{
    rpc_frame_out_t *f = xmalloc(sizeof(*f) + size);

    f->link = (list_link_t){NULL, NULL};
    f->size = (uint32_t)size;
    return f;
}

rpc_frame_out_t *rpc_frame_out_new(uint16_t method, uint16_t flags, uint32_t call_id,
                                   const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    rpc_frame_out_t *f;

    if (n > RPC_MAX_FRAME - RPC_FRAME_LEN_FIXED)
        return NULL;
    f = frame_out_alloc(RPC_FRAME_HEADER + n);
    rpc_frame_header_write(f->data, method, flags, call_id, (uint32_t)n);
    protobuf_c_message_pack(msg, f->data + RPC_FRAME_HEADER);
    return f;
}

rpc_frame_out_t *rpc_frame_out_new_raw(const void *data, size_t n)
{
    rpc_frame_out_t *f = frame_out_alloc(n);

    memcpy(f->data, data, n);
    return f;
}

rpc_frame_out_t *rpc_frame_out_new_error(uint16_t method, uint32_t call_id, int code,
                                         const char *message)
{
    size_t n = message ? strnlen(message, RPC_FRAME_ERROR_TEXT_MAX) : 0;
    rpc_frame_out_t *f = frame_out_alloc(RPC_FRAME_HEADER + 4 + n);

    rpc_frame_header_write(f->data, method, RPC_FLAG_ERROR, call_id, (uint32_t)(4 + n));
    put_u32(f->data + RPC_FRAME_HEADER, (uint32_t)(int32_t)code);
    if (n)
        memcpy(f->data + RPC_FRAME_HEADER + 4, message, n);
    return f;
}

/* ------------------------------------------------------------------------------------ reader */

void rpc_frame_reader_init(rpc_frame_reader_t *r)
{
    r->buf = NULL;
    r->cap = 0;
    r->len = 0;
    r->want = 0;
}

void rpc_frame_reader_deinit(rpc_frame_reader_t *r)
{
    free(r->buf);
    rpc_frame_reader_init(r);
}

void rpc_frame_reader_alloc(rpc_frame_reader_t *r, uv_buf_t *out)
{
    if (r->buf == NULL) {
        r->cap = RPC_FRAME_READ_BUF;
        r->buf = xmalloc(r->cap);
    } else if (r->len == r->cap) {
        /* Full: only a frame bigger than the buffer can be in progress (a smaller one would be
         * complete and handled), and its header is in, so want > cap. Doubling keeps the buffer
         * within twice the bytes that arrived. */
        size_t cap = r->cap * 2 < r->want ? r->cap * 2 : r->want;

        r->buf = xrealloc(r->buf, cap);
        r->cap = cap;
    }
    *out = uv_buf_init((char *)r->buf + r->len, (unsigned)(r->cap - r->len));
}

size_t rpc_frame_reader_cap(const rpc_frame_reader_t *r)
{
    return r->cap;
}

int rpc_frame_reader_feed(rpc_frame_reader_t *r, size_t nread, rpc_frame_cb cb, void *arg)
{
    size_t off = 0;
    rpc_frame_t f;
    int rc;

    r->len += nread;
    r->want = 0;
    while (r->len - off >= RPC_FRAME_HEADER) {
        rc = rpc_frame_header_read(r->buf + off, &f);
        if (rc != 0)
            return rc;
        if (r->len - off < RPC_FRAME_HEADER + (size_t)f.len) {
            /* Header checked against RPC_MAX_FRAME above, so this bounds the growth. */
            r->want = RPC_FRAME_HEADER + (size_t)f.len;
            break;
        }
        f.payload = r->buf + off + RPC_FRAME_HEADER;
        off += RPC_FRAME_HEADER + (size_t)f.len;
        rc = cb(arg, &f);
        if (rc != 0)
            return rc;
    }
    r->len -= off;
    if (off != 0 && r->len != 0)
        memmove(r->buf, r->buf + off, r->len);
    /* Give the memory of a big frame back once it has been handled (what is held then fits). */
    if (r->cap > RPC_FRAME_READ_BUF && r->want <= RPC_FRAME_READ_BUF) {
        r->buf = xrealloc(r->buf, RPC_FRAME_READ_BUF);
        r->cap = RPC_FRAME_READ_BUF;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------ writer */

/* Frees every frame of head and leaves it empty. */
static void writer_free_list(list_link_t *head)
{
    LIST_FOREACH_SAFE(l, next, head)
    {
        free(list_entry(l, rpc_frame_out_t, link));
    }
    list_init(head);
}

static void writer_flush(rpc_frame_writer_t *w);

static void on_write_done(uv_write_t *req, int status)
{
    rpc_frame_writer_t *w = req->data;

    writer_free_list(&w->inflight);
    w->writing = 0;
    if (w->closed)
        return;
    if (status < 0) {
        w->on_error(w, status);
        return;
    }
    if (w->npending != 0 || (w->tls != NULL && tls_pipe_out_pending(w->tls) != 0))
        writer_flush(w);
}

/* TLS: the queued frames are encrypted (once the TLS handshake is over; until then they wait),
 * then everything OpenSSL has to send, handshake messages included, goes out as one buffer. */
static void writer_flush_tls(rpc_frame_writer_t *w)
{
    rpc_frame_out_t *out;
    size_t n;
    int failed = 0;
    int rc;

    if (tls_pipe_ready(w->tls) && w->npending != 0) {
        /* The queue is encrypted as one stream, so small frames share records (OpenSSL cuts
         * them at 16 KiB) instead of costing a record and an AEAD pass each. */
        size_t total = 0, off = 0;
        uint8_t *gather;

        LIST_FOREACH(l, &w->pending)
        {
            total += list_entry(l, rpc_frame_out_t, link)->size;
        }
        gather = w->npending > 1 ? xmalloc(total) : NULL;
        LIST_FOREACH_SAFE(l, next, &w->pending)
        {
            rpc_frame_out_t *f = list_entry(l, rpc_frame_out_t, link);

            if (gather == NULL)
                failed = tls_pipe_write(w->tls, f->data, f->size) != 0;
            else
                memcpy(gather + off, f->data, f->size);
            off += f->size;
            free(f);
        }
        if (gather != NULL) {
            failed = tls_pipe_write(w->tls, gather, total) != 0;
            free(gather);
        }
        list_init(&w->pending);
        w->npending = 0;
        if (failed) {
            w->on_error(w, UV_EPROTO);
            return;
        }
    }
    n = tls_pipe_out_pending(w->tls);
    if (n == 0)
        return;
    out = frame_out_alloc(n);
    out->size = (uint32_t)tls_pipe_out_take(w->tls, out->data, n);
    list_append(&w->inflight, &out->link);
    if (w->bufs_cap == 0) {
        w->bufs_cap = 1;
        w->bufs = xrealloc(w->bufs, sizeof(*w->bufs));
    }
    w->bufs[0] = uv_buf_init((char *)out->data, out->size);
    w->req.data = w;
    rc = uv_write(&w->req, w->stream, w->bufs, 1, on_write_done);
    if (rc != 0) {
        writer_free_list(&w->inflight);
        w->on_error(w, rc);
        return;
    }
    w->writing = 1;
}

static void writer_flush(rpc_frame_writer_t *w)
{
    size_t i = 0;
    int rc;

    if (w->tls != NULL) {
        writer_flush_tls(w);
        return;
    }

    if (w->npending > w->bufs_cap) {
        w->bufs_cap = w->npending * 2;
        w->bufs = xrealloc(w->bufs, w->bufs_cap * sizeof(*w->bufs));
    }
    /* No write is in flight, so inflight is empty: the queue moves there in order. */
    LIST_FOREACH_SAFE(l, next, &w->pending)
    {
        rpc_frame_out_t *f = list_entry(l, rpc_frame_out_t, link);

        w->bufs[i++] = uv_buf_init((char *)f->data, f->size);
        list_unlink(l);
        list_append(&w->inflight, l);
    }
    w->npending = 0;
    w->req.data = w;
    rc = uv_write(&w->req, w->stream, w->bufs, (unsigned)i, on_write_done);
    if (rc != 0) {
        writer_free_list(&w->inflight);
        w->on_error(w, rc);
        return;
    }
    w->writing = 1;
}

void rpc_frame_writer_init(rpc_frame_writer_t *w, uv_stream_t *stream,
                           rpc_frame_writer_error_cb on_error)
{
    memset(w, 0, sizeof(*w));
    w->stream = stream;
    w->on_error = on_error;
    list_init(&w->pending);
    list_init(&w->inflight);
}

void rpc_frame_writer_send(rpc_frame_writer_t *w, rpc_frame_out_t *f)
{
    if (w->closed) {
        free(f);
        return;
    }
    list_append(&w->pending, &f->link);
    w->npending++;
    if (!w->writing)
        writer_flush(w);
}

void rpc_frame_writer_set_tls(rpc_frame_writer_t *w, tls_pipe_t *tls)
{
    w->tls = tls;
}

void rpc_frame_writer_flush(rpc_frame_writer_t *w)
{
    if (!w->closed && !w->writing && w->stream != NULL &&
        (w->npending != 0 || (w->tls != NULL && tls_pipe_out_pending(w->tls) != 0)))
        writer_flush(w);
}

void rpc_frame_writer_deinit(rpc_frame_writer_t *w)
{
    /* A zeroed writer (never initialised: no stream) has nothing queued and no list set up. */
    if (w->stream != NULL)
        writer_free_list(&w->pending);
    w->npending = 0;
    free(w->bufs);
    w->bufs = NULL;
    w->bufs_cap = 0;
    w->closed = 1;
}
