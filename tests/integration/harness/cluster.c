/* cluster.c - starting, restarting and stopping the daemons of a test cluster. */
#define _GNU_SOURCE /* vasprintf, nftw */
#include "cluster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"

extern char **environ;

#define CLUSTER_PORT_WAIT_MS 10000
#define CLUSTER_READY_WAIT_MS 15000
#define CLUSTER_STOP_GRACE_MS 10000
#define CLUSTER_LOG_TAIL_LINES 60
#define CLUSTER_ARGV_MAX 16

/* One daemon: what it takes to (re)start it, and the process. */
typedef struct cluster_daemon_s {
    cluster_kind_t kind;
    int index;
    char name[32];
    char *argv[CLUSTER_ARGV_MAX]; /* heap strings, NULL-terminated */
    char **envp;                  /* heap, NULL-terminated */
    int ports[6];                 /* ports it must accept on before it counts as started */
    int n_ports;
    char out_path[512];
    char log_path[512];
    bool configured;
    proc_t proc;
} cluster_daemon_t;

struct cluster_s {
    cluster_opts_t opts;
    char dir[256];
    char secret[2 * CLUSTER_SECRET_BYTES + 1]; /* hex; in dir/secret for every daemon */
    int redis_port;
    char kafka_bootstrap[512]; /* as long as the line it is read from */
    char kafka_in_path[512];   /* FIFO: herald-kafka-dev's stdin, for its commands */
    int kafka_in_fd;           /* held open read-write (so kafka-dev never sees its end); -1 */
    int router_rpc[CLUSTER_MAX_ROUTERS], router_admin[CLUSTER_MAX_ROUTERS];
    int logic_http, logic_rpc;
    int comet_tcp[CLUSTER_MAX_COMETS], comet_ws[CLUSTER_MAX_COMETS];
    int comet_rpc[CLUSTER_MAX_COMETS], comet_admin[CLUSTER_MAX_COMETS];
    int comet_tls[CLUSTER_MAX_COMETS], comet_wss[CLUSTER_MAX_COMETS]; /* 0 without TLS */
    int job_admin[CLUSTER_MAX_JOBS];
    cluster_daemon_t redis, kafka, logic;
    cluster_daemon_t jobs[CLUSTER_MAX_JOBS];
    cluster_daemon_t routers[CLUSTER_MAX_ROUTERS];
    cluster_daemon_t comets[CLUSTER_MAX_COMETS];
};

static const char *const cluster_kind_names[CLUSTER_KIND_COUNT] = {
    "redis", "kafka", "router", "logic", "comet", "job",
};

/* ------------------------------------------------------------------ ports */

/* Ports handed out in this process: a port is never given twice in one run, so a daemon that
 * still holds a port of a stopped cluster cannot collide with a new one. */
static int cluster_used_ports[512];
static int cluster_n_used_ports;

static bool cluster_port_used(int port)
{
    for (int i = 0; i < cluster_n_used_ports; i++)
        if (cluster_used_ports[i] == port)
            return true;
    return false;
}

/* Asks the kernel for a free ephemeral port on 127.0.0.1 and releases it. Returns the port or
 * -1. */
static int cluster_port_pick(void)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t sl = sizeof(sa);
        int port = -1;
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
            getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
            port = ntohs(sa.sin_port);
        close(fd);
        if (port > 0 && !cluster_port_used(port) &&
            cluster_n_used_ports < (int)(sizeof(cluster_used_ports) / sizeof(int))) {
            cluster_used_ports[cluster_n_used_ports++] = port;
            return port;
        }
    }
    return -1;
}

static bool cluster_port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* ------------------------------------------------------------------ environment */

static char *cluster_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *cluster_strdup_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) {
        fprintf(stderr, "harness: out of memory\n");
        abort();
    }
    va_end(ap);
    return s;
}

/* Sets "K=V" in a heap NULL-terminated list, replacing an entry with the same key. */
static void cluster_env_put(char ***envp, const char *kv)
{
    const char *eq = strchr(kv, '=');
    size_t klen = eq ? (size_t)(eq - kv) + 1 : strlen(kv);
    size_t n = 0;
    for (char **e = *envp; e && *e; e++, n++) {
        if (strncmp(*e, kv, klen) == 0) {
            free(*e);
            *e = strdup(kv);
            return;
        }
    }
    char **grown = realloc(*envp, (n + 2) * sizeof(char *));
    if (grown == NULL) {
        fprintf(stderr, "harness: out of memory\n");
        abort();
    }
    grown[n] = strdup(kv);
    grown[n + 1] = NULL;
    *envp = grown;
}

static void cluster_env_putf(char ***envp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void cluster_env_putf(char ***envp, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    cluster_env_put(envp, s);
    free(s);
}

/* The inherited environment without HERALD_* (a run must not depend on the caller's shell),
 * the cluster's secret file and, with opts.rpc_tls_pki, the RPC's TLS files. */
static char **cluster_env_base(const cluster_t *c)
{
    char **envp = NULL;
    const char *pki = c->opts.rpc_tls_pki;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "HERALD_", 7) != 0)
            cluster_env_put(&envp, *e);
    cluster_env_put(&envp, "HERALD_LOG_LEVEL=debug");
    cluster_env_putf(&envp, "HERALD_CLUSTER_SECRET_FILE=%s/secret", c->dir);
    if (pki != NULL) {
        cluster_env_putf(&envp, "HERALD_RPC_TLS_CERT=%s/peer.pem", pki);
        cluster_env_putf(&envp, "HERALD_RPC_TLS_KEY=%s/peer.key", pki);
        cluster_env_putf(&envp, "HERALD_RPC_TLS_CA=%s/ca.pem", pki);
    }
    return envp;
}

/* A fresh random secret in dir/secret (mode 0600), as scripts/up.sh makes run/secret. */
static int cluster_make_secret(cluster_t *c)
{
    unsigned char raw[CLUSTER_SECRET_BYTES];
    char path[300];
    FILE *f = fopen("/dev/urandom", "rb");
    int ok = f != NULL && fread(raw, 1, sizeof(raw), f) == sizeof(raw);

    if (f != NULL)
        fclose(f);
    for (size_t i = 0; ok && i < sizeof(raw); i++)
        snprintf(c->secret + 2 * i, 3, "%02x", raw[i]);
    snprintf(path, sizeof(path), "%s/secret", c->dir);
    int fd = ok ? open(path, O_WRONLY | O_CREAT | O_EXCL, 0600) : -1;
    ok = fd >= 0 && write(fd, c->secret, strlen(c->secret)) == (ssize_t)strlen(c->secret);
    if (fd >= 0)
        close(fd);
    if (!ok)
        fprintf(stderr, "harness: cannot write %s: %s\n", path, strerror(errno));
    return ok ? 0 : -1;
}

static void cluster_env_free(char **envp)
{
    for (char **e = envp; e && *e; e++)
        free(*e);
    free(envp);
}

/* ------------------------------------------------------------------ daemons */

static cluster_daemon_t *cluster_daemon(cluster_t *c, cluster_kind_t kind, int index)
{
    switch (kind) {
    case CLUSTER_REDIS:
        return index == 0 ? &c->redis : NULL;
    case CLUSTER_KAFKA:
        return index == 0 ? &c->kafka : NULL;
    case CLUSTER_LOGIC:
        return index == 0 ? &c->logic : NULL;
    case CLUSTER_JOB:
        return index >= 0 && index < c->opts.n_jobs ? &c->jobs[index] : NULL;
    case CLUSTER_ROUTER:
        return index >= 0 && index < c->opts.n_routers ? &c->routers[index] : NULL;
    case CLUSTER_COMET:
        return index >= 0 && index < c->opts.n_comets ? &c->comets[index] : NULL;
    default:
        return NULL;
    }
}

/* Every configured daemon in shutdown order: the ones that call others stop first. */
static int cluster_daemons(cluster_t *c, cluster_daemon_t **out)
{
    int n = 0;
    for (int i = 0; i < c->opts.n_jobs; i++)
        out[n++] = &c->jobs[i];
    for (int i = 0; i < c->opts.n_comets; i++)
        out[n++] = &c->comets[i];
    out[n++] = &c->logic;
    for (int i = 0; i < c->opts.n_routers; i++)
        out[n++] = &c->routers[i];
    out[n++] = &c->kafka;
    out[n++] = &c->redis;
    return n;
}

static void cluster_daemon_config(cluster_t *c, cluster_daemon_t *d, cluster_kind_t kind, int index,
                                  const char *binary)
{
    d->kind = kind;
    d->index = index;
    if (kind == CLUSTER_ROUTER || kind == CLUSTER_COMET ||
        (kind == CLUSTER_JOB && c->opts.n_jobs > 1))
        snprintf(d->name, sizeof(d->name), "%s-%d", cluster_kind_names[kind], index);
    else
        snprintf(d->name, sizeof(d->name), "%s", cluster_kind_names[kind]);
    d->argv[0] = strdup(binary);
    d->envp = cluster_env_base(c);
    snprintf(d->log_path, sizeof(d->log_path), "%s/%s.log", c->dir, d->name);
    snprintf(d->out_path, sizeof(d->out_path), "%s", d->log_path);
    d->configured = true;
}

static void cluster_daemon_arg(cluster_daemon_t *d, const char *arg)
{
    for (int i = 0; i < CLUSTER_ARGV_MAX - 1; i++) {
        if (d->argv[i] == NULL) {
            d->argv[i] = strdup(arg);
            return;
        }
    }
    fprintf(stderr, "harness: too many arguments for %s\n", d->name);
    abort();
}

/* Removes variable `key` (no '=') from the list. */
static void cluster_env_unset(char **envp, const char *key)
{
    size_t klen = strlen(key);
    for (char **e = envp; e && *e; e++) {
        if (strncmp(*e, key, klen) != 0 || (*e)[klen] != '=')
            continue;
        free(*e);
        do
            e[0] = e[1];
        while (*++e != NULL);
        return;
    }
}

static void cluster_daemon_extra_env(cluster_t *c, cluster_daemon_t *d)
{
    const char *const *extra = c->opts.env[d->kind];
    for (; extra && *extra; extra++) {
        if (strchr(*extra, '=') == NULL)
            cluster_env_unset(d->envp, *extra);
        else
            cluster_env_put(&d->envp, *extra);
    }
}

static void cluster_daemon_free(cluster_daemon_t *d)
{
    if (!d->configured)
        return;
    for (int i = 0; i < CLUSTER_ARGV_MAX; i++)
        free(d->argv[i]);
    cluster_env_free(d->envp);
    d->configured = false;
}

/* Finds an executable in PATH. Returns a heap string or NULL. */
static char *cluster_which(const char *name)
{
    const char *path = getenv("PATH");
    if (path == NULL)
        path = "/usr/local/bin:/usr/bin:/bin";
    char *copy = strdup(path), *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char *full = cluster_strdup_printf("%s/%s", dir, name);
        if (access(full, X_OK) == 0) {
            free(copy);
            return full;
        }
        free(full);
    }
    free(copy);
    return NULL;
}

static int cluster_daemon_spawn(cluster_t *c, cluster_daemon_t *d)
{
    const char *in = d->kind == CLUSTER_KAFKA ? c->kafka_in_path : "/dev/null";
    int rc =
        proc_start_in(&d->proc, d->name, d->argv, d->envp, c->dir, in, d->out_path, d->log_path);
    if (rc != 0)
        fprintf(stderr, "harness: cannot start %s: %s\n", d->name, strerror(-rc));
    return rc;
}

/* Waits until every port of d accepts a connection; fails early when d exits. */
static int cluster_daemon_wait_ports(cluster_daemon_t *d)
{
    for (int i = 0; i < d->n_ports; i++) {
        long long deadline = proc_now_ms() + CLUSTER_PORT_WAIT_MS;
        while (!cluster_port_accepts(d->ports[i])) {
            char st[64];
            if (proc_poll(&d->proc)) {
                fprintf(stderr, "harness: %s exited (%s) before listening on %d\n", d->name,
                        proc_status_str(&d->proc, st, sizeof(st)), d->ports[i]);
                return -1;
            }
            if (proc_now_ms() >= deadline) {
                fprintf(stderr, "harness: %s does not accept on port %d after %d ms\n", d->name,
                        d->ports[i], CLUSTER_PORT_WAIT_MS);
                return -1;
            }
            proc_sleep_ms(20);
        }
    }
    return 0;
}

/* Reads the "bootstrap=<brokers>" line herald-kafka-dev prints on stdout. */
static int cluster_kafka_wait_bootstrap(cluster_t *c)
{
    long long deadline = proc_now_ms() + CLUSTER_PORT_WAIT_MS;
    for (;;) {
        FILE *f = fopen(c->kafka.out_path, "r");
        char line[512];
        while (f && fgets(line, sizeof(line), f) != NULL) {
            size_t l = strlen(line);
            if (strncmp(line, "bootstrap=", 10) == 0 && l > 11 && line[l - 1] == '\n') {
                line[l - 1] = '\0';
                snprintf(c->kafka_bootstrap, sizeof(c->kafka_bootstrap), "%s", line + 10);
                fclose(f);
                return 0;
            }
        }
        if (f)
            fclose(f);
        char st[64];
        if (proc_poll(&c->kafka.proc)) {
            fprintf(stderr, "harness: herald-kafka-dev exited (%s) without a bootstrap line\n",
                    proc_status_str(&c->kafka.proc, st, sizeof(st)));
            return -1;
        }
        if (proc_now_ms() >= deadline) {
            fprintf(stderr, "harness: no bootstrap= line from herald-kafka-dev in %d ms\n",
                    CLUSTER_PORT_WAIT_MS);
            return -1;
        }
        proc_sleep_ms(20);
    }
}

/* How many comets logic lists in GET /goim/nodes/instances (data is the list, or an object
 * holding it under "instances"). -1 when logic does not answer. */
static int cluster_logic_instances(cluster_t *c)
{
    json_t *j = NULL;
    int st = cluster_http(c, "GET", "/goim/nodes/instances", NULL, &j);
    int n = -1;
    if (st == 200 && j) {
        json_t *data = json_object_get(j, "data");
        if (json_is_object(data))
            data = json_object_get(data, "instances");
        if (json_is_array(data))
            n = (int)json_array_size(data);
    }
    json_decref(j);
    return n;
}

static int cluster_running_comets(cluster_t *c)
{
    int n = 0;
    for (int i = 0; i < c->opts.n_comets; i++)
        if (c->comets[i].proc.pid > 0 && !proc_poll(&c->comets[i].proc))
            n++;
    return n;
}

/* True when job `index` is not running or its /metrics "comets" and "comets_connected" (RPC
 * connection up) are both `n`; the figures it read go to *job_n and *job_connected. */
static bool cluster_job_sees(cluster_t *c, int index, int n, long long *job_n,
                             long long *job_connected, bool *has_metric)
{
    if (c->jobs[index].proc.pid <= 0 || proc_poll(&c->jobs[index].proc))
        return true;
    *has_metric =
        cluster_metric(c->job_admin[index], "/metrics", "comets", job_n) &&
        cluster_metric(c->job_admin[index], "/metrics", "comets_connected", job_connected);
    return *has_metric && *job_n == n && *job_connected == n;
}

/* Waits until logic lists `n` comets and every running job sees them (cluster_job_sees). */
static int cluster_wait_comets(cluster_t *c, int n, bool need_logic, bool need_job)
{
    long long deadline = proc_now_ms() + CLUSTER_READY_WAIT_MS;
    int logic_n = -1;
    long long job_n = -1, job_connected = -1;
    bool job_has_metric = true;
    for (;;) {
        if (need_logic)
            logic_n = cluster_logic_instances(c);
        bool logic_ok = !need_logic || logic_n == n;
        bool job_ok = true;
        for (int i = 0; need_job && job_ok && i < c->opts.n_jobs; i++)
            job_ok = cluster_job_sees(c, i, n, &job_n, &job_connected, &job_has_metric);
        if (logic_ok && job_ok)
            return 0;
        if (proc_now_ms() >= deadline) {
            fprintf(stderr,
                    "harness: comets not seen within %d ms: want %d, logic instances %d, "
                    "job comets %lld, comets_connected %lld%s\n",
                    CLUSTER_READY_WAIT_MS, n, logic_n, job_n, job_connected,
                    job_has_metric ? "" : " (job /metrics lacks them)");
            return -1;
        }
        proc_sleep_ms(100);
    }
}

static void cluster_print_logs(cluster_t *c)
{
    cluster_daemon_t *all[CLUSTER_MAX_COMETS + CLUSTER_MAX_ROUTERS + CLUSTER_MAX_JOBS + 3];
    int n = cluster_daemons(c, all);
    for (int i = n - 1; i >= 0; i--) {
        char st[64], title[96];
        if (!all[i]->configured)
            continue;
        snprintf(title, sizeof(title), "%s [%s]", all[i]->name,
                 proc_status_str(&all[i]->proc, st, sizeof(st)));
        proc_print_tail(title, all[i]->log_path, CLUSTER_LOG_TAIL_LINES);
    }
}

static int cluster_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* comet `index`'s TLS listeners (opts.comet_tls_pki), with that PKI's server certificate (SAN
 * localhost and 127.0.0.1) sent with its CA as the chain. */
static void cluster_comet_tls_env(cluster_t *c, cluster_daemon_t *d, int index)
{
    const char *pki = c->opts.comet_tls_pki;
    cluster_env_putf(&d->envp, "HERALD_TLS_LISTEN=127.0.0.1:%d", c->comet_tls[index]);
    cluster_env_putf(&d->envp, "HERALD_TLS_WSS_LISTEN=127.0.0.1:%d", c->comet_wss[index]);
    cluster_env_putf(&d->envp, "HERALD_TLS_CERT=%s/server.chain.pem", pki);
    cluster_env_putf(&d->envp, "HERALD_TLS_KEY=%s/server.key", pki);
    d->ports[d->n_ports++] = c->comet_tls[index];
    d->ports[d->n_ports++] = c->comet_wss[index];
}

/* The one redis-server of the cluster (unless opts.redis_cluster_seeds). */
static int cluster_configure_redis(cluster_t *c)
{
    char *redis_bin = cluster_which("redis-server");
    if (redis_bin == NULL) {
        fprintf(stderr, "harness: redis-server not found in PATH\n");
        return -1;
    }
    cluster_daemon_t *d = &c->redis;
    cluster_daemon_config(c, d, CLUSTER_REDIS, 0, redis_bin);
    free(redis_bin);
    char buf[64];
    snprintf(buf, sizeof(buf), "%d", c->redis_port);
    const char *redis_args[] = {"--port",       buf,  "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir",  c->dir,      NULL};
    for (const char **a = redis_args; *a; a++)
        cluster_daemon_arg(d, *a);
    d->ports[d->n_ports++] = c->redis_port;
    cluster_daemon_extra_env(c, d);
    return 0;
}

/* Where a daemon finds Redis: the harness's redis-server, or the Redis Cluster's seeds. */
static void cluster_redis_env(cluster_t *c, cluster_daemon_t *d)
{
    if (c->opts.redis_cluster_seeds != NULL) {
        cluster_env_put(&d->envp, "HERALD_REDIS_CLUSTER=on");
        cluster_env_putf(&d->envp, "HERALD_REDIS_ADDR=%s", c->opts.redis_cluster_seeds);
    } else {
        cluster_env_putf(&d->envp, "HERALD_REDIS_ADDR=127.0.0.1:%d", c->redis_port);
    }
}

/* Configures every daemon (ports, argv, environment) without starting any. */
static int cluster_configure(cluster_t *c)
{
    const cluster_opts_t *o = &c->opts;
    c->redis_port = cluster_port_pick();
    c->logic_http = cluster_port_pick();
    c->logic_rpc = cluster_port_pick();
    for (int i = 0; i < o->n_jobs; i++)
        if ((c->job_admin[i] = cluster_port_pick()) < 0)
            return -1;
    for (int i = 0; i < o->n_routers; i++) {
        c->router_rpc[i] = cluster_port_pick();
        c->router_admin[i] = cluster_port_pick();
    }
    for (int i = 0; i < o->n_comets; i++) {
        c->comet_tcp[i] = cluster_port_pick();
        c->comet_ws[i] = cluster_port_pick();
        c->comet_rpc[i] = cluster_port_pick();
        c->comet_admin[i] = cluster_port_pick();
        if (o->comet_tls_pki != NULL) {
            c->comet_tls[i] = cluster_port_pick();
            c->comet_wss[i] = cluster_port_pick();
        }
        if (c->comet_tcp[i] < 0 || c->comet_ws[i] < 0 || c->comet_rpc[i] < 0 ||
            c->comet_admin[i] < 0 || c->comet_tls[i] < 0 || c->comet_wss[i] < 0)
            return -1;
    }
    if (c->redis_port < 0 || c->logic_http < 0 || c->logic_rpc < 0)
        return -1;
    for (int i = 0; i < o->n_routers; i++)
        if (c->router_rpc[i] < 0 || c->router_admin[i] < 0)
            return -1;

    cluster_daemon_t *d;
    if (o->redis_cluster_seeds == NULL && cluster_configure_redis(c) != 0)
        return -1;

    d = &c->kafka;
    cluster_daemon_config(c, d, CLUSTER_KAFKA, 0, HERALD_BIN_DIR "/herald-kafka-dev");
    snprintf(d->out_path, sizeof(d->out_path), "%s/kafka.out", c->dir);
    snprintf(c->kafka_in_path, sizeof(c->kafka_in_path), "%s/kafka.in", c->dir);
    if (mkfifo(c->kafka_in_path, 0600) != 0 ||
        (c->kafka_in_fd = open(c->kafka_in_path, O_RDWR | O_CLOEXEC)) < 0) {
        fprintf(stderr, "harness: %s: %s\n", c->kafka_in_path, strerror(errno));
        return -1;
    }
    cluster_daemon_arg(d, "-p");
    cluster_daemon_arg(d, "4");
    cluster_daemon_arg(d, "-t");
    cluster_daemon_arg(d, "herald-push,herald-events");
    cluster_daemon_extra_env(c, d);

    char routers[256] = "";
    for (int i = 0; i < o->n_routers; i++) {
        d = &c->routers[i];
        cluster_daemon_config(c, d, CLUSTER_ROUTER, i, HERALD_BIN_DIR "/herald-router");
        cluster_env_putf(&d->envp, "HERALD_RPC_LISTEN=127.0.0.1:%d", c->router_rpc[i]);
        cluster_env_putf(&d->envp, "HERALD_ADMIN_LISTEN=127.0.0.1:%d", c->router_admin[i]);
        /* Every router registers (router_entry.h); logic lists the first ones statically. */
        cluster_env_putf(&d->envp, "HERALD_REGISTRY_ADVERTISE=127.0.0.1:%d", c->router_rpc[i]);
        cluster_redis_env(c, d);
        d->ports[d->n_ports++] = c->router_rpc[i];
        d->ports[d->n_ports++] = c->router_admin[i];
        cluster_daemon_extra_env(c, d);
        if (i >= o->n_routers - o->n_unlisted_routers)
            continue;
        size_t l = strlen(routers);
        snprintf(routers + l, sizeof(routers) - l, "%s127.0.0.1:%d", i ? "," : "",
                 c->router_rpc[i]);
    }

    d = &c->logic;
    cluster_daemon_config(c, d, CLUSTER_LOGIC, 0, HERALD_BIN_DIR "/herald-logic");
    cluster_env_putf(&d->envp, "HERALD_HTTP_LISTEN=127.0.0.1:%d", c->logic_http);
    cluster_env_putf(&d->envp, "HERALD_RPC_LISTEN=127.0.0.1:%d", c->logic_rpc);
    cluster_redis_env(c, d);
    cluster_env_putf(&d->envp, "HERALD_ROUTER_ADDRS=%s", routers);
    cluster_env_put(&d->envp, "HERALD_REGISTRY_REFRESH=500ms");
    /* Every test registers and logs in from 127.0.0.1: per-address limits that a real client
     * population shares would stop the suite. test_login tests them with its own values. */
    cluster_env_put(&d->envp, "HERALD_LOGIN_REGISTER_BURST=100000");
    cluster_env_put(&d->envp, "HERALD_LOGIN_ADDR_BURST=100000");
    if (o->bearer_key != NULL)
        cluster_env_putf(&d->envp, "HERALD_AUTH_BEARER_KEY=%s", o->bearer_key);
    if (o->logic_https_pki != NULL) {
        cluster_env_putf(&d->envp, "HERALD_HTTP_TLS_CERT=%s/server.chain.pem", o->logic_https_pki);
        cluster_env_putf(&d->envp, "HERALD_HTTP_TLS_KEY=%s/server.key", o->logic_https_pki);
    }
    d->ports[d->n_ports++] = c->logic_http;
    d->ports[d->n_ports++] = c->logic_rpc;
    /* HERALD_KAFKA_BROKERS is known only once kafka-dev runs: added in cluster_start. */

    for (int i = 0; i < o->n_comets; i++) {
        d = &c->comets[i];
        cluster_daemon_config(c, d, CLUSTER_COMET, i, HERALD_BIN_DIR "/herald-comet");
        cluster_env_putf(&d->envp, "HERALD_SERVER_ID=comet-%d", i);
        cluster_env_putf(&d->envp, "HERALD_TCP_LISTEN=127.0.0.1:%d", c->comet_tcp[i]);
        cluster_env_putf(&d->envp, "HERALD_WEBSOCKET_LISTEN=127.0.0.1:%d", c->comet_ws[i]);
        cluster_env_putf(&d->envp, "HERALD_RPC_LISTEN=127.0.0.1:%d", c->comet_rpc[i]);
        cluster_env_putf(&d->envp, "HERALD_ADMIN_LISTEN=127.0.0.1:%d", c->comet_admin[i]);
        cluster_env_putf(&d->envp, "HERALD_LOGIC_ADDRS=127.0.0.1:%d", c->logic_rpc);
        cluster_env_put(&d->envp, "HERALD_SERVER_RENEW_ONLINE_INTERVAL=1s");
        /* Stopping a comet closes its connections at once, as the tests expect (and fast);
         * test_rolling_restart sets a drain time through opts.env. */
        cluster_env_put(&d->envp, "HERALD_SERVER_DRAIN_TIME=0");
        if (o->comet_workers > 0)
            cluster_env_putf(&d->envp, "HERALD_SERVER_WORKERS=%d", o->comet_workers);
        d->ports[d->n_ports++] = c->comet_tcp[i];
        d->ports[d->n_ports++] = c->comet_ws[i];
        d->ports[d->n_ports++] = c->comet_rpc[i];
        d->ports[d->n_ports++] = c->comet_admin[i];
        if (o->comet_tls_pki != NULL)
            cluster_comet_tls_env(c, d, i);
        cluster_daemon_extra_env(c, d);
    }

    for (int i = 0; i < o->n_jobs; i++) {
        d = &c->jobs[i];
        cluster_daemon_config(c, d, CLUSTER_JOB, i, HERALD_BIN_DIR "/herald-job");
        cluster_env_putf(&d->envp, "HERALD_ADMIN_LISTEN=127.0.0.1:%d", c->job_admin[i]);
        cluster_redis_env(c, d);
        cluster_env_put(&d->envp, "HERALD_ROOM_REFRESH=200ms");
        cluster_env_put(&d->envp, "HERALD_COMET_REFRESH=500ms");
        d->ports[d->n_ports++] = c->job_admin[i];
    }

    cluster_daemon_t *all[CLUSTER_MAX_COMETS + CLUSTER_MAX_ROUTERS + CLUSTER_MAX_JOBS + 3];
    int n = cluster_daemons(c, all);
    for (int i = 0; i < n; i++)
        for (const char *const *a = o->args[all[i]->kind]; all[i]->configured && a && *a; a++)
            cluster_daemon_arg(all[i], *a);
    return 0;
}

static int cluster_start_daemon(cluster_t *c, cluster_daemon_t *d)
{
    if (cluster_daemon_spawn(c, d) != 0)
        return -1;
    return cluster_daemon_wait_ports(d);
}

cluster_t *cluster_start(const cluster_opts_t *opts)
{
    if (opts->n_comets < 1 || opts->n_comets > CLUSTER_MAX_COMETS || opts->n_routers < 1 ||
        opts->n_routers > CLUSTER_MAX_ROUTERS || opts->n_jobs < 0 ||
        opts->n_jobs > CLUSTER_MAX_JOBS || opts->n_unlisted_routers < 0 ||
        opts->n_unlisted_routers >= opts->n_routers || opts->n_jobs_idle < 0 ||
        opts->n_jobs_idle >= (opts->n_jobs > 1 ? opts->n_jobs : 1)) {
        fprintf(stderr, "harness: bad cluster options\n");
        return NULL;
    }
    signal(SIGPIPE, SIG_IGN);
    cluster_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->opts = *opts;
    c->kafka_in_fd = -1;
    if (c->opts.n_jobs == 0)
        c->opts.n_jobs = 1;
    snprintf(c->dir, sizeof(c->dir), "/tmp/herald-integ-XXXXXX");
    if (mkdtemp(c->dir) == NULL) {
        fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
        free(c);
        return NULL;
    }
    fprintf(stderr, "harness: cluster in %s (%d comet(s), %d router(s))\n", c->dir, opts->n_comets,
            opts->n_routers);
    if (cluster_make_secret(c) != 0 || cluster_configure(c) != 0)
        goto fail;
    if (c->opts.redis_cluster_seeds == NULL && cluster_start_daemon(c, &c->redis) != 0)
        goto fail;
    if (cluster_daemon_spawn(c, &c->kafka) != 0 || cluster_kafka_wait_bootstrap(c) != 0)
        goto fail;
    cluster_env_putf(&c->logic.envp, "HERALD_KAFKA_BROKERS=%s", c->kafka_bootstrap);
    cluster_daemon_extra_env(c, &c->logic);
    for (int i = 0; i < c->opts.n_jobs; i++) {
        cluster_env_putf(&c->jobs[i].envp, "HERALD_KAFKA_BROKERS=%s", c->kafka_bootstrap);
        cluster_daemon_extra_env(c, &c->jobs[i]);
    }
    for (int i = 0; i < opts->n_routers; i++)
        if (cluster_start_daemon(c, &c->routers[i]) != 0)
            goto fail;
    if (cluster_start_daemon(c, &c->logic) != 0)
        goto fail;
    for (int i = 0; i < opts->n_comets; i++)
        if (cluster_start_daemon(c, &c->comets[i]) != 0)
            goto fail;
    for (int i = 0; i < c->opts.n_jobs - c->opts.n_jobs_idle; i++)
        if (cluster_start_daemon(c, &c->jobs[i]) != 0)
            goto fail;
    if (cluster_wait_comets(c, opts->n_comets, true, true) != 0)
        goto fail;
    return c;
fail:
    fprintf(stderr, "harness: cluster start failed\n");
    cluster_stop(c, true);
    return NULL;
}

int cluster_stop(cluster_t *c, bool failed)
{
    if (c == NULL)
        return 0;
    cluster_daemon_t *all[CLUSTER_MAX_COMETS + CLUSTER_MAX_ROUTERS + CLUSTER_MAX_JOBS + 3];
    int n = cluster_daemons(c, all);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        cluster_daemon_t *d = all[i];
        if (!d->configured || (d->proc.pid <= 0 && !d->proc.exited))
            continue; /* never started */
        long long t0 = proc_now_ms();
        bool was_running = !proc_poll(&d->proc);
        proc_stop(&d->proc, CLUSTER_STOP_GRACE_MS);
        char st[64];
        if (!proc_exited_ok(&d->proc)) {
            fprintf(stderr, "harness: %s %s: %s\n", d->name,
                    was_running ? "did not stop cleanly on SIGTERM" : "had already exited",
                    proc_status_str(&d->proc, st, sizeof(st)));
            rc = -1;
        } else if (was_running) {
            fprintf(stderr, "harness: %s stopped in %lld ms\n", d->name, proc_now_ms() - t0);
        }
    }
    if (failed || rc != 0) {
        cluster_print_logs(c);
        fprintf(stderr, "harness: logs kept in %s\n", c->dir);
    } else if (getenv("HERALD_TEST_KEEP_LOGS") != NULL) {
        fprintf(stderr, "harness: logs kept in %s (HERALD_TEST_KEEP_LOGS)\n", c->dir);
    } else {
        nftw(c->dir, cluster_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    for (int i = 0; i < n; i++)
        cluster_daemon_free(all[i]);
    if (c->kafka_in_fd >= 0)
        close(c->kafka_in_fd);
    free(c);
    return rc;
}

int cluster_kill(cluster_t *c, cluster_kind_t kind, int index, int sig)
{
    cluster_daemon_t *d = cluster_daemon(c, kind, index);
    return d ? proc_signal(&d->proc, sig) : -ESRCH;
}

bool cluster_wait_exit(cluster_t *c, cluster_kind_t kind, int index, int timeout_ms, char *status,
                       size_t len)
{
    cluster_daemon_t *d = cluster_daemon(c, kind, index);
    if (d == NULL) {
        snprintf(status, len, "no such daemon");
        return false;
    }
    bool done = proc_wait(&d->proc, timeout_ms);
    proc_status_str(&d->proc, status, len);
    return done;
}

bool cluster_exited_ok(cluster_t *c, cluster_kind_t kind, int index)
{
    cluster_daemon_t *d = cluster_daemon(c, kind, index);
    return d && proc_poll(&d->proc) && proc_exited_ok(&d->proc);
}

int cluster_kafka_command(cluster_t *c, const char *line)
{
    char buf[128];
    int n = snprintf(buf, sizeof(buf), "%s\n", line);
    if (c->kafka_in_fd < 0 || n <= 0 || n >= (int)sizeof(buf) ||
        write(c->kafka_in_fd, buf, (size_t)n) != n) {
        fprintf(stderr, "harness: cannot send \"%s\" to herald-kafka-dev\n", line);
        return -1;
    }
    return 0;
}

bool cluster_job_running(cluster_t *c, int index)
{
    cluster_daemon_t *d = cluster_daemon(c, CLUSTER_JOB, index);
    return d && d->proc.pid > 0 && !proc_poll(&d->proc);
}

int cluster_restart(cluster_t *c, cluster_kind_t kind, int index, bool wait_ready)
{
    cluster_daemon_t *d = cluster_daemon(c, kind, index);
    if (d == NULL || kind == CLUSTER_KAFKA) {
        fprintf(stderr, "harness: cannot restart %s %d\n", cluster_kind_names[kind], index);
        return -1;
    }
    if (!proc_poll(&d->proc) && d->proc.pid > 0)
        proc_stop(&d->proc, CLUSTER_STOP_GRACE_MS);
    if (cluster_start_daemon(c, d) != 0)
        return -1;
    if (wait_ready && (kind == CLUSTER_LOGIC || kind == CLUSTER_JOB))
        return cluster_wait_comets(c, cluster_running_comets(c), kind == CLUSTER_LOGIC,
                                   kind == CLUSTER_JOB);
    return 0;
}

int cluster_wait_ready(cluster_t *c)
{
    return cluster_wait_comets(c, cluster_running_comets(c), true, true);
}

int cluster_logic_http_port(const cluster_t *c)
{
    return c->logic_http;
}

int cluster_comet_port(const cluster_t *c, int index, client_transport_t transport)
{
    switch (transport) {
    case CLIENT_WS:
        return c->comet_ws[index];
    case CLIENT_TLS:
        return c->comet_tls[index];
    case CLIENT_WSS:
        return c->comet_wss[index];
    default:
        return c->comet_tcp[index];
    }
}

int cluster_comet_admin_port(const cluster_t *c, int index)
{
    return c->comet_admin[index];
}

int cluster_router_admin_port(const cluster_t *c, int index)
{
    return c->router_admin[index];
}

int cluster_job_admin_port(const cluster_t *c)
{
    return c->job_admin[0];
}

int cluster_job_admin_port_at(const cluster_t *c, int index)
{
    return c->job_admin[index];
}

int cluster_n_comets(const cluster_t *c)
{
    return c->opts.n_comets;
}

const char *cluster_bearer_key(const cluster_t *c)
{
    return c->opts.bearer_key;
}

const char *cluster_logic_https_pki(const cluster_t *c)
{
    return c->opts.logic_https_pki;
}

const char *cluster_comet_tls_pki(const cluster_t *c)
{
    return c->opts.comet_tls_pki;
}

const char *cluster_dir(const cluster_t *c)
{
    return c->dir;
}

const char *cluster_kafka_brokers(const cluster_t *c)
{
    return c->kafka_bootstrap;
}

const char *cluster_secret(const cluster_t *c)
{
    return c->secret;
}

int cluster_rpc_port(const cluster_t *c, cluster_kind_t kind, int index)
{
    switch (kind) {
    case CLUSTER_LOGIC:
        return c->logic_rpc;
    case CLUSTER_ROUTER:
        return index >= 0 && index < c->opts.n_routers ? c->router_rpc[index] : -1;
    case CLUSTER_COMET:
        return index >= 0 && index < c->opts.n_comets ? c->comet_rpc[index] : -1;
    default:
        return -1;
    }
}
