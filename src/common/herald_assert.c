/* herald_assert.c - see herald_assert.h. */
#include "herald_assert.h"

#include <stdio.h>
#include <stdlib.h>

void herald_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, expr);
    fflush(stderr);
    abort();
}
