/* logic_http_access.c - see logic_http_access.h. */
#include "logic_http_access.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

typedef struct public_route_s {
    const char *method; /* NULL: any method (the route itself answers 405 to a wrong one) */
    const char *path;
    int prefix; /* also every path under path + "/" */
} public_route_t;

/* What answers without the key. Everything else, and every unknown path, needs it: the
 * business routes (pushes, tokens) and everything that reveals users, rooms, nodes or counters
 * (online counts and users, users, rooms/members, nodes/instances, metrics). */
static const public_route_t public_routes[] = {
    /* Liveness and readiness, for load balancers and orchestrators that hold no secret. */
    {NULL, "/health", 0},
    {NULL, "/ready", 0},
    {NULL, "/herald/v1/health", 0},
    {NULL, "/herald/v1/ready", 0},
    /* The browser console's static files: it asks for credentials itself. */
    {NULL, "/web", 1},
    /* goim's node list: clients call it before they hold any credential. */
    {"GET", "/goim/nodes/weighted", 0},
    /* The IM user's own routes (docs/im.md): they carry the user's own credential. */
    {"POST", "/herald/v1/users", 0},
    {"POST", "/herald/v1/login", 0},
    {"POST", "/herald/v1/logout", 0},
};

static int path_matches(const public_route_t *r, const char *path)
{
    size_t n = strlen(r->path);

    if (strncmp(path, r->path, n) != 0)
        return 0;
    return path[n] == '\0' || (r->prefix && path[n] == '/');
}

int logic_http_access_public(const char *method, const char *path)
{
    for (size_t i = 0; i < sizeof(public_routes) / sizeof(public_routes[0]); i++) {
        const public_route_t *r = &public_routes[i];
        if (path_matches(r, path) && (r->method == NULL || strcmp(r->method, method) == 0))
            return 1;
    }
    return 0;
}

int logic_http_access_bearer_ok(const char *header, const char *key)
{
    static const char scheme[] = "Bearer";
    const size_t slen = sizeof(scheme) - 1;

    if (header == NULL || strncasecmp(header, scheme, slen) != 0 || header[slen] != ' ')
        return 0;
    const char *given = header + slen;
    while (*given == ' ')
        given++;
    size_t glen = strlen(given), klen = strlen(key);
    /* Every byte of the key is looked at whatever the guess: no early exit. */
    volatile unsigned char diff = glen != klen;
    for (size_t i = 0; i < klen; i++)
        diff |= (unsigned char)key[i] ^ (unsigned char)(i < glen ? given[i] : 0);
    return diff == 0;
}
