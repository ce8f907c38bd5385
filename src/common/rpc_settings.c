/* rpc_settings.c - the process-wide RPC settings (rpc_configure in rpc.h). One cluster per
 * process: the secret and the server limits are the same for every RPC object a daemon makes,
 * and clients are created deep inside pools and services that know nothing of the
 * configuration. */
#include "rpc.h"

#include "herald_err.h"
#include "rpc_settings.h"

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
    rpc_settings_wipe(&rpc_settings);
    rpc_settings = next;
    rpc_settings_wipe(&next);
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
