/* herald-job: consumes push envelopes from Kafka and delivers them to the comets. */
#include "daemon.h"
#include "job_conf.h"
#include "job_server.h"
#include "log.h"

#include <stddef.h>

static job_conf_t conf;
static job_server_t server;

static int start(uv_loop_t *loop, const void *c, void **out)
{
    *out = &server;
    int rc = job_server_start(&server, loop, c);
    if (rc == 0)
        log_info("ready");
    return rc;
}

static void stop(void *s)
{
    job_server_stop(s);
}

int main(int argc, char **argv)
{
    static const daemon_spec_t spec = {
        "job", job_conf_items, &conf, offsetof(job_conf_t, log_level), start, stop, NULL};
    return daemon_run(argc, argv, &spec);
}
