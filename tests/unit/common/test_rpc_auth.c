/* test_rpc_auth.c - the RPC handshake of rpc_auth.h as a pure state machine: both roles against
 * each other whole and one byte at a time, wrong and missing secrets, garbage, truncation, a
 * reflected nonce and a reflected answer; the MACs are recomputed here with libsodium from the
 * wire format the header documents, so the contract and the code cannot drift apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "herald_err.h"
#include "rpc_auth.h"

#include <sodium.h>
#include <string.h>

#define SECRET "0123456789abcdef-cluster"
#define OTHER "0123456789abcdef-clusteR"

static void key_of(rpc_auth_key_t *k, const char *secret)
{
    assert_int_equal(rpc_auth_key_init(k, secret, strlen(secret)), 0);
}

/* Feeds msg to a, `step` bytes at a time, through rpc_auth_space. Returns the last result; the
 * reply (if any) is in out / *out_len. */
static int feed(rpc_auth_t *a, const uint8_t *msg, size_t n, size_t step, uint8_t *out,
                size_t *out_len)
{
    int rc = RPC_AUTH_MORE;

    *out_len = 0;
    for (size_t off = 0; off < n && rc == RPC_AUTH_MORE;) {
        size_t room, k = n - off < step ? n - off : step;
        uint8_t *p = rpc_auth_space(a, &room);

        assert_true(room > 0);
        if (k > room)
            k = room;
        memcpy(p, msg + off, k);
        rc = rpc_auth_received(a, k, out, out_len);
        off += k;
    }
    return rc;
}

/* HMAC-SHA256(SHA-256(secret), label || ns || nc), as rpc_auth.h specifies. */
static void mac_of(const char *secret, const char *label, const uint8_t *ns, const uint8_t *nc,
                   uint8_t out[32])
{
    uint8_t k[32];
    crypto_auth_hmacsha256_state st;

    crypto_hash_sha256(k, (const uint8_t *)secret, strlen(secret));
    crypto_auth_hmacsha256_init(&st, k, sizeof(k));
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)label, strlen(label));
    crypto_auth_hmacsha256_update(&st, ns, 32);
    crypto_auth_hmacsha256_update(&st, nc, 32);
    crypto_auth_hmacsha256_final(&st, out);
}

static void run_good(size_t step)
{
    rpc_auth_key_t k;
    rpc_auth_t srv, cli;
    uint8_t challenge[RPC_AUTH_MSG_MAX], hello[RPC_AUTH_MSG_MAX], welcome[RPC_AUTH_MSG_MAX];
    uint8_t none[RPC_AUTH_MSG_MAX], mac[32];
    size_t n, hello_len, welcome_len;

    key_of(&k, SECRET);
    n = rpc_auth_start(&srv, RPC_AUTH_SERVER, &k, challenge);
    assert_int_equal(n, RPC_AUTH_CHALLENGE_LEN);
    assert_memory_equal(challenge, "HRA1", 4);
    assert_int_equal(rpc_auth_start(&cli, RPC_AUTH_CLIENT, &k, NULL), 0);

    assert_int_equal(feed(&cli, challenge, n, step, hello, &hello_len), RPC_AUTH_MORE);
    assert_int_equal(hello_len, RPC_AUTH_HELLO_LEN);
    assert_memory_equal(hello, "HRA1", 4);
    /* mac_c over the server's nonce (challenge[4..]) and the client's (hello[4..]). */
    mac_of(SECRET, "herald rpc c2s v1", challenge + 4, hello + 4, mac);
    assert_memory_equal(hello + 36, mac, 32);

    assert_int_equal(feed(&srv, hello, hello_len, step, welcome, &welcome_len), RPC_AUTH_DONE);
    assert_int_equal(welcome_len, RPC_AUTH_WELCOME_LEN);
    mac_of(SECRET, "herald rpc s2c v1", challenge + 4, hello + 4, mac);
    assert_memory_equal(welcome + 4, mac, 32);

    assert_int_equal(feed(&cli, welcome, welcome_len, step, none, &n), RPC_AUTH_DONE);
    assert_int_equal(n, 0);
    /* Over: a byte more is refused, not taken for a new handshake. */
    assert_int_equal(rpc_auth_received(&cli, 0, none, &n), HERALD_EAUTH);
    rpc_auth_wipe(&srv);
    rpc_auth_wipe(&cli);
}

static void test_good_whole_and_bytewise(void **state)
{
    run_good(RPC_AUTH_MSG_MAX);
    run_good(1);
    run_good(5);
}

static void test_nonces_are_fresh(void **state)
{
    rpc_auth_key_t k;
    rpc_auth_t a, b;
    uint8_t c1[RPC_AUTH_MSG_MAX], c2[RPC_AUTH_MSG_MAX];

    key_of(&k, SECRET);
    rpc_auth_start(&a, RPC_AUTH_SERVER, &k, c1);
    rpc_auth_start(&b, RPC_AUTH_SERVER, &k, c2);
    assert_memory_not_equal(c1 + 4, c2 + 4, RPC_AUTH_NONCE);
}

static void test_wrong_secret(void **state)
{
    rpc_auth_key_t ks, kc;
    rpc_auth_t srv, cli;
    uint8_t challenge[RPC_AUTH_MSG_MAX], hello[RPC_AUTH_MSG_MAX], out[RPC_AUTH_MSG_MAX];
    size_t n, hello_len;

    key_of(&ks, SECRET);
    key_of(&kc, OTHER);
    n = rpc_auth_start(&srv, RPC_AUTH_SERVER, &ks, challenge);
    rpc_auth_start(&cli, RPC_AUTH_CLIENT, &kc, NULL);
    assert_int_equal(feed(&cli, challenge, n, 64, hello, &hello_len), RPC_AUTH_MORE);
    assert_int_equal(feed(&srv, hello, hello_len, 64, out, &n), HERALD_EAUTH);
    assert_int_equal(n, 0); /* the server proves nothing to a client that did not prove itself */
    assert_string_equal(rpc_auth_why(&srv), "wrong cluster secret");
}

static void test_no_secret(void **state)
{
    rpc_auth_key_t k;

    assert_int_equal(rpc_auth_key_init(&k, "", 0), HERALD_EINVAL);
    assert_int_equal(rpc_auth_key_init(&k, "fifteen bytes..", 15), HERALD_EINVAL);
    assert_int_equal(rpc_auth_key_init(&k, "sixteen bytes...", 16), 0);
}

static void test_garbage_and_truncation(void **state)
{
    rpc_auth_key_t k;
    rpc_auth_t srv, cli;
    uint8_t out[RPC_AUTH_MSG_MAX], hello[RPC_AUTH_MSG_MAX];
    uint8_t frame[RPC_AUTH_MSG_MAX] = {0, 0, 0, 8, 1, 0x30, 0, 0, 0, 0, 0, 1}; /* an RPC frame */
    size_t n;

    key_of(&k, SECRET);
    /* A peer that speaks RPC frames at once is refused on the first byte. */
    rpc_auth_start(&srv, RPC_AUTH_SERVER, &k, out);
    assert_int_equal(feed(&srv, frame, 12, 1, out, &n), HERALD_EAUTH);
    assert_string_equal(rpc_auth_why(&srv), "not an RPC handshake (bad magic)");
    /* "HR" then garbage: refused at the first wrong byte. */
    rpc_auth_start(&srv, RPC_AUTH_SERVER, &k, out);
    assert_int_equal(feed(&srv, (const uint8_t *)"HRX", 3, 1, out, &n), HERALD_EAUTH);
    /* A truncated HELLO waits (the server's deadline closes it), answering nothing. */
    rpc_auth_start(&srv, RPC_AUTH_SERVER, &k, out);
    memcpy(hello, "HRA1", 4);
    memset(hello + 4, 7, sizeof(hello) - 4);
    assert_int_equal(feed(&srv, hello, RPC_AUTH_HELLO_LEN - 1, 64, out, &n), RPC_AUTH_MORE);
    assert_int_equal(n, 0);
    /* ... and its last byte completes it: the made-up MAC is wrong. */
    assert_int_equal(feed(&srv, hello + RPC_AUTH_HELLO_LEN - 1, 1, 1, out, &n), HERALD_EAUTH);
    /* A client given garbage for a CHALLENGE sends nothing. */
    rpc_auth_start(&cli, RPC_AUTH_CLIENT, &k, NULL);
    assert_int_equal(feed(&cli, (const uint8_t *)"HTTP/1.1 200 OK\r\n", 17, 64, out, &n),
                     HERALD_EAUTH);
    assert_int_equal(n, 0);
}

/* An attacker that does know the MAC scheme but not the secret cannot echo the server's own
 * nonce back; even with a correct MAC over (ns, ns) the echo is refused as a reflection. */
static void test_reflected_nonce(void **state)
{
    rpc_auth_key_t k;
    rpc_auth_t srv;
    uint8_t challenge[RPC_AUTH_MSG_MAX], hello[RPC_AUTH_MSG_MAX], out[RPC_AUTH_MSG_MAX];
    size_t n;

    key_of(&k, SECRET);
    rpc_auth_start(&srv, RPC_AUTH_SERVER, &k, challenge);
    memcpy(hello, "HRA1", 4);
    memcpy(hello + 4, challenge + 4, 32);
    mac_of(SECRET, "herald rpc c2s v1", challenge + 4, challenge + 4, hello + 36);
    assert_int_equal(feed(&srv, hello, RPC_AUTH_HELLO_LEN, 64, out, &n), HERALD_EAUTH);
    assert_string_equal(rpc_auth_why(&srv), "reflected nonce");
    assert_int_equal(n, 0);
}

/* A fake server that sends the client's own proof back as its WELCOME fails: the directions
 * have different labels. */
static void test_reflected_answer(void **state)
{
    rpc_auth_key_t k;
    rpc_auth_t cli;
    uint8_t challenge[RPC_AUTH_CHALLENGE_LEN], hello[RPC_AUTH_MSG_MAX], welcome[36];
    uint8_t out[RPC_AUTH_MSG_MAX];
    size_t n;

    key_of(&k, SECRET);
    memcpy(challenge, "HRA1", 4);
    memset(challenge + 4, 0x5a, 32);
    rpc_auth_start(&cli, RPC_AUTH_CLIENT, &k, NULL);
    assert_int_equal(feed(&cli, challenge, sizeof(challenge), 64, hello, &n), RPC_AUTH_MORE);
    memcpy(welcome, "HRA1", 4);
    memcpy(welcome + 4, hello + 36, 32);
    assert_int_equal(feed(&cli, welcome, sizeof(welcome), 64, out, &n), HERALD_EAUTH);
    assert_string_equal(rpc_auth_why(&cli), "wrong cluster secret (server proof)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_whole_and_bytewise),
        cmocka_unit_test(test_nonces_are_fresh),
        cmocka_unit_test(test_wrong_secret),
        cmocka_unit_test(test_no_secret),
        cmocka_unit_test(test_garbage_and_truncation),
        cmocka_unit_test(test_reflected_nonce),
        cmocka_unit_test(test_reflected_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
