/* redis_keys.c - see redis_keys.h. */
#include "redis_keys.h"

#include "herald_assert.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int key(char *out, const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int key(char *out, const char *prefix, const char *fmt, ...)
{
    size_t plen = strlen(prefix);
    HERALD_ASSERT(plen <= REDIS_KEY_PREFIX_MAX);
    memcpy(out, prefix, plen);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + plen, REDIS_KEY_MAX - plen, fmt, ap);
    va_end(ap);
    HERALD_ASSERT(n >= 0 && (size_t)n < REDIS_KEY_MAX - plen);
    return (int)plen + n;
}

int redis_key_token(char *out, const char *prefix, const char *token)
{
    return key(out, prefix, "token:%s", token);
}

int redis_key_seq(char *out, const char *prefix, int64_t mid)
{
    return key(out, prefix, "seq:{%lld}", (long long)mid);
}

int redis_key_inbox(char *out, const char *prefix, int64_t mid)
{
    return key(out, prefix, "inbox:{%lld}", (long long)mid);
}

int redis_key_ack(char *out, const char *prefix, int64_t mid)
{
    return key(out, prefix, "ack:{%lld}", (long long)mid);
}

int redis_key_sent(char *out, const char *prefix, int64_t mid)
{
    return key(out, prefix, "sent:{%lld}", (long long)mid);
}

int redis_key_conn(char *out, const char *prefix, int64_t mid)
{
    return key(out, prefix, "conn:{%lld}", (long long)mid);
}

int redis_key_user_next(char *out, const char *prefix)
{
    return key(out, prefix, "user:{users}:next");
}

int redis_key_user(char *out, const char *prefix, int64_t mid)
{
    return key(out, prefix, "user:{users}:%lld", (long long)mid);
}

int redis_key_user_stem(char *out, const char *prefix)
{
    return key(out, prefix, "user:{users}:");
}

int redis_key_username(char *out, const char *prefix, const char *name)
{
    return key(out, prefix, "username:{users}:%s", name);
}

int redis_key_routers(char *out, const char *prefix)
{
    return key(out, prefix, "routers:{registry}");
}

int redis_key_comets(char *out, const char *prefix)
{
    return key(out, prefix, "comets:{registry}");
}

int redis_key_online(char *out, const char *prefix, const char *server)
{
    return key(out, prefix, "online:{registry}:%s", server);
}

int redis_key_inbox_from(char *out, const char *prefix, int64_t mid, int64_t from)
{
    return key(out, prefix, "inboxfrom:{%lld}:%lld", (long long)mid, (long long)from);
}

int redis_key_limit(char *out, const char *prefix, const char *what)
{
    return key(out, prefix, "limit:{limit}:%s", what);
}

int redis_key_idem(char *out, const char *prefix, const char *route, const char *idem_key)
{
    return key(out, prefix, "idem:%s:%s", route, idem_key);
}
