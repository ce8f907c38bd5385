/* test_http_trust.c - the locks and bounds of logic's HTTP API with real processes
 * (docs/security.md, "Business and admin HTTP"): with a bearer key every protected route
 * answers 401 without it (with WWW-Authenticate: Bearer) and answers with it, whatever the case
 * of the scheme; public routes answer without it; CORS preflights and headers for the
 * configured origin only; 500 and 10,000 ids are answered, oversize targets, headers and bodies
 * get 414 / 431 / 413; a slowloris (many sockets dribbling bytes) is cut at the request deadline
 * while a real push still gets its answer; the per-address connection cap.
 *
 * One cluster (1 comet, 1 router); logic with a bearer key, http.request_timeout = 1s,
 * http.max_per_addr = 8, http.max_body = 4k and a CORS origin. The raw requests below use their
 * own sockets so that they can pick a source address (any 127.x.y.z) and read headers.
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cluster.h"
#include "proc.h"

#define KEY "trust-key-0123456789"
#define ORIGIN "https://console.example"
#define REQUEST_TIMEOUT_MS 1000
#define MAX_PER_ADDR 8
#define MAX_BODY 4096
#define IO_TIMEOUT_MS 20000

static cluster_t *g_c;

static const char *const logic_env[] = {
    "HERALD_HTTP_REQUEST_TIMEOUT=1s", "HERALD_HTTP_MAX_PER_ADDR=8", "HERALD_HTTP_MAX_BODY=4k",
    "HERALD_HTTP_CORS_ORIGINS=" ORIGIN ", http://localhost:8080", NULL};

static int group_setup(void **state)
{
    (void)state;
    cluster_opts_t o = {.n_comets = 1, .n_routers = 1, .bearer_key = KEY};
    o.env[CLUSTER_LOGIC] = logic_env;
    g_c = cluster_start(&o);
    return g_c ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    return cluster_stop(g_c, false) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------- raw requests */

/* A socket from source address `from` connected to logic's HTTP port, with receive timeout
 * timeout_ms; -1 on failure. */
static int open_from(const char *from, int timeout_ms)
{
    struct sockaddr_in dst = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)cluster_logic_http_port(g_c))};
    struct sockaddr_in src = {.sin_family = AF_INET};
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    inet_pton(AF_INET, from, &src.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
        connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

typedef struct answer_s {
    int status;      /* 0: the connection closed or timed out without an answer */
    char head[4096]; /* status line and headers */
    json_t *json;    /* the body parsed, or NULL */
} answer_t;

/* Sends len bytes of req (the server may hang up before it has all of them) and reads one
 * answer ("Connection: close" is expected in req, or the answer's Content-Length is used). */
static answer_t raw(const char *from, const char *req, size_t len)
{
    static char buf[1 << 20];
    answer_t a = {0};
    int fd = open_from(from, IO_TIMEOUT_MS);
    size_t got = 0;
    ssize_t n;

    assert_true(fd >= 0);
    for (size_t off = 0; off < len; off += (size_t)n)
        if ((n = send(fd, req + off, len - off, MSG_NOSIGNAL)) <= 0)
            break;
    while (got < sizeof(buf) - 1 && (n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0) {
        got += (size_t)n;
        buf[got] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        const char *cl = end ? strcasestr(buf, "\r\nContent-Length:") : NULL;
        if (cl != NULL && got >= (size_t)(end + 4 - buf) + strtoul(cl + 17, NULL, 10))
            break;
    }
    close(fd);
    buf[got] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (end == NULL || sscanf(buf, "HTTP/1.%*d %d", &a.status) != 1)
        return a;
    snprintf(a.head, sizeof(a.head), "%.*s", (int)(end - buf + 2), buf);
    a.json = json_loads(end + 4, JSON_DECODE_ANY, NULL);
    return a;
}

/* method target with `auth` (NULL: no Authorization header) and extra header lines (may be
 * ""), from 127.0.0.1. */
static answer_t call(const char *method, const char *target, const char *auth, const char *extra)
{
    char req[8192];
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 2\r\n"
                     "%s%s%s%s\r\nhi",
                     method, target, auth ? "Authorization: " : "", auth ? auth : "",
                     auth ? "\r\n" : "", extra);
    return raw("127.0.0.1", req, (size_t)n);
}

/* The value of header name in a.head, copied into out, or NULL. */
static const char *header(const answer_t *a, const char *name, char *out, size_t cap)
{
    char pat[128];
    snprintf(pat, sizeof(pat), "\r\n%s:", name);
    const char *p = strcasestr(a->head, pat);
    if (p == NULL)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    const char *e = strstr(p, "\r\n");
    snprintf(out, cap, "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
    return out;
}

static long long json_code(const answer_t *a)
{
    return json_integer_value(json_object_get(a->json, "code"));
}

/* ------------------------------------------------------------------------------- access */

static void test_protected_routes_need_the_key(void **state)
{
    (void)state;
    char *token = cluster_issue_token(g_c, 77); /* with the key: the harness sends it */
    char revoke[128];
    snprintf(revoke, sizeof(revoke), "/herald/v1/tokens?token=%s", token);
    free(token);
    static const struct {
        const char *method, *target;
    } protected_routes[] = {
        {"POST", "/goim/push/keys?operation=1000&keys=77-0123456789abcdef01234567"},
        {"POST", "/goim/push/mids?operation=1000&mids=77"},
        {"POST", "/goim/push/room?operation=1000&type=live&room=trust"},
        {"POST", "/goim/push/all?operation=1000&speed=0"},
        {"POST", "/herald/v1/tokens?mid=78"},
        {"GET", "/goim/online/top?type=live&limit=10"},
        {"GET", "/goim/online/room?type=live&rooms=trust"},
        {"GET", "/goim/online/total"},
        {"GET", "/goim/nodes/instances"},
        {"GET", "/herald/v1/online/users?limit=10&cursor=0"},
        {"GET", "/herald/v1/online/count"},
        {"GET", "/herald/v1/rooms/members?room=live%3A%2F%2Ftrust&limit=10"},
        {"GET", "/herald/v1/metrics"},
        {"GET", "/metrics"},
        {NULL, NULL}, /* the revoke, built above */
    };
    size_t n = sizeof(protected_routes) / sizeof(protected_routes[0]);
    const char *wrong[] = {NULL, "Bearer wrong", "Bearer " KEY "x", KEY, "Basic " KEY};
    for (size_t i = 0; i < n; i++) {
        const char *method = protected_routes[i].method ? protected_routes[i].method : "DELETE";
        const char *target = protected_routes[i].target ? protected_routes[i].target : revoke;
        char v[64];
        for (size_t w = 0; w < sizeof(wrong) / sizeof(wrong[0]); w++) {
            answer_t a = call(method, target, wrong[w], "");
            if (a.status != 401)
                fail_msg("%s %s with %s: status %d, expected 401", method, target,
                         wrong[w] ? wrong[w] : "no key", a.status);
            assert_non_null(header(&a, "WWW-Authenticate", v, sizeof(v)));
            assert_string_equal(v, "Bearer");
            assert_int_equal(json_code(&a), -400);
            assert_non_null(
                strstr(json_string_value(json_object_get(a.json, "message")), "bearer key"));
            json_decref(a.json);
        }
        /* With the key, in any case of the scheme: answered by the route. */
        const char *good[] = {"Bearer " KEY, "bearer " KEY, "BEARER  " KEY};
        for (size_t g = 0; g < sizeof(good) / sizeof(good[0]); g++) {
            answer_t a = call(method, target, good[g], "");
            if (a.status != 200 || json_code(&a) != 0)
                fail_msg("%s %s with \"%s\": status %d, expected 200", method, target, good[g],
                         a.status);
            json_decref(a.json);
        }
    }
    /* Unknown paths need the key too: without it nothing tells which routes exist. */
    answer_t a = call("GET", "/goim/nope", NULL, "");
    assert_int_equal(a.status, 401);
    json_decref(a.json);
    a = call("GET", "/goim/nope", "Bearer " KEY, "");
    assert_int_equal(a.status, 404);
    json_decref(a.json);
}

static void test_public_routes_answer_without_the_key(void **state)
{
    (void)state;
    static const struct {
        const char *method, *target;
        int status;
    } public_routes[] = {
        {"GET", "/health", 200},
        {"GET", "/herald/v1/health", 200},
        {"GET", "/ready", 200},
        {"GET", "/herald/v1/ready", 200},
        {"GET", "/goim/nodes/weighted?platform=web", 200},
        /* The console is not installed in the harness's directory: 404, but not 401. */
        {"GET", "/web/", 404},
        /* The IM user's own routes: their own answer (400: no password in the body), not the
         * key's 401 (a wrong password is a 401 of its own, so it cannot tell the two apart). */
        {"POST", "/herald/v1/login?name=nobody-here", 400},
    };
    for (size_t i = 0; i < sizeof(public_routes) / sizeof(public_routes[0]); i++) {
        answer_t a = call(public_routes[i].method, public_routes[i].target, NULL, "");
        if (a.status != public_routes[i].status)
            fail_msg("%s %s without a key: status %d, expected %d", public_routes[i].method,
                     public_routes[i].target, a.status, public_routes[i].status);
        json_decref(a.json);
    }
}

static void test_cors(void **state)
{
    (void)state;
    static const char pre[] = "\r\nAccess-Control-Request-Method: POST\r\n"
                              "Access-Control-Request-Headers: authorization\r\n";
    static const struct {
        const char *method, *auth, *origin;
        int preflight, status;
        const char *allow_origin; /* expected Access-Control-Allow-Origin, NULL = none */
    } cases[] = {
        /* Preflights are answered without the key: 204 for an allowed origin, else 403. */
        {"OPTIONS", NULL, ORIGIN, 1, 204, ORIGIN},
        {"OPTIONS", NULL, "https://evil.example", 1, 403, NULL},
        /* The request itself: the header for an allowed origin; the key is still needed. */
        {"GET", "Bearer " KEY, "http://localhost:8080", 0, 200, "http://localhost:8080"},
        {"GET", NULL, ORIGIN, 0, 401, ORIGIN},
        {"GET", "Bearer " KEY, "https://evil.example", 0, 200, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char extra[512], v[256];
        snprintf(extra, sizeof(extra), "Origin: %s%s", cases[i].origin,
                 cases[i].preflight ? pre : "\r\n");
        answer_t a = call(cases[i].method, "/goim/online/total", cases[i].auth, extra);
        if (a.status != cases[i].status)
            fail_msg("CORS case %zu: status %d, expected %d", i, a.status, cases[i].status);
        const char *got = header(&a, "Access-Control-Allow-Origin", v, sizeof(v));
        if (cases[i].allow_origin == NULL)
            assert_null(got);
        else
            assert_string_equal(got, cases[i].allow_origin);
        if (got != NULL)
            assert_non_null(header(&a, "Vary", v, sizeof(v)));
        if (cases[i].status == 204) {
            assert_non_null(header(&a, "Access-Control-Allow-Headers", v, sizeof(v)));
            assert_non_null(strcasestr(v, "Authorization"));
            assert_non_null(header(&a, "Access-Control-Allow-Methods", v, sizeof(v)));
            assert_non_null(strstr(v, "POST"));
        }
        json_decref(a.json);
    }
}

/* ------------------------------------------------------------------------------- bounds */

/* POST /goim/push/mids with mids first..first+n-1 (with the key); returns the answer. */
static answer_t push_mids(int first, int n)
{
    size_t cap = 64 + (size_t)n * 20;
    char *req = malloc(cap + 256);
    size_t len = (size_t)snprintf(req, cap, "POST /goim/push/mids?operation=1000");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(req + len, cap - len, "&mids=%d", first + i);
    len += (size_t)snprintf(req + len, cap + 256 - len,
                            " HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: "
                            "Bearer " KEY "\r\nContent-Length: 2\r\n\r\nhi");
    answer_t a = raw("127.0.0.1", req, len);
    free(req);
    return a;
}

static void test_many_ids(void **state)
{
    (void)state;
    /* 500 ids: once a request that got no answer at all. */
    long long t0 = proc_now_ms();
    answer_t a = push_mids(100000, 500);
    assert_int_equal(a.status, 200);
    assert_int_equal(json_array_size(json_object_get(a.json, "data")), 500);
    json_decref(a.json);
    /* 10,000: the documented limit. */
    a = push_mids(200000, 10000);
    assert_int_equal(a.status, 200);
    assert_int_equal(json_array_size(json_object_get(a.json, "data")), 10000);
    json_decref(a.json);
    /* One more is the route's own 400. */
    a = push_mids(300000, 10001);
    assert_int_equal(a.status, 400);
    json_decref(a.json);
    printf("# 500 + 10,000 + 10,001 ids answered in %lld ms\n", proc_now_ms() - t0);
}

static void test_oversize_requests_are_answered(void **state)
{
    (void)state;
    /* Over http.max_head (256k) but within what libmicrohttpd's pool holds (max_head + 16k):
     * herald's own answers. Beyond the pool libmicrohttpd answers 414 / 431 itself. */
    size_t big = 264 * 1024;
    char *req = malloc(big + 512);
    /* A target over max_head: 414. */
    size_t len = (size_t)snprintf(req, 64, "GET /goim/online/total?pad=");
    memset(req + len, 'p', big);
    len += big;
    len += (size_t)snprintf(req + len, 256, " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    answer_t a = raw("127.0.0.1", req, len);
    assert_int_equal(a.status, 414);
    assert_int_equal(json_code(&a), -400);
    json_decref(a.json);
    /* Headers over it: 431. */
    len = (size_t)snprintf(req, 128, "GET /goim/online/total HTTP/1.1\r\nHost: t\r\nX-Pad: ");
    memset(req + len, 'h', big - 2048);
    len += big - 2048;
    len += (size_t)snprintf(req + len, 256, "\r\nConnection: close\r\n\r\n");
    a = raw("127.0.0.1", req, len);
    assert_int_equal(a.status, 431);
    assert_int_equal(json_code(&a), -400);
    json_decref(a.json);
    /* A body over max_body (4k): 413, declared or chunked. */
    len = (size_t)snprintf(req, 512,
                           "POST /goim/push/all?operation=1000 HTTP/1.1\r\nHost: t\r\n"
                           "Authorization: Bearer " KEY "\r\nConnection: close\r\n"
                           "Content-Length: %d\r\n\r\n",
                           MAX_BODY + 1);
    memset(req + len, 'b', MAX_BODY + 1);
    a = raw("127.0.0.1", req, len + MAX_BODY + 1);
    assert_int_equal(a.status, 413);
    json_decref(a.json);
    len = (size_t)snprintf(req, 512,
                           "POST /goim/push/all?operation=1000 HTTP/1.1\r\nHost: t\r\n"
                           "Authorization: Bearer " KEY "\r\nConnection: close\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n%x\r\n",
                           MAX_BODY + 1);
    memset(req + len, 'b', MAX_BODY + 1);
    len += MAX_BODY + 1;
    len += (size_t)snprintf(req + len, 64, "\r\n0\r\n\r\n");
    a = raw("127.0.0.1", req, len);
    assert_int_equal(a.status, 413);
    json_decref(a.json);
    free(req);
}

/* ------------------------------------------------------------------------ slowloris, caps */

#define LORIS_ADDRS 8
#define LORIS_PER_ADDR MAX_PER_ADDR
#define LORIS (LORIS_ADDRS * LORIS_PER_ADDR)

/* 1 when the server has closed fd (read 0 or reset); never blocks. */
static int closed_by_server(int fd)
{
    char b[256];
    ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void test_slowloris_is_cut_while_pushes_are_answered(void **state)
{
    (void)state;
    static const char dribble[] = "POST /goim/push/all?operation=1000 HTTP/1.1\r\nHost: t\r\n"
                                  "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    int fds[LORIS];
    long long opened = proc_now_ms(), cut_at[LORIS] = {0};
    for (int i = 0; i < LORIS; i++) {
        char from[32];
        snprintf(from, sizeof(from), "127.0.1.%d", 10 + i / LORIS_PER_ADDR);
        fds[i] = open_from(from, 1000);
        assert_true(fds[i] >= 0);
    }
    /* One byte per socket every 100 ms, for up to 5 deadlines; a real push on the way. */
    int left = LORIS, pushes = 0;
    long long worst_push = 0;
    for (size_t k = 0; left > 0 && proc_now_ms() - opened < 5 * REQUEST_TIMEOUT_MS; k++) {
        for (int i = 0; i < LORIS; i++) {
            if (cut_at[i] != 0)
                continue;
            if (send(fds[i], dribble + k % (sizeof(dribble) - 1), 1, MSG_NOSIGNAL) != 1 ||
                closed_by_server(fds[i])) {
                cut_at[i] = proc_now_ms();
                left--;
            }
        }
        if (k % 3 == 1 && left > 0) {
            long long t0 = proc_now_ms();
            json_t *j = NULL;
            int st = cluster_http(g_c, "POST", "/goim/push/all?operation=1000&speed=0", "real", &j);
            json_decref(j);
            assert_int_equal(st, 200);
            pushes++;
            if (proc_now_ms() - t0 > worst_push)
                worst_push = proc_now_ms() - t0;
        }
        proc_sleep_ms(100);
    }
    for (int i = 0; i < LORIS; i++) {
        close(fds[i]);
        if (cut_at[i] == 0)
            fail_msg("dribbling socket %d was never cut", i);
        long long after = cut_at[i] - opened;
        if (after < REQUEST_TIMEOUT_MS - 200 || after > 3 * REQUEST_TIMEOUT_MS)
            fail_msg("dribbling socket %d cut after %lld ms (deadline %d ms)", i, after,
                     REQUEST_TIMEOUT_MS);
    }
    assert_true(pushes >= 2);
    /* Each push waits for Kafka's acknowledgement; none waited for a slot. */
    assert_true(worst_push < REQUEST_TIMEOUT_MS);
    printf("# %d dribbling sockets cut; %d pushes meanwhile, the slowest %lld ms\n", LORIS, pushes,
           worst_push);
}

static void test_per_address_cap(void **state)
{
    (void)state;
    int held[MAX_PER_ADDR];
    for (int i = 0; i < MAX_PER_ADDR; i++) {
        held[i] = open_from("127.0.2.1", 1000);
        assert_true(held[i] >= 0);
        assert_int_equal(send(held[i], "GET /health HTTP/1.1\r\n", 22, MSG_NOSIGNAL), 22);
    }
    proc_sleep_ms(100);
    for (int i = 0; i < MAX_PER_ADDR; i++)
        assert_false(closed_by_server(held[i]));
    /* One more from the same address is closed as it is accepted, with no request read. */
    int extra = open_from("127.0.2.1", 1000);
    assert_true(extra >= 0);
    long long t0 = proc_now_ms();
    char b[64];
    ssize_t n = recv(extra, b, sizeof(b), 0);
    assert_true(n <= 0 && (n == 0 || errno != EAGAIN));
    assert_true(proc_now_ms() - t0 < REQUEST_TIMEOUT_MS / 2);
    close(extra);
    /* Another address is served meanwhile, and so is a held connection that finishes. */
    answer_t a =
        raw("127.0.2.2", "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 52);
    assert_int_equal(a.status, 200);
    json_decref(a.json);
    assert_int_equal(send(held[0], "Host: t\r\n\r\n", 11, MSG_NOSIGNAL), 11);
    n = recv(held[0], b, sizeof(b) - 1, 0);
    assert_true(n > 12);
    b[n] = '\0';
    assert_non_null(strstr(b, " 200 "));
    for (int i = 0; i < MAX_PER_ADDR; i++)
        close(held[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_protected_routes_need_the_key),
        cmocka_unit_test(test_public_routes_answer_without_the_key),
        cmocka_unit_test(test_cors),
        cmocka_unit_test(test_many_ids),
        cmocka_unit_test(test_oversize_requests_are_answered),
        cmocka_unit_test(test_slowloris_is_cut_while_pushes_are_answered),
        cmocka_unit_test(test_per_address_cap),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
