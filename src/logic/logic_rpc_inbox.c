/* logic_rpc_inbox.c - Fetch: a range of a user's inbox for a comet that saw a gap in a
 * connection's stream of user pushes, or continues a backlog past its first page. */
#include "buf.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "logic_inbox.h"
#include "logic_rpc.h"

#include <stdlib.h>

static void on_fetched(int status, const logic_inbox_page_t *page, void *arg)
{
    rpc_call_t *call = arg;
    if (status != 0) {
        rpc_reply_error(call, status, "redis unavailable");
        return;
    }
    Herald__FetchReply out = HERALD__FETCH_REPLY__INIT;
    out.n_protos = page->n;
    out.protos = page->protos;
    out.recovered = page->recovered;
    out.last_seq = page->last;
    out.newest_seq = page->cur;
    rpc_reply(call, (const ProtobufCMessage *)&out);
}

void logic_rpc_inbox_fetch(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    logic_rpc_t *r = arg;
    const Herald__FetchReq *req = (const Herald__FetchReq *)msg;
    if (req->mid < 0 || req->after_seq > INT64_MAX || req->upto_seq > INT64_MAX ||
        (req->upto_seq != 0 && req->upto_seq <= req->after_seq)) {
        rpc_reply_error(call, HERALD_EINVAL, "bad fetch range");
        return;
    }
    logic_rpc_count(r, LOGIC_RPC_FETCHES);
    logic_inbox_from_t from = {0};
    from.has_after = 1;
    from.after = req->after_seq;
    from.upto = req->upto_seq;
    int rc = logic_inbox_read(logic_rpc_ctx(r), req->mid, &from, on_fetched, call);
    if (rc != 0)
        rpc_reply_error(call, rc, "redis unavailable");
}
