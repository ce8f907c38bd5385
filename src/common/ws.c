/* ws.c - WebSocket handshake (RFC 6455 §4) and framing (§5); the only file that sees wslay. */
#include "ws.h"
#include "buf.h"
#include "herald_err.h"

#include <errno.h>
#include <stdarg.h>
#include <nettle/base64.h>
#include <nettle/sha1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <wslay/wslay.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* The kernel's generator, not rand(): RFC 6455 §10.3 wants masks an attacker cannot predict. */
static void ws_random(uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = getrandom(buf, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "herald: getrandom failed: %s\n", strerror(errno));
            abort();
        }
        buf += n;
        len -= (size_t)n;
    }
}

void ws_accept_key(const char *key, size_t key_len, char accept[WS_ACCEPT_LEN + 1])
{
    struct sha1_ctx sha;
    uint8_t digest[SHA1_DIGEST_SIZE];
    sha1_init(&sha);
    sha1_update(&sha, key_len, (const uint8_t *)key);
    sha1_update(&sha, sizeof(WS_GUID) - 1, (const uint8_t *)WS_GUID);
    sha1_digest(&sha, sizeof(digest), digest);
    base64_encode_raw(accept, sizeof(digest), digest);
    accept[WS_ACCEPT_LEN] = '\0';
}

/* ---------------------------------------------------------------------------------- handshake */

/* What the handshake checks need from the header fields. */
typedef struct ws_fields_s {
    int upgrade;    /* Upgrade lists "websocket" */
    int connection; /* Connection lists "upgrade" */
    int version;    /* Sec-WebSocket-Version is 13 */
    int keys;       /* number of Sec-WebSocket-Key fields */
    const char *key;
    size_t key_len;
    const char *accept;
    size_t accept_len;
} ws_fields_t;

/* Case-insensitive comparison of a length-delimited string with a literal. */
static int ws_ieq(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

static int ws_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Whether the comma-separated list has `token` ("keep-alive, Upgrade" has "upgrade"). */
static int ws_has_token(const char *v, size_t len, const char *token)
{
    const char *end = v + len;
    while (v < end) {
        const char *comma = memchr(v, ',', (size_t)(end - v));
        const char *t_end = comma ? comma : end;
        const char *t = v;
        while (t < t_end && ws_is_blank(*t))
            t++;
        const char *e = t_end;
        while (e > t && ws_is_blank(e[-1]))
            e--;
        if (ws_ieq(t, (size_t)(e - t), token))
            return 1;
        v = comma ? comma + 1 : end;
    }
    return 0;
}

/* Reads the header fields of [p, end), where end is just past the last field's CRLF. Returns 0,
 * or -1 on a malformed field (no colon, empty name, obsolete line folding). */
static int ws_parse_fields(const char *p, const char *end, ws_fields_t *f)
{
    memset(f, 0, sizeof(*f));
    while (p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        if (eol == NULL || eol + 1 >= end || eol[1] != '\n')
            return -1;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon == NULL || colon == p || ws_is_blank(*p) || ws_is_blank(colon[-1]))
            return -1;
        const char *v = colon + 1, *v_end = eol;
        while (v < v_end && ws_is_blank(*v))
            v++;
        while (v_end > v && ws_is_blank(v_end[-1]))
            v_end--;
        size_t name_len = (size_t)(colon - p), v_len = (size_t)(v_end - v);

        if (ws_ieq(p, name_len, "upgrade"))
            f->upgrade |= ws_has_token(v, v_len, "websocket");
        else if (ws_ieq(p, name_len, "connection"))
            f->connection |= ws_has_token(v, v_len, "upgrade");
        else if (ws_ieq(p, name_len, "sec-websocket-version"))
            f->version = ws_ieq(v, v_len, "13");
        else if (ws_ieq(p, name_len, "sec-websocket-key")) {
            f->keys++;
            f->key = v;
            f->key_len = v_len;
        } else if (ws_ieq(p, name_len, "sec-websocket-accept")) {
            f->accept = v;
            f->accept_len = v_len;
        }
        p = eol + 2;
    }
    return 0;
}

/* A client key is the base64 of exactly 16 bytes (§4.1). */
static int ws_key_valid(const char *key, size_t len)
{
    struct base64_decode_ctx b64;
    uint8_t raw[BASE64_DECODE_LENGTH(WS_KEY_LEN)];
    size_t raw_len = sizeof(raw);
    if (len != WS_KEY_LEN)
        return 0;
    base64_decode_init(&b64);
    return base64_decode_update(&b64, &raw_len, raw, len, key) && base64_decode_final(&b64) &&
           raw_len == 16;
}

/* Frames one HTTP head: returns 1 when incomplete, HERALD_EWSPROTO when it cannot be what we
 * expect (wrong start, or no end within WS_MAX_HANDSHAKE), else 0 with *head_len including the
 * blank line. Checking the start early refuses garbage without waiting for 4 KiB of it. */
static int ws_head(const char *buf, size_t len, const char *start, size_t *head_len)
{
    size_t start_len = strlen(start);
    if (memcmp(buf, start, len < start_len ? len : start_len) != 0)
        return HERALD_EWSPROTO;
    size_t scan = len < WS_MAX_HANDSHAKE ? len : WS_MAX_HANDSHAKE;
    for (size_t i = 3; i < scan; i++) {
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r') {
            *head_len = i + 1;
            return 0;
        }
    }
    return len >= WS_MAX_HANDSHAKE ? HERALD_EWSPROTO : 1;
}

int ws_handshake_parse_request(const char *buf, size_t len, size_t *consumed, char *path,
                               size_t path_cap, char accept[WS_ACCEPT_LEN + 1])
{
    size_t head_len;
    int rc = ws_head(buf, len, "GET ", &head_len);
    if (rc != 0)
        return rc;
    const char *end = buf + head_len - 2; /* past the last field's CRLF */

    /* Request line: GET SP origin-form SP HTTP/1.1 CRLF */
    const char *target = buf + 4;
    const char *eol = memchr(target, '\r', (size_t)(end - target));
    const char *sp = memchr(target, ' ', (size_t)(eol - target));
    if (sp == NULL || *target != '/' || !ws_ieq(sp + 1, (size_t)(eol - sp - 1), "HTTP/1.1"))
        return HERALD_EWSPROTO;

    ws_fields_t f;
    if (ws_parse_fields(eol + 2, end, &f) != 0 || !f.upgrade || !f.connection || !f.version ||
        f.keys != 1 || !ws_key_valid(f.key, f.key_len))
        return HERALD_EWSPROTO;

    size_t path_len = strcspn(target, "?# "); /* stops at sp at the latest */
    if (path_cap > 0) {
        if (path_len > path_cap - 1)
            path_len = path_cap - 1;
        memcpy(path, target, path_len);
        path[path_len] = '\0';
    }
    ws_accept_key(f.key, f.key_len, accept);
    *consumed = head_len;
    return 0;
}

/* snprintf into out, 0 when it does not fit. */
static size_t ws_print(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static size_t ws_print(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

size_t ws_handshake_response(char *out, size_t cap, const char accept[WS_ACCEPT_LEN + 1])
{
    return ws_print(out, cap,
                    "HTTP/1.1 101 Switching Protocols\r\n"
                    "Upgrade: websocket\r\n"
                    "Connection: Upgrade\r\n"
                    "Sec-WebSocket-Accept: %s\r\n"
                    "\r\n",
                    accept);
}

size_t ws_handshake_refusal(char *out, size_t cap, int status, const char *reason)
{
    return ws_print(out, cap,
                    "HTTP/1.1 %d %s\r\n"
                    "Content-Type: text/plain\r\n"
                    "Content-Length: %zu\r\n"
                    "Connection: close\r\n"
                    "\r\n"
                    "%s\n",
                    status, reason, strlen(reason) + 1, reason);
}

size_t ws_handshake_request(char *out, size_t cap, const char *host, int port, const char *path,
                            char key[WS_KEY_LEN + 1])
{
    uint8_t raw[16];
    ws_random(raw, sizeof(raw));
    base64_encode_raw(key, sizeof(raw), raw);
    key[WS_KEY_LEN] = '\0';
    int v6 = strchr(host, ':') != NULL;
    return ws_print(out, cap,
                    "GET %s HTTP/1.1\r\n"
                    "Host: %s%s%s:%d\r\n"
                    "Upgrade: websocket\r\n"
                    "Connection: Upgrade\r\n"
                    "Sec-WebSocket-Key: %s\r\n"
                    "Sec-WebSocket-Version: 13\r\n"
                    "\r\n",
                    path, v6 ? "[" : "", host, v6 ? "]" : "", port, key);
}

int ws_handshake_parse_response(const char *buf, size_t len, size_t *consumed,
                                const char key[WS_KEY_LEN + 1])
{
    size_t head_len;
    int rc = ws_head(buf, len, "HTTP/1.1 101", &head_len);
    if (rc != 0)
        return rc;
    const char *end = buf + head_len - 2;
    const char *eol = memchr(buf, '\r', head_len);
    if (eol != buf + 12 && buf[12] != ' ')
        return HERALD_EWSPROTO;

    ws_fields_t f;
    char want[WS_ACCEPT_LEN + 1];
    ws_accept_key(key, strlen(key), want);
    if (ws_parse_fields(eol + 2, end, &f) != 0 || !f.upgrade || !f.connection ||
        f.accept_len != WS_ACCEPT_LEN || memcmp(f.accept, want, WS_ACCEPT_LEN) != 0)
        return HERALD_EWSPROTO;
    *consumed = head_len;
    return 0;
}

/* ------------------------------------------------------------------------------------- frames */

/* Reads the frame header at buf: 0 with *header_len and *payload_len once the whole header is
 * there, 1 before, or an error. Rejects everything wslay's frame decoder would, so a frame that
 * passes never stops wslay mid-frame. */
static int ws_frame_measure(const uint8_t *buf, size_t len, int from_client, uint64_t max_payload,
                            size_t *header_len, uint64_t *payload_len)
{
    if (len < 2)
        return 1;
    uint8_t op = buf[0] & 0x0f;
    int fin = buf[0] >> 7, masked = buf[1] >> 7;
    uint64_t plen = buf[1] & 0x7f;
    if ((buf[0] & 0x70) != 0 || (op > WS_OP_BINARY && op < WS_OP_CLOSE) || op > WS_OP_PONG)
        return HERALD_EWSPROTO; /* reserved bits (no extension is negotiated) or opcode */
    if (masked != (from_client != 0))
        return HERALD_EWSPROTO; /* §5.1: clients mask, servers do not */
    if ((op & 0x8) != 0 && (plen > 125 || !fin))
        return HERALD_EWSPROTO; /* §5.5: control frames are short and never fragmented */
    size_t ext = plen == 126 ? 2 : plen == 127 ? 8 : 0;
    if (len < 2 + ext)
        return 1;
    if (plen == 126) {
        plen = (uint64_t)buf[2] << 8 | buf[3];
        if (plen < 126)
            return HERALD_EWSPROTO; /* §5.2: the minimal length encoding must be used */
    } else if (plen == 127) {
        plen = 0;
        for (int i = 0; i < 8; i++)
            plen = plen << 8 | buf[2 + i];
        if (plen < 65536 || (plen >> 63) != 0)
            return HERALD_EWSPROTO;
    }
    size_t hlen = 2 + ext + (masked ? 4 : 0);
    if (plen > max_payload || plen > SIZE_MAX - hlen)
        return HERALD_ETOOBIG;
    *header_len = hlen;
    *payload_len = plen;
    return len < hlen ? 1 : 0;
}

int ws_frame_peek(const uint8_t *buf, size_t len, int from_client, uint64_t max_payload,
                  size_t *frame_len)
{
    size_t hlen;
    uint64_t plen;
    *frame_len = 0;
    int rc = ws_frame_measure(buf, len, from_client, max_payload, &hlen, &plen);
    if (rc != 0)
        return rc;
    *frame_len = hlen + (size_t)plen;
    return len >= *frame_len ? 0 : 1;
}

/* One wslay frame context per thread, fed from and writing to memory: the cursor below is set
 * for the duration of one ws_codec_decode or ws_codec_encode call. */
struct ws_codec_s {
    wslay_frame_context_ptr ctx;
    int server;
    const uint8_t *in; /* rest of the frame being decoded */
    size_t in_len;
    uint8_t *out; /* buffer of the frame being encoded */
    size_t out_len, out_cap;
};

static ssize_t ws_codec_on_recv(uint8_t *buf, size_t len, int flags, void *user)
{
    ws_codec_t *c = user;
    if (c->in_len == 0)
        return -1; /* wslay: would block */
    size_t n = len < c->in_len ? len : c->in_len;
    memcpy(buf, c->in, n);
    c->in += n;
    c->in_len -= n;
    return (ssize_t)n;
}

static ssize_t ws_codec_on_send(const uint8_t *data, size_t len, int flags, void *user)
{
    ws_codec_t *c = user;
    size_t room = c->out_cap - c->out_len;
    if (room == 0)
        return -1;
    size_t n = len < room ? len : room;
    memcpy(c->out + c->out_len, data, n);
    c->out_len += n;
    return (ssize_t)n;
}

static int ws_codec_on_genmask(uint8_t *buf, size_t len, void *user)
{
    ws_random(buf, len);
    return 0;
}

static const struct wslay_frame_callbacks ws_codec_callbacks = {
    .send_callback = ws_codec_on_send,
    .recv_callback = ws_codec_on_recv,
    .genmask_callback = ws_codec_on_genmask,
};

static void ws_codec_start(ws_codec_t *c)
{
    if (wslay_frame_context_init(&c->ctx, &ws_codec_callbacks, c) != 0) {
        fprintf(stderr, "herald: out of memory creating a WebSocket frame context\n");
        abort();
    }
}

ws_codec_t *ws_codec_new(int server)
{
    ws_codec_t *c = xcalloc(1, sizeof(*c));
    c->server = server;
    ws_codec_start(c);
    return c;
}

void ws_codec_free(ws_codec_t *c)
{
    if (c == NULL)
        return;
    wslay_frame_context_free(c->ctx);
    free(c);
}

int ws_codec_decode(ws_codec_t *c, uint8_t *frame, size_t frame_len, ws_frame_t *out)
{
    size_t hlen;
    uint64_t plen;
    /* Measured again here so that wslay only ever sees one whole, valid frame and so always
     * ends at a frame boundary, ready for the next connection's frame. */
    if (ws_frame_measure(frame, frame_len, c->server, UINT64_MAX, &hlen, &plen) != 0 ||
        frame_len - hlen != plen)
        return HERALD_EWSPROTO;

    struct wslay_frame_iocb iocb;
    size_t got = 0;
    c->in = frame;
    c->in_len = frame_len;
    do {
        /* wslay hands the payload over in pieces of at most its 4 KiB input buffer, unmasked
         * there; each piece goes back to its place in the caller's frame. */
        memset(&iocb, 0, sizeof(iocb));
        ssize_t r = wslay_frame_recv(c->ctx, &iocb);
        if (r < 0 || (r == 0 && got < plen)) {
            /* Unreachable while ws_frame_measure rejects what wslay rejects; should that ever
             * change, a fresh context keeps the boundary invariant. */
            wslay_frame_context_free(c->ctx);
            ws_codec_start(c);
            return HERALD_EWSPROTO;
        }
        memcpy(frame + hlen + got, iocb.data, iocb.data_length);
        got += iocb.data_length;
    } while (got < plen);
    c->in = NULL;

    out->opcode = iocb.opcode;
    out->fin = iocb.fin;
    out->payload = frame + hlen;
    out->payload_len = (size_t)plen;
    return 0;
}

size_t ws_frame_header_len(const ws_codec_t *c, size_t payload_len)
{
    size_t ext = payload_len < 126 ? 0 : payload_len < 65536 ? 2 : 8;
    return 2 + ext + (c->server ? 0 : 4);
}

size_t ws_codec_encode(ws_codec_t *c, uint8_t opcode, const uint8_t *payload, size_t len,
                       uint8_t *out)
{
    struct wslay_frame_iocb iocb = {
        .fin = 1,
        .opcode = opcode,
        .mask = c->server ? 0 : 1,
        .payload_length = len,
        .data = payload,
        .data_length = len,
    };
    c->out = out;
    c->out_len = 0;
    c->out_cap = ws_frame_header_len(c, len) + len;
    ssize_t r = wslay_frame_send(c->ctx, &iocb);
    c->out = NULL;
    /* wslay refuses only a control frame over 125 bytes, before writing anything. */
    return r < 0 ? 0 : c->out_len;
}
