/* herald-comet: holds client TCP and WebSocket connections (DESIGN.md §1). */
#include "comet_conf.h"
#include "comet_drain.h"
#include "comet_server.h"
#include "daemon.h"
#include "log.h"

#include <stddef.h>

static comet_conf_t conf;

static int start(uv_loop_t *loop, const void *c, void **out)
{
    char err[512];
    comet_server_t *s = comet_server_new(loop, c, err, sizeof err);
    if (s == NULL) {
        log_error("%s", err);
        return 1;
    }
    *out = s;
    return 0;
}

/* The first SIGTERM or SIGINT drains the comet (server.drain_time), which then closes it:
 * comet_server_close frees the server, so daemon_spec needs no free hook. The signal arrives on
 * the main loop, where both must begin. */
static void stop(void *s)
{
    comet_drain_start(s, NULL, NULL);
}

/* What SIGHUP applies besides [log] (docs/operations.md, "Signals"): keys read where they are
 * used, on the main loop, or handed to the workers by comet_reload_apply. */
static const char *const reloadable[] = {
    "protocol.max_body",
    "protocol.max_pending_bytes",
    "protocol.max_msg",
    "protocol.upstream_rate",
    "protocol.auth_timeout",
    "protocol.heartbeat_timeout",
    "protocol.renew_interval",
    "server.fanout_batch",
    "server.weight",
    "server.renew_online_interval",
    "tls.cert",
    "tls.key",
    NULL,
};

/* Certificates and the workers' limits (comet_reload.h). */
static void reload(void *s)
{
    comet_reload_apply(&((comet_server_t *)s)->reload);
}

int main(int argc, char **argv)
{
    static const daemon_spec_t spec = {
        .name = "comet",
        .conf_items = comet_conf_items,
        DAEMON_SPEC_CONF(comet_conf_t, conf),
        .start = start,
        .stop = stop,
        .http_tls_section = "admin",
        .http_tls_offset = offsetof(comet_conf_t, admin_tls),
        .reloadable = reloadable,
        .reload = reload,
    };
    return daemon_run(argc, argv, &spec);
}
