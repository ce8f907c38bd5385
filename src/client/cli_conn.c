/* cli_conn.c - what herald-cli's comet subcommands share: number parsing, the
 * connection options, connect + auth, and the heartbeat-keeping wait loop. */
#include "cli.h"

#include "http_client.h"
#include "proto.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "client_net.h"
#include "herald_err.h"

int cli_conn_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

void cli_conn_opts_init(cli_conn_opts_t *o, const char *cmd)
{
    memset(o, 0, sizeof(*o));
    o->cmd = cmd;
    /* goim's rule: user and broadcast pushes reach a connection only for ops it accepts. A
     * client that names none would silently miss them, so accept the first business op. */
    o->accepts[0] = PROTO_OP_BUSINESS_MIN;
    o->n_accepts = 1;
    o->last_seq = -1;
    o->timeout_ms = -1;
}

static int cli_conn_parse_accepts(cli_conn_opts_t *o, const char *arg)
{
    char *list = xstrdup(arg);
    char *save = NULL;
    int rc = 0;
    o->n_accepts = 0;
    for (char *t = strtok_r(list, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        int64_t op = 0;
        if (o->n_accepts == CLI_MAX_ACCEPTS || cli_conn_parse_int(t, 0, UINT32_MAX, &op) < 0) {
            rc = -1;
            break;
        }
        o->accepts[o->n_accepts++] = (uint32_t)op;
    }
    free(list);
    return rc;
}

int cli_conn_tls_option(cli_conn_opts_t *o, int opt, const char *arg)
{
    if (opt == CLI_OPT_TLS)
        o->tls = 1;
    else if (opt == CLI_OPT_CA)
        o->ca = arg;
    else if (opt == CLI_OPT_SERVERNAME)
        o->servername = arg;
    else
        return 0;
    return 1;
}

int cli_conn_option(cli_conn_opts_t *o, int opt, const char *arg)
{
    if (cli_conn_tls_option(o, opt, arg))
        return 1;
    int rc = 0;
    switch (opt) {
    case CLI_OPT_COMET:
        rc = addr_split(arg, o->host, &o->port) == 0 && o->port > 0 ? 0 : -1;
        break;
    case CLI_OPT_WS:
        o->ws = 1;
        break;
    case CLI_OPT_TOKEN:
        o->token = arg;
        break;
    case CLI_OPT_MID:
        rc = cli_conn_parse_int(arg, 1, INT64_MAX, &o->mid);
        break;
    case CLI_OPT_KEY:
        o->key = arg;
        break;
    case CLI_OPT_ROOM:
        o->room = arg;
        break;
    case CLI_OPT_ACCEPTS:
        rc = cli_conn_parse_accepts(o, arg);
        break;
    case CLI_OPT_LAST_SEQ:
        rc = cli_conn_parse_int(arg, 0, UINT32_MAX, &o->last_seq);
        break;
    case CLI_OPT_TIMEOUT_MS:
        rc = cli_conn_parse_int(arg, 0, INT32_MAX, &o->timeout_ms);
        break;
    case CLI_OPT_VERBOSE:
        o->verbose = 1;
        break;
    default:
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "herald-cli %s: bad value '%s'\n", o->cmd, arg);
        return -1;
    }
    return 1;
}

int cli_conn_getopt(cli_conn_opts_t *o, int argc, char **argv, const struct option *longopts,
                    const char *usage, cli_option_cb own, void *ctx)
{
    int opt;
    optind = 0; /* glibc: rescan from scratch, so tests may call a subcommand repeatedly */
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int rc = cli_conn_option(o, opt, optarg);
        if (rc < 0)
            return CLI_EXIT_USAGE;
        if (rc > 0)
            continue;
        if (opt == 'h') {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        }
        if (own(opt, optarg, ctx) < 0) {
            fputs(usage, stderr);
            return CLI_EXIT_USAGE;
        }
    }
    return -1;
}

int cli_conn_check(const cli_conn_opts_t *o)
{
    const char *why = NULL;
    if (o->port == 0)
        why = "--comet HOST:PORT is required";
    else if ((o->token != NULL) == (o->mid != 0))
        why = "give exactly one of --token and --mid";
    else if (o->key != NULL && o->mid == 0)
        why = "--key goes with --mid";
    else if ((o->ca != NULL || o->servername != NULL) && !o->tls)
        why = "--ca and --servername go with --tls";
    if (why == NULL)
        return 0;
    fprintf(stderr, "herald-cli %s: %s (see --help)\n", o->cmd, why);
    return -1;
}

/* jansson refuses strings that are not UTF-8; so does the protocol's JSON. */
static int cli_conn_set_str(json_t *obj, const char *name, const char *value)
{
    return json_object_set_new(obj, name, json_string(value));
}

/* The auth body (DESIGN.md §3): token form, or goim's {"mid","key"} form. NULL when a string
 * argument is not UTF-8. The caller frees the result. */
static char *cli_conn_auth_json(const cli_conn_opts_t *o)
{
    json_t *j = json_object();
    int rc = 0;
    if (o->token != NULL) {
        rc |= cli_conn_set_str(j, "token", o->token);
        rc |= cli_conn_set_str(j, "platform", "cli");
    } else {
        json_object_set_new(j, "mid", json_integer(o->mid));
        if (o->key != NULL)
            rc |= cli_conn_set_str(j, "key", o->key);
    }
    if (o->room != NULL)
        rc |= cli_conn_set_str(j, "room_id", o->room);
    if (o->n_accepts > 0) {
        json_t *a = json_array();
        for (size_t i = 0; i < o->n_accepts; i++)
            json_array_append_new(a, json_integer(o->accepts[i]));
        json_object_set_new(j, "accepts", a);
    }
    if (o->last_seq >= 0)
        json_object_set_new(j, "last_seq", json_integer(o->last_seq));
    char *s = rc == 0 ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

/* Prints why the server refused: its "message" when the reply has one. */
static void cli_conn_print_refusal(const cli_conn_opts_t *o, const client_packet_t *reply)
{
    json_t *j = json_loadb((const char *)reply->body, reply->body_len, 0, NULL);
    const char *msg = json_string_value(json_object_get(j, "message"));
    json_t *code = json_object_get(j, "code");
    if (msg != NULL)
        fprintf(stderr, "herald-cli %s: auth refused: %s (code %" JSON_INTEGER_FORMAT ")\n", o->cmd,
                msg, json_integer_value(code));
    else
        fprintf(stderr, "herald-cli %s: auth refused: %s\n", o->cmd,
                reply->body_len > 0 ? (const char *)reply->body : "connection closed");
    json_decref(j);
}

/* What the client keeps of the auth reply: the heartbeat interval and the user's newest seq. */
static void cli_conn_read_reply(cli_conn_t *cc, const client_packet_t *reply)
{
    json_t *j = json_loadb((const char *)reply->body, reply->body_len, 0, NULL);
    json_int_t ms = json_integer_value(json_object_get(j, "heartbeat_ms"));
    json_t *last = json_object_get(j, "last_seq");
    cc->heartbeat_ms = ms > 0 && ms <= INT32_MAX ? (int)ms : CLI_DEFAULT_HEARTBEAT_MS;
    cc->auth_last_seq = json_is_integer(last) && json_integer_value(last) >= 0 &&
                                json_integer_value(last) <= UINT32_MAX
                            ? json_integer_value(last)
                            : -1;
    json_decref(j);
}

int cli_conn_open(cli_conn_t *cc, const cli_conn_opts_t *o)
{
    memset(cc, 0, sizeof(*cc));
    char *auth = cli_conn_auth_json(o);
    if (auth == NULL) {
        fprintf(stderr, "herald-cli %s: arguments must be UTF-8\n", o->cmd);
        return CLI_EXIT_USAGE;
    }
    char err[512];
    client_transport_t t = o->ws ? CLIENT_WS : CLIENT_TCP;
    if (o->tls)
        t = o->ws ? CLIENT_WSS : CLIENT_TLS;
    client_tls_t tls = {.ca_file = o->ca, .server_name = o->servername};
    cc->client =
        client_connect_tls(t, o->host, o->port, &tls, CLI_DEFAULT_TIMEOUT_MS, err, sizeof(err));
    if (cc->client == NULL) {
        fprintf(stderr, "herald-cli %s: %s\n", o->cmd, err);
        free(auth);
        return CLI_EXIT_FAIL;
    }
    client_packet_t reply;
    int rc = client_auth(cc->client, auth, &reply, CLI_DEFAULT_TIMEOUT_MS);
    free(auth);
    if (rc == HERALD_EAUTH)
        cli_conn_print_refusal(o, &reply);
    else if (rc < 0)
        fprintf(stderr, "herald-cli %s: auth: %s\n", o->cmd, herald_strerror(rc));
    if (rc < 0) {
        client_packet_free(&reply);
        cli_conn_close(cc);
        return rc == -ETIMEDOUT ? CLI_EXIT_TIMEOUT : CLI_EXIT_FAIL;
    }
    if (o->verbose)
        fprintf(stderr, "herald-cli %s: authenticated: %s\n", o->cmd, (const char *)reply.body);
    cli_conn_read_reply(cc, &reply);
    cc->next_heartbeat_ms = client_net_now_ms() + cc->heartbeat_ms;
    client_packet_free(&reply);
    return CLI_EXIT_OK;
}

int cli_conn_wait(cli_conn_t *cc, int extra_fd, int64_t deadline, client_packet_t *p)
{
    for (;;) {
        /* Drain first: one read may have queued several packets that poll() cannot see. */
        int rc = client_recv(cc->client, p, 0);
        if (rc != 0)
            return rc;
        int64_t now = client_net_now_ms();
        if (now >= cc->next_heartbeat_ms) {
            rc = client_heartbeat(cc->client);
            if (rc < 0)
                return rc;
            cc->next_heartbeat_ms = now + cc->heartbeat_ms;
        }
        if (deadline >= 0 && now >= deadline)
            return 0;
        int64_t wait = cc->next_heartbeat_ms - now;
        if (deadline >= 0 && deadline - now < wait)
            wait = deadline - now;
        struct pollfd pfd[2] = {{.fd = client_fd(cc->client), .events = POLLIN},
                                {.fd = extra_fd, .events = POLLIN}};
        int n = poll(pfd, extra_fd >= 0 ? 2 : 1, (int)wait);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n > 0 && extra_fd >= 0 && pfd[1].revents != 0)
            return CLI_CONN_FD_READY;
    }
}

void cli_conn_close(cli_conn_t *cc)
{
    client_free(cc->client);
    cc->client = NULL;
}

int cli_logic_parse(const char *arg, cli_logic_t *l)
{
    memset(l, 0, sizeof(*l));
    if (strncmp(arg, "https://", 8) == 0) {
        l->https = 1;
        arg += 8;
    } else if (strncmp(arg, "http://", 7) == 0) {
        arg += 7;
    }
    return addr_split(arg, l->host, &l->port) == 0 && l->port > 0 ? 0 : -1;
}

int cli_logic_url(const cli_logic_t *l, const char *path, char *out, size_t cap)
{
    return http_client_url(out, cap, l->https ? "https" : "http", l->host, l->port, path) == 0 ? 0
                                                                                               : -1;
}
