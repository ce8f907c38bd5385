/* libFuzzer target: the Kafka PushMsg envelope as herald-job decodes it. The input is a message
 * value handed to job_deliver_on_message, the kafka_message_cb: it unpacks the envelope and
 * checks it (envelope_check, static) before any delivery. No comet is registered, so every
 * envelope, valid or not, must be done before the callback returns: nothing left in flight, one
 * more consumed, and one more malformed at most (always one for bytes that do not unpack). A
 * JOIN envelope goes in without its rpc_addr (repacked): with a usable address job would add
 * that comet and dial it (unit/job/test_deliver covers it); without one, an unknown comet's JOIN
 * is dropped after the same checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herald.pb-c.h"
#include "job_comets.h"
#include "job_conf.h"
#include "job_deliver.h"
#include "log.h"

static struct {
    int ready;
    uv_loop_t loop;
    job_conf_t conf;
    job_comets_t comets;
    job_deliver_t deliver;
    int64_t offset;
} fz;

static void fuzz_setup(void)
{
    char err[256];
    log_init("fuzz", LOG_ERROR); /* malformed envelopes are logged as warnings */
    if (uv_loop_init(&fz.loop) != 0 ||
        conf_load(job_conf_items, &fz.conf, NULL, err, sizeof(err)) != 0)
        abort();
    /* Never started: no Redis, no registry read, so no comet ever appears. */
    job_comets_init(&fz.comets, &fz.loop, NULL, &fz.conf);
    job_deliver_init(&fz.deliver, &fz.loop, &fz.comets, &fz.conf);
    fz.ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz.ready)
        fuzz_setup();
    /* An exact-size copy, so ASan sees any read past the message. */
    uint8_t *value = malloc(size ? size : 1);
    memcpy(value, data, size);
    Herald__PushMsg *join = herald__push_msg__unpack(NULL, size, value);
    if (join != NULL && join->type == HERALD__PUSH_MSG__TYPE__JOIN && join->rpc_addr[0] != '\0') {
        char *addr = join->rpc_addr; /* free_unpacked frees it: put back before */
        join->rpc_addr = "";
        size = herald__push_msg__get_packed_size(join);
        free(value);
        value = malloc(size ? size : 1);
        herald__push_msg__pack(join, value);
        join->rpc_addr = addr;
    }
    herald__push_msg__free_unpacked(join, NULL);
    kafka_msg_t km = {.partition = 0, .offset = fz.offset++, .value = value, .value_len = size};
    job_stats_t before = fz.deliver.stats;
    job_deliver_on_message(&km, &fz.deliver);
    uint64_t malformed = fz.deliver.stats.malformed - before.malformed;
    if (fz.deliver.in_flight != 0 || !list_empty(&fz.deliver.waiting) ||
        fz.deliver.stats.consumed != before.consumed + 1 || malformed > 1)
        abort();
    Herald__PushMsg *pm = herald__push_msg__unpack(NULL, size, value);
    if (pm == NULL && malformed != 1)
        abort();
    herald__push_msg__free_unpacked(pm, NULL);
    free(value);
    uv_run(&fz.loop, UV_RUN_NOWAIT);
    return 0;
}
