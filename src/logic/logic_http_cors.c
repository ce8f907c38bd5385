/* logic_http_cors.c - see logic_http_cors.h. */
#include "logic_http_cors.h"

#include "buf.h"
#include "conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CORS_METHODS "GET, POST, DELETE, OPTIONS"
#define CORS_HEADERS "Authorization, Content-Type"
#define CORS_MAX_AGE "600"

/* Owned by logic_http; freed with it. */
struct logic_http_cors_s {
    int any;     /* "*" */
    char **list; /* allowed origins, NULL-terminated; NULL when none */
    size_t n_list;
};

static int origin_valid(const char *o)
{
    const char *rest = strncmp(o, "https://", 8) == 0  ? o + 8
                       : strncmp(o, "http://", 7) == 0 ? o + 7
                                                       : NULL;
    /* A browser's Origin is scheme://host[:port]: no path, no trailing slash. */
    return rest != NULL && rest[0] != '\0' && strchr(rest, '/') == NULL;
}

logic_http_cors_t *logic_http_cors_new(const char *origins, char *err, size_t errlen)
{
    logic_http_cors_t *c = xcalloc(1, sizeof(*c));

    if (origins == NULL || origins[0] == '\0')
        return c;
    c->list = conf_list_split(origins, &c->n_list);
    if (c->n_list == 1 && strcmp(c->list[0], "*") == 0) {
        c->any = 1;
        return c;
    }
    for (size_t i = 0; i < c->n_list; i++) {
        if (!origin_valid(c->list[i])) {
            snprintf(err, errlen,
                     "http.cors_origins: \"%s\" is not \"*\" (alone) or an origin such as "
                     "https://host[:port]",
                     c->list[i]);
            logic_http_cors_free(c);
            return NULL;
        }
    }
    return c;
}

void logic_http_cors_free(logic_http_cors_t *c)
{
    if (c == NULL)
        return;
    conf_list_free(c->list);
    free(c);
}

static int allowed(const logic_http_cors_t *c, const char *origin)
{
    if (c->any)
        return 1;
    for (size_t i = 0; i < c->n_list; i++)
        if (strcmp(c->list[i], origin) == 0)
            return 1;
    return 0;
}

int logic_http_cors_apply(const logic_http_cors_t *c, http_request_t *req)
{
    const char *origin = http_request_header(req, "Origin");
    int preflight = strcmp(http_request_method(req), "OPTIONS") == 0 &&
                    http_request_header(req, "Access-Control-Request-Method") != NULL;

    if (c->list == NULL || origin == NULL)
        return 0;
    if (!allowed(c, origin)) {
        if (!preflight)
            return 0; /* answered without CORS headers: the browser keeps it from the page */
        http_respond_reply(req, 403, -400, "origin not allowed", NULL);
        return 1;
    }
    http_request_answer_header(req, "Access-Control-Allow-Origin", c->any ? "*" : origin);
    if (!c->any)
        http_request_answer_header(req, "Vary", "Origin");
    if (!preflight)
        return 0;
    http_request_answer_header(req, "Access-Control-Allow-Methods", CORS_METHODS);
    http_request_answer_header(req, "Access-Control-Allow-Headers", CORS_HEADERS);
    http_request_answer_header(req, "Access-Control-Max-Age", CORS_MAX_AGE);
    http_respond(req, 204, NULL, "", 0);
    return 1;
}
