/* rpc_client.c - the calling side of the internal RPC (rpc.h): one connection per peer,
 * pipelined calls, per-call deadlines on one timer, reconnect with backoff. */
#include "rpc.h"

#include "rpc_methods.h"

#include "addr.h"

#include "buf.h"
#include "herald_err.h"
#include "list.h"
#include "log.h"
#include "rpc_auth.h"
#include "rpc_frame.h"
#include "rpc_settings.h"
#include "rpc_tls.h"

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A connect that neither succeeds nor fails (blackholed peer) counts as failed after this; the
 * handshake that follows has the settings' handshake_timeout_ms. */
#define RPC_CONNECT_TIMEOUT_MS 5000
#define RPC_NO_DEADLINE UINT64_MAX
#define RPC_BUCKETS_MIN 64

/* One call in flight: in the id hash (to match its reply) and in the deadline-ordered list (to
 * time it out). Owned by the client; freed right after its callback ran. */
typedef struct rpc_pending_s rpc_pending_t;
struct rpc_pending_s {
    rpc_pending_t *hnext;
    list_link_t link;  /* in the client's by_deadline */
    uint64_t deadline; /* uv_now() ms, RPC_NO_DEADLINE for none */
    uint64_t start_ns; /* uv_hrtime() when the call started */
    uint32_t id;
    uint16_t method;
    const ProtobufCMessageDescriptor *reply_desc;
    rpc_reply_cb cb;
    void *arg;
};

enum client_state {
    CLIENT_IDLE,       /* waiting for the retry timer */
    CLIENT_RESOLVING,  /* getaddrinfo in flight */
    CLIENT_CONNECTING, /* tcp open, connect in flight */
    CLIENT_HANDSHAKE,  /* connected, proving the cluster secret (rpc_auth.h) */
    CLIENT_CONNECTED,
    CLIENT_DROPPING, /* tcp closing; its close callback fails the calls in flight */
};

/* Owned by the caller of rpc_client_new until rpc_client_close, then freed once every handle is
 * closed and the getaddrinfo request (if any) has returned. */
struct rpc_client_s {
    uv_loop_t *loop;
    char *name;
    char *host;
    int port;
    struct sockaddr_storage addr; /* when host is a numeric address */
    int addr_numeric;

    enum client_state state;
    uv_tcp_t tcp;
    int tcp_open; /* tcp initialised and its close callback not yet run */
    uv_connect_t connect_req;
    uv_getaddrinfo_t resolve_req;
    int resolving;
    uv_timer_t retry_timer; /* backoff between attempts, and the connect deadline */
    uv_timer_t call_timer;  /* deadline of the first call in the list */
    int timers_open;
    uint32_t backoff_ms;
    uint32_t backoff_max_ms;
    void (*on_connected)(void *arg);
    void *on_connected_arg;
    int outage_logged;
    rpc_settings_now_t set; /* copied at creation */
    rpc_auth_t *auth;       /* while in CLIENT_HANDSHAKE */
    rpc_tls_t *tls;         /* with [rpc] tls_*: the TLS of the connection, else NULL */

    rpc_frame_reader_t reader;
    rpc_frame_writer_t writer;

    uint32_t next_id;
    rpc_pending_t **buckets; /* id & (nbuckets - 1); ids are sequential so chains stay short */
    size_t nbuckets;
    size_t count;
    list_link_t by_deadline; /* rpc_pending_t, earliest deadline first */

    int closing;
    void (*close_cb)(void *arg);
    void *close_arg;
};

static void client_start_attempt(rpc_client_t *c);

/* ------------------------------------------------------------------------- calls in flight */

static void pending_hash_insert(rpc_client_t *c, rpc_pending_t *p)
{
    if (c->count >= c->nbuckets) {
        size_t n = c->nbuckets * 2;
        rpc_pending_t **b = xcalloc(n, sizeof(*b));

        for (size_t i = 0; i < c->nbuckets; i++) {
            rpc_pending_t *q = c->buckets[i], *next;
            for (; q != NULL; q = next) {
                next = q->hnext;
                q->hnext = b[q->id & (n - 1)];
                b[q->id & (n - 1)] = q;
            }
        }
        free(c->buckets);
        c->buckets = b;
        c->nbuckets = n;
    }
    p->hnext = c->buckets[p->id & (c->nbuckets - 1)];
    c->buckets[p->id & (c->nbuckets - 1)] = p;
    c->count++;
}

static rpc_pending_t *pending_find(rpc_client_t *c, uint32_t id)
{
    rpc_pending_t *p = c->buckets[id & (c->nbuckets - 1)];

    while (p != NULL && p->id != id)
        p = p->hnext;
    return p;
}

/* The call with the earliest deadline, or NULL when none is in flight. */
static rpc_pending_t *pending_earliest(const rpc_client_t *c)
{
    list_link_t *l = list_first(&c->by_deadline);

    return l != NULL ? list_entry(l, rpc_pending_t, link) : NULL;
}

/* Inserts by deadline, after the calls due no later. Calls usually share one timeout, so the
 * walk from the tail stops at once. */
static void pending_list_insert(rpc_client_t *c, rpc_pending_t *p)
{
    list_link_t *after = c->by_deadline.prev;

    while (after != &c->by_deadline &&
           list_entry(after, rpc_pending_t, link)->deadline > p->deadline)
        after = after->prev;
    /* Prepending to a link inserts right after it, be it the head or a member. */
    list_prepend(after, &p->link);
}

static void pending_remove(rpc_client_t *c, rpc_pending_t *p)
{
    rpc_pending_t **pp = &c->buckets[p->id & (c->nbuckets - 1)];

    while (*pp != p)
        pp = &(*pp)->hnext;
    *pp = p->hnext;
    c->count--;
    list_unlink(&p->link);
}

/* Every client's calls in this process, per method (rpc_methods.h): one table, since a daemon's
 * clients to one kind of peer (a pool of comets, comet's workers) answer the same question. The
 * histograms are thread-safe (metrics.h), so comet's workers share it. */
static metrics_hist_t client_latency[RPC_METHODS];

const metrics_hist_t *rpc_client_latency(size_t i)
{
    return &client_latency[i];
}

/* Runs the callback of a call already removed from the client, then frees it. */
static void pending_finish(rpc_pending_t *p, int status, const ProtobufCMessage *reply)
{
    int i = rpc_method_index(p->method);
    if (i >= 0)
        metrics_hist_observe_since(&client_latency[i], p->start_ns);
    p->cb(status, reply, p->arg);
    free(p);
}

/* Fails every call in flight. Callbacks may start calls (refused: not connected) or close the
 * client, so each call is unlinked before its callback runs. */
static void pending_fail_all(rpc_client_t *c, int status)
{
    rpc_pending_t *p;

    while ((p = pending_earliest(c)) != NULL) {
        pending_remove(c, p);
        pending_finish(p, status, NULL);
    }
    if (!c->closing)
        uv_timer_stop(&c->call_timer);
}

static void on_call_timer(uv_timer_t *t);

/* Points the one call timer at the earliest deadline, or stops it. */
static void call_timer_arm(rpc_client_t *c)
{
    uint64_t now = uv_now(c->loop);
    rpc_pending_t *first;

    if (c->closing)
        return;
    first = pending_earliest(c);
    if (first == NULL || first->deadline == RPC_NO_DEADLINE)
        uv_timer_stop(&c->call_timer);
    else
        uv_timer_start(&c->call_timer, on_call_timer,
                       first->deadline > now ? first->deadline - now : 0, 0);
}

static void on_call_timer(uv_timer_t *t)
{
    rpc_client_t *c = t->data;
    uint64_t now = uv_now(c->loop);
    rpc_pending_t *p;

    /* Calls started by these callbacks have deadlines after `now`, so the loop ends. */
    while ((p = pending_earliest(c)) != NULL && p->deadline <= now) {
        pending_remove(c, p);
        log_debug("rpc %s: call %u (method %u) timed out", c->name, (unsigned)p->id,
                  (unsigned)p->method);
        pending_finish(p, UV_ETIMEDOUT, NULL);
    }
    call_timer_arm(c);
}

/* ------------------------------------------------------------------------------ connection */

static void client_maybe_free(rpc_client_t *c)
{
    void (*cb)(void *) = c->close_cb;
    void *arg = c->close_arg;

    if (!c->closing || c->tcp_open || c->resolving || c->timers_open != 0)
        return;
    /* Calls in flight were failed when the tcp handle closed; none can be left. */
    rpc_settings_wipe(&c->set);
    free(c->buckets);
    free(c->name);
    free(c->host);
    free(c);
    if (cb != NULL)
        cb(arg);
}

static void on_retry_timer(uv_timer_t *t);

static void client_schedule_retry(rpc_client_t *c)
{
    c->state = CLIENT_IDLE;
    uv_timer_start(&c->retry_timer, on_retry_timer, c->backoff_ms, 0);
    c->backoff_ms *= 2;
    if (c->backoff_ms > c->backoff_max_ms)
        c->backoff_ms = c->backoff_max_ms;
}

static void on_tcp_closed(uv_handle_t *h)
{
    rpc_client_t *c = h->data;

    c->tcp_open = 0;
    rpc_frame_reader_deinit(&c->reader);
    if (c->auth != NULL) {
        rpc_auth_wipe(c->auth);
        free(c->auth);
        c->auth = NULL;
    }
    rpc_tls_free(c->tls);
    c->tls = NULL;
    pending_fail_all(c, c->closing ? UV_ECANCELED : UV_ECONNRESET);
    /* A callback above may have closed the client. */
    if (c->closing)
        client_maybe_free(c);
    else
        client_schedule_retry(c);
}

static void client_close_tcp(rpc_client_t *c)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return; /* a second failure of the same attempt */
    c->state = CLIENT_DROPPING;
    rpc_frame_writer_deinit(&c->writer);
    uv_close((uv_handle_t *)&c->tcp, on_tcp_closed);
}

/* The established connection failed. The calls in flight are failed by the tcp close callback,
 * never here: this may run inside rpc_client_call (a write that cannot start). */
static void client_drop(rpc_client_t *c, int status)
{
    if (c->state != CLIENT_CONNECTED)
        return;
    log_warn("rpc %s: connection lost: %s", c->name, herald_strerror(status));
    client_close_tcp(c);
}

/* why (may be NULL) says more than status. */
static void client_attempt_failed(rpc_client_t *c, int status, const char *why)
{
    if (!c->outage_logged) {
        log_warn("rpc %s: connect failed: %s", c->name, why ? why : herald_strerror(status));
        c->outage_logged = 1;
    }
    if (c->tcp_open)
        client_close_tcp(c); /* its close callback schedules the retry */
    else
        client_schedule_retry(c);
}

static void on_write_error(rpc_frame_writer_t *w, int status)
{
    rpc_client_t *c = (rpc_client_t *)((char *)w - offsetof(rpc_client_t, writer));

    if (c->state == CLIENT_HANDSHAKE)
        client_attempt_failed(c, status, NULL);
    else
        client_drop(c, status);
}

static int on_frame(void *arg, const rpc_frame_t *f)
{
    rpc_client_t *c = arg;
    rpc_pending_t *p;
    ProtobufCMessage *reply;
    const char *text;
    size_t text_len;
    int code;

    if (f->flags == RPC_FLAG_REQUEST) {
        log_warn_rl("rpc %s: request frame from the server", c->name);
        client_drop(c, HERALD_EPROTO);
        return 1;
    }
    p = pending_find(c, f->call_id);
    if (p == NULL) {
        log_debug("rpc %s: reply to unknown call %u (timed out?)", c->name, (unsigned)f->call_id);
        return 0;
    }
    pending_remove(c, p);
    if (list_empty(&c->by_deadline))
        uv_timer_stop(&c->call_timer);
    if (f->method != p->method) {
        log_warn_rl("rpc %s: reply for method %u to a call of method %u", c->name,
                    (unsigned)f->method, (unsigned)p->method);
        pending_finish(p, HERALD_EPROTO, NULL);
    } else if (f->flags == RPC_FLAG_ERROR) {
        code = rpc_frame_error_read(f, &text, &text_len);
        log_debug("rpc %s: method %u failed remotely: %s: %.*s", c->name, (unsigned)f->method,
                  herald_strerror(code), (int)text_len, text);
        pending_finish(p, code, NULL);
    } else {
        reply = protobuf_c_message_unpack(p->reply_desc, NULL, f->len, f->payload);
        if (reply == NULL) {
            log_warn_rl("rpc %s: malformed reply to method %u", c->name, (unsigned)f->method);
            pending_finish(p, HERALD_EPROTO, NULL);
        } else {
            pending_finish(p, 0, reply);
            protobuf_c_message_free_unpacked(reply, NULL);
        }
    }
    /* The callback may have closed the client, or a write it started may have failed. */
    return c->state != CLIENT_CONNECTED;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    rpc_client_t *c = h->data;
    size_t len;

    /* The handshake reads no more than the rest of its message (see rpc_server.c). */
    if (c->auth != NULL) {
        uint8_t *p = rpc_auth_space(c->auth, &len);
        *buf = uv_buf_init((char *)p, (unsigned)len);
        return;
    }
    rpc_frame_reader_alloc(&c->reader, buf);
}

/* Handshake bytes arrived (nread > 0) or the server closed during it (nread < 0). */
static void client_handshake(rpc_client_t *c, ssize_t nread)
{
    uint8_t out[RPC_AUTH_MSG_MAX];
    size_t out_len;
    int rc;

    if (nread < 0) {
        /* A server refuses a wrong secret by closing, without a word. */
        client_attempt_failed(c, (int)nread,
                              nread == UV_EOF ? "closed by the server during the handshake "
                                                "(wrong or missing cluster secret?)"
                                              : NULL);
        return;
    }
    rc = rpc_auth_received(c->auth, (size_t)nread, out, &out_len);
    if (rc < 0) {
        log_debug("rpc %s: handshake failed: %s", c->name, rpc_auth_why(c->auth));
        client_attempt_failed(c, rc, rpc_auth_why(c->auth));
        return;
    }
    if (out_len != 0)
        rpc_frame_writer_send(&c->writer, rpc_frame_out_new_raw(out, out_len));
    if (rc != RPC_AUTH_DONE || c->state != CLIENT_HANDSHAKE)
        return; /* more to come, or the write failed and the attempt with it */
    rpc_auth_wipe(c->auth);
    free(c->auth);
    c->auth = NULL;
    uv_timer_stop(&c->retry_timer);
    c->state = CLIENT_CONNECTED;
    c->backoff_ms = RPC_BACKOFF_MIN_MS;
    c->outage_logged = 0;
    log_info("rpc %s: connected", c->name);
    if (c->on_connected != NULL)
        c->on_connected(c->on_connected_arg);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    rpc_client_t *c = stream->data;
    int rc;

    if (c->state == CLIENT_HANDSHAKE) {
        if (nread != 0)
            client_handshake(c, nread);
        return;
    }
    if (nread < 0) {
        client_drop(c, (int)nread);
        return;
    }
    rc = rpc_frame_reader_feed(&c->reader, (size_t)nread, on_frame, c);
    if (rc < 0) {
        log_warn_rl("rpc %s: %s", c->name,
                    rc == HERALD_ETOOBIG ? "frame over RPC_MAX_FRAME" : "malformed frame header");
        client_drop(c, rc);
    }
}

/* TLS refused the server or its bytes: a failed attempt while the handshakes run (the server's
 * certificate is not from tls_ca, or the server refused ours: TLS 1.3 says so only after our
 * side of the handshake), a lost connection after. */
static void on_tls_fail(uv_stream_t *stream, const char *why)
{
    rpc_client_t *c = stream->data;
    char msg[256];

    snprintf(msg, sizeof(msg), "tls: %s", why);
    if (c->state == CLIENT_HANDSHAKE) {
        client_attempt_failed(c, HERALD_EAUTH, msg);
    } else if (c->state == CLIENT_CONNECTED) {
        log_warn("rpc %s: %s", c->name, msg);
        client_drop(c, HERALD_EPROTO);
    }
}

static void on_tls_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    rpc_tls_alloc(((rpc_client_t *)h->data)->tls, buf);
}

static void on_tls_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    rpc_tls_read(((rpc_client_t *)stream->data)->tls, nread, buf);
}

static void on_connect(uv_connect_t *req, int status)
{
    rpc_client_t *c = req->data;
    int rc;

    if (c->state != CLIENT_CONNECTING)
        return; /* timed out or closed meanwhile: the tcp handle is already closing */
    uv_timer_stop(&c->retry_timer);
    if (status < 0) {
        client_attempt_failed(c, status, NULL);
        return;
    }
    rpc_frame_reader_init(&c->reader);
    rpc_frame_writer_init(&c->writer, (uv_stream_t *)&c->tcp, on_write_error);
    /* The server speaks first (its CHALLENGE); the retry timer is now the handshake deadline. */
    c->auth = xmalloc(sizeof(*c->auth));
    rpc_auth_start(c->auth, RPC_AUTH_CLIENT, &c->set.key, NULL);
    c->state = CLIENT_HANDSHAKE;
    if (c->set.tls_client != NULL) {
        /* TLS first (the ClientHello goes now); the CHALLENGE then arrives inside it. */
        c->tls = rpc_tls_new(SSL_new(c->set.tls_client), 0, (uv_stream_t *)&c->tcp, &c->writer,
                             on_alloc, on_read, on_tls_fail);
        if (c->tls == NULL) {
            client_attempt_failed(c, HERALD_EINTERNAL, "tls: cannot create the connection's state");
            return;
        }
        if (c->state != CLIENT_HANDSHAKE)
            return; /* sending the ClientHello failed: the attempt is already being dropped */
        rc = uv_read_start((uv_stream_t *)&c->tcp, on_tls_alloc, on_tls_read);
    } else {
        rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
    if (rc != 0) {
        client_attempt_failed(c, rc, NULL);
        return;
    }
    uv_timer_start(&c->retry_timer, on_retry_timer, c->set.handshake_timeout_ms, 0);
}

static void client_connect(rpc_client_t *c, const struct sockaddr *sa)
{
    int rc;

    uv_tcp_init(c->loop, &c->tcp);
    c->tcp.data = c;
    c->tcp_open = 1;
    c->state = CLIENT_CONNECTING;
    uv_tcp_nodelay(&c->tcp, 1);
    c->connect_req.data = c;
    rc = uv_tcp_connect(&c->connect_req, &c->tcp, sa, on_connect);
    if (rc != 0) {
        client_attempt_failed(c, rc, NULL);
        return;
    }
    uv_timer_start(&c->retry_timer, on_retry_timer, RPC_CONNECT_TIMEOUT_MS, 0);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    rpc_client_t *c = req->data;
    struct addrinfo *ai;

    c->resolving = 0;
    if (c->closing) {
        uv_freeaddrinfo(res);
        client_maybe_free(c);
        return;
    }
    if (status < 0) {
        client_attempt_failed(c, status, NULL);
        return;
    }
    /* Listeners are configured as IPv4 (0.0.0.0:port), and "localhost" lists ::1 first. */
    for (ai = res; ai != NULL && ai->ai_family != AF_INET; ai = ai->ai_next)
        ;
    client_connect(c, (ai != NULL ? ai : res)->ai_addr);
    uv_freeaddrinfo(res);
}

static void client_start_attempt(rpc_client_t *c)
{
    struct addrinfo hints;
    char port[16];
    int rc;

    if (!c->set.has_key) {
        client_attempt_failed(c, HERALD_EAUTH, "no cluster secret configured here");
        return;
    }
    if (c->addr_numeric) {
        client_connect(c, (const struct sockaddr *)&c->addr);
        return;
    }
    /* Names (docker services) are resolved on every attempt: the peer may move. */
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%d", c->port);
    c->resolve_req.data = c;
    c->state = CLIENT_RESOLVING;
    rc = uv_getaddrinfo(c->loop, &c->resolve_req, on_resolved, c->host, port, &hints);
    if (rc != 0) {
        client_attempt_failed(c, rc, NULL);
        return;
    }
    c->resolving = 1;
}

static void on_retry_timer(uv_timer_t *t)
{
    rpc_client_t *c = t->data;

    if (c->state == CLIENT_IDLE)
        client_start_attempt(c);
    else if (c->state == CLIENT_CONNECTING || c->state == CLIENT_HANDSHAKE)
        client_attempt_failed(c, UV_ETIMEDOUT, NULL);
}

/* ------------------------------------------------------------------------------------- API */

void rpc_client_redial(rpc_client_t *c)
{
    if (c->closing || c->state != CLIENT_IDLE)
        return;
    uv_timer_stop(&c->retry_timer);
    c->backoff_ms = RPC_BACKOFF_MIN_MS;
    client_start_attempt(c);
}

rpc_client_t *rpc_client_new(uv_loop_t *loop, const char *name, const char *host, int port)
{
    rpc_client_t *c = xcalloc(1, sizeof(*c));

    c->loop = loop;
    c->name = xstrdup(name);
    c->host = xstrdup(host);
    c->port = port;
    rpc_settings_get(&c->set);
    c->addr_numeric = addr_numeric(host, port, &c->addr) == 0;
    uv_timer_init(loop, &c->retry_timer);
    uv_timer_init(loop, &c->call_timer);
    c->retry_timer.data = c;
    c->call_timer.data = c;
    c->timers_open = 2;
    c->backoff_ms = RPC_BACKOFF_MIN_MS;
    c->backoff_max_ms = RPC_BACKOFF_MAX_MS;
    c->nbuckets = RPC_BUCKETS_MIN;
    c->buckets = xcalloc(c->nbuckets, sizeof(*c->buckets));
    list_init(&c->by_deadline);
    /* reader and writer stay zeroed (valid and empty) until a connection is up */
    client_start_attempt(c);
    return c;
}

void rpc_client_set_on_connected(rpc_client_t *c, void (*cb)(void *arg), void *arg)
{
    c->on_connected = cb;
    c->on_connected_arg = arg;
}

void rpc_client_set_backoff_max(rpc_client_t *c, uint32_t max_ms)
{
    c->backoff_max_ms = max_ms < RPC_BACKOFF_MIN_MS ? RPC_BACKOFF_MIN_MS : max_ms;
    if (c->backoff_ms > c->backoff_max_ms)
        c->backoff_ms = c->backoff_max_ms;
}

int rpc_client_call(rpc_client_t *c, uint16_t method, const ProtobufCMessage *req,
                    const ProtobufCMessageDescriptor *reply_desc, uint32_t timeout_ms,
                    rpc_reply_cb cb, void *arg)
{
    rpc_frame_out_t *f;
    rpc_pending_t *p;
    uint32_t id;

    if (c->state != CLIENT_CONNECTED || c->closing)
        return UV_ENOTCONN;
    id = ++c->next_id;
    f = rpc_frame_out_new(method, RPC_FLAG_REQUEST, id, req);
    if (f == NULL)
        return UV_EMSGSIZE;
    p = xmalloc(sizeof(*p));
    p->id = id;
    p->method = method;
    p->start_ns = uv_hrtime();
    p->reply_desc = reply_desc;
    p->cb = cb;
    p->arg = arg;
    p->deadline = timeout_ms ? uv_now(c->loop) + timeout_ms : RPC_NO_DEADLINE;
    pending_hash_insert(c, p);
    pending_list_insert(c, p);
    if (pending_earliest(c) == p)
        call_timer_arm(c);
    /* A write that cannot start drops the connection; the call then fails asynchronously. */
    rpc_frame_writer_send(&c->writer, f);
    return 0;
}

size_t rpc_client_in_flight(const rpc_client_t *c)
{
    return c->count;
}

int rpc_client_connected(const rpc_client_t *c)
{
    return c->state == CLIENT_CONNECTED && !c->closing;
}

const char *rpc_client_name(const rpc_client_t *c)
{
    return c->name;
}

static void on_timer_closed(uv_handle_t *h)
{
    rpc_client_t *c = h->data;

    c->timers_open--;
    client_maybe_free(c);
}

void rpc_client_close(rpc_client_t *c, void (*cb)(void *arg), void *arg)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->close_cb = cb;
    c->close_arg = arg;
    if (c->resolving)
        uv_cancel((uv_req_t *)&c->resolve_req); /* on_resolved still runs, with an error */
    if (c->tcp_open && c->state != CLIENT_DROPPING)
        client_close_tcp(c);
    uv_close((uv_handle_t *)&c->retry_timer, on_timer_closed);
    uv_close((uv_handle_t *)&c->call_timer, on_timer_closed);
}
