/* client_int.h - the client_t structure and the functions shared by client.c (packets, queue,
 * public API) and client_ws.c (WebSocket handshake and frames). Internal to src/client. */
#ifndef HERALD_CLIENT_INT_H
#define HERALD_CLIENT_INT_H

#include "buf.h"
#include "client.h"
#include "list.h"
#include "proto.h"
#include "ws.h"

/* Largest packet body the client accepts (the server's default is 4 KiB; a batch can be far
 * bigger). Bounds every allocation driven by the peer. */
#define CLIENT_MAX_BODY (1u << 20)
/* How long a send may wait for socket buffer space before it gives up with -ETIMEDOUT. */
#define CLIENT_SEND_TIMEOUT_MS 10000

/* A received packet waiting for client_recv; owned by the queue. */
typedef struct client_node_s {
    list_link_t link; /* in client_t.queue */
    client_packet_t packet;
} client_node_t;

/* Owned by the caller of client_connect; freed by client_free. */
struct client_s {
    int fd;
    client_transport_t transport;
    int closed; /* EOF, read error or WebSocket close seen */
    int err;    /* sticky: malformed input or read error, returned once the queue is drained */
    list_link_t queue;     /* client_node_t: received, not yet returned by client_recv */
    proto_reader_t reader; /* TCP: the byte stream's partial packet */
    /* WebSocket only */
    ws_codec_t *ws;
    buf_t ws_in;   /* bytes received that do not form a whole frame yet */
    buf_t ws_msg;  /* payload of a fragmented message being reassembled */
    int ws_in_msg; /* a fragmented data message is in progress */
};

/* client.c: unpacks the whole packets in data (len bytes), expanding op 9 batches, onto the
 * queue. in_batch: data is the body of an op 9 packet (batches do not nest). Returns 0,
 * HERALD_EPROTO when data ends in a partial packet, or proto_header_read's error. */
int client_unpack(client_t *c, const uint8_t *data, size_t len, int in_batch);

/* client_ws.c: sends the upgrade request for /sub and reads the 101 reply before deadline.
 * Bytes after the reply stay in c->ws_in and are decoded. Returns 0 or a negative code with a
 * message in err. */
int client_ws_handshake(client_t *c, const char *host, int port, int64_t deadline, char *err,
                        size_t errlen);

/* client_ws.c: takes len bytes read from the socket and handles every whole frame: data
 * messages go to client_unpack, pings are answered, a close frame sets c->closed. Returns 0 or
 * a negative code (HERALD_EWSPROTO, HERALD_ETOOBIG, HERALD_EPROTO, a send error). */
int client_ws_ingest(client_t *c, const uint8_t *data, size_t len);

/* client_ws.c: sends one final frame of opcode with payload. Returns 0 or a negative code. */
int client_ws_send(client_t *c, uint8_t opcode, const uint8_t *payload, size_t len);

#endif
