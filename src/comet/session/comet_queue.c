/* comet_queue.c - see comet_queue.h. */
#include "comet_queue.h"

#include <stddef.h>

static void queue_drain(comet_queue_t *q)
{
    /* Take the whole list under the lock and run it outside, so senders never wait on a task. */
    uv_mutex_lock(&q->lock);
    comet_task_t *t = q->head;
    q->head = q->tail = NULL;
    uv_mutex_unlock(&q->lock);
    while (t != NULL) {
        comet_task_t *next = t->next;
        t->run(t, q->owner);
        t = next;
    }
}

static void on_async(uv_async_t *async)
{
    queue_drain(async->data);
}

int comet_queue_init(comet_queue_t *q, uv_loop_t *loop, void *owner)
{
    q->head = q->tail = NULL;
    q->owner = owner;
    q->on_closed = NULL;
    int rc = uv_mutex_init(&q->lock);
    if (rc != 0)
        return rc;
    rc = uv_async_init(loop, &q->async, on_async);
    if (rc != 0) {
        uv_mutex_destroy(&q->lock);
        return rc;
    }
    q->async.data = q;
    return 0;
}

void comet_queue_push(comet_queue_t *q, comet_task_t *task)
{
    task->next = NULL;
    uv_mutex_lock(&q->lock);
    if (q->tail)
        q->tail->next = task;
    else
        q->head = task;
    q->tail = task;
    uv_mutex_unlock(&q->lock);
    uv_async_send(&q->async);
}

static void on_async_closed(uv_handle_t *h)
{
    comet_queue_t *q = h->data;
    if (q->on_closed)
        q->on_closed(q);
}

void comet_queue_close(comet_queue_t *q, void (*on_closed)(comet_queue_t *q))
{
    queue_drain(q);
    q->on_closed = on_closed;
    uv_close((uv_handle_t *)&q->async, on_async_closed);
}

void comet_queue_deinit(comet_queue_t *q)
{
    uv_mutex_destroy(&q->lock);
}
