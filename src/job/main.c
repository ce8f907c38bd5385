/* herald-job: consumes push envelopes from Kafka and delivers them to the comets. */
#include "daemon.h"
#include "job_conf.h"
#include "job_server.h"
#include "log.h"

#include <stdlib.h>

static void on_stop(void *arg)
{
    job_server_stop(arg);
    daemon_signals_close();
}

int main(int argc, char **argv)
{
    job_conf_t conf = {0};
    job_server_t server = {0};
    uv_loop_t loop;
    daemon_setup(argc, argv, "job", job_conf_items, &conf);
    log_init("job", (log_level_t)conf.log_level);
    uv_loop_init(&loop);
    int rc = job_server_start(&server, &loop, &conf);
    if (rc == 0) {
        daemon_signals_start(&loop, on_stop, &server);
        log_info("ready");
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    conf_free(job_conf_items, &conf);
    if (rc == 0)
        log_info("stopped");
    return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
