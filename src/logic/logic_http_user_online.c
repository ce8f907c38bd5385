/* logic_http_user_online.c - online users, asked of every router shard (docs/im.md):
 *   GET /herald/v1/online/count                  -> {"users":N,"conns":N}
 *   GET /herald/v1/online/users?cursor=&limit=   -> {"users":[{"mid","name"}],"next_cursor":N}
 * Users are listed by id, ascending; pass next_cursor back for the next page (0: done).
 */
#include "buf.h"
#include "herald_err.h"
#include "logic_http.h"
#include "logic_params.h"
#include "logic_router.h"
#include "logic_user.h"
#include "rpc_methods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT 100
#define LIST_MAX 1000

/* One request fanned out to every shard; answers when the last shard did. */
typedef struct fan_s fan_t;
struct fan_s {
    const logic_ctx_t *ctx;
    logic_http_pending_t *p;
    size_t waiting;
    int failed;
    void (*finish)(fan_t *f); /* every shard answered */
    int64_t users, conns;     /* Count */
    int64_t *mids;            /* List: every shard's page, merged */
    size_t n, limit;
    int more;
    json_t *page; /* List: [{"mid","name"}], names filled by logic_user_names */
};

static void fan_free(fan_t *f)
{
    free(f->mids);
    json_decref(f->page);
    free(f);
}

static void fan_step(fan_t *f)
{
    if (--f->waiting > 0)
        return;
    if (f->failed) {
        logic_http_finish_error(f->p, 503, "a router is unavailable");
        fan_free(f);
        return;
    }
    f->finish(f);
}

/* Sends req to every router; each reply callback records and calls fan_step. */
static void fan_out(fan_t *f, uint16_t method, const ProtobufCMessage *req,
                    const ProtobufCMessageDescriptor *desc, logic_router_reply_cb on_reply)
{
    logic_router_t *r = logic_ctx_router(f->ctx);
    size_t n = r ? logic_router_count(r) : 0;
    f->waiting = 1; /* held until every call is started */
    f->failed = n == 0;
    for (size_t i = 0; i < n; i++) {
        f->waiting++;
        if (logic_router_call_at(r, i, method, req, desc, on_reply, f) != 0) {
            f->waiting--;
            f->failed = 1;
        }
    }
    fan_step(f);
}

static fan_t *fan_new(logic_http_t *h, http_request_t *req, void (*finish)(fan_t *f))
{
    fan_t *f = xcalloc(1, sizeof(*f));
    f->ctx = logic_http_ctx(h);
    f->finish = finish;
    f->p = logic_http_suspend(h, req);
    return f;
}

/* ------------------------------------------------------------------------------- count */

static void on_count(int status, const ProtobufCMessage *msg, void *arg)
{
    fan_t *f = arg;
    if (status != 0) {
        f->failed = 1;
    } else {
        const Herald__CountReply *r = (const Herald__CountReply *)msg;
        f->users += r->users;
        f->conns += r->conns;
    }
    fan_step(f);
}

static void count_finish(fan_t *f)
{
    logic_http_finish_ok(
        f->p, json_pack("{s:I,s:I}", "users", (json_int_t)f->users, "conns", (json_int_t)f->conns));
    fan_free(f);
}

void logic_http_user_online_count(logic_http_t *h, http_request_t *req)
{
    Herald__CountReq creq = HERALD__COUNT_REQ__INIT;
    fan_out(fan_new(h, req, count_finish), RPC_ROUTER_COUNT, (const ProtobufCMessage *)&creq,
            &herald__count_reply__descriptor, on_count);
}

/* -------------------------------------------------------------------------------- list */

static void on_list(int status, const ProtobufCMessage *msg, void *arg)
{
    fan_t *f = arg;
    if (status != 0) {
        f->failed = 1;
    } else {
        const Herald__ListReply *r = (const Herald__ListReply *)msg;
        size_t take = r->n_mids < f->limit ? r->n_mids : f->limit; /* a shard may ignore limit */
        f->mids = xrealloc(f->mids, (f->n + take + 1) * sizeof(*f->mids));
        if (take > 0) /* an empty page has no array at all (r->mids is NULL) */
            memcpy(f->mids + f->n, r->mids, take * sizeof(*f->mids));
        f->n += take;
        f->more |= r->next_cursor != 0 || take < r->n_mids;
    }
    fan_step(f);
}

static int mid_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void names_finish(fan_t *f)
{
    int64_t next = f->more && f->n > 0 ? f->mids[f->n - 1] : 0;
    json_t *data = json_pack("{s:O,s:I}", "users", f->page, "next_cursor", (json_int_t)next);
    logic_http_finish_ok(f->p, data);
    fan_free(f);
}

static void on_names(int status, void *arg)
{
    fan_t *f = arg;
    if (status != 0) {
        logic_http_finish_error(f->p, 503, "redis unavailable");
        fan_free(f);
        return;
    }
    names_finish(f);
}

/* Every shard answered: keep the lowest `limit` ids, then read their names. */
static void list_finish(fan_t *f)
{
    qsort(f->mids, f->n, sizeof(*f->mids), mid_cmp);
    if (f->n > f->limit) {
        f->n = f->limit;
        f->more = 1;
    }
    f->page = json_array();
    for (size_t i = 0; i < f->n; i++)
        json_array_append_new(f->page, json_pack("{s:I}", "mid", (json_int_t)f->mids[i]));
    if (f->n == 0)
        names_finish(f);
    else if (logic_user_names(f->ctx, f->page, on_names, f) != 0)
        on_names(HERALD_EUNAVAIL, f);
}

void logic_http_user_online_users(logic_http_t *h, http_request_t *req)
{
    char err[160];
    long long cursor = 0, limit = LIST_DEFAULT;
    const char *cs = http_request_query(req, "cursor"), *ls = http_request_query(req, "limit");
    if ((cs && cs[0] && logic_params_int(cs, "cursor", 0, INT64_MAX, &cursor, err, sizeof(err))) ||
        (ls && ls[0] && logic_params_int(ls, "limit", 1, LIST_MAX, &limit, err, sizeof(err)))) {
        logic_http_error(h, req, 400, err);
        return;
    }
    fan_t *f = fan_new(h, req, list_finish);
    f->limit = (size_t)limit;
    Herald__ListReq lreq = HERALD__LIST_REQ__INIT;
    lreq.cursor = cursor;
    lreq.limit = (int32_t)limit;
    fan_out(f, RPC_ROUTER_LIST, (const ProtobufCMessage *)&lreq, &herald__list_reply__descriptor,
            on_list);
}
