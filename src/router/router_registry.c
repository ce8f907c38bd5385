/* router_registry.c - see router_registry.h. */
#include "router_registry.h"

#include "buf.h"
#include "daemon.h"
#include "herald_err.h"
#include "log.h"
#include "redis_conf.h"
#include "redis_keys.h"
#include "router_entry.h"

#include <stdio.h>
#include <stdlib.h>

/* Owned by router_server; freed once the Redis client and the timer are closed. */
struct router_registry_s {
    const router_conf_t *conf;
    redis_t *redis;
    uv_timer_t timer;
    router_entry_t entry;
    char key[REDIS_KEY_MAX];
    int open; /* redis and timer not yet closed */
    int failing;
    void (*close_cb)(void *arg);
    void *close_arg;
};

static void on_written(int status, const redis_reply_t *reply, void *arg)
{
    router_registry_t *rg = arg;
    int ok = status == 0 && redis_reply_type(reply) != REDIS_REPLY_T_ERROR;
    if (!ok && !rg->failing)
        log_warn("registry: writing this router's entry failed (retrying every refresh)");
    else if (ok && rg->failing)
        log_info("registry: registered as %s", rg->entry.name);
    if (ok) /* from the fast first polls to the configured period */
        uv_timer_set_repeat(&rg->timer, (uint64_t)rg->conf->registry_refresh_ms);
    rg->failing = !ok;
}

static void on_tick(uv_timer_t *t)
{
    router_registry_t *rg = t->data;
    if (!redis_connected(rg->redis))
        return;
    rg->entry.updated_ms = daemon_wall_ms();
    char *value;
    if (router_entry_encode(&rg->entry, &value) != 0)
        return;
    redis_command(rg->redis, on_written, rg, "HSET %s %s %s", rg->key, rg->entry.name, value);
    free(value);
}

router_registry_t *router_registry_new(uv_loop_t *loop, const router_conf_t *conf, uint64_t epoch,
                                       char *err, size_t errlen)
{
    err[0] = '\0';
    const char *name = conf->registry_advertise;
    if (name == NULL || name[0] == '\0')
        return NULL;
    if (router_entry_name_ok(name) != 0) {
        snprintf(err, errlen, "registry.advertise: \"%s\" is not host:port", name);
        return NULL;
    }
    if (redis_conf_check(&conf->redis, err, errlen) != 0)
        return NULL;
    router_registry_t *rg = xcalloc(1, sizeof(*rg));
    rg->redis = redis_conf_connect(loop, &conf->redis, err, errlen);
    if (rg->redis == NULL) {
        free(rg);
        return NULL;
    }
    rg->conf = conf;
    snprintf(rg->entry.name, sizeof(rg->entry.name), "%s", name);
    rg->entry.epoch = epoch;
    redis_key_routers(rg->key, conf->redis.prefix);
    rg->failing = 1; /* the first write that works is logged */
    uv_timer_init(loop, &rg->timer);
    rg->timer.data = rg;
    /* Polls fast until Redis is connected, so the first write comes as soon as it can. */
    uv_timer_start(&rg->timer, on_tick, 0,
                   (uint64_t)(conf->registry_refresh_ms < 100 ? conf->registry_refresh_ms : 100));
    rg->open = 2;
    return rg;
}

static void on_part_closed(void *arg)
{
    router_registry_t *rg = arg;
    if (--rg->open > 0)
        return;
    void (*cb)(void *) = rg->close_cb;
    void *cb_arg = rg->close_arg;
    free(rg);
    if (cb != NULL)
        cb(cb_arg);
}

static void on_timer_closed(uv_handle_t *h)
{
    on_part_closed(h->data);
}

static void on_deleted(int status, const redis_reply_t *reply, void *arg)
{
    (void)status;
    (void)reply;
    router_registry_t *rg = arg;
    redis_close(rg->redis, on_part_closed, rg);
}

void router_registry_close(router_registry_t *rg, void (*cb)(void *arg), void *arg)
{
    rg->close_cb = cb;
    rg->close_arg = arg;
    uv_close((uv_handle_t *)&rg->timer, on_timer_closed);
    if (!redis_connected(rg->redis) ||
        redis_command(rg->redis, on_deleted, rg, "HDEL %s %s", rg->key, rg->entry.name) != 0)
        redis_close(rg->redis, on_part_closed, rg);
}
