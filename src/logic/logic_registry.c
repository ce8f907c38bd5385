/* logic_registry.c - RenewOnline writes and the periodic reload of the comet registry. */
#include "logic_registry.h"

#include "buf.h"
#include "daemon.h"
#include "herald_err.h"
#include "log.h"
#include "logic_params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int logic_registry_id_ok(const char *id)
{
    size_t len = id ? strlen(id) : 0;
    return len <= LOGIC_REGISTRY_MAX_ID && logic_params_key_ok(id, len) == 0 ? 0 : HERALD_EINVAL;
}

static int renew_valid(const Herald__RenewOnlineReq *req)
{
    if (logic_registry_id_ok(req->server) != 0 || req->weight < 0 || req->conn_count < 0)
        return HERALD_EINVAL;
    const char *addrs[] = {req->rpc_addr, req->tcp_addr, req->ws_addr};
    for (size_t i = 0; i < 3; i++)
        if (addrs[i] == NULL || strlen(addrs[i]) > LOGIC_REGISTRY_MAX_ADDR)
            return HERALD_EINVAL;
    for (size_t i = 0; i < req->n_rooms; i++) {
        const Herald__RoomCount *rc = req->rooms[i];
        size_t len = rc && rc->room_id ? strlen(rc->room_id) : 0;
        if (len == 0 || len > LOGIC_PARAMS_MAX_ROOM || rc->count < 0)
            return HERALD_EINVAL;
    }
    return 0;
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

int logic_registry_renew(logic_online_t *o, const Herald__RenewOnlineReq *req,
                         void (*cb)(int status, void *arg), void *arg)
{
    if (renew_valid(req) != 0)
        return HERALD_EINVAL;
    logic_online_comet_t *c = xcalloc(1, sizeof(*c));
    c->id = xstrdup(req->server);
    c->rpc = xstrdup(req->rpc_addr);
    c->tcp = xstrdup(req->tcp_addr);
    c->ws = xstrdup(req->ws_addr);
    c->weight = req->weight;
    c->conns = req->conn_count;
    c->updated_ms = daemon_wall_ms();
    c->renew_gen = ++o->gen;
    c->rooms = json_object();
    for (size_t i = 0; i < req->n_rooms; i++)
        if (req->rooms[i]->count > 0) /* a duplicate room: the last count wins */
            json_object_set_new(c->rooms, req->rooms[i]->room_id,
                                json_integer(req->rooms[i]->count));
    logic_online_put(o, c);

    redis_t *redis = logic_server_redis(o->s);
    if (redis == NULL || redis_command(redis, NULL, NULL, "MULTI") != 0)
        return HERALD_EUNAVAIL;
    /* The connection cannot drop between these calls (nothing runs the loop meanwhile), so once
     * MULTI is queued the rest is too; the transaction keeps readers from seeing the room hash
     * deleted but not yet refilled. */
    char comets[LOGIC_KEY_MAX], online[LOGIC_KEY_MAX];
    logic_server_key(o->s, comets, "comets");
    logic_server_key(o->s, online, "online:%s", c->id);
    json_t *j = logic_online_comet_json(c);
    char *entry = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    redis_command(redis, NULL, NULL, "HSET %s %s %s", comets, c->id, entry);
    free(entry);
    redis_command(redis, NULL, NULL, "DEL %s", online);
    if (json_object_size(c->rooms) > 0)
        send_rooms(redis, online, c->rooms);
    long long ttl_s = (o->s->conf->registry_ttl_ms + 999) / 1000;
    redis_command(redis, NULL, NULL, "EXPIRE %s %lld", online, ttl_s);
    renew_ctx_t *ctx = xmalloc(sizeof(*ctx));
    *ctx = (renew_ctx_t){cb, arg};
    redis_command(redis, on_renew_exec, ctx, "EXEC");
    return 0;
}

void logic_registry_remove(logic_online_t *o, const char *server)
{
    logic_online_drop(o, server);
    redis_t *redis = logic_server_redis(o->s);
    if (redis == NULL)
        return;
    char comets[LOGIC_KEY_MAX], online[LOGIC_KEY_MAX];
    logic_server_key(o->s, comets, "comets");
    logic_server_key(o->s, online, "online:%s", server);
    redis_command(redis, NULL, NULL, "HDEL %s %s", comets, server);
    redis_command(redis, NULL, NULL, "DEL %s", online);
}

/* ---------------------------------------------------------------------------------- reload */

typedef struct load_slot_s {
    struct logic_registry_load_s *load;
    size_t i;
} load_slot_t;

/* One reload in flight: HGETALL comets, then HGETALL online:<id> per live comet. Owned by itself:
 * freed when its last reply arrived, also after logic_online_close abandoned it (o == NULL). */
typedef struct logic_registry_load_s {
    logic_online_t *o;
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
    logic_online_t *o = l->o;
    if (o != NULL) {
        o->load = NULL;
        if (!l->failed) {
            logic_online_replace(o, l->loaded, l->n, l->since_gen);
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
    } else if (l->o != NULL) {
        json_t *rooms = l->loaded[slot->i]->rooms;
        for (size_t i = 0; i + 1 < redis_reply_count(reply); i += 2) {
            const char *room = reply_str(redis_reply_element(reply, i));
            const char *count = reply_str(redis_reply_element(reply, i + 1));
            long long v;
            char err[64];
            if (room != NULL && count != NULL &&
                logic_params_int(count, "count", 1, INT32_MAX, &v, err, sizeof(err)) == 0)
                json_object_set_new(rooms, room, json_integer(v));
        }
    }
    if (--l->pending == 0)
        load_finish(l);
}

/* Parses one registry entry; NULL when it is not a JSON object. */
static logic_online_comet_t *comet_parse(const char *id, const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    logic_online_comet_t *c = xcalloc(1, sizeof(*c));
    const char *s;
    c->id = xstrdup(id);
    c->rpc = xstrdup((s = json_string_value(json_object_get(j, "rpc"))) ? s : "");
    c->tcp = xstrdup((s = json_string_value(json_object_get(j, "tcp"))) ? s : "");
    c->ws = xstrdup((s = json_string_value(json_object_get(j, "ws"))) ? s : "");
    c->weight = json_integer_value(json_object_get(j, "weight"));
    c->conns = json_integer_value(json_object_get(j, "conns"));
    c->updated_ms = json_integer_value(json_object_get(j, "updated_ms"));
    c->rooms = json_object();
    json_decref(j);
    return c;
}

static void on_load_comets(int status, const redis_reply_t *reply, void *arg)
{
    load_t *l = arg;
    redis_t *redis = l->o ? logic_server_redis(l->o->s) : NULL;
    if (redis == NULL || status != 0 || redis_reply_type(reply) != REDIS_REPLY_T_ARRAY) {
        l->failed = 1;
        load_finish(l);
        return;
    }
    logic_server_t *s = l->o->s;
    char comets[LOGIC_KEY_MAX], online[LOGIC_KEY_MAX];
    logic_server_key(s, comets, "comets");
    int64_t oldest = daemon_wall_ms() - s->conf->registry_ttl_ms;
    size_t pairs = redis_reply_count(reply) / 2;
    l->loaded = xcalloc(pairs + 1, sizeof(*l->loaded));
    for (size_t i = 0; i < pairs; i++) {
        const char *id = reply_str(redis_reply_element(reply, 2 * i));
        const char *text = reply_str(redis_reply_element(reply, 2 * i + 1));
        if (id == NULL || logic_registry_id_ok(id) != 0)
            continue;
        logic_online_comet_t *c = text ? comet_parse(id, text) : NULL;
        if (c == NULL || c->updated_ms < oldest) {
            log_info("registry: comet %s removed (%s)", id,
                     c ? "no RenewOnline within registry.ttl" : "unreadable entry");
            logic_server_key(s, online, "online:%s", id);
            redis_command(redis, NULL, NULL, "HDEL %s %s", comets, id);
            redis_command(redis, NULL, NULL, "DEL %s", online);
            logic_online_comet_free(c);
            continue;
        }
        l->loaded[l->n++] = c;
    }
    l->slots = xcalloc(l->n + 1, sizeof(*l->slots));
    l->pending = 1; /* hold until every HGETALL is out */
    for (size_t i = 0; i < l->n; i++) {
        l->slots[i] = (load_slot_t){l, i};
        logic_server_key(s, online, "online:%s", l->loaded[i]->id);
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
    logic_online_t *o = t->data;
    redis_t *redis = logic_server_redis(o->s);
    if (o->load != NULL || redis == NULL || !redis_connected(redis))
        return; /* the previous reload is still waiting, or Redis is away: try next period */
    load_t *l = xcalloc(1, sizeof(*l));
    l->o = o;
    l->since_gen = o->gen;
    char comets[LOGIC_KEY_MAX];
    logic_server_key(o->s, comets, "comets");
    if (redis_command(redis, on_load_comets, l, "HGETALL %s", comets) != 0) {
        free(l);
        return;
    }
    o->load = l;
}

void logic_registry_start(logic_online_t *o)
{
    uv_timer_start(&o->timer, on_reload_tick, 0, (uint64_t)o->s->conf->registry_refresh_ms);
}

void logic_registry_stop(logic_online_t *o)
{
    uv_timer_stop(&o->timer);
    if (o->load != NULL) {
        o->load->o = NULL;
        o->load = NULL;
    }
}
