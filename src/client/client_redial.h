/* client_redial.h - the one redial policy of herald clients (herald-cli listen --reconnect,
 * herald-cli chat, the integration tests): when to dial again after a connection ends, and where.
 *
 * A comet that is drained (SIGTERM, docs/operations.md "Rolling restart") sends op 6 with
 * {"reason":"reconnect","after_ms":N} and keeps the connection, and its pushes, for N ms. The
 * client stays until then, leaves at N (or when the comet closes first, and then not before N),
 * and dials at once a comet other than the one it leaves: the first of logic's
 * /goim/nodes/weighted list (which no longer offers a draining comet), or, for IM clients, the
 * one a new login picks. N differs per connection, so the clients of one comet spread over the
 * drain time instead of all reconnecting in the same second.
 *
 * Any other end (a kick, a read error, the comet killed) waits a backoff before the dial:
 * a random delay in [d/2, d] with d = min(max_ms, base_ms * 2^k), k the ends and failed dials
 * since the last connection that worked; the jitter spreads clients that lost the same comet.
 *
 * Either way the caller authenticates with "last_seq": the highest per-user seq it has (or the
 * auth reply's last_seq when it got none), so the inbox gives back what it missed
 * (docs/delivery.md). Pure bookkeeping except client_redial_fetch; not thread-safe (one per
 * connection).
 */
#ifndef HERALD_CLIENT_REDIAL_H
#define HERALD_CLIENT_REDIAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define CLIENT_REDIAL_BASE_MS 200
#define CLIENT_REDIAL_MAX_MS 5000
/* The op 6 reason of a drain notice (comet_drain.h writes it). */
#define CLIENT_REDIAL_REASON "reconnect"
/* A notice asking for longer than this is taken as this (a bound against a bad body). */
#define CLIENT_REDIAL_AFTER_MAX_MS 3600000

typedef struct client_redial_s {
    int base_ms, max_ms;
    unsigned failures; /* ends without a notice and failed dials since the last good dial */
    uint64_t rng;      /* xorshift64 state of the jitter; never 0 */
    int64_t leave_at;  /* clock ms at which a notice asks to leave; -1: no notice */
} client_redial_t;

/* Caller's storage. base_ms and max_ms bound the backoff (<= 0: the defaults above); seed
 * drives the jitter (give each client its own, e.g. pid ^ time ^ index). */
void client_redial_init(client_redial_t *r, int base_ms, int max_ms, uint64_t seed);

/* The body (len bytes) of an op 6 packet. Returns 1 when it is a drain notice: the connection
 * is to be left at now_ms + after_ms (client_redial_leave_due); 0 for any other kick, after which
 * the comet closes the connection. */
int client_redial_on_kick(client_redial_t *r, const uint8_t *body, size_t len, int64_t now_ms);

/* -1 when no notice is pending, else the clock ms at which to leave. */
int64_t client_redial_leave_at(const client_redial_t *r);

/* 1 when a notice is pending and its time has come: close the connection and dial. */
int client_redial_leave_due(const client_redial_t *r, int64_t now_ms);

/* The connection ended (closed by either side, or left for a notice): the ms to wait before the
 * next dial. After a notice: what is left of it (0 once it passed). Otherwise a backoff, and
 * the end counts as a failure. */
int64_t client_redial_ended(client_redial_t *r, int64_t now_ms);

/* A dial failed (connect, auth, nodes): the ms to wait before the next one (backoff). */
int64_t client_redial_failed(client_redial_t *r);

/* A dial succeeded (authenticated): the backoff starts over and the notice is forgotten. */
void client_redial_connected(client_redial_t *r);

/* Picks the address to dial from the data of a nodes/weighted reply: its "comets" array, best
 * first, of {"id","tcp","ws","tls","wss"} "host:port" addresses ("" when a comet has no such
 * listener); `transport` names the field to dial ("tcp", "ws", "tls" or "wss"). The first comet
 * whose address is not `leaving` (may be NULL), else `leaving` itself when it is the only one
 * listed. Returns 0 with host (cap bytes) and port, or -1 when no usable address is listed. */
int client_redial_pick(const json_t *data, const char *transport, const char *leaving, char *host,
                       size_t cap, int *port);

/* GET url (logic's /goim/nodes/weighted?platform=..., http:// or https:// verified against
 * ca_file, NULL: the system store) and client_redial_pick from its data. Returns 0, or -1 with
 * the reason in err. */
int client_redial_fetch(const char *url, const char *ca_file, int timeout_ms, const char *transport,
                        const char *leaving, char *host, size_t cap, int *port, char *err,
                        size_t errlen);

#endif
