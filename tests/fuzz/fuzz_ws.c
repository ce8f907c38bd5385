/* libFuzzer target: WebSocket handshake parsers and frames. The codecs live across inputs, as
 * they do across connections of a thread, so a decode that left wslay mid-frame would break
 * later inputs. Decoded payloads are re-encoded and decoded back as a round-trip check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"

#define FUZZ_MAX_PAYLOAD (1 << 16)

static ws_codec_t *codecs[2]; /* [0] client side, [1] server side */

static void fuzz_handshakes(const uint8_t *data, size_t size)
{
    size_t consumed;
    char path[64], accept[WS_ACCEPT_LEN + 1];
    static const char key[WS_KEY_LEN + 1] = "dGhlIHNhbXBsZSBub25jZQ==";
    if (ws_handshake_parse_request((const char *)data, size, &consumed, path, sizeof(path),
                                   accept) == 0 &&
        (consumed > size || strlen(path) >= sizeof(path)))
        abort();
    if (ws_handshake_parse_response((const char *)data, size, &consumed, key) == 0 &&
        consumed > size)
        abort();
}

static void fuzz_reencode(int from_client, const ws_frame_t *f)
{
    if ((f->opcode & 0x8) != 0 && f->payload_len > 125)
        abort(); /* the peek let an oversize control frame through */
    ws_codec_t *enc = codecs[from_client], *dec = codecs[!from_client];
    size_t n = ws_frame_header_len(enc, f->payload_len) + f->payload_len;
    uint8_t *frame = malloc(n);
    ws_frame_t back;
    if (ws_codec_encode(enc, f->opcode, f->payload, f->payload_len, frame) != n ||
        ws_codec_decode(dec, frame, n, &back) != 0 || back.opcode != f->opcode ||
        back.payload_len != f->payload_len || memcmp(back.payload, f->payload, f->payload_len) != 0)
        abort();
    free(frame);
}

static void fuzz_frames(int from_client, const uint8_t *data, size_t size)
{
    while (size > 0) {
        size_t frame_len;
        int rc = ws_frame_peek(data, size, from_client, FUZZ_MAX_PAYLOAD, &frame_len);
        if (rc != 0) {
            if (rc == 1 && frame_len != 0 && frame_len <= size)
                abort();
            return;
        }
        if (frame_len > size || frame_len < 2)
            abort();
        /* Decode in place from an exact-size copy, so ASan sees any overread. */
        uint8_t *frame = malloc(frame_len);
        memcpy(frame, data, frame_len);
        ws_frame_t f;
        if (ws_codec_decode(codecs[from_client], frame, frame_len, &f) != 0)
            abort(); /* a frame the peek accepted must decode */
        if (f.payload + f.payload_len != frame + frame_len)
            abort();
        fuzz_reencode(from_client, &f);
        free(frame);
        data += frame_len;
        size -= frame_len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (codecs[0] == NULL) {
        codecs[0] = ws_codec_new(0);
        codecs[1] = ws_codec_new(1);
    }
    fuzz_handshakes(data, size);
    if (size == 0)
        return 0;
    /* The first byte picks the side the frames come from. */
    fuzz_frames(data[0] & 1, data + 1, size - 1);
    /* Whatever bytes arrive, the decoder must not be left mid-frame: an arbitrary input given to
     * decode directly is refused or decoded whole. */
    uint8_t *copy = malloc(size);
    memcpy(copy, data, size);
    ws_frame_t f;
    size_t frame_len;
    int whole = ws_frame_peek(copy, size, 1, UINT64_MAX, &frame_len) == 0 && frame_len == size;
    if ((ws_codec_decode(codecs[1], copy, size, &f) == 0) != whole)
        abort();
    free(copy);
    return 0;
}
