/* logic_http_user_login.c - IM registration and login with a password (docs/im.md):
 *   POST /herald/v1/users?name=   body {"password":"..."}  -> {"mid","name"}; 409 name taken
 *   POST /herald/v1/login?name=[&platform=]  body {"password":"..."}
 *        -> {"mid","name","token","expires_in","platform","comet":{"id","tcp","ws","tls","wss"}}
 *           (tcp and tls "host:port", ws and wss URLs; "" for a listener the comet does not have)
 * Both answer 403 when login.mode = off, and 429 with Retry-After over their rate limits:
 * registrations per client address; login attempts per name and per address, where a right
 * password gives its attempt back, so only failures count (logic_limit.h). The password travels
 * in the body, never in the URL (URLs end up in proxies' logs), and is never logged or returned.
 */
#include "buf.h"
#include "herald_err.h"
#include "logic_http_user.h"
#include "logic_limit.h"
#include "logic_login.h"
#include "logic_online.h"
#include "logic_password.h"
#include "logic_token.h"
#include "logic_user.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLATFORM_MAX 32
#define WRONG "wrong name or password"

/* One registration or login, from the request to its answer. Heap, freed by finish_*. */
typedef struct login_ctx_s {
    const logic_ctx_t *ctx;
    logic_http_pending_t *p;
    char name[LOGIC_USER_NAME_MAX + 1];
    char password[LOGIC_PASSWORD_MAX + 1]; /* wiped as soon as it is hashed or checked */
    size_t password_len;
    char platform[PLATFORM_MAX + 1];
    char token[LOGIC_TOKEN_HEX + 1];
    logic_limit_t limits[LOGIC_LIMIT_KEYS_MAX]; /* the buckets this request took from */
    size_t nlimits;
    int64_t mid;
    json_t *comet;
} login_ctx_t;

static void ctx_free(login_ctx_t *c)
{
    json_decref(c->comet);
    sodium_memzero(c, sizeof(*c));
    free(c);
}

static void finish_error(login_ctx_t *c, int status, const char *message)
{
    logic_http_finish_error(c->p, status, message);
    ctx_free(c);
}

static void finish_ok(login_ctx_t *c, json_t *data)
{
    logic_http_finish_ok(c->p, data);
    ctx_free(c);
}

/* Answers an error of logic_password_* or of the accounts. */
static void finish_status(login_ctx_t *c, int status)
{
    if (status == HERALD_ERATE)
        finish_error(c, 503, "too many password checks in progress, try again");
    else if (status == HERALD_EINTERNAL)
        finish_error(c, 500, "password hashing failed");
    else
        finish_error(c, logic_http_status(status), logic_http_user_error(status));
}

/* The JSON body's "password", checked (logic_password_ok), into c; answers 400 when it is
 * missing or bad. Returns 0 or -1. */
static int password_param(logic_http_t *h, http_request_t *req, login_ctx_t *c)
{
    if (http_request_query(req, "password") != NULL) {
        logic_http_error(h, req, 400, "send the password in the body, never in the URL");
        return -1;
    }
    size_t blen;
    const char *body = http_request_body(req, &blen);
    json_t *j = body ? json_loadb(body, blen, 0, NULL) : NULL;
    json_t *pw = json_object_get(j, "password");
    size_t len = json_is_string(pw) ? json_string_length(pw) : 0;
    int ok = json_is_string(pw) && logic_password_ok(json_string_value(pw), len) == 0;
    if (ok) {
        memcpy(c->password, json_string_value(pw), len);
        c->password_len = len;
    }
    json_decref(j); /* jansson does not wipe it: the body is in memory as long anyway */
    if (!ok)
        logic_http_error(h, req, 400, "body must be {\"password\":\"...\"} of 8 to 128 bytes");
    return ok ? 0 : -1;
}

/* A new request's context, or NULL when it was answered already (mode off, bad parameters). */
static login_ctx_t *begin(logic_http_t *h, http_request_t *req, const char *what)
{
    const logic_ctx_t *ctx = logic_http_ctx(h);
    if (ctx->conf->login_mode == LOGIC_LOGIN_OFF) {
        char msg[96];
        snprintf(msg, sizeof(msg), "IM %s is off (login.mode = off): use the business tokens",
                 what);
        logic_http_error(h, req, 403, msg);
        return NULL;
    }
    const char *name = logic_http_user_name(h, req);
    if (name == NULL)
        return NULL;
    login_ctx_t *c = xcalloc(1, sizeof(*c));
    c->ctx = ctx;
    snprintf(c->name, sizeof(c->name), "%s", name);
    if (password_param(h, req, c) != 0) {
        ctx_free(c);
        return NULL;
    }
    return c;
}

/* Adds the bucket "<kind>:<detail>" of limit (burst, refill ms) to c. */
static void add_limit(login_ctx_t *c, const char *kind, const char *detail, int64_t burst,
                      int64_t refill_ms)
{
    logic_limit_t *l = &c->limits[c->nlimits++];
    snprintf(l->what, sizeof(l->what), "%s:%s", kind, detail);
    l->burst = burst;
    l->refill_us = refill_ms * 1000;
}

/* The client's address as a bucket name part; "unknown" when MHD has none (then all such
 * clients share one bucket, which errs on the side of limiting). */
static void peer_part(http_request_t *req, char *out, size_t len)
{
    struct sockaddr_storage ss;
    if (http_request_peer(req, &ss) == 0)
        logic_limit_addr(&ss, out, len);
    else
        snprintf(out, len, "unknown");
}

/* The answer of logic_limit_take: 1 when it answered the request (Redis failed: 503; a bucket
 * is empty: 429 with Retry-After) and freed c, 0 when the request may go on. */
static int limited(login_ctx_t *c, int status, int64_t retry_ms, const char *message)
{
    if (status != 0) {
        finish_error(c, 503, "redis unavailable");
        return 1;
    }
    if (retry_ms == 0)
        return 0;
    logic_http_finish_limited(c->p, retry_ms, message);
    ctx_free(c);
    return 1;
}

/* ---------------------------------------------------------------------------- register */

static void on_registered(int status, int64_t mid, const char *name, void *arg)
{
    login_ctx_t *c = arg;
    if (status != 0)
        finish_error(c, status == HERALD_EEXIST ? 409 : logic_http_status(status),
                     logic_http_user_error(status));
    else
        finish_ok(c, json_pack("{s:I,s:s}", "mid", (json_int_t)mid, "name", name));
}

static void on_hashed(int status, const char *hash, void *arg)
{
    login_ctx_t *c = arg;
    int rc = status != 0 ? status : logic_user_create(c->ctx, c->name, hash, on_registered, c);
    if (rc != 0)
        finish_status(c, rc);
}

static void on_register_limit(int status, int64_t retry_ms, void *arg)
{
    login_ctx_t *c = arg;
    if (limited(c, status, retry_ms, "too many registrations from this address"))
        return;
    int rc = logic_password_hash(c->ctx->password, c->password, c->password_len, on_hashed, c);
    sodium_memzero(c->password, sizeof(c->password));
    if (rc != 0)
        finish_status(c, rc);
}

void logic_http_user_create(logic_http_t *h, http_request_t *req)
{
    login_ctx_t *c = begin(h, req, "registration");
    if (c == NULL)
        return;
    const logic_conf_t *conf = c->ctx->conf;
    char addr[64];
    peer_part(req, addr, sizeof(addr));
    add_limit(c, "register:addr", addr, conf->login_register_burst, conf->login_register_refill_ms);
    c->p = logic_http_suspend(h, req);
    int rc = logic_limit_take(c->ctx, c->limits, c->nlimits, on_register_limit, c);
    if (rc != 0)
        finish_error(c, logic_http_status(rc), "redis unavailable");
}

/* ------------------------------------------------------------------------------- login */

static void on_login_token(int status, int64_t mid, void *arg)
{
    login_ctx_t *c = arg;
    if (status != 0) {
        finish_error(c, logic_http_status(status), "redis unavailable");
        return;
    }
    json_t *data =
        json_pack("{s:I,s:s,s:s,s:I,s:s,s:O}", "mid", (json_int_t)mid, "name", c->name, "token",
                  c->token, "expires_in", (json_int_t)(c->ctx->conf->auth_token_ttl_ms / 1000),
                  "platform", c->platform, "comet", c->comet);
    finish_ok(c, data);
}

/* The password was right: the attempt is given back, then a comet and a token. */
static void on_verified(int status, void *arg)
{
    login_ctx_t *c = arg;
    if (status != 0) { /* HERALD_EAUTH, the only failure of a check */
        finish_error(c, 401, WRONG);
        return;
    }
    logic_limit_refund(c->ctx, c->limits, c->nlimits);
    /* Picked after the user is known: the hash strategy needs the id. */
    const logic_online_comet_t *oc = logic_login_pick(c->ctx->login, c->mid);
    if (oc == NULL) {
        finish_error(c, 503, "no comet available");
        return;
    }
    char ws[REGISTRY_ADDR_MAX + 16] = "", wss[REGISTRY_ADDR_MAX + 16] = "";
    if (oc->e.ws[0] != '\0')
        snprintf(ws, sizeof(ws), "ws://%s/sub", oc->e.ws);
    if (oc->e.wss[0] != '\0')
        snprintf(wss, sizeof(wss), "wss://%s/sub", oc->e.wss);
    /* registry entries are printable ASCII: json_pack takes every string */
    c->comet = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", oc->e.id, "tcp", oc->e.tcp, "ws", ws, "tls",
                         oc->e.tls, "wss", wss);
    int rc = logic_token_issue(c->ctx, c->mid, c->ctx->conf->auth_token_ttl_ms / 1000, c->token,
                               on_login_token, c);
    if (rc != 0)
        finish_error(c, logic_http_status(rc), "redis unavailable");
}

/* An unknown name and an account without a password answer as a wrong password, after as
 * long (a decoy check), and their attempt stays charged. */
static void on_credential(int status, int64_t mid, const char *pass_hash, void *arg)
{
    login_ctx_t *c = arg;
    int rc = status;
    if (rc == 0 && pass_hash == NULL)
        rc = HERALD_ENOTFOUND;
    if (rc == 0) {
        c->mid = mid;
        rc = logic_password_verify(c->ctx->password, pass_hash, c->password, c->password_len,
                                   on_verified, c);
    } else if (rc == HERALD_ENOTFOUND) {
        rc = logic_password_verify_decoy(c->ctx->password, c->password, c->password_len,
                                         on_verified, c);
    }
    sodium_memzero(c->password, sizeof(c->password));
    if (rc != 0)
        finish_status(c, rc);
}

static void on_login_limit(int status, int64_t retry_ms, void *arg)
{
    login_ctx_t *c = arg;
    if (limited(c, status, retry_ms, "too many failed logins, try again later"))
        return;
    int rc = logic_user_credential(c->ctx, c->name, on_credential, c);
    if (rc != 0)
        finish_error(c, logic_http_status(rc), "redis unavailable");
}

/* The platform parameter (up to PLATFORM_MAX printable characters) into c; answers 400 and
 * returns -1 when it is bad. */
static int platform_param(logic_http_t *h, http_request_t *req, login_ctx_t *c)
{
    const char *platform = http_request_query(req, "platform");
    size_t plen = platform ? strlen(platform) : 0;
    for (size_t i = 0; i < plen; i++)
        if (platform[i] <= ' ' || platform[i] > '~')
            plen = PLATFORM_MAX + 1;
    if (plen > PLATFORM_MAX) {
        logic_http_error(h, req, 400, "bad platform: up to 32 printable characters");
        return -1;
    }
    snprintf(c->platform, sizeof(c->platform), "%s", platform ? platform : "");
    return 0;
}

void logic_http_user_login(logic_http_t *h, http_request_t *req)
{
    login_ctx_t *c = begin(h, req, "login");
    if (c == NULL)
        return;
    if (platform_param(h, req, c) != 0) {
        ctx_free(c);
        return;
    }
    const logic_conf_t *conf = c->ctx->conf;
    char addr[64];
    peer_part(req, addr, sizeof(addr));
    add_limit(c, "login:name", c->name, conf->login_name_burst, conf->login_name_refill_ms);
    add_limit(c, "login:addr", addr, conf->login_addr_burst, conf->login_addr_refill_ms);
    c->p = logic_http_suspend(h, req);
    int rc = logic_limit_take(c->ctx, c->limits, c->nlimits, on_login_limit, c);
    if (rc != 0)
        finish_error(c, logic_http_status(rc), "redis unavailable");
}
