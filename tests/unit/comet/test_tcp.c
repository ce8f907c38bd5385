/* comet end to end over TCP: a real comet (2 worker threads) on loopback, a test-only logic RPC
 * server, blocking clients and RPC calls as job makes them (see comet_test.h). */
#include "comet_test.h"
#include "test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#define AUTH_A "{\"mid\":7,\"key\":\"key-a\",\"room_id\":\"live://1\",\"accepts\":[1000]}"

static void test_auth_backlog_and_heartbeat(void **state)
{
    harness_t *h = harness_start(2, 1);
    int fd = t_connect(h->comet->tcp_port);
    t_packet_t p;
    assert_int_equal(t_auth(fd,
                            "{\"mid\":7,\"key\":\"key-a\",\"room_id\":\"live://1\","
                            "\"accepts\":[1000],\"backlog\":2}",
                            &p),
                     1);
    assert_int_equal(p.op, PROTO_OP_AUTH_REPLY);
    assert_int_equal(p.seq, 1);
    json_t *j = json_loadb((const char *)p.body, p.len, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "code")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "mid")), 7);
    assert_string_equal(json_string_value(json_object_get(j, "key")), "key-a");
    assert_string_equal(json_string_value(json_object_get(j, "room_id")), "live://1");
    assert_int_equal(json_integer_value(json_object_get(j, "heartbeat_ms")), 30000);
    assert_int_equal(json_integer_value(json_object_get(j, "last_seq")), 2);
    assert_true(json_is_true(json_object_get(j, "recovered")));
    json_decref(j);
    for (uint32_t i = 1; i <= 2; i++) {
        assert_int_equal(t_recv(fd, &p, T_TIMEOUT_MS), 1);
        assert_int_equal(p.op, 1000);
        assert_int_equal(p.seq, i);
        char want[32];
        snprintf(want, sizeof want, "backlog-%u", i);
        assert_string_equal((const char *)p.body, want);
    }
    /* The heartbeat reply carries the room's count over all comets as logic last reported it
     * (the test logic adds 1000 to comet's own count of 1). */
    int32_t online = 0;
    for (int i = 0; i < 300 && online != 1001; i++) {
        t_send(fd, PROTO_OP_HEARTBEAT, 100 + (uint32_t)i, NULL);
        assert_int_equal(t_recv(fd, &p, T_TIMEOUT_MS), 1);
        assert_int_equal(p.op, PROTO_OP_HEARTBEAT_REPLY);
        assert_int_equal(p.seq, 100 + (uint32_t)i);
        assert_int_equal(p.len, 4);
        online = (int32_t)((uint32_t)p.body[0] << 24 | (uint32_t)p.body[1] << 16 |
                           (uint32_t)p.body[2] << 8 | p.body[3]);
        if (online != 1001)
            usleep(10 * 1000);
    }
    assert_int_equal(online, 1001);
    assert_true(harness_get(h, &h->renewals) >= 1);
    close(fd);
    assert_true(harness_wait(h, &h->disconnects, 1));
    harness_stop(h);
}

static void test_packets_behind_auth_are_kept(void **state)
{
    harness_t *h = harness_start(1, 1);
    int fd = t_connect(h->comet->tcp_port);
    /* auth, heartbeat and a room change in one write: handled in order after the auth */
    uint8_t buf[1024];
    size_t n = t_packet_build(buf, PROTO_OP_AUTH, 1, AUTH_A, strlen(AUTH_A));
    n += t_packet_build(buf + n, PROTO_OP_HEARTBEAT, 2, NULL, 0);
    n += t_packet_build(buf + n, PROTO_OP_CHANGE_ROOM, 3, "live://9", 8);
    t_write(fd, buf, n);
    t_packet_t p;
    assert_int_equal(t_recv(fd, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_AUTH_REPLY);
    assert_int_equal(t_recv(fd, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_HEARTBEAT_REPLY);
    assert_int_equal(p.seq, 2);
    assert_int_equal(t_recv(fd, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_CHANGE_ROOM_REPLY);
    assert_string_equal((const char *)p.body, "live://9");
    assert_int_equal(t_push_room(h, "live://9", 1, 1000, "in 9"), 1);
    assert_int_equal(t_recv(fd, &p, T_TIMEOUT_MS), 1);
    assert_string_equal((const char *)p.body, "in 9");
    close(fd);
    harness_stop(h);
}

static void test_auth_denied_and_bad_first_packet(void **state)
{
    harness_t *h = harness_start(2, 1);
    t_packet_t p;
    int fd = t_connect(h->comet->tcp_port);
    assert_int_equal(t_auth(fd, "{\"code\":-1100}", &p), 1);
    /* a refusal is a kick, never an op 8 (goim clients take any op 8 for success) */
    assert_int_equal(p.op, PROTO_OP_DISCONNECT_REPLY);
    assert_non_null(strstr((const char *)p.body, "\"reason\":\"auth\""));
    assert_int_equal(t_json_int(&p, "code"), HERALD_EAUTH);
    assert_non_null(strstr((const char *)p.body, "denied by test logic"));
    assert_int_equal(t_wait_closed(fd, T_TIMEOUT_MS), 1);
    close(fd);

    /* anything but OpAuth first closes without a reply */
    fd = t_connect(h->comet->tcp_port);
    t_send(fd, PROTO_OP_HEARTBEAT, 1, NULL);
    assert_int_equal(t_recv(fd, &p, T_TIMEOUT_MS), -1);
    close(fd);
    assert_int_equal(harness_get(h, &h->connects), 1);
    assert_int_equal(harness_get(h, &h->disconnects), 0);
    harness_stop(h);
}

static void test_malformed_closes_only_that_connection(void **state)
{
    harness_t *h = harness_start(2, 1);
    t_packet_t p;
    int good = t_connect(h->comet->tcp_port);
    assert_int_equal(t_auth(good, AUTH_A, &p), 1);

    uint8_t bad[PROTO_HEADER_LEN];
    /* header length 20 */
    int fd = t_connect(h->comet->tcp_port);
    proto_header_write(bad, PROTO_OP_AUTH, 1, 0);
    bad[5] = 20;
    t_write(fd, bad, sizeof bad);
    assert_int_equal(t_wait_closed(fd, T_TIMEOUT_MS), 1);
    close(fd);
    /* packLen below the header */
    fd = t_connect(h->comet->tcp_port);
    memset(bad, 0, sizeof bad);
    bad[3] = 3;
    t_write(fd, bad, sizeof bad);
    assert_int_equal(t_wait_closed(fd, T_TIMEOUT_MS), 1);
    close(fd);
    /* body over protocol.max_body, announced by an authenticated connection: closed at once,
     * before the body arrives */
    fd = t_connect(h->comet->tcp_port);
    assert_int_equal(t_auth(fd, "{\"mid\":8,\"key\":\"key-big\"}", &p), 1);
    proto_header_write(bad, PROTO_OP_SEND_MSG, 2, 4097);
    t_write(fd, bad, sizeof bad);
    assert_int_equal(t_wait_closed(fd, T_TIMEOUT_MS), 1);
    close(fd);
    /* garbage, one byte at a time */
    fd = t_connect(h->comet->tcp_port);
    const char *junk = "GET / HTTP/1.1\r\n\r\n";
    int closed = 0;
    for (size_t i = 0; junk[i] && !closed; i++) {
        if (write(fd, junk + i, 1) != 1)
            closed = 1;
        usleep(1000);
    }
    assert_int_equal(t_wait_closed(fd, T_TIMEOUT_MS), 1);
    close(fd);

    /* the authenticated connection is untouched */
    t_send(good, PROTO_OP_HEARTBEAT, 5, NULL);
    assert_int_equal(t_recv(good, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_HEARTBEAT_REPLY);
    close(good);
    assert_true(t_metric(h, "protocol_errors") >= 4);
    harness_stop(h);
}

static void test_push_keys_accepts_and_seq(void **state)
{
    harness_t *h = harness_start(2, 1);
    t_packet_t p;
    int fd = t_connect(h->comet->tcp_port);
    assert_int_equal(t_auth(fd, AUTH_A, &p), 1);
    assert_int_equal(t_push_keys(h, "key-a", NULL, 1000, "hello"), 1);
    assert_int_equal(t_recv(fd, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, 1000);
    assert_string_equal((const char *)p.body, "hello");
    /* op 1001 is not accepted until op 14 adds it; op 16 removes it again */
    assert_int_equal(t_push_keys(h, "key-a", NULL, 1001, "no"), 0);
    t_send(fd, PROTO_OP_SUB, 9, "1001,1002");
    assert_int_equal(t_recv(fd, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_SUB_REPLY);
    assert_int_equal(p.seq, 9);
    assert_int_equal(t_push_keys(h, "key-a", NULL, 1001, "yes"), 1);
    assert_int_equal(t_recv(fd, &p, T_TIMEOUT_MS), 1);
    assert_string_equal((const char *)p.body, "yes");
    t_send(fd, PROTO_OP_UNSUB, 10, "1001");
    assert_int_equal(t_recv(fd, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_UNSUB_REPLY);
    assert_int_equal(t_push_keys(h, "key-a", NULL, 1001, "no"), 0);
    assert_int_equal(t_push_keys(h, "key-a", NULL, 1002, "still"), 1);
    assert_int_equal(t_recv(fd, &p, T_TIMEOUT_MS), 1);
    assert_string_equal((const char *)p.body, "still");
    /* per-key seqs: the header carries them, and a redelivered seq is not written twice */
    uint64_t seq = 1;
    assert_int_equal(t_push_keys(h, "key-a", &seq, 1000, "one"), 1);
    assert_int_equal(t_recv(fd, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.seq, 1);
    assert_int_equal(t_push_keys(h, "key-a", &seq, 1000, "one again"), 1);
    assert_int_equal(t_quiet(fd, 100), 1);
    /* a user push of an op not accepted still takes its place in the stream */
    seq = 2;
    assert_int_equal(t_push_keys(h, "key-a", &seq, 1001, "not accepted"), 0);
    seq = 3;
    assert_int_equal(t_push_keys(h, "key-a", &seq, 1000, "three"), 1);
    assert_int_equal(t_recv(fd, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.seq, 3);
    assert_string_equal((const char *)p.body, "three");
    assert_int_equal(harness_get(h, &h->fetches), 0);
    /* unknown key */
    assert_int_equal(t_push_keys(h, "nobody", NULL, 1000, "x"), 0);
    close(fd);
    harness_stop(h);
}

/* Expects op 1000 packets with seqs from..to and bodies "<prefix><seq>". */
static void t_expect_run(int fd, uint32_t from, uint32_t to, const char *prefix)
{
    t_packet_t p;
    for (uint32_t s = from; s <= to; s++) {
        char want[32];
        snprintf(want, sizeof want, "%s%u", prefix, s);
        assert_int_equal(t_recv(fd, &p, T_TIMEOUT_MS), 1);
        assert_int_equal(p.op, 1000);
        assert_int_equal(p.seq, s);
        assert_string_equal((const char *)p.body, want);
    }
}

/* A user push past a gap makes the connection fetch the missing range (in pages) and write it
 * in order; what the Fetch covered is not written again when it arrives live. */
static void test_seq_gap_fetches(void **state)
{
    harness_t *h = harness_start(2, 1);
    t_packet_t p;
    int fd = t_connect(h->comet->tcp_port);
    assert_int_equal(t_auth(fd, AUTH_A, &p), 1);
    uv_mutex_lock(&h->lock);
    h->inbox_newest = 5;
    h->inbox_page = 2;
    uv_mutex_unlock(&h->lock);
    uint64_t seq = 4;
    assert_int_equal(t_push_keys(h, "key-a", &seq, 1000, "live-4"), 1);
    /* the Fetch catches up to the newest it learns of (5), a page of two at a time */
    t_expect_run(fd, 1, 5, "inbox-");
    assert_int_equal(harness_get(h, &h->fetches), 3);
    for (seq = 4; seq <= 5; seq++)
        assert_int_equal(t_push_keys(h, "key-a", &seq, 1000, "again"), 1);
    assert_int_equal(t_quiet(fd, 100), 1);
    seq = 6;
    assert_int_equal(t_push_keys(h, "key-a", &seq, 1000, "live-6"), 1);
    t_expect_run(fd, 6, 6, "live-");
    assert_int_equal(t_metric(h, "duplicates"), 2);
    assert_int_equal(t_metric(h, "fetches"), 3);
    close(fd);
    harness_stop(h);
}

/* A user push that reaches comet while the connection's Connect is still in flight finds no
 * key; once registered, the connection fetches it. */
static void test_push_before_registration_is_fetched(void **state)
{
    harness_t *h = harness_start(1, 1);
    t_packet_t p;
    uv_mutex_lock(&h->lock);
    h->inbox_newest = 1;
    uv_mutex_unlock(&h->lock);
    int fd = t_connect(h->comet->tcp_port);
    const char *auth = "{\"mid\":7,\"key\":\"key-m\",\"accepts\":[1000],\"delay_ms\":300}";
    t_send(fd, PROTO_OP_AUTH, 1, auth);
    assert_true(harness_wait(h, &h->connects, 1));
    uint64_t seq = 1;
    assert_int_equal(t_push_keys(h, "key-m", &seq, 1000, "too early"), 0);
    assert_int_equal(t_recv(fd, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_AUTH_REPLY);
    t_expect_run(fd, 1, 1, "inbox-");
    assert_int_equal(harness_get(h, &h->fetches), 1);
    close(fd);
    harness_stop(h);
}

/* The device named by logic travels with acks, and Disconnect reports how far the connection
 * got (the position of clients that never ack). */
static void test_positions_reported(void **state)
{
    harness_t *h = harness_start(1, 1);
    t_packet_t p;
    int fd = t_connect(h->comet->tcp_port);
    assert_int_equal(t_auth(fd,
                            "{\"mid\":7,\"key\":\"key-d\",\"accepts\":[1000],\"backlog\":2,"
                            "\"device\":\"phone-1\"}",
                            &p),
                     1);
    t_expect_run(fd, 1, 2, "backlog-");
    uint64_t seq = 3;
    assert_int_equal(t_push_keys(h, "key-d", &seq, 1000, "live-3"), 1);
    t_expect_run(fd, 3, 3, "live-");
    t_send(fd, PROTO_OP_ACK, 2, NULL);
    assert_true(harness_wait(h, &h->ack_entries, 1));
    uv_mutex_lock(&h->lock);
    assert_int_equal(h->last_ack_seq, 2);
    assert_string_equal(h->last_ack_device, "phone-1");
    uv_mutex_unlock(&h->lock);
    close(fd);
    assert_true(harness_wait(h, &h->disconnects, 1));
    uv_mutex_lock(&h->lock);
    assert_string_equal(h->last_disconnect_key, "key-d");
    assert_string_equal(h->last_disconnect_device, "phone-1");
    assert_int_equal(h->last_disconnect_seq, 3);
    uv_mutex_unlock(&h->lock);
    harness_stop(h);
}

static void test_rooms_and_batches(void **state)
{
    harness_t *h = harness_start(2, 1);
    t_packet_t p;
    enum { N = 6 };
    int fds[N];
    for (int i = 0; i < N; i++) {
        char auth[128];
        snprintf(auth, sizeof auth, "{\"mid\":%d,\"key\":\"k%d\",\"room_id\":\"%s\"}", i, i,
                 i < 4 ? "r1" : "r2");
        fds[i] = t_connect(h->comet->tcp_port);
        assert_int_equal(t_auth(fds[i], auth, &p), 1);
        assert_int_equal(t_json_int(&p, "code"), 0);
    }
    assert_int_equal(t_push_room(h, "r1", 1, 1000, "to r1"), 4);
    for (int i = 0; i < N; i++) {
        if (i < 4) {
            assert_int_equal(t_recv(fds[i], &p, T_TIMEOUT_MS), 1);
            assert_int_equal(p.op, 1000);
            assert_int_equal(p.seq, 0);
            assert_string_equal((const char *)p.body, "to r1");
        } else {
            assert_int_equal(t_quiet(fds[i], 50), 1);
        }
    }
    /* several protos: on TCP the packets back to back, no op 9 wrapper */
    assert_int_equal(t_push_room(h, "r2", 3, 1001, "batch"), 2);
    for (int i = 4; i < N; i++) {
        for (int k = 0; k < 3; k++) {
            assert_int_equal(t_recv(fds[i], &p, T_TIMEOUT_MS), 1);
            assert_int_equal(p.op, 1001);
            assert_string_equal((const char *)p.body, "batch");
        }
    }
    /* move k5 from r2 to r1, then k0 out of any room */
    t_send(fds[5], PROTO_OP_CHANGE_ROOM, 3, "r1");
    assert_int_equal(t_recv(fds[5], &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_CHANGE_ROOM_REPLY);
    assert_string_equal((const char *)p.body, "r1");
    t_send(fds[0], PROTO_OP_CHANGE_ROOM, 4, NULL);
    assert_int_equal(t_recv(fds[0], &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_CHANGE_ROOM_REPLY);
    assert_int_equal(p.len, 0);
    assert_int_equal(t_push_room(h, "r1", 1, 1000, "again"), 4);
    for (int i = 1; i < N; i++) {
        if (i == 4)
            continue;
        assert_int_equal(t_recv(fds[i], &p, T_TIMEOUT_MS), 1);
        assert_string_equal((const char *)p.body, "again");
    }
    assert_int_equal(t_quiet(fds[0], 50), 1);
    assert_int_equal(t_quiet(fds[4], 50), 1);
    assert_int_equal(t_push_room(h, "nowhere", 1, 1000, "x"), 0);

    /* Rooms lists rooms with members across workers */
    Herald__RoomsReq rreq = HERALD__ROOMS_REQ__INIT;
    ProtobufCMessage *reply = NULL;
    assert_int_equal(
        harness_call(h, RPC_COMET_ROOMS, &rreq.base, &herald__rooms_reply__descriptor, &reply), 0);
    Herald__RoomsReply *rooms = (Herald__RoomsReply *)reply;
    assert_int_equal(rooms->n_rooms, 2);
    int r1 = 0, r2 = 0;
    for (size_t i = 0; i < rooms->n_rooms; i++) {
        r1 += strcmp(rooms->rooms[i], "r1") == 0;
        r2 += strcmp(rooms->rooms[i], "r2") == 0;
    }
    assert_int_equal(r1, 1);
    assert_int_equal(r2, 1);
    protobuf_c_message_free_unpacked(reply, NULL);
    /* a bad room id from a client closes it */
    t_send(fds[4], PROTO_OP_CHANGE_ROOM, 5, "bad\nroom");
    assert_int_equal(t_wait_closed(fds[4], T_TIMEOUT_MS), 1);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    harness_stop(h);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int rooms_listed(harness_t *h, const char *room)
{
    Herald__RoomsReq rreq = HERALD__ROOMS_REQ__INIT;
    ProtobufCMessage *reply = NULL;
    assert_int_equal(
        harness_call(h, RPC_COMET_ROOMS, &rreq.base, &herald__rooms_reply__descriptor, &reply), 0);
    const Herald__RoomsReply *rooms = (const Herald__RoomsReply *)reply;
    int found = 0;
    for (size_t i = 0; i < rooms->n_rooms; i++)
        found += strcmp(rooms->rooms[i], room) == 0;
    protobuf_c_message_free_unpacked(reply, NULL);
    return found;
}

/* A room's first member on a worker is announced (JoinRoom) before its op 8 / op 13: the reply
 * waits for logic's answer; members that come meanwhile wait on the same call; the census lists
 * the room while it is announced; packets behind the op 12 are handled after its op 13, in
 * order; user pushes meanwhile are not lost. A room already announced is entered at once. */
static void test_room_announcement(void **state)
{
    harness_t *h = harness_start(1, 1);
    enum { DELAY = 300 };
    uv_mutex_lock(&h->lock);
    h->join_delay_ms = DELAY;
    uv_mutex_unlock(&h->lock);
    t_packet_t p;
    /* two auths into a new room: one JoinRoom, both op 8 only after it is answered */
    int a = t_connect(h->comet->tcp_port), b = t_connect(h->comet->tcp_port);
    long long t0 = now_ms();
    t_send(a, PROTO_OP_AUTH, 1,
           "{\"mid\":1,\"key\":\"ka\",\"room_id\":\"ann://1\",\"accepts\":[1001]}");
    t_send(b, PROTO_OP_AUTH, 1, "{\"mid\":2,\"key\":\"kb\",\"room_id\":\"ann://1\"}");
    assert_true(harness_wait(h, &h->joins, 1));
    assert_int_equal(rooms_listed(h, "ann://1"), 1); /* being announced: listed */
    assert_int_equal(t_recv_op(a, PROTO_OP_AUTH_REPLY, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(t_recv_op(b, PROTO_OP_AUTH_REPLY, &p, T_TIMEOUT_MS), 1);
    assert_true(now_ms() - t0 >= DELAY - 20);
    assert_int_equal(harness_get(h, &h->joins), 1);
    char want[128];
    snprintf(want, sizeof want, "ann://1 %s 127.0.0.1:%d", h->conf.server_id, h->comet->rpc_port);
    uv_mutex_lock(&h->lock);
    assert_string_equal(h->last_join, want);
    uv_mutex_unlock(&h->lock);
    assert_int_equal(t_push_room(h, "ann://1", 1, 1000, "in 1"), 2);
    assert_int_equal(t_recv(a, &p, T_TIMEOUT_MS), 1);
    assert_string_equal((const char *)p.body, "in 1");

    /* op 12 to a new room with a heartbeat right behind it: op 13 after the announcement, then
     * the heartbeat's reply; a user push meanwhile is written, not lost */
    uint8_t buf[256];
    size_t n = t_packet_build(buf, PROTO_OP_CHANGE_ROOM, 7, "ann://2", 7);
    n += t_packet_build(buf + n, PROTO_OP_HEARTBEAT, 8, NULL, 0);
    t0 = now_ms();
    t_write(a, buf, n);
    assert_true(harness_wait(h, &h->joins, 2));
    assert_int_equal(t_push_keys(h, "ka", NULL, 1001, "by key"), 1);
    assert_int_equal(t_recv(a, &p, T_TIMEOUT_MS), 1);
    assert_string_equal((const char *)p.body, "by key");
    assert_int_equal(t_recv(a, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_CHANGE_ROOM_REPLY);
    assert_int_equal(p.seq, 7);
    assert_string_equal((const char *)p.body, "ann://2");
    assert_true(now_ms() - t0 >= DELAY - 20);
    assert_int_equal(t_recv(a, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_HEARTBEAT_REPLY);
    assert_int_equal(p.seq, 8);
    assert_int_equal(t_push_room(h, "ann://2", 1, 1000, "in 2"), 1);
    assert_int_equal(t_recv(a, &p, T_TIMEOUT_MS), 1);
    assert_string_equal((const char *)p.body, "in 2");

    /* b into ann://2, already announced: op 13 without a JoinRoom */
    t_send(b, PROTO_OP_CHANGE_ROOM, 9, "ann://2");
    assert_int_equal(t_recv_op(b, PROTO_OP_CHANGE_ROOM_REPLY, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(harness_get(h, &h->joins), 2);
    /* ann://1 emptied: announced again by its next first member */
    t_send(a, PROTO_OP_CHANGE_ROOM, 10, "ann://1");
    assert_int_equal(t_recv_op(a, PROTO_OP_CHANGE_ROOM_REPLY, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(harness_get(h, &h->joins), 3);
    assert_int_equal(t_metric(h, "room_announces"), 3);
    assert_int_equal(t_metric(h, "room_announce_failures"), 0);
    /* a client that leaves while its op 13 waits is simply gone */
    t_send(b, PROTO_OP_CHANGE_ROOM, 11, "ann://3");
    assert_true(harness_wait(h, &h->joins, 4));
    close(b);
    usleep((DELAY + 100) * 1000);
    assert_int_equal(rooms_listed(h, "ann://3"), 0);
    close(a);
    harness_stop(h);
}

static int broadcast(harness_t *h, int32_t op, int speed, const char *body)
{
    Herald__Proto pr = HERALD__PROTO__INIT;
    pr.op = op;
    pr.body.data = (uint8_t *)body;
    pr.body.len = strlen(body);
    Herald__BroadcastReq req = HERALD__BROADCAST_REQ__INIT;
    req.proto = &pr;
    req.speed = speed;
    ProtobufCMessage *reply = NULL;
    assert_int_equal(harness_call(h, RPC_COMET_BROADCAST, &req.base,
                                  &herald__broadcast_reply__descriptor, &reply),
                     0);
    int n = ((Herald__BroadcastReply *)reply)->delivered;
    protobuf_c_message_free_unpacked(reply, NULL);
    return n;
}

static void tweak_fanout_batch_1(comet_conf_t *conf)
{
    conf->fanout_batch = 1; /* a walk of 3 members spans 3 loop iterations */
}

static uint64_t fanouts_merged(harness_t *h)
{
    uint64_t n = 0;
    for (int i = 0; i < h->comet->nworkers; i++)
        n += COMET_STAT_GET(&h->comet->workers[i].stats, fanouts_merged);
    return n;
}

/* A worker behind on a room merges the room's queued messages into one fan-out: every member
 * still gets every message, once, in order. */
static void test_room_merge_when_behind(void **state)
{
    harness_t *h = harness_start_with(1, 1, tweak_fanout_batch_1);
    enum { MEMBERS = 3, BURST = 24, ROUNDS = 5 };
    t_packet_t p;
    int fds[MEMBERS];
    for (int i = 0; i < MEMBERS; i++) {
        char auth[128];
        snprintf(auth, sizeof auth, "{\"mid\":%d,\"key\":\"m%d\",\"room_id\":\"rm\"}", i, i);
        fds[i] = t_connect(h->comet->tcp_port);
        assert_int_equal(t_auth(fds[i], auth, &p), 1);
    }
    assert_int_equal(t_push_room(h, "rm", 1, 1000, "warm"), MEMBERS); /* connects the client */
    for (int i = 0; i < MEMBERS; i++)
        assert_int_equal(t_recv_op(fds[i], 1000, &p, T_TIMEOUT_MS), 1);

    /* Back-to-back calls reach the worker together: the first starts a walk, the second queues,
     * the rest join it. Whether they arrive together is the scheduler's call, so up to ROUNDS
     * bursts are sent until one merged; every burst must arrive whole and in order. */
    for (int round = 0; round < ROUNDS && fanouts_merged(h) == 0; round++) {
        char bodies[BURST][16];
        Herald__Proto protos[BURST];
        Herald__Proto *pp[BURST];
        Herald__BroadcastRoomReq reqs[BURST];
        const ProtobufCMessage *msgs[BURST];
        for (int i = 0; i < BURST; i++) {
            snprintf(bodies[i], sizeof bodies[i], "r%d-%d", round, i);
            herald__proto__init(&protos[i]);
            protos[i].ver = 1;
            protos[i].op = 1000;
            protos[i].body.data = (uint8_t *)bodies[i];
            protos[i].body.len = strlen(bodies[i]);
            pp[i] = &protos[i];
            herald__broadcast_room_req__init(&reqs[i]);
            reqs[i].room_id = "rm";
            reqs[i].n_protos = 1;
            reqs[i].protos = &pp[i];
            msgs[i] = &reqs[i].base;
        }
        assert_int_equal(harness_call_burst(h, RPC_COMET_BROADCAST_ROOM, msgs, BURST,
                                            &herald__broadcast_room_reply__descriptor),
                         0);
        for (int m = 0; m < MEMBERS; m++) {
            for (int i = 0; i < BURST; i++) {
                assert_int_equal(t_recv(fds[m], &p, T_TIMEOUT_MS), 1);
                assert_int_equal(p.op, 1000);
                assert_string_equal((const char *)p.body, bodies[i]);
            }
            assert_int_equal(t_quiet(fds[m], 20), 1);
        }
    }
    assert_true(fanouts_merged(h) > 0);
    for (int i = 0; i < MEMBERS; i++)
        close(fds[i]);
    harness_stop(h);
}

static void test_broadcast(void **state)
{
    harness_t *h = harness_start(2, 1);
    t_packet_t p;
    enum { N = 5 };
    int fds[N];
    for (int i = 0; i < N; i++) {
        char auth[128];
        snprintf(auth, sizeof auth, "{\"mid\":%d,\"key\":\"b%d\",\"accepts\":[%d]}", i, i,
                 i == 0 ? 2000 : 1000);
        fds[i] = t_connect(h->comet->tcp_port);
        assert_int_equal(t_auth(fds[i], auth, &p), 1);
    }
    assert_int_equal(broadcast(h, 1000, 0, "all"), N);
    for (int i = 1; i < N; i++) {
        assert_int_equal(t_recv(fds[i], &p, T_TIMEOUT_MS), 1);
        assert_string_equal((const char *)p.body, "all");
    }
    assert_int_equal(t_quiet(fds[0], 50), 1); /* does not accept 1000 */
    /* speed 10/s over 2 workers: 4 writes take a few hundred ms, not all at once */
    uint64_t start = uv_hrtime();
    broadcast(h, 1000, 10, "slow");
    for (int i = 1; i < N; i++) {
        assert_int_equal(t_recv(fds[i], &p, T_TIMEOUT_MS), 1);
        assert_string_equal((const char *)p.body, "slow");
    }
    uint64_t ms = (uv_hrtime() - start) / 1000000;
    assert_true(ms >= 150);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    harness_stop(h);
}

static void test_kicks(void **state)
{
    harness_t *h = harness_start(2, 1);
    t_packet_t p;
    /* the same key twice: the first connection is kicked, wherever it is */
    int a = t_connect(h->comet->tcp_port);
    assert_int_equal(t_auth(a, "{\"mid\":1,\"key\":\"dup\",\"accepts\":[1000]}", &p), 1);
    int fds[4];
    for (int i = 0; i < 4; i++) {
        fds[i] = t_connect(h->comet->tcp_port);
        assert_int_equal(t_auth(fds[i], "{\"mid\":1,\"key\":\"dup\",\"accepts\":[1000]}", &p), 1);
        int prev = i == 0 ? a : fds[i - 1];
        assert_int_equal(t_recv(prev, &p, T_TIMEOUT_MS), 1);
        assert_int_equal(p.op, PROTO_OP_DISCONNECT_REPLY);
        assert_string_equal((const char *)p.body, "{\"reason\":\"duplicate key\"}");
        assert_int_equal(t_wait_closed(prev, T_TIMEOUT_MS), 1);
    }
    assert_int_equal(t_push_keys(h, "dup", NULL, 1000, "latest"), 1);
    assert_int_equal(t_recv(fds[3], &p, T_TIMEOUT_MS), 1);
    assert_string_equal((const char *)p.body, "latest");

    /* kick_keys in the Connect reply */
    int x = t_connect(h->comet->tcp_port);
    assert_int_equal(t_auth(x, "{\"mid\":2,\"key\":\"x1\"}", &p), 1);
    int y = t_connect(h->comet->tcp_port);
    assert_int_equal(t_auth(y, "{\"mid\":2,\"key\":\"y1\",\"kick\":[\"x1\"]}", &p), 1);
    assert_int_equal(t_recv(x, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_DISCONNECT_REPLY);
    assert_string_equal((const char *)p.body, "{\"reason\":\"kicked\"}");
    assert_int_equal(t_wait_closed(x, T_TIMEOUT_MS), 1);

    /* the Kick RPC */
    Herald__KickReq req = HERALD__KICK_REQ__INIT;
    char *keys[2] = {"dup", "nobody"};
    req.n_keys = 2;
    req.keys = keys;
    req.reason = "{\"reason\":\"admin\"}";
    ProtobufCMessage *reply = NULL;
    assert_int_equal(
        harness_call(h, RPC_COMET_KICK, &req.base, &herald__kick_reply__descriptor, &reply), 0);
    assert_int_equal(((Herald__KickReply *)reply)->kicked, 1);
    protobuf_c_message_free_unpacked(reply, NULL);
    assert_int_equal(t_recv(fds[3], &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_DISCONNECT_REPLY);
    assert_string_equal((const char *)p.body, "{\"reason\":\"admin\"}");
    assert_int_equal(t_wait_closed(fds[3], T_TIMEOUT_MS), 1);
    /* logic hears Disconnect for x1 and for the kicked "dup", but not for the connections
     * replaced by a newer one with the same key (that would drop the newer one's placement) */
    assert_true(harness_wait(h, &h->disconnects, 2));
    usleep(100 * 1000);
    assert_int_equal(harness_get(h, &h->disconnects), 2);
    uv_mutex_lock(&h->lock);
    assert_string_equal(h->last_disconnect_key, "dup");
    uv_mutex_unlock(&h->lock);
    close(a);
    for (int i = 0; i < 4; i++)
        close(fds[i]);
    close(x);
    close(y);
    harness_stop(h);
}

static void test_send_msg_and_ack(void **state)
{
    harness_t *h = harness_start(1, 1);
    t_packet_t p;
    int fd = t_connect(h->comet->tcp_port);
    assert_int_equal(t_auth(fd, AUTH_A, &p), 1);
    t_send(fd, PROTO_OP_SEND_MSG, 77, "{\"to_mid\":9,\"op\":1000,\"msg\":\"hi\"}");
    assert_int_equal(t_recv(fd, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_SEND_MSG_REPLY);
    assert_int_equal(p.seq, 77);
    assert_int_equal(t_json_int(&p, "code"), 0);
    uv_mutex_lock(&h->lock);
    assert_string_equal(h->last_receive, "mid=7 key=key-a room=live://1 op=4 "
                                         "body={\"to_mid\":9,\"op\":1000,\"msg\":\"hi\"}");
    uv_mutex_unlock(&h->lock);
    t_send(fd, PROTO_OP_ACK, 41, NULL);
    t_send(fd, PROTO_OP_ACK, 42, NULL);
    /* batched: the two acks of one connection leave as one entry with the highest seq */
    assert_true(harness_wait(h, &h->ack_entries, 1));
    usleep(200 * 1000);
    uv_mutex_lock(&h->lock);
    assert_int_equal(h->ack_entries, 1);
    assert_int_equal(h->last_ack_seq, 42);
    uv_mutex_unlock(&h->lock);
    assert_int_equal(t_quiet(fd, 50), 1); /* acks have no reply */
    close(fd);
    harness_stop(h);
}

/* /metrics?format=prometheus while two workers write: a key push and a room push each move the
 * push latency histogram (both carry Proto.accepted_us), the room push the fan-out histogram,
 * and the connections are counted by transport. */
static void test_prometheus_metrics(void **state)
{
    harness_t *h = harness_start(2, 1);
    t_packet_t p;
    int fd = t_connect(h->comet->tcp_port);
    assert_int_equal(t_auth(fd, AUTH_A, &p), 1);
    assert_int_equal(t_push_keys(h, "key-a", NULL, 1000, "hello"), 1);
    assert_int_equal(t_recv(fd, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(t_push_room(h, "live://1", 1, 1000, "room"), 1);
    assert_int_equal(t_recv(fd, &p, T_TIMEOUT_MS), 1);
    assert_string_equal((const char *)p.body, "room");

    static char body[65536];
    assert_int_equal(
        t_http_get(h->comet->admin_port, "/metrics?format=prometheus", body, sizeof body), 200);
    assert_true(test_prom_sample(body, "herald_comet_push_latency_seconds_count") >= 2);
    assert_true(test_prom_sample(body, "herald_comet_push_latency_seconds_bucket{le=\"+Inf\"}") ==
                test_prom_sample(body, "herald_comet_push_latency_seconds_count"));
    assert_true(test_prom_sample(body, "herald_comet_fanout_duration_seconds_count") >= 1);
    assert_true(test_prom_sample(body, "herald_comet_connections{transport=\"tcp\"}") == 1);
    assert_true(test_prom_sample(body, "herald_comet_connections{transport=\"ws\"}") == 0);
    assert_true(test_prom_sample(body, "herald_comet_pushes_total") >= 2);
    assert_true(test_prom_sample(body, "herald_comet_rpc_server_duration_seconds_count{method="
                                       "\"PushKeys\"}") >= 1);
    close(fd);
    harness_stop(h);
}

static void max_msg_small(comet_conf_t *conf)
{
    conf->max_msg = 10;
}

/* A reload's limits reach the worker's loop: an open connection stays and its next message is
 * held to the new [protocol] max_msg. */
static void test_reload_limits(void **state)
{
    harness_t *h = harness_start(2, 1);
    t_packet_t p;
    const char *msg = "{\"to_mid\":9,\"op\":1000,\"msg\":\"hi\"}";
    int fd = t_connect(h->comet->tcp_port);
    assert_int_equal(t_auth(fd, AUTH_A, &p), 1);
    t_send(fd, PROTO_OP_SEND_MSG, 1, msg);
    assert_int_equal(t_recv_op(fd, PROTO_OP_SEND_MSG_REPLY, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(t_json_int(&p, "code"), 0);
    harness_reload(h, max_msg_small);
    /* posted to the worker: taken on its next loop turn */
    int code = 0;
    for (uint32_t seq = 2; seq < 100 && code == 0; seq++) {
        t_send(fd, PROTO_OP_SEND_MSG, seq, msg);
        assert_int_equal(t_recv_op(fd, PROTO_OP_SEND_MSG_REPLY, &p, T_TIMEOUT_MS), 1);
        code = t_json_int(&p, "code");
        if (code == 0)
            usleep(10 * 1000);
    }
    assert_int_equal(code, HERALD_ETOOBIG);
    t_send(fd, PROTO_OP_HEARTBEAT, 7, NULL);
    assert_int_equal(t_recv_op(fd, PROTO_OP_HEARTBEAT_REPLY, &p, T_TIMEOUT_MS), 1);
    close(fd);
    harness_stop(h);
}

static void test_logic_down(void **state)
{
    harness_t *h = harness_start(1, 0);
    t_packet_t p;
    int fd = t_connect(h->comet->tcp_port);
    assert_int_equal(t_auth(fd, AUTH_A, &p), 1);
    assert_int_equal(p.op, PROTO_OP_DISCONNECT_REPLY);
    assert_int_equal(t_json_int(&p, "code"), HERALD_EUNAVAIL);
    assert_int_equal(t_wait_closed(fd, T_TIMEOUT_MS), 1);
    close(fd);
    char body[2048];
    assert_int_equal(t_http_get(h->comet->admin_port, "/health", body, sizeof body), 200);
    json_t *j = json_loads(body, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "code")), 0);
    assert_true(json_is_false(json_object_get(json_object_get(j, "data"), "logic_connected")));
    json_decref(j);
    /* Alive but not ready, and /ready says why. */
    assert_int_equal(t_http_get(h->comet->admin_port, "/ready", body, sizeof body), 503);
    j = json_loads(body, 0, NULL);
    assert_non_null(j);
    json_t *missing = json_object_get(json_object_get(j, "data"), "missing");
    assert_string_equal(json_string_value(json_array_get(missing, 0)), "logic");
    json_decref(j);
    assert_int_equal(t_http_get(h->comet->admin_port, "/nope", body, sizeof body), 404);
    harness_stop(h);
}

static void short_deadlines(comet_conf_t *conf)
{
    conf->auth_timeout = 300;
    conf->heartbeat_timeout = 1000;
    conf->renew_interval = 1000;
}

static void test_deadlines(void **state)
{
    harness_t *h = harness_start_with(1, 1, short_deadlines);
    t_packet_t p;
    int silent = t_connect(h->comet->tcp_port);
    int idle = t_connect(h->comet->tcp_port);
    int live = t_connect(h->comet->tcp_port);
    assert_int_equal(t_auth(idle, "{\"mid\":1,\"key\":\"idle\"}", &p), 1);
    assert_int_equal(t_auth(live, "{\"mid\":2,\"key\":\"live\"}", &p), 1);
    /* The silent one goes at the auth deadline, the idle one after heartbeat_timeout; the one
     * that heartbeats stays. */
    uint64_t start = uv_hrtime();
    int silent_closed = 0, idle_closed = 0;
    uint64_t silent_ms = 0;
    for (int i = 0; i < 40 && !idle_closed; i++) {
        t_send(live, PROTO_OP_HEARTBEAT, (uint32_t)i, NULL);
        assert_int_equal(t_recv(live, &p, T_TIMEOUT_MS), 1);
        if (!silent_closed && t_quiet(silent, 1) == -1) {
            silent_closed = 1;
            silent_ms = (uv_hrtime() - start) / 1000000;
        }
        idle_closed = t_quiet(idle, 100) == -1;
    }
    uint64_t idle_ms = (uv_hrtime() - start) / 1000000;
    if (!silent_closed) { /* closed by the same sweep as the idle one */
        assert_int_equal(t_wait_closed(silent, 10), 1);
        silent_ms = idle_ms;
    }
    assert_true(silent_ms < 1500); /* 300 ms deadline, swept every second */
    assert_true(idle_ms >= 950);   /* 1000 ms after its auth, which came a little before start */
    /* heartbeats every ~100 ms for over 2 s in all, but logic hears of them at most once per
     * renew_interval (1 s) */
    for (int i = 0; i < 12; i++) {
        t_send(live, PROTO_OP_HEARTBEAT, 100 + (uint32_t)i, NULL);
        assert_int_equal(t_recv(live, &p, T_TIMEOUT_MS), 1);
        usleep(100 * 1000);
    }
    assert_true(harness_wait(h, &h->heartbeats, 2));
    assert_true(harness_get(h, &h->heartbeats) <= 3);
    assert_true(idle_closed);
    uv_mutex_lock(&h->lock);
    assert_string_equal(h->last_disconnect_key, "idle");
    uv_mutex_unlock(&h->lock);
    close(silent);
    close(idle);
    close(live);
    harness_stop(h);
}

static void small_pending(comet_conf_t *conf)
{
    conf->max_pending_bytes = 4096;
}

/* A client with a tiny receive buffer that authenticates as `key` and never reads, pushed to
 * until comet kicks it as a slow consumer. Returns its socket. */
static int slow_client(harness_t *h, const char *key)
{
    t_packet_t p;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int rcvbuf = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)h->comet->tcp_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char auth[128];
    snprintf(auth, sizeof auth, "{\"mid\":3,\"key\":\"%s\",\"accepts\":[1000]}", key);
    assert_int_equal(t_auth(fd, auth, &p), 1);
    static char big[8000];
    memset(big, 'z', sizeof big - 1);
    int pushes = 0;
    while (pushes < 2000 && t_push_keys(h, key, NULL, 1000, big) == 1)
        pushes++;
    assert_true(pushes < 2000); /* kicked: later pushes find no connection */
    return fd;
}

static void test_slow_consumer(void **state)
{
    harness_t *h = harness_start_with(1, 1, small_pending);
    t_packet_t p;
    int fd = slow_client(h, "slow");
    /* the stream is still well-formed and ends with the kick */
    assert_int_equal(t_recv_op(fd, PROTO_OP_DISCONNECT_REPLY, &p, T_TIMEOUT_MS), 1);
    assert_string_equal((const char *)p.body, "{\"reason\":\"slow consumer\"}");
    close(fd);
    assert_int_equal(t_metric(h, "slow_consumers"), 1);
    assert_true(t_metric(h, "kicks") >= 1);
    harness_stop(h);
}

/* docs/protocol.md, "Slow consumers": a kicked slow consumer that reads only after the linger
 * gets what the kernels held, then the end of the stream, and never the op 6 (comet dropped it
 * with the rest of its queue when it closed the socket). */
static void test_slow_consumer_late_reader(void **state)
{
    harness_t *h = harness_start_with(1, 1, small_pending);
    int fd = slow_client(h, "late");
    /* past the linger and the next sweep (every second) */
    usleep((COMET_CONN_LINGER_MS + 1500) * 1000);
    static uint8_t stream[16 << 20]; /* more than the kernels hold (tcp_wmem max: 4 MiB) */
    size_t len = 0;
    ssize_t n;
    do {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&pfd, 1, T_TIMEOUT_MS), 1);
        n = read(fd, stream + len, sizeof stream - len);
        if (n > 0)
            len += (size_t)n;
    } while (n > 0 && len < sizeof stream);
    assert_true(n <= 0); /* the end of the stream (or a reset), not a full buffer */
    size_t off = 0, packets = 0;
    while (off + PROTO_HEADER_LEN <= len) {
        uint32_t pack_len = (uint32_t)stream[off] << 24 | (uint32_t)stream[off + 1] << 16 |
                            (uint32_t)stream[off + 2] << 8 | stream[off + 3];
        uint32_t op = (uint32_t)stream[off + 8] << 24 | (uint32_t)stream[off + 9] << 16 |
                      (uint32_t)stream[off + 10] << 8 | stream[off + 11];
        assert_true(pack_len >= PROTO_HEADER_LEN);
        if (off + pack_len > len)
            break; /* cut in the middle of a packet */
        assert_int_not_equal(op, PROTO_OP_DISCONNECT_REPLY);
        off += pack_len;
        packets++;
    }
    print_message("late reader: %zu bytes, %zu whole packets, no op 6\n", len, packets);
    close(fd);
    harness_stop(h);
}

static void test_graceful_shutdown(void **state)
{
    harness_t *h = harness_start(2, 1);
    t_packet_t p;
    int fd = t_connect(h->comet->tcp_port);
    assert_int_equal(t_auth(fd, AUTH_A, &p), 1);
    /* a client that neither reads nor closes holds the stop up only for the linger */
    int stubborn = t_connect(h->comet->tcp_port);
    assert_int_equal(t_auth(stubborn, "{\"mid\":5,\"key\":\"stubborn\"}", &p), 1);
    uint64_t start = uv_hrtime();
    harness_request_stop(h);
    assert_int_equal(t_recv(fd, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_DISCONNECT_REPLY);
    assert_string_equal((const char *)p.body, "{\"reason\":\"shutdown\"}");
    assert_int_equal(t_wait_closed(fd, T_TIMEOUT_MS), 1);
    close(fd);
    harness_join(h);
    uint64_t ms = (uv_hrtime() - start) / 1000000;
    assert_true(ms < COMET_CONN_LINGER_MS + 1000);
    assert_int_equal(t_recv(stubborn, &p, T_TIMEOUT_MS), 1);
    assert_int_equal(p.op, PROTO_OP_DISCONNECT_REPLY);
    close(stubborn);
    assert_int_equal(harness_get(h, &h->server_downs), 1);
    /* ServerDown covers the connections: no Disconnect per connection */
    assert_int_equal(harness_get(h, &h->disconnects), 0);
    harness_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_backlog_and_heartbeat),
        cmocka_unit_test(test_packets_behind_auth_are_kept),
        cmocka_unit_test(test_auth_denied_and_bad_first_packet),
        cmocka_unit_test(test_malformed_closes_only_that_connection),
        cmocka_unit_test(test_push_keys_accepts_and_seq),
        cmocka_unit_test(test_prometheus_metrics),
        cmocka_unit_test(test_seq_gap_fetches),
        cmocka_unit_test(test_push_before_registration_is_fetched),
        cmocka_unit_test(test_positions_reported),
        cmocka_unit_test(test_rooms_and_batches),
        cmocka_unit_test(test_room_announcement),
        cmocka_unit_test(test_room_merge_when_behind),
        cmocka_unit_test(test_broadcast),
        cmocka_unit_test(test_kicks),
        cmocka_unit_test(test_send_msg_and_ack),
        cmocka_unit_test(test_logic_down),
        cmocka_unit_test(test_deadlines),
        cmocka_unit_test(test_slow_consumer),
        cmocka_unit_test(test_slow_consumer_late_reader),
        cmocka_unit_test(test_reload_limits),
        cmocka_unit_test(test_graceful_shutdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
