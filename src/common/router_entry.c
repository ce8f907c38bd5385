/* router_entry.c - see router_entry.h. */
#include "router_entry.h"

#include "addr.h"
#include "buf.h"
#include "herald_err.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int router_entry_name_ok(const char *name)
{
    size_t len = name != NULL ? strnlen(name, ROUTER_ENTRY_NAME_MAX + 1) : 0;
    if (len == 0 || len > ROUTER_ENTRY_NAME_MAX)
        return HERALD_EINVAL;
    for (size_t i = 0; i < len; i++)
        if (name[i] <= ' ' || name[i] > '~')
            return HERALD_EINVAL;
    char host[ADDR_HOST_MAX];
    int port;
    return addr_split(name, host, &port) == 0 ? 0 : HERALD_EINVAL;
}

int router_entry_encode(const router_entry_t *e, char **out)
{
    *out = NULL;
    if (e->epoch == 0)
        return HERALD_EINVAL;
    char text[80];
    snprintf(text, sizeof(text), "{\"epoch\":\"%016llx\",\"updated_ms\":%lld}",
             (unsigned long long)e->epoch, (long long)e->updated_ms);
    *out = xstrdup(text);
    return 0;
}

size_t router_entry_reply_count(const redis_reply_t *reply)
{
    return redis_reply_type(reply) == REDIS_REPLY_T_ARRAY ? redis_reply_count(reply) / 2 : 0;
}

static int decode_epoch(const char *s, uint64_t *out)
{
    if (s == NULL || strlen(s) != 16)
        return HERALD_EINVAL;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return HERALD_EINVAL;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return v != 0 ? 0 : HERALD_EINVAL;
}

int router_entry_reply_entry(const redis_reply_t *reply, size_t i, router_entry_t *e)
{
    memset(e, 0, sizeof(*e));
    size_t nlen, jlen;
    const char *name = redis_reply_str(redis_reply_element(reply, 2 * i), &nlen);
    const char *text = redis_reply_str(redis_reply_element(reply, 2 * i + 1), &jlen);
    if (name == NULL || nlen > ROUTER_ENTRY_NAME_MAX || strlen(name) != nlen)
        return HERALD_EINVAL;
    memcpy(e->name, name, nlen + 1);
    if (router_entry_name_ok(e->name) != 0) {
        e->name[0] = '\0';
        return HERALD_EINVAL;
    }
    json_t *j = text != NULL ? json_loadb(text, jlen, 0, NULL) : NULL;
    json_t *updated = json_object_get(j, "updated_ms");
    int rc = json_is_object(j) && json_is_integer(updated) &&
                     decode_epoch(json_string_value(json_object_get(j, "epoch")), &e->epoch) == 0
                 ? 0
                 : HERALD_EINVAL;
    if (rc == 0)
        e->updated_ms = (int64_t)json_integer_value(updated);
    json_decref(j);
    return rc;
}

int router_entry_stale(const router_entry_t *e, int64_t now_ms, int64_t ttl_ms)
{
    return e->updated_ms < now_ms - ttl_ms;
}
