/* logic_online.c - in-memory aggregate of the comet registry and room counts.
 *
 * The aggregate is a list of comets (tens, not thousands: linear scans are fine) each with its
 * room -> count map, plus `totals`, the sum over comets, kept exact on every change so queries
 * are lookups. jansson objects serve as the string maps: they are hash tables already linked in,
 * and the HTTP replies are JSON anyway. The Redis side (renew writes, periodic reload) is
 * logic_registry.c, which feeds this one. */
#include "logic_online.h"

#include "addr.h"
#include "buf.h"
#include "herald_assert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct logic_online_s {
    logic_online_comet_t **comets;
    size_t n, cap;
    json_t *totals; /* room id -> sum over comets */
    uint64_t gen;   /* counts local renews, to order them against reloads */
};

logic_online_comet_t *logic_online_comet_new(const registry_entry_t *e)
{
    logic_online_comet_t *c = xcalloc(1, sizeof(*c));
    c->e = *e;
    c->rooms = json_object();
    return c;
}

void logic_online_comet_free(logic_online_comet_t *c)
{
    if (c == NULL)
        return;
    json_decref(c->rooms);
    free(c);
}

static void totals_add(logic_online_t *o, json_t *rooms, int sign)
{
    const char *room;
    json_t *v;
    json_object_foreach(rooms, room, v)
    {
        json_t *t = json_object_get(o->totals, room);
        json_int_t sum = (t ? json_integer_value(t) : 0) + sign * json_integer_value(v);
        if (sum <= 0)
            json_object_del(o->totals, room);
        else if (t != NULL)
            json_integer_set(t, sum);
        else
            json_object_set_new(o->totals, room, json_integer(sum));
    }
}

static size_t comet_index(const logic_online_t *o, const char *id)
{
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->comets[i]->e.id, id) == 0)
            return i;
    return o->n;
}

void logic_online_renew(logic_online_t *o, logic_online_comet_t *c)
{
    c->renew_gen = ++o->gen;
    size_t i = comet_index(o, c->e.id);
    if (i < o->n) {
        totals_add(o, o->comets[i]->rooms, -1);
        logic_online_comet_free(o->comets[i]);
    } else {
        if (o->n == o->cap) {
            o->cap = o->cap ? o->cap * 2 : 8;
            o->comets = xrealloc(o->comets, o->cap * sizeof(*o->comets));
        }
        o->n++;
    }
    o->comets[i] = c;
    totals_add(o, c->rooms, 1);
}

void logic_online_drop(logic_online_t *o, const char *id)
{
    size_t i = comet_index(o, id);
    if (i == o->n)
        return;
    totals_add(o, o->comets[i]->rooms, -1);
    logic_online_comet_free(o->comets[i]);
    o->comets[i] = o->comets[--o->n];
}

void logic_online_replace(logic_online_t *o, logic_online_comet_t **loaded, size_t n,
                          uint64_t since_gen)
{
    /* A comet renewed through this logic after the reload started is newer than what was read. */
    for (size_t i = 0; i < o->n; i++) {
        logic_online_comet_t *c = o->comets[i];
        if (c->renew_gen <= since_gen)
            continue;
        size_t j;
        for (j = 0; j < n && strcmp(loaded[j]->e.id, c->e.id) != 0; j++)
            ;
        if (j < n) {
            logic_online_comet_free(loaded[j]);
        } else {
            loaded = xrealloc(loaded, (n + 1) * sizeof(*loaded));
            j = n++;
        }
        loaded[j] = c;
        o->comets[i] = NULL;
    }
    for (size_t i = 0; i < o->n; i++)
        logic_online_comet_free(o->comets[i]);
    free(o->comets);
    json_object_clear(o->totals);
    o->comets = loaded;
    o->n = o->cap = n;
    for (size_t i = 0; i < n; i++)
        totals_add(o, loaded[i]->rooms, 1);
}

uint64_t logic_online_gen(const logic_online_t *o)
{
    return o->gen;
}

logic_online_t *logic_online_new(void)
{
    logic_online_t *o = xcalloc(1, sizeof(*o));
    o->totals = json_object();
    return o;
}

void logic_online_free(logic_online_t *o)
{
    if (o == NULL)
        return;
    for (size_t i = 0; i < o->n; i++)
        logic_online_comet_free(o->comets[i]);
    free(o->comets);
    json_decref(o->totals);
    free(o);
}

int64_t logic_online_room_count(const logic_online_t *o, const char *room_id)
{
    return json_integer_value(json_object_get(o->totals, room_id));
}

size_t logic_online_count(const logic_online_t *o)
{
    return o->n;
}

const logic_online_comet_t *logic_online_at(const logic_online_t *o, size_t i)
{
    HERALD_ASSERT(i < o->n);
    return o->comets[i];
}

const logic_online_comet_t *logic_online_find(const logic_online_t *o, const char *id)
{
    size_t i = comet_index(o, id);
    return i < o->n ? o->comets[i] : NULL;
}

/* ---------------------------------------------------------------------------------- queries */

typedef struct room_count_s {
    const char *room;
    json_int_t count;
} room_count_t;

static int room_count_cmp(const void *a, const void *b)
{
    const room_count_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->room, y->room);
}

json_t *logic_online_top(const logic_online_t *o, const char *type, size_t limit)
{
    size_t tlen = strlen(type), n = 0;
    room_count_t *all = xcalloc(json_object_size(o->totals) + 1, sizeof(*all));
    const char *room;
    json_t *v;
    json_object_foreach(o->totals, room, v)
    {
        /* goim keys rooms as "type://id" and answers with the bare id. */
        if (strncmp(room, type, tlen) == 0 && strncmp(room + tlen, "://", 3) == 0)
            all[n++] = (room_count_t){room + tlen + 3, json_integer_value(v)};
    }
    qsort(all, n, sizeof(*all), room_count_cmp);
    json_t *top = json_array();
    for (size_t i = 0; i < n && i < limit; i++)
        json_array_append_new(
            top, json_pack("{s:s,s:I}", "room_id", all[i].room, "count", (json_int_t)all[i].count));
    free(all);
    return top;
}

json_t *logic_online_rooms(const logic_online_t *o, const char *type, const char *const *rooms,
                           size_t n)
{
    json_t *out = json_object();
    buf_t key;
    buf_init(&key);
    for (size_t i = 0; i < n; i++) {
        key.len = 0;
        buf_append(&key, type, strlen(type));
        buf_append(&key, "://", 3);
        buf_append(&key, rooms[i], strlen(rooms[i]) + 1);
        json_object_set_new(out, rooms[i],
                            json_integer(logic_online_room_count(o, (const char *)key.data)));
    }
    buf_deinit(&key);
    return out;
}

json_t *logic_online_total(const logic_online_t *o)
{
    json_int_t conns = 0, ips = 0;
    /* As goim: each comet's distinct addresses, summed (a client on two comets counts twice). */
    for (size_t i = 0; i < o->n; i++) {
        conns += o->comets[i]->e.conns;
        ips += o->comets[i]->e.ips;
    }
    return json_pack("{s:I,s:I}", "conn_count", conns, "ip_count", ips);
}

/* The host of "host:port" as a new JSON string, or NULL when addr is "" or not an address. */
static json_t *host_of(const char *addr)
{
    char host[ADDR_HOST_MAX];
    int port;
    if (addr[0] == '\0' || addr_split(addr, host, &port) != 0)
        return NULL;
    return json_string(host);
}

/* The client-facing hosts of a comet, each once, comma-separated (goim's ip_addrs metadata). */
static json_t *client_hosts(const registry_entry_t *e)
{
    const char *addrs[] = {e->tcp, e->ws, e->tls, e->wss};
    char hosts[4][ADDR_HOST_MAX];
    size_t n = 0;
    buf_t b;
    buf_init(&b);
    for (size_t i = 0; i < 4; i++) {
        int port, seen = 0;
        if (addrs[i][0] == '\0' || addr_split(addrs[i], hosts[n], &port) != 0)
            continue;
        for (size_t j = 0; j < n && !seen; j++)
            seen = strcmp(hosts[j], hosts[n]) == 0;
        if (seen)
            continue;
        if (n > 0)
            buf_append(&b, ",", 1);
        buf_append(&b, hosts[n], strlen(hosts[n]));
        n++;
    }
    json_t *out = json_stringn(b.len ? (const char *)b.data : "", b.len);
    buf_deinit(&b);
    return out;
}

json_t *logic_online_instances(const logic_online_t *o)
{
    /* goim's naming.Instance (bilibili discovery): what goim's business code reads is hostname,
     * addrs (the comet's RPC address as grpc://host:port) and metadata's weight, conn_count and
     * ip_addrs; herald's own fields (rpc, tcp, ws, tls, wss, updated_ms) are under "herald". */
    json_t *out = json_array();
    for (size_t i = 0; i < o->n; i++) {
        const registry_entry_t *e = &o->comets[i]->e;
        char weight[24], conns[24], ips[24];
        snprintf(weight, sizeof(weight), "%lld", (long long)e->weight);
        snprintf(conns, sizeof(conns), "%lld", (long long)e->conns);
        snprintf(ips, sizeof(ips), "%lld", (long long)e->ips);
        json_t *addrs = json_array();
        if (e->rpc[0] != '\0')
            json_array_append_new(addrs, json_sprintf("grpc://%s", e->rpc));
        json_array_append_new(
            out,
            json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:I,s:{s:s,s:s,s:s,s:o,s:s},s:o}", "region", "",
                      "zone", "", "env", "", "appid", "goim.comet", "hostname", e->id, "addrs",
                      addrs, "version", "", "latest_timestamp", (json_int_t)e->updated_ms * 1000000,
                      "metadata", "weight", weight, "conn_count", conns, "ip_count", ips,
                      "ip_addrs", client_hosts(e), "offline", e->weight > 0 ? "false" : "true",
                      "herald", registry_entry_json(e)));
    }
    return out;
}

static int weighted_cmp(const void *a, const void *b)
{
    const logic_online_comet_t *x = *(logic_online_comet_t *const *)a;
    const logic_online_comet_t *y = *(logic_online_comet_t *const *)b;
    if (x->e.weight != y->e.weight)
        return x->e.weight > y->e.weight ? -1 : 1;
    if (x->e.conns != y->e.conns)
        return x->e.conns < y->e.conns ? -1 : 1;
    return strcmp(x->e.id, y->e.id);
}

/* The port goim's NodesReply names; 0 when the comet has no usable address of that kind. */
static int port_of(const char *addr)
{
    int port = addr_port_of(addr);
    return port > 0 ? port : 0;
}

json_t *logic_online_weighted(const logic_online_t *o, const char *platform, int64_t heartbeat_ms)
{
    /* Web clients dial WebSocket, the others TCP (goim gives web its domains). A comet with
     * weight 0 is being drained and is not offered. */
    int web = platform != NULL && strcmp(platform, "web") == 0;
    logic_online_comet_t **order = xcalloc(o->n + 1, sizeof(*order));
    size_t n = 0;
    for (size_t i = 0; i < o->n; i++)
        if (o->comets[i]->e.weight > 0)
            order[n++] = o->comets[i];
    qsort(order, n, sizeof(*order), weighted_cmp);
    /* goim's NodesReply: nodes are hosts, and the ports are tcp_port / ws_port / wss_port, the
     * same on every comet in goim's deployments (taken here from the first comet). herald's
     * "comets" gives every offered comet's own addresses, for clusters whose comets differ in
     * ports (several comets on one host); herald's clients read that. */
    json_t *nodes = json_array();
    json_t *comets = json_array();
    for (size_t i = 0; i < n; i++) {
        const registry_entry_t *e = &order[i]->e;
        json_t *host = host_of(web ? e->ws : e->tcp);
        if (host != NULL)
            json_array_append_new(nodes, host);
        json_array_append_new(comets, json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", e->id, "tcp", e->tcp,
                                                "ws", e->ws, "tls", e->tls, "wss", e->wss));
    }
    json_t *out = json_pack(
        "{s:s,s:i,s:i,s:i,s:I,s:i,s:{s:i,s:i,s:f,s:f},s:o,s:o}", "domain", "", "tcp_port",
        n ? port_of(order[0]->e.tcp) : 0, "ws_port", n ? port_of(order[0]->e.ws) : 0, "wss_port",
        n ? port_of(order[0]->e.wss) : 0, "heartbeat", (json_int_t)(heartbeat_ms / 1000),
        "heartbeat_max", 3, "backoff", "max_delay", 300, "base_delay", 3, "factor", 1.8, "jitter",
        0.3, "nodes", nodes, "comets", comets);
    free(order);
    return out;
}
