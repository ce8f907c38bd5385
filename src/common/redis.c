/* redis.c - the hiredis adapter (see redis.h): hiredis 0.14 async, attached to the loop with
 * hiredis's own libuv adapter. The only file that includes hiredis.
 *
 * States: down (r->ac NULL, r->timer waits out the backoff), handshaking (r->ac set, AUTH /
 * SELECT / PING sent, r->timer is the connect deadline) and ready (commands accepted). hiredis
 * frees a context itself when its connection fails; the adapter learns it from the connect or
 * disconnect callback and only forgets its pointer there, never freeing from inside a hiredis
 * callback. The one place that frees a live context is a timer callback (deadline, close).
 */
#include "redis.h"

#include "buf.h"
#include "herald_err.h"
#include "log.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdlib.h>

#define REDIS_BACKOFF_MIN_MS 100
#define REDIS_BACKOFF_MAX_MS 5000
/* TCP connect plus the handshake replies. Also covers a host that drops SYNs, where the kernel
 * would otherwise take minutes to give up. */
#define REDIS_CONNECT_TIMEOUT_MS 3000

/* Owned by the caller from redis_new to redis_close; freed in the timer's close callback. */
struct redis_s {
    uv_loop_t *loop;
    uv_timer_t timer;      /* backoff while down, deadline while handshaking, deferred close */
    redisAsyncContext *ac; /* NULL while down; freed by hiredis or by a timer callback */
    char *host;
    int port;
    char *user;     /* ACL user, NULL for AUTH <password> alone */
    char *password; /* NULL when none (then no AUTH) */
    int db;
    int handshake_left;  /* handshake replies still expected on ac */
    uint64_t backoff_ms; /* wait before the next attempt */
    unsigned ready : 1;  /* handshake done: commands are accepted */
    unsigned outage : 1; /* a failure was logged and no recovery yet */
    unsigned closing : 1;
    void (*close_cb)(void *arg);
    void *close_arg;
};

/* One command in flight: hiredis's privdata, freed when its reply callback has run. */
typedef struct redis_cmd_s {
    redis_t *r;
    redis_reply_cb cb;
    void *arg;
} redis_cmd_t;

/* redis_reply_t is redisReply under another name; the public type numbers are hiredis's. */
_Static_assert(REDIS_REPLY_T_STRING == REDIS_REPLY_STRING, "reply type");
_Static_assert(REDIS_REPLY_T_ARRAY == REDIS_REPLY_ARRAY, "reply type");
_Static_assert(REDIS_REPLY_T_INTEGER == REDIS_REPLY_INTEGER, "reply type");
_Static_assert(REDIS_REPLY_T_NIL == REDIS_REPLY_NIL, "reply type");
_Static_assert(REDIS_REPLY_T_STATUS == REDIS_REPLY_STATUS, "reply type");
_Static_assert(REDIS_REPLY_T_ERROR == REDIS_REPLY_ERROR, "reply type");

static void redis_connect(redis_t *r);

/* ------------------------------------------------------------------- libuv adapter fix-up */

/* hiredis 0.14.1's redisLibuvPoll returns without a word when libuv reports a poll error, and
 * libuv reports a refused connect or a reset connection exactly that way (POLLERR -> UV_EBADF):
 * the context would then wait forever. Every hook of the adapter (re)starts the poll with its
 * own callback, so each hook is wrapped to restart it with redis_on_poll, which passes errors on
 * as readiness; hiredis then reads the socket error itself. (Upstream fixed the adapter the same
 * way after 0.14.1.) */
static void redis_on_poll(uv_poll_t *handle, int status, int events)
{
    redisLibuvEvents *p = handle->data;

    redisLibuvPoll(handle, 0, status < 0 ? p->events : events);
}

static void redis_poll_restart(void *privdata)
{
    redisLibuvEvents *p = privdata;

    if (p->events)
        uv_poll_start(&p->handle, p->events, redis_on_poll);
}

static void redis_add_read(void *privdata)
{
    redisLibuvAddRead(privdata);
    redis_poll_restart(privdata);
}

static void redis_del_read(void *privdata)
{
    redisLibuvDelRead(privdata);
    redis_poll_restart(privdata);
}

static void redis_add_write(void *privdata)
{
    redisLibuvAddWrite(privdata);
    redis_poll_restart(privdata);
}

static void redis_del_write(void *privdata)
{
    redisLibuvDelWrite(privdata);
    redis_poll_restart(privdata);
}

/* -------------------------------------------------------------------------- connection */

static void redis_on_retry(uv_timer_t *timer)
{
    redis_connect(timer->data);
}

/* The connection is gone (hiredis frees or has freed the context): log the first failure of an
 * outage and try again after the backoff. */
static void redis_down(redis_t *r, const char *why)
{
    r->ac = NULL;
    r->ready = 0;
    if (r->closing)
        return;
    if (!r->outage) {
        log_warn("redis %s:%d: %s", r->host, r->port, why);
        r->outage = 1;
    }
    uv_timer_start(&r->timer, redis_on_retry, r->backoff_ms, 0);
    r->backoff_ms *= 2;
    if (r->backoff_ms > REDIS_BACKOFF_MAX_MS)
        r->backoff_ms = REDIS_BACKOFF_MAX_MS;
}

static void redis_on_connect(const redisAsyncContext *ac, int status)
{
    redis_t *r = ac->data;

    /* On success the handshake replies decide; on failure hiredis frees ac right after. */
    if (status != REDIS_OK && r->ac == ac)
        redis_down(r, ac->errstr);
}

static void redis_on_disconnect(const redisAsyncContext *ac, int status)
{
    redis_t *r = ac->data;

    if (r->ac == ac)
        redis_down(r, status == REDIS_OK ? "connection closed" : ac->errstr);
}

static void redis_on_deadline(uv_timer_t *timer)
{
    redis_t *r = timer->data;
    redisAsyncContext *ac = r->ac;

    redis_down(r, "connect timed out");
    redisAsyncFree(ac); /* a timer callback: no hiredis frame on the stack */
}

/* Reply to AUTH, SELECT or PING. A NULL reply means the connection failed, which the connect
 * or disconnect callback reports. */
static void redis_on_handshake(redisAsyncContext *ac, void *reply, void *privdata)
{
    redis_t *r = privdata;
    const redisReply *rep = reply;

    if (!rep || r->ac != ac)
        return;
    if (rep->type == REDIS_REPLY_ERROR) {
        if (!r->outage) {
            log_warn("redis %s:%d: %s", r->host, r->port, rep->str);
            r->outage = 1;
        }
        r->handshake_left = -1;   /* never ready on this connection */
        redisAsyncDisconnect(ac); /* deferred by hiredis until this callback returns */
        return;
    }
    if (r->handshake_left <= 0 || --r->handshake_left > 0)
        return;
    uv_timer_stop(&r->timer);
    r->ready = 1;
    r->backoff_ms = REDIS_BACKOFF_MIN_MS;
    log_info("redis %s:%d: connected%s", r->host, r->port, r->outage ? " again" : "");
    r->outage = 0;
}

static void redis_connect(redis_t *r)
{
    redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);

    if (!ac) {
        log_error("redis: out of memory");
        abort();
    }
    if (ac->err) {
        redis_down(r, ac->errstr);
        redisAsyncFree(ac);
        return;
    }
    ac->data = r;
    if (redisLibuvAttach(ac, r->loop) != REDIS_OK) {
        /* 0.14.1 installs its cleanup hook before it can fail, with no data for it. */
        if (!ac->ev.data)
            ac->ev.cleanup = NULL;
        redis_down(r, "cannot poll the socket");
        redisAsyncFree(ac);
        return;
    }
    ac->ev.addRead = redis_add_read;
    ac->ev.delRead = redis_del_read;
    ac->ev.addWrite = redis_add_write;
    ac->ev.delWrite = redis_del_write;
    redisAsyncSetConnectCallback(ac, redis_on_connect);
    redisAsyncSetDisconnectCallback(ac, redis_on_disconnect);
    r->ac = ac;

    /* Always one command at least: hiredis only notices the connect on a write event. */
    r->handshake_left = 0;
    if (r->password && r->user) {
        redisAsyncCommand(ac, redis_on_handshake, r, "AUTH %s %s", r->user, r->password);
        r->handshake_left++;
    } else if (r->password) {
        redisAsyncCommand(ac, redis_on_handshake, r, "AUTH %s", r->password);
        r->handshake_left++;
    }
    if (r->db) {
        redisAsyncCommand(ac, redis_on_handshake, r, "SELECT %d", r->db);
        r->handshake_left++;
    }
    if (!r->handshake_left) {
        redisAsyncCommand(ac, redis_on_handshake, r, "PING");
        r->handshake_left++;
    }
    uv_timer_start(&r->timer, redis_on_deadline, REDIS_CONNECT_TIMEOUT_MS, 0);
}

redis_t *redis_new(uv_loop_t *loop, const char *host, int port, const char *user,
                   const char *password, int db)
{
    redis_t *r = xcalloc(1, sizeof(*r));

    r->loop = loop;
    r->host = xstrdup(host);
    r->port = port;
    r->user = user && *user ? xstrdup(user) : NULL;
    r->password = password && *password ? xstrdup(password) : NULL;
    r->db = db;
    r->backoff_ms = REDIS_BACKOFF_MIN_MS;
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    redis_connect(r);
    return r;
}

int redis_connected(const redis_t *r)
{
    return r->ready;
}

/* ---------------------------------------------------------------------------- commands */

static void redis_on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    redis_cmd_t *cmd = privdata;
    int status = 0;

    /* hiredis answers NULL to every pending command when the context goes away. */
    if (!reply) {
        status = cmd->r->closing ? UV_ECANCELED : UV_ECONNRESET;
        cmd->r->ready = 0;
    }
    if (cmd->cb)
        cmd->cb(status, reply, cmd->arg);
    free(cmd);
}

static redis_cmd_t *redis_cmd_new(redis_t *r, redis_reply_cb cb, void *arg)
{
    redis_cmd_t *cmd = xmalloc(sizeof(*cmd));

    cmd->r = r;
    cmd->cb = cb;
    cmd->arg = arg;
    return cmd;
}

int redis_command_argv(redis_t *r, redis_reply_cb cb, void *arg, int argc, const char **argv,
                       const size_t *argvlen)
{
    redis_cmd_t *cmd;

    if (argc < 1) /* hiredis asserts on an empty command */
        return HERALD_EINVAL;
    if (!r->ready)
        return UV_ENOTCONN;
    cmd = redis_cmd_new(r, cb, arg);
    if (redisAsyncCommandArgv(r->ac, redis_on_reply, cmd, argc, argv, argvlen) != REDIS_OK) {
        free(cmd);
        return UV_ENOTCONN;
    }
    return 0;
}

int redis_command(redis_t *r, redis_reply_cb cb, void *arg, const char *fmt, ...)
{
    redis_cmd_t *cmd;
    va_list ap;
    int rc;

    if (!r->ready)
        return UV_ENOTCONN;
    cmd = redis_cmd_new(r, cb, arg);
    va_start(ap, fmt);
    rc = redisvAsyncCommand(r->ac, redis_on_reply, cmd, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) { /* ready, so the format was bad */
        free(cmd);
        return HERALD_EINVAL;
    }
    return 0;
}

/* ------------------------------------------------------------------------------- close */

static void redis_on_timer_closed(uv_handle_t *handle)
{
    redis_t *r = handle->data;
    void (*cb)(void *) = r->close_cb;
    void *arg = r->close_arg;

    free(r->host);
    free(r->user);
    if (r->password)
        memset(r->password, 0, strlen(r->password));
    free(r->password);
    free(r);
    if (cb)
        cb(arg);
}

static void redis_on_close_timer(uv_timer_t *timer)
{
    redis_t *r = timer->data;
    redisAsyncContext *ac = r->ac;

    r->ac = NULL;
    if (ac)
        redisAsyncFree(ac); /* pending commands get UV_ECANCELED; closes hiredis's poll handle */
    uv_close((uv_handle_t *)&r->timer, redis_on_timer_closed);
}

void redis_close(redis_t *r, void (*cb)(void *arg), void *arg)
{
    /* Deferred to a timer callback: redis_close may be called from a reply callback, where
     * freeing the context would pull it from under hiredis. */
    r->closing = 1;
    r->ready = 0;
    r->close_cb = cb;
    r->close_arg = arg;
    uv_timer_start(&r->timer, redis_on_close_timer, 0, 0);
}

/* ----------------------------------------------------------------------------- replies */

int redis_reply_type(const redis_reply_t *reply)
{
    return ((const redisReply *)reply)->type;
}

long long redis_reply_integer(const redis_reply_t *reply)
{
    const redisReply *rep = (const redisReply *)reply;

    return rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
}

const char *redis_reply_str(const redis_reply_t *reply, size_t *len)
{
    const redisReply *rep = (const redisReply *)reply;

    if (rep->type != REDIS_REPLY_STRING && rep->type != REDIS_REPLY_STATUS &&
        rep->type != REDIS_REPLY_ERROR) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = rep->len;
    return rep->str;
}

size_t redis_reply_count(const redis_reply_t *reply)
{
    const redisReply *rep = (const redisReply *)reply;

    return rep->type == REDIS_REPLY_ARRAY ? rep->elements : 0;
}

const redis_reply_t *redis_reply_element(const redis_reply_t *reply, size_t i)
{
    const redisReply *rep = (const redisReply *)reply;

    if (rep->type != REDIS_REPLY_ARRAY || i >= rep->elements)
        return NULL;
    return (const redis_reply_t *)rep->element[i];
}
