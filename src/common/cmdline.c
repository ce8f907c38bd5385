/* cmdline.c - the version line and usage printing shared by every herald binary. */
#include "cmdline.h"

#include "herald_version.h"

const char *cmdline_version(void)
{
    return HERALD_VERSION " (" HERALD_GIT_REV ")";
}

void cmdline_print_version(const char *prog)
{
    printf("%s %s\n", prog, cmdline_version());
    fflush(stdout);
}

int cmdline_help(const char *usage)
{
    fputs(usage, stdout);
    fflush(stdout);
    return CMDLINE_EXIT_OK;
}

int cmdline_bad_usage(const char *prog, const char *why, const char *usage)
{
    if (why != NULL)
        fprintf(stderr, "%s: %s\n", prog, why);
    fputs(usage, stderr);
    return CMDLINE_EXIT_USAGE;
}
