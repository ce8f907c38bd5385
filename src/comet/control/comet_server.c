/* comet_server.c - see comet_server.h. */
#include "comet_server.h"

#include "buf.h"
#include "comet_admin.h"
#include "comet_listen.h"
#include "comet_push.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "rpc_methods.h"

#include <stdlib.h>
#include <string.h>

/* -------------------------------------------------------------------------- closing */

static void on_main_closed(void *arg)
{
    comet_server_t *s = arg;
    if (--s->waiting == 0 && s->on_stopped)
        s->on_stopped(s->stopped_arg);
}

static void on_renew_closed(uv_handle_t *h)
{
    on_main_closed(((comet_renew_t *)h->data)->server);
}

static void on_queue_closed(comet_queue_t *q)
{
    on_main_closed(q->owner);
}

/* Closes every handle of the main thread; on_main_closed calls s->on_stopped after the last. */
static void close_main(comet_server_t *s)
{
    /* Counted before anything closes, in case a close completes synchronously. */
    s->waiting = 3 + (s->rpc != NULL) + (s->admin != NULL);
    if (s->rpc) {
        rpc_server_close(s->rpc, on_main_closed, s);
        s->rpc = NULL;
    }
    if (s->admin) {
        http_server_close(s->admin, on_main_closed, s);
        s->admin = NULL;
    }
    comet_logic_close(&s->logic, on_main_closed, s);
    comet_renew_close(&s->renew, on_renew_closed);
    comet_queue_close(&s->queue, on_queue_closed);
}

/* --------------------------------------------------------------------------- stopping */

static void on_worker_stopped(comet_task_t *t, void *owner)
{
    comet_server_t *s = owner;
    if (--s->waiting > 0)
        return;
    log_info("workers stopped");
    close_main(s);
}

static void stop_workers(comet_server_t *s)
{
    s->waiting = s->nworkers;
    for (int i = 0; i < s->nworkers; i++)
        comet_worker_post_stop(&s->workers[i]);
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

static void on_worker_drained(comet_task_t *t, void *owner)
{
    comet_server_t *s = owner;
    if (--s->waiting > 0)
        return;
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

void comet_server_worker_drained(comet_worker_t *w)
{
    w->drained_task.run = on_worker_drained;
    comet_server_post(w->server, &w->drained_task);
}

void comet_server_worker_stopped(comet_worker_t *w)
{
    w->stopped_task.run = on_worker_stopped;
    comet_server_post(w->server, &w->stopped_task);
}

void comet_server_stop(comet_server_t *s, void (*on_stopped)(void *arg), void *arg)
{
    if (s->stopping)
        return;
    log_info("stopping: closing connections");
    s->stopping = 1;
    s->on_stopped = on_stopped;
    s->stopped_arg = arg;
    comet_renew_stop(&s->renew);
    if (s->rpc) {
        rpc_server_close(s->rpc, NULL, NULL);
        s->rpc = NULL;
    }
    s->waiting = s->nworkers;
    for (int i = 0; i < s->nworkers; i++)
        comet_worker_post_drain(&s->workers[i]);
}

typedef struct stop_request_s {
    comet_task_t task;
    void (*on_stopped)(void *arg);
    void *arg;
} stop_request_t;

static void on_stop_request(comet_task_t *t, void *owner)
{
    stop_request_t *r = (stop_request_t *)t;
    comet_server_stop(owner, r->on_stopped, r->arg);
    free(r);
}

void comet_server_request_stop(comet_server_t *s, void (*on_stopped)(void *arg), void *arg)
{
    stop_request_t *r = xmalloc(sizeof *r);
    r->task.run = on_stop_request;
    r->on_stopped = on_stopped;
    r->arg = arg;
    comet_server_post(s, &r->task);
}

void comet_server_post(comet_server_t *s, comet_task_t *task)
{
    comet_queue_push(&s->queue, task);
}

/* --------------------------------------------------------------------------- starting */

static void server_release(comet_server_t *s)
{
    for (int i = 0; i < s->nworkers; i++) {
        comet_worker_join(&s->workers[i]);
        comet_worker_deinit(&s->workers[i]);
    }
    free(s->workers);
    comet_queue_deinit(&s->queue);
    comet_keys_deinit(&s->keys);
    ws_codec_free(s->ws);
    free(s);
}

void comet_server_free(comet_server_t *s)
{
    if (s)
        server_release(s);
}

static void on_abort_closed(void *arg)
{
    *(int *)arg = 1;
}

/* Start-up failed after the main thread's handles were created: close them, let the loop run
 * their close callbacks, and free everything. No worker thread was started. */
static void server_abort(comet_server_t *s)
{
    int closed = 0;
    s->on_stopped = on_abort_closed;
    s->stopped_arg = &closed;
    close_main(s);
    while (!closed)
        uv_run(s->loop, UV_RUN_ONCE);
    server_release(s);
}

static int listen_workers(comet_server_t *s, struct sockaddr_storage *tcp,
                          struct sockaddr_storage *ws)
{
    for (int i = 0; i < s->nworkers; i++) {
        comet_worker_t *w = &s->workers[i];
        int rc = comet_worker_listen(w, (struct sockaddr *)tcp, (struct sockaddr *)ws);
        if (rc != 0) {
            log_error("listen tcp %s / websocket %s: %s", s->conf->tcp_listen, s->conf->ws_listen,
                      uv_strerror(rc));
            return rc;
        }
        if (i == 0) {
            /* With port 0 the first worker gets an ephemeral port; the others share it. */
            s->tcp_port = comet_listen_port(&w->tcp_listener);
            s->ws_port = comet_listen_port(&w->ws_listener);
            comet_listen_set_port(tcp, s->tcp_port);
            comet_listen_set_port(ws, s->ws_port);
        }
    }
    return 0;
}

/* Resolves the listen addresses; logs and returns an error for a bad one. */
static int resolve_addrs(const comet_conf_t *conf, struct sockaddr_storage *tcp,
                         struct sockaddr_storage *ws, char **rpc_host, int *rpc_port,
                         char **admin_host, int *admin_port)
{
    int rc = comet_listen_resolve(conf->tcp_listen, tcp);
    if (rc != 0) {
        log_error("tcp.listen '%s': %s", conf->tcp_listen, herald_strerror(rc));
        return rc;
    }
    rc = comet_listen_resolve(conf->ws_listen, ws);
    if (rc != 0) {
        log_error("websocket.listen '%s': %s", conf->ws_listen, herald_strerror(rc));
        return rc;
    }
    if (conf_parse_addr(conf->rpc_listen, rpc_host, rpc_port) != 0) {
        log_error("rpc.listen '%s': not host:port", conf->rpc_listen);
        return HERALD_ECONF;
    }
    if (conf_parse_addr(conf->admin_listen, admin_host, admin_port) != 0) {
        log_error("admin.listen '%s': not host:port", conf->admin_listen);
        return HERALD_ECONF;
    }
    return 0;
}

int comet_server_start(uv_loop_t *loop, const comet_conf_t *conf, comet_server_t **out)
{
    *out = NULL;
    struct sockaddr_storage tcp_addr, ws_addr;
    char *rpc_host = NULL, *admin_host = NULL;
    int rpc_port = 0, admin_port = 0;
    int rc =
        resolve_addrs(conf, &tcp_addr, &ws_addr, &rpc_host, &rpc_port, &admin_host, &admin_port);
    comet_server_t *s = NULL;
    if (rc != 0)
        goto done;
    s = xcalloc(1, sizeof *s);
    s->loop = loop;
    s->conf = conf;
    s->nworkers = conf->workers > 0 ? (int)conf->workers : (int)uv_available_parallelism();
    if (s->nworkers < 1)
        s->nworkers = 1;
    /* Creates nothing when the logic addresses are bad, so it goes first. */
    rc = comet_logic_init(&s->logic, loop, conf, "main");
    if (rc != 0) {
        free(s);
        s = NULL;
        goto done;
    }
    if (comet_keys_init(&s->keys) != 0 || comet_queue_init(&s->queue, loop, s) != 0 ||
        comet_renew_init(&s->renew, s) != 0) {
        log_error("cannot create the main thread's handles");
        abort();
    }
    s->ws = ws_codec_new(1);
    s->workers = xcalloc((size_t)s->nworkers, sizeof *s->workers);
    for (int i = 0; i < s->nworkers && rc == 0; i++) {
        rc = comet_worker_init(&s->workers[i], s, conf, i);
        if (rc != 0)
            log_error("worker %d: %s", i, uv_strerror(rc));
    }
    if (rc == 0)
        rc = listen_workers(s, &tcp_addr, &ws_addr);
    if (rc == 0) {
        s->rpc = rpc_server_new(loop, comet_push_methods, comet_push_methods_count, s);
        rc = rpc_server_listen(s->rpc, rpc_host, rpc_port);
        if (rc != 0)
            log_error("rpc.listen %s: %s", conf->rpc_listen, herald_strerror(rc));
        s->rpc_port = rpc_server_port(s->rpc);
    }
    if (rc == 0) {
        rc = comet_admin_start(s, admin_host, admin_port);
        if (rc != 0)
            log_error("admin.listen %s: %s", conf->admin_listen, herald_strerror(rc));
    }
    if (rc != 0) {
        server_abort(s);
        s = NULL;
        goto done;
    }
    for (int i = 0; i < s->nworkers; i++) {
        if (comet_worker_start(&s->workers[i]) != 0) {
            log_error("worker %d: cannot start its thread", i);
            abort();
        }
    }
    comet_renew_start(&s->renew);
    log_info("ready: server %s, %d workers, tcp :%d, websocket :%d, rpc :%d, admin :%d",
             conf->server_id, s->nworkers, s->tcp_port, s->ws_port, s->rpc_port, s->admin_port);
done:
    free(rpc_host);
    free(admin_host);
    *out = s;
    return rc;
}
