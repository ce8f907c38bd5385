/* http.c - libmicrohttpd adapter driven by a libuv loop (http.h). The only file that includes
 * microhttpd.h.
 *
 * MHD runs in "external epoll" mode: its epoll fd is watched by a uv_poll_t and its timeouts by a
 * uv_timer_t; MHD_run() is never called re-entrantly (handlers run inside it, so answers given
 * later only schedule a run).
 *
 * Limits (http_limits_t): MHD enforces the connection counts and, through the pool size, a
 * ceiling on the request head; this file answers 413 / 414 / 431 below that ceiling, parses
 * the query itself (http_query.h says why) and keeps the whole-request deadline, which MHD does
 * not have (its timeout only counts inactivity).
 */
#include "http.h"

#include "addr.h"
#include "buf.h"
#include "herald_err.h"
#include "http_query.h"
#include "list.h"
#include "log.h"

#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* MHD's own timeout, of inactivity: it bounds a client that stops reading an answer. */
#define HTTP_CONNECTION_TIMEOUT_S 30

/* Runs an HTTPS server's MHD may ask for at once (a timeout of 0) with nothing new from the
 * network in between, and the most the runs after those are put off (run_delay says why). */
#define HTTP_SPIN_RUNS 16
#define HTTP_SPIN_DELAY_MAX_MS 16

static const char HTTP_TOO_BIG_BODY[] = "{\"code\":-400,\"message\":\"body too large\"}";
static const char HTTP_URI_TOO_LONG_BODY[] = "{\"code\":-400,\"message\":\"URI too long\"}";
static const char HTTP_HEAD_TOO_BIG_BODY[] =
    "{\"code\":-400,\"message\":\"request headers too large\"}";
static const char HTTP_JSON_FAILED_BODY[] =
    "{\"code\":-500,\"message\":\"reply could not be serialised\"}";

/* One per open connection (MHD's socket context), from MHD's STARTED to its CLOSED
 * notification. While a request is on its way in it sits in server->deadlines, which is in
 * deadline order because every entry gets the same timeout from the time it is appended. */
typedef struct http_conn_s {
    list_link_t link; /* in server->deadlines while armed */
    uint64_t deadline;
    struct MHD_Connection *conn;
} http_conn_t;

/* Owned by the server until the handler is called, then also by the handler: freed when both
 * are done with it, i.e. when MHD reports the request completed (on_completed) and, if the
 * handler was called, it has answered. A request dropped by a server close while the handler
 * still owns it is left to the handler alone: its http_respond frees it. */
struct http_request_s {
    http_server_t *server; /* NULL once dropped */
    struct MHD_Connection *conn;
    list_link_t link; /* in server->suspended while MHD holds the connection suspended */
    const char *method;
    const char *path;
    char *query; /* the raw query string (after '?'), from the URI callback; NULL when none */
    size_t query_len;
    http_kv_t *args; /* query parameters, in args_block with their strings */
    size_t nargs;
    void *args_block;
    http_kv_t *headers; /* headers, in block with their strings, method and path */
    size_t nheaders;
    void *block;
    buf_t body;
    buf_t answer_headers;          /* "name\0value\0" pairs for the answer */
    struct MHD_Response *response; /* answer waiting to be queued on MHD's next call */
    unsigned status;
    unsigned refused; /* 413, 414 or 431 once refused by the adapter */
    int seen;         /* on_access had its first call */
    int dispatched;
    int in_handler;
    int responded;
};

/* Owned by the caller of http_server_new until http_server_close, then freed once its handles
 * are closed. */
struct http_server_s {
    uv_loop_t *loop;
    http_handler_cb handler;
    void *arg;
    http_limits_t limits;
    struct MHD_Daemon *mhd;
    int port;
    uv_poll_t poll; /* MHD's epoll fd; open while mhd != NULL */
    uv_timer_t timer;
    uv_timer_t deadline_timer; /* fires at the first entry of deadlines */
    list_link_t deadlines;     /* http_conn_t whose request is on its way in, oldest first */
    int open_handles;
    int run_pending;
    list_link_t suspended; /* http_request_t waiting for their handler's answer, newest first */
    int closing;
    void (*close_cb)(void *arg);
    void *close_arg;
    http_tls_t tls; /* PEM texts of an HTTPS server; both NULL for plain HTTP */
    unsigned spins; /* runs asked for at once since the network last had news */
};

/* ---------------------------------------------------------------------------- driving MHD */

static void on_timer(uv_timer_t *t);

/* When the next run is due, given MHD's timeout `ms`. MHD (0.9.75 to 0.9.77) answers 0 for as
 * long as a TLS connection waits for its client in the handshake: MHD_run_tls_handshake_ leaves
 * the connection's read-ready flag set on GNUTLS_E_AGAIN, so it stays in MHD's ready list. Taken
 * at its word that spins the loop on a client that sends nothing; and libuv (1.44) runs a 0 ms
 * timer restarted from its own callback again before any I/O or other timer, the request
 * deadline that would end such a handshake included. So on an HTTPS server, after
 * HTTP_SPIN_RUNS runs asked for at once with no news from the network, the next ones back off
 * (1, 2, 4 ... up to HTTP_SPIN_DELAY_MAX_MS ms). Real work MHD has left (a TLS record or a
 * body read in pieces) takes a few runs, and news on a socket (the poll) or an answer to send
 * ends the back-off at once: a handshake goes on as soon as its client sends. A plain HTTP
 * server takes MHD at its word (its ready list empties as reads meet EAGAIN). */
static uint64_t run_delay(http_server_t *s, MHD_UNSIGNED_LONG_LONG ms)
{
    if (ms > 0 || s->tls.cert_pem == NULL) {
        s->spins = 0;
        return ms;
    }
    if (++s->spins <= HTTP_SPIN_RUNS)
        return 0;
    unsigned shift = s->spins - HTTP_SPIN_RUNS - 1;
    return shift >= 4 ? HTTP_SPIN_DELAY_MAX_MS : (1u << shift);
}

/* Points the timer at MHD's next deadline (0 when a run was asked for), or stops it. */
static void server_rearm(http_server_t *s)
{
    MHD_UNSIGNED_LONG_LONG ms;

    if (s->closing)
        return;
    if (s->run_pending)
        uv_timer_start(&s->timer, on_timer, 0, 0);
    else if (MHD_get_timeout(s->mhd, &ms) == MHD_YES)
        uv_timer_start(&s->timer, on_timer, run_delay(s, ms), 0);
    else
        uv_timer_stop(&s->timer);
}

static void server_run(http_server_t *s)
{
    s->run_pending = 0;
    MHD_run(s->mhd);
    server_rearm(s);
}

static void on_timer(uv_timer_t *t)
{
    server_run(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    http_server_t *s = p->data;

    s->spins = 0; /* news from the network */
    server_run(s);
}

/* A resumed connection is picked up only by a run; handlers run inside MHD_run, so never call
 * it from here. */
static void server_schedule_run(http_server_t *s)
{
    s->run_pending = 1;
    s->spins = 0; /* an answer to send is news too */
    if (!s->closing)
        uv_timer_start(&s->timer, on_timer, 0, 0);
}

/* ------------------------------------------------------------------------------- requests */

static void request_free(http_request_t *req)
{
    if (req->response != NULL)
        MHD_destroy_response(req->response);
    buf_deinit(&req->body);
    buf_deinit(&req->answer_headers);
    free(req->query);
    free(req->args_block);
    free(req->block);
    free(req);
}

static http_request_t *request_new(http_server_t *s, struct MHD_Connection *conn)
{
    http_request_t *req = xcalloc(1, sizeof(*req));

    req->server = s;
    req->conn = conn;
    buf_init(&req->body);
    buf_init(&req->answer_headers);
    return req;
}

/* Copying what the handler may read: it must stay valid while the connection is suspended and
 * even after the server dropped it. Two passes (size, then copy) make it one allocation. */
typedef struct capture_s {
    http_kv_t *kv;
    char *str;
    size_t n;
    size_t bytes;
} capture_t;

static char *capture_str(capture_t *c, const char *s)
{
    size_t n = strlen(s) + 1;
    char *out = c->str;

    if (out != NULL) {
        memcpy(out, s, n);
        c->str += n;
    }
    c->bytes += n;
    return out;
}

static enum MHD_Result on_capture_kv(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    capture_t *c = cls;
    const char *name = capture_str(c, key ? key : "");
    const char *val = capture_str(c, value ? value : "");

    if (c->kv != NULL) {
        c->kv[c->n].name = name;
        c->kv[c->n].value = val;
    }
    c->n++;
    return MHD_YES;
}

/* Headers, method and path. Returns 0, or -1 when the query holds a NUL (then nothing of the
 * query is kept). */
static int request_capture(http_request_t *req, const char *method, const char *url)
{
    capture_t c = {0};
    long n;

    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, on_capture_kv, &c);
    capture_str(&c, method);
    capture_str(&c, url);
    req->block = xmalloc(c.n * sizeof(http_kv_t) + c.bytes);
    c.kv = req->block;
    c.str = (char *)(c.kv + c.n);
    c.n = 0;
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, on_capture_kv, &c);
    req->headers = c.kv;
    req->nheaders = c.n;
    req->method = capture_str(&c, method);
    req->path = capture_str(&c, url);
    if (req->query == NULL)
        return 0;
    size_t count = http_query_count(req->query, req->query_len);
    req->args_block = xmalloc(count * sizeof(http_kv_t) + req->query_len + 2 * count);
    req->args = req->args_block;
    n = http_query_parse(req->query, req->query_len, req->args, (char *)(req->args + count));
    if (n < 0) {
        req->nargs = 0;
        return -1;
    }
    req->nargs = (size_t)n;
    return 0;
}

/* The adapter's own refusals, each in goim's reply shape. */
static enum MHD_Result queue_refusal(struct MHD_Connection *conn, unsigned status)
{
    const char *body = status == MHD_HTTP_URI_TOO_LONG                      ? HTTP_URI_TOO_LONG_BODY
                       : status == MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE ? HTTP_HEAD_TOO_BIG_BODY
                                                                            : HTTP_TOO_BIG_BODY;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret;

    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* What the first call of a request, with its head, refuses: 0 or the status. */
static unsigned head_refusal(const http_server_t *s, http_request_t *req)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    const char *cl =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

    if (req->refused)
        return req->refused; /* by the URI callback */
    if (info != NULL && info->header_size > s->limits.max_head)
        return MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE;
    if (cl != NULL && strtoull(cl, NULL, 10) > s->limits.max_body)
        return MHD_HTTP_CONTENT_TOO_LARGE;
    return 0;
}

static enum MHD_Result queue_answer(http_request_t *req)
{
    enum MHD_Result ret = MHD_queue_response(req->conn, req->status, req->response);

    MHD_destroy_response(req->response);
    req->response = NULL;
    return ret;
}

/* ------------------------------------------------------------------------------ deadlines */

static http_conn_t *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return info != NULL ? info->socket_context : NULL;
}

static void deadline_rearm(http_server_t *s);

/* A request is on its way in from now: it must be whole within request_timeout_ms. */
static void deadline_arm(http_server_t *s, http_conn_t *c)
{
    list_unlink(&c->link);
    c->deadline = uv_now(s->loop) + s->limits.request_timeout_ms;
    list_append(&s->deadlines, &c->link);
    deadline_rearm(s);
}

static void deadline_disarm(http_conn_t *c)
{
    list_unlink(&c->link); /* the timer finds out on its next run */
}

/* Closes the sockets of requests that are late. shutdown(2) rather than close: MHD owns the fd;
 * it sees the end of the stream on its next run and closes the connection itself. Nothing is
 * written first: a late keep-alive connection may be idle, and an answer there could be taken
 * by the client as the answer to a request it is sending at that moment. */
static void on_deadline(uv_timer_t *t)
{
    http_server_t *s = t->data;
    uint64_t now = uv_now(s->loop);
    list_link_t *l;
    int cut = 0;

    while ((l = list_first(&s->deadlines)) != NULL) {
        http_conn_t *c = list_entry(l, http_conn_t, link);
        if (c->deadline > now)
            break;
        list_unlink(l);
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (info != NULL)
            shutdown(info->connect_fd, SHUT_RDWR);
        cut++;
    }
    if (cut > 0)
        log_info_rl("http: %d connection(s) closed: request not whole within %u ms", cut,
                    s->limits.request_timeout_ms);
    deadline_rearm(s);
}

static void deadline_rearm(http_server_t *s)
{
    list_link_t *l = list_first(&s->deadlines);

    if (s->closing)
        return;
    if (l == NULL) {
        uv_timer_stop(&s->deadline_timer);
        return;
    }
    uint64_t at = list_entry(l, http_conn_t, link)->deadline, now = uv_now(s->loop);
    uv_timer_start(&s->deadline_timer, on_deadline, at > now ? at - now : 0, 0);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    http_server_t *s = cls;
    http_conn_t *c = *socket_context;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        c = xcalloc(1, sizeof(*c));
        c->conn = conn;
        *socket_context = c;
        deadline_arm(s, c);
        return;
    }
    if (c != NULL) {
        list_unlink(&c->link);
        free(c);
        *socket_context = NULL;
    }
}

/* Called by MHD with the request target before it parses it. The query is taken here and cut
 * off MHD's copy, so that MHD stores no parameter in its pool (http_query.h): MHD keeps the
 * '?' position it found before this call and parses from the byte after it, which is now the
 * end of the string. MHD 0.9.75 to 0.9.77 call this callback before that parsing. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    http_server_t *s = cls;
    http_request_t *req = request_new(s, conn);
    char *q = uri != NULL ? strchr(uri, '?') : NULL;

    if (uri != NULL && strlen(uri) > s->limits.max_head)
        req->refused = MHD_HTTP_URI_TOO_LONG;
    else if (q != NULL) {
        req->query_len = strlen(q + 1);
        req->query = xstrndup(q + 1, req->query_len);
    }
    if (q != NULL)
        q[1] = '\0';
    return req;
}

/* MHD's protocol: a first call with the headers, calls with body pieces, then a final call with
 * *upload_data_size == 0; after a resume the final call is repeated. */
static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    http_server_t *s = cls;
    http_request_t *req = *con_cls;
    http_conn_t *c;

    if (req == NULL) {
        /* Not seen by on_uri (MHD always calls it first): a request without a target. */
        req = request_new(s, conn);
        *con_cls = req;
    }
    if (!req->seen) {
        req->seen = 1;
        req->refused = head_refusal(s, req);
        /* Answered before the body: MHD then discards it and closes the connection. */
        return req->refused ? queue_refusal(conn, req->refused) : MHD_YES;
    }
    if (*upload_data_size != 0) {
        /* Chunked bodies have no length up front: keep consuming, drop what is over the limit. */
        if (!req->refused && req->body.len + *upload_data_size > s->limits.max_body) {
            req->refused = MHD_HTTP_CONTENT_TOO_LARGE;
            buf_deinit(&req->body);
            buf_init(&req->body);
        }
        if (!req->refused)
            buf_append(&req->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->response != NULL)
        return queue_answer(req);
    if (req->refused)
        return queue_refusal(conn, req->refused);
    if (req->dispatched)
        return MHD_NO; /* resumed without an answer: only a server close does that */
    /* The request is whole: what the handler takes is not the client's to hurry. */
    if ((c = conn_of(conn)) != NULL)
        deadline_disarm(c);
    req->dispatched = 1;
    req->in_handler = 1;
    /* Routes read query values as C strings: one holding a NUL (%00) would be cut short there
     * and mean something else than what was sent, so such a request is refused as a whole. */
    if (request_capture(req, method, url) != 0)
        http_respond_reply(req, 400, -400, "query parameters must not contain NUL (%00)", NULL);
    else
        s->handler(req, s->arg);
    req->in_handler = 0;
    if (req->response != NULL)
        return queue_answer(req);
    MHD_suspend_connection(conn);
    list_prepend(&s->suspended, &req->link);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_server_t *s = cls;
    http_request_t *req = *con_cls;
    http_conn_t *c = conn_of(conn);

    /* The next request on this connection (keep-alive) starts its own clock now. */
    if (c != NULL && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && !s->closing)
        deadline_arm(s, c);
    if (req == NULL)
        return;
    *con_cls = NULL;
    if (req->dispatched && !req->responded) {
        /* Only at server close: the handler still owns it and frees it by answering. */
        list_unlink(&req->link); /* no-op unless suspended */
        req->server = NULL;
        req->conn = NULL;
        return;
    }
    request_free(req);
}

void http_respond(http_request_t *req, int status, const char *content_type, const char *body,
                  size_t len)
{
    http_server_t *s = req->server;

    if (req->responded) {
        log_error("http: request answered twice (ignored)");
        return;
    }
    req->responded = 1;
    if (s == NULL) {
        request_free(req); /* dropped by a server close */
        return;
    }
    req->response = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (content_type != NULL)
        MHD_add_response_header(req->response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    for (size_t at = 0; at < req->answer_headers.len;) {
        const char *name = (const char *)req->answer_headers.data + at;
        const char *value = name + strlen(name) + 1;
        MHD_add_response_header(req->response, name, value);
        at += strlen(name) + strlen(value) + 2;
    }
    req->status = (unsigned)status;
    if (req->in_handler)
        return; /* on_access queues it when the handler returns */
    list_unlink(&req->link);
    MHD_resume_connection(req->conn);
    server_schedule_run(s);
}

void http_request_answer_header(http_request_t *req, const char *name, const char *value)
{
    buf_append(&req->answer_headers, name, strlen(name) + 1);
    buf_append(&req->answer_headers, value, strlen(value) + 1);
}

void http_respond_json(http_request_t *req, int status, json_t *json)
{
    /* 15 significant digits: 1.8 reads 1.8, not jansson's default 1.8000000000000000444. */
    char *text = json_dumps(json, JSON_COMPACT | JSON_REAL_PRECISION(15));

    json_decref(json);
    if (text == NULL) {
        log_error("http: json_dumps failed");
        http_respond(req, 500, "application/json", HTTP_JSON_FAILED_BODY,
                     sizeof(HTTP_JSON_FAILED_BODY) - 1);
        return;
    }
    http_respond(req, status, "application/json", text, strlen(text));
    free(text);
}

void http_respond_reply(http_request_t *req, int status, int code, const char *message,
                        json_t *data)
{
    json_t *body = json_pack("{s:i,s:s}", "code", code, "message", message);
    if (data != NULL)
        json_object_set_new(body, "data", data);
    http_respond_json(req, status, body);
}

const char *http_request_method(const http_request_t *req)
{
    return req->method;
}

const char *http_request_path(const http_request_t *req)
{
    return req->path;
}

const char *http_request_query(const http_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->nargs; i++)
        if (strcmp(req->args[i].name, name) == 0)
            return req->args[i].value;
    return NULL;
}

size_t http_request_query_all(const http_request_t *req, const char *name, const char **out,
                              size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < req->nargs; i++) {
        if (strcmp(req->args[i].name, name) != 0)
            continue;
        if (n < max)
            out[n] = req->args[i].value;
        n++;
    }
    return n;
}

const char *http_request_header(const http_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

const char *http_request_body(const http_request_t *req, size_t *len)
{
    *len = req->body.len;
    return req->body.len ? (const char *)req->body.data : NULL;
}

/* --------------------------------------------------------------------------------- server */

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    size_t n;

    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    log_warn_rl("http: %s", line);
}

http_server_t *http_server_new(uv_loop_t *loop, http_handler_cb handler, void *arg,
                               const http_limits_t *limits)
{
    http_server_t *s = xcalloc(1, sizeof(*s));

    s->loop = loop;
    s->handler = handler;
    s->arg = arg;
    s->limits = *limits;
    s->port = -1;
    list_init(&s->suspended);
    list_init(&s->deadlines);
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    uv_timer_init(loop, &s->deadline_timer);
    s->deadline_timer.data = s;
    s->open_handles = 2;
    return s;
}

void http_server_set_tls(http_server_t *s, http_tls_t *tls)
{
    if (tls->cert_pem == NULL)
        return;
    http_tls_deinit(&s->tls);
    s->tls = *tls;
    tls->cert_pem = NULL;
    tls->key_pem = NULL;
}

/* Why MHD_start_daemon failed. MHD reports no error code: a failed bind(2) or listen(2) left
 * it in errno, and for an HTTPS server anything else is GnuTLS refusing the certificate or key
 * (MHD logged GnuTLS's reason through on_mhd_log). */
static int listen_error(const http_server_t *s)
{
    int e = errno;

    if (e == EADDRINUSE || e == EADDRNOTAVAIL || e == EACCES || e == EAFNOSUPPORT || e == EMFILE ||
        e == ENFILE)
        return uv_translate_sys_error(e);
    if (s->tls.cert_pem != NULL)
        return HERALD_ECONF;
    return e > 0 ? uv_translate_sys_error(e) : HERALD_EINTERNAL;
}

int http_server_listen(http_server_t *s, const char *host, int port)
{
    struct sockaddr_storage ss;
    unsigned int flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    const union MHD_DaemonInfo *info;
    /* Options of an HTTPS server; MHD_OPTION_END alone for plain HTTP. */
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls.cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls.key_pem},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)HTTP_TLS_PRIORITIES},
        {MHD_OPTION_END, 0, NULL},
    };
    int rc;

    if (s->mhd != NULL || s->closing)
        return UV_EINVAL;
    if (port < 0 || port > 65535)
        return UV_EINVAL;
    if (addr_numeric(host, port, &ss) != 0)
        return UV_EINVAL;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (s->tls.cert_pem != NULL) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            log_error("http: this libmicrohttpd was built without TLS");
            return HERALD_ECONF;
        }
        flags |= MHD_USE_TLS;
    }
    errno = 0;
    /* The logger goes first so that MHD reports option errors through it too. */
    s->mhd = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_access, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
        MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)HTTP_CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)s->limits.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned int)s->limits.max_per_addr, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(s->limits.max_head + HTTP_POOL_SLACK), MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        s, MHD_OPTION_ARRAY, s->tls.cert_pem != NULL ? tls_opts : tls_opts + 3, MHD_OPTION_END);
    if (s->mhd == NULL)
        return listen_error(s);
    info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : port;
    info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    rc = info ? uv_poll_init(s->loop, &s->poll, info->epoll_fd) : HERALD_EINTERNAL;
    if (rc == 0) {
        s->poll.data = s;
        s->open_handles++;
        rc = uv_poll_start(&s->poll, UV_READABLE, on_poll);
        if (rc == 0) {
            server_rearm(s);
            return 0;
        }
        /* Unwatch the epoll fd before MHD closes it below. */
        uv_close((uv_handle_t *)&s->poll, NULL);
        s->open_handles--;
    }
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    s->port = -1;
    return rc;
}

int http_server_listen_conf(http_server_t *s, const http_tls_conf_t *conf, const char *section,
                            const char *listen_name, const char *host, int port, char *err,
                            size_t errlen)
{
    http_tls_t pem = {0};
    int rc = conf != NULL ? http_tls_load(conf, section, &pem, err, errlen) : 0;

    if (rc != 0)
        return rc;
    int tls = pem.cert_pem != NULL;
    http_server_set_tls(s, &pem);
    rc = http_server_listen(s, host, port);
    if (rc == HERALD_ECONF && tls)
        snprintf(err, errlen,
                 "[%s] tls_cert %s / tls_key %s: refused by the TLS library (is the key the "
                 "first certificate's? the log line before says why)",
                 section, conf->cert, conf->key);
    else if (rc != 0)
        snprintf(err, errlen, "%s %s:%d: %s", listen_name, host, port, herald_strerror(rc));
    return rc;
}

int http_server_port(const http_server_t *s)
{
    return s->port;
}

static void server_maybe_free(http_server_t *s)
{
    void (*cb)(void *) = s->close_cb;
    void *arg = s->close_arg;

    if (s->open_handles != 0)
        return;
    http_tls_deinit(&s->tls);
    free(s);
    if (cb != NULL)
        cb(arg);
}

static void on_timer_closed(uv_handle_t *h)
{
    http_server_t *s = h->data;

    s->open_handles--;
    server_maybe_free(s);
}

/* The daemon is stopped here, not in http_server_close: that may run inside a handler, inside
 * MHD_run, and the epoll fd must leave libuv's watch before MHD closes it. */
static void on_poll_closed(uv_handle_t *h)
{
    http_server_t *s = h->data;

    /* MHD refuses to stop with suspended connections: resume them; stopping then closes them
     * and on_completed drops their requests. */
    LIST_FOREACH(l, &s->suspended)
    {
        MHD_resume_connection(list_entry(l, http_request_t, link)->conn);
    }
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    s->open_handles--;
    server_maybe_free(s);
}

void http_server_close(http_server_t *s, void (*cb)(void *arg), void *arg)
{
    if (s->closing)
        return;
    s->closing = 1;
    s->close_cb = cb;
    s->close_arg = arg;
    if (s->mhd != NULL)
        uv_close((uv_handle_t *)&s->poll, on_poll_closed);
    uv_close((uv_handle_t *)&s->timer, on_timer_closed);
    uv_close((uv_handle_t *)&s->deadline_timer, on_timer_closed);
}

/* ------------------------------------------------------- peer address, an extra header */

int http_request_peer(const http_request_t *req, struct sockaddr_storage *out)
{
    const union MHD_ConnectionInfo *ci =
        req->conn ? MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
        return HERALD_EINVAL;
    memset(out, 0, sizeof(*out));
    memcpy(out, sa, addr_len(sa));
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
        /* A dual-stack listener's IPv4 client: the same client as over plain IPv4. */
        struct sockaddr_in *s4 = (struct sockaddr_in *)out;
        struct in_addr a4;
        memcpy(&a4, &s6->sin6_addr.s6_addr[12], sizeof(a4));
        int port = addr_get_port(sa);
        memset(out, 0, sizeof(*out));
        s4->sin_family = AF_INET;
        s4->sin_addr = a4;
        addr_set_port(out, port);
    }
    return 0;
}

void http_respond_reply_header(http_request_t *req, int status, int code, const char *message,
                               json_t *data, const char *name, const char *value)
{
    /* http_respond leaves the answer in req->response until MHD's next run queues it, and no
     * run happens before this returns (loop thread); a dropped request is freed by it. */
    int alive = req->server != NULL && !req->responded;
    http_respond_reply(req, status, code, message, data);
    if (alive && req->response != NULL)
        MHD_add_response_header(req->response, name, value);
}
