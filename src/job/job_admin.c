/* job_admin.c - /health, /ready and /metrics of herald-job (job_admin.h). */
#include "job_admin.h"

#include <stdio.h>

static json_t *on_health(void *arg)
{
    const job_admin_t *a = arg;
    json_t *data = json_object();
    job_comets_health(a->comets, data);
    job_deliver_health(a->deliver, data);
    return data;
}

/* Kafka counts as reachable once librdkafka's statistics show a broker up. */
static int kafka_up(const job_admin_t *a)
{
    return a->consumer != NULL && kafka_consumer_brokers_up(a->consumer) > 0;
}

static int on_ready(void *arg, json_t **data)
{
    const job_admin_t *a = arg;
    json_t *missing = json_array();
    if (!redis_connected(a->redis))
        json_array_append_new(missing, json_string("redis"));
    if (!kafka_up(a))
        json_array_append_new(missing, json_string("kafka"));
    if (!job_comets_ready(a->comets))
        json_array_append_new(missing, json_string("comets"));
    return admin_ready_result(data, missing, a->draining);
}

static json_t *on_metrics(void *arg)
{
    const job_admin_t *a = arg;
    json_t *data = on_health(arg);
    job_deliver_metrics(a->deliver, data);
    return data;
}

static void on_prometheus(void *arg, buf_t *out)
{
    const job_admin_t *a = arg;
    job_deliver_prometheus(a->deliver, out);
    job_comets_prometheus(a->comets, out);
    admin_prom_rpc_client(out, "job");
    metrics_gauge(out, "herald_job_redis_up", "1 while the Redis connection is up",
                  redis_connected(a->redis) ? 1 : 0);
    metrics_gauge(out, "herald_job_kafka_brokers_up",
                  "Kafka brokers up in librdkafka's last statistics (-1: none yet)",
                  a->consumer != NULL ? kafka_consumer_brokers_up(a->consumer) : -1);
    metrics_family(out, "herald_job_kafka_consumer_lag_messages", METRICS_GAUGE,
                   "Per partition: high watermark minus the committed offset (-1 unknown)");
    const kafka_partition_lag_t *lags = NULL;
    size_t n = a->consumer != NULL ? kafka_consumer_lag(a->consumer, &lags) : 0;
    for (size_t i = 0; i < n; i++) {
        char partition[16];
        snprintf(partition, sizeof partition, "%d", (int)lags[i].partition);
        metrics_label_t label = {"partition", partition};
        metrics_sample(out, "herald_job_kafka_consumer_lag_messages", &label, 1,
                       (double)lags[i].lag);
    }
}

const admin_ops_t job_admin_ops = {on_health, on_metrics, on_ready, on_prometheus};
