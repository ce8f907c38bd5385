/* cluster.h - the [cluster] section every daemon's configuration carries: the cluster secret
 * that authenticates internal RPC (rpc_auth.h) and the limits of the RPC servers; and the TLS
 * keys of [rpc] that every daemon has too (rpc_configure_tls, docs/security.md "TLS between
 * daemons").
 *
 *   [cluster]
 *   secret_file = PATH          file holding the secret (trailing blanks and newlines dropped)
 *   secret = TEXT               the secret itself: meant for HERALD_CLUSTER_SECRET, not a file
 *   rpc_max_conns = 1024        connections per RPC server; more are closed at accept
 *   rpc_handshake_timeout = 5s  from accept (or connect) to a finished handshake
 *   rpc_idle_timeout = 0        close a server connection silent this long, no call in flight
 *                               (0 = never: daemons keep idle links to each other on purpose)
 *
 *   [rpc]
 *   tls_cert = PATH             this daemon's PEM chain (serverAuth and clientAuth); when set,
 *                               every RPC connection, served or dialled, is mutual TLS
 *   tls_key = PATH              its PEM key
 *   tls_ca = PATH               the CA(s) that sign every daemon's certificate
 *   tls_verify_name = NAME      when set, each peer's certificate must name it (DNS SAN)
 *
 * Exactly one of secret and secret_file must be set, to 16..4096 bytes: a daemon without a
 * secret refuses to start, whatever its listen addresses (docs/security.md says why). The
 * secret never appears in a log line, an error message or -t output.
 */
#ifndef HERALD_CLUSTER_H
#define HERALD_CLUSTER_H

#include "conf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cluster_conf_s {
    char *secret;
    char *secret_file;
    int64_t rpc_max_conns;
    int64_t rpc_handshake_timeout; /* ms */
    int64_t rpc_idle_timeout;      /* ms, 0 = never */
    char *rpc_tls_cert;            /* [rpc] tls_*: "" = RPC in clear */
    char *rpc_tls_key;
    char *rpc_tls_ca;
    char *rpc_tls_verify_name;
} cluster_conf_t;

/* The items of [cluster] for a daemon config struct `type` with a cluster_conf_t member named
 * `cluster`; put them in the daemon's conf_item_t table. */
#define CLUSTER_DAY_MS (24LL * 3600 * 1000)
#define CLUSTER_CONF_ITEMS(type)                                                                   \
    {"cluster", "secret", CONF_STR, offsetof(type, cluster.secret), "", 0, 0, NULL},               \
        {"cluster", "secret_file", CONF_STR, offsetof(type, cluster.secret_file), "", 0, 0, NULL}, \
        {"cluster", "rpc_max_conns", CONF_INT, offsetof(type, cluster.rpc_max_conns), "1024",      \
         1,         1000000,         NULL},                                                        \
        {"cluster", "rpc_handshake_timeout",                                                       \
         CONF_MS,   offsetof(type, cluster.rpc_handshake_timeout),                                 \
         "5s",      10,                                                                            \
         600000,    NULL},                                                                         \
        {"cluster", "rpc_idle_timeout", CONF_MS, offsetof(type, cluster.rpc_idle_timeout), "0",    \
         0,         CLUSTER_DAY_MS,     NULL},                                                     \
        {"rpc", "tls_cert", CONF_STR, offsetof(type, cluster.rpc_tls_cert), "", 0, 0, NULL},       \
        {"rpc", "tls_key", CONF_STR, offsetof(type, cluster.rpc_tls_key), "", 0, 0, NULL},         \
        {"rpc", "tls_ca", CONF_STR, offsetof(type, cluster.rpc_tls_ca), "", 0, 0, NULL},           \
    {                                                                                              \
        "rpc", "tls_verify_name", CONF_STR, offsetof(type, cluster.rpc_tls_verify_name), "", 0, 0, \
            NULL                                                                                   \
    }

/* Reads the secret (from secret or secret_file) and hands it, with the limits, to rpc_configure,
 * and the [rpc] tls_* files to rpc_configure_tls. Returns 0, or HERALD_ECONF with a message in
 * err (never the secret): no secret, both set, a file that cannot be read, a secret shorter than
 * 16 or longer than 4096 bytes, a TLS file missing or bad (rpc_configure_tls). A secret file
 * that others may read is accepted with a warning. */
int cluster_apply(const cluster_conf_t *c, char *err, size_t errlen);

#endif
