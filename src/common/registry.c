/* registry.c - see registry.h. */
#include "registry.h"

#include "herald_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* len bytes, each printable ASCII other than space: what ids and addresses are made of, and what
 * keeps them valid UTF-8 for jansson. */
static int printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] > '~')
            return 0;
    return 1;
}

int registry_id_ok(const char *id)
{
    size_t len = id != NULL ? strnlen(id, REGISTRY_ID_MAX + 1) : 0;
    return len > 0 && len <= REGISTRY_ID_MAX && printable(id, len) ? 0 : HERALD_EINVAL;
}

static int addr_ok(const char *addr, size_t len)
{
    return len <= REGISTRY_ADDR_MAX && printable(addr, len) ? 0 : HERALD_EINVAL;
}

/* Copies an address of len bytes into out (REGISTRY_ADDR_MAX + 1 bytes) when it is valid. */
static int addr_copy(char *out, const char *addr, size_t len)
{
    if (addr_ok(addr, len) != 0)
        return HERALD_EINVAL;
    memcpy(out, addr, len);
    out[len] = '\0';
    return 0;
}

static int entry_valid(const registry_entry_t *e)
{
    const char *addrs[] = {e->rpc, e->tcp, e->ws, e->tls, e->wss};
    for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++)
        if (addr_ok(addrs[i], strnlen(addrs[i], REGISTRY_ADDR_MAX + 1)) != 0)
            return HERALD_EINVAL;
    return registry_id_ok(e->id) == 0 && e->weight >= 0 && e->conns >= 0 && e->ips >= 0
               ? 0
               : HERALD_EINVAL;
}

int registry_entry_init(registry_entry_t *e, const char *id, const char *rpc, const char *tcp,
                        const char *ws, int64_t weight, int64_t conns, int64_t updated_ms)
{
    if (registry_id_ok(id) != 0 || rpc == NULL || tcp == NULL || ws == NULL)
        return HERALD_EINVAL;
    memset(e, 0, sizeof(*e));
    memcpy(e->id, id, strlen(id) + 1);
    if (addr_copy(e->rpc, rpc, strnlen(rpc, REGISTRY_ADDR_MAX + 1)) != 0 ||
        addr_copy(e->tcp, tcp, strnlen(tcp, REGISTRY_ADDR_MAX + 1)) != 0 ||
        addr_copy(e->ws, ws, strnlen(ws, REGISTRY_ADDR_MAX + 1)) != 0)
        return HERALD_EINVAL;
    e->weight = weight;
    e->conns = conns;
    e->updated_ms = updated_ms;
    return entry_valid(e);
}

int registry_entry_set_tls(registry_entry_t *e, const char *tls, const char *wss)
{
    tls = tls ? tls : "";
    wss = wss ? wss : "";
    size_t tl = strnlen(tls, REGISTRY_ADDR_MAX + 1), wl = strnlen(wss, REGISTRY_ADDR_MAX + 1);
    if (addr_ok(tls, tl) != 0 || addr_ok(wss, wl) != 0)
        return HERALD_EINVAL;
    addr_copy(e->tls, tls, tl);
    addr_copy(e->wss, wss, wl);
    return 0;
}

json_t *registry_entry_json(const registry_entry_t *e)
{
    if (entry_valid(e) != 0)
        return NULL;
    /* Every string is printable ASCII (checked above), so json_pack cannot refuse one. */
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I}", "id", e->id, "rpc", e->rpc, "tcp",
                     e->tcp, "ws", e->ws, "tls", e->tls, "wss", e->wss, "weight",
                     (json_int_t)e->weight, "conns", (json_int_t)e->conns, "ips",
                     (json_int_t)e->ips, "updated_ms", (json_int_t)e->updated_ms);
}

int registry_entry_encode(const registry_entry_t *e, char **out)
{
    *out = NULL;
    json_t *j = registry_entry_json(e);
    if (j == NULL)
        return HERALD_EINVAL;
    *out = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (*out == NULL) {
        fprintf(stderr, "registry: out of memory encoding an entry\n");
        abort(); /* a valid entry always encodes: only memory can be missing */
    }
    return 0;
}

/* Field `name` of object j into out when it is a string; "" when it is missing or not one. */
static int field_addr(json_t *j, const char *name, char *out)
{
    json_t *v = json_object_get(j, name);
    out[0] = '\0';
    if (!json_is_string(v))
        return 0;
    return addr_copy(out, json_string_value(v), json_string_length(v));
}

static int64_t field_int(json_t *j, const char *name)
{
    json_t *v = json_object_get(j, name);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

int registry_entry_decode(const char *json, size_t len, registry_entry_t *e)
{
    memset(e, 0, sizeof(*e));
    json_t *j = json_loadb(json, len, 0, NULL); /* \u0000 is refused: no JSON_ALLOW_NUL */
    int rc = json_is_object(j) ? 0 : HERALD_EINVAL;
    if (rc == 0 && (field_addr(j, "rpc", e->rpc) != 0 || field_addr(j, "tcp", e->tcp) != 0 ||
                    field_addr(j, "ws", e->ws) != 0 || field_addr(j, "tls", e->tls) != 0 ||
                    field_addr(j, "wss", e->wss) != 0))
        rc = HERALD_EINVAL;
    if (rc == 0) {
        e->weight = field_int(j, "weight");
        e->conns = field_int(j, "conns");
        e->ips = field_int(j, "ips");
        e->updated_ms = field_int(j, "updated_ms");
        if (e->weight < 0 || e->conns < 0 || e->ips < 0)
            rc = HERALD_EINVAL;
    }
    json_decref(j);
    return rc;
}

int registry_entry_stale(const registry_entry_t *e, int64_t now_ms, int64_t ttl_ms)
{
    return e->updated_ms < now_ms - ttl_ms;
}

size_t registry_reply_count(const redis_reply_t *reply)
{
    return redis_reply_type(reply) == REDIS_REPLY_T_ARRAY ? redis_reply_count(reply) / 2 : 0;
}

int registry_reply_entry(const redis_reply_t *reply, size_t i, registry_entry_t *e)
{
    size_t id_len, len;
    const char *id = redis_reply_str(redis_reply_element(reply, 2 * i), &id_len);
    const char *json = redis_reply_str(redis_reply_element(reply, 2 * i + 1), &len);
    char name[REGISTRY_ID_MAX + 1] = "";
    /* Redis strings are binary: a field with a NUL in it is no id. */
    if (id != NULL && id_len <= REGISTRY_ID_MAX && memchr(id, '\0', id_len) == NULL) {
        memcpy(name, id, id_len);
        name[id_len] = '\0';
    }
    if (registry_id_ok(name) != 0) {
        memset(e, 0, sizeof(*e));
        return HERALD_EINVAL;
    }
    int rc = json != NULL ? registry_entry_decode(json, len, e) : HERALD_EINVAL;
    if (json == NULL)
        memset(e, 0, sizeof(*e));
    memcpy(e->id, name, id_len + 1);
    return rc;
}
