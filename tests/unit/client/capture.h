/* capture.h - runs a herald-cli subcommand in-process (cli_*_main) and captures what it prints
 * on stdout and stderr, for the client tests. */
#ifndef HERALD_TEST_CAPTURE_H
#define HERALD_TEST_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

typedef struct capture_s {
    int saved;
    FILE *file;
} capture_t;

static inline void capture_start(capture_t *c, int fd)
{
    fflush(stdout);
    fflush(stderr);
    c->file = tmpfile();
    assert_non_null(c->file);
    c->saved = dup(fd);
    assert_true(dup2(fileno(c->file), fd) >= 0);
}

/* Restores fd and returns what was written to it (caller frees). */
static inline char *capture_end(capture_t *c, int fd)
{
    fflush(stdout);
    fflush(stderr);
    dup2(c->saved, fd);
    close(c->saved);
    long len = ftell(c->file);
    char *out = calloc(1, (size_t)len + 1);
    rewind(c->file);
    assert_int_equal(fread(out, 1, (size_t)len, c->file), (size_t)len);
    fclose(c->file);
    return out;
}

/* Runs a subcommand; returns its exit code and what it printed. */
static inline int run(int (*cmd)(int, char **), int argc, char **argv, char **out, char **err)
{
    capture_t co, ce;
    capture_start(&co, STDOUT_FILENO);
    capture_start(&ce, STDERR_FILENO);
    int rc = cmd(argc, argv);
    *err = capture_end(&ce, STDERR_FILENO);
    *out = capture_end(&co, STDOUT_FILENO);
    return rc;
}

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

#endif
