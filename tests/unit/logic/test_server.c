/* test_server.c - a real logic server (HTTP API + Logic RPC) against a real redis-server on
 * loopback, with the routers and Kafka unreachable: validation, 401/404/405, tokens, the
 * Connect refusals, the comet registry and online queries, acks, upstream messages, and that
 * bad input or a down backend never produces a Kafka message. The happy push path through
 * routers, Kafka and job is covered by the integration tests.
 *
 * The server runs on its own loop in a thread; the test talks to it only through sockets
 * (blocking HTTP requests, an rpc_client on the test's loop), as comets and business systems do. */
#include "addr.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "logic_conf.h"
#include "logic_server.h"
#include "redis.h"
#include "rpc.h"
#include "rpc_methods.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_support.h"

#define BEARER "sekrit-key"
#define WAIT_MS 5000

static test_redis_t redis_server;

static logic_conf_t conf;
static uv_loop_t server_loop;
static uv_thread_t server_thread;
static uv_async_t stop_async;
static logic_server_t *server;
static int http_port, rpc_port;

static uv_loop_t client_loop;
static uv_timer_t tick;
static rpc_client_t *rpc;
static redis_t *redis;

/* ------------------------------------------------------------------------- process helpers */

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {WAIT_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* --------------------------------------------------------------------------- client loop */

static void on_tick(uv_timer_t *t)
{
    (void)t; /* only wakes uv_run(UV_RUN_ONCE) so waits can check their deadline */
}

/* Runs the client loop until *done or WAIT_MS passed. */
static void wait_for(const int *done)
{
    uint64_t deadline = uv_now(&client_loop) + WAIT_MS;
    uv_timer_start(&tick, on_tick, 10, 10);
    while (!*done && uv_now(&client_loop) < deadline)
        uv_run(&client_loop, UV_RUN_ONCE);
    uv_timer_stop(&tick);
    assert_true(*done);
}

typedef struct rpc_res_s {
    int done;
    int status;
    uint8_t *packed;
    size_t len;
} rpc_res_t;

static void on_rpc_reply(int status, const ProtobufCMessage *reply, void *arg)
{
    rpc_res_t *r = arg;
    r->status = status;
    if (status == 0) {
        r->len = protobuf_c_message_get_packed_size(reply);
        r->packed = malloc(r->len + 1);
        protobuf_c_message_pack(reply, r->packed);
    }
    r->done = 1;
}

/* Calls the logic; returns the unpacked reply (free with protobuf_c_message_free_unpacked), or
 * NULL with the error in *status. */
static ProtobufCMessage *call(uint16_t method, const void *req,
                              const ProtobufCMessageDescriptor *desc, int *status)
{
    rpc_res_t r = {0};
    assert_int_equal(rpc_client_call(rpc, method, req, desc, WAIT_MS, on_rpc_reply, &r), 0);
    wait_for(&r.done);
    *status = r.status;
    if (r.status != 0)
        return NULL;
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, r.len, r.packed);
    free(r.packed);
    assert_non_null(m);
    return m;
}

typedef struct redis_res_s {
    int done;
    int type;
    long long integer;
    char str[1024];
} redis_res_t;

static void on_redis_reply(int status, const redis_reply_t *reply, void *arg)
{
    redis_res_t *r = arg;
    assert_int_equal(status, 0);
    r->type = redis_reply_type(reply);
    size_t len;
    const char *s = redis_reply_str(reply, &len);
    if (s != NULL)
        snprintf(r->str, sizeof(r->str), "%.*s", (int)len, s);
    if (r->type == REDIS_REPLY_T_INTEGER)
        r->integer = redis_reply_integer(reply);
    if (r->type == REDIS_REPLY_T_ARRAY)
        r->integer = (long long)redis_reply_count(reply);
    r->done = 1;
}

/* Runs one Redis command (hiredis format) from the test's side and waits for the reply. */
static redis_res_t redis_run(const char *fmt, const char *a, const char *b)
{
    redis_res_t r = {0};
    assert_int_equal(redis_command(redis, on_redis_reply, &r, fmt, a, b), 0);
    wait_for(&r.done);
    return r;
}

/* ---------------------------------------------------------------------------------- HTTP */

typedef struct http_res_s {
    int status;
    json_t *body;
} http_res_t;

/* One blocking HTTP/1.1 request; auth NULL sends no Authorization header. */
static http_res_t http(const char *method, const char *target, const char *auth, const char *body)
{
    int fd = tcp_connect(http_port);
    assert_true(fd >= 0);
    char req[4096];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Content-Length: %zu\r\n%s%s%s\r\n%s",
                     method, target, blen, auth ? "Authorization: " : "", auth ? auth : "",
                     auth ? "\r\n" : "", body ? body : "");
    assert_int_equal(send(fd, req, (size_t)n, 0), n);
    static char resp[1 << 16];
    size_t got = 0;
    ssize_t r;
    while ((r = recv(fd, resp + got, sizeof(resp) - 1 - got, 0)) > 0)
        got += (size_t)r;
    close(fd);
    resp[got] = '\0';
    http_res_t res = {0};
    assert_int_equal(sscanf(resp, "HTTP/1.%*d %d", &res.status), 1);
    const char *json = strstr(resp, "\r\n\r\n");
    assert_non_null(json);
    res.body = json_loads(json + 4, 0, NULL);
    if (res.body == NULL)
        fail_msg("not JSON: %s", json + 4);
    return res;
}

#define AUTH "Bearer " BEARER

/* Expects status and, for errors, goim's code and a message containing needle. */
static void expect(http_res_t r, int status, const char *needle)
{
    if (r.status != status)
        fail_msg("status %d, expected %d: %s", r.status, status,
                 json_string_value(json_object_get(r.body, "message")));
    int code = (int)json_integer_value(json_object_get(r.body, "code"));
    assert_int_equal(code, status == 200 ? 0 : status >= 500 ? -500 : -400);
    const char *msg = json_string_value(json_object_get(r.body, "message"));
    assert_non_null(msg);
    if (needle != NULL && strstr(msg, needle) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", msg, needle);
}

static json_int_t metric(const char *name)
{
    http_res_t r = http("GET", "/herald/v1/metrics", AUTH, NULL);
    expect(r, 200, NULL);
    json_t *v = json_object_get(json_object_get(r.body, "data"), name);
    assert_non_null(v);
    json_int_t n = json_integer_value(v);
    json_decref(r.body);
    return n;
}

/* ------------------------------------------------------------------------------- fixture */

static void set_str(char **field, const char *value)
{
    free(*field);
    *field = strdup(value);
}

static void run_server(void *arg)
{
    (void)arg;
    uv_run(&server_loop, UV_RUN_DEFAULT);
}

static void on_stop(uv_async_t *a)
{
    uv_close((uv_handle_t *)a, NULL);
    logic_server_close(server, NULL, NULL);
}

static int setup(void **state)
{
    (void)state;
    test_redis_init(&redis_server);
    test_redis_start(&redis_server, NULL);
    char err[256], addr[64];
    assert_int_equal(conf_load(logic_conf_items, &conf, NULL, err, sizeof(err)), 0);
    set_str(&conf.http_listen, "127.0.0.1:0");
    set_str(&conf.rpc_listen, "127.0.0.1:0");
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", redis_server.port);
    set_str(&conf.redis.addr, addr);
    set_str(&conf.redis.prefix, "herald:");
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", test_free_port()); /* nothing listens there */
    set_str(&conf.router_addrs, addr);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", test_free_port());
    set_str(&conf.kafka_brokers, addr);
    set_str(&conf.auth_bearer_key, BEARER);
    conf.auth_mode = LOGIC_AUTH_TOKEN;
    conf.registry_refresh_ms = 200;
    conf.registry_ttl_ms = 30000;

    assert_int_equal(uv_loop_init(&server_loop), 0);
    server = logic_server_new(&server_loop, &conf, err, sizeof(err));
    if (server == NULL)
        fail_msg("logic_server_new: %s", err);
    http_port = logic_server_http_port(server);
    rpc_port = logic_server_rpc_port(server);
    assert_int_equal(uv_async_init(&server_loop, &stop_async, on_stop), 0);
    assert_int_equal(uv_thread_create(&server_thread, run_server, NULL), 0);

    assert_int_equal(uv_loop_init(&client_loop), 0);
    uv_timer_init(&client_loop, &tick);
    rpc = rpc_client_new(&client_loop, "logic", "127.0.0.1", rpc_port);
    redis = redis_new(&client_loop, "127.0.0.1", redis_server.port, NULL, NULL, 0);
    uint64_t deadline = uv_now(&client_loop) + WAIT_MS;
    uv_timer_start(&tick, on_tick, 10, 10);
    while ((!rpc_client_connected(rpc) || !redis_connected(redis)) &&
           uv_now(&client_loop) < deadline)
        uv_run(&client_loop, UV_RUN_ONCE);
    uv_timer_stop(&tick);
    assert_true(rpc_client_connected(rpc));
    assert_true(redis_connected(redis));
    /* The server's own Redis connection is up once health says so. */
    for (int i = 0; i < 500; i++) {
        http_res_t r = http("GET", "/herald/v1/health", NULL, NULL);
        const char *st =
            json_string_value(json_object_get(json_object_get(r.body, "data"), "redis"));
        int up = st && strcmp(st, "up") == 0;
        json_decref(r.body);
        if (up)
            return 0;
        usleep(10000);
    }
    fail_msg("logic never connected to redis");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rpc_client_close(rpc, NULL, NULL);
    redis_close(redis, NULL, NULL);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&client_loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&client_loop), 0);
    uv_async_send(&stop_async);
    uv_thread_join(&server_thread);
    assert_int_equal(uv_loop_close(&server_loop), 0);
    conf_free(logic_conf_items, &conf);
    test_redis_deinit(&redis_server);
    return 0;
}

/* --------------------------------------------------------------------------------- tests */

static void test_routes_and_validation(void **state)
{
    (void)state;
    json_int_t errors_before = metric("http_errors_4xx");
    struct {
        const char *method, *target, *auth;
        int status;
        const char *needle;
    } cases[] = {
        {"GET", "/nope", AUTH, 404, "no such route"},
        {"GET", "/nope", NULL, 401, "bearer"},
        {"GET", "/herald/v1/metrics", NULL, 401, "bearer"},
        {"GET", "/goim/push/mids?operation=1000&mids=1", AUTH, 405, "method"},
        {"PUT", "/herald/v1/tokens", AUTH, 405, "method"},
        {"POST", "/goim/push/mids?operation=1000&mids=1", NULL, 401, "bearer"},
        {"POST", "/goim/push/mids?operation=1000&mids=1", "Bearer wrong", 401, "bearer"},
        {"POST", "/goim/push/mids?operation=1000&mids=1", "Bearer " BEARER "x", 401, "bearer"},
        {"POST", "/goim/push/mids?operation=1000&mids=1", BEARER, 401, "bearer"},
        {"POST", "/herald/v1/tokens?mid=1", NULL, 401, "bearer"},
        {"POST", "/goim/push/mids?mids=1", AUTH, 400, "operation is required"},
        {"POST", "/goim/push/mids?operation=abc&mids=1", AUTH, 400, "operation must be"},
        {"POST", "/goim/push/mids?operation=1000", AUTH, 400, "mids is required"},
        {"POST", "/goim/push/mids?operation=1000&mids=1&mids=x", AUTH, 400, "bad mid"},
        {"POST", "/goim/push/mids?operation=1000&mids=-4", AUTH, 400, "bad mid"},
        {"POST", "/goim/push/keys?operation=1000", AUTH, 400, "keys is required"},
        {"POST", "/goim/push/room?operation=1000&type=live", AUTH, 400, "room is required"},
        {"POST", "/goim/push/room?operation=1000&room=1", AUTH, 400, "type is required"},
        {"POST", "/goim/push/all?operation=1000&speed=fast", AUTH, 400, "speed"},
        {"POST", "/goim/push/all", AUTH, 400, "operation is required"},
        {"GET", "/goim/online/top?type=live", AUTH, 400, "limit is required"},
        {"GET", "/goim/online/top?limit=3", AUTH, 400, "type is required"},
        {"GET", "/goim/online/room?type=live", AUTH, 400, "rooms is required"},
        {"POST", "/herald/v1/tokens?mid=abc", AUTH, 400, "bad mid"},
        {"POST", "/herald/v1/tokens", AUTH, 400, "mid is required"},
        {"POST", "/herald/v1/tokens?mid=1&ttl=0", AUTH, 400, "ttl"},
        {"DELETE", "/herald/v1/tokens?token=zz", AUTH, 400, "bad token"},
        {"DELETE", "/herald/v1/tokens", AUTH, 400, "token is required"},
    };
    size_t n = sizeof(cases) / sizeof(cases[0]);
    for (size_t i = 0; i < n; i++) {
        http_res_t r = http(cases[i].method, cases[i].target, cases[i].auth, "x");
        expect(r, cases[i].status, cases[i].needle);
        assert_null(json_object_get(r.body, "data"));
        json_decref(r.body);
    }
    assert_int_equal(metric("http_errors_4xx") - errors_before, n);
    /* Nothing of it reached Kafka or Redis. */
    assert_int_equal(metric("kafka_produced"), 0);
    assert_int_equal(metric("kafka_failed"), 0);
    assert_int_equal(metric("pushes_accepted") + metric("pushes_failed"), 0);
    assert_int_equal(redis_run("EXISTS %s%s", "herald:seq:", "{1}").integer, 0);
    assert_int_equal(redis_run("EXISTS %s%s", "herald:seq:", "{x}").integer, 0);
}

static void test_push_with_routers_down(void **state)
{
    (void)state;
    json_int_t failed = metric("pushes_failed"), errors = metric("http_errors_5xx");
    http_res_t r = http("POST", "/goim/push/mids?operation=1000&mids=7&mids=8", AUTH, "hello");
    expect(r, 503, "router");
    json_decref(r.body);
    /* The user's sequence numbers were taken (the push was valid), nothing went to Kafka. */
    assert_int_equal(redis_run("GET %s%s", "herald:seq:", "{7}").type, REDIS_REPLY_T_STRING);
    assert_string_equal(redis_run("GET %s%s", "herald:seq:", "{7}").str, "1");
    r = http("POST", "/goim/push/keys?operation=1000&keys=5-abcdef", AUTH, "hello");
    expect(r, 503, "router");
    json_decref(r.body);
    assert_int_equal(metric("pushes_failed") - failed, 2);
    assert_int_equal(metric("http_errors_5xx") - errors, 2);
    assert_int_equal(metric("kafka_produced"), 0);
}

static void test_health(void **state)
{
    (void)state;
    http_res_t r = http("GET", "/herald/v1/health", NULL, NULL);
    expect(r, 200, NULL);
    json_t *d = json_object_get(r.body, "data");
    assert_string_equal(json_string_value(json_object_get(d, "redis")), "up");
    assert_string_equal(json_string_value(json_object_get(d, "kafka")), "unknown");
    json_t *routers = json_object_get(d, "routers");
    assert_int_equal(json_array_size(routers), 1);
    assert_true(json_is_false(json_object_get(json_array_get(routers, 0), "up")));
    json_decref(r.body);
    r = http("GET", "/health", NULL, NULL); /* the admin alias every daemon has */
    expect(r, 200, NULL);
    json_decref(r.body);
}

static int connect_code(const char *server_id, const char *body)
{
    Herald__ConnectReq req = HERALD__CONNECT_REQ__INIT;
    req.server = (char *)server_id;
    req.body.data = (uint8_t *)body;
    req.body.len = strlen(body);
    int status;
    Herald__ConnectReply *rep = (Herald__ConnectReply *)call(
        RPC_LOGIC_CONNECT, &req, &herald__connect_reply__descriptor, &status);
    assert_int_equal(status, 0); /* refusals travel in the reply's code */
    int code = rep->code;
    if (code != 0)
        assert_true(rep->message != NULL && rep->message[0] != '\0');
    protobuf_c_message_free_unpacked((ProtobufCMessage *)rep, NULL);
    return code;
}

static void test_tokens_and_connect(void **state)
{
    (void)state;
    http_res_t r = http("POST", "/herald/v1/tokens?mid=42&ttl=60", AUTH, NULL);
    expect(r, 200, NULL);
    json_t *d = json_object_get(r.body, "data");
    char token[64];
    snprintf(token, sizeof(token), "%s", json_string_value(json_object_get(d, "token")));
    assert_int_equal(strlen(token), 32);
    assert_int_equal(json_integer_value(json_object_get(d, "mid")), 42);
    assert_int_equal(json_integer_value(json_object_get(d, "expires_in")), 60);
    json_decref(r.body);
    assert_string_equal(redis_run("GET %s%s", "herald:token:", token).str, "42");
    long long ttl = redis_run("TTL %s%s", "herald:token:", token).integer;
    assert_true(ttl > 0 && ttl <= 60);

    char body[256];
    snprintf(body, sizeof(body), "{\"token\":\"%s\",\"room_id\":\"live://1\",\"accepts\":[1000]}",
             token);
    /* The token resolves; then the router that owns mid 42 is down. */
    assert_int_equal(connect_code("comet-1", body), HERALD_EUNAVAIL);
    assert_int_equal(connect_code("comet-1", "{\"token\":\"nope\"}"), HERALD_EAUTH);
    assert_int_equal(connect_code("comet-1", "{\"mid\":42,\"key\":\"k\"}"), HERALD_EAUTH);
    assert_int_equal(connect_code("comet-1", "{\"token\":"), HERALD_EINVAL);
    assert_int_equal(connect_code("comet-1", ""), HERALD_EINVAL);
    assert_int_equal(connect_code("", body), HERALD_EINVAL);

    snprintf(body, sizeof(body), "/herald/v1/tokens?token=%s", token);
    r = http("DELETE", body, AUTH, NULL);
    expect(r, 200, NULL);
    assert_true(json_is_true(json_object_get(json_object_get(r.body, "data"), "revoked")));
    json_decref(r.body);
    r = http("DELETE", body, AUTH, NULL);
    expect(r, 200, NULL);
    assert_true(json_is_false(json_object_get(json_object_get(r.body, "data"), "revoked")));
    json_decref(r.body);
    snprintf(body, sizeof(body), "{\"token\":\"%s\"}", token);
    assert_int_equal(connect_code("comet-1", body), HERALD_EAUTH);
    assert_int_equal(metric("connects"), 0);
    assert_int_equal(metric("connect_failures"), 7);
}

/* The wss address renew() advertises. */
static const char *renew_wss = "127.0.0.1:3104";

static Herald__RenewOnlineReply *renew(const char *id, const char *tcp, int64_t conns,
                                       const char *const *rooms, const int32_t *counts, size_t n,
                                       int *status)
{
    Herald__RenewOnlineReq req = HERALD__RENEW_ONLINE_REQ__INIT;
    req.server = (char *)id;
    req.rpc_addr = "127.0.0.1:3109";
    req.tcp_addr = (char *)tcp;
    req.ws_addr = "127.0.0.1:3102";
    req.tls_addr = "127.0.0.1:3103";
    req.wss_addr = (char *)renew_wss;
    req.weight = 10;
    req.conn_count = conns;
    Herald__RoomCount rc[8], *ptrs[8];
    for (size_t i = 0; i < n; i++) {
        Herald__RoomCount init = HERALD__ROOM_COUNT__INIT;
        rc[i] = init;
        rc[i].room_id = (char *)rooms[i];
        rc[i].count = counts[i];
        ptrs[i] = &rc[i];
    }
    req.n_rooms = n;
    req.rooms = ptrs;
    return (Herald__RenewOnlineReply *)call(RPC_LOGIC_RENEW_ONLINE, &req,
                                            &herald__renew_online_reply__descriptor, status);
}

static int32_t reply_count(const Herald__RenewOnlineReply *r, const char *room)
{
    for (size_t i = 0; i < r->n_rooms; i++)
        if (strcmp(r->rooms[i]->room_id, room) == 0)
            return r->rooms[i]->count;
    fail_msg("room %s not in the reply", room);
    return -1;
}

static json_t *get_data(const char *target)
{
    http_res_t r = http("GET", target, AUTH, NULL);
    expect(r, 200, NULL);
    json_t *d = json_incref(json_object_get(r.body, "data"));
    json_decref(r.body);
    return d;
}

static void test_registry_and_online(void **state)
{
    (void)state;
    int status;
    Herald__RenewOnlineReply *rep =
        renew("comet-a", "127.0.0.1:3101", 5, (const char *[]){"live://1000", "live://1001"},
              (const int32_t[]){3, 2}, 2, &status);
    assert_int_equal(status, 0);
    assert_int_equal(reply_count(rep, "live://1000"), 3);
    assert_int_equal(reply_count(rep, "live://1001"), 2);
    protobuf_c_message_free_unpacked((ProtobufCMessage *)rep, NULL);
    rep = renew("comet-b", "127.0.0.1:4101", 1, (const char *[]){"live://1000"},
                (const int32_t[]){4}, 1, &status);
    assert_int_equal(status, 0);
    assert_int_equal(reply_count(rep, "live://1000"), 7); /* summed over both comets */
    protobuf_c_message_free_unpacked((ProtobufCMessage *)rep, NULL);

    /* Registry and room counts in Redis, with a TTL on the counts. */
    redis_res_t e = redis_run("HGET %s %s", "herald:comets:{registry}", "comet-a");
    json_t *entry = json_loads(e.str, 0, NULL);
    assert_non_null(entry);
    assert_string_equal(json_string_value(json_object_get(entry, "id")), "comet-a");
    assert_string_equal(json_string_value(json_object_get(entry, "tcp")), "127.0.0.1:3101");
    assert_int_equal(json_integer_value(json_object_get(entry, "conns")), 5);
    assert_true(json_integer_value(json_object_get(entry, "updated_ms")) > 0);
    json_decref(entry);
    assert_string_equal(
        redis_run("HGET %s %s", "herald:online:{registry}:comet-a", "live://1001").str, "2");
    long long ttl = redis_run("TTL %s%s", "herald:online:{registry}:", "comet-a").integer;
    assert_true(ttl > 0 && ttl <= 30);

    json_t *d = get_data("/goim/online/total");
    assert_int_equal(json_integer_value(json_object_get(d, "conn_count")), 6);
    assert_int_equal(json_integer_value(json_object_get(d, "ip_count")), 0);
    json_decref(d);
    d = get_data("/goim/online/top?type=live&limit=1");
    assert_int_equal(json_array_size(d), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(d, 0), "room_id")),
                        "1000");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(d, 0), "count")), 7);
    json_decref(d);
    d = get_data("/goim/online/room?type=live&rooms=1000&rooms=1001&rooms=9");
    assert_int_equal(json_integer_value(json_object_get(d, "1000")), 7);
    assert_int_equal(json_integer_value(json_object_get(d, "1001")), 2);
    assert_int_equal(json_integer_value(json_object_get(d, "9")), 0);
    json_decref(d);
    d = get_data("/goim/nodes/weighted");
    /* equal weights: fewest connections first */
    /* goim's shape: hosts in nodes, the port in tcp_port; herald's comets keep whole addresses */
    assert_string_equal(json_string_value(json_array_get(json_object_get(d, "nodes"), 0)),
                        "127.0.0.1");
    assert_int_equal(json_array_size(json_object_get(d, "nodes")), 2);
    json_t *first = json_array_get(json_object_get(d, "comets"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "tcp")), "127.0.0.1:4101");
    assert_int_equal(json_array_size(json_object_get(d, "comets")), 2);
    assert_int_equal(json_integer_value(json_object_get(d, "tcp_port")), 4101);
    assert_int_equal(json_integer_value(json_object_get(d, "wss_port")), 3104);
    assert_int_equal(json_integer_value(json_object_get(d, "heartbeat")), 30);
    assert_int_equal(json_integer_value(json_object_get(d, "heartbeat_max")), 3);
    assert_non_null(json_object_get(json_object_get(d, "backoff"), "max_delay"));
    json_decref(d);
    d = get_data("/goim/nodes/weighted?platform=web");
    assert_string_equal(json_string_value(json_array_get(json_object_get(d, "nodes"), 0)),
                        "127.0.0.1");
    assert_int_equal(json_integer_value(json_object_get(d, "ws_port")), 3102);
    json_decref(d);
    d = get_data("/goim/nodes/instances");
    assert_int_equal(json_array_size(d), 2);
    /* goim's naming.Instance: hostname, addrs grpc://, metadata strings */
    json_t *ins = NULL;
    for (size_t i = 0; i < json_array_size(d); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(d, i), "hostname")),
                   "comet-a") == 0)
            ins = json_array_get(d, i);
    assert_non_null(ins);
    assert_string_equal(json_string_value(json_object_get(ins, "appid")), "goim.comet");
    assert_non_null(
        strstr(json_string_value(json_array_get(json_object_get(ins, "addrs"), 0)), "grpc://"));
    json_t *meta = json_object_get(ins, "metadata");
    assert_string_equal(json_string_value(json_object_get(meta, "conn_count")), "5");
    assert_string_equal(json_string_value(json_object_get(meta, "ip_addrs")), "127.0.0.1");
    assert_string_equal(json_string_value(json_object_get(meta, "offline")), "false");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ins, "herald"), "id")),
                        "comet-a");
    json_decref(d);

    /* Malformed renewals change nothing. */
    rep = renew("", "x:1", 1, NULL, NULL, 0, &status);
    assert_null(rep);
    assert_int_equal(status, HERALD_EINVAL);
    rep =
        renew("comet-c", "x:1", 1, (const char *[]){"live://1"}, (const int32_t[]){-1}, 1, &status);
    assert_int_equal(status, HERALD_EINVAL);
    rep = renew("comet c", "x:1", 1, NULL, NULL, 0, &status);
    assert_int_equal(status, HERALD_EINVAL);
    renew_wss = "bad host:1";
    rep = renew("comet-c", "x:1", 1, NULL, NULL, 0, &status);
    assert_int_equal(status, HERALD_EINVAL);
    renew_wss = "127.0.0.1:3104";
    d = get_data("/goim/nodes/instances");
    assert_int_equal(json_array_size(d), 2);
    json_decref(d);

    /* ServerDown: the routers are down (an error), but the registry entry is gone. */
    Herald__ServerDownReq down = HERALD__SERVER_DOWN_REQ__INIT;
    down.server = "comet-b";
    assert_null(
        call(RPC_LOGIC_SERVER_DOWN, &down, &herald__server_down_reply__descriptor, &status));
    assert_int_equal(status, HERALD_EUNAVAIL);
    d = get_data("/goim/online/total");
    assert_int_equal(json_integer_value(json_object_get(d, "conn_count")), 5);
    json_decref(d);
    assert_int_equal(redis_run("HEXISTS %s %s", "herald:comets:{registry}", "comet-b").integer, 0);
    assert_int_equal(redis_run("EXISTS %s%s", "herald:online:{registry}:", "comet-b").integer, 0);
}

static void test_registry_reload(void **state)
{
    (void)state;
    /* Entries written through another logic show up after a reload; stale ones are deleted. */
    char fresh[256];
    snprintf(fresh, sizeof(fresh),
             "{\"id\":\"comet-x\",\"rpc\":\"\",\"tcp\":\"127.0.0.1:5101\",\"ws\":\"\","
             "\"weight\":1,\"conns\":100,\"updated_ms\":%lld}",
             (long long)time(NULL) * 1000);
    redis_run("HSET herald:comets:{registry} %s %s", "comet-x", fresh);
    redis_run("HSET herald:online:{registry}:comet-x %s %s", "live://1000", "10");
    redis_run("HSET herald:comets:{registry} %s %s", "comet-old",
              "{\"id\":\"comet-old\",\"tcp\":\"127.0.0.1:6101\",\"conns\":50,\"updated_ms\":1}");
    redis_run("HSET herald:comets:{registry} %s %s", "comet-junk", "not json");
    int seen = 0;
    for (int i = 0; i < 300 && !seen; i++) { /* reload every 200 ms; wait up to 3 s */
        json_t *d = get_data("/goim/online/total");
        seen = json_integer_value(json_object_get(d, "conn_count")) == 105;
        json_decref(d);
        if (!seen)
            usleep(10000);
    }
    assert_true(seen);
    json_t *d = get_data("/goim/online/room?type=live&rooms=1000");
    assert_int_equal(json_integer_value(json_object_get(d, "1000")), 13);
    json_decref(d);
    assert_int_equal(redis_run("HEXISTS %s %s", "herald:comets:{registry}", "comet-old").integer,
                     0);
    assert_int_equal(redis_run("HEXISTS %s %s", "herald:comets:{registry}", "comet-junk").integer,
                     0);
    assert_int_equal(redis_run("HEXISTS %s %s", "herald:comets:{registry}", "comet-x").integer, 1);
}

/* RenewOnline with strings that are not UTF-8 (protobuf-c does not check): jansson refuses them,
 * so an entry holding one cannot be encoded. Each is refused with HERALD_EINVAL before anything
 * changes, and logic goes on serving (it used to pass json_dumps' NULL to Redis and crash). */
static void test_renew_online_not_utf8(void **state)
{
    (void)state;
    json_t *d = get_data("/goim/nodes/instances");
    size_t before = json_array_size(d);
    json_decref(d);
    int status;
    Herald__RenewOnlineReply *rep =
        renew("comet-\xff", "127.0.0.1:3101", 1, NULL, NULL, 0, &status);
    assert_null(rep);
    assert_int_equal(status, HERALD_EINVAL);
    rep = renew("comet-u", "127.0.0.1:\xc3\x28", 1, NULL, NULL, 0, &status);
    assert_null(rep);
    assert_int_equal(status, HERALD_EINVAL);
    rep = renew("comet-u", "127.0.0.1:3101", 1, (const char *[]){"live://\xe2\x82"},
                (const int32_t[]){1}, 1, &status);
    assert_null(rep);
    assert_int_equal(status, HERALD_EINVAL);
    /* Still serving, and nothing of it was kept. */
    d = get_data("/goim/nodes/instances");
    assert_int_equal(json_array_size(d), before);
    json_decref(d);
    assert_int_equal(redis_run("HEXISTS %s %s", "herald:comets:{registry}", "comet-u").integer, 0);
}

static int ack(int64_t mid, const char *key, const char *device, uint64_t seq)
{
    Herald__AckEntry e = HERALD__ACK_ENTRY__INIT, *ptr = &e;
    e.mid = mid;
    e.key = (char *)key;
    e.device = (char *)device;
    e.seq = seq;
    Herald__AckReq req = HERALD__ACK_REQ__INIT;
    req.n_acks = 1;
    req.acks = &ptr;
    int status;
    ProtobufCMessage *rep = call(RPC_LOGIC_ACK, &req, &herald__ack_reply__descriptor, &status);
    if (rep != NULL)
        protobuf_c_message_free_unpacked(rep, NULL);
    return status;
}

static void test_ack_keeps_max(void **state)
{
    (void)state;
    assert_int_equal(ack(9, "9-abc", "phone", 5), 0);
    assert_string_equal(redis_run("HGET %s %s", "herald:ack:{9}", "phone").str, "5");
    assert_int_equal(ack(9, "9-abc", "phone", 3), 0); /* late ack: no move back */
    assert_string_equal(redis_run("HGET %s %s", "herald:ack:{9}", "phone").str, "5");
    assert_int_equal(ack(9, "9-abc", "phone", 8), 0);
    assert_string_equal(redis_run("HGET %s %s", "herald:ack:{9}", "phone").str, "8");
    assert_int_equal(ack(9, "9-abc", "", 2), 0); /* no device: the connection key */
    assert_string_equal(redis_run("HGET %s %s", "herald:ack:{9}", "9-abc").str, "2");
    assert_int_equal(ack(9, "bad key", "", 2), HERALD_EINVAL);
    assert_int_equal(ack(-1, "9-abc", "", 2), HERALD_EINVAL);
    assert_int_equal(metric("acks"), 4);
}

static int receive(int op, const char *room, const char *body)
{
    Herald__Proto p = HERALD__PROTO__INIT;
    p.ver = 1;
    p.op = op;
    p.body.data = (uint8_t *)body;
    p.body.len = strlen(body);
    Herald__ReceiveReq req = HERALD__RECEIVE_REQ__INIT;
    req.mid = 11;
    req.key = "11-abc";
    req.server = "comet-a";
    req.proto = &p;
    req.room_id = (char *)room;
    int status;
    Herald__ReceiveReply *rep = (Herald__ReceiveReply *)call(
        RPC_LOGIC_RECEIVE, &req, &herald__receive_reply__descriptor, &status);
    assert_int_equal(status, 0);
    int code = rep->code;
    protobuf_c_message_free_unpacked((ProtobufCMessage *)rep, NULL);
    return code;
}

static void test_receive(void **state)
{
    (void)state;
    assert_int_equal(receive(4, "live://1", "{\"to_room\":\"live://2\",\"op\":1000,\"msg\":1}"),
                     HERALD_EFORBIDDEN);
    assert_int_equal(receive(4, "live://1", "{\"to_room\":\"live://1\",\"op\":7,\"msg\":1}"),
                     HERALD_EINVAL);
    assert_int_equal(receive(4, "live://1", "not json"), HERALD_EINVAL);
    assert_int_equal(receive(7, "live://1", "{\"to_mid\":3,\"op\":1000,\"msg\":1}"), HERALD_EINVAL);
    /* A valid private message takes the push path: sequence number, then the router (down). */
    assert_int_equal(receive(4, "", "{\"to_mid\":3,\"op\":1000,\"msg\":{\"t\":\"hi\"}}"),
                     HERALD_EUNAVAIL);
    assert_string_equal(redis_run("GET %s%s", "herald:seq:", "{3}").str, "1");
    assert_int_equal(metric("kafka_produced"), 0);
    assert_int_equal(metric("receive_failures"), 5);
}

/* JoinRoom refuses what it cannot announce, before anything reaches Kafka. */
static void test_join_room_validation(void **state)
{
    (void)state;
    static const char *const bad[][3] = {
        {"", "comet-a", "127.0.0.1:3109"},        {"live://\n1", "comet-a", "127.0.0.1:3109"},
        {"live://1", "", "127.0.0.1:3109"},       {"live://1", "comet a", "127.0.0.1:3109"},
        {"live://1", "comet-a", "127.0.0.1"},     {"live://1", "comet-a", "127.0.0.1:0"},
        {"live://1", "comet-a", "host:notaport"},
    };
    json_int_t failures = metric("room_join_failures");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Herald__JoinRoomReq req = HERALD__JOIN_ROOM_REQ__INIT;
        req.room = (char *)bad[i][0];
        req.server = (char *)bad[i][1];
        req.rpc_addr = (char *)bad[i][2];
        int status;
        assert_null(call(RPC_LOGIC_JOIN_ROOM, &req, &herald__join_room_reply__descriptor, &status));
        assert_int_equal(status, HERALD_EINVAL);
    }
    assert_int_equal(metric("room_join_failures"), failures + 7);
    assert_int_equal(metric("room_joins"), 0);
    assert_int_equal(metric("kafka_produced"), 0);
}

static void test_placement_calls_with_router_down(void **state)
{
    (void)state;
    int status;
    Herald__HeartbeatReq hb = HERALD__HEARTBEAT_REQ__INIT;
    hb.mid = 1;
    hb.key = "1-abc";
    hb.server = "comet-a";
    assert_null(call(RPC_LOGIC_HEARTBEAT, &hb, &herald__heartbeat_reply__descriptor, &status));
    assert_int_equal(status, HERALD_EUNAVAIL);
    Herald__DisconnectReq dc = HERALD__DISCONNECT_REQ__INIT;
    dc.mid = 1;
    dc.key = "1-abc";
    dc.server = "comet-a";
    assert_null(call(RPC_LOGIC_DISCONNECT, &dc, &herald__disconnect_reply__descriptor, &status));
    assert_int_equal(status, HERALD_EUNAVAIL);
    dc.key = "";
    assert_null(call(RPC_LOGIC_DISCONNECT, &dc, &herald__disconnect_reply__descriptor, &status));
    assert_int_equal(status, HERALD_EINVAL);
}

/* ------------------------------------------------------------- a router that lists nobody */

/* A stand-in router on its own loop and thread, at the address logic dials: Count and List
 * answer an empty shard. */
static struct {
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t stop;
    rpc_server_t *srv;
} empty_router;

static void on_router_count(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    (void)msg;
    (void)arg;
    Herald__CountReply out = HERALD__COUNT_REPLY__INIT;
    rpc_reply(call, (const ProtobufCMessage *)&out);
}

static void on_router_list(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    (void)msg;
    (void)arg;
    Herald__ListReply out = HERALD__LIST_REPLY__INIT; /* no mids: protobuf-c sends no array */
    rpc_reply(call, (const ProtobufCMessage *)&out);
}

static const rpc_method_t empty_router_methods[] = {
    {RPC_ROUTER_COUNT, &herald__count_req__descriptor, on_router_count},
    {RPC_ROUTER_LIST, &herald__list_req__descriptor, on_router_list},
};

static void run_empty_router(void *arg)
{
    (void)arg;
    uv_run(&empty_router.loop, UV_RUN_DEFAULT);
}

static void on_empty_router_stop(uv_async_t *a)
{
    uv_close((uv_handle_t *)a, NULL);
    rpc_server_close(empty_router.srv, NULL, NULL);
}

static int router_up(void)
{
    http_res_t r = http("GET", "/herald/v1/health", NULL, NULL);
    json_t *routers = json_object_get(json_object_get(r.body, "data"), "routers");
    int up = json_is_true(json_object_get(json_array_get(routers, 0), "up"));
    json_decref(r.body);
    return up;
}

/* An empty shard's List reply carries no mids array at all: merging it must not copy from it
 * (memcpy from NULL is undefined even for 0 bytes; UBSan aborts on it). */
static void test_online_users_empty_shard(void **state)
{
    (void)state;
    char host[ADDR_HOST_MAX];
    int port;
    assert_int_equal(addr_split(conf.router_addrs, host, &port), 0);
    assert_int_equal(uv_loop_init(&empty_router.loop), 0);
    empty_router.srv = rpc_server_new(&empty_router.loop, empty_router_methods, 2, NULL);
    assert_int_equal(rpc_server_listen(empty_router.srv, host, port), 0);
    assert_int_equal(uv_async_init(&empty_router.loop, &empty_router.stop, on_empty_router_stop),
                     0);
    assert_int_equal(uv_thread_create(&empty_router.thread, run_empty_router, NULL), 0);
    int up = 0;
    for (int i = 0; i < 1000 && !(up = router_up()); i++) /* the client's backoff: up to 5 s */
        usleep(10000);
    assert_true(up);

    json_t *d = get_data("/herald/v1/online/users");
    assert_int_equal(json_array_size(json_object_get(d, "users")), 0);
    assert_int_equal(json_integer_value(json_object_get(d, "next_cursor")), 0);
    json_decref(d);
    d = get_data("/herald/v1/online/count");
    assert_int_equal(json_integer_value(json_object_get(d, "users")), 0);
    json_decref(d);

    uv_async_send(&empty_router.stop);
    uv_thread_join(&empty_router.thread);
    assert_int_equal(uv_loop_close(&empty_router.loop), 0);
}

int main(void)
{
    test_rpc_configure();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes_and_validation),
        cmocka_unit_test(test_push_with_routers_down),
        cmocka_unit_test(test_health),
        cmocka_unit_test(test_tokens_and_connect),
        cmocka_unit_test(test_registry_and_online),
        cmocka_unit_test(test_registry_reload),
        cmocka_unit_test(test_renew_online_not_utf8),
        cmocka_unit_test(test_ack_keeps_max),
        cmocka_unit_test(test_receive),
        cmocka_unit_test(test_join_room_validation),
        cmocka_unit_test(test_placement_calls_with_router_down),
        cmocka_unit_test(test_online_users_empty_shard), /* last: the router is up from here */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
