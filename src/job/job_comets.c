/* job_comets.c - registry refresh, RPC clients and room polling of herald-job (job_comets.h). */
#include "job_comets.h"

#include "buf.h"
#include "daemon.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "rpc_methods.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOB_COMET_ID_MAX 128
#define JOB_ROOMS_TICK_MS 100
#define JOB_REGISTRY_RETRY_MS 100

/* Value stored for each member of a room set: the set only asks "is it there". */

static void on_part_closed(job_comets_t *cs)
{
    if (--cs->open == 0 && cs->close_cb != NULL)
        cs->close_cb(cs->close_arg);
}

static void on_client_closed(void *arg)
{
    on_part_closed(arg);
}

/* A comet's room set: the items are the room names themselves, copied from a Rooms reply. */
static const char *room_name_key(const void *item)
{
    return item;
}

static strmap_t *room_set_new(const Herald__RoomsReply *reply)
{
    strmap_t *set = xmalloc(sizeof(*set));
    strmap_init(set, room_name_key);
    for (size_t i = 0; i < reply->n_rooms; i++)
        if (reply->rooms[i] != NULL)
            free(strmap_put(set, xstrdup(reply->rooms[i]))); /* a repeated name replaces */
    return set;
}

static void room_set_free(strmap_t *set)
{
    if (set == NULL)
        return;
    uint32_t pos = 0;
    void *name;
    while ((name = strmap_next(set, &pos)) != NULL)
        free(name);
    strmap_deinit(set);
    free(set);
}

void job_comet_ref(job_comet_t *c)
{
    c->refs++;
}

void job_comet_unref(job_comet_t *c)
{
    if (--c->refs > 0)
        return;
    /* every batch is handed back before its call drops its reference, so none is left here */
    job_room_free(c->batches);
    room_set_free(c->rooms);
    free(c->id);
    free(c->rpc_addr);
    free(c);
}

static job_comet_t *comet_add(job_comets_t *cs, const char *id, const char *rpc_addr)
{
    char *host = NULL;
    int port;
    if (conf_parse_addr(rpc_addr, &host, &port) < 0) {
        log_warn_rl("registry: comet %s has a bad rpc address '%s'", id, rpc_addr);
        return NULL;
    }
    job_comet_t *c = xcalloc(1, sizeof(*c));
    char name[JOB_COMET_ID_MAX + 16];
    snprintf(name, sizeof(name), "comet %s", id);
    c->id = xstrdup(id);
    c->rpc_addr = xstrdup(rpc_addr);
    c->client = rpc_client_new(cs->loop, name, host, port);
    c->batches = job_room_new((size_t)cs->conf->room_batch_max, (size_t)cs->conf->room_batch_bytes);
    c->refs = 1; /* the registry's */
    c->owner = cs;
    free(host);
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? cs->cap * 2 : 8;
        cs->live = xrealloc(cs->live, cs->cap * sizeof(*cs->live));
    }
    cs->live[cs->n++] = c;
    cs->open++;
    log_info("comet %s added (rpc %s)", id, rpc_addr);
    return c;
}

/* Takes comet i out of the live set and closes its client. Its calls in flight fail with
 * UV_ECANCELED later, from the client's close callback (never inside rpc_client_close); each
 * holds its own reference, so dropping the registry's here is safe. */
static void comet_remove_at(job_comets_t *cs, size_t i)
{
    job_comet_t *c = cs->live[i];
    cs->live[i] = cs->live[--cs->n];
    c->gone = 1;
    rpc_client_t *client = c->client;
    c->client = NULL;
    rpc_client_close(client, on_client_closed, cs);
    log_info("comet %s removed", c->id);
    job_comet_unref(c); /* the registry's reference */
}

size_t job_comets_count(const job_comets_t *cs)
{
    return cs->n;
}

job_comet_t *job_comets_at(const job_comets_t *cs, size_t i)
{
    return cs->live[i];
}

/* Index of comet `id` in the live set, or cs->n. A linear scan: tens to hundreds of comets, and
 * the lookup is per message, far cheaper than the RPC it leads to. */
static size_t comet_index(const job_comets_t *cs, const char *id)
{
    size_t i;
    for (i = 0; i < cs->n; i++)
        if (strcmp(cs->live[i]->id, id) == 0)
            break;
    return i;
}

job_comet_t *job_comets_find(const job_comets_t *cs, const char *id)
{
    size_t i = comet_index(cs, id);
    return i < cs->n ? cs->live[i] : NULL;
}

int job_comet_has_room(const job_comet_t *c, const char *room)
{
    return c->rooms != NULL && strmap_get(c->rooms, room, strlen(room)) != NULL;
}

int job_comets_parse_entry(const char *json, size_t len, int64_t now_wall_ms, int64_t ttl_ms,
                           char **rpc_addr)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    int rc = HERALD_EINVAL;
    json_t *rpc = json_is_object(root) ? json_object_get(root, "rpc") : NULL;
    json_t *updated = json_is_object(root) ? json_object_get(root, "updated_ms") : NULL;
    char *host = NULL;
    int port;
    if (json_is_string(rpc) && conf_parse_addr(json_string_value(rpc), &host, &port) == 0 &&
        port > 0) {
        if (json_is_integer(updated) && now_wall_ms - json_integer_value(updated) <= ttl_ms) {
            *rpc_addr = xstrdup(json_string_value(rpc));
            rc = 0;
        } else {
            rc = HERALD_ENOTFOUND;
        }
    }
    free(host);
    json_decref(root);
    return rc;
}

/* Applies one registry entry (field = comet id, value = JSON) to the current generation. */
static void registry_apply(job_comets_t *cs, const redis_reply_t *field, const redis_reply_t *value,
                           int64_t now_wall)
{
    size_t id_len, value_len;
    const char *id_raw = redis_reply_str(field, &id_len);
    const char *json = redis_reply_str(value, &value_len);
    if (id_raw == NULL || json == NULL || id_len == 0 || id_len > JOB_COMET_ID_MAX ||
        memchr(id_raw, '\0', id_len) != NULL) {
        log_warn_rl("registry: an entry with a bad comet id is ignored");
        return;
    }
    char *id = xstrndup(id_raw, id_len);
    char *rpc_addr = NULL;
    int rc = job_comets_parse_entry(json, value_len, now_wall, cs->conf->comet_ttl_ms, &rpc_addr);
    if (rc == HERALD_EINVAL)
        log_warn_rl("registry: comet %s: malformed entry ignored", id);
    if (rc == 0) {
        size_t i = comet_index(cs, id);
        job_comet_t *c = i < cs->n ? cs->live[i] : NULL;
        if (c != NULL && strcmp(c->rpc_addr, rpc_addr) != 0) {
            comet_remove_at(cs, i); /* moved: a new client for the new address */
            c = NULL;
        }
        if (c == NULL)
            c = comet_add(cs, id, rpc_addr);
        if (c != NULL)
            c->seen = cs->generation;
    }
    free(rpc_addr);
    free(id);
}

static void on_refresh_timer(uv_timer_t *t);

/* Until the registry was read once (herald-job holds its consumer until then), a failed read is
 * tried again after JOB_REGISTRY_RETRY_MS instead of a whole comet.refresh. */
static void registry_retry_soon(job_comets_t *cs)
{
    uint64_t every = (uint64_t)cs->conf->comet_refresh_ms;
    if (!cs->registry_read && every > JOB_REGISTRY_RETRY_MS)
        uv_timer_start(&cs->refresh_timer, on_refresh_timer, JOB_REGISTRY_RETRY_MS, every);
}

/* Runs the ready callback once the registry was read and every comet answered Rooms, or the
 * wait for the slow ones is over. */
static void check_ready(job_comets_t *cs)
{
    if (cs->ready || !cs->registry_read || cs->closing)
        return;
    int all = 1;
    for (size_t i = 0; i < cs->n && all; i++)
        all = cs->live[i]->rooms != NULL;
    if (!all && uv_now(cs->loop) - cs->first_read_ms < (uint64_t)cs->conf->comet_rpc_timeout_ms)
        return;
    cs->ready = 1;
    log_info("%zu comets known", cs->n);
    if (cs->ready_cb != NULL)
        cs->ready_cb(cs->ready_arg);
}

static void on_registry(int status, const redis_reply_t *reply, void *arg)
{
    job_comets_t *cs = arg;
    cs->refreshing = 0;
    if (cs->closing)
        return;
    if (status != 0 || redis_reply_type(reply) != REDIS_REPLY_T_ARRAY) {
        log_warn_rl("registry: cannot read %s (%s): keeping %zu comets", cs->registry_key,
                    status != 0 ? herald_strerror(status) : "not a hash", cs->n);
        registry_retry_soon(cs);
        return;
    }
    int64_t now_wall = daemon_wall_ms();
    size_t count = redis_reply_count(reply);
    cs->generation++;
    for (size_t i = 0; i + 1 < count; i += 2)
        registry_apply(cs, redis_reply_element(reply, i), redis_reply_element(reply, i + 1),
                       now_wall);
    for (size_t i = 0; i < cs->n;) {
        if (cs->live[i]->seen != cs->generation)
            comet_remove_at(cs, i); /* moves the last comet into i */
        else
            i++;
    }
    if (!cs->registry_read) {
        cs->registry_read = 1;
        cs->first_read_ms = uv_now(cs->loop);
    }
    check_ready(cs);
}

static void on_refresh_timer(uv_timer_t *t)
{
    job_comets_t *cs = t->data;
    if (cs->refreshing)
        return;
    if (redis_command(cs->redis, on_registry, cs, "HGETALL %s", cs->registry_key) == 0) {
        cs->refreshing = 1;
        return;
    }
    /* at start-up the Redis connection is usually still being made: no warning for that */
    if (cs->registry_read)
        log_warn_rl("registry: Redis not connected: keeping %zu comets", cs->n);
    registry_retry_soon(cs);
}

static void on_rooms(int status, const ProtobufCMessage *msg, void *arg)
{
    job_comet_t *c = arg;
    c->rooms_polling = 0;
    if (!c->gone) {
        c->rooms_due = uv_now(c->owner->loop) + (uint64_t)c->owner->conf->room_refresh_ms;
        if (status == 0) {
            const Herald__RoomsReply *reply = (const Herald__RoomsReply *)msg;
            room_set_free(c->rooms);
            c->rooms = room_set_new(reply);
            check_ready(c->owner);
        } else {
            log_warn_rl("comet %s: Rooms failed: %s", c->id, herald_strerror(status));
        }
    }
    job_comet_unref(c);
}

/* Ticks every JOB_ROOMS_TICK_MS (or room.refresh when shorter) and polls the comets that are due:
 * a fine tick so that a new comet is asked as soon as it is connected, and cheap (a pass over
 * tens of comets). */
static void on_rooms_timer(uv_timer_t *t)
{
    job_comets_t *cs = t->data;
    Herald__RoomsReq req = HERALD__ROOMS_REQ__INIT;
    uint64_t now = uv_now(cs->loop);
    for (size_t i = 0; i < cs->n; i++) {
        job_comet_t *c = cs->live[i];
        if (c->rooms_polling || now < c->rooms_due || !rpc_client_connected(c->client))
            continue;
        int rc = rpc_client_call(c->client, RPC_COMET_ROOMS, (const ProtobufCMessage *)&req,
                                 &herald__rooms_reply__descriptor,
                                 (uint32_t)cs->conf->comet_rpc_timeout_ms, on_rooms, c);
        if (rc == 0) {
            c->rooms_polling = 1;
            job_comet_ref(c);
        }
    }
    check_ready(cs);
}

void job_comets_init(job_comets_t *cs, uv_loop_t *loop, redis_t *redis, const job_conf_t *conf)
{
    memset(cs, 0, sizeof(*cs));
    cs->loop = loop;
    cs->redis = redis;
    cs->conf = conf;
    size_t len = strlen(conf->redis_prefix) + sizeof("comets");
    cs->registry_key = xmalloc(len);
    snprintf(cs->registry_key, len, "%scomets", conf->redis_prefix);
    uv_timer_init(loop, &cs->refresh_timer);
    uv_timer_init(loop, &cs->rooms_timer);
    cs->refresh_timer.data = cs;
    cs->rooms_timer.data = cs;
    cs->open = 2;
}

void job_comets_start(job_comets_t *cs, void (*ready_cb)(void *arg), void *arg)
{
    uint64_t tick = (uint64_t)cs->conf->room_refresh_ms;
    if (tick > JOB_ROOMS_TICK_MS)
        tick = JOB_ROOMS_TICK_MS;
    cs->ready_cb = ready_cb;
    cs->ready_arg = arg;
    uv_timer_start(&cs->refresh_timer, on_refresh_timer, 0, (uint64_t)cs->conf->comet_refresh_ms);
    uv_timer_start(&cs->rooms_timer, on_rooms_timer, tick, tick);
}

static void on_timer_closed(uv_handle_t *h)
{
    on_part_closed(h->data);
}

void job_comets_close(job_comets_t *cs, void (*cb)(void *arg), void *arg)
{
    cs->closing = 1;
    cs->close_cb = cb;
    cs->close_arg = arg;
    /* one extra count so a client closing synchronously cannot finish before every part began */
    cs->open++;
    while (cs->n > 0)
        comet_remove_at(cs, cs->n - 1);
    free(cs->live);
    cs->live = NULL;
    cs->cap = 0;
    free(cs->registry_key);
    cs->registry_key = NULL;
    uv_close((uv_handle_t *)&cs->refresh_timer, on_timer_closed);
    uv_close((uv_handle_t *)&cs->rooms_timer, on_timer_closed);
    on_part_closed(cs);
}
