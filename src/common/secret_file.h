/* secret_file.h - reading a secret (the cluster secret, a Redis password) from a file an operator
 * wrote: the one place that decides what such a file may look like.
 *
 * The file's bytes are the secret, except trailing blanks and newlines (a file written by `echo`
 * or an editor ends with a newline that is not part of it). A file that group or others may read
 * is accepted with a warning naming the file. Nothing read is ever logged or put in err.
 */
#ifndef HERALD_SECRET_FILE_H
#define HERALD_SECRET_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads path into buf (cap bytes). what names the setting in messages ("[cluster] secret_file").
 * Returns the secret's length (0..cap; cap when the file may hold more than cap bytes: the caller
 * that allows at most cap - 1 tells an oversized file apart), or -1 with the reason in err. The
 * caller wipes buf after use. */
ssize_t secret_file_read(const char *what, const char *path, uint8_t *buf, size_t cap, char *err,
                         size_t errlen);

/* The length of buf[0..len) without its trailing blanks and newlines. */
size_t secret_trim(const uint8_t *buf, size_t len);

#endif
