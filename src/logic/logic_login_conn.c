/* logic_login_conn.c - per-connection platform and token (see logic_login_conn.h). */
#include "logic_login_conn.h"

#include "buf.h"
#include "herald_err.h"
#include "log.h"
#include "logic_router.h"
#include "redis_keys.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define CONN_TTL_S (24 * 3600)
#define LIST_MAX 256 /* entries read per user: more connections than this are not listed */

static void on_written(int status, const redis_reply_t *reply, void *arg)
{
    (void)arg;
    if (status != 0 || redis_reply_type(reply) == REDIS_REPLY_T_ERROR)
        log_warn_rl("conn registry: a write to redis failed");
}

void logic_login_conn_put(const logic_ctx_t *ctx, int64_t mid, const char *key,
                          const char *platform, const char *token)
{
    redis_t *redis = logic_ctx_redis(ctx);
    if (redis == NULL)
        return;
    json_t *j = json_object();
    json_t *p = platform ? json_string(platform) : NULL, *t = token ? json_string(token) : NULL;
    json_object_set_new(j, "platform", p ? p : json_string(""));
    json_object_set_new(j, "token", t ? t : json_string(""));
    char *v = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (v == NULL) {
        log_warn_rl("conn registry: an entry could not be encoded");
        return;
    }
    char hkey[REDIS_KEY_MAX];
    redis_key_conn(hkey, ctx->conf->redis.prefix, mid);
    /* Two commands pipelined on one connection: Redis runs them in order. */
    if (redis_command(redis, on_written, NULL, "HSET %s %s %s", hkey, key, v) == 0)
        redis_command(redis, on_written, NULL, "EXPIRE %s %d", hkey, CONN_TTL_S);
    free(v);
}

void logic_login_conn_del(const logic_ctx_t *ctx, int64_t mid, const char *key)
{
    redis_t *redis = logic_ctx_redis(ctx);
    char hkey[REDIS_KEY_MAX];
    redis_key_conn(hkey, ctx->conf->redis.prefix, mid);
    if (redis != NULL)
        redis_command(redis, on_written, NULL, "HDEL %s %s", hkey, key);
}

/* The HGETALL answer, copied: Redis replies live only inside their callback. */
typedef struct list_ctx_s {
    const logic_ctx_t *ctx;
    int64_t mid;
    logic_login_conn_cb cb;
    void *arg;
    char **keys;
    json_t **vals; /* parallel to keys; NULL when the value is not our JSON */
    size_t n;
} list_ctx_t;

static void list_free(list_ctx_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->keys[i]);
        json_decref(c->vals[i]);
    }
    free(c->keys);
    free(c->vals);
    free(c);
}

static const char *field(json_t *v, const char *name)
{
    const char *s = json_string_value(json_object_get(v, name));
    return s ? s : "";
}

static void on_placements(int status, const logic_placement_t *pl, size_t npl, void *arg)
{
    list_ctx_t *c = arg;
    if (status != 0) {
        c->cb(status, NULL, 0, c->arg);
        list_free(c);
        return;
    }
    logic_login_conn_t *out = xcalloc(c->n + 1, sizeof(*out));
    size_t nout = 0;
    for (size_t i = 0; i < c->n; i++) {
        const logic_placement_t *live = NULL;
        for (size_t j = 0; j < npl && live == NULL; j++)
            if (strcmp(pl[j].key, c->keys[i]) == 0)
                live = &pl[j];
        if (live == NULL) {
            logic_login_conn_del(c->ctx, c->mid, c->keys[i]); /* its comet died silently */
            continue;
        }
        out[nout++] = (logic_login_conn_t){c->keys[i], live->server, field(c->vals[i], "platform"),
                                           field(c->vals[i], "token")};
    }
    c->cb(0, out, nout, c->arg);
    free(out);
    list_free(c);
}

static void on_hgetall(int status, const redis_reply_t *reply, void *arg)
{
    list_ctx_t *c = arg;
    if (status != 0 || redis_reply_type(reply) != REDIS_REPLY_T_ARRAY) {
        c->cb(HERALD_EUNAVAIL, NULL, 0, c->arg);
        list_free(c);
        return;
    }
    size_t pairs = redis_reply_count(reply) / 2;
    if (pairs > LIST_MAX)
        pairs = LIST_MAX;
    c->keys = xcalloc(pairs + 1, sizeof(*c->keys));
    c->vals = xcalloc(pairs + 1, sizeof(*c->vals));
    for (size_t i = 0; i < pairs; i++) {
        size_t klen, vlen;
        const char *k = redis_reply_str(redis_reply_element(reply, 2 * i), &klen);
        const char *v = redis_reply_str(redis_reply_element(reply, 2 * i + 1), &vlen);
        if (k == NULL || v == NULL)
            continue;
        c->keys[c->n] = xmalloc(klen + 1);
        memcpy(c->keys[c->n], k, klen);
        c->keys[c->n][klen] = '\0';
        c->vals[c->n++] = json_loadb(v, vlen, 0, NULL);
    }
    logic_router_t *r = logic_ctx_router(c->ctx);
    if (c->n == 0) {
        on_placements(0, NULL, 0, c);
        return;
    }
    int rc = r ? logic_router_get(r, &c->mid, 1, on_placements, c) : HERALD_EUNAVAIL;
    if (rc != 0) {
        c->cb(rc, NULL, 0, c->arg);
        list_free(c);
    }
}

int logic_login_conn_list(const logic_ctx_t *ctx, int64_t mid, logic_login_conn_cb cb, void *arg)
{
    redis_t *redis = logic_ctx_redis(ctx);
    if (redis == NULL)
        return HERALD_EUNAVAIL;
    char hkey[REDIS_KEY_MAX];
    redis_key_conn(hkey, ctx->conf->redis.prefix, mid);
    list_ctx_t *c = xcalloc(1, sizeof(*c));
    *c = (list_ctx_t){.ctx = ctx, .mid = mid, .cb = cb, .arg = arg};
    if (redis_command(redis, on_hgetall, c, "HGETALL %s", hkey) != 0) {
        free(c);
        return HERALD_EUNAVAIL;
    }
    return 0;
}
