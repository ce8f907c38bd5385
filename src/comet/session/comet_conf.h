/* comet_conf.h - configuration of herald-comet (conf/comet.ini), loaded by conf_load().
 * Every key, its default and its bounds are in comet_conf_items (comet_conf.c). */
#ifndef COMET_CONF_H
#define COMET_CONF_H

#include "cluster.h"
#include "conf.h"
#include "log.h"
#include "http_tls.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct comet_conf_s {
    /* [server] */
    char *server_id;
    char *advertise_host;
    int64_t workers; /* 0 = one per core */
    int64_t weight;
    int64_t renew_online_interval; /* ms */
    int64_t fanout_batch;          /* connections a worker writes per loop iteration in a fan-out */
    int64_t drain_time;            /* ms over which SIGTERM moves the clients away; 0 = at once */
    /* [tcp], [websocket], [rpc], [admin]: "host:port" */
    char *tcp_listen;
    char *ws_listen;
    char *rpc_listen;
    char *admin_listen;
    http_tls_conf_t admin_tls; /* [admin] tls_cert, tls_key: HTTPS on the admin port */
    /* [tls]: TLS over TCP and WebSocket over TLS ("" = off), the certificate files */
    char *tls_listen;
    char *wss_listen;
    char *tls_cert;      /* comma list of PEM chain files; the first is the default */
    char *tls_key;       /* comma list of PEM key files, in the same order */
    int tls_min_version; /* 0: TLS 1.2, 1: TLS 1.3 ("1.2|1.3") */
    bool tls_tickets;
    /* [logic] */
    char *logic_addrs;         /* comma list of "host:port" */
    int64_t logic_rpc_timeout; /* ms */
    /* [protocol] */
    int64_t max_body;
    int64_t auth_timeout;      /* ms */
    int64_t heartbeat_timeout; /* ms */
    int64_t renew_interval;    /* ms: at most one logic Heartbeat per connection per interval */
    int64_t max_pending_bytes;
    int64_t max_msg;       /* OpSendMsg body bytes; larger ones get op 5 HERALD_ETOOBIG */
    int64_t upstream_rate; /* OpSendMsg per second per connection (burst: one second's worth) */
    /* [log] */
    log_conf_t log;         /* [log]: level, format, file */
    cluster_conf_t cluster; /* [cluster]: the secret and the RPC server limits */
} comet_conf_t;

/* Terminated by an item with section NULL. */
extern const conf_item_t comet_conf_items[];

#endif
