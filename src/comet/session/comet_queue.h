/* comet_queue.h - tasks handed to a loop thread from any thread: a mutex-protected FIFO plus a
 * uv_async_t (the only cross-thread path in comet; STYLE.md "Threads and loops").
 *
 * A task is a comet_task_t embedded at the start of the sender's struct; run() is called on the
 * queue's loop thread with the queue's owner and takes ownership of the task (frees it).
 */
#ifndef COMET_QUEUE_H
#define COMET_QUEUE_H

#include <uv.h>

typedef struct comet_task_s comet_task_t;
typedef void (*comet_task_cb)(comet_task_t *task, void *owner);

struct comet_task_s {
    comet_task_t *next;
    comet_task_cb run;
};

typedef struct comet_queue_s {
    uv_async_t async;
    uv_mutex_t lock;
    comet_task_t *head;
    comet_task_t *tail;
    void *owner;
    void (*on_closed)(struct comet_queue_s *q);
} comet_queue_t;

/* Initialises the queue on loop (loop thread, or before the loop's thread starts). Returns 0 or
 * a UV_E* error. */
int comet_queue_init(comet_queue_t *q, uv_loop_t *loop, void *owner);

/* Appends a task; any thread. run() will be called on the loop thread, in FIFO order. */
void comet_queue_push(comet_queue_t *q, comet_task_t *task);

/* Loop thread: runs the tasks queued so far, then closes the async handle; on_closed (may be
 * NULL) runs when it is closed. No task may be pushed afterwards. */
void comet_queue_close(comet_queue_t *q, void (*on_closed)(comet_queue_t *q));

/* Loop thread: the mutex is destroyed here, after on_closed. */
void comet_queue_deinit(comet_queue_t *q);

#endif
