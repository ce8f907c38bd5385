/* bench_rpc.c - `herald-bench rpc`: the internal RPC in one process, in clear or over mutual TLS
 * ([rpc] tls_*), to measure what TLS between daemons costs (docs/security.md "TLS between
 * daemons"). A server and a client on 127.0.0.1 share one loop (one core does both ends):
 *   connects  K times: a new client until it is connected (TCP, the TLS handshake with
 *             certificates both ways, the cluster-secret handshake); wall time per connect
 *   calls     N calls of B request bytes (GetReq mids) with D in flight, answered with an empty
 *             GetReply: calls/s and process CPU microseconds per call (getrusage)
 * One JSON line on stdout. */
#include "bench.h"

#include "herald.pb-c.h"
#include "log.h"
#include "rpc.h"
#include "rpc_methods.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

typedef struct rpc_bench_s {
    uv_loop_t loop;
    rpc_client_t *client;
    Herald__GetReq req;
    uint64_t calls, sent, done, failed;
    uint32_t depth;
} rpc_bench_t;

static void on_get(rpc_call_t *call, const ProtobufCMessage *msg, void *arg)
{
    Herald__GetReply reply = HERALD__GET_REPLY__INIT;
    (void)msg, (void)arg;
    rpc_reply(call, (const ProtobufCMessage *)&reply);
}

static const rpc_method_t methods[] = {
    {RPC_ROUTER_GET, &herald__get_req__descriptor, on_get},
};

static void on_reply(int status, const ProtobufCMessage *msg, void *arg);

/* Keeps depth calls in flight until calls were sent. */
static void fill(rpc_bench_t *b)
{
    while (b->sent < b->calls && b->sent - b->done < b->depth) {
        if (rpc_client_call(b->client, RPC_ROUTER_GET, (const ProtobufCMessage *)&b->req,
                            &herald__get_reply__descriptor, 10000, on_reply, b) != 0)
            return;
        b->sent++;
    }
}

static void on_reply(int status, const ProtobufCMessage *msg, void *arg)
{
    rpc_bench_t *b = arg;
    (void)msg;
    b->done++;
    b->failed += status != 0;
    fill(b);
}

static double cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* Runs the loop until the client is connected or 5 s pass. */
static int wait_connected(rpc_bench_t *b, rpc_client_t *c)
{
    uint64_t t0 = bench_now_us();
    while (!rpc_client_connected(c) && bench_now_us() - t0 < 5000000)
        uv_run(&b->loop, UV_RUN_ONCE);
    return rpc_client_connected(c) ? 0 : -1;
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

static void close_client(rpc_bench_t *b, rpc_client_t *c)
{
    int closed = 0;
    rpc_client_close(c, on_closed, &closed);
    while (!closed)
        uv_run(&b->loop, UV_RUN_ONCE);
}

static int configure(const char *tls_dir)
{
    static const char secret[] = "herald-bench-rpc-secret";
    char cert[512], key[512], ca[512], err[512];
    if (rpc_configure(&(rpc_settings_t){.secret = secret, .secret_len = sizeof(secret) - 1}) != 0)
        return -1;
    if (tls_dir == NULL)
        return 0;
    snprintf(cert, sizeof(cert), "%s/peer.pem", tls_dir);
    snprintf(key, sizeof(key), "%s/peer.key", tls_dir);
    snprintf(ca, sizeof(ca), "%s/ca.pem", tls_dir);
    if (rpc_configure_tls(&(rpc_tls_conf_t){.cert = cert, .key = key, .ca = ca}, err,
                          sizeof(err)) != 0) {
        fprintf(stderr, "herald-bench rpc: %s\n", err);
        return -1;
    }
    return 0;
}

int bench_rpc_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"calls", required_argument, NULL, 'n'}, {"depth", required_argument, NULL, 'd'},
        {"size", required_argument, NULL, 's'},  {"connects", required_argument, NULL, 'k'},
        {"tls", required_argument, NULL, 't'},   {NULL, 0, NULL, 0},
    };
    static rpc_bench_t b;
    const char *tls_dir = NULL;
    long calls = 200000, depth = 64, size = 64, connects = 200;
    int opt;

    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == 't')
            tls_dir = optarg;
        else if (opt == 'n' || opt == 'd' || opt == 's' || opt == 'k')
            *(opt == 'n'   ? &calls
              : opt == 'd' ? &depth
              : opt == 's' ? &size
                           : &connects) = strtol(optarg, NULL, 10);
        else
            return 2;
    }
    if (calls < 1 || depth < 1 || size < 0 || size > 1 << 20 || connects < 1) {
        fprintf(stderr, "herald-bench rpc: --calls, --depth, --connects >= 1; --size 0..1m\n");
        return 2;
    }
    log_init("herald-bench", LOG_WARN);
    if (configure(tls_dir) != 0)
        return 1;
    uv_loop_init(&b.loop);
    rpc_server_t *server = rpc_server_new(&b.loop, methods, 1, NULL);
    if (rpc_server_listen(server, "127.0.0.1", 0) != 0)
        return 1;
    int port = rpc_server_port(server);

    /* connects */
    bench_hist_t connect_us;
    memset(&connect_us, 0, sizeof(connect_us));
    double cpu0 = cpu_us();
    for (long i = 0; i < connects; i++) {
        uint64_t t0 = bench_now_us();
        rpc_client_t *c = rpc_client_new(&b.loop, "bench", "127.0.0.1", port);
        if (wait_connected(&b, c) != 0) {
            fprintf(stderr, "herald-bench rpc: connect %ld failed\n", i);
            return 1;
        }
        bench_hist_add(&connect_us, bench_now_us() - t0);
        close_client(&b, c);
    }
    double connect_cpu = (cpu_us() - cpu0) / (double)connects;

    /* calls: GetReq with size/5 mids of 5 varint bytes each (about size bytes packed) */
    size_t n_mids = (size_t)size / 5;
    int64_t *mids = calloc(n_mids + 1, sizeof(*mids));
    for (size_t i = 0; i < n_mids; i++)
        mids[i] = (int64_t)(1u << 30) + (int64_t)i; /* packed: 5 bytes each */
    herald__get_req__init(&b.req);
    b.req.mids = mids;
    b.req.n_mids = n_mids;
    b.calls = (uint64_t)calls;
    b.depth = (uint32_t)depth;
    b.client = rpc_client_new(&b.loop, "bench", "127.0.0.1", port);
    if (wait_connected(&b, b.client) != 0)
        return 1;
    cpu0 = cpu_us();
    uint64_t t0 = bench_now_us();
    fill(&b);
    while (b.done < b.calls)
        uv_run(&b.loop, UV_RUN_ONCE);
    double secs = (double)(bench_now_us() - t0) / 1e6;
    double call_cpu = (cpu_us() - cpu0) / (double)calls;

    printf("{\"record\":\"rpc\",\"tls\":%s,\"connects\":%ld,\"connect_p50_us\":%llu,"
           "\"connect_p99_us\":%llu,\"connect_cpu_us\":%.0f,\"calls\":%ld,\"depth\":%ld,"
           "\"request_bytes\":%zu,\"failed\":%llu,\"seconds\":%.3f,\"calls_per_s\":%.0f,"
           "\"cpu_us_per_call\":%.2f}\n",
           tls_dir ? "true" : "false", connects,
           (unsigned long long)bench_hist_quantile(&connect_us, 0.5),
           (unsigned long long)bench_hist_quantile(&connect_us, 0.99), connect_cpu, calls, depth,
           protobuf_c_message_get_packed_size((const ProtobufCMessage *)&b.req),
           (unsigned long long)b.failed, secs, (double)calls / secs, call_cpu);
    close_client(&b, b.client);
    int closed = 0;
    rpc_server_close(server, on_closed, &closed);
    while (!closed)
        uv_run(&b.loop, UV_RUN_ONCE);
    uv_run(&b.loop, UV_RUN_DEFAULT);
    uv_loop_close(&b.loop);
    free(mids);
    return b.failed == 0 ? 0 : 1;
}
