/* test_offline.c - offline messages and delivery guarantees (docs/delivery.md): every message
 * logic accepted for a user id reaches each connection of that user exactly once, in order,
 * through offline periods, reconnects, and job, comet, Kafka and Redis failures; a client that
 * stops reading is kicked with a reason and recovers on reconnect.
 *
 * One cluster (2 comets, Redis with AOF and appendfsync always) for every test, in order; each
 * test uses its own users and leaves the cluster whole for the next. Every check reads the exact
 * sequence of user pushes a connection got: seq 1, 2, 3... with the body pushed under that seq. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "herald_err.h"
#include "http_client.h"
#include "proc.h"

#define OP_BIZ 1000
#define OP_ACK 18
#define WAIT_MS 10000
/* A restarted job gets its partitions back only after the mock cluster gives up on the killed
 * member (docs/internals.md, Processes). */
#define REJOIN_WAIT_MS 60000
#define INBOX_MAX 100 /* logic's inbox.max_count in this cluster */
#define MAX_SEQ 1200  /* highest seq a test user reaches */

static cluster_t *g_c;

static int group_setup(void **state)
{
    static const char *const logic_env[] = {"HERALD_INBOX_MAX_COUNT=100",
                                            "HERALD_INBOX_PAGE_BYTES=4k", NULL};
    static const char *const comet_env[] = {"HERALD_PROTOCOL_MAX_PENDING_BYTES=256k", NULL};
    static const char *const redis_args[] = {"--appendonly", "yes", "--appendfsync", "always",
                                             NULL};
    cluster_opts_t o = {.n_comets = 2, .n_routers = 1, .comet_workers = 2};
    o.env[CLUSTER_LOGIC] = logic_env;
    o.env[CLUSTER_COMET] = comet_env;
    o.args[CLUSTER_REDIS] = redis_args;
    g_c = cluster_start(&o);
    return g_c ? 0 : -1;
}

/* ------------------------------------------------------------------------------ pushes */

/* One push to mids with a long client timeout (a push waits for Kafka). Returns the HTTP status
 * or a negative error; seqs[i] gets mids[i]'s sequence number on 200. Thread-safe. */
static int push_mids(const int64_t *mids, int n, const char *body, uint64_t *seqs, int timeout_ms)
{
    char path[256];
    int o = snprintf(path, sizeof(path), "/goim/push/mids?operation=%d", OP_BIZ);
    for (int i = 0; i < n; i++)
        o += snprintf(path + o, sizeof(path) - (size_t)o, "&mids=%lld", (long long)mids[i]);
    char url[sizeof(path) + 32];
    int rc =
        http_client_url(url, sizeof(url), "http", "127.0.0.1", cluster_logic_http_port(g_c), path);
    if (rc != 0)
        return rc;
    http_client_req_t req = {.method = "POST",
                             .url = url,
                             .body = body,
                             .body_len = strlen(body),
                             .timeout_ms = timeout_ms};
    http_client_resp_t resp;
    rc = http_client_request(NULL, &req, &resp);
    if (rc != 0)
        return rc;
    int status = resp.status;
    json_t *j = json_loads(resp.body, 0, NULL);
    free(resp.body);
    json_t *data = json_object_get(j, "data");
    for (int i = 0; status == 200 && i < n; i++) {
        json_t *e = json_array_get(data, (size_t)i);
        if (json_integer_value(json_object_get(e, "mid")) != mids[i])
            status = -1; /* the reply lists the mids in request order */
        seqs[i] = (uint64_t)json_integer_value(json_object_get(e, "seq"));
    }
    json_decref(j);
    return status;
}

/* What one user was sent: bodies[seq], from the pushes answered 200. Every body starts with
 * "<tag>-". */
typedef struct user_s {
    int64_t mid;
    char tag[16];
    char *token;
    char *bodies[MAX_SEQ + 1];
    uint64_t top; /* highest seq answered 200 */
} user_t;

static void user_init(user_t *u, int64_t mid)
{
    memset(u, 0, sizeof(*u));
    u->mid = mid;
    snprintf(u->tag, sizeof(u->tag), "u%lld", (long long)mid);
    u->token = cluster_issue_token(g_c, mid);
}

static void user_deinit(user_t *u)
{
    free(u->token);
    for (int i = 0; i <= MAX_SEQ; i++)
        free(u->bodies[i]);
}

static void user_record(user_t *u, uint64_t seq, const char *body)
{
    assert_true(seq >= 1 && seq <= MAX_SEQ);
    free(u->bodies[seq]);
    u->bodies[seq] = strdup(body);
    if (seq > u->top)
        u->top = seq;
}

/* Pushes body to u alone; asserts 200 and that it got the next seq. */
static void push_ok(user_t *u, const char *body)
{
    uint64_t seq = 0;
    int st = push_mids(&u->mid, 1, body, &seq, WAIT_MS);
    if (st != 200)
        fail_msg("push to %lld: status %d", (long long)u->mid, st);
    if (seq != u->top + 1)
        fail_msg("push to %lld: seq %llu, want %llu", (long long)u->mid, (unsigned long long)seq,
                 (unsigned long long)u->top + 1);
    user_record(u, seq, body);
}

/* Pushes n messages "<tag>-<seq>" of `pad` extra bytes to u. */
static void push_n(user_t *u, int n, size_t pad)
{
    char *body = malloc(64 + pad);
    for (int i = 0; i < n; i++) {
        int l = snprintf(body, 64, "%s-%llu", u->tag, (unsigned long long)u->top + 1);
        memset(body + l, 'x', pad);
        body[l + (int)pad] = '\0';
        push_ok(u, body);
    }
    free(body);
}

/* ------------------------------------------------------------------------------ clients */

/* Auth body with the user's token; last_seq < 0 leaves it out, device may be NULL. */
static char *auth_body(const user_t *u, long long last_seq, const char *device)
{
    json_t *b =
        json_pack("{s:s,s:s,s:[i]}", "token", u->token, "platform", "test", "accepts", OP_BIZ);
    if (last_seq >= 0)
        json_object_set_new(b, "last_seq", json_integer(last_seq));
    if (device)
        json_object_set_new(b, "device", json_string(device));
    char *s = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    return s;
}

/* Connects u to comet `index` and asserts the auth reply's last_seq and recovered. */
static client_t *connect_user(const user_t *u, int index, client_transport_t t, long long last_seq,
                              const char *device, uint64_t want_last, bool want_recovered)
{
    char *auth = auth_body(u, last_seq, device);
    char err[256] = "";
    json_t *reply = NULL;
    client_t *cl = cluster_connect(g_c, index, t, auth, &reply, err, sizeof(err));
    free(auth);
    if (cl == NULL)
        fail_msg("mid %lld: %s", (long long)u->mid, err);
    json_int_t last = json_integer_value(json_object_get(reply, "last_seq"));
    json_t *rec = json_object_get(reply, "recovered");
    if ((uint64_t)last != want_last || !json_is_boolean(rec) ||
        json_is_true(rec) != want_recovered) {
        char *dump = json_dumps(reply, JSON_COMPACT);
        fail_msg("mid %lld: auth reply %s, want last_seq %llu recovered %s", (long long)u->mid,
                 dump, (unsigned long long)want_last, want_recovered ? "true" : "false");
    }
    json_decref(reply);
    return cl;
}

/* Receives the next packet that is not a heartbeat reply. Returns client_recv's result. */
static int next_packet(client_t *cl, client_packet_t *p, long long deadline)
{
    for (;;) {
        long long left = deadline - proc_now_ms();
        int rc = client_recv(cl, p, left > 0 ? (int)left : 0);
        if (rc != 1 || p->op != 3)
            return rc;
        client_packet_free(p);
    }
}

/* Asserts the next user pushes are exactly seqs from..to, in order, each with the body u was
 * answered 200 for (a seq u has no body for, from a push whose answer was lost, must carry u's
 * tag). */
static void expect_seqs(client_t *cl, const char *who, const user_t *u, uint64_t from, uint64_t to,
                        int timeout_ms)
{
    long long deadline = proc_now_ms() + timeout_ms;
    char tag[32];
    snprintf(tag, sizeof(tag), "%s-", u->tag);
    for (uint64_t s = from; s <= to; s++) {
        client_packet_t p = {0};
        int rc = next_packet(cl, &p, deadline);
        if (rc != 1)
            fail_msg("%s: waiting for seq %llu (of %llu..%llu): %s", who, (unsigned long long)s,
                     (unsigned long long)from, (unsigned long long)to,
                     rc == 0 ? "timed out" : "connection ended");
        const char *want = u->bodies[s];
        bool ok = p.op == OP_BIZ && p.seq == s &&
                  (want ? strcmp((const char *)p.body, want) == 0
                        : strncmp((const char *)p.body, tag, strlen(tag)) == 0);
        if (!ok)
            fail_msg("%s: want op %d seq %llu body \"%.40s\", got op %u seq %u body \"%.40s\"", who,
                     OP_BIZ, (unsigned long long)s, want ? want : tag, p.op, p.seq,
                     (const char *)p.body);
        client_packet_free(&p);
    }
}

static void expect_nothing(client_t *cl, const char *who, int ms)
{
    cluster_expect_silence(cl, who, ms);
}

static long long comet_metric(int index, const char *name)
{
    long long v = -1;
    cluster_metric(cluster_comet_admin_port(g_c, index), "/metrics", name, &v);
    return v;
}

/* Reads packets until the server closes the connection; asserts it. */
static void expect_closed(client_t *cl, const char *who)
{
    long long deadline = proc_now_ms() + WAIT_MS;
    client_packet_t p = {0};
    int rc;
    while ((rc = next_packet(cl, &p, deadline)) == 1)
        client_packet_free(&p);
    if (rc == 0)
        fail_msg("%s: still open", who);
}

/* ------------------------------------------------------------------------------- tests */

/* Pushes to a user who never connected arrive on connect, in order, then live ones follow. A
 * client that sends no last_seq and no device (a goim client) gets no backlog. */
static void test_offline_backlog_in_order(void **state)
{
    user_t u;
    user_init(&u, 5001);
    push_n(&u, 10, 0);
    client_t *cl = connect_user(&u, 0, CLIENT_TCP, 0, NULL, 10, true);
    expect_seqs(cl, "backlog", &u, 1, 10, WAIT_MS);
    push_n(&u, 1, 0);
    expect_seqs(cl, "live", &u, 11, 11, WAIT_MS);
    client_t *goim = connect_user(&u, 1, CLIENT_WS, -1, NULL, 11, true);
    expect_nothing(goim, "goim-style client", 300);
    push_n(&u, 1, 0);
    expect_seqs(goim, "goim-style client", &u, 12, 12, WAIT_MS);
    expect_seqs(cl, "live", &u, 12, 12, WAIT_MS);
    expect_nothing(cl, "first client", 200);
    client_free(cl);
    client_free(goim);
    user_deinit(&u);
}

/* More than the inbox holds: recovered:false and the newest INBOX_MAX messages, in order
 * (several backlog pages: logic's page_bytes is 4k here). */
static void test_over_bound_recovered_false(void **state)
{
    user_t u;
    user_init(&u, 5002);
    push_n(&u, INBOX_MAX + 30, 200);
    long long fetches = comet_metric(0, "fetches");
    client_t *cl = connect_user(&u, 0, CLIENT_TCP, 0, NULL, u.top, false);
    expect_seqs(cl, "over bound", &u, u.top - INBOX_MAX + 1, u.top, WAIT_MS);
    expect_nothing(cl, "over bound", 200);
    assert_true(comet_metric(0, "fetches") > fetches); /* it took more than one page */
    /* Within the bound, the same user is complete again. */
    client_t *again = connect_user(&u, 1, CLIENT_TCP, (long long)u.top - 5, NULL, u.top, true);
    expect_seqs(again, "within bound", &u, u.top - 4, u.top, WAIT_MS);
    client_free(cl);
    client_free(again);
    user_deinit(&u);
}

/* Reconnecting with last_seq gives only what was missed; two devices each get everything; a
 * device that comes back without last_seq resumes from its acked position, or, when it never
 * acked, from what its last connection was written. */
static void test_reconnect_and_devices(void **state)
{
    user_t u;
    user_init(&u, 5003);
    client_t *a = connect_user(&u, 0, CLIENT_TCP, 0, "dev-a", 0, true);
    client_t *b = connect_user(&u, 1, CLIENT_WS, 0, "dev-b", 0, true);
    push_n(&u, 5, 0);
    expect_seqs(a, "device a", &u, 1, 5, WAIT_MS);
    expect_seqs(b, "device b", &u, 1, 5, WAIT_MS);
    assert_int_equal(client_send(a, OP_ACK, 4, NULL, 0), 0); /* a acks 4 of the 5 */
    proc_sleep_ms(500); /* comet batches acks for 100 ms; logic stores them */
    client_free(a);
    client_free(b);
    proc_sleep_ms(500); /* Disconnect carries b's written position to logic */
    push_n(&u, 3, 0);

    a = connect_user(&u, 1, CLIENT_TCP, 5, "dev-a", 8, true);
    expect_seqs(a, "device a, last_seq 5", &u, 6, 8, WAIT_MS);
    client_t *a2 = connect_user(&u, 0, CLIENT_TCP, -1, "dev-a", 8, true);
    expect_seqs(a2, "device a, acked 4", &u, 5, 8, WAIT_MS);
    b = connect_user(&u, 0, CLIENT_WS, -1, "dev-b", 8, true);
    expect_seqs(b, "device b, written 5", &u, 6, 8, WAIT_MS);
    push_n(&u, 1, 0);
    expect_seqs(a, "device a", &u, 9, 9, WAIT_MS);
    expect_seqs(a2, "device a again", &u, 9, 9, WAIT_MS);
    expect_seqs(b, "device b", &u, 9, 9, WAIT_MS);
    expect_nothing(a, "device a", 200);
    expect_nothing(b, "device b", 100);
    client_free(a);
    client_free(a2);
    client_free(b);
    user_deinit(&u);
}

/* Pushes in a thread, one every interval_ms, to n mids at once, recording each answer. */
typedef struct pusher_s {
    pthread_t thread;
    int64_t mids[2];
    int n;
    int count, interval_ms;
    const char *tag;
    int status[400];
    uint64_t seqs[400][2];
    char bodies[400][48];
    volatile int done; /* pushes answered so far */
} pusher_t;

static void *pusher_run(void *arg)
{
    pusher_t *p = arg;
    for (int i = 0; i < p->count; i++) {
        snprintf(p->bodies[i], sizeof(p->bodies[i]), "%s-%d", p->tag, i);
        /* Longer than a Kafka delivery may take (message.timeout.ms 30 s) */
        p->status[i] = push_mids(p->mids, p->n, p->bodies[i], p->seqs[i], 45000);
        __atomic_store_n(&p->done, i + 1, __ATOMIC_RELEASE);
        proc_sleep_ms(p->interval_ms);
    }
    return NULL;
}

static void pusher_wait_for(pusher_t *p, int n)
{
    long long deadline = proc_now_ms() + 60000;
    while (__atomic_load_n(&p->done, __ATOMIC_ACQUIRE) < n && proc_now_ms() < deadline)
        proc_sleep_ms(20);
    assert_true(__atomic_load_n(&p->done, __ATOMIC_ACQUIRE) >= n);
}

/* Records the answered pushes into the users (users[k] for mids[k]); returns how many failed. */
static int pusher_collect(pusher_t *p, user_t **users)
{
    assert_int_equal(pthread_join(p->thread, NULL), 0);
    int failed = 0;
    for (int i = 0; i < p->count; i++) {
        if (p->status[i] != 200) {
            failed++;
            print_message("push %d: status %d\n", i, p->status[i]);
            continue;
        }
        for (int k = 0; k < p->n; k++)
            user_record(users[k], p->seqs[i][k], p->bodies[i]);
    }
    return failed;
}

/* Every broker down for a few seconds while pushes go on: the pushes wait for Kafka and are
 * answered once it is back, and every accepted one arrives, in order. */
static void test_kafka_down(void **state)
{
    user_t u;
    user_init(&u, 5006);
    client_t *cl = connect_user(&u, 0, CLIENT_TCP, 0, NULL, 0, true);
    pusher_t *p = calloc(1, sizeof(*p));
    *p = (pusher_t){.mids = {u.mid}, .n = 1, .count = 30, .interval_ms = 100, .tag = u.tag};
    assert_int_equal(pthread_create(&p->thread, NULL, pusher_run, p), 0);
    pusher_wait_for(p, 5);
    assert_int_equal(cluster_kill(g_c, CLUSTER_KAFKA, 0, SIGUSR1), 0);
    long long t0 = proc_now_ms();
    proc_sleep_ms(3000);
    assert_int_equal(cluster_kill(g_c, CLUSTER_KAFKA, 0, SIGUSR2), 0);
    int failed = pusher_collect(p, (user_t *[]){&u});
    print_message("kafka down 3 s: %d of %d pushes failed, all answered %lld ms after the outage "
                  "began\n",
                  failed, p->count, proc_now_ms() - t0);
    assert_true(u.top >= (uint64_t)(p->count - failed));
    expect_seqs(cl, "client across the Kafka outage", &u, 1, u.top, REJOIN_WAIT_MS);
    expect_nothing(cl, "client across the Kafka outage", 300);
    free(p);
    client_free(cl);
    user_deinit(&u);
}

/* `kind` killed (SIGKILL) while pushes go on to a user online (on comet 0) and one offline, then
 * restarted a second later: pushes fail or go unanswered meanwhile (one in flight may have been
 * stored without an answer: it then arrives like any other, under its own seq), and every push
 * answered 200 arrives once, in order, to the user online and, on connect, to the one offline. */
static void restart_under_pushes(cluster_kind_t kind, const char *what, int64_t mid_on,
                                 int64_t mid_off)
{
    user_t on, off;
    user_init(&on, mid_on);
    user_init(&off, mid_off);
    client_t *cl = connect_user(&on, 0, CLIENT_TCP, 0, NULL, 0, true);
    pusher_t *p = calloc(1, sizeof(*p));
    snprintf(off.tag, sizeof(off.tag), "%s", on.tag); /* one push goes to both */
    *p = (pusher_t){
        .mids = {on.mid, off.mid}, .n = 2, .count = 80, .interval_ms = 50, .tag = on.tag};
    assert_int_equal(pthread_create(&p->thread, NULL, pusher_run, p), 0);
    pusher_wait_for(p, 15);
    assert_int_equal(cluster_kill(g_c, kind, 0, SIGKILL), 0);
    char st[64];
    assert_true(cluster_wait_exit(g_c, kind, 0, 5000, st, sizeof(st)));
    proc_sleep_ms(1000);
    assert_int_equal(cluster_restart(g_c, kind, 0, false), 0);
    int failed = pusher_collect(p, (user_t *[]){&on, &off});
    print_message("%s restart: %d of %d pushes failed\n", what, failed, p->count);
    assert_true(failed > 0 && failed < p->count - 20); /* it was down, and it came back */
    expect_seqs(cl, "online user across the restart", &on, 1, on.top, WAIT_MS);
    expect_nothing(cl, "online user", 300);
    client_t *late = connect_user(&off, 1, CLIENT_TCP, 0, NULL, off.top, true);
    expect_seqs(late, "offline user after the restart", &off, 1, off.top, WAIT_MS);
    expect_nothing(late, "offline user", 200);
    free(p);
    client_free(cl);
    client_free(late);
    user_deinit(&on);
    user_deinit(&off);
    assert_int_equal(cluster_wait_ready(g_c), 0);
}

/* Redis: pushes to user ids fail while it is down; nothing answered 200 is lost (AOF). */
static void test_redis_restart(void **state)
{
    restart_under_pushes(CLUSTER_REDIS, "redis", 5007, 5008);
}

/* logic: the comets keep their clients while it is away; nothing answered 200 is lost. */
static void test_logic_killed(void **state)
{
    restart_under_pushes(CLUSTER_LOGIC, "logic", 5011, 5012);
}

/* job killed with SIGKILL in the middle of 1,000 user pushes and restarted: every message
 * arrives exactly once, in order, on each of the user's two connections (Kafka redelivers what
 * job had not committed; comet drops what a connection has). */
static void test_job_killed_mid_stream(void **state)
{
    user_t u;
    user_init(&u, 5004);
    client_t *tcp = connect_user(&u, 0, CLIENT_TCP, 0, NULL, 0, true);
    client_t *ws = connect_user(&u, 1, CLIENT_WS, 0, NULL, 0, true);
    long long dups = comet_metric(0, "duplicates") + comet_metric(1, "duplicates");
    long long t0 = proc_now_ms();
    for (int i = 0; i < 1000; i++) {
        if (i == 300) {
            assert_int_equal(cluster_kill(g_c, CLUSTER_JOB, 0, SIGKILL), 0);
            char st[64];
            assert_true(cluster_wait_exit(g_c, CLUSTER_JOB, 0, 5000, st, sizeof(st)));
        }
        if (i == 600)
            assert_int_equal(cluster_restart(g_c, CLUSTER_JOB, 0, true), 0);
        char body[32];
        snprintf(body, sizeof(body), "u5004-%d", i + 1);
        push_ok(&u, body);
    }
    print_message("1000 pushes answered in %lld ms\n", proc_now_ms() - t0);
    expect_seqs(tcp, "tcp connection", &u, 1, 1000, REJOIN_WAIT_MS);
    expect_seqs(ws, "ws connection", &u, 1, 1000, REJOIN_WAIT_MS);
    expect_nothing(tcp, "tcp connection", 500);
    expect_nothing(ws, "ws connection", 100);
    print_message("delivered in %lld ms; duplicates dropped by the comets: %lld\n",
                  proc_now_ms() - t0,
                  comet_metric(0, "duplicates") + comet_metric(1, "duplicates") - dups);
    client_free(tcp);
    client_free(ws);
    user_deinit(&u);
}

/* The comet a client is on killed with SIGKILL: the client reconnects to the other comet with
 * its last_seq and gets everything it missed, then live pushes. */
static void test_comet_killed(void **state)
{
    user_t u;
    user_init(&u, 5005);
    client_t *cl = connect_user(&u, 1, CLIENT_TCP, 0, NULL, 0, true);
    push_n(&u, 20, 0);
    expect_seqs(cl, "before the kill", &u, 1, 20, WAIT_MS);
    assert_int_equal(cluster_kill(g_c, CLUSTER_COMET, 1, SIGKILL), 0);
    char st[64];
    assert_true(cluster_wait_exit(g_c, CLUSTER_COMET, 1, 5000, st, sizeof(st)));
    expect_closed(cl, "client of the killed comet");
    client_free(cl);
    push_n(&u, 20, 0); /* the dead comet's placement still gets envelopes: skipped */
    cl = connect_user(&u, 0, CLIENT_TCP, 20, NULL, 40, true);
    expect_seqs(cl, "after reconnecting", &u, 21, 40, WAIT_MS);
    push_n(&u, 5, 0);
    expect_seqs(cl, "live again", &u, 41, 45, WAIT_MS);
    expect_nothing(cl, "live again", 200);
    client_free(cl);
    user_deinit(&u);
    assert_int_equal(cluster_restart(g_c, CLUSTER_COMET, 1, false), 0);
    assert_int_equal(cluster_wait_ready(g_c), 0);
}

/* A client that stops reading is kicked with reason "slow consumer" once comet holds more than
 * max_pending_bytes for it, and gets the rest after reconnecting with its last_seq. */
static void test_slow_consumer(void **state)
{
    user_t u;
    user_init(&u, 5009);
    client_t *cl = connect_user(&u, 0, CLIENT_TCP, 0, NULL, 0, true);
    /* The socket buffers on both sides take a few MB first (loopback autotuning); a smaller
     * receive buffer would only slow the reading below down (tiny windows wait for delayed
     * acks), past comet's linger after the kick. */
    long long slow = comet_metric(0, "slow_consumers");
    for (int i = 0; i < 400 && comet_metric(0, "slow_consumers") == slow; i++)
        push_n(&u, 1, 60 * 1024);
    assert_true(comet_metric(0, "slow_consumers") > slow);
    /* Read what made it to the socket: the pushes in order, then the kick, then the end. */
    long long deadline = proc_now_ms() + WAIT_MS;
    uint64_t got = 0;
    char *reason = NULL;
    client_packet_t p = {0};
    while (next_packet(cl, &p, deadline) == 1) {
        if (p.op == 6) {
            json_t *j = json_loadb((const char *)p.body, p.body_len, 0, NULL);
            reason = strdup(json_string_value(json_object_get(j, "reason")) ?: "");
            json_decref(j);
        } else {
            assert_int_equal(p.op, OP_BIZ);
            assert_int_equal(p.seq, got + 1);
            assert_string_equal((const char *)p.body, u.bodies[p.seq]);
            assert_null(reason); /* nothing after the kick */
            got = p.seq;
        }
        client_packet_free(&p);
    }
    print_message("slow consumer: read %llu of %llu pushes, kick reason %s\n",
                  (unsigned long long)got, (unsigned long long)u.top, reason ? reason : "(none)");
    assert_non_null(reason);
    assert_string_equal(reason, "slow consumer");
    free(reason);
    client_free(cl);
    assert_true(u.top - got <= INBOX_MAX);
    cl = connect_user(&u, 0, CLIENT_TCP, (long long)got, NULL, u.top, true);
    expect_seqs(cl, "after reconnecting", &u, got + 1, u.top, WAIT_MS);
    expect_nothing(cl, "after reconnecting", 200);
    client_free(cl);
    user_deinit(&u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offline_backlog_in_order),
        cmocka_unit_test(test_over_bound_recovered_false),
        cmocka_unit_test(test_reconnect_and_devices),
        cmocka_unit_test(test_kafka_down),
        cmocka_unit_test(test_redis_restart),
        cmocka_unit_test(test_logic_killed),
        cmocka_unit_test(test_job_killed_mid_stream),
        cmocka_unit_test(test_comet_killed),
        cmocka_unit_test(test_slow_consumer),
    };
    int failed = cmocka_run_group_tests_name("offline", tests, group_setup, NULL);
    if (cluster_stop(g_c, failed != 0) != 0)
        failed++;
    return failed ? 1 : 0;
}
