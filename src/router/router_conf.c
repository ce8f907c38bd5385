/* router_conf.c - the key table of conf/router.ini. Keep conf/router.ini in step with it. */
#include "router_conf.h"

#include "router_table.h"

#include <stddef.h>

#define F(field) offsetof(router_conf_t, field)

const conf_item_t router_conf_items[] = {
    LOG_CONF_ITEMS(router_conf_t),
    {"rpc", "listen", CONF_STR, F(rpc_listen), "127.0.0.1:3129", 0, 0, NULL},
    {"admin", "listen", CONF_STR, F(admin_listen), "127.0.0.1:3128", 0, 0, NULL},
    HTTP_TLS_CONF_ITEMS(router_conf_t, "admin", admin_tls),
    {"placement", "max_conns_per_user", CONF_INT, F(max_conns), "16", 1, ROUTER_CONNS_MAX, NULL},
    {"placement", "overflow", CONF_ENUM, F(overflow), "kick-oldest", 0, 0,
     "kick-oldest|reject-new"},
    {"placement", "ttl", CONF_MS, F(ttl_ms), "10m", 1000, 7LL * 24 * 3600 * 1000, NULL},
    {"placement", "sweep_interval", CONF_MS, F(sweep_ms), "1s", 10, 60000, NULL},
    {"placement", "sweep_slots", CONF_INT, F(sweep_slots), "65536", 64, 1LL << 30, NULL},
    CLUSTER_CONF_ITEMS(router_conf_t),
    {"registry", "advertise", CONF_STR, F(registry_advertise), "", 0, 0, NULL},
    {"registry", "refresh", CONF_MS, F(registry_refresh_ms), "1s", 100, 60000, NULL},
    REDIS_CONF_ITEMS(router_conf_t),
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
