/* metrics.h - the Prometheus text exposition (format 0.0.4) that every daemon's GET /metrics
 * writes when asked for it (admin.h), and the fixed-bucket latency histogram the daemons fill.
 *
 * Writing: a family is announced once with metrics_family (# HELP and # TYPE), then each of its
 * series follows with metrics_sample (counters, gauges) or metrics_hist (a histogram's _bucket
 * lines, cumulative, with le="+Inf" last, then _sum and _count). Label values and help text are
 * escaped here (backslash, double quote, newline); metric and label names are the caller's
 * constants and must already match [a-zA-Z_:][a-zA-Z0-9_:]* (checked with herald_assert).
 * Names follow Prometheus conventions: herald_<daemon>_<what>_<unit>, counters end in _total,
 * times are seconds, sizes bytes (docs/operations.md lists every one).
 *
 * Histogram: METRICS_BUCKETS upper bounds in seconds, the same for every histogram so that
 * dashboards can compare them (100 us to 10 s). Observations are lock-free relaxed atomic adds,
 * safe from any number of threads at once (comet's workers share nothing else); a reader on
 * another thread sees a recent state, and _count always equals the +Inf bucket because both are
 * computed from the same read of the buckets. Zero-initialised storage is an empty histogram.
 */
#ifndef HERALD_METRICS_H
#define HERALD_METRICS_H

#include "buf.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_BUCKETS 16

/* The upper bounds (le), in seconds, ascending. */
extern const double metrics_bucket_bounds[METRICS_BUCKETS];

typedef struct metrics_hist_s {
    _Atomic uint64_t counts[METRICS_BUCKETS + 1]; /* per bucket, not cumulative; last: > 10 s */
    _Atomic uint64_t sum_ns;
} metrics_hist_t;

/* Records one observation of ns nanoseconds. Any thread. */
void metrics_hist_observe_ns(metrics_hist_t *h, uint64_t ns);

/* Records the time from start_ns (uv_hrtime()) to now; nothing when start_ns is 0. */
void metrics_hist_observe_since(metrics_hist_t *h, uint64_t start_ns);

/* Adds src's observations into dst (summing per-thread histograms before writing). */
void metrics_hist_merge(metrics_hist_t *dst, const metrics_hist_t *src);

/* Observations so far. */
uint64_t metrics_hist_count(const metrics_hist_t *h);

/* Microseconds of the wall clock (unix epoch): the time stamp a push carries from logic to the
 * comet (Proto.accepted_us), comparable between processes as far as their clocks agree. */
uint64_t metrics_wall_us(void);

typedef enum {
    METRICS_COUNTER,
    METRICS_GAUGE,
    METRICS_HISTOGRAM,
} metrics_type_t;

typedef struct metrics_label_s {
    const char *name;  /* a constant label name */
    const char *value; /* any bytes up to NUL: escaped */
} metrics_label_t;

/* # HELP name help (escaped) and # TYPE name counter|gauge|histogram. */
void metrics_family(buf_t *out, const char *name, metrics_type_t type, const char *help);

/* One sample line: name{labels} value. labels may be NULL when nlabels is 0. */
void metrics_sample(buf_t *out, const char *name, const metrics_label_t *labels, size_t nlabels,
                    double value);

/* The series of one histogram of the family `name` (announced with METRICS_HISTOGRAM):
 * name_bucket{labels,le="..."} cumulative counts, le="+Inf", name_sum (seconds), name_count. */
void metrics_hist(buf_t *out, const char *name, const metrics_label_t *labels, size_t nlabels,
                  const metrics_hist_t *h);

/* A family with one unlabelled sample: the common case of a daemon-wide counter or gauge. */
void metrics_counter(buf_t *out, const char *name, const char *help, uint64_t value);
void metrics_gauge(buf_t *out, const char *name, const char *help, double value);

/* A daemon's table of single-sample families, written in order by metrics_rows. */
typedef struct metrics_row_s {
    const char *name;
    metrics_type_t type; /* METRICS_COUNTER or METRICS_GAUGE */
    double value;
    const char *help;
} metrics_row_t;

/* A counter row: name is a string literal without the _total the macro appends. */
#define METRICS_COUNTER_ROW(name, value, help)                                                     \
    {                                                                                              \
        name "_total", METRICS_COUNTER, (double)(value), help                                      \
    }

void metrics_rows(buf_t *out, const metrics_row_t *rows, size_t n);

/* The Content-Type of the exposition. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
