/* comet_session.c - see comet_session.h. */
#include "comet_session.h"

#include <stdio.h>

static const char *local_key(const void *item)
{
    return ((const comet_key_t *)item)->key;
}

int comet_session_init(comet_session_t *s, uv_loop_t *loop, const comet_conf_t *conf, int index,
                       comet_keys_t *keys, comet_ips_t *ips, comet_queue_t *const *peers,
                       comet_stats_t *stats, const comet_session_ops_t *ops, void *arg, char *err,
                       size_t errlen)
{
    char owner[32];
    snprintf(owner, sizeof owner, "worker %d", index);
    /* First: with bad logic addresses it creates nothing. */
    int rc = comet_logic_init(&s->logic, loop, conf, owner, err, errlen);
    if (rc != 0)
        return rc;
    comet_limits_from_conf(&s->limits, conf);
    rc = comet_conns_init(&s->conns, loop, &s->limits.conns, stats);
    if (rc != 0) {
        snprintf(err, errlen, "worker %d: %s", index, uv_strerror(rc));
        comet_logic_close(&s->logic, NULL, NULL);
        return rc;
    }
    s->conf = conf;
    s->index = index;
    s->keys = keys;
    s->ips = ips;
    s->peers = peers;
    s->stats = stats;
    s->ops = ops;
    s->ops_arg = arg;
    strmap_init(&s->local, local_key);
    comet_rooms_init(&s->rooms);
    list_init(&s->all);
    list_init(&s->room_changes);
    s->rpc_addr = NULL;
    s->online = NULL;
    buf_init(&s->out);
    s->stopping = 0;
    return 0;
}

void comet_session_set_limits(comet_session_t *s, const comet_limits_t *l)
{
    s->limits = *l;
    s->conns.limits = l->conns;
}

void comet_session_set_online(comet_session_t *s, comet_online_t *o)
{
    comet_online_unref(s->online);
    s->online = o;
}

void comet_session_close(comet_session_t *s)
{
    comet_conns_close(&s->conns);
    comet_logic_close(&s->logic, NULL, NULL);
    comet_session_set_online(s, NULL);
}

void comet_session_deinit(comet_session_t *s)
{
    comet_conns_deinit(&s->conns);
    comet_rooms_deinit(&s->rooms);
    strmap_deinit(&s->local);
    buf_deinit(&s->out);
}
