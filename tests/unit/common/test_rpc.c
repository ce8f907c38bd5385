/* Unit tests of the internal RPC (rpc_frame.c, rpc_server.c, rpc_client.c): the frame codec
 * under every split, then a real server and client on 127.0.0.1 in one loop, with raw sockets
 * sending what a well-behaved client never would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "rpc.h"
#include "rpc_auth.h"
#include "test_support.h"
#include "rpc_frame.h"
#include "rpc_methods.h"

/* ---------------------------------------------------------------------------- frame codec */

static void test_header_bounds(void **state)
{
    uint8_t h[RPC_FRAME_HEADER];
    rpc_frame_t f;

    rpc_frame_header_write(h, RPC_ROUTER_GET, RPC_FLAG_REPLY, 0xdeadbeef, 5);
    assert_memory_equal(h, "\x00\x00\x00\x0d\x01\x30\x00\x01\xde\xad\xbe\xef", 12);
    assert_int_equal(rpc_frame_header_read(h, &f), 0);
    assert_int_equal(f.method, RPC_ROUTER_GET);
    assert_int_equal(f.flags, RPC_FLAG_REPLY);
    assert_int_equal(f.call_id, 0xdeadbeef);
    assert_int_equal(f.len, 5);

    /* len counts what follows it: 8 is an empty payload, the maximum is RPC_MAX_FRAME. */
    memcpy(h, "\x00\x00\x00\x08", 4);
    assert_int_equal(rpc_frame_header_read(h, &f), 0);
    assert_int_equal(f.len, 0);
    memcpy(h, "\x01\x00\x00\x00", 4);
    assert_int_equal(rpc_frame_header_read(h, &f), 0);
    assert_int_equal(f.len, RPC_MAX_FRAME - 8);
    memcpy(h, "\x01\x00\x00\x01", 4);
    assert_int_equal(rpc_frame_header_read(h, &f), HERALD_ETOOBIG);
    memcpy(h, "\xff\xff\xff\xff", 4);
    assert_int_equal(rpc_frame_header_read(h, &f), HERALD_ETOOBIG);
    memcpy(h, "\x00\x00\x00\x07", 4);
    assert_int_equal(rpc_frame_header_read(h, &f), HERALD_EPROTO);
    memcpy(h, "\x00\x00\x00\x00", 4);
    assert_int_equal(rpc_frame_header_read(h, &f), HERALD_EPROTO);
    rpc_frame_header_write(h, 1, 3, 1, 0);
    assert_int_equal(rpc_frame_header_read(h, &f), HERALD_EPROTO);
    rpc_frame_header_write(h, 1, 0x8000, 1, 0);
    assert_int_equal(rpc_frame_header_read(h, &f), HERALD_EPROTO);
}

static void test_error_payload(void **state)
{
    rpc_frame_out_t *o = rpc_frame_out_new_error(RPC_ROUTER_PUT, 9, HERALD_ENOTFOUND, "gone");
    rpc_frame_t f;
    const char *text;
    size_t n;

    assert_int_equal(o->size, RPC_FRAME_HEADER + 4 + 4);
    assert_int_equal(rpc_frame_header_read(o->data, &f), 0);
    assert_int_equal(f.flags, RPC_FLAG_ERROR);
    f.payload = o->data + RPC_FRAME_HEADER;
    assert_int_equal(rpc_frame_error_read(&f, &text, &n), HERALD_ENOTFOUND);
    assert_int_equal(n, 4);
    assert_memory_equal(text, "gone", 4);
    free(o);

    /* A short payload or a non-negative code is a protocol error, never success. */
    f.payload = (const uint8_t *)"\x00\x00\x00\x05hi";
    f.len = 6;
    assert_int_equal(rpc_frame_error_read(&f, &text, &n), HERALD_EPROTO);
    f.len = 3;
    assert_int_equal(rpc_frame_error_read(&f, &text, &n), HERALD_EPROTO);
    assert_int_equal(n, 0);

    /* Long messages are cut, NULL is an empty one. */
    char big[RPC_FRAME_ERROR_TEXT_MAX + 100];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    o = rpc_frame_out_new_error(1, 1, HERALD_EINVAL, big);
    assert_int_equal(o->size, RPC_FRAME_HEADER + 4 + RPC_FRAME_ERROR_TEXT_MAX);
    free(o);
    o = rpc_frame_out_new_error(1, 1, HERALD_EINVAL, NULL);
    assert_int_equal(o->size, RPC_FRAME_HEADER + 4);
    free(o);
}

typedef struct frames_s {
    int n;
    uint32_t ids[8];
    uint32_t lens[8];
    int content_ok;
    int stop_after;
} frames_t;

static int on_test_frame(void *arg, const rpc_frame_t *f)
{
    frames_t *g = arg;

    if (g->n < 8) {
        g->ids[g->n] = f->call_id;
        g->lens[g->n] = f->len;
    }
    for (uint32_t i = 0; i < f->len; i++)
        if (f->payload[i] != (uint8_t)(f->call_id + i))
            g->content_ok = 0;
    g->n++;
    return g->stop_after && g->n == g->stop_after ? 5 : 0;
}

/* Three frames, the middle one bigger than the default read buffer. */
static uint8_t *make_stream(size_t *len)
{
    const uint32_t sizes[3] = {0, 3 * RPC_FRAME_READ_BUF / 2 + 7, 10};
    size_t total = 0, off = 0;
    uint8_t *s;

    for (int i = 0; i < 3; i++)
        total += RPC_FRAME_HEADER + sizes[i];
    s = malloc(total);
    for (uint32_t i = 0; i < 3; i++) {
        rpc_frame_header_write(s + off, RPC_ROUTER_PUT, RPC_FLAG_REQUEST, 100 + i, sizes[i]);
        off += RPC_FRAME_HEADER;
        for (uint32_t j = 0; j < sizes[i]; j++)
            s[off + j] = (uint8_t)(100 + i + j);
        off += sizes[i];
    }
    *len = total;
    return s;
}

static void feed_in_pieces(size_t piece)
{
    rpc_frame_reader_t r;
    frames_t g = {.content_ok = 1};
    size_t len, off = 0;
    uint8_t *s = make_stream(&len);
    uv_buf_t b;

    rpc_frame_reader_init(&r);
    while (off < len) {
        rpc_frame_reader_alloc(&r, &b);
        assert_true(b.len > 0);
        size_t n = len - off < piece ? len - off : piece;
        if (n > b.len)
            n = b.len;
        memcpy(b.base, s + off, n);
        off += n;
        assert_int_equal(rpc_frame_reader_feed(&r, n, on_test_frame, &g), 0);
        /* Never more than one frame's worth of memory. */
        assert_true(r.cap <= RPC_FRAME_HEADER + 3 * RPC_FRAME_READ_BUF / 2 + 7);
    }
    assert_int_equal(g.n, 3);
    assert_true(g.content_ok);
    assert_int_equal(g.ids[0], 100);
    assert_int_equal(g.ids[2], 102);
    assert_int_equal(g.lens[1], 3 * RPC_FRAME_READ_BUF / 2 + 7);
    assert_int_equal(r.len, 0);
    assert_int_equal(r.cap, RPC_FRAME_READ_BUF); /* shrunk back after the big frame */
    rpc_frame_reader_deinit(&r);
    free(s);
}

static void test_reader_splits(void **state)
{
    feed_in_pieces(1);
    feed_in_pieces(7);
    feed_in_pieces(RPC_FRAME_HEADER);
    feed_in_pieces(4096);
    feed_in_pieces(1u << 20);
}

static void test_reader_errors(void **state)
{
    rpc_frame_reader_t r;
    frames_t g = {.content_ok = 1};
    uv_buf_t b;

    /* A bad header is reported whatever precedes it in the same read. */
    rpc_frame_reader_init(&r);
    rpc_frame_reader_alloc(&r, &b);
    rpc_frame_header_write((uint8_t *)b.base, 1, RPC_FLAG_REQUEST, 1, 0);
    memcpy(b.base + RPC_FRAME_HEADER, "\x01\x00\x00\x01\x00\x01\x00\x00\x00\x00\x00\x01", 12);
    assert_int_equal(rpc_frame_reader_feed(&r, 24, on_test_frame, &g), HERALD_ETOOBIG);
    assert_int_equal(g.n, 1);
    rpc_frame_reader_deinit(&r);

    /* A truncated header is just incomplete. */
    g.n = 0;
    rpc_frame_reader_alloc(&r, &b);
    memcpy(b.base, "\x00\x00\x00", 3);
    assert_int_equal(rpc_frame_reader_feed(&r, 3, on_test_frame, &g), 0);
    rpc_frame_reader_alloc(&r, &b);
    memcpy(b.base, "\x02", 1);
    assert_int_equal(rpc_frame_reader_feed(&r, 1, on_test_frame, &g), 0);
    rpc_frame_reader_alloc(&r, &b);
    memcpy(b.base, "\x00\x01\x00\x00", 4);
    assert_int_equal(rpc_frame_reader_feed(&r, 4, on_test_frame, &g), 0);
    rpc_frame_reader_alloc(&r, &b);
    memcpy(b.base, "\x00\x00\x00\x01", 4);
    assert_int_equal(rpc_frame_reader_feed(&r, 4, on_test_frame, &g), HERALD_EPROTO);
    assert_int_equal(g.n, 0);
    rpc_frame_reader_deinit(&r);

    /* The callback's stop value comes back and later frames are not delivered. */
    g.n = 0;
    g.stop_after = 1;
    rpc_frame_reader_alloc(&r, &b);
    rpc_frame_header_write((uint8_t *)b.base, 1, RPC_FLAG_REQUEST, 1, 0);
    rpc_frame_header_write((uint8_t *)b.base + 12, 1, RPC_FLAG_REQUEST, 2, 0);
    assert_int_equal(rpc_frame_reader_feed(&r, 24, on_test_frame, &g), 5);
    assert_int_equal(g.n, 1);
    rpc_frame_reader_deinit(&r);
}

/* ------------------------------------------------------------------------------ loop tools */

static uv_loop_t loop;
static uv_timer_t guard;
static int expired;

static void on_guard(uv_timer_t *t)
{
    expired = 1;
}

/* The guard repeats once expired: a UV_RUN_ONCE that ran it first must not then block. */
static void guard_start(uint64_t ms)
{
    expired = 0;
    uv_timer_start(&guard, on_guard, ms, 1);
}

/* Runs the loop until cond holds or ms pass; the caller asserts cond. */
#define RUN_UNTIL(cond, ms)                                                                        \
    do {                                                                                           \
        guard_start(ms);                                                                           \
        while (!(cond) && !expired)                                                                \
            uv_run(&loop, UV_RUN_ONCE);                                                            \
        uv_timer_stop(&guard);                                                                     \
    } while (0)

/* ------------------------------------------------------------------------- server fixture */

/* Special mids understood by the test server's Get handler. */
#define MID_HOLD (-3)  /* kept unanswered in fx.held */
#define MID_ERROR (-2) /* answered with HERALD_ENOTFOUND */
#define MID_ASYNC (-1) /* answered 30 ms later from a timer */
#define MAX_HELD 8

typedef struct fixture_s {
    rpc_server_t *server;
    rpc_client_t *client;
    int port;
    int handled;
    rpc_call_t *held[MAX_HELD];
    int nheld;
    int server_closed;
    int client_closed;
    int replies;      /* client callbacks run */
    int in_api;       /* set around rpc_client_call / rpc_client_close */
    int reentrant_cb; /* callbacks run inside those: must stay 0 */
} fixture_t;

static fixture_t fx;

static void reply_get(rpc_call_t *call, const int64_t *mids, size_t n)
{
    Herald__GetReply reply = HERALD__GET_REPLY__INIT;
    Herald__Placement *pl = calloc(n ? n : 1, sizeof(*pl));
    Herald__Placement **pp = calloc(n ? n : 1, sizeof(*pp));
    char(*keys)[24] = calloc(n ? n : 1, sizeof(*keys));

    for (size_t i = 0; i < n; i++) {
        herald__placement__init(&pl[i]);
        pl[i].mid = mids[i];
        snprintf(keys[i], sizeof(keys[i]), "k%lld", (long long)mids[i]);
        pl[i].key = keys[i];
        pl[i].server = "comet-1";
        pp[i] = &pl[i];
    }
    reply.n_placements = n;
    reply.placements = pp;
    rpc_reply(call, (const ProtobufCMessage *)&reply);
    free(pl);
    free(pp);
    free(keys);
}

typedef struct async_reply_s {
    uv_timer_t timer;
    rpc_call_t *call;
} async_reply_t;

static void on_async_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_async_timer(uv_timer_t *t)
{
    async_reply_t *a = t->data;
    int64_t mid = MID_ASYNC;

    reply_get(a->call, &mid, 1);
    uv_close((uv_handle_t *)&a->timer, on_async_closed);
}

static void on_get(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    const Herald__GetReq *req = (const Herald__GetReq *)msg;

    assert_ptr_equal(arg, &fx);
    fx.handled++;
    if (req->n_mids == 1 && req->mids[0] == MID_HOLD && fx.nheld < MAX_HELD) {
        fx.held[fx.nheld++] = call;
    } else if (req->n_mids == 1 && req->mids[0] == MID_ERROR) {
        rpc_reply_error(call, HERALD_ENOTFOUND, "no such user");
    } else if (req->n_mids == 1 && req->mids[0] == MID_ASYNC) {
        async_reply_t *a = calloc(1, sizeof(*a));
        a->call = call;
        a->timer.data = a;
        uv_timer_init(&loop, &a->timer);
        uv_timer_start(&a->timer, on_async_timer, 30, 0);
    } else {
        reply_get(call, req->mids, req->n_mids);
    }
}

static void on_count(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    Herald__CountReply reply = HERALD__COUNT_REPLY__INIT;

    fx.handled++;
    reply.users = fx.handled;
    reply.conns = 42;
    assert_non_null(strstr(rpc_call_peer(call), "127.0.0.1:"));
    rpc_reply(call, (const ProtobufCMessage *)&reply);
}

static const rpc_method_t methods[] = {
    {RPC_ROUTER_GET, &herald__get_req__descriptor, on_get},
    {RPC_ROUTER_COUNT, &herald__count_req__descriptor, on_count},
};

static void on_server_closed(void *arg)
{
    (*(int *)arg)++;
}

static void on_client_closed(void *arg)
{
    (*(int *)arg)++;
}

static rpc_server_t *start_server(int port)
{
    rpc_server_t *s = rpc_server_new(&loop, methods, 2, &fx);

    assert_int_equal(rpc_server_listen(s, "127.0.0.1", port), 0);
    assert_true(rpc_server_port(s) > 0);
    return s;
}

static int setup(void **state)
{
    memset(&fx, 0, sizeof(fx));
    log_init("test_rpc", LOG_INFO);
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &guard);
    fx.server = start_server(0);
    fx.port = rpc_server_port(fx.server);
    fx.client = rpc_client_new(&loop, "test 127.0.0.1", "127.0.0.1", fx.port);
    assert_string_equal(rpc_client_name(fx.client), "test 127.0.0.1");
    RUN_UNTIL(rpc_client_connected(fx.client), 2000);
    assert_true(rpc_client_connected(fx.client));
    return 0;
}

static int teardown(void **state)
{
    /* Calls still held by the server are answered into the void. */
    for (int i = 0; i < fx.nheld; i++)
        rpc_reply_error(fx.held[i], HERALD_EUNAVAIL, "test over");
    fx.nheld = 0;
    if (fx.client != NULL)
        rpc_client_close(fx.client, on_client_closed, &fx.client_closed);
    else
        fx.client_closed = 1;
    if (fx.server != NULL)
        rpc_server_close(fx.server, on_server_closed, &fx.server_closed);
    else
        fx.server_closed = 1;
    RUN_UNTIL(fx.client_closed && fx.server_closed, 3000);
    assert_true(fx.client_closed && fx.server_closed);
    uv_close((uv_handle_t *)&guard, NULL);
    test_finish_loop(&loop);
    assert_int_equal(fx.reentrant_cb, 0);
    return 0;
}

/* ------------------------------------------------------------------------- client helpers */

typedef struct result_s {
    int calls;
    int status;
    int ok;       /* reply matched the request */
    int64_t mid0; /* first mid asked */
    size_t n;     /* mids asked */
    uint64_t at;  /* uv_now when the callback ran */
    int order;    /* fx.replies when it ran */
} result_t;

static void on_get_reply(int status, const ProtobufCMessage *msg, void *arg)
{
    result_t *r = arg;
    const Herald__GetReply *rep = (const Herald__GetReply *)msg;
    char key[24];

    if (fx.in_api)
        fx.reentrant_cb++;
    r->calls++;
    r->status = status;
    r->at = uv_now(&loop);
    r->order = fx.replies++;
    if (status != 0) {
        r->ok = msg == NULL;
        return;
    }
    r->ok = rep->n_placements == r->n;
    for (size_t i = 0; r->ok && i < r->n; i++) {
        snprintf(key, sizeof(key), "k%lld", (long long)(r->mid0 + (int64_t)i));
        r->ok = rep->placements[i]->mid == r->mid0 + (int64_t)i &&
                strcmp(rep->placements[i]->key, key) == 0 &&
                strcmp(rep->placements[i]->server, "comet-1") == 0;
    }
}

/* Asks for mids mid0 .. mid0 + n - 1. */
static int call_get(rpc_client_t *c, result_t *r, int64_t mid0, size_t n, uint32_t timeout_ms)
{
    Herald__GetReq req = HERALD__GET_REQ__INIT;
    int64_t *mids = calloc(n ? n : 1, sizeof(*mids));
    int rc;

    for (size_t i = 0; i < n; i++)
        mids[i] = mid0 + (int64_t)i;
    req.n_mids = n;
    req.mids = mids;
    r->mid0 = mid0;
    r->n = n;
    fx.in_api = 1;
    rc = rpc_client_call(c, RPC_ROUTER_GET, (const ProtobufCMessage *)&req,
                         &herald__get_reply__descriptor, timeout_ms, on_get_reply, r);
    fx.in_api = 0;
    free(mids);
    return rc;
}

typedef struct count_result_s {
    int calls;
    int status;
    int64_t conns;
} count_result_t;

static void on_count_reply(int status, const ProtobufCMessage *msg, void *arg)
{
    count_result_t *r = arg;

    if (fx.in_api)
        fx.reentrant_cb++;
    r->calls++;
    r->status = status;
    r->conns = status == 0 ? ((const Herald__CountReply *)msg)->conns : -1;
    fx.replies++;
}

static int call_count(uint16_t method, count_result_t *r)
{
    Herald__CountReq req = HERALD__COUNT_REQ__INIT;
    int rc;

    fx.in_api = 1;
    rc = rpc_client_call(fx.client, method, (const ProtobufCMessage *)&req,
                         &herald__count_reply__descriptor, 2000, on_count_reply, r);
    fx.in_api = 0;
    return rc;
}

/* ---------------------------------------------------------------------------------- tests */

#define PIPELINED 1000

static void test_pipelined(void **state)
{
    static result_t res[PIPELINED];
    count_result_t counts[10] = {0};

    memset(res, 0, sizeof(res));
    for (int i = 0; i < PIPELINED; i++) {
        assert_int_equal(call_get(fx.client, &res[i], i * 10, 1 + i % 3, 5000), 0);
        if (i % 100 == 0)
            assert_int_equal(call_count(RPC_ROUTER_COUNT, &counts[i / 100]), 0);
    }
    RUN_UNTIL(fx.replies == PIPELINED + 10, 10000);
    assert_int_equal(fx.replies, PIPELINED + 10);
    for (int i = 0; i < PIPELINED; i++) {
        assert_int_equal(res[i].calls, 1);
        assert_int_equal(res[i].status, 0);
        assert_true(res[i].ok);
    }
    for (int i = 0; i < 10; i++) {
        assert_int_equal(counts[i].calls, 1);
        assert_int_equal(counts[i].status, 0);
        assert_int_equal(counts[i].conns, 42);
    }
    assert_int_equal(fx.handled, PIPELINED + 10);
}

static void test_async_error_unknown(void **state)
{
    result_t async = {0}, err = {0}, empty = {0};
    count_result_t unknown = {0};

    assert_int_equal(call_get(fx.client, &async, MID_ASYNC, 1, 2000), 0);
    assert_int_equal(call_get(fx.client, &err, MID_ERROR, 1, 2000), 0);
    assert_int_equal(call_get(fx.client, &empty, 0, 0, 2000), 0);
    assert_int_equal(call_count(999, &unknown), 0);
    RUN_UNTIL(fx.replies == 4, 3000);
    assert_int_equal(fx.replies, 4);
    assert_int_equal(async.calls, 1);
    assert_int_equal(async.status, 0);
    assert_true(async.ok);
    /* Answered from a timer: after the calls made later but answered at once. */
    assert_int_equal(async.order, 3);
    assert_int_equal(err.status, HERALD_ENOTFOUND);
    assert_true(err.ok);
    assert_int_equal(empty.status, 0);
    assert_true(empty.ok);
    assert_int_equal(unknown.calls, 1);
    assert_int_equal(unknown.status, HERALD_EINVAL);
}

static void test_timeout(void **state)
{
    result_t slow = {0}, fast = {0}, none = {0}, after = {0};
    uint64_t t0 = uv_now(&loop);

    /* Deadlines out of call order: the one timer follows the earliest. */
    assert_int_equal(call_get(fx.client, &slow, MID_HOLD, 1, 400), 0);
    assert_int_equal(call_get(fx.client, &none, MID_HOLD, 1, 0), 0);
    assert_int_equal(call_get(fx.client, &fast, MID_HOLD, 1, 100), 0);
    RUN_UNTIL(fx.replies == 2, 3000);
    assert_int_equal(fast.calls, 1);
    assert_int_equal(fast.status, UV_ETIMEDOUT);
    assert_int_equal(fast.order, 0);
    assert_true(fast.at - t0 >= 100 && fast.at - t0 < 1000);
    assert_int_equal(slow.calls, 1);
    assert_int_equal(slow.status, UV_ETIMEDOUT);
    assert_true(slow.at - t0 >= 400 && slow.at - t0 < 1500);
    assert_int_equal(none.calls, 0);

    /* Late replies to timed-out calls are dropped; the connection carries on. */
    assert_int_equal(fx.nheld, 3);
    reply_get(fx.held[0], NULL, 0);
    reply_get(fx.held[2], NULL, 0);
    fx.held[0] = fx.held[1];
    fx.nheld = 1;
    assert_int_equal(call_get(fx.client, &after, 7, 2, 1000), 0);
    RUN_UNTIL(after.calls == 1, 2000);
    assert_int_equal(after.status, 0);
    assert_true(after.ok);
    assert_true(rpc_client_connected(fx.client));
    assert_int_equal(slow.calls + fast.calls + none.calls, 2);

    /* The call without deadline is answered whenever the server gets to it. */
    reply_get(fx.held[0], &(int64_t){MID_HOLD}, 1);
    fx.nheld = 0;
    RUN_UNTIL(none.calls == 1, 2000);
    assert_int_equal(none.status, 0);
    assert_true(none.ok);
}

static void test_server_gone_and_back(void **state)
{
    result_t held = {0}, refused = {0}, back = {0};

    assert_int_equal(call_get(fx.client, &held, MID_HOLD, 1, 0), 0);
    RUN_UNTIL(fx.nheld == 1, 2000);
    assert_int_equal(fx.nheld, 1);

    rpc_server_close(fx.server, on_server_closed, &fx.server_closed);
    fx.server = NULL;
    RUN_UNTIL(held.calls == 1 && fx.server_closed, 2000);
    assert_int_equal(held.calls, 1);
    assert_int_equal(held.status, UV_ECONNRESET);
    assert_true(fx.server_closed);
    assert_false(rpc_client_connected(fx.client));

    /* The handler answers after its server and connection are gone: freed silently. */
    rpc_reply_error(fx.held[0], HERALD_EINTERNAL, "too late");
    fx.nheld = 0;

    /* Not connected: refused at once, and no callback ever. */
    assert_int_equal(call_get(fx.client, &refused, 1, 1, 100), UV_ENOTCONN);
    RUN_UNTIL(0, 300);
    assert_int_equal(refused.calls, 0);

    /* Same port again: the client finds it within its backoff. */
    fx.server_closed = 0;
    fx.server = start_server(fx.port);
    assert_int_equal(rpc_server_port(fx.server), fx.port);
    RUN_UNTIL(rpc_client_connected(fx.client), 6000);
    assert_true(rpc_client_connected(fx.client));
    assert_int_equal(call_get(fx.client, &back, 11, 3, 1000), 0);
    RUN_UNTIL(back.calls == 1, 2000);
    assert_int_equal(back.status, 0);
    assert_true(back.ok);
    assert_int_equal(held.calls, 1);
    assert_int_equal(refused.calls, 0);
}

/* A client deep in its backoff dials again at once when told the peer is back. */
static void test_redial(void **state)
{
    rpc_server_close(fx.server, on_server_closed, &fx.server_closed);
    fx.server = NULL;
    RUN_UNTIL(fx.server_closed, 2000);
    RUN_UNTIL(0, 1700); /* attempts after 0.1, 0.3, 0.7, 1.5 s: the next one is at 3.1 s */
    fx.server_closed = 0;
    fx.server = start_server(fx.port);
    assert_int_equal(rpc_server_port(fx.server), fx.port);
    RUN_UNTIL(0, 200);
    assert_false(rpc_client_connected(fx.client)); /* still waiting out its backoff */
    rpc_client_redial(fx.client);
    RUN_UNTIL(rpc_client_connected(fx.client), 500);
    assert_true(rpc_client_connected(fx.client));
    rpc_client_redial(fx.client); /* connected: nothing happens */
    assert_true(rpc_client_connected(fx.client));
}

static void test_close_with_calls_in_flight(void **state)
{
    result_t r[5] = {{0}};

    for (int i = 0; i < 3; i++)
        assert_int_equal(call_get(fx.client, &r[i], MID_HOLD, 1, 0), 0);
    RUN_UNTIL(fx.nheld == 3, 2000);
    assert_int_equal(call_get(fx.client, &r[3], 1, 1, 1000), 0);
    assert_int_equal(call_get(fx.client, &r[4], MID_ASYNC, 1, 1000), 0);
    fx.in_api = 1;
    rpc_client_close(fx.client, on_client_closed, &fx.client_closed);
    fx.in_api = 0;
    fx.client = NULL;
    RUN_UNTIL(fx.client_closed, 2000);
    assert_true(fx.client_closed);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].status, UV_ECANCELED);
    }
    /* Let the async reply go out to the closed connection before teardown. */
    RUN_UNTIL(0, 100);
}

static void test_not_connected(void **state)
{
    /* A port nobody listens on: the one from a closed server. */
    rpc_client_t *c;
    result_t r = {0};
    int closed = 0;

    rpc_server_close(fx.server, on_server_closed, &fx.server_closed);
    fx.server = NULL;
    RUN_UNTIL(fx.server_closed, 2000);
    c = rpc_client_new(&loop, "nobody", "127.0.0.1", fx.port);
    assert_false(rpc_client_connected(c));
    assert_int_equal(call_get(c, &r, 1, 1, 100), UV_ENOTCONN);
    RUN_UNTIL(0, 400); /* several failed attempts, logged once */
    assert_int_equal(r.calls, 0);
    assert_false(rpc_client_connected(c));
    rpc_client_close(c, on_client_closed, &closed);
    RUN_UNTIL(closed, 2000);
    assert_true(closed);
}

static void test_resolved_name(void **state)
{
    rpc_client_t *c = rpc_client_new(&loop, "by name", "localhost", fx.port);
    result_t r = {0};
    int closed = 0;

    RUN_UNTIL(rpc_client_connected(c), 3000);
    assert_true(rpc_client_connected(c));
    assert_int_equal(call_get(c, &r, 5, 1, 1000), 0);
    RUN_UNTIL(r.calls == 1, 2000);
    assert_int_equal(r.status, 0);
    assert_true(r.ok);

    /* Closing while a name is being resolved waits for the resolver. */
    rpc_client_close(c, on_client_closed, &closed);
    c = rpc_client_new(&loop, "closing", "localhost", fx.port);
    rpc_client_close(c, on_client_closed, &closed);
    RUN_UNTIL(closed == 2, 2000);
    assert_int_equal(closed, 2);
}

static void test_big_frames(void **state)
{
    enum { N = 40000 };
    result_t r = {0};
    Herald__GetReq req = HERALD__GET_REQ__INIT;
    int64_t *mids;

    /* ~200 KiB request, ~1 MiB reply: both read buffers grow past their default. */
    assert_int_equal(call_get(fx.client, &r, 1000000, N, 5000), 0);
    RUN_UNTIL(r.calls == 1, 5000);
    assert_int_equal(r.status, 0);
    assert_true(r.ok);

    /* Over RPC_MAX_FRAME: refused before anything is sent, no callback. */
    req.n_mids = RPC_MAX_FRAME / 9 + 1;
    mids = malloc(req.n_mids * sizeof(*mids));
    for (size_t i = 0; i < req.n_mids; i++)
        mids[i] = INT64_C(1) << 62;
    req.mids = mids;
    assert_int_equal(rpc_client_call(fx.client, RPC_ROUTER_GET, (const ProtobufCMessage *)&req,
                                     &herald__get_reply__descriptor, 1000, on_get_reply, &r),
                     UV_EMSGSIZE);
    free(mids);
    RUN_UNTIL(0, 50);
    assert_int_equal(r.calls, 1);
    assert_true(rpc_client_connected(fx.client));
}

/* --------------------------------------------------------------------- raw socket abusers */

typedef struct raw_s {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    uint8_t out[128];
    uint8_t in[4096];
    size_t nin;
    int connected;
    int eof;
    int closed;
} raw_t;

static void on_raw_connect(uv_connect_t *req, int status)
{
    raw_t *r = req->data;

    r->connected = status == 0 ? 1 : -1;
}

static void on_raw_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    raw_t *r = h->data;

    *buf = uv_buf_init((char *)r->in + r->nin, (unsigned)(sizeof(r->in) - r->nin));
}

static void on_raw_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    raw_t *r = s->data;

    if (nread < 0)
        r->eof = 1;
    else
        r->nin += (size_t)nread;
}

static void on_raw_closed(uv_handle_t *h)
{
    ((raw_t *)h->data)->closed = 1;
}

static void raw_open(raw_t *r, int port)
{
    struct sockaddr_in sa;

    memset(r, 0, sizeof(*r));
    uv_ip4_addr("127.0.0.1", port, &sa);
    uv_tcp_init(&loop, &r->tcp);
    r->tcp.data = r;
    r->creq.data = r;
    assert_int_equal(uv_tcp_connect(&r->creq, &r->tcp, (struct sockaddr *)&sa, on_raw_connect), 0);
    RUN_UNTIL(r->connected, 2000);
    assert_int_equal(r->connected, 1);
    assert_int_equal(uv_read_start((uv_stream_t *)&r->tcp, on_raw_alloc, on_raw_read), 0);
}

static void raw_send(raw_t *r, const void *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)r->out, (unsigned)len);

    assert_true(len <= sizeof(r->out));
    memcpy(r->out, data, len);
    assert_int_equal(uv_write(&r->wreq, (uv_stream_t *)&r->tcp, &b, 1, NULL), 0);
}

/* Runs the client side of the handshake with `secret` over a raw socket. Returns RPC_AUTH_DONE
 * (then r->nin is 0 again: the frames start), HERALD_EAUTH, or UV_EOF when the server hung up. */
static int raw_handshake(raw_t *r, const char *secret)
{
    rpc_auth_key_t k;
    rpc_auth_t a;
    uint8_t out[RPC_AUTH_MSG_MAX];
    size_t n, room, off = 0;
    int rc = RPC_AUTH_MORE;

    assert_int_equal(rpc_auth_key_init(&k, secret, strlen(secret)), 0);
    rpc_auth_start(&a, RPC_AUTH_CLIENT, &k, NULL);
    while (rc == RPC_AUTH_MORE) {
        uint8_t *p = rpc_auth_space(&a, &room);

        RUN_UNTIL(r->nin >= off + room || r->eof, 2000);
        if (r->nin < off + room)
            return UV_EOF;
        memcpy(p, r->in + off, room);
        off += room;
        rc = rpc_auth_received(&a, room, out, &n);
        if (rc >= 0 && n != 0) {
            raw_send(r, out, n);
            RUN_UNTIL(0, 1); /* the write completes before out is reused */
        }
    }
    if (rc == RPC_AUTH_DONE) {
        assert_int_equal(r->nin, off);
        r->nin = 0;
    }
    return rc;
}

/* raw_open, then the handshake with the right secret. */
static void raw_open_authed(raw_t *r, int port)
{
    raw_open(r, port);
    assert_int_equal(raw_handshake(r, TEST_RPC_SECRET), RPC_AUTH_DONE);
}

static void raw_close(raw_t *r)
{
    uv_close((uv_handle_t *)&r->tcp, on_raw_closed);
    RUN_UNTIL(r->closed, 1000);
    assert_true(r->closed);
}

/* Sends a header (and payload), expects the server to hang up without answering. */
static void expect_hangup(uint32_t len_field, uint16_t flags, const void *payload, size_t plen)
{
    raw_t r;
    uint8_t frame[64];

    raw_open_authed(&r, fx.port);
    rpc_frame_header_write(frame, RPC_ROUTER_GET, flags, 77, 0);
    frame[0] = (uint8_t)(len_field >> 24);
    frame[1] = (uint8_t)(len_field >> 16);
    frame[2] = (uint8_t)(len_field >> 8);
    frame[3] = (uint8_t)len_field;
    memcpy(frame + RPC_FRAME_HEADER, payload, plen);
    raw_send(&r, frame, RPC_FRAME_HEADER + plen);
    RUN_UNTIL(r.eof, 2000);
    assert_true(r.eof);
    assert_int_equal(r.nin, 0);
    raw_close(&r);
}

static void test_bad_frames(void **state)
{
    raw_t r;
    rpc_frame_t f;
    const char *text;
    size_t n;
    result_t ok = {0};
    uint8_t frame[64];
    Herald__GetReq req = HERALD__GET_REQ__INIT;
    int64_t mid = 9;

    expect_hangup(RPC_MAX_FRAME + 1, RPC_FLAG_REQUEST, "", 0); /* oversize */
    expect_hangup(0xffffffffu, RPC_FLAG_REQUEST, "", 0);
    expect_hangup(4, RPC_FLAG_REQUEST, "", 0);           /* shorter than its own fields */
    expect_hangup(8, 9, "", 0);                          /* unknown flag */
    expect_hangup(8 + 2, RPC_FLAG_REPLY, "\x08\x01", 2); /* a reply sent to a server */

    /* A well-framed but garbled request is answered with an error; the connection stays. */
    raw_open_authed(&r, fx.port);
    rpc_frame_header_write(frame, RPC_ROUTER_GET, RPC_FLAG_REQUEST, 5, 3);
    memcpy(frame + RPC_FRAME_HEADER, "\x0a\xff\xff", 3); /* field 1 length-delimited, bad len */
    raw_send(&r, frame, RPC_FRAME_HEADER + 3);
    RUN_UNTIL(r.nin >= RPC_FRAME_HEADER + 4 || r.eof, 2000);
    assert_false(r.eof);
    assert_int_equal(rpc_frame_header_read(r.in, &f), 0);
    assert_int_equal(f.flags, RPC_FLAG_ERROR);
    assert_int_equal(f.call_id, 5);
    assert_int_equal(f.method, RPC_ROUTER_GET);
    RUN_UNTIL(r.nin >= RPC_FRAME_HEADER + f.len, 2000);
    f.payload = r.in + RPC_FRAME_HEADER;
    assert_int_equal(rpc_frame_error_read(&f, &text, &n), HERALD_EINVAL);

    /* ... and then serves a good request on it. */
    r.nin = 0;
    req.n_mids = 1;
    req.mids = &mid;
    rpc_frame_out_t *o =
        rpc_frame_out_new(RPC_ROUTER_GET, RPC_FLAG_REQUEST, 6, (const ProtobufCMessage *)&req);
    raw_send(&r, o->data, o->size);
    free(o);
    RUN_UNTIL(r.nin >= RPC_FRAME_HEADER || r.eof, 2000);
    assert_int_equal(rpc_frame_header_read(r.in, &f), 0);
    assert_int_equal(f.flags, RPC_FLAG_REPLY);
    assert_int_equal(f.call_id, 6);
    RUN_UNTIL(r.nin >= RPC_FRAME_HEADER + f.len, 2000);
    Herald__GetReply *rep = herald__get_reply__unpack(NULL, f.len, r.in + RPC_FRAME_HEADER);
    assert_non_null(rep);
    assert_int_equal(rep->n_placements, 1);
    assert_int_equal(rep->placements[0]->mid, 9);
    herald__get_reply__free_unpacked(rep, NULL);
    raw_close(&r);

    /* The real client was never disturbed. */
    assert_true(rpc_client_connected(fx.client));
    assert_int_equal(call_get(fx.client, &ok, 3, 2, 1000), 0);
    RUN_UNTIL(ok.calls == 1, 2000);
    assert_int_equal(ok.status, 0);
    assert_true(ok.ok);
}

/* ---------------------------------------------------------------- authentication and limits */

/* A server created under `set` (the test secret unless set->secret is given); the process
 * settings are the test's again afterwards. */
static rpc_server_t *start_server_with(rpc_settings_t set)
{
    rpc_server_t *s;

    if (set.secret == NULL) {
        set.secret = TEST_RPC_SECRET;
        set.secret_len = strlen(TEST_RPC_SECRET);
    }
    assert_int_equal(rpc_configure(&set), 0);
    s = start_server(0);
    test_rpc_configure();
    return s;
}

static void stats_of(rpc_server_t *s, rpc_server_stats_t *st)
{
    rpc_server_stats(s, st);
}

static void close_server(rpc_server_t *s)
{
    int closed = 0;

    rpc_server_close(s, on_server_closed, &closed);
    RUN_UNTIL(closed, 2000);
    assert_true(closed);
}

/* A client with another secret never counts as connected, no call reaches a handler, and the
 * server counts the refusals. So does a client without any secret, one that sends frames
 * without a handshake, and one that sends garbage. */
static void test_wrong_or_no_secret_refused(void **state)
{
    rpc_client_t *c;
    int closed = 0;
    raw_t r;
    rpc_server_stats_t st;
    uint8_t frame[RPC_FRAME_HEADER];

    assert_int_equal(
        rpc_configure(&(rpc_settings_t){.secret = "another-secret-of-16", .secret_len = 20}), 0);
    c = rpc_client_new(&loop, "wrong secret", "127.0.0.1", fx.port);
    test_rpc_configure();
    RUN_UNTIL(0, 400); /* several attempts: backoff 100, 200 ms */
    assert_false(rpc_client_connected(c));
    assert_int_equal(call_get(c, &(result_t){0}, 1, 1, 100), UV_ENOTCONN);
    rpc_client_close(c, on_client_closed, &closed);
    RUN_UNTIL(closed, 2000);

    assert_int_equal(rpc_configure(&(rpc_settings_t){0}), 0); /* no secret at all */
    closed = 0;
    c = rpc_client_new(&loop, "no secret", "127.0.0.1", fx.port);
    test_rpc_configure();
    RUN_UNTIL(0, 200);
    assert_false(rpc_client_connected(c));
    rpc_client_close(c, on_client_closed, &closed);
    RUN_UNTIL(closed, 2000);

    /* A request frame instead of a HELLO. */
    raw_open(&r, fx.port);
    rpc_frame_header_write(frame, RPC_ROUTER_GET, RPC_FLAG_REQUEST, 1, 0);
    raw_send(&r, frame, sizeof(frame));
    RUN_UNTIL(r.eof, 2000);
    assert_true(r.eof);
    assert_int_equal(r.nin, RPC_AUTH_CHALLENGE_LEN); /* the challenge, and nothing else */
    raw_close(&r);
    /* Garbage. */
    raw_open(&r, fx.port);
    raw_send(&r, "GET / HTTP/1.1\r\n\r\n", 18);
    RUN_UNTIL(r.eof, 2000);
    assert_true(r.eof);
    raw_close(&r);
    /* A wrong secret through a raw socket. */
    raw_open(&r, fx.port);
    assert_int_equal(raw_handshake(&r, "another-secret-of-16"), UV_EOF);
    raw_close(&r);

    assert_int_equal(fx.handled, 0);
    stats_of(fx.server, &st);
    assert_true(st.auth_failed >= 5);
    /* The right client was never disturbed. */
    assert_true(rpc_client_connected(fx.client));

    /* A server without a secret refuses even the right client. */
    rpc_server_t *bare;
    assert_int_equal(rpc_configure(&(rpc_settings_t){0}), 0);
    bare = start_server(0);
    test_rpc_configure();
    closed = 0;
    c = rpc_client_new(&loop, "to bare", "127.0.0.1", rpc_server_port(bare));
    RUN_UNTIL(0, 200);
    assert_false(rpc_client_connected(c));
    rpc_client_close(c, on_client_closed, &closed);
    RUN_UNTIL(closed, 2000);
    stats_of(bare, &st);
    assert_true(st.auth_failed >= 1);
    assert_int_equal(st.accepted, 0);
    close_server(bare);
}

/* A connection that does not finish the handshake in time is closed: silent, or stopped half
 * way through its HELLO. */
static void test_handshake_deadline(void **state)
{
    rpc_server_t *s = start_server_with((rpc_settings_t){.handshake_timeout_ms = 150});
    rpc_server_stats_t st;
    raw_t r1, r2;
    uint64_t t0 = uv_now(&loop);

    raw_open(&r1, rpc_server_port(s));
    raw_open(&r2, rpc_server_port(s));
    raw_send(&r2, "HRA1partial", 11);
    RUN_UNTIL(r1.eof && r2.eof, 3000);
    assert_true(r1.eof && r2.eof);
    assert_true(uv_now(&loop) - t0 >= 150);
    stats_of(s, &st);
    assert_int_equal(st.auth_timeout, 2);
    assert_int_equal(st.handshaking, 0);
    raw_close(&r1);
    raw_close(&r2);
    close_server(s);
}

/* Connections beyond rpc_max_conns are closed at accept; once one leaves, a new one gets in. */
static void test_connection_cap(void **state)
{
    rpc_server_t *s = start_server_with((rpc_settings_t){.max_conns = 2});
    int port = rpc_server_port(s);
    rpc_server_stats_t st;
    raw_t a, b, c;

    raw_open_authed(&a, port);
    raw_open_authed(&b, port);
    raw_open(&c, port);
    RUN_UNTIL(c.eof, 2000);
    assert_true(c.eof);
    assert_int_equal(c.nin, 0); /* not even a challenge */
    raw_close(&c);
    stats_of(s, &st);
    assert_int_equal(st.refused, 1);
    assert_int_equal(st.conns, 2);

    raw_close(&a);
    RUN_UNTIL((stats_of(s, &st), st.conns == 1), 2000);
    raw_open_authed(&c, port);
    raw_close(&b);
    raw_close(&c);
    close_server(s);
}

/* With rpc_idle_timeout, an authenticated connection that sends nothing is closed. */
static void test_idle_timeout(void **state)
{
    rpc_server_t *s = start_server_with((rpc_settings_t){.idle_timeout_ms = 150});
    rpc_server_stats_t st;
    raw_t r;

    raw_open_authed(&r, rpc_server_port(s));
    RUN_UNTIL(r.eof, 3000);
    assert_true(r.eof);
    stats_of(s, &st);
    assert_int_equal(st.idle_closed, 1);
    assert_int_equal(st.auth_timeout, 0);
    raw_close(&r);
    close_server(s);
}

/* A header announcing a 16 MiB frame followed by a few bytes costs the default buffer, not
 * 16 MiB; as more of it arrives the buffer stays within twice what arrived. */
static void test_announced_frame_grows_with_bytes(void **state)
{
    rpc_server_stats_t st;
    raw_t r;
    uint8_t chunk[100] = {0};
    size_t sent = 0;

    raw_open_authed(&r, fx.port);
    rpc_frame_header_write(chunk, RPC_ROUTER_GET, RPC_FLAG_REQUEST, 1,
                           RPC_MAX_FRAME - RPC_FRAME_HEADER);
    raw_send(&r, chunk, sizeof(chunk));
    RUN_UNTIL(0, 50);
    stats_of(fx.server, &st);
    assert_int_equal(st.conns, 2);
    assert_true(st.read_buf_bytes <= 2 * RPC_FRAME_READ_BUF);

    /* 300 KiB more of it, in one write. */
    static uint8_t more[300 * 1024];
    uv_write_t wreq;
    uv_buf_t b = uv_buf_init((char *)more, sizeof(more));
    assert_int_equal(uv_write(&wreq, (uv_stream_t *)&r.tcp, &b, 1, NULL), 0);
    sent += sizeof(chunk) + sizeof(more);
    RUN_UNTIL(0, 200);
    stats_of(fx.server, &st);
    assert_false(r.eof);
    /* fx.client's own buffer is at most the default; this one at most twice what arrived. */
    assert_true(st.read_buf_bytes <= RPC_FRAME_READ_BUF + 2 * sent);
    assert_true(st.read_buf_bytes < RPC_MAX_FRAME / 8);
    raw_close(&r);
}

int main(void)
{
    test_rpc_configure();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_bounds),
        cmocka_unit_test(test_error_payload),
        cmocka_unit_test(test_reader_splits),
        cmocka_unit_test(test_reader_errors),
        cmocka_unit_test_setup_teardown(test_pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_error_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_gone_and_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_calls_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_connected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolved_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_or_no_secret_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handshake_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_announced_frame_grows_with_bytes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
