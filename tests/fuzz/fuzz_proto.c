/* libFuzzer target: proto_reader_feed on arbitrary bytes cut into arbitrary pieces.
 * Input: byte 0 picks max_body, byte 1 seeds the piece sizes, the rest is the stream. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

typedef struct fuzz_state_s {
    uint32_t max_body;
    size_t packets;
} fuzz_state_t;

static int on_packet(void *arg, const proto_header_t *h, const uint8_t *body)
{
    fuzz_state_t *s = arg;
    size_t len = h->pack_len - PROTO_HEADER_LEN;
    if (h->header_len != PROTO_HEADER_LEN || len > s->max_body)
        abort();
    /* Touch the whole body so ASan checks it is really there. */
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += body[i];
    (void)sum;
    s->packets++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    fuzz_state_t s = {.max_body = (uint32_t)data[0] * 16};
    unsigned seed = data[1];
    data += 2;
    size -= 2;

    proto_reader_t r;
    proto_reader_init(&r);
    while (size > 0) {
        seed = seed * 1103515245u + 12345u;
        size_t piece = 1 + (seed >> 16) % 64;
        if (piece > size)
            piece = size;
        int rc = proto_reader_feed(&r, data, piece, s.max_body, on_packet, &s);
        if (rc != 0)
            break;
        /* Bounded buffering: never more than one packet, never before a valid header. */
        if (r.pending != NULL &&
            (r.pending_cap > s.max_body + PROTO_HEADER_LEN || r.pending_len > r.pending_cap))
            abort();
        data += piece;
        size -= piece;
    }
    proto_reader_deinit(&r);
    return 0;
}
