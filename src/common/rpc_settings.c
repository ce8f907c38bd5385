/* rpc_settings.c - the process-wide RPC settings (rpc_configure in rpc.h). One cluster per
 * process: the secret and the server limits are the same for every RPC object a daemon makes,
 * and clients are created deep inside pools and services that know nothing of the
 * configuration. */
#include "rpc.h"

#include "herald_err.h"
#include "log.h"
#include "rpc_settings.h"
#include "tls_client.h"
#include "tls_server.h"

#include <errno.h>
#include <openssl/ssl.h>
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
    rpc_auth_key_t key;
    int has_key = 0;

    if (s->secret != NULL) {
        if (rpc_auth_key_init(&key, s->secret, s->secret_len) != 0)
            return HERALD_EINVAL;
        has_key = 1;
    }
    rpc_auth_key_wipe(&rpc_settings.key);
    if (has_key)
        rpc_settings.key = key;
    rpc_auth_key_wipe(&key);
    rpc_settings.has_key = has_key;
    rpc_settings.max_conns = s->max_conns ? s->max_conns : RPC_DEFAULT_MAX_CONNS;
    rpc_settings.handshake_timeout_ms =
        s->handshake_timeout_ms ? s->handshake_timeout_ms : RPC_DEFAULT_HANDSHAKE_TIMEOUT_MS;
    rpc_settings.idle_timeout_ms = s->idle_timeout_ms;
    return 0;
}

/* A file that cannot be opened is named with its key and errno's words (OpenSSL would only say
 * "system lib"). Returns 0, or -1 with err set. */
static int tls_file_check(const char *key, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        snprintf(err, errlen, "[rpc] %s %s: cannot open: %s", key, path, strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

int rpc_configure_tls(const rpc_tls_conf_t *t, char *err, size_t errlen)
{
    tls_server_t *server = NULL;
    SSL_CTX *server_ctx = NULL, *client_ctx = NULL;
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
    if (on && (tls_file_check("tls_cert", t->cert, err, errlen) != 0 ||
               tls_file_check("tls_key", t->key, err, errlen) != 0 ||
               tls_file_check("tls_ca", t->ca, err, errlen) != 0))
        return HERALD_ECONF;
    if (on) {
        /* One certificate for both roles: a daemon that serves RPC also calls others. */
        server = tls_server_new(&(tls_server_conf_t){.cert = t->cert,
                                                     .key = t->key,
                                                     .min_version = 12,
                                                     .client_ca = t->ca,
                                                     .client_name = t->verify_name},
                                why, sizeof(why));
        if (server != NULL) {
            server_ctx = tls_server_ctx(server);
            tls_server_free(server); /* the context lives on by its reference */
            client_ctx = tls_client_ctx_new(&(tls_client_conf_t){.cert = t->cert,
                                                                 .key = t->key,
                                                                 .ca = t->ca,
                                                                 .verify_name = t->verify_name,
                                                                 .min_version = 12},
                                            why, sizeof(why));
        }
        if (client_ctx == NULL) {
            SSL_CTX_free(server_ctx);
            snprintf(err, errlen, "[rpc] tls: %s", why);
            return HERALD_ECONF;
        }
    }
    SSL_CTX_free(rpc_settings.tls_server);
    SSL_CTX_free(rpc_settings.tls_client);
    rpc_settings.tls_server = server_ctx;
    rpc_settings.tls_client = client_ctx;
    if (on)
        log_info("rpc: mutual TLS on every RPC connection (certificate %s, peers signed by %s%s%s)",
                 t->cert, t->ca, t->verify_name && t->verify_name[0] ? ", named " : "",
                 t->verify_name && t->verify_name[0] ? t->verify_name : "");
    return 0;
}

void rpc_settings_get(rpc_settings_now_t *out)
{
    *out = rpc_settings;
    if (out->tls_server != NULL)
        SSL_CTX_up_ref(out->tls_server);
    if (out->tls_client != NULL)
        SSL_CTX_up_ref(out->tls_client);
}

void rpc_settings_wipe(rpc_settings_now_t *s)
{
    rpc_auth_key_wipe(&s->key);
    SSL_CTX_free(s->tls_server);
    SSL_CTX_free(s->tls_client);
    s->tls_server = NULL;
    s->tls_client = NULL;
}
