/* kafka_props.c - [kafka] property.<name> lines handed to librdkafka (see kafka_loop.h).
 *
 * Whether a property touches one the adapter owns is found by effect, not by name: it is first
 * set on a copy of the adapter's configuration (every owned property already set), and each
 * owned property is compared between the copy and the original. So an alias
 * (request.required.acks for acks, metadata.broker.list for bootstrap.servers) or a synonym of
 * a value (latest for largest) is judged as well as the name itself, and repeating the
 * adapter's own value is harmless. */
#define _GNU_SOURCE /* strcasestr */
#include "kafka_loop.h"

#include "herald_err.h"

#include <stdio.h>
#include <string.h>

/* Owned by every handle: what [kafka] brokers sets, and what the loop's serving relies on
 * (callbacks, not the event API; log lines from librdkafka's threads, not from a queue). */
static const kafka_owned_t kafka_props_owned_common[] = {
    {"bootstrap.servers", "set it with [kafka] brokers"},
    {"enabled_events", "herald serves librdkafka's callbacks, not its event API"},
    {"log.queue", "herald takes librdkafka's log lines on librdkafka's threads"},
    {NULL, NULL},
};

int kafka_props_secret(const char *name)
{
    return strcasestr(name, "password") != NULL || strcasestr(name, "secret") != NULL ||
           strcasestr(name, "key") != NULL;
}

/* The value of name in conf as text. A topic property (acks, auto.offset.reset) lives in the
 * conf's default topic configuration, made by the first topic property set; before that it
 * reads as librdkafka's default. */
static void kafka_props_get(rd_kafka_conf_t *conf, const char *name, char *buf, size_t cap)
{
    rd_kafka_topic_conf_t *tconf = rd_kafka_conf_get_default_topic_conf(conf), *fresh = NULL;
    size_t n = cap;

    if (rd_kafka_conf_get(conf, name, buf, &n) == RD_KAFKA_CONF_OK)
        return;
    if (tconf == NULL)
        tconf = fresh = rd_kafka_topic_conf_new();
    n = cap;
    if (rd_kafka_topic_conf_get(tconf, name, buf, &n) != RD_KAFKA_CONF_OK)
        snprintf(buf, cap, "(unset)");
    if (fresh != NULL)
        rd_kafka_topic_conf_destroy(fresh);
}

/* The owned entry whose value `probe` changed from its default in `base`, or NULL. */
static const kafka_owned_t *kafka_props_changed(rd_kafka_conf_t *base, rd_kafka_conf_t *probe,
                                                const kafka_owned_t *owned)
{
    char want[512], got[512];

    for (; owned->name != NULL; owned++) {
        kafka_props_get(base, owned->name, want, sizeof(want));
        kafka_props_get(probe, owned->name, got, sizeof(got));
        if (strcmp(want, got) != 0)
            return owned;
    }
    return NULL;
}

void kafka_props_reason(const char *name, const char *value, const char *why, char *out, size_t cap)
{
    size_t vlen = strlen(value), k = 0;

    out[0] = '\0';
    if (kafka_props_secret(name) || cap < 16)
        return;
    out[k++] = ':';
    out[k++] = ' ';
    while (*why && k + 8 < cap) {
        if (vlen > 0 && strncmp(why, value, vlen) == 0) {
            memcpy(out + k, "(value)", 7);
            k += 7;
            why += vlen;
        } else {
            out[k++] = *why++;
        }
    }
    out[k] = '\0';
}

/* Sets one property on `probe` (a copy of base) and checks it against the owned lists. */
static int kafka_props_check(rd_kafka_conf_t *base, rd_kafka_conf_t *probe, const conf_prop_t *p,
                             const kafka_owned_t *owned, char *err, size_t errlen)
{
    char why[512], reason[512];
    const kafka_owned_t *o;

    switch (rd_kafka_conf_set(probe, p->name, p->value, why, sizeof(why))) {
    case RD_KAFKA_CONF_OK:
        break;
    case RD_KAFKA_CONF_UNKNOWN:
        snprintf(err, errlen, "%s: [kafka] property.%s: unknown librdkafka property", p->origin,
                 p->name);
        return HERALD_ECONF;
    default:
        kafka_props_reason(p->name, p->value, why, reason, sizeof(reason));
        snprintf(err, errlen, "%s: [kafka] property.%s: invalid value%s", p->origin, p->name,
                 reason);
        return HERALD_ECONF;
    }
    o = kafka_props_changed(base, probe, kafka_props_owned_common);
    if (o == NULL)
        o = kafka_props_changed(base, probe, owned);
    if (o != NULL) {
        snprintf(err, errlen, "%s: [kafka] property.%s: herald sets %s itself (%s)", p->origin,
                 p->name, o->name, o->why);
        return HERALD_ECONF;
    }
    return 0;
}

int kafka_loop_conf_props(rd_kafka_conf_t *conf, const conf_props_t *props,
                          const kafka_owned_t *owned, char *err, size_t errlen)
{
    int rc = 0;

    for (size_t i = 0; props != NULL && i < props->n && rc == 0; i++) {
        const conf_prop_t *p = &props->v[i];
        rd_kafka_conf_t *probe = rd_kafka_conf_dup(conf);
        char why[512];

        rc = kafka_props_check(conf, probe, p, owned, err, errlen);
        rd_kafka_conf_destroy(probe);
        if (rc == 0 && rd_kafka_conf_set(conf, p->name, p->value, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "%s: [kafka] property.%s: refused", p->origin, p->name);
            rc = HERALD_ECONF;
        }
    }
    return rc;
}
