/* cli_listen.c - `herald-cli listen`: authenticate, then print every packet the comet pushes,
 * one line each, until --count packets or --timeout-ms. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "client_net.h"
#include "herald_err.h"
#include "proto.h"

enum { OPT_COUNT = CLI_OPT_FIRST_FREE, OPT_JSON };

static const char cli_listen_usage[] =
    "usage: herald-cli listen --comet HOST:PORT [--ws] (--token T | --mid N [--key K])\n"
    "                         [--room R] [--accepts 1000,1001] [--count N] [--timeout-ms N]\n"
    "                         [--json] [--tls [--ca FILE] [--servername NAME]]\n"
    "Prints one line per received packet: op=1000 seq=3 body=... (with --json an object\n"
    "{\"op\":1000,\"seq\":3,\"body\":\"...\"} per line; a body that is not UTF-8 is given as\n"
    "\"body_hex\"). The auth reply and heartbeat replies (op 3) are not printed or counted.\n"
    "Exits 0 after --count packets, or at --timeout-ms when no --count is given; 3 when\n"
    "--timeout-ms passes before --count packets; 1 when auth fails or the connection closes.\n"
    "\n" CLI_CONN_USAGE "  --count N           exit after N packets\n"
    "  --json              JSON lines\n";

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

/* Receives until done. Returns the exit code. */
static int cli_listen_run(cli_conn_t *cc, const cli_conn_opts_t *o, int64_t count, int json)
{
    int64_t deadline = o->timeout_ms >= 0 ? client_net_now_ms() + o->timeout_ms : -1;
    int64_t got = 0;
    while (count == 0 || got < count) {
        client_packet_t p;
        int rc = cli_conn_wait(cc, -1, deadline, &p);
        if (rc == 0) {
            if (count == 0)
                return CLI_EXIT_OK;
            fprintf(stderr,
                    "herald-cli listen: timed out after %" PRId64 " of %" PRId64 " packets\n", got,
                    count);
            return CLI_EXIT_TIMEOUT;
        }
        if (rc < 0) {
            fprintf(stderr, "herald-cli listen: %s after %" PRId64 " packets\n",
                    rc == -ECONNRESET ? "connection closed" : herald_strerror(rc), got);
            return CLI_EXIT_FAIL;
        }
        if (p.op == PROTO_OP_HEARTBEAT_REPLY) {
            cli_listen_print_heartbeat(o, &p);
        } else {
            if (json)
                cli_listen_print_json(&p);
            else
                cli_listen_print_text(&p);
            fflush(stdout);
            got++;
        }
        client_packet_free(&p);
    }
    return CLI_EXIT_OK;
}

typedef struct listen_args_s {
    int64_t count;
    int json;
} listen_args_t;

static int listen_option(int opt, const char *arg, void *ctx)
{
    listen_args_t *a = ctx;
    if (opt == OPT_JSON) {
        a->json = 1;
        return 0;
    }
    if (opt != OPT_COUNT)
        return -1;
    if (cli_conn_parse_int(arg, 1, INT64_MAX, &a->count) < 0) {
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
        {NULL, 0, NULL, 0},
    };
    cli_conn_opts_t o;
    cli_conn_opts_init(&o, "listen");
    listen_args_t a = {0, 0};
    int code = cli_conn_getopt(&o, argc, argv, longopts, cli_listen_usage, listen_option, &a);
    if (code >= 0)
        return code;
    if (optind != argc) {
        fprintf(stderr, "herald-cli listen: unexpected argument '%s'\n", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (cli_conn_check(&o) < 0)
        return CLI_EXIT_USAGE;
    cli_conn_t cc;
    int rc = cli_conn_open(&cc, &o);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = cli_listen_run(&cc, &o, a.count, a.json);
    cli_conn_close(&cc);
    return rc;
}
