/* client.c - the blocking client library (client.h): connection, packet queue, op 9 unpacking,
 * auth. WebSocket framing lives in client_ws.c, TLS in client_tls.c (through client_io.c). */
#include "client.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "client_io.h"
#include "client_net.h"
#include "client_tls.h"
#include "client_ws.h"
#include "herald_err.h"
#include "list.h"
#include "proto.h"

/* Largest packet body the client accepts (the server's default is 4 KiB; a batch can be far
 * bigger). Bounds every allocation driven by the peer. */
#define CLIENT_MAX_BODY (1u << 20)

/* A received packet waiting for client_recv; owned by the queue. */
typedef struct client_node_s {
    list_link_t link; /* in client_t.queue */
    client_packet_t packet;
} client_node_t;

/* Owned by the caller of client_connect; freed by client_free. */
struct client_s {
    client_io_t io;
    int ws;     /* CLIENT_WS or CLIENT_WSS: packets travel in WebSocket messages */
    int closed; /* EOF, read error or WebSocket close seen */
    int err;    /* sticky: malformed input or read error, returned once the queue is drained */
    list_link_t queue;     /* client_node_t: received, not yet returned by client_recv */
    proto_reader_t reader; /* TCP: the byte stream's partial packet */
    client_ws_t wsock;     /* WebSocket state (used when ws) */
};

static int client_unpack(client_t *c, const uint8_t *data, size_t len, int in_batch);

static void client_queue_push(client_t *c, const proto_header_t *h, const uint8_t *body)
{
    uint32_t len = h->pack_len - PROTO_HEADER_LEN;
    client_node_t *n = xcalloc(1, sizeof(*n));
    n->packet.op = h->op;
    n->packet.seq = h->seq;
    n->packet.ver = h->ver;
    n->packet.body_len = len;
    n->packet.body = xmalloc((size_t)len + 1);
    memcpy(n->packet.body, body, len);
    n->packet.body[len] = '\0';
    list_append(&c->queue, &n->link);
}

static int client_queue_pop(client_t *c, client_packet_t *p)
{
    list_link_t *l = list_first(&c->queue);
    if (l == NULL)
        return 0;
    list_unlink(l);
    client_node_t *n = list_entry(l, client_node_t, link);
    *p = n->packet;
    free(n);
    return 1;
}

static int client_on_packet(client_t *c, const proto_header_t *h, const uint8_t *body, int in_batch)
{
    if (h->op != PROTO_OP_RAW) {
        client_queue_push(c, h, body);
        return 0;
    }
    /* goim never puts a batch inside a batch; accepting it would only hide a server bug. */
    if (in_batch)
        return HERALD_EPROTO;
    return client_unpack(c, body, h->pack_len - PROTO_HEADER_LEN, 1);
}

/* Unpacks the whole packets in data (len bytes), expanding op 9 batches, onto the queue.
 * in_batch: data is the body of an op 9 packet (batches do not nest). Returns 0, HERALD_EPROTO
 * when data ends in a partial packet, or proto_header_read's error. */
static int client_unpack(client_t *c, const uint8_t *data, size_t len, int in_batch)
{
    while (len > 0) {
        proto_header_t h;
        int rc = proto_header_read(data, len, CLIENT_MAX_BODY, &h);
        if (rc < 0)
            return rc;
        if (rc == 1 || h.pack_len > len)
            return HERALD_EPROTO; /* a packet cut off at the end of its container */
        rc = client_on_packet(c, &h, data + PROTO_HEADER_LEN, in_batch);
        if (rc < 0)
            return rc;
        data += h.pack_len;
        len -= h.pack_len;
    }
    return 0;
}

static int client_on_stream_packet(void *arg, const proto_header_t *h, const uint8_t *body)
{
    return client_on_packet(arg, h, body, 0);
}

/* A WebSocket binary message carries whole packets. */
static int client_on_ws_message(void *arg, const uint8_t *data, size_t len)
{
    return client_unpack(arg, data, len, 0);
}

client_t *client_connect_tls(client_transport_t transport, const char *host, int port,
                             const client_tls_t *tls, int timeout_ms, char *err, size_t errlen)
{
    if (transport < CLIENT_TCP || transport > CLIENT_WSS) {
        snprintf(err, errlen, "unknown transport %d", (int)transport);
        return NULL;
    }
    int64_t deadline = client_net_deadline(timeout_ms);
    int fd = client_net_connect(host, port, deadline, err, errlen);
    if (fd < 0)
        return NULL;
    client_t *c = xcalloc(1, sizeof(*c));
    c->io.fd = fd;
    c->ws = transport == CLIENT_WS || transport == CLIENT_WSS;
    list_init(&c->queue);
    proto_reader_init(&c->reader);
    /* A WebSocket message is at most one whole packet of the largest accepted body. */
    if (c->ws)
        client_ws_init(&c->wsock, &c->io, CLIENT_MAX_BODY + PROTO_HEADER_LEN, client_on_ws_message,
                       c);
    int rc = 0;
    if (transport == CLIENT_TLS || transport == CLIENT_WSS)
        rc = client_tls_start(fd, tls, host, port, deadline, &c->io.ssl, err, errlen);
    if (rc == 0 && c->ws) {
        /* Over TLS the Host header names the server the certificate was checked for. */
        const char *vhost = transport == CLIENT_WSS && tls != NULL && tls->server_name != NULL
                                ? tls->server_name
                                : host;
        rc = client_ws_handshake(&c->wsock, vhost, port, deadline, err, errlen);
        c->closed = c->wsock.closed; /* a close frame right behind the 101 */
    }
    if (rc < 0) {
        client_free(c);
        return NULL;
    }
    return c;
}

client_t *client_connect(client_transport_t transport, const char *host, int port, int timeout_ms,
                         char *err, size_t errlen)
{
    return client_connect_tls(transport, host, port, NULL, timeout_ms, err, errlen);
}

int client_send_raw(client_t *c, const void *data, size_t len)
{
    if (c->ws)
        return client_ws_send(&c->wsock, WS_OP_BINARY, data, len);
    return client_io_write_all(&c->io, data, len, client_net_deadline(CLIENT_NET_SEND_TIMEOUT_MS));
}

int client_send(client_t *c, uint32_t op, uint32_t seq, const void *body, size_t len)
{
    if (len > UINT32_MAX - PROTO_HEADER_LEN)
        return HERALD_ETOOBIG;
    /* One buffer so a packet is one write on TCP and one frame on WebSocket. */
    uint8_t *pkt = xmalloc(PROTO_HEADER_LEN + len);
    proto_header_write(pkt, op, seq, (uint32_t)len);
    if (len > 0)
        memcpy(pkt + PROTO_HEADER_LEN, body, len);
    int rc = client_send_raw(c, pkt, PROTO_HEADER_LEN + len);
    free(pkt);
    return rc;
}

int client_heartbeat(client_t *c)
{
    return client_send(c, PROTO_OP_HEARTBEAT, 0, NULL, 0);
}

/* Hands bytes read from the socket to the transport's decoder. */
static int client_ingest(client_t *c, const uint8_t *data, size_t len)
{
    if (c->ws) {
        int rc = client_ws_ingest(&c->wsock, data, len);
        c->closed |= c->wsock.closed;
        return rc;
    }
    return proto_reader_feed(&c->reader, data, len, CLIENT_MAX_BODY, client_on_stream_packet, c);
}

int client_recv(client_t *c, client_packet_t *p, int timeout_ms)
{
    memset(p, 0, sizeof(*p));
    int64_t deadline = client_net_deadline(timeout_ms);
    uint8_t chunk[16384];
    for (;;) {
        /* Everything that arrived before an error or EOF is delivered first. */
        if (client_queue_pop(c, p))
            return 1;
        if (c->err != 0)
            return c->err;
        if (c->closed)
            return -ECONNRESET;
        ssize_t n = client_io_read(&c->io, chunk, sizeof(chunk), deadline);
        if (n == -ETIMEDOUT)
            return 0;
        if (n <= 0) {
            c->closed = 1;
            if (n < 0 && n != -ECONNRESET)
                c->err = (int)n;
            continue;
        }
        int rc = client_ingest(c, chunk, (size_t)n);
        if (rc < 0)
            c->err = rc;
    }
}

void client_packet_free(client_packet_t *p)
{
    if (p == NULL)
        return;
    free(p->body);
    p->body = NULL;
    p->body_len = 0;
}

/* The server's verdict in an auth reply: goim servers send an empty body, which means success;
 * herald sends {"code": 0 | HERALD_E*, ...}. */
static int client_auth_code(const client_packet_t *reply)
{
    json_t *root = json_loadb((const char *)reply->body, reply->body_len, 0, NULL);
    json_t *code = json_object_get(root, "code");
    int rc = 0;
    if (json_is_integer(code) && json_integer_value(code) != 0)
        rc = HERALD_EAUTH;
    json_decref(root);
    return rc;
}

int client_auth(client_t *c, const char *auth_json, client_packet_t *reply, int timeout_ms)
{
    client_packet_t p;
    memset(&p, 0, sizeof(p));
    if (reply != NULL)
        memset(reply, 0, sizeof(*reply));
    int rc = client_send(c, PROTO_OP_AUTH, 0, auth_json, strlen(auth_json));
    if (rc < 0)
        return rc;
    rc = client_recv(c, &p, timeout_ms);
    if (rc == 0)
        return -ETIMEDOUT;
    if (rc == -ECONNRESET)
        return HERALD_EAUTH; /* a comet refusing a token may just close the connection */
    if (rc < 0)
        return rc;
    if (p.op != PROTO_OP_AUTH_REPLY && p.op != PROTO_OP_DISCONNECT_REPLY) {
        client_packet_free(&p);
        return HERALD_EPROTO;
    }
    rc = p.op == PROTO_OP_DISCONNECT_REPLY ? HERALD_EAUTH : client_auth_code(&p);
    if (reply != NULL)
        *reply = p;
    else
        client_packet_free(&p);
    return rc;
}

int client_fd(const client_t *c)
{
    return c->io.fd;
}

int client_closed(const client_t *c)
{
    return c->closed;
}

void client_free(client_t *c)
{
    if (c == NULL)
        return;
    client_packet_t p;
    while (client_queue_pop(c, &p))
        client_packet_free(&p);
    proto_reader_deinit(&c->reader);
    if (c->ws)
        client_ws_deinit(&c->wsock);
    client_io_close(&c->io);
    free(c);
}
