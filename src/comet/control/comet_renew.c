/* comet_renew.c - see comet_renew.h. */
#include "comet_renew.h"

#include "buf.h"
#include "comet_census.h"
#include "comet_online.h"
#include "comet_session.h"
#include "herald.pb-c.h"
#include "herald_assert.h"
#include "herald_err.h"
#include "log.h"
#include "rpc_methods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct renew_publish_s {
    comet_task_t task;
    comet_online_t *online;
} renew_publish_t;

static void on_timer(uv_timer_t *t);

static void renew_schedule(comet_renew_t *r, uint64_t ms)
{
    if (!r->stopped)
        uv_timer_start(&r->timer, on_timer, ms, 0);
}

static void on_publish(comet_task_t *t, void *owner)
{
    renew_publish_t *p = (renew_publish_t *)t;
    comet_session_set_online(owner, p->online);
    free(p);
}

static void publish(comet_renew_t *r, const Herald__RenewOnlineReply *reply)
{
    comet_online_t *o = comet_online_new(reply->rooms, reply->n_rooms);
    for (int i = 0; i < r->nworkers; i++) {
        renew_publish_t *p = xmalloc(sizeof *p);
        p->task.run = on_publish;
        p->online = comet_online_ref(o);
        comet_worker_post(&r->workers[i], &p->task);
    }
    comet_online_unref(o);
}

static void renew_failed(comet_renew_t *r, int err)
{
    if (!r->failing)
        log_warn("RenewOnline failed: %s (retrying)", herald_strerror(err));
    r->failing = 1;
    renew_schedule(r, COMET_RENEW_ERROR_RETRY_MS);
}

static void on_reply(int status, const ProtobufCMessage *msg, void *arg)
{
    comet_renew_t *r = arg;
    r->in_flight = 0;
    if (r->stopped)
        return;
    if (status != 0) {
        renew_failed(r, status);
        return;
    }
    if (r->failing || r->renewals == 0)
        log_info("registered with logic as %s", r->conf->server_id);
    r->failing = 0;
    r->renewals++;
    const Herald__RenewOnlineReply *reply = (const Herald__RenewOnlineReply *)msg;
    publish(r, reply);
    for (size_t i = 0; i < reply->n_routers; i++)
        if (reply->routers[i] != NULL)
            comet_replay_request(r->replay, reply->routers[i]->router, reply->routers[i]->epoch);
    renew_schedule(r, r->again ? 0 : (uint64_t)r->conf->renew_online_interval);
    r->again = 0;
}

static void on_census(const comet_census_t *c, void *arg)
{
    comet_renew_t *r = arg;
    if (r->stopped) {
        r->in_flight = 0;
        return;
    }
    size_t n = comet_census_count(c);
    r->rooms = n;
    Herald__RoomCount *counts = xcalloc(n ? n : 1, sizeof *counts);
    Herald__RoomCount **ptrs = xcalloc(n ? n : 1, sizeof *ptrs);
    uint32_t pos = 0;
    int64_t count;
    const char *id;
    size_t i = 0;
    while (i < n && (id = comet_census_next(c, &pos, &count)) != NULL) {
        herald__room_count__init(&counts[i]);
        counts[i].room_id = (char *)id;
        counts[i].count = (int32_t)count;
        ptrs[i] = &counts[i];
        i++;
    }
    int64_t conns = 0;
    for (int w = 0; w < r->nworkers; w++)
        conns += (int64_t)COMET_STAT_GET(&r->workers[w].stats, conns);
    Herald__RenewOnlineReq req = HERALD__RENEW_ONLINE_REQ__INIT;
    req.server = r->conf->server_id;
    req.rpc_addr = r->rpc_addr;
    req.tcp_addr = r->tcp_addr;
    req.ws_addr = r->ws_addr;
    req.tls_addr = r->tls_addr;
    req.wss_addr = r->wss_addr;
    req.weight = r->draining ? 0 : (int32_t)r->conf->weight;
    req.conn_count = conns;
    req.ip_count = (int64_t)comet_ips_count(r->ips);
    req.n_rooms = i;
    req.rooms = ptrs;
    int rc = comet_logic_call(r->logic, RPC_LOGIC_RENEW_ONLINE, &req.base,
                              &herald__renew_online_reply__descriptor, 0, on_reply, r);
    free(counts);
    free(ptrs);
    if (rc != 0) {
        r->in_flight = 0;
        renew_failed(r, rc);
    }
}

static void on_timer(uv_timer_t *t)
{
    comet_renew_t *r = t->data;
    if (r->stopped || r->in_flight)
        return;
    if (!comet_logic_connected(r->logic)) {
        /* Poll cheaply until a logic is connected, so the first registration is immediate. */
        renew_schedule(r, COMET_RENEW_RETRY_MS);
        return;
    }
    int rc = comet_census_start(r->workers, r->nworkers, r->main, on_census, r);
    if (rc != 0)
        renew_failed(r, rc);
    else
        r->in_flight = 1;
}

void comet_renew_init(comet_renew_t *r, uv_loop_t *loop, const comet_conf_t *conf,
                      comet_logic_t *logic, comet_worker_t *workers, int n, comet_ips_t *ips,
                      comet_queue_t *main, comet_replay_t *replay)
{
    memset(r, 0, sizeof *r);
    r->conf = conf;
    r->logic = logic;
    r->workers = workers;
    r->nworkers = n;
    r->ips = ips;
    r->main = main;
    r->replay = replay;
    int rc = uv_timer_init(loop, &r->timer); /* only fills the handle in */
    HERALD_ASSERT(rc == 0);
    r->timer.data = r;
}

void comet_renew_advertise(comet_renew_t *r, int rpc_port, int tcp_port, int ws_port, int tls_port,
                           int wss_port)
{
    const char *host = r->conf->advertise_host;
    snprintf(r->rpc_addr, sizeof r->rpc_addr, "%s:%d", host, rpc_port);
    snprintf(r->tcp_addr, sizeof r->tcp_addr, "%s:%d", host, tcp_port);
    snprintf(r->ws_addr, sizeof r->ws_addr, "%s:%d", host, ws_port);
    r->tls_addr[0] = r->wss_addr[0] = '\0';
    if (tls_port > 0)
        snprintf(r->tls_addr, sizeof r->tls_addr, "%s:%d", host, tls_port);
    if (wss_port > 0)
        snprintf(r->wss_addr, sizeof r->wss_addr, "%s:%d", host, wss_port);
}

void comet_renew_start(comet_renew_t *r)
{
    renew_schedule(r, 0);
}

void comet_renew_drain(comet_renew_t *r)
{
    r->draining = 1;
    if (r->in_flight)
        r->again = 1; /* its census may predate the flag */
    else
        renew_schedule(r, 0);
}

void comet_renew_stop(comet_renew_t *r)
{
    r->stopped = 1;
    uv_timer_stop(&r->timer);
}

static void on_timer_closed(uv_handle_t *h)
{
    comet_renew_t *r = h->data;
    if (r->on_closed)
        r->on_closed(r->closed_arg);
}

void comet_renew_close(comet_renew_t *r, void (*cb)(void *arg), void *arg)
{
    comet_renew_stop(r);
    r->on_closed = cb;
    r->closed_arg = arg;
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}
