/* logic_rpc_im.c - upstream IM: Receive (OpSendMsg from a client) and Ack (op 18). */
#include "buf.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "logic_body.h"
#include "logic_events.h"
#include "logic_inbox.h"
#include "logic_limit.h"
#include "logic_params.h"
#include "logic_push.h"
#include "logic_rpc.h"
#include "logic_user.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OP_SEND_MSG 4
#define ACK_MAX_ENTRIES 1024

/* ------------------------------------------------------------------------------- Receive */

typedef struct receive_s {
    rpc_call_t *call;
    logic_rpc_t *r;
    logic_push_req_t preq; /* until handed to the push path */
} receive_t;

static void receive_reply(rpc_call_t *call, logic_rpc_t *r, int code, const char *message)
{
    logic_rpc_count(r, code == 0 ? LOGIC_RPC_RECEIVES : LOGIC_RPC_RECEIVE_FAILURES);
    Herald__ReceiveReply out = HERALD__RECEIVE_REPLY__INIT;
    out.code = code;
    out.message = (char *)(code == 0 ? "ok" : message);
    rpc_reply(call, (const ProtobufCMessage *)&out);
}

static void receive_fail(receive_t *r, int code, const char *message)
{
    receive_reply(r->call, r->r, code, message);
    logic_push_req_deinit(&r->preq);
    free(r);
}

static void on_pushed(int status, const char *message, json_t *data, void *arg)
{
    receive_t *r = arg;
    json_decref(data); /* the per-user seqs are for HTTP callers; the sender gets code only */
    receive_reply(r->call, r->r, status, message);
    free(r);
}

/* Publishes the message event: the envelope receivers get, plus the op. */
static void publish_event(const logic_ctx_t *ctx, const logic_push_req_t *preq)
{
    if (ctx->events == NULL)
        return;
    json_t *ev = json_loadb((const char *)preq->msg, preq->msg_len, 0, NULL);
    if (ev == NULL)
        return;
    json_object_set_new(ev, "type", json_string("message"));
    json_object_set_new(ev, "op", json_integer(preq->operation));
    logic_events_publish(ctx->events, preq->from_mid, ev);
}

/* The sender's name is known (or the sender has no account: null): wrap and push. */
static void on_sender(int status, int64_t mid, const char *name, void *arg)
{
    receive_t *r = arg;
    const logic_ctx_t *ctx = logic_rpc_ctx(r->r);
    (void)mid;
    char err[200];
    if (status != 0 && status != HERALD_ENOTFOUND) {
        receive_fail(r, status, "redis unavailable");
        return;
    }
    if (logic_user_wrap(&r->preq, status == 0 ? name : NULL) != 0) {
        receive_fail(r, HERALD_EINTERNAL, "cannot wrap the message");
        return;
    }
    publish_event(ctx, &r->preq);
    int rc = logic_push_start(ctx->push, &r->preq, on_pushed, r, err, sizeof(err));
    if (rc != 0) {
        receive_reply(r->call, r->r, rc, err);
        free(r);
    }
}

/* The sender is within chat.sender_rate: find its name. */
static void on_sender_limit(int status, int64_t retry_ms, void *arg)
{
    receive_t *r = arg;
    int rc = status;
    if (rc == 0 && retry_ms > 0) {
        receive_fail(r, HERALD_ERATE, "over the sender's message rate (chat.sender_rate)");
        return;
    }
    if (rc == 0)
        rc = logic_user_by_mid(logic_rpc_ctx(r->r), r->preq.from_mid, on_sender, r);
    if (rc != 0)
        receive_fail(r, rc, "redis unavailable");
}

/* A private message (to_mid) or a group message (to_room) goes down the same push path as the
 * HTTP API's mids and room pushes, with the sender as from_mid. Receivers get the envelope of
 * logic_user_wrap, which names the sender (docs/im.md). Every message first takes from its
 * sender's bucket (chat.sender_rate, in Redis: every connection of the sender, on any comet and
 * through any logic, draws from the same one). */
void logic_rpc_im_receive(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    logic_rpc_t *rpc = arg;
    const Herald__ReceiveReq *req = (const Herald__ReceiveReq *)msg;
    char err[200];
    if (req->mid < 0 || req->proto == NULL || req->proto->op != OP_SEND_MSG) {
        receive_reply(call, rpc, HERALD_EINVAL, "not an OpSendMsg");
        return;
    }
    logic_push_req_t preq;
    int rc = logic_body_upstream(req->proto->body.data, req->proto->body.len, req->mid,
                                 req->room_id, &preq, err, sizeof(err));
    if (rc != 0) {
        receive_reply(call, rpc, rc, err);
        return;
    }
    receive_t *r = xmalloc(sizeof(*r));
    *r = (receive_t){call, rpc, preq};
    const logic_conf_t *conf = logic_rpc_ctx(rpc)->conf;
    if (conf->chat_sender_rate == 0) { /* no limit: no round trip */
        on_sender_limit(0, 0, r);
        return;
    }
    logic_limit_t lim = {.burst = conf->chat_sender_burst,
                         .refill_us = 1000000 / conf->chat_sender_rate};
    snprintf(lim.what, sizeof(lim.what), "chat:%lld", (long long)req->mid);
    rc = logic_limit_take(logic_rpc_ctx(rpc), &lim, 1, on_sender_limit, r);
    if (rc != 0)
        receive_fail(r, rc, "redis unavailable");
}

/* ----------------------------------------------------------------------------------- Ack */

typedef struct ack_s {
    rpc_call_t *call;
    logic_rpc_t *r;
    size_t pending;
    int failed;
} ack_t;

static void on_acked(int status, const redis_reply_t *reply, void *arg)
{
    ack_t *a = arg;
    if (status != 0 || redis_reply_type(reply) != REDIS_REPLY_T_INTEGER)
        a->failed = 1;
    else
        logic_rpc_count(a->r, LOGIC_RPC_ACKS);
    if (--a->pending > 0)
        return;
    if (a->failed) {
        rpc_reply_error(a->call, HERALD_EUNAVAIL, "redis unavailable");
    } else {
        Herald__AckReply out = HERALD__ACK_REPLY__INIT;
        rpc_reply(a->call, (const ProtobufCMessage *)&out);
    }
    free(a);
}

void logic_rpc_im_ack(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    logic_rpc_t *r = arg;
    const Herald__AckReq *req = (const Herald__AckReq *)msg;
    if (req->n_acks > ACK_MAX_ENTRIES) {
        rpc_reply_error(call, HERALD_EINVAL, "too many acks");
        return;
    }
    /* Validate every entry before writing any. The position belongs to the device when the
     * client named one (it survives reconnects), else to the connection key. */
    for (size_t i = 0; i < req->n_acks; i++) {
        const Herald__AckEntry *e = req->acks[i];
        const char *who = e->device && e->device[0] ? e->device : e->key;
        if (e->mid < 0 || who == NULL || logic_params_key_ok(who, strlen(who)) != 0 ||
            e->seq > INT64_MAX) {
            rpc_reply_error(call, HERALD_EINVAL, "bad ack entry");
            return;
        }
    }
    if (req->n_acks == 0) {
        Herald__AckReply out = HERALD__ACK_REPLY__INIT;
        rpc_reply(call, (const ProtobufCMessage *)&out);
        return;
    }
    ack_t *a = xcalloc(1, sizeof(*a));
    a->call = call;
    a->r = r;
    for (size_t i = 0; i < req->n_acks; i++) {
        const Herald__AckEntry *e = req->acks[i];
        const char *who = e->device && e->device[0] ? e->device : e->key;
        /* Forward only, so a late or repeated ack never moves the position back. */
        if (logic_inbox_position(logic_rpc_ctx(r), LOGIC_INBOX_ACK, e->mid, who, e->seq, on_acked,
                                 a) != 0)
            break; /* only the first can be refused (see logic_push.c): nothing in flight */
        a->pending++;
    }
    if (a->pending == 0) {
        rpc_reply_error(call, HERALD_EUNAVAIL, "redis unavailable");
        free(a);
    }
}
