/* comet_ack.h - batching of client acks (op 18) toward logic's Ack, per worker.
 *
 * Entries are sent as one AckReq when COMET_ACK_BATCH are collected or COMET_ACK_DELAY_MS after
 * the first one, whichever comes first. Fire and forget: a lost batch is superseded by the
 * client's next ack (acks carry the highest sequence number received in order).
 */
#ifndef COMET_ACK_H
#define COMET_ACK_H

#include "comet_logic.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define COMET_ACK_BATCH 256
#define COMET_ACK_DELAY_MS 100

typedef struct comet_ack_entry_s {
    int64_t mid;
    char *key; /* heap copy; the device name follows its NUL in the same allocation */
    uint64_t seq;
} comet_ack_entry_t;

typedef struct comet_ack_s {
    uv_timer_t timer;
    comet_logic_t *logic; /* borrowed: the worker's */
    comet_ack_entry_t entries[COMET_ACK_BATCH];
    size_t n;
} comet_ack_t;

/* Returns 0 or UV_E*. */
int comet_ack_init(comet_ack_t *a, uv_loop_t *loop, comet_logic_t *logic);
/* Queues an ack (key and device copied; device "" = none: logic then keeps the position under
 * the key); consecutive acks of one connection merge into one entry with the highest seq. May
 * send the batch at once. */
void comet_ack_add(comet_ack_t *a, int64_t mid, const char *key, const char *device, uint64_t seq);
/* Sends what is queued now. */
void comet_ack_flush(comet_ack_t *a);
/* Flushes, then closes the timer (the struct may be freed once the loop has run the close). */
void comet_ack_close(comet_ack_t *a);

#endif
