/* proto.c - goim v2 packet header codec, the streaming reader of one connection, room ids. */
#include "proto.h"
#include "buf.h"
#include "herald_err.h"

#include <stdlib.h>
#include <string.h>

static void proto_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t proto_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void proto_header_write(uint8_t out[PROTO_HEADER_LEN], uint32_t op, uint32_t seq, uint32_t body_len)
{
    proto_put32(out, PROTO_HEADER_LEN + body_len);
    out[4] = 0;
    out[5] = PROTO_HEADER_LEN;
    out[6] = 0;
    out[7] = PROTO_VERSION;
    proto_put32(out + 8, op);
    proto_put32(out + 12, seq);
}

int proto_header_read(const uint8_t *in, size_t len, uint32_t max_body, proto_header_t *h)
{
    if (len < PROTO_HEADER_LEN)
        return 1;
    h->pack_len = proto_get32(in);
    h->header_len = (uint16_t)(in[4] << 8 | in[5]);
    h->ver = (uint16_t)(in[6] << 8 | in[7]);
    h->op = proto_get32(in + 8);
    h->seq = proto_get32(in + 12);
    if (h->pack_len < PROTO_HEADER_LEN || h->header_len != PROTO_HEADER_LEN)
        return HERALD_EPROTO;
    if (h->pack_len - PROTO_HEADER_LEN > max_body)
        return HERALD_ETOOBIG;
    return 0;
}

void proto_reader_init(proto_reader_t *r)
{
    r->pending = NULL;
    r->pending_len = 0;
    r->pending_cap = 0;
}

void proto_reader_deinit(proto_reader_t *r)
{
    free(r->pending);
    proto_reader_init(r);
}

/* Copies up to what the pending buffer still lacks; returns the bytes taken. */
static size_t proto_reader_fill(proto_reader_t *r, const uint8_t *data, size_t len)
{
    size_t take = r->pending_cap - r->pending_len;
    if (take > len)
        take = len;
    memcpy(r->pending + r->pending_len, data, take);
    r->pending_len += (uint32_t)take;
    return take;
}

/* Continues the partial packet held in r->pending with data, setting *used to the bytes taken.
 * Returns 0, a header error, or the callback's nonzero return. A partial header lives in a
 * 16-byte buffer: the packet-sized one is allocated only once the header has been validated, so
 * a peer cannot make us allocate more than max_body + 16 per connection. */
static int proto_reader_resume(proto_reader_t *r, const uint8_t *data, size_t len,
                               uint32_t max_body, proto_packet_cb cb, void *arg, size_t *used)
{
    proto_header_t h;
    int rc;

    *used = 0;
    if (r->pending_len < PROTO_HEADER_LEN) {
        *used = proto_reader_fill(r, data, len);
        if (r->pending_len < PROTO_HEADER_LEN)
            return 0;
        rc = proto_header_read(r->pending, r->pending_len, max_body, &h);
        if (rc != 0)
            return rc;
        if (h.pack_len > r->pending_cap) {
            r->pending = xrealloc(r->pending, h.pack_len);
            r->pending_cap = h.pack_len;
        }
    }
    *used += proto_reader_fill(r, data + *used, len - *used);
    if (r->pending_len < r->pending_cap)
        return 0;

    /* Cannot fail: validated when the header completed. */
    proto_header_read(r->pending, r->pending_len, max_body, &h);
    rc = cb(arg, &h, r->pending + PROTO_HEADER_LEN);
    proto_reader_deinit(r);
    return rc;
}

int proto_reader_feed(proto_reader_t *r, const uint8_t *data, size_t len, uint32_t max_body,
                      proto_packet_cb cb, void *arg)
{
    if (len == 0)
        return 0;
    if (r->pending != NULL) {
        size_t used;
        int rc = proto_reader_resume(r, data, len, max_body, cb, arg, &used);
        if (rc != 0)
            return rc;
        data += used;
        len -= used;
    }
    while (len > 0) {
        proto_header_t h;
        int rc = proto_header_read(data, len, max_body, &h);
        if (rc < 0)
            return rc;
        if (rc == 0 && h.pack_len <= len) {
            /* The common case: a whole packet in the read buffer, delivered without a copy. */
            rc = cb(arg, &h, data + PROTO_HEADER_LEN);
            if (rc != 0)
                return rc;
            data += h.pack_len;
            len -= h.pack_len;
            continue;
        }
        r->pending_cap = rc == 1 ? PROTO_HEADER_LEN : h.pack_len;
        r->pending = xmalloc(r->pending_cap);
        r->pending_len = 0;
        proto_reader_fill(r, data, len);
        return 0;
    }
    return 0;
}

int proto_room_id_valid(const char *id, size_t len)
{
    if (len == 0 || len > PROTO_ROOM_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
            return 0;
    return 1;
}
