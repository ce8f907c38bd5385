/* cli.h - herald-cli: its subcommands and the comet connection they share. Every cli_*.c but
 * cli_main.c is part of herald_client, so a new mode (the interactive chat of a later issue) is
 * one more cli_<mode>.c with a cli_<mode>_main() and a line in cli_main.c's table.
 *
 * Output contract: results on stdout (one line per item, flushed), diagnostics on stderr
 * prefixed with "herald-cli <subcommand>: ".
 */
#ifndef HERALD_CLI_H
#define HERALD_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "client.h"

/* Process exit codes of every subcommand. */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAIL = 1,    /* connect, auth or server error, connection closed early */
    CLI_EXIT_USAGE = 2,   /* bad command line */
    CLI_EXIT_TIMEOUT = 3, /* the awaited reply or --count packets did not arrive in time */
};

/* Subcommands. argv[0] is the subcommand name; the return value is the exit code. */
int cli_token_main(int argc, char **argv);
int cli_listen_main(int argc, char **argv);
int cli_send_main(int argc, char **argv);
int cli_chat_main(int argc, char **argv);

/* ------------------------------------------------------------------ cli_conn.c: shared parts */

#define CLI_DEFAULT_TIMEOUT_MS 5000    /* connect, auth, and send's wait for its reply */
#define CLI_DEFAULT_HEARTBEAT_MS 30000 /* when the auth reply names no heartbeat_ms */
#define CLI_MAX_ACCEPTS 64

/* Parses a decimal integer in [min, max] with nothing after it. Returns 0 or -1. */
int cli_conn_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/* --logic [http://|https://]HOST:PORT: where logic's HTTP API is (plain HTTP without a scheme). */
typedef struct cli_logic_s {
    char host[ADDR_HOST_MAX];
    int port;
    int https;
} cli_logic_t;

/* Parses a --logic value into l: 0, or -1 when it is not [scheme://]HOST:PORT with a port. */
int cli_logic_parse(const char *arg, cli_logic_t *l);

/* The URL of path (starting with '/') on l into out: 0, or -1 when it does not fit. */
int cli_logic_url(const cli_logic_t *l, const char *path, char *out, size_t cap);

#define CLI_LOGIC_USAGE                                                                            \
    "  --logic ADDR        logic's HTTP API: HOST:PORT, or https://HOST:PORT when logic serves\n"  \
    "                      HTTPS (verified against --ca FILE, or the system store)\n"

/* Options shared by the subcommands that talk to a comet (getopt_long values >= 256). */
enum cli_conn_opt {
    CLI_OPT_COMET = 256,
    CLI_OPT_WS,
    CLI_OPT_TOKEN,
    CLI_OPT_MID,
    CLI_OPT_KEY,
    CLI_OPT_ROOM,
    CLI_OPT_ACCEPTS,
    CLI_OPT_LAST_SEQ,
    CLI_OPT_TIMEOUT_MS,
    CLI_OPT_VERBOSE,
    CLI_OPT_TLS,
    CLI_OPT_CA,
    CLI_OPT_SERVERNAME,
    CLI_OPT_FIRST_FREE, /* subcommands number their own options from here */
};

/* clang-format off */
/* The TLS options, shared by every subcommand that connects to a comet (chat too). */
#define CLI_TLS_LONG_OPTIONS                                       \
    {"tls", no_argument, NULL, CLI_OPT_TLS},                       \
    {"ca", required_argument, NULL, CLI_OPT_CA},                   \
    {"servername", required_argument, NULL, CLI_OPT_SERVERNAME}

#define CLI_CONN_LONG_OPTIONS                                      \
    {"comet", required_argument, NULL, CLI_OPT_COMET},             \
    {"ws", no_argument, NULL, CLI_OPT_WS},                         \
    {"token", required_argument, NULL, CLI_OPT_TOKEN},             \
    {"mid", required_argument, NULL, CLI_OPT_MID},                 \
    {"key", required_argument, NULL, CLI_OPT_KEY},                 \
    {"room", required_argument, NULL, CLI_OPT_ROOM},               \
    {"accepts", required_argument, NULL, CLI_OPT_ACCEPTS},         \
    {"last-seq", required_argument, NULL, CLI_OPT_LAST_SEQ},       \
    {"timeout-ms", required_argument, NULL, CLI_OPT_TIMEOUT_MS},   \
    {"verbose", no_argument, NULL, CLI_OPT_VERBOSE},               \
    CLI_TLS_LONG_OPTIONS,                                          \
    {"help", no_argument, NULL, 'h'}
/* clang-format on */

/* The help text of --ca and --servername (each subcommand says what its --tls does). */
#define CLI_TLS_USAGE                                                                              \
    "  --ca FILE           trust the CAs in this PEM file (default: the system store)\n"           \
    "  --servername NAME   name sent as SNI and checked in the certificate (default: the "         \
    "comet's\n"                                                                                    \
    "                      host; an IP address is checked as an IP)\n"

/* The help text of the shared options. */
#define CLI_CONN_USAGE                                                                             \
    "  --comet HOST:PORT   comet address (TCP port, or WebSocket port with --ws)\n"                \
    "  --ws                connect over WebSocket (ws://HOST:PORT/sub)\n"                          \
    "  --token T           authenticate with a token from `herald-cli token`\n"                    \
    "  --mid N [--key K]   goim-style auth by user id (logic must run auth.mode=insecure-mid)\n"   \
    "  --room R            join room R (e.g. live://1000)\n"                                       \
    "  --accepts OPS       comma list of business ops to receive (default 1000)\n"                 \
    "  --last-seq N        highest per-user seq already received (offline catch-up)\n"             \
    "  --timeout-ms N      give up after N ms\n"                                                   \
    "  --verbose           print the auth reply and heartbeat replies on stderr\n"                 \
    "  --tls               connect over TLS (with --ws: wss://HOST:PORT/sub); the certificate\n"   \
    "                      is always verified\n" CLI_TLS_USAGE "  --help              this text\n"

/* What the user asked for; strings are borrowed from argv. */
typedef struct cli_conn_opts_s {
    const char *cmd; /* subcommand name, for messages */
    char host[ADDR_HOST_MAX];
    int port; /* 0 until --comet (addr_split; a port of 0 is refused: nothing to dial) */
    int ws;
    int tls;                /* --tls: CLIENT_TLS, or CLIENT_WSS with ws */
    const char *ca;         /* --ca FILE, NULL: the system store */
    const char *servername; /* --servername NAME, NULL: host */
    const char *token;
    int64_t mid; /* 0 when not given */
    const char *key;
    const char *room;
    uint32_t accepts[CLI_MAX_ACCEPTS];
    size_t n_accepts;
    int64_t last_seq;   /* -1 when not given */
    int64_t timeout_ms; /* -1 when not given */
    int verbose;
} cli_conn_opts_t;

void cli_conn_opts_init(cli_conn_opts_t *o, const char *cmd);

/* Applies one shared option from getopt_long. Returns 1 when handled, 0 when `opt` is not a
 * shared option, -1 on a bad value (message printed). */
int cli_conn_option(cli_conn_opts_t *o, int opt, const char *arg);

/* A subcommand's own option: 0, or -1 when it is unknown or its value is bad (a message about
 * the value may be printed; the usage follows on stderr). */
typedef int (*cli_option_cb)(int opt, const char *arg, void *ctx);

/* Applies --tls, --ca or --servername. Returns 1 when opt is one of them, else 0. */
int cli_conn_tls_option(cli_conn_opts_t *o, int opt, const char *arg);

/* Parses every option of argv with getopt_long (from scratch: optind reset), the shared ones into
 * o and the rest through own. Returns -1 when the subcommand goes on (operands from optind), or
 * the exit code: CLI_EXIT_OK after --help printed usage on stdout, CLI_EXIT_USAGE on a bad
 * option. */
int cli_conn_getopt(cli_conn_opts_t *o, int argc, char **argv, const struct option *longopts,
                    const char *usage, cli_option_cb own, void *ctx);

/* Checks the shared options after parsing (--comet, exactly one of --token and --mid). Returns
 * 0, or -1 with a message printed. */
int cli_conn_check(const cli_conn_opts_t *o);

/* An authenticated connection that keeps itself alive with heartbeats. */
typedef struct cli_conn_s {
    client_t *client;
    int64_t auth_last_seq; /* the auth reply's "last_seq" (the user's newest seq), -1: none */
    int heartbeat_ms;
    int64_t next_heartbeat_ms; /* on client_net_now_ms()'s clock */
} cli_conn_t;

/* Connects and authenticates within CLI_DEFAULT_TIMEOUT_MS. Returns CLI_EXIT_OK, or an exit code
 * with the reason (for a refused auth, the server's message) printed on stderr. */
int cli_conn_open(cli_conn_t *cc, const cli_conn_opts_t *o);

enum { CLI_CONN_PACKET = 1, CLI_CONN_FD_READY = 2 };

/* Waits until a packet arrives (CLI_CONN_PACKET, *p filled: caller frees), extra_fd (-1: none)
 * is readable (CLI_CONN_FD_READY), the deadline passes (0; -1: no deadline) or the connection
 * fails (a negative client_recv code). Sends heartbeats when due; their replies come back as
 * packets like any other. */
int cli_conn_wait(cli_conn_t *cc, int extra_fd, int64_t deadline, client_packet_t *p);

void cli_conn_close(cli_conn_t *cc);

#endif
