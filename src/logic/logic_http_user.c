/* logic_http_user.c - users and login (docs/im.md):
 *   POST /herald/v1/users?name=          register -> {"mid","name"}; 409 when the name is taken
 *   GET  /herald/v1/users?name=|mid=     look up  -> {"mid","name"}; 404
 *   POST /herald/v1/login?name=[&platform=]  -> {"mid","name","token","expires_in","platform",
 *                                                "comet":{"id","tcp","ws"}}
 *   POST /herald/v1/logout?token=        revoke the token, kick its connections -> {"kicked":N}
 */
#include "buf.h"
#include "herald_err.h"
#include "logic_http.h"
#include "logic_login.h"
#include "logic_login_conn.h"
#include "logic_login_kick.h"
#include "logic_online.h"
#include "logic_params.h"
#include "logic_token.h"
#include "logic_user.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLATFORM_MAX 32

static const char *user_error(int status)
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

/* The name parameter, validated; answers 400 and returns NULL when it is bad. */
static const char *name_param(logic_http_t *h, http_request_t *req)
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

/* ------------------------------------------------------------------ register and look up */

static void on_user(int status, int64_t mid, const char *name, void *arg)
{
    logic_http_pending_t *p = arg;
    if (status != 0)
        logic_http_finish_error(p, status == HERALD_EEXIST ? 409 : logic_http_status(status),
                                user_error(status));
    else
        logic_http_finish_ok(p, json_pack("{s:I,s:s}", "mid", (json_int_t)mid, "name", name));
}

void logic_http_user_create(logic_http_t *h, http_request_t *req)
{
    const char *name = name_param(h, req);
    if (name == NULL)
        return;
    logic_http_pending_t *p = logic_http_suspend(h, req);
    int rc = logic_user_create(logic_http_ctx(h), name, on_user, p);
    if (rc != 0)
        logic_http_finish_error(p, logic_http_status(rc), user_error(rc));
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
    } else if ((name = name_param(h, req)) == NULL) {
        return;
    }
    logic_http_pending_t *p = logic_http_suspend(h, req);
    int rc =
        name ? logic_user_by_name(ctx, name, on_user, p) : logic_user_by_mid(ctx, mid, on_user, p);
    if (rc != 0)
        logic_http_finish_error(p, logic_http_status(rc), user_error(rc));
}

/* ------------------------------------------------------------------------------- login */

typedef struct login_ctx_s {
    const logic_ctx_t *ctx;
    logic_http_pending_t *p;
    char platform[PLATFORM_MAX + 1];
    char name[LOGIC_USER_NAME_MAX + 1];
    char token[LOGIC_TOKEN_HEX + 1];
    int64_t mid;
    json_t *comet;
} login_ctx_t;

static void login_finish_error(login_ctx_t *c, int status, const char *message)
{
    logic_http_finish_error(c->p, status, message);
    json_decref(c->comet);
    free(c);
}

static void on_login_token(int status, int64_t mid, void *arg)
{
    login_ctx_t *c = arg;
    if (status != 0) {
        login_finish_error(c, logic_http_status(status), "redis unavailable");
        return;
    }
    json_t *data =
        json_pack("{s:I,s:s,s:s,s:I,s:s,s:o}", "mid", (json_int_t)mid, "name", c->name, "token",
                  c->token, "expires_in", (json_int_t)(c->ctx->conf->auth_token_ttl_ms / 1000),
                  "platform", c->platform, "comet", c->comet);
    logic_http_finish_ok(c->p, data);
    free(c);
}

static void on_login_user(int status, int64_t mid, const char *name, void *arg)
{
    login_ctx_t *c = arg;
    if (status != 0) {
        login_finish_error(c, logic_http_status(status), user_error(status));
        return;
    }
    c->mid = mid;
    /* Picked after the user is known: the hash strategy needs the id. */
    const logic_online_comet_t *oc = logic_login_pick(c->ctx->login, mid);
    if (oc == NULL) {
        login_finish_error(c, 503, "no comet available");
        return;
    }
    char ws[REGISTRY_ADDR_MAX + 16] = "";
    if (oc->e.ws[0] != '\0')
        snprintf(ws, sizeof(ws), "ws://%s/sub", oc->e.ws);
    /* registry entries are printable ASCII: json_pack takes every string */
    c->comet = json_pack("{s:s,s:s,s:s}", "id", oc->e.id, "tcp", oc->e.tcp, "ws", ws);
    snprintf(c->name, sizeof(c->name), "%s", name);
    int rc = logic_token_issue(c->ctx, mid, c->ctx->conf->auth_token_ttl_ms / 1000, c->token,
                               on_login_token, c);
    if (rc != 0)
        login_finish_error(c, logic_http_status(rc), "redis unavailable");
}

void logic_http_user_login(logic_http_t *h, http_request_t *req)
{
    const char *name = name_param(h, req);
    if (name == NULL)
        return;
    const char *platform = http_request_query(req, "platform");
    size_t plen = platform ? strlen(platform) : 0;
    for (size_t i = 0; i < plen; i++)
        if (platform[i] <= ' ' || platform[i] > '~')
            plen = PLATFORM_MAX + 1;
    if (plen > PLATFORM_MAX) {
        logic_http_error(h, req, 400, "bad platform: up to 32 printable characters");
        return;
    }
    login_ctx_t *c = xcalloc(1, sizeof(*c));
    c->ctx = logic_http_ctx(h);
    snprintf(c->platform, sizeof(c->platform), "%s", platform ? platform : "");
    c->p = logic_http_suspend(h, req);
    int rc = logic_user_by_name(c->ctx, name, on_login_user, c);
    if (rc != 0)
        login_finish_error(c, logic_http_status(rc), "redis unavailable");
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
