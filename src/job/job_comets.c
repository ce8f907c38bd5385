/* job_comets.c - registry refresh, the comet pool and room polling of herald-job
 * (job_comets.h). */
#include "job_comets.h"

#include "addr.h"
#include "buf.h"
#include "daemon.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "rpc_methods.h"

#include <stdlib.h>
#include <string.h>

#define JOB_ROOMS_TICK_MS 100
#define JOB_REGISTRY_RETRY_MS 100

static void on_part_closed(job_comets_t *cs)
{
    if (--cs->open == 0 && cs->close_cb != NULL)
        cs->close_cb(cs->close_arg);
}

/* One room of a comet's set. `joined` is the epoch of the last JOIN announcement of the room by
 * this comet (0: only a census listed it). */
typedef struct comet_room_s {
    uint64_t joined;
    char name[];
} comet_room_t;

static const char *comet_room_key(const void *item)
{
    return ((const comet_room_t *)item)->name;
}

static strmap_t *room_set_new(void)
{
    strmap_t *set = xmalloc(sizeof(*set));
    strmap_init(set, comet_room_key);
    return set;
}

/* Adds room to set (or finds it there) and returns it. */
static comet_room_t *room_set_add(strmap_t *set, const char *room)
{
    size_t len = strlen(room);
    comet_room_t *e = strmap_get(set, room, len);
    if (e != NULL)
        return e;
    e = xmalloc(sizeof(*e) + len + 1);
    e->joined = 0;
    memcpy(e->name, room, len + 1);
    strmap_put(set, e);
    return e;
}

static void room_set_free(strmap_t *set)
{
    if (set == NULL)
        return;
    uint32_t pos = 0;
    void *e;
    while ((e = strmap_next(set, &pos)) != NULL)
        free(e);
    strmap_deinit(set);
    free(set);
}

/* The set a census answer makes: the rooms it lists, and the rooms of the old set announced by
 * a JOIN after the census was sent (epoch `sent`), which the answer may predate. Frees old. */
static strmap_t *room_set_census(strmap_t *old, const Herald__RoomsReply *reply, uint64_t sent)
{
    strmap_t *set = room_set_new();
    for (size_t i = 0; i < reply->n_rooms; i++)
        if (reply->rooms[i] != NULL)
            room_set_add(set, reply->rooms[i]);
    uint32_t pos = 0;
    const comet_room_t *e;
    while (old != NULL && (e = strmap_next(old, &pos)) != NULL)
        if (e->joined > sent)
            room_set_add(set, e->name)->joined = e->joined;
    room_set_free(old);
    return set;
}

/* The pool's peer_free: the peer's last reference is gone. Every batch was handed back before
 * its call dropped its reference, so none is left here. */
static void comet_free(void *arg, void *data)
{
    (void)arg;
    job_comet_t *c = data;
    job_room_free(c->batches);
    room_set_free(c->rooms);
    free(c);
}

static const rpc_pool_ops_t comets_pool_ops = {NULL, comet_free};

const char *job_comet_id(const job_comet_t *c)
{
    return rpc_peer_id(c->peer);
}

int job_comet_gone(const job_comet_t *c)
{
    return rpc_peer_gone(c->peer);
}

void job_comet_ref(job_comet_t *c)
{
    rpc_peer_ref(c->peer);
}

void job_comet_unref(job_comet_t *c)
{
    rpc_peer_unref(c->peer);
}

static job_comet_t *comet_add(job_comets_t *cs, const char *id, const char *rpc_addr,
                              int provisional)
{
    rpc_peer_t *peer = rpc_pool_put(cs->pool, id, rpc_addr);
    if (peer == NULL)
        return NULL; /* job_comets_entry_check vetted the address: only closing gets here */
    job_comet_t *c = xcalloc(1, sizeof(*c));
    c->peer = peer;
    c->batches = job_room_new((size_t)cs->conf->room_batch_max, (size_t)cs->conf->room_batch_bytes);
    c->owner = cs;
    rpc_peer_set_data(peer, c);
    if (provisional)
        c->provisional_until = uv_now(cs->loop) + (uint64_t)cs->conf->comet_ttl_ms;
    log_info("comet %s added (rpc %s)%s", id, rpc_addr,
             provisional ? ", provisionally: announced a room before the registry listed it" : "");
    return c;
}

/* Takes comet c out of the pool, which closes its client. Its calls in flight fail with
 * UV_ECANCELED later, from the client's close callback (never inside this call); each holds its
 * own reference, so the pool dropping its own here is safe. */
static void comet_remove(job_comets_t *cs, job_comet_t *c)
{
    log_info("comet %s removed", job_comet_id(c));
    rpc_pool_remove(cs->pool, job_comet_id(c));
}

size_t job_comets_count(const job_comets_t *cs)
{
    return rpc_pool_count(cs->pool);
}

job_comet_t *job_comets_at(const job_comets_t *cs, size_t i)
{
    return rpc_peer_data(rpc_pool_at(cs->pool, i));
}

job_comet_t *job_comets_find(const job_comets_t *cs, const char *id)
{
    rpc_peer_t *peer = rpc_pool_find(cs->pool, id);
    return peer != NULL ? rpc_peer_data(peer) : NULL;
}

int job_comets_ready(const job_comets_t *cs)
{
    return cs->ready;
}

void job_comets_health(const job_comets_t *cs, json_t *out)
{
    size_t n = job_comets_count(cs), connected = 0;
    for (size_t i = 0; i < n; i++)
        connected += rpc_peer_connected(rpc_pool_at(cs->pool, i)) != 0;
    json_object_set_new(out, "comets", json_integer((json_int_t)n));
    json_object_set_new(out, "comets_connected", json_integer((json_int_t)connected));
}

void job_comets_prometheus(const job_comets_t *cs, buf_t *out)
{
    size_t n = job_comets_count(cs), connected = 0;
    for (size_t i = 0; i < n; i++)
        connected += rpc_peer_connected(rpc_pool_at(cs->pool, i)) != 0;
    metrics_gauge(out, "herald_job_comets", "Comets known from the registry", (double)n);
    metrics_gauge(out, "herald_job_comets_connected", "Comets whose RPC connection is up",
                  (double)connected);
}

int job_comet_has_room(const job_comet_t *c, const char *room)
{
    return c->rooms != NULL && strmap_get(c->rooms, room, strlen(room)) != NULL;
}

int job_comet_connecting(job_comet_t *c)
{
    if (rpc_peer_connected(c->peer))
        c->was_connected = 1;
    return !c->was_connected && !job_comet_gone(c);
}

int job_comets_join(job_comets_t *cs, const char *id, const char *rpc_addr, const char *room)
{
    if (cs->closing)
        return UV_ECANCELED;
    job_comet_t *c = job_comets_find(cs, id);
    if (c == NULL) {
        if (rpc_addr == NULL || addr_port_of(rpc_addr) <= 0)
            return HERALD_ENOTFOUND; /* no address to reach it by: the registry will tell */
        c = comet_add(cs, id, rpc_addr, 1);
        if (c == NULL)
            return HERALD_EINVAL;
        c->seen = cs->generation;
    }
    /* The JOIN shows the comet is up: a client that lost it (a comet restarted at the same
     * address) dials again now instead of at the end of its backoff, and the pushes behind the
     * JOIN wait for that connection rather than drop. */
    if (!rpc_peer_connected(c->peer)) {
        c->was_connected = 0;
        rpc_peer_redial(c->peer);
    }
    if (c->rooms == NULL)
        c->rooms = room_set_new(); /* its census will add the rest */
    room_set_add(c->rooms, room)->joined = ++cs->epoch;
    return 0;
}

int job_comets_entry_check(const registry_entry_t *e, int64_t now_wall_ms, int64_t ttl_ms)
{
    if (addr_port_of(e->rpc) <= 0)
        return HERALD_EINVAL;
    return registry_entry_stale(e, now_wall_ms, ttl_ms) ? HERALD_ENOTFOUND : 0;
}

/* Applies entry i of the registry reply to the current generation. */
static void registry_apply(job_comets_t *cs, const redis_reply_t *reply, size_t i, int64_t now_wall)
{
    registry_entry_t e;
    int rc = registry_reply_entry(reply, i, &e);
    if (rc == 0)
        rc = job_comets_entry_check(&e, now_wall, cs->conf->comet_ttl_ms);
    if (rc == HERALD_EINVAL) {
        if (e.id[0] != '\0')
            log_warn_rl("registry: comet %s: malformed entry ignored", e.id);
        else
            log_warn_rl("registry: an entry with a bad comet id is ignored");
    }
    if (rc != 0)
        return;
    job_comet_t *c = job_comets_find(cs, e.id);
    if (c != NULL && strcmp(rpc_peer_addr(c->peer), e.rpc) != 0) {
        comet_remove(cs, c); /* moved: a new comet at the new address, its rooms unknown */
        c = NULL;
    }
    if (c == NULL)
        c = comet_add(cs, e.id, e.rpc, 0);
    if (c != NULL) {
        c->seen = cs->generation;
        c->provisional_until = 0; /* the registry confirms it */
    }
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
    for (size_t i = 0; i < job_comets_count(cs) && all; i++)
        all = job_comets_at(cs, i)->rooms != NULL;
    if (!all && uv_now(cs->loop) - cs->first_read_ms < (uint64_t)cs->conf->comet_rpc_timeout_ms)
        return;
    cs->ready = 1;
    log_info("%zu comets known", job_comets_count(cs));
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
                    status != 0 ? herald_strerror(status) : "not a hash", job_comets_count(cs));
        registry_retry_soon(cs);
        return;
    }
    int64_t now_wall = daemon_wall_ms();
    uint64_t now = uv_now(cs->loop);
    cs->generation++;
    for (size_t i = 0; i < registry_reply_count(reply); i++)
        registry_apply(cs, reply, i, now_wall);
    for (size_t i = 0; i < job_comets_count(cs);) {
        job_comet_t *c = job_comets_at(cs, i);
        /* a comet that announced a room before it registered is kept for comet.ttl */
        if (c->seen != cs->generation && now >= c->provisional_until)
            comet_remove(cs, c); /* moves another comet into i */
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
        log_warn_rl("registry: Redis not connected: keeping %zu comets", job_comets_count(cs));
    registry_retry_soon(cs);
}

static void on_rooms(int status, const ProtobufCMessage *msg, void *arg)
{
    job_comet_t *c = arg;
    c->rooms_polling = 0;
    if (!job_comet_gone(c)) {
        c->rooms_due = uv_now(c->owner->loop) + (uint64_t)c->owner->conf->room_refresh_ms;
        if (status == 0) {
            const Herald__RoomsReply *reply = (const Herald__RoomsReply *)msg;
            c->rooms = room_set_census(c->rooms, reply, c->rooms_sent);
            check_ready(c->owner);
        } else {
            log_warn_rl("comet %s: Rooms failed: %s", job_comet_id(c), herald_strerror(status));
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
    for (size_t i = 0; i < job_comets_count(cs); i++) {
        job_comet_t *c = job_comets_at(cs, i);
        if (c->rooms_polling || now < c->rooms_due || !rpc_peer_connected(c->peer))
            continue;
        c->was_connected = 1;
        c->rooms_sent = ++cs->epoch;
        int rc = rpc_peer_call(c->peer, RPC_COMET_ROOMS, (const ProtobufCMessage *)&req,
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
    redis_key_comets(cs->registry_key, conf->redis.prefix);
    cs->pool = rpc_pool_new(loop, "comet", &comets_pool_ops, cs);
    uv_timer_init(loop, &cs->refresh_timer);
    uv_timer_init(loop, &cs->rooms_timer);
    cs->refresh_timer.data = cs;
    cs->rooms_timer.data = cs;
    cs->open = 3;
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

static void on_pool_closed(void *arg)
{
    on_part_closed(arg);
}

void job_comets_close(job_comets_t *cs, void (*cb)(void *arg), void *arg)
{
    cs->closing = 1;
    cs->close_cb = cb;
    cs->close_arg = arg;
    if (job_comets_count(cs) > 0)
        log_info("closing: %zu comets removed", job_comets_count(cs));
    rpc_pool_close(cs->pool, on_pool_closed, cs);
    uv_close((uv_handle_t *)&cs->refresh_timer, on_timer_closed);
    uv_close((uv_handle_t *)&cs->rooms_timer, on_timer_closed);
}
