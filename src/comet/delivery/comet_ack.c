/* comet_ack.c - see comet_ack.h. */
#include "comet_ack.h"

#include "buf.h"
#include "herald.pb-c.h"
#include "rpc_methods.h"

#include <stdlib.h>
#include <string.h>

static void on_ack_timer(uv_timer_t *t)
{
    comet_ack_flush(t->data);
}

int comet_ack_init(comet_ack_t *a, uv_loop_t *loop, comet_logic_t *logic)
{
    a->logic = logic;
    a->n = 0;
    int rc = uv_timer_init(loop, &a->timer);
    a->timer.data = a;
    return rc;
}

void comet_ack_add(comet_ack_t *a, int64_t mid, const char *key, const char *device, uint64_t seq)
{
    /* Only the highest seq matters: a connection acking again before the batch leaves (or
     * flooding acks) updates its entry instead of filling the batch. */
    if (a->n > 0) {
        comet_ack_entry_t *last = &a->entries[a->n - 1];
        if (last->mid == mid && strcmp(last->key, key) == 0) {
            if (seq > last->seq)
                last->seq = seq;
            return;
        }
    }
    comet_ack_entry_t *e = &a->entries[a->n++];
    e->mid = mid;
    size_t k = strlen(key) + 1, d = strlen(device) + 1;
    e->key = xmalloc(k + d);
    memcpy(e->key, key, k);
    memcpy(e->key + k, device, d);
    e->seq = seq;
    if (a->n == COMET_ACK_BATCH)
        comet_ack_flush(a);
    else if (a->n == 1)
        uv_timer_start(&a->timer, on_ack_timer, COMET_ACK_DELAY_MS, 0);
}

void comet_ack_flush(comet_ack_t *a)
{
    uv_timer_stop(&a->timer);
    if (a->n == 0)
        return;
    Herald__AckEntry entries[COMET_ACK_BATCH];
    Herald__AckEntry *ptrs[COMET_ACK_BATCH];
    for (size_t i = 0; i < a->n; i++) {
        herald__ack_entry__init(&entries[i]);
        entries[i].mid = a->entries[i].mid;
        entries[i].key = a->entries[i].key;
        entries[i].device = a->entries[i].key + strlen(a->entries[i].key) + 1;
        entries[i].seq = a->entries[i].seq;
        ptrs[i] = &entries[i];
    }
    Herald__AckReq req = HERALD__ACK_REQ__INIT;
    req.n_acks = a->n;
    req.acks = ptrs;
    comet_logic_notify(a->logic, RPC_LOGIC_ACK, &req.base, &herald__ack_reply__descriptor);
    for (size_t i = 0; i < a->n; i++)
        free(a->entries[i].key);
    a->n = 0;
}

void comet_ack_close(comet_ack_t *a)
{
    comet_ack_flush(a);
    uv_close((uv_handle_t *)&a->timer, NULL);
}
