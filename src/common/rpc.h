/* rpc.h - internal RPC: pipelined protobuf-c calls over TCP on a libuv loop (DESIGN.md §5).
 *
 * Frame (all integers big-endian):
 *   len u32      bytes that follow this field (8 + payload), at most RPC_MAX_FRAME
 *   method u16   enum rpc_method
 *   flags u16    RPC_FLAG_REQUEST | RPC_FLAG_REPLY | RPC_FLAG_ERROR
 *   call_id u32  chosen by the caller, echoed in the reply
 *   payload      packed protobuf message; for RPC_FLAG_ERROR an ErrorReply-less payload:
 *                int32 big-endian herald/uv error code followed by a UTF-8 message
 * Replies may come in any order. A frame over RPC_MAX_FRAME or with an unknown flag closes the
 * connection. Before the first frame, every connection runs the handshake of rpc_auth.h: both
 * ends prove they know the cluster secret given to rpc_configure. With rpc_configure_tls, all of
 * it (handshake and frames) runs inside mutual TLS (rpc_tls.h). Everything here runs on the
 * loop thread that created the object.
 */
#ifndef HERALD_RPC_H
#define HERALD_RPC_H

#include "metrics.h"

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>
#include <uv.h>

#define RPC_FRAME_HEADER 12
#define RPC_MAX_FRAME (16u * 1024 * 1024)

enum { RPC_FLAG_REQUEST = 0, RPC_FLAG_REPLY = 1, RPC_FLAG_ERROR = 2 };

/* ---------------------------------------------------------------------------------- settings */

#define RPC_DEFAULT_MAX_CONNS 1024
#define RPC_DEFAULT_HANDSHAKE_TIMEOUT_MS 5000

/* What every RPC server and client of the process uses (the [cluster] section, cluster.h). */
typedef struct rpc_settings_s {
    const void *secret; /* the cluster secret (copied as its key); NULL: none */
    size_t secret_len;  /* RPC_AUTH_SECRET_MIN..RPC_AUTH_SECRET_MAX bytes */
    uint32_t max_conns; /* per server; a connection beyond it is closed at accept; 0: default */
    uint32_t handshake_timeout_ms; /* from accept (server) or connect (client) to the end of
                                      the handshake; 0: default */
    uint32_t idle_timeout_ms;      /* a server closes a connection that has sent nothing for
                                      this long and has no call in flight; 0: never */
} rpc_settings_t;

/* Sets the process-wide settings. Each server and client copies them when it is created
 * (rpc_server_new, rpc_client_new), so call this once at start, before any RPC object exists
 * and before threads start. Without a secret, a server refuses every connection and a client
 * never connects (each logs why). Returns 0, or HERALD_EINVAL when secret_len is out of range
 * (nothing changed). The secret is never logged. */
int rpc_configure(const rpc_settings_t *s);

/* TLS between daemons ([rpc] tls_cert, tls_key, tls_ca, tls_verify_name; docs/security.md "TLS
 * between daemons"). */
typedef struct rpc_tls_conf_s {
    const char *cert;        /* PEM chain of this daemon (leaf first); presented as a server
                                and as a client, so it needs serverAuth and clientAuth use */
    const char *key;         /* its PEM private key */
    const char *ca;          /* PEM CA(s) that sign the peers' certificates */
    const char *verify_name; /* when set, a peer's certificate must name it (DNS SAN) */
} rpc_tls_conf_t;

/* With cert set: from now on every RPC server made speaks only TLS (1.2 or 1.3) and requires a
 * client certificate signed by ca, and every client speaks TLS, presents cert and verifies the
 * server's against ca; the cluster-secret handshake then runs inside TLS. With t NULL or cert
 * empty: clear (the default). Same rule as rpc_configure: once at start, before any RPC object
 * exists. Returns 0, or HERALD_ECONF with the reason in err: key or ca missing, a file that
 * cannot be read, a key that does not match. Nothing changes on an error. */
int rpc_configure_tls(const rpc_tls_conf_t *t, char *err, size_t errlen);

/* ------------------------------------------------------------------------------------ server */

typedef struct rpc_server_s rpc_server_t;
typedef struct rpc_call_s rpc_call_t;

/* Handles one request. `req` is the unpacked request, borrowed: valid until the handler returns
 * (copy what you keep). The handler must eventually call rpc_reply() or rpc_reply_error() on
 * `call` exactly once, now or later from the same loop; if the client disconnected meanwhile the
 * reply is dropped silently, and the call is still freed by that function. */
typedef void (*rpc_handler_cb)(rpc_call_t *call, const ProtobufCMessage *req, void *arg);

typedef struct rpc_method_s {
    uint16_t method;
    const ProtobufCMessageDescriptor *req_desc;
    rpc_handler_cb handler;
} rpc_method_t;

/* Creates a server dispatching to `methods` (n entries, borrowed: must outlive the server).
 * `arg` is passed to every handler. Returns NULL only on OOM (aborts). */
rpc_server_t *rpc_server_new(uv_loop_t *loop, const rpc_method_t *methods, size_t n, void *arg);

/* Binds and listens on host:port (port 0 = ephemeral). host is a numeric IPv4 or IPv6 address
 * ("0.0.0.0", "127.0.0.1", "::"); anything else is UV_EINVAL. Returns 0 or a UV_E* error. */
int rpc_server_listen(rpc_server_t *s, const char *host, int port);

/* The bound port (after rpc_server_listen), or -1. */
int rpc_server_port(const rpc_server_t *s);

/* Counters of a server, for /metrics (admin_put_rpc_server). */
typedef struct rpc_server_stats_s {
    uint64_t accepted;       /* connections accepted and admitted to the handshake */
    uint64_t refused;        /* closed at accept: max_conns connections were open */
    uint64_t auth_failed;    /* handshake failed: wrong secret, garbage, closed early, no secret */
    uint64_t tls_failed;     /* TLS refused the peer: no client certificate, one of another CA,
                                not TLS at all, a bad record (rpc_configure_tls) */
    uint64_t auth_timeout;   /* handshake not finished within handshake_timeout_ms */
    uint64_t idle_closed;    /* closed after idle_timeout_ms without a byte */
    uint64_t conns;          /* open now (handshaking or authenticated) */
    uint64_t handshaking;    /* of those, still in the handshake */
    uint64_t read_buf_bytes; /* bytes of the read buffers of the open connections */
    uint64_t calls;          /* requests read and not yet answered, on the open connections */
} rpc_server_stats_t;

/* A snapshot of the counters. */
void rpc_server_stats(const rpc_server_t *s, rpc_server_stats_t *out);

/* The latency of method i (0 <= i < rpc_server_methods(s), in the order given to rpc_server_new):
 * from reading a request to sending its answer (reply or error), over the calls answered on a
 * connection still open; *method gets its id (rpc_methods.h). Borrowed from s. */
size_t rpc_server_methods(const rpc_server_t *s);
const metrics_hist_t *rpc_server_latency(const rpc_server_t *s, size_t i, uint16_t *method);

/* Sends the reply and frees the call. `reply` is borrowed (packed here). */
void rpc_reply(rpc_call_t *call, const ProtobufCMessage *reply);
/* Sends an error reply (code: HERALD_E* or UV_E*) and frees the call. */
void rpc_reply_error(rpc_call_t *call, int code, const char *message);

/* Remote address of the call's connection ("ip:port"), for logs. */
const char *rpc_call_peer(const rpc_call_t *call);

/* Stops listening and closes every connection; calls in flight are answered into the void.
 * `cb` (may be NULL) runs once every handle is closed; then the server is freed. */
void rpc_server_close(rpc_server_t *s, void (*cb)(void *arg), void *arg);

/* ------------------------------------------------------------------------------------ client */

typedef struct rpc_client_s rpc_client_t;

/* Result of one call. status 0: `reply` is the unpacked reply, borrowed (freed after the callback
 * returns). status < 0: reply is NULL and status is UV_ETIMEDOUT (deadline passed),
 * UV_ECONNRESET (connection lost with the call in flight), UV_ECANCELED (client closed) or the
 * remote's error code from rpc_reply_error (message logged at debug level). */
typedef void (*rpc_reply_cb)(int status, const ProtobufCMessage *reply, void *arg);

#define RPC_BACKOFF_MIN_MS 100
#define RPC_BACKOFF_MAX_MS 5000

/* Creates a client for host:port. It connects at once and reconnects forever with exponential
 * backoff (100 ms doubling up to 5 s, rpc_client_set_backoff_max); the first failure and the
 * recovery are logged once each, as "rpc <name>: ...". A connection counts as up once the handshake
 * (rpc_auth.h) has succeeded; a failed handshake is a failed attempt. `name` (copied) identifies
 * the peer in logs, e.g. "router 127.0.0.1:3129".
 */
rpc_client_t *rpc_client_new(uv_loop_t *loop, const char *name, const char *host, int port);

/* Starts a call. `req` is borrowed (packed before return). `reply_desc` is the expected reply
 * type. Returns 0 and later calls cb exactly once (also on timeout, disconnect, close); or returns
 * UV_ENOTCONN when not connected right now, and then never calls cb. (Also returns, without
 * calling cb, UV_EMSGSIZE when `req` packs to more than RPC_MAX_FRAME allows.) timeout_ms 0
 * means no deadline: the call then ends only with its reply, a disconnect or the close. A reply
 * that does not unpack as reply_desc ends the call with HERALD_EPROTO. */
int rpc_client_call(rpc_client_t *c, uint16_t method, const ProtobufCMessage *req,
                    const ProtobufCMessageDescriptor *reply_desc, uint32_t timeout_ms,
                    rpc_reply_cb cb, void *arg);

/* The time from rpc_client_call to its callback (reply, error, timeout, disconnect), over every
 * client of the process, for the method at index i of rpc_methods.h (rpc_method_at). Any
 * thread. */
const metrics_hist_t *rpc_client_latency(size_t i);

/* Calls started and not yet ended (their callback not yet run). */
size_t rpc_client_in_flight(const rpc_client_t *c);

/* Nonzero while the connection is up. */
int rpc_client_connected(const rpc_client_t *c);

/* When the client waits out a reconnect backoff, tries again now, with the backoff back at its
 * start: the caller has news that the peer is up (job: a comet announced a room). Otherwise
 * (connected, an attempt under way, closing) does nothing. */
void rpc_client_redial(rpc_client_t *c);

/* cb(arg) runs each time the connection comes up (the handshake done, the first time
 * included), on the loop, before any other news of that connection; it may call rpc_client_call
 * on c. NULL removes it. For peers whose restart must be noticed at once (logic's routers). */
void rpc_client_set_on_connected(rpc_client_t *c, void (*cb)(void *arg), void *arg);

/* Caps the reconnect backoff at max_ms (at least RPC_BACKOFF_MIN_MS; default 5 s): a peer that
 * restarts is reached again within max_ms of listening. */
void rpc_client_set_backoff_max(rpc_client_t *c, uint32_t max_ms);

/* The name given at creation. */
const char *rpc_client_name(const rpc_client_t *c);

/* Fails every call in flight with UV_ECANCELED, closes the connection and frees the client once
 * its handles are closed, then calls cb (may be NULL). */
void rpc_client_close(rpc_client_t *c, void (*cb)(void *arg), void *arg);

#endif
