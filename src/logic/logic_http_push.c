/* logic_http_push.c - POST /goim/push/{keys,mids,room,all}: validate, then the one push path. */
#include "herald_err.h"
#include "logic_http.h"
#include "logic_params.h"
#include "logic_push.h"

static void on_push_done(int status, const char *message, json_t *data, void *arg)
{
    logic_http_pending_t *p = arg;
    if (status == 0)
        logic_http_finish_ok(p, data);
    else
        logic_http_finish_error(p, logic_http_status(status), message);
}

static void push(logic_http_t *h, http_request_t *req, logic_push_kind_t kind)
{
    char err[200];
    logic_query_t q;
    logic_http_query(req, &q);
    size_t len;
    const char *body = http_request_body(req, &len);
    logic_push_req_t preq;
    /* Everything is checked here, before any backend sees the request. */
    if (logic_params_push(&q, kind, body, len, &preq, err, sizeof(err)) != 0) {
        logic_http_error(h, req, 400, err);
        return;
    }
    logic_http_pending_t *p = logic_http_suspend(h, req);
    int rc = logic_push_start(logic_http_ctx(h)->push, &preq, on_push_done, p, err, sizeof(err));
    if (rc != 0)
        logic_http_finish_error(p, logic_http_status(rc), err);
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
