/* packets.h - goim packets built and read by hand in the client tests. The wire format is
 * spelled out here, independently of proto.c, so a codec bug cannot cancel itself out. */
#ifndef HERALD_TEST_PACKETS_H
#define HERALD_TEST_PACKETS_H

#include "loopback.h"

/* A byte string built by the test. */
typedef struct bytes_s {
    uint8_t data[8192];
    size_t len;
} bytes_t;

static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void bytes_add(bytes_t *b, const void *data, size_t len)
{
    assert_true(b->len + len <= sizeof(b->data));
    if (len > 0)
        memcpy(b->data + b->len, data, len);
    b->len += len;
}

/* Appends a packet with headerLen 16, ver 1. */
static inline void bytes_packet(bytes_t *b, uint32_t op, uint32_t seq, const void *body, size_t len)
{
    uint8_t h[16];
    put32(h, (uint32_t)(16 + len));
    h[4] = 0;
    h[5] = 16;
    h[6] = 0;
    h[7] = 1;
    put32(h + 8, op);
    put32(h + 12, seq);
    bytes_add(b, h, 16);
    bytes_add(b, body, len);
}

static inline void bytes_str_packet(bytes_t *b, uint32_t op, uint32_t seq, const char *body)
{
    bytes_packet(b, op, seq, body, strlen(body));
}

/* Reads one packet header + body on the server side. Returns 0 or -1. */
static inline int read_packet(int fd, uint32_t *op, uint32_t *seq, char *body, size_t cap,
                              size_t *len)
{
    uint8_t h[16];
    if (loopback_read(fd, h, 16) < 0)
        return -1;
    uint32_t pack = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    if (pack < 16 || pack - 16 >= cap || h[5] != 16)
        return -1;
    *op = (uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 | (uint32_t)h[10] << 8 | h[11];
    *seq = (uint32_t)h[12] << 24 | (uint32_t)h[13] << 16 | (uint32_t)h[14] << 8 | h[15];
    *len = pack - 16;
    body[*len] = '\0';
    return loopback_read(fd, body, *len);
}

#endif
