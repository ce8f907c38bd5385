/* router_server.c - wiring of herald-router's parts on its loop (see router_server.h). */
#include "router_server.h"

#include "addr.h"
#include "buf.h"
#include "daemon.h"
#include "herald_err.h"
#include "log.h"
#include "router_admin.h"
#include "router_registry.h"
#include "router_rpc.h"
#include "router_table.h"
#include "rpc.h"

#include <stdio.h>
#include <stdlib.h>

/* Owned by whoever called router_server_new; freed when the last part has closed. */
struct router_server_s {
    const router_conf_t *conf; /* borrowed */
    router_table_t *table;
    router_rpc_t rpc;
    router_admin_t admin_view;
    rpc_server_t *rpc_server;
    admin_t *admin;
    router_registry_t *registry; /* NULL when registry.advertise is "" */
    uv_timer_t sweep_timer;
    int open; /* parts not yet closed (rpc server, admin, timer, registry); s is freed at 0 */
    void (*close_cb)(void *arg);
    void *close_arg;
};

static uint64_t router_server_now_ms(void)
{
    return daemon_now_ms();
}

static void on_part_closed(void *arg)
{
    router_server_t *s = arg;
    if (--s->open > 0)
        return;
    void (*cb)(void *) = s->close_cb;
    void *cb_arg = s->close_arg;
    router_table_free(s->table);
    free(s);
    if (cb != NULL)
        cb(cb_arg);
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

/* The RPC listener from conf. Returns 0, or an error with the message in err. */
static int router_server_listen_rpc(router_server_t *s, char *err, size_t errlen)
{
    char host[ADDR_HOST_MAX];
    int port;
    int rc = addr_split(s->conf->rpc_listen, host, &port);
    if (rc == 0)
        rc = rpc_server_listen(s->rpc_server, host, port);
    if (rc < 0)
        snprintf(err, errlen, "rpc.listen %s: %s", s->conf->rpc_listen, herald_strerror(rc));
    return rc;
}

/* The admin endpoint from conf. Returns 0, or an error with the message in err. */
static int router_server_listen_admin(router_server_t *s, uv_loop_t *loop, char *err, size_t errlen)
{
    char host[ADDR_HOST_MAX];
    int port;
    if (addr_split(s->conf->admin_listen, host, &port) != 0) {
        snprintf(err, errlen, "admin.listen %s: not host:port", s->conf->admin_listen);
        return HERALD_ECONF;
    }
    s->admin = admin_new(loop, &router_admin_ops, &s->admin_view, host, port, &s->conf->admin_tls,
                         err, errlen);
    return s->admin != NULL ? 0 : HERALD_ECONF;
}

router_server_t *router_server_new(uv_loop_t *loop, const router_conf_t *conf, char *err,
                                   size_t errlen)
{
    size_t n_methods;
    const rpc_method_t *methods = router_rpc_methods(&n_methods);
    router_server_t *s = xcalloc(1, sizeof(*s));
    s->conf = conf;
    s->table = router_table_new((uint32_t)conf->max_conns, (router_overflow_t)conf->overflow,
                                (uint64_t)conf->ttl_ms);
    s->rpc.table = s->table;
    s->rpc.now_ms = router_server_now_ms;
    s->rpc.epoch = router_rpc_epoch_new();
    s->admin_view.rpc = &s->rpc;
    s->rpc_server = rpc_server_new(loop, methods, n_methods, &s->rpc);
    s->admin_view.rpc_server = s->rpc_server;
    if (router_server_listen_rpc(s, err, errlen) < 0 ||
        router_server_listen_admin(s, loop, err, errlen) < 0) {
        /* No connection was accepted yet, so no handler can touch the table: the rpc server
         * finishes closing on its own and everything else goes now. */
        rpc_server_close(s->rpc_server, NULL, NULL);
        router_table_free(s->table);
        free(s);
        return NULL;
    }
    s->registry = router_registry_new(loop, conf, s->rpc.epoch, err, errlen);
    if (s->registry == NULL && err[0] != '\0') {
        /* The listeners are open: close them as a stop would, and answer NULL. */
        rpc_server_close(s->rpc_server, NULL, NULL);
        admin_close(s->admin, NULL, NULL);
        router_table_free(s->table);
        free(s);
        return NULL;
    }
    uv_timer_init(loop, &s->sweep_timer);
    s->sweep_timer.data = s;
    uv_timer_start(&s->sweep_timer, on_sweep, (uint64_t)conf->sweep_ms, (uint64_t)conf->sweep_ms);
    log_info("rpc on %s, admin on %s, epoch %016llx, %lld conns per user (%s), ttl %lld ms",
             conf->rpc_listen, conf->admin_listen, (unsigned long long)s->rpc.epoch,
             (long long)conf->max_conns,
             conf->overflow == ROUTER_OVERFLOW_KICK_OLDEST ? "kick-oldest" : "reject-new",
             (long long)conf->ttl_ms);
    return s;
}

int router_server_rpc_port(const router_server_t *s)
{
    return rpc_server_port(s->rpc_server);
}

int router_server_admin_port(const router_server_t *s)
{
    return admin_port(s->admin);
}

void router_server_close(router_server_t *s, void (*cb)(void *arg), void *arg)
{
    s->admin_view.stopping = 1;
    s->close_cb = cb;
    s->close_arg = arg;
    s->open = s->registry != NULL ? 4 : 3;
    if (s->registry != NULL)
        router_registry_close(s->registry, on_part_closed, s);
    rpc_server_close(s->rpc_server, on_part_closed, s);
    admin_close(s->admin, on_part_closed, s);
    uv_close((uv_handle_t *)&s->sweep_timer, on_sweep_timer_closed);
}
