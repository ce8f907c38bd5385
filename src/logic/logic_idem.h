/* logic_idem.h - idempotency keys of the push API (Centrifugo's idempotency_key): a push retried
 * with the same key within push.idempotency_window answers like the first call and neither
 * stores nor delivers anything again (docs/delivery.md "Retries and idempotency keys").
 *
 *   <prefix>idem:<route>:<key>  "" while the first push runs (TTL LOGIC_IDEM_RUNNING_MS), then
 *                               its reply data as JSON text (TTL push.idempotency_window)
 *
 * The claim is one Lua script (SET NX, else GET), so of two calls with the same key exactly one
 * runs the push. The running marker outlives any push: a push is answered within Kafka's message
 * timeout (30 s) plus the router and Redis deadlines, so a marker left by a logic that died
 * mid-push frees the key after LOGIC_IDEM_RUNNING_MS. Loop thread only.
 */
#ifndef LOGIC_IDEM_H
#define LOGIC_IDEM_H

#include "logic_ctx.h"

#include <jansson.h>
#include <stddef.h>

#define LOGIC_IDEM_KEY_MAX 128
#define LOGIC_IDEM_RUNNING_MS 60000

/* 0 when key is 1..LOGIC_IDEM_KEY_MAX bytes of printable ASCII without space, else
 * HERALD_EINVAL. */
int logic_idem_key_ok(const char *key);

typedef enum {
    LOGIC_IDEM_NEW = 0, /* claimed: run the push, then logic_idem_record or logic_idem_release */
    LOGIC_IDEM_DONE,    /* answered before: reply is the data it answered, as JSON text */
    LOGIC_IDEM_RUNNING, /* the first call is still running */
} logic_idem_state_t;

/* status 0 with a state, or HERALD_EUNAVAIL (Redis failed: nothing can be promised). reply
 * (len bytes, borrowed for the call) only with LOGIC_IDEM_DONE. */
typedef void (*logic_idem_cb)(int status, logic_idem_state_t state, const char *reply, size_t len,
                              void *arg);

/* Claims key for route ("keys", "mids", "room", "all"). Returns 0 and calls cb once later, or
 * HERALD_EUNAVAIL (Redis not connected; cb never called). key must pass logic_idem_key_ok. */
int logic_idem_claim(const logic_ctx_t *ctx, const char *route, const char *key, logic_idem_cb cb,
                     void *arg);

/* Stores the reply data of the claimed key's push (NULL is stored as null), kept for
 * push.idempotency_window. Best effort: a failure is logged, and a retry then runs again. */
void logic_idem_record(const logic_ctx_t *ctx, const char *route, const char *key,
                       const json_t *data);

/* Frees a claimed key whose push failed before anything was stored, so a retry runs it. Best
 * effort (else the marker expires after LOGIC_IDEM_RUNNING_MS). */
void logic_idem_release(const logic_ctx_t *ctx, const char *route, const char *key);

#endif
