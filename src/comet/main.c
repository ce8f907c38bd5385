/* herald-comet: holds client TCP and WebSocket connections (DESIGN.md §1). */
#include "comet_conf.h"
#include "comet_server.h"
#include "daemon.h"

#include <stddef.h>

static comet_conf_t conf;

static int start(uv_loop_t *loop, const void *c, void **out)
{
    return comet_server_start(loop, c, (comet_server_t **)out);
}

static void stop(void *s)
{
    comet_server_stop(s, NULL, NULL);
}

static void free_server(void *s)
{
    comet_server_free(s);
}

int main(int argc, char **argv)
{
    static const daemon_spec_t spec = {
        "comet", comet_conf_items, &conf, offsetof(comet_conf_t, log_level), start,
        stop,    free_server};
    return daemon_run(argc, argv, &spec);
}
