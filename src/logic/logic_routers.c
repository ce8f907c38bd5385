/* logic_routers.c - see logic_routers.h. */
#include "logic_routers.h"

#include "buf.h"
#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "logic_replay.h"
#include "logic_router.h"
#include "redis_keys.h"
#include "router_entry.h"

#include <stdlib.h>
#include <string.h>

/* Owned by logic_server; freed by logic_routers_close. */
struct logic_routers_s {
    const logic_ctx_t *ctx;
    uv_timer_t timer;
    char **statics; /* router.addrs */
    size_t nstatics;
    struct read_s *reading; /* the HGETALL in flight, or NULL */
    void (*close_cb)(void *arg);
    void *close_arg;
};

/* A read in flight; abandoned (rs NULL) when rs closes first, and freed by its reply. */
typedef struct read_s {
    logic_routers_t *rs;
} read_t;

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void apply(logic_routers_t *rs, const redis_reply_t *reply)
{
    const logic_ctx_t *ctx = rs->ctx;
    redis_t *redis = logic_ctx_redis(ctx);
    logic_router_t *r = logic_ctx_router(ctx);
    if (r == NULL || redis == NULL)
        return;
    size_t count = router_entry_reply_count(reply);
    const char **names = xcalloc(rs->nstatics + count + 1, sizeof(*names));
    router_entry_t *entries = xcalloc(count + 1, sizeof(*entries));
    size_t n = 0, found = 0;
    for (size_t i = 0; i < rs->nstatics; i++)
        names[n++] = rs->statics[i];
    char key[REDIS_KEY_MAX];
    redis_key_routers(key, ctx->conf->redis.prefix);
    int64_t now = daemon_wall_ms();
    for (size_t i = 0; i < count; i++) {
        router_entry_t *e = &entries[found];
        int bad = router_entry_reply_entry(reply, i, e) != 0;
        if (e->name[0] == '\0')
            continue;
        if (bad || router_entry_stale(e, now, ctx->conf->router_ttl_ms)) {
            log_info("routers: %s removed from the registry (%s)", e->name,
                     bad ? "unreadable entry" : "not renewed within router.ttl");
            redis_command(redis, NULL, NULL, "HDEL %s %s", key, e->name);
            continue;
        }
        found++;
    }
    /* Registered routers sorted after the static ones: one order for every logic. */
    size_t first = n;
    for (size_t i = 0; i < found; i++) {
        int dup = 0;
        for (size_t k = 0; k < n && !dup; k++)
            dup = strcmp(names[k], entries[i].name) == 0;
        if (!dup)
            names[n++] = entries[i].name;
    }
    qsort(names + first, n - first, sizeof(*names), str_cmp);
    size_t before = logic_router_count(r);
    int rc = logic_router_set(r, names, n);
    if (rc == 1) {
        log_info("routers: the ring has %zu router(s) now (%zu before)", n, before);
        logic_replay_ring_changed(ctx->replay);
    } else if (rc < 0) {
        log_warn_rl("routers: the registry's router set was refused");
    }
    free(entries);
    free(names);
}

static void on_read(int status, const redis_reply_t *reply, void *arg)
{
    read_t *rd = arg;
    logic_routers_t *rs = rd->rs;
    if (rs != NULL) {
        rs->reading = NULL;
        if (status == 0 && redis_reply_type(reply) == REDIS_REPLY_T_ARRAY &&
            !logic_ctx_stopping(rs->ctx))
            apply(rs, reply);
    }
    free(rd);
}

static void on_tick(uv_timer_t *t)
{
    logic_routers_t *rs = t->data;
    redis_t *redis = logic_ctx_redis(rs->ctx);
    if (rs->reading != NULL || redis == NULL || !redis_connected(redis))
        return;
    read_t *rd = xcalloc(1, sizeof(*rd));
    rd->rs = rs;
    char key[REDIS_KEY_MAX];
    redis_key_routers(key, rs->ctx->conf->redis.prefix);
    if (redis_command(redis, on_read, rd, "HGETALL %s", key) != 0) {
        free(rd);
        return;
    }
    rs->reading = rd;
}

logic_routers_t *logic_routers_new(const logic_ctx_t *ctx)
{
    logic_routers_t *rs = xcalloc(1, sizeof(*rs));
    rs->ctx = ctx;
    rs->statics = conf_list_split(ctx->conf->router_addrs, &rs->nstatics);
    uv_timer_init(ctx->loop, &rs->timer);
    rs->timer.data = rs;
    uv_timer_start(&rs->timer, on_tick, 0, (uint64_t)ctx->conf->router_refresh_ms);
    return rs;
}

static void on_timer_closed(uv_handle_t *h)
{
    logic_routers_t *rs = h->data;
    void (*cb)(void *) = rs->close_cb;
    void *arg = rs->close_arg;
    conf_list_free(rs->statics);
    free(rs);
    if (cb != NULL)
        cb(arg);
}

void logic_routers_close(logic_routers_t *rs, void (*cb)(void *arg), void *arg)
{
    rs->close_cb = cb;
    rs->close_arg = arg;
    if (rs->reading != NULL)
        rs->reading->rs = NULL;
    rs->reading = NULL;
    uv_close((uv_handle_t *)&rs->timer, on_timer_closed);
}
