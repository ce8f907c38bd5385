/* kafka_stats.h - internal to the Kafka adapter: what herald reads of librdkafka's statistics
 * (the JSON document librdkafka hands its stats_cb every statistics.interval.ms): how many brokers
 * are up and, per partition of the topic, the consumer lag.
 *
 * The consumer lag of a partition is librdkafka's consumer_lag: the partition's high watermark
 * minus the group's committed offset, so messages job has consumed but not yet committed (still
 * being delivered) count as lag. -1 when librdkafka does not know it yet. Loop thread only.
 */
#ifndef HERALD_KAFKA_STATS_H
#define HERALD_KAFKA_STATS_H

#include "kafka.h"

#include <stddef.h>
#include <stdint.h>

#define KAFKA_STATS_INTERVAL_MS "1000"

typedef struct kafka_stats_s {
    int seen;                    /* a statistics document was read */
    int brokers_up;              /* brokers (with a node id) whose state is UP */
    kafka_partition_lag_t *lags; /* partitions of the topic librdkafka tracks, ascending */
    size_t nlags;
} kafka_stats_t;

/* Replaces st's content with what json (librdkafka's statistics, len bytes) says about topic.
 * Returns 0, or HERALD_EPROTO when json is not such a document (st left as it was). */
int kafka_stats_update(kafka_stats_t *st, const char *json, size_t len, const char *topic);

void kafka_stats_deinit(kafka_stats_t *st);

#endif
