/* logic_http_token.c - POST /herald/v1/tokens?mid=&ttl=[&rooms=...] and
 * DELETE /herald/v1/tokens?token=. */
#include "buf.h"
#include "herald_err.h"
#include "logic_http.h"
#include "logic_params.h"
#include "logic_token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TTL_MAX_S (10LL * 365 * 24 * 3600)

typedef struct issue_ctx_s {
    logic_http_pending_t *p;
    char token[LOGIC_TOKEN_HEX + 1];
    int64_t ttl_s;
} issue_ctx_t;

static void on_issued(int status, int64_t mid, void *arg)
{
    issue_ctx_t *c = arg;
    if (status != 0)
        logic_http_finish_error(c->p, logic_http_status(status), "redis unavailable");
    else
        logic_http_finish_ok(c->p, json_pack("{s:s,s:I,s:I}", "token", c->token, "mid",
                                             (json_int_t)mid, "expires_in", (json_int_t)c->ttl_s));
    free(c);
}

/* The repeated rooms= values (the rooms the token lets its client join when room.join = token):
 * 0, or 400 answered. */
static int token_rooms(logic_http_t *h, http_request_t *req, logic_rooms_t *rooms)
{
    const char *ids[LOGIC_ROOMS_MAX];
    size_t n = http_request_query_all(req, "rooms", ids, LOGIC_ROOMS_MAX);
    if (n > LOGIC_ROOMS_MAX) {
        char err[40];
        snprintf(err, sizeof(err), "at most %d rooms", LOGIC_ROOMS_MAX);
        logic_http_error(h, req, 400, err);
        return HERALD_EINVAL;
    }
    for (size_t i = 0; i < n; i++)
        if (logic_rooms_add(rooms, ids[i], strlen(ids[i])) != 0) {
            logic_rooms_deinit(rooms);
            logic_http_error(h, req, 400, "bad room id in rooms");
            return HERALD_EINVAL;
        }
    return 0;
}

void logic_http_token_issue(logic_http_t *h, http_request_t *req)
{
    char err[160];
    int64_t mid;
    const logic_ctx_t *ctx = logic_http_ctx(h);
    long long ttl = ctx->conf->auth_token_ttl_ms / 1000;
    const char *mid_s = http_request_query(req, "mid"), *ttl_s = http_request_query(req, "ttl");
    if (mid_s == NULL || mid_s[0] == '\0') {
        logic_http_error(h, req, 400, "mid is required");
        return;
    }
    if (logic_params_mid(mid_s, &mid) != 0) {
        logic_http_error(h, req, 400, "bad mid");
        return;
    }
    if (ttl_s != NULL && ttl_s[0] != '\0' &&
        logic_params_int(ttl_s, "ttl", 1, TTL_MAX_S, &ttl, err, sizeof(err)) != 0) {
        logic_http_error(h, req, 400, err);
        return;
    }
    logic_rooms_t rooms = {0};
    if (token_rooms(h, req, &rooms) != 0)
        return;
    issue_ctx_t *c = xcalloc(1, sizeof(*c));
    c->ttl_s = ttl;
    c->p = logic_http_suspend(h, req);
    int rc = logic_token_issue_rooms(ctx, mid, ttl, &rooms, c->token, on_issued, c);
    logic_rooms_deinit(&rooms);
    if (rc != 0) {
        logic_http_finish_error(c->p, logic_http_status(rc), "redis unavailable");
        free(c);
    }
}

static void on_revoked(int status, int64_t existed, void *arg)
{
    logic_http_pending_t *p = arg;
    if (status != 0)
        logic_http_finish_error(p, logic_http_status(status), "redis unavailable");
    else
        logic_http_finish_ok(p, json_pack("{s:b}", "revoked", existed != 0));
}

void logic_http_token_revoke(logic_http_t *h, http_request_t *req)
{
    const char *token = http_request_query(req, "token");
    if (token == NULL || token[0] == '\0') {
        logic_http_error(h, req, 400, "token is required");
        return;
    }
    if (logic_token_ok(token) != 0) {
        logic_http_error(h, req, 400, "bad token");
        return;
    }
    logic_http_pending_t *p = logic_http_suspend(h, req);
    int rc = logic_token_revoke(logic_http_ctx(h), token, on_revoked, p);
    if (rc != 0)
        logic_http_finish_error(p, logic_http_status(rc), "redis unavailable");
}
