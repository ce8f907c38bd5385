/* cluster_expect.c - assertions about what a client receives. Heartbeat replies (op 3) may come
 * at any time a test heartbeats, so every expectation skips them; any other packet counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "proc.h"
#include "proto.h"

#include <jansson.h>

/* Receives the next packet other than a heartbeat reply before deadline. Returns client_recv's
 * result (1 = packet in *p). */
static int cluster_expect_next(client_t *cl, client_packet_t *p, long long deadline)
{
    for (;;) {
        long long left = deadline - proc_now_ms();
        if (left < 0)
            left = 0;
        int rc = client_recv(cl, p, (int)left);
        if (rc != 1)
            return rc;
        if (p->op != 3)
            return 1;
        client_packet_free(p);
    }
}

void cluster_expect_packet(client_t *cl, const char *who, uint32_t op, uint32_t seq,
                           const char *body, int timeout_ms)
{
    client_packet_t p = {0};
    int rc = cluster_expect_next(cl, &p, proc_now_ms() + timeout_ms);
    if (rc == 0)
        fail_msg("%s: no packet op %u within %d ms", who, op, timeout_ms);
    if (rc < 0)
        fail_msg("%s: connection ended (%d) while waiting for op %u", who, rc, op);
    char got[160];
    snprintf(got, sizeof(got), "op %u seq %u body \"%.*s\"", p.op, p.seq,
             (int)(p.body_len > 100 ? 100 : p.body_len), p.body ? (const char *)p.body : "");
    bool ok =
        p.op == op && (seq == CLUSTER_ANY_SEQ || p.seq == seq) &&
        (body == NULL || (p.body_len == strlen(body) && memcmp(p.body, body, p.body_len) == 0));
    client_packet_free(&p);
    if (!ok) {
        char want_seq[16] = "any";
        if (seq != CLUSTER_ANY_SEQ)
            snprintf(want_seq, sizeof(want_seq), "%u", seq);
        fail_msg("%s: expected op %u seq %s body \"%s\", got %s", who, op, want_seq,
                 body ? body : "(any)", got);
    }
}

void cluster_expect_silence(client_t *cl, const char *who, int ms)
{
    client_packet_t p = {0};
    int rc = cluster_expect_next(cl, &p, proc_now_ms() + ms);
    if (rc == 1) {
        char got[160];
        snprintf(got, sizeof(got), "op %u seq %u body \"%.*s\"", p.op, p.seq,
                 (int)(p.body_len > 100 ? 100 : p.body_len), p.body ? (const char *)p.body : "");
        client_packet_free(&p);
        fail_msg("%s: expected nothing for %d ms, got %s", who, ms, got);
    }
    if (rc < 0)
        fail_msg("%s: connection ended (%d) while it should stay open", who, rc);
}

void cluster_expect_closed(client_t *cl, const char *who, int timeout_ms)
{
    client_packet_t p = {0};
    int rc = cluster_expect_next(cl, &p, proc_now_ms() + timeout_ms);
    if (rc == 1) {
        uint32_t op = p.op;
        client_packet_free(&p);
        fail_msg("%s: expected the connection to close, got op %u", who, op);
    }
    if (rc == 0)
        fail_msg("%s: connection still open after %d ms", who, timeout_ms);
}

int32_t cluster_expect_room_count(client_t *cl, const char *who, int32_t count, int timeout_ms)
{
    long long deadline = proc_now_ms() + timeout_ms;
    int32_t last = -1;
    int replies = 0;
    while (proc_now_ms() < deadline) {
        if (client_heartbeat(cl) != 0)
            fail_msg("%s: heartbeat send failed", who);
        client_packet_t p = {0};
        /* The reply to this heartbeat: any other packet here is a test error. */
        int rc = client_recv(cl, &p, 2000);
        if (rc != 1)
            fail_msg("%s: no heartbeat reply (%d)", who, rc);
        if (p.op != 3 || p.body_len != 4) {
            uint32_t op = p.op, len = p.body_len;
            client_packet_free(&p);
            fail_msg("%s: expected op 3 with a 4-byte body, got op %u with %u bytes", who, op, len);
        }
        last = (int32_t)((uint32_t)p.body[0] << 24 | (uint32_t)p.body[1] << 16 |
                         (uint32_t)p.body[2] << 8 | p.body[3]);
        client_packet_free(&p);
        replies++;
        if (last == count)
            return last;
        proc_sleep_ms(200);
    }
    fail_msg("%s: room count stayed %d (want %d) over %d heartbeats in %d ms", who, last, count,
             replies, timeout_ms);
    return last;
}

void cluster_wait_room(cluster_t *c, const char *room, long long count, int timeout_ms)
{
    char path[1024] = "/goim/online/room?";
    cluster_room_query(room, "rooms", path + strlen(path), sizeof(path) - strlen(path));
    const char *id = strstr(room, "://") + 3;
    long long deadline = proc_now_ms() + timeout_ms;
    long long seen = -1;
    for (;;) {
        json_t *j = NULL;
        int st = cluster_http(c, "GET", path, NULL, &j);
        json_t *v = json_object_get(json_object_get(j, "data"), id);
        seen = st == 200 && json_is_integer(v) ? json_integer_value(v) : -1;
        json_decref(j);
        if (seen == count)
            break;
        if (proc_now_ms() >= deadline)
            fail_msg("room %s: logic reports %lld online, want %lld (after %d ms)", room, seen,
                     count, timeout_ms);
        proc_sleep_ms(100);
    }
    /* Nothing more to wait for: a comet announces a room's first member to job before the
     * client gets op 8 / op 13 (docs/delivery.md "Rooms: no window after a join"). */
}

int cluster_send_msg(client_t *cl, uint32_t seq, const char *body, int timeout_ms)
{
    assert_int_equal(client_send(cl, PROTO_OP_SEND_MSG, seq, body, strlen(body)), 0);
    long long deadline = proc_now_ms() + timeout_ms;
    for (;;) {
        long long left = deadline - proc_now_ms();
        client_packet_t p = {0};
        int rc = client_recv(cl, &p, left > 0 ? (int)left : 0);
        if (rc != 1)
            fail_msg("no op 5 seq %u (recv %d)", seq, rc);
        if (p.op == PROTO_OP_SEND_MSG_REPLY && p.seq == seq) {
            json_t *j = json_loadb((const char *)p.body, p.body_len, 0, NULL);
            json_t *code = json_object_get(j, "code");
            assert_true(json_is_integer(code));
            int c = (int)json_integer_value(code);
            if (c != 0)
                assert_non_null(json_string_value(json_object_get(j, "message")));
            json_decref(j);
            client_packet_free(&p);
            return c;
        }
        client_packet_free(&p);
    }
}

void cluster_expect_start_refused(cluster_t *c, const char *bin, const char *const *env,
                                  const char *want, const char *never, int wait_ms)
{
    char path[512], out[512], secret_env[600];
    snprintf(path, sizeof(path), "%s/%s", HERALD_BIN_DIR, bin);
    snprintf(out, sizeof(out), "%s/%s-refused.log", cluster_dir(c), bin);
    unlink(out);
    char *argv[] = {path, NULL};
    /* env plus the cluster's secret, so that the daemon refuses for the reason under test. */
    const char *full[32];
    size_t k = 0;
    snprintf(secret_env, sizeof(secret_env), "HERALD_CLUSTER_SECRET_FILE=%s/secret",
             cluster_dir(c));
    full[k++] = secret_env;
    for (; *env && k < sizeof(full) / sizeof(full[0]) - 1; env++)
        full[k++] = *env;
    full[k] = NULL;
    proc_t p;
    assert_int_equal(proc_start(&p, bin, argv, (char *const *)full, cluster_dir(c), out, out), 0);
    if (!proc_wait(&p, wait_ms)) {
        proc_stop(&p, 1000);
        fail_msg("%s started with %s", bin, full[1]);
    }
    assert_false(proc_exited_ok(&p));
    FILE *f = fopen(out, "r");
    char text[4096] = "";
    size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
    text[n] = '\0';
    if (f)
        fclose(f);
    if (strstr(text, want) == NULL)
        fail_msg("%s's refusal lacks \"%s\": %s", bin, want, text);
    if (never != NULL && strstr(text, never) != NULL)
        fail_msg("%s's refusal shows \"%s\": %s", bin, never, text);
}
