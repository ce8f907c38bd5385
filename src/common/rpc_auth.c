/* rpc_auth.c - the RPC handshake of rpc_auth.h on libsodium (HMAC-SHA256, randombytes, the
 * constant-time compare). */
#include "rpc_auth.h"

#include "herald_assert.h"
#include "herald_err.h"

#include <sodium.h>
#include <string.h>

/* Labels of equal length: the MAC input is fixed-size, so no two inputs can collide. */
#define LABEL_C2S "herald rpc c2s v1"
#define LABEL_S2C "herald rpc s2c v1"
#define LABEL_LEN (sizeof(LABEL_C2S) - 1)

enum step {
    STEP_SERVER_HELLO,     /* server: waits for HELLO */
    STEP_CLIENT_CHALLENGE, /* client: waits for CHALLENGE */
    STEP_CLIENT_WELCOME,   /* client: sent HELLO, waits for WELCOME */
    STEP_OVER,             /* done or failed */
};

static void auth_init_sodium(void)
{
    /* Idempotent and thread-safe; fails only when no randomness source exists at all. */
    HERALD_ASSERT(sodium_init() >= 0);
}

int rpc_auth_key_init(rpc_auth_key_t *key, const void *secret, size_t len)
{
    auth_init_sodium();
    if (len < RPC_AUTH_SECRET_MIN || len > RPC_AUTH_SECRET_MAX) {
        sodium_memzero(key, sizeof(*key));
        return HERALD_EINVAL;
    }
    crypto_hash_sha256(key->k, secret, len);
    return 0;
}

void rpc_auth_key_wipe(rpc_auth_key_t *key)
{
    sodium_memzero(key, sizeof(*key));
}

static void auth_mac(const rpc_auth_t *a, const char *label, uint8_t out[RPC_AUTH_MAC])
{
    crypto_auth_hmacsha256_state st;

    crypto_auth_hmacsha256_init(&st, a->key.k, sizeof(a->key.k));
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)label, LABEL_LEN);
    crypto_auth_hmacsha256_update(&st, a->ns, RPC_AUTH_NONCE);
    crypto_auth_hmacsha256_update(&st, a->nc, RPC_AUTH_NONCE);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof(st));
}

/* Compares a received MAC with the one expected under label, in constant time. */
static int auth_mac_ok(const rpc_auth_t *a, const char *label, const uint8_t *got)
{
    uint8_t want[RPC_AUTH_MAC];
    int ok;

    auth_mac(a, label, want);
    ok = sodium_memcmp(want, got, RPC_AUTH_MAC) == 0;
    sodium_memzero(want, sizeof(want));
    return ok;
}

static void auth_expect(rpc_auth_t *a, int step, size_t want)
{
    a->step = step;
    a->want = want;
    a->in_len = 0;
}

static int auth_fail(rpc_auth_t *a, const char *why)
{
    a->why = why;
    auth_expect(a, STEP_OVER, 0);
    return HERALD_EAUTH;
}

size_t rpc_auth_start(rpc_auth_t *a, rpc_auth_role_t role, const rpc_auth_key_t *key,
                      uint8_t out[RPC_AUTH_MSG_MAX])
{
    auth_init_sodium();
    memset(a, 0, sizeof(*a));
    a->key = *key;
    a->role = role;
    a->why = "";
    if (role == RPC_AUTH_CLIENT) {
        auth_expect(a, STEP_CLIENT_CHALLENGE, RPC_AUTH_CHALLENGE_LEN);
        return 0;
    }
    randombytes_buf(a->ns, RPC_AUTH_NONCE);
    memcpy(out, RPC_AUTH_MAGIC, RPC_AUTH_MAGIC_LEN);
    memcpy(out + RPC_AUTH_MAGIC_LEN, a->ns, RPC_AUTH_NONCE);
    auth_expect(a, STEP_SERVER_HELLO, RPC_AUTH_HELLO_LEN);
    return RPC_AUTH_CHALLENGE_LEN;
}

uint8_t *rpc_auth_space(rpc_auth_t *a, size_t *len)
{
    *len = a->want - a->in_len;
    return a->in + a->in_len;
}

/* The server got a whole HELLO. */
static int auth_on_hello(rpc_auth_t *a, uint8_t *out, size_t *out_len)
{
    memcpy(a->nc, a->in + RPC_AUTH_MAGIC_LEN, RPC_AUTH_NONCE);
    if (sodium_memcmp(a->nc, a->ns, RPC_AUTH_NONCE) == 0)
        return auth_fail(a, "reflected nonce");
    if (!auth_mac_ok(a, LABEL_C2S, a->in + RPC_AUTH_MAGIC_LEN + RPC_AUTH_NONCE))
        return auth_fail(a, "wrong cluster secret");
    memcpy(out, RPC_AUTH_MAGIC, RPC_AUTH_MAGIC_LEN);
    auth_mac(a, LABEL_S2C, out + RPC_AUTH_MAGIC_LEN);
    *out_len = RPC_AUTH_WELCOME_LEN;
    auth_expect(a, STEP_OVER, 0);
    return RPC_AUTH_DONE;
}

/* The client got a whole CHALLENGE: it answers with its nonce and proof. */
static int auth_on_challenge(rpc_auth_t *a, uint8_t *out, size_t *out_len)
{
    memcpy(a->ns, a->in + RPC_AUTH_MAGIC_LEN, RPC_AUTH_NONCE);
    do
        randombytes_buf(a->nc, RPC_AUTH_NONCE);
    while (sodium_memcmp(a->nc, a->ns, RPC_AUTH_NONCE) == 0);
    memcpy(out, RPC_AUTH_MAGIC, RPC_AUTH_MAGIC_LEN);
    memcpy(out + RPC_AUTH_MAGIC_LEN, a->nc, RPC_AUTH_NONCE);
    auth_mac(a, LABEL_C2S, out + RPC_AUTH_MAGIC_LEN + RPC_AUTH_NONCE);
    *out_len = RPC_AUTH_HELLO_LEN;
    auth_expect(a, STEP_CLIENT_WELCOME, RPC_AUTH_WELCOME_LEN);
    return RPC_AUTH_MORE;
}

int rpc_auth_received(rpc_auth_t *a, size_t n, uint8_t out[RPC_AUTH_MSG_MAX], size_t *out_len)
{
    *out_len = 0;
    if (a->step == STEP_OVER || n > a->want - a->in_len)
        return auth_fail(a, a->step == STEP_OVER ? "handshake over" : "overlong read");
    a->in_len += n;
    /* A wrong magic is refused as soon as its bytes are in, not after the whole message. */
    if (memcmp(a->in, RPC_AUTH_MAGIC,
               a->in_len < RPC_AUTH_MAGIC_LEN ? a->in_len : RPC_AUTH_MAGIC_LEN) != 0)
        return auth_fail(a, "not an RPC handshake (bad magic)");
    if (a->in_len < a->want)
        return RPC_AUTH_MORE;
    switch (a->step) {
    case STEP_SERVER_HELLO:
        return auth_on_hello(a, out, out_len);
    case STEP_CLIENT_CHALLENGE:
        return auth_on_challenge(a, out, out_len);
    default: /* STEP_CLIENT_WELCOME */
        if (!auth_mac_ok(a, LABEL_S2C, a->in + RPC_AUTH_MAGIC_LEN))
            return auth_fail(a, "wrong cluster secret (server proof)");
        auth_expect(a, STEP_OVER, 0);
        return RPC_AUTH_DONE;
    }
}

const char *rpc_auth_why(const rpc_auth_t *a)
{
    return a->why != NULL ? a->why : "";
}

void rpc_auth_wipe(rpc_auth_t *a)
{
    sodium_memzero(a, sizeof(*a));
}
