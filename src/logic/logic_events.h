/* logic_events.h - business events on a second Kafka topic ([kafka] events_topic, default
 * herald-events; "" turns it off) and/or POSTed to [events] callback_url (logic_callback.h), for
 * systems that store history or notify offline users (cim's message callback). One JSON object
 * per event (docs/im.md):
 *
 *   {"type":"connect","mid":1,"key":"1-ab..","server":"comet-1","platform":"web","room":"..","ts":ms}
 *   {"type":"disconnect","mid":1,"key":"1-ab..","server":"comet-1","ts":ms}
 *   {"type":"message","from":1,"from_name":"alice","to_mid":2 | "to_room":"..","op":1000,
 *    "msg":<msg>,"ts":ms}
 *
 * The Kafka key is the user id (the sender for messages), so one user's events keep their order.
 * Publishing is best effort: it never delays or fails the connection or the message it reports
 * (a lost event is counted and logged). Loop thread only.
 */
#ifndef LOGIC_EVENTS_H
#define LOGIC_EVENTS_H

#include "logic_ctx.h"

#include <jansson.h>
#include <stdint.h>

typedef struct logic_events_s logic_events_t;

/* Returns the publisher (ctx borrowed: it must outlive it), or NULL when events are off (no
 * events_topic, no callback_url); on a Kafka configuration error or a bad callback_url returns
 * NULL with a message in err (err[0] != '\0'). */
logic_events_t *logic_events_new(const logic_ctx_t *ctx, char *err, size_t errlen);

/* Flushes for up to timeout_ms (blocks: shutdown only) and frees. NULL is a no-op. */
void logic_events_free(logic_events_t *e, int timeout_ms);

/* Publishes event (a JSON object; reference stolen) of user mid, adding "ts". e may be NULL
 * (events off: the reference is just released), and so may event (a json_pack that refused its
 * strings: nothing is published). */
void logic_events_publish(logic_events_t *e, int64_t mid, json_t *event);

/* Its counters into the metrics object out: events_posted, events_post_failures,
 * events_dropped (the callback's; 0 without one), and its Kafka failures added to the
 * kafka_failed already in out (docs/im.md counts them with the push path's). e may be NULL. */
void logic_events_metrics(logic_events_t *e, json_t *out);

#endif
