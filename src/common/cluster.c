/* cluster.c - the [cluster] section (the cluster secret, the RPC server limits) and [rpc] TLS. */
#include "cluster.h"

#include "herald_err.h"
#include "log.h"
#include "rpc.h"
#include "rpc_auth.h"
#include "secret_file.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

int cluster_apply(const cluster_conf_t *c, char *err, size_t errlen)
{
    uint8_t buf[RPC_AUTH_SECRET_MAX + 1];
    int has_value = c->secret != NULL && c->secret[0] != '\0';
    int has_file = c->secret_file != NULL && c->secret_file[0] != '\0';
    ssize_t len;
    int rc;

    if (has_value && has_file) {
        snprintf(err, errlen,
                 "[cluster]: set secret (HERALD_CLUSTER_SECRET) or secret_file, "
                 "not both");
        return HERALD_ECONF;
    }
    if (!has_value && !has_file) {
        snprintf(err, errlen,
                 "[cluster]: no cluster secret: set secret_file (HERALD_CLUSTER_SECRET_FILE) or "
                 "HERALD_CLUSTER_SECRET, the same on every daemon (scripts/up.sh writes "
                 "run/secret; docs/security.md)");
        return HERALD_ECONF;
    }
    if (has_file) {
        len = secret_file_read("[cluster] secret_file", c->secret_file, buf, sizeof(buf), err,
                               errlen);
        if (len < 0)
            return HERALD_ECONF;
    } else {
        len = (ssize_t)strnlen(c->secret, sizeof(buf));
        memcpy(buf, c->secret, (size_t)len);
    }
    len = (ssize_t)secret_trim(buf, (size_t)len); /* a value from the environment too */
    rc = rpc_configure(&(rpc_settings_t){
        .secret = buf,
        .secret_len = (size_t)len,
        .max_conns = (uint32_t)c->rpc_max_conns,
        .handshake_timeout_ms = (uint32_t)c->rpc_handshake_timeout,
        .idle_timeout_ms = (uint32_t)c->rpc_idle_timeout,
    });
    sodium_memzero(buf, sizeof(buf));
    if (rc != 0) {
        snprintf(err, errlen, "[cluster] %s: the secret must be %d to %d bytes",
                 has_file ? "secret_file" : "secret", RPC_AUTH_SECRET_MIN, RPC_AUTH_SECRET_MAX);
        return HERALD_ECONF;
    }
    return rpc_configure_tls(&(rpc_tls_conf_t){.cert = c->rpc_tls_cert,
                                               .key = c->rpc_tls_key,
                                               .ca = c->rpc_tls_ca,
                                               .verify_name = c->rpc_tls_verify_name},
                             err, errlen);
}
