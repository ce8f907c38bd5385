/* logic_http_user.c - users (docs/im.md); registration and login are in
 * logic_http_user_login.c:
 *   GET  /herald/v1/users?name=|mid=     look up  -> {"mid","name"}; 404
 *   POST /herald/v1/logout?token=        revoke the token, kick its connections -> {"kicked":N}
 */
#include "buf.h"
#include "herald_err.h"
#include "logic_http_user.h"
#include "logic_login_conn.h"
#include "logic_login_kick.h"
#include "logic_params.h"
#include "logic_token.h"
#include "logic_user.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *logic_http_user_error(int status)
{
    switch (status) {
    case HERALD_EEXIST:
        return "name taken";
    case HERALD_ENOTFOUND:
        return "no such user";
    default:
        return "redis unavailable";
    }
}

const char *logic_http_user_name(logic_http_t *h, http_request_t *req)
{
    const char *name = http_request_query(req, "name");
    if (name == NULL || name[0] == '\0') {
        logic_http_error(h, req, 400, "name is required");
        return NULL;
    }
    if (logic_user_name_ok(name) != 0) {
        logic_http_error(h, req, 400, "bad name: 1-32 of A-Z a-z 0-9 _ . -, not only digits");
        return NULL;
    }
    return name;
}

/* ---------------------------------------------------------------------------- look up */

static void on_user(int status, int64_t mid, const char *name, void *arg)
{
    logic_http_pending_t *p = arg;
    if (status != 0)
        logic_http_finish_error(p, logic_http_status(status), logic_http_user_error(status));
    else
        logic_http_finish_ok(p, json_pack("{s:I,s:s}", "mid", (json_int_t)mid, "name", name));
}

void logic_http_user_get(logic_http_t *h, http_request_t *req)
{
    const logic_ctx_t *ctx = logic_http_ctx(h);
    const char *mid_s = http_request_query(req, "mid");
    int64_t mid = 0;
    const char *name = NULL;
    if (mid_s != NULL && mid_s[0] != '\0') {
        if (logic_params_mid(mid_s, &mid) != 0) {
            logic_http_error(h, req, 400, "bad mid");
            return;
        }
    } else if ((name = logic_http_user_name(h, req)) == NULL) {
        return;
    }
    logic_http_pending_t *p = logic_http_suspend(h, req);
    int rc =
        name ? logic_user_by_name(ctx, name, on_user, p) : logic_user_by_mid(ctx, mid, on_user, p);
    if (rc != 0)
        logic_http_finish_error(p, logic_http_status(rc), logic_http_user_error(rc));
}

/* ------------------------------------------------------------------------------ logout */

typedef struct logout_ctx_s {
    const logic_ctx_t *ctx;
    logic_http_pending_t *p;
    char token[LOGIC_TOKEN_HEX + 1];
    int64_t mid;
} logout_ctx_t;

static void logout_finish(logout_ctx_t *c, int status, json_t *data)
{
    if (status != 0)
        logic_http_finish_error(c->p, logic_http_status(status),
                                status == HERALD_EAUTH ? "unknown or expired token"
                                                       : "backend unavailable");
    else
        logic_http_finish_ok(c->p, data);
    free(c);
}

/* Kicks the connections that authenticated with this token, one Kick call per comet. */
static void on_logout_conns(int status, const logic_login_conn_t *conns, size_t n, void *arg)
{
    logout_ctx_t *c = arg;
    if (status != 0) {
        logout_finish(c, status, NULL);
        return;
    }
    size_t kicked = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(conns[i].token, c->token) != 0)
            continue;
        logic_login_kick(c->ctx, conns[i].server, &conns[i].key, 1, "logout");
        kicked++;
    }
    logout_finish(c, 0,
                  json_pack("{s:I,s:I}", "mid", (json_int_t)c->mid, "kicked", (json_int_t)kicked));
}

static void on_logout_revoked(int status, int64_t existed, void *arg)
{
    logout_ctx_t *c = arg;
    (void)existed;
    int rc = status != 0 ? status : logic_login_conn_list(c->ctx, c->mid, on_logout_conns, c);
    if (rc != 0)
        logout_finish(c, rc, NULL);
}

static void on_logout_token(int status, int64_t mid, void *arg)
{
    logout_ctx_t *c = arg;
    c->mid = mid;
    int rc = status != 0 ? status : logic_token_revoke(c->ctx, c->token, on_logout_revoked, c);
    if (rc != 0)
        logout_finish(c, rc, NULL);
}

void logic_http_user_logout(logic_http_t *h, http_request_t *req)
{
    const char *token = http_request_query(req, "token");
    if (token == NULL || logic_token_ok(token) != 0) {
        logic_http_error(h, req, 400, "token is required");
        return;
    }
    logout_ctx_t *c = xcalloc(1, sizeof(*c));
    c->ctx = logic_http_ctx(h);
    snprintf(c->token, sizeof(c->token), "%s", token);
    c->p = logic_http_suspend(h, req);
    int rc = logic_token_resolve(c->ctx, token, on_logout_token, c);
    if (rc != 0)
        logout_finish(c, rc, NULL);
}
