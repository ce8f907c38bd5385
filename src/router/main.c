/* herald-router: in-memory user -> (comet, key) placement, one shard of the user id space. */
#include "daemon.h"
#include "log.h"
#include "router_conf.h"
#include "router_server.h"

#include <stddef.h>

static router_conf_t conf;

static int start(uv_loop_t *loop, const void *c, void **out)
{
    char err[512];
    router_server_t *s = router_server_new(loop, c, err, sizeof(err));
    if (s == NULL) {
        log_error("%s", err);
        return 1;
    }
    *out = s;
    log_info("ready");
    return 0;
}

/* router_server_close frees the server: daemon_spec needs no free hook. */
static void stop(void *s)
{
    router_server_close(s, NULL, NULL);
}

/* What SIGHUP applies besides [log] (docs/operations.md, "Signals"): keys read where they are
 * used, on the main loop. */
static const char *const reloadable[] = {
    "placement.sweep_slots",
    NULL,
};

int main(int argc, char **argv)
{
    static const daemon_spec_t spec = {
        .name = "router",
        .conf_items = router_conf_items,
        DAEMON_SPEC_CONF(router_conf_t, conf),
        .start = start,
        .stop = stop,
        .http_tls_section = "admin",
        .http_tls_offset = offsetof(router_conf_t, admin_tls),
        .reloadable = reloadable,
    };
    return daemon_run(argc, argv, &spec);
}
