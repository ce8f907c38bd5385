/* router_server.c - wiring of herald-router's parts on its loop. */
#include "router_server.h"

#include "daemon.h"
#include "herald_err.h"
#include "log.h"
#include "router_admin.h"

#include <stdlib.h>
#include <string.h>

static uint64_t router_server_now_ms(void)
{
    return daemon_now_ms();
}

static void on_part_closed(void *arg)
{
    router_server_t *s = arg;
    if (--s->open == 0) {
        router_table_free(s->table);
        s->table = NULL;
    }
}

static void on_sweep_timer_closed(uv_handle_t *h)
{
    on_part_closed(h->data);
}

static void on_sweep(uv_timer_t *timer)
{
    router_server_t *s = timer->data;
    size_t freed = router_table_sweep(s->table, daemon_now_ms(), (size_t)s->conf->sweep_slots);
    s->rpc.stats.expired += freed;
    if (freed > 0)
        log_debug("sweep: %zu placements expired", freed);
}

/* Parses "host:port" and starts one listener through `listen`. */
static int listen_on(const char *what, const char *addr, void *server,
                     int (*listen)(void *server, const char *host, int port))
{
    char *host = NULL;
    int port;
    int rc = conf_parse_addr(addr, &host, &port);
    if (rc == 0)
        rc = listen(server, host, port);
    if (rc < 0)
        log_error("%s listen %s: %s", what, addr, herald_strerror(rc));
    free(host);
    return rc;
}

static int rpc_listen(void *server, const char *host, int port)
{
    return rpc_server_listen(server, host, port);
}

static int admin_listen(void *server, const char *host, int port)
{
    return http_server_listen(server, host, port);
}

int router_server_start(router_server_t *s, uv_loop_t *loop, const router_conf_t *conf)
{
    size_t n_methods;
    const rpc_method_t *methods = router_rpc_methods(&n_methods);
    s->loop = loop;
    s->conf = conf;
    s->table = router_table_new((uint32_t)conf->max_conns, (router_overflow_t)conf->overflow,
                                (uint64_t)conf->ttl_ms);
    s->rpc.table = s->table;
    s->rpc.now_ms = router_server_now_ms;
    memset(&s->rpc.stats, 0, sizeof(s->rpc.stats));
    s->rpc_server = rpc_server_new(loop, methods, n_methods, &s->rpc);
    s->admin = http_server_new(loop, router_admin_on_request, &s->rpc, 4096);
    uv_timer_init(loop, &s->sweep_timer);
    s->sweep_timer.data = s;
    s->open = 3;

    int rc = listen_on("rpc", conf->rpc_listen, s->rpc_server, rpc_listen);
    if (rc == 0)
        rc = listen_on("admin", conf->admin_listen, s->admin, admin_listen);
    if (rc < 0) {
        router_server_close(s);
        return rc;
    }
    uv_timer_start(&s->sweep_timer, on_sweep, (uint64_t)conf->sweep_ms, (uint64_t)conf->sweep_ms);
    log_info("rpc on %s, admin on %s, %lld conns per user (%s), ttl %lld ms", conf->rpc_listen,
             conf->admin_listen, (long long)conf->max_conns,
             conf->overflow == ROUTER_OVERFLOW_KICK_OLDEST ? "kick-oldest" : "reject-new",
             (long long)conf->ttl_ms);
    return 0;
}

void router_server_close(router_server_t *s)
{
    rpc_server_close(s->rpc_server, on_part_closed, s);
    http_server_close(s->admin, on_part_closed, s);
    uv_close((uv_handle_t *)&s->sweep_timer, on_sweep_timer_closed);
}
