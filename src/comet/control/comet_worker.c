/* comet_worker.c - see comet_worker.h. */
#include "comet_worker.h"

#include "comet_client.h"
#include "comet_listen.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_connection(uv_stream_t *listener, int status)
{
    comet_worker_t *w = listener->data;
    if (status < 0) {
        log_warn_rl("worker %d: listen: %s", w->index, uv_strerror(status));
        return;
    }
    comet_worker_listener_t i = (comet_worker_listener_t)((uv_tcp_t *)listener - w->listeners);
    int ws = i == COMET_WORKER_WS || i == COMET_WORKER_WSS;
    int tls = i == COMET_WORKER_TLS || i == COMET_WORKER_WSS;
    comet_client_accept(&w->session, listener, ws, tls ? w->tls : NULL);
}

/* The worker whose task t (its field `field`) is. */
#define WORKER_OF(t, field) ((comet_worker_t *)((char *)(t)-offsetof(comet_worker_t, field)))

static void on_drain_task(comet_task_t *t, void *owner);
static void on_stop_task(comet_task_t *t, void *owner);

static void on_walk_close(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Closes whatever handle is left on the worker's loop, lets the loop run the closes and closes
 * the loop. */
static void worker_close_loop(comet_worker_t *w)
{
    uv_walk(&w->loop, on_walk_close, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&w->loop);
    if (rc != 0)
        log_error("worker %d: loop still busy at exit: %s", w->index, uv_strerror(rc));
}

int comet_worker_init(comet_worker_t *w, const comet_conf_t *conf, int index, comet_keys_t *keys,
                      comet_ips_t *ips, comet_queue_t *const *peers, comet_queue_t *main,
                      comet_task_cb on_drained, comet_task_cb on_stopped, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    w->index = index;
    w->main = main;
    w->drain_task.run = on_drain_task;
    w->stop_task.run = on_stop_task;
    w->drained_task.run = on_drained;
    w->stopped_task.run = on_stopped;
    int rc = uv_loop_init(&w->loop);
    if (rc != 0) {
        snprintf(err, errlen, "worker %d: %s", index, uv_strerror(rc));
        return rc;
    }
    rc = comet_queue_init(&w->queue, &w->loop, &w->session);
    if (rc != 0) {
        snprintf(err, errlen, "worker %d: %s", index, uv_strerror(rc));
        uv_loop_close(&w->loop);
        return rc;
    }
    rc = comet_session_init(&w->session, &w->loop, conf, index, keys, ips, peers, &w->stats,
                            &comet_push_session_ops, &w->push, err, errlen);
    if (rc != 0)
        goto fail;
    rc = comet_push_init(&w->push, &w->session, &w->loop);
    if (rc != 0) {
        snprintf(err, errlen, "worker %d: %s", index, uv_strerror(rc));
        comet_session_close(&w->session);
        worker_close_loop(w); /* with what of the delivery layer was opened */
        comet_session_deinit(&w->session);
        comet_queue_deinit(&w->queue);
        return rc;
    }
    return 0;
fail:
    worker_close_loop(w);
    comet_queue_deinit(&w->queue);
    return rc;
}

int comet_worker_listen(comet_worker_t *w, const comet_worker_addrs_t *a,
                        comet_worker_listener_t *failed)
{
    w->tls = a->tls;
    for (int i = 0; i < COMET_WORKER_LISTENERS; i++) {
        if (a->addr[i] == NULL)
            continue;
        int rc = comet_listen_tcp(&w->loop, &w->listeners[i], a->addr[i], on_connection);
        if (rc != 0) {
            *failed = (comet_worker_listener_t)i;
            return rc;
        }
        w->listeners[i].data = w;
        w->listening |= 1u << i;
    }
    return 0;
}

int comet_worker_port(const comet_worker_t *w, comet_worker_listener_t i)
{
    return w->listening & (1u << i) ? comet_listen_port(&w->listeners[i]) : -1;
}

static void worker_main(void *arg)
{
    comet_worker_t *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    /* The last touch of w on this thread: the main thread joins, then frees. */
    comet_queue_push(w->main, &w->stopped_task);
}

int comet_worker_start(comet_worker_t *w)
{
    int rc = uv_thread_create(&w->thread, worker_main, w);
    if (rc != 0)
        return rc;
    w->started = 1;
    return 0;
}

void comet_worker_post(comet_worker_t *w, comet_task_t *task)
{
    comet_queue_push(&w->queue, task);
}

/* A reload's limits on their way to one worker; freed by the worker. */
typedef struct worker_limits_task_s {
    comet_task_t task; /* first member */
    comet_limits_t limits;
} worker_limits_task_t;

static void on_limits_task(comet_task_t *t, void *owner)
{
    worker_limits_task_t *lt = (worker_limits_task_t *)t;
    comet_worker_t *w = (comet_worker_t *)((char *)owner - offsetof(comet_worker_t, session));
    comet_session_set_limits(&w->session, &lt->limits);
    comet_fanout_set_batch(&w->push.fanout, lt->limits.fanout_batch);
    free(lt);
}

void comet_worker_post_limits(comet_worker_t *w, const comet_limits_t *l)
{
    worker_limits_task_t *lt = xcalloc(1, sizeof *lt);
    lt->task.run = on_limits_task;
    lt->limits = *l;
    comet_worker_post(w, &lt->task);
}

static void on_empty(void *arg)
{
    comet_worker_t *w = arg;
    comet_queue_push(w->main, &w->drained_task);
}

static void close_listeners(comet_worker_t *w)
{
    for (int i = 0; i < COMET_WORKER_LISTENERS; i++)
        if (w->listening & (1u << i))
            uv_close((uv_handle_t *)&w->listeners[i], NULL);
    w->listening = 0;
}

void comet_worker_stop_accepting(comet_worker_t *w)
{
    close_listeners(w);
}

static void on_drain_task(comet_task_t *t, void *owner)
{
    comet_worker_t *w = WORKER_OF(t, drain_task);
    close_listeners(w);
    comet_push_drain(&w->push);
    comet_client_drain(&w->session);
    comet_conns_when_empty(&w->session.conns, on_empty, w);
}

/* Closes every handle of the worker: its loop then ends. */
static void worker_stop(comet_worker_t *w)
{
    close_listeners(w);
    comet_push_close(&w->push); /* flushes acks: before the logic clients close */
    comet_session_close(&w->session);
    comet_queue_close(&w->queue, NULL);
    w->stopped = 1;
}

static void on_stop_task(comet_task_t *t, void *owner)
{
    worker_stop(WORKER_OF(t, stop_task));
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

void comet_worker_deinit(comet_worker_t *w)
{
    /* A worker that never ran still has its handles (and a failed listener's close) pending:
     * its loop is driven from here, it has no thread. */
    if (!w->stopped)
        worker_stop(w);
    worker_close_loop(w);
    comet_queue_deinit(&w->queue);
    comet_session_deinit(&w->session);
}
