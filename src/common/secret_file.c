/* secret_file.c - a secret from a file (see secret_file.h). */
#include "secret_file.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

ssize_t secret_file_read(const char *what, const char *path, uint8_t *buf, size_t cap, char *err,
                         size_t errlen)
{
    struct stat st;
    ssize_t n, len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(err, errlen, "%s %s: cannot open: %s", what, path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        log_warn("%s %s: group or others may read it (mode %04o): chmod 600", what, path,
                 (unsigned)(st.st_mode & 07777));
    while ((size_t)len < cap && (n = read(fd, buf + len, cap - (size_t)len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "%s %s: read error: %s", what, path, strerror(errno));
            close(fd);
            return -1;
        }
        len += n;
    }
    close(fd);
    return (ssize_t)secret_trim(buf, (size_t)len);
}

size_t secret_trim(const uint8_t *buf, size_t len)
{
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
                       buf[len - 1] == '\t'))
        len--;
    return len;
}
