/* router_registry.h - this router's entry in the router registry (router_entry.h), so that
 * every logic finds it without a restart (docs/internals.md "Routers: discovery, epoch and
 * replay").
 *
 * With [registry] advertise set, the router connects to Redis ([redis]) and writes
 * routers[advertise] = {epoch, updated_ms} at once and every registry.refresh; a graceful stop
 * deletes it (a killed router's entry goes stale after logic's router.ttl). With advertise "",
 * nothing is written: logic then knows the router only from its router.addrs. Loop thread only.
 */
#ifndef ROUTER_REGISTRY_H
#define ROUTER_REGISTRY_H

#include "router_conf.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct router_registry_s router_registry_t;

/* Starts registering under conf->registry_advertise with epoch (conf borrowed: it must outlive
 * rg). Returns rg; or NULL with err[0] == '\0' when advertise is "" (nothing to do), or NULL
 * with the reason in err (a bad advertise name or [redis] section). */
router_registry_t *router_registry_new(uv_loop_t *loop, const router_conf_t *conf, uint64_t epoch,
                                       char *err, size_t errlen);

/* Deletes the entry (when Redis is connected), closes everything, frees rg, then cb(arg). */
void router_registry_close(router_registry_t *rg, void (*cb)(void *arg), void *arg);

#endif
