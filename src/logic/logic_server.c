/* logic_server.c - creates logic's backends and listeners, and takes them down in order. */
#include "logic_server.h"

#include "buf.h"
#include "conf.h"
#include "herald_err.h"
#include "log.h"
#include "logic_comets.h"
#include "logic_events.h"
#include "logic_http.h"
#include "logic_login.h"
#include "logic_online.h"
#include "logic_router.h"
#include "logic_rpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KAFKA_FLUSH_MS 5000
#define PREFIX_MAX 64

int logic_server_key(const logic_server_t *s, char *out, const char *fmt, ...)
{
    size_t plen = strlen(s->conf->redis_prefix);
    memcpy(out, s->conf->redis_prefix, plen);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + plen, LOGIC_KEY_MAX - plen, fmt, ap);
    va_end(ap);
    return (int)plen + n;
}

redis_t *logic_server_redis(logic_server_t *s)
{
    return s->stopping ? NULL : s->redis;
}

struct logic_router_s *logic_server_router(logic_server_t *s)
{
    return s->stopping ? NULL : s->router;
}

kafka_producer_t *logic_server_kafka(logic_server_t *s)
{
    return s->stopping ? NULL : s->kafka;
}

static int make_router(logic_server_t *s, char *err, size_t errlen)
{
    size_t n;
    char **addrs = conf_list_split(s->conf->router_addrs, &n);
    s->router = logic_router_new(s->loop, (const char *const *)addrs, n,
                                 (uint32_t)s->conf->rpc_timeout_ms, err, errlen);
    conf_list_free(addrs);
    return s->router ? 0 : HERALD_ECONF;
}

static int make_backends(logic_server_t *s, char *err, size_t errlen)
{
    const logic_conf_t *c = s->conf;
    if (strlen(c->redis_prefix) > PREFIX_MAX) {
        snprintf(err, errlen, "redis.prefix: longer than %d bytes", PREFIX_MAX);
        return HERALD_ECONF;
    }
    char *host = NULL;
    int port;
    if (conf_parse_addr(c->redis_addr, &host, &port) != 0) {
        snprintf(err, errlen, "redis.addr: bad address \"%s\"", c->redis_addr);
        return HERALD_ECONF;
    }
    char kerr[256] = "";
    s->kafka = kafka_producer_new(s->loop, c->kafka_brokers, c->kafka_topic, kerr, sizeof(kerr));
    if (s->kafka == NULL) {
        snprintf(err, errlen, "kafka: %s", kerr);
        free(host);
        return HERALD_ECONF;
    }
    if (make_router(s, err, errlen) != 0) {
        free(host);
        return HERALD_ECONF;
    }
    if (logic_login_conf_check(c, err, errlen) != 0) {
        free(host);
        return HERALD_ECONF;
    }
    s->events = logic_events_new(s, err, errlen);
    if (s->events == NULL && err[0] != '\0') {
        free(host);
        return HERALD_ECONF;
    }
    /* Redis last: every check that can fail is done, and it connects in the background. */
    s->redis = redis_new(s->loop, host, port, c->redis_password, (int)c->redis_db);
    free(host);
    return 0;
}

logic_server_t *logic_server_new(uv_loop_t *loop, const logic_conf_t *conf, char *err,
                                 size_t errlen)
{
    logic_server_t *s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->conf = conf;
    if (make_backends(s, err, errlen) == 0) {
        s->online = logic_online_new(s);
        s->comets = logic_comets_new(s);
        s->http = logic_http_new(s, err, errlen);
        if (s->http != NULL)
            s->rpc = logic_rpc_new(s, err, errlen);
    }
    if (s->rpc == NULL) {
        logic_server_close(s, NULL, NULL);
        return NULL;
    }
    if (conf->auth_mode == LOGIC_AUTH_INSECURE_MID)
        log_warn("auth.mode = insecure-mid: clients may claim any user id without a token "
                 "(for goim clients and benchmarks only)");
    log_info("ready: http port %d, rpc port %d, %zu router(s), kafka %s topic %s",
             logic_http_port(s->http), rpc_server_port(s->rpc), logic_router_count(s->router),
             conf->kafka_brokers, conf->kafka_topic);
    return s;
}

int logic_server_http_port(const logic_server_t *s)
{
    return logic_http_port(s->http);
}

int logic_server_rpc_port(const logic_server_t *s)
{
    return rpc_server_port(s->rpc);
}

static void finish(logic_server_t *s)
{
    void (*cb)(void *) = s->close_cb;
    void *arg = s->close_arg;
    free(s);
    if (cb != NULL)
        cb(arg);
}

/* Second stage: the aggregate and the RPC server (nothing uses them any more). */
static void on_last_closed(void *arg)
{
    logic_server_t *s = arg;
    if (--s->closing == 0)
        finish(s);
}

/* First stage done: every backend is closed, so every piece of work has had its last callback
 * and answered its caller (with an error if its backend went away). */
static void on_backend_closed(void *arg)
{
    logic_server_t *s = arg;
    if (--s->closing > 0)
        return;
    s->closing = 1; /* hold, as below */
    if (s->online != NULL) {
        s->closing++;
        logic_online_close(s->online, on_last_closed, s);
        s->online = NULL;
    }
    if (s->comets != NULL) {
        s->closing++;
        logic_comets_close(s->comets, on_last_closed, s);
        s->comets = NULL;
    }
    if (s->rpc != NULL) {
        s->closing++;
        rpc_server_close(s->rpc, on_last_closed, s);
        s->rpc = NULL;
    }
    on_last_closed(s);
}

void logic_server_close(logic_server_t *s, void (*cb)(void *arg), void *arg)
{
    s->stopping = 1; /* from now on no module starts backend work; RPC calls are refused */
    s->close_cb = cb;
    s->close_arg = arg;
    s->closing = 1; /* hold until every close below has been started */
    if (s->http != NULL) {
        s->closing++;
        logic_http_close(s->http, on_backend_closed, s);
        s->http = NULL;
    }
    /* Deliveries in flight end here (their pushes answer their callers); pushes still waiting
     * on Redis or a router then find no Kafka and fail as "stopping". */
    if (s->kafka != NULL) {
        kafka_producer_free(s->kafka, KAFKA_FLUSH_MS);
        s->kafka = NULL;
    }
    logic_events_free(s->events, KAFKA_FLUSH_MS);
    s->events = NULL;
    if (s->router != NULL) {
        s->closing++;
        logic_router_close(s->router, on_backend_closed, s);
    }
    if (s->redis != NULL) {
        s->closing++;
        redis_close(s->redis, on_backend_closed, s);
    }
    on_backend_closed(s);
}
