/* logic_http_push.c - POST /goim/push/{keys,mids,room,all}: validate, then the one push path.
 * With idempotency_key=K, the push runs once per K and route within push.idempotency_window
 * (logic_idem.h): a retry answers the first call's data and pushes nothing. */
#include "buf.h"
#include "herald_err.h"
#include "logic_http.h"
#include "logic_idem.h"
#include "logic_params.h"
#include "logic_push.h"

#include <stdlib.h>
#include <string.h>

static const char *const route_names[] = {"keys", "mids", "room", "all"};

/* A push on its way through the idempotency claim. Freed when answered. */
typedef struct idem_push_s {
    logic_http_pending_t *p;
    const logic_ctx_t *ctx;
    logic_push_req_t preq;
    const char *route;
    char key[LOGIC_IDEM_KEY_MAX + 1];
} idem_push_t;

static void on_push_done(int status, const char *message, json_t *data, void *arg)
{
    logic_http_pending_t *p = arg;
    if (status == 0) {
        logic_http_finish_ok(p, data);
        return;
    }
    json_decref(data);
    logic_http_finish_error(p, logic_http_status(status), message);
}

/* The claimed push's outcome is kept for retries: its data on success, and also when it failed
 * after the inbox store (data non-NULL then), since running it again would store it twice. */
static void on_idem_push_done(int status, const char *message, json_t *data, void *arg)
{
    idem_push_t *ip = arg;
    if (status == 0 || data != NULL)
        logic_idem_record(ip->ctx, ip->route, ip->key, data);
    else
        logic_idem_release(ip->ctx, ip->route, ip->key);
    on_push_done(status, message, data, ip->p);
    free(ip);
}

static void idem_push_free(idem_push_t *ip)
{
    logic_push_req_deinit(&ip->preq);
    free(ip);
}

static void on_claimed(int status, logic_idem_state_t state, const char *reply, size_t len,
                       void *arg)
{
    idem_push_t *ip = arg;
    char err[200];
    if (status != 0) {
        logic_http_finish_error(ip->p, 503, "redis unavailable: the idempotency key not checked");
    } else if (state == LOGIC_IDEM_RUNNING) {
        logic_http_finish_error(ip->p, 409,
                                "a push with this idempotency_key is still running; retry later");
    } else if (state == LOGIC_IDEM_DONE) {
        json_t *data = json_loadb(reply, len, JSON_DECODE_ANY, NULL);
        if (json_is_null(data)) { /* the first call answered no data */
            json_decref(data);
            data = NULL;
        }
        logic_http_finish_ok(ip->p, data); /* steals data */
    } else {
        int rc =
            logic_push_start(ip->ctx->push, &ip->preq, on_idem_push_done, ip, err, sizeof(err));
        if (rc == 0)
            return; /* ip lives until on_idem_push_done */
        logic_idem_release(ip->ctx, ip->route, ip->key);
        logic_http_finish_error(ip->p, logic_http_status(rc), err);
    }
    idem_push_free(ip);
}

static void push(logic_http_t *h, http_request_t *req, logic_push_kind_t kind)
{
    char err[200];
    logic_query_t q;
    logic_http_query(req, &q);
    size_t len;
    const char *body = http_request_body(req, &len);
    const char *idem_key = q.get(q.ctx, "idempotency_key");
    if (idem_key != NULL && logic_idem_key_ok(idem_key) != 0) {
        logic_http_error(h, req, 400,
                         "bad idempotency_key: 1 to 128 printable characters, no space");
        return;
    }
    logic_push_req_t preq;
    /* Everything is checked here, before any backend sees the request. */
    if (logic_params_push(&q, kind, body, len, &preq, err, sizeof(err)) != 0) {
        logic_http_error(h, req, 400, err);
        return;
    }
    const logic_ctx_t *ctx = logic_http_ctx(h);
    logic_http_pending_t *p = logic_http_suspend(h, req);
    if (idem_key == NULL) {
        int rc = logic_push_start(ctx->push, &preq, on_push_done, p, err, sizeof(err));
        if (rc != 0)
            logic_http_finish_error(p, logic_http_status(rc), err);
        return;
    }
    idem_push_t *ip = xcalloc(1, sizeof(*ip));
    ip->p = p;
    ip->ctx = ctx;
    ip->preq = preq;
    ip->route = route_names[kind];
    strcpy(ip->key, idem_key); /* logic_idem_key_ok bounded it */
    if (logic_idem_claim(ctx, ip->route, ip->key, on_claimed, ip) != 0) {
        logic_http_finish_error(p, 503, "redis unavailable: the idempotency key not checked");
        idem_push_free(ip);
    }
}

void logic_http_push_keys(logic_http_t *h, http_request_t *req)
{
    push(h, req, LOGIC_PUSH_KEYS);
}

void logic_http_push_mids(logic_http_t *h, http_request_t *req)
{
    push(h, req, LOGIC_PUSH_MIDS);
}

void logic_http_push_room(logic_http_t *h, http_request_t *req)
{
    push(h, req, LOGIC_PUSH_ROOM);
}

void logic_http_push_all(logic_http_t *h, http_request_t *req)
{
    push(h, req, LOGIC_PUSH_ALL);
}
