/* bench_stats.c - histogram, counters, JSON output and the timestamped body. */
#include "bench.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

static unsigned hist_index(uint64_t v)
{
    if (v < 64)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= 6 */
    unsigned shift = msb - BENCH_HIST_SUB_BITS;
    return 64u + (msb - 6u) * 32u + (unsigned)((v >> shift) - 32u);
}

/* Lowest value of bucket i, and its width. */
static uint64_t hist_low(unsigned i, uint64_t *width)
{
    if (i < 64) {
        *width = 1;
        return i;
    }
    unsigned msb = (i - 64u) / 32u + 6u;
    unsigned sub = (i - 64u) % 32u;
    unsigned shift = msb - BENCH_HIST_SUB_BITS;
    *width = (uint64_t)1 << shift;
    return ((uint64_t)(32u + sub)) << shift;
}

void bench_hist_add(bench_hist_t *h, uint64_t v)
{
    h->n[hist_index(v)]++;
    h->count++;
    h->sum += (double)v;
    if (v > h->max)
        h->max = v;
}

void bench_hist_merge(bench_hist_t *into, const bench_hist_t *from)
{
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
        into->n[i] += from->n[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->max > into->max)
        into->max = from->max;
}

uint64_t bench_hist_quantile(const bench_hist_t *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if (rank >= h->count)
        rank = h->count - 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->n[i];
        if (seen > rank) {
            uint64_t w, low = hist_low(i, &w);
            uint64_t mid = low + w / 2;
            return mid > h->max ? h->max : mid;
        }
    }
    return h->max;
}

void bench_hist_print_json(const bench_hist_t *h, FILE *out)
{
    fprintf(out,
            "{\"count\":%" PRIu64 ",\"mean_us\":%.1f,\"p50_us\":%" PRIu64 ",\"p99_us\":%" PRIu64
            ",\"p999_us\":%" PRIu64 ",\"max_us\":%" PRIu64 ",\"buckets\":[",
            h->count, h->count ? h->sum / (double)h->count : 0.0, bench_hist_quantile(h, 0.5),
            bench_hist_quantile(h, 0.99), bench_hist_quantile(h, 0.999), h->max);
    int first = 1;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        if (h->n[i] == 0)
            continue;
        uint64_t w, low = hist_low(i, &w);
        fprintf(out, "%s[%" PRIu64 ",%" PRIu64 "]", first ? "" : ",", low, h->n[i]);
        first = 0;
    }
    fputs("]}", out);
}

static double min_set(double a, double b)
{
    if (a == 0)
        return b;
    if (b == 0)
        return a;
    return a < b ? a : b;
}

static double max_d(double a, double b)
{
    return a > b ? a : b;
}

void bench_stats_merge(bench_stats_t *into, const bench_stats_t *from)
{
    into->target += from->target;
    into->connected += from->connected;
    into->ready += from->ready;
    into->failed += from->failed;
    into->closed += from->closed;
    into->kicked += from->kicked;
    into->packets += from->packets;
    into->deliveries += from->deliveries;
    into->batches += from->batches;
    into->hb_sent += from->hb_sent;
    into->hb_replies += from->hb_replies;
    into->bytes_in += from->bytes_in;
    into->bad_stamps += from->bad_stamps;
    into->tls_resumed += from->tls_resumed;
    into->sent += from->sent;
    into->ok += from->ok;
    into->errors += from->errors;
    into->t_start = min_set(into->t_start, from->t_start);
    /* Ready means every process is ready: the latest of them (the caller checks that all are). */
    into->t_ready = max_d(into->t_ready, from->t_ready);
    into->t_first_delivery = min_set(into->t_first_delivery, from->t_first_delivery);
    into->t_last_delivery = max_d(into->t_last_delivery, from->t_last_delivery);
    into->t_end = max_d(into->t_end, from->t_end);
    bench_hist_merge(&into->lat, &from->lat);
}

static const char *proto_name(bench_proto_t p)
{
    static const char *names[] = {"tcp", "ws", "mqtt", "nchan"};
    return names[p];
}

static const char *kind_name(bench_push_kind_t k)
{
    static const char *names[] = {"room", "mids", "nchan", "mqtt"};
    return names[k];
}

void bench_stats_print_json(const bench_stats_t *s, const bench_opts_t *o, FILE *out)
{
    double setup = s->t_ready > 0 ? s->t_ready - s->t_start : 0;
    double span = s->t_last_delivery - s->t_first_delivery;
    if (!o->mode_push) {
        fprintf(out,
                "{\"mode\":\"conn\",\"proto\":\"%s\",\"procs\":%d,\"target\":%" PRIu64
                ",\"connected\":%" PRIu64 ",\"ready\":%" PRIu64 ",\"failed\":%" PRIu64
                ",\"closed\":%" PRIu64 ",\"kicked\":%" PRIu64 ",\"packets\":%" PRIu64
                ",\"deliveries\":%" PRIu64 ",\"batches\":%" PRIu64 ",\"hb_sent\":%" PRIu64
                ",\"hb_replies\":%" PRIu64 ",\"bytes_in\":%" PRIu64 ",\"bad_stamps\":%" PRIu64
                ",\"tls\":%s,\"tls_resumed\":%" PRIu64
                ",\"setup_s\":%.3f,\"setup_rate\":%.1f,\"delivery_span_s\":%.3f"
                ",\"deliveries_per_s\":%.1f,\"latency\":",
                proto_name(o->proto), o->procs, s->target, s->connected, s->ready, s->failed,
                s->closed, s->kicked, s->packets, s->deliveries, s->batches, s->hb_sent,
                s->hb_replies, s->bytes_in, s->bad_stamps, o->tls ? "true" : "false",
                s->tls_resumed, setup, setup > 0 ? (double)s->ready / setup : 0.0, span,
                span > 0 ? (double)s->deliveries / span : 0.0);
    } else {
        double run = s->t_end - s->t_ready;
        fprintf(out,
                "{\"mode\":\"push\",\"kind\":\"%s\",\"offered_rate\":%.1f,\"conns\":%u"
                ",\"sent\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"errors\":%" PRIu64
                ",\"run_s\":%.3f,\"sent_per_s\":%.1f,\"ok_per_s\":%.1f,\"latency\":",
                kind_name(o->kind), o->rate, o->conns, s->sent, s->ok, s->errors, run,
                run > 0 ? (double)s->sent / run : 0.0, run > 0 ? (double)s->ok / run : 0.0);
    }
    bench_hist_print_json(&s->lat, out);
    fputs("}\n", out);
    fflush(out);
}

void bench_stats_print_progress(const bench_stats_t *s, const bench_opts_t *o, const char *label,
                                FILE *out)
{
    if (!o->mode_push)
        fprintf(out,
                "%s ready %" PRIu64 "/%" PRIu64 " failed %" PRIu64 " closed %" PRIu64
                " deliveries %" PRIu64 " p99 %.1f ms\n",
                label, s->ready, s->target, s->failed, s->closed, s->deliveries,
                (double)bench_hist_quantile(&s->lat, 0.99) / 1000.0);
    else
        fprintf(out, "%s sent %" PRIu64 " ok %" PRIu64 " errors %" PRIu64 " p99 %.1f ms\n", label,
                s->sent, s->ok, s->errors, (double)bench_hist_quantile(&s->lat, 0.99) / 1000.0);
    fflush(out);
}

uint64_t bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

double bench_now_s(void)
{
    return (double)bench_now_us() / 1e6;
}

void bench_body_fill(uint8_t *out, size_t size)
{
    char stamp[32];
    int n = snprintf(stamp, sizeof(stamp), "%" PRIu64, bench_now_us());
    memset(out, ' ', size);
    memcpy(out, stamp, (size_t)n < size ? (size_t)n : size);
}

int bench_body_stamp(const uint8_t *body, size_t len, uint64_t *us)
{
    uint64_t v = 0;
    size_t i = 0;
    while (i < len && i < 20 && body[i] >= '0' && body[i] <= '9')
        v = v * 10 + (uint64_t)(body[i++] - '0');
    /* A stamp in µs since 1970 has 16 digits until the year 2286. */
    if (i < 16)
        return -1;
    *us = v;
    return 0;
}
