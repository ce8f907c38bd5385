/* logic_conf.c - the key table of conf/logic.ini. Defaults here and in the file must agree. */
#include "logic_conf.h"

#include <stddef.h>

#define F(field) offsetof(logic_conf_t, field)
#define DAY_MS (24LL * 3600 * 1000)

const conf_item_t logic_conf_items[] = {
    {"http", "listen", CONF_STR, F(http_listen), "0.0.0.0:3111", 0, 0, NULL},
    {"http", "max_body", CONF_SIZE, F(http_max_body), "64k", 1, 64LL << 20, NULL},
    {"http", "web_root", CONF_STR, F(http_web_root), "web", 0, 0, NULL},
    {"rpc", "listen", CONF_STR, F(rpc_listen), "127.0.0.1:3119", 0, 0, NULL},
    {"rpc", "timeout", CONF_MS, F(rpc_timeout_ms), "1s", 10, 60000, NULL},
    {"redis", "addr", CONF_STR, F(redis_addr), "127.0.0.1:6379", 0, 0, NULL},
    {"redis", "password", CONF_STR, F(redis_password), "", 0, 0, NULL},
    {"redis", "db", CONF_INT, F(redis_db), "0", 0, 1 << 16, NULL},
    {"redis", "prefix", CONF_STR, F(redis_prefix), "herald:", 0, 0, NULL},
    {"kafka", "brokers", CONF_STR, F(kafka_brokers), "127.0.0.1:9092", 0, 0, NULL},
    {"kafka", "topic", CONF_STR, F(kafka_topic), "herald-push", 0, 0, NULL},
    {"router", "addrs", CONF_STR, F(router_addrs), "127.0.0.1:3129", 0, 0, NULL},
    {"auth", "mode", CONF_ENUM, F(auth_mode), "token", 0, 0, "token|insecure-mid"},
    {"auth", "bearer_key", CONF_STR, F(auth_bearer_key), "", 0, 0, NULL},
    {"auth", "token_ttl", CONF_MS, F(auth_token_ttl_ms), "24h", 1000, 3650 * DAY_MS, NULL},
    {"protocol", "heartbeat", CONF_MS, F(heartbeat_ms), "30s", 1000, 3600 * 1000, NULL},
    {"registry", "ttl", CONF_MS, F(registry_ttl_ms), "30s", 1000, DAY_MS, NULL},
    {"registry", "refresh", CONF_MS, F(registry_refresh_ms), "5s", 100, 3600 * 1000, NULL},
    {"login", "strategy", CONF_ENUM, F(login_strategy), "round-robin", 0, 0,
     "round-robin|least-conn|hash"},
    {"login", "duplicate", CONF_ENUM, F(login_duplicate), "allow", 0, 0,
     "allow|kick-older|reject-newer"},
    {"login", "duplicate_platforms", CONF_STR, F(login_duplicate_platforms), "", 0, 0, NULL},
    {"kafka", "events_topic", CONF_STR, F(kafka_events_topic), "herald-events", 0, 0, NULL},
    {"events", "callback_url", CONF_STR, F(events_callback_url), "", 0, 0, NULL},
    {"events", "callback_timeout", CONF_MS, F(events_callback_timeout_ms), "3s", 100, 60000, NULL},
    {"events", "callback_queue", CONF_INT, F(events_callback_queue), "100000", 1, 10000000, NULL},
    {"inbox", "max_count", CONF_INT, F(inbox_max_count), "1000", 1, 1000000, NULL},
    {"inbox", "max_age", CONF_MS, F(inbox_max_age_ms), "168h", 1000, 3650 * DAY_MS, NULL},
    {"inbox", "page_bytes", CONF_SIZE, F(inbox_page_bytes), "256k", 4096, 8LL << 20, NULL},
    {"log", "level", CONF_ENUM, F(log_level), "info", 0, 0, "debug|info|warn|error"},
    CLUSTER_CONF_ITEMS(logic_conf_t),
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
