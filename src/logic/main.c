/* herald-logic: HTTP API, token auth, Logic RPC service for comets, envelopes to Kafka. */
#include "daemon.h"
#include "log.h"
#include "logic_conf.h"
#include "logic_server.h"

#include <stddef.h>

static logic_conf_t conf;

static int start(uv_loop_t *loop, const void *c, void **out)
{
    char err[512];
    *out = logic_server_new(loop, c, err, sizeof(err));
    if (*out == NULL) {
        log_error("%s", err);
        return -1;
    }
    return 0;
}

static void stop(void *s)
{
    logic_server_close(s, NULL, NULL);
}

/* What SIGHUP applies besides [log] (docs/operations.md, "Signals"): keys read where they are
 * used, on the main loop. */
static const char *const reloadable[] = {
    "login.name_burst",
    "login.name_refill",
    "login.addr_burst",
    "login.addr_refill",
    "login.register_burst",
    "login.register_refill",
    "chat.sender_rate",
    "chat.sender_burst",
    "auth.token_ttl",
    "push.idempotency_window",
    "inbox.max_count",
    "inbox.max_age",
    "inbox.page_bytes",
    "inbox.sender_share",
    "protocol.heartbeat",
    "registry.ttl",
    NULL,
};

int main(int argc, char **argv)
{
    static const daemon_spec_t spec = {
        .name = "logic",
        .conf_items = logic_conf_items,
        DAEMON_SPEC_CONF(logic_conf_t, conf),
        .start = start,
        .stop = stop,
        .http_tls_section = "http",
        .http_tls_offset = offsetof(logic_conf_t, http_tls),
        .reloadable = reloadable,
    };
    return daemon_run(argc, argv, &spec);
}
