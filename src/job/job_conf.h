/* job_conf.h - herald-job's configuration (conf/job.ini), loaded through conf.h. */
#ifndef JOB_CONF_H
#define JOB_CONF_H

#include "cluster.h"
#include "conf.h"
#include "log.h"
#include "http_tls.h"
#include "redis_conf.h"

#include <stdint.h>

/* Filled by conf_load(job_conf_items, ...); release the strings with
 * conf_free(job_conf_items, conf). */
typedef struct job_conf_s {
    log_conf_t log;            /* [log]: level, format, file */
    char *admin_listen;        /* host:port of the admin HTTP endpoint */
    http_tls_conf_t admin_tls; /* [admin] tls_cert, tls_key: HTTPS on the admin port */
    char *kafka_brokers;       /* bootstrap servers */
    char *kafka_topic;
    char *kafka_group;
    int64_t max_in_flight;            /* messages consumed and not yet done before pausing */
    int64_t kafka_fetch_wait_ms;      /* longest a broker holds an empty fetch (see kafka.h) */
    int64_t kafka_session_timeout_ms; /* group session: a dead job's partitions move after it */
    conf_props_t kafka_props;         /* [kafka] property.*: librdkafka settings (kafka.h) */
    redis_conf_t redis;               /* [redis]: where, how to authenticate, the key prefix */
    int64_t comet_refresh_ms;         /* registry read interval */
    int64_t comet_ttl_ms;             /* registry entries older than this are dead */
    int64_t comet_rpc_timeout_ms;
    int64_t comet_retries;          /* retries of a call that timed out or lost its connection */
    int64_t comet_retry_backoff_ms; /* first retry delay, doubled per retry */
    int64_t room_refresh_ms;        /* Rooms poll interval */
    int64_t room_batch_max;         /* messages per BroadcastRoom call */
    int64_t room_batch_bytes;       /* body bytes per BroadcastRoom call */
    int64_t room_linger_ms;         /* a room stays busy this long after each call is sent */
    int64_t shutdown_timeout_ms;    /* wait for in-flight deliveries on SIGTERM */
    cluster_conf_t cluster;         /* [cluster]: the secret and the RPC server limits */
} job_conf_t;

extern const conf_item_t job_conf_items[];

#endif
