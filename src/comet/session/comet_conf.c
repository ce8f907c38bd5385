/* comet_conf.c - the table of comet's configuration keys. Keep conf/comet.ini in step. */
#include "comet_conf.h"

#include <stddef.h>

#define ITEM(sec, k, type, field, def, min, max)                                                   \
    {                                                                                              \
        sec, k, type, offsetof(comet_conf_t, field), def, min, max, NULL                           \
    }
#define DAY_MS (24LL * 3600 * 1000)

const conf_item_t comet_conf_items[] = {
    ITEM("server", "id", CONF_STR, server_id, "comet-1", 0, 0),
    ITEM("server", "advertise_host", CONF_STR, advertise_host, "127.0.0.1", 0, 0),
    ITEM("server", "workers", CONF_INT, workers, "0", 0, 256),
    ITEM("server", "weight", CONF_INT, weight, "1", 0, 1000000),
    ITEM("server", "renew_online_interval", CONF_MS, renew_online_interval, "10s", 100, DAY_MS),
    ITEM("server", "fanout_batch", CONF_INT, fanout_batch, "4096", 1, 1000000),
    ITEM("server", "drain_time", CONF_MS, drain_time, "10s", 0, 3600000),
    ITEM("tcp", "listen", CONF_STR, tcp_listen, "0.0.0.0:3101", 0, 0),
    ITEM("websocket", "listen", CONF_STR, ws_listen, "0.0.0.0:3102", 0, 0),
    ITEM("rpc", "listen", CONF_STR, rpc_listen, "127.0.0.1:3109", 0, 0),
    ITEM("admin", "listen", CONF_STR, admin_listen, "127.0.0.1:3108", 0, 0),
    HTTP_TLS_CONF_ITEMS(comet_conf_t, "admin", admin_tls),
    ITEM("tls", "listen", CONF_STR, tls_listen, "", 0, 0),
    ITEM("tls", "wss_listen", CONF_STR, wss_listen, "", 0, 0),
    ITEM("tls", "cert", CONF_STR, tls_cert, "", 0, 0),
    ITEM("tls", "key", CONF_STR, tls_key, "", 0, 0),
    {"tls", "min_version", CONF_ENUM, offsetof(comet_conf_t, tls_min_version), "1.2", 0, 0,
     "1.2|1.3"},
    ITEM("tls", "tickets", CONF_BOOL, tls_tickets, "on", 0, 0),
    ITEM("logic", "addrs", CONF_STR, logic_addrs, "127.0.0.1:3119", 0, 0),
    ITEM("logic", "rpc_timeout", CONF_MS, logic_rpc_timeout, "3s", 10, 600000),
    ITEM("protocol", "max_body", CONF_SIZE, max_body, "4096", 16, 1024 * 1024),
    ITEM("protocol", "auth_timeout", CONF_MS, auth_timeout, "10s", 100, DAY_MS),
    ITEM("protocol", "heartbeat_timeout", CONF_MS, heartbeat_timeout, "90s", 1000, DAY_MS),
    ITEM("protocol", "renew_interval", CONF_MS, renew_interval, "2m", 1000, DAY_MS),
    ITEM("protocol", "max_pending_bytes", CONF_SIZE, max_pending_bytes, "1m", 4096,
         1024LL * 1024 * 1024),
    ITEM("protocol", "max_msg", CONF_SIZE, max_msg, "2k", 1, 1024 * 1024),
    ITEM("protocol", "upstream_rate", CONF_INT, upstream_rate, "20", 0, 1000),
    LOG_CONF_ITEMS(comet_conf_t),
    CLUSTER_CONF_ITEMS(comet_conf_t),
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
