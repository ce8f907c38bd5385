/* herald-comet: holds client TCP and WebSocket connections (DESIGN.md §1). */
#include "comet_conf.h"
#include "comet_server.h"
#include "daemon.h"
#include "log.h"

#include <stdlib.h>
#include <uv.h>

static void on_stopped(void *arg)
{
    /* The signal watchers are the last handles of the loop: closing them ends uv_run. */
    daemon_signals_close();
}

static void on_signal(void *arg)
{
    comet_server_stop(arg, on_stopped, NULL);
}

int main(int argc, char **argv)
{
    comet_conf_t conf;
    daemon_setup(argc, argv, "comet", comet_conf_items, &conf);
    log_init("comet", (log_level_t)conf.log_level);
    uv_loop_t *loop = uv_default_loop();
    comet_server_t *s = NULL;
    if (comet_server_start(loop, &conf, &s) != 0) {
        conf_free(comet_conf_items, &conf);
        return 1;
    }
    daemon_signals_start(loop, on_signal, s);
    uv_run(loop, UV_RUN_DEFAULT);
    comet_server_free(s);
    int rc = uv_loop_close(loop);
    if (rc != 0)
        log_error("loop still busy at exit: %s", uv_strerror(rc));
    conf_free(comet_conf_items, &conf);
    log_info("stopped");
    return 0;
}
