/* kafka_consumer.c - the consumer half of the Kafka adapter (see kafka.h).
 *
 * Offsets: librdkafka commits automatically, but only what the adapter stores
 * (enable.auto.offset.store=false). Per partition the adapter keeps the offsets delivered to the
 * user and not yet done, in delivery (= offset) order; when the oldest ones are done it stores
 * the offset after the last of them. So the stored offset never passes a message in flight, and
 * a restart redelivers from the oldest unfinished message (at-least-once).
 *
 * Rebalancing is eager (rd_kafka_assign): a revoke drops the partition's tracking, and a late
 * kafka_consumer_done for it is ignored.
 */
#include "buf.h"
#include "herald_err.h"
#include "kafka.h"
#include "kafka_loop.h"
#include "kafka_stats.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Messages handed to the callback per wake-up before yielding to the rest of the loop. */
#define KAFKA_CONSUMER_BATCH 256
/* Highest partition id accepted from the cluster (bounds the partition table). */
#define KAFKA_CONSUMER_MAX_PARTITIONS 65536

typedef struct kafka_inflight_s {
    int64_t offset;
    int done;
} kafka_inflight_t;

/* Tracking of one assigned partition; owned by its consumer, freed on revoke or free. */
typedef struct kafka_part_s {
    kafka_inflight_t *q; /* q[head..len) in offset order */
    size_t head, len, cap;
    int64_t stored;  /* last offset given to rd_kafka_offsets_store, -1 none */
    int64_t rewound; /* while paused: the offset this partition was sought back to, -1 none */
    /* One-element list reused for every store. It caches a partition reference, so it must be
     * destroyed before rd_kafka_destroy. */
    rd_kafka_topic_partition_list_t *store;
} kafka_part_t;

/* Longest kafka_consumer_free waits to leave the group cleanly. */
#define KAFKA_CONSUMER_CLOSE_MS 5000

/* Owned by the caller from kafka_consumer_new to kafka_consumer_free. */
struct kafka_consumer_s {
    rd_kafka_t *rk;
    kafka_loop_t *kl;
    kafka_message_cb cb;
    void *arg;
    char *topic;
    char *group;
    kafka_part_t **parts; /* indexed by partition id; NULL when not assigned */
    int32_t nparts;
    int assigned; /* partitions in the current assignment */
    int paused;
    kafka_stats_t stats; /* librdkafka's statistics, every KAFKA_STATS_INTERVAL_MS */
};

/* ----------------------------------------------------------------------- offset tracking */

static void kafka_part_free(kafka_part_t *part)
{
    if (!part)
        return;
    rd_kafka_topic_partition_list_destroy(part->store);
    free(part->q);
    free(part);
}

static void kafka_consumer_drop(kafka_consumer_t *c, int32_t partition)
{
    if (partition < 0 || partition >= c->nparts)
        return;
    kafka_part_free(c->parts[partition]);
    c->parts[partition] = NULL;
}

/* The tracking of `partition`, created when missing; NULL for an id beyond the bound. */
static kafka_part_t *kafka_consumer_part(kafka_consumer_t *c, int32_t partition)
{
    kafka_part_t *part;

    if (partition < 0 || partition >= KAFKA_CONSUMER_MAX_PARTITIONS)
        return NULL;
    if (partition >= c->nparts) {
        int32_t n = c->nparts ? c->nparts : 16;

        while (n <= partition)
            n *= 2;
        c->parts = xrealloc(c->parts, (size_t)n * sizeof(*c->parts));
        memset(c->parts + c->nparts, 0, (size_t)(n - c->nparts) * sizeof(*c->parts));
        c->nparts = n;
    }
    if (!c->parts[partition]) {
        part = xcalloc(1, sizeof(*part));
        part->stored = -1;
        part->rewound = -1;
        part->store = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(part->store, c->topic, partition);
        c->parts[partition] = part;
    }
    return c->parts[partition];
}

static void kafka_consumer_track(kafka_consumer_t *c, int32_t partition, int64_t offset)
{
    kafka_part_t *part = kafka_consumer_part(c, partition);

    if (!part)
        return;
    /* An offset reset can move a partition backwards: start its tracking afresh. */
    if (part->len > part->head && offset <= part->q[part->len - 1].offset)
        part->head = part->len = 0;
    if (part->len == part->cap) {
        if (part->head > 0) {
            memmove(part->q, part->q + part->head, (part->len - part->head) * sizeof(*part->q));
            part->len -= part->head;
            part->head = 0;
        } else {
            part->cap = part->cap ? part->cap * 2 : 64;
            part->q = xrealloc(part->q, part->cap * sizeof(*part->q));
        }
    }
    part->q[part->len].offset = offset;
    part->q[part->len].done = 0;
    part->len++;
}

void kafka_consumer_done(kafka_consumer_t *c, int32_t partition, int64_t offset)
{
    kafka_part_t *part = partition >= 0 && partition < c->nparts ? c->parts[partition] : NULL;
    size_t lo, hi;
    int64_t next = -1;
    rd_kafka_resp_err_t err;

    if (!part)
        return;
    lo = part->head;
    hi = part->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (part->q[mid].offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == part->len || part->q[lo].offset != offset)
        return; /* not in flight here: revoked, redelivered, or done twice */
    part->q[lo].done = 1;
    while (part->head < part->len && part->q[part->head].done)
        next = part->q[part->head++].offset + 1;
    if (part->head == part->len)
        part->head = part->len = 0;
    if (next <= part->stored)
        return;
    part->store->elems[0].offset = next;
    err = rd_kafka_offsets_store(c->rk, part->store);
    if (err)
        log_debug("kafka consumer %s: store %s [%d] @%lld: %s", c->group, c->topic, partition,
                  (long long)next, rd_kafka_err2str(err));
    else
        part->stored = next;
}

/* --------------------------------------------------------------------------- serving */

static void kafka_consumer_set_paused(kafka_consumer_t *c, int pause)
{
    rd_kafka_topic_partition_list_t *assigned = NULL;

    if (rd_kafka_assignment(c->rk, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR || !assigned)
        return;
    if (assigned->cnt > 0) {
        if (pause)
            rd_kafka_pause_partitions(c->rk, assigned);
        else
            rd_kafka_resume_partitions(c->rk, assigned);
    }
    rd_kafka_topic_partition_list_destroy(assigned);
}

int kafka_consumer_assigned(const kafka_consumer_t *c)
{
    return c->assigned;
}

void kafka_consumer_pause(kafka_consumer_t *c)
{
    if (c->paused)
        return;
    c->paused = 1;
    kafka_consumer_set_paused(c, 1);
}

void kafka_consumer_resume(kafka_consumer_t *c)
{
    if (!c->paused)
        return;
    c->paused = 0;
    for (int32_t i = 0; i < c->nparts; i++)
        if (c->parts[i])
            c->parts[i]->rewound = -1;
    kafka_consumer_set_paused(c, 0);
}

/* A message that arrives while paused was fetched before the pause reached its partition (a
 * pause right after an assignment can lose that race). It is not delivered: the partition is
 * paused again and sought back to the first such message, so it comes again after the resume
 * and none is skipped. Later ones of the same partition are behind that offset: dropped. */
static void kafka_consumer_hold(kafka_consumer_t *c, const rd_kafka_message_t *m)
{
    kafka_part_t *part = kafka_consumer_part(c, m->partition);
    rd_kafka_topic_partition_list_t *one;
    rd_kafka_error_t *error;

    if (!part || (part->rewound >= 0 && m->offset >= part->rewound))
        return;
    part->rewound = m->offset;
    log_debug("kafka consumer %s: %s [%d] @%lld arrived while paused: held back", c->group,
              c->topic, m->partition, (long long)m->offset);
    one = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(one, c->topic, m->partition)->offset = m->offset;
    rd_kafka_pause_partitions(c->rk, one);
    error = rd_kafka_seek_partitions(c->rk, one, 0);
    if (error) {
        log_warn("kafka consumer %s: seek %s [%d] @%lld: %s", c->group, c->topic, m->partition,
                 (long long)m->offset, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
    rd_kafka_topic_partition_list_destroy(one);
}

/* Served from the consumer queue on the loop thread (and from rd_kafka_consumer_close). */
static void kafka_consumer_on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                        rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    kafka_consumer_t *c = ((kafka_loop_t *)opaque)->owner;

    for (int i = 0; i < parts->cnt; i++)
        kafka_consumer_drop(c, parts->elems[i].partition);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        log_info("kafka consumer %s: %d partition(s) of %s assigned", c->group, parts->cnt,
                 c->topic);
        rd_kafka_assign(rk, parts);
        c->assigned = parts->cnt;
        if (c->paused)
            rd_kafka_pause_partitions(rk, parts);
        kafka_loop_alive(c->kl);
        return;
    }
    if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
        log_warn("kafka consumer %s: rebalance: %s", c->group, rd_kafka_err2str(err));
    else
        log_info("kafka consumer %s: %d partition(s) revoked", c->group, parts->cnt);
    /* With enable.auto.commit, the unassign commits the offsets stored so far. */
    rd_kafka_assign(rk, NULL);
    c->assigned = 0;
}

static void kafka_consumer_deliver(kafka_consumer_t *c, const rd_kafka_message_t *m)
{
    kafka_msg_t msg = {
        .partition = m->partition,
        .offset = m->offset,
        .key = m->key,
        .key_len = m->key_len,
        .value = m->payload,
        .value_len = m->len,
    };

    kafka_loop_alive(c->kl);
    kafka_consumer_track(c, m->partition, m->offset);
    c->cb(&msg, c->arg);
}

static int kafka_consumer_serve(void *owner)
{
    kafka_consumer_t *c = owner;

    for (int i = 0; i < KAFKA_CONSUMER_BATCH; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 0);

        if (!m)
            return 0;
        if (m->err)
            log_warn_rl("kafka consumer %s: %s", c->group, rd_kafka_message_errstr(m));
        else if (c->paused)
            kafka_consumer_hold(c, m);
        else
            kafka_consumer_deliver(c, m);
        rd_kafka_message_destroy(m);
    }
    return 1;
}

/* ------------------------------------------------------------------------- lifecycle */

/* The settings the at-least-once tracking rests on (kafka.h), and the session, which has a key
 * of its own: never from property.* */
static const char *const kafka_consumer_owned[] = {"bootstrap.servers",
                                                   "group.id",
                                                   "session.timeout.ms",
                                                   "enable.auto.commit",
                                                   "enable.auto.offset.store",
                                                   "auto.offset.reset",
                                                   "partition.assignment.strategy",
                                                   "statistics.interval.ms",
                                                   NULL};

/* Served from the consumer queue on the loop thread, like every other callback. */
static int kafka_consumer_on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    kafka_loop_t *kl = opaque;
    kafka_consumer_t *c = kl->owner;
    (void)rk;
    kafka_stats_update(&c->stats, json, len, c->topic);
    return 0; /* librdkafka frees json */
}

/* Heartbeats per session: the 1 s heartbeat of the 6 s default session, and five more chances
 * after a late one before the membership is lost (librdkafka's own 3 s in 45 s gives 15, but a
 * short session with Kafka's usual third would give only 3). */
#define KAFKA_CONSUMER_HEARTBEATS_PER_SESSION 6

static int kafka_consumer_conf(rd_kafka_conf_t *conf, const kafka_group_t *g,
                               const conf_props_t *props, char *err, size_t errlen)
{
    /* A short metadata refresh: a topic created after start-up is found quickly. The fetch
     * wait and the session are the caller's (see kafka.h). */
    static const char *const kv[][2] = {
        {"auto.offset.reset", "earliest"},
        {"enable.auto.commit", "true"},
        {"enable.auto.offset.store", "false"},
        {"auto.commit.interval.ms", "1000"},
        {"topic.metadata.refresh.interval.ms", "5000"},
        {"statistics.interval.ms", KAFKA_STATS_INTERVAL_MS},
    };
    uint32_t heartbeat = g->session_timeout_ms / KAFKA_CONSUMER_HEARTBEATS_PER_SESSION;
    char fetch_wait[16], session[16], heartbeat_ms[16];

    snprintf(fetch_wait, sizeof(fetch_wait), "%u", g->fetch_wait_ms);
    snprintf(session, sizeof(session), "%u", g->session_timeout_ms);
    snprintf(heartbeat_ms, sizeof(heartbeat_ms), "%u", heartbeat > 0 ? heartbeat : 1);
    if (kafka_loop_conf_set(conf, "group.id", g->group, err, errlen) < 0 ||
        kafka_loop_conf_set(conf, "fetch.wait.max.ms", fetch_wait, err, errlen) < 0 ||
        kafka_loop_conf_set(conf, "session.timeout.ms", session, err, errlen) < 0 ||
        kafka_loop_conf_set(conf, "heartbeat.interval.ms", heartbeat_ms, err, errlen) < 0)
        return HERALD_ECONF;
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        if (kafka_loop_conf_set(conf, kv[i][0], kv[i][1], err, errlen) < 0)
            return HERALD_ECONF;
    if (kafka_loop_conf_props(conf, props, kafka_consumer_owned, err, errlen) < 0)
        return HERALD_ECONF;
    rd_kafka_conf_set_rebalance_cb(conf, kafka_consumer_on_rebalance);
    rd_kafka_conf_set_stats_cb(conf, kafka_consumer_on_stats);
    return 0;
}

static void kafka_consumer_release(kafka_consumer_t *c)
{
    for (int32_t i = 0; i < c->nparts; i++)
        kafka_part_free(c->parts[i]);
    free(c->parts);
    kafka_loop_free(c->kl);
    /* Closing (leaving the group) is kafka_consumer_free's job, bounded there; a plain
     * rd_kafka_destroy would close again, without a bound. */
    if (c->rk)
        rd_kafka_destroy_flags(c->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    kafka_stats_deinit(&c->stats);
    free(c->topic);
    free(c->group);
    free(c);
}

size_t kafka_consumer_lag(const kafka_consumer_t *c, const kafka_partition_lag_t **out)
{
    *out = c->stats.lags;
    return c->stats.nlags;
}

int kafka_consumer_brokers_up(const kafka_consumer_t *c)
{
    return c->stats.seen ? c->stats.brokers_up : -1;
}

kafka_consumer_t *kafka_consumer_new(uv_loop_t *loop, const char *brokers,
                                     const conf_props_t *props, const kafka_group_t *g,
                                     kafka_message_cb cb, void *arg, char *err, size_t errlen)
{
    kafka_consumer_t *c = xcalloc(1, sizeof(*c));
    rd_kafka_topic_partition_list_t *topics;
    rd_kafka_conf_t *conf;
    rd_kafka_resp_err_t rerr;

    c->cb = cb;
    c->arg = arg;
    c->topic = xstrdup(g->topic);
    c->group = xstrdup(g->group);
    c->kl = kafka_loop_new(loop, "consumer", c);
    conf = kafka_loop_conf_new(c->kl, brokers, err, errlen);
    if (!conf)
        goto fail;
    if (kafka_consumer_conf(conf, g, props, err, errlen) < 0) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (!c->rk) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    /* Everything, rebalances and errors included, now comes on the consumer queue. */
    rd_kafka_poll_set_consumer(c->rk);
    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, g->topic, RD_KAFKA_PARTITION_UA);
    rerr = rd_kafka_subscribe(c->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (rerr) {
        snprintf(err, errlen, "kafka subscribe %s: %s", g->topic, rd_kafka_err2str(rerr));
        goto fail;
    }
    if (kafka_loop_start(c->kl, rd_kafka_queue_get_consumer(c->rk), kafka_consumer_serve, err,
                         errlen) < 0) {
        rd_kafka_consumer_close(c->rk);
        goto fail;
    }
    return c;

fail:
    kafka_consumer_release(c);
    return NULL;
}

void kafka_consumer_free(kafka_consumer_t *c)
{
    if (!c)
        return;
    /* Revokes (the rebalance callback runs from here), commits what is stored, leaves the
     * group. rd_kafka_consumer_close() can block without end when the brokers go away mid-close,
     * so close asynchronously and give up after KAFKA_CONSUMER_CLOSE_MS: the group then drops
     * this member after session.timeout.ms and the uncommitted rest is redelivered
     * (at-least-once). */
    rd_kafka_queue_t *q = rd_kafka_queue_new(c->rk);
    rd_kafka_error_t *error = rd_kafka_consumer_close_queue(c->rk, q);
    if (error != NULL) {
        log_warn("kafka consumer: close: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else {
        uint64_t deadline = uv_hrtime() / 1000000 + KAFKA_CONSUMER_CLOSE_MS;
        while (!rd_kafka_consumer_closed(c->rk) && uv_hrtime() / 1000000 < deadline)
            rd_kafka_queue_poll_callback(q, 100);
        if (!rd_kafka_consumer_closed(c->rk))
            log_warn("kafka consumer: group not left within %d ms; giving up",
                     KAFKA_CONSUMER_CLOSE_MS);
    }
    rd_kafka_queue_destroy(q);
    kafka_consumer_release(c);
}
