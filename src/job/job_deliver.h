/* job_deliver.h - herald-job's delivery: one Kafka PushMsg envelope -> the Comet RPCs it needs,
 * and when every one of them is over, kafka_consumer_done (at-least-once, DESIGN.md §6).
 *
 *   PUSH, server set   PushKeys{keys, seqs, proto{ver 1, op, seq 0, body}} to that comet
 *   PUSH, server ""    the same PushKeys to every comet (a comet ignores keys it does not hold)
 *   ROOM               BroadcastRoom to each comet whose room set has the room, through that
 *                      comet's room batching (job_room.h); the room stays busy for room.linger
 *                      after each call is sent, even if the comet answered sooner
 *   BROADCAST          Broadcast to every comet, speed divided by the number of comets (goim)
 *   JOIN               no call: the comet joins the room's set at once (job_comets_join), so
 *                      the room's pushes behind it in the stream reach it
 *
 * A call is over when the comet replied, or definitively failed: a comet that is not registered
 * or not connected gets nothing (the message still counts as handled); a call that timed out or
 * lost its connection, or found a comet not connected yet that job never saw connected (just
 * added), is retried comet.retries times, waiting comet.retry_backoff doubled each
 * time (at most JOB_DELIVER_BACKOFF_MAX_MS), then given up. A malformed envelope is logged (rate
 * limited) and marked done at once. Back-pressure: over kafka.max_in_flight messages in flight the
 * consumer is paused, and resumed below half of it. Everything runs on the loop thread.
 */
#ifndef JOB_DELIVER_H
#define JOB_DELIVER_H

#include "job_comets.h"
#include "job_conf.h"
#include "kafka.h"
#include "metrics.h"
#include "list.h"

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

/* Counters for the admin endpoint. */
typedef struct job_stats_s {
    uint64_t consumed;         /* envelopes received */
    uint64_t malformed;        /* envelopes that did not parse or made no sense */
    uint64_t delivered;        /* Comet RPCs answered with success */
    uint64_t failed;           /* Comet RPCs given up (after retries, remote errors, cancels) */
    uint64_t skipped;          /* deliveries to comets not registered or not connected */
    uint64_t retries;          /* RPC retries */
    uint64_t batches;          /* BroadcastRoom calls */
    uint64_t batched_messages; /* room messages carried by them */
    uint64_t joins;            /* JOIN envelopes applied to a comet's room set */
    uint64_t joins_dropped;    /* JOINs of a comet job does not know and cannot reach */
} job_stats_t;

/* Caller's storage, valid until the loop has ended (calls finishing during shutdown use it).
 * Fields are private to job_deliver.c. */
typedef struct job_deliver_s {
    uv_loop_t *loop;
    job_comets_t *comets;       /* borrowed */
    const job_conf_t *conf;     /* borrowed */
    kafka_consumer_t *consumer; /* borrowed; NULL: done marks are dropped */
    uv_timer_t wait_timer;
    list_link_t waiting; /* calls waiting to retry or to end a linger, in the order they came */
    uint64_t wait_due;   /* when the armed wait timer fires (uv_now) */
    size_t in_flight;    /* messages consumed and not yet done */
    int over_limit;      /* in_flight went over max_in_flight and not yet below half of it */
    int held;            /* job_deliver_hold */
    int paused;          /* the consumer is paused (over_limit || held || stopping) */
    int stopping;        /* job_deliver_stop: take no new message */
    int closing;         /* job_deliver_close: no retry, no new call */
    void (*close_cb)(void *arg);
    void *close_arg;
    job_stats_t stats;
} job_deliver_t;

void job_deliver_init(job_deliver_t *d, uv_loop_t *loop, job_comets_t *comets,
                      const job_conf_t *conf);

/* Sets the consumer that done marks and pause/resume go to; NULL detaches it (before
 * kafka_consumer_free: messages finishing later are then simply dropped, not marked). */
void job_deliver_attach(job_deliver_t *d, kafka_consumer_t *consumer);

/* Keeps the consumer paused while hold is nonzero (herald-job holds it until the comets are
 * known), on top of the back-pressure pause. */
void job_deliver_hold(job_deliver_t *d, int hold);

/* The longest wait before a retry. */
#define JOB_DELIVER_BACKOFF_MAX_MS 60000

/* Wait before retry number `attempt` (1 = the first retry): first_ms, doubled for each retry
 * after the first, at most JOB_DELIVER_BACKOFF_MAX_MS. Pure. */
uint64_t job_deliver_backoff_ms(uint64_t first_ms, int attempt);

/* The kafka_message_cb; arg is the job_deliver_t. */
void job_deliver_on_message(const kafka_msg_t *msg, void *arg);

/* Messages consumed and not yet done. */
size_t job_deliver_in_flight(const job_deliver_t *d);

/* The counters above, messages in flight and paused, in the Prometheus format (metrics.h). */
void job_deliver_prometheus(const job_deliver_t *d, buf_t *out);

/* "in_flight" and "paused" into the JSON object out (admin /health and /metrics). */
void job_deliver_health(const job_deliver_t *d, json_t *out);
/* The job_stats_t counters into out, under their field names (admin /metrics). */
void job_deliver_metrics(const job_deliver_t *d, json_t *out);

/* From now on, messages that still arrive are left undone (redelivered after a restart). */
void job_deliver_stop(job_deliver_t *d);

/* Gives up the retries waiting for their turn and closes the retry timer; cb (may be NULL) runs
 * once it is closed (d's storage may go then). Calls in flight finish when the comets' clients
 * close (job_comets_close). Call once, after job_deliver_stop. */
void job_deliver_close(job_deliver_t *d, void (*cb)(void *arg), void *arg);

#endif
