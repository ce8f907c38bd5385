/* comet_sync.c - see comet_sync.h. */
#include "comet_sync.h"

#include "comet_worker.h"
#include "herald_err.h"
#include "log.h"
#include "rpc_methods.h"

#include <stdlib.h>

/* Attempts of one Fetch before the connection is told to resync (each bounded by
 * logic.rpc_timeout, and each going to the next logic). */
#define SYNC_TRIES 3

/* The Fetch in flight for a connection (c->sync). Holds a reference on it. */
struct comet_sync_s {
    comet_conn_t *conn;
    uint64_t want; /* the connection must reach at least this seq before it writes live again */
    int tries;
};

uint32_t comet_sync_append(comet_conn_t *c, buf_t *out, Herald__Proto *const *protos, size_t n)
{
    uint32_t packets = 0;
    for (size_t i = 0; i < n; i++) {
        const Herald__Proto *p = protos[i];
        if (p == NULL || p->seq <= c->last_seq)
            continue; /* held already (a live push, or an overlapping page) */
        c->last_seq = p->seq;
        if (!comet_accepts_has(&c->accepts, p->op))
            continue;
        comet_conn_append_packet(c, out, (uint32_t)p->op, p->seq, p->body.data, p->body.len);
        packets++;
    }
    return packets;
}

static void sync_fetch(comet_sync_t *sy);

/* The connection is up to date: live pushes are written again. */
static void sync_done(comet_sync_t *sy)
{
    sy->conn->sync = NULL;
    comet_conn_unref(sy->conn);
    free(sy);
}

static void sync_resync(comet_sync_t *sy, const char *why)
{
    comet_conn_t *c = sy->conn;
    log_warn_rl("key=%s: %s: asking the client to reconnect", c->key, why);
    sync_done(sy);
    comet_conn_kick_reason(c, "resync");
}

static void on_fetched(int status, const ProtobufCMessage *msg, void *arg)
{
    comet_sync_t *sy = arg;
    comet_conn_t *c = sy->conn;
    if (c->state != COMET_CONN_AUTHED) {
        sync_done(sy);
        return;
    }
    if (status != 0) {
        if (++sy->tries < SYNC_TRIES)
            sync_fetch(sy);
        else
            sync_resync(sy, "fetching missed messages failed");
        return;
    }
    const Herald__FetchReply *r = (const Herald__FetchReply *)msg;
    if (r->newest_seq < c->last_seq) {
        /* Every number this connection wrote came from that counter: it was reset. */
        sync_resync(sy, "the user's sequence went back");
        return;
    }
    comet_worker_t *w = comet_conn_worker(c);
    uint64_t before = c->last_seq;
    buf_t *out = &w->out;
    out->len = 0;
    uint32_t packets = comet_sync_append(c, out, r->protos, r->n_protos);
    /* Numbers the inbox no longer held are passed over: the client sees the jump in seq. */
    if (r->last_seq > c->last_seq)
        c->last_seq = r->last_seq;
    if (packets > 0) {
        uv_buf_t b = uv_buf_init((char *)out->data, (unsigned)out->len);
        if (comet_conn_send(c, &b, 1, NULL, packets, 0) != 0 || c->state != COMET_CONN_AUTHED) {
            sync_done(sy); /* closed, or kicked as a slow consumer */
            return;
        }
    }
    if (r->newest_seq > sy->want)
        sy->want = r->newest_seq;
    if (c->last_seq >= sy->want) {
        sync_done(sy);
        return;
    }
    /* Short of want: a page limit, or live pushes stored after this read. A reply without
     * progress can only be the latter; a logic that keeps answering so is not trusted. */
    sy->tries = c->last_seq > before ? 0 : sy->tries + 1;
    if (sy->tries < SYNC_TRIES)
        sync_fetch(sy);
    else
        sync_resync(sy, "fetching missed messages made no progress");
}

/* Asks logic for the user's inbox after c->last_seq, up to the newest (a page at a time). */
static void sync_fetch(comet_sync_t *sy)
{
    comet_conn_t *c = sy->conn;
    comet_worker_t *w = comet_conn_worker(c);
    Herald__FetchReq req = HERALD__FETCH_REQ__INIT;
    req.mid = c->mid;
    req.after_seq = c->last_seq;
    COMET_STAT_ADD(&w->stats, fetches, 1);
    if (comet_logic_call(&w->logic, RPC_LOGIC_FETCH, &req.base, &herald__fetch_reply__descriptor, 0,
                         on_fetched, sy) != 0)
        sync_resync(sy, "no logic to fetch missed messages from");
}

/* Starts catching up to `want` (0: to the newest at the first reply). */
static void sync_start(comet_conn_t *c, uint64_t want)
{
    comet_sync_t *sy = xcalloc(1, sizeof *sy);
    sy->conn = c;
    sy->want = want;
    comet_conn_ref(c);
    c->sync = sy;
    sync_fetch(sy);
}

void comet_sync_begin(comet_conn_t *c, uint64_t newest, int missed)
{
    if (c->last_seq == 0 || c->last_seq > newest)
        c->last_seq = newest; /* no backlog: the connection starts at the newest */
    if (c->last_seq < newest)
        sync_start(c, newest); /* the backlog continues past its first page */
    else if (missed)
        sync_start(c, 0);
}

int comet_sync_push(comet_conn_t *c, uint64_t seq)
{
    if (seq <= c->last_seq) {
        COMET_STAT_ADD(&comet_conn_worker(c)->stats, duplicates, 1);
        return 0;
    }
    if (c->sync != NULL) {
        if (seq > c->sync->want)
            c->sync->want = seq;
        return 0;
    }
    if (seq == c->last_seq + 1) {
        c->last_seq = seq;
        return 1;
    }
    sync_start(c, seq);
    return 0;
}
