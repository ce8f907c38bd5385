/* job_conf.c - the key table of conf/job.ini. Keep conf/job.ini in step with it. */
#include "job_conf.h"

#include <stddef.h>

#define F(field) offsetof(job_conf_t, field)
#define HOUR (3600LL * 1000)

const conf_item_t job_conf_items[] = {
    LOG_CONF_ITEMS(job_conf_t),
    {"admin", "listen", CONF_STR, F(admin_listen), "127.0.0.1:3148", 0, 0, NULL},
    HTTP_TLS_CONF_ITEMS(job_conf_t, "admin", admin_tls),
    {"kafka", "brokers", CONF_STR, F(kafka_brokers), "127.0.0.1:9092", 0, 0, NULL},
    {"kafka", "topic", CONF_STR, F(kafka_topic), "herald-push", 0, 0, NULL},
    {"kafka", "group", CONF_STR, F(kafka_group), "herald-job", 0, 0, NULL},
    {"kafka", "max_in_flight", CONF_INT, F(max_in_flight), "10000", 1, 10000000, NULL},
    {"kafka", "fetch_wait_max", CONF_MS, F(kafka_fetch_wait_ms), "10ms", 1, 5000, NULL},
    {"kafka", "session_timeout", CONF_MS, F(kafka_session_timeout_ms), "6s", 300, 300000, NULL},
    {"kafka", "property.", CONF_PROPS, F(kafka_props), NULL, 0, 0, NULL},
    REDIS_CONF_ITEMS(job_conf_t),
    {"comet", "refresh", CONF_MS, F(comet_refresh_ms), "2s", 10, HOUR, NULL},
    {"comet", "ttl", CONF_MS, F(comet_ttl_ms), "30s", 100, 24 * HOUR, NULL},
    {"comet", "rpc_timeout", CONF_MS, F(comet_rpc_timeout_ms), "3s", 10, HOUR, NULL},
    {"comet", "retries", CONF_INT, F(comet_retries), "3", 0, 100, NULL},
    {"comet", "retry_backoff", CONF_MS, F(comet_retry_backoff_ms), "100ms", 1, 60000, NULL},
    {"room", "refresh", CONF_MS, F(room_refresh_ms), "1s", 10, HOUR, NULL},
    {"room", "batch_max", CONF_INT, F(room_batch_max), "64", 1, 100000, NULL},
    {"room", "batch_bytes", CONF_SIZE, F(room_batch_bytes), "256k", 1024, 8LL << 20, NULL},
    {"room", "linger", CONF_MS, F(room_linger_ms), "20ms", 0, 1000, NULL},
    {"server", "shutdown_timeout", CONF_MS, F(shutdown_timeout_ms), "5s", 0, HOUR, NULL},
    CLUSTER_CONF_ITEMS(job_conf_t),
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL},
};
