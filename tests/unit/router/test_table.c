/* test_table.c - router_table: placement, replacement, overflow policies, expiry with an injected
 * clock, DelServer, List paging, and a randomized comparison against a plain model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "herald_err.h"
#include "router_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TTL 10000

/* What a get returned, in order. */
typedef struct seen_s {
    size_t n;
    char keys[64][ROUTER_KEY_MAX + 1];
    char servers[64][ROUTER_SERVER_MAX + 1];
} seen_t;

static void on_visit(int64_t mid, const char *key, const char *server, void *arg)
{
    seen_t *s = arg;
    assert_true(s->n < 64);
    snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key);
    snprintf(s->servers[s->n], sizeof(s->servers[0]), "%s", server);
    s->n++;
}

static seen_t get(router_table_t *t, int64_t mid, uint64_t now)
{
    seen_t s = {0};
    size_t n = router_table_get(t, mid, now, on_visit, &s);
    assert_int_equal(n, s.n);
    return s;
}

static void put_ok(router_table_t *t, int64_t mid, const char *key, const char *server,
                   uint64_t now)
{
    router_evicted_t ev;
    assert_int_equal(router_table_put(t, mid, key, server, now, &ev), 0);
    assert_int_equal(ev.has, 0);
}

static void test_put_get_del(void **state)
{
    router_table_t *t = router_table_new(16, ROUTER_OVERFLOW_KICK_OLDEST, TTL);
    put_ok(t, 7, "k1", "comet-1", 100);
    put_ok(t, 7, "k2", "comet-2", 101);
    put_ok(t, 8, "k3", "comet-1", 102);
    assert_int_equal(router_table_users(t), 2);
    assert_int_equal(router_table_conns(t), 3);

    seen_t s = get(t, 7, 200);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.keys[0], "k1");
    assert_string_equal(s.servers[0], "comet-1");
    assert_string_equal(s.keys[1], "k2");
    assert_string_equal(s.servers[1], "comet-2");
    assert_int_equal(get(t, 9, 200).n, 0);

    /* same key again: replaced, moved to the newest place, on the new server */
    put_ok(t, 7, "k1", "comet-3", 300);
    s = get(t, 7, 300);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.keys[0], "k2");
    assert_string_equal(s.keys[1], "k1");
    assert_string_equal(s.servers[1], "comet-3");
    assert_int_equal(router_table_conns(t), 3);

    /* del: a stale server cannot remove a key that moved; an empty server means any */
    assert_int_equal(router_table_del(t, 7, "k1", "comet-1"), 0);
    assert_int_equal(router_table_del(t, 7, "k1", "comet-3"), 1);
    assert_int_equal(router_table_del(t, 7, "k1", "comet-3"), 0);
    assert_int_equal(router_table_del(t, 7, "nope", NULL), 0);
    assert_int_equal(router_table_del(t, 99, "k2", NULL), 0);
    assert_int_equal(router_table_del(t, 7, "k2", ""), 1);
    assert_int_equal(router_table_users(t), 1);
    assert_int_equal(router_table_conns(t), 1);
    assert_int_equal(get(t, 7, 300).n, 0);
    router_table_free(t);
    router_table_free(NULL);
}

static void test_invalid(void **state)
{
    router_table_t *t = router_table_new(4, ROUTER_OVERFLOW_KICK_OLDEST, TTL);
    router_evicted_t ev;
    char long_key[ROUTER_KEY_MAX + 2];
    memset(long_key, 'a', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    assert_int_equal(router_table_put(t, 1, "", "c", 0, &ev), HERALD_EINVAL);
    assert_int_equal(router_table_put(t, 1, "k", "", 0, &ev), HERALD_EINVAL);
    assert_int_equal(router_table_put(t, 1, NULL, "c", 0, &ev), HERALD_EINVAL);
    assert_int_equal(router_table_put(t, 1, "k", NULL, 0, &ev), HERALD_EINVAL);
    assert_int_equal(router_table_put(t, 1, long_key, "c", 0, &ev), HERALD_EINVAL);
    long_key[ROUTER_KEY_MAX] = '\0'; /* exactly the maximum is fine */
    assert_int_equal(router_table_put(t, 1, long_key, "c", 0, &ev), 0);
    assert_int_equal(router_table_del(t, 1, NULL, NULL), 0);
    assert_int_equal(router_table_users(t), 1);
    router_table_free(t);
}

static void test_renew_and_expiry(void **state)
{
    router_table_t *t = router_table_new(16, ROUTER_OVERFLOW_KICK_OLDEST, TTL);
    put_ok(t, 1, "a", "c1", 0);
    put_ok(t, 1, "b", "c1", 5000);
    put_ok(t, 2, "c", "c2", 0);

    assert_int_equal(router_table_renew(t, 1, "a", "c1", 9000), 1); /* now expires at 19000 */
    assert_int_equal(router_table_renew(t, 1, "x", "c1", 9000), 0);
    assert_int_equal(router_table_renew(t, 3, "a", NULL, 9000), 0);
    /* key placed on another server: left alone, still "has" */
    assert_int_equal(router_table_renew(t, 2, "c", "c9", 9000), 1);

    /* at 10000, c (put at 0, never renewed on its server) is expired: invisible at once */
    assert_int_equal(get(t, 2, 10000).n, 0);
    assert_int_equal(router_table_renew(t, 2, "c", NULL, 10000), 0);
    seen_t s = get(t, 1, 10000);
    assert_int_equal(s.n, 2);

    /* still counted until swept */
    assert_int_equal(router_table_users(t), 2);
    assert_int_equal(router_table_sweep(t, 10000, 1u << 20), 1);
    assert_int_equal(router_table_users(t), 1);
    assert_int_equal(router_table_conns(t), 2);

    /* b expires at 15000, a at 19000 */
    s = get(t, 1, 15000);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.keys[0], "a");
    assert_int_equal(router_table_sweep(t, 15000, 1u << 20), 1);
    assert_int_equal(router_table_sweep(t, 19000, 1u << 20), 1);
    assert_int_equal(router_table_users(t), 0);
    assert_int_equal(router_table_conns(t), 0);
    assert_int_equal(router_table_sweep(t, 19000, 1u << 20), 0);
    router_table_free(t);
}

static void test_overflow_kick_oldest(void **state)
{
    router_table_t *t = router_table_new(3, ROUTER_OVERFLOW_KICK_OLDEST, TTL);
    router_evicted_t ev;
    put_ok(t, 5, "k1", "c1", 0);
    put_ok(t, 5, "k2", "c2", 1);
    put_ok(t, 5, "k3", "c1", 2);
    assert_int_equal(router_table_put(t, 5, "k4", "c3", 3, &ev), 0);
    assert_int_equal(ev.has, 1);
    assert_string_equal(ev.key, "k1");
    assert_string_equal(ev.server, "c1");
    seen_t s = get(t, 5, 4);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.keys[0], "k2");
    assert_string_equal(s.keys[2], "k4");

    /* replacing an existing key at the limit evicts nothing */
    put_ok(t, 5, "k2", "c2", 5);
    assert_int_equal(router_table_put(t, 5, "k5", "c1", 6, &ev), 0);
    assert_int_equal(ev.has, 1);
    assert_string_equal(ev.key, "k3");
    assert_int_equal(router_table_conns(t), 3);

    /* the only holder of a server id evicted: the interned id is released and re-made */
    router_table_t *t2 = router_table_new(1, ROUTER_OVERFLOW_KICK_OLDEST, TTL);
    put_ok(t2, 1, "a", "only", 0);
    assert_int_equal(router_table_put(t2, 1, "b", "other", 0, &ev), 0);
    assert_string_equal(ev.server, "only");
    put_ok(t2, 2, "c", "only", 0);
    s = get(t2, 2, 1);
    assert_string_equal(s.servers[0], "only");
    router_table_free(t2);
    router_table_free(t);
}

static void test_overflow_reject_new(void **state)
{
    router_table_t *t = router_table_new(2, ROUTER_OVERFLOW_REJECT_NEW, TTL);
    router_evicted_t ev;
    put_ok(t, 5, "k1", "c1", 0);
    put_ok(t, 5, "k2", "c1", 5000);
    assert_int_equal(router_table_put(t, 5, "k3", "c1", 6000, &ev), HERALD_EOVERFLOW);
    assert_int_equal(ev.has, 0);
    assert_int_equal(get(t, 5, 6000).n, 2);
    /* an existing key may still reconnect */
    put_ok(t, 5, "k1", "c2", 6000);
    /* once one connection expired, a new one fits (k2 put at 5000 expires at 15000) */
    assert_int_equal(router_table_put(t, 5, "k3", "c1", 15000, &ev), 0);
    seen_t s = get(t, 5, 15000);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.keys[0], "k1");
    assert_string_equal(s.keys[1], "k3");
    router_table_free(t);
}

static void test_del_server(void **state)
{
    router_table_t *t = router_table_new(16, ROUTER_OVERFLOW_KICK_OLDEST, TTL);
    char key[32];
    for (int64_t mid = 1; mid <= 3000; mid++) {
        snprintf(key, sizeof(key), "a%lld", (long long)mid);
        put_ok(t, mid, key, mid % 3 == 0 ? "gone" : "stay", 0);
        if (mid % 2 == 0) {
            snprintf(key, sizeof(key), "b%lld", (long long)mid);
            put_ok(t, mid, key, "gone", 0);
        }
    }
    /* gone: 1000 (a, mid%3==0) + 1500 (b, even) */
    assert_int_equal(router_table_conns(t), 4500);
    assert_int_equal(router_table_del_server(t, "gone"), 2500);
    assert_int_equal(router_table_del_server(t, "gone"), 0);
    assert_int_equal(router_table_del_server(t, "never"), 0);
    assert_int_equal(router_table_conns(t), 2000);
    assert_int_equal(router_table_users(t), 2000);
    for (int64_t mid = 1; mid <= 3000; mid++) {
        seen_t s = get(t, mid, 1);
        if (mid % 3 == 0) {
            assert_int_equal(s.n, 0);
        } else {
            assert_int_equal(s.n, 1);
            assert_string_equal(s.servers[0], "stay");
        }
    }
    /* the id comes back with the comet */
    put_ok(t, 3, "again", "gone", 2);
    assert_string_equal(get(t, 3, 2).servers[0], "gone");
    router_table_free(t);
}

static void test_list_paging(void **state)
{
    router_table_t *t = router_table_new(16, ROUTER_OVERFLOW_KICK_OLDEST, TTL);
    /* 1000 users in a scrambled order, ids 10, 20, ..., 10000; plus ids that are never listed */
    for (int i = 0; i < 1000; i++) {
        int64_t mid = ((i * 379) % 1000 + 1) * 10;
        put_ok(t, mid, "k", "c", 0);
    }
    put_ok(t, 0, "anon", "c", 0);
    put_ok(t, -5, "neg", "c", 0);
    put_ok(t, 55555, "late", "c", 5000); /* live until 15000, the others until 10000 */

    int64_t out[7];
    int64_t cursor = 0, expect = 10;
    int more = 1, pages = 0;
    while (more) {
        size_t n = router_table_list(t, cursor, 100, out, 7, &more);
        pages++;
        assert_true(n > 0);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(out[i], expect);
            expect = expect == 10000 ? 55555 : expect + 10;
        }
        cursor = out[n - 1];
        assert_true(pages <= 200);
    }
    assert_int_equal(cursor, 55555);
    assert_int_equal(pages, 143); /* 1001 ids by 7 */

    /* a cursor between ids, and expired users left out before any sweep */
    size_t n = router_table_list(t, 9995, 100, out, 7, &more);
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 10000);
    assert_int_equal(out[1], 55555);
    assert_int_equal(more, 0);
    n = router_table_list(t, 0, 12000, out, 7, &more);
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 55555);
    assert_int_equal(more, 0);
    n = router_table_list(t, 0, 100, out, 0, &more);
    assert_int_equal(n, 0);
    assert_int_equal(more, 1);
    router_table_free(t);
}

/* Grows through many resizes, removes every other user, and checks every lookup: exercises the
 * backward-shift deletion on long probe runs. */
static void test_many_mids(void **state)
{
    enum { N = 200000 };
    router_table_t *t = router_table_new(16, ROUTER_OVERFLOW_KICK_OLDEST, TTL);
    char key[32];
    for (int64_t mid = 1; mid <= N; mid++) {
        snprintf(key, sizeof(key), "%llx", (unsigned long long)mid);
        put_ok(t, mid * 7919, key, mid % 10 == 0 ? "c0" : "c1", 0);
    }
    assert_int_equal(router_table_users(t), N);
    assert_true(router_table_capacity(t) >= N * 4 / 3);
    for (int64_t mid = 1; mid <= N; mid += 2) {
        snprintf(key, sizeof(key), "%llx", (unsigned long long)mid);
        assert_int_equal(router_table_del(t, mid * 7919, key, NULL), 1);
    }
    assert_int_equal(router_table_users(t), N / 2);
    for (int64_t mid = 1; mid <= N; mid++) {
        seen_t s = get(t, mid * 7919, 1);
        assert_int_equal(s.n, mid % 2 == 0 ? 1 : 0);
    }
    /* a bounded sweep: every call examines at most `budget` slots (a slot emptied by a removal
     * is examined again), so the whole table takes (capacity + users) / budget calls */
    size_t budget = 4096, calls = 0, freed = 0;
    while (router_table_users(t) > 0) {
        freed += router_table_sweep(t, TTL + 1, budget);
        calls++;
        assert_true(calls <= (router_table_capacity(t) + N / 2) / budget + 2);
    }
    assert_int_equal(freed, N / 2);
    assert_int_equal(router_table_conns(t), 0);
    router_table_free(t);
}

/* ----------------------------------------------------------------- randomized model check */

#define M_MIDS 64
#define M_KEYS 6
#define M_MAX 3

typedef struct model_conn_s {
    int key, server;
    uint64_t expires;
} model_conn_t;

typedef struct model_s {
    model_conn_t conns[M_MIDS][M_MAX];
    int n[M_MIDS];
} model_t;

static void model_remove(model_t *m, int mid, int i)
{
    memmove(&m->conns[mid][i], &m->conns[mid][i + 1], (m->n[mid] - i - 1) * sizeof(model_conn_t));
    m->n[mid]--;
}

static void model_purge(model_t *m, int mid, uint64_t now)
{
    for (int i = 0; i < m->n[mid];)
        if (m->conns[mid][i].expires <= now)
            model_remove(m, mid, i);
        else
            i++;
}

static int model_find(const model_t *m, int mid, int key)
{
    for (int i = 0; i < m->n[mid]; i++)
        if (m->conns[mid][i].key == key)
            return i;
    return -1;
}

static void test_random_vs_model(void **state)
{
    router_table_t *t = router_table_new(M_MAX, ROUTER_OVERFLOW_KICK_OLDEST, 1000);
    model_t m = {0};
    uint64_t now = 0;
    char key[16], server[16];
    srand(12345);
    for (int step = 0; step < 60000; step++) {
        now += (uint64_t)(rand() % 20);
        int mid = rand() % M_MIDS, k = rand() % M_KEYS, sv = rand() % 4;
        int64_t tmid = (int64_t)mid * 64;
        snprintf(key, sizeof(key), "k%d", k);
        snprintf(server, sizeof(server), "s%d", sv);
        int op = rand() % 10;
        if (op < 4) {
            router_evicted_t ev;
            assert_int_equal(router_table_put(t, tmid, key, server, now, &ev), 0);
            model_purge(&m, mid, now);
            int at = model_find(&m, mid, k);
            if (at >= 0) {
                model_remove(&m, mid, at);
                assert_int_equal(ev.has, 0);
            } else if (m.n[mid] == M_MAX) {
                char want[16];
                snprintf(want, sizeof(want), "k%d", m.conns[mid][0].key);
                assert_int_equal(ev.has, 1);
                assert_string_equal(ev.key, want);
                model_remove(&m, mid, 0);
            } else {
                assert_int_equal(ev.has, 0);
            }
            m.conns[mid][m.n[mid]++] = (model_conn_t){k, sv, now + 1000};
        } else if (op < 6) {
            int at = model_find(&m, mid, k);
            int want = at >= 0 && m.conns[mid][at].server == sv;
            int got = router_table_del(t, tmid, key, server);
            /* an expired entry may or may not have been swept yet */
            if (at < 0 || m.conns[mid][at].expires > now)
                assert_int_equal(got, want);
            if (want)
                model_remove(&m, mid, at);
        } else if (op < 8) {
            int at = model_find(&m, mid, k);
            int live = at >= 0 && m.conns[mid][at].expires > now;
            assert_int_equal(router_table_renew(t, tmid, key, server, now), live);
            if (live && m.conns[mid][at].server == sv)
                m.conns[mid][at].expires = now + 1000;
        } else if (op < 9) {
            /* partial: the model keeps expired entries, invisible either way */
            router_table_sweep(t, now, 16);
        } else if (rand() % 50 == 0) {
            /* DelServer counts what the table holds: sweep both fully first */
            size_t want = 0;
            router_table_sweep(t, now, 1u << 20);
            for (int i = 0; i < M_MIDS; i++)
                model_purge(&m, i, now);
            for (int i = 0; i < M_MIDS; i++)
                for (int j = 0; j < m.n[i];)
                    if (m.conns[i][j].server == sv) {
                        model_remove(&m, i, j);
                        want++;
                    } else {
                        j++;
                    }
            assert_int_equal(router_table_del_server(t, server), want);
        }
        /* every user's live connections agree, in order */
        seen_t s = get(t, tmid, now);
        size_t live = 0;
        for (int i = 0; i < m.n[mid]; i++) {
            const model_conn_t *c = &m.conns[mid][i];
            if (c->expires <= now)
                continue;
            char want[16];
            snprintf(want, sizeof(want), "k%d", c->key);
            assert_true(live < s.n);
            assert_string_equal(s.keys[live], want);
            snprintf(want, sizeof(want), "s%d", c->server);
            assert_string_equal(s.servers[live], want);
            live++;
        }
        assert_int_equal(live, s.n);
    }
    for (int mid = 0; mid < M_MIDS; mid++) {
        size_t live = 0;
        for (int i = 0; i < m.n[mid]; i++)
            live += m.conns[mid][i].expires > now;
        assert_int_equal(get(t, (int64_t)mid * 64, now).n, live);
    }
    router_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_del),         cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_renew_and_expiry),    cmocka_unit_test(test_overflow_kick_oldest),
        cmocka_unit_test(test_overflow_reject_new), cmocka_unit_test(test_del_server),
        cmocka_unit_test(test_list_paging),         cmocka_unit_test(test_many_mids),
        cmocka_unit_test(test_random_vs_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
