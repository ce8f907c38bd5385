/* comet_client.c - see comet_client.h. */
#include "comet_client.h"

#include "comet_auth.h"
#include "comet_channel.h"
#include "comet_tcp.h"
#include "comet_tls.h"
#include "herald_err.h"

static int on_packet(comet_conn_t *c, const proto_header_t *h, const uint8_t *body)
{
    comet_channel_t *ch = comet_channel_of(c);
    switch (ch->state) {
    case COMET_CHANNEL_WAIT_AUTH:
        COMET_STAT_ADD(comet_channel_session(ch)->stats, packets_in, 1);
        if (h->op != PROTO_OP_AUTH) {
            comet_conn_protocol_error(c, HERALD_EPROTO, "first packet is not auth");
            return 1;
        }
        comet_auth_start(ch, h, body);
        break;
    case COMET_CHANNEL_AUTHING:
        comet_auth_defer(ch, h, body);
        break;
    case COMET_CHANNEL_AUTHED:
        return comet_channel_on_packet(ch, h, body);
    default:
        break;
    }
    return c->state >= COMET_CONN_CLOSING;
}

static void on_leave(comet_conn_t *c)
{
    comet_channel_leave(comet_channel_of(c));
}

static void on_close(comet_conn_t *c)
{
    comet_channel_closed(comet_channel_of(c));
}

static const char *label(const comet_conn_t *c)
{
    return ((const comet_channel_t *)c)->id.key;
}

static const comet_conn_ops_t client_ops = {on_packet, on_leave, on_close, label};

void comet_client_accept(comet_session_t *s, uv_stream_t *listener, int ws, tls_server_t *tls)
{
    comet_channel_t *ch = xcalloc(1, sizeof *ch);
    comet_accepts_init(&ch->accepts);
    if (tls != NULL)
        comet_tls_accept(&s->conns, &ch->conn, listener, ws, &client_ops, tls);
    else
        comet_tcp_accept(&s->conns, &ch->conn, listener, ws, &client_ops);
}

void comet_client_drain(comet_session_t *s)
{
    s->stopping = 1;
    comet_conns_drain(&s->conns);
    comet_conn_t *c;
    /* Each kick or close takes the connection out of the open lists. */
    while ((c = comet_conns_first_open(&s->conns)) != NULL) {
        if (comet_channel_of(c)->state == COMET_CHANNEL_AUTHING)
            comet_conn_close(c);
        else
            comet_conn_kick_reason(c, "shutdown");
    }
}
