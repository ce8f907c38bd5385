/* job_admin.c - /health, /ready and /metrics of herald-job (job_admin.h). */
#include "job_admin.h"

static json_t *on_health(void *arg)
{
    const job_admin_t *a = arg;
    json_t *data = json_object();
    job_comets_health(a->comets, data);
    job_deliver_health(a->deliver, data);
    return data;
}

static int on_ready(void *arg, json_t **data)
{
    const job_admin_t *a = arg;
    *data = on_health(arg);
    return redis_connected(a->redis) && job_comets_ready(a->comets);
}

static json_t *on_metrics(void *arg)
{
    const job_admin_t *a = arg;
    json_t *data = on_health(arg);
    job_deliver_metrics(a->deliver, data);
    return data;
}

const admin_ops_t job_admin_ops = {on_health, on_metrics, on_ready};
