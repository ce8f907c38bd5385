/* file_read.c - a whole regular file into memory (see file_read.h). */
#include "file_read.h"

#include "buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_read(const char *path, size_t max, int flags, char **data, size_t *len, mode_t *mode,
              const char **why)
{
    static _Thread_local char msg[160];
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | ((flags & FILE_READ_NOFOLLOW) ? O_NOFOLLOW : 0));

    *data = NULL;
    *len = 0;
    if (fd < 0) {
        snprintf(msg, sizeof(msg), "cannot open: %s", strerror(errno));
        *why = msg;
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        snprintf(msg, sizeof(msg), "not a regular file of at most %zu bytes", max);
        *why = msg;
        close(fd);
        return -1;
    }
    if (mode != NULL)
        *mode = st.st_mode;
    size_t want = (size_t)st.st_size, got = 0;
    char *buf = xmalloc(want + 1);
    while (got < want) {
        ssize_t n = read(fd, buf + got, want - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(msg, sizeof(msg), "read error: %s", strerror(errno));
            *why = msg;
            close(fd);
            explicit_bzero(buf, want); /* it may have been a key */
            free(buf);
            return -1;
        }
        if (n == 0)
            break; /* shrank while read */
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return 0;
}
