/* comet_renew.c - see comet_renew.h. */
#include "comet_renew.h"

#include "buf.h"
#include "comet_census.h"
#include "comet_online.h"
#include "comet_server.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "rpc_methods.h"

#include <stdio.h>
#include <stdlib.h>

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
    comet_worker_t *w = owner;
    renew_publish_t *p = (renew_publish_t *)t;
    comet_online_unref(w->online);
    w->online = p->online;
    free(p);
}

static void publish(comet_server_t *s, const Herald__RenewOnlineReply *reply)
{
    comet_online_t *o = comet_online_new(reply->rooms, reply->n_rooms);
    for (int i = 0; i < s->nworkers; i++) {
        renew_publish_t *p = xmalloc(sizeof *p);
        p->task.run = on_publish;
        p->online = comet_online_ref(o);
        comet_worker_post(&s->workers[i], &p->task);
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
    comet_server_t *s = r->server;
    r->in_flight = 0;
    if (r->stopped)
        return;
    if (status != 0) {
        renew_failed(r, status);
        return;
    }
    if (r->failing || r->renewals == 0)
        log_info("registered with logic as %s", s->conf->server_id);
    r->failing = 0;
    r->renewals++;
    publish(s, (const Herald__RenewOnlineReply *)msg);
    renew_schedule(r, (uint64_t)s->conf->renew_online_interval);
}

static void on_census(const comet_census_t *c, void *arg)
{
    comet_renew_t *r = arg;
    comet_server_t *s = r->server;
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
    for (int w = 0; w < s->nworkers; w++)
        conns += (int64_t)COMET_STAT_GET(&s->workers[w].stats, conns);
    char rpc_addr[300], tcp_addr[300], ws_addr[300];
    const char *host = s->conf->advertise_host;
    snprintf(rpc_addr, sizeof rpc_addr, "%s:%d", host, s->rpc_port);
    snprintf(tcp_addr, sizeof tcp_addr, "%s:%d", host, s->tcp_port);
    snprintf(ws_addr, sizeof ws_addr, "%s:%d", host, s->ws_port);
    Herald__RenewOnlineReq req = HERALD__RENEW_ONLINE_REQ__INIT;
    req.server = s->conf->server_id;
    req.rpc_addr = rpc_addr;
    req.tcp_addr = tcp_addr;
    req.ws_addr = ws_addr;
    req.weight = (int32_t)s->conf->weight;
    req.conn_count = conns;
    req.n_rooms = i;
    req.rooms = ptrs;
    int rc = comet_logic_call(&s->logic, RPC_LOGIC_RENEW_ONLINE, &req.base,
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
    if (!comet_logic_connected(&r->server->logic)) {
        /* Poll cheaply until a logic is connected, so the first registration is immediate. */
        renew_schedule(r, COMET_RENEW_RETRY_MS);
        return;
    }
    r->in_flight = 1;
    comet_census_start(r->server, on_census, r);
}

int comet_renew_init(comet_renew_t *r, comet_server_t *s)
{
    r->server = s;
    r->in_flight = 0;
    r->stopped = 0;
    r->failing = 0;
    r->rooms = 0;
    r->renewals = 0;
    int rc = uv_timer_init(s->loop, &r->timer);
    r->timer.data = r;
    return rc;
}

void comet_renew_start(comet_renew_t *r)
{
    renew_schedule(r, 0);
}

void comet_renew_stop(comet_renew_t *r)
{
    r->stopped = 1;
    uv_timer_stop(&r->timer);
}

void comet_renew_close(comet_renew_t *r, uv_close_cb cb)
{
    comet_renew_stop(r);
    uv_close((uv_handle_t *)&r->timer, cb);
}
