/* comet_server.c - see comet_server.h. */
#include "comet_server.h"

#include "addr.h"
#include "buf.h"
#include "comet_admin.h"
#include "comet_listen.h"
#include "herald.pb-c.h"
#include "herald_assert.h"
#include "herald_err.h"
#include "log.h"
#include "rpc_methods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------------------------- admin */

static json_t *on_health(void *arg)
{
    const comet_server_t *s = arg;
    return comet_admin_health(s->conf->server_id, s->workers, s->nworkers,
                              comet_logic_connected(&s->logic), s->stopping || s->draining);
}

static json_t *on_metrics(void *arg)
{
    const comet_server_t *s = arg;
    json_t *m = comet_admin_metrics(s->conf->server_id, s->workers, s->nworkers, &s->renew);
    admin_put_rpc_server(m, s->service.rpc);
    return m;
}

/* Ready: a logic is connected (clients can authenticate) and neither drain nor stop began. */
static int on_ready(void *arg, json_t **data)
{
    const comet_server_t *s = arg;
    json_t *missing = json_array();
    if (!comet_logic_connected(&s->logic))
        json_array_append_new(missing, json_string("logic"));
    return admin_ready_result(data, missing, s->stopping || s->draining);
}

static void on_prometheus(void *arg, buf_t *out)
{
    const comet_server_t *s = arg;
    comet_admin_prometheus(out, s->conf->server_id, s->workers, s->nworkers, &s->renew,
                           s->service.rpc, &s->logic);
}

static const admin_ops_t admin_ops = {on_health, on_metrics, on_ready, on_prometheus};

/* -------------------------------------------------------------------------- closing */

static void server_release(comet_server_t *s)
{
    for (int i = 0; i < s->ninit; i++) {
        comet_worker_join(&s->workers[i]);
        comet_worker_deinit(&s->workers[i]);
    }
    free(s->workers);
    free(s->queues);
    comet_queue_deinit(&s->queue);
    comet_keys_deinit(&s->keys);
    comet_ips_deinit(&s->ips);
    comet_service_deinit(&s->service);
    comet_replay_deinit(&s->replay);
    tls_server_free(s->tls);
    free(s);
}

/* One close of the main thread completed; after the last the server is freed. */
static void on_main_closed(void *arg)
{
    comet_server_t *s = arg;
    if (--s->closes > 0 || !s->last)
        return;
    void (*cb)(void *) = s->on_closed;
    void *cb_arg = s->closed_arg;
    server_release(s);
    if (cb)
        cb(cb_arg);
}

static void on_queue_closed(comet_queue_t *q)
{
    on_main_closed(q->owner);
}

/* Closes every handle of the main thread; the last close frees the server. */
static void close_main(comet_server_t *s)
{
    /* Counted before anything closes, in case a close completes synchronously; the queue goes
     * last, so the end always comes from a callback. */
    s->last = 1;
    s->closes += 4;
    admin_close(s->admin, on_main_closed, s);
    s->admin = NULL;
    comet_logic_close(&s->logic, on_main_closed, s);
    comet_renew_close(&s->renew, on_main_closed, s);
    comet_queue_close(&s->queue, on_queue_closed);
}

/* --------------------------------------------------------------------------- stopping */

static void on_worker_stopped(comet_task_t *t, void *owner)
{
    comet_server_t *s = owner;
    /* Its thread posted this as its last act: the join returns at once. */
    comet_worker_join((comet_worker_t *)((char *)t - offsetof(comet_worker_t, stopped_task)));
    if (--s->waiting > 0)
        return;
    if (s->ready)
        log_info("workers stopped");
    close_main(s);
}

/* Hands every started worker the task of a stop phase (post) and waits for them all (the
 * phase's callbacks count s->waiting down); with no worker started the phase is over at once. */
static void workers_phase(comet_server_t *s, void (*post)(comet_worker_t *w),
                          void (*then)(comet_server_t *s))
{
    s->waiting = s->nstarted;
    if (s->waiting == 0) {
        then(s);
        return;
    }
    for (int i = 0; i < s->nstarted; i++)
        post(&s->workers[i]);
}

static void stop_workers(comet_server_t *s)
{
    workers_phase(s, comet_worker_post_stop, close_main);
}

static void on_server_down(int status, const ProtobufCMessage *msg, void *arg)
{
    comet_server_t *s = arg;
    if (status != 0)
        log_warn("ServerDown: %s", herald_strerror(status));
    else
        log_info("ServerDown: logic removed %lld placements",
                 (long long)((const Herald__ServerDownReply *)msg)->removed);
    stop_workers(s);
}

/* Every connection is closed: logic forgets this comet's placements at once (a start that
 * failed registered nothing), then the workers stop. */
static void server_down(comet_server_t *s)
{
    if (!s->ready) {
        stop_workers(s);
        return;
    }
    log_info("connections closed; telling logic ServerDown");
    Herald__ServerDownReq req = HERALD__SERVER_DOWN_REQ__INIT;
    req.server = s->conf->server_id;
    int rc = comet_logic_call(&s->logic, RPC_LOGIC_SERVER_DOWN, &req.base,
                              &herald__server_down_reply__descriptor, COMET_SERVER_DOWN_TIMEOUT_MS,
                              on_server_down, s);
    if (rc != 0) {
        log_warn("ServerDown not sent: no logic connected");
        stop_workers(s);
    }
}

static void on_worker_drained(comet_task_t *t, void *owner)
{
    comet_server_t *s = owner;
    if (--s->waiting == 0)
        server_down(s);
}

void comet_server_close(comet_server_t *s, void (*cb)(void *arg), void *arg)
{
    HERALD_ASSERT(!s->stopping);
    if (s->ready)
        log_info("stopping: closing connections");
    s->stopping = 1;
    s->on_closed = cb;
    s->closed_arg = arg;
    comet_renew_stop(&s->renew);
    s->closes++;
    comet_service_close(&s->service, on_main_closed, s);
    workers_phase(s, comet_worker_post_drain, server_down);
}

/* --------------------------------------------------------------------------- starting */

static void on_abort_closed(void *arg)
{
    *(int *)arg = 1;
}

/* A start that failed once the main thread's handles exist: the regular stop closes whatever
 * was opened (no ServerDown: nothing was registered), with the loop run from here. */
static void server_abort(comet_server_t *s)
{
    uv_loop_t *loop = s->loop;
    int closed = 0;
    comet_server_close(s, on_abort_closed, &closed);
    while (!closed)
        uv_run(loop, UV_RUN_ONCE);
}

/* Where the server listens, resolved before anything is opened. */
typedef struct server_addrs_s {
    struct sockaddr_storage ss[COMET_WORKER_LISTENERS];
    int on[COMET_WORKER_LISTENERS]; /* the listener is configured */
    char rpc_host[ADDR_HOST_MAX], admin_host[ADDR_HOST_MAX];
    int rpc_port, admin_port;
} server_addrs_t;

/* The configuration key of listener i, and its value in *value, for errors. */
static const char *listener_key(const comet_conf_t *conf, int i, const char **value)
{
    static const char *const keys[COMET_WORKER_LISTENERS] = {"tcp.listen", "websocket.listen",
                                                             "tls.listen", "tls.wss_listen"};
    const char *values[COMET_WORKER_LISTENERS] = {conf->tcp_listen, conf->ws_listen,
                                                  conf->tls_listen, conf->wss_listen};
    *value = values[i];
    return keys[i];
}

static int listen_workers(comet_server_t *s, server_addrs_t *a, char *err, size_t errlen)
{
    comet_worker_addrs_t wa = {.tls = s->tls};
    for (int i = 0; i < COMET_WORKER_LISTENERS; i++)
        wa.addr[i] = a->on[i] ? (struct sockaddr *)&a->ss[i] : NULL;
    int *ports[COMET_WORKER_LISTENERS] = {&s->tcp_port, &s->ws_port, &s->tls_port, &s->wss_port};
    for (int i = 0; i < s->nworkers; i++) {
        comet_worker_t *w = &s->workers[i];
        comet_worker_listener_t failed = COMET_WORKER_TCP;
        int rc = comet_worker_listen(w, &wa, &failed);
        if (rc != 0) {
            const char *value;
            const char *key = listener_key(s->conf, failed, &value);
            snprintf(err, errlen, "listen %s %s: %s", key, value, uv_strerror(rc));
            return rc;
        }
        if (i > 0)
            continue;
        /* With port 0 the first worker gets an ephemeral port; the others share it. */
        for (int l = 0; l < COMET_WORKER_LISTENERS; l++) {
            if (!a->on[l])
                continue;
            *ports[l] = comet_worker_port(w, (comet_worker_listener_t)l);
            addr_set_port(&a->ss[l], *ports[l]);
        }
    }
    return 0;
}

/* Resolves the listen addresses; an error for a bad one. */
static int resolve_addrs(const comet_conf_t *conf, server_addrs_t *a, char *err, size_t errlen)
{
    for (int i = 0; i < COMET_WORKER_LISTENERS; i++) {
        const char *value;
        const char *key = listener_key(conf, i, &value);
        a->on[i] = value != NULL && value[0] != '\0';
        if (i < COMET_WORKER_TLS && !a->on[i]) {
            snprintf(err, errlen, "%s: required", key);
            return HERALD_ECONF;
        }
        int rc = a->on[i] ? addr_resolve(value, &a->ss[i]) : 0;
        if (rc != 0) {
            snprintf(err, errlen, "%s '%s': %s", key, value, herald_strerror(rc));
            return rc;
        }
    }
    if ((a->on[COMET_WORKER_TLS] || a->on[COMET_WORKER_WSS]) &&
        (conf->tls_cert == NULL || conf->tls_cert[0] == '\0')) {
        snprintf(err, errlen, "tls.cert: required when tls.listen or tls.wss_listen is set");
        return HERALD_ECONF;
    }
    if (addr_split(conf->rpc_listen, a->rpc_host, &a->rpc_port) != 0) {
        snprintf(err, errlen, "rpc.listen '%s': not host:port", conf->rpc_listen);
        return HERALD_ECONF;
    }
    if (addr_split(conf->admin_listen, a->admin_host, &a->admin_port) != 0) {
        snprintf(err, errlen, "admin.listen '%s': not host:port", conf->admin_listen);
        return HERALD_ECONF;
    }
    return 0;
}

/* Everything from the logic clients on; on error the caller aborts (all is closed there). */
static int server_open(comet_server_t *s, server_addrs_t *a, char *err, size_t errlen)
{
    const comet_conf_t *conf = s->conf;
    int rc = comet_logic_init(&s->logic, s->loop, conf, "main", err, errlen);
    for (int i = 0; i < s->nworkers && rc == 0; i++) {
        rc = comet_worker_init(&s->workers[i], conf, i, &s->keys, &s->ips, s->queues, &s->queue,
                               on_worker_drained, on_worker_stopped, err, errlen);
        if (rc == 0)
            s->ninit++;
    }
    if (rc == 0)
        rc = listen_workers(s, a, err, errlen);
    if (rc == 0) {
        rc = comet_service_listen(&s->service, s->loop, a->rpc_host, a->rpc_port);
        if (rc != 0)
            snprintf(err, errlen, "rpc.listen %s: %s", conf->rpc_listen, herald_strerror(rc));
        s->rpc_port = comet_service_port(&s->service);
    }
    if (rc == 0) {
        s->admin = admin_new(s->loop, &admin_ops, s, a->admin_host, a->admin_port, &conf->admin_tls,
                             err, errlen);
        if (s->admin == NULL)
            rc = HERALD_ECONF;
        else
            s->admin_port = admin_port(s->admin);
    }
    if (rc == 0) {
        comet_reload_init(&s->reload, conf, s->tls, s->workers, &s->nstarted);
        admin_set_route(s->admin, comet_reload_route, &s->reload);
    }
    if (rc == 0) {
        comet_renew_advertise(&s->renew, s->rpc_port, s->tcp_port, s->ws_port, s->tls_port,
                              s->wss_port);
        for (int i = 0; i < s->nworkers; i++)
            s->workers[i].session.rpc_addr = s->renew.rpc_addr; /* before its thread starts */
    }
    for (int i = 0; i < s->nworkers && rc == 0; i++) {
        rc = comet_worker_start(&s->workers[i]);
        if (rc != 0)
            snprintf(err, errlen, "worker %d: cannot start its thread: %s", i, uv_strerror(rc));
        else
            s->nstarted++;
    }
    return rc;
}

comet_server_t *comet_server_new(uv_loop_t *loop, const comet_conf_t *conf, char *err,
                                 size_t errlen)
{
    server_addrs_t addrs;
    comet_server_t *s = NULL;
    int rc = resolve_addrs(conf, &addrs, err, errlen);
    if (rc != 0)
        goto done;
    s = xcalloc(1, sizeof *s);
    s->loop = loop;
    s->conf = conf;
    s->nworkers = conf->workers > 0 ? (int)conf->workers : (int)uv_available_parallelism();
    if (s->nworkers < 1)
        s->nworkers = 1;
    s->workers = xcalloc((size_t)s->nworkers, sizeof *s->workers);
    s->queues = xcalloc((size_t)s->nworkers, sizeof *s->queues);
    for (int i = 0; i < s->nworkers; i++)
        s->queues[i] = &s->workers[i].queue;
    rc = comet_keys_init(&s->keys);
    if (rc == 0) {
        rc = comet_ips_init(&s->ips);
        if (rc != 0)
            comet_keys_deinit(&s->keys);
    }
    if (rc == 0) {
        rc = comet_queue_init(&s->queue, loop, s);
        if (rc != 0) {
            comet_ips_deinit(&s->ips);
            comet_keys_deinit(&s->keys);
        }
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot create the main thread's tables: %s", uv_strerror(rc));
        free(s->workers);
        free(s->queues);
        free(s);
        s = NULL;
        goto done;
    }
    if (addrs.on[COMET_WORKER_TLS] || addrs.on[COMET_WORKER_WSS]) {
        tls_server_conf_t tc = {.cert = conf->tls_cert,
                                .key = conf->tls_key,
                                .min_version = conf->tls_min_version ? 13 : 12,
                                .tickets = conf->tls_tickets};
        s->tls = tls_server_new(&tc, err, errlen);
        rc = s->tls == NULL ? HERALD_ECONF : 0;
    }
    comet_replay_init(&s->replay, s->workers, s->nworkers, &s->queue);
    comet_renew_init(&s->renew, loop, conf, &s->logic, s->workers, s->nworkers, &s->ips, &s->queue,
                     &s->replay);
    comet_service_init(&s->service, &s->keys, s->workers, s->nworkers, &s->queue, &s->replay);
    if (rc != 0 || server_open(s, &addrs, err, errlen) != 0) {
        server_abort(s);
        s = NULL;
        goto done;
    }
    s->ready = 1;
    comet_renew_start(&s->renew);
    log_info("ready: server %s, %d workers, tcp :%d, websocket :%d, tls :%d, wss :%d, rpc :%d, "
             "admin :%d",
             conf->server_id, s->nworkers, s->tcp_port, s->ws_port, s->tls_port, s->wss_port,
             s->rpc_port, s->admin_port);
done:
    return s;
}
