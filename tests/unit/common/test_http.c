/* Unit tests of http.c: a real libmicrohttpd server on 127.0.0.1 driven by the test's loop, and
 * a tiny blocking HTTP/1.1 client on a thread that writes requests byte for byte as given. The
 * client records failures (cmocka asserts only work on the test thread); the test asserts them
 * after joining it. */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "http.h"
#include "test_support.h"
#include "test_http_thread.h"
#include "log.h"

#define MAX_BODY 4096
#define MAX_HEAD (128 * 1024)
#define REQUEST_TIMEOUT_MS 600
#define MAX_PER_ADDR 4

static const http_limits_t limits = {.max_body = MAX_BODY,
                                     .max_head = MAX_HEAD,
                                     .request_timeout_ms = REQUEST_TIMEOUT_MS,
                                     .max_connections = 64,
                                     .max_per_addr = MAX_PER_ADDR};
#define CLIENT_TIMEOUT_S 5

/* ------------------------------------------------------------------- blocking HTTP client */

typedef struct conn_s {
    int fd;
    char buf[32768];
    size_t len;
} conn_t;

typedef struct resp_s {
    int status;
    char head[4096]; /* status line and headers, NUL-terminated */
    char body[16384];
    size_t body_len;
} resp_t;

/* Connects from source address `from` (any 127.x.y.z is this machine's). */
static int conn_open_from(conn_t *c, int port, const char *from)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct sockaddr_in src = {.sin_family = AF_INET};
    struct timeval tv = {.tv_sec = CLIENT_TIMEOUT_S};

    c->len = 0;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    inet_pton(AF_INET, from, &src.sin_addr);
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) != 0)
        return -1;
    return connect(c->fd, (struct sockaddr *)&sa, sizeof(sa));
}

static int conn_open(conn_t *c, int port)
{
    return conn_open_from(c, port, "127.0.0.1");
}

static int conn_send(conn_t *c, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int conn_send_str(conn_t *c, const char *s)
{
    return conn_send(c, s, strlen(s));
}

/* Reads more bytes into c->buf: >0 read, 0 the server closed, <0 error or timeout. */
static ssize_t conn_fill(conn_t *c)
{
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);

    if (n > 0)
        c->len += (size_t)n;
    return n;
}

/* Value of header `name` in r->head copied to out, or NULL. */
static const char *resp_header(const resp_t *r, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);

    for (const char *p = strstr(r->head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1, *end = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            size_t n = end ? (size_t)(end - v) : strlen(v);
            if (n >= outlen)
                n = outlen - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return out;
        }
    }
    return NULL;
}

/* Reads one response (MHD always sends Content-Length for buffer responses). Returns 0; 1 when
 * the server closed the connection before any byte of it; -1 on anything else. */
static int conn_read_response(conn_t *c, resp_t *r)
{
    char *end;
    char cl[32];
    size_t head_len, body_len;
    ssize_t n;

    memset(r, 0, sizeof(*r));
    while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL) {
        n = conn_fill(c);
        if (n <= 0)
            return n == 0 && c->len == 0 ? 1 : -1;
    }
    head_len = (size_t)(end - c->buf) + 2;
    if (head_len >= sizeof(r->head))
        return -1;
    memcpy(r->head, c->buf, head_len);
    if (sscanf(r->head, "HTTP/1.1 %d", &r->status) != 1)
        return -1;
    if (resp_header(r, "Content-Length", cl, sizeof(cl)) == NULL)
        return -1;
    body_len = strtoul(cl, NULL, 10);
    if (body_len > sizeof(r->body))
        return -1;
    while (c->len < head_len + 2 + body_len)
        if (conn_fill(c) <= 0)
            return -1;
    memcpy(r->body, c->buf + head_len + 2, body_len);
    r->body_len = body_len;
    c->len -= head_len + 2 + body_len;
    memmove(c->buf, c->buf + head_len + 2 + body_len, c->len);
    return 0;
}

/* 1 when the server closed the connection (without sending anything more). */
static int conn_closed_by_server(conn_t *c)
{
    return c->len == 0 && conn_fill(c) == 0;
}

static int body_is(const resp_t *r, const char *s)
{
    return r->body_len == strlen(s) && memcmp(r->body, s, r->body_len) == 0;
}

/* ------------------------------------------------------------------------ server fixture */

static uv_loop_t loop;
static uv_timer_t guard;
static int expired;

static void on_guard(uv_timer_t *t)
{
    expired = 1;
}

/* Runs the loop until cond holds or ms pass; the guard repeats once expired so that a
 * UV_RUN_ONCE that ran it first does not then block. */
#define RUN_UNTIL(cond, ms)                                                                        \
    do {                                                                                           \
        expired = 0;                                                                               \
        uv_timer_start(&guard, on_guard, (ms), 1);                                                 \
        while (!(cond) && !expired)                                                                \
            uv_run(&loop, UV_RUN_ONCE);                                                            \
        uv_timer_stop(&guard);                                                                     \
    } while (0)

/* What the handler saw, for the test thread to check. */
typedef struct seen_s {
    int handled;
    char method[16];
    char path[128];
    char operation[16];
    size_t nkeys;
    char keys[4][32];
    size_t nkeys_max2;
    int flag_present;
    int missing_absent;
    char xtest[32];
    int host_present;
    size_t body_len;
} seen_t;

typedef struct fixture_s {
    http_server_t *server;
    int port;
    int closed;
    int client_done;
    test_client_t client;
    seen_t seen;
    http_request_t *held;
} fixture_t;

static fixture_t fx;

typedef struct later_s {
    uv_timer_t timer;
    http_request_t *req;
} later_t;

static void on_later_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_later(uv_timer_t *t)
{
    later_t *l = t->data;

    http_respond(l->req, 202, "text/plain", "late", 4);
    uv_close((uv_handle_t *)&l->timer, on_later_closed);
}

static void copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "(null)");
}

static void on_request(http_request_t *req, void *arg)
{
    const char *path = http_request_path(req);
    const char *keys[8];
    size_t len;
    const char *body = http_request_body(req, &len);
    seen_t *s = &fx.seen;

    assert_ptr_equal(arg, &fx);
    s->handled++;
    copy(s->method, sizeof(s->method), http_request_method(req));
    copy(s->path, sizeof(s->path), path);
    s->body_len = len;
    if (strcmp(path, "/hold") == 0) {
        fx.held = req;
    } else if (strcmp(path, "/async") == 0) {
        later_t *l = calloc(1, sizeof(*l));
        l->req = req;
        l->timer.data = l;
        uv_timer_init(&loop, &l->timer);
        uv_timer_start(&l->timer, on_later, 50, 0);
    } else if (strcmp(path, "/slow") == 0) {
        /* Answered after the request deadline: a handler's time must not count. */
        later_t *l = calloc(1, sizeof(*l));
        l->req = req;
        l->timer.data = l;
        uv_timer_init(&loop, &l->timer);
        uv_timer_start(&l->timer, on_later, 2 * REQUEST_TIMEOUT_MS, 0);
    } else if (strcmp(path, "/header") == 0) {
        http_request_answer_header(req, "X-One", "1");
        http_request_answer_header(req, "X-Two", "two words");
        http_respond(req, 200, "text/plain", "h", 1);
    } else if (strcmp(path, "/echo") == 0) {
        if (body == NULL)
            http_respond(req, 200, "text/plain", "empty", 5);
        else
            http_respond(req, 200, "application/octet-stream", body, len);
    } else {
        copy(s->operation, sizeof(s->operation), http_request_query(req, "operation"));
        s->nkeys = http_request_query_all(req, "keys", keys, 8);
        for (size_t i = 0; i < s->nkeys && i < 4; i++)
            copy(s->keys[i], sizeof(s->keys[i]), keys[i]);
        s->nkeys_max2 = http_request_query_all(req, "keys", keys, 2);
        s->flag_present = http_request_query(req, "flag") != NULL;
        s->missing_absent = http_request_query(req, "missing") == NULL;
        copy(s->xtest, sizeof(s->xtest), http_request_header(req, "x-TEST"));
        s->host_present = http_request_header(req, "host") != NULL;
        http_respond_json(req, 200, json_pack("{s:i,s:s}", "code", 0, "message", "ok"));
    }
}

static void on_client_done(uv_async_t *a)
{
    fx.client_done = 1;
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

static int setup(void **state)
{
    memset(&fx, 0, sizeof(fx));
    log_init("test_http", LOG_INFO);
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &guard);
    uv_async_init(&loop, &fx.client.async, on_client_done);
    fx.server = http_server_new(&loop, on_request, &fx, &limits);
    assert_int_equal(http_server_port(fx.server), -1);
    assert_int_equal(http_server_listen(fx.server, "127.0.0.1", 0), 0);
    fx.port = http_server_port(fx.server);
    assert_true(fx.port > 0);
    return 0;
}

static int teardown(void **state)
{
    if (fx.server != NULL)
        http_server_close(fx.server, on_closed, &fx.closed);
    RUN_UNTIL(fx.closed == 1, 2000);
    assert_int_equal(fx.closed, 1);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_close((uv_handle_t *)&fx.client.async, NULL);
    test_finish_loop(&loop);
    return 0;
}

/* Runs `scenario` on the client thread while the loop serves it. */
static void run_client(test_scenario_fn scenario)
{
    fx.client.port = fx.port;
    fx.client.scenario = scenario;
    fx.client_done = 0;
    assert_int_equal(test_client_start(&fx.client), 0);
    RUN_UNTIL(fx.client_done, 15000);
    assert_int_equal(pthread_join(fx.client.thread, NULL), 0);
    assert_true(fx.client_done);
    if (fx.client.failed != NULL)
        fail_msg("client check failed: %s", fx.client.failed);
}

/* ---------------------------------------------------------------------------------- tests */

static void scenario_get(test_client_t *cl)
{
    conn_t c;
    resp_t r;
    char ct[64];

    CHECK(cl, conn_open(&c, cl->port) == 0);
    CHECK(cl,
          conn_send_str(&c, "GET /goim/push/keys?operation=1000&keys=a&keys=b%2Fc&keys=&"
                            "flag&keys=d HTTP/1.1\r\nHost: test\r\nX-Test: hello\r\n\r\n") == 0);
    CHECK(cl, conn_read_response(&c, &r) == 0);
    CHECK(cl, r.status == 200);
    CHECK(cl, resp_header(&r, "Content-Type", ct, sizeof(ct)) != NULL);
    CHECK(cl, strcmp(ct, "application/json") == 0);
    CHECK(cl, body_is(&r, "{\"code\":0,\"message\":\"ok\"}"));

    /* A NUL inside a query value (or name) is refused before any handler sees it. */
    CHECK(cl, conn_send_str(&c, "GET /goim/push/keys?operation=1000&keys=a%00b HTTP/1.1\r\n"
                                "Host: test\r\n\r\n") == 0);
    CHECK(cl, conn_read_response(&c, &r) == 0);
    CHECK(cl, r.status == 400);
    CHECK(cl, body_is(&r, "{\"code\":-400,\"message\":\"query parameters must not contain NUL "
                          "(%00)\"}"));
    CHECK(cl,
          conn_send_str(&c, "GET /goim/push/keys?op%00x=1 HTTP/1.1\r\nHost: test\r\n\r\n") == 0);
    CHECK(cl, conn_read_response(&c, &r) == 0);
    CHECK(cl, r.status == 400);
    close(c.fd);
}

static void test_get_query(void **state)
{
    seen_t *s = &fx.seen;

    run_client(scenario_get);
    assert_int_equal(s->handled, 1); /* the two requests with a NUL never reached the handler */
    assert_string_equal(s->method, "GET");
    assert_string_equal(s->path, "/goim/push/keys");
    assert_string_equal(s->operation, "1000");
    assert_int_equal(s->nkeys, 4);
    assert_string_equal(s->keys[0], "a");
    assert_string_equal(s->keys[1], "b/c");
    assert_string_equal(s->keys[2], "");
    assert_string_equal(s->keys[3], "d");
    assert_int_equal(s->nkeys_max2, 4);
    assert_true(s->flag_present);
    assert_true(s->missing_absent);
    assert_string_equal(s->xtest, "hello");
    assert_true(s->host_present);
}

static void scenario_post(test_client_t *cl)
{
    static char body[3000];
    char req[256];
    conn_t c;
    resp_t r;

    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (char)(i * 7); /* includes NUL bytes */
    CHECK(cl, conn_open(&c, cl->port) == 0);
    snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n",
             sizeof(body));
    CHECK(cl, conn_send_str(&c, req) == 0);
    CHECK(cl, conn_send(&c, body, sizeof(body)) == 0);
    CHECK(cl, conn_read_response(&c, &r) == 0);
    CHECK(cl, r.status == 200);
    CHECK(cl, r.body_len == sizeof(body) && memcmp(r.body, body, sizeof(body)) == 0);

    /* Chunked upload, same connection. */
    CHECK(cl, conn_send_str(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                                "\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n") == 0);
    CHECK(cl, conn_read_response(&c, &r) == 0);
    CHECK(cl, r.status == 200);
    CHECK(cl, body_is(&r, "hello world"));

    /* No body at all. */
    CHECK(cl,
          conn_send_str(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n") == 0);
    CHECK(cl, conn_read_response(&c, &r) == 0);
    CHECK(cl, body_is(&r, "empty"));
    close(c.fd);
}

static void test_post_body(void **state)
{
    run_client(scenario_post);
    assert_int_equal(fx.seen.handled, 3);
    assert_string_equal(fx.seen.method, "POST");
    assert_int_equal(fx.seen.body_len, 0);
}

static void scenario_keep_alive(test_client_t *cl)
{
    conn_t c;
    resp_t r;
    char v[64];

    CHECK(cl, conn_open(&c, cl->port) == 0);
    /* Answered later from a timer, then at once, on one connection. */
    CHECK(cl, conn_send_str(&c, "GET /async HTTP/1.1\r\nHost: t\r\n\r\n") == 0);
    CHECK(cl, conn_read_response(&c, &r) == 0);
    CHECK(cl, r.status == 202);
    CHECK(cl, body_is(&r, "late"));
    CHECK(cl, resp_header(&r, "Connection", v, sizeof(v)) == NULL || strcasecmp(v, "close") != 0);
    CHECK(cl, conn_send_str(&c, "GET /sync?operation=7 HTTP/1.1\r\nHost: t\r\n\r\n") == 0);
    CHECK(cl, conn_read_response(&c, &r) == 0);
    CHECK(cl, r.status == 200);
    CHECK(cl, body_is(&r, "{\"code\":0,\"message\":\"ok\"}"));

    /* Two requests in one write: answered in order. */
    CHECK(cl,
          conn_send_str(&c, "GET /async HTTP/1.1\r\nHost: t\r\n\r\n"
                            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi") == 0);
    CHECK(cl, conn_read_response(&c, &r) == 0);
    CHECK(cl, body_is(&r, "late"));
    CHECK(cl, conn_read_response(&c, &r) == 0);
    CHECK(cl, body_is(&r, "hi"));
    close(c.fd);
}

static void test_async_keep_alive(void **state)
{
    run_client(scenario_keep_alive);
    assert_int_equal(fx.seen.handled, 4);
    assert_string_equal(fx.seen.operation, "7");
}

static const char TOO_BIG[] = "{\"code\":-400,\"message\":\"body too large\"}";

static void scenario_too_big(test_client_t *cl)
{
    static char body[MAX_BODY + 1];
    char req[256];
    conn_t c;
    resp_t r;

    memset(body, 'x', sizeof(body));

    /* Declared too big: answered before the body, then the connection is closed. */
    CHECK(cl, conn_open(&c, cl->port) == 0);
    snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n",
             sizeof(body));
    CHECK(cl, conn_send_str(&c, req) == 0);
    conn_send(&c, body, sizeof(body)); /* may fail: the server is allowed to hang up */
    CHECK(cl, conn_read_response(&c, &r) == 0);
    CHECK(cl, r.status == 413);
    CHECK(cl, body_is(&r, TOO_BIG));
    CHECK(cl, conn_closed_by_server(&c));
    close(c.fd);

    /* Expect: 100-continue: the client never has to send the body. */
    CHECK(cl, conn_open(&c, cl->port) == 0);
    CHECK(cl, conn_send_str(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 999999\r\n"
                                "Expect: 100-continue\r\n\r\n") == 0);
    CHECK(cl, conn_read_response(&c, &r) == 0);
    CHECK(cl, r.status == 413);
    close(c.fd);

    /* Chunked, so only known too big on the way: consumed, answered, connection kept. */
    CHECK(cl, conn_open(&c, cl->port) == 0);
    CHECK(cl, conn_send_str(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                                "\r\n") == 0);
    for (int i = 0; i < 3; i++) {
        CHECK(cl, conn_send_str(&c, "800\r\n") == 0); /* 2048 bytes */
        CHECK(cl, conn_send(&c, body, 2048) == 0);
        CHECK(cl, conn_send_str(&c, "\r\n") == 0);
    }
    CHECK(cl, conn_send_str(&c, "0\r\n\r\n") == 0);
    CHECK(cl, conn_read_response(&c, &r) == 0);
    CHECK(cl, r.status == 413);
    CHECK(cl, body_is(&r, TOO_BIG));
    CHECK(cl,
          conn_send_str(&c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4096\r\n\r\n") == 0);
    CHECK(cl, conn_send(&c, body, MAX_BODY) == 0); /* exactly the limit is fine */
    CHECK(cl, conn_read_response(&c, &r) == 0);
    CHECK(cl, r.status == 200);
    CHECK(cl, r.body_len == MAX_BODY);
    close(c.fd);
}

static void test_too_big(void **state)
{
    run_client(scenario_too_big);
    assert_int_equal(fx.seen.handled, 1); /* only the request at the limit */
    assert_int_equal(fx.seen.body_len, MAX_BODY);
}

static void scenario_held(test_client_t *cl)
{
    conn_t c, idle;
    resp_t r;

    /* One idle keep-alive connection, one waiting for an answer that never comes. */
    CHECK(cl, conn_open(&idle, cl->port) == 0);
    CHECK(cl, conn_send_str(&idle, "GET /x HTTP/1.1\r\nHost: t\r\n\r\n") == 0);
    CHECK(cl, conn_read_response(&idle, &r) == 0);
    CHECK(cl, conn_open(&c, cl->port) == 0);
    CHECK(cl, conn_send_str(&c, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n") == 0);
    CHECK(cl, conn_read_response(&c, &r) == 1); /* closed without an answer */
    CHECK(cl, conn_closed_by_server(&idle));
    close(c.fd);
    close(idle.fd);
}

static void test_close_with_suspended(void **state)
{
    fx.client.port = fx.port;
    fx.client.scenario = scenario_held;
    assert_int_equal(test_client_start(&fx.client), 0);
    RUN_UNTIL(fx.held != NULL, 5000);
    assert_non_null(fx.held);
    http_server_close(fx.server, on_closed, &fx.closed);
    fx.server = NULL;
    RUN_UNTIL(fx.closed == 1 && fx.client_done, 5000);
    assert_int_equal(pthread_join(fx.client.thread, NULL), 0);
    assert_int_equal(fx.closed, 1);
    assert_true(fx.client_done);
    if (fx.client.failed != NULL)
        fail_msg("client check failed: %s", fx.client.failed);
    /* Dropped but still the handler's: answering now only frees it. */
    assert_string_equal(http_request_path(fx.held), "/hold");
    http_respond(fx.held, 200, "text/plain", "too late", 8);
    fx.held = NULL;
}

/* A request of `n` query parameters "keys=<i>" (and `pad` more bytes in one more parameter);
 * returns its length. */
static size_t many_params(char *out, size_t cap, size_t n, size_t pad)
{
    size_t len = (size_t)snprintf(out, cap, "GET /many?");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, cap - len, "%skeys=%zu", i ? "&" : "", i);
    if (pad > 0) {
        len += (size_t)snprintf(out + len, cap - len, "&pad=");
        memset(out + len, 'p', pad);
        len += pad;
    }
    len += (size_t)snprintf(out + len, cap - len, " HTTP/1.1\r\nHost: t\r\n\r\n");
    return len;
}

static void scenario_many_params(test_client_t *cl)
{
    static char req[4 * MAX_HEAD];
    conn_t c;
    resp_t r;

    /* 500 and 10,000 parameters (the API's documented limit of ids), one connection. */
    CHECK(cl, conn_open(&c, cl->port) == 0);
    CHECK(cl, conn_send(&c, req, many_params(req, sizeof(req), 500, 0)) == 0);
    CHECK(cl, conn_read_response(&c, &r) == 0);
    CHECK(cl, r.status == 200);
    CHECK(cl, conn_send(&c, req, many_params(req, sizeof(req), 10000, 0)) == 0);
    CHECK(cl, conn_read_response(&c, &r) == 0);
    CHECK(cl, r.status == 200);
    close(c.fd);

    /* A target just under max_head made of the smallest parameters ("a&a&..."): 60,000 of
     * them, each of which cost libmicrohttpd a pool record. */
    size_t len = (size_t)snprintf(req, sizeof(req), "GET /many?keys=x");
    while (len < MAX_HEAD - 200)
        len += (size_t)snprintf(req + len, sizeof(req) - len, "&a");
    len += (size_t)snprintf(req + len, sizeof(req) - len, " HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(cl, conn_open(&c, cl->port) == 0);
    CHECK(cl, conn_send(&c, req, len) == 0);
    CHECK(cl, conn_read_response(&c, &r) == 0);
    CHECK(cl, r.status == 200);
    close(c.fd);
}

static void test_many_params(void **state)
{
    run_client(scenario_many_params);
    assert_int_equal(fx.seen.handled, 3);
    assert_int_equal(fx.seen.nkeys, 1); /* the last: keys=x and 60,000 others */
}

static const char URI_TOO_LONG[] = "{\"code\":-400,\"message\":\"URI too long\"}";
static const char HEAD_TOO_BIG[] = "{\"code\":-400,\"message\":\"request headers too large\"}";

static void scenario_head_limits(test_client_t *cl)
{
    static char req[4 * MAX_HEAD];
    conn_t c;
    resp_t r;
    size_t len;

    /* A target over max_head (in parameters or in one value): 414. */
    CHECK(cl, conn_open(&c, cl->port) == 0);
    CHECK(cl, conn_send(&c, req, many_params(req, sizeof(req), 10, MAX_HEAD)) == 0);
    CHECK(cl, conn_read_response(&c, &r) == 0);
    CHECK(cl, r.status == 414);
    CHECK(cl, body_is(&r, URI_TOO_LONG));
    close(c.fd);

    /* One beyond what the pool holds at all: libmicrohttpd's own 414 (a body of its own). */
    CHECK(cl, conn_open(&c, cl->port) == 0);
    conn_send(&c, req, many_params(req, sizeof(req), 10, 2 * MAX_HEAD)); /* may be cut */
    CHECK(cl, conn_read_response(&c, &r) == 0);
    CHECK(cl, r.status == 414);
    close(c.fd);

    /* Headers over max_head, in one header or in many: 431. */
    len = (size_t)snprintf(req, sizeof(req), "GET /x HTTP/1.1\r\nHost: t\r\nX-Big: ");
    memset(req + len, 'b', MAX_HEAD);
    len += MAX_HEAD;
    len += (size_t)snprintf(req + len, sizeof(req) - len, "\r\n\r\n");
    CHECK(cl, conn_open(&c, cl->port) == 0);
    CHECK(cl, conn_send(&c, req, len) == 0);
    CHECK(cl, conn_read_response(&c, &r) == 0);
    CHECK(cl, r.status == 431);
    CHECK(cl, body_is(&r, HEAD_TOO_BIG));
    close(c.fd);
    len = (size_t)snprintf(req, sizeof(req), "GET /x HTTP/1.1\r\nHost: t\r\n");
    for (int i = 0; len < MAX_HEAD + 1000; i++)
        len += (size_t)snprintf(req + len, sizeof(req) - len, "X-%d: v\r\n", i);
    len += (size_t)snprintf(req + len, sizeof(req) - len, "\r\n");
    CHECK(cl, conn_open(&c, cl->port) == 0);
    conn_send(&c, req, len);
    CHECK(cl, conn_read_response(&c, &r) == 0);
    CHECK(cl, r.status == 431);
    close(c.fd);
}

static void test_head_limits(void **state)
{
    run_client(scenario_head_limits);
    assert_int_equal(fx.seen.handled, 0);
}

/* Sends `req` one byte every `gap_ms`; returns the ms until the server closed the connection,
 * or -1 when it never did within `max_ms`. */
static long dribble(conn_t *c, const char *req, int gap_ms, int max_ms)
{
    uint64_t start = test_now_ms();
    struct timeval tv = {.tv_usec = gap_ms * 1000};
    char b;

    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (size_t i = 0; test_now_ms() - start < (uint64_t)max_ms; i++) {
        if (send(c->fd, req + i % strlen(req), 1, MSG_NOSIGNAL) != 1)
            return (long)(test_now_ms() - start);
        ssize_t n = recv(c->fd, &b, 1, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return (long)(test_now_ms() - start);
        if (n > 0)
            return -1; /* an answer to a request that was never whole */
    }
    return -1;
}

static void scenario_deadline(test_client_t *cl)
{
    conn_t slow, fast, idle;
    resp_t r;
    long cut;

    /* A request head dribbled one byte every 50 ms, never finished: cut at the deadline. */
    CHECK(cl, conn_open(&slow, cl->port) == 0);
    cut = dribble(&slow, "GET /x HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 50,
                  5 * REQUEST_TIMEOUT_MS);
    CHECK(cl, cut >= REQUEST_TIMEOUT_MS - 100 && cut <= 3 * REQUEST_TIMEOUT_MS);
    close(slow.fd);

    /* A body dribbled after a complete head: cut too. */
    CHECK(cl, conn_open(&slow, cl->port) == 0);
    CHECK(cl, conn_send_str(&slow, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4000\r\n"
                                   "\r\n") == 0);
    cut = dribble(&slow, "x", 50, 5 * REQUEST_TIMEOUT_MS);
    CHECK(cl, cut >= REQUEST_TIMEOUT_MS - 200 && cut <= 3 * REQUEST_TIMEOUT_MS);
    close(slow.fd);

    /* A handler slower than the deadline still answers; the connection serves another request,
     * then, idle, is closed after the deadline. */
    CHECK(cl, conn_open(&fast, cl->port) == 0);
    CHECK(cl, conn_send_str(&fast, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n") == 0);
    CHECK(cl, conn_read_response(&fast, &r) == 0);
    CHECK(cl, r.status == 202);
    CHECK(cl, conn_send_str(&fast, "GET /x HTTP/1.1\r\nHost: t\r\n\r\n") == 0);
    CHECK(cl, conn_read_response(&fast, &r) == 0);
    CHECK(cl, r.status == 200);
    uint64_t t0 = test_now_ms();
    CHECK(cl, conn_closed_by_server(&fast));
    CHECK(cl, test_now_ms() - t0 <= 3 * REQUEST_TIMEOUT_MS);
    close(fast.fd);

    /* A connection that never sends a byte is cut as well. */
    CHECK(cl, conn_open(&idle, cl->port) == 0);
    t0 = test_now_ms();
    CHECK(cl, conn_closed_by_server(&idle));
    CHECK(cl, test_now_ms() - t0 >= REQUEST_TIMEOUT_MS - 100 &&
                  test_now_ms() - t0 <= 3 * REQUEST_TIMEOUT_MS);
    close(idle.fd);
}

static void test_deadline(void **state)
{
    run_client(scenario_deadline);
    assert_int_equal(fx.seen.handled, 2);
}

static void scenario_per_addr(test_client_t *cl)
{
    conn_t held[MAX_PER_ADDR], extra, other;
    resp_t r;

    /* MAX_PER_ADDR connections from 127.0.0.2, each with a request on its way in. */
    for (int i = 0; i < MAX_PER_ADDR; i++) {
        CHECK(cl, conn_open_from(&held[i], cl->port, "127.0.0.2") == 0);
        CHECK(cl, conn_send_str(&held[i], "GET /x HTTP/1.1\r\n") == 0);
    }
    /* One more from there is closed at once, before it can send anything. */
    CHECK(cl, conn_open_from(&extra, cl->port, "127.0.0.2") == 0);
    uint64_t t0 = test_now_ms();
    conn_send_str(&extra, "GET /x HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(cl, conn_read_response(&extra, &r) != 0);
    CHECK(cl, test_now_ms() - t0 < REQUEST_TIMEOUT_MS / 2);
    close(extra.fd);
    /* Another address is served meanwhile, and so is the first connection once finished. */
    CHECK(cl, conn_open_from(&other, cl->port, "127.0.0.3") == 0);
    CHECK(cl, conn_send_str(&other, "GET /x HTTP/1.1\r\nHost: t\r\n\r\n") == 0);
    CHECK(cl, conn_read_response(&other, &r) == 0);
    CHECK(cl, r.status == 200);
    close(other.fd);
    CHECK(cl, conn_send_str(&held[0], "Host: t\r\n\r\n") == 0);
    CHECK(cl, conn_read_response(&held[0], &r) == 0);
    CHECK(cl, r.status == 200);
    for (int i = 0; i < MAX_PER_ADDR; i++)
        close(held[i].fd);
}

static void test_per_addr(void **state)
{
    run_client(scenario_per_addr);
    assert_int_equal(fx.seen.handled, 2);
}

static void scenario_answer_header(test_client_t *cl)
{
    conn_t c;
    resp_t r;
    char v[64];

    CHECK(cl, conn_open(&c, cl->port) == 0);
    CHECK(cl, conn_send_str(&c, "GET /header HTTP/1.1\r\nHost: t\r\n\r\n") == 0);
    CHECK(cl, conn_read_response(&c, &r) == 0);
    CHECK(cl, r.status == 200);
    CHECK(cl, resp_header(&r, "X-One", v, sizeof(v)) != NULL && strcmp(v, "1") == 0);
    CHECK(cl, resp_header(&r, "X-Two", v, sizeof(v)) != NULL && strcmp(v, "two words") == 0);
    close(c.fd);
}

static void test_answer_header(void **state)
{
    run_client(scenario_answer_header);
    assert_int_equal(fx.seen.handled, 1);
}

static void test_listen_errors(void **state)
{
    http_server_t *other = http_server_new(&loop, on_request, &fx, &limits);

    assert_int_equal(http_server_listen(other, "not an address", 0), UV_EINVAL);
    assert_int_equal(http_server_listen(other, "127.0.0.1", 70000), UV_EINVAL);
    assert_int_equal(http_server_listen(other, "127.0.0.1", fx.port), UV_EADDRINUSE);
    assert_int_equal(http_server_port(other), -1);
    http_server_close(other, on_closed, &fx.closed);
    RUN_UNTIL(fx.closed == 1, 2000);
    assert_int_equal(fx.closed, 1);
    fx.closed = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_query, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_keep_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_suspended, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_per_addr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
