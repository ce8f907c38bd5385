/* rpc_settings.h - internal to the RPC module (rpc_server.c, rpc_client.c): the process-wide
 * settings given to rpc_configure (rpc.h), which every server and client copies when it is
 * created. */
#ifndef HERALD_RPC_SETTINGS_H
#define HERALD_RPC_SETTINGS_H

#include "rpc_auth.h"

#include <stdint.h>

typedef struct rpc_settings_now_s {
    int has_key; /* 0 until rpc_configure got a secret: every handshake is then refused */
    rpc_auth_key_t key;
    uint32_t max_conns;
    uint32_t handshake_timeout_ms;
    uint32_t idle_timeout_ms;
    /* rpc_configure_tls: both set (TLS with client certificates on every connection) or both
     * NULL (clear). Each copy holds a reference (rpc_settings_wipe drops it), so a context
     * outlives a reconfiguration for the objects made before it. */
    struct ssl_ctx_st *tls_server;
    struct ssl_ctx_st *tls_client;
} rpc_settings_now_t;

/* A copy of the current settings (rpc_settings_wipe it when done: its key, its references). */
void rpc_settings_get(rpc_settings_now_t *out);
void rpc_settings_wipe(rpc_settings_now_t *s);

#endif
