/* herald-router: in-memory user -> (comet, key) placement, one shard of the user id space. */
#include "daemon.h"
#include "log.h"
#include "router_conf.h"
#include "router_server.h"

#include <stddef.h>

static router_conf_t conf;
static router_server_t server;

static int start(uv_loop_t *loop, const void *c, void **out)
{
    *out = &server;
    int rc = router_server_start(&server, loop, c);
    if (rc == 0)
        log_info("ready");
    return rc;
}

static void stop(void *s)
{
    router_server_close(s);
}

int main(int argc, char **argv)
{
    static const daemon_spec_t spec = {
        "router", router_conf_items, &conf, offsetof(router_conf_t, log_level), start, stop, NULL};
    return daemon_run(argc, argv, &spec);
}
