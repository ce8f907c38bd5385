/* test_client.c - the client library (client.h) against an in-test server on loopback: auth,
 * op 9 batch unpacking and order, byte-by-byte splits, timeouts, connection close, malformed
 * input; over TCP and over WebSocket (handshake, fragmented messages, ping/pong, close). */
#include "loopback.h"
#include "packets.h"

#include <stdio.h>

#include "client.h"
#include "client_net.h"
#include "herald_err.h"
#include "ws.h"

/* The batch every test pushes: op 9 whose body is three packets back to back. */
static void bytes_batch(bytes_t *b)
{
    bytes_t inner = {.len = 0};
    bytes_str_packet(&inner, 1001, 2, "alpha");
    bytes_str_packet(&inner, 1001, 3, "");
    bytes_str_packet(&inner, 1002, 4, "gamma\ndelta");
    bytes_packet(b, 9, 0, inner.data, inner.len);
}

/* Client-side check of the next packet. */
static void expect_packet(client_t *c, uint32_t op, uint32_t seq, const char *body)
{
    client_packet_t p;
    assert_int_equal(client_recv(c, &p, LOOPBACK_TIMEOUT_MS), 1);
    assert_int_equal(p.op, op);
    assert_int_equal(p.seq, seq);
    assert_int_equal(p.ver, 1);
    assert_int_equal(p.body_len, strlen(body));
    assert_string_equal((const char *)p.body, body); /* also checks the NUL terminator */
    client_packet_free(&p);
}

/* The five packets every "good stream" test expects, in order. */
static void expect_stream(client_t *c)
{
    expect_packet(c, 1000, 1, "first");
    expect_packet(c, 1001, 2, "alpha");
    expect_packet(c, 1001, 3, "");
    expect_packet(c, 1002, 4, "gamma\ndelta");
    expect_packet(c, 1000, 5, "last");
}

static const char auth_json[] = "{\"token\":\"t0k\",\"room_id\":\"live://1\"}";
static const char auth_ok[] = "{\"code\":0,\"mid\":7,\"key\":\"k\",\"heartbeat_ms\":30000}";

/* ------------------------------------------------------------------------------------ TCP */

static void serve_tcp_stream(loopback_t *lb, int fd)
{
    uint32_t op = 0, seq = 0;
    char body[512];
    size_t len = 0;
    LOOPBACK_CHECK(lb, read_packet(fd, &op, &seq, body, sizeof(body), &len) == 0);
    LOOPBACK_CHECK(lb, op == 7 && strcmp(body, auth_json) == 0);

    bytes_t out = {.len = 0};
    bytes_str_packet(&out, 8, seq, auth_ok);
    bytes_str_packet(&out, 1000, 1, "first");
    size_t batch_at = out.len;
    bytes_batch(&out);
    bytes_str_packet(&out, 1000, 5, "last");
    /* auth reply and first packet in one write; the batch's first 40 bytes one at a time (the
     * outer header, an inner header, a body split); the rest in two writes. */
    LOOPBACK_CHECK(lb, loopback_write(fd, out.data, batch_at) == 0);
    LOOPBACK_CHECK(lb, loopback_write_bytewise(fd, out.data + batch_at, 40) == 0);
    size_t rest = out.len - batch_at - 40;
    LOOPBACK_CHECK(lb, loopback_write(fd, out.data + batch_at + 40, rest / 2) == 0);
    LOOPBACK_CHECK(lb,
                   loopback_write(fd, out.data + batch_at + 40 + rest / 2, rest - rest / 2) == 0);

    /* then the client's heartbeat and raw bytes, before the server closes */
    LOOPBACK_CHECK(lb, read_packet(fd, &op, &seq, body, sizeof(body), &len) == 0);
    LOOPBACK_CHECK(lb, op == 2 && len == 0);
    char raw[3];
    LOOPBACK_CHECK(lb, loopback_read(fd, raw, 3) == 0 && memcmp(raw, "xyz", 3) == 0);
}

static void test_tcp_auth_batch_order_close(void **state)
{
    loopback_t lb;
    loopback_start(&lb, serve_tcp_stream, NULL);
    char err[256] = "";
    client_t *c = client_connect(CLIENT_TCP, "127.0.0.1", lb.port, 2000, err, sizeof(err));
    assert_non_null(c);
    assert_true(client_fd(c) >= 0);
    client_packet_t reply;
    assert_int_equal(client_auth(c, auth_json, &reply, LOOPBACK_TIMEOUT_MS), 0);
    assert_int_equal(reply.op, 8);
    assert_string_equal((const char *)reply.body, auth_ok);
    client_packet_free(&reply);

    expect_stream(c);
    assert_false(client_closed(c));
    assert_int_equal(client_heartbeat(c), 0);
    assert_int_equal(client_send_raw(c, "xyz", 3), 0);
    client_packet_t p;
    assert_int_equal(client_recv(c, &p, LOOPBACK_TIMEOUT_MS), -ECONNRESET);
    assert_null(p.body);
    assert_true(client_closed(c));
    /* stays closed */
    assert_int_equal(client_recv(c, &p, 0), -ECONNRESET);
    client_free(c);
    loopback_join(&lb);
}

/* Reads the auth packet and never answers; returns when the client hangs up. */
static void serve_silent(loopback_t *lb, int fd)
{
    loopback_wait_close(fd);
}

static void test_tcp_timeouts(void **state)
{
    loopback_t lb;
    loopback_start(&lb, serve_silent, NULL);
    char err[256];
    client_t *c = client_connect(CLIENT_TCP, "127.0.0.1", lb.port, 2000, err, sizeof(err));
    assert_non_null(c);
    client_packet_t reply;
    int64_t t0 = client_net_now_ms();
    assert_int_equal(client_auth(c, auth_json, &reply, 100), -ETIMEDOUT);
    int64_t took = client_net_now_ms() - t0;
    assert_true(took >= 95 && took < 3000);
    assert_null(reply.body);

    client_packet_t p;
    t0 = client_net_now_ms();
    assert_int_equal(client_recv(c, &p, 50), 0);
    took = client_net_now_ms() - t0;
    assert_true(took >= 45 && took < 3000);
    assert_int_equal(client_recv(c, &p, 0), 0);
    assert_false(client_closed(c));
    client_free(c);
    loopback_join(&lb);
}

/* How serve_refuse refuses: a packet (op, body), or a bare close (body NULL). */
typedef struct refusal_s {
    uint32_t op;
    const char *body;
} refusal_t;

static void serve_refuse(loopback_t *lb, int fd)
{
    uint32_t op = 0, seq = 0;
    char body[512];
    size_t len = 0;
    LOOPBACK_CHECK(lb, read_packet(fd, &op, &seq, body, sizeof(body), &len) == 0 && op == 7);
    const refusal_t *r = lb->arg;
    if (r->body != NULL) {
        bytes_t out = {.len = 0};
        bytes_str_packet(&out, r->op, seq, r->body);
        LOOPBACK_CHECK(lb, loopback_write(fd, out.data, out.len) == 0);
    }
}

static void test_tcp_auth_refused(void **state)
{
    /* herald's op 6 kick that says why, an older herald's op 8 with an error code, a bare close */
    const refusal_t replies[] = {
        {6, "{\"reason\":\"auth\",\"code\":-1100,\"message\":\"bad token\"}"},
        {8, "{\"code\":-1100,\"message\":\"bad token\"}"},
        {0, NULL},
    };
    for (int i = 0; i < 3; i++) {
        loopback_t lb;
        loopback_start(&lb, serve_refuse, (void *)&replies[i]);
        char err[256];
        client_t *c = client_connect(CLIENT_TCP, "127.0.0.1", lb.port, 2000, err, sizeof(err));
        assert_non_null(c);
        client_packet_t reply;
        assert_int_equal(client_auth(c, auth_json, &reply, LOOPBACK_TIMEOUT_MS), HERALD_EAUTH);
        if (replies[i].body != NULL) {
            assert_int_equal(reply.op, replies[i].op);
            assert_non_null(strstr((const char *)reply.body, "bad token"));
        } else {
            assert_null(reply.body);
        }
        client_packet_free(&reply);
        client_free(c);
        loopback_join(&lb);
    }
}

/* A goim server answers auth with an empty body: that is success. Also checks reply == NULL. */
static void test_tcp_auth_goim_empty_reply(void **state)
{
    loopback_t lb;
    static const refusal_t empty_op8 = {8, ""};
    loopback_start(&lb, serve_refuse, (void *)&empty_op8);
    char err[256];
    client_t *c = client_connect(CLIENT_TCP, "127.0.0.1", lb.port, 2000, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(client_auth(c, "{\"mid\":1}", NULL, LOOPBACK_TIMEOUT_MS), 0);
    client_free(c);
    loopback_join(&lb);
}

/* Writes lb->arg (a bytes_t) as soon as the client connects, then waits for the hang-up. */
static void serve_bytes(loopback_t *lb, int fd)
{
    const bytes_t *b = lb->arg;
    /* unchecked: the client may hang up as soon as it sees the bad bytes */
    loopback_write_bytewise(fd, b->data, b->len);
    loopback_wait_close(fd);
}

/* Each stream: one good packet, then something malformed. The good packet comes out first,
 * then the error, and the error sticks. */
static void test_tcp_malformed(void **state)
{
    static bytes_t streams[6];
    int expect[6];
    int n = 0;
    uint8_t hdr[16];

    /* headerLen 15 */
    bytes_str_packet(&streams[n], 1000, 1, "ok");
    bytes_str_packet(&streams[n], 1000, 2, "x");
    streams[n].data[streams[n].len - 17 + 5] = 15;
    expect[n++] = HERALD_EPROTO;
    /* packLen 10 (< 16) */
    bytes_str_packet(&streams[n], 1000, 1, "ok");
    memset(hdr, 0, sizeof(hdr));
    put32(hdr, 10);
    hdr[5] = 16;
    bytes_add(&streams[n], hdr, 16);
    expect[n++] = HERALD_EPROTO;
    /* a body over the client's 1 MiB bound, announced by the header alone */
    bytes_str_packet(&streams[n], 1000, 1, "ok");
    put32(hdr, (2u << 20) + 16);
    bytes_add(&streams[n], hdr, 16);
    expect[n++] = HERALD_ETOOBIG;
    /* an op 9 whose last inner packet claims more bytes than the batch has */
    bytes_str_packet(&streams[n], 1000, 1, "ok");
    {
        bytes_t inner = {.len = 0};
        bytes_str_packet(&inner, 1001, 2, "abc");
        put32(inner.data, 40);
        bytes_packet(&streams[n], 9, 0, inner.data, inner.len);
    }
    expect[n++] = HERALD_EPROTO;
    /* an op 9 whose body is half a header */
    bytes_str_packet(&streams[n], 1000, 1, "ok");
    bytes_packet(&streams[n], 9, 0, hdr, 7);
    expect[n++] = HERALD_EPROTO;
    /* a batch inside a batch */
    bytes_str_packet(&streams[n], 1000, 1, "ok");
    {
        bytes_t inner = {.len = 0}, outer = {.len = 0};
        bytes_str_packet(&inner, 1001, 2, "abc");
        bytes_packet(&outer, 9, 0, inner.data, inner.len);
        bytes_packet(&streams[n], 9, 0, outer.data, outer.len);
    }
    expect[n++] = HERALD_EPROTO;

    for (int i = 0; i < n; i++) {
        loopback_t lb;
        loopback_start(&lb, serve_bytes, &streams[i]);
        char err[256];
        client_t *c = client_connect(CLIENT_TCP, "127.0.0.1", lb.port, 2000, err, sizeof(err));
        assert_non_null(c);
        expect_packet(c, 1000, 1, "ok");
        client_packet_t p;
        int rc = client_recv(c, &p, LOOPBACK_TIMEOUT_MS);
        if (rc != expect[i])
            fail_msg("stream %d: got %d, want %d", i, rc, expect[i]);
        assert_int_equal(client_recv(c, &p, 0), expect[i]);
        client_free(c);
        loopback_join(&lb);
    }
}

static void test_connect_refused(void **state)
{
    int holder = -1;
    int port = loopback_dead_port(&holder);
    char err[256] = "";
    assert_null(client_connect(CLIENT_TCP, "127.0.0.1", port, 2000, err, sizeof(err)));
    assert_non_null(strstr(err, "refused"));
    err[0] = '\0';
    assert_null(client_connect(CLIENT_WS, "127.0.0.1", port, 2000, err, sizeof(err)));
    assert_true(err[0] != '\0');
    close(holder);
}

/* ------------------------------------------------------------------------------ WebSocket */

/* Appends one unmasked server frame, header spelled out per RFC 6455 §5.2. */
static void bytes_frame(bytes_t *b, int fin, uint8_t opcode, const void *payload, size_t len)
{
    uint8_t h[10];
    size_t hl = 2;
    h[0] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
        h[1] = (uint8_t)len;
    } else if (len <= 0xffff) {
        h[1] = 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
        hl = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    bytes_add(b, h, hl);
    bytes_add(b, payload, len);
}

/* Server side of the upgrade: reads the request, checks the path, writes the 101 plus `extra`
 * bytes in the same write. Returns 0 or -1. */
static int ws_server_handshake(loopback_t *lb, int fd, const void *extra, size_t extra_len)
{
    char req[WS_MAX_HANDSHAKE];
    size_t have = 0, consumed = 0;
    char path[64], accept[WS_ACCEPT_LEN + 1];
    int rc = 1;
    while (rc == 1 && have < sizeof(req)) {
        ssize_t n = recv(fd, req + have, sizeof(req) - have, 0);
        if (n <= 0)
            return -1;
        have += (size_t)n;
        rc = ws_handshake_parse_request(req, have, &consumed, path, sizeof(path), accept);
    }
    LOOPBACK_CHECK(lb, rc == 0 && consumed == have && strcmp(path, "/sub") == 0);
    bytes_t out = {.len = 0};
    char resp[512];
    size_t rlen = ws_handshake_response(resp, sizeof(resp), accept);
    bytes_add(&out, resp, rlen);
    bytes_add(&out, extra, extra_len);
    return rc == 0 ? loopback_write(fd, out.data, out.len) : -1;
}

/* Reads one whole client frame and decodes it with the server-side codec. The payload is
 * copied into payload (NUL-terminated). Returns 0 or -1. */
static int ws_server_read_frame(int fd, ws_codec_t *codec, ws_frame_t *f, char *payload, size_t cap)
{
    uint8_t buf[1024];
    size_t have = 0, flen = 0;
    for (;;) {
        int rc = ws_frame_peek(buf, have, 1, sizeof(buf), &flen);
        if (rc == 0)
            break;
        if (rc < 0)
            return -1;
        /* read exactly what is needed: never a byte of the next frame */
        size_t want = flen > have ? flen - have : 1;
        if (have + want > sizeof(buf) || loopback_read(fd, buf + have, want) < 0)
            return -1;
        have += want;
    }
    if (ws_codec_decode(codec, buf, flen, f) < 0 || f->payload_len >= cap)
        return -1;
    memcpy(payload, f->payload, f->payload_len);
    payload[f->payload_len] = '\0';
    return 0;
}

static void serve_ws_stream(loopback_t *lb, int fd)
{
    ws_codec_t *codec = ws_codec_new(1);
    /* the auth reply rides in the same write as the 101 */
    bytes_t reply = {.len = 0}, reply_frame = {.len = 0};
    bytes_str_packet(&reply, 8, 0, auth_ok);
    bytes_frame(&reply_frame, 1, WS_OP_BINARY, reply.data, reply.len);
    LOOPBACK_CHECK(lb, ws_server_handshake(lb, fd, reply_frame.data, reply_frame.len) == 0);

    ws_frame_t f;
    char payload[512];
    LOOPBACK_CHECK(lb, ws_server_read_frame(fd, codec, &f, payload, sizeof(payload)) == 0);
    LOOPBACK_CHECK(lb,
                   f.opcode == WS_OP_BINARY && f.fin && f.payload_len == 16 + strlen(auth_json));
    LOOPBACK_CHECK(lb, (uint8_t)payload[11] == 7 && strcmp(payload + 16, auth_json) == 0);

    bytes_t out = {.len = 0}, pkt = {.len = 0}, batch = {.len = 0};
    bytes_str_packet(&pkt, 1000, 1, "first");
    bytes_frame(&out, 1, WS_OP_BINARY, pkt.data, pkt.len);
    /* the batch as one message in three fragments, a ping between the first two */
    bytes_batch(&batch);
    bytes_frame(&out, 0, WS_OP_BINARY, batch.data, 10);
    bytes_frame(&out, 1, WS_OP_PING, "pp", 2);
    bytes_frame(&out, 0, WS_OP_CONTINUATION, batch.data + 10, 30);
    bytes_frame(&out, 1, WS_OP_CONTINUATION, batch.data + 40, batch.len - 40);
    LOOPBACK_CHECK(lb, loopback_write_bytewise(fd, out.data, out.len) == 0);

    LOOPBACK_CHECK(lb, ws_server_read_frame(fd, codec, &f, payload, sizeof(payload)) == 0);
    LOOPBACK_CHECK(lb, f.opcode == WS_OP_PONG && strcmp(payload, "pp") == 0);

    out.len = 0;
    pkt.len = 0;
    bytes_str_packet(&pkt, 1000, 5, "last");
    bytes_frame(&out, 1, WS_OP_BINARY, pkt.data, pkt.len);
    bytes_frame(&out, 1, WS_OP_CLOSE, "\x03\xe8", 2); /* 1000: normal closure */
    LOOPBACK_CHECK(lb, loopback_write(fd, out.data, out.len) == 0);
    LOOPBACK_CHECK(lb, ws_server_read_frame(fd, codec, &f, payload, sizeof(payload)) == 0);
    LOOPBACK_CHECK(lb, f.opcode == WS_OP_CLOSE && f.payload_len == 2);
    ws_codec_free(codec);
}

static void test_ws_auth_fragments_ping_close(void **state)
{
    loopback_t lb;
    loopback_start(&lb, serve_ws_stream, NULL);
    char err[256] = "";
    client_t *c = client_connect(CLIENT_WS, "127.0.0.1", lb.port, 2000, err, sizeof(err));
    if (c == NULL)
        fail_msg("connect: %s", err);
    client_packet_t reply;
    assert_int_equal(client_auth(c, auth_json, &reply, LOOPBACK_TIMEOUT_MS), 0);
    assert_string_equal((const char *)reply.body, auth_ok);
    client_packet_free(&reply);
    expect_stream(c);
    client_packet_t p;
    assert_int_equal(client_recv(c, &p, LOOPBACK_TIMEOUT_MS), -ECONNRESET);
    assert_true(client_closed(c));
    client_free(c);
    loopback_join(&lb);
}

/* Handshake, then lb->arg's bytes: a good frame and a bad one. */
static void serve_ws_bytes(loopback_t *lb, int fd)
{
    const bytes_t *b = lb->arg;
    LOOPBACK_CHECK(lb, ws_server_handshake(lb, fd, NULL, 0) == 0);
    /* unchecked: the client may hang up as soon as it sees the bad bytes */
    loopback_write_bytewise(fd, b->data, b->len);
    loopback_wait_close(fd);
}

static void test_ws_malformed(void **state)
{
    static bytes_t streams[6];
    int expect[6];
    int n = 0;
    bytes_t ok = {.len = 0}, pkt = {.len = 0};
    bytes_str_packet(&ok, 1000, 1, "ok");
    for (int i = 0; i < 6; i++)
        bytes_frame(&streams[i], 1, WS_OP_BINARY, ok.data, ok.len);

    /* a masked server frame */
    {
        uint8_t masked[] = {0x82, 0x80 | 2, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2};
        bytes_add(&streams[n], masked, sizeof(masked));
    }
    expect[n++] = HERALD_EWSPROTO;
    /* a text frame */
    bytes_frame(&streams[n], 1, WS_OP_TEXT, ok.data, ok.len);
    expect[n++] = HERALD_EWSPROTO;
    /* a continuation with no message started */
    bytes_frame(&streams[n], 1, WS_OP_CONTINUATION, ok.data, ok.len);
    expect[n++] = HERALD_EWSPROTO;
    /* a frame announcing 2 MiB */
    {
        uint8_t big[] = {0x82, 127, 0, 0, 0, 0, 0, 0x20, 0, 0};
        bytes_add(&streams[n], big, sizeof(big));
    }
    expect[n++] = HERALD_ETOOBIG;
    /* a message that ends in the middle of a packet */
    bytes_str_packet(&pkt, 1000, 2, "truncated");
    bytes_frame(&streams[n], 1, WS_OP_BINARY, pkt.data, pkt.len - 3);
    expect[n++] = HERALD_EPROTO;
    /* a new message inside a fragmented one */
    bytes_frame(&streams[n], 0, WS_OP_BINARY, pkt.data, 4);
    bytes_frame(&streams[n], 1, WS_OP_BINARY, pkt.data, pkt.len);
    expect[n++] = HERALD_EWSPROTO;

    for (int i = 0; i < n; i++) {
        loopback_t lb;
        loopback_start(&lb, serve_ws_bytes, &streams[i]);
        char err[256] = "";
        client_t *c = client_connect(CLIENT_WS, "127.0.0.1", lb.port, 2000, err, sizeof(err));
        if (c == NULL)
            fail_msg("stream %d: connect: %s", i, err);
        expect_packet(c, 1000, 1, "ok");
        client_packet_t p;
        int rc = client_recv(c, &p, LOOPBACK_TIMEOUT_MS);
        if (rc != expect[i])
            fail_msg("stream %d: got %d, want %d", i, rc, expect[i]);
        client_free(c);
        loopback_join(&lb);
    }
}

static void serve_ws_refusal(loopback_t *lb, int fd)
{
    char req[WS_MAX_HANDSHAKE];
    ssize_t n = recv(fd, req, sizeof(req), 0);
    LOOPBACK_CHECK(lb, n > 0);
    const char resp[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    LOOPBACK_CHECK(lb, loopback_write(fd, resp, sizeof(resp) - 1) == 0);
}

static void test_ws_handshake_refused(void **state)
{
    loopback_t lb;
    loopback_start(&lb, serve_ws_refusal, NULL);
    char err[256] = "";
    assert_null(client_connect(CLIENT_WS, "127.0.0.1", lb.port, 2000, err, sizeof(err)));
    assert_non_null(strstr(err, "404 Not Found"));
    loopback_join(&lb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_auth_batch_order_close),
        cmocka_unit_test(test_tcp_timeouts),
        cmocka_unit_test(test_tcp_auth_refused),
        cmocka_unit_test(test_tcp_auth_goim_empty_reply),
        cmocka_unit_test(test_tcp_malformed),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_ws_auth_fragments_ping_close),
        cmocka_unit_test(test_ws_malformed),
        cmocka_unit_test(test_ws_handshake_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
