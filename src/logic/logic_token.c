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
    logic_token_cb cb;             /* or */
    logic_token_rooms_cb rooms_cb; /* resolve_rooms */
    void *arg;
    int64_t mid;
} token_ctx_t;

static token_ctx_t *ctx_new(logic_token_cb cb, void *arg, int64_t mid)
{
    token_ctx_t *c = xmalloc(sizeof(*c));
    *c = (token_ctx_t){cb, NULL, arg, mid};
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

/* The stored value: "<mid>" and "\n<room>" per room (heap). */
static char *token_value(int64_t mid, const logic_rooms_t *rooms)
{
    buf_t b;
    buf_init(&b);
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%lld", (long long)mid);
    buf_append(&b, digits, (size_t)n);
    for (size_t i = 0; rooms != NULL && i < rooms->n; i++) {
        buf_append(&b, "\n", 1);
        buf_append(&b, rooms->ids[i], strlen(rooms->ids[i]));
    }
    buf_append(&b, "", 1);
    return (char *)b.data; /* the buffer's memory, now the caller's */
}

int logic_token_issue_rooms(const logic_ctx_t *ctx, int64_t mid, int64_t ttl_s,
                            const logic_rooms_t *rooms, char *token, logic_token_cb cb, void *arg)
{
    redis_t *redis = logic_ctx_redis(ctx);
    if (redis == NULL)
        return HERALD_EUNAVAIL;
    logic_token_random_hex(token, LOGIC_TOKEN_HEX / 2);
    char key[REDIS_KEY_MAX];
    redis_key_token(key, ctx->conf->redis.prefix, token);
    token_ctx_t *c = ctx_new(cb, arg, mid);
    char *value = token_value(mid, rooms);
    int rc = redis_command(redis, on_issued, c, "SET %s %s EX %lld", key, value, (long long)ttl_s);
    free(value);
    if (rc != 0) {
        free(c);
        return HERALD_EUNAVAIL;
    }
    return 0;
}

int logic_token_issue(const logic_ctx_t *ctx, int64_t mid, int64_t ttl_s, char *token,
                      logic_token_cb cb, void *arg)
{
    return logic_token_issue_rooms(ctx, mid, ttl_s, NULL, token, cb, arg);
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

/* Sends `<verb> <prefix>token:<token>`; done(reply) answers c, which it then owns. On failure c
 * is freed. */
static int token_command(const logic_ctx_t *ctx, const char *verb, const char *token,
                         redis_reply_cb done, token_ctx_t *c)
{
    redis_t *redis = logic_ctx_redis(ctx);
    if (redis == NULL) {
        free(c);
        return HERALD_EUNAVAIL;
    }
    char key[REDIS_KEY_MAX];
    redis_key_token(key, ctx->conf->redis.prefix, token);
    if (redis_command(redis, done, c, "%s %s", verb, key) != 0) {
        free(c);
        return HERALD_EUNAVAIL;
    }
    return 0;
}

int logic_token_revoke(const logic_ctx_t *ctx, const char *token, logic_token_cb cb, void *arg)
{
    return token_command(ctx, "DEL", token, on_revoked, ctx_new(cb, arg, 0));
}

/* Parses a stored value (len bytes) into mid and rooms. The value is written by POST
 * /herald/v1/tokens or by a business system sharing the Redis; anything but a user id and valid
 * room ids is as good as no token. */
static int parse_value(const char *v, size_t len, int64_t *mid, logic_rooms_t *rooms)
{
    const char *nl = memchr(v, '\n', len);
    size_t mlen = nl ? (size_t)(nl - v) : len;
    char digits[24];
    if (mlen >= sizeof(digits) || memchr(v, '\0', mlen) != NULL)
        return HERALD_EAUTH;
    memcpy(digits, v, mlen);
    digits[mlen] = '\0';
    if (logic_params_mid(digits, mid) != 0)
        return HERALD_EAUTH;
    while (nl != NULL) {
        const char *id = nl + 1, *end = v + len;
        nl = memchr(id, '\n', (size_t)(end - id));
        if (logic_rooms_add(rooms, id, (size_t)((nl ? nl : end) - id)) != 0)
            return HERALD_EAUTH;
    }
    return 0;
}

static void on_resolved(int status, const redis_reply_t *reply, void *arg)
{
    token_ctx_t c = *(token_ctx_t *)arg;
    free(arg);
    int64_t mid = 0;
    logic_rooms_t rooms = {0};
    size_t len = 0;
    const char *v = ok_reply(status, reply) ? redis_reply_str(reply, &len) : NULL;
    int rc;
    if (!ok_reply(status, reply))
        rc = HERALD_EUNAVAIL;
    else if (redis_reply_type(reply) != REDIS_REPLY_T_STRING || v == NULL)
        rc = HERALD_EAUTH;
    else
        rc = parse_value(v, len, &mid, &rooms);
    if (rc != 0) {
        mid = 0;
        logic_rooms_deinit(&rooms);
    }
    if (c.rooms_cb != NULL)
        c.rooms_cb(rc, mid, &rooms, c.arg);
    else
        c.cb(rc, mid, c.arg);
    logic_rooms_deinit(&rooms);
}

int logic_token_resolve(const logic_ctx_t *ctx, const char *token, logic_token_cb cb, void *arg)
{
    return token_command(ctx, "GET", token, on_resolved, ctx_new(cb, arg, 0));
}

int logic_token_resolve_rooms(const logic_ctx_t *ctx, const char *token, logic_token_rooms_cb cb,
                              void *arg)
{
    token_ctx_t *c = ctx_new(NULL, arg, 0);
    c->rooms_cb = cb;
    return token_command(ctx, "GET", token, on_resolved, c);
}
