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

int main(int argc, char **argv)
{
    static const daemon_spec_t spec = {"job",
                                       job_conf_items,
                                       &conf,
                                       offsetof(job_conf_t, log_level),
                                       offsetof(job_conf_t, cluster),
                                       start,
                                       stop,
                                       NULL,
                                       "admin",
                                       offsetof(job_conf_t, admin_tls)};
    return daemon_run(argc, argv, &spec);
}
