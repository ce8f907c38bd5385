/* logic_idem.c - idempotency keys in Redis (see logic_idem.h). */
#include "logic_idem.h"

#include "buf.h"
#include "herald_err.h"
#include "log.h"
#include "redis.h"
#include "redis_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 when this call claimed the key; else what the key holds ("" while its push runs). */
static const char claim_script[] =
    "if redis.call('SET', KEYS[1], '', 'NX', 'PX', ARGV[1]) then return 1 end "
    "return redis.call('GET', KEYS[1]) or ''";

typedef struct claim_s {
    logic_idem_cb cb;
    void *arg;
} claim_t;

int logic_idem_key_ok(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > LOGIC_IDEM_KEY_MAX)
        return HERALD_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (key[i] <= ' ' || key[i] > '~')
            return HERALD_EINVAL;
    return 0;
}

static void on_claimed(int status, const redis_reply_t *reply, void *arg)
{
    claim_t c = *(claim_t *)arg;
    free(arg);
    int type = status == 0 ? redis_reply_type(reply) : REDIS_REPLY_T_ERROR;
    if (type == REDIS_REPLY_T_INTEGER) {
        c.cb(0, LOGIC_IDEM_NEW, NULL, 0, c.arg);
        return;
    }
    size_t len = 0;
    const char *text = type == REDIS_REPLY_T_STRING ? redis_reply_str(reply, &len) : NULL;
    if (text == NULL) {
        log_warn_rl("idempotency: claim failed: %s",
                    status != 0 ? herald_strerror(status) : "unexpected reply");
        c.cb(HERALD_EUNAVAIL, LOGIC_IDEM_RUNNING, NULL, 0, c.arg);
    } else if (len == 0) {
        c.cb(0, LOGIC_IDEM_RUNNING, NULL, 0, c.arg);
    } else {
        c.cb(0, LOGIC_IDEM_DONE, text, len, c.arg);
    }
}

int logic_idem_claim(const logic_ctx_t *ctx, const char *route, const char *key, logic_idem_cb cb,
                     void *arg)
{
    redis_t *redis = logic_ctx_redis(ctx);
    if (redis == NULL)
        return HERALD_EUNAVAIL;
    char rkey[REDIS_KEY_MAX];
    redis_key_idem(rkey, ctx->conf->redis.prefix, route, key);
    claim_t *c = xcalloc(1, sizeof(*c));
    c->cb = cb;
    c->arg = arg;
    if (redis_command(redis, on_claimed, c, "EVAL %s 1 %s %lld", claim_script, rkey,
                      (long long)LOGIC_IDEM_RUNNING_MS) != 0) {
        free(c);
        return HERALD_EUNAVAIL;
    }
    return 0;
}

static void on_stored(int status, const redis_reply_t *reply, void *arg)
{
    (void)arg;
    if (status != 0 || redis_reply_type(reply) == REDIS_REPLY_T_ERROR)
        log_warn_rl("idempotency: a reply could not be kept; a retry will push again");
}

void logic_idem_record(const logic_ctx_t *ctx, const char *route, const char *key,
                       const json_t *data)
{
    redis_t *redis = logic_ctx_redis(ctx);
    char *text = data ? json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY) : xstrdup("null");
    char rkey[REDIS_KEY_MAX];
    redis_key_idem(rkey, ctx->conf->redis.prefix, route, key);
    /* XX: only over this call's own marker (gone if it expired: then nothing is promised). */
    if (text == NULL || redis == NULL ||
        redis_command(redis, on_stored, NULL, "SET %s %s XX PX %lld", rkey, text,
                      (long long)ctx->conf->push_idempotency_window_ms) != 0)
        log_warn_rl("idempotency: a reply could not be kept; a retry will push again");
    free(text);
}

void logic_idem_release(const logic_ctx_t *ctx, const char *route, const char *key)
{
    redis_t *redis = logic_ctx_redis(ctx);
    char rkey[REDIS_KEY_MAX];
    redis_key_idem(rkey, ctx->conf->redis.prefix, route, key);
    if (redis == NULL || redis_command(redis, NULL, NULL, "DEL %s", rkey) != 0)
        log_warn_rl("idempotency: a key could not be freed; it frees itself in %d s",
                    LOGIC_IDEM_RUNNING_MS / 1000);
}
