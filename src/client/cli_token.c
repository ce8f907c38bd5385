/* cli_token.c - `herald-cli token`: asks logic for an auth token (POST /herald/v1/tokens) and
 * prints it. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "herald_err.h"
#include "http_client.h"

enum { OPT_LOGIC = 256, OPT_MID, OPT_TTL, OPT_BEARER, OPT_TIMEOUT_MS, OPT_CA };

static const char cli_token_usage[] =
    "usage: herald-cli token --logic ADDR --mid N [--ttl S] [--bearer KEY] [--ca FILE]\n"
    "Prints a new auth token for user N, valid S seconds (logic's default: "
    "86400).\n" CLI_LOGIC_USAGE "  --mid N             user id\n"
    "  --ttl S             lifetime in seconds\n"
    "  --bearer KEY        logic's business bearer key (auth.bearer_key), when set\n"
    "  --timeout-ms N      give up after N ms (default 5000)\n"
    "  --ca FILE           trust the CAs in this PEM file for https://\n"
    "  --help              this text\n";

/* Prints data.token of logic's reply, or why there is none. Returns the exit code. */
static int cli_token_print(int status, const char *body)
{
    json_t *j = json_loads(body, 0, NULL);
    const char *token = json_string_value(json_object_get(json_object_get(j, "data"), "token"));
    const char *msg = json_string_value(json_object_get(j, "message"));
    int rc = CLI_EXIT_OK;
    if (status == 200 && token != NULL) {
        puts(token);
        fflush(stdout);
    } else {
        fprintf(stderr, "herald-cli token: logic answered %d: %s\n", status,
                msg != NULL ? msg : body);
        rc = CLI_EXIT_FAIL;
    }
    json_decref(j);
    return rc;
}

int cli_token_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"logic", required_argument, NULL, OPT_LOGIC},
        {"mid", required_argument, NULL, OPT_MID},
        {"ttl", required_argument, NULL, OPT_TTL},
        {"bearer", required_argument, NULL, OPT_BEARER},
        {"timeout-ms", required_argument, NULL, OPT_TIMEOUT_MS},
        {"ca", required_argument, NULL, OPT_CA},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli_logic_t logic = {.port = 0};
    int64_t mid = 0, ttl = 0, timeout_ms = CLI_DEFAULT_TIMEOUT_MS;
    const char *bearer = NULL, *ca = NULL;
    int opt;
    optind = 0; /* glibc: rescan from scratch, so tests may call the subcommand repeatedly */
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int rc = 0;
        if (opt == 'h') {
            fputs(cli_token_usage, stdout);
            return CLI_EXIT_OK;
        } else if (opt == OPT_LOGIC) {
            rc = cli_logic_parse(optarg, &logic);
        } else if (opt == OPT_CA) {
            ca = optarg;
        } else if (opt == OPT_MID) {
            rc = cli_conn_parse_int(optarg, 1, INT64_MAX, &mid);
        } else if (opt == OPT_TTL) {
            rc = cli_conn_parse_int(optarg, 1, INT32_MAX, &ttl);
        } else if (opt == OPT_TIMEOUT_MS) {
            rc = cli_conn_parse_int(optarg, 0, INT32_MAX, &timeout_ms);
        } else if (opt == OPT_BEARER) {
            bearer = optarg;
        } else {
            rc = -1;
        }
        if (rc < 0) {
            fputs(cli_token_usage, stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (logic.port == 0 || mid == 0 || optind != argc || (ca != NULL && !logic.https)) {
        fputs(cli_token_usage, stderr);
        return CLI_EXIT_USAGE;
    }
    char path[128];
    if (ttl > 0)
        snprintf(path, sizeof(path), "/herald/v1/tokens?mid=%" PRId64 "&ttl=%" PRId64, mid, ttl);
    else
        snprintf(path, sizeof(path), "/herald/v1/tokens?mid=%" PRId64, mid);
    char auth[512];
    const char *headers[2] = {NULL, NULL};
    if (bearer != NULL) {
        if (snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer) >= (int)sizeof(auth)) {
            fprintf(stderr, "herald-cli token: --bearer is too long\n");
            return CLI_EXIT_USAGE;
        }
        headers[0] = auth;
    }
    char url[512];
    if (cli_logic_url(&logic, path, url, sizeof(url)) != 0) {
        fprintf(stderr, "herald-cli token: --logic is too long\n");
        return CLI_EXIT_USAGE;
    }
    http_client_req_t req = {
        .method = "POST", .url = url, .headers = headers, .timeout_ms = (int)timeout_ms};
    http_client_resp_t resp;
    http_client_t *hc = ca != NULL ? http_client_new(ca) : NULL; /* NULL: the system store */
    int rc = http_client_request(hc, &req, &resp);
    http_client_free(hc);
    if (rc < 0) {
        fprintf(stderr, "herald-cli token: %s: %s (%s)\n", url, herald_strerror(rc), resp.error);
        return rc == -ETIMEDOUT ? CLI_EXIT_TIMEOUT : CLI_EXIT_FAIL;
    }
    rc = cli_token_print(resp.status, resp.body);
    free(resp.body);
    return rc;
}
