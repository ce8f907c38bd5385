/* libFuzzer target: the RPC frame reader (rpc_frame_reader_alloc/feed, rpc_frame_header_read,
 * rpc_frame_error_read) on an arbitrary byte stream, as a peer daemon's socket delivers it.
 * Input: byte 0 seeds the read sizes, the rest is the stream. The stream is read twice, once in
 * reads as big as the reader offers and once in small random reads: both must see the same
 * frames and end the same way, since TCP may cut a stream anywhere. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herald_err.h"
#include "rpc_frame.h"

typedef struct fuzz_digest_s {
    uint64_t hash; /* FNV-1a over every frame's fields and payload */
    size_t frames;
} fuzz_digest_t;

static void digest_bytes(fuzz_digest_t *d, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        d->hash = (d->hash ^ b[i]) * 0x100000001b3ull;
}

static int on_frame(void *arg, const rpc_frame_t *f)
{
    fuzz_digest_t *d = arg;
    if (f->len > RPC_MAX_FRAME ||
        (f->flags != RPC_FLAG_REQUEST && f->flags != RPC_FLAG_REPLY && f->flags != RPC_FLAG_ERROR))
        abort();
    /* The header the writer would make for this frame reads back to the same fields. */
    uint8_t hdr[RPC_FRAME_HEADER];
    rpc_frame_t back;
    rpc_frame_header_write(hdr, f->method, f->flags, f->call_id, f->len);
    if (rpc_frame_header_read(hdr, &back) != 0 || back.method != f->method ||
        back.flags != f->flags || back.call_id != f->call_id || back.len != f->len)
        abort();
    if (f->flags == RPC_FLAG_ERROR) {
        const char *text;
        size_t text_len;
        int code = rpc_frame_error_read(f, &text, &text_len);
        if (code >= 0 || (f->len >= 4 && (const uint8_t *)text + text_len != f->payload + f->len))
            abort();
    }
    digest_bytes(d, &f->method, sizeof(f->method));
    digest_bytes(d, &f->flags, sizeof(f->flags));
    digest_bytes(d, &f->call_id, sizeof(f->call_id));
    digest_bytes(d, &f->len, sizeof(f->len));
    digest_bytes(d, f->payload, f->len); /* ASan checks the whole payload is there */
    d->frames++;
    return 0;
}

/* Reads data through a fresh reader; seed 0 reads as much as the reader offers. Returns the
 * reader's first nonzero result, or 0. */
static int read_stream(const uint8_t *data, size_t size, unsigned seed, fuzz_digest_t *d)
{
    rpc_frame_reader_t r;
    int rc = 0;
    rpc_frame_reader_init(&r);
    while (size > 0 && rc == 0) {
        uv_buf_t space;
        rpc_frame_reader_alloc(&r, &space);
        if (space.len == 0)
            abort(); /* the space is never empty */
        size_t n = space.len;
        if (seed != 0) {
            seed = seed * 1103515245u + 12345u;
            n = 1 + (seed >> 16) % 97;
        }
        if (n > size)
            n = size;
        if (n > space.len)
            n = space.len;
        memcpy(space.base, data, n);
        rc = rpc_frame_reader_feed(&r, n, on_frame, d);
        if (rc == 0 && r.len >= r.cap)
            abort();
        data += n;
        size -= n;
    }
    rpc_frame_reader_deinit(&r);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned seed = data[0] | 1u;
    fuzz_digest_t whole = {0xcbf29ce484222325ull, 0}, pieces = whole;
    int rc_whole = read_stream(data + 1, size - 1, 0, &whole);
    int rc_pieces = read_stream(data + 1, size - 1, seed, &pieces);
    if (rc_whole != 0 && rc_whole != HERALD_EPROTO && rc_whole != HERALD_ETOOBIG)
        abort();
    if (rc_whole != rc_pieces || whole.frames != pieces.frames || whole.hash != pieces.hash)
        abort();
    return 0;
}
