/* test_deliver.c - herald-job's registry, comet clients, delivery and room batching on a loop,
 * against a real redis-server (registry) and two comets' RPC services on loopback (test peers
 * that record what they receive and can hold their replies). Envelopes are handed to the
 * kafka_message_cb directly: the Kafka side is the adapter's and the integration tests'. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "daemon.h"
#include "herald.pb-c.h"
#include "job_comets.h"
#include "job_conf.h"
#include "job_deliver.h"
#include "test_support.h"
#include "redis.h"
#include "rpc.h"
#include "rpc_methods.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define PREFIX "jobtest:"
#define MAX_HELD 64

/* ------------------------------------------------------------------------ comet test peer */

typedef struct peer_s {
    const char *id;
    const char *room;   /* the one room it reports, or NULL */
    const char *joined; /* a room it announced (JOIN) without reporting it */
    int hold_rooms;     /* keep Rooms calls unanswered */
    rpc_server_t *server;
    int hold_room, hold_push; /* keep those calls unanswered */
    rpc_call_t *held[MAX_HELD];
    size_t n_held;
    int push_calls, room_calls, bcast_calls, rooms_calls;
    char keys[8][32];
    size_t n_keys, n_seqs;
    uint64_t seqs[8];
    int32_t op, ver, speed;
    uint32_t seq;
    char body[64];
    size_t room_sizes[MAX_HELD];
    int32_t room_ops[256];
    size_t n_room_ops;
} peer_t;

static void hold(peer_t *p, rpc_call_t *call)
{
    assert_true(p->n_held < MAX_HELD);
    p->held[p->n_held++] = call;
}

static void on_push_keys(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    peer_t *p = arg;
    const Herald__PushKeysReq *req = (const Herald__PushKeysReq *)msg;
    p->push_calls++;
    p->n_keys = req->n_keys < 8 ? req->n_keys : 8;
    for (size_t i = 0; i < p->n_keys; i++)
        snprintf(p->keys[i], sizeof(p->keys[i]), "%s", req->keys[i]);
    p->n_seqs = req->n_seqs < 8 ? req->n_seqs : 8;
    for (size_t i = 0; i < p->n_seqs; i++)
        p->seqs[i] = req->seqs[i];
    assert_non_null(req->proto);
    p->op = req->proto->op;
    p->ver = req->proto->ver;
    p->seq = req->proto->seq;
    snprintf(p->body, sizeof(p->body), "%.*s", (int)req->proto->body.len,
             (const char *)req->proto->body.data);
    if (p->hold_push) {
        hold(p, call);
        return;
    }
    Herald__PushKeysReply reply = HERALD__PUSH_KEYS_REPLY__INIT;
    reply.delivered = (int32_t)req->n_keys;
    rpc_reply(call, (const ProtobufCMessage *)&reply);
}

static void on_broadcast_room(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    peer_t *p = arg;
    const Herald__BroadcastRoomReq *req = (const Herald__BroadcastRoomReq *)msg;
    assert_true(p->room_calls < MAX_HELD);
    assert_string_equal(req->room_id,
                        p->joined && strcmp(req->room_id, p->joined) == 0 ? p->joined : p->room);
    p->room_sizes[p->room_calls++] = req->n_protos;
    for (size_t i = 0; i < req->n_protos && p->n_room_ops < 256; i++) {
        assert_int_equal(req->protos[i]->ver, 1);
        p->room_ops[p->n_room_ops++] = req->protos[i]->op;
    }
    if (p->hold_room) {
        hold(p, call);
        return;
    }
    Herald__BroadcastRoomReply reply = HERALD__BROADCAST_ROOM_REPLY__INIT;
    rpc_reply(call, (const ProtobufCMessage *)&reply);
}

static void on_broadcast(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    peer_t *p = arg;
    const Herald__BroadcastReq *req = (const Herald__BroadcastReq *)msg;
    p->bcast_calls++;
    p->speed = req->speed;
    p->op = req->proto ? req->proto->op : -1;
    Herald__BroadcastReply reply = HERALD__BROADCAST_REPLY__INIT;
    rpc_reply(call, (const ProtobufCMessage *)&reply);
}

static void on_rooms(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    peer_t *p = arg;
    char *rooms[1] = {(char *)p->room};
    Herald__RoomsReply reply = HERALD__ROOMS_REPLY__INIT;
    p->rooms_calls++;
    if (p->hold_rooms) {
        hold(p, call); /* released with an empty answer: no rooms */
        return;
    }
    reply.rooms = rooms;
    reply.n_rooms = p->room ? 1 : 0;
    rpc_reply(call, (const ProtobufCMessage *)&reply);
}

static const rpc_method_t peer_methods[] = {
    {RPC_COMET_PUSH_KEYS, &herald__push_keys_req__descriptor, on_push_keys},
    {RPC_COMET_BROADCAST_ROOM, &herald__broadcast_room_req__descriptor, on_broadcast_room},
    {RPC_COMET_BROADCAST, &herald__broadcast_req__descriptor, on_broadcast},
    {RPC_COMET_ROOMS, &herald__rooms_req__descriptor, on_rooms},
};

/* Answers every held call (a BroadcastRoomReply / PushKeysReply; the method decides which the
 * client expects, and both are empty-compatible). */
static void release(peer_t *p)
{
    Herald__BroadcastRoomReply reply = HERALD__BROADCAST_ROOM_REPLY__INIT;
    size_t n = p->n_held;
    p->n_held = 0;
    for (size_t i = 0; i < n; i++)
        rpc_reply(p->held[i], (const ProtobufCMessage *)&reply);
}

/* ------------------------------------------------------------------------------ fixture */

typedef struct fixture_s {
    uv_loop_t loop;
    test_redis_t redis_server;
    redis_t *redis; /* the test's own connection, to write the registry */
    redis_t *job_redis;
    job_conf_t conf;
    job_comets_t comets;
    job_deliver_t deliver;
    int ready;
    peer_t a, b;
} fixture_t;

static fixture_t *g;

/* Runs the loop until cond(f) holds, at most 5 s (the job's timers keep it turning). */
static int run_until(int (*cond)(fixture_t *f))
{
    uv_update_time(&g->loop);
    uint64_t deadline = uv_now(&g->loop) + 5000;
    while (!cond(g) && uv_now(&g->loop) < deadline)
        uv_run(&g->loop, UV_RUN_ONCE);
    return cond(g);
}

/* Runs the loop for ms milliseconds. */
static void run_for(uint64_t ms)
{
    uv_update_time(&g->loop);
    uint64_t deadline = uv_now(&g->loop) + ms;
    while (uv_now(&g->loop) < deadline)
        uv_run(&g->loop, UV_RUN_ONCE);
}

static void on_cmd(int status, const redis_reply_t *reply, void *arg)
{
    assert_int_equal(status, 0);
    assert_int_not_equal(redis_reply_type(reply), REDIS_REPLY_T_ERROR);
    (*(int *)arg)++;
}

static int cond_redis_up(fixture_t *f)
{
    return redis_connected(f->redis);
}

static int cmd_done;
static int cond_cmd_done(fixture_t *f)
{
    return cmd_done > 0;
}

/* Writes (or, with rpc_port 0, deletes) the registry entry of a comet, as logic would. */
static void registry_set(const char *id, int rpc_port)
{
    char json[256];
    cmd_done = 0;
    if (rpc_port > 0) {
        snprintf(json, sizeof(json),
                 "{\"id\":\"%s\",\"rpc\":\"127.0.0.1:%d\",\"tcp\":\"127.0.0.1:1\","
                 "\"ws\":\"127.0.0.1:2\",\"weight\":1,\"conns\":0,\"updated_ms\":%lld}",
                 id, rpc_port, (long long)daemon_wall_ms());
        assert_int_equal(redis_command(g->redis, on_cmd, &cmd_done, "HSET %s %s %s",
                                       PREFIX "comets:{registry}", id, json),
                         0);
    } else {
        assert_int_equal(redis_command(g->redis, on_cmd, &cmd_done, "HDEL %s %s",
                                       PREFIX "comets:{registry}", id),
                         0);
    }
    assert_true(run_until(cond_cmd_done));
}

static void peer_start(peer_t *p, const char *id, const char *room)
{
    p->id = id;
    p->room = room;
    p->server = rpc_server_new(&g->loop, peer_methods, 4, p);
    assert_int_equal(rpc_server_listen(p->server, "127.0.0.1", 0), 0);
}

static void on_ready(void *arg)
{
    ((fixture_t *)arg)->ready = 1;
}

static int cond_ready(fixture_t *f)
{
    if (!f->ready || job_comets_count(&f->comets) != 2)
        return 0;
    for (size_t i = 0; i < 2; i++)
        if (!rpc_peer_connected(job_comets_at(&f->comets, i)->peer))
            return 0;
    job_comet_t *a = job_comets_find(&f->comets, "comet-a");
    return a != NULL && job_comet_has_room(a, "live://1");
}

static int group_setup(void **state)
{
    char err[256];
    g = calloc(1, sizeof(*g));
    assert_int_equal(uv_loop_init(&g->loop), 0);
    test_redis_init(&g->redis_server);
    test_redis_start(&g->redis_server, NULL);
    g->redis = redis_new(&g->loop, "127.0.0.1", g->redis_server.port, NULL, NULL, 0);
    assert_true(run_until(cond_redis_up));

    peer_start(&g->a, "comet-a", "live://1");
    peer_start(&g->b, "comet-b", NULL);
    registry_set("comet-a", rpc_server_port(g->a.server));
    registry_set("comet-b", rpc_server_port(g->b.server));
    /* a stale entry and a malformed one are ignored */
    cmd_done = 0;
    assert_int_equal(redis_command(g->redis, on_cmd, &cmd_done, "HSET %s %s %s %s %s",
                                   PREFIX "comets:{registry}", "comet-old",
                                   "{\"rpc\":\"127.0.0.1:1\",\"updated_ms\":1000}", "comet-bad",
                                   "not json"),
                     0);
    assert_true(run_until(cond_cmd_done));

    assert_int_equal(conf_load(job_conf_items, &g->conf, NULL, err, sizeof(err)), 0);
    free(g->conf.redis.prefix);
    g->conf.redis.prefix = strdup(PREFIX);
    g->conf.comet_refresh_ms = 50;
    g->conf.room_refresh_ms = 50;
    g->conf.comet_rpc_timeout_ms = 2000; /* generous: the machine may be busy */
    g->conf.comet_retry_backoff_ms = 20;
    g->conf.comet_retries = 3;
    g->conf.max_in_flight = 10000;

    g->job_redis = redis_new(&g->loop, "127.0.0.1", g->redis_server.port, NULL, NULL, 0);
    job_comets_init(&g->comets, &g->loop, g->job_redis, &g->conf);
    job_deliver_init(&g->deliver, &g->loop, &g->comets, &g->conf);
    job_comets_start(&g->comets, on_ready, g);
    assert_true(run_until(cond_ready));
    *state = g;
    return 0;
}

static int closed_parts;
static void on_closed(void *arg)
{
    closed_parts++;
}
static int cond_closed(fixture_t *f)
{
    return closed_parts == 6;
}

static int group_teardown(void **state)
{
    release(&g->a);
    release(&g->b);
    job_deliver_stop(&g->deliver);
    job_deliver_close(&g->deliver, on_closed, NULL);
    job_comets_close(&g->comets, on_closed, NULL);
    redis_close(g->job_redis, on_closed, NULL);
    redis_close(g->redis, on_closed, NULL);
    rpc_server_close(g->a.server, on_closed, NULL);
    rpc_server_close(g->b.server, on_closed, NULL);
    assert_true(run_until(cond_closed));
    assert_int_equal(g->deliver.in_flight, 0);
    uv_run(&g->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&g->loop), 0);
    conf_free(job_conf_items, &g->conf);
    test_redis_deinit(&g->redis_server);
    free(g);
    return 0;
}

/* ---------------------------------------------------------------------------- messages */

static int64_t next_offset;

/* Packs and hands one envelope to the consumer callback. */
static void feed(const Herald__PushMsg *pm)
{
    size_t len = herald__push_msg__get_packed_size(pm);
    uint8_t *buf = malloc(len ? len : 1);
    herald__push_msg__pack(pm, buf);
    kafka_msg_t km = {0, next_offset++, NULL, 0, buf, len};
    job_deliver_on_message(&km, &g->deliver);
    free(buf);
}

static int cond_idle(fixture_t *f)
{
    return f->deliver.in_flight == 0;
}

static void test_push_keys_to_one_comet(void **state)
{
    char *keys[] = {"k1", "k2"};
    uint64_t seqs[] = {5, 6};
    Herald__PushMsg pm = HERALD__PUSH_MSG__INIT;
    pm.type = HERALD__PUSH_MSG__TYPE__PUSH;
    pm.operation = 1000;
    pm.server = "comet-a";
    pm.keys = keys;
    pm.n_keys = 2;
    pm.seqs = seqs;
    pm.n_seqs = 2;
    pm.msg.data = (uint8_t *)"hello";
    pm.msg.len = 5;
    uint64_t delivered = g->deliver.stats.delivered;
    feed(&pm);
    assert_int_equal(g->deliver.in_flight, 1);
    assert_true(run_until(cond_idle));
    assert_int_equal(g->a.push_calls, 1);
    assert_int_equal(g->b.push_calls, 0);
    assert_int_equal(g->a.n_keys, 2);
    assert_string_equal(g->a.keys[0], "k1");
    assert_string_equal(g->a.keys[1], "k2");
    assert_int_equal(g->a.n_seqs, 2);
    assert_int_equal(g->a.seqs[1], 6);
    assert_int_equal(g->a.op, 1000);
    assert_int_equal(g->a.ver, 1);
    assert_int_equal(g->a.seq, 0);
    assert_string_equal(g->a.body, "hello");
    assert_int_equal(g->deliver.stats.delivered, delivered + 1);

    /* no server: every comet gets it */
    pm.server = "";
    feed(&pm);
    assert_true(run_until(cond_idle));
    assert_int_equal(g->a.push_calls, 2);
    assert_int_equal(g->b.push_calls, 1);

    /* a comet not in the registry gets nothing, and the message is handled at once */
    uint64_t skipped = g->deliver.stats.skipped;
    pm.server = "comet-zzz";
    feed(&pm);
    assert_int_equal(g->deliver.in_flight, 0);
    assert_int_equal(g->deliver.stats.skipped, skipped + 1);
}

static void feed_room(int32_t op)
{
    Herald__PushMsg pm = HERALD__PUSH_MSG__INIT;
    pm.type = HERALD__PUSH_MSG__TYPE__ROOM;
    pm.operation = op;
    pm.room = "live://1";
    pm.msg.data = (uint8_t *)"r";
    pm.msg.len = 1;
    feed(&pm);
}

static int cond_a_room_calls_1(fixture_t *f)
{
    return f->a.room_calls == 1;
}
static int cond_a_room_calls_2(fixture_t *f)
{
    return f->a.room_calls == 2;
}

static void test_room_batching(void **state)
{
    uint64_t batches = g->deliver.stats.batches;
    g->a.hold_room = 1;
    /* idle room: sent at once, alone */
    feed_room(1001);
    assert_true(run_until(cond_a_room_calls_1));
    assert_int_equal(g->a.room_sizes[0], 1);
    /* while that call is out, the next five wait; over max_in_flight the consumer would pause */
    g->conf.max_in_flight = 4;
    for (int32_t op = 1002; op <= 1006; op++)
        feed_room(op);
    assert_int_equal(g->deliver.in_flight, 6);
    assert_int_equal(g->deliver.over_limit, 1);
    run_for(100);
    assert_int_equal(g->a.room_calls, 1);
    /* the reply releases them as one call, in order */
    g->a.hold_room = 0;
    release(&g->a);
    assert_true(run_until(cond_a_room_calls_2));
    assert_int_equal(g->a.room_sizes[1], 5);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(g->a.room_ops[i], 1001 + (int32_t)i);
    assert_true(run_until(cond_idle));
    assert_int_equal(g->deliver.over_limit, 0); /* below half again */
    g->conf.max_in_flight = 10000;
    /* comet-b has no member of the room: it got nothing */
    assert_int_equal(g->b.room_calls, 0);
    assert_int_equal(g->deliver.stats.batches, batches + 2);
}

static int cond_a_room_calls_3(fixture_t *f)
{
    return f->a.room_calls == 3;
}

static int cond_a_room_calls_4(fixture_t *f)
{
    return f->a.room_calls == 4;
}

/* room.linger: a room stays busy for the linger after each send, even when the comet answered
 * at once; messages that arrive meanwhile go together when it ends, and a room idle for longer
 * than the linger sends at once again. */
static void test_room_linger(void **state)
{
    const uint64_t linger = 300;
    g->conf.room_linger_ms = (int64_t)linger;
    g->a.room_calls = 0;
    g->a.n_room_ops = 0;
    job_room_t *batches = job_comets_find(&g->comets, "comet-a")->batches;

    uv_update_time(&g->loop);
    uint64_t t0 = uv_now(&g->loop);
    feed_room(2001); /* idle room: sent at once */
    assert_true(run_until(cond_a_room_calls_1));
    assert_int_equal(g->a.room_sizes[0], 1);
    assert_true(run_until(cond_idle));             /* answered and released... */
    assert_int_equal(job_room_active(batches), 1); /* ...but the room is still busy */
    for (int32_t op = 2002; op <= 2004; op++)
        feed_room(op);
    assert_true(run_until(cond_a_room_calls_2));
    uv_update_time(&g->loop);
    assert_true(uv_now(&g->loop) >= t0 + linger); /* not before the linger ended */
    assert_int_equal(g->a.room_sizes[1], 3);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(g->a.room_ops[i], 2001 + (int32_t)i);

    /* nothing came during the second linger: once it ends the room is idle, and the next
     * message is sent as soon as it is offered, within the same loop iteration */
    run_for(linger + 50);
    assert_int_equal(job_room_active(batches), 0);
    assert_int_equal(g->a.room_calls, 2);
    feed_room(2005);
    assert_int_equal(job_room_active(batches), 1);
    assert_true(run_until(cond_a_room_calls_3));
    assert_int_equal(g->a.room_sizes[2], 1);

    /* linger 0: the room is idle again as soon as the comet answers */
    g->conf.room_linger_ms = 0;
    run_for(linger + 50);
    feed_room(2006);
    assert_true(run_until(cond_a_room_calls_4));
    assert_true(run_until(cond_idle));
    assert_int_equal(job_room_active(batches), 0);
}

static int cond_bcast(fixture_t *f)
{
    return f->a.bcast_calls == 1 && f->b.bcast_calls == 1 && f->deliver.in_flight == 0;
}

static void test_broadcast_speed_split(void **state)
{
    Herald__PushMsg pm = HERALD__PUSH_MSG__INIT;
    pm.type = HERALD__PUSH_MSG__TYPE__BROADCAST;
    pm.operation = 1009;
    pm.speed = 100;
    feed(&pm);
    assert_true(run_until(cond_bcast));
    assert_int_equal(g->a.speed, 50);
    assert_int_equal(g->b.speed, 50);
    assert_int_equal(g->b.op, 1009);
}

static void test_malformed(void **state)
{
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x42};
    uint64_t malformed = g->deliver.stats.malformed;
    kafka_msg_t km = {0, next_offset++, NULL, 0, garbage, sizeof(garbage)};
    job_deliver_on_message(&km, &g->deliver);
    /* PUSH without keys, ROOM without room, seqs not parallel to keys, unknown type */
    Herald__PushMsg pm = HERALD__PUSH_MSG__INIT;
    feed(&pm);
    pm.type = HERALD__PUSH_MSG__TYPE__ROOM;
    feed(&pm);
    char *keys[] = {"k"};
    uint64_t seqs[] = {1, 2};
    pm.type = HERALD__PUSH_MSG__TYPE__PUSH;
    pm.keys = keys;
    pm.n_keys = 1;
    pm.seqs = seqs;
    pm.n_seqs = 2;
    feed(&pm);
    pm.type = (Herald__PushMsg__Type)7;
    pm.n_seqs = 0;
    feed(&pm);
    assert_int_equal(g->deliver.stats.malformed, malformed + 5);
    assert_int_equal(g->deliver.in_flight, 0);
}

static int cond_b_gave_up(fixture_t *f)
{
    return f->b.push_calls >= 4 && f->deliver.in_flight == 0;
}

static void test_timeout_retried_then_given_up(void **state)
{
    char *keys[] = {"k"};
    Herald__PushMsg pm = HERALD__PUSH_MSG__INIT;
    pm.type = HERALD__PUSH_MSG__TYPE__PUSH;
    pm.operation = 1000;
    pm.server = "comet-b";
    pm.keys = keys;
    pm.n_keys = 1;
    uint64_t failed = g->deliver.stats.failed, retries = g->deliver.stats.retries;
    int calls = g->b.push_calls;
    g->b.hold_push = 1;
    g->conf.comet_rpc_timeout_ms = 150;
    feed(&pm);
    assert_true(run_until(cond_b_gave_up));
    g->conf.comet_rpc_timeout_ms = 2000;
    assert_int_equal(g->b.push_calls, calls + 4); /* the call and 3 retries */
    assert_int_equal(g->deliver.stats.retries, retries + 3);
    assert_int_equal(g->deliver.stats.failed, failed + 1);
    g->b.hold_push = 0;
    release(&g->b); /* late replies: the client has forgotten those calls */
    run_for(50);
}

/* A JOIN for room of comet id (at rpc_addr). */
static void feed_join(const char *id, const char *rpc_addr, const char *room)
{
    Herald__PushMsg pm = HERALD__PUSH_MSG__INIT;
    pm.type = HERALD__PUSH_MSG__TYPE__JOIN;
    pm.server = (char *)id;
    pm.rpc_addr = (char *)rpc_addr;
    pm.room = (char *)room;
    feed(&pm);
}

static void feed_room_to(const char *room)
{
    Herald__PushMsg pm = HERALD__PUSH_MSG__INIT;
    pm.type = HERALD__PUSH_MSG__TYPE__ROOM;
    pm.operation = 1000;
    pm.room = (char *)room;
    pm.msg.data = (uint8_t *)"j";
    pm.msg.len = 1;
    feed(&pm);
}

static int g_rooms_calls;
static int cond_b_rooms_call_held(fixture_t *f)
{
    return f->b.n_held > 0;
}
static int cond_b_rooms_answered_again(fixture_t *f)
{
    return f->b.rooms_calls > g_rooms_calls + 1;
}
static int cond_b_has_j1(fixture_t *f)
{
    return job_comet_has_room(job_comets_find(&f->comets, "comet-b"), "live://j1");
}
static int cond_b_lost_j1(fixture_t *f)
{
    return !cond_b_has_j1(f);
}

/* A JOIN puts the room into the comet's set at once: the push right behind it goes there. A
 * census answer that was under way before the JOIN does not take the room out again; the next
 * census, sent after it, does (the comet reports no such room). */
static void test_join(void **state)
{
    job_comet_t *b = job_comets_find(&g->comets, "comet-b");
    assert_false(job_comet_has_room(b, "live://j1"));
    g->b.hold_rooms = 1;
    assert_true(run_until(cond_b_rooms_call_held));
    g_rooms_calls = g->b.rooms_calls;
    uint64_t joins = g->deliver.stats.joins;
    g->b.joined = "live://j1";
    feed_join("comet-b", "", "live://j1");
    assert_int_equal(g->deliver.stats.joins, joins + 1);
    assert_int_equal(g->deliver.in_flight, 0); /* nothing to deliver: done at once */
    assert_true(job_comet_has_room(b, "live://j1"));
    int calls = g->b.room_calls;
    feed_room_to("live://j1");
    assert_true(run_until(cond_idle));
    assert_int_equal(g->b.room_calls, calls + 1);
    /* the stale census (sent before the JOIN) answers "no rooms": j1 stays */
    g->b.hold_rooms = 0;
    release(&g->b);
    run_for(20);
    assert_true(job_comet_has_room(b, "live://j1"));
    /* a census sent after the JOIN removes it */
    assert_true(run_until(cond_b_rooms_answered_again));
    assert_true(run_until(cond_b_lost_j1));
    g->b.joined = NULL;
    /* a JOIN without a valid room or comet id is malformed */
    uint64_t malformed = g->deliver.stats.malformed;
    feed_join("comet-b", "", "");
    feed_join("", "", "live://j1");
    assert_int_equal(g->deliver.stats.malformed, malformed + 2);
}

static peer_t g_c_peer;
static int cond_c_room_call(fixture_t *f)
{
    (void)f;
    return g_c_peer.room_calls == 1;
}
static int cond_c_gone(fixture_t *f)
{
    return job_comets_find(&f->comets, "comet-c") == NULL;
}
static int c_closed;
static void on_c_closed(void *arg)
{
    (void)arg;
    c_closed = 1;
}
static int cond_c_closed(fixture_t *f)
{
    (void)f;
    return c_closed;
}

/* A JOIN of a comet the registry does not list (it just started) adds it at the JOIN's rpc
 * address; the push right behind finds it still connecting and is retried, not dropped. The
 * comet stays over registry refreshes (until comet.ttl). Without a usable address the JOIN is
 * dropped. */
static void test_join_unknown_comet(void **state)
{
    peer_start(&g_c_peer, "comet-c", NULL);
    g_c_peer.joined = "live://c1";
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", rpc_server_port(g_c_peer.server));
    size_t n = job_comets_count(&g->comets);
    int64_t ttl = g->conf.comet_ttl_ms;
    g->conf.comet_ttl_ms = 600; /* what the provisional comet gets; no refresh runs meanwhile */
    feed_join("comet-c", addr, "live://c1");
    g->conf.comet_ttl_ms = ttl;
    assert_int_equal(job_comets_count(&g->comets), n + 1);
    feed_room_to("live://c1");
    assert_true(run_until(cond_c_room_call));
    assert_true(run_until(cond_idle));
    run_for(200); /* registry refreshes without comet-c */
    assert_non_null(job_comets_find(&g->comets, "comet-c"));
    assert_true(run_until(cond_c_gone)); /* its comet.ttl is over */
    uint64_t dropped = g->deliver.stats.joins_dropped;
    feed_join("comet-d", "", "live://c1");
    feed_join("comet-d", "nowhere", "live://c1");
    assert_int_equal(g->deliver.stats.joins_dropped, dropped + 2);
    assert_null(job_comets_find(&g->comets, "comet-d"));
    rpc_server_close(g_c_peer.server, on_c_closed, NULL);
    assert_true(run_until(cond_c_closed));
}

static int cond_one_comet(fixture_t *f)
{
    return job_comets_count(&f->comets) == 1;
}

static void test_comet_vanishes(void **state)
{
    registry_set("comet-b", 0);
    assert_true(run_until(cond_one_comet));
    assert_null(job_comets_find(&g->comets, "comet-b"));
    char *keys[] = {"k"};
    Herald__PushMsg pm = HERALD__PUSH_MSG__INIT;
    pm.type = HERALD__PUSH_MSG__TYPE__PUSH;
    pm.server = "comet-b";
    pm.keys = keys;
    pm.n_keys = 1;
    int calls = g->b.push_calls;
    feed(&pm);
    assert_int_equal(g->deliver.in_flight, 0);
    run_for(50);
    assert_int_equal(g->b.push_calls, calls);
}

/* comet.retries allows 100 retries: the delay doubles up to its cap and stays there, with no
 * shift past the width of the integer (undefined: x86 would shift by the count mod 64 and wait
 * 3.2 s instead of a minute at the 70th retry). */
static void test_backoff_capped(void **state)
{
    assert_int_equal(job_deliver_backoff_ms(100, 1), 100);
    assert_int_equal(job_deliver_backoff_ms(100, 2), 200);
    assert_int_equal(job_deliver_backoff_ms(100, 4), 800);
    uint64_t prev = 0;
    for (int attempt = 1; attempt <= 100; attempt++) {
        uint64_t d = job_deliver_backoff_ms(100, attempt);
        assert_true(d >= prev);
        assert_true(d <= JOB_DELIVER_BACKOFF_MAX_MS);
        prev = d;
    }
    assert_int_equal(job_deliver_backoff_ms(100, 70), JOB_DELIVER_BACKOFF_MAX_MS);
    assert_int_equal(job_deliver_backoff_ms(1, 100), JOB_DELIVER_BACKOFF_MAX_MS);
    assert_int_equal(job_deliver_backoff_ms(60000, 100), JOB_DELIVER_BACKOFF_MAX_MS);
}

int main(void)
{
    test_rpc_configure();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_capped),
        cmocka_unit_test(test_push_keys_to_one_comet),
        cmocka_unit_test(test_room_batching),
        cmocka_unit_test(test_room_linger),
        cmocka_unit_test(test_broadcast_speed_split),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_timeout_retried_then_given_up),
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_join_unknown_comet),
        cmocka_unit_test(test_comet_vanishes),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
