/* logic_http_info.c - read-only routes: online counts and comet nodes (goim's shapes, from the
 * in-memory aggregate). */
#include "buf.h"
#include "herald_err.h"
#include "logic_http.h"
#include "logic_online.h"
#include "logic_params.h"

#include <stdlib.h>

#define TOP_LIMIT_MAX 1000

static int type_param(logic_http_t *h, http_request_t *req, const char **type)
{
    *type = http_request_query(req, "type");
    if (*type == NULL || (*type)[0] == '\0') {
        logic_http_error(h, req, 400, "type is required");
        return HERALD_EINVAL;
    }
    return 0;
}

void logic_http_info_top(logic_http_t *h, http_request_t *req)
{
    const char *type;
    long long limit;
    char err[160];
    if (type_param(h, req, &type) != 0)
        return;
    if (logic_params_int(http_request_query(req, "limit"), "limit", 1, TOP_LIMIT_MAX, &limit, err,
                         sizeof(err)) != 0) {
        logic_http_error(h, req, 400, err);
        return;
    }
    logic_http_ok(h, req, logic_online_top(logic_http_ctx(h)->online, type, (size_t)limit));
}

void logic_http_info_room(logic_http_t *h, http_request_t *req)
{
    const char *type;
    if (type_param(h, req, &type) != 0)
        return;
    size_t n = http_request_query_all(req, "rooms", NULL, 0);
    if (n == 0 || n > LOGIC_PARAMS_MAX_TARGETS) {
        logic_http_error(h, req, 400, n ? "too many rooms" : "rooms is required");
        return;
    }
    const char **rooms = xcalloc(n, sizeof(*rooms));
    http_request_query_all(req, "rooms", rooms, n);
    logic_http_ok(h, req, logic_online_rooms(logic_http_ctx(h)->online, type, rooms, n));
    free(rooms);
}

void logic_http_info_total(logic_http_t *h, http_request_t *req)
{
    logic_http_ok(h, req, logic_online_total(logic_http_ctx(h)->online));
}

void logic_http_info_weighted(logic_http_t *h, http_request_t *req)
{
    logic_http_ok(h, req,
                  logic_online_weighted(logic_http_ctx(h)->online,
                                        http_request_query(req, "platform"),
                                        logic_http_ctx(h)->conf->heartbeat_ms));
}

void logic_http_info_instances(logic_http_t *h, http_request_t *req)
{
    logic_http_ok(h, req, logic_online_instances(logic_http_ctx(h)->online));
}
