/* rpc_settings.c - the process-wide RPC settings (rpc_configure in rpc.h). One cluster per
 * process: the secret and the server limits are the same for every RPC object a daemon makes,
 * and clients are created deep inside pools and services that know nothing of the
 * configuration. */
#include "rpc.h"

#include "herald_err.h"
#include "log.h"
#include "rpc_settings.h"

#include <stdio.h>
#include <string.h>

static rpc_settings_now_t rpc_settings = {
    .has_key = 0,
    .max_conns = RPC_DEFAULT_MAX_CONNS,
    .handshake_timeout_ms = RPC_DEFAULT_HANDSHAKE_TIMEOUT_MS,
    .idle_timeout_ms = 0,
};

int rpc_configure(const rpc_settings_t *s)
{
    rpc_settings_now_t next = {0};

    if (s->secret != NULL) {
        if (rpc_auth_key_init(&next.key, s->secret, s->secret_len) != 0)
            return HERALD_EINVAL;
        next.has_key = 1;
    }
    next.max_conns = s->max_conns ? s->max_conns : RPC_DEFAULT_MAX_CONNS;
    next.handshake_timeout_ms =
        s->handshake_timeout_ms ? s->handshake_timeout_ms : RPC_DEFAULT_HANDSHAKE_TIMEOUT_MS;
    next.idle_timeout_ms = s->idle_timeout_ms;
    next.tls_server = rpc_settings.tls_server;
    next.tls_client = rpc_settings.tls_client;
    rpc_settings_wipe(&rpc_settings);
    rpc_settings = next;
    rpc_settings_wipe(&next);
    return 0;
}

int rpc_configure_tls(const rpc_tls_conf_t *t, char *err, size_t errlen)
{
    tls_server_t *server = NULL;
    tls_client_t *client = NULL;
    char why[512];
    int on = t != NULL && t->cert != NULL && t->cert[0] != '\0';

    if (on && (t->key == NULL || t->key[0] == '\0' || t->ca == NULL || t->ca[0] == '\0')) {
        snprintf(err, errlen, "rpc.tls_cert is set: rpc.tls_key and rpc.tls_ca are required too");
        return HERALD_ECONF;
    }
    if (!on && t != NULL &&
        ((t->key != NULL && t->key[0] != '\0') || (t->ca != NULL && t->ca[0] != '\0'))) {
        snprintf(err, errlen, "rpc.tls_key / rpc.tls_ca without rpc.tls_cert");
        return HERALD_ECONF;
    }
    if (on) {
        /* One certificate for both roles: every daemon that serves RPC also calls others. */
        server = tls_server_new(
            &(tls_server_conf_t){.cert = t->cert, .key = t->key, .min_version = 12,
                                 .client_ca = t->ca, .client_name = t->verify_name},
            why, sizeof(why));
        if (server != NULL)
            client = tls_client_new(&(tls_client_conf_t){.cert = t->cert, .key = t->key,
                                                         .ca = t->ca,
                                                         .verify_name = t->verify_name,
                                                         .min_version = 12},
                                    why, sizeof(why));
        if (client == NULL) {
            tls_server_free(server);
            snprintf(err, errlen, "rpc tls: %s", why);
            return HERALD_ECONF;
        }
    }
    tls_server_free(rpc_settings.tls_server);
    tls_client_free(rpc_settings.tls_client);
    rpc_settings.tls_server = server;
    rpc_settings.tls_client = client;
    if (on)
        log_info("rpc: mutual TLS on every RPC connection (certificate %s, peers signed by %s%s%s)",
                 t->cert, t->ca, t->verify_name && t->verify_name[0] ? ", named " : "",
                 t->verify_name && t->verify_name[0] ? t->verify_name : "");
    return 0;
}

void rpc_settings_get(rpc_settings_now_t *out)
{
    *out = rpc_settings;
}

void rpc_settings_wipe(rpc_settings_now_t *s)
{
    rpc_auth_key_wipe(&s->key);
}
