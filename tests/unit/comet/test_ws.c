/* comet end to end over WebSocket: the upgrade (split one byte at a time, refused paths, bad
 * requests), frames split anywhere, fragmented messages with control frames between fragments,
 * ping/pong, close handshake, bad frames, and room batches wrapped in op 9 (see comet_test.h). */
#define _GNU_SOURCE /* memmem */
#include "comet_test.h"

#include <poll.h>

typedef struct wsc_s {
    int fd;
    ws_codec_t *codec;
    uint8_t buf[70000];
    size_t len;
} wsc_t;

static const uint8_t mask_key[4] = {0x12, 0x34, 0x56, 0x78};

/* A client frame (masked), built by hand so tests can send non-final fragments. */
static size_t wsc_frame(uint8_t *out, int fin, uint8_t opcode, const void *payload, size_t len,
                        int masked)
{
    size_t n = 0;
    out[n++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    uint8_t m = masked ? 0x80 : 0;
    if (len < 126) {
        out[n++] = (uint8_t)(m | len);
    } else if (len < 65536) {
        out[n++] = m | 126;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = m | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    if (masked) {
        memcpy(out + n, mask_key, 4);
        n += 4;
    }
    const uint8_t *p = payload;
    for (size_t i = 0; i < len; i++)
        out[n + i] = masked ? p[i] ^ mask_key[i % 4] : p[i];
    return n + len;
}

static void wsc_write(wsc_t *c, const void *data, size_t len, int bytewise)
{
    if (!bytewise) {
        t_write(c->fd, data, len);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        t_write(c->fd, (const uint8_t *)data + i, 1);
        usleep(200);
    }
}

/* Reads more bytes into c->buf: 1, 0 on timeout, -1 when closed. */
static int wsc_fill(wsc_t *c, int timeout_ms)
{
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    if (poll(&pfd, 1, timeout_ms) <= 0)
        return 0;
    ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
    if (n <= 0)
        return -1;
    c->len += (size_t)n;
    return 1;
}

/* Opens a WebSocket on path. Returns 101 when upgraded, else the HTTP status of the refusal
 * (the connection is then closed by comet). */
static int wsc_open(wsc_t *c, int port, const char *path, int bytewise)
{
    memset(c, 0, sizeof *c);
    c->fd = t_connect(port);
    c->codec = ws_codec_new(0);
    char req[1024];
    char key[WS_KEY_LEN + 1];
    size_t n = ws_handshake_request(req, sizeof req, "127.0.0.1", port, path, key);
    assert_true(n > 0);
    wsc_write(c, req, n, bytewise);
    for (;;) {
        size_t consumed = 0;
        int rc = ws_handshake_parse_response((const char *)c->buf, c->len, &consumed, key);
        if (rc == 0) {
            memmove(c->buf, c->buf + consumed, c->len - consumed);
            c->len -= consumed;
            return 101;
        }
        if (rc < 0 || memmem(c->buf, c->len, "\r\n\r\n", 4)) {
            int status = 0;
            c->buf[c->len < sizeof c->buf ? c->len : sizeof c->buf - 1] = 0;
            sscanf((const char *)c->buf, "HTTP/1.1 %d", &status);
            return status;
        }
        if (wsc_fill(c, T_TIMEOUT_MS) != 1)
            return -1;
    }
}

static void wsc_close(wsc_t *c)
{
    close(c->fd);
    ws_codec_free(c->codec);
}

/* Receives one server frame: 1 with opcode and payload (copied into out, NUL-terminated), 0 on
 * timeout, -1 when closed. */
static int wsc_recv_frame(wsc_t *c, uint8_t *opcode, uint8_t *out, size_t *len, int timeout_ms)
{
    for (;;) {
        size_t flen = 0;
        int rc = ws_frame_peek(c->buf, c->len, 0, 1 << 20, &flen);
        assert_true(rc >= 0);
        if (rc == 0) {
            ws_frame_t f;
            assert_int_equal(ws_codec_decode(c->codec, c->buf, flen, &f), 0);
            assert_true(f.fin);
            *opcode = f.opcode;
            memcpy(out, f.payload, f.payload_len);
            out[f.payload_len] = 0;
            *len = f.payload_len;
            memmove(c->buf, c->buf + flen, c->len - flen);
            c->len -= flen;
            return 1;
        }
        int r = wsc_fill(c, timeout_ms);
        if (r != 1)
            return r;
    }
}

/* Receives the next binary message and parses the packet in it. */
static int wsc_recv_packet(wsc_t *c, t_packet_t *p, int timeout_ms)
{
    static uint8_t payload[70000];
    uint8_t opcode;
    size_t len;
    int r = wsc_recv_frame(c, &opcode, payload, &len, timeout_ms);
    if (r != 1)
        return r;
    assert_int_equal(opcode, WS_OP_BINARY);
    assert_int_equal(t_packet_parse(payload, len, p), len); /* one packet per message */
    return 1;
}

static void wsc_send_packet(wsc_t *c, uint32_t op, uint32_t seq, const char *body, int bytewise)
{
    uint8_t pkt[4096], frame[4200];
    size_t n = t_packet_build(pkt, op, seq, body, body ? strlen(body) : 0);
    size_t fn = wsc_frame(frame, 1, WS_OP_BINARY, pkt, n, 1);
    wsc_write(c, frame, fn, bytewise);
}

static int wsc_wait_closed(wsc_t *c, int timeout_ms)
{
    return t_wait_closed(c->fd, timeout_ms);
}

#define AUTH_W "{\"mid\":11,\"key\":\"ws-a\",\"room_id\":\"wr\",\"accepts\":[1000]}"

static void test_ws_auth_push_heartbeat(void **state)
{
    harness_t *h = harness_start(2, 1);
    wsc_t c;
    t_packet_t p;
    assert_int_equal(wsc_open(&c, h->comet->ws_port, "/sub", 0), 101);
    wsc_send_packet(&c, PROTO_OP_AUTH, 1, AUTH_W, 0);
    assert_int_equal(wsc_recv_packet(&c, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_AUTH_REPLY);
    assert_int_equal(t_json_int(&p, "code"), 0);
    assert_int_equal(t_push_keys(h, "ws-a", NULL, 1000, "over ws"), 1);
    assert_int_equal(wsc_recv_packet(&c, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, 1000);
    assert_string_equal((const char *)p.body, "over ws");
    wsc_send_packet(&c, PROTO_OP_HEARTBEAT, 2, NULL, 0);
    assert_int_equal(wsc_recv_packet(&c, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_HEARTBEAT_REPLY);
    assert_int_equal(p.len, 4);
    /* a big push (several KiB) uses a 16-bit length frame */
    static char big[6000];
    memset(big, 'q', sizeof big - 1);
    assert_int_equal(t_push_keys(h, "ws-a", NULL, 1000, big), 1);
    assert_int_equal(wsc_recv_packet(&c, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.len, sizeof big - 1);
    wsc_close(&c);
    harness_stop(h);
}

static void test_ws_split_one_byte_at_a_time(void **state)
{
    harness_t *h = harness_start(1, 1);
    wsc_t c;
    t_packet_t p;
    assert_int_equal(wsc_open(&c, h->comet->ws_port, "/sub", 1), 101);
    wsc_send_packet(&c, PROTO_OP_AUTH, 1, AUTH_W, 1);
    assert_int_equal(wsc_recv_packet(&c, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_AUTH_REPLY);
    wsc_send_packet(&c, PROTO_OP_CHANGE_ROOM, 3, "room-bytewise", 1);
    assert_int_equal(wsc_recv_packet(&c, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_CHANGE_ROOM_REPLY);
    assert_string_equal((const char *)p.body, "room-bytewise");
    wsc_close(&c);
    harness_stop(h);
}

static void test_ws_upgrade_and_frames_in_one_write(void **state)
{
    harness_t *h = harness_start(1, 1);
    wsc_t c;
    memset(&c, 0, sizeof c);
    c.fd = t_connect(h->comet->ws_port);
    c.codec = ws_codec_new(0);
    uint8_t out[4096];
    char key[WS_KEY_LEN + 1];
    size_t n = ws_handshake_request((char *)out, sizeof out, "127.0.0.1", 1, "/sub", key);
    uint8_t pkt[512];
    size_t pn = t_packet_build(pkt, PROTO_OP_AUTH, 1, AUTH_W, strlen(AUTH_W));
    n += wsc_frame(out + n, 1, WS_OP_BINARY, pkt, pn, 1);
    pn = t_packet_build(pkt, PROTO_OP_HEARTBEAT, 2, NULL, 0);
    n += wsc_frame(out + n, 1, WS_OP_BINARY, pkt, pn, 1);
    t_write(c.fd, out, n);
    size_t consumed = 0;
    while (ws_handshake_parse_response((const char *)c.buf, c.len, &consumed, key) == 1)
        assert_int_equal(wsc_fill(&c, T_TIMEOUT_MS), 1);
    memmove(c.buf, c.buf + consumed, c.len - consumed);
    c.len -= consumed;
    t_packet_t p;
    assert_int_equal(wsc_recv_packet(&c, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_AUTH_REPLY);
    assert_int_equal(wsc_recv_packet(&c, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_HEARTBEAT_REPLY);
    wsc_close(&c);
    harness_stop(h);
}

static void test_ws_refused(void **state)
{
    harness_t *h = harness_start(1, 1);
    wsc_t c;
    assert_int_equal(wsc_open(&c, h->comet->ws_port, "/other", 0), 404);
    assert_int_equal(wsc_wait_closed(&c, T_TIMEOUT_MS), 1);
    wsc_close(&c);
    assert_int_equal(wsc_open(&c, h->comet->ws_port, "/sub/more", 0), 404);
    wsc_close(&c);
    /* not an upgrade */
    int fd = t_connect(h->comet->ws_port);
    const char *plain = "GET /sub HTTP/1.1\r\nHost: x\r\n\r\n";
    t_write(fd, plain, strlen(plain));
    char resp[512] = {0};
    assert_true(t_read_full(fd, resp, 12, T_TIMEOUT_MS) == 1);
    assert_memory_equal(resp, "HTTP/1.1 400", 12);
    assert_int_equal(t_wait_closed(fd, T_TIMEOUT_MS), 1);
    close(fd);
    /* a request that never ends is cut at the handshake bound */
    fd = t_connect(h->comet->ws_port);
    static char junk[WS_MAX_HANDSHAKE + 100];
    memset(junk, 'a', sizeof junk);
    memcpy(junk, "GET /sub HTTP/1.1\r\nX: ", 22);
    t_write(fd, junk, sizeof junk);
    assert_int_equal(t_wait_closed(fd, T_TIMEOUT_MS), 1);
    close(fd);
    harness_stop(h);
}

static void test_ws_fragments_ping_and_close(void **state)
{
    harness_t *h = harness_start(1, 1);
    wsc_t c;
    t_packet_t p;
    assert_int_equal(wsc_open(&c, h->comet->ws_port, "/sub", 0), 101);
    uint8_t pkt[512], out[2048];
    size_t pn = t_packet_build(pkt, PROTO_OP_AUTH, 1, AUTH_W, strlen(AUTH_W));
    /* the auth packet in three fragments, a ping between the first two; sent byte by byte */
    size_t n = wsc_frame(out, 0, WS_OP_BINARY, pkt, 10, 1);
    n += wsc_frame(out + n, 1, WS_OP_PING, "are you there", 13, 1);
    n += wsc_frame(out + n, 0, WS_OP_CONTINUATION, pkt + 10, 20, 1);
    n += wsc_frame(out + n, 1, WS_OP_CONTINUATION, pkt + 30, pn - 30, 1);
    wsc_write(&c, out, n, 1);
    uint8_t opcode;
    uint8_t payload[4096];
    size_t len;
    assert_int_equal(wsc_recv_frame(&c, &opcode, payload, &len, T_TIMEOUT_MS), 1);
    assert_int_equal(opcode, WS_OP_PONG);
    assert_int_equal(len, 13);
    assert_memory_equal(payload, "are you there", 13);
    assert_int_equal(wsc_recv_packet(&c, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_AUTH_REPLY);
    assert_int_equal(t_json_int(&p, "code"), 0);
    /* two packets in one message are both handled */
    pn = t_packet_build(pkt, PROTO_OP_HEARTBEAT, 5, NULL, 0);
    pn += t_packet_build(pkt + pn, PROTO_OP_HEARTBEAT, 6, NULL, 0);
    n = wsc_frame(out, 1, WS_OP_BINARY, pkt, pn, 1);
    wsc_write(&c, out, n, 0);
    assert_int_equal(wsc_recv_packet(&c, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.seq, 5);
    assert_int_equal(wsc_recv_packet(&c, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.seq, 6);
    /* close handshake: the status is echoed, then the connection ends */
    uint8_t code[2] = {0x03, 0xe9}; /* 1001 */
    n = wsc_frame(out, 1, WS_OP_CLOSE, code, 2, 1);
    wsc_write(&c, out, n, 0);
    assert_int_equal(wsc_recv_frame(&c, &opcode, payload, &len, T_TIMEOUT_MS), 1);
    assert_int_equal(opcode, WS_OP_CLOSE);
    assert_int_equal(len, 2);
    assert_memory_equal(payload, code, 2);
    assert_int_equal(wsc_wait_closed(&c, T_TIMEOUT_MS), 1);
    assert_true(harness_wait(h, &h->disconnects, 1));
    wsc_close(&c);
    harness_stop(h);
}

/* Sends raw frames after a successful auth and expects comet to close the connection. */
static void expect_closed_after(harness_t *h, const uint8_t *frames, size_t n)
{
    wsc_t c;
    t_packet_t p;
    assert_int_equal(wsc_open(&c, h->comet->ws_port, "/sub", 0), 101);
    wsc_send_packet(&c, PROTO_OP_AUTH, 1, "{\"mid\":12,\"key\":\"ws-bad\"}", 0);
    assert_int_equal(wsc_recv_packet(&c, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_AUTH_REPLY);
    wsc_write(&c, frames, n, 0);
    assert_int_equal(wsc_wait_closed(&c, T_TIMEOUT_MS), 1);
    wsc_close(&c);
}

static void test_ws_bad_frames(void **state)
{
    harness_t *h = harness_start(1, 1);
    uint8_t pkt[64], out[8192];
    size_t pn = t_packet_build(pkt, PROTO_OP_HEARTBEAT, 1, NULL, 0);
    /* unmasked client frame */
    expect_closed_after(h, out, wsc_frame(out, 1, WS_OP_BINARY, pkt, pn, 0));
    /* text frame */
    expect_closed_after(h, out, wsc_frame(out, 1, WS_OP_TEXT, pkt, pn, 1));
    /* continuation with no message started */
    expect_closed_after(h, out, wsc_frame(out, 1, WS_OP_CONTINUATION, pkt, pn, 1));
    /* a new message while a fragmented one is unfinished */
    size_t n = wsc_frame(out, 0, WS_OP_BINARY, pkt, 4, 1);
    n += wsc_frame(out + n, 1, WS_OP_BINARY, pkt, pn, 1);
    expect_closed_after(h, out, n);
    /* a message ending in the middle of a packet */
    expect_closed_after(h, out, wsc_frame(out, 1, WS_OP_BINARY, pkt, 10, 1));
    /* a frame over max_body + 16, refused from its header alone */
    static uint8_t big[5000];
    expect_closed_after(h, out, wsc_frame(out, 1, WS_OP_BINARY, big, 4200, 1) - 4200 + 10);
    /* fragments adding up to more than one message may hold */
    n = 0;
    for (int i = 0; i < 3; i++)
        n += wsc_frame(out + n, 0, i ? WS_OP_CONTINUATION : WS_OP_BINARY, big, 2000, 1);
    expect_closed_after(h, out, n);
    /* a packet inside saying it is bigger than max_body */
    proto_header_write(pkt, PROTO_OP_SEND_MSG, 1, 5000);
    expect_closed_after(h, out, wsc_frame(out, 1, WS_OP_BINARY, pkt, PROTO_HEADER_LEN, 1));
    harness_stop(h);
}

static void test_ws_room_batch_and_kick(void **state)
{
    harness_t *h = harness_start(2, 1);
    wsc_t c;
    t_packet_t p;
    assert_int_equal(wsc_open(&c, h->comet->ws_port, "/sub", 0), 101);
    wsc_send_packet(&c, PROTO_OP_AUTH, 1, AUTH_W, 0);
    assert_int_equal(wsc_recv_packet(&c, &p, T_TIMEOUT_MS), 1);
    int tcp = t_connect(h->comet->tcp_port);
    assert_int_equal(t_auth(tcp, "{\"mid\":13,\"key\":\"tcp-b\",\"room_id\":\"wr\"}", &p), 1);
    /* one proto: the same packet on both transports */
    assert_int_equal(t_push_room(h, "wr", 1, 1000, "single"), 2);
    assert_int_equal(wsc_recv_packet(&c, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, 1000);
    assert_string_equal((const char *)p.body, "single");
    assert_int_equal(t_recv(tcp, &p, T_TIMEOUT_MS), 1);
    assert_string_equal((const char *)p.body, "single");
    /* three protos: on WebSocket one message, an op 9 packet wrapping the three */
    assert_int_equal(t_push_room(h, "wr", 3, 1000, "b"), 2);
    uint8_t opcode;
    static uint8_t payload[4096];
    size_t len;
    assert_int_equal(wsc_recv_frame(&c, &opcode, payload, &len, T_TIMEOUT_MS), 1);
    assert_int_equal(opcode, WS_OP_BINARY);
    size_t off = t_packet_parse(payload, len, &p);
    assert_int_equal(off, len);
    assert_int_equal(p.op, PROTO_OP_RAW);
    assert_int_equal(p.len, 3 * (PROTO_HEADER_LEN + 1));
    t_packet_t inner;
    for (size_t k = 0, at = PROTO_HEADER_LEN; k < 3; k++) {
        at += t_packet_parse(payload + at, len - at, &inner);
        assert_int_equal(inner.op, 1000);
        assert_string_equal((const char *)inner.body, "b");
    }
    for (int k = 0; k < 3; k++) {
        assert_int_equal(t_recv(tcp, &p, T_TIMEOUT_MS), 1);
        assert_int_equal(p.op, 1000);
    }
    /* kick: op 6, then a close frame, then the end */
    Herald__KickReq req = HERALD__KICK_REQ__INIT;
    char *keys[1] = {"ws-a"};
    req.n_keys = 1;
    req.keys = keys;
    req.reason = "maintenance";
    ProtobufCMessage *reply = NULL;
    assert_int_equal(
        harness_call(h, RPC_COMET_KICK, &req.base, &herald__kick_reply__descriptor, &reply), 0);
    assert_int_equal(((Herald__KickReply *)reply)->kicked, 1);
    protobuf_c_message_free_unpacked(reply, NULL);
    assert_int_equal(wsc_recv_packet(&c, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_DISCONNECT_REPLY);
    assert_string_equal((const char *)p.body, "{\"reason\":\"maintenance\"}");
    assert_int_equal(wsc_recv_frame(&c, &opcode, payload, &len, T_TIMEOUT_MS), 1);
    assert_int_equal(opcode, WS_OP_CLOSE);
    assert_int_equal(wsc_wait_closed(&c, T_TIMEOUT_MS), 1);
    wsc_close(&c);
    close(tcp);
    harness_stop(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ws_auth_push_heartbeat),
        cmocka_unit_test(test_ws_split_one_byte_at_a_time),
        cmocka_unit_test(test_ws_upgrade_and_frames_in_one_write),
        cmocka_unit_test(test_ws_refused),
        cmocka_unit_test(test_ws_fragments_ping_and_close),
        cmocka_unit_test(test_ws_bad_frames),
        cmocka_unit_test(test_ws_room_batch_and_kick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
