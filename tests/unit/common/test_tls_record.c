/* tls_record against OpenSSL itself: a real TLS 1.3 handshake in memory (an OpenSSL client, the
 * server side from tls_server with test_pki's certificate), then the server side detached: what
 * the client writes opens, what tls_record seals the client reads, for every TLS 1.3 suite;
 * KeyUpdate both ways, close_notify, and records that are cut, tampered with or malformed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "herald_err.h"
#include "test_pki.h"
#include "tls_record.h"
#include "tls_server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pair_s {
    tls_server_t *server;
    SSL *cli;
    tls_record_t rec;
    TLS_CIPHER_CTX *cctx;
    buf_t out; /* what the detached server sealed */
} pair_t;

static void move(SSL *from, SSL *to)
{
    char buf[65536];
    int n;
    while ((n = BIO_read(SSL_get_wbio(from), buf, sizeof buf)) > 0)
        BIO_write(SSL_get_rbio(to), buf, n);
}

/* A handshake on suite (an OpenSSL TLS 1.3 ciphersuite name), then the server detached. */
static void pair_open(pair_t *p, const char *suite)
{
    char cert[512], key[512], err[512];
    tls_server_conf_t conf = {.cert = test_pki_path(cert, sizeof cert, "server.pem"),
                              .key = test_pki_path(key, sizeof key, "server.key"),
                              .min_version = 13};
    p->server = tls_server_new(&conf, err, sizeof err);
    if (p->server == NULL)
        fail_msg("tls_server_new: %s", err);
    SSL *srv = tls_server_ssl(p->server);
    tls_secrets_t sec = {0};
    tls_server_capture(srv, &sec);
    SSL_set_bio(srv, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
    SSL_set_accept_state(srv);
    SSL_CTX *cc = SSL_CTX_new(TLS_client_method());
    assert_int_equal(SSL_CTX_set_ciphersuites(cc, suite), 1);
    p->cli = SSL_new(cc);
    SSL_CTX_free(cc);
    SSL_set_bio(p->cli, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
    SSL_set_connect_state(p->cli);
    for (int i = 0; i < 6 && !(SSL_is_init_finished(srv) && SSL_is_init_finished(p->cli)); i++) {
        SSL_do_handshake(p->cli);
        move(p->cli, srv);
        SSL_do_handshake(srv);
        move(srv, p->cli);
    }
    ERR_clear_error();
    assert_true(SSL_is_init_finished(srv));
    assert_true(SSL_is_init_finished(p->cli));
    assert_int_equal(sec.have, 3);
    int s = tls_record_suite(SSL_CIPHER_get_id(SSL_get_current_cipher(srv)));
    assert_true(s != 0);
    /* tickets are off: the server wrote nothing with the application keys */
    assert_int_equal(tls_record_init(&p->rec, s, sec.client, sec.server, sec.len, 0, 0), 0);
    SSL_free(srv);
    p->cctx = tls_record_ctx_new();
    buf_init(&p->out);
}

static void pair_close(pair_t *p)
{
    SSL_free(p->cli);
    tls_server_free(p->server);
    tls_record_ctx_free(p->cctx);
    buf_deinit(&p->out);
}

/* What the client sends, as ciphertext in out (room for cap bytes); returns its length. */
static size_t client_records(pair_t *p, const char *data, size_t len, uint8_t *out, size_t cap)
{
    if (len > 0)
        assert_int_equal(SSL_write(p->cli, data, (int)len), (int)len);
    int n = BIO_read(SSL_get_wbio(p->cli), out, (int)cap);
    assert_true(n > 0);
    return (size_t)n;
}

/* Opens the first record of in[0..len): asserts peek finds it whole (and not before). */
static int open_first(pair_t *p, uint8_t *in, size_t len, uint8_t **plain, size_t *plen,
                      size_t *used)
{
    long n = tls_record_peek(in, len);
    assert_true(n > 0);
    for (size_t cut = 0; cut < (size_t)n; cut += 7)
        assert_int_equal(tls_record_peek(in, cut), 0);
    *used = (size_t)n;
    return tls_record_open(&p->rec, p->cctx, in, (size_t)n, plain, plen);
}

/* The client reads what the detached server sealed. */
static void client_reads(pair_t *p, const char *want, size_t len)
{
    BIO_write(SSL_get_rbio(p->cli), p->out.data, (int)p->out.len);
    p->out.len = 0;
    char *got = malloc(len + 1);
    size_t n = 0;
    while (n < len) {
        int r = SSL_read(p->cli, got + n, (int)(len - n));
        assert_true(r > 0);
        n += (size_t)r;
    }
    assert_memory_equal(got, want, len);
    free(got);
}

static void round_trip(const char *suite)
{
    pair_t p;
    pair_open(&p, suite);
    uint8_t in[70000], *plain;
    size_t plen, used;
    size_t n = client_records(&p, "hello", 5, in, sizeof in);
    assert_int_equal(open_first(&p, in, n, &plain, &plen, &used), TLS_RECORD_DATA);
    assert_int_equal(used, n);
    assert_int_equal(plen, 5);
    assert_memory_equal(plain, "hello", 5);

    /* 40,000 bytes: three records, read back whole */
    static char big[40000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    assert_int_equal(tls_record_seal(&p.rec, p.cctx, 23, (const uint8_t *)big, sizeof big, &p.out),
                     0);
    assert_int_equal(p.out.len, sizeof big + 3 * (5 + 1 + 16));
    client_reads(&p, big, sizeof big);

    /* the client updates its keys and asks for ours */
    assert_int_equal(SSL_key_update(p.cli, SSL_KEY_UPDATE_REQUESTED), 1);
    n = client_records(&p, "after", 5, in, sizeof in);
    assert_int_equal(open_first(&p, in, n, &plain, &plen, &used), TLS_RECORD_KEY_UPDATE);
    assert_int_equal(plen, 1);
    assert_int_equal(tls_record_update_write(&p.rec, p.cctx, &p.out), 0);
    assert_int_equal(open_first(&p, in + used, n - used, &plain, &plen, &used), TLS_RECORD_DATA);
    assert_memory_equal(plain, "after", 5);
    assert_int_equal(tls_record_seal(&p.rec, p.cctx, 23, (const uint8_t *)"new keys", 8, &p.out),
                     0);
    client_reads(&p, "new keys", 8);

    /* a tampered record does not open; a replayed one neither (the sequence moved on) */
    n = client_records(&p, "tamper", 6, in, sizeof in);
    uint8_t copy[256];
    size_t copy_len = n;
    memcpy(copy, in, n);
    in[n - 3] ^= 0x40;
    assert_int_equal(open_first(&p, in, n, &plain, &plen, &used), HERALD_EPROTO);
    n = client_records(&p, "next", 4, in, sizeof in);
    assert_int_equal(open_first(&p, in, n, &plain, &plen, &used), HERALD_EPROTO);
    pair_close(&p);

    pair_open(&p, suite);
    n = client_records(&p, "x", 1, in, sizeof in);
    assert_int_equal(open_first(&p, in, n, &plain, &plen, &used), TLS_RECORD_DATA);
    /* a record of another connection */
    assert_int_equal(tls_record_open(&p.rec, p.cctx, copy, copy_len, &plain, &plen), HERALD_EPROTO);
    /* close_notify */
    assert_int_equal(SSL_shutdown(p.cli), 0);
    n = client_records(&p, NULL, 0, in, sizeof in);
    assert_int_equal(open_first(&p, in, n, &plain, &plen, &used), TLS_RECORD_CLOSE);
    pair_close(&p);
}

static void test_aes128(void **state)
{
    round_trip("TLS_AES_128_GCM_SHA256");
}

static void test_aes256(void **state)
{
    round_trip("TLS_AES_256_GCM_SHA384");
}

static void test_chacha20(void **state)
{
    round_trip("TLS_CHACHA20_POLY1305_SHA256");
}

static void test_bad_headers(void **state)
{
    const uint8_t handshake[] = {22, 3, 1, 0, 40};      /* a plaintext record */
    const uint8_t not_tls[] = {23, 'T', 'T', 'P', '/'}; /* version byte wrong */
    const uint8_t too_long[] = {23, 3, 3, 0x41, 0x01};  /* 16641 > 16384 + 256 */
    const uint8_t too_short[] = {23, 3, 3, 0, 16};      /* no room for type and tag */
    const uint8_t max[] = {23, 3, 3, 0x41, 0x00};       /* exactly the maximum: wait for it */
    assert_int_equal(tls_record_peek(handshake, 1), HERALD_EPROTO);
    assert_int_equal(tls_record_peek(not_tls, 2), HERALD_EPROTO);
    assert_int_equal(tls_record_peek(too_long, sizeof too_long), HERALD_EPROTO);
    assert_int_equal(tls_record_peek(too_short, sizeof too_short), HERALD_EPROTO);
    assert_int_equal(tls_record_peek(max, sizeof max), 0);
    assert_int_equal(tls_record_peek(max, 0), 0);
    assert_int_equal(tls_record_suite(0x0300c02f), 0); /* a TLS 1.2 suite */
    assert_int_equal(tls_record_suite(0x03001301), TLS_RECORD_AES128GCM);
}

int main(void)
{
    test_pki_dir();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aes128),
        cmocka_unit_test(test_aes256),
        cmocka_unit_test(test_chacha20),
        cmocka_unit_test(test_bad_headers),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    test_pki_cleanup();
    return rc;
}
