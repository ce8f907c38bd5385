/* comet_test.h - harness for comet's end-to-end unit tests (test_tcp.c, test_ws.c), linked into
 * every comet unit test as herald_test_comet.
 *
 * Runs a real comet (real worker threads, real sockets on 127.0.0.1 with ephemeral ports) on a
 * loop thread, next to a test-only logic RPC server on the same loop. The test logic
 * (comet_test_logic.c) answers Connect from instructions in the client's auth body
 * ({"mid","key","room_id","accepts","code","backlog","kick","device","delay_ms"}), serves Fetch
 * from a made-up inbox (seq s: op 1000, body "inbox-<s>", up to inbox_newest, inbox_page entries
 * a page; 0 = no limit), counts every call, and answers RenewOnline with each room's count + 1000
 * so tests can tell logic's totals from comet's own. The test thread talks to comet through
 * blocking client sockets (comet_test_client.c) and calls comet's RPC service (as job does)
 * through harness_call (comet_test_harness.c).
 *
 * Failures are cmocka assertions; every function here runs on the test thread unless it says
 * otherwise.
 */
#ifndef COMET_TEST_H
#define COMET_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "comet_conf.h"
#include "comet_conn.h"
#include "comet_server.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "proto.h"
#include "rpc.h"
#include "rpc_methods.h"
#include "ws.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define T_TIMEOUT_MS 3000

typedef struct harness_s {
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t wake;
    uv_sem_t done;
    uv_mutex_t lock;
    rpc_server_t *logic;
    int logic_port;
    rpc_client_t *push;
    comet_conf_t conf;
    comet_server_t *comet; /* NULL once closed */
    /* what the test logic saw (under lock) */
    int connects, disconnects, heartbeats, receives, renewals, server_downs;
    int ack_entries;
    uint64_t last_ack_seq;
    int64_t last_renew_conns;
    int last_renew_rooms;
    char last_renew_tls[64], last_renew_wss[64]; /* the advertised TLS addresses */
    char last_receive[512];
    char last_disconnect_key[64];
    char last_disconnect_device[64];
    uint64_t last_disconnect_seq;
    char last_ack_device[64];
    int fetches;
    int joins;             /* JoinRoom calls */
    int join_delay_ms;     /* the test logic answers JoinRoom this much later */
    char last_join[600];   /* "room server rpc_addr" of the last JoinRoom */
    uint64_t inbox_newest; /* set by the test before the Fetch it causes */
    int inbox_page;
    /* one cross-thread call at a time (harness_call) */
    uint16_t call_method;
    const ProtobufCMessage *call_req;
    const ProtobufCMessageDescriptor *call_desc;
    int call_status;
    uint8_t *call_reply;
    size_t call_reply_len;
    /* several calls sent back to back (harness_call_burst) */
    const ProtobufCMessage *const *burst_reqs;
    size_t burst_n, burst_replies;
    int burst_status;
    int stop_requested;  /* harness_request_stop: comet_server_close on the loop thread */
    int drain_requested; /* harness_request_drain: comet_drain_start on the loop thread */
    int64_t last_renew_weight;
    void (*reload_tweak)(comet_conf_t *conf); /* harness_reload, on the loop thread */
} harness_t;

/* ----------------------------------------------------------------------------- the harness */

/* The test logic's methods (comet_test_logic.c); their arg is the harness_t. Loop thread. */
extern const rpc_method_t t_logic_methods[];
extern const size_t t_logic_methods_count;

/* Changes the configuration before comet starts. */
typedef void (*harness_tweak_cb)(comet_conf_t *conf);

/* Starts the test logic and a comet with `workers` workers, conf changed by tweak (may be NULL).
 * logic_up = 0 points comet at a port where nothing listens. */
harness_t *harness_start_with(int workers, int logic_up, harness_tweak_cb tweak);
harness_t *harness_start(int workers, int logic_up);

/* What SIGHUP does in herald-comet, on the loop thread: tweak changes the running configuration
 * (daemon_reload_conf's part), then comet_reload_apply (the reload hook). Returns once both ran;
 * the workers take the new limits on their own loops a moment later. */
void harness_reload(harness_t *h, harness_tweak_cb tweak);

/* Begins comet's graceful stop on the loop thread (then the test logic and the loop stop). */
void harness_request_stop(harness_t *h);
/* The same through comet's drain (comet_drain.h, what SIGTERM does): the stop follows it. */
void harness_request_drain(harness_t *h);
/* Waits for the loop thread to end and checks the loop is empty. */
void harness_join(harness_t *h);
/* After harness_join: frees what is left. */
void harness_free(harness_t *h);
/* Stops everything and frees. Close client sockets first, or their connections linger up to
 * COMET_CONN_LINGER_MS. */
void harness_stop(harness_t *h);

/* A counter of the test logic, read under the lock. */
int harness_get(harness_t *h, const int *field);
/* Waits up to T_TIMEOUT_MS for *field >= want; returns whether it got there. */
int harness_wait(harness_t *h, const int *field, int want);

/* Calls comet's RPC service from the test thread. Returns the status; on 0 the reply is unpacked
 * into *reply (free with protobuf_c_message_free_unpacked). Retries while not yet connected. */
int harness_call(harness_t *h, uint16_t method, const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **reply);

/* Sends n calls back to back (the client must be connected: make a harness_call first) and
 * waits for every reply. Returns 0 or the first failure; replies are not kept. */
int harness_call_burst(harness_t *h, uint16_t method, const ProtobufCMessage *const *reqs, size_t n,
                       const ProtobufCMessageDescriptor *reply_desc);

/* PushKeys to one key (seq: its user seq, or NULL for none); asserts the call succeeds and
 * returns `delivered`. */
int t_push_keys(harness_t *h, const char *key, const uint64_t *seq, int32_t op, const char *body);

/* BroadcastRoom of n copies of one packet; asserts the call succeeds and returns `delivered`. */
int t_push_room(harness_t *h, const char *room, int n, int32_t op, const char *body);

/* Counter `name` of comet's GET /metrics (the "data" of goim's reply envelope); asserts the
 * answer is 200 with code 0. */
long long t_metric(harness_t *h, const char *name);

/* ------------------------------------------------------------------------ blocking client */

typedef struct t_packet_s {
    uint32_t op;
    uint32_t seq;
    uint32_t len;
    uint8_t body[8192];
} t_packet_t;

/* A TCP connection to 127.0.0.1:port (TCP_NODELAY). */
int t_connect(int port);

/* Writes all of data. */
void t_write(int fd, const void *data, size_t len);

/* Reads exactly len bytes. Returns 1, 0 on timeout, -1 when the peer closed (or reset). */
int t_read_full(int fd, void *buf, size_t len, int timeout_ms);

/* One packet into out (room for PROTO_HEADER_LEN + len); returns its length. */
size_t t_packet_build(uint8_t *out, uint32_t op, uint32_t seq, const void *body, size_t len);

/* Sends one packet; body is a C string or NULL (empty). */
void t_send(int fd, uint32_t op, uint32_t seq, const char *body);

/* Parses one packet from a byte string (a WebSocket message or part of one); returns its
 * length. The body is NUL-terminated in p. */
size_t t_packet_parse(const uint8_t *in, size_t len, t_packet_t *p);

/* Receives one TCP packet: 1, 0 on timeout, -1 when closed. */
int t_recv(int fd, t_packet_t *p, int timeout_ms);

/* Receives packets until one with op arrives (others are skipped). */
int t_recv_op(int fd, uint32_t op, t_packet_t *p, int timeout_ms);

/* Waits ms: 1 when nothing arrived, -1 when the connection closed, 0 when data arrived. */
int t_quiet(int fd, int ms);

/* Waits for the peer to close: 1 when EOF/reset arrives (after discarding data), 0 on timeout. */
int t_wait_closed(int fd, int timeout_ms);

/* Authenticates over TCP with the given auth JSON; returns the op 8 reply's body in p. */
int t_auth(int fd, const char *auth_json, t_packet_t *p);

/* Integer field of a packet's JSON body (asserts the body is JSON). */
int t_json_int(const t_packet_t *p, const char *field);

/* HTTP GET on 127.0.0.1:port; returns the status and the body (NUL-terminated) in out. */
int t_http_get(int port, const char *path, char *out, size_t cap);
/* The same with another method (an empty body). */
int t_http(int port, const char *method, const char *path, char *out, size_t cap);

#endif
