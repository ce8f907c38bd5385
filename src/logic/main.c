/* herald-logic: HTTP API, token auth, Logic RPC service for comets, envelopes to Kafka. */
#include "daemon.h"
#include "log.h"
#include "logic_conf.h"
#include "logic_server.h"

#include <stdlib.h>
#include <uv.h>

static void on_stop(void *arg)
{
    logic_server_close(arg, NULL, NULL);
}

int main(int argc, char **argv)
{
    logic_conf_t conf;
    daemon_setup(argc, argv, "logic", logic_conf_items, &conf);
    log_init("logic", (log_level_t)conf.log_level);
    uv_loop_t *loop = uv_default_loop();
    char err[512];
    logic_server_t *server = logic_server_new(loop, &conf, err, sizeof(err));
    if (server == NULL) {
        log_error("%s", err);
        uv_run(loop, UV_RUN_DEFAULT); /* let what was opened finish closing */
        uv_loop_close(loop);
        conf_free(logic_conf_items, &conf);
        return EXIT_FAILURE;
    }
    daemon_signals_start(loop, on_stop, server);
    /* The signal watchers do not keep the loop alive: it ends once the server has closed, and
     * until then a second signal still exits at once. */
    uv_run(loop, UV_RUN_DEFAULT);
    daemon_signals_close();
    uv_run(loop, UV_RUN_DEFAULT);
    if (uv_loop_close(loop) != 0)
        log_warn("loop closed with handles left");
    conf_free(logic_conf_items, &conf);
    log_info("stopped");
    return EXIT_SUCCESS;
}
