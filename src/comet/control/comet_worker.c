/* comet_worker.c - see comet_worker.h. */
#include "comet_worker.h"

#include "comet_conn.h"
#include "comet_listen.h"
#include "comet_server.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORKER_SWEEP_MS 1000
#define WORKER_DRAIN_SWEEP_MS 100

static const char *worker_key(const void *item)
{
    return ((const comet_conn_t *)item)->key;
}

static void on_connection(uv_stream_t *listener, int status)
{
    comet_worker_t *w = listener->loop->data;
    if (status < 0) {
        log_warn_rl("worker %d: listen: %s", w->index, uv_strerror(status));
        return;
    }
    comet_conn_accept(w, listener, listener == (uv_stream_t *)&w->ws_listener);
}

/* Closes the connections at the head of an ordered list whose time is up. */
static void sweep_list(comet_worker_t *w, list_link_t *head, uint64_t timeout, int count)
{
    uint32_t now = comet_worker_now(w);
    list_link_t *l;
    while ((l = list_first(head)) != NULL) {
        comet_conn_t *c = list_entry(l, comet_conn_t, link);
        if ((uint32_t)(now - c->t) < timeout)
            break;
        if (count) {
            COMET_STAT_ADD(&w->stats, timeouts, 1);
            log_debug("worker %d: key=%s: %s deadline passed, closing", w->index,
                      c->key ? c->key : "-", c->key ? "heartbeat" : "auth");
        }
        comet_conn_close(c);
    }
}

static void on_sweep(uv_timer_t *t)
{
    comet_worker_t *w = t->data;
    sweep_list(w, &w->pending, (uint64_t)w->conf->auth_timeout, 1);
    sweep_list(w, &w->active, (uint64_t)w->conf->heartbeat_timeout, 1);
    sweep_list(w, &w->closing, COMET_CONN_LINGER_MS, 0);
}

static void on_drain_task(comet_task_t *t, void *owner);
static void on_stop_task(comet_task_t *t, void *owner);

int comet_worker_init(comet_worker_t *w, comet_server_t *s, const comet_conf_t *conf, int index)
{
    memset(w, 0, sizeof *w);
    w->server = s;
    w->conf = conf;
    w->index = index;
    int rc = uv_loop_init(&w->loop);
    if (rc != 0)
        return rc;
    w->loop_ready = 1;
    w->loop.data = w;
    list_init(&w->pending);
    list_init(&w->active);
    list_init(&w->closing);
    list_init(&w->all);
    comet_rooms_init(&w->rooms);
    strmap_init(&w->keys, worker_key);
    buf_init(&w->out);
    buf_init(&w->scratch);
    w->read_buf = xmalloc(COMET_READ_BUF_SIZE);
    w->ws = ws_codec_new(1);
    w->drain_task.run = on_drain_task;
    w->stop_task.run = on_stop_task;
    rc = comet_queue_init(&w->queue, &w->loop, w);
    if (rc == 0)
        rc = uv_timer_init(&w->loop, &w->sweep);
    w->sweep.data = w;
    if (rc == 0)
        rc = comet_fanout_init(&w->fanout, &w->loop, (uint32_t)w->conf->fanout_batch);
    if (rc == 0)
        rc = comet_ack_init(&w->acks, &w->loop, &w->logic);
    return rc;
}

int comet_worker_listen(comet_worker_t *w, const struct sockaddr *tcp_addr,
                        const struct sockaddr *ws_addr)
{
    int rc = comet_listen_tcp(&w->loop, &w->tcp_listener, tcp_addr, on_connection);
    if (rc != 0)
        return rc;
    w->listeners++;
    rc = comet_listen_tcp(&w->loop, &w->ws_listener, ws_addr, on_connection);
    if (rc != 0)
        return rc;
    w->listeners++;
    return 0;
}

static void worker_main(void *arg)
{
    comet_worker_t *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    comet_server_worker_stopped(w);
}

int comet_worker_start(comet_worker_t *w)
{
    /* The configuration was checked by the main thread's comet_logic_init. */
    char owner[32];
    snprintf(owner, sizeof owner, "worker %d", w->index);
    int rc = comet_logic_init(&w->logic, &w->loop, w->conf, owner);
    if (rc != 0)
        return rc;
    uv_timer_start(&w->sweep, on_sweep, WORKER_SWEEP_MS, WORKER_SWEEP_MS);
    rc = uv_thread_create(&w->thread, worker_main, w);
    if (rc != 0)
        return rc;
    w->started = 1;
    return 0;
}

void comet_worker_post(comet_worker_t *w, comet_task_t *task)
{
    comet_queue_push(&w->queue, task);
}

void comet_worker_on_socket_closed(comet_worker_t *w)
{
    if (w->stopping && !w->drained && COMET_STAT_GET(&w->stats, sockets) == 0) {
        w->drained = 1;
        comet_server_worker_drained(w);
    }
}

/* Kicks every connection of list (each leaves it: to the closing list or closed). */
static void kick_list(list_link_t *head)
{
    list_link_t *l;
    while ((l = list_first(head)) != NULL) {
        comet_conn_t *c = list_entry(l, comet_conn_t, link);
        if (c->state == COMET_CONN_AUTHING)
            comet_conn_close(c); /* no reply to wait for: logic forgets it with ServerDown */
        else
            comet_conn_kick_reason(c, "shutdown");
    }
}

static void on_drain_task(comet_task_t *t, void *owner)
{
    comet_worker_t *w = owner;
    w->stopping = 1;
    if (w->listeners > 0) {
        uv_close((uv_handle_t *)&w->tcp_listener, NULL);
        uv_close((uv_handle_t *)&w->ws_listener, NULL);
        w->listeners = 0;
    }
    comet_fanout_cancel(&w->fanout);
    comet_ack_flush(&w->acks);
    kick_list(&w->pending);
    kick_list(&w->active);
    /* Sweep more often so connections whose peer does not close go right after their linger:
     * the stop should not take a second longer than it must. */
    uv_timer_start(&w->sweep, on_sweep, WORKER_DRAIN_SWEEP_MS, WORKER_DRAIN_SWEEP_MS);
    comet_worker_on_socket_closed(w);
}

static void on_stop_task(comet_task_t *t, void *owner)
{
    comet_worker_t *w = owner;
    uv_close((uv_handle_t *)&w->sweep, NULL);
    comet_fanout_close(&w->fanout);
    comet_ack_close(&w->acks);
    comet_logic_close(&w->logic, NULL, NULL);
    comet_online_unref(w->online);
    w->online = NULL;
    comet_queue_close(&w->queue, NULL);
}

void comet_worker_post_drain(comet_worker_t *w)
{
    comet_worker_post(w, &w->drain_task);
}

void comet_worker_post_stop(comet_worker_t *w)
{
    comet_worker_post(w, &w->stop_task);
}

void comet_worker_join(comet_worker_t *w)
{
    if (w->started)
        uv_thread_join(&w->thread);
    w->started = 0;
}

static void on_walk_close(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void comet_worker_deinit(comet_worker_t *w)
{
    if (!w->loop_ready)
        return;
    /* A worker that never ran still has its handles (and a failed listener's close) pending. */
    uv_walk(&w->loop, on_walk_close, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&w->loop);
    if (rc != 0)
        log_error("worker %d: loop still busy at exit: %s", w->index, uv_strerror(rc));
    comet_queue_deinit(&w->queue);
    ws_codec_free(w->ws);
    free(w->read_buf);
    buf_deinit(&w->out);
    buf_deinit(&w->scratch);
    comet_rooms_deinit(&w->rooms);
    strmap_deinit(&w->keys);
}
