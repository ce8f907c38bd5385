/* Unit tests of ws.c: handshakes both ways and frames through the wslay-backed codec, with
 * truncated, oversize and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "herald_err.h"
#include "ws.h"

static const char rfc_request[] = "GET /chat?room=1 HTTP/1.1\r\n"
                                  "Host: server.example.com\r\n"
                                  "Upgrade: websocket\r\n"
                                  "Connection: Upgrade\r\n"
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                  "Origin: http://example.com\r\n"
                                  "Sec-WebSocket-Version: 13\r\n"
                                  "\r\n";

static void test_accept_key(void **state)
{
    char accept[WS_ACCEPT_LEN + 1];
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    ws_accept_key(key, strlen(key), accept);
    assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="); /* RFC 6455 §1.3 */
}

static int parse_req(const char *text, size_t len, size_t *consumed, char *path, size_t cap)
{
    char accept[WS_ACCEPT_LEN + 1];
    return ws_handshake_parse_request(text, len, consumed, path, cap, accept);
}

static void test_request_complete(void **state)
{
    size_t consumed = 0;
    char path[64], accept[WS_ACCEPT_LEN + 1];
    assert_int_equal(ws_handshake_parse_request(rfc_request, strlen(rfc_request), &consumed, path,
                                                sizeof(path), accept),
                     0);
    assert_int_equal(consumed, strlen(rfc_request));
    assert_string_equal(path, "/chat");
    assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

    /* Bytes after the request (a first frame sent early) are not consumed. */
    char more[1024];
    snprintf(more, sizeof(more), "%s\x82\x80", rfc_request);
    assert_int_equal(parse_req(more, strlen(more), &consumed, path, sizeof(path)), 0);
    assert_int_equal(consumed, strlen(rfc_request));

    /* Path truncated to the buffer. */
    assert_int_equal(parse_req(rfc_request, strlen(rfc_request), &consumed, path, 4), 0);
    assert_string_equal(path, "/ch");
}

static void test_request_incomplete(void **state)
{
    size_t consumed;
    char path[64];
    for (size_t i = 0; i < strlen(rfc_request); i++)
        assert_int_equal(parse_req(rfc_request, i, &consumed, path, sizeof(path)), 1);
}

static void expect_bad_request(const char *text)
{
    size_t consumed;
    char path[64];
    if (parse_req(text, strlen(text), &consumed, path, sizeof(path)) != HERALD_EWSPROTO)
        fail_msg("accepted:\n%s", text);
}

static void test_request_tolerant(void **state)
{
    size_t consumed;
    char path[64];
    const char *text = "GET /sub HTTP/1.1\r\n"
                       "host: h\r\n"
                       "UPGRADE:WebSocket\r\n"
                       "connection: keep-alive, Upgrade\r\n"
                       "sec-websocket-key:   dGhlIHNhbXBsZSBub25jZQ==  \r\n"
                       "SEC-WEBSOCKET-VERSION: 13\r\n"
                       "\r\n";
    assert_int_equal(parse_req(text, strlen(text), &consumed, path, sizeof(path)), 0);
    assert_string_equal(path, "/sub");
}

static void test_request_invalid(void **state)
{
#define HDRS(up, conn, key, ver) "Host: h\r\n" up conn "Sec-WebSocket-Key: " key "\r\n" ver "\r\n"
#define UP "Upgrade: websocket\r\n"
#define CONN "Connection: Upgrade\r\n"
#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define VER "Sec-WebSocket-Version: 13\r\n"
    expect_bad_request("POST /sub HTTP/1.1\r\n" HDRS(UP, CONN, KEY, VER));
    expect_bad_request("GET /sub HTTP/1.0\r\n" HDRS(UP, CONN, KEY, VER));
    expect_bad_request("GET sub HTTP/1.1\r\n" HDRS(UP, CONN, KEY, VER));
    expect_bad_request("GET /sub\r\n" HDRS(UP, CONN, KEY, VER));
    expect_bad_request("GET /sub HTTP/1.1\r\n" HDRS("", CONN, KEY, VER));
    expect_bad_request("GET /sub HTTP/1.1\r\n" HDRS("Upgrade: h2c\r\n", CONN, KEY, VER));
    expect_bad_request("GET /sub HTTP/1.1\r\n" HDRS(UP, "", KEY, VER));
    expect_bad_request("GET /sub HTTP/1.1\r\n" HDRS(UP, "Connection: keep-alive\r\n", KEY, VER));
    expect_bad_request("GET /sub HTTP/1.1\r\n" HDRS(UP, CONN, KEY, ""));
    expect_bad_request("GET /sub HTTP/1.1\r\n" HDRS(UP, CONN, KEY, "Sec-WebSocket-Version: 8\r\n"));
    expect_bad_request("GET /sub HTTP/1.1\r\n" HDRS(UP, CONN, "", VER));
    expect_bad_request("GET /sub HTTP/1.1\r\n" HDRS(UP, CONN, "dGhlIHNhbXBsZSBub25jZQ", VER));
    expect_bad_request("GET /sub HTTP/1.1\r\n" HDRS(UP, CONN, "dGhlIHNhbXBsZSBub25jZQ=!", VER));
    expect_bad_request("GET /sub HTTP/1.1\r\n" HDRS(UP, CONN, "dGhlIHNhbXBsZSBub25jZ===", VER));
    expect_bad_request(
        "GET /sub HTTP/1.1\r\n" HDRS(UP, CONN, KEY "\r\nSec-WebSocket-Key: " KEY, VER));
    expect_bad_request("GET /sub HTTP/1.1\r\n" HDRS(UP, CONN, KEY, VER " folded\r\n"));
    expect_bad_request("GET /sub HTTP/1.1\r\n" HDRS(UP, CONN, KEY, "NoColon\r\n" VER));
    expect_bad_request("GET /sub HTTP/1.1\r\n" HDRS(UP, CONN, KEY, ": empty\r\n" VER));
    expect_bad_request("GET /sub HTTP/1.1\r\n" HDRS(UP, CONN, KEY, "Bad : space\r\n" VER));
    expect_bad_request("GET /sub HTTP/1.1\r\n" HDRS(UP, CONN, KEY, "X: a\rb\r\n" VER));

    /* Garbage is refused from its first bytes, without waiting for more. */
    size_t consumed;
    char path[8];
    assert_int_equal(parse_req("\x16\x03", 2, &consumed, path, sizeof(path)), HERALD_EWSPROTO);
    assert_int_equal(parse_req("GE", 2, &consumed, path, sizeof(path)), 1);
    assert_int_equal(parse_req("", 0, &consumed, path, sizeof(path)), 1);
}

static void test_request_oversize(void **state)
{
    size_t consumed;
    char path[64];
    char *big = malloc(WS_MAX_HANDSHAKE + 64);
    assert_non_null(big);
    memset(big, 'a', WS_MAX_HANDSHAKE + 64);
    memcpy(big, "GET / HTTP/1.1\r\nX-Pad: ", 23);
    assert_int_equal(parse_req(big, WS_MAX_HANDSHAKE - 1, &consumed, path, sizeof(path)), 1);
    assert_int_equal(parse_req(big, WS_MAX_HANDSHAKE, &consumed, path, sizeof(path)),
                     HERALD_EWSPROTO);

    /* A complete but too long request. */
    size_t n = WS_MAX_HANDSHAKE + 10;
    const char *tail = "\r\n" UP CONN "Sec-WebSocket-Key: " KEY "\r\n" VER "\r\n";
    memcpy(big + n - strlen(tail), tail, strlen(tail));
    assert_int_equal(parse_req(big, n, &consumed, path, sizeof(path)), HERALD_EWSPROTO);
    /* The same request cut to fit is fine. */
    size_t cut = n - 100;
    memmove(big + 40, big + 140, n - 140);
    assert_int_equal(parse_req(big, cut, &consumed, path, sizeof(path)), 0);
    assert_int_equal(consumed, cut);
    free(big);
}

static void test_handshake_round_trip(void **state)
{
    char req[1024], resp[512], key[WS_KEY_LEN + 1], key2[WS_KEY_LEN + 1], path[64];
    char accept[WS_ACCEPT_LEN + 1];
    size_t consumed;

    size_t n = ws_handshake_request(req, sizeof(req), "127.0.0.1", 3102, "/sub", key);
    assert_true(n > 0);
    assert_int_equal(strlen(key), WS_KEY_LEN);
    assert_int_equal(ws_handshake_parse_request(req, n, &consumed, path, sizeof(path), accept), 0);
    assert_int_equal(consumed, n);
    assert_string_equal(path, "/sub");
    assert_non_null(strstr(req, "Host: 127.0.0.1:3102\r\n"));

    size_t m = ws_handshake_response(resp, sizeof(resp), accept);
    assert_true(m > 0);
    for (size_t i = 0; i < m; i++)
        assert_int_equal(ws_handshake_parse_response(resp, i, &consumed, key), 1);
    assert_int_equal(ws_handshake_parse_response(resp, m, &consumed, key), 0);
    assert_int_equal(consumed, m);

    /* Another key must not match this response. */
    ws_handshake_request(req, sizeof(req), "::1", 80, "/", key2);
    assert_string_not_equal(key, key2);
    assert_non_null(strstr(req, "Host: [::1]:80\r\n"));
    assert_int_equal(ws_handshake_parse_response(resp, m, &consumed, key2), HERALD_EWSPROTO);

    /* Too small buffers. */
    assert_int_equal(ws_handshake_request(req, 40, "127.0.0.1", 3102, "/sub", key), 0);
    assert_int_equal(ws_handshake_response(resp, 20, accept), 0);
}

static void test_response_invalid(void **state)
{
    char resp[512], key[WS_KEY_LEN + 1] = "dGhlIHNhbXBsZSBub25jZQ==";
    size_t consumed;
    size_t n = ws_handshake_refusal(resp, sizeof(resp), 404, "Not Found");
    assert_true(n > 0);
    assert_non_null(strstr(resp, "HTTP/1.1 404 Not Found\r\n"));
    assert_non_null(strstr(resp, "Content-Length: 10\r\n"));
    assert_string_equal(strstr(resp, "\r\n\r\n") + 4, "Not Found\n");
    assert_int_equal(ws_handshake_parse_response(resp, n, &consumed, key), HERALD_EWSPROTO);
    assert_int_equal(ws_handshake_refusal(resp, 30, 400, "Bad Request"), 0);

    const char *bad[] = {
        "HTTP/1.1 1010 X\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        "HTTP/1.1 101 X\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        "HTTP/1.1 101 X\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ws_handshake_parse_response(bad[i], strlen(bad[i]), &consumed, key),
                         HERALD_EWSPROTO);
    const char *good = "HTTP/1.1 101\r\nupgrade: WebSocket\r\nconnection: upgrade\r\n"
                       "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    assert_int_equal(ws_handshake_parse_response(good, strlen(good), &consumed, key), 0);
}

/* ------------------------------------------------------------------------------------- frames */

static uint8_t *pattern(size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    assert_non_null(p);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 7 + 3);
    return p;
}

/* Encodes on one side, peeks one byte at a time and decodes on the other. */
static void round_trip(ws_codec_t *enc, ws_codec_t *dec, int from_client, uint8_t opcode,
                       size_t len)
{
    uint8_t *payload = pattern(len);
    size_t hlen = ws_frame_header_len(enc, len);
    uint8_t *frame = malloc(hlen + len);
    assert_non_null(frame);
    size_t n = ws_codec_encode(enc, opcode, payload, len, frame);
    assert_int_equal(n, hlen + len);
    assert_int_equal(frame[0], 0x80 | opcode);
    assert_int_equal(frame[1] >> 7, from_client);
    assert_int_equal(frame[1] & 0x7f, len < 126 ? len : len < 65536 ? 126 : 127);

    /* Every prefix says "more", with the total known once the header is. */
    size_t frame_len;
    size_t step = len > 1000 ? 997 : 1;
    for (size_t i = 0; i < n; i += (i < hlen + 2 ? 1 : step)) {
        assert_int_equal(ws_frame_peek(frame, i, from_client, 1 << 20, &frame_len), 1);
        assert_int_equal(frame_len, i < hlen ? 0 : n);
    }
    assert_int_equal(ws_frame_peek(frame, n, from_client, 1 << 20, &frame_len), 0);
    assert_int_equal(frame_len, n);

    ws_frame_t f;
    assert_int_equal(ws_codec_decode(dec, frame, n, &f), 0);
    assert_int_equal(f.opcode, opcode);
    assert_int_equal(f.fin, 1);
    assert_int_equal(f.payload_len, len);
    assert_ptr_equal(f.payload, frame + hlen);
    assert_memory_equal(f.payload, payload, len);
    free(frame);
    free(payload);
}

static void test_frames_round_trip(void **state)
{
    ws_codec_t *client = ws_codec_new(0), *server = ws_codec_new(1);
    const size_t sizes[] = {0, 1, 5, 125, 126, 4095, 4096, 4097, 65535, 65536, 70000};
    /* One codec decodes frame after frame: each decode must leave wslay at a boundary, or the
     * next frame's header would be misread. */
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        round_trip(client, server, 1, WS_OP_BINARY, sizes[i]);
        round_trip(server, client, 0, WS_OP_BINARY, sizes[i]);
    }
    round_trip(client, server, 1, WS_OP_TEXT, 3);
    round_trip(client, server, 1, WS_OP_PING, 125);
    round_trip(server, client, 0, WS_OP_PONG, 0);
    round_trip(client, server, 1, WS_OP_CLOSE, 2);
    ws_codec_free(client);
    ws_codec_free(server);
    ws_codec_free(NULL);
}

static void test_client_frames_masked(void **state)
{
    ws_codec_t *client = ws_codec_new(0);
    uint8_t payload[64] = {0}, a[80], b[80];
    assert_int_equal(ws_codec_encode(client, WS_OP_BINARY, payload, sizeof(payload), a), 6 + 64);
    assert_int_equal(ws_codec_encode(client, WS_OP_BINARY, payload, sizeof(payload), b), 6 + 64);
    /* Zero bytes masked with fresh random keys: the wire shows the keys, and they differ. */
    assert_memory_equal(a + 2, a + 6, 4);
    assert_memory_not_equal(a + 2, b + 2, 4);
    ws_codec_free(client);
}

static void test_frames_bad_side(void **state)
{
    ws_codec_t *client = ws_codec_new(0), *server = ws_codec_new(1);
    uint8_t payload[10] = "abcdefghij", frame[32];
    size_t frame_len;
    ws_frame_t f;

    /* An unmasked frame from a client. */
    size_t n = ws_codec_encode(server, WS_OP_BINARY, payload, sizeof(payload), frame);
    assert_int_equal(ws_frame_peek(frame, n, 1, 1 << 20, &frame_len), HERALD_EWSPROTO);
    assert_int_equal(ws_codec_decode(server, frame, n, &f), HERALD_EWSPROTO);
    /* A masked frame from a server. */
    n = ws_codec_encode(client, WS_OP_BINARY, payload, sizeof(payload), frame);
    assert_int_equal(ws_frame_peek(frame, n, 0, 1 << 20, &frame_len), HERALD_EWSPROTO);
    assert_int_equal(ws_codec_decode(client, frame, n, &f), HERALD_EWSPROTO);
    /* Truncated or padded frames never reach wslay... */
    assert_int_equal(ws_codec_decode(server, frame, n - 1, &f), HERALD_EWSPROTO);
    assert_int_equal(ws_codec_decode(server, frame, 1, &f), HERALD_EWSPROTO);
    assert_int_equal(ws_codec_decode(server, frame, 0, &f), HERALD_EWSPROTO);
    uint8_t padded[40];
    memcpy(padded, frame, n);
    assert_int_equal(ws_codec_decode(server, padded, n + 1, &f), HERALD_EWSPROTO);
    /* ...so the codec still decodes the next frame. */
    assert_int_equal(ws_codec_decode(server, frame, n, &f), 0);
    assert_memory_equal(f.payload, payload, sizeof(payload));
    ws_codec_free(client);
    ws_codec_free(server);
}

static void test_frames_invalid(void **state)
{
    size_t frame_len;
    /* Server-side peeks (from_client = 1), hand-made headers with mask bit and key. */
    const struct {
        uint8_t bytes[16];
        size_t len;
        int want;
    } cases[] = {
        {{0x89, 0x80 | 126, 0, 126, 1, 2, 3, 4}, 8, HERALD_EWSPROTO}, /* ping > 125 */
        {{0x8a, 0x80 | 127}, 2, HERALD_EWSPROTO},                     /* pong, 64-bit length */
        {{0x09, 0x80, 1, 2, 3, 4}, 6, HERALD_EWSPROTO},               /* fragmented ping */
        {{0x88, 0x80 | 126}, 2, HERALD_EWSPROTO},                     /* close > 125 */
        {{0xc2, 0x80, 1, 2, 3, 4}, 6, HERALD_EWSPROTO},               /* RSV1 */
        {{0x92, 0x80, 1, 2, 3, 4}, 6, HERALD_EWSPROTO},               /* RSV3 */
        {{0x83, 0x80, 1, 2, 3, 4}, 6, HERALD_EWSPROTO},               /* opcode 3 */
        {{0x8b, 0x80, 1, 2, 3, 4}, 6, HERALD_EWSPROTO},               /* opcode 0xb */
        {{0x82, 0x80 | 126, 0, 125}, 4, HERALD_EWSPROTO},             /* 16-bit length < 126 */
        {{0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 10, HERALD_EWSPROTO}, /* < 64 KiB */
        {{0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 1, 0, 0}, 10, HERALD_EWSPROTO},    /* bit 63 */
        {{0x82, 0x80 | 127, 0x40, 0, 0, 0, 0, 0, 0, 0}, 10, HERALD_ETOOBIG},     /* 2^62 */
        {{0x82, 0x80 | 127, 0, 0, 0, 0, 0, 2, 0, 0}, 10, HERALD_ETOOBIG},        /* 128 KiB */
        {{0x82, 0x80 | 126, 0x10, 0x01}, 4, HERALD_ETOOBIG},                     /* 4097 */
        {{0x82, 0x80 | 126, 0x10, 0x00, 1, 2}, 6, 1}, /* 4096: fine, more needed */
        {{0x82, 0x80 | 126, 0x10}, 3, 1},
        {{0x02, 0x80 | 5, 1, 2, 3, 4}, 6, 1}, /* a first fragment is fine */
        {{0x80, 0x80 | 5, 1, 2, 3, 4}, 6, 1}, /* so is a continuation */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = ws_frame_peek(cases[i].bytes, cases[i].len, 1, 4096, &frame_len);
        if (rc != cases[i].want)
            fail_msg("case %zu: got %d, want %d", i, rc, cases[i].want);
        if (rc < 0)
            assert_int_equal(frame_len, 0);
    }
    /* A control frame over 125 bytes cannot be encoded either. */
    ws_codec_t *server = ws_codec_new(1);
    uint8_t payload[126] = {0}, out[200];
    assert_int_equal(ws_codec_encode(server, WS_OP_PING, payload, 126, out), 0);
    assert_int_equal(ws_codec_encode(server, WS_OP_PING, payload, 125, out), 127);
    ws_codec_free(server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key),           cmocka_unit_test(test_request_complete),
        cmocka_unit_test(test_request_incomplete),   cmocka_unit_test(test_request_tolerant),
        cmocka_unit_test(test_request_invalid),      cmocka_unit_test(test_request_oversize),
        cmocka_unit_test(test_handshake_round_trip), cmocka_unit_test(test_response_invalid),
        cmocka_unit_test(test_frames_round_trip),    cmocka_unit_test(test_client_frames_masked),
        cmocka_unit_test(test_frames_bad_side),      cmocka_unit_test(test_frames_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
