/* logic_login_kick.c - Comet Kick calls from logic (see logic_login_kick.h). */
#include "logic_login_kick.h"

#include "buf.h"
#include "herald.pb-c.h"
#include "herald_err.h"
#include "log.h"
#include "logic_comets.h"
#include "rpc_methods.h"

#include <stdlib.h>

#define GIVE_UP_MS 3000
#define CALL_TIMEOUT_MS 3000

/* What the warnings name. Heap, freed by on_kicked. */
typedef struct kick_ctx_s {
    char *server;
    size_t n;
} kick_ctx_t;

static void on_kicked(int status, const ProtobufCMessage *reply, void *arg)
{
    kick_ctx_t *k = arg;
    if (status == UV_ENOTCONN)
        log_warn("kick: comet %.128s unreachable, %zu connection(s) not kicked", k->server, k->n);
    else if (status != 0)
        log_warn_rl("kick: comet call failed: %s", herald_strerror(status));
    else
        log_debug("kick: %d connection(s) kicked", ((const Herald__KickReply *)reply)->kicked);
    free(k->server);
    free(k);
}

void logic_login_kick(const logic_ctx_t *ctx, const char *server, const char *const *keys, size_t n,
                      const char *reason)
{
    if (n == 0 || ctx->comets == NULL || logic_ctx_stopping(ctx))
        return;
    Herald__KickReq req = HERALD__KICK_REQ__INIT;
    req.keys = (char **)keys;
    req.n_keys = n;
    req.reason = (char *)reason;
    kick_ctx_t *k = xmalloc(sizeof(*k));
    k->server = xstrdup(server);
    k->n = n;
    if (logic_comets_call(ctx->comets, server, RPC_COMET_KICK, (const ProtobufCMessage *)&req,
                          &herald__kick_reply__descriptor, GIVE_UP_MS, CALL_TIMEOUT_MS, on_kicked,
                          k) != 0) {
        free(k->server);
        free(k);
    }
}
