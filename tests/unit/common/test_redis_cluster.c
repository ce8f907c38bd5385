/* Unit tests of redis.c's cluster client against a real Redis Cluster on loopback (three
 * masters, three replicas; test_redis_cluster.h): commands on keys in many slots, scripts and a
 * transaction on one hash tag, -MOVED after a slot changed owner, -ASK during a slot migration,
 * a manual failover (CLUSTER FAILOVER), and a master killed (SIGKILL) whose replica the
 * cluster promotes: commands fail meanwhile with
 * an error and work again afterwards. One cluster for the whole file (it takes seconds). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "redis.h"
#include "redis_slot.h"
#include "test_redis_cluster.h"
#include "test_support.h"

#define KEYS 300

typedef struct fixture_s {
    test_redis_cluster_t cluster;
    uv_loop_t loop;
    redis_t *r;
} fixture_t;

typedef struct result_s {
    int calls;
    int status;
    int type;
    long long integer;
    char str[128];
} result_t;

static void on_reply(int status, const redis_reply_t *reply, void *arg)
{
    result_t *res = arg;
    res->calls++;
    res->status = status;
    res->type = reply ? redis_reply_type(reply) : 0;
    res->str[0] = '\0';
    if (reply) {
        size_t len;
        const char *s = redis_reply_str(reply, &len);
        res->integer = redis_reply_integer(reply);
        if (s)
            snprintf(res->str, sizeof(res->str), "%.*s", (int)len, s);
    }
}

static int is_connected(void *ctx)
{
    return redis_connected(ctx);
}

typedef struct count_s {
    result_t *res;
    int n;
} count_t;

static int all_answered(void *ctx)
{
    count_t *c = ctx;
    for (int i = 0; i < c->n; i++)
        if (c->res[i].calls == 0)
            return 0;
    return 1;
}

static int flag_set(void *ctx)
{
    return *(int *)ctx;
}

static void on_closed(void *arg)
{
    *(int *)arg = 1;
}

/* Sends fmt-built command and runs the loop for its answer (refused: status set, calls 1). */
static result_t run1(fixture_t *f, const char *fmt, const char *a, const char *b)
{
    result_t res = {0};
    int rc = redis_command(f->r, on_reply, &res, fmt, a, b);
    if (rc != 0) {
        res.calls = 1;
        res.status = rc;
        return res;
    }
    assert_true(test_run_until(&f->loop, flag_set, &res.calls, 5000));
    return res;
}

static int group_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    test_redis_cluster_start(&f->cluster);
    uv_loop_init(&f->loop);
    /* One seed only: the rest of the cluster comes from CLUSTER SLOTS. */
    const char *host = "127.0.0.1";
    int port = f->cluster.node[0].port;
    f->r = redis_new_cluster(&f->loop, &host, &port, 1, NULL, NULL);
    assert_true(redis_is_cluster(f->r));
    assert_true(test_run_until(&f->loop, is_connected, f->r, 10000));
    /* let every master connect */
    test_run_until(&f->loop, test_never, NULL, 300);
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    fixture_t *f = *state;
    int closed = 0;
    redis_close(f->r, on_closed, &closed);
    assert_true(test_run_until(&f->loop, flag_set, &closed, 2000));
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    test_redis_cluster_stop(&f->cluster);
    free(f);
    return 0;
}

/* KEYS keys over (nearly) every master: all written, all read back, pipelined. */
static void test_many_slots(void **state)
{
    fixture_t *f = *state;
    static result_t set[KEYS], get[KEYS];
    char key[32], val[32];
    int masters_hit[TEST_CLUSTER_NODES] = {0};

    memset(set, 0, sizeof(set));
    memset(get, 0, sizeof(get));
    for (int i = 0; i < KEYS; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(val, sizeof(val), "v%d", i);
        assert_int_equal(redis_command(f->r, on_reply, &set[i], "SET %s %s", key, val), 0);
        int m = test_redis_cluster_master_of(&f->cluster, redis_slot(key, strlen(key)));
        if (i < 30 && m >= 0)
            masters_hit[m] = 1;
    }
    count_t c = {set, KEYS};
    assert_true(test_run_until(&f->loop, all_answered, &c, 10000));
    for (int i = 0; i < KEYS; i++) {
        assert_int_equal(set[i].status, 0);
        assert_string_equal(set[i].str, "OK");
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(redis_command(f->r, on_reply, &get[i], "GET %s", key), 0);
    }
    c.res = get;
    assert_true(test_run_until(&f->loop, all_answered, &c, 10000));
    for (int i = 0; i < KEYS; i++) {
        snprintf(val, sizeof(val), "v%d", i);
        assert_string_equal(get[i].str, val);
    }
    int hit = 0;
    for (int i = 0; i < TEST_CLUSTER_NODES; i++)
        hit += masters_hit[i];
    assert_int_equal(hit, 3); /* the keys really were spread over the three masters */
}

/* EVAL routes by its first key; MULTI ... EXEC goes where its first keyed command goes. */
static void test_script_and_transaction(void **state)
{
    fixture_t *f = *state;
    result_t r = run1(f, "EVAL %s 2 {u7}:a {u7}:b",
                      "redis.call('SET', KEYS[1], 'x') "
                      "redis.call('SET', KEYS[2], 'y') return 2",
                      NULL);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.integer, 2);
    r = run1(f, "EVAL %s 2 %s {u8}:b", "return 1", "{u9}:a");
    assert_int_equal(r.type, REDIS_REPLY_T_ERROR); /* two slots: Redis refuses, clearly */
    assert_non_null(strstr(r.str, "CROSSSLOT"));

    result_t multi = {0}, hset = {0}, expire = {0}, exec = {0};
    assert_int_equal(redis_command(f->r, on_reply, &multi, "MULTI"), 0);
    assert_int_equal(redis_command(f->r, on_reply, &hset, "HSET {reg}:h a 1"), 0);
    assert_int_equal(redis_command(f->r, on_reply, &expire, "EXPIRE {reg}:o 30"), 0);
    assert_int_equal(redis_command(f->r, on_reply, &exec, "EXEC"), 0);
    assert_true(test_run_until(&f->loop, flag_set, &exec.calls, 5000));
    assert_string_equal(multi.str, "OK");
    assert_string_equal(hset.str, "QUEUED");
    assert_int_equal(exec.type, REDIS_REPLY_T_ARRAY);
    r = run1(f, "HGET {reg}:h a", NULL, NULL);
    assert_string_equal(r.str, "1");
    r = run1(f, "PING", NULL, NULL); /* keyless: any master */
    assert_string_equal(r.str, "PONG");

    /* WAIT on the master of a key: its replica acknowledges the write just made there. */
    r = run1(f, "SET %s %s", "{u7}:c", "z");
    result_t w = {0};
    assert_int_equal(redis_wait(f->r, "{u7}:c", 6, 1, 2000, on_reply, &w), 0);
    assert_true(test_run_until(&f->loop, flag_set, &w.calls, 5000));
    assert_int_equal(w.type, REDIS_REPLY_T_INTEGER);
    assert_int_equal(w.integer, 1);
}

static void node_id(fixture_t *f, int i, char *out, size_t len)
{
    assert_int_equal(test_redis_cluster_cli(&f->cluster, i, "CLUSTER MYID", out, len), 0);
    assert_true(strlen(out) == 40);
}

/* Another master than m. */
static int other_master(fixture_t *f, int m)
{
    for (unsigned s = 0; s < REDIS_SLOTS; s += 1000) {
        int o = test_redis_cluster_master_of(&f->cluster, s);
        if (o >= 0 && o != m)
            return o;
    }
    fail_msg("no other master");
    return -1;
}

/* A slot moved to another master behind the client's back: -MOVED, followed; then -ASK while
 * a slot migrates, followed with ASKING. */
static void test_moved_and_ask(void **state)
{
    fixture_t *f = *state;
    const char *key = "moving-key";
    unsigned slot = redis_slot(key, strlen(key));
    int src = test_redis_cluster_master_of(&f->cluster, slot);
    int dst = other_master(f, src);
    char src_id[64], dst_id[64], args[256];
    node_id(f, src, src_id, sizeof(src_id));
    node_id(f, dst, dst_id, sizeof(dst_id));

    /* The slot is empty: hand it to dst on both sides; the client still maps it to src. */
    snprintf(args, sizeof(args), "CLUSTER SETSLOT %u NODE %s", slot, dst_id);
    assert_int_equal(test_redis_cluster_cli(&f->cluster, dst, args, NULL, 0), 0);
    assert_int_equal(test_redis_cluster_cli(&f->cluster, src, args, NULL, 0), 0);
    result_t r = run1(f, "SET %s %s", key, "moved");
    assert_int_equal(r.status, 0);
    assert_string_equal(r.str, "OK");
    char line[128];
    snprintf(args, sizeof(args), "GET %s", key);
    test_redis_cluster_cli(&f->cluster, dst, args, line, sizeof(line));
    assert_string_equal(line, "moved"); /* written on the new owner */

    /* Migration of another empty slot from its master to dst: the source answers -ASK for a
     * key it does not hold. */
    const char *akey = "asking-key";
    unsigned aslot = redis_slot(akey, strlen(akey));
    int asrc = test_redis_cluster_master_of(&f->cluster, aslot);
    int adst = other_master(f, asrc);
    char asrc_id[64], adst_id[64];
    node_id(f, asrc, asrc_id, sizeof(asrc_id));
    node_id(f, adst, adst_id, sizeof(adst_id));
    snprintf(args, sizeof(args), "CLUSTER SETSLOT %u IMPORTING %s", aslot, asrc_id);
    assert_int_equal(test_redis_cluster_cli(&f->cluster, adst, args, NULL, 0), 0);
    snprintf(args, sizeof(args), "CLUSTER SETSLOT %u MIGRATING %s", aslot, adst_id);
    assert_int_equal(test_redis_cluster_cli(&f->cluster, asrc, args, NULL, 0), 0);
    r = run1(f, "SET %s %s", akey, "asked");
    assert_int_equal(r.status, 0);
    assert_string_equal(r.str, "OK");
    snprintf(args, sizeof(args), "CLUSTER SETSLOT %u NODE %s", aslot, adst_id);
    assert_int_equal(test_redis_cluster_cli(&f->cluster, adst, args, NULL, 0), 0);
    assert_int_equal(test_redis_cluster_cli(&f->cluster, asrc, args, NULL, 0), 0);
    snprintf(args, sizeof(args), "GET %s", akey);
    test_redis_cluster_cli(&f->cluster, adst, args, line, sizeof(line));
    assert_string_equal(line, "asked");
    r = run1(f, "GET %s", akey, NULL);
    assert_string_equal(r.str, "asked");
}

/* A manual failover (CLUSTER FAILOVER on the replica): the old master stays up as a replica
 * and answers -MOVED, which the client follows without a failed command. */
static void test_manual_failover(void **state)
{
    fixture_t *f = *state;
    const char *key = "k3";
    unsigned slot = redis_slot(key, strlen(key));
    int m = test_redis_cluster_master_of(&f->cluster, slot);
    char id[64], args[128], line[512];
    node_id(f, m, id, sizeof(id));
    snprintf(args, sizeof(args), "CLUSTER REPLICAS %s", id);
    assert_int_equal(test_redis_cluster_cli(&f->cluster, m, args, line, sizeof(line)), 0);
    const char *colon = strchr(line, ':'); /* "<id> 127.0.0.1:<port>@<bus> slave ..." */
    assert_non_null(colon);
    int replica = -1;
    for (int i = 0; i < TEST_CLUSTER_NODES; i++)
        if (f->cluster.node[i].port == atoi(colon + 1))
            replica = i;
    assert_true(replica >= 0 && replica != m);
    assert_int_equal(test_redis_cluster_cli(&f->cluster, replica, "CLUSTER FAILOVER", NULL, 0), 0);
    for (int i = 0; i < 100 && test_redis_cluster_master_of(&f->cluster, slot) != replica; i++)
        test_run_until(&f->loop, test_never, NULL, 100);
    assert_int_equal(test_redis_cluster_master_of(&f->cluster, slot), replica);
    result_t r = run1(f, "GET %s", key, NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.str, "v3");
    r = run1(f, "SET %s %s", key, "v3"); /* a write too */
    assert_string_equal(r.str, "OK");
}

/* SIGKILL the master of a key's slot: commands for it fail with an error (never hang, never
 * crash), the cluster promotes the replica, and the client follows within seconds. */
static void test_master_killed(void **state)
{
    fixture_t *f = *state;
    const char *key = "k1";
    unsigned slot = redis_slot(key, strlen(key));
    int m = test_redis_cluster_master_of(&f->cluster, slot);
    assert_true(m >= 0);
    test_redis_kill(&f->cluster.node[m]);

    int failed = 0, ok_after = 0;
    uv_update_time(&f->loop);
    uint64_t until = uv_now(&f->loop) + 20000;
    while (uv_now(&f->loop) < until) {
        result_t r = run1(f, "GET %s", key, NULL);
        if (r.status == 0 && r.type == REDIS_REPLY_T_STRING) {
            assert_string_equal(r.str, "v1"); /* the replica had it */
            ok_after = 1;
            break;
        }
        failed++;
        test_run_until(&f->loop, test_never, NULL, 100);
    }
    print_message("master of slot %u killed: %d commands failed before the promoted replica "
                  "answered\n",
                  slot, failed);
    assert_true(failed > 0);
    assert_true(ok_after);
    assert_true(test_redis_cluster_wait_ok(&f->cluster, slot, 10000));
    assert_int_not_equal(test_redis_cluster_master_of(&f->cluster, slot), m);
    /* every other key works too */
    result_t r = run1(f, "GET %s", "k2", NULL);
    assert_string_equal(r.str, "v2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_slots),    cmocka_unit_test(test_script_and_transaction),
        cmocka_unit_test(test_moved_and_ask), cmocka_unit_test(test_manual_failover),
        cmocka_unit_test(test_master_killed),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
