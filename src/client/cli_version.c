/* cli_version.c - `herald-cli --version`: the version and git revision the daemons print, from
 * the herald_version.h CMake generates at configure time. */
#include "cli.h"

#include "herald_version.h"

#include <stdio.h>

int cli_version_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("herald-cli %s (%s)\n", HERALD_VERSION, HERALD_GIT_REV);
    fflush(stdout);
    return CLI_EXIT_OK;
}
