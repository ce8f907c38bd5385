/* comet_reload.c - see comet_reload.h. */
#include "comet_reload.h"

#include "comet_limits.h"
#include "herald_err.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

#define RELOAD_PATH "/tls/reload"

void comet_reload_init(comet_reload_t *r, const comet_conf_t *conf, tls_server_t *tls,
                       comet_worker_t *workers, const int *nstarted)
{
    memset(r, 0, sizeof *r);
    r->conf = conf;
    r->tls = tls;
    r->workers = workers;
    r->nstarted = nstarted;
}

int comet_reload_now(comet_reload_t *r, char *err, size_t errlen)
{
    if (r->tls == NULL) {
        snprintf(err, errlen, "no TLS listener is configured");
        return HERALD_EINVAL;
    }
    int rc = tls_server_reload(r->tls, r->conf->tls_cert, r->conf->tls_key, err, errlen);
    if (rc != 0) {
        log_warn("tls reload failed, keeping the old certificates: %s", err);
        return rc;
    }
    log_info("tls: certificates reloaded (generation %u)", tls_server_generation(r->tls));
    return 0;
}

void comet_reload_apply(comet_reload_t *r)
{
    char err[512];
    if (r->tls != NULL)
        comet_reload_now(r, err, sizeof err);
    comet_limits_t limits;
    comet_limits_from_conf(&limits, r->conf);
    for (int i = 0; i < *r->nstarted; i++)
        comet_worker_post_limits(&r->workers[i], &limits);
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
