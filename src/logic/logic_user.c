/* logic_user.c - user accounts (see logic_user.h). */
#include "logic_user.h"

#include "buf.h"
#include "herald_err.h"
#include "logic_params.h"
#include "redis_keys.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* KEYS: username:{users}:<name>, user:{users}:next; ARGV: name, created ms, the user hash key
 * prefix, the first IM id (login.id_base), the password hash. The hash key user:{users}:<mid> is
 * built inside because the id is only known there; it shares the {users} tag with the declared
 * keys, so on Redis Cluster it is on the same slot and node (every account shares that slot). A
 * counter below the base (ids handed out before there was a base) jumps to it, so new ids never
 * fall in the business range. -1 means the name is taken. */
static const char create_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end "
    "local mid = redis.call('INCR', KEYS[2]) "
    "if mid < tonumber(ARGV[4]) then "
    "  mid = tonumber(ARGV[4]) "
    "  redis.call('SET', KEYS[2], ARGV[4]) "
    "end "
    "local smid = string.format('%d', mid) "
    "redis.call('SET', KEYS[1], smid) "
    "redis.call('HSET', ARGV[3] .. smid, 'name', ARGV[1], 'created', ARGV[2], 'pass', ARGV[5]) "
    "return mid";

/* KEYS: username:<name>; ARGV: the user hash key prefix. {mid, password hash or ""}, or nil. */
static const char credential_script[] =
    "local mid = redis.call('GET', KEYS[1]) "
    "if not mid then return nil end "
    "return {mid, redis.call('HGET', ARGV[1] .. mid, 'pass') or ''}";

int logic_user_name_ok(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > LOGIC_USER_NAME_MAX)
        return HERALD_EINVAL;
    int digits = 1;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '_' || ch == '.' || ch == '-';
        if (!ok)
            return HERALD_EINVAL;
        if (ch < '0' || ch > '9')
            digits = 0;
    }
    return digits ? HERALD_EINVAL : 0;
}

typedef struct user_ctx_s {
    logic_user_cb cb;
    void *arg;
    int64_t mid;
    char name[LOGIC_USER_NAME_MAX + 1];
} user_ctx_t;

static user_ctx_t *ctx_new(logic_user_cb cb, void *arg, int64_t mid, const char *name)
{
    user_ctx_t *c = xcalloc(1, sizeof(*c));
    c->cb = cb;
    c->arg = arg;
    c->mid = mid;
    if (name != NULL)
        snprintf(c->name, sizeof(c->name), "%s", name);
    return c;
}

/* A Redis string holding a user id (written by this module) to its value; -1 when it is not. */
static int64_t reply_mid(const redis_reply_t *reply)
{
    if (redis_reply_type(reply) == REDIS_REPLY_T_INTEGER)
        return redis_reply_integer(reply);
    size_t len;
    const char *v = redis_reply_str(reply, &len);
    char digits[24];
    int64_t mid;
    if (redis_reply_type(reply) != REDIS_REPLY_T_STRING || v == NULL || len >= sizeof(digits))
        return -1;
    memcpy(digits, v, len);
    digits[len] = '\0';
    return strlen(digits) == len && logic_params_mid(digits, &mid) == 0 ? mid : -1;
}

static void on_created(int status, const redis_reply_t *reply, void *arg)
{
    user_ctx_t *c = arg;
    if (status != 0 || redis_reply_type(reply) != REDIS_REPLY_T_INTEGER)
        c->cb(HERALD_EUNAVAIL, 0, NULL, c->arg);
    else if (redis_reply_integer(reply) < 0)
        c->cb(HERALD_EEXIST, 0, NULL, c->arg);
    else
        c->cb(0, redis_reply_integer(reply), c->name, c->arg);
    free(c);
}

int logic_user_create(const logic_ctx_t *ctx, const char *name, const char *pass_hash,
                      logic_user_cb cb, void *arg)
{
    redis_t *redis = logic_ctx_redis(ctx);
    if (redis == NULL)
        return HERALD_EUNAVAIL;
    const char *prefix = ctx->conf->redis.prefix;
    char kname[REDIS_KEY_MAX], knext[REDIS_KEY_MAX], kstem[REDIS_KEY_MAX];
    redis_key_username(kname, prefix, name);
    redis_key_user_next(knext, prefix);
    redis_key_user_stem(kstem, prefix);
    uv_timeval64_t now;
    uv_gettimeofday(&now);
    long long created = (long long)now.tv_sec * 1000 + now.tv_usec / 1000;
    user_ctx_t *c = ctx_new(cb, arg, 0, name);
    if (redis_command(redis, on_created, c, "EVAL %s 2 %s %s %s %lld %s %lld %s", create_script,
                      kname, knext, name, created, kstem, (long long)ctx->conf->login_id_base,
                      pass_hash) != 0) {
        free(c);
        return HERALD_EUNAVAIL;
    }
    return 0;
}

static void on_by_name(int status, const redis_reply_t *reply, void *arg)
{
    user_ctx_t *c = arg;
    if (status != 0 || redis_reply_type(reply) == REDIS_REPLY_T_ERROR) {
        c->cb(HERALD_EUNAVAIL, 0, NULL, c->arg);
    } else {
        int64_t mid = reply_mid(reply);
        if (mid < 0)
            c->cb(HERALD_ENOTFOUND, 0, NULL, c->arg);
        else
            c->cb(0, mid, c->name, c->arg);
    }
    free(c);
}

int logic_user_by_name(const logic_ctx_t *ctx, const char *name, logic_user_cb cb, void *arg)
{
    redis_t *redis = logic_ctx_redis(ctx);
    if (redis == NULL)
        return HERALD_EUNAVAIL;
    char key[REDIS_KEY_MAX];
    redis_key_username(key, ctx->conf->redis.prefix, name);
    user_ctx_t *c = ctx_new(cb, arg, 0, name);
    if (redis_command(redis, on_by_name, c, "GET %s", key) != 0) {
        free(c);
        return HERALD_EUNAVAIL;
    }
    return 0;
}

/* One logic_user_credential call. Heap, freed after its cb. */
typedef struct cred_ctx_s {
    logic_user_credential_cb cb;
    void *arg;
} cred_ctx_t;

static void on_credential(int status, const redis_reply_t *reply, void *arg)
{
    cred_ctx_t *c = arg;
    int type = status == 0 ? redis_reply_type(reply) : REDIS_REPLY_T_ERROR;
    if (type == REDIS_REPLY_T_NIL) {
        c->cb(HERALD_ENOTFOUND, 0, NULL, c->arg);
    } else if (type != REDIS_REPLY_T_ARRAY || redis_reply_count(reply) != 2) {
        c->cb(HERALD_EUNAVAIL, 0, NULL, c->arg);
    } else {
        int64_t mid = reply_mid(redis_reply_element(reply, 0));
        size_t len = 0;
        const char *v = redis_reply_str(redis_reply_element(reply, 1), &len);
        char hash[LOGIC_USER_PASS_HASH_MAX];
        /* An account from before passwords (or another system's bytes) has no usable hash. */
        int has = v != NULL && len > 0 && len < sizeof(hash) && memchr(v, '\0', len) == NULL;
        if (has) {
            memcpy(hash, v, len);
            hash[len] = '\0';
        }
        if (mid < 0)
            c->cb(HERALD_ENOTFOUND, 0, NULL, c->arg);
        else
            c->cb(0, mid, has ? hash : NULL, c->arg);
    }
    free(c);
}

int logic_user_credential(const logic_ctx_t *ctx, const char *name, logic_user_credential_cb cb,
                          void *arg)
{
    redis_t *redis = logic_ctx_redis(ctx);
    if (redis == NULL)
        return HERALD_EUNAVAIL;
    char kname[REDIS_KEY_MAX], kstem[REDIS_KEY_MAX];
    redis_key_username(kname, ctx->conf->redis.prefix, name);
    redis_key_user_stem(kstem, ctx->conf->redis.prefix);
    cred_ctx_t *c = xmalloc(sizeof(*c));
    *c = (cred_ctx_t){cb, arg};
    if (redis_command(redis, on_credential, c, "EVAL %s 1 %s %s", credential_script, kname,
                      kstem) != 0) {
        free(c);
        return HERALD_EUNAVAIL;
    }
    return 0;
}

static void on_by_mid(int status, const redis_reply_t *reply, void *arg)
{
    user_ctx_t *c = arg;
    size_t len = 0;
    const char *v = status == 0 ? redis_reply_str(reply, &len) : NULL;
    if (status != 0 || redis_reply_type(reply) == REDIS_REPLY_T_ERROR) {
        c->cb(HERALD_EUNAVAIL, c->mid, NULL, c->arg);
    } else if (redis_reply_type(reply) != REDIS_REPLY_T_STRING || v == NULL || len == 0 ||
               len > LOGIC_USER_NAME_MAX) {
        c->cb(HERALD_ENOTFOUND, c->mid, NULL, c->arg);
    } else {
        memcpy(c->name, v, len);
        c->name[len] = '\0';
        /* Only logic_user_create writes names; anything else there (another system's bytes,
         * not even UTF-8 perhaps) would not go into a JSON reply: no such user. */
        int ok = strlen(c->name) == len && logic_user_name_ok(c->name) == 0;
        c->cb(ok ? 0 : HERALD_ENOTFOUND, c->mid, ok ? c->name : NULL, c->arg);
    }
    free(c);
}

int logic_user_by_mid(const logic_ctx_t *ctx, int64_t mid, logic_user_cb cb, void *arg)
{
    redis_t *redis = logic_ctx_redis(ctx);
    if (redis == NULL)
        return HERALD_EUNAVAIL;
    char key[REDIS_KEY_MAX];
    redis_key_user(key, ctx->conf->redis.prefix, mid);
    user_ctx_t *c = ctx_new(cb, arg, mid, NULL);
    if (redis_command(redis, on_by_mid, c, "HGET %s name", key) != 0) {
        free(c);
        return HERALD_EUNAVAIL;
    }
    return 0;
}

/* One logic_user_names call. Heap, freed after its cb. */
typedef struct names_ctx_s {
    json_t *users;
    size_t named;   /* replies so far: they come back in order, one per user */
    size_t waiting; /* replies still to come */
    int failed;
    logic_user_names_cb cb;
    void *arg;
} names_ctx_t;

static void on_name(int status, const redis_reply_t *reply, void *arg)
{
    names_ctx_t *c = arg;
    size_t len = 0;
    const char *v = status == 0 ? redis_reply_str(reply, &len) : NULL;
    if (status != 0 || redis_reply_type(reply) == REDIS_REPLY_T_ERROR)
        c->failed = 1;
    /* A name that is not UTF-8 (stored by another system: jansson refuses it) shows as null. */
    json_t *name =
        v && redis_reply_type(reply) == REDIS_REPLY_T_STRING ? json_stringn(v, len) : NULL;
    json_object_set_new(json_array_get(c->users, c->named++), "name", name ? name : json_null());
    if (--c->waiting > 0)
        return;
    c->cb(c->failed ? HERALD_EUNAVAIL : 0, c->arg);
    free(c);
}

int logic_user_names(const logic_ctx_t *ctx, json_t *users, logic_user_names_cb cb, void *arg)
{
    redis_t *redis = logic_ctx_redis(ctx);
    if (redis == NULL)
        return HERALD_EUNAVAIL;
    names_ctx_t *c = xcalloc(1, sizeof(*c));
    *c = (names_ctx_t){.users = users, .cb = cb, .arg = arg};
    size_t n = json_array_size(users);
    for (size_t i = 0; i < n; i++) {
        json_int_t mid = json_integer_value(json_object_get(json_array_get(users, i), "mid"));
        char key[REDIS_KEY_MAX];
        redis_key_user(key, ctx->conf->redis.prefix, mid);
        if (redis_command(redis, on_name, c, "HGET %s name", key) != 0) {
            c->failed = 1; /* only the first can be refused: the connection is down */
            break;
        }
        c->waiting++;
    }
    if (c->waiting == 0) {
        free(c);
        return HERALD_EUNAVAIL;
    }
    return 0;
}

int logic_user_wrap(logic_push_req_t *req, const char *from_name)
{
    json_t *msg = json_loadb((const char *)req->msg, req->msg_len, JSON_DECODE_ANY, NULL);
    if (msg == NULL)
        return HERALD_EINVAL;
    json_t *env = json_object();
    json_object_set_new(env, "from", json_integer(req->from_mid));
    /* A name another system stored that is not UTF-8 (jansson refuses it) shows as no name. */
    json_t *name = from_name ? json_string(from_name) : NULL;
    json_object_set_new(env, "from_name", name ? name : json_null());
    int rc = 0;
    if (req->kind == LOGIC_PUSH_ROOM)
        rc = json_object_set_new(env, "to_room", json_string(req->room));
    else if (req->kind == LOGIC_PUSH_MIDS && req->nmids == 1)
        rc = json_object_set_new(env, "to_mid", json_integer(req->mids[0]));
    json_object_set_new(env, "msg", msg);
    char *text = rc == 0 ? json_dumps(env, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(env);
    if (text == NULL)
        return HERALD_EINVAL;
    free(req->msg);
    req->msg = (uint8_t *)text;
    req->msg_len = strlen(text);
    return 0;
}
