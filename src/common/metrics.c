/* metrics.c - see metrics.h. */
#include "metrics.h"

#include "herald_assert.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <uv.h>

const double metrics_bucket_bounds[METRICS_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

/* The bounds in nanoseconds, so that an observation is compared without floating point. */
static const uint64_t bound_ns[METRICS_BUCKETS] = {
    100000,   250000,    500000,    1000000,   2500000,    5000000,    10000000,   25000000,
    50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};

void metrics_hist_observe_ns(metrics_hist_t *h, uint64_t ns)
{
    size_t i = 0;
    while (i < METRICS_BUCKETS && ns > bound_ns[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

void metrics_hist_observe_since(metrics_hist_t *h, uint64_t start_ns)
{
    if (start_ns == 0)
        return;
    uint64_t now = uv_hrtime();
    metrics_hist_observe_ns(h, now > start_ns ? now - start_ns : 0);
}

void metrics_hist_merge(metrics_hist_t *dst, const metrics_hist_t *src)
{
    for (size_t i = 0; i <= METRICS_BUCKETS; i++)
        atomic_fetch_add_explicit(&dst->counts[i],
                                  atomic_load_explicit(&src->counts[i], memory_order_relaxed),
                                  memory_order_relaxed);
    atomic_fetch_add_explicit(&dst->sum_ns,
                              atomic_load_explicit(&src->sum_ns, memory_order_relaxed),
                              memory_order_relaxed);
}

uint64_t metrics_hist_count(const metrics_hist_t *h)
{
    uint64_t n = 0;
    for (size_t i = 0; i <= METRICS_BUCKETS; i++)
        n += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
    return n;
}

uint64_t metrics_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ------------------------------------------------------------------------------- writing */

static int name_ok(const char *name)
{
    if (name == NULL || *name == '\0' || (*name >= '0' && *name <= '9'))
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == ':'))
            return 0;
    return 1;
}

static void put(buf_t *out, const char *s)
{
    buf_append(out, s, strlen(s));
}

/* Backslash and newline always; the double quote too inside a label value (0.0.4 format). */
static void put_escaped(buf_t *out, const char *s, int quote)
{
    for (const char *p = s; *p; p++) {
        if (*p == '\\')
            put(out, "\\\\");
        else if (*p == '\n')
            put(out, "\\n");
        else if (*p == '"' && quote)
            put(out, "\\\"");
        else
            buf_append(out, p, 1);
    }
}

static void put_value(buf_t *out, double v)
{
    char num[40];
    snprintf(num, sizeof num, " %.17g\n", v);
    put(out, num);
}

/* {a="x",b="y"} with an optional extra le label; nothing when there are none. */
static void put_labels(buf_t *out, const metrics_label_t *labels, size_t n, const char *le)
{
    if (n == 0 && le == NULL)
        return;
    put(out, "{");
    for (size_t i = 0; i < n; i++) {
        HERALD_ASSERT(name_ok(labels[i].name));
        if (i > 0)
            put(out, ",");
        put(out, labels[i].name);
        put(out, "=\"");
        put_escaped(out, labels[i].value ? labels[i].value : "", 1);
        put(out, "\"");
    }
    if (le != NULL) {
        put(out, n > 0 ? ",le=\"" : "le=\"");
        put(out, le);
        put(out, "\"");
    }
    put(out, "}");
}

void metrics_family(buf_t *out, const char *name, metrics_type_t type, const char *help)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    HERALD_ASSERT(name_ok(name));
    put(out, "# HELP ");
    put(out, name);
    put(out, " ");
    put_escaped(out, help, 0);
    put(out, "\n# TYPE ");
    put(out, name);
    put(out, " ");
    put(out, types[type]);
    put(out, "\n");
}

void metrics_sample(buf_t *out, const char *name, const metrics_label_t *labels, size_t nlabels,
                    double value)
{
    HERALD_ASSERT(name_ok(name));
    put(out, name);
    put_labels(out, labels, nlabels, NULL);
    put_value(out, value);
}

static void put_suffixed(buf_t *out, const char *name, const char *suffix)
{
    put(out, name);
    put(out, suffix);
}

void metrics_hist(buf_t *out, const char *name, const metrics_label_t *labels, size_t nlabels,
                  const metrics_hist_t *h)
{
    HERALD_ASSERT(name_ok(name));
    uint64_t counts[METRICS_BUCKETS + 1];
    for (size_t i = 0; i <= METRICS_BUCKETS; i++)
        counts[i] = atomic_load_explicit(&h->counts[i], memory_order_relaxed);
    uint64_t sum_ns = atomic_load_explicit(&h->sum_ns, memory_order_relaxed);

    uint64_t cumulative = 0;
    char le[32];
    for (size_t i = 0; i <= METRICS_BUCKETS; i++) {
        cumulative += counts[i];
        if (i < METRICS_BUCKETS)
            snprintf(le, sizeof le, "%g", metrics_bucket_bounds[i]);
        else
            snprintf(le, sizeof le, "+Inf");
        put_suffixed(out, name, "_bucket");
        put_labels(out, labels, nlabels, le);
        put_value(out, (double)cumulative);
    }
    put_suffixed(out, name, "_sum");
    put_labels(out, labels, nlabels, NULL);
    char num[48];
    snprintf(num, sizeof num, " %" PRIu64 ".%09" PRIu64 "\n", sum_ns / 1000000000u,
             sum_ns % 1000000000u);
    put(out, num);
    put_suffixed(out, name, "_count");
    put_labels(out, labels, nlabels, NULL);
    put_value(out, (double)cumulative);
}

void metrics_counter(buf_t *out, const char *name, const char *help, uint64_t value)
{
    metrics_family(out, name, METRICS_COUNTER, help);
    metrics_sample(out, name, NULL, 0, (double)value);
}

void metrics_gauge(buf_t *out, const char *name, const char *help, double value)
{
    metrics_family(out, name, METRICS_GAUGE, help);
    metrics_sample(out, name, NULL, 0, value);
}

void metrics_rows(buf_t *out, const metrics_row_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        metrics_family(out, rows[i].name, rows[i].type, rows[i].help);
        metrics_sample(out, rows[i].name, NULL, 0, rows[i].value);
    }
}
