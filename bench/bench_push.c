/* bench_push.c - the pusher: R messages/s as HTTP/1.1 keep-alive POSTs (logic's goim routes or
 * nchan's publisher location) or as MQTT QoS 0 PUBLISH on one connection.
 *
 * HTTP: C connections, one request in flight on each (no pipelining, which libmicrohttpd and
 * nchan both serve one at a time anyway). A 1 ms timer works out how many messages are due
 * (rate × elapsed − sent) and sends them on free connections; when none is free the debt is
 * carried, so at saturation the pusher runs closed-loop and sent/s is the server's throughput.
 * A connection that fails is reconnected; every failure counts as an error.
 */
#define _GNU_SOURCE /* memmem */
#include "bench.h"
#include "bench_mqtt.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#define PUSH_MAX_RESPONSE 65536
#define PUSH_DRAIN_MS 5000
/* At most this many MQTT messages per 1 ms tick, so a stalled socket does not queue seconds. */
#define PUSH_MQTT_BURST 2000

typedef struct push_s push_t;

typedef struct push_conn_s {
    uv_tcp_t tcp;
    uv_connect_t connect;
    push_t *p;
    int up;   /* connected (MQTT: CONNACK received) */
    int busy; /* HTTP request in flight */
    uint64_t t_sent_us;
    uint8_t *in;
    size_t in_len;
} push_conn_t;

struct push_s {
    const bench_opts_t *o;
    uv_loop_t loop;
    uv_timer_t tick;
    uv_timer_t stop;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    push_conn_t *conns;
    uint32_t n;
    int stopping; /* 1: no more sends, draining; 2: closing */
    double t0;
    double t_last_progress;
    bench_stats_t st;
    char head_a[700]; /* "POST <path>" up to the mid (mids) or the whole path */
    char head_b[300]; /* " HTTP/1.1" and the headers up to the Content-Length value */
    uint8_t rbuf[65536];
};

typedef struct push_write_s {
    uv_write_t req;
    uint8_t data[];
} push_write_t;

static void conn_connect(push_conn_t *c);
static void push_close_all(push_t *p);

static void on_write_done(uv_write_t *req, int status)
{
    free(req);
}

static int conn_write(push_conn_t *c, const uint8_t *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (r == (int)len)
        return 0;
    if (r < 0 && r != UV_EAGAIN)
        return r;
    size_t done = r > 0 ? (size_t)r : 0;
    push_write_t *w = malloc(sizeof(*w) + len - done);
    if (w == NULL)
        abort();
    memcpy(w->data, data + done, len - done);
    b = uv_buf_init((char *)w->data, (unsigned)(len - done));
    r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write_done);
    if (r != 0)
        free(w);
    return r;
}

static void on_conn_close(uv_handle_t *h)
{
    push_conn_t *c = (push_conn_t *)h;
    free(c->in);
    c->in = NULL;
    c->in_len = 0;
    if (!c->p->stopping)
        conn_connect(c);
}

static void conn_fail(push_conn_t *c)
{
    if (c->busy)
        c->p->st.errors++;
    c->busy = 0;
    c->up = 0;
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_conn_close);
}

/* Parses one HTTP response at the front of c->in: returns its length, 0 if incomplete, -1 if
 * malformed; *status set. */
static long http_response(const push_conn_t *c, int *status)
{
    const char *s = (const char *)c->in;
    size_t len = c->in_len;
    const char *end = memmem(s, len, "\r\n\r\n", 4);
    if (end == NULL)
        return len > 16384 ? -1 : 0;
    size_t head = (size_t)(end - s) + 4;
    if (len < 12 || memcmp(s, "HTTP/1.", 7) != 0)
        return -1;
    *status = atoi(s + 9);
    long body = 0;
    int chunked = 0;
    for (const char *l = memchr(s, '\n', head); l && l < end; l = memchr(l + 1, '\n', end - l)) {
        if (strncasecmp(l + 1, "content-length:", 15) == 0)
            body = atol(l + 16);
        else if (strncasecmp(l + 1, "transfer-encoding:", 18) == 0 &&
                 memmem(l, end - l, "chunked", 7))
            chunked = 1;
    }
    if (chunked) {
        const char *fin = memmem(s + head, len - head, "0\r\n\r\n", 5);
        return fin ? (long)(fin + 5 - s) : 0;
    }
    if (body < 0 || body > PUSH_MAX_RESPONSE)
        return -1;
    return head + (size_t)body <= len ? (long)(head + (size_t)body) : 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    push_t *p = h->loop->data;
    *buf = uv_buf_init((char *)p->rbuf, sizeof(p->rbuf));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    push_conn_t *c = (push_conn_t *)stream;
    push_t *p = c->p;
    if (nread < 0) {
        conn_fail(c);
        return;
    }
    if (p->o->kind == BENCH_PUSH_MQTT) {
        /* Only CONNACK and the odd PINGRESP come back: no need to reassemble. */
        if (!c->up && nread >= 4 && ((uint8_t)buf->base[0] >> 4) == BENCH_MQTT_CONNACK &&
            buf->base[3] == 0)
            c->up = 1;
        return;
    }
    if (c->in_len + (size_t)nread > PUSH_MAX_RESPONSE + 16384) {
        conn_fail(c);
        return;
    }
    uint8_t *in = realloc(c->in, c->in_len + (size_t)nread);
    if (in == NULL)
        abort();
    c->in = in;
    memcpy(c->in + c->in_len, buf->base, (size_t)nread);
    c->in_len += (size_t)nread;
    for (;;) {
        int status = 0;
        long used = http_response(c, &status);
        if (used < 0 || (used > 0 && !c->busy)) {
            conn_fail(c);
            return;
        }
        if (used == 0)
            break;
        uint64_t now = bench_now_us();
        bench_hist_add(&p->st.lat, now - c->t_sent_us);
        if (status >= 200 && status < 300)
            p->st.ok++;
        else
            p->st.errors++;
        if (p->st.t_first_delivery == 0)
            p->st.t_first_delivery = (double)now / 1e6;
        p->st.t_last_delivery = (double)now / 1e6;
        c->busy = 0;
        c->in_len -= (size_t)used;
        memmove(c->in, c->in + used, c->in_len);
    }
    if (c->in_len == 0) {
        free(c->in);
        c->in = NULL;
    }
    if (p->stopping == 1 && p->st.ok + p->st.errors >= p->st.sent)
        push_close_all(p);
}

static void on_connect(uv_connect_t *req, int status)
{
    push_conn_t *c = req->data;
    if (status < 0 || uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        c->p->st.errors++;
        conn_fail(c);
        return;
    }
    if (c->p->o->kind != BENCH_PUSH_MQTT) {
        c->up = 1;
        return;
    }
    uint8_t out[128];
    char id[48];
    snprintf(id, sizeof(id), "hb-pub-%d", (int)uv_os_getpid());
    if (conn_write(c, out, bench_mqtt_connect(out, sizeof(out), id, 0)) != 0)
        conn_fail(c);
}

static void conn_connect(push_conn_t *c)
{
    push_t *p = c->p;
    const bench_target_t *t = &p->o->targets[(size_t)(c - p->conns) % (size_t)p->o->n_targets];
    struct sockaddr_in dst;
    uv_tcp_init(&p->loop, &c->tcp);
    uv_tcp_nodelay(&c->tcp, 1);
    c->connect.data = c;
    if (uv_ip4_addr(t->host, t->port, &dst) != 0 ||
        uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&dst, on_connect) != 0) {
        p->st.errors++;
        p->stopping = p->stopping ? p->stopping : 1; /* a bad address will not get better */
        uv_close((uv_handle_t *)&c->tcp, on_conn_close);
    }
}

static int send_http(push_t *p, push_conn_t *c)
{
    uint8_t req[2048];
    int h;
    if (p->o->kind == BENCH_PUSH_MIDS) {
        long long mid = p->o->mid_base + (long long)((uint64_t)rand() % (uint64_t)p->o->mid_count);
        h = snprintf((char *)req, sizeof(req), "%s%lld%s%u\r\n\r\n", p->head_a, mid, p->head_b,
                     p->o->size);
    } else {
        h = snprintf((char *)req, sizeof(req), "%s%s%u\r\n\r\n", p->head_a, p->head_b, p->o->size);
    }
    if (h < 0 || (size_t)h + p->o->size > sizeof(req))
        return -1;
    bench_body_fill(req + h, p->o->size);
    c->t_sent_us = bench_now_us();
    if (conn_write(c, req, (size_t)h + p->o->size) != 0) {
        conn_fail(c);
        return -1;
    }
    c->busy = 1;
    return 0;
}

static void send_mqtt(push_t *p, push_conn_t *c, uint64_t due)
{
    uint8_t body[2048], out[64 * 1024];
    size_t n = 0;
    while (due > 0 && n + p->o->size + 300 < sizeof(out)) {
        bench_body_fill(body, p->o->size);
        n += bench_mqtt_publish(out + n, sizeof(out) - n, p->o->topic, body, p->o->size);
        p->st.sent++;
        due--;
    }
    if (n > 0 && conn_write(c, out, n) != 0)
        conn_fail(c);
}

static void on_tick(uv_timer_t *t)
{
    push_t *p = t->data;
    if (p->stopping)
        return;
    double now = bench_now_s();
    if (p->t0 == 0) {
        /* The schedule starts when the first connection is up, not while connecting. */
        uint32_t up = 0;
        for (uint32_t i = 0; i < p->n && !up; i++)
            up = (uint32_t)p->conns[i].up;
        if (!up)
            return;
        p->t0 = p->st.t_ready = now;
    }
    double want = p->o->rate * (now - p->t0);
    uint64_t due = want > (double)p->st.sent ? (uint64_t)(want - (double)p->st.sent) : 0;
    if (p->o->kind == BENCH_PUSH_MQTT) {
        if (p->conns[0].up && due > 0)
            send_mqtt(p, &p->conns[0], due < PUSH_MQTT_BURST ? due : PUSH_MQTT_BURST);
    } else {
        for (uint32_t i = 0; i < p->n && due > 0; i++) {
            push_conn_t *c = &p->conns[i];
            if (c->up && !c->busy && send_http(p, c) == 0) {
                p->st.sent++;
                due--;
            }
        }
    }
    if (p->o->progress_s > 0 && now - p->t_last_progress >= p->o->progress_s) {
        p->t_last_progress = now;
        bench_stats_print_progress(&p->st, p->o, "push:", stderr);
    }
}

static void push_close_all(push_t *p)
{
    if (p->stopping == 2)
        return;
    p->stopping = 2;
    for (uint32_t i = 0; i < p->n; i++)
        if (!uv_is_closing((uv_handle_t *)&p->conns[i].tcp))
            uv_close((uv_handle_t *)&p->conns[i].tcp, on_conn_close);
    uv_close((uv_handle_t *)&p->tick, NULL);
    uv_close((uv_handle_t *)&p->stop, NULL);
    uv_close((uv_handle_t *)&p->sigint, NULL);
    uv_close((uv_handle_t *)&p->sigterm, NULL);
}

static void on_stop(uv_timer_t *t)
{
    push_t *p = t->data;
    if (p->stopping == 0) {
        /* Stop sending; wait for the answers still due, at most PUSH_DRAIN_MS. */
        p->stopping = 1;
        p->st.t_end = bench_now_s();
        if (p->o->kind == BENCH_PUSH_MQTT || p->st.ok + p->st.errors >= p->st.sent)
            push_close_all(p);
        else
            uv_timer_start(&p->stop, on_stop, PUSH_DRAIN_MS, 0);
        return;
    }
    push_close_all(p);
}

static void on_signal(uv_signal_t *h, int signum)
{
    push_t *p = h->data;
    if (p->st.t_end == 0)
        p->st.t_end = bench_now_s();
    push_close_all(p);
}

/* The request head in two parts: the mid of a mids push goes between them, then the body
 * length after the second. */
static void build_head(push_t *p)
{
    const bench_opts_t *o = p->o;
    if (o->kind == BENCH_PUSH_ROOM) {
        const char *sep = strstr(o->room, "://");
        int tl = sep ? (int)(sep - o->room) : 4;
        snprintf(p->head_a, sizeof(p->head_a),
                 "POST /goim/push/room?operation=%d&type=%.*s&room=%s", o->op, tl,
                 sep ? o->room : "live", sep ? sep + 3 : o->room);
    } else if (o->kind == BENCH_PUSH_MIDS) {
        snprintf(p->head_a, sizeof(p->head_a), "POST /goim/push/mids?operation=%d&mids=", o->op);
    } else {
        snprintf(p->head_a, sizeof(p->head_a), "POST %s", o->path);
    }
    snprintf(p->head_b, sizeof(p->head_b),
             " HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/octet-stream\r\n"
             "Content-Length: ",
             o->targets[0].host, o->targets[0].port);
}

int bench_push_run(const bench_opts_t *o, bench_stats_t *out)
{
    push_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -1;
    p->o = o;
    p->n = o->kind == BENCH_PUSH_MQTT ? 1 : (o->conns ? o->conns : 1);
    p->conns = calloc(p->n, sizeof(*p->conns));
    if (p->conns == NULL || uv_loop_init(&p->loop) != 0) {
        free(p->conns);
        free(p);
        return -1;
    }
    p->loop.data = p;
    build_head(p);
    uv_timer_init(&p->loop, &p->tick);
    uv_timer_init(&p->loop, &p->stop);
    uv_signal_init(&p->loop, &p->sigint);
    uv_signal_init(&p->loop, &p->sigterm);
    p->tick.data = p->stop.data = p->sigint.data = p->sigterm.data = p;
    uv_signal_start(&p->sigint, on_signal, SIGINT);
    uv_signal_start(&p->sigterm, on_signal, SIGTERM);
    for (uint32_t i = 0; i < p->n; i++) {
        p->conns[i].p = p;
        conn_connect(&p->conns[i]);
    }
    p->st.t_start = p->t_last_progress = bench_now_s();
    uv_timer_start(&p->tick, on_tick, 1, 1);
    uv_timer_start(&p->stop, on_stop, (uint64_t)(o->duration_s * 1000), 0);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    if (p->st.t_end == 0)
        p->st.t_end = bench_now_s();
    int rc = uv_loop_close(&p->loop) == 0 ? 0 : -1;
    *out = p->st;
    free(p->conns);
    free(p);
    return rc;
}
