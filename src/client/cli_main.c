/* cli_main.c - herald-cli: dispatches to a subcommand (cli.h). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmdline.h"

typedef struct cli_command_s {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
} cli_command_t;

static const cli_command_t cli_commands[] = {
    {"token", cli_token_main, "get an auth token for a user from logic"},
    {"listen", cli_listen_main, "connect to a comet and print the packets pushed to it"},
    {"send", cli_send_main, "send one private or group message through a comet"},
    {"chat", cli_chat_main, "interactive chat: log in by name, rooms, private messages"},
};

/* The usage text, with a line per command from cli_commands. */
static const char *cli_usage(void)
{
    static char text[1024];
    size_t n = (size_t)snprintf(text, sizeof(text), "%s",
                                "usage: herald-cli COMMAND [OPTIONS]   (herald-cli COMMAND --help "
                                "for details)\n"
                                "       herald-cli -V | --version | -h | --help\n"
                                "commands:\n");
    for (size_t i = 0; i < sizeof(cli_commands) / sizeof(cli_commands[0]) && n < sizeof(text); i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "  %-8s %s\n", cli_commands[i].name,
                              cli_commands[i].summary);
    return text;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return cmdline_bad_usage("herald-cli", "no command given", cli_usage());
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0)
        return cmdline_help(cli_usage());
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        cmdline_print_version("herald-cli");
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(cli_commands) / sizeof(cli_commands[0]); i++) {
        if (strcmp(argv[1], cli_commands[i].name) != 0)
            continue;
        /* getopt_long names argv[0] in its messages: "herald-cli listen: unrecognized ..." */
        char name[64];
        snprintf(name, sizeof(name), "herald-cli %s", cli_commands[i].name);
        argv[1] = name;
        return cli_commands[i].main(argc - 1, argv + 1);
    }
    char why[320];
    snprintf(why, sizeof(why), "unknown command or option '%.256s'", argv[1]);
    return cmdline_bad_usage("herald-cli", why, cli_usage());
}
