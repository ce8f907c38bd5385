/* cli_chat.c - `herald-cli chat`: the interactive client (cim's console client) on logic's IM
 * API (docs/im.md). Logs in by name and password (--password, else $HERALD_PASSWORD; registering
 * the name with it when the name is new), connects to the comet login chose, and then reads
 * commands from stdin:
 *   text          to the current room
 *   @name text    private (also @mid text)
 *   :olu          online users
 *   :who          members of the current room
 *   :room R       change room (op 12; ":room" alone leaves it)
 *   :q            quit
 * Messages print as "[HH:MM:SS] name: text" ("name (private): text" for private ones). When the
 * connection drops it reconnects by itself with the last per-user seq it got, so the offline
 * inbox hands over what it missed; a comet that drains (op 6 {"reason":"reconnect"}) is left at
 * the time it names, for the comet a new login picks (client_redial.h).
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client_net.h"
#include "client_redial.h"
#include "herald_err.h"
#include "http_client.h"
#include "proto.h"

#define CHAT_OP 1000
#define CHAT_LINE_MAX 2048
#define CHAT_HTTP_TIMEOUT_MS 5000

enum { OPT_LOGIC = CLI_OPT_FIRST_FREE, OPT_NAME, OPT_PASSWORD };

static const char cli_chat_usage[] =
    "usage: herald-cli chat --logic ADDR --name NAME [--password P] [--room R] [--tls]\n"
    "Interactive chat. Type text to send it to the current room, '@name text' or '@mid text'\n"
    "to send privately, ':olu' to list online users, ':who' to list the room's members,\n"
    "':room R' to change room, ':q' to quit.\n" CLI_LOGIC_USAGE
    "  --name NAME         your user name (registered on first use)\n"
    "  --password P        your password, 8-128 bytes (default: $HERALD_PASSWORD, which keeps\n"
    "                      it off the command line and out of ps)\n"
    "  --room R            room to join, e.g. live://lobby\n"
    "  --tls               connect to the comet over TLS (the \"tls\" address of logic's\n"
    "                      login reply, not \"tcp\"); its certificate is verified\n" CLI_TLS_USAGE
    "  (--ca applies to an https:// --logic as well)\n";

typedef struct chat_s {
    cli_logic_t logic;
    const char *name;
    char *password_body; /* {"password":"..."}, heap */
    char room[256];
    char token[128];
    char comet_host[ADDR_HOST_MAX];
    int comet_port;
    cli_conn_opts_t tls; /* only its --tls, --ca and --servername are used */
    int64_t mid;
    int64_t last_seq; /* highest per-user seq received */
    client_redial_t redial;
    uint32_t seq; /* of our op 4 and op 12 packets */
    cli_conn_t cc;
    char line[CHAT_LINE_MAX];
    size_t line_len;
} chat_t;

static void chat_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void chat_say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* One request to logic (body may be NULL); returns the parsed reply and the status, or NULL
 * (message printed). */
static json_t *chat_http(chat_t *ch, const char *method, const char *path, const char *body,
                         int *status)
{
    char url[2048];
    if (cli_logic_url(&ch->logic, path, url, sizeof(url)) != 0) {
        chat_say("! logic: request too long");
        return NULL;
    }
    http_client_req_t req = {.method = method,
                             .url = url,
                             .body = body,
                             .body_len = body ? strlen(body) : 0,
                             .timeout_ms = CHAT_HTTP_TIMEOUT_MS};
    http_client_resp_t resp;
    /* --ca names the CA of an https logic too; NULL: the system store */
    http_client_t *hc = ch->logic.https && ch->tls.ca ? http_client_new(ch->tls.ca) : NULL;
    int rc = http_client_request(hc, &req, &resp);
    http_client_free(hc);
    if (rc < 0) {
        chat_say("! logic: %s (%s)", herald_strerror(rc), resp.error);
        return NULL;
    }
    *status = resp.status;
    json_t *j = json_loads(resp.body, 0, NULL);
    free(resp.body);
    return j;
}

/* Logs in; when that fails as an unknown name could, registers the name with the password and
 * logs in again (a taken name means the password was wrong). Returns 0 or -1. */
static int chat_login(chat_t *ch)
{
    char login[256], reg[256];
    int status = 0;
    snprintf(login, sizeof(login), "/herald/v1/login?name=%s&platform=cli", ch->name);
    snprintf(reg, sizeof(reg), "/herald/v1/users?name=%s", ch->name);
    json_t *j = chat_http(ch, "POST", login, ch->password_body, &status);
    if (j != NULL && status == 401) {
        json_decref(j);
        j = chat_http(ch, "POST", reg, ch->password_body, &status);
        if (j == NULL || status != 200) {
            chat_say("! login: %s", status == 409
                                        ? "wrong name or password"
                                        : json_string_value(json_object_get(j, "message")));
            json_decref(j);
            return -1;
        }
        json_decref(j);
        chat_say("* registered %s", ch->name);
        j = chat_http(ch, "POST", login, ch->password_body, &status);
    }
    json_t *data = json_object_get(j, "data");
    const char *token = json_string_value(json_object_get(data, "token"));
    const char *port_name = ch->tls.tls ? "tls" : "tcp";
    const char *addr =
        json_string_value(json_object_get(json_object_get(data, "comet"), port_name));
    if (status == 200 && token != NULL && (addr == NULL || addr[0] == '\0')) {
        chat_say("! login: the comet chosen has no %s port", port_name);
        json_decref(j);
        return -1;
    }
    if (status != 200 || token == NULL || addr_split(addr, ch->comet_host, &ch->comet_port) != 0 ||
        ch->comet_port == 0) {
        chat_say("! login: %s", j ? json_string_value(json_object_get(j, "message")) : "failed");
        json_decref(j);
        return -1;
    }
    snprintf(ch->token, sizeof(ch->token), "%s", token);
    ch->mid = json_integer_value(json_object_get(data, "mid"));
    json_decref(j);
    return 0;
}

static int chat_connect(chat_t *ch)
{
    cli_conn_opts_t o;
    cli_conn_opts_init(&o, "chat");
    snprintf(o.host, sizeof(o.host), "%s", ch->comet_host);
    o.port = ch->comet_port;
    o.tls = ch->tls.tls;
    o.ca = ch->tls.ca;
    o.servername = ch->tls.servername;
    o.token = ch->token;
    o.room = ch->room[0] ? ch->room : NULL;
    o.accepts[o.n_accepts++] = CHAT_OP;
    o.last_seq = ch->last_seq;
    return cli_conn_open(&ch->cc, &o) == CLI_EXIT_OK ? 0 : -1;
}

/* Reconnects as client_redial.h says until it works: after a drain notice through a new login
 * at once (logic picks a comet that is not draining), after another end first to the same
 * comet and then through a new login (a refused token, or logic may pick another comet), with
 * backoff. Returns 0, or -1 when stdin closed meanwhile (the user left). */
static int chat_reconnect(chat_t *ch)
{
    int moving = client_redial_leave_at(&ch->redial) >= 0;
    cli_conn_close(&ch->cc);
    int64_t delay = client_redial_ended(&ch->redial, client_net_now_ms());
    for (;;) {
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        if (delay > 0 && poll(&pfd, 1, (int)delay) > 0 && (pfd.revents & (POLLHUP | POLLERR)))
            return -1;
        chat_say(moving ? "* moving to another comet..." : "* reconnecting...");
        if ((!moving && chat_connect(ch) == 0) || (chat_login(ch) == 0 && chat_connect(ch) == 0)) {
            client_redial_connected(&ch->redial);
            chat_say("* reconnected to %s:%d", ch->comet_host, ch->comet_port);
            return 0;
        }
        delay = client_redial_failed(&ch->redial);
    }
}

static void chat_show(chat_t *ch, const client_packet_t *p)
{
    if (p->seq > 0 && (int64_t)p->seq > ch->last_seq) { /* a push to us: remember and ack */
        ch->last_seq = p->seq;
        client_send(ch->cc.client, PROTO_OP_ACK, p->seq, NULL, 0);
    }
    json_t *j = json_loadb((const char *)p->body, p->body_len, 0, NULL);
    const char *from = json_string_value(json_object_get(j, "from_name"));
    json_t *msg = json_object_get(j, "msg");
    char stamp[16];
    time_t now = time(NULL);
    strftime(stamp, sizeof(stamp), "%H:%M:%S", localtime(&now));
    if (from == NULL || msg == NULL) { /* a business push, not a chat message */
        chat_say("[%s] push: %.*s", stamp, (int)p->body_len, (const char *)p->body);
    } else {
        char *text = json_is_string(msg) ? strdup(json_string_value(msg))
                                         : json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY);
        int private_msg = json_object_get(j, "to_mid") != NULL;
        chat_say("[%s] %s%s: %s", stamp, from, private_msg ? " (private)" : "", text ? text : "");
        free(text);
    }
    json_decref(j);
}

static void chat_packet(chat_t *ch, const client_packet_t *p)
{
    if (p->op == CHAT_OP) {
        chat_show(ch, p);
    } else if (p->op == PROTO_OP_SEND_MSG_REPLY) {
        json_t *j = json_loadb((const char *)p->body, p->body_len, 0, NULL);
        json_int_t code = json_integer_value(json_object_get(j, "code"));
        if (code != 0)
            chat_say("! not sent (%" JSON_INTEGER_FORMAT "): %s", code,
                     json_string_value(json_object_get(j, "message")));
        json_decref(j);
    } else if (p->op == PROTO_OP_CHANGE_ROOM_REPLY) {
        snprintf(ch->room, sizeof(ch->room), "%.*s", (int)p->body_len, (const char *)p->body);
        chat_say(ch->room[0] ? "* in room %s" : "* left the room%s", ch->room);
    } else if (p->op == PROTO_OP_DISCONNECT_REPLY) {
        if (client_redial_on_kick(&ch->redial, p->body, p->body_len, client_net_now_ms()))
            chat_say("* the comet is going away: moving in %lld ms",
                     (long long)(client_redial_leave_at(&ch->redial) - client_net_now_ms()));
        else
            chat_say("* kicked: %.*s", (int)p->body_len, (const char *)p->body);
    }
}

static void chat_send(chat_t *ch, int64_t to_mid, const char *text)
{
    json_t *j = json_object();
    if (to_mid > 0)
        json_object_set_new(j, "to_mid", json_integer(to_mid));
    else
        json_object_set_new(j, "to_room", json_string(ch->room));
    json_object_set_new(j, "op", json_integer(CHAT_OP));
    json_t *msg = json_string(text);
    if (msg == NULL) {
        chat_say("! text must be UTF-8");
        json_decref(j);
        return;
    }
    json_object_set_new(j, "msg", msg);
    char *body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    client_send(ch->cc.client, PROTO_OP_SEND_MSG, ++ch->seq, body, strlen(body));
    free(body);
}

/* "@target text": target is a user id (digits) or a name looked up in logic. */
static void chat_private(chat_t *ch, char *arg)
{
    char *text = strchr(arg, ' ');
    if (text == NULL || text[1] == '\0') {
        chat_say("! usage: @name text");
        return;
    }
    *text++ = '\0';
    int64_t mid = 0;
    if (cli_conn_parse_int(arg, 1, INT64_MAX, &mid) != 0) {
        char path[128];
        int status = 0;
        snprintf(path, sizeof(path), "/herald/v1/users?name=%.64s", arg);
        json_t *j = chat_http(ch, "GET", path, NULL, &status);
        mid = status == 200 ? json_integer_value(json_object_get(json_object_get(j, "data"), "mid"))
                            : 0;
        json_decref(j);
        if (mid <= 0) {
            chat_say("! no user %s", arg);
            return;
        }
    }
    chat_send(ch, mid, text);
}

static void chat_online(chat_t *ch)
{
    long long cursor = 0;
    int pages = 0;
    do {
        char path[96];
        int status = 0;
        snprintf(path, sizeof(path), "/herald/v1/online/users?limit=100&cursor=%lld", cursor);
        json_t *j = chat_http(ch, "GET", path, NULL, &status);
        json_t *data = json_object_get(j, "data"), *u;
        size_t i;
        json_array_foreach(json_object_get(data, "users"), i, u)
        {
            const char *name = json_string_value(json_object_get(u, "name"));
            chat_say("  %s (%" JSON_INTEGER_FORMAT ")", name ? name : "?",
                     json_integer_value(json_object_get(u, "mid")));
        }
        cursor = status == 200 ? json_integer_value(json_object_get(data, "next_cursor")) : 0;
        json_decref(j);
    } while (cursor != 0 && ++pages < 100);
}

/* Percent-encodes s for a query string into out (cap >= 3 * strlen(s) + 1): every byte but
 * letters, digits and -._~:/ becomes %XX. */
static void chat_query_escape(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (; *s != '\0' && n + 4 <= cap; s++) {
        unsigned char b = (unsigned char)*s;
        if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
            strchr("-._~:/", b) != NULL) {
            out[n++] = (char)b;
        } else {
            out[n++] = '%';
            out[n++] = hex[b >> 4];
            out[n++] = hex[b & 15];
        }
    }
    out[n] = '\0';
}

/* The current room's members (GET /herald/v1/rooms/members): one line per user. */
static void chat_who(chat_t *ch)
{
    if (ch->room[0] == '\0') {
        chat_say("! not in a room");
        return;
    }
    char room[3 * sizeof(ch->room)], path[sizeof(room) + 64];
    chat_query_escape(ch->room, room, sizeof(room));
    snprintf(path, sizeof(path), "/herald/v1/rooms/members?room=%s&limit=100", room);
    int status = 0;
    json_t *j = chat_http(ch, "GET", path, NULL, &status);
    json_t *data = json_object_get(j, "data"), *u;
    if (status != 200 || data == NULL) {
        const char *message = json_string_value(json_object_get(j, "message"));
        chat_say("! members: %s", message ? message : "failed");
        json_decref(j);
        return;
    }
    chat_say("* members of %s:", ch->room);
    size_t i;
    json_array_foreach(json_object_get(data, "users"), i, u)
    {
        const char *name = json_string_value(json_object_get(u, "name"));
        json_int_t conns = json_integer_value(json_object_get(u, "conns"));
        chat_say("  %s (%" JSON_INTEGER_FORMAT "): %" JSON_INTEGER_FORMAT " connection%s",
                 name ? name : "?", json_integer_value(json_object_get(u, "mid")), conns,
                 conns == 1 ? "" : "s");
    }
    if (json_is_true(json_object_get(data, "truncated")))
        chat_say("  ... and more (%" JSON_INTEGER_FORMAT " connections in the room)",
                 json_integer_value(json_object_get(data, "conns")));
    if (!json_is_true(json_object_get(data, "complete")))
        chat_say("! a comet did not answer: the list may miss users");
    json_decref(j);
}

/* Handles one input line. Returns 1 to quit. */
static int chat_command(chat_t *ch, char *line)
{
    if (strcmp(line, ":q") == 0)
        return 1;
    if (strcmp(line, ":olu") == 0) {
        chat_online(ch);
    } else if (strcmp(line, ":who") == 0) {
        chat_who(ch);
    } else if (strncmp(line, ":room", 5) == 0 && (line[5] == ' ' || line[5] == '\0')) {
        const char *r = line[5] ? line + 6 : "";
        client_send(ch->cc.client, PROTO_OP_CHANGE_ROOM, ++ch->seq, r, strlen(r));
    } else if (line[0] == '@') {
        chat_private(ch, line + 1);
    } else if (line[0] == ':') {
        chat_say("! unknown command %s", line);
    } else if (line[0] != '\0') {
        if (ch->room[0] == '\0')
            chat_say("! not in a room: ':room R' first, or '@name text'");
        else
            chat_send(ch, 0, line);
    }
    return 0;
}

/* Reads what stdin has; runs every complete line. Returns 1 to quit (":q" or end of input). */
static int chat_input(chat_t *ch)
{
    ssize_t n = read(STDIN_FILENO, ch->line + ch->line_len, sizeof(ch->line) - 1 - ch->line_len);
    if (n <= 0)
        return n < 0 && errno == EINTR ? 0 : 1;
    ch->line_len += (size_t)n;
    char *nl;
    while ((nl = memchr(ch->line, '\n', ch->line_len)) != NULL) {
        *nl = '\0';
        if (nl > ch->line && nl[-1] == '\r')
            nl[-1] = '\0';
        int quit = chat_command(ch, ch->line);
        size_t used = (size_t)(nl - ch->line) + 1;
        memmove(ch->line, nl + 1, ch->line_len - used);
        ch->line_len -= used;
        if (quit)
            return 1;
    }
    if (ch->line_len == sizeof(ch->line) - 1) { /* a line longer than the buffer: drop it */
        chat_say("! line too long");
        ch->line_len = 0;
    }
    return 0;
}

static void chat_free(chat_t *ch)
{
    free(ch->password_body);
    free(ch);
}

int cli_chat_main(int argc, char **argv)
{
    static const struct option longopts[] = {{"logic", required_argument, NULL, OPT_LOGIC},
                                             {"name", required_argument, NULL, OPT_NAME},
                                             {"password", required_argument, NULL, OPT_PASSWORD},
                                             {"room", required_argument, NULL, CLI_OPT_ROOM},
                                             CLI_TLS_LONG_OPTIONS,
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    chat_t *ch = calloc(1, sizeof(*ch));
    if (ch == NULL)
        return CLI_EXIT_FAIL;
    int opt, bad = 0;
    const char *password = getenv("HERALD_PASSWORD");
    cli_conn_opts_init(&ch->tls, "chat");
    optind = 0; /* glibc: rescan from scratch, as cli_conn_getopt does (tests call it in-process) */
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (cli_conn_tls_option(&ch->tls, opt, optarg))
            continue;
        if (opt == OPT_LOGIC)
            bad |= cli_logic_parse(optarg, &ch->logic) != 0;
        else if (opt == OPT_NAME)
            ch->name = optarg;
        else if (opt == OPT_PASSWORD)
            password = optarg;
        else if (opt == CLI_OPT_ROOM)
            snprintf(ch->room, sizeof(ch->room), "%s", optarg);
        else if (opt == 'h') {
            fputs(cli_chat_usage, stdout);
            free(ch);
            return CLI_EXIT_OK;
        } else
            bad = 1;
    }
    if ((ch->tls.ca != NULL && !ch->tls.tls && !ch->logic.https) ||
        (ch->tls.servername != NULL && !ch->tls.tls)) {
        fputs("herald-cli chat: --ca goes with --tls or an https:// --logic, --servername with "
              "--tls\n",
              stderr);
        bad = 1;
    }
    if (bad || ch->logic.port == 0 || ch->name == NULL || password == NULL || optind != argc) {
        if (password == NULL && !bad)
            fputs("herald-cli chat: a password is needed: --password P or HERALD_PASSWORD\n",
                  stderr);
        fputs(cli_chat_usage, stderr);
        free(ch);
        return CLI_EXIT_USAGE;
    }
    json_t *pw = json_pack("{s:s}", "password", password); /* NULL when it is not UTF-8 */
    ch->password_body = pw ? json_dumps(pw, JSON_COMPACT) : NULL;
    json_decref(pw);
    if (ch->password_body == NULL) {
        fputs("herald-cli chat: the password must be UTF-8\n", stderr);
        free(ch);
        return CLI_EXIT_USAGE;
    }
    client_redial_init(&ch->redial, 0, 0, (uint64_t)getpid() << 32 ^ (uint64_t)client_net_now_ms());
    if (chat_login(ch) != 0 || chat_connect(ch) != 0) {
        chat_free(ch);
        return CLI_EXIT_FAIL;
    }
    chat_say("* %s (%lld) connected to %s:%d%s%s", ch->name, (long long)ch->mid, ch->comet_host,
             ch->comet_port, ch->room[0] ? ", room " : "", ch->room);
    int quit = 0;
    while (!quit) {
        client_packet_t p;
        int rc = cli_conn_wait(&ch->cc, STDIN_FILENO, client_redial_leave_at(&ch->redial), &p);
        if (rc == 0 && client_redial_leave_due(&ch->redial, client_net_now_ms())) {
            quit = chat_reconnect(ch) != 0;
        } else if (rc == CLI_CONN_PACKET) {
            chat_packet(ch, &p);
            client_packet_free(&p);
        } else if (rc == CLI_CONN_FD_READY) {
            quit = chat_input(ch);
        } else if (rc < 0) {
            quit = chat_reconnect(ch) != 0;
        }
    }
    cli_conn_close(&ch->cc);
    chat_free(ch);
    return CLI_EXIT_OK;
}
