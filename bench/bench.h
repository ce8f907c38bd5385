/* bench.h - herald-bench: a load generator for herald and the peers it is measured against.
 *
 * Two modes (bench/README.md):
 *   conn  opens N subscriber connections (goim v2 over TCP or WebSocket, MQTT 3.1.1, nchan
 *         WebSocket), spread over P processes, T targets and K loopback source addresses, at a
 *         ramp rate; authenticates, heartbeats, counts every packet and measures delivery latency.
 *   push  offers R messages/s: HTTP keep-alive POSTs to logic (room or mids) or to nchan's
 *         publisher endpoint, or MQTT PUBLISH to mosquitto.
 *
 * Latency: every message body starts with the sender's CLOCK_REALTIME in microseconds as decimal
 * digits, padded with spaces to --size bytes; a subscriber records now - that stamp in a
 * log-bucket histogram (bench_hist), never an array of samples. Sender and receivers share the
 * machine's clock (loopback only).
 *
 * Every process is single-threaded on one libuv loop. A child of `conn --procs P` reports to
 * its parent over a pipe with fixed-size binary messages (bench_msg_t): same binary, same ABI.
 */
#ifndef HERALD_BENCH_H
#define HERALD_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ----------------------------------------------------------------------------------- histogram */

/* Log-linear buckets over microseconds: exact below 64, then 32 sub-buckets per power of two
 * (relative error under 3.2%), up to 2^63. 1,920 counters. */
#define BENCH_HIST_SUB_BITS 5
#define BENCH_HIST_BUCKETS (64 + 58 * 32)

typedef struct bench_hist_s {
    uint64_t count;
    uint64_t max;
    double sum;
    uint64_t n[BENCH_HIST_BUCKETS];
} bench_hist_t;

void bench_hist_add(bench_hist_t *h, uint64_t v);
void bench_hist_merge(bench_hist_t *into, const bench_hist_t *from);
/* Value at quantile q (0..1): the midpoint of the bucket holding it; 0 when empty. */
uint64_t bench_hist_quantile(const bench_hist_t *h, double q);
/* Prints {"count":..,"mean_us":..,"p50_us":..,"p99_us":..,"p999_us":..,"max_us":..,
 * "buckets":[[low_us,count],...]} (non-empty buckets only). */
void bench_hist_print_json(const bench_hist_t *h, FILE *out);

/* ----------------------------------------------------------------------------------- options */

typedef enum {
    BENCH_PROTO_TCP = 0, /* goim v2 over TCP */
    BENCH_PROTO_WS,      /* goim v2 over WebSocket (binary messages) */
    BENCH_PROTO_MQTT,    /* MQTT 3.1.1, QoS 0 */
    BENCH_PROTO_NCHAN,   /* nchan WebSocket subscriber: each frame is one message */
} bench_proto_t;

typedef enum {
    BENCH_PUSH_ROOM = 0, /* POST /goim/push/room */
    BENCH_PUSH_MIDS,     /* POST /goim/push/mids, one random mid per request */
    BENCH_PUSH_NCHAN,    /* POST <path> on nchan's publisher location */
    BENCH_PUSH_MQTT,     /* MQTT PUBLISH QoS 0 */
} bench_push_kind_t;

#define BENCH_MAX_TARGETS 64

typedef struct bench_target_s {
    char host[64];
    int port;
} bench_target_t;

typedef struct bench_opts_s {
    int mode_push; /* 0 = conn, 1 = push */
    bench_proto_t proto;
    int tls;        /* conn, tcp and ws: over TLS (WSS for ws); the certificate is not checked */
    int tls_resume; /* conn --tls: resume the first ready connection's session (a ticket) */
    bench_push_kind_t kind;
    bench_target_t targets[BENCH_MAX_TARGETS];
    int n_targets;
    uint32_t conns;        /* conn: total connections; push: HTTP connections */
    int procs;             /* conn: processes */
    double rate;           /* conn: new connections/s (0 = as fast as max_inflight allows);
                            * push: messages/s */
    int src_addrs;         /* conn: bind to 127.0.0.1 .. 127.0.0.<src_addrs> */
    uint32_t max_inflight; /* conn: connections being set up at once, per process */
    char room[256];        /* goim room id, e.g. live://1000 */
    char path[256];       /* WebSocket path (/sub) or nchan path (/sub/<channel>, /pub/<channel>) */
    char topic[256];      /* MQTT topic */
    int64_t mid_base;     /* conn: connection i authenticates as mid_base + i */
    int64_t mid_count;    /* push mids: pick in [mid_base, mid_base + mid_count) */
    int heartbeat_s;      /* conn: goim op 2 / MQTT PINGREQ interval per connection */
    double duration_s;    /* conn: hold after ready (0 = until SIGINT/SIGTERM); push: run time */
    double progress_s;    /* progress line interval on stderr (0 = none) */
    uint32_t size;        /* push: body bytes (>= 20) */
    int op;               /* push: goim operation */
    char ready_file[512]; /* conn: created once every connection is set up */
} bench_opts_t;

/* ------------------------------------------------------------------------------------- stats */

typedef struct bench_stats_s {
    /* conn */
    uint64_t target;     /* connections this process was asked for */
    uint64_t connected;  /* TCP connects that succeeded */
    uint64_t ready;      /* authenticated / subscribed / upgraded */
    uint64_t failed;     /* connect, handshake or auth failed */
    uint64_t closed;     /* closed by the peer after becoming ready */
    uint64_t kicked;     /* op 6 received */
    uint64_t packets;    /* every packet received (each one inside an op 9 batch too) */
    uint64_t deliveries; /* business messages received (op >= 1000, PUBLISH, nchan frames) */
    uint64_t batches;    /* op 9 packets received */
    uint64_t hb_sent;
    uint64_t hb_replies;
    uint64_t bytes_in;
    uint64_t bad_stamps;  /* deliveries without a readable timestamp */
    uint64_t tls_resumed; /* --tls: ready connections whose handshake resumed a session */
    /* push */
    uint64_t sent;
    uint64_t ok;     /* 2xx replies */
    uint64_t errors; /* non-2xx replies and connection errors */
    /* times: CLOCK_REALTIME seconds; 0 = not yet */
    double t_start;
    double t_ready;          /* every connection set up (conn); first send (push) */
    double t_first_delivery; /* conn: first delivery; push: first reply */
    double t_last_delivery;
    double t_end;
    bench_hist_t lat; /* conn: delivery latency; push: request round trip */
} bench_stats_t;

void bench_stats_merge(bench_stats_t *into, const bench_stats_t *from);
/* One JSON line: {"mode":..,"proto"|"kind":..,...,"latency":{hist}}. */
void bench_stats_print_json(const bench_stats_t *s, const bench_opts_t *o, FILE *out);
/* One short human line for progress, prefixed with label. */
void bench_stats_print_progress(const bench_stats_t *s, const bench_opts_t *o, const char *label,
                                FILE *out);

/* Child → parent report. */
enum { BENCH_MSG_PROGRESS = 1, BENCH_MSG_READY = 2, BENCH_MSG_FINAL = 3 };
typedef struct bench_msg_s {
    int kind;
    bench_stats_t stats;
} bench_msg_t;

/* --------------------------------------------------------------------------------------- util */

/* CLOCK_REALTIME in microseconds / seconds. */
uint64_t bench_now_us(void);
double bench_now_s(void);

/* Writes the timestamped body of `size` bytes (>= 20) into out. */
void bench_body_fill(uint8_t *out, size_t size);
/* Parses the stamp at the start of body; returns 0 and *us, or -1 when there is none. */
int bench_body_stamp(const uint8_t *body, size_t len, uint64_t *us);

/* ------------------------------------------------------------------------------ mode entries */

/* Runs connections [lo, hi) of the global numbering in this process on its own loop. When
 * report_fd >= 0 (a child), progress/ready/final go there as bench_msg_t; otherwise progress
 * goes to stderr and the ready file is written here. Fills *out. Returns 0 or -1. */
int bench_sub_run(const bench_opts_t *o, uint32_t lo, uint32_t hi, int report_fd,
                  bench_stats_t *out);

/* Runs the pusher for o->duration_s. Returns 0 or -1. */
int bench_push_run(const bench_opts_t *o, bench_stats_t *out);

/* `herald-bench rpc [--calls N] [--depth D] [--size B] [--connects K] [--tls DIR]`: the internal
 * RPC in this process, in clear or (--tls: DIR/peer.pem, peer.key, ca.pem) over mutual TLS
 * (bench_rpc.c). argv[0] is "rpc". Prints one JSON line; returns the exit status. */
int bench_rpc_main(int argc, char **argv);

#endif
