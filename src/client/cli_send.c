/* cli_send.c - `herald-cli send`: authenticate, send one OpSendMsg (op 4) to a user or a room,
 * print the op 5 reply body. */
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_net.h"
#include "herald_err.h"
#include "proto.h"

enum { OPT_TO_MID = CLI_OPT_FIRST_FREE, OPT_TO_ROOM, OPT_OP };

/* The seq of our op 4; the comet answers with the same seq. */
#define CLI_SEND_SEQ 1

static const char cli_send_usage[] =
    "usage: herald-cli send --comet HOST:PORT [--ws] (--token T | --mid N)\n"
    "                       (--to-mid N | --to-room R) [--op 1000] MESSAGE\n"
    "                       [--tls [--ca FILE] [--servername NAME]]\n"
    "Sends MESSAGE as a private (--to-mid) or group (--to-room) message and prints the reply\n"
    "body, e.g. {\"code\":0}. Exits 0 when the reply's code is 0, 1 on an error reply or a\n"
    "failure, 3 when no reply came within --timeout-ms (default 5000).\n"
    "\n" CLI_CONN_USAGE "  --to-mid N          the receiving user\n"
    "  --to-room R         the receiving room\n"
    "  --op N              business op of the message (default 1000)\n";

/* {"to_mid":N | "to_room":R, "op":op, "msg":MESSAGE}; NULL when a string is not UTF-8. */
static char *cli_send_body(int64_t to_mid, const char *to_room, int64_t op, const char *msg)
{
    json_t *j = json_object();
    int rc = 0;
    if (to_room != NULL)
        rc |= json_object_set_new(j, "to_room", json_string(to_room));
    else
        json_object_set_new(j, "to_mid", json_integer(to_mid));
    json_object_set_new(j, "op", json_integer(op));
    rc |= json_object_set_new(j, "msg", json_string(msg));
    char *s = rc == 0 ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

static int cli_send_reply_ok(const client_packet_t *p)
{
    json_t *j = json_loadb((const char *)p->body, p->body_len, 0, NULL);
    json_t *code = json_object_get(j, "code");
    int ok = json_is_integer(code) && json_integer_value(code) == 0;
    json_decref(j);
    return ok;
}

/* Sends and waits for the reply with our seq; other packets (pushes, heartbeat replies) are
 * skipped. Returns the exit code. */
static int cli_send_run(cli_conn_t *cc, const cli_conn_opts_t *o, const char *body)
{
    int rc = client_send(cc->client, PROTO_OP_SEND_MSG, CLI_SEND_SEQ, body, strlen(body));
    if (rc < 0) {
        fprintf(stderr, "herald-cli send: %s\n", herald_strerror(rc));
        return CLI_EXIT_FAIL;
    }
    int64_t timeout = o->timeout_ms >= 0 ? o->timeout_ms : CLI_DEFAULT_TIMEOUT_MS;
    int64_t deadline = client_net_now_ms() + timeout;
    for (;;) {
        client_packet_t p;
        rc = cli_conn_wait(cc, -1, deadline, &p);
        if (rc == 0) {
            fprintf(stderr, "herald-cli send: no reply within %lld ms\n", (long long)timeout);
            return CLI_EXIT_TIMEOUT;
        }
        if (rc < 0) {
            fprintf(stderr, "herald-cli send: %s before the reply\n",
                    rc == -ECONNRESET ? "connection closed" : herald_strerror(rc));
            return CLI_EXIT_FAIL;
        }
        if (p.op == PROTO_OP_SEND_MSG_REPLY && p.seq == CLI_SEND_SEQ) {
            puts((const char *)p.body);
            fflush(stdout);
            rc = cli_send_reply_ok(&p) ? CLI_EXIT_OK : CLI_EXIT_FAIL;
            client_packet_free(&p);
            return rc;
        }
        if (o->verbose)
            fprintf(stderr, "herald-cli send: skipped op=%u seq=%u\n", p.op, p.seq);
        client_packet_free(&p);
    }
}

typedef struct send_args_s {
    int64_t to_mid;
    int64_t op;
    const char *to_room;
} send_args_t;

static int send_option(int opt, const char *arg, void *ctx)
{
    send_args_t *a = ctx;
    switch (opt) {
    case OPT_TO_ROOM:
        a->to_room = arg;
        return 0;
    case OPT_TO_MID:
        return cli_conn_parse_int(arg, 1, INT64_MAX, &a->to_mid);
    case OPT_OP:
        return cli_conn_parse_int(arg, 0, UINT32_MAX, &a->op);
    default:
        return -1;
    }
}

int cli_send_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_CONN_LONG_OPTIONS,
        {"to-mid", required_argument, NULL, OPT_TO_MID},
        {"to-room", required_argument, NULL, OPT_TO_ROOM},
        {"op", required_argument, NULL, OPT_OP},
        {NULL, 0, NULL, 0},
    };
    cli_conn_opts_t o;
    cli_conn_opts_init(&o, "send");
    send_args_t a = {0, PROTO_OP_BUSINESS_MIN, NULL};
    int code = cli_conn_getopt(&o, argc, argv, longopts, cli_send_usage, send_option, &a);
    if (code >= 0)
        return code;
    if (cli_conn_check(&o) < 0)
        return CLI_EXIT_USAGE;
    if ((a.to_mid != 0) == (a.to_room != NULL) || optind != argc - 1) {
        fprintf(stderr, "herald-cli send: give one of --to-mid and --to-room, and one MESSAGE\n");
        return CLI_EXIT_USAGE;
    }
    char *body = cli_send_body(a.to_mid, a.to_room, a.op, argv[optind]);
    if (body == NULL) {
        fprintf(stderr, "herald-cli send: arguments must be UTF-8\n");
        return CLI_EXIT_USAGE;
    }
    cli_conn_t cc;
    int rc = cli_conn_open(&cc, &o);
    if (rc == CLI_EXIT_OK)
        rc = cli_send_run(&cc, &o, body);
    cli_conn_close(&cc);
    free(body);
    return rc;
}
