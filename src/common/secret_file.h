/* secret_file.h - reading a secret (cluster secret, Redis password) from a file named in the
 * configuration, once at start. */
#ifndef HERALD_SECRET_FILE_H
#define HERALD_SECRET_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads at most cap bytes of path into buf. Returns the length, or -1 with
 * "WHAT PATH: cannot open: ..." (what is e.g. "[cluster] secret_file") in err. A file that
 * group or others may read is accepted with a warning. Callers pass one byte more than the
 * largest secret they take, so that an oversized file is told apart from a full one. */
ssize_t secret_file_read(const char *what, const char *path, uint8_t *buf, size_t cap, char *err,
                         size_t errlen);

/* The length of buf[0, len) without trailing newlines and blanks: a file written by `echo` or
 * an editor ends with a newline that is not part of the secret. */
size_t secret_trim(const uint8_t *buf, size_t len);

#endif
