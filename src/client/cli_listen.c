/* cli_listen.c - `herald-cli listen`: authenticate, then print every packet the comet pushes,
 * one line each, until --count packets or --timeout-ms. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "client_net.h"
#include "client_redial.h"
#include "herald_err.h"
#include "proto.h"

enum { OPT_COUNT = CLI_OPT_FIRST_FREE, OPT_JSON, OPT_RECONNECT, OPT_LOGIC };

static const char cli_listen_usage[] =
    "usage: herald-cli listen --comet HOST:PORT [--ws] (--token T | --mid N [--key K])\n"
    "                         [--room R] [--accepts 1000,1001] [--count N] [--timeout-ms N]\n"
    "                         [--json] [--tls [--ca FILE] [--servername NAME]]\n"
    "                         [--reconnect [--logic ADDR]]\n"
    "Prints one line per received packet: op=1000 seq=3 body=... (with --json an object\n"
    "{\"op\":1000,\"seq\":3,\"body\":\"...\"} per line; a body that is not UTF-8 is given as\n"
    "\"body_hex\"). The auth reply and heartbeat replies (op 3) are not printed or counted.\n"
    "Exits 0 after --count packets, or at --timeout-ms when no --count is given; 3 when\n"
    "--timeout-ms passes before --count packets; 1 when auth fails or the connection closes\n"
    "(with --reconnect only the first auth: later ends are redialed).\n"
    "\n" CLI_CONN_USAGE "  --count N           exit after N packets\n"
    "  --json              JSON lines\n"
    "  --reconnect         when the connection ends, dial again and resume with last_seq (the\n"
    "                      highest seq received), so no push to the user is missed; a comet that\n"
    "                      drains (op 6 {\"reason\":\"reconnect\",\"after_ms\":N}) is left after "
    "N\n"
    "                      ms, other ends wait a jittered backoff (200 ms .. 5 s)\n"
    "  --logic ADDR        with --reconnect: dial the first other comet of logic's\n"
    "                      /goim/nodes/weighted (HOST:PORT or http[s]://HOST:PORT) instead of\n"
    "                      the same --comet\n";

/* Text form: the body on one line, with backslash escapes for control bytes. */
static void cli_listen_print_text(const client_packet_t *p)
{
    printf("op=%" PRIu32 " seq=%" PRIu32 " body=", p->op, p->seq);
    for (uint32_t i = 0; i < p->body_len; i++) {
        uint8_t b = p->body[i];
        if (b == '\\')
            fputs("\\\\", stdout);
        else if (b == '\n')
            fputs("\\n", stdout);
        else if (b == '\r')
            fputs("\\r", stdout);
        else if (b == '\t')
            fputs("\\t", stdout);
        else if (b < 0x20 || b == 0x7f)
            printf("\\x%02x", b);
        else
            putchar(b);
    }
    putchar('\n');
}

static void cli_listen_print_json(const client_packet_t *p)
{
    json_t *j = json_object();
    json_object_set_new(j, "op", json_integer(p->op));
    json_object_set_new(j, "seq", json_integer(p->seq));
    json_t *body = json_stringn((const char *)p->body, p->body_len);
    if (body != NULL) {
        json_object_set_new(j, "body", body);
    } else {
        char *hex = xmalloc((size_t)p->body_len * 2 + 1);
        for (uint32_t i = 0; i < p->body_len; i++)
            snprintf(hex + 2 * i, 3, "%02x", p->body[i]);
        hex[2 * (size_t)p->body_len] = '\0';
        json_object_set_new(j, "body_hex", json_string(hex));
        free(hex);
    }
    char *line = json_dumps(j, JSON_COMPACT);
    puts(line);
    free(line);
    json_decref(j);
}

static void cli_listen_print_heartbeat(const cli_conn_opts_t *o, const client_packet_t *p)
{
    if (!o->verbose)
        return;
    uint32_t online = 0;
    if (p->body_len >= 4)
        online = (uint32_t)p->body[0] << 24 | (uint32_t)p->body[1] << 16 |
                 (uint32_t)p->body[2] << 8 | p->body[3];
    fprintf(stderr, "herald-cli listen: heartbeat reply, online=%" PRIu32 "\n", online);
}

/* What a listen run keeps across its connections. */
typedef struct listen_s {
    cli_conn_opts_t o; /* o.host, o.port and o.last_seq change with each redial */
    cli_conn_t cc;
    int64_t count;
    int json;
    int reconnect;     /* --reconnect */
    cli_logic_t logic; /* --logic: where the next comet is chosen; port 0 = the same --comet */
    int64_t deadline;  /* client_net_now_ms() clock; -1: none */
    int64_t got;       /* packets printed */
    int64_t last_seq;  /* highest per-user seq received (or the auth reply's); -1: none */
    client_redial_t redial;
} listen_t;

#define LISTEN_REDIAL (-1)

static int cli_listen_timed_out(const listen_t *l)
{
    if (l->count == 0)
        return CLI_EXIT_OK;
    fprintf(stderr, "herald-cli listen: timed out after %" PRId64 " of %" PRId64 " packets\n",
            l->got, l->count);
    return CLI_EXIT_TIMEOUT;
}

static void cli_listen_print(listen_t *l, const client_packet_t *p)
{
    if (p->op == PROTO_OP_HEARTBEAT_REPLY) {
        cli_listen_print_heartbeat(&l->o, p);
        return;
    }
    if (p->op == PROTO_OP_DISCONNECT_REPLY && l->reconnect &&
        client_redial_on_kick(&l->redial, p->body, p->body_len, client_net_now_ms()))
        fprintf(stderr, "herald-cli listen: the comet is draining: %s\n", (const char *)p->body);
    if (p->op >= PROTO_OP_BUSINESS_MIN && p->seq > 0 && (int64_t)p->seq > l->last_seq)
        l->last_seq = p->seq;
    if (l->json)
        cli_listen_print_json(p);
    else
        cli_listen_print_text(p);
    fflush(stdout);
    l->got++;
}

/* Receives on l->cc until done (an exit code) or, with --reconnect, until the connection ends
 * or a drain notice's time comes (LISTEN_REDIAL). */
static int cli_listen_recv(listen_t *l)
{
    while (l->count == 0 || l->got < l->count) {
        int64_t until = l->deadline;
        int64_t leave = l->reconnect ? client_redial_leave_at(&l->redial) : -1;
        if (leave >= 0 && (until < 0 || leave < until))
            until = leave;
        client_packet_t p;
        int rc = cli_conn_wait(&l->cc, -1, until, &p);
        if (rc == 0) {
            if (client_redial_leave_due(&l->redial, client_net_now_ms()) &&
                (l->deadline < 0 || client_net_now_ms() < l->deadline))
                return LISTEN_REDIAL;
            return cli_listen_timed_out(l);
        }
        if (rc < 0) {
            fprintf(stderr, "herald-cli listen: %s after %" PRId64 " packets\n",
                    rc == -ECONNRESET ? "connection closed" : herald_strerror(rc), l->got);
            return l->reconnect ? LISTEN_REDIAL : CLI_EXIT_FAIL;
        }
        cli_listen_print(l, &p);
        client_packet_free(&p);
    }
    return CLI_EXIT_OK;
}

/* Opens a connection with what l knows (o.last_seq from l->last_seq). Returns CLI_EXIT_OK or
 * cli_conn_open's code. */
static int cli_listen_open(listen_t *l)
{
    if (l->last_seq >= 0)
        l->o.last_seq = l->last_seq;
    int rc = cli_conn_open(&l->cc, &l->o);
    if (rc == CLI_EXIT_OK && l->last_seq < 0)
        l->last_seq = l->o.last_seq >= 0 ? l->o.last_seq : l->cc.auth_last_seq;
    return rc;
}

/* Sleeps ms, but not past the deadline. Returns 0, or 1 when the deadline has passed. */
static int cli_listen_sleep(const listen_t *l, int64_t ms)
{
    int64_t now = client_net_now_ms();
    if (l->deadline >= 0 && now + ms >= l->deadline) {
        if (l->deadline > now)
            poll(NULL, 0, (int)(l->deadline - now));
        return 1;
    }
    if (ms > 0)
        poll(NULL, 0, (int)ms);
    return 0;
}

/* The connection ended (or is left): dials again as client_redial.h says, from logic's
 * /goim/nodes/weighted with --logic, else the same --comet. Returns LISTEN_REDIAL when
 * connected again, or the exit code when the deadline passed first. */
static int cli_listen_redial(listen_t *l)
{
    char leaving[ADDR_HOST_MAX + 16];
    snprintf(leaving, sizeof(leaving), "%s:%d", l->o.host, l->o.port);
    cli_conn_close(&l->cc);
    int64_t delay = client_redial_ended(&l->redial, client_net_now_ms());
    for (;;) {
        if (cli_listen_sleep(l, delay))
            return cli_listen_timed_out(l);
        if (l->logic.port > 0) {
            char url[1024], err[512];
            const char *path =
                l->o.ws ? "/goim/nodes/weighted?platform=web" : "/goim/nodes/weighted?platform=cli";
            const char *transport =
                l->o.ws ? (l->o.tls ? "wss" : "ws") : (l->o.tls ? "tls" : "tcp");
            if (cli_logic_url(&l->logic, path, url, sizeof(url)) != 0 ||
                client_redial_fetch(url, NULL, CLI_DEFAULT_TIMEOUT_MS, transport, leaving,
                                    l->o.host, sizeof(l->o.host), &l->o.port, err,
                                    sizeof(err)) != 0) {
                fprintf(stderr, "herald-cli listen: %s\n", err);
                delay = client_redial_failed(&l->redial);
                continue;
            }
        }
        if (cli_listen_open(l) == CLI_EXIT_OK) {
            client_redial_connected(&l->redial);
            fprintf(stderr, "herald-cli listen: reconnected to %s:%d (last_seq %" PRId64 ")\n",
                    l->o.host, l->o.port, l->last_seq);
            return LISTEN_REDIAL;
        }
        delay = client_redial_failed(&l->redial);
    }
}

static int cli_listen_run(listen_t *l)
{
    l->deadline = l->o.timeout_ms >= 0 ? client_net_now_ms() + l->o.timeout_ms : -1;
    int rc = cli_listen_open(l);
    while (rc == CLI_EXIT_OK || rc == LISTEN_REDIAL) {
        rc = cli_listen_recv(l);
        if (rc != LISTEN_REDIAL)
            break;
        rc = cli_listen_redial(l);
    }
    cli_conn_close(&l->cc);
    return rc;
}

static int listen_option(int opt, const char *arg, void *ctx)
{
    listen_t *l = ctx;
    if (opt == OPT_JSON) {
        l->json = 1;
        return 0;
    }
    if (opt == OPT_RECONNECT) {
        l->reconnect = 1;
        return 0;
    }
    if (opt == OPT_LOGIC) {
        if (cli_logic_parse(arg, &l->logic) == 0)
            return 0;
        fprintf(stderr, "herald-cli listen: bad --logic '%s'\n", arg);
        return -1;
    }
    if (opt != OPT_COUNT)
        return -1;
    if (cli_conn_parse_int(arg, 1, INT64_MAX, &l->count) < 0) {
        fprintf(stderr, "herald-cli listen: bad --count '%s'\n", arg);
        return -1;
    }
    return 0;
}

int cli_listen_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_CONN_LONG_OPTIONS,
        {"count", required_argument, NULL, OPT_COUNT},
        {"json", no_argument, NULL, OPT_JSON},
        {"reconnect", no_argument, NULL, OPT_RECONNECT},
        {"logic", required_argument, NULL, OPT_LOGIC},
        {NULL, 0, NULL, 0},
    };
    listen_t *l = xcalloc(1, sizeof(*l));
    cli_conn_opts_init(&l->o, "listen");
    l->last_seq = -1;
    int code = cli_conn_getopt(&l->o, argc, argv, longopts, cli_listen_usage, listen_option, l);
    if (code < 0 && optind != argc) {
        fprintf(stderr, "herald-cli listen: unexpected argument '%s'\n", argv[optind]);
        code = CLI_EXIT_USAGE;
    }
    if (code < 0 && l->logic.port > 0 && !l->reconnect) {
        fputs("herald-cli listen: --logic goes with --reconnect\n", stderr);
        code = CLI_EXIT_USAGE;
    }
    if (code < 0 && cli_conn_check(&l->o) < 0)
        code = CLI_EXIT_USAGE;
    if (code < 0) {
        uint64_t seed = (uint64_t)getpid() << 32 ^ (uint64_t)client_net_now_ms();
        client_redial_init(&l->redial, 0, 0, seed);
        code = cli_listen_run(l);
    }
    free(l);
    return code;
}
