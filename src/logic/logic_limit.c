/* logic_limit.c - GCRA rate limits in Redis (see logic_limit.h). */
#include "logic_limit.h"

#include "buf.h"
#include "herald_err.h"
#include "log.h"
#include "redis_keys.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// clang-format off

/* Redis's clock in microseconds. */
#define LUA_NOW                                                                                    \
    "local t = redis.call('TIME') "                                                                \
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) "

/* KEYS: the buckets. ARGV: burst, refill_us per key. A take moves each bucket's theoretical
 * arrival time (tat) one refill on; it is allowed when the new tat is at most burst refills
 * ahead of now. Returns 0, or the microseconds until every bucket allows one more. */
static const char take_script[] =
    LUA_NOW
    "local wait = 0 "
    "local tats = {} "
    "for i = 1, #KEYS do "
    "  local burst, refill = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i]) "
    "  local tat = math.max(tonumber(redis.call('GET', KEYS[i]) or '0'), now) "
    "  tats[i] = tat + refill "
    "  wait = math.max(wait, tats[i] - burst * refill - now) "
    "end "
    "if wait > 0 then return math.ceil(wait) end "
    "for i = 1, #KEYS do "
    "  redis.call('SET', KEYS[i], string.format('%d', tats[i]), 'PX', "
    "             math.ceil((tats[i] - now) / 1000)) "
    "end "
    "return 0";

/* KEYS, ARGV as take. Moves each bucket's tat one refill back (never before now). */
static const char refund_script[] =
    LUA_NOW
    "for i = 1, #KEYS do "
    "  local refill = tonumber(ARGV[2 * i]) "
    "  local tat = tonumber(redis.call('GET', KEYS[i]) or '0') - refill "
    "  if tat <= now then redis.call('DEL', KEYS[i]) "
    "  else redis.call('SET', KEYS[i], string.format('%d', tat), 'PX', "
    "                  math.ceil((tat - now) / 1000)) end "
    "end "
    "return 0";

// clang-format on

typedef struct take_s {
    logic_limit_cb cb;
    void *arg;
} take_t;

static void on_taken(int status, const redis_reply_t *reply, void *arg)
{
    take_t *t = arg;
    if (status != 0 || redis_reply_type(reply) != REDIS_REPLY_T_INTEGER) {
        if (status == 0 && redis_reply_type(reply) == REDIS_REPLY_T_ERROR)
            log_warn_rl("limit: %s", redis_reply_str(reply, NULL));
        t->cb(HERALD_EUNAVAIL, 0, t->arg);
    } else {
        int64_t us = redis_reply_integer(reply);
        t->cb(0, us > 0 ? (us + 999) / 1000 : 0, t->arg);
    }
    free(t);
}

static void on_refunded(int status, const redis_reply_t *reply, void *arg)
{
    (void)arg;
    if (status != 0 || redis_reply_type(reply) == REDIS_REPLY_T_ERROR)
        log_warn_rl("limit: refund failed");
}

/* Every bucket key has the {limit} hash tag (redis_keys.h), so one script may take several
 * (a login's name and address buckets) on Redis Cluster too: all limits share that slot.
 *
 * EVAL of script over the buckets that limit anything (with none, the script just answers 0:
 * one round trip keeps the callback contract simple). Returns 0 or HERALD_EUNAVAIL. */
static int run(const logic_ctx_t *ctx, const char *script, const logic_limit_t *limits, size_t n,
               redis_reply_cb cb, void *arg)
{
    redis_t *redis = logic_ctx_redis(ctx);
    if (redis == NULL || n == 0 || n > LOGIC_LIMIT_KEYS_MAX)
        return HERALD_EUNAVAIL;
    char keys[LOGIC_LIMIT_KEYS_MAX][REDIS_KEY_MAX], nums[2 * LOGIC_LIMIT_KEYS_MAX][24], nk[8];
    const char *argv[3 + 3 * LOGIC_LIMIT_KEYS_MAX];
    size_t argvlen[3 + 3 * LOGIC_LIMIT_KEYS_MAX];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (limits[i].refill_us <= 0)
            continue;
        redis_key_limit(keys[k], ctx->conf->redis.prefix, limits[i].what);
        snprintf(nums[2 * k], sizeof(nums[0]), "%lld", (long long)limits[i].burst);
        snprintf(nums[2 * k + 1], sizeof(nums[0]), "%lld", (long long)limits[i].refill_us);
        k++;
    }
    snprintf(nk, sizeof(nk), "%zu", k);
    size_t a = 0;
    argv[a++] = "EVAL";
    argv[a++] = script;
    argv[a++] = nk;
    for (size_t i = 0; i < k; i++)
        argv[a++] = keys[i];
    for (size_t i = 0; i < 2 * k; i++)
        argv[a++] = nums[i];
    for (size_t i = 0; i < a; i++)
        argvlen[i] = strlen(argv[i]);
    return redis_command_argv(redis, cb, arg, (int)a, argv, argvlen) == 0 ? 0 : HERALD_EUNAVAIL;
}

int logic_limit_take(const logic_ctx_t *ctx, const logic_limit_t *limits, size_t n,
                     logic_limit_cb cb, void *arg)
{
    take_t *t = xmalloc(sizeof(*t));
    *t = (take_t){cb, arg};
    int rc = run(ctx, take_script, limits, n, on_taken, t);
    if (rc != 0)
        free(t);
    return rc;
}

void logic_limit_refund(const logic_ctx_t *ctx, const logic_limit_t *limits, size_t n)
{
    if (run(ctx, refund_script, limits, n, on_refunded, NULL) != 0)
        log_warn_rl("limit: refund not sent (redis unavailable)");
}

void logic_limit_addr(const struct sockaddr_storage *ss, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET6) {
        struct in6_addr net = ((const struct sockaddr_in6 *)ss)->sin6_addr;
        memset(&net.s6_addr[8], 0, 8);
        inet_ntop(AF_INET6, &net, ip, sizeof(ip));
        snprintf(out, len, "%s/64", ip);
    } else {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, ip, sizeof(ip));
        snprintf(out, len, "%s", ip);
    }
}
