/* Distinct client addresses (comet_ips): hashing by IP only, counts per address, removal that
 * keeps every other address findable (backward shift), growth, and threads adding at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "comet_ips.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static uint32_t hash_v4(const char *ip, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
    return comet_ips_hash((const struct sockaddr *)&a);
}

static uint32_t hash_v6(const char *ip)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    assert_int_equal(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
    return comet_ips_hash((const struct sockaddr *)&a);
}

static void test_hash_is_by_ip(void **state)
{
    (void)state;
    assert_int_not_equal(hash_v4("127.0.0.1", 1), 0);
    /* the port does not matter, an IPv4-mapped IPv6 address is its IPv4 address */
    assert_int_equal(hash_v4("127.0.0.1", 1), hash_v4("127.0.0.1", 2));
    assert_int_equal(hash_v4("10.1.2.3", 1), hash_v6("::ffff:10.1.2.3"));
    assert_int_not_equal(hash_v4("10.1.2.3", 1), hash_v4("10.1.2.4", 1));
    assert_int_not_equal(hash_v6("2001:db8::1"), hash_v6("2001:db8::2"));
    struct sockaddr_un_like {
        sa_family_t family;
        char path[32];
    } unix_addr = {.family = AF_UNIX};
    assert_int_equal(comet_ips_hash((const struct sockaddr *)&unix_addr), 0);
}

static void test_counts_per_address(void **state)
{
    (void)state;
    comet_ips_t t;
    assert_int_equal(comet_ips_init(&t), 0);
    uint32_t a = hash_v4("192.0.2.1", 0), b = hash_v4("192.0.2.2", 0);
    assert_int_equal(comet_ips_count(&t), 0);
    comet_ips_add(&t, a);
    comet_ips_add(&t, a);
    comet_ips_add(&t, b);
    assert_int_equal(comet_ips_count(&t), 2);
    comet_ips_remove(&t, a);
    assert_int_equal(comet_ips_count(&t), 2); /* a still has a connection */
    comet_ips_remove(&t, a);
    assert_int_equal(comet_ips_count(&t), 1);
    comet_ips_remove(&t, a); /* not held: nothing happens */
    assert_int_equal(comet_ips_count(&t), 1);
    comet_ips_remove(&t, b);
    assert_int_equal(comet_ips_count(&t), 0);
    comet_ips_deinit(&t);
}

/* Many addresses (the table grows several times), removed in a scrambled order: after each
 * removal the count is exact, so no entry was lost behind a freed slot. */
static void test_many_addresses(void **state)
{
    (void)state;
    enum { N = 5000 };
    comet_ips_t t;
    assert_int_equal(comet_ips_init(&t), 0);
    uint32_t *h = malloc(N * sizeof *h);
    for (int i = 0; i < N; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0a000000u + i)};
        h[i] = comet_ips_hash((const struct sockaddr *)&a);
        comet_ips_add(&t, h[i]);
        if (i % 3 == 0)
            comet_ips_add(&t, h[i]); /* two connections */
    }
    size_t distinct = comet_ips_count(&t);
    assert_true(distinct >= N - 2 && distinct <= N); /* 32-bit hashes: a collision is possible */
    for (int k = 0; k < N; k++) {
        int i = (int)(((uint64_t)k * 7919) % N);
        comet_ips_remove(&t, h[i]);
        if (i % 3 == 0)
            comet_ips_remove(&t, h[i]);
    }
    assert_int_equal(comet_ips_count(&t), 0);
    free(h);
    comet_ips_deinit(&t);
}

typedef struct worker_arg_s {
    comet_ips_t *t;
    int base;
} worker_arg_t;

static void add_remove(void *arg)
{
    worker_arg_t *w = arg;
    for (int i = 0; i < 2000; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_addr.s_addr = htonl((uint32_t)(w->base + i % 500))};
        uint32_t h = comet_ips_hash((const struct sockaddr *)&a);
        comet_ips_add(&w->t[0], h);
        if (i % 2 == 1)
            comet_ips_remove(&w->t[0], h);
    }
}

/* Workers add and remove at once (the mutex): what is left is exactly the held addresses. */
static void test_threads(void **state)
{
    (void)state;
    comet_ips_t t;
    assert_int_equal(comet_ips_init(&t), 0);
    uv_thread_t th[4];
    worker_arg_t args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (worker_arg_t){&t, 0x0b000000 + i * 1000};
        assert_int_equal(uv_thread_create(&th[i], add_remove, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        uv_thread_join(&th[i]);
    /* address base + j gets i = j, j + 500, j + 1000, j + 1500, all of j's parity: the even ones
     * keep 4 connections, the odd ones none, so 250 addresses a thread are held */
    size_t n = comet_ips_count(&t);
    assert_true(n >= 995 && n <= 1000);
    comet_ips_deinit(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_is_by_ip),
        cmocka_unit_test(test_counts_per_address),
        cmocka_unit_test(test_many_addresses),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
