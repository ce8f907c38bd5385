/* logic_registry.c - RenewOnline writes and the periodic reload of the comet registry. */
#include "logic_registry.h"

#include "buf.h"
#include "daemon.h"
#include "herald_err.h"
#include "log.h"
#include "logic_online.h"
#include "logic_params.h"
#include "proto.h"
#include "redis_keys.h"
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct logic_registry_load_s;

/* Owned by logic_server; freed by logic_registry_close. */
struct logic_registry_s {
    const logic_ctx_t *ctx;
    uv_timer_t timer;                   /* reload period */
    struct logic_registry_load_s *load; /* reload waiting on Redis, or NULL */
    void (*close_cb)(void *arg);
    void *close_arg;
};

/* A room id as RenewOnline carries it: what comets accept, and a string jansson takes (valid
 * UTF-8), since the room counts are kept in JSON objects. */
static int room_ok(const char *room)
{
    size_t len = room != NULL ? strlen(room) : 0;
    if (!proto_room_id_valid(room, len))
        return 0;
    json_t *probe = json_stringn(room, len);
    json_decref(probe);
    return probe != NULL;
}

/* The comet of a RenewOnline, validated; NULL when req is not valid. */
static logic_online_comet_t *renewed_comet(const Herald__RenewOnlineReq *req)
{
    registry_entry_t e;
    if (registry_entry_init(&e, req->server, req->rpc_addr, req->tcp_addr, req->ws_addr,
                            req->weight, req->conn_count, daemon_wall_ms()) != 0 ||
        registry_entry_set_tls(&e, req->tls_addr, req->wss_addr) != 0 || req->ip_count < 0)
        return NULL;
    e.ips = req->ip_count;
    logic_online_comet_t *c = logic_online_comet_new(&e);
    for (size_t i = 0; i < req->n_rooms; i++) {
        const Herald__RoomCount *rc = req->rooms[i];
        if (rc == NULL || !room_ok(rc->room_id) || rc->count < 0) {
            logic_online_comet_free(c);
            return NULL;
        }
        if (rc->count > 0) /* a duplicate room: the last count wins */
            json_object_set_new(c->rooms, rc->room_id, json_integer(rc->count));
    }
    return c;
}

typedef struct renew_ctx_s {
    void (*cb)(int status, void *arg);
    void *arg;
} renew_ctx_t;

static void on_renew_exec(int status, const redis_reply_t *reply, void *arg)
{
    renew_ctx_t c = *(renew_ctx_t *)arg;
    free(arg);
    /* EXEC answers an array of the queued replies; an error or nil means nothing was applied. */
    int ok = status == 0 && redis_reply_type(reply) == REDIS_REPLY_T_ARRAY;
    if (!ok)
        log_warn_rl("registry: RenewOnline write failed");
    c.cb(ok ? 0 : HERALD_EUNAVAIL, c.arg);
}

/* HSET online:<id> room count ...: one command, argv built from the comet's room map. */
static void send_rooms(redis_t *redis, const char *key, json_t *rooms)
{
    size_t n = json_object_size(rooms), argc = 0;
    const char **argv = xcalloc(2 + 2 * n, sizeof(*argv));
    size_t *lens = xcalloc(2 + 2 * n, sizeof(*lens));
    char(*nums)[24] = xcalloc(n + 1, sizeof(*nums));
    argv[argc++] = "HSET";
    argv[argc++] = key;
    const char *room;
    json_t *v;
    size_t i = 0;
    json_object_foreach(rooms, room, v)
    {
        snprintf(nums[i], sizeof(nums[i]), "%lld", (long long)json_integer_value(v));
        argv[argc++] = room;
        argv[argc++] = nums[i++];
    }
    for (i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    redis_command_argv(redis, NULL, NULL, (int)argc, argv, lens);
    free(nums);
    free(lens);
    free(argv);
}

int logic_registry_renew(logic_registry_t *r, const Herald__RenewOnlineReq *req,
                         void (*cb)(int status, void *arg), void *arg)
{
    logic_online_comet_t *c = renewed_comet(req);
    char *entry = NULL;
    if (c == NULL || registry_entry_encode(&c->e, &entry) != 0) {
        logic_online_comet_free(c);
        return HERALD_EINVAL;
    }
    const char *prefix = r->ctx->conf->redis.prefix;
    char comets[REDIS_KEY_MAX], online[REDIS_KEY_MAX];
    redis_key_comets(comets, prefix);
    redis_key_online(online, prefix, c->e.id);
    logic_online_renew(r->ctx->online, c); /* the aggregate's from here on: valid until we return */

    redis_t *redis = logic_ctx_redis(r->ctx);
    int rc = HERALD_EUNAVAIL;
    /* The connection cannot drop between these calls (nothing runs the loop meanwhile), so once
     * MULTI is queued the rest is too (on Redis Cluster the client sends them all to the master
     * of the {registry} slot, or fails them all: redis.h); the transaction keeps readers from
     * seeing the room hash deleted but not yet refilled. */
    if (redis != NULL && redis_command(redis, NULL, NULL, "MULTI") == 0) {
        redis_command(redis, NULL, NULL, "HSET %s %s %s", comets, c->e.id, entry);
        redis_command(redis, NULL, NULL, "DEL %s", online);
        if (json_object_size(c->rooms) > 0)
            send_rooms(redis, online, c->rooms);
        long long ttl_s = (r->ctx->conf->registry_ttl_ms + 999) / 1000;
        redis_command(redis, NULL, NULL, "EXPIRE %s %lld", online, ttl_s);
        renew_ctx_t *ctx = xmalloc(sizeof(*ctx));
        *ctx = (renew_ctx_t){cb, arg};
        redis_command(redis, on_renew_exec, ctx, "EXEC");
        rc = 0;
    }
    free(entry);
    return rc;
}

void logic_registry_remove(logic_registry_t *r, const char *server)
{
    logic_online_drop(r->ctx->online, server);
    redis_t *redis = logic_ctx_redis(r->ctx);
    if (redis == NULL)
        return;
    char comets[REDIS_KEY_MAX], online[REDIS_KEY_MAX];
    redis_key_comets(comets, r->ctx->conf->redis.prefix);
    redis_key_online(online, r->ctx->conf->redis.prefix, server);
    redis_command(redis, NULL, NULL, "HDEL %s %s", comets, server);
    redis_command(redis, NULL, NULL, "DEL %s", online);
}

/* ---------------------------------------------------------------------------------- reload */

typedef struct load_slot_s {
    struct logic_registry_load_s *load;
    size_t i;
} load_slot_t;

/* One reload in flight: HGETALL comets, then HGETALL online:<id> per live comet. Owned by itself:
 * freed when its last reply arrived, also after logic_registry_close abandoned it (r == NULL). */
typedef struct logic_registry_load_s {
    logic_registry_t *r;
    uint64_t since_gen;
    logic_online_comet_t **loaded;
    size_t n;
    load_slot_t *slots;
    size_t pending;
    int failed;
} load_t;

static void load_free(load_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        logic_online_comet_free(l->loaded[i]);
    free(l->loaded);
    free(l->slots);
    free(l);
}

static void load_finish(load_t *l)
{
    logic_registry_t *r = l->r;
    if (r != NULL) {
        r->load = NULL;
        if (!l->failed) {
            logic_online_replace(r->ctx->online, l->loaded, l->n, l->since_gen);
            l->loaded = NULL; /* taken over */
            l->n = 0;
        }
    }
    load_free(l);
}

static const char *reply_str(const redis_reply_t *r)
{
    size_t len;
    const char *s = r ? redis_reply_str(r, &len) : NULL;
    return s != NULL && strlen(s) == len ? s : NULL; /* no embedded NUL */
}

static void on_load_rooms(int status, const redis_reply_t *reply, void *arg)
{
    load_slot_t *slot = arg;
    load_t *l = slot->load;
    if (status != 0 || redis_reply_type(reply) != REDIS_REPLY_T_ARRAY) {
        l->failed = 1;
    } else if (l->r != NULL) {
        json_t *rooms = l->loaded[slot->i]->rooms;
        for (size_t i = 0; i + 1 < redis_reply_count(reply); i += 2) {
            const char *room = reply_str(redis_reply_element(reply, i));
            const char *count = reply_str(redis_reply_element(reply, i + 1));
            long long v;
            char err[64];
            /* A room jansson refuses (not UTF-8) is left out, as an unreadable count is. */
            if (room != NULL && count != NULL &&
                logic_params_int(count, "count", 1, INT32_MAX, &v, err, sizeof(err)) == 0 &&
                json_object_set_new(rooms, room, json_integer(v)) != 0)
                log_warn_rl("registry: an unreadable room of comet %s is ignored",
                            l->loaded[slot->i]->e.id);
        }
    }
    if (--l->pending == 0)
        load_finish(l);
}

/* Deletes a dead or unreadable entry and its room counts. */
static void delete_entry(redis_t *redis, const char *prefix, const char *id)
{
    char comets[REDIS_KEY_MAX], online[REDIS_KEY_MAX];
    redis_key_comets(comets, prefix);
    redis_key_online(online, prefix, id);
    redis_command(redis, NULL, NULL, "HDEL %s %s", comets, id);
    redis_command(redis, NULL, NULL, "DEL %s", online);
}

static void on_load_comets(int status, const redis_reply_t *reply, void *arg)
{
    load_t *l = arg;
    redis_t *redis = l->r ? logic_ctx_redis(l->r->ctx) : NULL;
    if (redis == NULL || status != 0 || redis_reply_type(reply) != REDIS_REPLY_T_ARRAY) {
        l->failed = 1;
        load_finish(l);
        return;
    }
    const logic_conf_t *conf = l->r->ctx->conf;
    int64_t now = daemon_wall_ms();
    size_t count = registry_reply_count(reply);
    l->loaded = xcalloc(count + 1, sizeof(*l->loaded));
    for (size_t i = 0; i < count; i++) {
        registry_entry_t e;
        int bad = registry_reply_entry(reply, i, &e) != 0;
        if (e.id[0] == '\0')
            continue; /* not even an id: nothing to delete it by */
        if (bad || registry_entry_stale(&e, now, conf->registry_ttl_ms)) {
            log_info("registry: comet %s removed (%s)", e.id,
                     bad ? "unreadable entry" : "no RenewOnline within registry.ttl");
            delete_entry(redis, conf->redis.prefix, e.id);
            continue;
        }
        l->loaded[l->n++] = logic_online_comet_new(&e);
    }
    l->slots = xcalloc(l->n + 1, sizeof(*l->slots));
    l->pending = 1; /* hold until every HGETALL is out */
    for (size_t i = 0; i < l->n; i++) {
        char online[REDIS_KEY_MAX];
        l->slots[i] = (load_slot_t){l, i};
        redis_key_online(online, conf->redis.prefix, l->loaded[i]->e.id);
        if (redis_command(redis, on_load_rooms, &l->slots[i], "HGETALL %s", online) == 0)
            l->pending++;
        else
            l->failed = 1;
    }
    if (--l->pending == 0)
        load_finish(l);
}

static void on_reload_tick(uv_timer_t *t)
{
    logic_registry_t *r = t->data;
    redis_t *redis = logic_ctx_redis(r->ctx);
    if (r->load != NULL || redis == NULL || !redis_connected(redis))
        return; /* the previous reload is still waiting, or Redis is away: try next period */
    load_t *l = xcalloc(1, sizeof(*l));
    l->r = r;
    l->since_gen = logic_online_gen(r->ctx->online);
    char comets[REDIS_KEY_MAX];
    redis_key_comets(comets, r->ctx->conf->redis.prefix);
    if (redis_command(redis, on_load_comets, l, "HGETALL %s", comets) != 0) {
        free(l);
        return;
    }
    r->load = l;
}

logic_registry_t *logic_registry_new(const logic_ctx_t *ctx)
{
    logic_registry_t *r = xcalloc(1, sizeof(*r));
    r->ctx = ctx;
    uv_timer_init(ctx->loop, &r->timer);
    r->timer.data = r;
    uv_timer_start(&r->timer, on_reload_tick, 0, (uint64_t)ctx->conf->registry_refresh_ms);
    return r;
}

static void on_timer_closed(uv_handle_t *h)
{
    logic_registry_t *r = h->data;
    void (*cb)(void *) = r->close_cb;
    void *arg = r->close_arg;
    free(r);
    if (cb != NULL)
        cb(arg);
}

void logic_registry_close(logic_registry_t *r, void (*cb)(void *arg), void *arg)
{
    r->close_cb = cb;
    r->close_arg = arg;
    if (r->load != NULL) {
        r->load->r = NULL;
        r->load = NULL;
    }
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}
