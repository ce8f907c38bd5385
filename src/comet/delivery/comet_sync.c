/* comet_sync.c - see comet_sync.h. */
#include "comet_sync.h"

#include "herald_err.h"
#include "log.h"
#include "rpc_methods.h"

#include <stdlib.h>

/* Attempts of one Fetch before the channel is told to resync (each bounded by
 * logic.rpc_timeout, and each going to the next logic). */
#define SYNC_TRIES 3

/* The Fetch in flight for a channel (ch->upper). Holds a reference on it. */
typedef struct sync_s {
    comet_channel_t *ch;
    uint64_t want; /* the channel must reach at least this seq before it writes live again */
    int tries;
} sync_t;

static void sync_fetch(sync_t *sy);

/* The channel is up to date: live pushes are written again. */
static void sync_done(sync_t *sy)
{
    sy->ch->upper = NULL;
    comet_channel_unref(sy->ch);
    free(sy);
}

static void sync_resync(sync_t *sy, const char *why)
{
    comet_channel_t *ch = sy->ch;
    log_warn_rl("key=%s: %s: asking the client to reconnect", ch->id.key, why);
    sync_done(sy);
    comet_conn_kick_reason(&ch->conn, "resync");
}

static void on_fetched(int status, const ProtobufCMessage *msg, void *arg)
{
    sync_t *sy = arg;
    comet_channel_t *ch = sy->ch;
    if (ch->state != COMET_CHANNEL_AUTHED) {
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
    if (r->newest_seq < ch->last_seq) {
        /* Every number this channel wrote came from that counter: it was reset. */
        sync_resync(sy, "the user's sequence went back");
        return;
    }
    comet_session_t *s = comet_channel_session(ch);
    uint64_t before = ch->last_seq;
    buf_t *out = &s->out;
    out->len = 0;
    uint32_t packets = comet_channel_append_protos(ch, out, r->protos, r->n_protos);
    /* Numbers the inbox no longer held are passed over: the client sees the jump in seq. */
    if (r->last_seq > ch->last_seq)
        ch->last_seq = r->last_seq;
    if (packets > 0) {
        uv_buf_t b = uv_buf_init((char *)out->data, (unsigned)out->len);
        if (comet_conn_send(&ch->conn, &b, 1, NULL, packets, 0) != 0 ||
            ch->state != COMET_CHANNEL_AUTHED) {
            sync_done(sy); /* closed, or kicked as a slow consumer */
            return;
        }
    }
    if (r->newest_seq > sy->want)
        sy->want = r->newest_seq;
    if (ch->last_seq >= sy->want) {
        sync_done(sy);
        return;
    }
    /* Short of want: a page limit, or live pushes stored after this read. A reply without
     * progress can only be the latter; a logic that keeps answering so is not trusted. */
    sy->tries = ch->last_seq > before ? 0 : sy->tries + 1;
    if (sy->tries < SYNC_TRIES)
        sync_fetch(sy);
    else
        sync_resync(sy, "fetching missed messages made no progress");
}

/* Asks logic for the user's inbox after ch->last_seq, up to the newest (a page at a time). */
static void sync_fetch(sync_t *sy)
{
    comet_channel_t *ch = sy->ch;
    comet_session_t *s = comet_channel_session(ch);
    Herald__FetchReq req = HERALD__FETCH_REQ__INIT;
    req.mid = ch->mid;
    req.after_seq = ch->last_seq;
    COMET_STAT_ADD(s->stats, fetches, 1);
    if (comet_logic_call(&s->logic, RPC_LOGIC_FETCH, &req.base, &herald__fetch_reply__descriptor, 0,
                         on_fetched, sy) != 0)
        sync_resync(sy, "no logic to fetch missed messages from");
}

/* Starts catching up to `want` (0: to the newest at the first reply). */
static void sync_start(comet_channel_t *ch, uint64_t want)
{
    sync_t *sy = xcalloc(1, sizeof *sy);
    sy->ch = ch;
    sy->want = want;
    comet_channel_ref(ch);
    ch->upper = sy;
    sync_fetch(sy);
}

void comet_sync_begin(comet_channel_t *ch, uint64_t newest, int missed)
{
    if (ch->last_seq == 0 || ch->last_seq > newest)
        ch->last_seq = newest; /* no backlog: the channel starts at the newest */
    if (ch->last_seq < newest)
        sync_start(ch, newest); /* the backlog continues past its first page */
    else if (missed)
        sync_start(ch, 0);
}

int comet_sync_catch_up(comet_channel_t *ch, uint64_t newest)
{
    if (newest <= ch->last_seq)
        return 0;
    sync_t *sy = ch->upper;
    if (sy != NULL) {
        if (newest > sy->want)
            sy->want = newest;
    } else {
        sync_start(ch, newest);
    }
    return 1;
}

int comet_sync_push(comet_channel_t *ch, uint64_t seq)
{
    if (seq <= ch->last_seq) {
        COMET_STAT_ADD(comet_channel_session(ch)->stats, duplicates, 1);
        return 0;
    }
    sync_t *sy = ch->upper;
    if (sy != NULL) {
        if (seq > sy->want)
            sy->want = seq;
        return 0;
    }
    if (seq == ch->last_seq + 1) {
        ch->last_seq = seq;
        return 1;
    }
    sync_start(ch, seq);
    return 0;
}
