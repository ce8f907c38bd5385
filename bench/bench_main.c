/* bench_main.c - herald-bench command line, process fan-out and the merged summary. */
#include "bench.h"
#include "cmdline.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BENCH_MAX_PROCS 64

static const char bench_usage[] =
    "usage: herald-bench conn [options]   subscribers: connect, authenticate, count, time\n"
    "       herald-bench push [options]   pusher: R messages/s\n"
    "       herald-bench rpc [options]    the internal RPC in this process, one core\n"
    "       herald-bench -V | --version | -h | --help\n"
    "common:\n"
    "  --target HOST:PORT[,HOST:PORT...]  servers (connection i uses target i mod T)\n"
    "  --duration S     conn: hold S seconds once all are set up (0: until SIGTERM);\n"
    "                   push: send for S seconds (default 10)\n"
    "  --progress S     progress line on stderr every S seconds (default 0: none)\n"
    "  --room ID        goim room (default live://1000)\n"
    "  --op N           business op: accepts of subscribers, operation of pushes (1000)\n"
    "  --mid-base N     connection i is mid N+i; pushes pick mids from N (default 1)\n"
    "conn:\n"
    "  --proto tcp|ws|mqtt|nchan (default tcp)\n"
    "  --tls            tcp and ws over TLS (TLS-over-TCP, WSS); certificates not checked\n"
    "  --tls-resume     with --tls: later connections resume the first one's session\n"
    "  --conns N        connections in all (default 100)\n"
    "  --procs P        processes, each with N/P connections (default 1)\n"
    "  --rate R         new connections per second in all (default 0: max-inflight bound)\n"
    "  --max-inflight N set-ups in flight per process (default 256)\n"
    "  --src-addrs K    bind to 127.0.0.1..127.0.0.K (default 0: kernel's choice)\n"
    "  --heartbeat S    goim op 2 / MQTT PINGREQ every S seconds (default 30, 0: none)\n"
    "  --path P         WebSocket path (default /sub; nchan: /sub/<channel>)\n"
    "  --topic T        MQTT topic (default bench/room)\n"
    "  --ready-file F   created once every connection is set up\n"
    "push:\n"
    "  --kind room|mids|nchan|mqtt (default room)\n"
    "  --rate R         messages per second (default 100)\n"
    "  --conns C        HTTP keep-alive connections (default 8)\n"
    "  --mids M         mids pick from [mid-base, mid-base+M) (default 1000)\n"
    "  --size B         body bytes, >= 20, <= 1024 (default 32)\n"
    "  --path P         nchan publisher path (default /pub/room)\n"
    "rpc:\n"
    "  --calls N        calls (default 200000), --depth D in flight (default 64)\n"
    "  --size B         request bytes (default 64), --connects K timed connects (200)\n"
    "  --tls DIR        mutual TLS with DIR/peer.pem, peer.key, ca.pem (default: clear)\n"
    "Prints one JSON summary line on stdout.\n";

static int parse_targets(bench_opts_t *o, const char *arg)
{
    char *copy = strdup(arg), *save = NULL;
    o->n_targets = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(t, ':');
        if (colon == NULL || o->n_targets == BENCH_MAX_TARGETS || colon - t >= 64) {
            free(copy);
            return -1;
        }
        bench_target_t *bt = &o->targets[o->n_targets++];
        snprintf(bt->host, sizeof(bt->host), "%.*s", (int)(colon - t), t);
        bt->port = atoi(colon + 1);
        if (bt->port <= 0 || bt->port > 65535) {
            free(copy);
            return -1;
        }
    }
    free(copy);
    return o->n_targets > 0 ? 0 : -1;
}

static int parse_enum(const char *arg, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(arg, names[i]) == 0)
            return i;
    return -1;
}

/* Returns 0, 1 for --help, or -1 on a bad option (getopt_long has named it). */
static int parse_opts(bench_opts_t *o, int argc, char **argv)
{
    static const char *protos[] = {"tcp", "ws", "mqtt", "nchan"};
    static const char *kinds[] = {"room", "mids", "nchan", "mqtt"};
    static const struct option longopts[] = {{"target", 1, 0, 't'},
                                             {"duration", 1, 0, 'd'},
                                             {"progress", 1, 0, 'g'},
                                             {"room", 1, 0, 'r'},
                                             {"op", 1, 0, 'o'},
                                             {"mid-base", 1, 0, 'b'},
                                             {"proto", 1, 0, 'p'},
                                             {"conns", 1, 0, 'n'},
                                             {"procs", 1, 0, 'P'},
                                             {"rate", 1, 0, 'R'},
                                             {"max-inflight", 1, 0, 'i'},
                                             {"src-addrs", 1, 0, 'a'},
                                             {"heartbeat", 1, 0, 'h'},
                                             {"path", 1, 0, 'x'},
                                             {"topic", 1, 0, 'T'},
                                             {"ready-file", 1, 0, 'f'},
                                             {"kind", 1, 0, 'k'},
                                             {"mids", 1, 0, 'm'},
                                             {"size", 1, 0, 's'},
                                             {"tls", 0, 0, 'L'},
                                             {"tls-resume", 0, 0, 'E'},
                                             {"help", 0, 0, 'H'},
                                             {0, 0, 0, 0}};
    int c, have_path = 0, have_conns = 0, have_rate = 0;
    memset(o, 0, sizeof(*o));
    o->mode_push = strcmp(argv[1], "push") == 0;
    o->procs = 1;
    o->max_inflight = 256;
    o->heartbeat_s = 30;
    o->mid_base = 1;
    o->mid_count = 1000;
    o->op = 1000;
    o->size = 32;
    o->duration_s = 10;
    snprintf(o->room, sizeof(o->room), "live://1000");
    snprintf(o->topic, sizeof(o->topic), "bench/room");
    parse_targets(o, "127.0.0.1:3101");
    optind = 2;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (parse_targets(o, optarg) != 0)
                return -1;
            break;
        case 'd':
            o->duration_s = atof(optarg);
            break;
        case 'g':
            o->progress_s = atof(optarg);
            break;
        case 'r':
            snprintf(o->room, sizeof(o->room), "%s", optarg);
            break;
        case 'o':
            o->op = atoi(optarg);
            break;
        case 'b':
            o->mid_base = atoll(optarg);
            break;
        case 'p':
            if ((c = parse_enum(optarg, protos, 4)) < 0)
                return -1;
            o->proto = (bench_proto_t)c;
            break;
        case 'n':
            o->conns = (uint32_t)strtoul(optarg, NULL, 10);
            have_conns = 1;
            break;
        case 'P':
            o->procs = atoi(optarg);
            break;
        case 'R':
            o->rate = atof(optarg);
            have_rate = 1;
            break;
        case 'i':
            o->max_inflight = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'a':
            o->src_addrs = atoi(optarg);
            break;
        case 'h':
            o->heartbeat_s = atoi(optarg);
            break;
        case 'x':
            snprintf(o->path, sizeof(o->path), "%s", optarg);
            have_path = 1;
            break;
        case 'T':
            snprintf(o->topic, sizeof(o->topic), "%s", optarg);
            break;
        case 'f':
            snprintf(o->ready_file, sizeof(o->ready_file), "%s", optarg);
            break;
        case 'k':
            if ((c = parse_enum(optarg, kinds, 4)) < 0)
                return -1;
            o->kind = (bench_push_kind_t)c;
            break;
        case 'm':
            o->mid_count = atoll(optarg);
            break;
        case 's':
            o->size = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'L':
            o->tls = 1;
            break;
        case 'E':
            o->tls_resume = 1;
            break;
        case 'H':
            return 1;
        default:
            return -1;
        }
    }
    if (optind != argc)
        return -1;
    if (!have_conns)
        o->conns = o->mode_push ? 8 : 100;
    if (!have_rate && o->mode_push)
        o->rate = 100;
    if (!have_path)
        snprintf(o->path, sizeof(o->path), "%s",
                 o->mode_push                    ? "/pub/room"
                 : o->proto == BENCH_PROTO_NCHAN ? "/sub/room"
                                                 : "/sub");
    if (o->procs < 1 || o->procs > BENCH_MAX_PROCS || o->max_inflight < 1 || o->size < 20 ||
        o->size > 1024 || o->mid_count < 1 || o->src_addrs < 0 || o->src_addrs > 254 ||
        o->heartbeat_s < 0 || o->rate < 0 || o->duration_s < 0 || (o->mode_push && o->rate <= 0))
        return -1;
    return 0;
}

static pid_t children[BENCH_MAX_PROCS];
static int n_children;

static void forward_signal(int sig)
{
    for (int i = 0; i < n_children; i++)
        if (children[i] > 0)
            kill(children[i], sig);
}

static int read_full(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t r = read(fd, p, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

/* Forks o->procs children, each running its slice; merges their reports into *out. */
static int run_procs(const bench_opts_t *o, bench_stats_t *out)
{
    int fds[BENCH_MAX_PROCS];
    int state[BENCH_MAX_PROCS] = {0}; /* 0 running, 1 ready, 2 final, 3 lost */
    bench_stats_t *last = calloc((size_t)o->procs, sizeof(*last));
    bench_msg_t *msg = malloc(sizeof(*msg));
    if (last == NULL || msg == NULL)
        return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = forward_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    for (int k = 0; k < o->procs; k++) {
        int pfd[2];
        if (pipe(pfd) != 0)
            return -1;
        uint32_t lo = (uint32_t)((uint64_t)o->conns * (uint64_t)k / (uint64_t)o->procs);
        uint32_t hi = (uint32_t)((uint64_t)o->conns * (uint64_t)(k + 1) / (uint64_t)o->procs);
        pid_t pid = fork();
        if (pid < 0)
            return -1;
        if (pid == 0) {
            signal(SIGINT, SIG_DFL);
            signal(SIGTERM, SIG_DFL);
            close(pfd[0]);
            for (int j = 0; j < k; j++)
                close(fds[j]);
            bench_stats_t st;
            _exit(bench_sub_run(o, lo, hi, pfd[1], &st) == 0 ? 0 : 1);
        }
        close(pfd[1]);
        fds[k] = pfd[0];
        children[k] = pid;
        n_children = k + 1;
    }
    int finals = 0, all_ready = 0;
    while (finals < o->procs) {
        struct pollfd pf[BENCH_MAX_PROCS];
        for (int k = 0; k < o->procs; k++) {
            pf[k].fd = state[k] >= 2 ? -1 : fds[k];
            pf[k].events = POLLIN;
            pf[k].revents = 0;
        }
        if (poll(pf, (nfds_t)o->procs, 1000) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        int progress = 0;
        for (int k = 0; k < o->procs; k++) {
            if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (read_full(fds[k], msg, sizeof(*msg)) != 0) {
                fprintf(stderr, "herald-bench: process %d ended without a report\n", k);
                state[k] = 3;
                finals++;
                continue;
            }
            last[k] = msg->stats;
            if (msg->kind == BENCH_MSG_FINAL) {
                state[k] = 2;
                finals++;
            } else if (msg->kind == BENCH_MSG_READY && state[k] == 0) {
                state[k] = 1;
            } else {
                progress = 1;
            }
        }
        int ready = 0;
        for (int k = 0; k < o->procs; k++)
            ready += state[k] >= 1;
        bench_stats_t sum;
        memset(&sum, 0, sizeof(sum));
        for (int k = 0; k < o->procs; k++)
            bench_stats_merge(&sum, &last[k]);
        if (!all_ready && ready == o->procs) {
            all_ready = 1;
            if (o->progress_s > 0)
                bench_stats_print_progress(&sum, o, "ready:", stderr);
            if (o->ready_file[0]) {
                FILE *f = fopen(o->ready_file, "w");
                if (f)
                    fclose(f);
            }
        } else if (progress && o->progress_s > 0) {
            bench_stats_print_progress(&sum, o, "progress:", stderr);
        }
    }
    int rc = 0;
    memset(out, 0, sizeof(*out));
    for (int k = 0; k < o->procs; k++) {
        int status;
        close(fds[k]);
        waitpid(children[k], &status, 0);
        children[k] = 0;
        if (state[k] != 2 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            rc = -1;
        bench_stats_merge(out, &last[k]);
    }
    if (!all_ready)
        out->t_ready = 0;
    free(last);
    free(msg);
    return rc;
}

int main(int argc, char **argv)
{
    static const char prog[] = "herald-bench";
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return cmdline_help(bench_usage);
    if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
        cmdline_print_version(prog);
        return CMDLINE_EXIT_OK;
    }
    if (argc < 2)
        return cmdline_bad_usage(prog, "no mode given", bench_usage);
    if (strcmp(argv[1], "rpc") == 0)
        return bench_rpc_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "conn") != 0 && strcmp(argv[1], "push") != 0) {
        char why[320];
        snprintf(why, sizeof(why), "unknown mode or option '%.256s'", argv[1]);
        return cmdline_bad_usage(prog, why, bench_usage);
    }
    static bench_opts_t o;
    int prc = parse_opts(&o, argc, argv);
    if (prc > 0)
        return cmdline_help(bench_usage);
    if (prc < 0)
        return cmdline_bad_usage(prog, "bad option or value", bench_usage);
    signal(SIGPIPE, SIG_IGN);
    static bench_stats_t st;
    int rc;
    if (o.mode_push) {
        srand((unsigned)bench_now_us());
        rc = bench_push_run(&o, &st);
    } else if (o.procs == 1) {
        rc = bench_sub_run(&o, 0, o.conns, -1, &st);
    } else {
        rc = run_procs(&o, &st);
    }
    bench_stats_print_json(&st, &o, stdout);
    return rc == 0 ? 0 : 1;
}
