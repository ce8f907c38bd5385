/* router_conf.h - herald-router's configuration (conf/router.ini), loaded through conf.h. */
#ifndef ROUTER_CONF_H
#define ROUTER_CONF_H

#include "cluster.h"
#include "conf.h"
#include "log.h"
#include "http_tls.h"
#include "redis_conf.h"

#include <stdint.h>

/* Filled by conf_load(router_conf_items, ...); release the strings with
 * conf_free(router_conf_items, conf). */
typedef struct router_conf_s {
    log_conf_t log;              /* [log]: level, format, file */
    char *rpc_listen;            /* host:port of the Router RPC service */
    char *admin_listen;          /* host:port of the admin HTTP endpoint */
    http_tls_conf_t admin_tls;   /* [admin] tls_cert, tls_key: HTTPS on the admin port */
    int64_t max_conns;           /* connections per user */
    int overflow;                /* router_overflow_t */
    int64_t ttl_ms;              /* a placement expires this long after its last put or renew */
    int64_t sweep_ms;            /* interval of the expiry sweep */
    int64_t sweep_slots;         /* table slots examined per sweep tick */
    cluster_conf_t cluster;      /* [cluster]: the secret and the RPC server limits */
    char *registry_advertise;    /* [registry] advertise: name in the router registry, "" = none */
    int64_t registry_refresh_ms; /* [registry] refresh: period of the entry's rewrite */
    redis_conf_t redis;          /* [redis]: where the registry is (with advertise only) */
} router_conf_t;

extern const conf_item_t router_conf_items[];

#endif
