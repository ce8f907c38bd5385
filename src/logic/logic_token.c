/* logic_token.c - tokens and random identifiers. */
#include "logic_token.h"

#include "buf.h"
#include "herald_err.h"
#include "log.h"
#include "logic_params.h"
#include "redis_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

void logic_token_random_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[64];
    if (nbytes > sizeof(raw) || uv_random(NULL, NULL, raw, nbytes, 0, NULL) != 0) {
        log_error("no randomness from the kernel");
        abort();
    }
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * nbytes] = '\0';
}

void logic_token_conn_key(int64_t mid, char *out, size_t outlen)
{
    char rnd[LOGIC_KEY_HEX + 1];
    logic_token_random_hex(rnd, LOGIC_KEY_HEX / 2);
    snprintf(out, outlen, "%lld-%s", (long long)mid, rnd);
}

int logic_token_ok(const char *token)
{
    if (token == NULL || strlen(token) != LOGIC_TOKEN_HEX)
        return HERALD_EINVAL;
    for (size_t i = 0; i < LOGIC_TOKEN_HEX; i++)
        if (!((token[i] >= '0' && token[i] <= '9') || (token[i] >= 'a' && token[i] <= 'f')))
            return HERALD_EINVAL;
    return 0;
}

typedef struct token_ctx_s {
    logic_token_cb cb;
    void *arg;
    int64_t mid;
} token_ctx_t;

static token_ctx_t *ctx_new(logic_token_cb cb, void *arg, int64_t mid)
{
    token_ctx_t *c = xmalloc(sizeof(*c));
    *c = (token_ctx_t){cb, arg, mid};
    return c;
}

static int ok_reply(int status, const redis_reply_t *reply)
{
    return status == 0 && redis_reply_type(reply) != REDIS_REPLY_T_ERROR;
}

static void on_issued(int status, const redis_reply_t *reply, void *arg)
{
    token_ctx_t c = *(token_ctx_t *)arg;
    free(arg);
    c.cb(ok_reply(status, reply) ? 0 : HERALD_EUNAVAIL, c.mid, c.arg);
}

int logic_token_issue(const logic_ctx_t *ctx, int64_t mid, int64_t ttl_s, char *token,
                      logic_token_cb cb, void *arg)
{
    redis_t *redis = logic_ctx_redis(ctx);
    if (redis == NULL)
        return HERALD_EUNAVAIL;
    logic_token_random_hex(token, LOGIC_TOKEN_HEX / 2);
    char key[REDIS_KEY_MAX];
    redis_key_token(key, ctx->conf->redis_prefix, token);
    token_ctx_t *c = ctx_new(cb, arg, mid);
    if (redis_command(redis, on_issued, c, "SET %s %lld EX %lld", key, (long long)mid,
                      (long long)ttl_s) != 0) {
        free(c);
        return HERALD_EUNAVAIL;
    }
    return 0;
}

static void on_revoked(int status, const redis_reply_t *reply, void *arg)
{
    token_ctx_t c = *(token_ctx_t *)arg;
    free(arg);
    if (!ok_reply(status, reply))
        c.cb(HERALD_EUNAVAIL, 0, c.arg);
    else
        c.cb(0, redis_reply_integer(reply) > 0, c.arg);
}

/* Sends `<verb> <prefix>token:<token>` with a context for cb; done(reply) answers it. */
static int token_command(const logic_ctx_t *ctx, const char *verb, const char *token,
                         redis_reply_cb done, logic_token_cb cb, void *arg)
{
    redis_t *redis = logic_ctx_redis(ctx);
    if (redis == NULL)
        return HERALD_EUNAVAIL;
    char key[REDIS_KEY_MAX];
    redis_key_token(key, ctx->conf->redis_prefix, token);
    token_ctx_t *c = ctx_new(cb, arg, 0);
    if (redis_command(redis, done, c, "%s %s", verb, key) != 0) {
        free(c);
        return HERALD_EUNAVAIL;
    }
    return 0;
}

int logic_token_revoke(const logic_ctx_t *ctx, const char *token, logic_token_cb cb, void *arg)
{
    return token_command(ctx, "DEL", token, on_revoked, cb, arg);
}

static void on_resolved(int status, const redis_reply_t *reply, void *arg)
{
    token_ctx_t c = *(token_ctx_t *)arg;
    free(arg);
    if (!ok_reply(status, reply)) {
        c.cb(HERALD_EUNAVAIL, 0, c.arg);
        return;
    }
    /* The value is written by POST /herald/v1/tokens or by a business system sharing the Redis;
     * anything but a user id is as good as no token. */
    size_t len;
    const char *v = redis_reply_str(reply, &len);
    char digits[24];
    int64_t mid;
    if (redis_reply_type(reply) != REDIS_REPLY_T_STRING || v == NULL || len >= sizeof(digits)) {
        c.cb(HERALD_EAUTH, 0, c.arg);
        return;
    }
    memcpy(digits, v, len);
    digits[len] = '\0';
    if (strlen(digits) != len || logic_params_mid(digits, &mid) != 0)
        c.cb(HERALD_EAUTH, 0, c.arg);
    else
        c.cb(0, mid, c.arg);
}

int logic_token_resolve(const logic_ctx_t *ctx, const char *token, logic_token_cb cb, void *arg)
{
    return token_command(ctx, "GET", token, on_resolved, cb, arg);
}
