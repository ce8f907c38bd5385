/* kafka_stats.c - see kafka_stats.h. */
#include "kafka_stats.h"

#include "buf.h"
#include "herald_err.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int by_partition(const void *a, const void *b)
{
    const kafka_partition_lag_t *x = a, *y = b;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

int kafka_stats_update(kafka_stats_t *st, const char *json, size_t len, const char *topic)
{
    json_t *root = json_loadb(json, len, 0, NULL);
    json_t *brokers = json_object_get(root, "brokers");
    if (!json_is_object(root) || !json_is_object(brokers)) {
        json_decref(root);
        return HERALD_EPROTO;
    }
    int up = 0;
    const char *name;
    json_t *b;
    json_object_foreach(brokers, name, b)
    {
        /* Bootstrap entries (node id -1) stand for addresses, not brokers. */
        json_int_t id = json_integer_value(json_object_get(b, "nodeid"));
        const char *state = json_string_value(json_object_get(b, "state"));
        if (id >= 0 && state != NULL && strcmp(state, "UP") == 0)
            up++;
    }
    json_t *parts =
        json_object_get(json_object_get(json_object_get(root, "topics"), topic), "partitions");
    size_t n = json_is_object(parts) ? json_object_size(parts) : 0;
    kafka_partition_lag_t *lags = xmalloc((n ? n : 1) * sizeof *lags);
    size_t k = 0;
    json_t *p;
    json_object_foreach(parts, name, p)
    {
        json_int_t id = json_integer_value(json_object_get(p, "partition"));
        json_t *lag = json_object_get(p, "consumer_lag");
        /* Partition -1 is librdkafka's holder of messages not yet assigned a partition. */
        if (id < 0 || !json_is_integer(lag))
            continue;
        lags[k].partition = (int32_t)id;
        lags[k].lag = (int64_t)json_integer_value(lag);
        k++;
    }
    qsort(lags, k, sizeof *lags, by_partition);
    json_decref(root);
    free(st->lags);
    st->lags = lags;
    st->nlags = k;
    st->brokers_up = up;
    st->seen = 1;
    return 0;
}

void kafka_stats_deinit(kafka_stats_t *st)
{
    free(st->lags);
    st->lags = NULL;
    st->nlags = 0;
}
