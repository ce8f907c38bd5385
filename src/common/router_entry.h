/* router_entry.h - the router registry in Redis: the contract between its writers (each router
 * with [registry] advertise set) and its readers (every logic, which builds its hash ring from
 * the live entries and router.addrs; docs/internals.md "Routers: discovery, epoch and replay").
 *
 *   <prefix>routers   hash: router name -> entry, compact JSON {"epoch":"<16 hex>","updated_ms":N}
 *
 * The name is the router's RPC address as logic dials it ("host:port"), and its name on the
 * ring. epoch is the router's random start epoch (RouterInfo), updated_ms the wall clock (unix
 * ms) of its last write; an entry is live while it is at most the reader's ttl old. A router
 * rewrites its entry every registry.refresh and deletes it when it stops gracefully.
 *
 * Everything read back is checked as network input. Pure functions, any thread.
 */
#ifndef HERALD_ROUTER_ENTRY_H
#define HERALD_ROUTER_ENTRY_H

#include "redis.h"

#include <stddef.h>
#include <stdint.h>

#define ROUTER_ENTRY_NAME_MAX 256 /* bytes of a router name */

typedef struct router_entry_s {
    char name[ROUTER_ENTRY_NAME_MAX + 1];
    uint64_t epoch;
    int64_t updated_ms;
} router_entry_t;

/* A router name: "host:port" (addr_split accepts it), at most ROUTER_ENTRY_NAME_MAX printable
 * bytes. 0 or HERALD_EINVAL. */
int router_entry_name_ok(const char *name);

/* The entry's JSON value into *out (heap, free() it). 0, or HERALD_EINVAL (epoch 0). */
int router_entry_encode(const router_entry_t *e, char **out);

/* Entry i (< router_entry_reply_count) of the reply of HGETALL <prefix>routers into e. 0, or
 * HERALD_EINVAL for an unreadable pair (bad name, not a JSON object, epoch not 16 hex digits or 0,
 * updated_ms not an integer): e->name then holds the field when it is a valid name, else "". */
size_t router_entry_reply_count(const redis_reply_t *reply);
int router_entry_reply_entry(const redis_reply_t *reply, size_t i, router_entry_t *e);

/* 1 when e's last write is more than ttl_ms before now_ms (wall clock ms), else 0. */
int router_entry_stale(const router_entry_t *e, int64_t now_ms, int64_t ttl_ms);

#endif
