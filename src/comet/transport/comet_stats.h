/* comet_stats.h - counters of one worker, read by the main thread for /metrics and RenewOnline.
 *
 * Each counter has a single writer (its worker), so updates are relaxed load + store (plain moves
 * on x86, no locked instruction) and readers on other threads see a recent value. The
 * histograms are metrics.h's (relaxed atomic adds), summed over the workers for /metrics.
 */
#ifndef COMET_STATS_H
#define COMET_STATS_H

#include "metrics.h"

#include <stdatomic.h>
#include <stdint.h>

typedef struct comet_stats_s {
    /* gauges */
    _Atomic uint64_t sockets;      /* open client sockets, any state */
    _Atomic uint64_t ws;           /* of which WebSocket */
    _Atomic uint64_t conns;        /* authenticated connections */
    _Atomic uint64_t tls;          /* open client sockets on a TLS listener (TLS or WSS) */
    _Atomic uint64_t wss;          /* of which WebSocket (WSS) */
    _Atomic uint64_t unsent_bytes; /* bytes queued on the sockets, not yet written */
    /* counters */
    _Atomic uint64_t accepted;
    _Atomic uint64_t auth_ok;
    _Atomic uint64_t auth_failed;
    _Atomic uint64_t packets_in;
    _Atomic uint64_t packets_out;
    _Atomic uint64_t bytes_in;
    _Atomic uint64_t bytes_out;
    _Atomic uint64_t kicks;
    _Atomic uint64_t pushes; /* push tasks (keys, room, broadcast) handled by this worker */
    _Atomic uint64_t protocol_errors;
    _Atomic uint64_t timeouts; /* auth and heartbeat deadlines */
    _Atomic uint64_t slow_consumers;
    _Atomic uint64_t rooms_refused;  /* op 12 to a room the connection's token does not list */
    _Atomic uint64_t room_announces; /* JoinRoom calls answered: a room's first member here */
    _Atomic uint64_t room_announce_failures; /* JoinRoom calls failed or not sent (comet_join.h) */
    _Atomic uint64_t duplicates;      /* user pushes dropped: the connection had that seq already */
    _Atomic uint64_t fetches;         /* Fetch calls for gaps and backlog pages (comet_sync.c) */
    _Atomic uint64_t replayed;        /* placements sent back after a router's new epoch */
    _Atomic uint64_t replay_catchups; /* of which were behind their user's newest: fetched */
    _Atomic uint64_t fanouts_merged;  /* room messages that joined a queued fan-out */
    _Atomic uint64_t tls_handshakes;  /* TLS handshakes completed */
    _Atomic uint64_t tls_resumed;     /* of which resumed a session (ticket) */
    _Atomic uint64_t tls_detached;    /* TLS 1.3 connections whose OpenSSL state was freed */
    _Atomic uint64_t tls_failed;      /* TLS handshakes or records refused (the socket closed) */
    /* histograms */
    metrics_hist_t push_latency; /* logic's accept (Proto.accepted_us) to the socket write */
    metrics_hist_t fanout_time;  /* a room or broadcast fan-out: queued to its last write */
} comet_stats_t;

#define COMET_STAT_ADD(st, field, n)                                                               \
    atomic_store_explicit(                                                                         \
        &(st)->field, atomic_load_explicit(&(st)->field, memory_order_relaxed) + (uint64_t)(n),    \
        memory_order_relaxed)
#define COMET_STAT_SUB(st, field, n) COMET_STAT_ADD(st, field, -(uint64_t)(n))
#define COMET_STAT_GET(st, field) atomic_load_explicit(&(st)->field, memory_order_relaxed)

#endif
