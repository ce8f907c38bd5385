/* herald-comet: holds client TCP and WebSocket connections (DESIGN.md §1). */
#include "comet_conf.h"
#include "comet_drain.h"
#include "comet_server.h"
#include "daemon.h"
#include "log.h"

#include <stddef.h>

static comet_conf_t conf;

static int start(uv_loop_t *loop, const void *c, void **out)
{
    char err[512];
    comet_server_t *s = comet_server_new(loop, c, err, sizeof err);
    if (s == NULL) {
        log_error("%s", err);
        return 1;
    }
    *out = s;
    return 0;
}

/* The first SIGTERM or SIGINT drains the comet (server.drain_time), which then closes it:
 * comet_server_close frees the server, so daemon_spec needs no free hook. The signal arrives on
 * the main loop, where both must begin. */
static void stop(void *s)
{
    comet_drain_start(s, NULL, NULL);
}

int main(int argc, char **argv)
{
    static const daemon_spec_t spec = {"comet",
                                       comet_conf_items,
                                       &conf,
                                       offsetof(comet_conf_t, log_level),
                                       offsetof(comet_conf_t, cluster),
                                       start,
                                       stop,
                                       NULL,
                                       "admin",
                                       offsetof(comet_conf_t, admin_tls)};
    return daemon_run(argc, argv, &spec);
}
