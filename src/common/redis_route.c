/* redis_route.c - see redis_route.h. */
#include "redis_route.h"

#include <string.h>
#include <strings.h>

#define ROUTE_ARGS 4 /* command, and up to three arguments: EVAL script numkeys key */

/* Reads the decimal number after the type byte at *p up to "\r\n"; moves *p past it. */
static int resp_number(const char **p, const char *end, long *out)
{
    const char *q = *p + 1;
    long v = 0;
    if (q >= end)
        return -1;
    for (; q < end && *q >= '0' && *q <= '9'; q++) {
        v = v * 10 + (*q - '0');
        if (v > 512L * 1024 * 1024) /* Redis's own bound on a bulk string */
            return -1;
    }
    if (q == *p + 1 || end - q < 2 || q[0] != '\r' || q[1] != '\n')
        return -1;
    *p = q + 2;
    *out = v;
    return 0;
}

static int is(const char *arg, size_t len, const char *name)
{
    return strlen(name) == len && strncasecmp(arg, name, len) == 0;
}

static int keyless(const char *cmd, size_t len)
{
    static const char *const names[] = {
        "PING",    "MULTI",  "EXEC",     "DISCARD", "INFO",     "TIME",
        "CLUSTER", "SCRIPT", "WAIT",     "ASKING",  "AUTH",     "SELECT",
        "ECHO",    "DBSIZE", "FLUSHALL", "FLUSHDB", "READONLY", "READWRITE",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (is(cmd, len, names[i]))
            return 1;
    return 0;
}

int redis_route(const char *wire, size_t len, redis_route_t *out)
{
    const char *p = wire, *end = wire + len;
    const char *arg[ROUTE_ARGS];
    size_t arg_len[ROUTE_ARGS];
    long argc, n;

    *out = (redis_route_t){REDIS_ROUTE_OTHER, NULL, 0};
    if (len < 1 || *p != '*' || resp_number(&p, end, &argc) != 0 || argc < 1)
        return -1;
    long have = argc < ROUTE_ARGS ? argc : ROUTE_ARGS;
    for (long i = 0; i < have; i++) {
        if (p >= end || *p != '$' || resp_number(&p, end, &n) != 0 || end - p < n + 2)
            return -1;
        arg[i] = p;
        arg_len[i] = (size_t)n;
        p += n + 2;
    }
    if (is(arg[0], arg_len[0], "MULTI"))
        out->kind = REDIS_ROUTE_MULTI;
    else if (is(arg[0], arg_len[0], "EXEC") || is(arg[0], arg_len[0], "DISCARD"))
        out->kind = REDIS_ROUTE_END_TXN;
    if (keyless(arg[0], arg_len[0]) || have < 2)
        return 0;
    if (is(arg[0], arg_len[0], "EVAL") || is(arg[0], arg_len[0], "EVALSHA") ||
        is(arg[0], arg_len[0], "EVAL_RO") || is(arg[0], arg_len[0], "EVALSHA_RO")) {
        if (have < 4 || arg_len[2] == 0 || arg_len[2] > 9 || arg[2][0] == '0')
            return 0; /* numkeys 0 (or unreadable): Redis itself picks no slot */
        out->key = arg[3];
        out->key_len = arg_len[3];
        return 0;
    }
    out->key = arg[1];
    out->key_len = arg_len[1];
    return 0;
}
