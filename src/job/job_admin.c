/* job_admin.c - /health and /metrics of herald-job. */
#include "job_admin.h"

#include "job_deliver.h"

#include <string.h>

void job_admin_on_request(http_request_t *req, void *arg)
{
    const job_deliver_t *d = arg;
    const char *path = http_request_path(req);
    int health = strcmp(path, "/health") == 0;
    if (!health && strcmp(path, "/metrics") != 0) {
        http_respond_reply(req, 404, -404, "not found", NULL);
        return;
    }
    if (strcmp(http_request_method(req), "GET") != 0) {
        http_respond_reply(req, 405, -405, "method not allowed", NULL);
        return;
    }
    size_t comets = job_comets_count(d->comets), connected = 0;
    for (size_t i = 0; i < comets; i++)
        connected += rpc_client_connected(job_comets_at(d->comets, i)->client) != 0;
    json_t *data = json_pack("{s:I, s:I, s:I, s:b}", "comets", (json_int_t)comets,
                             "comets_connected", (json_int_t)connected, "in_flight",
                             (json_int_t)d->in_flight, "paused", d->paused);
    if (!health) {
        const job_stats_t *s = &d->stats;
        json_object_update_new(
            data,
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "consumed",
                      (json_int_t)s->consumed, "malformed", (json_int_t)s->malformed, "delivered",
                      (json_int_t)s->delivered, "failed", (json_int_t)s->failed, "skipped",
                      (json_int_t)s->skipped, "retries", (json_int_t)s->retries, "batches",
                      (json_int_t)s->batches, "batched_messages", (json_int_t)s->batched_messages));
    }
    http_respond_reply(req, 200, 0, "ok", data);
}
