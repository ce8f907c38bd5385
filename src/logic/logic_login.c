/* logic_login.c - comet choice and duplicate-login policy (see logic_login.h). */
#include "logic_login.h"

#include "buf.h"
#include "conf.h"
#include "herald_err.h"
#include "logic_events.h"
#include "logic_login_conn.h"
#include "logic_login_kick.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct logic_login_s {
    const logic_ctx_t *ctx;
    uint64_t rr; /* round-robin picks so far */
};

logic_login_t *logic_login_new(const logic_ctx_t *ctx)
{
    logic_login_t *l = xcalloc(1, sizeof(*l));
    l->ctx = ctx;
    return l;
}

void logic_login_free(logic_login_t *l)
{
    free(l);
}

static int usable(const logic_online_comet_t *c)
{
    return c->e.weight > 0 && c->e.tcp[0] != '\0';
}

/* FNV-1a over the id, then mixed with the user id (splitmix64 finaliser): the rendezvous score. */
static uint64_t score(const char *id, int64_t mid)
{
    uint64_t h = 14695981039346656037ULL;
    for (const char *p = id; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    h ^= (uint64_t)mid + 0x9e3779b97f4a7c15ULL;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

const logic_online_comet_t *logic_login_pick(logic_login_t *l, int64_t mid)
{
    const logic_online_t *o = l->ctx->online;
    int strategy = l->ctx->conf->login_strategy;
    size_t n = logic_online_count(o);
    const logic_online_comet_t *best = NULL;
    size_t usable_n = 0;
    for (size_t i = 0; i < n; i++)
        usable_n += usable(logic_online_at(o, i));
    if (usable_n == 0)
        return NULL;
    /* Round robin walks the comets in id order, so the order of the aggregate does not matter:
     * the k-th pick is the (k mod n)-th id. */
    size_t want = strategy == LOGIC_LOGIN_ROUND_ROBIN ? (size_t)(l->rr++ % usable_n) : 0;
    for (size_t i = 0; i < n; i++) {
        const logic_online_comet_t *c = logic_online_at(o, i);
        if (!usable(c))
            continue;
        int better;
        if (best == NULL) {
            better = 1;
        } else if (strategy == LOGIC_LOGIN_LEAST_CONN) {
            better = c->e.conns < best->e.conns ||
                     (c->e.conns == best->e.conns && strcmp(c->e.id, best->e.id) < 0);
        } else if (strategy == LOGIC_LOGIN_HASH) {
            better = score(c->e.id, mid) > score(best->e.id, mid);
        } else {
            better = 0;
        }
        if (better)
            best = c;
    }
    if (strategy != LOGIC_LOGIN_ROUND_ROBIN)
        return best;
    for (size_t i = 0; i < n; i++) { /* the want-th usable comet by id */
        const logic_online_comet_t *c = logic_online_at(o, i);
        if (!usable(c))
            continue;
        size_t rank = 0;
        for (size_t j = 0; j < n; j++) {
            const logic_online_comet_t *other = logic_online_at(o, j);
            rank += usable(other) && strcmp(other->e.id, c->e.id) < 0;
        }
        if (rank == want)
            return c;
    }
    return NULL;
}

static const char *const policy_names[] = {"allow", "kick-older", "reject-newer"};

static int policy_parse(const char *word)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(word, policy_names[i]) == 0)
            return i;
    return -1;
}

/* Walks "platform=policy" items; for platform (or every item when NULL) returns the policy of
 * the matching item, -1 when none matches, or -2 (and err) on a malformed item. */
static int platforms_lookup(const char *list, const char *platform, char *err, size_t errlen)
{
    size_t n;
    char **items = conf_list_split(list, &n);
    int found = -1;
    for (size_t i = 0; i < n && found == -1; i++) {
        char *eq = strchr(items[i], '=');
        int policy = eq ? policy_parse(eq + 1) : -1;
        if (eq == NULL || eq == items[i] || policy < 0) {
            snprintf(err, errlen,
                     "login.duplicate_platforms: bad item \"%s\" (want platform="
                     "allow|kick-older|reject-newer)",
                     items[i]);
            found = -2;
            break;
        }
        *eq = '\0';
        if (platform != NULL && strcmp(items[i], platform) == 0)
            found = policy;
    }
    conf_list_free(items);
    return found;
}

int logic_login_policy(const logic_conf_t *conf, const char *platform)
{
    char err[8];
    int p = -1;
    if (platform != NULL && platform[0] != '\0')
        p = platforms_lookup(conf->login_duplicate_platforms, platform, err, sizeof(err));
    return p >= 0 ? p : conf->login_duplicate;
}

int logic_login_conf_check(const logic_conf_t *conf, char *err, size_t errlen)
{
    return platforms_lookup(conf->login_duplicate_platforms, NULL, err, errlen) == -2 ? HERALD_ECONF
                                                                                      : 0;
}

typedef struct dup_ctx_s {
    logic_login_dup_cb cb;
    void *arg;
    int policy;
    char *platform;
} dup_ctx_t;

static void on_conns(int status, const logic_login_conn_t *conns, size_t n, void *arg)
{
    dup_ctx_t *c = arg;
    if (status != 0) {
        c->cb(status, NULL, c->arg);
    } else {
        logic_login_dup_t *d = xcalloc(1, sizeof(*d));
        d->keys = xcalloc(n + 1, sizeof(*d->keys));
        d->servers = xcalloc(n + 1, sizeof(*d->servers));
        for (size_t i = 0; i < n; i++) {
            if (strcmp(conns[i].platform, c->platform) != 0)
                continue;
            d->keys[d->n] = xstrdup(conns[i].key);
            d->servers[d->n++] = xstrdup(conns[i].server);
        }
        d->refuse = c->policy == LOGIC_DUP_REJECT_NEWER && d->n > 0;
        c->cb(0, d, c->arg);
    }
    free(c->platform);
    free(c);
}

int logic_login_dup_check(logic_login_t *l, int64_t mid, const char *platform,
                          logic_login_dup_cb cb, void *arg)
{
    int policy = logic_login_policy(l->ctx->conf, platform);
    if (policy == LOGIC_DUP_ALLOW || platform == NULL || platform[0] == '\0')
        return 1;
    dup_ctx_t *c = xcalloc(1, sizeof(*c));
    *c = (dup_ctx_t){cb, arg, policy, xstrdup(platform)};
    int rc = logic_login_conn_list(l->ctx, mid, on_conns, c);
    if (rc != 0) {
        free(c->platform);
        free(c);
    }
    return rc;
}

void logic_login_dup_kick(logic_login_t *l, const logic_login_dup_t *dup, const char *server,
                          char ***kick_keys, size_t *nkick)
{
    *kick_keys = xrealloc(*kick_keys, (*nkick + dup->n + 1) * sizeof(**kick_keys));
    for (size_t i = 0; i < dup->n; i++) {
        if (strcmp(dup->servers[i], server) == 0) {
            (*kick_keys)[(*nkick)++] = xstrdup(dup->keys[i]);
        } else {
            const char *key = dup->keys[i];
            logic_login_kick(l->ctx, dup->servers[i], &key, 1, "duplicate login");
        }
    }
}

void logic_login_dup_free(logic_login_dup_t *dup)
{
    if (dup == NULL)
        return;
    for (size_t i = 0; i < dup->n; i++) {
        free(dup->keys[i]);
        free(dup->servers[i]);
    }
    free(dup->keys);
    free(dup->servers);
    free(dup);
}

void logic_login_connected(logic_login_t *l, int64_t mid, const char *key, const char *server,
                           const char *platform, const char *token, const char *room)
{
    logic_login_conn_put(l->ctx, mid, key, platform, token);
    /* NULL when a string is not UTF-8 (jansson refuses it): then no event, nothing else lost */
    logic_events_publish(l->ctx->events, mid,
                         json_pack("{s:s,s:I,s:s,s:s,s:s,s:s}", "type", "connect", "mid",
                                   (json_int_t)mid, "key", key, "server", server, "platform",
                                   platform ? platform : "", "room", room ? room : ""));
}

void logic_login_disconnected(logic_login_t *l, int64_t mid, const char *key, const char *server)
{
    logic_login_conn_del(l->ctx, mid, key);
    logic_events_publish(l->ctx->events, mid,
                         json_pack("{s:s,s:I,s:s,s:s}", "type", "disconnect", "mid",
                                   (json_int_t)mid, "key", key, "server", server));
}
