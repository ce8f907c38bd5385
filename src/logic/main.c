/* herald-logic: HTTP API, token auth, Logic RPC service for comets, envelopes to Kafka. */
#include "daemon.h"
#include "log.h"
#include "logic_conf.h"
#include "logic_server.h"

#include <stddef.h>

static logic_conf_t conf;

static int start(uv_loop_t *loop, const void *c, void **out)
{
    char err[512];
    *out = logic_server_new(loop, c, err, sizeof(err));
    if (*out == NULL) {
        log_error("%s", err);
        return -1;
    }
    return 0;
}

static void stop(void *s)
{
    logic_server_close(s, NULL, NULL);
}

int main(int argc, char **argv)
{
    static const daemon_spec_t spec = {"logic",
                                       logic_conf_items,
                                       &conf,
                                       offsetof(logic_conf_t, log_level),
                                       offsetof(logic_conf_t, cluster),
                                       start,
                                       stop,
                                       NULL,
                                       "http",
                                       offsetof(logic_conf_t, http_tls)};
    return daemon_run(argc, argv, &spec);
}
