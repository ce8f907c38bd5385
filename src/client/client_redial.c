/* client_redial.c - see client_redial.h. */
#include "client_redial.h"

#include "addr.h"
#include "http_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void client_redial_init(client_redial_t *r, int base_ms, int max_ms, uint64_t seed)
{
    memset(r, 0, sizeof(*r));
    r->base_ms = base_ms > 0 ? base_ms : CLIENT_REDIAL_BASE_MS;
    r->max_ms = max_ms > 0 ? max_ms : CLIENT_REDIAL_MAX_MS;
    if (r->max_ms < r->base_ms)
        r->max_ms = r->base_ms;
    r->rng = seed != 0 ? seed : 0x9e3779b97f4a7c15ULL;
    r->leave_at = -1;
}

int client_redial_on_kick(client_redial_t *r, const uint8_t *body, size_t len, int64_t now_ms)
{
    json_t *j = json_loadb((const char *)body, len, 0, NULL);
    const char *reason = json_string_value(json_object_get(j, "reason"));
    json_t *after = json_object_get(j, "after_ms");
    int notice = reason != NULL && strcmp(reason, CLIENT_REDIAL_REASON) == 0;
    if (notice) {
        json_int_t ms = json_is_integer(after) ? json_integer_value(after) : 0;
        if (ms < 0)
            ms = 0;
        if (ms > CLIENT_REDIAL_AFTER_MAX_MS)
            ms = CLIENT_REDIAL_AFTER_MAX_MS;
        r->leave_at = now_ms + (int64_t)ms;
    }
    json_decref(j);
    return notice;
}

int64_t client_redial_leave_at(const client_redial_t *r)
{
    return r->leave_at;
}

int client_redial_leave_due(const client_redial_t *r, int64_t now_ms)
{
    return r->leave_at >= 0 && now_ms >= r->leave_at;
}

static uint64_t redial_random(client_redial_t *r)
{
    uint64_t x = r->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    r->rng = x;
    return x;
}

int64_t client_redial_failed(client_redial_t *r)
{
    int64_t d = r->base_ms;
    for (unsigned i = 0; i < r->failures && d < r->max_ms; i++)
        d *= 2;
    if (d > r->max_ms)
        d = r->max_ms;
    if (r->failures < 64)
        r->failures++;
    /* [d/2, d]: never at once (a storm against a comet that just failed), never all together */
    int64_t half = d / 2;
    return half + (int64_t)(redial_random(r) % (uint64_t)(d - half + 1));
}

int64_t client_redial_ended(client_redial_t *r, int64_t now_ms)
{
    if (r->leave_at < 0)
        return client_redial_failed(r);
    return r->leave_at > now_ms ? r->leave_at - now_ms : 0;
}

void client_redial_connected(client_redial_t *r)
{
    r->failures = 0;
    r->leave_at = -1;
}

int client_redial_pick(const json_t *data, const char *transport, const char *leaving, char *host,
                       size_t cap, int *port)
{
    const json_t *comets = json_object_get(data, "comets");
    const char *chosen = NULL;
    size_t i;
    const json_t *v;
    json_array_foreach(comets, i, v)
    {
        const char *addr = json_string_value(json_object_get(v, transport));
        char h[ADDR_HOST_MAX];
        int p = 0;
        if (addr == NULL || addr_split(addr, h, &p) != 0 || p <= 0 || strlen(h) >= cap)
            continue;
        if (leaving == NULL || strcmp(addr, leaving) != 0) {
            chosen = addr;
            break;
        }
        if (chosen == NULL)
            chosen = addr; /* the one we leave: only when no other is listed */
    }
    if (chosen == NULL)
        return -1;
    char h[ADDR_HOST_MAX];
    if (addr_split(chosen, h, port) != 0)
        return -1;
    snprintf(host, cap, "%s", h);
    return 0;
}

int client_redial_fetch(const char *url, const char *ca_file, int timeout_ms, const char *transport,
                        const char *leaving, char *host, size_t cap, int *port, char *err,
                        size_t errlen)
{
    http_client_req_t req = {.method = "GET", .url = url, .timeout_ms = timeout_ms};
    http_client_resp_t resp;
    http_client_t *hc = ca_file != NULL ? http_client_new(ca_file) : NULL;
    int rc = http_client_request(hc, &req, &resp);
    http_client_free(hc);
    if (rc < 0) {
        snprintf(err, errlen, "nodes: %s", resp.error);
        return -1;
    }
    json_t *j = resp.status == 200 ? json_loads(resp.body, 0, NULL) : NULL;
    free(resp.body);
    rc = client_redial_pick(json_object_get(j, "data"), transport, leaving, host, cap, port);
    json_decref(j);
    if (rc != 0)
        snprintf(err, errlen, "nodes: %s", resp.status == 200 ? "no comet listed" : "HTTP error");
    return rc;
}
