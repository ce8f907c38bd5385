/* rpc_server.c - the serving side of the internal RPC (rpc.h). */
#include "rpc.h"

#include "addr.h"

#include "buf.h"
#include "herald_err.h"
#include "list.h"
#include "log.h"
#include "rpc_auth.h"
#include "rpc_frame.h"
#include "rpc_settings.h"
#include "rpc_tls.h"

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RPC_SERVER_BACKLOG 511
/* Peer addresses whose refusal was logged; past this many, refusals are rate limited instead. */
#define RPC_SERVER_SEEN_MAX 256

typedef struct rpc_conn_s rpc_conn_t;

/* One accepted connection. Owned by the server while open and by the calls that reference it:
 * `refs` counts the open handle plus every unanswered call, so a handler answering after the
 * peer left still finds its connection; freed when the last of them goes. */
struct rpc_conn_s {
    uv_tcp_t tcp;
    rpc_server_t *server; /* NULL once the handle is closed */
    list_link_t link;     /* in server->conns until the handle is closed */
    rpc_auth_t *auth;     /* the handshake while it runs, then NULL: frames are served */
    rpc_tls_t *tls;       /* with [rpc] tls_*: the TLS under auth and frames, else NULL */
    uint64_t since;       /* uv_now() of the accept while handshaking, then of the last read */
    rpc_frame_reader_t reader;
    rpc_frame_writer_t writer;
    int refs;
    int closing;
    char peer[64];
    char ip[INET6_ADDRSTRLEN]; /* the peer's address without the port: refusals are logged per
                                  address, not per connection */
};

/* One request waiting for its handler's answer; freed by rpc_reply / rpc_reply_error. */
struct rpc_call_s {
    rpc_conn_t *conn;
    uint32_t call_id;
    uint16_t method;
    size_t method_index; /* in the server's methods and latency */
    uint64_t start_ns;   /* uv_hrtime() when the request was read */
};

/* Owned by the caller of rpc_server_new until rpc_server_close, then freed once the listener
 * and every connection handle are closed. */
struct rpc_server_s {
    uv_loop_t *loop;
    uv_tcp_t listener;
    const rpc_method_t *methods;
    size_t nmethods;
    void *arg;
    int port;
    rpc_settings_now_t set; /* copied at creation */
    uv_timer_t sweep;       /* handshake deadlines and idle timeouts */
    list_link_t conns;      /* rpc_conn_t whose handle is not yet closed, newest first */
    size_t nconns;          /* in conns */
    size_t open_handles;    /* listener, sweep timer, connections not yet through their close */
    rpc_server_stats_t stats;
    metrics_hist_t *latency;        /* parallel to methods: request read to reply sent */
    char (*seen)[INET6_ADDRSTRLEN]; /* addresses whose refusal was logged */
    size_t nseen;
    int closing;
    void (*close_cb)(void *arg);
    void *close_arg;
};

static void server_maybe_free(rpc_server_t *s)
{
    void (*cb)(void *) = s->close_cb;
    void *arg = s->close_arg;

    if (!s->closing || s->open_handles != 0)
        return;
    rpc_settings_wipe(&s->set);
    free(s->seen);
    free(s->latency);
    free(s);
    if (cb != NULL)
        cb(arg);
}

static void conn_unref(rpc_conn_t *c)
{
    if (--c->refs == 0)
        free(c);
}

static void on_conn_closed(uv_handle_t *h)
{
    rpc_conn_t *c = h->data;
    rpc_server_t *s = c->server;

    rpc_frame_reader_deinit(&c->reader);
    if (c->auth != NULL) {
        rpc_auth_wipe(c->auth);
        free(c->auth);
        c->auth = NULL;
    }
    rpc_tls_free(c->tls);
    c->tls = NULL;
    list_unlink(&c->link);
    c->server = NULL;
    s->nconns--;
    s->open_handles--;
    conn_unref(c);
    server_maybe_free(s);
}

static void conn_close(rpc_conn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    rpc_frame_writer_deinit(&c->writer);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void conn_send(rpc_conn_t *c, rpc_frame_out_t *f)
{
    if (c->closing)
        free(f);
    else
        rpc_frame_writer_send(&c->writer, f);
}

/* Logs the first refusal of each peer address at warn level; later ones from the same address
 * at debug level only, so a flood of attempts is one line per address (and /metrics counts
 * them all). */
static void server_log_refusal(rpc_server_t *s, const rpc_conn_t *c, const char *why)
{
    for (size_t i = 0; i < s->nseen; i++) {
        if (strcmp(s->seen[i], c->ip) == 0) {
            log_debug("rpc: %s: refused: %s", c->peer, why);
            return;
        }
    }
    if (s->nseen == RPC_SERVER_SEEN_MAX) {
        log_warn_rl("rpc: %s: refused: %s", c->peer, why);
        return;
    }
    if (s->seen == NULL)
        s->seen = xcalloc(RPC_SERVER_SEEN_MAX, sizeof(*s->seen));
    snprintf(s->seen[s->nseen++], sizeof(s->seen[0]), "%s", c->ip);
    log_warn("rpc: %s: refused: %s (not logged again for %s)", c->peer, why, c->ip);
}

/* Closes a connection that failed the handshake or its deadline; counts it in *counter. */
static void conn_refuse(rpc_conn_t *c, const char *why, uint64_t *counter)
{
    (*counter)++;
    server_log_refusal(c->server, c, why);
    conn_close(c);
}

static void on_conn_write_error(rpc_frame_writer_t *w, int status)
{
    rpc_conn_t *c = (rpc_conn_t *)((char *)w - offsetof(rpc_conn_t, writer));

    log_debug("rpc: %s: write failed: %s", c->peer, uv_strerror(status));
    conn_close(c);
}

static const rpc_method_t *server_find(const rpc_server_t *s, uint16_t method)
{
    /* Services have a handful of methods: a scan beats any index. */
    for (size_t i = 0; i < s->nmethods; i++)
        if (s->methods[i].method == method)
            return &s->methods[i];
    return NULL;
}

static int on_conn_frame(void *arg, const rpc_frame_t *f)
{
    rpc_conn_t *c = arg;
    rpc_server_t *s = c->server;
    const rpc_method_t *m;
    ProtobufCMessage *req;
    rpc_call_t *call;

    if (f->flags != RPC_FLAG_REQUEST) {
        log_warn_rl("rpc: %s: frame with flags %u on a server connection, closing", c->peer,
                    (unsigned)f->flags);
        conn_close(c);
        return 1;
    }
    m = server_find(s, f->method);
    if (m == NULL) {
        log_debug("rpc: %s: unknown method %u", c->peer, (unsigned)f->method);
        conn_send(c,
                  rpc_frame_out_new_error(f->method, f->call_id, HERALD_EINVAL, "unknown method"));
        return 0;
    }
    req = protobuf_c_message_unpack(m->req_desc, NULL, f->len, f->payload);
    if (req == NULL) {
        log_debug("rpc: %s: malformed request for method %u", c->peer, (unsigned)f->method);
        conn_send(
            c, rpc_frame_out_new_error(f->method, f->call_id, HERALD_EINVAL, "malformed request"));
        return 0;
    }
    call = xmalloc(sizeof(*call));
    call->conn = c;
    call->call_id = f->call_id;
    call->method = f->method;
    call->method_index = (size_t)(m - s->methods);
    call->start_ns = uv_hrtime();
    c->refs++;
    m->handler(call, req, s->arg);
    protobuf_c_message_free_unpacked(req, NULL);
    /* The handler may have closed the server (and so this connection). */
    return c->closing;
}

static void on_conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    rpc_conn_t *c = h->data;
    size_t len;

    /* While the handshake runs, a read takes no more than the rest of its message: the frames
     * that follow stay in the socket until the reader's buffer exists. */
    if (c->auth != NULL) {
        uint8_t *p = rpc_auth_space(c->auth, &len);
        *buf = uv_buf_init((char *)p, (unsigned)len);
        return;
    }
    rpc_frame_reader_alloc(&c->reader, buf);
}

/* n handshake bytes arrived. */
static void conn_handshake(rpc_conn_t *c, size_t n)
{
    uint8_t out[RPC_AUTH_MSG_MAX];
    size_t out_len;
    int rc = rpc_auth_received(c->auth, n, out, &out_len);

    if (rc < 0) {
        conn_refuse(c, rpc_auth_why(c->auth), &c->server->stats.auth_failed);
        return;
    }
    if (out_len != 0)
        conn_send(c, rpc_frame_out_new_raw(out, out_len));
    if (rc == RPC_AUTH_DONE) {
        rpc_auth_wipe(c->auth);
        free(c->auth);
        c->auth = NULL;
        c->since = uv_now(c->server->loop);
        log_debug("rpc: %s: authenticated", c->peer);
    }
}

static void on_conn_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    rpc_conn_t *c = stream->data;
    int rc;

    if (nread < 0 && c->auth != NULL) {
        conn_refuse(c, nread == UV_EOF ? "closed during the handshake" : uv_strerror((int)nread),
                    &c->server->stats.auth_failed);
        return;
    }
    if (nread < 0) {
        if (nread != UV_EOF)
            log_debug("rpc: %s: read failed: %s", c->peer, uv_strerror((int)nread));
        conn_close(c);
        return;
    }
    if (nread == 0)
        return; /* EAGAIN: nothing was read */
    if (c->auth != NULL) {
        conn_handshake(c, (size_t)nread);
        return;
    }
    c->since = uv_now(c->server->loop);
    rc = rpc_frame_reader_feed(&c->reader, (size_t)nread, on_conn_frame, c);
    if (rc < 0) {
        log_warn_rl("rpc: %s: %s, closing", c->peer,
                    rc == HERALD_ETOOBIG ? "frame over RPC_MAX_FRAME" : "malformed frame header");
        conn_close(c);
    }
}

/* TLS refused the peer. During the handshakes that is a refusal like a wrong secret (logged
 * once per address, counted in tls_failed); later, a bad record on an authenticated link. */
static void on_conn_tls_fail(uv_stream_t *stream, const char *why)
{
    rpc_conn_t *c = stream->data;
    char msg[256];

    if (c->closing)
        return;
    if (c->auth != NULL) {
        snprintf(msg, sizeof(msg), "tls: %s", why);
        conn_refuse(c, msg, &c->server->stats.tls_failed);
        return;
    }
    c->server->stats.tls_failed++;
    log_warn_rl("rpc: %s: tls: %s, closing", c->peer, why);
    conn_close(c);
}

static void on_conn_tls_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    rpc_tls_alloc(((rpc_conn_t *)h->data)->tls, buf);
}

static void on_conn_tls_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    rpc_tls_read(((rpc_conn_t *)stream->data)->tls, nread, buf);
}

static void conn_set_peer(rpc_conn_t *c)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    int port = 0;

    snprintf(c->ip, sizeof(c->ip), "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, c->ip, sizeof(c->ip));
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        } else {
            uv_ip4_name((struct sockaddr_in *)&ss, c->ip, sizeof(c->ip));
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
    }
    snprintf(c->peer, sizeof(c->peer), "%s:%d", c->ip, port);
}

/* Starts the handshake of a connection just accepted: sends the CHALLENGE (with TLS, queued until
 * the TLS handshake is over), then reads. Returns 0 or a UV_E* error; a connection refused here
 * is closing and 0 is returned. */
static int conn_start(rpc_conn_t *c)
{
    rpc_server_t *s = c->server;
    uint8_t out[RPC_AUTH_MSG_MAX];
    size_t n;

    if (s->nconns > s->set.max_conns) {
        s->stats.refused++;
        log_warn_rl("rpc: %s: refused: %u connections open (cluster.rpc_max_conns)", c->peer,
                    (unsigned)s->set.max_conns);
        conn_close(c);
        return 0;
    }
    if (!s->set.has_key) {
        conn_refuse(c, "no cluster secret configured here", &s->stats.auth_failed);
        return 0;
    }
    s->stats.accepted++;
    c->since = uv_now(s->loop);
    c->auth = xmalloc(sizeof(*c->auth));
    n = rpc_auth_start(c->auth, RPC_AUTH_SERVER, &s->set.key, out);
    if (s->set.tls_server != NULL) {
        c->tls = rpc_tls_new(SSL_new(s->set.tls_server), 1, (uv_stream_t *)&c->tcp, &c->writer,
                             on_conn_alloc, on_conn_read, on_conn_tls_fail);
        if (c->tls == NULL) {
            conn_refuse(c, "tls: cannot create the connection's state", &s->stats.tls_failed);
            return 0;
        }
    }
    conn_send(c, rpc_frame_out_new_raw(out, n));
    if (c->tls != NULL)
        return uv_read_start((uv_stream_t *)&c->tcp, on_conn_tls_alloc, on_conn_tls_read);
    return uv_read_start((uv_stream_t *)&c->tcp, on_conn_alloc, on_conn_read);
}

static void on_connection(uv_stream_t *listener, int status)
{
    rpc_server_t *s = listener->data;
    rpc_conn_t *c;
    int rc;

    if (status < 0) {
        log_warn_rl("rpc: accept failed: %s", uv_strerror(status));
        return;
    }
    c = xcalloc(1, sizeof(*c));
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    c->server = s;
    c->refs = 1;
    rpc_frame_reader_init(&c->reader);
    rpc_frame_writer_init(&c->writer, (uv_stream_t *)&c->tcp, on_conn_write_error);
    list_prepend(&s->conns, &c->link);
    s->nconns++;
    s->open_handles++;
    /* Accepted even beyond the cap, so that it leaves the backlog; conn_start closes it. */
    rc = uv_accept(listener, (uv_stream_t *)&c->tcp);
    if (rc == 0) {
        uv_tcp_nodelay(&c->tcp, 1);
        conn_set_peer(c);
        log_debug("rpc: %s: connected", c->peer);
        rc = conn_start(c);
    }
    if (rc != 0) {
        log_warn_rl("rpc: accept failed: %s", uv_strerror(rc));
        conn_close(c);
    }
}

/* Closes connections past their handshake deadline, and idle ones when idle_timeout_ms is set.
 * A connection with a call in flight (refs > 1) is never idle: its handler is still working. */
static void on_sweep(uv_timer_t *t)
{
    rpc_server_t *s = t->data;
    uint64_t now = uv_now(s->loop);

    /* conn_close only starts the close; on_conn_closed unlinks later. */
    LIST_FOREACH(l, &s->conns)
    {
        rpc_conn_t *c = list_entry(l, rpc_conn_t, link);

        if (c->closing)
            continue;
        if (c->auth != NULL) {
            if (now - c->since >= s->set.handshake_timeout_ms)
                conn_refuse(c, "handshake timed out", &s->stats.auth_timeout);
        } else if (s->set.idle_timeout_ms != 0 && c->refs == 1 &&
                   now - c->since >= s->set.idle_timeout_ms) {
            s->stats.idle_closed++;
            log_debug("rpc: %s: idle, closing", c->peer);
            conn_close(c);
        }
    }
}

/* A quarter of the shortest deadline, within [10 ms, 1 s]: deadlines hold to within 25%. */
static uint64_t sweep_period(const rpc_settings_now_t *set)
{
    uint64_t ms = set->handshake_timeout_ms;

    if (set->idle_timeout_ms != 0 && set->idle_timeout_ms < ms)
        ms = set->idle_timeout_ms;
    ms /= 4;
    return ms < 10 ? 10 : ms > 1000 ? 1000 : ms;
}

rpc_server_t *rpc_server_new(uv_loop_t *loop, const rpc_method_t *methods, size_t n, void *arg)
{
    rpc_server_t *s = xcalloc(1, sizeof(*s));

    s->loop = loop;
    s->methods = methods;
    s->nmethods = n;
    s->latency = xcalloc(n ? n : 1, sizeof(*s->latency));
    s->arg = arg;
    s->port = -1;
    rpc_settings_get(&s->set);
    list_init(&s->conns);
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    uv_timer_init(loop, &s->sweep);
    s->sweep.data = s;
    s->open_handles = 2;
    return s;
}

int rpc_server_listen(rpc_server_t *s, const char *host, int port)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    int rc;

    if (port < 0 || port > 65535)
        return UV_EINVAL;
    if (addr_numeric(host, port, &ss) != 0)
        return UV_EINVAL;
    rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, RPC_SERVER_BACKLOG, on_connection);
    if (rc == 0)
        rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
    if (rc != 0)
        return rc;
    s->port = addr_get_port((struct sockaddr *)&ss);
    uv_timer_start(&s->sweep, on_sweep, sweep_period(&s->set), sweep_period(&s->set));
    return 0;
}

int rpc_server_port(const rpc_server_t *s)
{
    return s->port;
}

void rpc_server_stats(const rpc_server_t *s, rpc_server_stats_t *out)
{
    *out = s->stats;
    out->conns = s->nconns;
    out->calls = 0;
    out->handshaking = 0;
    out->read_buf_bytes = 0;
    LIST_FOREACH(l, &s->conns)
    {
        const rpc_conn_t *c = list_entry(l, rpc_conn_t, link);

        out->handshaking += c->auth != NULL;
        out->read_buf_bytes += rpc_frame_reader_cap(&c->reader);
        out->calls += c->refs - 1; /* one reference is the handle's, one per call in flight */
    }
}

size_t rpc_server_methods(const rpc_server_t *s)
{
    return s->nmethods;
}

const metrics_hist_t *rpc_server_latency(const rpc_server_t *s, size_t i, uint16_t *method)
{
    *method = s->methods[i].method;
    return &s->latency[i];
}

/* Sends f (NULL: nothing, the connection is gone) and frees the call. */
static void call_finish(rpc_call_t *call, rpc_frame_out_t *f)
{
    rpc_conn_t *c = call->conn;

    /* A closing connection may have outlived its server: only an open one may touch it. */
    if (!c->closing)
        metrics_hist_observe_since(&c->server->latency[call->method_index], call->start_ns);
    if (f != NULL)
        conn_send(c, f);
    free(call);
    conn_unref(c);
}

void rpc_reply(rpc_call_t *call, const ProtobufCMessage *reply)
{
    rpc_frame_out_t *f;

    if (call->conn->closing) {
        call_finish(call, NULL);
        return;
    }
    f = rpc_frame_out_new(call->method, RPC_FLAG_REPLY, call->call_id, reply);
    if (f == NULL) {
        log_warn_rl("rpc: %s: reply to method %u over the frame limit", call->conn->peer,
                    (unsigned)call->method);
        f = rpc_frame_out_new_error(call->method, call->call_id, HERALD_EINTERNAL,
                                    "reply too large");
    }
    call_finish(call, f);
}

void rpc_reply_error(rpc_call_t *call, int code, const char *message)
{
    rpc_frame_out_t *f = NULL;

    if (!call->conn->closing)
        f = rpc_frame_out_new_error(call->method, call->call_id, code, message);
    call_finish(call, f);
}

const char *rpc_call_peer(const rpc_call_t *call)
{
    return call->conn->peer;
}

static void on_server_handle_closed(uv_handle_t *h)
{
    rpc_server_t *s = h->data;

    s->open_handles--;
    server_maybe_free(s);
}

void rpc_server_close(rpc_server_t *s, void (*cb)(void *arg), void *arg)
{
    if (s->closing)
        return;
    s->closing = 1;
    s->close_cb = cb;
    s->close_arg = arg;
    uv_close((uv_handle_t *)&s->listener, on_server_handle_closed);
    uv_close((uv_handle_t *)&s->sweep, on_server_handle_closed);
    /* conn_close only starts the close; on_conn_closed unlinks later. */
    LIST_FOREACH(l, &s->conns)
    {
        conn_close(list_entry(l, rpc_conn_t, link));
    }
}
