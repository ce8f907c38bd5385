/* registry.h - the comet registry in Redis: the contract between its writer (logic, on each comet
 * RenewOnline) and its readers (every logic's online aggregate, every job's comet set).
 *
 *   <prefix>comets:{registry}  hash: comet id -> entry, compact JSON:
 *                              {"id","rpc","tcp","ws","tls","wss","weight","conns","ips",
 *                               "updated_ms"}
 *   <prefix>online:{registry}:<server>  hash: room id -> members on that comet; expires
 *                              registry.ttl after the comet's last RenewOnline (logic only)
 * (key names: redis_keys.h). rpc, tcp, ws, tls (TLS over TCP) and wss (WebSocket over TLS) are
 * the comet's advertised "host:port" addresses ("" when it has none; an entry written before tls
 * and wss existed reads as ""), weight its share of new clients (0: draining), conns its
 * connections, ips the distinct client addresses among them (goim's ip_count; an entry written
 * before ips existed reads as 0), updated_ms the wall clock (unix ms) of its last RenewOnline. An
 * entry is alive while it is at most ttl old (registry_entry_stale); readers ignore, and logic
 * deletes, the others.
 *
 * Everything a reader takes from Redis is checked as network input: ids are 1..REGISTRY_ID_MAX
 * printable ASCII bytes (no space), addresses "" or up to REGISTRY_ADDR_MAX printable ASCII
 * bytes, counts not negative; so an entry is always valid UTF-8 and always encodes. Pure
 * functions, any thread.
 */
#ifndef HERALD_REGISTRY_H
#define HERALD_REGISTRY_H

#include "redis.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define REGISTRY_ID_MAX 128   /* bytes of a comet id */
#define REGISTRY_ADDR_MAX 256 /* bytes of an advertised address */

/* One comet's entry. Caller's storage; every string NUL-terminated. */
typedef struct registry_entry_s {
    char id[REGISTRY_ID_MAX + 1];
    char rpc[REGISTRY_ADDR_MAX + 1];
    char tcp[REGISTRY_ADDR_MAX + 1];
    char ws[REGISTRY_ADDR_MAX + 1];
    char tls[REGISTRY_ADDR_MAX + 1];
    char wss[REGISTRY_ADDR_MAX + 1];
    int64_t weight;
    int64_t conns;
    int64_t ips;
    int64_t updated_ms;
} registry_entry_t;

/* A comet id (NULL is not): 0 or HERALD_EINVAL. */
int registry_id_ok(const char *id);

/* Fills e from a comet's own report, validating every part (id, addresses as above, weight and
 * conns >= 0). Returns 0, or HERALD_EINVAL (e is then unspecified). */
int registry_entry_init(registry_entry_t *e, const char *id, const char *rpc, const char *tcp,
                        const char *ws, int64_t weight, int64_t conns, int64_t updated_ms);

/* Sets the TLS addresses of an entry made by registry_entry_init (tls and wss "" or valid
 * addresses, as above; NULL reads as ""). Returns 0, or HERALD_EINVAL (e is left unchanged). */
int registry_entry_set_tls(registry_entry_t *e, const char *tls, const char *wss);

/* The entry as a JSON object (a new reference), or NULL when e is not valid (see
 * registry_entry_init). Aborts on OOM. */
json_t *registry_entry_json(const registry_entry_t *e);

/* The entry's compact JSON into *out (heap, free() it). Returns 0, or HERALD_EINVAL when e is not
 * valid (*out is then NULL): never a NULL string for a caller to pass on. Aborts on OOM. */
int registry_entry_encode(const registry_entry_t *e, char **out);

/* Parses an entry's JSON (len bytes, need not be NUL-terminated) into e; e->id is left "" (the
 * hash field is the id: registry_reply_entry sets it). A field that is missing or of another
 * JSON type reads as "" or 0 (so an entry without an integer updated_ms is dead). Returns 0, or
 * HERALD_EINVAL when the text is not one JSON object, or an address or count is out of bounds. */
int registry_entry_decode(const char *json, size_t len, registry_entry_t *e);

/* 1 when e's last renewal is more than ttl_ms before now_ms (both wall clock ms), else 0. */
int registry_entry_stale(const registry_entry_t *e, int64_t now_ms, int64_t ttl_ms);

/* The reply of HGETALL <prefix>comets: registry_reply_count entries; registry_reply_entry decodes
 * entry i (< count) into e. Returns 0, or HERALD_EINVAL for an unreadable pair: e->id then holds
 * the hash field when that is a valid id (the entry can be deleted), else "". */
size_t registry_reply_count(const redis_reply_t *reply);
int registry_reply_entry(const redis_reply_t *reply, size_t i, registry_entry_t *e);

#endif
