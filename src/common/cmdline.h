/* cmdline.h - the command-line conventions every herald binary shares (the four daemons,
 * herald-cli, herald-kafka-dev, herald-bench):
 *
 *   -h, --help     the binary's usage on stdout, exit CMDLINE_EXIT_OK
 *   -V, --version  "<prog> <version> (<git revision, or unknown>)" on stdout, exit CMDLINE_EXIT_OK
 *   an unknown option or a bad argument: a message and the usage on stderr,
 *                  exit CMDLINE_EXIT_USAGE
 *
 * Options are parsed with getopt_long; each binary keeps its own option table and usage text
 * and calls these for the shared parts, so the version line and the exit codes cannot drift.
 */
#ifndef HERALD_CMDLINE_H
#define HERALD_CMDLINE_H

#include <stdio.h>

enum {
    CMDLINE_EXIT_OK = 0,
    CMDLINE_EXIT_USAGE = 2, /* bad command line, as grep and ls use it */
};

/* The version string "<version> (<revision>)": the CMake project version and the git revision
 * at configure time ("unknown" when the source is not a git checkout, e.g. a release tarball).
 * Static storage. */
const char *cmdline_version(void);

/* Prints "<prog> <version> (<revision>)\n" on stdout and flushes it. */
void cmdline_print_version(const char *prog);

/* Prints usage (the binary's whole usage text, borrowed) on stdout and returns CMDLINE_EXIT_OK
 * (for -h / --help). */
int cmdline_help(const char *usage);

/* Prints "<prog>: <why>\n" (when why is not NULL) and then usage on stderr; returns
 * CMDLINE_EXIT_USAGE. getopt_long has already named an unknown option itself: pass NULL. */
int cmdline_bad_usage(const char *prog, const char *why, const char *usage);

#endif
