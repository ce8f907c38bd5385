/* comet_reload.c - see comet_reload.h. */
#include "comet_reload.h"

#include "herald_err.h"
#include "log.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define RELOAD_PATH "/tls/reload"

int comet_reload_now(comet_reload_t *r, char *err, size_t errlen)
{
    if (r->tls == NULL) {
        snprintf(err, errlen, "no TLS listener is configured");
        return HERALD_EINVAL;
    }
    int rc = tls_server_reload(r->tls, err, errlen);
    if (rc != 0) {
        r->failures++;
        log_warn("tls reload failed, keeping the old certificates: %s", err);
        return rc;
    }
    r->reloads++;
    log_info("tls: certificates reloaded (generation %u)", tls_server_generation(r->tls));
    return 0;
}

static void on_hup(uv_signal_t *h, int signum)
{
    (void)signum;
    char err[512];
    comet_reload_now(h->data, err, sizeof err);
}

int comet_reload_start(comet_reload_t *r, uv_loop_t *loop, tls_server_t *tls)
{
    memset(r, 0, sizeof *r);
    r->tls = tls;
    if (tls == NULL)
        return 0;
    int rc = uv_signal_init(loop, &r->hup);
    if (rc != 0)
        return rc;
    r->watching = 1;
    r->hup.data = r;
    return uv_signal_start(&r->hup, on_hup, SIGHUP);
}

int comet_reload_route(void *arg, http_request_t *req)
{
    comet_reload_t *r = arg;
    if (strcmp(http_request_path(req), RELOAD_PATH) != 0)
        return 0;
    char err[512];
    if (strcmp(http_request_method(req), "POST") != 0)
        http_respond_reply(req, 405, -405, "method not allowed", NULL);
    else if (r->tls == NULL)
        http_respond_reply(req, 409, -409, "no TLS listener is configured", NULL);
    else if (comet_reload_now(r, err, sizeof err) != 0)
        http_respond_reply(req, 500, -500, err, NULL);
    else
        http_respond_reply(
            req, 200, 0, "ok",
            json_pack("{s:I}", "generation", (json_int_t)tls_server_generation(r->tls)));
    return 1;
}

static void on_closed(uv_handle_t *h)
{
    comet_reload_t *r = h->data;
    if (r->close_cb != NULL)
        r->close_cb(r->close_arg);
}

void comet_reload_close(comet_reload_t *r, void (*cb)(void *arg), void *arg)
{
    if (!r->watching) {
        if (cb != NULL)
            cb(arg);
        return;
    }
    r->watching = 0;
    r->close_cb = cb;
    r->close_arg = arg;
    uv_close((uv_handle_t *)&r->hup, on_closed);
}
