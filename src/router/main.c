/* herald-router: in-memory user -> (comet, key) placement, one shard of the user id space. */
#include "daemon.h"
#include "log.h"
#include "router_conf.h"
#include "router_server.h"

#include <stdlib.h>

static void on_stop(void *arg)
{
    router_server_t *s = arg;
    router_server_close(s);
    daemon_signals_close();
}

int main(int argc, char **argv)
{
    router_conf_t conf = {0};
    router_server_t server = {0};
    uv_loop_t loop;
    daemon_setup(argc, argv, "router", router_conf_items, &conf);
    log_init("router", (log_level_t)conf.log_level);
    uv_loop_init(&loop);
    int rc = router_server_start(&server, &loop, &conf);
    if (rc == 0) {
        daemon_signals_start(&loop, on_stop, &server);
        log_info("ready");
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    conf_free(router_conf_items, &conf);
    if (rc == 0)
        log_info("stopped");
    return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
