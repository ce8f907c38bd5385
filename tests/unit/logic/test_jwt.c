/* test_jwt.c - the client JWT verifier (logic_jwt.h) against tokens signed here with keys
 * generated here: the three algorithms, the time claims and their leeway, wrong signatures,
 * alg none, unknown algs, alg/key-type confusion, malformed base64url and JSON, oversize tokens,
 * and the key configuration's errors. */
#include "herald_err.h"
#include "logic_jwt.h"
#include "test_jwt_sign.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define NOW 1700000000LL
#define LEEWAY 5

typedef struct fixture_s {
    test_jwt_key_t *hs, *rs, *es;
    char rs_path[64], es_path[64];
    char *rs_pem;
    logic_jwt_keys_t *k_hs, *k_rs, *k_es, *k_all;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    f->hs = test_jwt_key_hs256("s3cret-key-for-tests");
    f->rs = test_jwt_key_rs256(2048);
    f->es = test_jwt_key_es256(NULL);
    snprintf(f->rs_path, sizeof(f->rs_path), "/tmp/test_jwt_rs_%d.pem", (int)getpid());
    snprintf(f->es_path, sizeof(f->es_path), "/tmp/test_jwt_es_%d.pem", (int)getpid());
    f->rs_pem = test_jwt_key_public_pem(f->rs, f->rs_path);
    free(test_jwt_key_public_pem(f->es, f->es_path));
    char err[200];
    f->k_hs = logic_jwt_keys_new("s3cret-key-for-tests", "", err, sizeof(err));
    f->k_rs = logic_jwt_keys_new("", f->rs_path, err, sizeof(err));
    f->k_es = logic_jwt_keys_new(NULL, f->es_path, err, sizeof(err));
    f->k_all = logic_jwt_keys_new("s3cret-key-for-tests", f->rs_path, err, sizeof(err));
    if (!f->k_hs || !f->k_rs || !f->k_es || !f->k_all) {
        fprintf(stderr, "keys: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    unlink(f->rs_path);
    unlink(f->es_path);
    free(f->rs_pem);
    test_jwt_key_free(f->hs);
    test_jwt_key_free(f->rs);
    test_jwt_key_free(f->es);
    logic_jwt_keys_free(f->k_hs);
    logic_jwt_keys_free(f->k_rs);
    logic_jwt_keys_free(f->k_es);
    logic_jwt_keys_free(f->k_all);
    free(f);
    return 0;
}

/* The policy of every check; test_audience_issuer sets and resets its audience and issuer. */
static logic_jwt_policy_t g_policy = {.now_s = NOW, .leeway_s = LEEWAY};

/* Verifies token with keys; on refusal, asserts the message contains `want`. */
static int verify(const logic_jwt_keys_t *k, const char *token, logic_jwt_claims_t *c,
                  const char *want)
{
    char err[200] = "";
    int rc = logic_jwt_verify(k, token, strlen(token), &g_policy, c, err, sizeof(err));
    if (rc == 0) {
        assert_null(want);
    } else {
        assert_int_equal(rc, HERALD_EAUTH);
        assert_null(c->platform);
        assert_int_equal(c->rooms.n, 0);
        if (want == NULL || strstr(err, want) == NULL)
            fail_msg("refused with \"%s\", wanted \"%s\"", err, want ? want : "(accepted)");
    }
    return rc;
}

/* Signs payload with key and its own header, verifies with keys, expects `want` (NULL = ok). */
static void expect(const test_jwt_key_t *key, const logic_jwt_keys_t *k, const char *payload,
                   const char *want)
{
    char *t = test_jwt_sign(key, test_jwt_header(key), payload);
    logic_jwt_claims_t c;
    if (verify(k, t, &c, want) == 0)
        logic_jwt_claims_deinit(&c);
    free(t);
}

static void test_good_tokens(void **state)
{
    fixture_t *f = *state;
    const char *payload = "{\"sub\":\"42\",\"exp\":1700000100,\"iat\":1699999000,"
                          "\"nbf\":1699999000,\"platform\":\"web\","
                          "\"rooms\":[\"live://1\",\"chat://x y\"],\"info\":{\"any\":1}}";
    struct {
        const test_jwt_key_t *key;
        const logic_jwt_keys_t *keys;
    } cases[] = {
        {f->hs, f->k_hs}, {f->rs, f->k_rs}, {f->es, f->k_es}, {f->hs, f->k_all}, {f->rs, f->k_all}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *t = test_jwt_sign(cases[i].key, test_jwt_header(cases[i].key), payload);
        assert_true(logic_jwt_is_jwt(t));
        logic_jwt_claims_t c;
        assert_int_equal(verify(cases[i].keys, t, &c, NULL), 0);
        assert_int_equal(c.mid, 42);
        assert_string_equal(c.platform, "web");
        assert_int_equal(c.rooms.n, 2);
        assert_true(logic_rooms_has(&c.rooms, "live://1"));
        assert_true(logic_rooms_has(&c.rooms, "chat://x y"));
        assert_false(logic_rooms_has(&c.rooms, "live://2"));
        logic_jwt_claims_deinit(&c);
        free(t);
    }
    /* minimal: sub and exp; a fractional exp is fine */
    char *t = test_jwt_sign(f->hs, "{\"alg\":\"HS256\"}", "{\"sub\":\"0\",\"exp\":1700000000.9}");
    logic_jwt_claims_t c;
    assert_int_equal(verify(f->k_hs, t, &c, NULL), 0);
    assert_int_equal(c.mid, 0);
    assert_null(c.platform);
    assert_int_equal(c.rooms.n, 0);
    free(t);
}

static void test_times(void **state)
{
    fixture_t *f = *state;
    expect(f->hs, f->k_hs, "{\"sub\":\"1\",\"exp\":1699999990}", "expired");
    expect(f->hs, f->k_hs, "{\"sub\":\"1\",\"exp\":1699999995}", "expired"); /* exp+leeway=now */
    expect(f->hs, f->k_hs, "{\"sub\":\"1\",\"exp\":1699999997}", NULL);      /* within leeway */
    expect(f->hs, f->k_hs, "{\"sub\":\"1\"}", "exp is required");
    expect(f->hs, f->k_hs, "{\"sub\":\"1\",\"exp\":\"1800000000\"}", "exp must be a number");
    expect(f->hs, f->k_hs, "{\"sub\":\"1\",\"exp\":1e300}", "out of range");
    expect(f->hs, f->k_hs, "{\"sub\":\"1\",\"exp\":1800000000,\"nbf\":1700000060}",
           "not valid yet");
    expect(f->hs, f->k_hs, "{\"sub\":\"1\",\"exp\":1800000000,\"nbf\":1700000004}", NULL);
    expect(f->hs, f->k_hs, "{\"sub\":\"1\",\"exp\":1800000000,\"iat\":1700000600}",
           "issued in the future");
    expect(f->hs, f->k_hs, "{\"sub\":\"1\",\"exp\":1800000000,\"iat\":null}", "iat must be");
}

static void test_claims(void **state)
{
    fixture_t *f = *state;
    expect(f->hs, f->k_hs, "{\"exp\":1800000000}", "sub is required");
    expect(f->hs, f->k_hs, "{\"sub\":42,\"exp\":1800000000}", "sub must be");
    expect(f->hs, f->k_hs, "{\"sub\":\"-1\",\"exp\":1800000000}", "sub must be");
    expect(f->hs, f->k_hs, "{\"sub\":\"12a\",\"exp\":1800000000}", "sub must be");
    expect(f->hs, f->k_hs, "{\"sub\":\"\",\"exp\":1800000000}", "sub must be");
    expect(f->hs, f->k_hs, "{\"sub\":\"99999999999999999999\",\"exp\":1800000000}", "sub must be");
    expect(f->hs, f->k_hs, "{\"sub\":\"1\\u00002\",\"exp\":1800000000}", "malformed payload");
    expect(f->hs, f->k_hs, "{\"sub\":\"1\",\"exp\":1800000000,\"platform\":7}", "platform");
    expect(f->hs, f->k_hs,
           "{\"sub\":\"1\",\"exp\":1800000000,\"platform\":\"0123456789012345678901234567890123\"}",
           "platform");
    expect(f->hs, f->k_hs, "{\"sub\":\"1\",\"exp\":1800000000,\"rooms\":\"live://1\"}", "rooms");
    expect(f->hs, f->k_hs, "{\"sub\":\"1\",\"exp\":1800000000,\"rooms\":[1]}", "rooms[0]");
    expect(f->hs, f->k_hs, "{\"sub\":\"1\",\"exp\":1800000000,\"rooms\":[\"a\",\"\"]}", "rooms[1]");
    expect(f->hs, f->k_hs, "{\"sub\":\"1\",\"exp\":1800000000,\"rooms\":[\"a\\nb\"]}", "rooms[0]");
    char big[2000] = "{\"sub\":\"1\",\"exp\":1800000000,\"rooms\":[";
    for (int i = 0; i <= LOGIC_ROOMS_MAX; i++)
        snprintf(big + strlen(big), sizeof(big) - strlen(big), "%s\"r%d\"", i ? "," : "", i);
    strcat(big, "]}");
    expect(f->hs, f->k_hs, big, "at most");
    expect(f->hs, f->k_hs, "{\"sub\":\"1\",\"exp\":1800000000,\"sub\":\"2\"}", "malformed payload");
    expect(f->hs, f->k_hs, "[\"sub\"]", "malformed payload");
    expect(f->hs, f->k_hs, "{\"sub\":\"1\",\"exp\":1800000000} x", "malformed payload");
    expect(f->hs, f->k_hs, "{\"sub\":\"\xff\",\"exp\":1800000000}", "malformed payload");
}

/* aud and iss are ignored until the policy names them; then aud must be that string or an array
 * holding it, and iss must be equal. */
static void test_audience_issuer(void **state)
{
    fixture_t *f = *state;
    const char *no_aud = "{\"sub\":\"1\",\"exp\":1800000000}";
    const char *aud_str = "{\"sub\":\"1\",\"exp\":1800000000,\"aud\":\"herald\",\"iss\":\"biz\"}";
    const char *aud_arr =
        "{\"sub\":\"1\",\"exp\":1800000000,\"aud\":[\"other\",\"herald\"],\"iss\":\"biz\"}";
    const char *aud_other =
        "{\"sub\":\"1\",\"exp\":1800000000,\"aud\":[\"other\"],\"iss\":\"biz\"}";
    const char *aud_num = "{\"sub\":\"1\",\"exp\":1800000000,\"aud\":7,\"iss\":\"biz\"}";
    const char *iss_other = "{\"sub\":\"1\",\"exp\":1800000000,\"aud\":\"herald\",\"iss\":\"bi\"}";
    expect(f->hs, f->k_hs, no_aud, NULL); /* not configured: not checked */
    expect(f->hs, f->k_hs, aud_other, NULL);
    g_policy.audience = "herald";
    expect(f->hs, f->k_hs, aud_str, NULL);
    expect(f->hs, f->k_hs, aud_arr, NULL);
    expect(f->hs, f->k_hs, no_aud, "aud");
    expect(f->hs, f->k_hs, aud_other, "aud");
    expect(f->hs, f->k_hs, aud_num, "aud");
    expect(f->hs, f->k_hs, iss_other, NULL);
    g_policy.issuer = "biz";
    expect(f->hs, f->k_hs, aud_arr, NULL);
    expect(f->hs, f->k_hs, iss_other, "iss");
    g_policy.audience = "";
    expect(f->hs, f->k_hs, no_aud, "iss");
    g_policy.audience = NULL;
    g_policy.issuer = NULL;
}

static void test_wrong_signature(void **state)
{
    fixture_t *f = *state;
    const char *payload = "{\"sub\":\"7\",\"exp\":1800000000}";
    test_jwt_key_t *other_hs = test_jwt_key_hs256("another-secret");
    test_jwt_key_t *other_rs = test_jwt_key_rs256(2048);
    test_jwt_key_t *other_es = test_jwt_key_es256(NULL);
    expect(other_hs, f->k_hs, payload, "bad signature");
    expect(other_rs, f->k_rs, payload, "bad signature");
    expect(other_es, f->k_es, payload, "bad signature");
    test_jwt_key_free(other_hs);
    test_jwt_key_free(other_rs);
    test_jwt_key_free(other_es);

    /* a good token with its payload swapped for another user's */
    char *good = test_jwt_sign(f->hs, test_jwt_header(f->hs), payload);
    const char *other = "{\"sub\":\"8\",\"exp\":1800000000}";
    char *evil = test_jwt_b64url(other, strlen(other));
    char *dot1 = strchr(good, '.'), *dot2 = strchr(dot1 + 1, '.');
    char forged[512];
    snprintf(forged, sizeof(forged), "%.*s.%s%s", (int)(dot1 - good), good, evil, dot2);
    logic_jwt_claims_t c;
    verify(f->k_hs, forged, &c, "bad signature");
    /* a flipped signature bit; a truncated signature */
    size_t len = strlen(good);
    good[len - 2] = good[len - 2] == 'A' ? 'B' : 'A';
    verify(f->k_hs, good, &c, "bad signature");
    good[len - 4] = '\0'; /* cut: "bad signature", or malformed when spare bits are left set */
    verify(f->k_hs, good, &c, "signature");
    free(good);
    free(evil);
}

static void test_alg_none_and_unknown(void **state)
{
    fixture_t *f = *state;
    const char *payload = "{\"sub\":\"7\",\"exp\":1800000000}";
    const char *none = "{\"alg\":\"none\"}";
    char *h = test_jwt_b64url(none, strlen(none));
    char *p = test_jwt_b64url(payload, strlen(payload));
    char t[512];
    logic_jwt_claims_t c;
    snprintf(t, sizeof(t), "%s.%s.", h, p);
    verify(f->k_all, t, &c, "not three non-empty parts");
    snprintf(t, sizeof(t), "%s.%s.AAAA", h, p);
    verify(f->k_all, t, &c, "alg not accepted");
    free(h);
    const char *headers[] = {"{\"alg\":\"None\"}",  "{\"alg\":\"HS512\"}", "{\"alg\":\"RS384\"}",
                             "{\"alg\":\"PS256\"}", "{\"alg\":\"hs256\"}", "{\"alg\":256}",
                             "{\"typ\":\"JWT\"}"};
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        char *tok = test_jwt_sign(f->hs, headers[i], payload);
        verify(f->k_all, tok, &c, "alg");
        free(tok);
    }
    char *tok = test_jwt_sign(f->hs, "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", payload);
    verify(f->k_hs, tok, &c, "crit");
    free(tok);
    free(p);
}

/* The classic attack: the RSA public key (known to everyone) used as an HS256 secret. */
static void test_key_confusion(void **state)
{
    fixture_t *f = *state;
    const char *payload = "{\"sub\":\"7\",\"exp\":1800000000}";
    test_jwt_key_t *pem_as_secret = test_jwt_key_hs256(f->rs_pem);
    expect(pem_as_secret, f->k_rs, payload, "no key configured for alg HS256");
    expect(f->hs, f->k_es, payload, "no key configured for alg HS256");
    expect(f->es, f->k_rs, payload, "no key configured for alg ES256");
    expect(f->rs, f->k_es, payload, "no key configured for alg RS256");
    expect(f->rs, f->k_hs, payload, "no key configured for alg RS256");
    /* an RS256 signature under an ES256 header, with both kinds configured */
    char *tok = test_jwt_sign(f->rs, "{\"alg\":\"ES256\"}", payload);
    logic_jwt_claims_t c;
    verify(f->k_es, tok, &c, "bad signature");
    free(tok);
    test_jwt_key_free(pem_as_secret);
}

static void test_malformed(void **state)
{
    fixture_t *f = *state;
    char *good = test_jwt_sign(f->hs, test_jwt_header(f->hs), "{\"sub\":\"7\",\"exp\":1800000000}");
    logic_jwt_claims_t c;
    assert_int_equal(verify(f->k_hs, good, &c, NULL), 0);
    char *dot1 = strchr(good, '.');
    int hl = (int)(dot1 - good);
    char t[1024];
    const char *bad_parts[] = {"not three", "a.b", "a.b.c.d", ".a.b", "a..b", "a.b.c"};
    for (size_t i = 0; i < sizeof(bad_parts) / sizeof(bad_parts[0]); i++)
        assert_int_equal(
            logic_jwt_verify(f->k_hs, bad_parts[i], strlen(bad_parts[i]), &g_policy, &c, NULL, 0),
            HERALD_EAUTH);
    verify(f->k_hs, "a.b.c.d", &c, "three");
    /* padding, the standard alphabet, a 4n+1 length, nonzero trailing bits in the header */
    snprintf(t, sizeof(t), "%.*s=%s", hl, good, dot1);
    verify(f->k_hs, t, &c, "malformed header");
    snprintf(t, sizeof(t), "+%.*s%s", hl - 1, good + 1, dot1);
    verify(f->k_hs, t, &c, "malformed header");
    snprintf(t, sizeof(t), "%.*sA%s", hl, good, dot1);
    verify(f->k_hs, t, &c, "malformed header");
    /* {"alg":"HS256"} is 15 bytes: 20 characters, the last carrying 2 spare bits */
    verify(f->k_hs, "eyJhbGciOiJIUzI1NiJ9.e30.AAAA", &c, "bad signature");
    verify(f->k_hs, "eyJhbGciOiJIUzI1NiJ8.e30.AAAA", &c, "malformed header");
    /* the signature and the payload part */
    snprintf(t, sizeof(t), "%.*s%s", (int)(strlen(good) - 1), good, "*");
    verify(f->k_hs, t, &c, "malformed signature");
    /* a header that is not a JSON object, or has duplicate keys */
    const char *headers[] = {"[\"HS256\"]", "{\"alg\":\"HS256\",\"alg\":\"HS256\"}", "{",
                             "{\"alg\":\"HS256\"}x", ""};
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        char *h = test_jwt_b64url(headers[i], strlen(headers[i]));
        snprintf(t, sizeof(t), "%s%s", h, dot1);
        if (h[0] == '\0')
            verify(f->k_hs, t, &c, "three");
        else
            verify(f->k_hs, t, &c, "malformed header");
        free(h);
    }
    free(good);
}

static void test_oversize(void **state)
{
    fixture_t *f = *state;
    char payload[LOGIC_JWT_MAX + 64];
    int n = snprintf(payload, sizeof(payload), "{\"sub\":\"7\",\"exp\":1800000000,\"pad\":\"");
    memset(payload + n, 'x', 3200);
    strcpy(payload + n + 3200, "\"}");
    char *t = test_jwt_sign(f->hs, test_jwt_header(f->hs), payload);
    assert_true(strlen(t) > LOGIC_JWT_MAX);
    logic_jwt_claims_t c;
    verify(f->k_hs, t, &c, "longer than");
    free(t);
    payload[n + 3200 - 400] = '\0';
    strcat(payload, "\"}");
    t = test_jwt_sign(f->hs, test_jwt_header(f->hs), payload);
    assert_true(strlen(t) <= LOGIC_JWT_MAX);
    assert_int_equal(verify(f->k_hs, t, &c, NULL), 0);
    logic_jwt_claims_deinit(&c);
    free(t);
}

static void test_keys_config(void **state)
{
    fixture_t *f = *state;
    char err[200] = "";
    assert_null(logic_jwt_keys_new("", "", err, sizeof(err)));
    assert_non_null(strstr(err, "neither"));
    assert_null(logic_jwt_keys_new(NULL, "/nonexistent/key.pem", err, sizeof(err)));
    assert_non_null(strstr(err, "cannot open"));
    char path[64];
    snprintf(path, sizeof(path), "/tmp/test_jwt_bad_%d.pem", (int)getpid());
    FILE *fp = fopen(path, "w");
    fputs("not a key\n", fp);
    fclose(fp);
    assert_null(logic_jwt_keys_new(NULL, path, err, sizeof(err)));
    assert_non_null(strstr(err, "no PEM public key"));
    test_jwt_key_t *small = test_jwt_key_rs256(1024);
    free(test_jwt_key_public_pem(small, path));
    assert_null(logic_jwt_keys_new(NULL, path, err, sizeof(err)));
    assert_non_null(strstr(err, "under 2048"));
    test_jwt_key_t *p384 = test_jwt_key_es256("secp384r1");
    free(test_jwt_key_public_pem(p384, path));
    assert_null(logic_jwt_keys_new(NULL, path, err, sizeof(err)));
    assert_non_null(strstr(err, "P-256"));
    unlink(path);
    test_jwt_key_free(small);
    test_jwt_key_free(p384);
    /* the messages never carry the secret */
    assert_null(strstr(err, "s3cret"));
    (void)f;
}

static void test_is_jwt(void **state)
{
    (void)state;
    assert_true(logic_jwt_is_jwt("a.b.c"));
    assert_true(logic_jwt_is_jwt(".."));
    assert_false(logic_jwt_is_jwt("0123456789abcdef0123456789abcdef"));
    assert_false(logic_jwt_is_jwt("a.b"));
    assert_false(logic_jwt_is_jwt("a.b.c.d"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_tokens),     cmocka_unit_test(test_times),
        cmocka_unit_test(test_claims),          cmocka_unit_test(test_audience_issuer),
        cmocka_unit_test(test_wrong_signature), cmocka_unit_test(test_alg_none_and_unknown),
        cmocka_unit_test(test_key_confusion),   cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_oversize),        cmocka_unit_test(test_keys_config),
        cmocka_unit_test(test_is_jwt),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
