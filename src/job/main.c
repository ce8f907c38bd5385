/* herald-job: consumes push envelopes from Kafka and delivers them to the comets. */
#include "daemon.h"
#include "job_conf.h"
#include "job_server.h"
#include "log.h"

#include <stddef.h>

static job_conf_t conf;

static int start(uv_loop_t *loop, const void *c, void **out)
{
    char err[512];
    *out = job_server_new(loop, c, err, sizeof(err));
    if (*out == NULL) {
        log_error("%s", err);
        return -1;
    }
    log_info("ready");
    return 0;
}

static void stop(void *s)
{
    job_server_close(s, NULL, NULL);
}

/* What SIGHUP applies besides [log] (docs/operations.md, "Signals"): keys read where they are
 * used, on the main loop. */
static const char *const reloadable[] = {
    "kafka.max_in_flight", "comet.rpc_timeout", "comet.retries",           "comet.retry_backoff",
    "comet.ttl",           "room.linger",       "server.shutdown_timeout", NULL,
};

int main(int argc, char **argv)
{
    static const daemon_spec_t spec = {
        .name = "job",
        .conf_items = job_conf_items,
        DAEMON_SPEC_CONF(job_conf_t, conf),
        .start = start,
        .stop = stop,
        .http_tls_section = "admin",
        .http_tls_offset = offsetof(job_conf_t, admin_tls),
        .reloadable = reloadable,
    };
    return daemon_run(argc, argv, &spec);
}
