/* router_table.c - open-addressing hash of users, each with a small array of connections.
 *
 * Memory: a user is a 24-byte slot plus an array of 24-byte connections and one heap string per
 * key; comet ids are interned, because one id is shared by thousands of connections. The slot
 * array only grows (at 3/4 load): after a mass disconnect it keeps its peak size, 24 bytes a slot.
 */
#include "router_table.h"

#include "buf.h"
#include "herald_err.h"

#include <stdlib.h>
#include <string.h>

/* One connection. The key is its own heap string; the server is an index into t->servers. */
typedef struct router_conn_s {
    char *key;
    uint64_t expires_at_ms;
    uint32_t server;
} router_conn_t;

/* One user: a slot of the hash. conns == NULL marks an empty slot; a used slot always has an
 * array (possibly with n == 0 for the moment of a put). Connections are in put order, oldest
 * first, so kick-oldest evicts conns[0]. */
typedef struct router_user_s {
    int64_t mid;
    router_conn_t *conns;
    uint16_t n, cap;
} router_user_t;

/* An interned comet id. name == NULL marks a free record, reused by the next new id. */
typedef struct router_server_s {
    char *name;
    uint32_t hash;
    uint32_t refs; /* connections placed on it; the name is freed at 0 */
} router_server_t;

struct router_table_s {
    router_user_t *slots;
    size_t cap; /* power of two */
    uint64_t users, conns;
    size_t sweep_pos;
    router_server_t *servers;
    uint32_t n_servers, cap_servers;
    uint32_t max_conns;
    router_overflow_t overflow;
    uint64_t ttl_ms;
};

#define ROUTER_TABLE_MIN_CAP 64

/* splitmix64's finaliser: user ids are often sequential, the low bits must still spread. */
static size_t mid_home(const router_table_t *t, int64_t mid)
{
    uint64_t x = (uint64_t)mid;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return (size_t)x & (t->cap - 1);
}

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

router_table_t *router_table_new(uint32_t max_conns, router_overflow_t overflow, uint64_t ttl_ms)
{
    router_table_t *t = xcalloc(1, sizeof(*t));
    if (max_conns < 1)
        max_conns = 1;
    if (max_conns > ROUTER_CONNS_MAX)
        max_conns = ROUTER_CONNS_MAX;
    t->max_conns = max_conns;
    t->overflow = overflow;
    t->ttl_ms = ttl_ms;
    t->cap = ROUTER_TABLE_MIN_CAP;
    t->slots = xcalloc(t->cap, sizeof(*t->slots));
    return t;
}

void router_table_free(router_table_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->cap; i++) {
        router_user_t *u = &t->slots[i];
        for (size_t j = 0; j < u->n; j++)
            free(u->conns[j].key);
        free(u->conns);
    }
    for (uint32_t i = 0; i < t->n_servers; i++)
        free(t->servers[i].name);
    free(t->servers);
    free(t->slots);
    free(t);
}

/* ------------------------------------------------------------------------------ servers */

/* Linear scan with a hash precheck: a router sees tens to hundreds of comets, and a put is a
 * per-connect event, so an integer compare per comet is cheaper than keeping a second hash. */
static int64_t server_find(const router_table_t *t, const char *name)
{
    uint32_t h = name_hash(name);
    for (uint32_t i = 0; i < t->n_servers; i++) {
        const router_server_t *s = &t->servers[i];
        if (s->name != NULL && s->hash == h && strcmp(s->name, name) == 0)
            return i;
    }
    return -1;
}

/* Returns the index of `name`, interning it when new, with one more reference. */
static uint32_t server_acquire(router_table_t *t, const char *name)
{
    int64_t found = server_find(t, name);
    uint32_t i;
    if (found >= 0) {
        i = (uint32_t)found;
    } else {
        for (i = 0; i < t->n_servers && t->servers[i].name != NULL; i++)
            ;
        if (i == t->n_servers) {
            if (t->n_servers == t->cap_servers) {
                t->cap_servers = t->cap_servers ? t->cap_servers * 2 : 8;
                t->servers = xrealloc(t->servers, t->cap_servers * sizeof(*t->servers));
            }
            t->n_servers++;
        }
        t->servers[i].name = xstrdup(name);
        t->servers[i].hash = name_hash(name);
        t->servers[i].refs = 0;
    }
    t->servers[i].refs++;
    return i;
}

static void server_release(router_table_t *t, uint32_t i)
{
    router_server_t *s = &t->servers[i];
    if (--s->refs == 0) {
        free(s->name);
        s->name = NULL;
    }
}

/* -------------------------------------------------------------------------------- users */

static router_user_t *user_find(const router_table_t *t, int64_t mid)
{
    for (size_t i = mid_home(t, mid);; i = (i + 1) & (t->cap - 1)) {
        router_user_t *u = &t->slots[i];
        if (u->conns == NULL)
            return NULL;
        if (u->mid == mid)
            return u;
    }
}

static void table_grow(router_table_t *t)
{
    router_user_t *old = t->slots;
    size_t old_cap = t->cap;
    t->cap *= 2;
    t->slots = xcalloc(t->cap, sizeof(*t->slots));
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].conns == NULL)
            continue;
        size_t j = mid_home(t, old[i].mid);
        while (t->slots[j].conns != NULL)
            j = (j + 1) & (t->cap - 1);
        t->slots[j] = old[i];
    }
    free(old);
    t->sweep_pos = 0;
}

/* Returns the user `mid`, adding it with no connections when absent. */
static router_user_t *user_get_or_add(router_table_t *t, int64_t mid)
{
    router_user_t *u = user_find(t, mid);
    if (u != NULL)
        return u;
    if ((t->users + 1) * 4 > (uint64_t)t->cap * 3)
        table_grow(t);
    size_t i = mid_home(t, mid);
    while (t->slots[i].conns != NULL)
        i = (i + 1) & (t->cap - 1);
    u = &t->slots[i];
    u->mid = mid;
    u->n = 0;
    u->cap = 1;
    u->conns = xmalloc(sizeof(*u->conns));
    t->users++;
    return u;
}

/* Empties slot i (its connections already gone) by backward-shift deletion, so lookups need no
 * tombstones: every later entry of the probe run that may move closer to its home moves into
 * the hole. An entry can only move into slot i or later in the run, which the sweep and the
 * server scan rely on (they examine slot i again after a removal). */
static void user_remove_at(router_table_t *t, size_t i)
{
    size_t mask = t->cap - 1;
    free(t->slots[i].conns);
    t->users--;
    for (size_t j = (i + 1) & mask; t->slots[j].conns != NULL; j = (j + 1) & mask) {
        size_t k = mid_home(t, t->slots[j].mid);
        /* entry j stays when its home lies cyclically in (i, j] */
        int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays)
            continue;
        t->slots[i] = t->slots[j];
        i = j;
    }
    memset(&t->slots[i], 0, sizeof(t->slots[i]));
}

static void user_remove(router_table_t *t, router_user_t *u)
{
    user_remove_at(t, (size_t)(u - t->slots));
}

static void conn_remove(router_table_t *t, router_user_t *u, size_t i)
{
    free(u->conns[i].key);
    server_release(t, u->conns[i].server);
    memmove(&u->conns[i], &u->conns[i + 1], (u->n - i - 1) * sizeof(*u->conns));
    u->n--;
    t->conns--;
}

/* Frees the user's connections expired at now_ms; returns how many. Leaves the user in place. */
static size_t conns_purge_expired(router_table_t *t, router_user_t *u, uint64_t now_ms)
{
    size_t freed = 0;
    for (size_t i = 0; i < u->n;) {
        if (u->conns[i].expires_at_ms <= now_ms) {
            conn_remove(t, u, i);
            freed++;
        } else {
            i++;
        }
    }
    return freed;
}

static int64_t conn_find(const router_user_t *u, const char *key)
{
    for (size_t i = 0; i < u->n; i++)
        if (strcmp(u->conns[i].key, key) == 0)
            return (int64_t)i;
    return -1;
}

static int user_live(const router_user_t *u, uint64_t now_ms)
{
    for (size_t i = 0; i < u->n; i++)
        if (u->conns[i].expires_at_ms > now_ms)
            return 1;
    return 0;
}

static int name_valid(const char *s, size_t max)
{
    if (s == NULL || s[0] == '\0')
        return 0;
    return strnlen(s, max + 1) <= max;
}

/* ------------------------------------------------------------------------------- public */

int router_table_put(router_table_t *t, int64_t mid, const char *key, const char *server,
                     uint64_t now_ms, router_evicted_t *evicted)
{
    evicted->has = 0;
    if (!name_valid(key, ROUTER_KEY_MAX) || !name_valid(server, ROUTER_SERVER_MAX))
        return HERALD_EINVAL;
    router_user_t *existing = user_find(t, mid);
    if (existing != NULL)
        conns_purge_expired(t, existing, now_ms);
    if (existing != NULL && conn_find(existing, key) < 0 && existing->n >= t->max_conns &&
        t->overflow == ROUTER_OVERFLOW_REJECT_NEW)
        return HERALD_EOVERFLOW;
    router_user_t *u = existing ? existing : user_get_or_add(t, mid);
    router_conn_t c;
    int64_t at = conn_find(u, key);
    if (at >= 0) {
        /* same key: a reconnect; it becomes the newest connection */
        c = u->conns[at];
        server_release(t, c.server);
        memmove(&u->conns[at], &u->conns[at + 1], (u->n - at - 1) * sizeof(*u->conns));
        u->n--;
        t->conns--;
    } else {
        if (u->n >= t->max_conns) {
            const router_conn_t *old = &u->conns[0];
            evicted->has = 1;
            memcpy(evicted->key, old->key, strlen(old->key) + 1);
            memcpy(evicted->server, t->servers[old->server].name,
                   strlen(t->servers[old->server].name) + 1);
            conn_remove(t, u, 0);
        }
        c.key = xstrdup(key);
    }
    c.server = server_acquire(t, server);
    c.expires_at_ms = now_ms + t->ttl_ms;
    if (u->n == u->cap) {
        uint32_t ncap = (uint32_t)u->cap * 2;
        u->cap = (uint16_t)(ncap < t->max_conns ? ncap : t->max_conns);
        u->conns = xrealloc(u->conns, u->cap * sizeof(*u->conns));
    }
    u->conns[u->n++] = c;
    t->conns++;
    return 0;
}

/* Finds connection `key` of `mid`: returns its index and sets *uo, or -1 when absent. *other is
 * set when `server` is given and the connection is placed on a different one. */
static int64_t conn_lookup(const router_table_t *t, int64_t mid, const char *key,
                           const char *server, router_user_t **uo, int *other)
{
    *other = 0;
    if (key == NULL)
        return -1;
    router_user_t *u = user_find(t, mid);
    if (u == NULL)
        return -1;
    int64_t i = conn_find(u, key);
    if (i < 0)
        return -1;
    *uo = u;
    if (server != NULL && server[0] != '\0')
        *other = strcmp(t->servers[u->conns[i].server].name, server) != 0;
    return i;
}

int router_table_del(router_table_t *t, int64_t mid, const char *key, const char *server)
{
    router_user_t *u = NULL;
    int other;
    int64_t i = conn_lookup(t, mid, key, server, &u, &other);
    if (i < 0 || other)
        return 0;
    conn_remove(t, u, (size_t)i);
    if (u->n == 0)
        user_remove(t, u);
    return 1;
}

int router_table_renew(router_table_t *t, int64_t mid, const char *key, const char *server,
                       uint64_t now_ms)
{
    router_user_t *u = NULL;
    int other;
    int64_t i = conn_lookup(t, mid, key, server, &u, &other);
    if (i < 0 || u->conns[i].expires_at_ms <= now_ms)
        return 0;
    /* other: a later put moved the key to another comet. That placement stays as it is, and the
     * caller must not re-put the key for the stale connection, so this still answers 1. */
    if (!other)
        u->conns[i].expires_at_ms = now_ms + t->ttl_ms;
    return 1;
}

size_t router_table_get(const router_table_t *t, int64_t mid, uint64_t now_ms,
                        router_table_visit_cb cb, void *arg)
{
    const router_user_t *u = user_find(t, mid);
    size_t n = 0;
    if (u == NULL)
        return 0;
    for (size_t i = 0; i < u->n; i++) {
        const router_conn_t *c = &u->conns[i];
        if (c->expires_at_ms <= now_ms)
            continue;
        cb(mid, c->key, t->servers[c->server].name, arg);
        n++;
    }
    return n;
}

size_t router_table_del_server(router_table_t *t, const char *server)
{
    if (server == NULL)
        return 0;
    int64_t found = server_find(t, server);
    if (found < 0)
        return 0;
    uint32_t s = (uint32_t)found;
    size_t removed = 0;
    /* refs counts the connections left on s; the record is freed when it reaches 0 */
    for (size_t i = 0; i < t->cap && t->servers[s].name != NULL;) {
        router_user_t *u = &t->slots[i];
        if (u->conns == NULL) {
            i++;
            continue;
        }
        for (size_t j = 0; j < u->n;) {
            if (u->conns[j].server == s) {
                conn_remove(t, u, j);
                removed++;
            } else {
                j++;
            }
        }
        if (u->n == 0)
            user_remove_at(t, i); /* slot i may now hold a moved entry: examine it again */
        else
            i++;
    }
    return removed;
}

static void heap_sift_down(int64_t *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, top = i;
        if (l < n && h[l] > h[top])
            top = l;
        if (r < n && h[r] > h[top])
            top = r;
        if (top == i)
            return;
        int64_t tmp = h[i];
        h[i] = h[top];
        h[top] = tmp;
        i = top;
    }
}

static void heap_sift_up(int64_t *h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p] >= h[i])
            return;
        int64_t tmp = h[i];
        h[i] = h[p];
        h[p] = tmp;
        i = p;
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

size_t router_table_list(const router_table_t *t, int64_t cursor, uint64_t now_ms, int64_t *out,
                         size_t limit, int *more)
{
    size_t n = 0;
    uint64_t candidates = 0;
    if (cursor < 0)
        cursor = 0;
    /* out[0..n) is a max-heap of the smallest ids seen so far */
    for (size_t i = 0; i < t->cap; i++) {
        const router_user_t *u = &t->slots[i];
        if (u->conns == NULL || u->mid <= cursor || !user_live(u, now_ms))
            continue;
        candidates++;
        if (n < limit) {
            out[n] = u->mid;
            heap_sift_up(out, n++);
        } else if (n > 0 && u->mid < out[0]) {
            out[0] = u->mid;
            heap_sift_down(out, n, 0);
        }
    }
    qsort(out, n, sizeof(*out), cmp_i64);
    *more = candidates > n;
    return n;
}

size_t router_table_sweep(router_table_t *t, uint64_t now_ms, size_t budget)
{
    size_t freed = 0;
    for (size_t k = 0; k < budget && t->users > 0; k++) {
        if (t->sweep_pos >= t->cap)
            t->sweep_pos = 0;
        router_user_t *u = &t->slots[t->sweep_pos];
        if (u->conns != NULL) {
            freed += conns_purge_expired(t, u, now_ms);
            if (u->n == 0) {
                user_remove_at(t, t->sweep_pos); /* examine the moved-in entry next */
                continue;
            }
        }
        t->sweep_pos++;
    }
    return freed;
}

uint64_t router_table_users(const router_table_t *t)
{
    return t->users;
}

uint64_t router_table_conns(const router_table_t *t)
{
    return t->conns;
}

size_t router_table_capacity(const router_table_t *t)
{
    return t->cap;
}
