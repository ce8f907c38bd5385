/* bench_sub.c - subscriber connections: goim v2 over TCP and WebSocket (either over TLS with
 * --tls), MQTT, nchan WebSocket.
 *
 * One loop per process and one flat array of connections, so the bench's own memory per
 * connection stays near the size of a uv_tcp_t. There is no timer per connection: one 1 s tick
 * sends heartbeats to a slice of the connections and expires set-ups that hang. Reads share one
 * 64 KiB buffer; a connection holds a heap buffer only while a packet or frame is incomplete.
 */
#include "bench.h"
#include "bench_mqtt.h"
#include "herald_err.h"
#include "proto.h"
#include "ws.h"

#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

/* A set-up (connect, upgrade, auth or subscribe) that takes longer fails. */
#define SUB_SETUP_TIMEOUT_MS 30000
#define SUB_MAX_INPUT (1u << 20)

typedef enum {
    SUB_IDLE = 0,   /* not started */
    SUB_CONNECTING, /* TCP connect in flight */
    SUB_TLS,        /* TLS handshake in flight (--tls) */
    SUB_UPGRADING,  /* WebSocket upgrade sent */
    SUB_AUTHING,    /* goim OpAuth or MQTT CONNECT + SUBSCRIBE sent */
    SUB_READY,
    SUB_DONE, /* failed or closed; handle closing or closed */
} sub_state_t;

typedef struct sub_conn_s {
    uv_tcp_t tcp;
    SSL *ssl;      /* --tls: memory BIOs in and out; NULL otherwise */
    uint8_t *pend; /* incomplete input, NULL when none */
    char *ws_key;  /* during the WebSocket upgrade only */
    uint32_t pend_len;
    uint32_t pend_cap;
    uint32_t idx;     /* global connection number */
    uint32_t t_setup; /* ms since the process started: when set-up began */
    uint8_t state;
} sub_conn_t;

typedef struct sub_s {
    const bench_opts_t *o;
    uv_loop_t loop;
    uv_timer_t ramp;
    uv_timer_t tick;
    uv_timer_t stop;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    sub_conn_t *conns;
    uint32_t lo;
    uint32_t n;
    uint32_t next; /* next connection to start */
    uint32_t inflight;
    uint32_t ticks;
    int report_fd;
    int stopping;
    double t_last_progress;
    ws_codec_t *ws;
    SSL_CTX *tls;         /* --tls */
    SSL_SESSION *session; /* --tls-resume: the session later connections resume */
    bench_stats_t st;
    uint8_t rbuf[65536];
    uint8_t pbuf[16384]; /* --tls: decrypted input */
} sub_t;

typedef struct sub_write_s {
    uv_write_t req;
    uint8_t data[];
} sub_write_t;

static sub_t *conn_sub(sub_conn_t *c)
{
    return c->tcp.loop->data;
}

static uint32_t sub_ms(sub_t *s)
{
    return (uint32_t)uv_now(&s->loop);
}

static void launch_more(sub_t *s);
static void check_ready(sub_t *s);

static void report(sub_t *s, int kind)
{
    if (s->report_fd < 0)
        return;
    bench_msg_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return;
    m->kind = kind;
    m->stats = s->st;
    const uint8_t *p = (const uint8_t *)m;
    size_t left = sizeof(*m);
    while (left > 0) {
        ssize_t w = write(s->report_fd, p, left);
        if (w <= 0)
            break;
        p += w;
        left -= (size_t)w;
    }
    free(m);
}

static void on_conn_close(uv_handle_t *h)
{
    sub_conn_t *c = (sub_conn_t *)h;
    SSL_free(c->ssl);
    c->ssl = NULL;
    free(c->pend);
    free(c->ws_key);
    c->pend = NULL;
    c->ws_key = NULL;
    c->pend_len = c->pend_cap = 0;
}

/* Ends a connection: a set-up that fails counts as failed, a ready one as closed. */
static void conn_end(sub_conn_t *c)
{
    sub_t *s = conn_sub(c);
    if (c->state == SUB_DONE || c->state == SUB_IDLE)
        return;
    if (c->state == SUB_READY) {
        if (!s->stopping)
            s->st.closed++;
    } else {
        s->st.failed++;
        s->inflight--;
    }
    c->state = SUB_DONE;
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_conn_close);
    if (!s->stopping) {
        launch_more(s);
        check_ready(s);
    }
}

static void on_write_done(uv_write_t *req, int status)
{
    sub_write_t *w = (sub_write_t *)req;
    if (status < 0 && status != UV_ECANCELED)
        conn_end((sub_conn_t *)req->handle);
    free(w);
}

/* Bytes to the socket as they are (ciphertext with --tls). */
static void raw_write(sub_conn_t *c, const uint8_t *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (r == (int)len)
        return;
    if (r < 0 && r != UV_EAGAIN) {
        conn_end(c);
        return;
    }
    size_t done = r > 0 ? (size_t)r : 0;
    sub_write_t *w = malloc(sizeof(*w) + len - done);
    if (w == NULL)
        abort();
    memcpy(w->data, data + done, len - done);
    b = uv_buf_init((char *)w->data, (unsigned)(len - done));
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write_done) != 0) {
        free(w);
        conn_end(c);
    }
}

/* --tls: sends what OpenSSL wrote into the outgoing memory BIO. */
static void tls_flush(sub_conn_t *c)
{
    BIO *out = SSL_get_wbio(c->ssl);
    uint8_t buf[16384];
    int n;
    while (c->state != SUB_DONE && (n = BIO_read(out, buf, sizeof(buf))) > 0)
        raw_write(c, buf, (size_t)n);
}

static void conn_write(sub_conn_t *c, const uint8_t *data, size_t len)
{
    if (c->ssl == NULL) {
        raw_write(c, data, len);
        return;
    }
    if (SSL_write(c->ssl, data, (int)len) != (int)len) {
        ERR_clear_error();
        conn_end(c);
        return;
    }
    tls_flush(c);
}

/* Sends one goim packet, in a masked binary frame on WebSocket. */
static void conn_send_packet(sub_conn_t *c, uint32_t op, const void *body, size_t len)
{
    sub_t *s = conn_sub(c);
    uint8_t pkt[PROTO_HEADER_LEN + 512];
    if (len > 512)
        return;
    proto_header_write(pkt, op, 0, (uint32_t)len);
    memcpy(pkt + PROTO_HEADER_LEN, body, len);
    if (s->o->proto != BENCH_PROTO_WS) {
        conn_write(c, pkt, PROTO_HEADER_LEN + len);
        return;
    }
    uint8_t frame[WS_MAX_FRAME_HEADER + sizeof(pkt)];
    size_t n = ws_codec_encode(s->ws, WS_OP_BINARY, pkt, PROTO_HEADER_LEN + len, frame);
    conn_write(c, frame, n);
}

static void conn_send_auth(sub_conn_t *c)
{
    sub_t *s = conn_sub(c);
    char body[512];
    int n = snprintf(body, sizeof(body),
                     "{\"mid\":%lld,\"key\":\"\",\"room_id\":\"%s\",\"platform\":\"bench\","
                     "\"accepts\":[%d]}",
                     (long long)(s->o->mid_base + c->idx), s->o->room, s->o->op);
    c->state = SUB_AUTHING;
    conn_send_packet(c, PROTO_OP_AUTH, body, (size_t)n);
}

static void conn_ready(sub_conn_t *c)
{
    sub_t *s = conn_sub(c);
    c->state = SUB_READY;
    s->st.ready++;
    /* By the auth reply a TLS 1.3 server's tickets have arrived: the session is resumable. */
    if (s->o->tls_resume && s->session == NULL && c->ssl != NULL) {
        SSL_SESSION *sess = SSL_get1_session(c->ssl);
        if (sess != NULL && SSL_SESSION_is_resumable(sess))
            s->session = sess;
        else
            SSL_SESSION_free(sess);
    }
    if (c->ssl != NULL && SSL_session_reused(c->ssl))
        s->st.tls_resumed++;
    s->inflight--;
    launch_more(s);
    check_ready(s);
}

static void delivery(sub_t *s, const uint8_t *body, size_t len)
{
    uint64_t stamp, now = bench_now_us();
    s->st.deliveries++;
    if (bench_body_stamp(body, len, &stamp) == 0)
        bench_hist_add(&s->st.lat, now > stamp ? now - stamp : 0);
    else
        s->st.bad_stamps++;
    double t = (double)now / 1e6;
    if (s->st.t_first_delivery == 0)
        s->st.t_first_delivery = t;
    s->st.t_last_delivery = t;
}

/* Handles the goim packets in buf[0..len) (all whole); returns 0 or -1 to end the connection. */
static int goim_packets(sub_conn_t *c, const uint8_t *buf, size_t len, int depth);

static int goim_packet(sub_conn_t *c, const proto_header_t *h, const uint8_t *body, int depth)
{
    sub_t *s = conn_sub(c);
    size_t len = h->pack_len - PROTO_HEADER_LEN;
    if (h->op == PROTO_OP_RAW) {
        s->st.batches++;
        return depth > 0 ? -1 : goim_packets(c, body, len, depth + 1);
    }
    s->st.packets++;
    switch (h->op) {
    case PROTO_OP_AUTH_REPLY:
        if (c->state != SUB_AUTHING)
            return 0;
        /* The body is {"code":0,...} (docs/internals.md); anything else is a refusal. */
        if (len < 9 || memcmp(body, "{\"code\":0", 9) != 0)
            return -1;
        conn_ready(c);
        return 0;
    case PROTO_OP_HEARTBEAT_REPLY:
        s->st.hb_replies++;
        return 0;
    case PROTO_OP_DISCONNECT_REPLY:
        s->st.kicked++;
        /* a refused auth is op 6 {"reason":"auth",...} (docs/protocol.md) */
        return c->state == SUB_AUTHING ? -1 : 0;
    default:
        if (h->op >= PROTO_OP_BUSINESS_MIN)
            delivery(s, body, len);
        return 0;
    }
}

static int goim_packets(sub_conn_t *c, const uint8_t *buf, size_t len, int depth)
{
    size_t off = 0;
    while (off < len) {
        proto_header_t h;
        if (proto_header_read(buf + off, len - off, SUB_MAX_INPUT, &h) != 0 ||
            h.pack_len > len - off)
            return -1;
        if (goim_packet(c, &h, buf + off + PROTO_HEADER_LEN, depth) != 0)
            return -1;
        if (c->state == SUB_DONE)
            return -1;
        off += h.pack_len;
    }
    return 0;
}

/* Each process_* consumes whole units from buf and returns the bytes used, or -1. */
static long process_tcp(sub_conn_t *c, uint8_t *buf, size_t len)
{
    size_t off = 0;
    for (;;) {
        proto_header_t h;
        int r = proto_header_read(buf + off, len - off, SUB_MAX_INPUT, &h);
        if (r == 1 || (r == 0 && h.pack_len > len - off))
            return (long)off;
        if (r < 0 || goim_packet(c, &h, buf + off + PROTO_HEADER_LEN, 0) != 0)
            return -1;
        off += h.pack_len;
    }
}

static long process_ws(sub_conn_t *c, uint8_t *buf, size_t len)
{
    sub_t *s = conn_sub(c);
    size_t off = 0;
    if (c->state == SUB_UPGRADING) {
        size_t used;
        int r = ws_handshake_parse_response((const char *)buf, len, &used, c->ws_key);
        if (r == 1)
            return 0;
        if (r < 0)
            return -1;
        free(c->ws_key);
        c->ws_key = NULL;
        off = used;
        if (s->o->proto == BENCH_PROTO_WS)
            conn_send_auth(c);
        else
            conn_ready(c);
    }
    while (off < len) {
        size_t flen;
        int r = ws_frame_peek(buf + off, len - off, 0, SUB_MAX_INPUT, &flen);
        if (r == 1)
            break;
        ws_frame_t f;
        if (r < 0 || ws_codec_decode(s->ws, buf + off, flen, &f) != 0 || !f.fin)
            return -1;
        off += flen;
        switch (f.opcode) {
        case WS_OP_BINARY:
        case WS_OP_TEXT:
            if (s->o->proto == BENCH_PROTO_NCHAN) {
                s->st.packets++;
                delivery(s, f.payload, f.payload_len);
            } else if (f.opcode != WS_OP_BINARY ||
                       goim_packets(c, f.payload, f.payload_len, 0) != 0) {
                return -1;
            }
            break;
        case WS_OP_PING: {
            uint8_t pong[WS_MAX_FRAME_HEADER + 125];
            conn_write(c, pong, ws_codec_encode(s->ws, WS_OP_PONG, f.payload, f.payload_len, pong));
            break;
        }
        case WS_OP_CLOSE:
            return -1;
        default:
            break;
        }
        if (c->state == SUB_DONE)
            return -1;
    }
    return (long)off;
}

static long process_mqtt(sub_conn_t *c, uint8_t *buf, size_t len)
{
    sub_t *s = conn_sub(c);
    size_t off = 0;
    for (;;) {
        int type;
        size_t body, total, pay;
        int r = bench_mqtt_peek(buf + off, len - off, &type, &body, &total);
        if (r == 1)
            return (long)off;
        if (r < 0)
            return -1;
        const uint8_t *b = buf + off + body;
        size_t blen = total - body;
        s->st.packets++;
        switch (type) {
        case BENCH_MQTT_CONNACK:
            if (blen < 2 || b[1] != 0)
                return -1;
            break;
        case BENCH_MQTT_SUBACK:
            if (blen < 3 || b[2] == 0x80)
                return -1;
            if (c->state == SUB_AUTHING)
                conn_ready(c);
            break;
        case BENCH_MQTT_PUBLISH:
            if (bench_mqtt_publish_payload(b, blen, (buf[off] >> 1) & 3, &pay) != 0)
                return -1;
            delivery(s, b + pay, blen - pay);
            break;
        case BENCH_MQTT_PINGRESP:
            s->st.hb_replies++;
            break;
        default:
            break;
        }
        off += total;
    }
}

static long process(sub_conn_t *c, uint8_t *buf, size_t len)
{
    switch (conn_sub(c)->o->proto) {
    case BENCH_PROTO_TCP:
        return process_tcp(c, buf, len);
    case BENCH_PROTO_MQTT:
        return process_mqtt(c, buf, len);
    default:
        return process_ws(c, buf, len);
    }
}

static void feed(sub_conn_t *c, uint8_t *data, size_t len)
{
    if (c->pend_len == 0) {
        long used = process(c, data, len);
        if (used < 0 || c->state == SUB_DONE) {
            conn_end(c);
            return;
        }
        data += used;
        len -= (size_t)used;
        if (len == 0)
            return;
    }
    if ((size_t)c->pend_len + len > SUB_MAX_INPUT + WS_MAX_FRAME_HEADER + 64) {
        conn_end(c);
        return;
    }
    if (c->pend_len + len > c->pend_cap) {
        uint32_t cap = (uint32_t)(c->pend_len + len);
        uint8_t *p = realloc(c->pend, cap);
        if (p == NULL)
            abort();
        c->pend = p;
        c->pend_cap = cap;
    }
    memcpy(c->pend + c->pend_len, data, len);
    int had = c->pend_len > 0;
    c->pend_len += (uint32_t)len;
    if (!had)
        return; /* just processed: these bytes are an incomplete unit */
    long used = process(c, c->pend, c->pend_len);
    if (used < 0 || c->state == SUB_DONE) {
        conn_end(c);
        return;
    }
    c->pend_len -= (uint32_t)used;
    if (c->pend_len == 0) {
        free(c->pend);
        c->pend = NULL;
        c->pend_cap = 0;
    } else if (used > 0) {
        memmove(c->pend, c->pend + used, c->pend_len);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    sub_t *s = h->loop->data;
    *buf = uv_buf_init((char *)s->rbuf, sizeof(s->rbuf));
}

static void conn_start_protocol(sub_conn_t *c);

/* --tls: ciphertext in; the handshake, then decrypted bytes to feed(). */
static void tls_input(sub_conn_t *c, const uint8_t *data, size_t len)
{
    sub_t *s = conn_sub(c);
    BIO_write(SSL_get_rbio(c->ssl), data, (int)len);
    if (c->state == SUB_TLS) {
        int r = SSL_do_handshake(c->ssl);
        int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
        tls_flush(c);
        if (err == SSL_ERROR_WANT_READ)
            return;
        if (err != SSL_ERROR_NONE || c->state == SUB_DONE) {
            ERR_clear_error();
            conn_end(c);
            return;
        }
        conn_start_protocol(c);
    }
    int n = 0; /* read only after an SSL_read */
    while (c->state != SUB_DONE && (n = SSL_read(c->ssl, s->pbuf, sizeof(s->pbuf))) > 0)
        feed(c, s->pbuf, (size_t)n);
    if (c->state != SUB_DONE && SSL_get_error(c->ssl, n) != SSL_ERROR_WANT_READ) {
        ERR_clear_error();
        conn_end(c);
    }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    sub_conn_t *c = (sub_conn_t *)stream;
    if (nread < 0) {
        conn_end(c);
        return;
    }
    conn_sub(c)->st.bytes_in += (uint64_t)nread;
    if (nread == 0 || c->state == SUB_DONE)
        return;
    if (c->ssl != NULL)
        tls_input(c, (uint8_t *)buf->base, (size_t)nread);
    else
        feed(c, (uint8_t *)buf->base, (size_t)nread);
}

/* --tls: a client SSL over two memory BIOs; sends the ClientHello. Returns 0 or -1. */
static int tls_start(sub_conn_t *c)
{
    sub_t *s = conn_sub(c);
    BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
    c->ssl = SSL_new(s->tls);
    if (c->ssl == NULL || in == NULL || out == NULL) {
        BIO_free(in);
        BIO_free(out);
        return -1;
    }
    SSL_set_bio(c->ssl, in, out);
    if (s->session != NULL)
        SSL_set_session(c->ssl, s->session);
    SSL_set_connect_state(c->ssl);
    c->state = SUB_TLS;
    SSL_do_handshake(c->ssl);
    ERR_clear_error();
    tls_flush(c);
    return 0;
}

static void conn_start_protocol(sub_conn_t *c)
{
    sub_t *s = conn_sub(c);
    const bench_target_t *t = &s->o->targets[c->idx % (uint32_t)s->o->n_targets];
    switch (s->o->proto) {
    case BENCH_PROTO_TCP:
        conn_send_auth(c);
        break;
    case BENCH_PROTO_MQTT: {
        uint8_t out[600];
        char id[48];
        snprintf(id, sizeof(id), "hb-%d-%u", (int)getpid(), c->idx);
        size_t n = bench_mqtt_connect(out, sizeof(out), id, (uint16_t)(s->o->heartbeat_s * 3));
        n += bench_mqtt_subscribe(out + n, sizeof(out) - n, 1, s->o->topic);
        c->state = SUB_AUTHING;
        conn_write(c, out, n);
        break;
    }
    default: {
        char req[1024];
        c->ws_key = malloc(WS_KEY_LEN + 1);
        if (c->ws_key == NULL)
            abort();
        size_t n = ws_handshake_request(req, sizeof(req), t->host, t->port, s->o->path, c->ws_key);
        c->state = SUB_UPGRADING;
        conn_write(c, (const uint8_t *)req, n);
        break;
    }
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    sub_conn_t *c = (sub_conn_t *)req->handle;
    free(req);
    if (c->state != SUB_CONNECTING)
        return;
    if (status < 0) {
        conn_end(c);
        return;
    }
    conn_sub(c)->st.connected++;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        conn_end(c);
        return;
    }
    if (conn_sub(c)->tls == NULL)
        conn_start_protocol(c);
    else if (tls_start(c) != 0)
        conn_end(c);
}

static void conn_start(sub_t *s, sub_conn_t *c)
{
    const bench_opts_t *o = s->o;
    const bench_target_t *t = &o->targets[c->idx % (uint32_t)o->n_targets];
    c->state = SUB_CONNECTING;
    c->t_setup = sub_ms(s);
    s->inflight++;
    if (uv_tcp_init_ex(&s->loop, &c->tcp, AF_INET) != 0) {
        c->state = SUB_IDLE;
        s->inflight--;
        s->st.failed++;
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_in src, dst;
    int rc = 0;
    if (o->src_addrs > 0) {
        /* The port is chosen at connect time from the whole 4-tuple, so each source address
         * is not limited to one range of ephemeral ports shared by every destination. */
        uv_os_fd_t fd;
        int one = 1;
        if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
            (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        char ip[32];
        snprintf(ip, sizeof(ip), "127.0.0.%u", 1u + c->idx % (uint32_t)o->src_addrs);
        uv_ip4_addr(ip, 0, &src);
        rc = uv_tcp_bind(&c->tcp, (const struct sockaddr *)&src, 0);
    }
    uv_connect_t *req = malloc(sizeof(*req));
    if (req == NULL)
        abort();
    if (rc == 0)
        rc = uv_ip4_addr(t->host, t->port, &dst);
    if (rc == 0)
        rc = uv_tcp_connect(req, &c->tcp, (const struct sockaddr *)&dst, on_connect);
    if (rc != 0) {
        free(req);
        conn_end(c);
    }
}

static void launch_more(sub_t *s)
{
    if (s->stopping)
        return;
    uint32_t allowed = s->n;
    if (s->o->rate > 0) {
        double elapsed = bench_now_s() - s->st.t_start;
        double a = s->o->rate / (double)s->o->procs * elapsed + 1;
        if (a < (double)allowed)
            allowed = (uint32_t)a;
    }
    while (s->next < allowed && s->inflight < s->o->max_inflight)
        conn_start(s, &s->conns[s->next++]);
    if (s->next >= s->n)
        uv_timer_stop(&s->ramp);
}

static void on_ramp(uv_timer_t *t)
{
    launch_more(t->data);
}

static void sub_stop(sub_t *s);

static void on_stop_timer(uv_timer_t *t)
{
    sub_stop(t->data);
}

static void check_ready(sub_t *s)
{
    if (s->st.t_ready > 0 || s->st.ready + s->st.failed < s->n)
        return;
    s->st.t_ready = bench_now_s();
    if (s->report_fd >= 0) {
        report(s, BENCH_MSG_READY);
    } else {
        if (s->o->progress_s > 0)
            bench_stats_print_progress(&s->st, s->o, "ready:", stderr);
        if (s->o->ready_file[0]) {
            FILE *f = fopen(s->o->ready_file, "w");
            if (f)
                fclose(f);
        }
    }
    if (s->o->duration_s > 0)
        uv_timer_start(&s->stop, on_stop_timer, (uint64_t)(s->o->duration_s * 1000), 0);
}

static void on_tick(uv_timer_t *t)
{
    sub_t *s = t->data;
    uint32_t hb = s->o->heartbeat_s > 0 ? (uint32_t)s->o->heartbeat_s : 0;
    uint32_t now = sub_ms(s);
    uint32_t slice = hb ? s->ticks % hb : 0;
    s->ticks++;
    for (uint32_t i = 0; i < s->next; i++) {
        sub_conn_t *c = &s->conns[i];
        if (c->state == SUB_READY) {
            if (hb == 0 || i % hb != slice || s->o->proto == BENCH_PROTO_NCHAN)
                continue;
            s->st.hb_sent++;
            if (s->o->proto == BENCH_PROTO_MQTT) {
                uint8_t ping[2];
                conn_write(c, ping, bench_mqtt_pingreq(ping, sizeof(ping)));
            } else {
                conn_send_packet(c, PROTO_OP_HEARTBEAT, NULL, 0);
            }
        } else if (c->state != SUB_DONE && c->state != SUB_IDLE &&
                   now - c->t_setup > SUB_SETUP_TIMEOUT_MS) {
            conn_end(c);
        }
    }
    double tn = bench_now_s();
    if (s->o->progress_s > 0 && tn - s->t_last_progress >= s->o->progress_s) {
        s->t_last_progress = tn;
        if (s->report_fd >= 0)
            report(s, BENCH_MSG_PROGRESS);
        else
            bench_stats_print_progress(&s->st, s->o, "progress:", stderr);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    sub_stop(h->data);
}

static void sub_stop(sub_t *s)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    s->st.t_end = bench_now_s();
    for (uint32_t i = 0; i < s->next; i++) {
        sub_conn_t *c = &s->conns[i];
        if (c->state != SUB_IDLE && !uv_is_closing((uv_handle_t *)&c->tcp))
            uv_close((uv_handle_t *)&c->tcp, on_conn_close);
    }
    uv_close((uv_handle_t *)&s->ramp, NULL);
    uv_close((uv_handle_t *)&s->tick, NULL);
    uv_close((uv_handle_t *)&s->stop, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
}

int bench_sub_run(const bench_opts_t *o, uint32_t lo, uint32_t hi, int report_fd,
                  bench_stats_t *out)
{
    sub_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -1;
    s->o = o;
    s->lo = lo;
    s->n = hi - lo;
    s->report_fd = report_fd;
    s->conns = calloc(s->n ? s->n : 1, sizeof(*s->conns));
    if (s->conns == NULL || uv_loop_init(&s->loop) != 0) {
        free(s->conns);
        free(s);
        return -1;
    }
    for (uint32_t i = 0; i < s->n; i++)
        s->conns[i].idx = lo + i;
    s->loop.data = s;
    s->ws = ws_codec_new(0);
    if (o->tls) {
        /* Loopback measurements of the server: no certificate check, small idle clients. */
        s->tls = SSL_CTX_new(TLS_client_method());
        if (s->tls == NULL)
            abort();
        SSL_CTX_set_mode(s->tls, SSL_MODE_RELEASE_BUFFERS);
        SSL_CTX_set_verify(s->tls, SSL_VERIFY_NONE, NULL);
    }
    s->st.target = s->n;
    s->st.t_start = bench_now_s();
    s->t_last_progress = s->st.t_start;
    uv_timer_init(&s->loop, &s->ramp);
    uv_timer_init(&s->loop, &s->tick);
    uv_timer_init(&s->loop, &s->stop);
    uv_signal_init(&s->loop, &s->sigint);
    uv_signal_init(&s->loop, &s->sigterm);
    s->ramp.data = s->tick.data = s->stop.data = s;
    s->sigint.data = s->sigterm.data = s;
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_timer_start(&s->tick, on_tick, 1000, 1000);
    uv_timer_start(&s->ramp, on_ramp, 5, 5);
    launch_more(s);
    check_ready(s); /* n == 0 */
    uv_run(&s->loop, UV_RUN_DEFAULT);
    if (s->st.t_end == 0)
        s->st.t_end = bench_now_s();
    int rc = uv_loop_close(&s->loop) == 0 ? 0 : -1;
    report(s, BENCH_MSG_FINAL);
    *out = s->st;
    ws_codec_free(s->ws);
    SSL_SESSION_free(s->session);
    SSL_CTX_free(s->tls);
    free(s->conns);
    free(s);
    return rc;
}
