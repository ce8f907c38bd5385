/* router_admin.c - /health and /metrics of herald-router. */
#include "router_admin.h"

#include "router_rpc.h"

#include <string.h>

void router_admin_on_request(http_request_t *req, void *arg)
{
    const router_rpc_t *r = arg;
    const char *path = http_request_path(req);
    int known = strcmp(path, "/health") == 0 || strcmp(path, "/metrics") == 0;
    if (!known) {
        http_respond_reply(req, 404, -404, "not found", NULL);
        return;
    }
    if (strcmp(http_request_method(req), "GET") != 0) {
        http_respond_reply(req, 405, -405, "method not allowed", NULL);
        return;
    }
    json_int_t users = (json_int_t)router_table_users(r->table);
    json_int_t conns = (json_int_t)router_table_conns(r->table);
    if (strcmp(path, "/health") == 0) {
        http_respond_reply(req, 200, 0, "ok",
                           json_pack("{s:I, s:I}", "users", users, "conns", conns));
        return;
    }
    const router_stats_t *s = &r->stats;
    http_respond_reply(req, 200, 0, "ok",
                       json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "users",
                                 users, "conns", conns, "puts", (json_int_t)s->puts, "gets",
                                 (json_int_t)s->gets, "dels", (json_int_t)s->dels, "renews",
                                 (json_int_t)s->renews, "lists", (json_int_t)s->lists, "evicted",
                                 (json_int_t)s->evicted, "rejected", (json_int_t)s->rejected,
                                 "expired", (json_int_t)s->expired));
}
